#!/usr/bin/env python3
"""CPU of the capture/drift-stats batch hook (runtime/core/integrations.py CaptureAndStats._on_batch)
inside the worker: `Core._process` on 1000-reading batches of pre-built node messages, thread CPU
time (time.thread_time) of the hook and of the whole batch, medians of --repeat batches.

    python tools/bench_drift_stats.py [--models dense,kws] [--payloads json,binary] [--sample-rate 0,0.01]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime.core.config import parse_config  # noqa: E402
from tools import mqtt_load  # noqa: E402
from tools.bench_core import model_for  # noqa: E402
from tools.bench_core_worker import _Ingest  # noqa: E402


def measure(model: str, kind: str, rate: float, n: int, repeat: int) -> str:
    from runtime.core.integrations import CaptureAndStats
    from runtime.core.service import Core
    if model == "kws" and kind == "json":
        kind = "json-ch"
    elif kind == "json":
        kind = "json-f"
    with tempfile.TemporaryDirectory(prefix="ember-drift-") as d:
        tmp = Path(d)
        blob, size, scale = model_for(model)
        (tmp / "m.tflite").write_bytes(blob)
        make = mqtt_load.Payloads(kind, size, scale)
        key = "channels" if kind == "json-ch" else "features"
        cfg = parse_config({"core": {"data_dir": str(tmp)}, "broker": {"host": "127.0.0.1"},
                            "models": [{"name": "m", "path": str(tmp / "m.tflite"), "nodes": ["*"],
                                        key: make.features(), "max_batch": 1024}],
                            "capture": {"enabled": True, "sample_rate": rate, "stats_interval_s": 3600}})
        core = Core(cfg, extensions=False)
        core.load_models()
        core.ingest = _Ingest()
        ext = CaptureAndStats(core, None)
        ext.publisher.stop()
        hook, spent = core.on_batch[0], [0.0]

        def timed(*a):
            t0 = time.thread_time()
            hook(*a)
            spent[0] += time.thread_time() - t0
        core.on_batch[0] = timed
        items = [(f"ember/nodes/n{i % 8}/data", make(i, 1234), time.monotonic(), i % 65535 + 1, 1, 0)
                 for i in range(n)]
        hooks, totals = [], []
        for _ in range(repeat):
            spent[0] = 0.0
            t0 = time.thread_time()
            core._process(items)
            totals.append(time.thread_time() - t0)
            hooks.append(spent[0])
        ext.close()
        if core.ingest.results != n * repeat:
            raise RuntimeError(f"{core.ingest.results} results for {n * repeat} readings: {core.counters}")
    h, t = statistics.median(hooks), statistics.median(totals)
    return (f"{model:5s} {kind:7s} sample_rate {rate:<5g} batch {n}: hook {h * 1e3:7.3f} ms "
            f"({h / n * 1e6:5.2f} us/reading, {h / t * 100:4.1f}% of the batch {t * 1e3:.1f} ms)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="dense,kws")
    ap.add_argument("--payloads", default="json,binary")
    ap.add_argument("--sample-rate", default="0,0.01")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args(argv)
    for model in a.models.split(","):
        for kind in a.payloads.split(","):
            for rate in (float(r) for r in a.sample_rate.split(",")):
                print(measure(model, kind, rate, a.batch, a.repeat), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
