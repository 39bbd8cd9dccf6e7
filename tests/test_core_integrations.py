"""The core service with core-reliability's parts attached: signed deployments over MQTT
(switch, rejection with the old version serving, rollback), capture JSONL and drift stats."""

import json
import threading
import time
from collections import Counter

import numpy as np
import paho.mqtt.client as mqtt
import pytest

pytest.importorskip("cryptography")

from runtime.core.config import parse_config
from runtime.core.deploy import deploy_package, request_rollback
from runtime.core.package import generate_keypair, load_private_key, package_model
from runtime.core.integrations import CaptureAndStats
from runtime.core.payload import encode_binary, encode_json
from runtime.core.service import Core
from tests.deploy_models import fc_model, model_loader
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)
from tests.waiting import wait_for as _wait

FEATURES = [f"x{i}" for i in range(8)]


class Node:
    """Publishes readings and collects the results of one node."""

    def __init__(self, broker):
        self.results = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="n1")
        self.c.on_message = self._on
        ready = threading.Event()
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.connect(broker.host, broker.port)
        self.c.subscribe("ember/results/fc/n1", 1)
        self.c.loop_start()
        assert ready.wait(10)
        self.seq = 0

    def _on(self, c, u, m):
        r = json.loads(m.payload)
        with self.lock:
            for one in r.get("results", [r]):      # a binary message's readings: one result message
                self.results[one["seq"]] = one

    def send(self, x):
        self.seq += 1
        self.c.publish("ember/nodes/n1/data", encode_json(self.seq, self.seq, f=dict(zip(FEATURES, x))), 1)
        return self.seq

    def send_binary(self, seqs, rows):
        """Several readings in one binary message (payload.py version 1, float32 or int8 rows)."""
        self.c.publish("ember/nodes/n1/data", encode_binary(seqs, seqs, rows), 1)
        self.seq = max(self.seq, *seqs)

    def result(self, seq):
        assert _wait(lambda: seq in self.results), f"no result for seq {seq}"
        return self.results[seq]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def keys(tmp_path):
    priv, pub = generate_keypair()
    (tmp_path / "release.pub").write_bytes(pub)
    return load_private_key(priv), str(tmp_path / "release.pub")


