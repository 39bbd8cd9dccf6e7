"""The core service against a real Mosquitto on 127.0.0.1 (runtime/core/service.py)."""

import json
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from tests.core_models import KWS, load_model
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)
from runtime.core.config import parse_config
from runtime.core.payload import encode_binary, encode_json
from runtime.core.service import Core
from runtime.quant import dequantize, quantize
from tests.waiting import wait_for as _wait_for

pytestmark = pytest.mark.skipif(not KWS.is_file(), reason=f"{KWS} not found")


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))   # the core's data_dir (deployments store)


class Results:
    """Collects what the core produced (result_hook), keyed by (node, seq)."""

    def __init__(self):
        self.by_key = {}
        self.count = 0
        self.cond = threading.Condition()

    def __call__(self, topic, msg):
        with self.cond:
            rows = msg["results"] if "results" in msg else [msg]
            for r in rows:
                self.by_key.setdefault((msg["node"], r["seq"]), []).append((topic, msg, r))
                self.count += 1
            self.cond.notify_all()

    def wait_keys(self, keys, timeout=30.0):
        keys = set(keys)
        deadline = time.monotonic() + timeout
        with self.cond:
            while not keys <= self.by_key.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return keys - self.by_key.keys()


def make_core(broker, results=None, broker_cfg=None, **core):
    cfg = parse_config({
        "core": {"id": core.pop("id", "c1"), "status_interval_s": 0.3, **core},
        "broker": {"host": broker.host, "port": broker.port, **(broker_cfg or {})},
        "models": [{"name": "kws", "path": str(KWS), "nodes": ["n*"], "channels": ["mfcc"]}],
        "nodes": {"n1": {"config": {"period_ms": 500, "v": 1}}},
    })
    c = Core(cfg, loader=load_model, result_hook=results)
    c.start()
    if not c.wait_connected(10):
        c.stop()                                          # no threads left behind by a failed test
        raise AssertionError("core did not connect")
    return c


def node_client(broker, cid, will=None):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=True)
    if will:
        c.will_set(*will)
    c.reconnect_delay_set(0.1, 1)
    c.connect(broker.host, broker.port, 10)
    c.loop_start()
    return c


def stop(*clients):
    for c in clients:
        c.disconnect()
        c.loop_stop()


def wait_for(cond, timeout=15.0):
    return _wait_for(cond, timeout)


def test_results_equal_direct_inference(mqtt_broker):
    res = Results()
    core = make_core(mqtt_broker, res)
    model = load_model(KWS)
    spec = model.inputs[0]
    rng = np.random.default_rng(1)
    x = rng.normal(0, 25, (24, 490)).astype(np.float32)
    pub = node_client(mqtt_broker, "n1")
    try:
        for i in range(8):                              # JSON, one reading per message
            pub.publish("ember/nodes/n1/data", encode_json(i, i, ch={"mfcc": x[i].tolist()}), 1)
        pub.publish("ember/nodes/n2/data", encode_binary(range(8, 16), range(8), x[8:16]), 1)  # float batch
        q = quantize(x[16:], spec.scale, spec.zero_point)
        pub.publish("ember/nodes/n3/data", encode_binary(range(16, 24), range(8), q), 1)       # int8 batch
        keys = [("n1", i) for i in range(8)] + [("n2", i) for i in range(8, 16)] + [("n3", i) for i in range(16, 24)]
        assert res.wait_keys(keys) == set()
        out = model.outputs[0]
        for node, i in keys:
            (topic, msg, r), = res.by_key[(node, i)]
            xq = quantize(x[i], spec.scale, spec.zero_point).reshape(spec.shape)
            q = np.asarray(model.infer(xq)).reshape(-1)
            want = dequantize(q, out.scale, out.zero_point).astype(np.float64)
            assert topic == f"ember/results/kws/{node}"
            assert r["q"] == q.tolist(), (node, i)                         # bit-exact
            assert r["outputs"] == np.round(want, 6).tolist()
            assert r["label"] == str(int(np.argmax(want)))
            assert msg["model"] == "kws" and msg["version"] and msg["latency_ms"] >= 0
        assert core.counters["results"] == 24 and core.counters["internal_error"] == 0
    finally:
        stop(pub)
        core.stop()


