"""ember convert on ONNX: float graphs (front-end checked against onnxruntime in float, int8
model checked against the float model) and QDQ graphs from onnxruntime's quantize_static (int8
model within 1 LSB of onnxruntime).

Where onnxruntime differs: its optimised int8 kernels on x86 CPUs without VNNI compute u8s8
products with vpmaddubsw, which saturates pairs of products in int16; with per-channel int8
weights that gives errors of tens of LSB (ORT documents reduce_range=True for such CPUs). The
QDQ reference is therefore onnxruntime with graph optimisations disabled (QDQ evaluated as
float DequantizeLinear -> op -> QuantizeLinear, the format's defined meaning), plus the
optimised path for reduce_range=True models. ORT rounds half to even and requantizes in float;
TFLite uses fixed-point multipliers: hence the 1 LSB tolerance.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from runtime.convert import convert, load_graph, quantize_input  # noqa: E402
from runtime.errors import InputError, UnsupportedOpError  # noqa: E402
from tests.oracle import ember_outputs, litert_ref_samples  # noqa: E402


def _init(name, arr, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(arr, dtype), name)


def _model(nodes, inits, in_shape, out_name, out_shape, opset=13):
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(in_shape))],
                          [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N"] + list(out_shape))], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def cnn_model(rng, softmax=True):
    """Conv+Relu, depthwise Conv+Clip(0,6), residual Add, Mul, Concat, Pad, MaxPool, AveragePool,
    Sigmoid/Tanh branch, GlobalAveragePool, Flatten, Gemm, MatMul+Add bias, Softmax."""
    r = lambda *s, sd=0.3: rng.normal(0, sd, s)  # noqa: E731
    inits = [
        _init("w1", r(8, 3, 3, 3)), _init("b1", r(8, sd=0.1)),
        _init("w2", r(8, 1, 3, 3)), _init("b2", r(8, sd=0.1)),
        _init("w3", r(8, 8, 1, 1)), _init("b3", r(8, sd=0.1)),
        _init("w4", r(6, 16, 3, 3, sd=0.15)), _init("b4", r(6, sd=0.1)),
        _init("wf", r(6 * 3 * 3, 12, sd=0.2)), _init("bf", r(12, sd=0.1)),
        _init("wg", r(10, 12 + 6)), _init("bg", r(10, sd=0.1)),
        _init("lo", 0.0), _init("hi", 6.0),
        _init("pads", [0, 0, 1, 0, 0, 0, 0, 1], np.int64),
        _init("shape", [0, -1], np.int64),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"]),
        helper.make_node("Add", ["c3", "r1"], ["res"]),
        helper.make_node("Sigmoid", ["res"], ["sg"]),
        helper.make_node("Mul", ["res", "sg"], ["swish"]),
        helper.make_node("Tanh", ["r2"], ["th"]),
        helper.make_node("Concat", ["swish", "th"], ["cat"], axis=1),
        helper.make_node("Pad", ["cat", "pads"], ["padded"], mode="constant"),
        helper.make_node("MaxPool", ["padded"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["mp", "w4", "b4"], ["c4"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c4"], ["r4"]),
        helper.make_node("AveragePool", ["r4"], ["ap"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Reshape", ["ap", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "wf"], ["mm"]),
        helper.make_node("Add", ["mm", "bf"], ["fc1"]),
        helper.make_node("Relu", ["fc1"], ["fr"]),
        helper.make_node("GlobalAveragePool", ["r4"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["gflat"]),
        helper.make_node("Concat", ["fr", "gflat"], ["feat"], axis=1),
        helper.make_node("Gemm", ["feat", "wg", "bg"], ["logits"], transB=1),
    ]
    out = "logits"
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], axis=1))
        out = "prob"
    return _model(nodes, inits, (3, 8, 8), out, (10,))


def test_float_onnx_frontend_matches_onnxruntime_and_int8_tracks_float():
    rng = np.random.default_rng(0)
    m = cnn_model(rng, softmax=False)
    X = rng.normal(0, 1, (160, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(m.SerializeToString()).run(None, {"x": X})[0]
    g = load_graph(m.SerializeToString())
    ir = g.run({"x": X.transpose(0, 2, 3, 1)})[g.outputs[0]]
    np.testing.assert_allclose(ir, want, rtol=1e-4, atol=1e-4)
    ops = [n.op for n in g.nodes]
    assert "DEPTHWISE_CONV_2D" in ops and ops.count("CONV_2D") == 3 and "MEAN" in ops
    # Relu/Clip fused, MatMul+Add folded into one FULLY_CONNECTED
    assert "CLAMP" not in ops and ops.count("FULLY_CONNECTED") == 2

    result = convert(m, X[:128], progress=False)
    assert result.report_executor == "litert"
    for row in result.layers:
        assert row.snr_db > 20, result.report_text
    xq = quantize_input(result, X[128:].transpose(0, 2, 3, 1))
    q = litert_ref_samples(result.tflite, xq)
    s, zp = result.quantized.qparams[g.outputs[0]]
    deq = (q.astype(np.float64) - zp) * s
    err = deq - want[128:]
    snr = 10 * np.log10(np.sum(want[128:] ** 2) / np.sum(err ** 2))
    assert snr > 20, snr
    assert np.mean(deq.argmax(1) == want[128:].argmax(1)) >= 0.9


def _qdq(tmp_path, m, X, per_channel, reduce_range=False):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": X[i:i + 1]} for i in range(len(X))])

        def get_next(self):
            return next(self.it, None)

    src, dst = tmp_path / "float.onnx", tmp_path / f"qdq_{per_channel}_{reduce_range}.onnx"
    onnx.save(m, str(src))
    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    reduce_range=reduce_range, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return dst


def _ort(path, X, optimize):
    so = ort.SessionOptions()
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so).run(None, {"x": X})[0]


def _chain_model(rng):
    """Conv+Relu -> depthwise+Clip -> MaxPool -> Flatten -> Gemm (QDQ every tensor)."""
    inits = [_init("w1", rng.normal(0, 0.3, (8, 3, 3, 3))), _init("b1", rng.normal(0, 0.1, 8)),
             _init("w2", rng.normal(0, 0.3, (8, 1, 3, 3))), _init("b2", rng.normal(0, 0.1, 8)),
             _init("w3", rng.normal(0, 0.2, (10, 8 * 4 * 4))), _init("b3", rng.normal(0, 0.1, 10)),
             _init("lo", 0.0), _init("hi", 6.0), _init("shape", [0, -1], np.int64)]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=8),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
             helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p", "shape"], ["f"]),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1)]
    return _model(nodes, inits, (3, 8, 8), "g", (10,))


@pytest.mark.parametrize("per_channel", [False, True])
def test_qdq_import_within_one_lsb_of_onnxruntime(tmp_path, per_channel):
    rng = np.random.default_rng(1)
    m = _chain_model(rng)
    X = rng.normal(0, 1, (160, 3, 8, 8)).astype(np.float32)
    path = _qdq(tmp_path, m, X[:64], per_channel)
    result = convert(onnx.load(str(path)), None, progress=False)   # no calibration: QDQ fixes everything
    g = result.graph
    assert all(n.attrs.get("weights_q") is not None for n in g.nodes if "weights" in n.attrs)
    s, zp = result.quantized.qparams[g.outputs[0]]
    ref = _ort(path, X[64:], optimize=False)
    ort_q = np.clip(np.round(ref / s) + zp, -128, 127)
    ours = litert_ref_samples(result.tflite, quantize_input(result, X[64:].transpose(0, 2, 3, 1)))
    diff = np.abs(ours.astype(np.int32) - ort_q)
    assert diff.max() <= 1, f"max diff {diff.max()} LSB"
    assert np.mean(diff) < 0.2


def test_qdq_reduce_range_within_one_lsb_of_optimised_onnxruntime(tmp_path):
    rng = np.random.default_rng(2)
    m = _chain_model(rng)
    X = rng.normal(0, 1, (128, 3, 8, 8)).astype(np.float32)
    path = _qdq(tmp_path, m, X[:64], per_channel=True, reduce_range=True)
    result = convert(str(path), None, progress=False)
    s, zp = result.quantized.qparams[result.graph.outputs[0]]
    ort_q = np.clip(np.round(_ort(path, X[64:], optimize=True) / s) + zp, -128, 127)
    ours = litert_ref_samples(result.tflite, quantize_input(result, X[64:].transpose(0, 2, 3, 1)))
    assert np.abs(ours.astype(np.int32) - ort_q).max() <= 1


def test_qdq_full_cnn_with_softmax_requantizes_orts_output_scale(tmp_path):
    """ORT gives softmax outputs scale 1/255; TFLite's int8 SOFTMAX must output 1/256, so the
    importer appends a requantization. Multi-branch graph: errors stay a few LSB."""
    rng = np.random.default_rng(3)
    m = cnn_model(rng, softmax=True)
    X = rng.normal(0, 1, (96, 3, 8, 8)).astype(np.float32)
    path = _qdq(tmp_path, m, X[:48], per_channel=True)
    result = convert(str(path), X[:48], progress=False)
    s, zp = result.quantized.qparams[result.graph.outputs[0]]
    assert (s, zp) != (1 / 256, -128)
    ref = _ort(path, X[48:], optimize=False)
    ours = litert_ref_samples(result.tflite, quantize_input(result, X[48:].transpose(0, 2, 3, 1)))
    ours_f = (ours.astype(np.float64) - zp) * s
    assert np.abs(ours_f - ref).max() < 0.06
    assert np.mean(ours_f.argmax(1) == ref.argmax(1)) >= 0.95


def test_unsupported_and_bad_inputs():
    rng = np.random.default_rng(4)
    m = _model([helper.make_node("LRN", ["x"], ["y"], size=3)], [], (3, 4, 4), "y", (3, 4, 4))
    with pytest.raises(UnsupportedOpError, match="LRN"):
        convert(m, np.zeros((2, 3, 4, 4), np.float32))
    ok = _chain_model(rng)
    with pytest.raises(InputError, match="calibration data"):
        convert(ok, None)
    with pytest.raises(InputError, match="4-D"):
        convert(ok, np.zeros((2, 3 * 8 * 8), np.float32))
    grouped = _model([helper.make_node("Conv", ["x", "w"], ["y"], group=2)], [_init("w", np.ones((4, 2, 1, 1)))],
                     (4, 4, 4), "y", (4, 4, 4))
    with pytest.raises(UnsupportedOpError, match="group"):
        convert(grouped, np.zeros((2, 4, 4, 4), np.float32))


def test_converted_cnn_identical_in_ember_and_litert():
    rng = np.random.default_rng(5)
    m = cnn_model(rng, softmax=True)
    X = rng.normal(0, 1, (40, 3, 8, 8)).astype(np.float32)
    result = convert(m, X[:32], progress=False, report=False)
    xq = quantize_input(result, X[32:].transpose(0, 2, 3, 1))
    want = litert_ref_samples(result.tflite, xq)
    got = ember_outputs(result.tflite, xq)
    np.testing.assert_array_equal(got.reshape(want.shape), want)
