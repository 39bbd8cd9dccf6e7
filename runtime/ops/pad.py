"""PAD and PADV2 builders (int8, constant mode, rank <= 5). The padding
amounts must be a constant int32/int64 [rank, 2] tensor of non-negative
values; PAD fills with the output zero point, PADV2 with its constant value
(which must share the output's quantization, as TFLite requires). Emits the
C record of csrc/include/ember/ops/pad.h, dims normalized to 5."""
from __future__ import annotations

import numpy as np

from . import register
from .base import OpContext
from .nn_util import f32, optional_input, per_tensor_q, required_input

MAX_DIMS = 5


def _build_pad(op: OpContext, v2: bool) -> None:
    n_in = (2, 3) if v2 else (2,)
    op.require(len(op.inputs) in n_in, f"expected {' or '.join(map(str, n_in))} inputs, got {len(op.inputs)}")
    op.require(len(op.outputs) == 1, f"expected 1 output, got {len(op.outputs)}")
    x, p, y = required_input(op, 0, "input"), required_input(op, 1, "paddings"), op.outputs[0]
    per_tensor_q(op, x, "input")
    out_scale, out_zp = per_tensor_q(op, y, "output")
    rank = len(x.shape)
    op.require(1 <= rank <= MAX_DIMS, f"input {x.describe()} has rank {rank}, supported 1..{MAX_DIMS}")
    op.require(p.dtype in ("int32", "int64"), f"paddings {p.describe()} must be int32 or int64")
    op.require(p.is_const, f"paddings {p.describe()} must be a constant")
    op.require(tuple(p.shape) == (rank, 2), f"paddings {p.describe()} must have shape [{rank}, 2]")
    pads = np.asarray(p.data).astype(np.int64)
    op.require(bool(np.all(pads >= 0)), f"paddings {pads.tolist()} must be non-negative")
    op.require(bool(np.all(pads <= (1 << 24))), f"paddings {pads.tolist()} are too large")
    want = tuple(int(d + a + b) for d, (a, b) in zip(x.shape, pads))
    op.require(tuple(y.shape) == want, f"output {y.describe()} should have shape {list(want)}")

    pad_value = out_zp
    c = optional_input(op, 2) if v2 else None
    if c is not None:
        op.require(c.dtype == "int8", f"constant_values {c.describe()} must be int8")
        op.require(c.is_const, f"constant_values {c.describe()} must be a constant")
        op.require(c.size == 1, f"constant_values {c.describe()} must hold one value")
        op.require(c.scale.size == 1 and c.zero_point.size == 1 and f32(c.scale[0]) == out_scale
                   and int(c.zero_point[0]) == out_zp,
                   f"constant_values {c.describe()} must share the output's scale and zero point")
        pad_value = int(np.asarray(c.data).reshape(-1)[0])

    lead = MAX_DIMS - rank
    before = [0] * lead + [int(a) for a, _ in pads]
    after = [0] * lead + [int(b) for _, b in pads]
    params = {f"before_{i}": before[i] for i in range(MAX_DIMS)}
    params.update({f"after_{i}": after[i] for i in range(MAX_DIMS)})
    params["pad_value"] = pad_value
    op.emit("PAD", [x], [y], params)


@register("PAD")
def build_pad(op: OpContext) -> None:
    _build_pad(op, v2=False)


@register("PADV2")
def build_padv2(op: OpContext) -> None:
    _build_pad(op, v2=True)
