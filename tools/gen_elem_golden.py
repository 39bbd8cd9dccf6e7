"""Generate tests/c/elem_golden.h: golden int8 vectors for the elementwise op C tests.

Every expected output comes from LiteRT's reference kernels (ai-edge-litert,
OpResolverType.BUILTIN_REF) run on a single-op model built with
runtime.tflite.writer; the executor params come from the Python builders'
parameter functions (runtime/ops). Regenerate with:
    python tools/gen_elem_golden.py > tests/c/elem_golden.h
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime import quant  # noqa: E402
from runtime.ops._binary import add_params, mul_params  # noqa: E402
from runtime.ops.softmax import softmax_params  # noqa: E402
from tests.models import binary_model_q as binary, mean_model_q, unary_model_q as unary  # noqa: E402
from tests.oracle import litert_ref  # noqa: E402

ALL = np.arange(-128, 128, dtype=np.int8)
out = []


def arr(name, a, ctype="int8_t"):
    a = np.asarray(a).reshape(-1)
    body = ", ".join(str(int(v)) for v in a)
    out.append(f"static const {ctype} {name}[{a.size}] = {{{body}}};")


def scalar(name, v, ctype="int32_t"):
    out.append(f"static const {ctype} {name} = {v};")


rng = np.random.default_rng(20261123)
f32 = lambda v: float(np.float32(v))  # noqa: E731

# SOFTMAX: 2 rows of 10, input scale 1/16 and a large scale that exercises diff_min.
for tag, s_in, beta in (("a", 0.0625, 1.0), ("b", 0.9, 1.0)):
    x = rng.integers(-128, 128, (2, 10)).astype(np.int8)
    x[0, 3] = 127
    y = litert_ref(unary("SOFTMAX", (2, 10), (s_in, 0), (1 / 256, -128), {"beta": beta}), [x])[0]
    p = softmax_params(np.float32(beta), f32(s_in))
    arr(f"softmax_{tag}_in", x)
    arr(f"softmax_{tag}_out", y)
    arr(f"softmax_{tag}_params", [p["input_multiplier"], p["input_left_shift"], p["diff_min"]], "int32_t")

# LOGISTIC / TANH over all 256 inputs, for several quantizations (the tables depend on the
# host libm's expf/tanhf: the C test checks that other targets build the same tables).
LUT_CASES = [((0.05, 7), (1 / 256, -128), (1 / 128, 0)), ((0.001, -128), (1 / 256, 0), (0.003, 17)),
             ((0.0123, 127), (1 / 256, 50), (0.02, -100)), ((0.5, 0), (1 / 256, -128), (1 / 256, -128)),
             ((3.0, -3), (1 / 256, -128), (1 / 128, 0)), ((0.09, 77), (1 / 256, 12), (0.0078, -1))]
for op, col in (("LOGISTIC", 1), ("TANH", 2)):
    name = op.lower()
    outs, params = [], []
    for case in LUT_CASES:
        iq, oq = (f32(case[0][0]), case[0][1]), (f32(case[col][0]), case[col][1])
        outs.append(litert_ref(unary(op, (256,), iq, oq), [ALL])[0])
        params.append((iq, oq))
    arr(f"{name}_out", np.stack(outs))
    out[-1] = out[-1].replace(f"{name}_out[{256 * len(LUT_CASES)}]", f"{name}_out[{len(LUT_CASES)}][256]")
    out.append(f"static const float {name}_scales[{len(LUT_CASES)}][2] = {{"
               + ", ".join(f"{{{iq[0]!r}f, {oq[0]!r}f}}" for iq, oq in params) + "};")
    out.append(f"static const int32_t {name}_zps[{len(LUT_CASES)}][2] = {{"
               + ", ".join(f"{{{iq[1]}, {oq[1]}}}" for iq, oq in params) + "};")

# ADD (2,3,4) + (3,1) with RELU6, MUL (1,4,1,3) * (2,1,5,1) with NONE.
for op, sa, sb, act, fn in (("ADD", (2, 3, 4), (3, 1), "RELU6", add_params),
                            ("MUL", (1, 4, 1, 3), (2, 1, 5, 1), "NONE", mul_params)):
    q1, q2 = (f32(0.04), -3), (f32(0.11), 12)
    qo = (f32(0.09), -20) if op == "ADD" else (f32(0.5), 5)
    a = rng.integers(-128, 128, sa).astype(np.int8)
    b = rng.integers(-128, 128, sb).astype(np.int8)
    y = litert_ref(binary(op, sa, sb, q1, q2, qo, act), [a, b])[0]
    p = fn(q1[0], q1[1], q2[0], q2[1], qo[0], qo[1])
    lo, hi = (max(-128, qo[1] + 0), min(127, qo[1] + int(round(6.0 / qo[0])))) if act == "RELU6" else (-128, 127)
    p.update(act_min=lo, act_max=hi)
    name = op.lower()
    arr(f"{name}_a", a)
    arr(f"{name}_b", b)
    arr(f"{name}_out", y)
    arr(f"{name}_params", list(p.values()), "int32_t")
    out.append(f"/* {name}_params order: {', '.join(p.keys())} */")

# QUANTIZE float32 -> int8 (finite, in-range values and ties), int8 -> int8, DEQUANTIZE.
qs, qz = f32(0.02), -5
xf = np.concatenate([rng.standard_normal(24).astype(np.float32) * 2,
                     np.float32([0.01, -0.01, 0.03, -0.03, 0.0, 5.0, -5.0, 2.55])]).astype(np.float32)
y = litert_ref(unary("QUANTIZE", (32,), None, (qs, qz), in_dtype="float32"), [xf])[0]
out.append("static const float quantize_f_in[32] = {" + ", ".join(f"{float(v)!r}f" for v in xf) + "};")
arr("quantize_f_out", y)
out.append(f"static const float quantize_f_scale = {qs!r}f;")
scalar("quantize_f_zp", qz)
iq, oq = (f32(0.03), 10), (f32(0.011), -7)
y = litert_ref(unary("QUANTIZE", (256,), iq, oq), [ALL])[0]
m, s = quant.quantize_multiplier(iq[0] / oq[0])
arr("requantize_out", y)
arr("requantize_params", [iq[1], oq[1], m, s], "int32_t")
dq = (f32(0.0137), 3)
y = litert_ref(unary("DEQUANTIZE", (256,), dq, None, out_dtype="float32"), [ALL])[0]
arr("dequantize_out_bits", y.view(np.int32), "int32_t")
out.append(f"static const float dequantize_scale = {dq[0]!r}f;")
scalar("dequantize_zp", dq[1])

# MEAN (2,3,4,5) over axes (1, 3), keep_dims=False.
shape, axes = (2, 3, 4, 5), (1, 3)
iq, oq = (f32(0.05), 4), (f32(0.03), -9)
x = rng.integers(-128, 128, shape).astype(np.int8)
y = litert_ref(mean_model_q(shape, axes, False, iq, oq), [x])[0]
m, s = quant.quantize_multiplier(iq[0] / oq[0])
arr("mean_in", x)
arr("mean_out", y)
arr("mean_params", [(1 << 1) | (1 << 3), iq[1], oq[1], m, s], "int32_t")

print("/* Generated by tools/gen_elem_golden.py from LiteRT BUILTIN_REF (ai-edge-litert 2.3.0). Do not edit. */")
print("#ifndef EMBER_TEST_ELEM_GOLDEN_H\n#define EMBER_TEST_ELEM_GOLDEN_H\n#include <stdint.h>")
print("\n".join(out))
print("#endif")
