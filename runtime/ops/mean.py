"""MEAN int8 -> int8 (C: csrc/mean, params EMBER_MEAN_PARAMS).

LiteRT 2.3 BUILTIN_REF runs reference_ops::QuantizedMeanOrSum for every int8
MEAN (verified against the oracle, including the keep_dims 4-D {1,2} case and
equal input/output quantization, where older TFLite and TFLM use
reference_integer_ops::Mean / a plain integer division instead).
"""
from __future__ import annotations

import numpy as np

from . import register
from ._elem import int8_in_out, option, qparams, require_dtype, require_same_shape, rescale_multiplier



def mean_output_shape(in_shape: tuple, axes: list, keep_dims: bool) -> tuple:
    nd = len(in_shape)
    reduced = {a + nd if a < 0 else a for a in axes}
    if keep_dims:
        return tuple(1 if i in reduced else d for i, d in enumerate(in_shape))
    return tuple(d for i, d in enumerate(in_shape) if i not in reduced)


@register("MEAN")
def build_mean(op):
    x, y = int8_in_out(op, 2)
    axes_t = op.inputs[1]
    require_dtype(op, axes_t, "int32", "axis tensor")
    if not axes_t.is_const:
        op.fail("the axis tensor must be a constant")
    nd = len(x.shape)
    if nd < 1 or nd > 6:
        op.fail(f"input rank must be 1..6, got {nd}")
    axes = [int(a) for a in np.asarray(axes_t.data).reshape(-1)]
    if not axes:
        op.fail("an empty axis list is not supported")
    for a in axes:
        if not -nd <= a < nd:
            op.fail(f"axis {a} is out of range for rank {nd}")
    keep_dims = bool(option(op, "keep_dims", False))
    want = mean_output_shape(tuple(x.shape), axes, keep_dims)
    require_same_shape(op, y, want, "output")
    si, zi = qparams(op, x, "input")
    so, zo = qparams(op, y, "output")
    mult, shift = rescale_multiplier(op, si, so)
    mask = 0
    for a in axes:
        mask |= 1 << (a + nd if a < 0 else a)
    op.emit("MEAN", [x], [y], {"axis_mask": mask, "input_zero_point": zi,
                              "output_zero_point": zo, "multiplier": mult, "shift": shift})
