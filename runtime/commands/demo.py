"""`ember demo [--duration S]`: broker + core + simulated sensor nodes on this machine, no setup."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("demo", help="run broker, core and simulated vibration sensors with injected faults")
    p.add_argument("--duration", type=float, default=20.0, help="seconds to run (default 20)")
    p.add_argument("--nodes", type=int, default=3, help="simulated nodes (default 3)")
    p.add_argument("--rate", type=float, default=10.0, help="messages per second per node (default 10)")
    p.add_argument("--model", help="a .tflite (+ .json beside it) instead of the bundled vibration model")
    p.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..core.demo import run_demo
    summary = run_demo(args.duration, args.nodes, args.rate, args.model, quiet=args.json)
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0 if summary["results"] > 0 and summary["missing_results"] == 0 else 1
