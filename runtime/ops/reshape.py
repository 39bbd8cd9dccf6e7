"""RESHAPE, SQUEEZE and EXPAND_DIMS: shape-only ops, emitted as the C RESHAPE
(a byte copy, free when the planner aliases input and output).

The output tensor's shape must be static and agree with what TFLite's Prepare
would compute from the operator (shape tensor / new_shape / squeeze_dims / axis).
"""
from __future__ import annotations

import numpy as np

from . import register
from ._elem import count_io, option, require_same_shape

_DTYPES = ("int8", "uint8", "int16", "int32", "int64", "float32")


def _common(op, x, y):
    if x.dtype not in _DTYPES:
        op.fail(f"input dtype {x.dtype} is not supported")
    if y.dtype != x.dtype:
        op.fail(f"output dtype {y.dtype} differs from the input dtype {x.dtype}")
    if any(int(d) < 0 for d in y.shape):
        op.fail(f"output {y.describe()} has a dynamic shape")
    if x.size != y.size:
        op.fail(f"output {y.describe()} has {y.size} elements, the input {x.describe()} has {x.size}")


def resolve_new_shape(op, shape, n_elements: int) -> tuple:
    """TFLite reshape: at most one -1, inferred from the element count."""
    shape = [int(d) for d in shape]
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        op.fail(f"new shape {shape} has more than one -1")
    if any(d < -1 for d in shape):
        op.fail(f"new shape {shape} has a negative dim")
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if unknown:
        if known == 0 or n_elements % known:
            op.fail(f"new shape {shape} does not fit {n_elements} elements")
        shape[unknown[0]] = n_elements // known
    return tuple(shape)


@register("RESHAPE")
def build_reshape(op):
    count_io(op, (1, 2))
    x, y = op.inputs[0], op.outputs[0]
    _common(op, x, y)
    shape_t = op.inputs[1] if len(op.inputs) > 1 else None
    new_shape = None
    if shape_t is not None:
        if shape_t.dtype not in ("int32", "int64"):
            op.fail(f"shape tensor {shape_t.describe()} must be int32 or int64")
        if shape_t.is_const:
            new_shape = np.asarray(shape_t.data).reshape(-1).tolist()
    elif option(op, "new_shape") is not None:
        new_shape = list(option(op, "new_shape"))
    if new_shape is not None and not (len(new_shape) == 1 and new_shape[0] == 0 and y.shape == ()):
        want = resolve_new_shape(op, new_shape, x.size)
        if tuple(y.shape) != want:
            op.fail(f"output {y.describe()} disagrees with the new shape {list(want)}")
    op.emit("RESHAPE", [x], [y], {})


@register("SQUEEZE")
def build_squeeze(op):
    count_io(op, 1)
    x, y = op.inputs[0], op.outputs[0]
    _common(op, x, y)
    nd = len(x.shape)
    dims = option(op, "squeeze_dims") or []
    if dims:
        norm = set()
        for d in dims:
            d = int(d)
            if not -nd <= d < nd:
                op.fail(f"squeeze dim {d} is out of range for rank {nd}")
            d = d + nd if d < 0 else d
            if x.shape[d] != 1:
                op.fail(f"cannot squeeze dim {d} of size {x.shape[d]}")
            norm.add(d)
        want = tuple(s for i, s in enumerate(x.shape) if i not in norm)
    else:
        want = tuple(s for s in x.shape if s != 1)
    require_same_shape(op, y, want, "output")
    op.emit("RESHAPE", [x], [y], {})


@register("EXPAND_DIMS")
def build_expand_dims(op):
    count_io(op, 2)
    x, axis_t = op.inputs
    y = op.outputs[0]
    _common(op, x, y)
    if axis_t.dtype not in ("int32", "int64") or not axis_t.is_const or axis_t.size != 1:
        op.fail(f"axis {axis_t.describe()} must be a constant int32/int64 scalar")
    axis = int(np.asarray(axis_t.data).reshape(-1)[0])
    nd = len(x.shape)
    if not -(nd + 1) <= axis <= nd:
        op.fail(f"axis {axis} is out of range for rank {nd}")
    if axis < 0:
        axis += nd + 1
    want = tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis:])
    require_same_shape(op, y, want, "output")
    op.emit("RESHAPE", [x], [y], {})
