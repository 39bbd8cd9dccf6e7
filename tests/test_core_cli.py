"""`ember core` / `ember status` command modules (runtime/commands/core.py, status.py)."""

import argparse
import json
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
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]


def _args(**kw):
    base = dict(config=None, broker=None, prefix=None, core=None, timeout=5.0, json=False)
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.skipif(not KWS.is_file(), reason="KWS model not found")
def test_status_table_and_json(mqtt_broker, tmp_path, capsys):
    cfg = parse_config({"core": {"id": "gw", "status_interval_s": 0.2, "data_dir": str(tmp_path)},
                        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
                        "models": [{"name": "kws", "path": str(KWS), "channels": ["mfcc"], "version": "1.2.3"}]})
    core = Core(cfg, loader=load_model).start()
    node = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pump-1")
    try:
        assert core.wait_connected(10)
        node.connect(mqtt_broker.host, mqtt_broker.port)
        node.loop_start()
        node.publish("ember/nodes/pump-1/status", b"online", 1, True)
        for i in range(5):
            node.publish("ember/nodes/pump-1/data", encode_json(i, i, ch={"mfcc": [0.0] * 490}), 1)
        node.publish("ember/nodes/pump-1/data", b"garbage", 1)
        deadline = time.monotonic() + 10
        while core.counters["received"] < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)                               # one more status period
        broker = f"{mqtt_broker.host}:{mqtt_broker.port}"
        assert status_cmd.run(_args(broker=broker, json=True)) == 0
        st = json.loads(capsys.readouterr().out)["gw"]
        assert st["online"] is True
        assert st["nodes"]["pump-1"]["online"] is True and st["nodes"]["pump-1"]["msgs"] == 6
        assert st["models"][0]["version"] == "1.2.3" and st["models"][0]["requests"] == 5
        assert st["counters"]["bad_json"] == 1
        assert status_cmd.run(_args(broker=broker)) == 0
        table = capsys.readouterr().out
        assert "core gw: online" in table and "pump-1" in table and "kws" in table and "1.2.3" in table
        assert "bad_json 1" in table
    finally:
        node.disconnect()
        node.loop_stop()
        core.stop()


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
