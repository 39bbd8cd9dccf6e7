"""runtime.tflite.writer: models it writes load in the `tflite` package reader with the
intended fields, and run in LiteRT BUILTIN_REF with outputs within 1-2 LSB of a float reference
computed from the (reader-decoded) quantization parameters and constants."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from runtime.errors import ModelError
from runtime.tflite import schema
from runtime.tflite.writer import ModelBuilder
from tests import models as M

tflite = pytest.importorskip("tflite")
pytest.importorskip("ai_edge_litert")
from tests.oracle import litert_ref, litert_xnnpack  # noqa: E402

_NP = {0: np.float32, 2: np.int32, 9: np.int8, 3: np.uint8, 7: np.int16, 4: np.int64}


# ---- decoding with the independent `tflite` package -------------------------------------------
def parse(buf):
    assert buf[4:8] == b"TFL3"
    m = tflite.Model.GetRootAsModel(buf, 0)
    assert m.Version() == 3
    assert m.BuffersLength() >= 1 and m.Buffers(0).DataLength() == 0
    sg = m.Subgraphs(0)
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        q = t.Quantization()
        data = None
        bufobj = m.Buffers(t.Buffer())
        if t.Buffer() and bufobj.DataLength():
            raw = bufobj.DataAsNumpy()
            assert bufobj.DataAsNumpy().ctypes.data % 16 == np.frombuffer(buf, np.uint8).ctypes.data % 16
            data = np.frombuffer(raw.tobytes(), _NP[t.Type()]).reshape(t.ShapeAsNumpy())
        tensors.append({
            "name": t.Name().decode(), "shape": tuple(t.ShapeAsNumpy()), "type": t.Type(), "data": data,
            "scale": q.ScaleAsNumpy() if q is not None and q.ScaleLength() else None,
            "zp": q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else None,
            "qdim": q.QuantizedDimension() if q is not None else 0,
        })
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = m.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        assert oc.DeprecatedBuiltinCode() == min(oc.BuiltinCode(), 127)
        ops.append({"name": schema.BUILTIN_OPERATOR_NAMES[code], "inputs": list(op.InputsAsNumpy()),
                    "outputs": list(op.OutputsAsNumpy()), "options_type": op.BuiltinOptionsType(),
                    "options": op.BuiltinOptions()})
    return tensors, ops, list(sg.InputsAsNumpy()), list(sg.OutputsAsNumpy())


def _options(op, cls):
    o = cls()
    o.Init(op["options"].Bytes, op["options"].Pos)
    return o


# ---- float references ----------------------------------------------------------------------------
def deq(t, x):
    s = t["scale"].astype(np.float64)
    zp = t["zp"].astype(np.float64)
    if s.size > 1:
        shp = [1] * len(t["shape"])
        shp[t["qdim"]] = -1
        s, zp = s.reshape(shp), zp.reshape(shp)
    return (x.astype(np.float64) - zp) * s


def quant(t, y):
    v = y / float(t["scale"][0])
    r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)) + int(t["zp"][0])
    return np.clip(r, -128, 127)


def act_clamp(y, act):
    return {0: y, 1: np.maximum(y, 0), 2: np.clip(y, -1, 1), 3: np.clip(y, 0, 6)}[act]


def pad_amounts(n, k, stride, dil, same):
    eff = (k - 1) * dil + 1
    out = -(-n // stride) if same else (n - eff) // stride + 1
    total = max((out - 1) * stride + eff - n, 0) if same else 0
    return out, total // 2


def conv_ref(x, w, b, stride, dil, same, depthwise=False, mult=1):
    # x NHWC float, w OHWI (conv) or 1HWC (depthwise)
    n, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    oh, ph = pad_amounts(h, kh, stride[0], dil[0], same)
    ow, pw = pad_amounts(wd, kw, stride[1], dil[1], same)
    oc = w.shape[3] if depthwise else w.shape[0]
    out = np.zeros((n, oh, ow, oc))
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for xx in range(ow):
                    iy = y * stride[0] - ph + i * dil[0]
                    ix = xx * stride[1] - pw + j * dil[1]
                    if 0 <= iy < h and 0 <= ix < wd:
                        v = x[:, iy, ix, :]
                        if depthwise:
                            out[:, y, xx, :] += np.repeat(v, mult, axis=-1) * w[0, i, j, :]
                        else:
                            out[:, y, xx, :] += v @ w[:, i, j, :].T
    return out + (0 if b is None else b)


def reference(buf, inputs):
    tensors, ops, gin, gout = parse(buf)
    (op,) = ops
    env = {i: x for i, x in zip(gin, inputs)}
    T = tensors
    ins = op["inputs"]
    xin = [deq(T[i], env[i]) if i in env and T[i]["type"] != 0 else env.get(i) for i in ins]
    const = [T[i]["data"] if i >= 0 else None for i in ins]
    out_t = T[op["outputs"][0]]
    name = op["name"]
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = tflite.Conv2DOptions if name == "CONV_2D" else tflite.DepthwiseConv2DOptions
        o = _options(op, cls)
        w = deq(T[ins[1]], const[1])
        b = deq(T[ins[2]], const[2]) if ins[2] >= 0 else None
        mult = o.DepthMultiplier() if name == "DEPTHWISE_CONV_2D" else 1
        y = conv_ref(xin[0], w, b, (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor()),
                     o.Padding() == 0, depthwise=name == "DEPTHWISE_CONV_2D", mult=mult)
        return quant(out_t, act_clamp(y, o.FusedActivationFunction())), 1
    if name == "FULLY_CONNECTED":
        o = _options(op, tflite.FullyConnectedOptions)
        w = deq(T[ins[1]], const[1])
        x = xin[0].reshape(-1, w.shape[1])
        y = x @ w.T + (deq(T[ins[2]], const[2]) if ins[2] >= 0 else 0)
        return quant(out_t, act_clamp(y, o.FusedActivationFunction())).reshape(out_t["shape"]), 1
    if name in ("ADD", "MUL"):
        o = _options(op, tflite.AddOptions if name == "ADD" else tflite.MulOptions)
        y = xin[0] + xin[1] if name == "ADD" else xin[0] * xin[1]
        return quant(out_t, act_clamp(y, o.FusedActivationFunction())), 1
    if name == "SOFTMAX":
        beta = _options(op, tflite.SoftmaxOptions).Beta()
        e = np.exp(beta * (xin[0] - xin[0].max(-1, keepdims=True)))
        return quant(out_t, e / e.sum(-1, keepdims=True)), 1
    if name == "LOGISTIC":
        return quant(out_t, 1 / (1 + np.exp(-xin[0]))), 1
    if name == "TANH":
        return quant(out_t, np.tanh(xin[0])), 1
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = _options(op, tflite.Pool2DOptions)
        x = xin[0]
        n, h, w, c = x.shape
        kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
        same = o.Padding() == 0
        oh, ph = pad_amounts(h, kh, sh, 1, same)
        ow, pw = pad_amounts(w, kw, sw, 1, same)
        y = np.zeros((n, oh, ow, c))
        for a in range(oh):
            for bb in range(ow):
                y0, x0 = a * sh - ph, bb * sw - pw
                win = x[:, max(y0, 0):min(y0 + kh, h), max(x0, 0):min(x0 + kw, w), :]
                y[:, a, bb, :] = win.mean((1, 2)) if name == "AVERAGE_POOL_2D" else win.max((1, 2))
        return quant(out_t, act_clamp(y, o.FusedActivationFunction())), (1 if name == "AVERAGE_POOL_2D" else 0)
    if name == "RESHAPE":
        return quant(out_t, xin[0].reshape(out_t["shape"])), 0
    if name == "CONCATENATION":
        axis = _options(op, tflite.ConcatenationOptions).Axis()
        return quant(out_t, np.concatenate(xin, axis=axis)), 0
    if name == "PAD":
        pads = const[1]
        return quant(out_t, np.pad(xin[0], pads, constant_values=0.0)), 0
    if name == "MEAN":
        keep = _options(op, tflite.ReducerOptions).KeepDims()
        return quant(out_t, xin[0].mean(tuple(int(a) for a in const[1]), keepdims=bool(keep))), 1
    if name == "QUANTIZE":
        return quant(out_t, xin[0].astype(np.float64)), (0 if T[ins[0]]["type"] == 0 else 1)
    if name == "DEQUANTIZE":
        return xin[0].astype(np.float32), 0
    raise AssertionError(name)


CASES = [
    ("conv_same", lambda r: M.conv2d_model(r), [(1, 8, 8, 3)]),
    ("conv_valid_stride_dil_relu", lambda r: M.conv2d_model(r, (1, 11, 9, 5), 6, (3, 2), (2, 1), (1, 2),
                                                            "VALID", "RELU"), [(1, 11, 9, 5)]),
    ("conv_same_stride2_relu6", lambda r: M.conv2d_model(r, (2, 7, 7, 4), 3, (3, 3), (2, 2), act="RELU6"),
     [(2, 7, 7, 4)]),
    ("conv_per_tensor", lambda r: M.conv2d_model(r, per_channel=False), [(1, 8, 8, 3)]),
    ("dwconv", lambda r: M.depthwise_conv2d_model(r), [(1, 8, 8, 4)]),
    ("dwconv_mult2_stride2_valid", lambda r: M.depthwise_conv2d_model(r, (1, 9, 9, 3), 2, (3, 3), (2, 2),
                                                                      padding="VALID", act="RELU"), [(1, 9, 9, 3)]),
    ("fc", lambda r: M.fully_connected_model(r), [(1, 16)]),
    ("fc_batch_relu_per_channel", lambda r: M.fully_connected_model(r, 3, 20, 7, "RELU", per_channel=True),
     [(3, 20)]),
    ("fc_nobias_keep_dims", lambda r: M.fully_connected_model(r, in_shape=(2, 3, 12), units=5, bias=False,
                                                              keep_num_dims=True), [(2, 3, 12)]),
    ("add", lambda r: M.add_model(r), [(1, 4, 4, 8)] * 2),
    ("add_broadcast_relu", lambda r: M.add_model(r, (1, 4, 4, 8), (1, 1, 1, 8), "RELU"), [(1, 4, 4, 8), (1, 1, 1, 8)]),
    ("mul", lambda r: M.mul_model(r), [(1, 4, 4, 8)] * 2),
    ("softmax", lambda r: M.softmax_model(r), [(1, 10)]),
    ("logistic", lambda r: M.logistic_model(r), [(1, 16)]),
    ("tanh", lambda r: M.tanh_model(r), [(1, 16)]),
    ("avgpool", lambda r: M.pool2d_model(r), [(1, 8, 8, 4)]),
    ("avgpool_same", lambda r: M.pool2d_model(r, k=(3, 3), stride=(2, 2), padding="SAME"), [(1, 8, 8, 4)]),
    ("maxpool", lambda r: M.pool2d_model(r, "MAX_POOL_2D", k=(3, 3), stride=(1, 2), padding="SAME"), [(1, 8, 8, 4)]),
    ("reshape", lambda r: M.reshape_model(r), [(1, 4, 4, 2)]),
    ("concat", lambda r: M.concatenation_model(r), [(1, 4, 4, 3), (1, 4, 4, 5)]),
    ("concat_axis1", lambda r: M.concatenation_model(r, ((1, 2, 3), (1, 4, 3), (1, 1, 3)), axis=1),
     [(1, 2, 3), (1, 4, 3), (1, 1, 3)]),
    ("pad", lambda r: M.pad_model(r), [(1, 4, 4, 3)]),
    ("mean", lambda r: M.mean_model(r), [(1, 4, 4, 8)]),
    ("mean_nokeep", lambda r: M.mean_model(r, axes=(1, 2), keep_dims=False), [(1, 4, 4, 8)]),
    ("quantize_float", lambda r: M.quantize_model(r), None),
    ("quantize_requant", lambda r: M.quantize_model(r, from_float=False), [(1, 16)]),
    ("dequantize", lambda r: M.dequantize_model(r), [(1, 16)]),
]


@pytest.mark.parametrize("name,make,in_shapes", CASES, ids=[c[0] for c in CASES])
def test_single_op_model_runs_in_litert_and_matches_float_reference(name, make, in_shapes):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    buf = make(rng)
    if in_shapes is None:
        inputs = [rng.normal(0, 2, size=(1, 16)).astype(np.float32)]
    else:
        inputs = [M.int8(rng, s) for s in in_shapes]
    got = litert_ref(buf, inputs)
    assert len(got) == 1
    want, tol = reference(buf, inputs)
    assert got[0].shape == want.shape
    assert np.unique(got[0]).size > 1, f"{name}: constant output, the test would prove nothing"
    diff = np.abs(got[0].astype(np.float64) - want)
    if got[0].dtype == np.float32:
        assert np.allclose(got[0], want, rtol=1e-6, atol=1e-6)
    else:
        assert got[0].dtype == np.int8
        assert diff.max() <= tol, f"{name}: max diff {diff.max()} LSB"
    # optimised LiteRT kernels load the same file
    assert litert_xnnpack(buf, inputs)[0].shape == got[0].shape


def test_reader_sees_options_quantization_and_opcode_rule():
    mb = ModelBuilder()
    x = mb.add_tensor("x", (1, 5, 5, 2), "int8", scale=0.5, zero_point=-3)
    w = mb.add_tensor("w", (3, 2, 2, 2), "int8", data=np.ones((3, 2, 2, 2), np.int8),
                      scale=[0.1, 0.2, 0.3], zero_point=0, quantized_dimension=0)
    b = mb.add_tensor("b", (3,), "int32", data=[1, 2, 3], scale=[0.05, 0.1, 0.15])
    y = mb.add_tensor("y", (1, 2, 2, 3), "int8", scale=0.25, zero_point=7)
    z = mb.add_tensor("z", (1, 2, 2, 3), "float32")
    mb.add_operator("CONV_2D", [x, w, b], [y], {"padding": "VALID", "stride_w": 2, "stride_h": 2,
                                                "dilation_w_factor": 1, "dilation_h_factor": 1,
                                                "fused_activation_function": "RELU6"})
    mb.add_operator("DEQUANTIZE", [y], [z], {})
    mb.set_io([x], [z])
    tensors, ops, gin, gout = parse(mb.build())
    assert (gin, gout) == ([0], [4])
    assert [t["name"] for t in tensors] == ["x", "w", "b", "y", "z"]
    assert np.allclose(tensors[1]["scale"], [0.1, 0.2, 0.3]) and list(tensors[1]["zp"]) == [0, 0, 0]
    assert list(tensors[2]["data"]) == [1, 2, 3] and tensors[2]["type"] == 2
    assert tensors[4]["scale"] is None and tensors[4]["type"] == 0
    assert tensors[0]["zp"][0] == -3
    assert [o["name"] for o in ops] == ["CONV_2D", "DEQUANTIZE"]
    assert ops[0]["options_type"] == tflite.BuiltinOptions.Conv2DOptions
    assert ops[1]["options_type"] == tflite.BuiltinOptions.DequantizeOptions
    o = _options(ops[0], tflite.Conv2DOptions)
    assert (o.Padding(), o.StrideW(), o.StrideH(), o.FusedActivationFunction()) == (1, 2, 2, 3)


def test_opcodes_above_127_use_placeholder():
    mb = ModelBuilder()
    x = mb.add_tensor("x", (1, 4), "float32")
    y = mb.add_tensor("y", (1, 4), "int8", scale=0.1, zero_point=0)
    z = mb.add_tensor("z", (1, 4), "int8", scale=0.1, zero_point=0)
    mb.add_operator("QUANTIZE", [x], [y])          # 114
    mb.add_operator("HARD_SWISH", [y], [z])        # 117
    mb.set_io([x], [z])
    buf = mb.build()
    m = tflite.Model.GetRootAsModel(buf, 0)
    codes = [(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(m.OperatorCodesLength())]
    assert codes == [(114, 114), (117, 117)]
    mb2 = ModelBuilder()
    a = mb2.add_tensor("a", (1, 2, 2), "float32")
    c = mb2.add_tensor("c", (1, 2, 2), "float32")
    mb2.add_operator("BATCH_MATMUL", [a, a], [c])   # 126
    mb2.set_io([a], [c])
    m2 = tflite.Model.GetRootAsModel(mb2.build(), 0)
    assert m2.OperatorCodes(0).BuiltinCode() == 126
    got = litert_ref(buf, [np.linspace(-3, 3, 4, dtype=np.float32).reshape(1, 4)])[0]
    assert got.dtype == np.int8 and got.shape == (1, 4)


def test_bad_builder_input_raises_model_error():
    mb = ModelBuilder()
    with pytest.raises(ModelError, match="dtype"):
        mb.add_tensor("x", (1,), "complex256")
    with pytest.raises(ModelError, match="elements"):
        mb.add_tensor("x", (2, 2), "int8", data=np.zeros(3, np.int8))
    with pytest.raises(ModelError, match="channels"):
        mb.add_tensor("w", (4, 2), "int8", scale=[0.1, 0.2, 0.3], quantized_dimension=0)
    with pytest.raises(ModelError, match="unknown builtin"):
        mb.add_operator("NOT_AN_OP", [], [])
    x = mb.add_tensor("x", (1, 4), "int8", scale=0.1, zero_point=0)
    with pytest.raises(ModelError, match="unknown option"):
        mb.add_operator("ADD", [x, x], [x], {"stride": 2})
    with pytest.raises(ModelError, match="bad value"):
        mb.add_operator("CONV_2D", [x, x, x], [x], {"padding": "HALF"})
    with pytest.raises(ModelError, match="does not exist"):
        mb.add_operator("ADD", [x, 7], [x])
    with pytest.raises(ModelError, match="set_io"):
        mb.build()
