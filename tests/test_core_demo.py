"""`ember demo --duration 10`: broker + core + simulated firmware nodes; the summary is checked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.core.demo import BUNDLED_MODEL, DemoError, _firmware_src

REPO = Path(__file__).resolve().parents[1]


def _firmware_available() -> bool:
    try:
        _firmware_src()
        return True
    except DemoError:
        return False


@pytest.mark.skipif(not _firmware_available(), reason="firmware/src (node code) not in this checkout")
def test_ember_demo_duration_10_summary(tmp_path):
    assert BUNDLED_MODEL.is_file(), "the bundled demo model runtime/data/vibration_anomaly.tflite is missing"
    cmd = [sys.executable, "-m", "runtime.cli", "demo", "--duration", "10", "--json"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(p.stdout)
    assert s["nodes"] == 3
    assert s["messages_sent"] >= 3 * 10 * 5                   # 10 Hz per node, allow a slow machine
    assert s["raw_samples"] >= 64 * s["messages_sent"]        # one 64-sample window per message at least
    assert s["missing_results"] == 0 and s["results"] == s["messages_sent"]
    assert s["anomalies_injected"] > 0
    assert s["recall"] >= 0.9 and s["precision"] >= 0.9        # faults are found, few false alarms
    assert s["right_fault_type"] >= 0.9 * s["true_positives"]  # bearing vs sensor fault told apart
    assert s["per_node"]["pump-2"]["faults"] == ["bearing"] and s["per_node"]["pump-3"]["faults"] == ["dropout"]
    assert s["per_node"]["pump-1"]["faulty_messages"] == 0     # the healthy node
    assert s["core_counters"]["internal_error"] == 0 and s["core_counters"]["bad_json"] == 0
    assert s["latency_ms_p50"] > 0 and s["latency_ms_p99"] >= s["latency_ms_p50"]
    assert all(n["config_applied"] >= 1 for n in s["per_node"].values())   # retained node config reached nodes


def test_demo_rejects_bad_arguments():
    from runtime.core.demo import run_demo
    with pytest.raises(DemoError):
        run_demo(duration=0)
    with pytest.raises(DemoError, match="model not found"):
        run_demo(duration=1, model="/nonexistent.tflite")
