"""Model deployments through a running core while nodes stream (real Mosquitto on 127.0.0.1).

* A new signed version deployed over MQTT (the `ember deploy` path) switches atomically: every
  node message gets exactly one result, versions go old -> new once per node (never back),
  and every value is `runtime.infer` of the version that answered. A package that fails its
  smoke test mid-stream is rejected; the old version keeps answering, nothing is lost.
* Automatic rollback: a version that passes its smoke test but fails on the nodes' real inputs
  (inference errors, reported by the service to the DeploymentManager) is rolled back; the
  rolled_back status is published with the reason and the old version serves again.
"""

import json
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

pytest.importorskip("cryptography")

import runtime
from runtime.core.config import parse_config
from runtime.core.deploy import deploy_package
from runtime.core.package import generate_keypair, load_private_key, package_model
from runtime.core.payload import encode_json
from runtime.core.service import Core
from runtime.errors import RuntimeFailure
from runtime.quant import quantize
from tests.deploy_models import fc_model
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)
from tests.waiting import wait_for

FEATURES = [f"x{i}" for i in range(8)]
WAIT_S = 20.0


def _wait(cond, timeout=WAIT_S):
    return wait_for(cond, timeout)


def _reading(node: int, seq: int) -> list:
    """The deterministic reading node `node` sends as message `seq`."""
    rng = np.random.default_rng(node * 1_000_003 + seq)
    return np.round(rng.uniform(-4.0, 4.0, len(FEATURES)), 3).tolist()


class StreamingNode(threading.Thread):
    """One node: publishes QoS 1 readings continuously (bounded) until stopped."""

    def __init__(self, broker, index: int, period_s: float = 0.004, max_msgs: int = 5000):
        super().__init__(name=f"node-{index}", daemon=True)
        self.index, self.node = index, f"n{index}"
        self.period_s, self.max_msgs = period_s, max_msgs
        self.sent = 0
        self.last_info = None
        self.halt = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"stream-{self.node}")
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()

    def run(self):
        while not self.halt.is_set() and self.sent < self.max_msgs:
            seq = self.sent + 1
            payload = encode_json(seq, seq, f=dict(zip(FEATURES, _reading(self.index, seq))))
            self.last_info = self.c.publish(f"ember/nodes/{self.node}/data", payload, 1)
            self.sent = seq
            time.sleep(self.period_s)

    def finish(self) -> None:
        """Stop sending and wait (bounded) until the broker acknowledged every message."""
        self.halt.set()
        self.join(10)
        if self.last_info is not None:
            self.last_info.wait_for_publish(10)
            assert self.last_info.is_published(), f"{self.node}: broker did not acknowledge its messages"

    def close(self) -> None:
        self.halt.set()
        self.join(10)
        self.c.disconnect()
        self.c.loop_stop()


class Observer:
    """Collects every result (per node, in arrival order) and every deployment status."""

    def __init__(self, broker):
        self.lock = threading.Lock()
        self.results: dict[str, list] = {}
        self.statuses: list[dict] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="observer")
        self.c.on_message = self._on
        subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.connect(broker.host, broker.port)
        self.c.subscribe([("ember/results/fc/+", 1), ("ember/cores/gw/deploy/status", 1)])
        self.c.loop_start()
        assert subscribed.wait(10)

    def _on(self, c, u, m):
        r = json.loads(m.payload)
        with self.lock:
            if m.topic.endswith("/deploy/status"):
                self.statuses.append(r)
            else:
                self.results.setdefault(r["node"], []).append(r)

    def of(self, node: str) -> list:
        with self.lock:
            return list(self.results.get(node, []))

    def count(self, node: str, version: str | None = None) -> int:
        return sum(1 for r in self.of(node) if version is None or r["version"] == version)

    def status(self, state: str) -> dict | None:
        with self.lock:
            return next((s for s in self.statuses if s["state"] == state), None)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def key(tmp_path):
    priv, pub = generate_keypair()
    (tmp_path / "release.pub").write_bytes(pub)
    return load_private_key(priv), str(tmp_path / "release.pub")


def _config(tmp_path, broker, pub, ingest):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    return parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": broker.host, "port": broker.port, "ingest": ingest},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES, "version": "1.0.0"}],
        "deploy": {"trusted_keys": [pub]},
    })


def _skip_without_lean(ingest):
    if ingest == "lean":
        pytest.importorskip("runtime.core._mqtt_fast", reason="lean ingest needs the Cython module")


