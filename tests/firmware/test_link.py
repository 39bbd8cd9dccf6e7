"""MQTT client and link under CPython with a fake lwIP-like socket: packet
format, timeouts re-applied before every blocking call, QoS 1 retransmission,
the bounded ring buffer, reconnect backoff with jitter, resubscription."""
import struct
import time

import pytest

from .fake_socket import FakeBrokerSocket


def make_client(sock, **kw):
    from mqtt import Client

    return Client("node-1", "127.0.0.1", 1883, keepalive=30, timeout_ms=2000,
                  sock_factory=lambda: sock, **kw)


def test_connect_packet_has_will_keepalive_and_id(fw):
    sock = FakeBrokerSocket()
    c = make_client(sock, user="node-1", password="pw")
    c.set_last_will("ember/nodes/node-1/status", b"offline", retain=True, qos=1)
    assert c.connect() is False
    first, body = sock.packets[0]
    assert first == 0x10
    assert body[:7] == b"\x00\x04MQTT\x04"
    flags = body[7]
    assert flags == 0x02 | 0x04 | (1 << 3) | 0x20 | 0x80 | 0x40  # clean, will qos1 retained, user, pw
    assert struct.unpack("!H", body[8:10])[0] == 30
    assert body[10:12] == b"\x00\x06" and body[12:18] == b"node-1"
    assert b"ember/nodes/node-1/status" in body and b"offline" in body
    assert sock.connected_to == ("127.0.0.1", 1883)


def test_connect_refused_raises_mqtt_error(fw):
    from mqtt import MQTTError

    sock = FakeBrokerSocket(connack_code=5)
    with pytest.raises(MQTTError, match="refused, code 5"):
        make_client(sock).connect()
    assert sock.closed


def test_every_blocking_call_has_a_timeout_even_when_lwip_clears_it(fw):
    """The fake clears the timeout after every call (lwIP after setblocking);
    the client must re-apply it each time or the fake raises."""
    sock = FakeBrokerSocket()
    c = make_client(sock)
    c.connect()
    c.publish("a/b", b"x" * 300, qos=1, pid=1)
    c.subscribe("a/c", pid=2)
    c.ping()
    while c.poll(0) is not None:
        pass
    assert c.poll(10) is None  # nothing to read: returns instead of blocking
    sock.setblocking(True)  # something else made the socket blocking again
    assert c.poll(10) is None
    assert len(sock.calls) > 8
    assert all(t is not None for _, t in sock.calls), sock.calls


def test_publish_and_incoming_publish_qos1_is_acked(fw):
    sock = FakeBrokerSocket()
    c = make_client(sock)
    got = []
    c.on_message = lambda t, p, r: got.append((t, p, r))
    c.connect()
    c.publish("t/x", b"hello", qos=1, retain=True, pid=300)
    assert sock.publishes()[-1] == ("t/x", b"hello", 1, True, False)
    sock.deliver("cfg/x", b'{"a": 1}', qos=1, retain=True, pid=9)
    while c.poll(0) is not None:
        pass
    assert got == [("cfg/x", b'{"a": 1}', True)]
    assert sock.packets[-1] == (0x40, b"\x00\x09")  # PUBACK for pid 9


def test_oversized_incoming_packet_is_discarded_not_fatal(fw):
    from mqtt import MAX_PACKET

    sock = FakeBrokerSocket()
    c = make_client(sock)
    got = []
    c.on_message = lambda t, p, r: got.append(t)
    c.connect()
    big = b"z" * (MAX_PACKET + 10)
    t = b"\x00\x01t"
    body = t + big
    n = len(body)
    rl = bytes((n & 0x7F | 0x80, n >> 7))
    sock.inbox += b"\x30" + rl + body
    sock.deliver("ok", b"1", qos=0)
    while c.poll(0) is not None:
        pass
    assert c.discarded == 1 and got == ["ok"]


def test_ring_drops_oldest_and_counts(fw):
    from ring import Ring

    r = Ring(4)
    dropped = []
    r.on_drop = dropped.append
    for k in range(10):
        r.push(k)
    assert len(r) == 4 and r.dropped == 6 and dropped == [0, 1, 2, 3, 4, 5]
    order = []
    while True:
        i = r.next_unsent()
        if i < 0:
            break
        order.append(r.payload[i])
        r.mark_sent(i, 100 + len(order), 0)
    assert order == [6, 7, 8, 9]
    assert r.ack(102) and len(r) == 4  # acked in the middle stays until the head is acked
    assert r.ack(101) and len(r) == 2
    assert not r.ack(555)
    r.rewind()  # connection lost: 8 and 9 are resent, in order, flagged DUP
    i = r.next_unsent()
    assert r.payload[i] == 8 and r.dup[i] == 1


def test_ring_rewind_skips_acked_slots(fw):
    from ring import Ring

    r = Ring(8)
    for k in range(4):
        r.push(k)
    for pid in (1, 2, 3, 4):
        r.mark_sent(r.next_unsent(), pid, 0)
    r.ack(2)
    r.ack(4)
    r.rewind()
    resent = []
    while True:
        i = r.next_unsent()
        if i < 0:
            break
        resent.append(r.payload[i])
        r.mark_sent(i, 10 + len(resent), 0)
    assert resent == [0, 2]
    r.ack(11)
    r.ack(12)
    assert len(r) == 0 and r.inflight == 0 and r.sent == 0


