"""`ember bench MODEL`: latency (median, p90) and a per-layer breakdown with GMAC/s.

  ember bench kws.tflite                      # Ember on the best ISA, 1 thread
  ember bench kws.tflite --threads 1 2        # one row per thread count
  ember bench kws.tflite --isa scalar         # force a path (EMBER_ISA does the same)
  ember bench kws.tflite --compare            # + LiteRT XNNPACK / BUILTIN_REF, ONNX Runtime
  ember bench kws.tflite --json               # machine-readable
  ember bench kws.tflite --plot layers.png    # per-layer bar chart (needs matplotlib)

Latency is wall time of `Model.infer` (Python call included) over --runs runs after
--warmup runs. The per-layer times come from the executor's per-op timer
(`Plan.set_profiling`), taken as the median over the runs. `--compare` runs the peers
in the same process, interleaved with Ember, and prints ratios Ember / peer (below 1:
Ember is faster). ONNX Runtime needs an ONNX form of the model (`--onnx FILE`; its
first input gets the same array, cast to float32 unless the input is int8).
"""
from __future__ import annotations

import json
import os
import platform
import time
from typing import Callable, Optional

import numpy as np

from ..errors import EmberError, InputError

HELP = "measure model latency and per-layer speed, optionally against LiteRT / ONNX Runtime"


def register(sub) -> None:
    p = sub.add_parser("bench", help=HELP)
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--runs", type=int, default=100, help="timed runs per configuration (default 100)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    p.add_argument("--threads", type=int, nargs="+", default=[1], metavar="N",
                   help="thread counts to measure (default 1)")
    p.add_argument("--isa", help="SIMD path: scalar, sse41, avx2, neon, neondot (default: best available)")
    p.add_argument("--compare", action="store_true",
                   help="also run LiteRT (XNNPACK and BUILTIN_REF) and ONNX Runtime when installed")
    p.add_argument("--onnx", metavar="FILE", help="ONNX form of the model for the ONNX Runtime comparison")
    p.add_argument("--no-layers", action="store_true", help="skip the per-layer breakdown")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="PNG", help="write a per-layer bar chart (needs matplotlib)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.set_defaults(func=run)


# ---- measurement ------------------------------------------------------------------------------

def _stats(samples_ns: list) -> dict:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {"median_us": float(np.median(a)), "p90_us": float(np.percentile(a, 90)),
            "min_us": float(a.min()), "mean_us": float(a.mean()), "runs": int(a.size)}