def test_deployments_switch_reject_and_roll_back_in_the_service(mqtt_broker, tmp_path, keys):
    key, pub = keys
    loader = model_loader()
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data"), "status_interval_s": 0.3},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES, "version": "1.0.0"}],
        "deploy": {"trusted_keys": [pub]},
    })
    core = Core(cfg, loader=loader).start()
    node = Node(mqtt_broker)
    x = [0.3, -0.2, 0.1, 0.0, 0.5, -0.5, 0.25, 0.05]
    try:
        assert core.wait_connected(10)
        r1 = node.result(node.send(x))
        assert r1["version"] == "1.0.0"
        blob = package_model(fc_model(8, 4, seed=1), "fc", "1.1.0", key, loader=loader)
        st = deploy_package(blob, core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=30)
        assert st["state"] == "active" and st["previous"] == "1.0.0", st
        r2 = node.result(node.send(x))
        assert r2["version"] == "1.1.0"
        want = np.asarray(loader(fc_model(8, 4, seed=1)).infer(
            np.asarray(core.models["fc"]._quantize(np.asarray(x, np.float32))).reshape(1, 8))).reshape(-1)
        assert r2["q"] == want.tolist()                          # the new weights serve
        # a package signed by an unknown key is rejected; 1.1.0 keeps serving
        other = load_private_key(generate_keypair()[0])
        bad = package_model(fc_model(8, 4, seed=2), "fc", "1.2.0", other, loader=loader)
        st = deploy_package(bad, core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=30)
        assert st["state"] == "rejected" and "signature" in st["reason"], st
        # a tampered archive too
        tampered = bytearray(blob)
        tampered[len(tampered) // 2] ^= 0xFF
        st = deploy_package(bytes(tampered), core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=30)
        assert st["state"] == "rejected", st
        assert node.result(node.send(x))["version"] == "1.1.0"
        st = request_rollback("fc", core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=30)
        assert st["state"] == "rolled_back" and st["version"] == "1.0.0", st
        r3 = node.result(node.send(x))
        assert r3["version"] == "1.0.0" and r3["q"] == r1["q"]
        snap = core.snapshot()
        assert snap["deploy"]["deployed"] == 1 and snap["deploy"]["rejected"] == 2
        assert snap["deploy"]["rolled_back"] == 1
    finally:
        node.close()
        core.stop()


def test_capture_and_drift_stats(mqtt_broker, tmp_path):
    """Published per-model stats of a real Core: request count, latency p50 <= p99, input mean/std
    per named feature in the readings' own units (JSON floats as sent, float32 binary rows as
    sent, int8 binary rows dequantized with the model's input scale/zero point and the route's
    normalisation undone) and the class histogram of the results' labels; capture records the
    same input values and the dequantized outputs."""
    loader = model_loader()
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    mean = [20.0, -3.0, 0.5, 100.0, 0.0, 7.0, -50.0, 1.0]
    std = [2.0, 0.5, 0.1, 10.0, 1.0, 3.0, 4.0, 0.25]
    labels = ["idle", "run", "fault", "off"]
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES,
                    "mean": mean, "std": std, "labels": labels}],
        "deploy": {"enabled": False},
        # one window, published when the test asks (publish_now), so its content is known
        "capture": {"enabled": True, "sample_rate": 1.0, "stats_interval_s": 3600},
    })
    rng = np.random.default_rng(7)
    mu, sd = np.array(mean), np.array(std)
    json_rows = np.round(mu + sd * rng.uniform(-2.5, 2.5, (20, 8)), 3)          # what JSON nodes send
    f32_rows = (mu + sd * rng.uniform(-2.5, 2.5, (5, 8))).astype(np.float32)     # binary float32 readings
    q_rows = rng.integers(-60, 61, (5, 8)).astype(np.int8)                       # binary int8 readings
    stats = []
    watch = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch")
    watch.on_message = lambda c, u, m: stats.append((m.topic, json.loads(m.payload)))
    subscribed = threading.Event()
    watch.on_subscribe = lambda *a: subscribed.set()
    watch.connect(mqtt_broker.host, mqtt_broker.port)
    watch.subscribe("ember/stats/#", 1)
    watch.loop_start()
    core = Core(cfg, loader=loader).start()
    node = Node(mqtt_broker)
    try:
        assert core.wait_connected(10) and subscribed.wait(10)
        served = core.models["fc"]
        for row in json_rows:
            node.send(row.tolist())
        node.send_binary(list(range(21, 26)), f32_rows)
        node.send_binary(list(range(26, 31)), q_rows)
        node.result(30)
        assert _wait(lambda: len(node.results) == 30)
        ext = next(e for e in core.extensions if isinstance(e, CaptureAndStats))
        assert ext.publisher.publish_now() == 1
        assert _wait(lambda: len(stats) == 1)
        topic, snap = stats[0]
        cap = core.snapshot()["capture"]
    finally:
        node.close()
        core.stop()
        watch.disconnect()
        watch.loop_stop()
    q_units = (q_rows.astype(np.float64) - served.in_zp) * served.in_scale * sd + mu
    sent = np.concatenate([json_rows, f32_rows.astype(np.float64), q_units])
    assert topic == "ember/stats/gw/fc" and snap["model"] == "fc" and snap["version"] == served.version
    w = snap["window"]
    assert snap["requests"] == w["requests"] == 30 and snap["errors"] == w["errors"] == 0
    lat = w["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"] * 1.0001
    inp = w["input"]
    assert inp["features"] == 8 and inp["count"] == 30 and inp["names"] == FEATURES
    np.testing.assert_allclose(inp["mean"], sent.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(inp["std"], sent.std(axis=0, ddof=1), rtol=1e-5, atol=1e-5)
    assert w["classes"] == dict(Counter(r["label"] for r in node.results.values()))
    assert cap["sampled"] == 30
    records = [json.loads(line) for p in (tmp_path / "data" / "capture").glob("*.jsonl")
               for line in p.read_text().splitlines()]
    assert len(records) == 30 and {(r["model"], r["node"]) for r in records} == {("fc", "n1")}
    got = np.array([r["input"] for r in records])
    for r, x in zip(records, got):                    # each record: one sent reading, its result
        i = int(np.abs(sent - x).max(axis=1).argmin())
        np.testing.assert_allclose(x, sent[i], rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(r["output"], node.results[i + 1]["outputs"], atol=1e-6)


@pytest.mark.parametrize("ingest", ["lean", "paho"])
def test_full_outbox_with_reject_new_is_counted_and_not_acknowledged(mqtt_broker, tmp_path, ingest):
    """Uplink down and the outbox at its bound: results are refused (counted) and the node
    messages stay unacknowledged, so the broker redelivers them later; nothing stops."""
    loader = model_loader()
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    from runtime.core.local_broker import free_port
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port, "ingest": ingest},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES}],
        "deploy": {"enabled": False},
        "uplink": {"host": "127.0.0.1", "port": free_port(), "max_messages": 5, "overflow": "reject-new"},
    })
    acked = []
    core = Core(cfg, loader=loader).start()
    node = Node(mqtt_broker)
    try:
        assert core.wait_connected(10)
        if ingest == "lean":                              # PUBACKs go out with the batch's results
            real_submit = core.ingest.submit
            core.ingest.submit = lambda results, pids, gen: (acked.extend(pids), real_submit(results, pids, gen))
        else:
            real_ack = core.client.ack
            core.client.ack = lambda mid, qos: (acked.append(mid), real_ack(mid, qos))
        for i in range(8):                                # one message per batch
            node.result(node.send([0.1 * i] * 8))         # local results still flow
        st = core.snapshot()
        assert st["outbox"]["depth"] == 5 and st["outbox"]["rejected"] == 3
        assert core.counters["uplink_rejected"] == 3
        assert len(acked) == 5                            # refused results: node messages not acked
        assert all(t.is_alive() for t in core._threads)
    finally:
        node.close()
        core.stop()


