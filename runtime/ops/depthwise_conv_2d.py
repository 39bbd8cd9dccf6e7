"""DEPTHWISE_CONV_2D builder: int8 input/output, int8 symmetric 1HWC weights
(per-channel along dimension 3, or per-tensor), optional int32 bias,
depth_multiplier = output channels / input channels (the option is ignored, as
LiteRT ignores it). Emits the C record of
csrc/include/ember/ops/depthwise_conv_2d.h."""
from __future__ import annotations

from . import register
from .base import OpContext
from .nn_util import act_range_checked, bias_data, channel_multipliers, conv_operands, conv_window, weight_scales


@register("DEPTHWISE_CONV_2D")
def build_depthwise_conv_2d(op: OpContext) -> None:
    o = conv_operands(op)
    c = o.x.shape[3]
    one, kh, kw, oc = o.w.shape
    op.require(one == 1, f"filter {o.w.describe()} must have shape [1, kh, kw, channels]")
    op.require(oc % c == 0, f"filter channels {oc} are not a multiple of the input channels {c}")
    # LiteRT derives the multiplier from the shapes and ignores the (redundant) option.
    dm = oc // c
    act, window = conv_window(op, o.x, o.y, kh, kw, oc)

    # LiteRT's int8 depthwise kernel assumes symmetric weights and ignores their zero points.
    w_scales = weight_scales(op, o.w, oc, axis=3, zero_points="ignore")
    bias = bias_data(op, o.b, oc)
    mult, shift = channel_multipliers(op, o.in_scale, w_scales, o.out_scale)
    lo, hi = act_range_checked(op, act, o.out_scale, o.out_zp)
    op.emit("DEPTHWISE_CONV_2D", [o.x, o.w, bias, op.const(mult, "multipliers"), op.const(shift, "shifts")], [o.y], {
        **window, "depth_multiplier": dm, "input_offset": -o.in_zp, "output_offset": o.out_zp,
        "act_min": lo, "act_max": hi,
    })
