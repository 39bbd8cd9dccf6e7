"""Bad CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / pool / PAD operators
and executor records: each must fail at load with a ModelError that says what
is wrong (builders in runtime/ops, adapters in csrc/<op>/op.c)."""
from __future__ import annotations

import numpy as np
import pytest

import runtime
from runtime import _core
from runtime.errors import ModelError
from runtime.tflite.writer import ModelBuilder


def _conv(w_zp=0, bias_dtype="int32", out_shape=(1, 4, 4, 2), act="NONE", const_filter=True, in_dtype="int8",
          stride=1, filter_scales=None, op="CONV_2D", w_shape=(2, 3, 3, 3), in_shape=(1, 4, 4, 3), extra=None):
    mb = ModelBuilder()
    q = {} if in_dtype == "float32" else {"scale": 0.05, "zero_point": 1}
    x = mb.add_tensor("input", in_shape, in_dtype, **q)
    n = w_shape[0] if op == "CONV_2D" else w_shape[3]
    scales = filter_scales if filter_scales is not None else np.full(n, 0.01, np.float32)
    wdata = np.ones(w_shape, np.int8) if const_filter else None
    wt = mb.add_tensor("filter", w_shape, "int8", data=wdata, scale=scales, zero_point=w_zp,
                       quantized_dimension=0 if op == "CONV_2D" else 3)
    b = mb.add_tensor("bias", (n,), bias_dtype, data=np.zeros(n, bias_dtype), scale=0.0005, zero_point=0)
    y = mb.add_tensor("output", out_shape, "int8", scale=0.1, zero_point=-3)
    opts = {"padding": "SAME", "stride_h": stride, "stride_w": stride, "fused_activation_function": act}
    opts.update(extra or {})
    mb.add_operator(op, [x, wt, b], [y], opts)
    mb.set_io([x] if const_filter else [x, wt], [y])
    return mb.build()


@pytest.mark.parametrize("kwargs,match", [
    ({"w_zp": 3}, "zero point 0"),
    ({"bias_dtype": "int64"}, "bias .* must be int32"),
    ({"out_shape": (1, 4, 4, 3)}, r"should have shape \[1, 4, 4, 2\]"),
    ({"out_shape": (1, 2, 2, 2)}, "should have shape"),
    ({"act": "TANH"}, "unsupported fused activation TANH"),
    ({"const_filter": False}, "must be a constant"),
    ({"stride": 0}, r"stride_h = 0 outside"),
    ({"filter_scales": np.array([0.01, 0.0], np.float32)}, "scale"),
    ({"w_shape": (2, 3, 3, 2)}, "not a multiple"),
    ({"filter_scales": np.array([1e12, 1e12], np.float32)}, "cannot be requantized"),
])
def test_conv_rejects(kwargs, match):
    with pytest.raises(ModelError, match=match):
        runtime.load(_conv(**kwargs))


