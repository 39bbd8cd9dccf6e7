"""Single-op int8 models for the CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED /
pooling / PAD oracle tests, with every quantization parameter controllable
(zero points at the int8 extremes, per-tensor weights, absent bias), plus the
shared check: Ember's output equals LiteRT BUILTIN_REF's on random inputs.
Built with runtime.tflite.writer; tests/models.py has the simpler defaults."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from runtime.tflite.writer import ModelBuilder
from tests.models import conv_out_size


def _q(rng, q):
    if q is None:
        return float(rng.uniform(0.005, 0.1)), int(rng.integers(-40, 41))
    return float(q[0]), int(q[1])


def _out_scale(rng, in_s, w_scale, k):
    return float(math.sqrt(k) * 74 * 74 * in_s * float(np.mean(w_scale)) / 40.0 * rng.uniform(0.6, 1.6))


def _weights(rng, shape, n):
    w = rng.integers(-127, 128, size=shape).astype(np.int8)
    return w, rng.uniform(0.002, 0.02, size=n).astype(np.float32)


def _add_bias(mb, rng, bias, in_s, w_scale, per_channel, n):
    if not bias:
        return -1
    bq = np.zeros(n, np.int32) if bias == "zero" else rng.integers(-3000, 3001, size=n).astype(np.int32)
    b_scale = (np.float64(np.float32(in_s)) * w_scale.astype(np.float64)).astype(np.float32)
    return mb.add_tensor("bias", (n,), "int32", data=bq, scale=b_scale if per_channel else b_scale[:1], zero_point=0)


def _conv_like(rng, op, in_shape, w_shape, out_c, taps, stride, dilation, padding, act, per_channel, bias,
               in_q, out_q, w_zp, quantized_dimension, options):
    """CONV_2D / DEPTHWISE_CONV_2D model: filter of w_shape ([.., kh, kw, ..]), `taps` products per output
    (for the default output scale), op-specific `options` between the strides and the dilations."""
    n, h, w_, _ = in_shape
    kh, kw = w_shape[1], w_shape[2]
    in_s, in_zp = _q(rng, in_q)
    wq, w_scale = _weights(rng, w_shape, out_c)
    if not per_channel:
        w_scale = np.full(out_c, w_scale[0], np.float32)
    out_s = _out_scale(rng, in_s, w_scale, taps) if out_q is None else out_q[0]
    out_zp = int(rng.integers(-40, 41)) if out_q is None else out_q[1]
    oh = conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = conv_out_size(w_, kw, stride[1], dilation[1], padding)
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_s, zero_point=in_zp)
    wt = mb.add_tensor("filter", wq.shape, "int8", data=wq, scale=w_scale if per_channel else w_scale[:1],
                       zero_point=w_zp, quantized_dimension=quantized_dimension)
    b = _add_bias(mb, rng, bias, in_s, w_scale, per_channel, out_c)
    y = mb.add_tensor("output", (n, oh, ow, out_c), "int8", scale=out_s, zero_point=out_zp)
    mb.add_operator(op, [x, wt, b], [y], {
        "padding": padding, "stride_h": stride[0], "stride_w": stride[1], **options,
        "dilation_h_factor": dilation[0], "dilation_w_factor": dilation[1], "fused_activation_function": act})
    mb.set_io([x], [y])
    return mb.build()


def conv(rng, in_shape=(1, 8, 8, 3), out_c=4, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding="SAME",
         act="NONE", per_channel=True, bias=True, in_q=None, out_q=None, groups=1):
    kh, kw = k
    fc = in_shape[3] // groups
    return _conv_like(rng, "CONV_2D", in_shape, (out_c, kh, kw, fc), out_c, kh * kw * fc, stride, dilation,
                      padding, act, per_channel, bias, in_q, out_q, 0, 0, {})


def depthwise(rng, in_shape=(1, 8, 8, 4), depth_multiplier=1, k=(3, 3), stride=(1, 1), dilation=(1, 1),
              padding="SAME", act="NONE", per_channel=True, bias=True, in_q=None, out_q=None, w_zp=0,
              dm_option=None):
    """dm_option: the depth_multiplier option written to the file (default: the real one)."""
    kh, kw = k
    out_c = in_shape[3] * depth_multiplier
    options = {"depth_multiplier": depth_multiplier if dm_option is None else dm_option}
    return _conv_like(rng, "DEPTHWISE_CONV_2D", in_shape, (1, kh, kw, out_c), out_c, kh * kw, stride, dilation,
                      padding, act, per_channel, bias, in_q, out_q, w_zp, 3, options)


def draw_conv_geometry(draw):
    """Hypothesis draws for the random CONV_2D / DEPTHWISE_CONV_2D tests: (h, w, c, (kh, kw), stride,
    dilation, padding), VALID only where the dilated filter fits."""
    h, w, c = draw(st.integers(1, 10)), draw(st.integers(1, 10)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID" and ((kh - 1) * dilation[0] + 1 > h or (kw - 1) * dilation[1] + 1 > w):
        padding = "SAME"
    return h, w, c, (kh, kw), stride, dilation, padding


def fully_connected(rng, in_shape=(1, 16), units=8, act="NONE", per_channel=False, bias=True,
                    keep_num_dims=False, in_q=None, out_q=None, w_zp=0, depth=None):
    """w_zp: weights zero point (full int8 range when nonzero). depth: the weights' depth when
    it differs from the input's last dimension (TFLite reshapes the input to [-1, depth])."""
    in_shape = tuple(in_shape)
    depth = in_shape[-1] if depth is None else depth
    rows = int(np.prod(in_shape)) // depth
    in_s, in_zp = _q(rng, in_q)
    wq, w_scale = _weights(rng, (units, depth), units)
    if not per_channel:
        w_scale = np.full(units, w_scale[0], np.float32)
    out_s = _out_scale(rng, in_s, w_scale, depth) if out_q is None else out_q[0]
    out_zp = int(rng.integers(-40, 41)) if out_q is None else out_q[1]
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_s, zero_point=in_zp)
    if w_zp:
        wq = rng.integers(-128, 128, size=wq.shape).astype(np.int8)
    wt = mb.add_tensor("weights", wq.shape, "int8", data=wq, scale=w_scale if per_channel else w_scale[:1],
                       zero_point=w_zp, quantized_dimension=0)
    b = _add_bias(mb, rng, bias, in_s, w_scale, per_channel, units)
    out_shape = in_shape[:-1] + (units,) if keep_num_dims else (rows, units)
    y = mb.add_tensor("output", out_shape, "int8", scale=out_s, zero_point=out_zp)
    mb.add_operator("FULLY_CONNECTED", [x, wt, b], [y], {"fused_activation_function": act,
                                                         "keep_num_dims": keep_num_dims})
    mb.set_io([x], [y])
    return mb.build()


