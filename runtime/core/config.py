"""`core.toml`: the core service's configuration, validated with clear errors.

Every key has a default, so an empty file (or no file) is a valid configuration:
a local broker is started and no model is loaded. A full example is in
`runtime/core/core.example.toml`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EmberError


class ConfigError(EmberError, ValueError):
    """core.toml is malformed or has a value that cannot work; the message names the key."""


_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass
class BrokerConfig:
    host: str = ""                 # "" = start a local broker (mosquitto if found, else embedded)
    port: int = 1883               # for a local broker: 0 picks a free port
    protocol: int = 5              # 5 = MQTT 5 (needed for shared subscriptions), 4 = MQTT 3.1.1
    keepalive: int = 30
    client_id: str = ""            # default: "ember-core-{core id}"
    username: str = ""
    password: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    shared_group: str = ""         # subscribe via $share/<group>/... so several cores split the load
    ingest: str = "auto"           # node data connection: auto (lean when built) | lean | paho
    local: str = "auto"            # local broker kind: auto | mosquitto | embedded
    local_data_dir: str = ""       # mosquitto persistence directory (default: a temporary one)


@dataclass
class ModelRoute:
    name: str
    path: str
    version: str = ""
    nodes: list = field(default_factory=lambda: ["*"])   # glob patterns over node ids
    features: list = field(default_factory=list)         # payload "f" keys (or scalar "ch" keys), in order
    channels: list = field(default_factory=list)         # payload "ch" windows, concatenated in order
    mean: list = field(default_factory=list)             # optional per-element normalisation
    std: list = field(default_factory=list)
    quantized: bool = False      # payload values are already int8 model input
    labels: list = field(default_factory=list)
    threshold: float = 0.5       # single-output models: label = labels[1] if score >= threshold
    max_batch: int = 64

    def serves(self, node: str) -> bool:
        return any(fnmatch.fnmatchcase(node, p) for p in self.nodes)


@dataclass
class UplinkConfig:
    host: str = ""                 # "" = no uplink
    port: int = 1883
    protocol: int = 5              # 5: message id in the MQTT 5 user property ember-msg-id; 4: id as the first payload line
    client_id: str = ""
    username: str = ""
    password: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    topic_prefix: str = ""         # default: "{prefix}/uplink/{core id}"
    outbox: str = ""               # SQLite path (default: "{data_dir}/outbox.sqlite")
    max_messages: int = 100_000
    max_age_s: float = 7 * 24 * 3600.0
    overflow: str = "drop-oldest"  # or "reject-new"


@dataclass
class CaptureConfig:
    enabled: bool = False
    dir: str = ""                  # default "{data_dir}/capture"
    sample_rate: float = 0.01      # fraction of requests captured
    max_file_bytes: int = 10 << 20
    max_total_bytes: int = 100 << 20
    stats_interval_s: float = 60.0


@dataclass
class DeployConfig:
    enabled: bool = True
    trusted_keys: list = field(default_factory=list)   # ed25519 public key files (PEM or raw hex)
    models_dir: str = ""           # default "{data_dir}/models"


@dataclass
class CoreConfig:
    id: str = "core"
    prefix: str = "ember"
    data_dir: str = ""             # default: ~/.local/share/ember/{id}
    status_interval_s: float = 5.0
    batch_wait_ms: float = 0.0     # extra wait for a batch to fill (0 = take what has arrived)
    queue_limit: int = 50_000      # pending node messages (inbox bound, with queue_bytes; see service.py)
    queue_bytes: int = 1 << 20     # pending node messages' memory (payload + 256 B each): lean ingest stops
    #                                reading, paho drops oldest
    result_qos: int = 1
    log_level: str = "info"
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    models: list = field(default_factory=list)         # [ModelRoute]
    nodes: dict = field(default_factory=dict)          # node id -> retained config (dict)
    uplink: UplinkConfig = field(default_factory=UplinkConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    source: str = ""               # file the configuration came from

    def routes_for(self, node: str) -> list:
        return [m for m in self.models if m.serves(node)]

    def data_path(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        return Path(base) / "ember" / self.id


# ---------------------------------------------------------------- parsing

def _toml_loads(text: str, where: str) -> dict:
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError("reading core.toml needs Python >= 3.11 or the 'tomli' package") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from None


_TYPES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}


def _fill(obj, table: dict, where: str, skip=()) -> None:
    """Copy the keys of `table` onto dataclass `obj`, checking names and types."""
    known = {k: v for k, v in obj.__dataclass_fields__.items() if k not in skip}
    for key, value in table.items():
        if key in skip:
            continue
        if key not in known:
            hint = ", ".join(sorted(known))
            raise ConfigError(f"{where}.{key}: unknown key (known keys: {hint})")
        want = type(getattr(obj, key))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if want is int and isinstance(value, bool) or not isinstance(value, want):
            raise ConfigError(f"{where}.{key}: must be {_TYPES.get(want, want.__name__)}, got {value!r}")
        setattr(obj, key, value)


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {msg}")


def _resolve(path: str, base: Path | None) -> str:
    if not path:
        return path
    p = Path(os.path.expanduser(path))
    if not p.is_absolute() and base is not None:
        p = base / p
    return str(p)


def parse_config(data: dict, source: str = "core.toml", base_dir: Path | None = None) -> CoreConfig:
    """Build a validated CoreConfig from a parsed TOML dict."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a table")
    cfg = CoreConfig(source=source)
    data = dict(data)
    core = data.pop("core", {})
    _check(isinstance(core, dict), f"{source}: [core]", "must be a table")
    _fill(cfg, core, "core", skip=("broker", "models", "nodes", "uplink", "capture", "deploy", "source"))
    sections = {"broker": cfg.broker, "uplink": cfg.uplink, "capture": cfg.capture, "deploy": cfg.deploy}
    for name, value in data.items():
        if name in sections:
            _check(isinstance(value, dict), f"[{name}]", "must be a table")
            _fill(sections[name], value, name)
        elif name == "models":
            _check(isinstance(value, list), "[[models]]", "must be an array of tables ([[models]])")
            for i, m in enumerate(value):
                where = f"models[{i}]"
                _check(isinstance(m, dict), where, "must be a table")
                _check("name" in m and "path" in m, where, "needs 'name' and 'path'")
                route = ModelRoute(name="", path="")
                _fill(route, m, where)
                cfg.models.append(route)
        elif name == "nodes":
            _check(isinstance(value, dict), "[nodes]", "must be a table of [nodes.<id>] tables")
            for node, table in value.items():
                _check(isinstance(table, dict), f"nodes.{node}", "must be a table")
                cfg.nodes[node] = dict(table.get("config", table))
        else:
            raise ConfigError(f"{source}: unknown section [{name}] "
                              "(known: core, broker, models, nodes, uplink, capture, deploy)")
    _validate(cfg, base_dir)
    return cfg