def test_results_are_published_on_the_broker(mqtt_broker):
    core = make_core(mqtt_broker)
    got = []
    sub = node_client(mqtt_broker, "listener")
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    sub.subscribe("ember/results/#", 1)
    pub = node_client(mqtt_broker, "n1")
    try:
        time.sleep(0.3)
        pub.publish("ember/nodes/n1/data", encode_json(41, 5, ch={"mfcc": [1.0] * 490}), 1)
        assert wait_for(lambda: got)
        topic, msg = got[0]
        assert topic == "ember/results/kws/n1"
        assert {"node", "seq", "t", "model", "version", "q", "outputs", "label", "score", "latency_ms", "rid"} <= msg.keys()
        assert (msg["node"], msg["seq"], msg["t"]) == ("n1", 41, 5)
    finally:
        stop(sub, pub)
        core.stop()


def test_bad_input_is_counted_and_the_service_keeps_running(mqtt_broker):
    res = Results()
    core = make_core(mqtt_broker, res)
    pub = node_client(mqtt_broker, "n1")
    bad = [
        ("n1", b"{not json"),                                                   # bad_json
        ("n1", b"\x00\x01\x02"),                                                # bad_json
        ("n1", b'{"seq": 1, "ch": {"mfcc": [1, 2, 3]}}'),                       # wrong_size
        ("n1", b'{"seq": 2, "ch": {"other": [1, 2, 3]}}'),                      # missing_value
        ("n1", b'{"seq": 3, "ch": {"mfcc": ["a"]}}'),                           # bad_payload
        ("n1", b'[1]'),                                                         # bad_payload
        ("n1", encode_binary([1], [1], np.zeros((1, 10), np.float32))),         # wrong_size
        ("n1", encode_binary([1], [1], np.zeros((1, 490), np.float32))[:-3]),   # wrong_size
        ("stranger", encode_json(1, 1, ch={"mfcc": [0.0] * 490})),             # unknown_node
        ("n1", b""),                                                            # bad_payload
        ("n1", b'{"seq": 5, "ch": {"mfcc": [NaN' + b', 0' * 489 + b']}}'),      # bad_payload (not finite)
    ]
    try:
        for node, payload in bad:
            pub.publish(f"ember/nodes/{node}/data", payload, 1)
        pub.publish("ember/nodes/n1/data", encode_json(99, 0, ch={"mfcc": [0.5] * 490}), 1)
        assert res.wait_keys([("n1", 99)]) == set()
        assert wait_for(lambda: core.counters["received"] == 12)
        c = core.counters
        assert (c["bad_json"], c["wrong_size"], c["missing_value"], c["bad_payload"], c["unknown_node"]) == \
            (2, 3, 1, 4, 1)
        assert c["results"] == 1 and c["internal_error"] == 0
        assert all(t.is_alive() for t in core._threads)
    finally:
        stop(pub)
        core.stop()


def test_liveness_node_config_and_core_status(mqtt_broker):
    core = make_core(mqtt_broker)
    seen = {}
    node = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="n1")
    node.will_set("ember/nodes/n1/status", b"offline", 1, True)
    node.on_message = lambda c, u, m: seen.setdefault(m.topic, json.loads(m.payload))
    node.connect(mqtt_broker.host, mqtt_broker.port, 10)
    node.loop_start()
    status = {}
    watcher = node_client(mqtt_broker, "watcher")
    watcher.on_message = lambda c, u, m: status.update(json.loads(m.payload))
    watcher.subscribe("ember/cores/c1/status", 1)
    try:
        node.subscribe("ember/nodes/n1/config", 1)
        assert wait_for(lambda: "ember/nodes/n1/config" in seen)           # retained config from the core
        assert seen["ember/nodes/n1/config"] == {"period_ms": 500, "v": 1}
        node.publish("ember/nodes/n1/status", b"online", 1, True).wait_for_publish(5)
        node.publish("ember/nodes/n1/config/ack", json.dumps({"accepted": True, "v": 1}), 1)
        assert wait_for(lambda: core.nodes.get("n1") and core.nodes["n1"].online is True
                        and core.nodes["n1"].config_ack == {"accepted": True, "v": 1})
        node.loop_stop()
        node.socket().close()                                               # dies: LWT "offline"
        assert wait_for(lambda: core.nodes["n1"].online is False)
        assert wait_for(lambda: status.get("nodes", {}).get("n1", {}).get("online") is False)
        assert status["core"] == "c1" and status["online"] is True
        assert status["models"][0]["name"] == "kws" and "outbox" in status
    finally:
        stop(watcher)
        core.stop()
    final = {}
    w2 = node_client(mqtt_broker, "w2")
    w2.on_message = lambda c, u, m: final.update(json.loads(m.payload))
    w2.subscribe("ember/cores/c1/status", 1)
    assert wait_for(lambda: final)
    stop(w2)
    assert final["online"] is False                                         # retained offline after stop


