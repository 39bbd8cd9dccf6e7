"""LOGISTIC and TANH int8 -> int8 (C: csrc/logistic, csrc/tanh).

LiteRT (also BUILTIN_REF) evaluates both through a 256-entry table built in
float at Prepare time (LUTPopulate); the C adapter builds the same table at
init from input 1, a float32 [input_scale, output_scale] constant, and the
zero points. TFLM uses fixed point instead (may differ by one LSB).
"""
from __future__ import annotations

import numpy as np

from . import register
from ._elem import int8_in_out, qparams, require_same_shape


def _build(op, kernel: str):
    x, y = int8_in_out(op)
    require_same_shape(op, y, x.shape, "output")
    in_scale, in_zp = qparams(op, x, "input")
    out_scale, out_zp = qparams(op, y, "output")
    if kernel == "LOGISTIC" and out_scale != 1.0 / 256:
        op.fail(f"int8 output scale must be exactly 1/256, got {out_scale!r}")
    scales = op.const(np.asarray([in_scale, out_scale], np.float32), "scales")
    op.emit(kernel, [x, scales], [y], {"input_zero_point": in_zp, "output_zero_point": out_zp})


@register("LOGISTIC")
def build_logistic(op):
    _build(op, "LOGISTIC")


@register("TANH")
def build_tanh(op):
    _build(op, "TANH")