def make_link(sock_or_factory, **kw):
    from link import Link

    factory = sock_or_factory if callable(sock_or_factory) else (lambda: sock_or_factory)
    link = Link("n1", "127.0.0.1", 1883, **kw)
    link.client.sock_factory = factory
    return link


def test_link_connect_publishes_online_and_subscribes(fw):
    sock = FakeBrokerSocket()
    link = make_link(sock)
    seen = []
    link.subscribe(link.topic_config, lambda t, p, r: seen.append(p))
    assert link.service() is True
    pubs = sock.publishes()
    assert pubs[0] == ("ember/nodes/n1/status", b"online", 1, True, False)
    subs = [b for f, b in sock.packets if f == 0x82]
    assert subs and b"ember/nodes/n1/config" in subs[0]
    sock.deliver(link.topic_config, b"{}", retain=True)
    link.service()
    assert seen == [b"{}"]


def test_link_qos1_retransmits_unacked_with_dup(fw):
    sock = FakeBrokerSocket(ack_publish=lambda pid, dup: dup)  # ignore first transmissions
    link = make_link(sock, retry_ms=30, max_inflight=2)
    link.service()
    for k in range(3):
        link.send_data(b"m%d" % k)
    link.service()
    data = [p for p in sock.publishes() if p[0].endswith("/data")]
    assert [(p[1], p[4]) for p in data] == [(b"m0", False), (b"m1", False)]  # window of 2
    deadline = time.monotonic() + 5
    while link.pending and time.monotonic() < deadline:
        time.sleep(0.035)
        link.service()
    assert link.pending == 0 and link.retransmits >= 3
    data = [p for p in sock.publishes() if p[0].endswith("/data")]
    assert [p[1] for p in data if p[4]][:2] == [b"m0", b"m1"]
    assert {p[1] for p in data} == {b"m0", b"m1", b"m2"}


class Flaky:
    """Socket factory: the first ``fail`` connects are refused."""

    def __init__(self, fail):
        self.fail = fail
        self.socks = []

    def __call__(self):
        s = FakeBrokerSocket()
        if len(self.socks) < self.fail:
            def refuse(addr):
                raise OSError(111)
            s.connect = refuse
        self.socks.append(s)
        return s


def test_link_reconnects_with_backoff_resends_in_order_and_resubscribes(fw):
    fac = Flaky(fail=2)
    link = make_link(fac, backoff_min_ms=20, backoff_max_ms=40)
    link.subscribe(link.topic_config, lambda t, p, r: None)
    for k in range(5):
        link.send_data(b"d%d" % k)
    deadline = time.monotonic() + 5
    while not link.connected and time.monotonic() < deadline:
        link.service()
        time.sleep(0.005)
    assert link.connected and link.failures == 2 and len(fac.socks) == 3
    while link.pending and time.monotonic() < deadline:
        link.service()
    good = fac.socks[-1]
    assert [p[1] for p in good.publishes() if p[0].endswith("/data")] == [b"d%d" % k for k in range(5)]
    # connection breaks: next connection resubscribes and resends what was unacked
    good.ack_publish = False
    link.send_data(b"d5")
    link.service()
    good.recv = lambda n: b""  # peer closed
    link.service()
    assert not link.connected
    while not link.connected and time.monotonic() < deadline:
        link.service()
        time.sleep(0.005)
    while link.pending and time.monotonic() < deadline:
        link.service()
    last = fac.socks[-1]
    assert any(f == 0x82 for f, _ in last.packets)  # resubscribed
    assert [(p[1], p[4]) for p in last.publishes() if p[0].endswith("/data")] == [(b"d5", True)]


def test_backoff_is_exponential_with_bounded_jitter(fw):
    link = make_link(FakeBrokerSocket(), backoff_min_ms=100, backoff_max_ms=3000)
    for attempts in range(12):
        link.attempts = attempts
        base = min(100 << attempts, 3000)
        vals = {link._backoff_ms() for _ in range(50)}
        assert all(base // 2 <= v <= base for v in vals)
        if base >= 400:
            assert len(vals) > 5  # jittered, not lockstep


def test_broker_silence_is_detected_by_keepalive(fw):
    sock = FakeBrokerSocket()
    link = make_link(sock, keepalive=1)
    link.service()
    sock._respond = lambda first, body: None  # broker stops answering (no PINGRESP)
    deadline = time.monotonic() + 5
    while link.connected and time.monotonic() < deadline:
        link.service(20)
    assert not link.connected and "silent" in str(link.last_error)
    assert any(f == 0xC0 for f, _ in sock.packets)  # it did ping first


def test_control_and_subscribe_on_a_broken_connection_do_not_raise(fw):
    sock = FakeBrokerSocket()
    link = make_link(sock)
    link.service()

    def broken(data):
        raise OSError(104)

    sock.send = broken
    link.send_control(link.topic_ack, b'{"accepted": true}')
    assert not link.connected and link.control[-1][1] == b'{"accepted": true}'
    link2 = make_link(FakeBrokerSocket())
    link2.service()
    link2.client.sock.send = broken
    link2.subscribe("x/y", lambda t, p, r: None)
    assert not link2.connected and "x/y" in link2.subs


def test_broker_that_never_sends_connack_costs_one_timeout_then_backoff(fw):
    sock = FakeBrokerSocket()
    sock._respond = lambda first, body: None  # accepts TCP, never answers
    link = make_link(sock, backoff_min_ms=1000)
    assert link.service() is False
    assert link.failures == 1 and "110" in repr(link.last_error) and sock.closed
    assert link.service() is False and link.failures == 1  # waits for the backoff, no tight retry loop
