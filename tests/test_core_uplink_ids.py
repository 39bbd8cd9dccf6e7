"""The uplink id of a result is stable across recomputation: a node message redelivered after
the core stopped before acknowledging it is computed again, stored in the outbox again, and
goes to the cloud under the SAME `ember-msg-id`, so a receiver that drops duplicates by that id
(docs/core.md) keeps exactly one copy. A different node message that reuses seq and t (a node
that rebooted) gets a different id. Real Mosquitto on 127.0.0.1, MQTT 5 and 3.1.1 uplinks."""
import json
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from runtime.core.config import parse_config
from runtime.core.integrations import Uplink
from runtime.core.payload import encode_binary, encode_json
from runtime.core.service import Core
from tests.deploy_models import fc_model, model_loader
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)
from tests.uplink_receiver import UplinkReceiver
from tests.waiting import wait_for

pytestmark = pytest.mark.mqtt
FEATURES = [f"x{i}" for i in range(8)]


def _wait(cond, timeout=30.0):
    return wait_for(cond, timeout)


def _core(broker, tmp_path, ingest, protocol):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    cfg = parse_config({
        "core": {"id": "gw", "data_dir": str(tmp_path / "data")},
        "broker": {"host": broker.host, "port": broker.port, "ingest": ingest},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES}],
        "deploy": {"enabled": False},
        "uplink": {"host": broker.host, "port": broker.port, "topic_prefix": "cloud/",
                   "protocol": protocol},
    })
    return Core(cfg, loader=model_loader()).start()


@pytest.mark.parametrize("ingest,protocol", [("lean", 5), ("paho", 4)])
def test_result_recomputed_after_redelivery_keeps_its_uplink_id(mqtt_broker, tmp_path, ingest, protocol):
    json_msg = encode_json(7, 7000, f={k: 0.25 * i for i, k in enumerate(FEATURES)})
    binary_msg = encode_binary([8, 9], [8000, 9000], np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8))
    rebooted = encode_json(7, 7000, f={k: -0.5 for k in FEATURES})    # same seq and t, other readings
    node = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="n1")
    node.connect(mqtt_broker.host, mqtt_broker.port)
    node.loop_start()
    cores = []
    try:
        with UplinkReceiver(mqtt_broker.host, mqtt_broker.port, "cloud/#") as rx:
            first = _core(mqtt_broker, tmp_path, ingest, protocol)
            cores.append(first)
            assert first.wait_connected(10)
            first._ack = lambda items: None     # "crash" before the PUBACK: the broker keeps both messages
            for payload in (json_msg, binary_msg):
                node.publish("ember/nodes/n1/data", payload, 1).wait_for_publish(10)
            assert rx.wait_for(lambda r: len(r.raw) >= 2), rx.raw
            first.stop()                          # session kept: the broker redelivers to the next core

            second = _core(mqtt_broker, tmp_path, ingest, protocol)
            cores.append(second)
            assert second.wait_connected(10)
            assert rx.wait_for(lambda r: len(r.raw) >= 4), rx.raw   # both results computed again
            node.publish("ember/nodes/n1/data", rebooted, 1).wait_for_publish(10)
            assert rx.wait_for(lambda r: len(r.raw) >= 5), rx.raw
            assert _wait(lambda: second.uplink.outbox.depth() == 0)
            raw = list(rx.raw)

        assert len(raw) == 5, raw
        by_id = {}
        for mid, topic, body in raw:
            assert topic == "cloud/ember/results/fc/n1"
            by_id.setdefault(mid, []).append(json.loads(body))
        assert len(by_id) == 3 and None not in by_id
        rids = {mid: {r["rid"] for r in rs} for mid, rs in by_id.items()}
        assert sorted(len(rs) for rs in by_id.values()) == [1, 2, 2]   # each recomputed result: one id
        assert all(len(r) == 1 for r in rids.values())
        single = "n1:fc:7000:7"
        assert sorted(r for (r,) in rids.values()) == sorted([single, single, "n1:fc:8000:8+2"])
        # the id is made from the rid and the node message, so it is known before sending
        assert Uplink.result_id(single, json_msg) in by_id
        assert Uplink.result_id("n1:fc:8000:8+2", binary_msg) in by_id
        assert Uplink.result_id(single, rebooted) in by_id            # rebooted node: a new id
        assert Uplink.result_id(single, json_msg) != Uplink.result_id(single, rebooted)
        for rs in by_id.values():                  # the copies are the same result (latency aside)
            assert all({**r, "latency_ms": 0} == {**rs[0], "latency_ms": 0} for r in rs)
    finally:
        for c in cores:
            c.stop()
        node.disconnect()
        node.loop_stop()