def pool(rng, op="AVERAGE_POOL_2D", in_shape=(1, 8, 8, 4), k=(2, 2), stride=(2, 2), padding="VALID",
         act="NONE", q=None, out_q=None):
    """out_q: output (scale, zero point) when it should differ from the input's."""
    n, h, w, c = in_shape
    s, zp = _q(rng, q)
    so, zo = (s, zp) if out_q is None else out_q
    oh = conv_out_size(h, k[0], stride[0], 1, padding)
    ow = conv_out_size(w, k[1], stride[1], 1, padding)
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=s, zero_point=zp)
    y = mb.add_tensor("output", (n, oh, ow, c), "int8", scale=so, zero_point=zo)
    mb.add_operator(op, [x], [y], {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                                   "filter_height": k[0], "filter_width": k[1], "fused_activation_function": act})
    mb.set_io([x], [y])
    return mb.build()


def pad(rng, in_shape=(1, 4, 4, 3), paddings=((0, 0), (1, 1), (2, 0), (0, 0)), q=None, constant=None,
        pads_dtype="int32"):
    """PAD, or PADV2 when constant (an int8 value) is given."""
    s, zp = _q(rng, q)
    pads = np.asarray(paddings, pads_dtype).reshape(len(in_shape), 2)
    out_shape = [d + int(a) + int(b) for d, (a, b) in zip(in_shape, pads)]
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=s, zero_point=zp)
    p = mb.add_tensor("paddings", pads.shape, pads_dtype, data=pads)
    y = mb.add_tensor("output", out_shape, "int8", scale=s, zero_point=zp)
    ins = [x, p]
    if constant is not None:
        ins.append(mb.add_tensor("constant", (1,), "int8", data=np.asarray([constant], np.int8), scale=s,
                                 zero_point=zp))
    mb.add_operator("PADV2" if constant is not None else "PAD", ins, [y], {})
    mb.set_io([x], [y])
    return mb.build()


def random_inputs(rng, shape, n=2):
    """n int8 arrays: uniform, then one with the extremes -128/127 mixed in."""
    out = []
    for i in range(n):
        x = rng.integers(-128, 128, size=shape).astype(np.int8)
        if i % 2 == 1:
            x[rng.random(shape) < 0.3] = -128
            x[rng.random(shape) < 0.3] = 127
        out.append(x)
    return out


def _isas():
    from runtime import _core

    return list(_core.available_isas()) if hasattr(_core, "available_isas") else [None]


def assert_matches_litert(model_bytes, rng, n_inputs=2):
    """Ember (runtime.load) vs LiteRT BUILTIN_REF: 0 differences required, for
    every kernel path this CPU can run (each ISA, 1 and 3 threads)."""
    import runtime
    from runtime import _core
    from tests.oracle import litert_ref

    models = []
    before = _core.isa() if hasattr(_core, "isa") else None
    try:
        for isa in _isas():
            if isa is not None:
                _core.set_isa(isa)
            models.append((f"isa={isa}", runtime.load(model_bytes)))
            models.append((f"isa={isa} threads=3", runtime.load(model_bytes, num_threads=3)))
    finally:
        if before is not None:
            _core.set_isa(before)
    shape = tuple(models[0][1].inputs[0].shape)
    for x in random_inputs(rng, shape, n_inputs):
        want = litert_ref(model_bytes, [x])[0]
        for label, m in models:
            got = m.infer(x)
            assert got.dtype == want.dtype and got.shape == want.shape, (label, got.shape, want.shape)
            diff = np.flatnonzero(got.astype(np.int32) != want.astype(np.int32))
            assert diff.size == 0, (f"{label}: {diff.size} of {want.size} values differ; first at {diff[0]}: "
                                    f"ember {got.reshape(-1)[diff[0]]} litert {want.reshape(-1)[diff[0]]}")
