"""DEPTHWISE_CONV_2D builder: int8 input/output, int8 symmetric 1HWC weights
(per-channel along dimension 3, or per-tensor), optional int32 bias,
depth_multiplier = output channels / input channels (the option is ignored, as
LiteRT ignores it). Emits the C record of
csrc/include/ember/ops/depthwise_conv_2d.h."""
from __future__ import annotations

from . import register
from .base import OpContext
from .nn_util import (act_range_checked, activation, bias_data, channel_multipliers, check_spatial,
                      const_weights, int_option, optional_input, out_size, pad_before, padding, per_tensor_q,
                      required_input, weight_scales)


@register("DEPTHWISE_CONV_2D")
def build_depthwise_conv_2d(op: OpContext) -> None:
    op.require(len(op.inputs) in (2, 3), f"expected 2 or 3 inputs, got {len(op.inputs)}")
    op.require(len(op.outputs) == 1, f"expected 1 output, got {len(op.outputs)}")
    x = required_input(op, 0, "input")
    w = required_input(op, 1, "weights" if "FULLY" in op.name else "filter")
    b = optional_input(op, 2)
    y = op.outputs[0]
    in_scale, in_zp = per_tensor_q(op, x, "input")
    out_scale, out_zp = per_tensor_q(op, y, "output")
    op.require(len(x.shape) == 4 and all(d > 0 for d in x.shape), f"input {x.describe()} must be a non-empty NHWC tensor")
    op.require(len(y.shape) == 4, f"output {y.describe()} must have rank 4")
    const_weights(op, w, 4)
    n, h, wd, c = x.shape
    one, kh, kw, oc = w.shape
    op.require(one == 1, f"filter {w.describe()} must have shape [1, kh, kw, channels]")
    op.require(oc % c == 0, f"filter channels {oc} are not a multiple of the input channels {c}")
    # LiteRT derives the multiplier from the shapes and ignores the (redundant) option.
    dm = oc // c

    pad = padding(op)
    act = activation(op)
    sh, sw = int_option(op, "stride_h", 0), int_option(op, "stride_w", 0)
    dh, dw = int_option(op, "dilation_h_factor", 1), int_option(op, "dilation_w_factor", 1)
    oh, ow = out_size(pad, h, kh, sh, dh), out_size(pad, wd, kw, sw, dw)
    op.require(oh > 0 and ow > 0, f"filter {kh}x{kw} (dilation {dh}x{dw}) does not fit input {h}x{wd} with VALID padding")
    check_spatial(op, kh, dh, sh, oh, "vertical")
    check_spatial(op, kw, dw, sw, ow, "horizontal")
    op.require(tuple(y.shape) == (n, oh, ow, oc),
               f"output {y.describe()} should have shape {[n, oh, ow, oc]} for {pad} padding, stride {sh}x{sw}")

    # LiteRT's int8 depthwise kernel assumes symmetric weights and ignores their zero points.
    w_scales = weight_scales(op, w, oc, axis=3, zero_points="ignore")
    bias = bias_data(op, b, oc)
    mult, shift = channel_multipliers(op, in_scale, w_scales, out_scale)
    lo, hi = act_range_checked(op, act, out_scale, out_zp)
    op.emit("DEPTHWISE_CONV_2D", [x, w, bias, op.const(mult, "multipliers"), op.const(shift, "shifts")], [y], {
        "stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw,
        "pad_h": pad_before(sh, dh, h, kh, oh), "pad_w": pad_before(sw, dw, wd, kw, ow),
        "depth_multiplier": dm, "input_offset": -in_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi,
    })
