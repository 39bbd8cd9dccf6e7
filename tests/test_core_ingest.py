"""The core's lean node-data connection (runtime/core/ingest.py) against a real Mosquitto on
127.0.0.1 and against scripted fake brokers: results equal runtime.infer on both ingest paths
and both protocols, back-pressure with a tiny byte budget loses nothing, broker kill/restart,
TLS with client certificates, protocol errors and refused connections."""
from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from runtime.core.config import ConfigError, parse_config
from runtime.core.ingest import IngestConnection, connect_packet, read_properties
from runtime.core.payload import encode_binary, encode_json
from runtime.core.service import Core
from runtime.quant import dequantize, quantize
from tests.deploy_models import fc_model, model_loader
from tests.mqtt_broker import MosquittoBroker, mqtt_broker  # noqa: F401  (fixture)
from tests.waiting import wait_for

FEATURES = [f"x{i}" for i in range(8)]


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))


class Results:
    """result_hook: (node, seq) -> result rows."""

    def __init__(self):
        self.by_key = {}
        self.lock = threading.Lock()

    def __call__(self, topic, msg):
        with self.lock:
            for r in msg.get("results", [msg]):
                self.by_key.setdefault((msg["node"], r["seq"]), []).append((topic, r))

    def has(self, keys):
        with self.lock:
            return set(keys) <= self.by_key.keys()


def make_core(tmp_path, host, port, res=None, broker=None, core=None, start=True):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=3))
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data"), "status_interval_s": 0.5, **(core or {})},
        "broker": {"host": host, "port": port, **(broker or {})},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "nodes": ["n*"], "features": FEATURES}],
        "deploy": {"enabled": False},
    })
    c = Core(cfg, loader=model_loader(), result_hook=res)
    if start:
        c.start()
        if not c.wait_connected(15):
            c.stop()                                      # no threads left behind by a failed test
            raise AssertionError("core did not connect")
    return c


def publisher(host, port, cid="n1", **tls):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv311)
    if tls:
        c.tls_set(**tls)
    c.max_inflight_messages_set(1000)
    c.connect(host, port, 10)
    c.loop_start()
    return c


def watcher(broker, on_message):
    """A subscriber to every result -> (client, Event set once the subscription is acknowledged)."""
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    sub.on_message = lambda c, u, m: on_message(m)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(broker.host, broker.port)
    sub.subscribe("ember/results/#", 1)
    sub.loop_start()
    return sub, subscribed


def close(c):
    c.disconnect()
    c.loop_stop()


def expected(model, x):
    spec, out = model.inputs[0], model.outputs[0]
    q = np.asarray(model.infer(quantize(x, spec.scale, spec.zero_point).reshape(1, -1))).reshape(-1)
    return q.tolist(), np.round(dequantize(q, out.scale, out.zero_point).astype(np.float64), 6).tolist()


@pytest.mark.parametrize("ingest, protocol", [("lean", 4), ("lean", 5), ("paho", 4), ("paho", 5)])
def test_results_equal_direct_inference_on_both_paths(mqtt_broker, tmp_path, ingest, protocol):
    res = Results()
    core = make_core(tmp_path, mqtt_broker.host, mqtt_broker.port, res, {"ingest": ingest, "protocol": protocol})
    wire = []
    sub, subscribed = watcher(mqtt_broker, lambda m: wire.append((m.topic, json.loads(m.payload))))
    pub = publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        assert subscribed.wait(10)
        assert (core.ingest is not None) == (ingest == "lean")
        model = model_loader()(fc_model(8, 4, seed=3))
        rng = np.random.default_rng(7)
        x = rng.normal(0, 1, (60, 8)).astype(np.float32)
        for i in range(40):
            pub.publish(f"ember/nodes/n{i % 3}/data", encode_json(i, 1000 + i, f=dict(zip(FEATURES, x[i].tolist()))), 1)
        pub.publish("ember/nodes/n7/data", encode_binary(range(40, 60), range(20), x[40:60]), 1)
        keys = [(f"n{i % 3}", i) for i in range(40)] + [("n7", i) for i in range(40, 60)]
        assert wait_for(lambda: res.has(keys)), "missing results"
        for node, i in keys:
            (topic, r), = res.by_key[(node, i)]
            q, outputs = expected(model, x[i])
            assert topic == f"ember/results/fc/{node}"
            assert r["q"] == q and r["outputs"] == outputs, (node, i)
        # the same results reach subscribers over the broker (QoS 1 frames on the lean socket)
        assert wait_for(lambda: sum(len(m.get("results", [m])) for _, m in wire) >= 60)
        seen = {(m["node"], r["seq"]): r["q"] for _, m in wire for r in m.get("results", [m])}
        assert seen == {k: res.by_key[k][0][1]["q"] for k in keys}
        assert all(m["rid"] for _, m in wire)
        assert core.counters["results"] == 60 and core.counters["internal_error"] == 0
        assert core.counters["queue_overflow"] == 0
        st = core.snapshot()
        assert st["ingest"] == "paho" if ingest == "paho" else st["ingest"]["lean"]["connected"]
        if ingest == "lean":   # every result was acknowledged by the broker
            assert wait_for(lambda: core.ingest.status()["results_inflight"] == 0)
    finally:
        close(pub)
        close(sub)
        core.stop()


