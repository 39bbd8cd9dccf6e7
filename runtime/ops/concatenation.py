"""CONCATENATION int8 (C: csrc/concatenation): a copy, since TFLite requires
every int8 input to have the output's scale and zero point."""
from __future__ import annotations

from . import register
from ._elem import activation, count_io, option, qparams, require_dtype

MAX_INPUTS = 16  # EMBER_MAX_OP_INPUTS


@register("CONCATENATION")
def build_concatenation(op):
    count_io(op, (1, MAX_INPUTS))
    y = op.outputs[0]
    xs = op.inputs
    require_dtype(op, y, "int8", "output")
    act = activation(op)
    if act != "NONE":
        op.fail(f"fused activation {act} is not supported (TFLite requires NONE)")
    rank = len(y.shape)
    if rank < 1 or rank > 6:
        op.fail(f"output rank must be 1..6, got {rank}")
    axis = option(op, "axis", 0)
    try:
        axis = int(axis)
    except (TypeError, ValueError):
        op.fail(f"axis {axis!r} is not an integer")
    ax = axis + rank if axis < 0 else axis
    if not 0 <= ax < rank:
        op.fail(f"axis {axis} is out of range for rank {rank}")
    so, zo = qparams(op, y, "output")
    total = 0
    for i, x in enumerate(xs):
        if x is None:
            op.fail(f"input {i} is missing")
        require_dtype(op, x, "int8", f"input {i}")
        if len(x.shape) != rank:
            op.fail(f"input {i} {x.describe()} has rank {len(x.shape)}, the output has {rank}")
        for d in range(rank):
            if d != ax and x.shape[d] != y.shape[d]:
                op.fail(f"input {i} {x.describe()} differs from the output in dim {d}")
        s, z = qparams(op, x, f"input {i}")
        if s != so or z != zo:
            op.fail(f"input {i} quantization ({s!r}, {z}) differs from the output's ({so!r}, {zo}); "
                    "int8 CONCATENATION needs identical scales and zero points")
        total += x.shape[ax]
    if total != y.shape[ax]:
        op.fail(f"output dim {ax} is {y.shape[ax]}, the inputs sum to {total}")
    op.emit("CONCATENATION", list(xs), [y], {"axis": ax})
