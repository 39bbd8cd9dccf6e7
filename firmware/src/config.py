"""Node configuration.

Local config (``node.json``, written by ``ember flash``): node id, board,
network, broker, attached sensors and the default application settings.
Remote config (retained on ``{prefix}/nodes/{id}/config``): application
settings only, validated by ``validate_app`` before anything is applied::

    {"v": 3, "period_ms": 1000, "sleep_ms": 0,
     "channels": {"temp": {"filters": [{"type": "median", "n": 5},
                                        {"type": "deadband", "delta": 0.2, "heartbeat_ms": 60000}]},
                  "vib": {"window": 64, "raw": false}}}

A channel missing from ``channels`` sends every sample (scalar) or uses a
64-sample window (vibration). Bad config raises ``ValueError`` whose message
is the reason sent back in the ack.
"""
import json

from filters import build_chain

DEFAULT_APP = {"period_ms": 1000, "sleep_ms": 0, "channels": {}}
_APP_KEYS = ("v", "period_ms", "sleep_ms", "channels")


def load(path="node.json"):
    with open(path) as f:
        cfg = json.load(f)
    for key in ("node_id", "broker"):
        if key not in cfg:
            raise ValueError("%s: missing %s" % (path, key))
    if "host" not in cfg["broker"]:
        raise ValueError("%s: broker.host missing" % path)
    nid = cfg["node_id"]
    if not isinstance(nid, str) or not nid or "/" in nid or "+" in nid or "#" in nid:
        raise ValueError("%s: node_id must be a non-empty string without / + #" % path)
    return cfg


def _int(d, key, lo, hi, default):
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError("%s must be an integer in [%d, %d]" % (key, lo, hi))
    return v


class App:
    """Validated application settings with ready-to-use filter chains."""

    def __init__(self, period_ms, sleep_ms, chains, windows, raw, version):
        self.period_ms = period_ms
        self.sleep_ms = sleep_ms
        self.chains = chains  # scalar channel -> filters.Chain
        self.windows = windows  # vibration channel -> window size
        self.raw = raw  # vibration channel -> send the raw window too
        self.version = version


def validate_app(d, scalar_names, window_names, can_sleep=False):
    """Build an ``App`` from a decoded JSON object or raise ValueError."""
    if not isinstance(d, dict):
        raise ValueError("config must be a JSON object")
    for k in d:
        if k not in _APP_KEYS:
            raise ValueError("unknown key %s" % k)
    version = d.get("v")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValueError("v must be an integer")
    period = _int(d, "period_ms", 10, 86400000, 1000)
    sleep = _int(d, "sleep_ms", 0, 86400000, 0)
    if sleep and not can_sleep:
        raise ValueError("sleep_ms: this board cannot deep sleep")
    chans = d.get("channels", {})
    if not isinstance(chans, dict):
        raise ValueError("channels must be an object")
    chains = {}
    windows = {}
    raw = {}
    for name in chans:
        if name not in scalar_names and name not in window_names:
            raise ValueError("unknown channel %s" % name)
    for name in scalar_names:
        spec = chans.get(name, {})
        if not isinstance(spec, dict):
            raise ValueError("channel %s must be an object" % name)
        for k in spec:
            if k != "filters":
                raise ValueError("channel %s: unknown key %s" % (name, k))
        stages = spec.get("filters", [])
        if not isinstance(stages, list) or len(stages) > 8:
            raise ValueError("channel %s: filters must be a list of at most 8 stages" % name)
        try:
            chains[name] = build_chain(stages)
        except ValueError as e:
            raise ValueError("channel %s: %s" % (name, e))
    for name in window_names:
        spec = chans.get(name, {})
        if not isinstance(spec, dict):
            raise ValueError("channel %s must be an object" % name)
        for k in spec:
            if k not in ("window", "raw"):
                raise ValueError("channel %s: unknown key %s" % (name, k))
        windows[name] = _int(spec, "window", 2, 1024, 64)
        r = spec.get("raw", False)
        if not isinstance(r, bool):
            raise ValueError("channel %s: raw must be true or false" % name)
        raw[name] = r
    return App(period, sleep, chains, windows, raw, version)


def parse_app(payload, scalar_names, window_names, can_sleep=False):
    """Decode and validate a remote config message (bytes)."""
    try:
        d = json.loads(payload)
    except (ValueError, UnicodeError):
        raise ValueError("config is not valid JSON")
    return validate_app(d, scalar_names, window_names, can_sleep)
