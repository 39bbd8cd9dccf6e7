"""CPU-time micro-benchmark of the ADD and pooling paths per ISA.

One-op int8 models (built with runtime.tflite.writer) are loaded once per
ISA and run in batches; the figure is the median over batches of
time.thread_time() per call (CPU time, so other processes on a shared
machine do not inflate it), single-threaded. Python call overhead of
m.infer() is included; a NO-op baseline is not subtracted.

    PYTHONPATH=. python tools/bench_elem_simd.py [--batches 15] [--calls 2000]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import runtime
from runtime import _core
from runtime.tflite.writer import ModelBuilder


def add_model(shape_a, shape_b):
    out = np.broadcast_shapes(tuple(shape_a), tuple(shape_b))
    mb = ModelBuilder()
    a = mb.add_tensor("a", shape_a, "int8", scale=0.05, zero_point=-3)
    b = mb.add_tensor("b", shape_b, "int8", scale=0.08, zero_point=5)
    y = mb.add_tensor("y", out, "int8", scale=0.1, zero_point=-1)
    mb.add_operator("ADD", [a, b], [y], {"fused_activation_function": "RELU"})
    mb.set_io([a, b], [y])
    return mb.build()


def pool_model(op, in_shape, k, stride, padding="VALID"):
    n, h, w, c = in_shape
    if padding == "VALID":
        oh, ow = (h - k[0]) // stride[0] + 1, (w - k[1]) // stride[1] + 1
    else:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    mb = ModelBuilder()
    x = mb.add_tensor("x", in_shape, "int8", scale=0.05, zero_point=-7)
    y = mb.add_tensor("y", (n, oh, ow, c), "int8", scale=0.05, zero_point=-7)
    mb.add_operator(op, [x], [y], {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                                   "filter_height": k[0], "filter_width": k[1], "fused_activation_function": "NONE"})
    mb.set_io([x], [y])
    return mb.build()


CASES = [
    ("ADD [1] (call overhead)", lambda: add_model((1,), (1,))),
    ("ADD 16x16x32 + same", lambda: add_model((1, 16, 16, 32), (1, 16, 16, 32))),
    ("ADD 16x16x32 + per-channel [32]", lambda: add_model((1, 16, 16, 32), (32,))),
    ("AVERAGE_POOL 25x5x64 -> 1 (KWS)", lambda: pool_model("AVERAGE_POOL_2D", (1, 25, 5, 64), (25, 5), (2, 2))),
    ("AVERAGE_POOL 3x3x256 -> 1 (VWW)", lambda: pool_model("AVERAGE_POOL_2D", (1, 3, 3, 256), (3, 3), (1, 1))),
    ("MAX_POOL 2x2/2 32x32x32", lambda: pool_model("MAX_POOL_2D", (1, 32, 32, 32), (2, 2), (2, 2))),
    ("AVERAGE_POOL 2x2/2 32x32x32", lambda: pool_model("AVERAGE_POOL_2D", (1, 32, 32, 32), (2, 2), (2, 2))),
]


def cpu_us_per_call(m, xs, batches, calls):
    for _ in range(200):
        m.infer(xs)
    per = []
    for _ in range(batches):
        t0 = time.thread_time()
        for _ in range(calls):
            m.infer(xs)
        per.append((time.thread_time() - t0) / calls * 1e6)
    return statistics.median(per)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    isas = list(_core.available_isas())
    before = _core.isa()
    rng = np.random.default_rng(0)
    print(f"{'case':36s}" + "".join(f"{i:>10s}" for i in isas) + "   (CPU us per call, median of batches)")
    try:
        for name, build in CASES:
            buf = build()
            row = []
            for isa in isas:
                _core.set_isa(isa)
                m = runtime.load(buf, num_threads=1)
                xs = [rng.integers(-128, 128, s.shape).astype(np.int8) for s in m.inputs]
                row.append(cpu_us_per_call(m, xs, args.batches, args.calls))
            print(f"{name:36s}" + "".join(f"{v:10.2f}" for v in row))
    finally:
        _core.set_isa(before)


if __name__ == "__main__":
    main()