def test_backpressure_with_a_tiny_byte_budget_loses_nothing(mqtt_broker, tmp_path):
    """queue_bytes = 1: the ingest connection stops reading after every read until the worker
    took the messages; QoS 1 messages wait at the broker, none is dropped."""
    res = Results()
    core = make_core(tmp_path, mqtt_broker.host, mqtt_broker.port, res, core={"queue_bytes": 1, "queue_limit": 1})
    pub = publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        assert core.ingest is not None
        infos = [pub.publish("ember/nodes/n1/data", encode_json(i, i, f=dict(zip(FEATURES, [0.01 * i] * 8))), 1)
                 for i in range(600)]
        for info in infos:
            info.wait_for_publish(10)
        assert wait_for(lambda: res.has([("n1", i) for i in range(600)]), 60), \
            f"missing {600 - len(res.by_key)} results"
        assert core.counters["ingest_paused"] > 0              # it did stop reading
        assert core.counters["queue_overflow"] == 0 and core.counters["received"] >= 600
        assert max(len(v) for v in res.by_key.values()) == 1    # and nothing was redelivered
    finally:
        close(pub)
        core.stop()


def test_paho_path_bounds_the_inbox_in_bytes_and_counts_the_overflow(tmp_path):
    from runtime.core.service import MSG_OVERHEAD
    each = 40 + MSG_OVERHEAD                                    # payload + what the queued message costs
    core = make_core(tmp_path, "127.0.0.1", 1, core={"queue_bytes": 2 * each + 1}, broker={"ingest": "paho"},
                     start=False)
    msg = type("M", (), {"topic": "ember/nodes/n1/data", "payload": b"x" * 40, "mid": 1, "qos": 1, "retain": False})
    for _ in range(10):
        core._on_message(None, None, msg)
    assert len(core._inbox) == 3 and core._inbox_bytes == 3 * each   # 2 under the budget: a third fits, then oldest drop
    assert core.counters["queue_overflow"] == 7


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_broker_restarted_mid_stream_nothing_lost(tmp_path, how):
    """Persistent sessions on both sides: every message the node published (QoS 1, its own
    session kept by the broker) is served after the broker restarts mid-stream. With SIGKILL
    Mosquitto loses what it accepted after its last autosave (1 s here), so that case checks that
    the core reconnects and serves everything published after the restart; a graceful restart
    (SIGTERM) must lose nothing at all."""
    broker = MosquittoBroker().start()
    res = Results()
    core = make_core(tmp_path, broker.host, broker.port, res, core={"queue_bytes": 2000})
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="n1", clean_session=False)
    pub.max_inflight_messages_set(1000)
    pub.reconnect_delay_set(0.1, 1)
    pub.connect(broker.host, broker.port, 10)
    pub.loop_start()
    try:
        infos = [pub.publish("ember/nodes/n1/data", encode_json(i, i, f=dict(zip(FEATURES, [0.5] * 8))), 1)
                 for i in range(400)]
        assert wait_for(lambda: len(res.by_key) >= 50)
        getattr(broker, how)()                                # in the middle of the stream
        time.sleep(0.3)
        broker.start()
        assert core.wait_connected(20), "core did not reconnect"
        for info in infos:                                    # paho resends what the broker had not acked
            info.wait_for_publish(30)
        for i in range(400, 450):
            pub.publish("ember/nodes/n1/data", encode_json(i, i, f=dict(zip(FEATURES, [0.5] * 8))), 1)
        want = range(400, 450) if how == "kill" else range(450)
        assert wait_for(lambda: res.has([("n1", i) for i in want]), 60), \
            f"lost {sorted(set(want) - {s for _, s in res.by_key})[:20]}"
        assert core.counters["ingest_reconnects"] >= 1
        assert core.counters["internal_error"] == 0 and all(t.is_alive() for t in core._threads)
    finally:
        close(pub)
        core.stop()
        broker.cleanup()


