"""Random single-op int8 TFLite models for kernel tests (built with runtime.tflite.writer).

Every builder takes a numpy Generator first and returns the model bytes. Quantization
parameters are random but plausible (outputs use a good part of the int8 range), weights are
per-channel symmetric in [-127, 127], biases int32 with scale in_scale * w_scale, as the TFLite
int8 spec requires. Extend freely: keep one function per op and keep them deterministic in rng.
"""
from __future__ import annotations

import math

import numpy as np

from runtime.tflite.writer import ModelBuilder


# ---- helpers -------------------------------------------------------------------------------
def qparams(rng, lo=0.005, hi=0.1):
    """A random (scale, zero_point) pair for an int8 activation."""
    return float(rng.uniform(lo, hi)), int(rng.integers(-40, 41))


def int8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def conv_out_size(n, k, stride, dilation, padding):
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return -(-n // stride)
    return (n - eff) // stride + 1


def _weights(rng, shape, channels_axis):
    w = rng.integers(-127, 128, size=shape).astype(np.int8)
    n = shape[channels_axis]
    w_scale = rng.uniform(0.002, 0.02, size=n).astype(np.float32)
    return w, w_scale


def _acc_out_scale(rng, in_scale, w_scale, k_elems):
    # accumulator std ~ sqrt(K) * 74 * 74 * s_in * s_w; aim at an output std of ~40 LSB
    return float(math.sqrt(k_elems) * 74 * 74 * in_scale * float(np.mean(w_scale)) / 40.0
                 * rng.uniform(0.7, 1.4))


def _bias(rng, in_scale, w_scale):
    bias = rng.integers(-2000, 2001, size=w_scale.shape).astype(np.int32)
    return bias, (np.float64(in_scale) * w_scale.astype(np.float64)).astype(np.float32)


# ---- conv family ---------------------------------------------------------------------------
def conv2d_model(rng, in_shape=(1, 8, 8, 3), out_c=4, k=(3, 3), stride=(1, 1), dilation=(1, 1),
                 padding="SAME", act="NONE", per_channel=True, bias=True):
    """bias=False writes an omitted (-1) bias input: valid TFLite, but LiteRT's int8 CONV_2D rejects it."""
    n, h, w_, c = in_shape
    kh, kw = k
    in_s, in_zp = qparams(rng)
    wq, w_scale = _weights(rng, (out_c, kh, kw, c), 0)
    if not per_channel:
        w_scale = np.full(out_c, w_scale[0], np.float32)
    out_s = _acc_out_scale(rng, in_s, w_scale, kh * kw * c)
    out_zp = int(rng.integers(-40, 41))
    oh = conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = conv_out_size(w_, kw, stride[1], dilation[1], padding)
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_s, zero_point=in_zp)
    wt = mb.add_tensor("filter", wq.shape, "int8", data=wq,
                       scale=w_scale if per_channel else w_scale[:1], zero_point=0, quantized_dimension=0)
    ins = [x, wt]
    if bias:
        bq, b_scale = _bias(rng, in_s, w_scale)
        ins.append(mb.add_tensor("bias", (out_c,), "int32", data=bq,
                                 scale=b_scale if per_channel else b_scale[:1], zero_point=0))
    else:
        ins.append(-1)
    y = mb.add_tensor("output", (n, oh, ow, out_c), "int8", scale=out_s, zero_point=out_zp)
    mb.add_operator("CONV_2D", ins, [y], {
        "padding": padding, "stride_h": stride[0], "stride_w": stride[1],
        "dilation_h_factor": dilation[0], "dilation_w_factor": dilation[1],
        "fused_activation_function": act})
    mb.set_io([x], [y])
    return mb.build()