def _time_interleaved(fns: dict, runs: int, warmup: int, after: Optional[Callable[[], None]] = None) -> dict:
    """Times every callable `runs` times, round-robin so that all see the same machine load."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    samples = {k: [] for k in fns}
    clock = time.perf_counter_ns
    for _ in range(runs):
        for k, f in fns.items():
            t0 = clock()
            f()
            samples[k].append(clock() - t0)
            if k == "ember" and after is not None:
                after()
    return {k: _stats(v) for k, v in samples.items()}


def _litert(model_bytes: bytes, x: np.ndarray, threads: int, reference: bool) -> Optional[Callable[[], None]]:
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return None
    kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    interp = Interpreter(model_content=model_bytes, num_threads=threads, **kwargs)
    interp.allocate_tensors()
    index = interp.get_input_details()[0]["index"]

    def call():
        interp.set_tensor(index, x)
        interp.invoke()
    return call


def _onnxruntime(path: Optional[str], x: np.ndarray, threads: int) -> Optional[Callable[[], None]]:
    if not path:
        return None
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    if not os.path.isfile(path):
        raise InputError(f"ONNX model {path!r} does not exist")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    feed = {inp.name: x if "int8" in inp.type else x.astype(np.float32)}
    return lambda: sess.run(None, feed)


def _layer_rows(model, per_op_ns: np.ndarray) -> list:
    """Executor op times grouped by TFLite layer (each layer emits len(layer.kernels) ops)."""
    rows, i = [], 0
    counts = [max(1, len(layer.kernels)) if layer.kernels else 0 for layer in model.layers]
    if sum(counts) != len(per_op_ns):  # cannot map: report executor ops as they are
        return [{"index": k, "op": "op", "us": float(t / 1e3), "macs": 0, "gmacs": None}
                for k, t in enumerate(per_op_ns)]
    for layer, n in zip(model.layers, counts):
        t_ns = float(per_op_ns[i:i + n].sum())
        i += n
        rows.append({"index": layer.index, "op": layer.op, "us": t_ns / 1e3, "macs": int(layer.macs),
                     "gmacs": (layer.macs / t_ns) if t_ns > 0 and layer.macs else None,
                     "output": list(layer.output_shapes[0]) if layer.output_shapes else None})
    return rows


def _bench_config(path: str, data: bytes, threads: int, args) -> dict:
    import runtime

    model = runtime.load(data, num_threads=threads)
    if len(model.inputs) != 1:
        raise InputError(f"bench supports one-input models; {path} has {len(model.inputs)}")
    spec = model.inputs[0]
    rng = np.random.default_rng(args.seed)
    info = np.iinfo(spec.dtype) if np.issubdtype(np.dtype(spec.dtype), np.integer) else None
    x = (rng.integers(info.min, info.max, spec.shape, dtype=spec.dtype, endpoint=True) if info
         else rng.standard_normal(spec.shape).astype(spec.dtype))
    fns = {"ember": lambda: model.infer(x)}
    if args.compare:
        peers = {"litert_xnnpack": _litert(data, x, threads, reference=False),
                 "litert_ref": _litert(data, x, 1, reference=True) if threads == 1 else None,
                 "onnxruntime": _onnxruntime(args.onnx, x, threads)}
        fns.update({k: f for k, f in peers.items() if f is not None})
    layers = None
    per_op = []
    plan = model._plan
    if not args.no_layers:
        plan.set_profiling(True)
    result = _time_interleaved(fns, args.runs, args.warmup,
                               after=(lambda: per_op.append(plan.op_times_ns())) if not args.no_layers else None)
    if not args.no_layers:
        plan.set_profiling(False)
        layers = _layer_rows(model, np.median(np.asarray(per_op, dtype=np.float64), axis=0))
    ember = result["ember"]
    out = {"threads": threads, "isa": model.isa, "macs": int(model.macs),
           "gmacs": model.macs / (ember["median_us"] * 1e3) if ember["median_us"] > 0 else None,
           "latency": result, "layers": layers,
           "ratios": {k: ember["median_us"] / v["median_us"] for k, v in result.items() if k != "ember"}}
    if args.compare:
        out["peers_missing"] = sorted({"litert_xnnpack", "litert_ref", "onnxruntime"} - set(result)
                                      - ({"litert_ref"} if threads != 1 else set()))
    return out


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "machine": platform.machine(), "cores": os.cpu_count()}


# ---- output -----------------------------------------------------------------------------------

def _print_text(report: dict) -> None:
    m = report["machine"]
    print(f"model {report['model']}  ({report['macs'] / 1e6:.2f} M MACs)")
    print(f"machine {m['cpu']} ({m['machine']}, {m['cores']} cores), ISA {report['isa']}")
    for cfg in report["configs"]:
        print(f"\nthreads {cfg['threads']}:")
        print(f"  {'runtime':<16}{'median us':>11}{'p90 us':>10}{'min us':>10}{'ratio':>8}")
        for name, st in cfg["latency"].items():
            ratio = "" if name == "ember" else f"{cfg['ratios'][name]:.2f}"
            print(f"  {name:<16}{st['median_us']:>11.1f}{st['p90_us']:>10.1f}{st['min_us']:>10.1f}{ratio:>8}")
        if cfg.get("peers_missing"):
            print(f"  (not run: {', '.join(cfg['peers_missing'])}; install the package"
                  f"{' / pass --onnx' if 'onnxruntime' in cfg['peers_missing'] else ''})")
        if cfg["layers"]:
            print(f"  {'#':>3} {'layer':<20}{'us':>9}{'GMAC/s':>9}  output")
            for row in cfg["layers"]:
                g = f"{row['gmacs']:.2f}" if row["gmacs"] else "-"
                print(f"  {row['index']:>3} {row['op']:<20}{row['us']:>9.1f}{g:>9}  {row.get('output') or ''}")
            total = sum(r["us"] for r in cfg["layers"])
            print(f"  sum of layer medians {total:.1f} us (the rest of the median: Python call, output copy)")


def _plot(report: dict, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EmberError("--plot needs matplotlib, which is not installed (pip install matplotlib)") from None
    cfgs = [c for c in report["configs"] if c["layers"]]
    if not cfgs:
        raise InputError("--plot needs the per-layer breakdown (drop --no-layers)")
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(cfgs[0]["layers"])), 4))
    width = 0.8 / len(cfgs)
    for k, cfg in enumerate(cfgs):
        xs = np.arange(len(cfg["layers"])) + k * width
        ax.bar(xs, [r["us"] for r in cfg["layers"]], width, label=f"{cfg['threads']} thread(s)")
    ax.set_xticks(np.arange(len(cfgs[0]["layers"])) + 0.4 - width / 2)
    ax.set_xticklabels([f"{r['index']} {r['op']}" for r in cfgs[0]["layers"]], rotation=90, fontsize=7)
    ax.set_ylabel("µs (median)")
    ax.set_title(f"{os.path.basename(report['model'])} per layer, ISA {report['isa']}")
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as e:
        raise InputError(f"cannot write plot {path!r}: {e.strerror or e}") from None
    finally:
        plt.close(fig)


def run(args) -> int:
    from .. import _core

    if args.runs < 1 or args.warmup < 0:
        raise InputError(f"--runs must be >= 1 and --warmup >= 0, got {args.runs} and {args.warmup}")
    if any(t < 1 or t > 64 for t in args.threads):
        raise InputError(f"--threads values must be in [1, 64], got {args.threads}")
    if not os.path.isfile(args.model):
        raise InputError(f"model file {args.model!r} does not exist")
    with open(args.model, "rb") as f:
        data = f.read()
    previous = _core.isa()
    if args.isa:
        _core.set_isa(args.isa)  # InputError names the available ISAs
    try:
        configs = [_bench_config(args.model, data, t, args) for t in args.threads]
    finally:
        _core.set_isa(previous)
    report = {"model": args.model, "isa": configs[0]["isa"], "macs": configs[0]["macs"], "machine": _machine(),
              "configs": configs}
    if args.plot:
        _plot(report, args.plot)
    if args.json:
        print(json.dumps(report))
    else:
        _print_text(report)
    return 0
