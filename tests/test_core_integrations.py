"""The core service with core-reliability's parts attached: signed deployments over MQTT
(switch, rejection with the old version serving, rollback), capture JSONL and drift stats."""

import json
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

pytest.importorskip("cryptography")

from runtime.core.config import parse_config
from runtime.core.deploy import deploy_package, request_rollback
from runtime.core.package import generate_keypair, load_private_key, package_model
from runtime.core.payload import encode_json
from runtime.core.service import Core
from tests.deploy_models import fc_model, model_loader
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)

FEATURES = [f"x{i}" for i in range(8)]


def _wait(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


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
            self.results[r["seq"]] = r

    def send(self, x):
        self.seq += 1
        self.c.publish("ember/nodes/n1/data", encode_json(self.seq, self.seq, f=dict(zip(FEATURES, x))), 1)
        return self.seq

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
    loader = model_loader()
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES}],
        "deploy": {"enabled": False},
        "capture": {"enabled": True, "sample_rate": 1.0, "stats_interval_s": 0.3},
    })
    stats = []
    watch = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch")
    watch.on_message = lambda c, u, m: stats.append((m.topic, json.loads(m.payload)))
    watch.connect(mqtt_broker.host, mqtt_broker.port)
    watch.subscribe("ember/stats/#", 1)
    watch.loop_start()
    core = Core(cfg, loader=loader).start()
    node = Node(mqtt_broker)
    try:
        assert core.wait_connected(10)
        for i in range(20):
            node.send([0.1 * i] * 8)
        node.result(20)
        assert _wait(lambda: any(s[1].get("requests", 0) == 20 for s in stats))
        topic, snap = next(s for s in stats if s[1].get("requests", 0) == 20)
        assert topic.startswith("ember/stats/gw") and snap["model"] == "fc"
        cap = core.snapshot()["capture"]
        assert cap["sampled"] == 20
    finally:
        node.close()
        core.stop()
        watch.disconnect()
        watch.loop_stop()
    lines = (tmp_path / "data" / "capture").glob("*.jsonl")
    records = [json.loads(l) for p in lines for l in p.read_text().splitlines()]
    assert len(records) == 20 and records[0]["model"] == "fc" and records[0]["node"] == "n1"


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