def depthwise_conv2d_model(rng, in_shape=(1, 8, 8, 4), depth_multiplier=1, k=(3, 3), stride=(1, 1),
                           dilation=(1, 1), padding="SAME", act="NONE"):
    n, h, w_, c = in_shape
    kh, kw = k
    out_c = c * depth_multiplier
    in_s, in_zp = qparams(rng)
    wq, w_scale = _weights(rng, (1, kh, kw, out_c), 3)
    out_s = _acc_out_scale(rng, in_s, w_scale, kh * kw)
    out_zp = int(rng.integers(-40, 41))
    oh = conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = conv_out_size(w_, kw, stride[1], dilation[1], padding)
    bq, b_scale = _bias(rng, in_s, w_scale)
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_s, zero_point=in_zp)
    wt = mb.add_tensor("filter", wq.shape, "int8", data=wq, scale=w_scale, zero_point=0, quantized_dimension=3)
    b = mb.add_tensor("bias", (out_c,), "int32", data=bq, scale=b_scale, zero_point=0)
    y = mb.add_tensor("output", (n, oh, ow, out_c), "int8", scale=out_s, zero_point=out_zp)
    mb.add_operator("DEPTHWISE_CONV_2D", [x, wt, b], [y], {
        "padding": padding, "stride_h": stride[0], "stride_w": stride[1],
        "depth_multiplier": depth_multiplier, "dilation_h_factor": dilation[0],
        "dilation_w_factor": dilation[1], "fused_activation_function": act})
    mb.set_io([x], [y])
    return mb.build()


def fully_connected_model(rng, batch=1, in_features=16, units=8, act="NONE", per_channel=False,
                          bias=True, keep_num_dims=False, in_shape=None):
    in_shape = tuple(in_shape) if in_shape is not None else (batch, in_features)
    in_features = in_shape[-1]
    rows = int(np.prod(in_shape[:-1]))
    in_s, in_zp = qparams(rng)
    wq, w_scale = _weights(rng, (units, in_features), 0)
    if not per_channel:
        w_scale = np.full(units, w_scale[0], np.float32)
    out_s = _acc_out_scale(rng, in_s, w_scale, in_features)
    out_zp = int(rng.integers(-40, 41))
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_s, zero_point=in_zp)
    wt = mb.add_tensor("weights", wq.shape, "int8", data=wq,
                       scale=w_scale if per_channel else w_scale[:1], zero_point=0, quantized_dimension=0)
    ins = [x, wt]
    if bias:
        bq, b_scale = _bias(rng, in_s, w_scale)
        ins.append(mb.add_tensor("bias", (units,), "int32", data=bq,
                                 scale=b_scale if per_channel else b_scale[:1], zero_point=0))
    else:
        ins.append(-1)
    out_shape = in_shape[:-1] + (units,) if keep_num_dims else (rows, units)
    y = mb.add_tensor("output", out_shape, "int8", scale=out_s, zero_point=out_zp)
    mb.add_operator("FULLY_CONNECTED", ins, [y], {"fused_activation_function": act,
                                                  "keep_num_dims": keep_num_dims})
    mb.set_io([x], [y])
    return mb.build()


# ---- elementwise ---------------------------------------------------------------------------
def _binary_model(rng, op, shape_a, shape_b, act, out_scale_fn):
    sa, za = qparams(rng)
    sb, zb = qparams(rng)
    out_shape = np.broadcast_shapes(tuple(shape_a), tuple(shape_b))
    so, zo = out_scale_fn(sa, sb), int(rng.integers(-40, 41))
    mb = ModelBuilder()
    a = mb.add_tensor("a", shape_a, "int8", scale=sa, zero_point=za)
    b = mb.add_tensor("b", shape_b, "int8", scale=sb, zero_point=zb)
    y = mb.add_tensor("output", out_shape, "int8", scale=so, zero_point=zo)
    mb.add_operator(op, [a, b], [y], {"fused_activation_function": act})
    mb.set_io([a, b], [y])
    return mb.build()


def add_model(rng, shape_a=(1, 4, 4, 8), shape_b=(1, 4, 4, 8), act="NONE"):
    return _binary_model(rng, "ADD", shape_a, shape_b, act,
                         lambda sa, sb: (sa + sb) * float(rng.uniform(0.8, 1.3)))


def mul_model(rng, shape_a=(1, 4, 4, 8), shape_b=(1, 4, 4, 8), act="NONE"):
    return _binary_model(rng, "MUL", shape_a, shape_b, act,
                         lambda sa, sb: sa * sb * 128 * float(rng.uniform(0.5, 1.5)))