def test_lean_ingest_with_the_embedded_broker(tmp_path):
    from runtime.core.local_broker import free_port
    res = Results()
    cfg = parse_config({
        "core": {"id": "solo", "data_dir": str(tmp_path)},
        "broker": {"port": free_port(), "local": "embedded"},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES}],
        "deploy": {"enabled": False},
    })
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=3))
    core = Core(cfg, loader=model_loader(), result_hook=res).start()
    try:
        assert core.wait_connected(10) and core.ingest is not None
        pub = publisher(core.broker_host, core.broker_port)
        for i in range(50):
            pub.publish("ember/nodes/n1/data", encode_json(i, i, f=dict(zip(FEATURES, [0.1] * 8))), 1)
        assert wait_for(lambda: res.has([("n1", i) for i in range(50)]))
        close(pub)
    finally:
        core.stop()


def test_lean_ingest_over_mutual_tls(tmp_path):
    """The ingest connection uses the paho connection's TLS settings (CA, client cert/key) with the
    shipped Mosquitto security configuration and ACL."""
    import shutil
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found")
    from tests import test_security as sec
    certs = tmp_path / "certs"
    certs.mkdir()
    sec._make_certs(certs, "n1")
    shutil.copy(f"{sec.REPO}/deploy/mosquitto/acl", certs / "acl")
    conf = []
    for line in open(f"{sec.REPO}/deploy/mosquitto/mosquitto.conf"):
        key = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if key in sec.FIXTURE_KEYS:
            continue
        line = line.replace("/etc/mosquitto/ember/", f"{certs}/")
        conf.append("listener {port} 127.0.0.1\n" if key == "listener" else line)
    broker = MosquittoBroker(extra_conf="".join(conf), listener=False).start()
    res = Results()
    core = None
    try:
        tls = {"tls_ca": str(certs / "ca.crt"), "tls_cert": str(certs / "cores" / "core-1.crt"),
               "tls_key": str(certs / "cores" / "core-1.key")}
        core = make_core(tmp_path, broker.host, broker.port, res, broker=tls, core={"id": "core-1"})
        assert core.ingest is not None and core.ingest.ssl_context is not None
        pub = publisher(broker.host, broker.port, "n1", ca_certs=str(certs / "ca.crt"),
                        certfile=str(certs / "nodes" / "n1.crt"), keyfile=str(certs / "nodes" / "n1.key"))
        for i in range(30):
            pub.publish("ember/nodes/n1/data", encode_json(i, i, f=dict(zip(FEATURES, [0.2] * 8))), 1)
        assert wait_for(lambda: res.has([("n1", i) for i in range(30)])), broker.log()[-2000:]
        assert wait_for(lambda: core.ingest.status()["results_inflight"] == 0)
        assert core.counters["publish_error"] == 0
        close(pub)
    finally:
        if core is not None:
            core.stop()
        broker.cleanup()


def test_ingest_lean_without_the_parser_is_a_config_error(tmp_path, monkeypatch):
    import sys
    core = make_core(tmp_path, "127.0.0.1", 1, broker={"ingest": "lean"}, start=False)
    monkeypatch.setitem(sys.modules, "runtime.core.ingest", None)
    with pytest.raises(ConfigError, match="_mqtt_fast"):
        core.use_lean_ingest()
    core.cfg.broker.ingest = "auto"
    assert core.use_lean_ingest() is False                    # auto falls back to paho


def test_bad_ingest_setting_is_a_config_error():
    with pytest.raises(ConfigError, match="broker.ingest"):
        parse_config({"broker": {"ingest": "fast"}})
    with pytest.raises(ConfigError, match="core.queue_bytes"):
        parse_config({"core": {"queue_bytes": 0}})