def test_broker_killed_and_restarted_mid_stream(mqtt_broker):
    res = Results()
    core = make_core(mqtt_broker, res)
    x = [0.25] * 490
    pub = node_client(mqtt_broker, "n1")
    try:
        infos = [pub.publish("ember/nodes/n1/data", encode_json(i, i, ch={"mfcc": x}), 1) for i in range(150)]
        for info in infos[:40]:
            info.wait_for_publish(10)
        mqtt_broker.kill()                                       # SIGKILL while the core works on a backlog
        stop(pub)
        mqtt_broker.start()
        assert core.wait_connected(20), "core did not reconnect"
        # A fresh node sends after the restart; every message the broker acknowledged is served.
        pub = node_client(mqtt_broker, "n1")
        after = []
        for i in range(1000, 1060):
            pub.publish("ember/nodes/n1/data", encode_json(i, i, ch={"mfcc": x}), 1).wait_for_publish(10)
            after.append(("n1", i))
        assert res.wait_keys(after) == set()
        assert core.counters["internal_error"] == 0 and all(t.is_alive() for t in core._threads)
        assert all(r["outputs"] == res.by_key[("n1", 1000)][0][2]["outputs"]
                   for rows in res.by_key.values() for _, _, r in rows)
    finally:
        stop(pub)
        core.stop()


def test_shared_subscription_splits_load_between_two_workers(mqtt_broker):
    res = Results()
    shared = {"shared_group": "workers", "protocol": 5}
    c1 = make_core(mqtt_broker, res, shared, id="w1")
    c2 = make_core(mqtt_broker, res, shared, id="w2")
    pub = node_client(mqtt_broker, "n1")
    try:
        keys = []
        for i in range(120):
            node = f"n{i % 4}"
            pub.publish(f"ember/nodes/{node}/data", encode_json(i, i, ch={"mfcc": [0.1] * 490}), 1)
            keys.append((node, i))
        assert res.wait_keys(keys) == set()
        assert wait_for(lambda: c1.counters["received"] + c2.counters["received"] == 120)
        assert all(len(v) == 1 for v in res.by_key.values())         # each message served exactly once
        assert c1.counters["results"] > 0 and c2.counters["results"] > 0
        assert c1.counters["results"] + c2.counters["results"] == 120
    finally:
        stop(pub)
        c1.stop()
        c2.stop()


def test_a_batch_of_only_bad_readings_is_not_an_internal_error(tmp_path):
    """The worker processes whatever arrived together; a batch where every reading is rejected
    must only count rejections (no broker needed: the worker is driven directly)."""
    cfg = parse_config({"core": {"data_dir": str(tmp_path)}, "broker": {"host": "127.0.0.1"},
                        "models": [{"name": "kws", "path": str(KWS), "channels": ["mfcc"]}]})
    core = Core(cfg, loader=load_model, extensions=False)
    core.load_models()
    acks = []
    core.client = type("C", (), {"ack": lambda self, mid, qos: acks.append(mid)})()
    items = [("ember/nodes/n1/data", b'{"seq": 1, "ch": {"mfcc": [1]}}', time.monotonic(), 7, 1, 0),
             ("ember/nodes/n1/data", b'{"seq": 2, "ch": {"x": [1]}}', time.monotonic(), 8, 1, 0)]
    core._process(items)
    assert core.counters["wrong_size"] == 1 and core.counters["missing_value"] == 1
    assert core.counters["internal_error"] == 0 and core.counters["results"] == 0
    assert acks == [7, 8]                                   # rejected messages are still acknowledged


