"""The `ember` command line (console script `ember = runtime.cli:main`).

Adding a command: create ONE module in runtime/commands/ (e.g. bench.py) with

    HELP = "one line for `ember --help`"      # optional, documentation only

    def register(subparsers):
        p = subparsers.add_parser("bench", help="measure latency of a model")
        p.add_argument("model")
        p.set_defaults(func=run)

    def run(args) -> int:                      # exit status: 0 ok, 1 failed
        ...

main() imports every module of runtime.commands in name order and calls its
register(); nothing else needs editing. Raise a runtime.errors.EmberError (or
subclass) for anything the user did wrong: main prints `ember: error: <message>`
and exits 1, no traceback. Write results to stdout (offer --json where a
script may want them), diagnostics to stderr.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Optional, Sequence

from .errors import EmberError


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    parser = argparse.ArgumentParser(prog="ember", description="Ember: edge ML runtime, core service and tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except EmberError as e:
        print(f"ember: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ember: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `ember inspect m.tflite | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