class Oracle:
    """runtime.infer of each model version on the reading quantized as the model's input."""

    def __init__(self, tmp_path, versions: dict):
        self.paths = {}
        for version, blob in versions.items():
            p = tmp_path / f"oracle-{version}.tflite"
            p.write_bytes(blob)
            self.paths[version] = str(p)
        inp = runtime.load(next(iter(versions.values()))).inputs[0]
        self.scale, self.zp = float(inp.scale), int(inp.zero_point)

    def q(self, version: str, node: int, seq: int) -> list:
        x = quantize(np.asarray(_reading(node, seq), np.float32), self.scale, self.zp, "int8").reshape(1, -1)
        return np.asarray(runtime.infer(self.paths[version], x)).reshape(-1).tolist()


def _check_exactly_one_result_each(obs, node: StreamingNode) -> list:
    """Every message 1..sent answered exactly once; returns the results ordered by seq."""
    rs = obs.of(node.node)
    seqs = sorted(r["seq"] for r in rs)
    assert seqs == list(range(1, node.sent + 1)), (
        f"{node.node}: {node.sent} sent, {len(rs)} results, missing "
        f"{sorted(set(range(1, node.sent + 1)) - set(seqs))[:10]}, duplicates "
        f"{sorted({s for s in seqs if seqs.count(s) > 1})[:10]}")
    return sorted(rs, key=lambda r: r["seq"])


@pytest.mark.parametrize("ingest", ["lean", "paho"])
def test_deploy_while_nodes_stream_switches_atomically_without_dropping_a_request(
        mqtt_broker, tmp_path, key, ingest):
    _skip_without_lean(ingest)
    priv, pub = key
    load = runtime.load
    v_old, v_new = fc_model(8, 4, seed=0), fc_model(8, 4, seed=1)
    good = package_model(v_new, "fc", "1.1.0", priv, loader=load)
    # correctly signed, but its expected output comes from another model: fails the smoke test
    smoke_bad = package_model(fc_model(8, 4, seed=2), "fc", "1.2.0", priv,
                              loader=lambda _b: load(fc_model(8, 4, seed=3)))
    oracle = Oracle(tmp_path, {"1.0.0": v_old, "1.1.0": v_new})
    core = Core(_config(tmp_path, mqtt_broker, pub, ingest), loader=load).start()
    obs = Observer(mqtt_broker)
    nodes = []
    try:
        assert core.wait_connected(10)
        assert (core.ingest is not None) == (ingest == "lean")
        nodes = [StreamingNode(mqtt_broker, i) for i in range(3)]
        for n in nodes:
            n.start()
        assert _wait(lambda: all(obs.count(n.node) >= 30 for n in nodes)), "nodes are not being served"

        # 1. a package failing its smoke test, mid-stream: rejected, 1.0.0 keeps answering
        st = deploy_package(smoke_bad, core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=WAIT_S)
        assert st["state"] == "rejected" and "smoke test" in st["reason"], st
        assert st["version"] == "1.2.0" and st["previous"] == "1.0.0", st
        seen = {n.node: obs.count(n.node) for n in nodes}
        assert _wait(lambda: all(obs.count(n.node) >= seen[n.node] + 30 for n in nodes))
        assert all(r["version"] == "1.0.0" for n in nodes for r in obs.of(n.node))

        # 2. a good package, mid-stream: switches
        st = deploy_package(good, core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=WAIT_S)
        assert st["state"] == "active" and st["version"] == "1.1.0" and st["previous"] == "1.0.0", st
        assert _wait(lambda: all(obs.count(n.node, "1.1.0") >= 30 for n in nodes)), "1.1.0 does not answer"
        for n in nodes:
            n.finish()
        assert all(n.sent < n.max_msgs for n in nodes), "a node stopped at its bound before the checks"
        assert _wait(lambda: all(obs.count(n.node) >= n.sent for n in nodes)), \
            {n.node: (n.sent, obs.count(n.node)) for n in nodes}
        time.sleep(0.2)                                   # a duplicate would arrive right behind

        for n in nodes:
            ordered = _check_exactly_one_result_each(obs, n)
            versions = [r["version"] for r in ordered]
            switch = versions.index("1.1.0")              # old strictly before, new from here on
            assert switch > 0 and set(versions[:switch]) == {"1.0.0"}, (n.node, switch)
            assert set(versions[switch:]) == {"1.1.0"}, \
                f"{n.node}: 1.0.0 answered after 1.1.0 had (seq {ordered[switch]['seq']})"
            for r in ordered:
                assert r["q"] == oracle.q(r["version"], n.index, r["seq"]), (n.node, r)
        # the statuses went out over MQTT too, each deployment once
        states = [(s["version"], s["state"]) for s in obs.statuses if s["state"] in ("active", "rejected")]
        assert states == [("1.2.0", "rejected"), ("1.1.0", "active")], obs.statuses
        c = core.counters
        assert c["inference_error"] == 0 and c["queue_overflow"] == 0 and c["internal_error"] == 0, c
        snap = core.snapshot()
        assert snap["deploy"]["deployed"] == 1 and snap["deploy"]["rejected"] == 1
        assert [m["version"] for m in snap["models"] if m["name"] == "fc"] == ["1.1.0"]
    finally:
        for n in nodes:
            n.close()
        obs.close()
        core.stop()


