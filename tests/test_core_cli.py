"""`ember core` / `ember status` command modules (runtime/commands/core.py, status.py)."""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from runtime.commands import status as status_cmd
from runtime.core.config import parse_config
from runtime.core.payload import encode_json
from runtime.core.service import Core
from runtime.errors import EmberError
from tests.core_models import KWS, load_model
from tests.mqtt_broker import free_port, mqtt_broker  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]


def _args(**kw):
    base = dict(config=None, broker=None, prefix=None, core=None, timeout=5.0, json=False)
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.skipif(not KWS.is_file(), reason="KWS model not found")
def test_status_table_and_json(mqtt_broker, tmp_path, capsys):
    """Every field `ember status` documents, in --json and in the table: nodes (state, last seen,
    msgs, msgs/s), models (version, requests, errors, latency p50/p99, inference time), outbox
    depth with the uplink state (an uplink to a closed port keeps the results queued), counters.
    The status is published once, by the test, so both forms show the same figures."""
    cfg = parse_config({"core": {"id": "gw", "status_interval_s": 3600, "data_dir": str(tmp_path)},
                        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
                        "uplink": {"host": "127.0.0.1", "port": free_port()},
                        "models": [{"name": "kws", "path": str(KWS), "channels": ["mfcc"], "version": "1.2.3"}]})
    t_start0 = time.monotonic()
    core = Core(cfg, loader=load_model).start()
    t_start1 = time.monotonic()
    node = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pump-1")
    broker = f"{mqtt_broker.host}:{mqtt_broker.port}"
    try:
        assert core.wait_connected(10)
        node.connect(mqtt_broker.host, mqtt_broker.port)
        node.loop_start()
        wall0 = time.time()
        node.publish("ember/nodes/pump-1/status", b"online", 1, True)
        for i in range(5):
            node.publish("ember/nodes/pump-1/data", encode_json(i, i, ch={"mfcc": [0.0] * 490}), 1)
        node.publish("ember/nodes/pump-1/data", b"garbage", 1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
                core.counters["received"] == 6 and core.models["kws"].requests == 5
                and core.uplink.outbox.stats()["depth"] == 5 and "pump-1" in core.nodes
                and core.nodes["pump-1"].online is True):
            time.sleep(0.05)
        wall1 = time.time()
        t_rates0 = time.monotonic()
        core._update_rates()              # what the status thread does every status_interval_s
        t_rates1 = time.monotonic()
        core._publish_status()
        deadline = time.monotonic() + 20  # the retained status now holds these figures
        while time.monotonic() < deadline:
            got = status_cmd.fetch_status(mqtt_broker.host, mqtt_broker.port, timeout=5)["gw"]
            if got.get("nodes", {}).get("pump-1", {}).get("msgs") == 6:
                break
        assert status_cmd.run(_args(broker=broker, json=True)) == 0
        st = json.loads(capsys.readouterr().out)["gw"]
        t0 = time.time()
        assert status_cmd.run(_args(broker=broker)) == 0
        t1 = time.time()
        table = capsys.readouterr().out
    finally:
        node.disconnect()
        node.loop_stop()
        core.stop()
    # --json
    assert st["online"] is True and st["core"] == "gw"
    n = st["nodes"]["pump-1"]
    assert n["online"] is True and n["msgs"] == 6
    assert wall0 - 0.001 <= n["last_seen"] <= wall1 + 0.001
    # 6 messages over the rate period (core start .. _update_rates), rounded to 0.01
    lo, hi = 6 / (t_rates1 - t_start0), 6 / (t_rates0 - t_start1)
    assert lo - 0.006 <= n["msgs_per_s"] <= hi + 0.006 and n["msgs_per_s"] > 0
    assert st["msgs_per_s"] == n["msgs_per_s"]              # pump-1 sent every message
    m = st["models"][0]
    assert m["name"] == "kws" and m["version"] == "1.2.3" and m["requests"] == 5 and m["errors"] == 0
    assert 0 < m["latency_ms_p50"] <= m["latency_ms_p99"]
    assert 0 < m["infer_ms_p50"] <= m["infer_ms_p99"]
    assert st["outbox"]["depth"] == 5 and st["outbox"]["uplink"]["connected"] is False
    assert st["counters"]["bad_json"] == 1
    # table: the same figures
    lines = table.splitlines()
    assert f"core gw: online, up {st['uptime_s']:.0f}s, broker {st['broker']}, {st['msgs_per_s']:.1f} msgs/s, " \
           f"queue 0, outbox 5 queued (link down)" in lines
    assert re.split(r"\s{2,}", lines[1].strip()) == ["NODE", "STATE", "LAST SEEN", "MSGS", "MSGS/S"]
    row = re.split(r"\s{2,}", next(ln for ln in lines if ln.strip().startswith("pump-1")).strip())
    assert row[:2] == ["pump-1", "online"] and row[3:] == ["6", f"{n['msgs_per_s']:.1f}"]
    ago = re.fullmatch(r"(\d+\.\d)s ago", row[2])
    assert ago and t0 - n["last_seen"] - 0.051 <= float(ago.group(1)) <= t1 - n["last_seen"] + 0.051
    assert any(re.split(r"\s{2,}", ln.strip()) == ["MODEL", "VERSION", "REQUESTS", "ERRORS", "P50 MS", "P99 MS",
                                                   "INFER MS"] for ln in lines)
    row = re.split(r"\s{2,}", next(ln for ln in lines if ln.strip().startswith("kws")).strip())
    assert row == ["kws", "1.2.3", "5", "0", f"{m['latency_ms_p50']:.2f}", f"{m['latency_ms_p99']:.2f}",
                   f"{m['infer_ms_p50']:.3f}"]
    assert "rejected/errors: bad_json 1" in table
    # without an uplink the outbox is null in --json and the table says so
    assert "outbox no uplink" in status_cmd.render({"gw": dict(st, outbox=None)})


def test_status_without_a_core_is_a_clear_error(mqtt_broker):
    with pytest.raises(EmberError, match="no core status"):
        status_cmd.fetch_status(mqtt_broker.host, mqtt_broker.port, timeout=0.5)
    with pytest.raises(EmberError, match="cannot reach the broker"):
        status_cmd.fetch_status("127.0.0.1", 1, timeout=0.5)


def test_core_command_rejects_bad_config(tmp_path):
    bad = tmp_path / "core.toml"
    bad.write_text("[core]\nid = 'x'\nbogus = 1\n")
    p = subprocess.run([sys.executable, "-m", "runtime.core", "--config", str(bad)], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "core.bogus: unknown key" in p.stderr and "Traceback" not in p.stderr
