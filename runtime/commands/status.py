"""`ember status [--json]`: nodes, models and outbox of every core, from their retained status."""
from __future__ import annotations

import json
import threading
import time


def register(sub) -> None:
    p = sub.add_parser("status", help="show cores, nodes (online, last seen, msgs/s), models and outbox")
    p.add_argument("--config", "-c", metavar="TOML", help="core.toml to take the broker and prefix from")
    p.add_argument("--broker", metavar="HOST[:PORT]", help="broker address (default 127.0.0.1:1883)")
    p.add_argument("--prefix", help="topic prefix (default ember)")
    p.add_argument("--core", help="only this core id")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for status (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def fetch_status(host: str, port: int, prefix: str = "ember", core: str | None = None,
                 timeout: float = 3.0) -> dict:
    """{core id: status dict} from the retained `{prefix}/cores/+/status` topics."""
    import paho.mqtt.client as mqtt
    from ..errors import EmberError
    got: dict = {}
    first = threading.Event()
    subscribed = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)

    def on_message(client, userdata, msg):
        try:
            d = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(d, dict):
            got[msg.topic.split("/")[-2]] = d
            first.set()

    c.on_message = on_message
    c.on_subscribe = lambda *a: subscribed.set()
    c.on_connect = lambda client, u, f, rc, p: client.subscribe(f"{prefix}/cores/{core or '+'}/status", 1)
    try:
        c.connect(host, port, 10)
    except OSError as e:
        raise EmberError(f"cannot reach the broker at {host}:{port}: {e} (is `ember core` running?)") from None
    c.loop_start()
    try:
        deadline = time.monotonic() + timeout
        subscribed.wait(timeout)
        if first.wait(max(0.0, deadline - time.monotonic())):
            time.sleep(0.3)               # the other retained statuses arrive right behind the first
    finally:
        c.disconnect()
        c.loop_stop()
    if not got:
        raise EmberError(f"no core status under {prefix}/cores/ on {host}:{port} within {timeout:g}s "
                         "(is `ember core` running and connected to this broker?)")
    return got


def _ago(t: float, now: float) -> str:
    if not t:
        return "never"
    d = max(0.0, now - t)
    return f"{d:.1f}s ago" if d < 120 else f"{d / 60:.0f}m ago" if d < 7200 else f"{d / 3600:.0f}h ago"


def _table(rows: list, header: list) -> list:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return ["  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in [header] + rows]


def render(statuses: dict, now: float | None = None) -> str:
    now = now or time.time()
    out = []
    for cid, st in sorted(statuses.items()):
        if not st.get("online"):
            out.append(f"core {cid}: OFFLINE (since {_ago(st.get('time', 0), now)})")
            out.append("")
            continue
        ob = st.get("outbox")
        outbox = "no uplink" if not ob else \
            f"{ob.get('depth', 0)} queued ({'connected' if (ob.get('uplink') or {}).get('connected') else 'link down'})"
        out.append(f"core {cid}: online, up {st.get('uptime_s', 0):.0f}s, broker {st.get('broker')}, "
                   f"{st.get('msgs_per_s', 0):.1f} msgs/s, queue {st.get('queue', 0)}, outbox {outbox}")
        nodes = st.get("nodes", {})
        if nodes:
            rows = [[n, {True: "online", False: "offline"}.get(d.get("online"), "unknown"),
                     _ago(d.get("last_seen", 0), now), d.get("msgs", 0), f"{d.get('msgs_per_s', 0):.1f}"]
                    for n, d in sorted(nodes.items())]
            out += _table(rows, ["NODE", "STATE", "LAST SEEN", "MSGS", "MSGS/S"])
        else:
            out.append("  no nodes seen yet")
        models = st.get("models", [])
        if models:
            rows = [[m["name"], m.get("version", ""), m.get("requests", 0), m.get("errors", 0),
                     f"{m.get('latency_ms_p50', 0):.2f}", f"{m.get('latency_ms_p99', 0):.2f}",
                     f"{m.get('infer_ms_p50', 0):.3f}"] for m in models]
            out += _table(rows, ["MODEL", "VERSION", "REQUESTS", "ERRORS", "P50 MS", "P99 MS", "INFER MS"])
        bad = {k: v for k, v in st.get("counters", {}).items()
               if v and k not in ("received", "readings", "results")}
        if bad:
            out.append("  rejected/errors: " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def run(args) -> int:
    from ..core.config import load_config
    from .core import parse_hostport
    cfg = load_config(args.config) if args.config else None
    if args.broker:
        host, port = parse_hostport(args.broker)
    elif cfg is not None and cfg.broker.host:
        host, port = cfg.broker.host, cfg.broker.port
    else:
        host, port = "127.0.0.1", cfg.broker.port if cfg is not None and cfg.broker.port else 1883
    prefix = args.prefix or (cfg.prefix if cfg is not None else "ember")
    statuses = fetch_status(host, port, prefix, args.core, args.timeout)
    if args.json:
        print(json.dumps(statuses, indent=2, sort_keys=True))
    else:
        print(render(statuses), end="")
    return 0