def _validate(cfg: CoreConfig, base: Path | None) -> None:
    _check(bool(_ID.match(cfg.id)), "core.id", f"{cfg.id!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    _check(bool(cfg.prefix) and valid_topic_level_path(cfg.prefix), "core.prefix",
           f"{cfg.prefix!r} must be a non-empty topic path without wildcards")
    _check(cfg.status_interval_s > 0, "core.status_interval_s", "must be > 0")
    _check(0 <= cfg.batch_wait_ms <= 1000, "core.batch_wait_ms", "must be between 0 and 1000")
    _check(cfg.queue_limit >= 1, "core.queue_limit", "must be >= 1")
    _check(cfg.queue_bytes >= 1, "core.queue_bytes", "must be >= 1")
    _check(cfg.result_qos in (0, 1), "core.result_qos", "must be 0 or 1")
    _check(cfg.log_level.lower() in ("debug", "info", "warning", "error"), "core.log_level",
           "must be debug, info, warning or error")
    cfg.data_dir = _resolve(cfg.data_dir, base)
    b = cfg.broker
    _check(0 <= b.port <= 65535, "broker.port", f"{b.port} is not a TCP port")
    _check(b.protocol in (4, 5), "broker.protocol", "must be 4 (MQTT 3.1.1) or 5 (MQTT 5)")
    _check(5 <= b.keepalive <= 3600, "broker.keepalive", "must be between 5 and 3600 seconds")
    _check(b.local in ("auto", "mosquitto", "embedded"), "broker.local", "must be auto, mosquitto or embedded")
    _check(b.ingest in ("auto", "lean", "paho"), "broker.ingest", "must be auto, lean or paho")
    _check(not b.shared_group or bool(_ID.match(b.shared_group)), "broker.shared_group",
           "must be 1-64 of A-Z a-z 0-9 _ . -")
    _check(not b.shared_group or b.protocol == 5, "broker.shared_group", "shared subscriptions need broker.protocol = 5")
    _check(bool(b.tls_cert) == bool(b.tls_key), "broker.tls_cert", "tls_cert and tls_key go together")
    for k in ("tls_ca", "tls_cert", "tls_key", "local_data_dir"):
        setattr(b, k, _resolve(getattr(b, k), base))
    names = set()
    for i, m in enumerate(cfg.models):
        where = f"models[{i}] ({m.name})"
        _check(bool(_ID.match(m.name)), where + ".name", "must be 1-64 of A-Z a-z 0-9 _ . -")
        _check(m.name not in names, where + ".name", "is used by two models")
        names.add(m.name)
        m.path = _resolve(m.path, base)
        _check(bool(m.nodes) and all(isinstance(p, str) and p for p in m.nodes), where + ".nodes",
               "must be a non-empty list of node id patterns")
        for key in ("features", "channels", "labels"):
            _check(all(isinstance(v, str) and v for v in getattr(m, key)), f"{where}.{key}",
                   "must be a list of non-empty strings")
        for key in ("mean", "std"):
            _check(all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in getattr(m, key)),
                   f"{where}.{key}", "must be a list of numbers")
        _check(not m.std or all(v > 0 for v in m.std), where + ".std", "values must be > 0")
        _check(1 <= m.max_batch <= 4096, where + ".max_batch", "must be between 1 and 4096")
    u = cfg.uplink
    _check(0 < u.port <= 65535, "uplink.port", f"{u.port} is not a TCP port")
    _check(u.protocol in (4, 5), "uplink.protocol", "must be 4 or 5")
    _check(u.overflow in ("drop-oldest", "reject-new"), "uplink.overflow", "must be drop-oldest or reject-new")
    _check(u.max_messages >= 1, "uplink.max_messages", "must be >= 1")
    _check(u.max_age_s > 0, "uplink.max_age_s", "must be > 0")
    for k in ("tls_ca", "tls_cert", "tls_key", "outbox"):
        setattr(u, k, _resolve(getattr(u, k), base))
    c = cfg.capture
    _check(0.0 <= c.sample_rate <= 1.0, "capture.sample_rate", "must be between 0 and 1")
    _check(c.max_file_bytes > 0 and c.max_total_bytes >= c.max_file_bytes, "capture.max_total_bytes",
           "must be >= capture.max_file_bytes > 0")
    _check(c.stats_interval_s > 0, "capture.stats_interval_s", "must be > 0")
    c.dir = _resolve(c.dir, base)
    cfg.deploy.trusted_keys = [_resolve(k, base) for k in cfg.deploy.trusted_keys]
    cfg.deploy.models_dir = _resolve(cfg.deploy.models_dir, base)
    for node in cfg.nodes:
        _check(bool(_ID.match(node)), f"nodes.{node}", "node ids must be 1-64 of A-Z a-z 0-9 _ . -")


def valid_topic_level_path(s: str) -> bool:
    return not any(ch in s for ch in "+#\0") and not s.startswith("/") and not s.endswith("/")


def load_config(path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> CoreConfig:
    """Read and validate a core.toml (None: all defaults). `overrides` patch [core] keys."""
    if path is None:
        data, source, base = {}, "<defaults>", Path.cwd()
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{p}: configuration file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: cannot read: {e}") from None
        data, source, base = _toml_loads(text, str(p)), str(p), p.resolve().parent
    if overrides:
        data = dict(data)
        data["core"] = {**data.get("core", {}), **overrides}
    return parse_config(data, source, base)