def test_several_models_serve_one_node(mqtt_broker, tmp_path):
    from tests.deploy_models import fc_model
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    res = Results()
    cfg = parse_config({
        "core": {"id": "multi", "data_dir": str(tmp_path / "d")},
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "models": [{"name": "kws", "path": str(KWS), "nodes": ["n*"], "channels": ["mfcc"]},
                   {"name": "fc", "path": str(tmp_path / "fc.tflite"), "nodes": ["n1"],
                    "features": [f"x{i}" for i in range(8)]}],
        "deploy": {"enabled": False},
    })
    core = Core(cfg, loader=load_model, result_hook=res).start()
    pub = node_client(mqtt_broker, "n1")
    try:
        assert core.wait_connected(10)
        f = {f"x{i}": 0.1 * i for i in range(8)}
        pub.publish("ember/nodes/n1/data", encode_json(1, 1, ch={"mfcc": [0.2] * 490}, f=f), 1)
        pub.publish("ember/nodes/n2/data", encode_json(2, 1, ch={"mfcc": [0.2] * 490}, f=f), 1)
        assert res.wait_keys([("n1", 1), ("n2", 2)]) == set()
        assert wait_for(lambda: len(res.by_key[("n1", 1)]) == 2)
        topics = sorted(t for t, _, _ in res.by_key[("n1", 1)])
        assert topics == ["ember/results/fc/n1", "ember/results/kws/n1"]     # both models ran for n1
        time.sleep(0.3)
        assert [t for t, _, _ in res.by_key[("n2", 2)]] == ["ember/results/kws/n2"]   # only kws for n2
    finally:
        stop(pub)
        core.stop()


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_without_a_broker_the_core_starts_a_local_one(tmp_path, kind):
    from runtime.core.local_broker import free_port, mosquitto_binary
    if kind == "mosquitto" and mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    res = Results()
    cfg = parse_config({
        "core": {"id": "solo", "data_dir": str(tmp_path)},
        "broker": {"port": port, "local": kind},
        "models": [{"name": "kws", "path": str(KWS), "nodes": ["n*"], "channels": ["mfcc"]}],
        "deploy": {"enabled": False},
    })
    core = Core(cfg, loader=load_model, result_hook=res).start()
    try:
        assert core.wait_connected(10)
        assert core._local_broker.kind == kind and (core.broker_host, core.broker_port) == ("127.0.0.1", port)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="n1")
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        pub.publish("ember/nodes/n1/data", encode_json(5, 5, ch={"mfcc": [0.0] * 490}), 1)
        assert res.wait_keys([("n1", 5)]) == set()
        stop(pub)
    finally:
        core.stop()
    import socket
    with pytest.raises(OSError):                              # the local broker stopped with the core
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_node_table_is_bounded(tmp_path, monkeypatch):
    import runtime.core.service as svc
    monkeypatch.setattr(svc, "MAX_NODES", 5)
    cfg = parse_config({"core": {"data_dir": str(tmp_path)}, "broker": {"host": "127.0.0.1"}})
    core = Core(cfg, loader=load_model, extensions=False)
    core.client = type("C", (), {"ack": lambda self, mid, qos: None})()
    items = [(f"ember/nodes/x{i}/data", b"{}", time.monotonic(), i, 1, 0) for i in range(20)]
    core._process(items)
    assert len(core.nodes) == 5 and core.counters["nodes_untracked"] == 15
    assert core.counters["unknown_node"] == 20 and core.counters["internal_error"] == 0
    core._on_control("ember/nodes/x1/status", b"offline", retained=True)
    assert core.nodes["x1"].online is False


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_local_broker_port_in_use_is_a_clear_error(tmp_path, kind):
    import socket
    from runtime.core.local_broker import BrokerStartError, mosquitto_binary
    if kind == "mosquitto" and mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cfg = parse_config({"core": {"data_dir": str(tmp_path)}, "deploy": {"enabled": False},
                            "broker": {"port": s.getsockname()[1], "local": kind}})
        core = Core(cfg, loader=load_model)
        with pytest.raises(BrokerStartError, match="already in use"):
            core.start()
        core.stop()