def _unary_model(rng, op, shape, out_q, options=None, out_dtype="int8", in_dtype="int8", in_q=None):
    in_s, in_zp = in_q if in_q is not None else qparams(rng, 0.01, 0.08)
    mb = ModelBuilder()
    x = mb.add_tensor("input", shape, in_dtype, **({} if in_dtype == "float32" else
                                                   {"scale": in_s, "zero_point": in_zp}))
    y = mb.add_tensor("output", shape, out_dtype, **({} if out_q is None else
                                                     {"scale": out_q[0], "zero_point": out_q[1]}))
    mb.add_operator(op, [x], [y], options)
    mb.set_io([x], [y])
    return mb.build()


def softmax_model(rng, shape=(1, 10), beta=1.0):
    return _unary_model(rng, "SOFTMAX", shape, (1.0 / 256, -128), {"beta": beta})


def logistic_model(rng, shape=(1, 16)):
    return _unary_model(rng, "LOGISTIC", shape, (1.0 / 256, -128))


def tanh_model(rng, shape=(1, 16)):
    return _unary_model(rng, "TANH", shape, (1.0 / 128, 0))


def quantize_model(rng, shape=(1, 16), from_float=True):
    """QUANTIZE float32 -> int8 (from_float) or int8 -> int8 requantization."""
    out_q = qparams(rng)
    if from_float:
        return _unary_model(rng, "QUANTIZE", shape, out_q, in_dtype="float32")
    return _unary_model(rng, "QUANTIZE", shape, out_q)


def dequantize_model(rng, shape=(1, 16)):
    return _unary_model(rng, "DEQUANTIZE", shape, None, out_dtype="float32")


# ---- pooling, shape and reduction ------------------------------------------------------------
def pool2d_model(rng, op="AVERAGE_POOL_2D", in_shape=(1, 8, 8, 4), k=(2, 2), stride=(2, 2),
                 padding="VALID", act="NONE"):
    n, h, w, c = in_shape
    s, zp = qparams(rng)
    oh = conv_out_size(h, k[0], stride[0], 1, padding)
    ow = conv_out_size(w, k[1], stride[1], 1, padding)
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=s, zero_point=zp)
    y = mb.add_tensor("output", (n, oh, ow, c), "int8", scale=s, zero_point=zp)
    mb.add_operator(op, [x], [y], {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                                   "filter_height": k[0], "filter_width": k[1],
                                   "fused_activation_function": act})
    mb.set_io([x], [y])
    return mb.build()


def reshape_model(rng, in_shape=(1, 4, 4, 2), new_shape=(1, 32)):
    s, zp = qparams(rng)
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=s, zero_point=zp)
    shp = mb.add_tensor("shape", (len(new_shape),), "int32", data=np.asarray(new_shape, np.int32))
    y = mb.add_tensor("output", new_shape, "int8", scale=s, zero_point=zp)
    mb.add_operator("RESHAPE", [x, shp], [y], {"new_shape": list(new_shape)})
    mb.set_io([x], [y])
    return mb.build()


def concatenation_model(rng, shapes=((1, 4, 4, 3), (1, 4, 4, 5)), axis=-1, act="NONE"):
    shapes = [tuple(s) for s in shapes]
    ax = axis % len(shapes[0])
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    mb = ModelBuilder()
    # LiteRT's int8 CONCATENATION requires every input to share the output's parameters
    s, zp = qparams(rng)
    ins = [mb.add_tensor(f"input{i}", shape, "int8", scale=s, zero_point=zp) for i, shape in enumerate(shapes)]
    y = mb.add_tensor("output", out_shape, "int8", scale=s, zero_point=zp)
    mb.add_operator("CONCATENATION", ins, [y], {"axis": axis, "fused_activation_function": act})
    mb.set_io(ins, [y])
    return mb.build()


def pad_model(rng, in_shape=(1, 4, 4, 3), paddings=((0, 0), (1, 1), (2, 0), (0, 0))):
    s, zp = qparams(rng)
    pads = np.asarray(paddings, np.int32)
    out_shape = [d + int(p[0]) + int(p[1]) for d, p in zip(in_shape, pads)]
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=s, zero_point=zp)
    p = mb.add_tensor("paddings", pads.shape, "int32", data=pads)
    y = mb.add_tensor("output", out_shape, "int8", scale=s, zero_point=zp)
    mb.add_operator("PAD", [x, p], [y], {})
    mb.set_io([x], [y])
    return mb.build()


