"""ADD and MUL int8 with broadcasting and fused activations (C: csrc/add, csrc/mul).

Parameters are computed as TFLite's add.cc / mul.cc Prepare compute them for
int8 (general rescaling path, left_shift = 20 for ADD).
"""
from __future__ import annotations

from .. import quant
from . import register
from ._elem import (activation, activation_range, broadcast_shape, count_io, f32, qparams,
                    require_dtype)

ADD_LEFT_SHIFT = 20


def _smaller_than_one(real: float, what: str) -> tuple[int, int]:
    m, s = quant.quantize_multiplier(real)
    if s > 0:
        raise ValueError(f"{what} multiplier {real!r} is not below one")
    return m, s


def add_params(s1: float, z1: int, s2: float, z2: int, so: float, zo: int) -> dict:
    """add.cc Prepare (int8). Raises ValueError where TFLite's checks would fail."""
    twice_max = 2.0 * max(f32(s1), f32(s2))
    real1 = f32(s1) / twice_max
    real2 = f32(s2) / twice_max
    real_out = twice_max / f32(float(1 << ADD_LEFT_SHIFT) * f32(so))
    m1, sh1 = _smaller_than_one(real1, "input1")
    m2, sh2 = _smaller_than_one(real2, "input2")
    try:
        mo, sho = _smaller_than_one(real_out, "output")
    except ValueError:
        raise ValueError(f"output scale {so!r} is too small for input scales {s1!r}, {s2!r} "
                         f"(TFLite requires 2 * max(input scales) < 2^20 * output scale)") from None
    return {"input1_offset": -z1, "input2_offset": -z2, "output_offset": zo,
            "left_shift": ADD_LEFT_SHIFT, "input1_multiplier": m1, "input1_shift": sh1,
            "input2_multiplier": m2, "input2_shift": sh2, "output_multiplier": mo,
            "output_shift": sho}


def mul_params(s1: float, z1: int, s2: float, z2: int, so: float, zo: int) -> dict:
    """mul.cc Prepare (int8): QuantizeMultiplier(s1 * s2 / so), the product and quotient
    evaluated in float (TFLite multiplies the float scales before widening to double)."""
    real = f32(f32(f32(s1) * f32(s2)) / f32(so))
    try:
        m, s = quant.quantize_multiplier(real)
    except ValueError:
        raise ValueError(f"effective scale s1*s2/s_out = {real!r} is too large") from None
    return {"input1_offset": -z1, "input2_offset": -z2, "output_offset": zo,
            "output_multiplier": m, "output_shift": s}


def _build(op, kernel: str, params_fn):
    count_io(op, 2)
    a, b = op.inputs[0], op.inputs[1]
    y = op.outputs[0]
    for t, what in ((a, "input 0"), (b, "input 1"), (y, "output")):
        require_dtype(op, t, "int8", what)  # count_io has checked the ranks
    out_shape = broadcast_shape(op, a.shape, b.shape)
    if tuple(y.shape) != tuple(out_shape):
        op.fail(f"output {y.describe()} must have the broadcast shape {list(out_shape)}")
    s1, z1 = qparams(op, a, "input 0")
    s2, z2 = qparams(op, b, "input 1")
    so, zo = qparams(op, y, "output")
    act = activation(op)
    lo, hi = activation_range(op, act, so, zo)
    if lo > hi:
        op.fail(f"fused activation {act} leaves an empty output range [{lo}, {hi}]")
    try:
        params = params_fn(s1, z1, s2, z2, so, zo)
    except ValueError as e:
        op.fail(str(e))
    params.update({"act_min": lo, "act_max": hi})
    op.emit(kernel, [a, b], [y], params)


@register("ADD")
def build_add(op):
    _build(op, "ADD", add_params)


@register("MUL")
def build_mul(op):
    _build(op, "MUL", mul_params)
