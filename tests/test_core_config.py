"""core.toml parsing and validation (runtime/core/config.py)."""

import pytest

from runtime.core.config import ConfigError, load_config, parse_config
from runtime.errors import EmberError


def test_defaults_without_file():
    cfg = load_config(None)
    assert cfg.id == "core" and cfg.prefix == "ember"
    assert cfg.broker.host == "" and cfg.broker.local == "auto"   # local broker by default
    assert cfg.models == [] and cfg.uplink.host == ""


def test_full_file_round_trip(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"x")
    p = tmp_path / "core.toml"
    p.write_text("""
[core]
id = "gw-1"
status_interval_s = 2
[broker]
host = "127.0.0.1"
port = 1884
shared_group = "workers"
[[models]]
name = "vib"
path = "m.tflite"
nodes = ["pump-*"]
features = ["vib_rms", "vib_peak"]
labels = ["normal", "anomaly"]
[nodes.pump-1]
config = { period_ms = 500 }
[uplink]
host = "cloud.example"
overflow = "reject-new"
""")
    cfg = load_config(p)
    assert cfg.id == "gw-1" and cfg.status_interval_s == 2.0
    assert cfg.broker.port == 1884 and cfg.broker.shared_group == "workers"
    m = cfg.models[0]
    assert m.path == str(tmp_path / "m.tflite")                  # relative to the file
    assert m.serves("pump-7") and not m.serves("fan-1")
    assert [r.name for r in cfg.routes_for("pump-1")] == ["vib"] and cfg.routes_for("x") == []
    assert cfg.nodes == {"pump-1": {"period_ms": 500}}
    assert cfg.uplink.overflow == "reject-new"


@pytest.mark.parametrize("data, words", [
    ({"core": {"idd": "x"}}, ["core.idd", "unknown key"]),
    ({"core": {"id": "a b"}}, ["core.id"]),
    ({"core": {"status_interval_s": "5"}}, ["core.status_interval_s", "number"]),
    ({"core": {"queue_limit": True}}, ["core.queue_limit", "integer"]),
    ({"broker": {"port": 70000}}, ["broker.port"]),
    ({"broker": {"protocol": 3}}, ["broker.protocol"]),
    ({"broker": {"shared_group": "g", "protocol": 4}}, ["shared subscriptions need"]),
    ({"broker": {"local": "rabbit"}}, ["broker.local"]),
    ({"models": [{"name": "a"}]}, ["models[0]", "path"]),
    ({"models": [{"name": "a", "path": "x", "nodes": []}]}, ["nodes"]),
    ({"models": [{"name": "a", "path": "x"}, {"name": "a", "path": "y"}]}, ["used by two models"]),
    ({"models": [{"name": "a", "path": "x", "std": [0.0]}]}, ["std", "> 0"]),
    ({"uplink": {"overflow": "panic"}}, ["uplink.overflow"]),
    ({"capture": {"sample_rate": 2.0}}, ["capture.sample_rate"]),
    ({"mystery": {}}, ["unknown section [mystery]"]),
])
def test_bad_values_name_the_key(data, words):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    for w in words:
        assert w in str(e.value)
    assert isinstance(e.value, EmberError)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[core\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_shipped_example_config_is_valid():
    from pathlib import Path
    example = Path(__file__).resolve().parents[1] / "runtime" / "core" / "core.example.toml"
    cfg = load_config(example)
    assert cfg.id == "core-1" and cfg.models[0].name == "vibration" and "pump-1" in cfg.nodes