def test_conv_float_model_rejected():
    mb = ModelBuilder()
    x = mb.add_tensor("input", (1, 4, 4, 3), "float32")
    wt = mb.add_tensor("filter", (2, 3, 3, 3), "float32", data=np.ones((2, 3, 3, 3), np.float32))
    y = mb.add_tensor("output", (1, 4, 4, 2), "float32")
    mb.add_operator("CONV_2D", [x, wt], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    mb.set_io([x], [y])
    with pytest.raises(ModelError, match="must be int8"):
        runtime.load(mb.build())


@pytest.mark.parametrize("kwargs,match", [
    ({"w_shape": (1, 3, 3, 4), "in_shape": (1, 4, 4, 3), "out_shape": (1, 4, 4, 4)}, "not a multiple"),
    ({"w_shape": (2, 3, 3, 3), "in_shape": (1, 4, 4, 3), "out_shape": (1, 4, 4, 3)}, r"shape \[1, kh, kw"),
])
def test_depthwise_rejects(kwargs, match):
    with pytest.raises(ModelError, match=match):
        runtime.load(_conv(op="DEPTHWISE_CONV_2D", **kwargs))


def _fc(in_shape=(1, 10), w_shape=(4, 10), out_shape=(1, 4), scales=None, keep=False, weights_format=None):
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=0.05, zero_point=0)
    s = scales if scales is not None else 0.01
    wt = mb.add_tensor("weights", w_shape, "int8", data=np.ones(w_shape, np.int8), scale=s, zero_point=0)
    y = mb.add_tensor("output", out_shape, "int8", scale=0.1, zero_point=0)
    opts = {"keep_num_dims": keep}
    if weights_format is not None:
        opts["weights_format"] = weights_format
    mb.add_operator("FULLY_CONNECTED", [x, wt, -1], [y], opts)
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("kwargs,match", [
    ({"in_shape": (1, 9)}, "not a multiple"),
    ({"out_shape": (1, 5)}, r"should have shape \[1, 4\]"),
    ({"in_shape": (2, 3, 10), "out_shape": (6, 4), "keep": True}, r"should have shape \[2, 3, 4\]"),
    ({"scales": np.full(3, 0.01, np.float32), "w_shape": (3, 10), "out_shape": (1, 3),
      "in_shape": (1, 10)}, None),
])
def test_fully_connected_shapes(kwargs, match):
    if match is None:  # a valid per-channel model loads
        runtime.load(_fc(**kwargs))
        return
    with pytest.raises(ModelError, match=match):
        runtime.load(_fc(**kwargs))


def _pool(in_q=(0.05, 1), out_q=(0.05, 1), k=2, padding="VALID", in_shape=(1, 4, 4, 2), out_shape=(1, 2, 2, 2)):
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=in_q[0], zero_point=in_q[1])
    y = mb.add_tensor("output", out_shape, "int8", scale=out_q[0], zero_point=out_q[1])
    mb.add_operator("AVERAGE_POOL_2D", [x], [y], {"padding": padding, "stride_h": 2, "stride_w": 2,
                                                  "filter_height": k, "filter_width": k})
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("kwargs,match", [
    ({"out_q": (0.05, 200)}, "zero point 200"),
    ({"k": 5}, "does not fit"),
    ({"k": 0}, "filter_height = 0"),
    ({"out_shape": (1, 2, 2, 3)}, "should have shape"),
])
def test_pool_rejects(kwargs, match):
    with pytest.raises(ModelError, match=match):
        runtime.load(_pool(**kwargs))


def _pad(pads=((0, 0), (1, 1)), const_pads=True, constant_q=None, out_shape=None, in_shape=(2, 3)):
    mb = ModelBuilder()
    x = mb.add_tensor("input", in_shape, "int8", scale=0.05, zero_point=4)
    p_arr = np.asarray(pads, np.int32)
    p = mb.add_tensor("paddings", p_arr.shape, "int32", data=p_arr if const_pads else None)
    if out_shape is None:
        out_shape = [max(d + int(a) + int(b), 1) for d, (a, b) in zip(in_shape, p_arr.reshape(-1, 2))]
    y = mb.add_tensor("output", out_shape, "int8", scale=0.05, zero_point=4)
    ins = [x, p]
    if constant_q is not None:
        ins.append(mb.add_tensor("c", (1,), "int8", data=np.array([1], np.int8), scale=constant_q[0],
                                 zero_point=constant_q[1]))
    mb.add_operator("PADV2" if constant_q is not None else "PAD", ins, [y], {})
    mb.set_io([x, p] if not const_pads else [x], [y])
    return mb.build()


