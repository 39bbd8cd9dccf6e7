"""Checks and TFLite Prepare arithmetic shared by the builders of CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED, the pools and PAD.

Everything here mirrors a TFLite helper exactly (tensorflow/lite/kernels/
padding.h, kernel_util.cc) because the parameters it computes are baked into
the plan and must equal what LiteRT's Prepare computes, bit for bit.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np

from .. import quant
from .base import OpContext, Tensor

_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_PADDINGS = {0: "SAME", 1: "VALID"}
SUPPORTED_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def required_input(op: OpContext, index: int, what: str) -> Tensor:
    """Input `index` of the operator, failing when it is absent."""
    t = op.inputs[index] if index < len(op.inputs) else None
    if t is None:
        op.fail(f"missing {what} (input {index})")
    return t


def optional_input(op: OpContext, index: int) -> Optional[Tensor]:
    return op.inputs[index] if index < len(op.inputs) else None


def option_enum(op: OpContext, key: str, default: str, names: dict) -> str:
    v = op.options.get(key, default)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = names.get(int(v), str(v))
    return str(v)


def activation(op: OpContext) -> str:
    act = option_enum(op, "fused_activation_function", "NONE", _ACTIVATIONS)
    op.require(act in SUPPORTED_ACTIVATIONS, f"unsupported fused activation {act}")
    return act


def padding(op: OpContext) -> str:
    pad = option_enum(op, "padding", "SAME", _PADDINGS)
    op.require(pad in ("SAME", "VALID"), f"unsupported padding {pad}")
    return pad


def int_option(op: OpContext, key: str, default: int, lo: int = 1, hi: int = 1 << 16) -> int:
    v = op.options.get(key, default)
    op.require(isinstance(v, (int, np.integer)) and not isinstance(v, bool), f"option {key} is {v!r}, not an integer")
    v = int(v)
    op.require(lo <= v <= hi, f"option {key} = {v} outside [{lo}, {hi}]")
    return v


def f32(x) -> float:
    """A scale as the float32 TFLite stores (and computes with)."""
    return float(np.float32(x))


def per_tensor_q(op: OpContext, t: Tensor, what: str) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor int8 activation; fails otherwise."""
    op.require(t.dtype == "int8", f"{what} {t.describe()} must be int8")
    op.require(t.scale.size == 1 and t.zero_point.size == 1,
               f"{what} {t.describe()} needs per-tensor quantization (scale/zero point), got "
               f"{t.scale.size} scales and {t.zero_point.size} zero points")
    scale = f32(t.scale[0])
    zp = int(t.zero_point[0])
    op.require(math.isfinite(scale) and scale > 0, f"{what} {t.describe()} has invalid scale {scale}")
    op.require(-128 <= zp <= 127, f"{what} {t.describe()} has zero point {zp} outside int8")
    return scale, zp


def act_range_checked(op: OpContext, act: str, scale: float, zp: int) -> tuple[int, int]:
    lo, hi = quant.activation_range(act, scale, zp)  # float32 arithmetic, as TFLite
    op.require(lo <= hi, f"fused {act} with output scale {scale} and zero point {zp} leaves an empty range")
    return lo, hi


def out_size(padding_: str, image: int, filt: int, stride: int, dilation: int = 1) -> int:
    """TFLite ComputeOutSize."""
    eff = (filt - 1) * dilation + 1
    if padding_ == "SAME":
        return (image + stride - 1) // stride
    return (image + stride - eff) // stride


SPATIAL_LIMIT = 1 << 28  # EMBER_SPATIAL_LIMIT in csrc/include/ember/ops/nhwc.h


def check_spatial(op: OpContext, filt: int, dilation: int, stride: int, out: int, what: str) -> None:
    """The C kernels' bound on (filter - 1) * dilation + (out - 1) * stride."""
    span = (filt - 1) * dilation + (out - 1) * stride
    op.require(span <= SPATIAL_LIMIT, f"{what} span {span} (filter {filt}, dilation {dilation}, stride {stride}, "
                                      f"{out} outputs) exceeds {SPATIAL_LIMIT}")


def pad_before(stride: int, dilation: int, image: int, filt: int, out: int) -> int:
    """TFLite ComputePaddingWithOffset's leading (top/left) padding."""
    eff = (filt - 1) * dilation + 1
    total = (out - 1) * stride + eff - image
    return max(total, 0) // 2


def const_weights(op: OpContext, w: Tensor, rank: int, what: str = "filter") -> np.ndarray:
    op.require(w.dtype == "int8", f"{what} {w.describe()} must be int8 (got {w.dtype})")
    op.require(w.is_const, f"{what} {w.describe()} must be a constant")
    op.require(len(w.shape) == rank, f"{what} {w.describe()} must have rank {rank}")
    op.require(all(d > 0 for d in w.shape), f"{what} {w.describe()} has an empty dimension")
    return np.asarray(w.data)


