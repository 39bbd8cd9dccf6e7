"""End to end: MicroPython nodes (unix port) -> Mosquitto -> ember core ->
inference results. The core also pushes each node's retained config, which
the node validates, applies and acknowledges."""
import json
import time

import pytest

from .conftest import MICROPYTHON
from .mqtt_helpers import NodeProcess, Recorder, node_config

pytestmark = [pytest.mark.mqtt,
              pytest.mark.skipif(MICROPYTHON is None, reason="micropython unix port not installed")]


def _model(tmp_path):
    from runtime.core.demo import BUNDLED_MODEL

    if BUNDLED_MODEL.is_file():
        meta = BUNDLED_MODEL.with_suffix(".json")
        return BUNDLED_MODEL, json.loads(meta.read_text()) if meta.is_file() else {}
    from tests.demo_model import write_demo_model

    path = write_demo_model(tmp_path)
    return path, json.loads(path.with_suffix(".json").read_text())


def test_nodes_to_core_to_results(broker, tmp_path):
    from runtime.core.config import parse_config
    from runtime.core.service import Core

    model, meta = _model(tmp_path)
    features = meta.get("features") or ["vib_mean", "vib_rms", "vib_peak", "vib_crest"]
    node_app = {"v": 5, "period_ms": 40, "channels": {"vib": {"window": 64},
                                                      "temp": {"filters": [{"type": "deadband", "delta": 0.5}]}}}
    cfg = parse_config({
        "core": {"id": "e2e", "data_dir": str(tmp_path / "core"), "log_level": "warning"},
        "broker": {"host": "127.0.0.1", "port": broker.port},
        "models": [{"name": "vibration", "path": str(model), "nodes": ["pump-*"], "features": features,
                    **{k: meta[k] for k in ("mean", "std", "labels") if k in meta}}],
        "nodes": {"pump-ok": {"config": node_app}, "pump-bad": {"config": node_app}},
        "deploy": {"enabled": False},
    })
    rec = Recorder(broker.port, client_id="e2e-recorder", clean=True)
    core = Core(cfg)
    nodes = []
    try:
        core.start()
        assert core.wait_connected(10)
        rec.wait(lambda: rec.c.is_connected(), what="recorder")
        time.sleep(0.3)
        steps = 60
        for name, faults in (("pump-ok", []), ("pump-bad", ["bearing"])):
            path = node_config(tmp_path / (name + ".json"), broker.port, node_id=name,
                               sensors=[{"driver": "sim_env"}, {"driver": "sim_vib", "window": True,
                                                                "faults": faults}])
            nodes.append(NodeProcess(path, steps=steps))
        stats = [n.result(timeout=90) for n in nodes]
        for s in stats:
            assert s["accepted"] == 1 and s["rejected"] == 0 and s["pending"] == 0
        rec.wait(lambda: all(len(rec.get("/results/vibration/" + n)) >= steps for n in ("pump-ok", "pump-bad")),
                 timeout=30, what="a result for every data message")
    finally:
        for n in nodes:
            n.kill()
        core.stop()
        rec.close()
    for name in ("pump-ok", "pump-bad"):
        acks = [json.loads(p) for p, _ in rec.get("nodes/%s/config/ack" % name)]
        assert acks == [{"accepted": True, "v": 5}]
    flagged = {}
    for name in ("pump-ok", "pump-bad"):
        rows = [json.loads(p) for p, _ in rec.get("/results/vibration/" + name)]
        assert sorted({r["seq"] for r in rows}) == list(range(steps))
        labels = [r.get("label") for r in rows]
        flagged[name] = sum(1 for lab in labels if lab not in (None, "normal")) / len(rows)
    print("anomaly rate: healthy node %.2f, bearing-fault node %.2f" % (flagged["pump-ok"], flagged["pump-bad"]))
    assert flagged["pump-bad"] >= 0.9 and flagged["pump-ok"] <= 0.1
