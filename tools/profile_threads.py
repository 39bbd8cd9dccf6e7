#!/usr/bin/env python3
"""cProfile every thread of a Python program (cProfile alone sees only the main thread).

    python tools/profile_threads.py OUT_DIR -m runtime.core -c core.toml
    python tools/profile_threads.py --report OUT_DIR [--top 30]

Each thread (main included) runs under its own cProfile.Profile; when it ends its stats go to
OUT_DIR/<thread name>-<n>.prof. The program must end its threads normally (e.g. SIGTERM handled
by `ember core`). `--report` prints, per thread, the CPU seconds it spent (profiled thread time)
and its top functions by own time.
"""
from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import runpy
import sys
import threading
import time
from pathlib import Path

_counter = itertools.count()


def _dump(prof: cProfile.Profile, out: Path, name: str) -> None:
    prof.disable()
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    prof.dump_stats(str(out / f"{safe}-{next(_counter)}.prof"))


def install(out: Path) -> None:
    """Patch threading.Thread.run so every thread started from now on is profiled (thread CPU time)."""
    orig_run = threading.Thread.run

    def run(self, *a, **k):
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        try:
            return orig_run(self, *a, **k)
        finally:
            _dump(prof, out, self.name)

    threading.Thread.run = run


def main_run(out: Path, argv: list) -> int:
    out.mkdir(parents=True, exist_ok=True)
    install(out)
    prof = cProfile.Profile(time.thread_time)
    sys.argv = argv[1:] if argv[0] == "-m" else argv
    prof.enable()
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    finally:
        _dump(prof, out, "MainThread")
    return 0


def report(out: Path, top: int) -> str:
    lines = []
    for f in sorted(out.glob("*.prof")):
        st = pstats.Stats(str(f))
        lines.append(f"== {f.stem}: {st.total_tt:.3f} s thread CPU")
        if st.total_tt < 0.05:
            continue
        rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
        for (file, line, fn), (cc, nc, tt, ct, _) in rows:
            where = f"{os.path.basename(file)}:{line}({fn})" if line else fn
            lines.append(f"   {tt:8.3f} own {ct:8.3f} cum {nc:9d} calls  {where}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--report":
        ap = argparse.ArgumentParser()
        ap.add_argument("--report", type=Path, required=True)
        ap.add_argument("--top", type=int, default=25)
        a = ap.parse_args()
        print(report(a.report, a.top))
        sys.exit(0)
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main_run(Path(sys.argv[1]), sys.argv[2:]))