def weight_scales(op: OpContext, w: Tensor, channels: int, axis: int, allow_per_channel: bool = True,
                  zero_points: str = "reject") -> np.ndarray:
    """Per-output-channel float32 weight scales (broadcast when per-tensor).

    zero_points says what nonzero weight zero points do, following LiteRT per op:
    "reject" (CONV_2D fails on them), "ignore" (DEPTHWISE_CONV_2D and per-channel
    FULLY_CONNECTED compute as if they were 0) or "per_tensor" (per-tensor
    FULLY_CONNECTED applies it as weights_offset; the caller reads it)."""
    n = w.scale.size
    op.require(n >= 1, f"filter {w.describe()} is not quantized")
    op.require(n == 1 or (allow_per_channel and n == channels),
               f"filter {w.describe()} has {n} scales, expected 1" + (f" or {channels}" if allow_per_channel else ""))
    if n > 1:
        op.require(w.quantized_dimension == axis,
                   f"filter {w.describe()} is quantized along dimension {w.quantized_dimension}, expected {axis}")
    op.require(w.zero_point.size in (0, 1, n), f"filter {w.describe()} has {w.zero_point.size} zero points for {n} scales")
    if zero_points == "reject":
        op.require(bool(np.all(w.zero_point == 0)),
                   f"filter {w.describe()} must have zero point 0 (symmetric int8 weights)")
    op.require(bool(np.all((w.zero_point >= -128) & (w.zero_point <= 127))),
               f"filter {w.describe()} has a zero point outside int8")
    s = np.asarray(w.scale, np.float64).astype(np.float32)
    op.require(bool(np.all(np.isfinite(s))) and bool(np.all(s > 0)), f"filter {w.describe()} has a non-positive scale")
    return np.broadcast_to(s, (channels,)) if n == 1 else s


def bias_data(op: OpContext, b: Optional[Tensor], channels: int) -> Optional[Tensor]:
    """The optional int32 bias (None when absent)."""
    if b is None:
        return None
    op.require(b.dtype == "int32", f"bias {b.describe()} must be int32 (got {b.dtype})")
    op.require(b.is_const, f"bias {b.describe()} must be a constant")
    op.require(b.size == channels and len(b.shape) == 1, f"bias {b.describe()} must have shape [{channels}]")
    op.require(b.zero_point.size == 0 or bool(np.all(b.zero_point == 0)), f"bias {b.describe()} must have zero point 0")
    return b


def channel_multipliers(op: OpContext, in_scale: float, w_scales: np.ndarray, out_scale: float):
    """TFLite PopulateConvolutionQuantizationParams: per channel
    QuantizeMultiplier((double)in_scale * (double)w_scale / (double)out_scale)."""
    mult = np.empty(len(w_scales), np.int32)
    shift = np.empty(len(w_scales), np.int32)
    for i, ws in enumerate(w_scales):
        real = float(in_scale) * float(ws) / float(out_scale)
        try:
            m, s = quant.quantize_multiplier(real)
        except ValueError as e:
            op.fail(f"channel {i}: effective scale {real!r} cannot be requantized ({e})")
        mult[i], shift[i] = m, s
    return mult, shift


class NnOperands(NamedTuple):
    """The operands of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operator."""
    x: Tensor
    w: Tensor
    b: Optional[Tensor]
    y: Tensor
    in_scale: float
    in_zp: int
    out_scale: float
    out_zp: int


def nn_operands(op: OpContext, weights: str) -> NnOperands:
    """Input, weights (named `weights` in messages), optional bias and output, with the
    per-tensor int8 quantization of input and output."""
    op.require(len(op.inputs) in (2, 3), f"expected 2 or 3 inputs, got {len(op.inputs)}")
    op.require(len(op.outputs) == 1, f"expected 1 output, got {len(op.outputs)}")
    x = required_input(op, 0, "input")
    w = required_input(op, 1, weights)
    b = optional_input(op, 2)
    y = op.outputs[0]
    in_scale, in_zp = per_tensor_q(op, x, "input")
    out_scale, out_zp = per_tensor_q(op, y, "output")
    return NnOperands(x, w, b, y, in_scale, in_zp, out_scale, out_zp)


def conv_operands(op: OpContext) -> NnOperands:
    """nn_operands of CONV_2D / DEPTHWISE_CONV_2D: NHWC input and output, constant rank-4 int8 filter."""
    o = nn_operands(op, "filter")
    op.require(len(o.x.shape) == 4 and all(d > 0 for d in o.x.shape),
               f"input {o.x.describe()} must be a non-empty NHWC tensor")
    op.require(len(o.y.shape) == 4, f"output {o.y.describe()} must have rank 4")
    const_weights(op, o.w, 4)
    return o


def conv_window(op: OpContext, x: Tensor, y: Tensor, kh: int, kw: int, oc: int) -> tuple[str, dict]:
    """Padding, activation, strides and dilations of CONV_2D / DEPTHWISE_CONV_2D: checks the
    output shape [n, oh, ow, oc]; returns the activation and the record's window parameters
    (stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w)."""
    n, h, wd, _ = x.shape
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
    return act, {
        "stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw,
        "pad_h": pad_before(sh, dh, h, kh, oh), "pad_w": pad_before(sw, dw, wd, kw, ow),
    }
