"""The embedded MQTT broker (runtime/core/broker.py), exercised with real paho clients."""

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from runtime.core.broker import split_shared, topic_matches, valid_filter, ProtocolError
from runtime.core.local_broker import EmbeddedBrokerHandle, free_port


@pytest.fixture
def embedded_broker():
    b = EmbeddedBrokerHandle(free_port()).start()
    try:
        yield b
    finally:
        b.close()


class Collector:
    def __init__(self):
        self.msgs = []
        self.cond = threading.Condition()

    def __call__(self, client, userdata, msg):
        with self.cond:
            self.msgs.append((msg.topic, bytes(msg.payload), msg.retain, msg.qos))
            self.cond.notify_all()

    def wait(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.msgs) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.msgs)


def client(broker, cid, v5=False, will=None, clean=True, on_message=None):
    if v5:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean)
    if will:
        c.will_set(*will)
    if on_message:
        c.on_message = on_message
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    if v5 and not clean:
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = 3600
        c.connect(broker.host, broker.port, 30, clean_start=False, properties=p)
    else:
        c.connect(broker.host, broker.port, 30)
    c.loop_start()
    assert connected.wait(10), "client did not connect"
    return c


def subscribe(c, *filters, qos=1):
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.subscribe([(f, qos) for f in filters])
    assert done.wait(10), "no SUBACK"


def close(*clients):
    for c in clients:
        c.disconnect()
        c.loop_stop()


def test_topic_matching_rules():
    assert topic_matches("a/+/c", "a/b/c")
    assert topic_matches("a/#", "a")
    assert topic_matches("a/#", "a/b/c")
    assert topic_matches("#", "a/b")
    assert not topic_matches("a/+", "a/b/c")
    assert not topic_matches("+/x", "$SYS/x")
    assert not topic_matches("#", "$SYS/x")
    assert topic_matches("$SYS/#", "$SYS/x")
    assert valid_filter("a/+/#") and not valid_filter("a/#/b") and not valid_filter("a/b+")
    assert split_shared("$share/g/a/+") == ("g", "a/+")
    with pytest.raises(ProtocolError):
        split_shared("$share/g")


@pytest.mark.parametrize("v5", [False, True])
def test_publish_subscribe_qos0_qos1(embedded_broker, v5):
    got = Collector()
    sub = client(embedded_broker, "sub", v5, on_message=got)
    subscribe(sub, "ember/nodes/+/data")
    pub = client(embedded_broker, "pub", v5)
    for i in range(200):
        pub.publish("ember/nodes/n1/data", f"m{i}".encode(), qos=i % 2)
    pub.publish("ember/other", b"not for sub", 1)
    msgs = got.wait(200)
    close(sub, pub)
    # paho holds back QoS 1 beyond its inflight window, so compare as sets; order per QoS is kept
    assert sorted(m[1] for m in msgs) == sorted(f"m{i}".encode() for i in range(200))
    assert [m[1] for m in msgs if m[3] == 1] == [f"m{i}".encode() for i in range(1, 200, 2)]
    assert {m[3] for m in msgs} == {0, 1}


def test_retained_set_replace_clear(embedded_broker):
    pub = client(embedded_broker, "pub")
    pub.publish("ember/nodes/n1/config", b"v1", 1, retain=True).wait_for_publish(5)
    pub.publish("ember/nodes/n1/config", b"v2", 1, retain=True).wait_for_publish(5)
    pub.publish("ember/nodes/n2/config", b"x", 1, retain=True).wait_for_publish(5)
    pub.publish("ember/nodes/n2/config", b"", 1, retain=True).wait_for_publish(5)  # clears
    got = Collector()
    sub = client(embedded_broker, "sub", on_message=got)
    subscribe(sub, "ember/nodes/#")
    msgs = got.wait(1, timeout=5)
    time.sleep(0.3)
    close(sub, pub)
    assert got.msgs == [("ember/nodes/n1/config", b"v2", True, 1)]


def test_last_will_on_abrupt_disconnect_not_on_clean_disconnect(embedded_broker):
    got = Collector()
    watcher = client(embedded_broker, "watch", on_message=got)
    subscribe(watcher, "ember/nodes/+/status")
    n1 = client(embedded_broker, "n1", will=("ember/nodes/n1/status", b"offline", 1, True))
    n2 = client(embedded_broker, "n2", will=("ember/nodes/n2/status", b"offline", 1, True))
    n2.disconnect()                                   # graceful: no will
    n2.loop_stop()
    n1.loop_stop()
    n1.socket().close()                               # abrupt: will is published
    msgs = got.wait(1)
    time.sleep(0.3)
    close(watcher)
    assert got.msgs == [("ember/nodes/n1/status", b"offline", False, 1)]
    late = Collector()
    c = client(embedded_broker, "late", on_message=late)
    subscribe(c, "ember/nodes/+/status")
    assert late.wait(1)[0][:3] == ("ember/nodes/n1/status", b"offline", True)
    close(c)


