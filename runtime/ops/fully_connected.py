"""FULLY_CONNECTED builder: int8 input of any rank viewed as [batches, depth]
(TFLite's reshaping), int8 [units, depth] weights (per-channel, zero points
ignored as LiteRT does, or per-tensor with the zero point applied), optional int32 bias, keep_num_dims. Emits the C record of
csrc/include/ember/ops/fully_connected.h in its double-requantization mode
(requant 1): LiteRT's reference int8 FULLY_CONNECTED rescales each
accumulator as round(acc * (double)in_scale * (double)w_scale / (double)out_scale)
rather than with a fixed-point multiplier, and BUILTIN_REF is our oracle.
The float32 scales go to C as a constant (input, output, per-unit filter)."""
from __future__ import annotations

import numpy as np

from . import register
from .base import OpContext
from .nn_util import (act_range_checked, activation, bias_data, channel_multipliers, const_weights,
                      nn_operands, option_enum, weight_scales)


@register("FULLY_CONNECTED")
def build_fully_connected(op: OpContext) -> None:
    x, w, b, y, in_scale, in_zp, out_scale, out_zp = nn_operands(op, "weights")
    const_weights(op, w, 2, "weights")
    fmt = option_enum(op, "weights_format", "DEFAULT", {0: "DEFAULT", 1: "SHUFFLED4x16INT8"})
    op.require(fmt == "DEFAULT", f"unsupported weights_format {fmt}")
    units, depth = w.shape
    op.require(len(x.shape) >= 1 and x.size > 0, f"input {x.describe()} is empty")
    op.require(x.size % depth == 0, f"input {x.describe()} has {x.size} values, not a multiple of the weights' depth {depth}")
    batches = x.size // depth
    keep = bool(op.options.get("keep_num_dims", False))
    if keep:
        xs: tuple[int, ...] = tuple(int(d) for d in x.shape)
        op.require(xs[-1] == depth, f"keep_num_dims needs the input's last dimension to be {depth}")
        want = xs[:-1] + (units,)
    else:
        want = (batches, units)
    op.require(tuple(y.shape) == want, f"output {y.describe()} should have shape {list(want)}")

    act = activation(op)
    # Per-tensor weights may be asymmetric: LiteRT applies -zero_point as weights_offset. Its
    # per-channel path assumes symmetric weights and ignores the zero points; so do we.
    w_scales = weight_scales(op, w, units, axis=0, zero_points="per_tensor" if w.scale.size == 1 else "ignore")
    w_zp = int(w.zero_point[0]) if w.scale.size == 1 and w.zero_point.size >= 1 else 0
    bias = bias_data(op, b, units)
    if bias is not None and w.scale.size == 1 and bias.scale.size == 1:
        # TFLite GetQuantizedConvolutionMultipler's consistency check of the bias scale.
        product = float(in_scale) * float(w_scales[0])
        op.require(abs(product - float(np.float32(bias.scale[0]))) / float(out_scale) <= 0.02,
                   f"bias scale {float(bias.scale[0])} does not match input scale x weights scale {product}")
    # The effective scales must also be representable as a fixed-point multiplier (TFLite's Prepare
    # computes those too and fails on them), so keep that check.
    channel_multipliers(op, in_scale, w_scales, out_scale)
    scales = np.concatenate([np.asarray([in_scale, out_scale], np.float32), w_scales.astype(np.float32)])
    lo, hi = act_range_checked(op, act, out_scale, out_zp)
    op.emit("FULLY_CONNECTED", [x, w, bias, None, None, op.const(scales, "requant_scales")], [y], {
        "input_offset": -in_zp, "filter_offset": -w_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi,
        "requant": 1,
    })
