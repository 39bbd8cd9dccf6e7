"""ember convert on float .tflite models (written here with runtime.tflite.writer)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tflite")
pytest.importorskip("ai_edge_litert")

from runtime.convert import convert, load_graph, quantize_input  # noqa: E402
from runtime.convert.quantizer import assign_qparams, choose_qparams, quantize_weights  # noqa: E402
from runtime.convert.graph import Graph, Node  # noqa: E402
from runtime.errors import ModelError, UnsupportedOpError  # noqa: E402
from runtime.tflite.writer import ModelBuilder  # noqa: E402
from tests.oracle import litert_ref, litert_ref_samples  # noqa: E402


def float_cnn(rng):
    mb = ModelBuilder()
    f = lambda *s, sd=0.3: rng.normal(0, sd, s).astype(np.float32)  # noqa: E731
    x = mb.add_tensor("x", (1, 8, 8, 3), "float32")
    w1 = mb.add_tensor("w1", (6, 3, 3, 3), "float32", data=f(6, 3, 3, 3))
    b1 = mb.add_tensor("b1", (6,), "float32", data=f(6, sd=0.1))
    c1 = mb.add_tensor("c1", (1, 8, 8, 6), "float32")
    mb.add_operator("CONV_2D", [x, w1, b1], [c1], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                   "fused_activation_function": "RELU"})
    w2 = mb.add_tensor("w2", (1, 3, 3, 6), "float32", data=f(1, 3, 3, 6))
    b2 = mb.add_tensor("b2", (6,), "float32", data=f(6, sd=0.1))
    c2 = mb.add_tensor("c2", (1, 4, 4, 6), "float32")
    mb.add_operator("DEPTHWISE_CONV_2D", [c1, w2, b2], [c2], {"padding": "SAME", "stride_w": 2, "stride_h": 2,
                                                              "depth_multiplier": 1})
    r2 = mb.add_tensor("r2", (1, 4, 4, 6), "float32")
    mb.add_operator("RELU6", [c2], [r2])
    p = mb.add_tensor("p", (1, 2, 2, 6), "float32")
    mb.add_operator("AVERAGE_POOL_2D", [r2], [p], {"padding": "VALID", "stride_w": 2, "stride_h": 2,
                                                   "filter_width": 2, "filter_height": 2})
    shp = mb.add_tensor("shape", (2,), "int32", data=np.array([1, 24], np.int32))
    fl = mb.add_tensor("flat", (1, 24), "float32")
    mb.add_operator("RESHAPE", [p, shp], [fl], {"new_shape": [1, 24]})
    w3 = mb.add_tensor("w3", (5, 24), "float32", data=f(5, 24))
    b3 = mb.add_tensor("b3", (5,), "float32", data=f(5, sd=0.1))
    lg = mb.add_tensor("logits", (1, 5), "float32")
    mb.add_operator("FULLY_CONNECTED", [fl, w3, b3], [lg], {})
    y = mb.add_tensor("y", (1, 5), "float32")
    mb.add_operator("SOFTMAX", [lg], [y], {"beta": 1.0})
    mb.set_io([x], [y])
    return mb.build()


def test_float_tflite_roundtrip_and_quantized_accuracy():
    rng = np.random.default_rng(0)
    blob = float_cnn(rng)
    X = rng.normal(0, 1, (120, 8, 8, 3)).astype(np.float32)
    want = np.concatenate([litert_ref(blob, [X[i:i + 1]])[0] for i in range(len(X))])
    g = load_graph(blob)
    assert [n.op for n in g.nodes] == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE",
                                       "FULLY_CONNECTED", "SOFTMAX"]
    assert g.nodes[1].attrs["act"] == "RELU6"          # standalone RELU6 fused into its producer
    np.testing.assert_allclose(g.run({"x": X})[g.outputs[0]], want, atol=1e-5)
    result = convert(blob, X[:96], progress=False)
    q = litert_ref_samples(result.tflite, quantize_input(result, X[96:]))
    s, zp = result.quantized.qparams[g.outputs[0]]
    assert (s, zp) == (1 / 256, -128)
    p = (q.astype(np.float64) - zp) * s
    assert np.abs(p - want[96:]).max() < 0.05
    assert all(r.snr_db > 25 for r in result.layers), result.report_text


def test_int8_tflite_is_rejected_with_reason():
    from tests.models import conv2d_model
    with pytest.raises(UnsupportedOpError, match="float32"):
        convert(conv2d_model(np.random.default_rng(0)), np.zeros((2, 8, 8, 3), np.float32))


# ---- quantizer arithmetic ---------------------------------------------------------------------
def test_choose_qparams_contains_zero_and_maps_range():
    s, zp = choose_qparams(0.0, 6.0)
    assert zp == -128 and abs(s - 6 / 255) < 1e-7
    s, zp = choose_qparams(-1.0, 1.0)
    assert abs(s - 2 / 255) < 1e-7 and zp in (-1, 0)
    s, zp = choose_qparams(2.0, 4.0)              # widened to contain 0
    assert zp == -128 and abs(s - 4 / 255) < 1e-7
    s, zp = choose_qparams(-3.0, -1.0)
    assert zp == 127
    assert choose_qparams(0.0, 0.0)[1] == -128


def test_quantize_weights_symmetric_per_channel():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -2.0]])
    q, s = quantize_weights(w, 0)
    assert q.dtype == np.int8 and q.min() >= -127
    np.testing.assert_allclose(s, [1 / 127, 1.0, 2 / 127], rtol=1e-6)
    assert list(q[0]) == [64, -127, 32] and list(q[1]) == [0, 0, 0] and list(q[2]) == [127, 64, -127]
    q1, s1 = quantize_weights(w, None)
    assert s1.shape == (1,) and abs(s1[0] - 2 / 127) < 1e-7


def test_concat_group_shares_params_and_fixed_outputs_keep_theirs():
    g = Graph(inputs=["a", "b"], outputs=["y"], nodes=[
        Node("TANH", ["b"], ["t"], name="t"),
        Node("CONCATENATION", ["a", "t"], ["c"], {"axis": 1}, name="c"),
        Node("SOFTMAX", ["c"], ["y"], name="y")])
    qp = assign_qparams(g, {"a": (-4.0, 4.0), "b": (-1, 1), "t": (-0.8, 0.8), "c": (-4.0, 4.0), "y": (0, 1)})
    assert qp["a"] == qp["c"] and abs(qp["a"][0] - 8 / 255) < 1e-6
    assert qp["t"] == (1 / 128, 0) and qp["y"] == (1 / 256, -128)
    g.infer_shapes({"a": (1, 3), "b": (1, 2)})
    from runtime.convert.quantizer import quantize_graph
    qm = quantize_graph(g, {"a": (-4.0, 4.0), "b": (-1, 1), "t": (-0.8, 0.8), "c": (-4.0, 4.0), "y": (0, 1)})
    a = np.array([[-100, 0, 100]], np.int8)
    b = np.array([[-30, 90]], np.int8)
    out = litert_ref(qm.tflite, [a, b])[0]
    assert out.shape == (1, 5) and out.dtype == np.int8
    ra = (a - qp["a"][1]) * qp["a"][0]
    rb = (b - qp["b"][1]) * qp["b"][0]
    z = np.concatenate([ra, np.tanh(rb)], axis=1)
    want = np.exp(z) / np.exp(z).sum()
    assert np.abs((out.astype(np.float64) + 128) / 256 - want).max() < 3 / 256


def test_standalone_relu_after_concat_is_an_exact_requantization():
    g = Graph(inputs=["a"], outputs=["r"], nodes=[
        Node("CONCATENATION", ["a", "a"], ["c"], {"axis": 1}, name="c"),
        Node("CLAMP", ["c"], ["r"], {"act": "RELU"}, name="r")])
    g.infer_shapes({"a": (1, 4)})
    from runtime.convert.quantizer import quantize_graph
    X = np.linspace(-2, 3, 40).reshape(10, 4)
    from runtime.convert.calibrate import calibrate
    qm = quantize_graph(g, calibrate(g, X, progress=False))
    assert qm.qparams["r"][1] == -128
    xq = quantize_input_graph(qm, X)
    out = litert_ref_samples(qm.tflite, xq).astype(np.float64)
    s, zp = qm.qparams["r"]
    sa, za = qm.qparams["a"]
    real_in = (xq.astype(np.float64) - za) * sa
    expect = np.maximum(np.concatenate([real_in, real_in], axis=1), 0)
    assert np.abs((out - zp) * s - expect).max() <= s / 2 + 1e-9


def quantize_input_graph(qm, X):
    s, zp = qm.qparams[qm.input_names[0]]
    v = X / s
    return np.clip(np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)) + zp, -128, 127).astype(np.int8)


def test_graph_validation_errors():
    g = Graph(inputs=["a"], outputs=["z"], nodes=[Node("ELU", ["a"], ["z"], name="z")])
    with pytest.raises(ModelError, match="not supported"):
        g.validate()
    g = Graph(inputs=["a"], outputs=["z"], nodes=[Node("RESHAPE", ["q"], ["z"], {"shape": (1, 4)}, name="z")])
    with pytest.raises(ModelError, match="not produced"):
        g.validate()
