#!/usr/bin/env python3
"""CPU per node message of the core's worker alone (decode -> group -> quantize -> infer -> results),
without broker or sockets: `Core._process` on batches of pre-built node messages, results handed to
a stand-in for the lean ingest connection. CPU time (time.process_time), best of --repeat, so the
figures hold on a busy machine; `--profile` adds the top functions (cProfile, own time).

    python tools/bench_core_worker.py [--models dense,kws] [--payloads json-f,binary] [--batch 1,64,512]

The network side (the ingest thread: recv, frame parsing, PUBLISH/PUBACK frames) is not included;
tools/bench_core.py measures the whole process and reports its threads separately.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime.core.config import parse_config  # noqa: E402
from tools import mqtt_load  # noqa: E402
from tools.bench_core import model_for  # noqa: E402


class _Ingest:
    """Takes what the worker submits (the real connection would frame and send it)."""
    generation = 0

    def __init__(self):
        self.results = 0
        self.pids = 0

    def submit(self, results, pids, gen):
        self.results += len(results)
        self.pids += len(pids)

    def resume(self):
        pass


def make_core(model: str, kind: str, tmp: Path):
    from runtime.core.service import Core
    blob, size, scale = model_for(model)
    path = tmp / f"{model}.tflite"
    path.write_bytes(blob)
    names = mqtt_load.Payloads(kind, size, scale).features()
    key = "channels" if kind == "json-ch" else "features"
    cfg = parse_config({"core": {"data_dir": str(tmp)}, "broker": {"host": "127.0.0.1"},
                        "models": [{"name": "m", "path": str(path), "nodes": ["*"], key: names, "max_batch": 256}]})
    core = Core(cfg, extensions=False)
    core.load_models()
    core.ingest = _Ingest()
    return core, size, scale


def measure(model: str, kind: str, batch: int, messages: int, repeat: int, profile: bool, tmp: Path) -> dict:
    core, size, scale = make_core(model, kind, tmp)
    make = mqtt_load.Payloads(kind, size, scale)
    t_ms = 1234
    items = [(f"ember/nodes/n{i % 8}/data", make(i, t_ms), time.monotonic(), i % 65535 + 1, 1, 0)
             for i in range(messages)]
    batches = [items[i:i + batch] for i in range(0, messages, batch)]
    best = float("inf")
    prof = cProfile.Profile() if profile else None
    for _ in range(repeat):
        t0 = time.process_time()
        if prof:
            prof.enable()
        for b in batches:
            core._process(b)
        if prof:
            prof.disable()
        best = min(best, time.process_time() - t0)
    bad = sum(core.counters[k] for k in ("bad_json", "bad_payload", "wrong_size", "missing_value",
                                          "inference_error", "internal_error"))
    if core.ingest.results != messages * repeat or bad:
        raise RuntimeError(f"{model}/{kind}: {core.ingest.results} results for {messages * repeat} messages, "
                           f"counters {core.counters}")
    out = {"model": model, "payload": kind, "batch": batch, "us_per_msg": round(best / messages * 1e6, 1)}
    if prof:
        st = pstats.Stats(prof)
        rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
        out["top_own_s"] = [(f"{Path(f).name}:{ln}({fn})", round(tt, 3)) for (f, ln, fn), (_, _, tt, _, _) in rows]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="dense,kws")
    ap.add_argument("--payloads", default="json-f,binary")
    ap.add_argument("--batch", default="1,64,512", help="node messages per worker batch")
    ap.add_argument("--messages", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ember-worker-") as d:
        for model in a.models.split(","):
            for kind in a.payloads.split(","):
                if model == "kws" and kind == "json-f":
                    kind = "json-ch"              # 490 values: one window, not 490 named features
                for batch in (int(b) for b in a.batch.split(",")):
                    print(json.dumps(measure(model, kind, batch, a.messages, a.repeat, a.profile, Path(d))),
                          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
