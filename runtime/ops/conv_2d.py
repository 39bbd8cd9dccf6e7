"""CONV_2D builder: int8 input/output, int8 symmetric (per-channel or
per-tensor) OHWI weights, optional int32 bias, grouped convolution when the
input has a multiple of the filter's channels. Emits the C record of
csrc/include/ember/ops/conv_2d.h."""
from __future__ import annotations

from . import register
from .base import OpContext
from .nn_util import act_range_checked, bias_data, channel_multipliers, conv_operands, conv_window, weight_scales


@register("CONV_2D")
def build_conv_2d(op: OpContext) -> None:
    o = conv_operands(op)
    c = o.x.shape[3]
    oc, kh, kw, fc = o.w.shape
    op.require(c % fc == 0, f"input channels {c} are not a multiple of the filter's {fc}")
    groups = c // fc
    op.require(oc % groups == 0, f"{oc} filters cannot be split into {groups} groups")
    act, window = conv_window(op, o.x, o.y, kh, kw, oc)

    w_scales = weight_scales(op, o.w, oc, axis=0)
    bias = bias_data(op, o.b, oc)
    mult, shift = channel_multipliers(op, o.in_scale, w_scales, o.out_scale)
    lo, hi = act_range_checked(op, act, o.out_scale, o.out_zp)
    op.emit("CONV_2D", [o.x, o.w, bias, op.const(mult, "multipliers"), op.const(shift, "shifts")], [o.y], {
        **window, "input_offset": -o.in_zp, "output_offset": o.out_zp, "act_min": lo, "act_max": hi,
    })