@pytest.mark.parametrize("kwargs,match", [
    ({"pads": ((0, 0), (-1, 1))}, "non-negative"),
    ({"const_pads": False}, "must be a constant"),
    ({"constant_q": (0.07, 4)}, "share the output's scale"),
    ({"out_shape": (2, 6)}, r"should have shape \[2, 5\]"),
    ({"pads": ((0, 0, 1, 1),)}, r"must have shape \[2, 2\]"),
    ({"in_shape": (1, 1, 1, 1, 1, 2), "pads": ((0, 0),) * 6}, "rank 6"),
])
def test_pad_rejects(kwargs, match):
    with pytest.raises(ModelError, match=match):
        runtime.load(_pad(**kwargs))


# ---- the C adapters check records the builders never produce (direct _core.Plan use) -------
def _conv_plan(**over):
    p = _core.Plan()
    x = p.add_tensor([1, 3, 3, 2], "int8", 0.05, 0)
    w = p.add_tensor([2, 1, 1, 2], "int8", 0.01, 0, np.ones((2, 1, 1, 2), np.int8))
    m = p.add_tensor([2], "int32", 0, 0, np.full(2, 1 << 30, np.int32))
    s = p.add_tensor([2], "int32", 0, 0, np.zeros(2, np.int32))
    y = p.add_tensor([1, 3, 3, 2], "int8", 0.1, 0)
    params = {"stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_h": 0, "pad_w": 0,
              "input_offset": 0, "output_offset": 0, "act_min": -128, "act_max": 127}
    params.update(over)
    p.add_op("CONV_2D", [x, w, -1, m, s], [y], params)
    p.set_io([x], [y])
    p.finalize(1)
    return p


def test_adapter_accepts_valid_record():
    (y,) = _conv_plan().run([np.full((1, 3, 3, 2), 4, np.int8)])
    assert (y == 4).all()  # 4*1 + 4*1 = 8, x0.5 -> 4


@pytest.mark.parametrize("over,match", [
    ({"act_min": 10, "act_max": 5}, "activation range"),
    ({"stride_w": 0}, "stride"),
    ({"input_offset": 300}, "zero-point offsets"),
    ({"pad_h": -1}, "padding"),
])
def test_adapter_rejects_bad_record(over, match):
    with pytest.raises(ModelError, match=match):
        _conv_plan(**over)


def test_adapter_rejects_bad_shift():
    p = _core.Plan()
    x = p.add_tensor([1, 4], "int8", 0.05, 0)
    w = p.add_tensor([2, 4], "int8", 0.01, 0, np.ones((2, 4), np.int8))
    m = p.add_tensor([2], "int32", 0, 0, np.full(2, 1 << 30, np.int32))
    s = p.add_tensor([2], "int32", 0, 0, np.array([0, 40], np.int32))
    y = p.add_tensor([1, 2], "int8", 0.1, 0)
    p.add_op("FULLY_CONNECTED", [x, w, -1, m, s], [y], {"input_offset": 0, "filter_offset": 0, "output_offset": 0,
                                                      "act_min": -128, "act_max": 127, "requant": 0})
    p.set_io([x], [y])
    with pytest.raises(ModelError, match="shift 40"):
        p.finalize(1)


def test_conv_spatial_span_limit():
    """A dilated filter spanning more than 2^28 pixels is refused before it reaches C."""
    mb = ModelBuilder()
    x = mb.add_tensor("input", (1, 4, 4, 1), "int8", scale=0.05, zero_point=0)
    wt = mb.add_tensor("filter", (1, 5000, 1, 1), "int8", data=np.ones((1, 5000, 1, 1), np.int8), scale=0.01,
                       zero_point=0)
    y = mb.add_tensor("output", (1, 4, 4, 1), "int8", scale=0.1, zero_point=0)
    mb.add_operator("CONV_2D", [x, wt, -1], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1,
                                                  "dilation_h_factor": 65536, "dilation_w_factor": 1})
    mb.set_io([x], [y])
    with pytest.raises(ModelError, match="vertical span 327614467"):
        runtime.load(mb.build())


def test_adapter_rejects_span_beyond_limit():
    with pytest.raises(ModelError, match="CONV_2D"):
        _conv_plan(stride_h=1 << 29)
