"""DEQUANTIZE int8/uint8 -> float32 (C: csrc/dequantize): y = float(double(scale) * (q - zp)).

Input 1 of the emitted op is a float32 [1] constant holding the scale.
"""
from __future__ import annotations

import numpy as np

from . import register
from ._elem import count_io, qparams, require_dtype, require_same_shape


@register("DEQUANTIZE")
def build_dequantize(op):
    count_io(op, 1)
    x, y = op.inputs[0], op.outputs[0]
    require_dtype(op, x, ("int8", "uint8"), "input")
    require_dtype(op, y, "float32", "output")
    require_same_shape(op, y, x.shape, "output")
    s, z = qparams(op, x, "input")
    scale = op.const(np.asarray([s], np.float32), "scale")
    op.emit("DEQUANTIZE", [x, scale], [y], {"zero_point": z})
