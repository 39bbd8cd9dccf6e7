"""`ember infer MODEL [--input x.npy ...] [--float] [--json]`: run a model once."""
from __future__ import annotations

import json

import numpy as np

from ._io import load_inputs, to_json_array


def register(sub) -> None:
    p = sub.add_parser("infer", help="run a .tflite model once (random input unless --input)")
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--input", "-i", action="append", default=[], metavar="FILE",
                   help=".npy per input (repeat in input order) or one .npz keyed by input name")
    p.add_argument("--float", action="store_true", help="inputs are real values: quantize them, dequantize outputs")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--threads", type=int, default=1, help="worker threads (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    import runtime

    model = runtime.load(args.model, num_threads=args.threads)
    x = load_inputs(model, args.input, args.float, args.seed)
    y = model.infer_float(x) if args.float else model.infer(x)
    outputs = y if isinstance(y, dict) else {model.outputs[0].name: y}
    if args.json:
        print(json.dumps({"model": args.model, "isa": model.isa, "arena_bytes": model.arena_bytes,
                          "outputs": {k: to_json_array(v) for k, v in outputs.items()}}))
        return 0
    for name, v in outputs.items():
        print(f"{name}: {v.dtype}{list(v.shape)}")
        with np.printoptions(threshold=64, edgeitems=8, linewidth=100):
            print(v)
        if v.size > 1 and v.size == max(v.shape):
            print(f"  argmax: {int(np.argmax(v))}")
    return 0