def test_shared_subscription_splits_messages(embedded_broker):
    a, b = Collector(), Collector()
    wa = client(embedded_broker, "worker-a", v5=True, on_message=a)
    wb = client(embedded_broker, "worker-b", v5=True, on_message=b)
    subscribe(wa, "$share/cores/ember/nodes/+/data")
    subscribe(wb, "$share/cores/ember/nodes/+/data")
    pub = client(embedded_broker, "pub")
    for i in range(100):
        pub.publish(f"ember/nodes/n{i % 3}/data", str(i).encode(), 1)
    deadline = time.monotonic() + 10
    while len(a.msgs) + len(b.msgs) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    close(wa, wb, pub)
    got = sorted(int(m[1]) for m in a.msgs + b.msgs)
    assert got == list(range(100))                   # each message delivered exactly once
    assert len(a.msgs) == len(b.msgs) == 50          # round robin


def test_persistent_session_queues_qos1_while_offline(embedded_broker):
    got = Collector()
    sub = client(embedded_broker, "durable", clean=False, on_message=got)
    subscribe(sub, "q/#")
    close(sub)
    pub = client(embedded_broker, "pub")
    for i in range(50):
        pub.publish("q/x", str(i).encode(), 1).wait_for_publish(5)
    pub.publish("q/x", b"qos0-dropped", 0).wait_for_publish(5)
    sub = client(embedded_broker, "durable", clean=False, on_message=got)
    msgs = got.wait(50)
    time.sleep(0.3)
    close(sub, pub)
    assert [int(m[1]) for m in got.msgs] == list(range(50))


def test_garbage_and_oversized_packets_do_not_stop_the_broker(embedded_broker):
    for junk in (b"\xff\xff\xff\xff\xff", b"\x10\x02\x00\x00", b"GET / HTTP/1.1\r\n\r\n", b"\x30\xff\xff\xff\x7f"):
        with socket.create_connection((embedded_broker.host, embedded_broker.port), timeout=5) as s:
            s.sendall(junk)
            s.settimeout(1)
            try:
                s.recv(10)
            except (socket.timeout, ConnectionError):
                pass
    got = Collector()
    sub = client(embedded_broker, "sub", on_message=got)
    subscribe(sub, "t")
    pub = client(embedded_broker, "pub")
    pub.publish("t", b"still alive", 1)
    assert got.wait(1)[0][1] == b"still alive"
    close(sub, pub)


def test_session_takeover_keeps_the_newest_client(embedded_broker):
    got = Collector()
    first = client(embedded_broker, "same-id")
    second = client(embedded_broker, "same-id", on_message=got)
    subscribe(second, "t")
    pub = client(embedded_broker, "pub")
    pub.publish("t", b"x", 1)
    assert got.wait(1)[0][1] == b"x"
    first.loop_stop()
    close(second, pub)


def test_mqtt5_user_properties_are_forwarded(embedded_broker):
    """The outbox sender carries its message id in an MQTT 5 user property."""
    got5, got3 = [], []
    s5 = client(embedded_broker, "s5", v5=True, on_message=lambda c, u, m: got5.append(m))
    s3 = client(embedded_broker, "s3", on_message=lambda c, u, m: got3.append(m))
    subscribe(s5, "up/#")
    subscribe(s3, "up/#")
    pub = client(embedded_broker, "p5", v5=True)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("ember-msg-id", "abc-1")]
    props.ContentType = "application/json"
    pub.publish("up/x", b"{}", 1, properties=props).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while (not got5 or not got3) and time.monotonic() < deadline:
        time.sleep(0.05)
    close(s5, s3, pub)
    assert got5[0].properties.UserProperty == [("ember-msg-id", "abc-1")]
    assert got5[0].properties.ContentType == "application/json"
    assert got3[0].payload == b"{}"


def test_silent_client_times_out_on_keepalive_and_its_will_is_published(embedded_broker):
    """A node that loses power keeps no TCP FIN coming: the broker must notice the missing
    PINGREQs (1.5 x keepalive) and publish the Last Will."""
    import struct
    got = Collector()
    watcher = client(embedded_broker, "watch", on_message=got)
    subscribe(watcher, "ember/nodes/+/status")

    def s(b):
        return struct.pack("!H", len(b)) + b
    # CONNECT, MQTT 3.1.1, will (retain, QoS 1), keepalive 1 s
    flags = 0x02 | 0x04 | (1 << 3) | 0x20
    body = s(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 1) + s(b"silent") + \
        s(b"ember/nodes/silent/status") + s(b"offline")
    sock = socket.create_connection((embedded_broker.host, embedded_broker.port), timeout=5)
    try:
        sock.sendall(bytes([0x10, len(body)]) + body)
        assert sock.recv(4) == b"\x20\x02\x00\x00"                  # CONNACK accepted
        msgs = got.wait(1, timeout=10)                              # then silence
        assert msgs and msgs[0][:2] == ("ember/nodes/silent/status", b"offline")
    finally:
        sock.close()
        close(watcher)