# ---------------------------------------------------------------- scripted fake brokers
class FakeBroker:
    """Accepts connections on 127.0.0.1, each served on its own thread (bounded): the data
    connection (client id not ending in "-results") runs `script(conn, index)`, index counting data
    connections; the results connection runs `results_script(conn, index)` (default: CONNACK, a
    PUBACK for every QoS 1 PUBLISH, PINGRESP, frames kept in `result_frames`)."""

    def __init__(self, script, results_script=None):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.script = script
        self.results_script = results_script or self.acknowledge_results
        self.connects, self.result_connects = [], []
        self.result_frames = []
        self.stop = threading.Event()
        self.threads = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(5)
            try:
                first = conn.recv(4096)
                if first.endswith(b"-results"):
                    self.result_connects.append(first)
                    self.results_script(conn, len(self.result_connects) - 1)
                else:
                    self.connects.append(first)
                    self.script(conn, len(self.connects) - 1)
            except OSError:
                pass

    def acknowledge_results(self, conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        conn.settimeout(0.1)
        buf = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            buf += data
            frames, buf = split_frames(buf, rest=True)
            for t, flags, body in frames:
                self.result_frames.append((t, body))
                if t == 3 and flags & 6:
                    conn.sendall(b"\x40\x02" + body[2 + body[1]:4 + body[1]])
                elif t == 12:
                    conn.sendall(b"\xd0\x00")

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for t in self.threads:
            t.join(10)
        self.srv.close()


def _ingest(port, **kw):
    delivered, counters = [], {k: 0 for k in ("publish_error", "result_backpressure", "ingest_paused",
                                              "ingest_reconnects", "protocol_error")}
    conn = IngestConnection("127.0.0.1", port, "core-x-ingest", "ember/nodes/+/data",
                            lambda items, n: delivered.extend(items), lambda: True, counters,
                            connect_timeout=2.0, backoff=(0.05, 0.2), **kw)
    return conn, delivered, counters


def test_malformed_frame_from_the_broker_is_counted_and_the_connection_retried():
    def script(conn, i):
        conn.sendall(b"\x20\x02\x00\x00")                    # CONNACK accepted
        conn.recv(4096)                                      # SUBSCRIBE
        if i == 0:
            conn.sendall(b"\x32\xff\xff\xff\xff\x7f")        # remaining length of 5 bytes
            time.sleep(0.5)
        else:
            conn.sendall(b"\x90\x03\x00\x01\x01" + b"\x32\x07\x00\x01t\x00\x05ok")
            time.sleep(1.0)
    fake = FakeBroker(script)
    conn, delivered, counters = _ingest(fake.port)
    conn.start()
    try:
        assert wait_for(lambda: delivered, 10)
        assert counters["protocol_error"] == 1 and counters["ingest_reconnects"] >= 1
        assert "longer than 4 bytes" in conn.last_error
        assert delivered[0][:2] == ("t", b"ok") and delivered[0][3:5] == (5, 1)
        # the CONNECT: MQTT 3.1.1, clean session off, the stable client id
        first = fake.connects[0]
        assert first[:1] == b"\x10" and first[4:10] == b"MQTT\x04\x00"
        assert first.endswith(b"core-x-ingest")
    finally:
        conn.close()
        fake.close()


def test_refused_connection_is_retried_with_backoff():
    def script(conn, i):
        conn.sendall(b"\x20\x02\x00\x05")                    # not authorized
    fake = FakeBroker(script)
    conn, delivered, counters = _ingest(fake.port)
    conn.start()
    try:
        assert wait_for(lambda: len(fake.connects) >= 3, 10)
        assert "not authorized" in conn.last_error and not conn.connected.is_set()
    finally:
        conn.close()
        fake.close()


def test_silent_broker_times_out():
    def script(conn, i):
        time.sleep(3)                                        # never answers CONNECT
    fake = FakeBroker(script)
    conn, delivered, counters = _ingest(fake.port)
    conn.connect_timeout = 0.5
    conn.start()
    try:
        assert wait_for(lambda: "CONNACK" in conn.last_error or "timed out" in conn.last_error, 10)
    finally:
        conn.close()
        fake.close()


def test_keepalive_pings_and_dead_broker_detection():
    pings = []

    def script(conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                data = conn.recv(4096)
            except socket.timeout:
                break
            if not data:
                break
            if b"\xc0\x00" in data:
                pings.append(i)                              # and never answer: a dead broker
    fake = FakeBroker(script)
    conn, delivered, counters = _ingest(fake.port, keepalive=1)
    conn.start()
    try:
        assert wait_for(lambda: pings and "PINGRESP" in conn.last_error, 10), conn.last_error
    finally:
        conn.close()
        fake.close()


def test_mqtt5_connect_and_connack_properties():
    pkt = connect_packet("cid", 30, 5, "user", "pw", receive_max=100, max_packet=4096)
    assert pkt[2:9] == b"\x00\x04MQTT\x05" and pkt[9] == 0xC0      # user+password, clean start off
    props, end = read_properties(pkt, 12)
    assert props == {0x11: 7 * 24 * 3600, 0x21: 100, 0x27: 4096}
    body = b"\x00\x00" + b"\x0c" + b"\x21\x00\x0a" + b"\x13\x00\x3c" + b"\x12\x00\x03abc"
    conn, _, _ = _ingest(1, protocol=5)
    conn._on_connack(body)
    assert conn._window == 10 and conn.keepalive == 60            # broker's Receive Maximum and keep alive
    conn.close()
    from runtime.core._mqtt_fast import FrameError
    with pytest.raises(FrameError, match="unknown MQTT 5 property"):
        read_properties(b"\x02\x7f\x00", 0)


def test_results_beyond_the_inflight_window_wait_and_nothing_is_lost(mqtt_broker, tmp_path, monkeypatch):
    """An inflight window of 2 results and a queue of 3 with a real broker: every result reaches
    a subscriber (the ordering and the waiting are checked deterministically below)."""
    real = Core._make_ingest

    def small_window(self):
        conn = real(self)
        conn.inflight_limit, conn.max_pending_results = 2, 3
        return conn
    monkeypatch.setattr(Core, "_make_ingest", small_window)
    res = Results()
    core = make_core(tmp_path, mqtt_broker.host, mqtt_broker.port, res)
    wire = set()
    sub, subscribed = watcher(mqtt_broker, lambda m: wire.add(json.loads(m.payload)["seq"]))
    pub = publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        assert subscribed.wait(10) and core.ingest._window == 2
        for i in range(300):
            pub.publish("ember/nodes/n1/data", encode_json(i, i, f=dict(zip(FEATURES, [0.3] * 8))), 1)
        assert wait_for(lambda: len(wire) == 300, 60), f"{len(wire)} of 300 results on the wire"
        assert core.counters["internal_error"] == 0
        assert wait_for(lambda: core.ingest.status()["results_pending"] == 0)
    finally:
        close(pub)
        close(sub)
        core.stop()


def split_frames(data: bytes, rest: bool = False):
    """Client -> broker bytes -> [(packet type, body)] (test helper, complete frames only);
    rest=True: ([(packet type, flags, body)], the bytes of an incomplete last frame)."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        n = shift = 0
        i = pos + 1
        while True:
            if i >= len(data):
                return (out, data[pos:]) if rest else out
            b = data[i]
            n |= (b & 0x7F) << shift
            shift += 7
            i += 1
            if not b & 0x80:
                break
        if i + n > len(data):
            break
        out.append((data[pos] >> 4, data[pos] & 15, data[i:i + n]) if rest else (data[pos] >> 4, data[i:i + n]))
        pos = i + n
    return (out, data[pos:]) if rest else out


class ScriptedResults:
    """Fake broker scripts for the two connections: results acknowledged only while `release` is
    set; `events` is the order in which the broker saw result PUBLISHes and node PUBACKs. Before a
    PUBACK on the data connection is recorded, the results socket is drained (on loopback a send()
    puts the bytes in the peer's receive queue at once), so a PUBACK that overtook its results
    would show up before them."""

    def __init__(self):
        self.release = threading.Event()
        self.events, self.lock = [], threading.Lock()
        self.rconn, self.rbuf, self.acked = None, b"", set()

    def _drain_results(self):                                   # lock held
        while self.rconn is not None and select.select([self.rconn], [], [], 0)[0]:
            try:
                data = self.rconn.recv(65536)
            except OSError:
                break
            if not data:
                break
            self.rbuf += data
        frames, self.rbuf = split_frames(self.rbuf, rest=True)
        self.events += [("pub", b) for t, _, b in frames if t == 3]

    def _ack_results(self):                                     # lock held
        if self.release.is_set() and self.rconn is not None:
            for kind, body in self.events:
                pid = body[2 + body[1]:4 + body[1]] if kind == "pub" else None
                if pid is not None and body not in self.acked:
                    self.acked.add(body)
                    self.rconn.sendall(b"\x40\x02" + pid)

    def results(self, conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        with self.lock:
            self.rconn = conn
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with self.lock:
                self._drain_results()
                self._ack_results()
            time.sleep(0.01)

    def data(self, conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        conn.settimeout(0.05)
        buf = b""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            except socket.timeout:
                continue
            frames, buf = split_frames(buf, rest=True)
            with self.lock:
                self._drain_results()
                for t, _, body in frames:
                    if t == 8:
                        conn.sendall(b"\x90\x03" + body[:2] + b"\x01")   # SUBACK
                    elif t == 4:
                        self.events.append(("puback", body))

    def published(self):
        with self.lock:
            return [b[-2:] for k, b in self.events if k == "pub"]

    def order(self):
        with self.lock:
            return [(k, b[-2:] if k == "pub" else b) for k, b in self.events]


def test_pubacks_wait_behind_results_and_a_full_queue_blocks_the_worker():
    s = ScriptedResults()
    fake = FakeBroker(s.data, results_script=s.results)
    conn, delivered, counters = _ingest(fake.port, inflight=2, max_pending_results=3)
    conn.start()
    try:
        assert conn.ready.wait(10)
        gen = conn.generation
        conn.submit([(f"ember/results/m/n{k}", b"r%d" % k) for k in range(5)], [11], gen)
        t = threading.Thread(target=conn.submit, args=([("ember/results/m/n5", b"r5")], [12], gen))
        t.start()
        time.sleep(0.5)
        assert t.is_alive() and counters["result_backpressure"] == 1      # the worker waits
        assert s.published() == [b"r0", b"r1"]                             # window 2
        assert not [e for e in s.order() if e[0] == "puback"]               # PUBACK 11 held behind r4
        s.release.set()
        t.join(10)
        assert not t.is_alive()
        assert wait_for(lambda: sum(k == "puback" for k, _ in s.order()) == 2, 10)
        order = s.order()
        assert s.published() == [b"r%d" % k for k in range(6)]
        assert order.index(("puback", b"\x00\x0b")) > order.index(("pub", b"r4"))   # after the batch's results
        assert order.index(("puback", b"\x00\x0c")) > order.index(("pub", b"r5"))
        assert wait_for(lambda: conn.status()["results_inflight"] == 0)
        assert fake.result_connects[0][9] & 0x02 and not fake.connects[0][9] & 0x02  # clean / persistent
    finally:
        conn.close()
        fake.close()


def test_a_worker_waiting_for_result_space_is_released_when_stopping():
    def script(conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        time.sleep(3)                                        # never acknowledges anything
    fake = FakeBroker(script, results_script=script)
    conn, delivered, counters = _ingest(fake.port, inflight=1, max_pending_results=1)
    conn.start()
    try:
        assert conn.connected.wait(10)
        conn.submit([("r/a", b"1"), ("r/b", b"2")], [], conn.generation)
        t = threading.Thread(target=conn.submit, args=([("r/c", b"3")], [], conn.generation))
        t.start()
        time.sleep(0.3)
        assert t.is_alive()
        conn.release_waiters()
        t.join(5)
        assert not t.is_alive()
    finally:
        conn.close()
        fake.close()


def test_queued_messages_in_the_same_read_as_connack_are_delivered():
    """A persistent session's queued messages may follow CONNACK in the same TCP read."""
    def script(conn, i):
        conn.sendall(b"\x20\x02\x01\x00" + b"\x32\x07\x00\x01q\x00\x09hi" + b"\x40\x02\x00\x05")
        time.sleep(2)
    fake = FakeBroker(script)
    conn, delivered, counters = _ingest(fake.port)
    conn.start()
    try:
        assert wait_for(lambda: delivered, 10), conn.last_error
        assert delivered[0][:2] == ("q", b"hi") and delivered[0][3:5] == (9, 1)
        assert conn.session_present and counters["protocol_error"] == 0
    finally:
        conn.close()
        fake.close()


def test_a_packet_before_connack_is_a_protocol_error():
    def script(conn, i):
        conn.sendall(b"\x32\x07\x00\x01q\x00\x09hi")
        time.sleep(1)
    fake = FakeBroker(script)
    conn, delivered, counters = _ingest(fake.port)
    conn.start()
    try:
        assert wait_for(lambda: counters["protocol_error"] >= 1, 10)
        assert "before CONNACK" in conn.last_error and not delivered
    finally:
        conn.close()
        fake.close()


@pytest.mark.parametrize("protocol", [4, 5])
def test_an_oversized_node_message_is_rejected_and_the_stream_goes_on(mqtt_broker, tmp_path, protocol):
    res = Results()
    core = make_core(tmp_path, mqtt_broker.host, mqtt_broker.port, res, {"protocol": protocol})
    pub = publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        pub.publish("ember/nodes/n1/data", b"{" + b" " * (3 << 20), 1).wait_for_publish(10)   # 3 MB
        pub.publish("ember/nodes/n1/data", encode_json(1, 1, f=dict(zip(FEATURES, [0.1] * 8))), 1)
        assert wait_for(lambda: res.has([("n1", 1)]), 30)
        assert core.counters["bad_json"] == 1 and core.counters["protocol_error"] == 0
        assert core.counters["ingest_reconnects"] == 0
    finally:
        close(pub)
        core.stop()


def test_a_full_inbox_stops_reading_node_data_even_while_results_wait_for_pubacks():
    """Overload: the broker keeps sending node messages regardless of its inflight limit (as
    Mosquitto 2.0 does once PUBACKs flow) and the broker's PUBACKs for our results are late. The
    data socket is not read while the inbox is full (results wait on their own connection), so
    the inbox stays bounded by one read; once there is room everything arrives, nothing lost."""
    n_msgs = 3000
    topic = b"ember/nodes/n1/data"

    def flood(conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        conn.recv(4096)                                                    # SUBSCRIBE
        conn.sendall(b"\x90\x03\x00\x01\x01")
        frames = b"".join(b"\x32" + bytes([2 + len(topic) + 2 + 1]) + struct.pack("!H", len(topic)) + topic
                          + struct.pack("!H", k % 65535 + 1) + b"x" for k in range(n_msgs))
        conn.sendall(frames)                                               # fits the socket buffers
        conn.settimeout(0.2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if not conn.recv(65536):
                    return
            except socket.timeout:
                pass

    def late_results(conn, i):
        conn.sendall(b"\x20\x02\x00\x00")
        time.sleep(10)                                                     # no PUBACK for our results

    fake = FakeBroker(flood, results_script=late_results)
    delivered, limit = [], [1]
    counters = {k: 0 for k in ("publish_error", "result_backpressure", "ingest_paused", "ingest_reconnects",
                               "protocol_error")}
    conn = IngestConnection("127.0.0.1", fake.port, "core-x-ingest", "ember/nodes/+/data",
                            lambda items, n: delivered.extend(items), lambda: len(delivered) < limit[0], counters,
                            connect_timeout=2.0, backoff=(0.05, 0.2), inflight=2, recv_size=256)
    conn.start()
    try:
        assert conn.ready.wait(10)
        conn.submit([(f"ember/results/m/n{k}", b"r") for k in range(5)], [], conn.generation)
        assert wait_for(lambda: delivered, 10)
        time.sleep(0.5)
        assert conn.status()["results_pending"] == 3 and conn.status()["paused"]
        held = len(delivered)
        assert held < limit[0] + 256 // 26 + 1, held                   # the inbox bound plus one read
        assert counters["ingest_paused"] >= 1
        limit[0] = n_msgs
        conn.resume()
        assert wait_for(lambda: len(delivered) == n_msgs, 20), len(delivered)
        assert [d[3] for d in delivered] == [k % 65535 + 1 for k in range(n_msgs)]
    finally:
        conn.close()
        fake.close()
