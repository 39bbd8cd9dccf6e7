"""`python -m runtime.core [--config core.toml]`: the same as `ember core`."""
import argparse
import sys

from ..commands import core as _cmd
from ..errors import EmberError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runtime.core")
    sub = ap.add_subparsers(dest="command")
    _cmd.register(sub)
    args = ap.parse_args(["core", *(sys.argv[1:] if argv is None else argv)])
    try:
        return _cmd.run(args)
    except EmberError as e:
        print(f"ember: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