def mean_model(rng, in_shape=(1, 4, 4, 8), axes=(1, 2), keep_dims=True, same_qparams=False):
    s, zp = qparams(rng)
    so, zo = (s, zp) if same_qparams else qparams(rng)
    axes_n = sorted(a % len(in_shape) for a in axes)
    out_shape = [1 if i in axes_n else d for i, d in enumerate(in_shape)] if keep_dims else \
        [d for i, d in enumerate(in_shape) if i not in axes_n]
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=s, zero_point=zp)
    a = mb.add_tensor("axes", (len(axes),), "int32", data=np.asarray(axes, np.int32))
    y = mb.add_tensor("output", out_shape, "int8", scale=so, zero_point=zo)
    mb.add_operator("MEAN", [x, a], [y], {"keep_dims": keep_dims})
    mb.set_io([x], [y])
    return mb.build()


# ---- elementwise / shape ops with explicit quantization (kernels-elem tests) ----------------
def unary_model_q(op, shape, in_q, out_q, options=None, in_dtype="int8", out_dtype="int8", out_shape=None):
    """One-input op; in_q / out_q are (scale, zero_point) or None for float tensors."""
    mb = ModelBuilder()
    x = mb.add_tensor("input", shape, in_dtype, **({} if in_q is None else
                                                   {"scale": in_q[0], "zero_point": in_q[1]}))
    y = mb.add_tensor("output", shape if out_shape is None else out_shape, out_dtype,
                      **({} if out_q is None else {"scale": out_q[0], "zero_point": out_q[1]}))
    mb.add_operator(op, [x], [y], options)
    mb.set_io([x], [y])
    return mb.build()


def binary_model_q(op, shape_a, shape_b, qa, qb, qo, act="NONE"):
    """ADD / MUL with given (scale, zero_point) for both inputs and the output."""
    out_shape = np.broadcast_shapes(tuple(shape_a), tuple(shape_b))
    mb = ModelBuilder()
    a = mb.add_tensor("a", shape_a, "int8", scale=qa[0], zero_point=qa[1])
    b = mb.add_tensor("b", shape_b, "int8", scale=qb[0], zero_point=qb[1])
    y = mb.add_tensor("output", out_shape, "int8", scale=qo[0], zero_point=qo[1])
    mb.add_operator(op, [a, b], [y], {"fused_activation_function": act})
    mb.set_io([a, b], [y])
    return mb.build()


def mean_model_q(in_shape, axes, keep_dims, in_q, out_q):
    nd = len(in_shape)
    red = {a % nd for a in axes}
    out_shape = [1 if i in red else d for i, d in enumerate(in_shape)] if keep_dims else \
        [d for i, d in enumerate(in_shape) if i not in red]
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_q[0], zero_point=in_q[1])
    a = mb.add_tensor("axes", (len(axes),), "int32", data=np.asarray(axes, np.int32))
    y = mb.add_tensor("output", out_shape, "int8", scale=out_q[0], zero_point=out_q[1])
    mb.add_operator("MEAN", [x, a], [y], {"keep_dims": keep_dims})
    mb.set_io([x], [y])
    return mb.build()


def squeeze_model(in_shape, squeeze_dims=None, q=(0.05, 3)):
    nd = len(in_shape)
    if squeeze_dims:
        drop = {d % nd for d in squeeze_dims}
        out_shape = [s for i, s in enumerate(in_shape) if i not in drop]
    else:
        out_shape = [s for s in in_shape if s != 1]
    return unary_model_q("SQUEEZE", in_shape, q, q,
                         {"squeeze_dims": list(squeeze_dims)} if squeeze_dims else None, out_shape=out_shape)


def expand_dims_model(in_shape, axis, q=(0.05, 3)):
    nd = len(in_shape)
    ax = axis + nd + 1 if axis < 0 else axis
    out_shape = list(in_shape[:ax]) + [1] + list(in_shape[ax:])
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=q[0], zero_point=q[1])
    a = mb.add_tensor("axis", (1,), "int32", data=np.asarray([axis], np.int32))
    y = mb.add_tensor("output", out_shape, "int8", scale=q[0], zero_point=q[1])
    mb.add_operator("EXPAND_DIMS", [x, a], [y], {})
    mb.set_io([x], [y])
    return mb.build()
