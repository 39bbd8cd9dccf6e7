"""Helpers shared by the elementwise / shape op builders (ADD, MUL, SOFTMAX, ...).

Validation helpers raise through ``op.fail`` so every message names the operator.
Quantization scales are float32 in the model; TFLite's Prepare functions use
them as float (and promote to double where the C++ does), so we read them back
as exact float32 values.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import quant
from .base import OpContext, Tensor

MAX_RANK = 6  # EMBER_MAX_DIMS

# enum ActivationFunctionType (schema.fbs)
_ACT_BY_CODE = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def activation(op: OpContext, key: str = "fused_activation_function") -> str:
    """The operator's fused activation as a schema name (accepts names or enum codes)."""
    v = op.options.get(key, "NONE") if op.options else "NONE"
    if v is None:
        return "NONE"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        if int(v) not in _ACT_BY_CODE:
            op.fail(f"unknown fused activation code {int(v)}")
        return _ACT_BY_CODE[int(v)]
    if isinstance(v, str) and v.upper() in _ACT_BY_CODE.values():
        return v.upper()
    op.fail(f"unknown fused activation {v!r}")


def option(op: OpContext, key: str, default=None):
    return op.options.get(key, default) if op.options else default


def f32(x) -> float:
    """x rounded to float32, as a Python float (exact)."""
    return float(np.float32(x))


def count_io(op: OpContext, n_in, n_out: int = 1) -> None:
    """Check the operator's input/output counts (n_in: int or (min, max))."""
    lo, hi = (n_in, n_in) if isinstance(n_in, int) else n_in
    n = len(op.inputs)
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else f"{lo}..{hi}"
        op.fail(f"expects {want} inputs, got {n}")
    if len(op.outputs) != n_out:
        op.fail(f"expects {n_out} output(s), got {len(op.outputs)}")
    for i, t in enumerate(op.inputs[:lo]):
        if t is None:
            op.fail(f"input {i} is missing")
    for t in list(op.inputs) + list(op.outputs):
        if t is not None and len(t.shape) > MAX_RANK:
            op.fail(f"{t.describe()} has rank {len(t.shape)}; at most {MAX_RANK} is supported")


def require_dtype(op: OpContext, t: Tensor, dtypes, what: str) -> None:
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    if t.dtype not in dtypes:
        op.fail(f"{what} {t.describe()} must be {' or '.join(dtypes)}, got {t.dtype}")


def int8_in_out(op: OpContext, n_in=1) -> tuple[Tensor, Tensor]:
    """count_io(op, n_in), then (input 0, output 0), both required to be int8."""
    count_io(op, n_in)
    x, y = op.inputs[0], op.outputs[0]
    require_dtype(op, x, "int8", "input")
    require_dtype(op, y, "int8", "output")
    return x, y


def rescale_multiplier(op: OpContext, in_scale: float, out_scale: float) -> tuple[int, int]:
    """QuantizeMultiplier(in_scale / out_scale), the scales widened from float32 to double."""
    try:
        return quant.quantize_multiplier(float(f32(in_scale)) / float(f32(out_scale)))
    except ValueError:
        op.fail(f"input/output scale ratio {in_scale / out_scale!r} is too large")


def require_activation(op: OpContext, t: Tensor, what: str) -> None:
    if t.is_const:
        op.fail(f"{what} {t.describe()} must not be a constant (constant folding is not supported)")


def qparams(op: OpContext, t: Tensor, what: str) -> tuple[float, int]:
    """Per-tensor (scale, zero_point) of an int8 (or uint8) tensor, validated."""
    if t.scale.size == 0 or t.zero_point.size == 0:
        op.fail(f"{what} {t.describe()} has no quantization parameters")
    if t.scale.size != 1 or t.zero_point.size != 1:
        op.fail(f"{what} {t.describe()} must be quantized per tensor, "
                f"got {t.scale.size} scales / {t.zero_point.size} zero points")
    scale = f32(t.scale[0])
    zp = int(t.zero_point[0])
    if not (math.isfinite(scale) and scale > 0.0):
        op.fail(f"{what} {t.describe()} has invalid scale {scale!r} (must be finite and > 0)")
    lo, hi = (0, 255) if t.dtype == "uint8" else (-128, 127)
    if not lo <= zp <= hi:
        op.fail(f"{what} {t.describe()} has zero point {zp} outside the {t.dtype} range")
    return scale, zp


def broadcast_shape(op: OpContext, a: tuple, b: tuple) -> Optional[tuple]:
    """NumPy/TFLite broadcast of two shapes; fails with a clear message."""
    nd = max(len(a), len(b))
    pa = (1,) * (nd - len(a)) + tuple(a)
    pb = (1,) * (nd - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            op.fail(f"input shapes {list(a)} and {list(b)} do not broadcast (dim {i}: {x} vs {y})")
    return tuple(out)


def require_same_shape(op: OpContext, t: Tensor, shape: tuple, what: str) -> None:
    if tuple(t.shape) != tuple(shape):
        op.fail(f"{what} {t.describe()} must have shape {list(shape)}")


def activation_range(op: OpContext, act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """``quant.activation_range`` (TFLite CalculateActivationRangeQuantized for int8,
    float32 division) with its failures reported through ``op.fail``."""
    bound = {"RELU6": 6.0, "RELU_N1_TO_1": 1.0}.get(act, 0.0)  # the largest |f| it quantizes
    with np.errstate(over="ignore"):  # inf (a subnormal scale) fails below
        r = float(np.float32(bound) / np.float32(scale))
    if not abs(r) + 0.5 < 2.0**31:  # roundf would leave int32
        op.fail(f"fused activation {act}: output scale {scale!r} overflows int32")
    try:
        return quant.activation_range(act, scale, zero_point)
    except ValueError:
        op.fail(f"fused activation {act} is not supported for int8 (only NONE, RELU, RELU6, RELU_N1_TO_1)")
