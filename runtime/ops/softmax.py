"""SOFTMAX int8 -> int8 (C: csrc/softmax, params EMBER_SOFTMAX_PARAMS).

BUILTIN_REF runs TFLite's gemmlowp fixed-point softmax for int8; its Prepare
computes (activations.cc SoftmaxPrepare, kReference):
  PreprocessSoftmaxScaling(beta, input_scale, kScaledDiffIntegerBits=5)
  diff_min = -CalculateInputRadius(5, input_left_shift)
"""
from __future__ import annotations

import math

import numpy as np

from .. import quant
from . import register
from ._elem import f32, int8_in_out, option, qparams, require_same_shape

SCALED_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float) -> dict:
    """TFLite's int8 reference softmax parameters; raises ValueError when TFLite would abort."""
    max_real = float((1 << 31) - 1)
    real = min(float(beta) * float(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), max_real)
    if not real > 1.0:
        raise ValueError(f"beta * input_scale = {float(beta) * float(input_scale)!r} is too small "
                         f"(TFLite requires beta * input_scale * 2^26 > 1)")
    mult, shift = quant.quantize_multiplier(real)
    if shift < 0:
        raise ValueError("softmax input multiplier below one")
    radius = math.floor(1.0 * ((1 << SCALED_DIFF_INTEGER_BITS) - 1)
                        * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)) / float(1 << shift))
    return {"input_multiplier": mult, "input_left_shift": shift, "diff_min": -int(radius)}


@register("SOFTMAX")
def build_softmax(op):
    x, y = int8_in_out(op)
    if len(x.shape) < 1:
        op.fail("input must have at least one dimension")
    require_same_shape(op, y, x.shape, "output")
    in_scale, _ = qparams(op, x, "input")
    out_scale, out_zp = qparams(op, y, "output")
    if out_zp != -128:
        op.fail(f"int8 output zero point must be -128, got {out_zp}")
    delta = abs(np.float32(out_scale) - np.float32(1.0 / 256))
    if delta > np.float32(0.001) * np.float32(1.0 / 256):
        op.fail(f"int8 output scale must be 1/256, got {out_scale!r}")
    beta = option(op, "beta", 0.0)  # TFLite zero-initializes absent options (and then rejects beta 0)
    try:
        beta = f32(beta)
        if not math.isfinite(beta):
            raise ValueError(f"beta must be finite, got {beta!r}")
        params = softmax_params(beta, in_scale)
    except (TypeError, ValueError) as e:
        op.fail(str(e))
    op.emit("SOFTMAX", [x], [y], params)