def test_a_deployment_in_progress_does_not_stall_the_worker(mqtt_broker, tmp_path, keys):
    """The worker reports every batch's outcome to the deployment manager; while a deployment
    holds the manager (loading, smoke test, disk writes), node messages are still served."""
    from runtime.core.integrations import Deployments
    key, pub = keys
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES, "version": "1.0.0"}],
        "deploy": {"trusted_keys": [pub]},
    })
    core = Core(cfg, loader=model_loader()).start()
    node = Node(mqtt_broker)
    x = [0.3, -0.2, 0.1, 0.0, 0.5, -0.5, 0.25, 0.05]
    try:
        assert core.wait_connected(10)
        assert node.result(node.send(x))["version"] == "1.0.0"
        manager = next(e for e in core.extensions if isinstance(e, Deployments)).manager
        with manager._lock:                                    # a deployment in progress
            assert node.result(node.send(x))["version"] == "1.0.0"
    finally:
        node.close()
        core.stop()


def test_stats_go_through_the_outbox_with_a_stable_id(mqtt_broker, tmp_path):
    """With an uplink, each published stats window is also stored in the outbox (durable while
    the cloud link is down), under an id made from its topic and payload."""
    from runtime.core.integrations import CaptureAndStats
    from runtime.core.local_broker import free_port
    from runtime.core.outbox import stable_msg_id
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES}],
        "deploy": {"enabled": False},
        "uplink": {"host": "127.0.0.1", "port": free_port()},            # nothing listens: link down
        "capture": {"enabled": True, "sample_rate": 0.0, "stats_interval_s": 3600},
    })
    core = Core(cfg, loader=model_loader()).start()
    node = Node(mqtt_broker)
    try:
        assert core.wait_connected(10)
        for _ in range(3):
            node.result(node.send([0.1] * 8))
        ext = next(e for e in core.extensions if isinstance(e, CaptureAndStats))
        assert ext.publisher.publish_now() == 1
        stats = [m for m in core.uplink.outbox.peek(limit=100) if m.topic == "ember/stats/gw/fc"]
        assert len(stats) == 1, [m.topic for m in core.uplink.outbox.peek(limit=100)]
        body = json.loads(stats[0].payload)
        assert body["model"] == "fc" and body["window"]["requests"] == 3
        assert stats[0].msg_id == stable_msg_id("ember/stats/gw/fc", stats[0].payload)
    finally:
        node.close()
        core.stop()
