"""`ember core [--config core.toml]`: run the core service until Ctrl-C / SIGTERM."""
from __future__ import annotations

import logging
import signal
import sys
import threading


def register(sub) -> None:
    p = sub.add_parser("core", help="run the core service (MQTT ingest, inference, results, status)")
    p.add_argument("--config", "-c", metavar="TOML", help="core.toml (default: built-in defaults, local broker)")
    p.add_argument("--broker", metavar="HOST[:PORT]", help="use this broker instead of the configured/local one")
    p.add_argument("--id", help="core id (overrides [core] id)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="overrides [core] log_level")
    p.set_defaults(func=run)


def parse_hostport(text: str, default_port: int = 1883) -> tuple[str, int]:
    from ..core.config import ConfigError
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        return host or "127.0.0.1", int(port) if port else default_port
    except ValueError:
        raise ConfigError(f"--broker {text!r}: port must be a number") from None


def build_config(args):
    from ..core.config import load_config
    overrides = {}
    if args.id:
        overrides["id"] = args.id
    if args.log_level:
        overrides["log_level"] = args.log_level
    cfg = load_config(args.config, overrides)
    if args.broker:
        cfg.broker.host, cfg.broker.port = parse_hostport(args.broker)
    return cfg


def run(args) -> int:
    cfg = build_config(args)
    from ..core.lean_imports import import_paho, limit_malloc_arenas
    import_paho(cfg)                  # without ssl when no TLS is configured (memory)
    limit_malloc_arenas()             # before the core's threads start (memory)
    from ..core.service import Core
    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    core = Core(cfg)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
    core.start()
    print(f"ember core {cfg.id}: broker {core.broker_host}:{core.broker_port}, "
          f"models {', '.join(f'{m.name} {m.version}' for m in core.models.values()) or '(none)'}; "
          f"status on {core.status_topic}", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        core.stop()
    return 0