class FailsOnNodeInputs:
    """runtime.load model that answers its package's smoke-test sample and fails (as the C
    executor reports a failure: RuntimeFailure) on any other input, i.e. on real node data."""

    def __init__(self, model, sample: np.ndarray):
        self._m, self._sample = model, sample
        self.inputs, self.outputs = model.inputs, model.outputs
        self.calls = self.failures = 0

    def infer(self, x):
        self.calls += 1
        if not np.array_equal(np.asarray(x).reshape(self._sample.shape), self._sample):
            self.failures += 1
            raise RuntimeFailure("executor failed: injected fault on a node input")
        return self._m.infer(x)


@pytest.mark.parametrize("ingest", ["lean", "paho"])
def test_version_failing_on_node_inputs_rolls_back_automatically(mqtt_broker, tmp_path, key, ingest):
    _skip_without_lean(ingest)
    from runtime.core.package import decode_array, load_public_key, read_package
    priv, pub = key
    v_old, v_bad = fc_model(8, 4, seed=0), fc_model(8, 4, seed=1)
    blob = package_model(v_bad, "fc", "1.1.0", priv, loader=runtime.load)
    with open(pub, "rb") as f:
        pkg = read_package(blob, [load_public_key(f.read())])
    sample = next(decode_array(v) for v in pkg.manifest["sample"]["input"].values())
    faulty = []

    def loader(src):
        m = runtime.load(src)
        if isinstance(src, (bytes, bytearray)) and bytes(src) == v_bad:
            faulty.append(FailsOnNodeInputs(m, sample))
            return faulty[-1]
        return m

    oracle = Oracle(tmp_path, {"1.0.0": v_old})
    core = Core(_config(tmp_path, mqtt_broker, pub, ingest), loader=loader).start()
    obs = Observer(mqtt_broker)
    node = None
    try:
        assert core.wait_connected(10)
        node = StreamingNode(mqtt_broker, 0)
        node.start()
        assert _wait(lambda: obs.count(node.node) >= 30), "the node is not being served"
        st = deploy_package(blob, core="gw", host=mqtt_broker.host, port=mqtt_broker.port, timeout_s=WAIT_S)
        assert st["state"] == "active" and st["version"] == "1.1.0", st   # the smoke test passed
        assert len(faulty) == 1
        assert _wait(lambda: obs.status("rolled_back") is not None), f"no rollback: {obs.statuses}"
        rb = obs.status("rolled_back")
        assert rb["name"] == "fc" and rb["version"] == "1.0.0" and rb["previous"] == "1.1.0", rb
        mgr = next(e for e in core.extensions if hasattr(e, "manager")).manager
        assert "rolled back from 1.1.0" in rb["reason"] and \
            f"{mgr.max_failures} failed requests" in rb["reason"], rb
        # the old version serves again
        seen = obs.count(node.node)
        assert _wait(lambda: obs.count(node.node) >= seen + 30)
        node.finish()
        failed = core.counters["inference_error"]
        assert failed >= mgr.max_failures and faulty[0].failures >= 1   # counted per node message
        assert _wait(lambda: obs.count(node.node) >= node.sent - failed)
        time.sleep(0.2)

        rs = sorted(obs.of(node.node), key=lambda r: r["seq"])
        seqs = [r["seq"] for r in rs]
        assert len(seqs) == len(set(seqs)) == node.sent - failed   # one result each, except the failed
        assert {r["version"] for r in rs} == {"1.0.0"}             # 1.1.0 never answered
        missing = sorted(set(range(1, node.sent + 1)) - set(seqs))
        assert missing == list(range(missing[0], missing[0] + failed)), missing  # one contiguous run
        assert seqs[-1] == node.sent                               # 1.0.0 answers after the rollback
        for r in rs:
            assert r["q"] == oracle.q("1.0.0", node.index, r["seq"]), r
        snap = core.snapshot()
        assert snap["deploy"]["deployed"] == 1 and snap["deploy"]["rolled_back"] == 1
        assert [m["version"] for m in snap["models"] if m["name"] == "fc"] == ["1.0.0"]
        assert mgr.registry.get("fc").version == "1.0.0"
    finally:
        if node is not None:
            node.close()
        obs.close()
        core.stop()
