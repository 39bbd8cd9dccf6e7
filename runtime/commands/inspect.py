"""`ember inspect MODEL [--json]`: layers, shapes, MACs, parameter and arena bytes."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("inspect", help="show the layers, shapes, MACs and memory of a .tflite model")
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=run)


def _shape(s) -> str:
    return "-" if s is None else "x".join(str(d) for d in s) or "scalar"


def describe(model) -> dict:
    return {
        "inputs": [vars_(s) for s in model.inputs],
        "outputs": [vars_(s) for s in model.outputs],
        "layers": [{"index": l.index, "op": l.op, "inputs": [list(s) if s is not None else None for s in l.input_shapes],
                    "outputs": [list(s) for s in l.output_shapes], "macs": l.macs, "param_bytes": l.param_bytes,
                    "kernels": l.kernels} for l in model.layers],
        "total_macs": model.macs,
        "total_param_bytes": sum(l.param_bytes for l in model.layers),
        "memory": dict(model.memory),
        "arena_bytes": model.arena_bytes,
        "isa": model.isa,
    }


def vars_(spec) -> dict:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype, "scale": spec.scale,
            "zero_point": spec.zero_point}


def run(args) -> int:
    import runtime

    model = runtime.load(args.model)
    info = describe(model)
    if args.json:
        print(json.dumps(info))
        return 0
    rows = [("#", "op", "inputs", "outputs", "MACs", "params B")]
    for l in model.layers:
        rows.append((str(l.index), l.op, ", ".join(_shape(s) for s in l.input_shapes),
                     ", ".join(_shape(s) for s in l.output_shapes), f"{l.macs:,}", f"{l.param_bytes:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.rjust(w) if i in (0, 4, 5) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    mem = model.memory
    for s in model.inputs:
        print(f"input  {s.name}: {s.dtype}{list(s.shape)} scale={s.scale:g} zero_point={s.zero_point}")
    for s in model.outputs:
        print(f"output {s.name}: {s.dtype}{list(s.shape)} scale={s.scale:g} zero_point={s.zero_point}")
    print(f"layers: {len(model.layers)}  MACs: {info['total_macs']:,}  params: {info['total_param_bytes']:,} B")
    print(f"arena: {mem['arena_bytes']:,} B (activations {mem['activation_bytes']:,} B, scratch "
          f"{mem['scratch_bytes']:,} B; unshared activations would take {mem['naive_activation_bytes']:,} B)  "
          f"persistent: {mem['persistent_bytes']:,} B  isa: {model.isa}")
    return 0
