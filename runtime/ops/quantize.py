"""QUANTIZE float32 -> int8/uint8 and (u)int8 -> (u)int8 requantization (C: csrc/quantize).

float32 input: input 1 of the emitted op is a float32 [1] constant with the
output scale (TFLite divides by it in float). (u)int8 input: quantize.cc Prepare's
QuantizeMultiplier(input_scale / output_scale) in double.
"""
from __future__ import annotations

import numpy as np

from . import register
from ._elem import count_io, qparams, require_dtype, require_same_shape, rescale_multiplier


@register("QUANTIZE")
def build_quantize(op):
    count_io(op, 1)
    x, y = op.inputs[0], op.outputs[0]
    require_dtype(op, x, ("float32", "int8", "uint8"), "input")
    require_dtype(op, y, ("int8", "uint8"), "output")
    require_same_shape(op, y, x.shape, "output")
    so, zo = qparams(op, y, "output")
    if x.dtype == "float32":
        scale = op.const(np.asarray([so], np.float32), "scale")
        op.emit("QUANTIZE", [x, scale], [y], {"input_zero_point": 0, "output_zero_point": zo,
                                              "multiplier": 0, "shift": 0})
        return
    si, zi = qparams(op, x, "input")
    mult, shift = rescale_multiplier(op, si, so)
    op.emit("QUANTIZE", [x], [y], {"input_zero_point": zi, "output_zero_point": zo,
                                   "multiplier": mult, "shift": shift})
