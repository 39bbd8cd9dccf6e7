"""AVERAGE_POOL_2D and MAX_POOL_2D builders (int8, NHWC). Pooling does not
requantize: like LiteRT, the raw int8 average/maximum is written even when
the output's scale or zero point differ from the input's (converters never
produce that), and only the fused-activation clamp uses the output's
quantization. Emits the C record of csrc/include/ember/ops/pool_2d.h."""
from __future__ import annotations

from . import register
from .base import OpContext
from .nn_util import (act_range_checked, activation, check_spatial, int_option, out_size, pad_before,
                      padding, per_tensor_q, required_input, SPATIAL_LIMIT)


def _build_pool(op: OpContext, kernel: str) -> None:
    op.require(len(op.inputs) == 1, f"expected 1 input, got {len(op.inputs)}")
    op.require(len(op.outputs) == 1, f"expected 1 output, got {len(op.outputs)}")
    x, y = required_input(op, 0, "input"), op.outputs[0]
    per_tensor_q(op, x, "input")
    out_scale, out_zp = per_tensor_q(op, y, "output")
    op.require(len(x.shape) == 4 and all(d > 0 for d in x.shape), f"input {x.describe()} must be a non-empty NHWC tensor")
    op.require(len(y.shape) == 4, f"output {y.describe()} must have rank 4")
    n, h, w, c = x.shape
    pad = padding(op)
    act = activation(op)
    sh, sw = int_option(op, "stride_h", 0), int_option(op, "stride_w", 0)
    fh, fw = int_option(op, "filter_height", 0), int_option(op, "filter_width", 0)
    oh, ow = out_size(pad, h, fh, sh), out_size(pad, w, fw, sw)
    op.require(oh > 0 and ow > 0, f"window {fh}x{fw} does not fit input {h}x{w} with VALID padding")
    check_spatial(op, fh + 1, 1, sh, oh, "vertical")
    check_spatial(op, fw + 1, 1, sw, ow, "horizontal")
    op.require(h * w <= SPATIAL_LIMIT, f"input {h}x{w} has more than {SPATIAL_LIMIT} pixels per channel")
    op.require(tuple(y.shape) == (n, oh, ow, c),
               f"output {y.describe()} should have shape {[n, oh, ow, c]} for {pad} padding, stride {sh}x{sw}")
    lo, hi = act_range_checked(op, act, out_scale, out_zp)
    op.emit(kernel, [x], [y], {
        "stride_h": sh, "stride_w": sw, "filter_h": fh, "filter_w": fw,
        "pad_h": pad_before(sh, 1, h, fh, oh), "pad_w": pad_before(sw, 1, w, fw, ow),
        "act_min": lo, "act_max": hi,
    })


@register("AVERAGE_POOL_2D")
def build_average_pool_2d(op: OpContext) -> None:
    _build_pool(op, "AVERAGE_POOL_2D")


@register("MAX_POOL_2D")
def build_max_pool_2d(op: OpContext) -> None:
    _build_pool(op, "MAX_POOL_2D")
