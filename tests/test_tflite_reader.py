"""runtime/tflite/reader.py: decoding of real models and every validation error path."""
import numpy as np
import pytest

import runtime
from runtime.errors import ModelError, UnsupportedOpError
from runtime.tflite.reader import read_model
from runtime.tflite.writer import ModelBuilder
from real_models import KWS
from real_models import model_bytes as real
from tflite_craft import B, Op, Spec, T, craft, identity


def test_reads_kws_model():
    m = read_model(real(KWS))
    assert m.version == 3 and m.num_subgraphs == 1
    assert [o.name for o in m.operators][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert m.operators[-1].name == "SOFTMAX" and m.operators[-1].options == {"beta": 1.0}
    conv = m.operators[0]
    assert conv.options["padding"] == "SAME"
    assert conv.options["fused_activation_function"] == "RELU"
    assert conv.options["stride_h"] == 2 and conv.options["dilation_w_factor"] == 1
    x = m.tensors[m.inputs[0]]
    assert x.dtype == "int8" and x.shape == (1, 49, 10, 1) and x.data is None
    w = m.tensors[conv.inputs[1]]
    assert w.is_const and w.data.dtype == np.int8 and w.data.shape == w.shape
    assert w.scale.size == w.shape[0] and w.quantized_dimension == 0
    # constants are views into the file bytes, not copies
    assert not w.data.flags.owndata


def test_reads_writer_options_as_names():
    mb = ModelBuilder()
    x = mb.add_tensor("x", (1, 8, 8, 4), "int8", scale=0.1, zero_point=1)
    y = mb.add_tensor("y", (1, 4, 4, 4), "int8", scale=0.1, zero_point=1)
    mb.add_operator("MAX_POOL_2D", [x], [y], {"padding": "VALID", "stride_h": 2, "stride_w": 2,
                                              "filter_height": 2, "filter_width": 2,
                                              "fused_activation_function": "RELU6"})
    mb.set_io([x], [y])
    m = read_model(mb.build())
    assert m.operators[0].options == {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2,
                                      "filter_height": 2, "fused_activation_function": "RELU6"}


def test_external_buffer_offset_and_size():
    data = np.arange(8, dtype=np.int8)
    s = Spec(tensors=[T([1, 4], scale=[0.5], zero_point=[0], name="x"),
                      T([2, 4], buffer=1, scale=[1.0], zero_point=[0], name="c")],
             inputs=[0], outputs=[0, 1], buffers=[B(), B(offset="tail", size=8)], tail=data.tobytes())
    m = read_model(craft(s))
    np.testing.assert_array_equal(m.tensors[1].data, data.reshape(2, 4))
    # and it runs: the constant output comes back
    out = runtime.load(craft(s)).infer(np.zeros((1, 4), np.int8))
    np.testing.assert_array_equal(out["c"], data.reshape(2, 4))


def bad(spec_or_bytes, match, exc=ModelError):
    data = craft(spec_or_bytes) if isinstance(spec_or_bytes, Spec) else spec_or_bytes
    with pytest.raises(exc, match=match):
        read_model(data)
    with pytest.raises(exc, match=match):
        runtime.load(data)


def with_const(t_const, buffer):
    return Spec(tensors=[T([1, 4], scale=[0.5], zero_point=[0], name="x"), t_const], inputs=[0], outputs=[0, 1],
                buffers=[B(), buffer])


@pytest.mark.parametrize("data, match", [
    (b"", "only 0 bytes"),
    (b"\x00" * 8, "only 8 bytes"),
    (b"\x10\x00\x00\x00XXXX" + b"\x00" * 32, "file identifier"),
    (b"\xff\xff\xff\x7fTFL3" + b"\x00" * 32, "outside the file"),
])
def test_garbage_bytes(data, match):
    bad(data, match)


def test_truncated_real_model():
    data = real(KWS)
    for cut in (16, 100, len(data) // 2, len(data) - 1000):
        with pytest.raises(ModelError):
            runtime.load(data[:cut])


def test_wrong_magic_real_model():
    data = bytearray(real(KWS))
    data[4:8] = b"TFL2"
    bad(bytes(data), "file identifier is b'TFL2'")


def test_wrong_schema_version():
    s = identity()
    s.version = 2
    bad(s, "schema version 2")


@pytest.mark.parametrize("shape, match", [
    ([1, -4], r"invalid dimension -4"),
    ([1, 0], r"invalid dimension 0"),
    ([65536, 65536, 2], "too large"),
    ([2**31 - 1, 2**31 - 1], "too large"),
    ([1] * 7, "rank 7"),
])
def test_bad_shapes(shape, match):
    bad(identity(shape), match)


def test_shape_signature():
    read_model(craft(identity((1, 4), shape_signature=[-1, 4])))  # dynamic batch: fine
    bad(identity((1, 4), shape_signature=[1, 4, 1]), "shape_signature")
    bad(identity((1, 4), shape_signature=[1, 5]), "shape_signature")
    bad(identity((1, 4), shape_signature=[1, -7]), "shape_signature")


@pytest.mark.parametrize("kw, match", [
    (dict(scale=None), "no quantization parameters"),
    (dict(scale=0.0), "finite and > 0"),
    (dict(scale=-0.5), "finite and > 0"),
    (dict(scale=float("nan")), "finite and > 0"),
    (dict(scale=float("inf")), "finite and > 0"),
    (dict(zero_point=128), r"zero point 128 out of range \[-128, 127\]"),
    (dict(zero_point=-129), "out of range"),
    (dict(dtype="uint8", zero_point=-1), r"out of range \[0, 255\]"),
])
def test_bad_quantization(kw, match):
    bad(identity(**kw), match)


def test_scale_zero_point_count_mismatch():
    s = Spec(tensors=[T([1, 4], scale=[0.5], zero_point=[0, 0], name="x")], inputs=[0], outputs=[0])
    bad(s, "1 scale")
    s = Spec(tensors=[T([1, 4], scale=[0.5], name="x")], inputs=[0], outputs=[0])
    bad(s, "1 scale")


def test_per_channel_quantization_checks():
    w = np.zeros(8, np.int8).tobytes()
    good = T([2, 4], buffer=1, scale=[0.1, 0.2], zero_point=[0, 0], quantized_dimension=0, name="w")
    read_model(craft(with_const(good, B(data=w))))
    wrong_len = T([2, 4], buffer=1, scale=[0.1, 0.2, 0.3], zero_point=[0, 0, 0], name="w")
    bad(with_const(wrong_len, B(data=w)), "3 per-channel scales but dimension 0 has 2")
    wrong_dim = T([2, 4], buffer=1, scale=[0.1, 0.2], zero_point=[0, 0], quantized_dimension=5, name="w")
    bad(with_const(wrong_dim, B(data=w)), "quantized_dimension 5")


def test_unsupported_tensor_type():
    bad(identity(dtype="float16", scale=None), "unsupported tensor type FLOAT16")
    s = identity()
    s.tensors[0].type_code = 77
    bad(s, "unsupported tensor type code 77")


@pytest.mark.parametrize("buffer, match", [
    (B(offset="tail", size=10**9), "outside the file"),
    (B(offset=2**62, size=8), "outside the file"),
    (B(offset=2**64 - 1, size=8), "outside the file"),
    (B(data=b"\x01" * 3), "holds 3 bytes"),
    (B(data=b"\x01" * 8, offset=64, size=8), "both inline data and an external offset"),
])
def test_bad_buffers(buffer, match):
    bad(with_const(T([2, 4], buffer=1, scale=[1.0], zero_point=[0], name="c"), buffer), match)


def test_buffer_index_out_of_range():
    bad(with_const(T([2, 4], buffer=7, scale=[1.0], zero_point=[0], name="c"), B()), "buffer index 7 out of range")


def test_subgraph_io_indices():
    s = identity()
    s.inputs = [3]
    bad(s, "tensor index 3 out of range")
    s = identity()
    s.outputs = []
    bad(s, "no outputs")
    s = identity()
    s.inputs = [0, 0]
    bad(s, "twice")


def _one_op(opcodes, opcode_index=0, ins=(0,), outs=(1,)):
    return Spec(tensors=[T([1, 4], scale=[0.5], zero_point=[0], name="x"),
                         T([1, 4], scale=[0.5], zero_point=[0], name="y")],
                inputs=[0], outputs=[1], operators=[Op(opcode_index, list(ins), list(outs))], opcodes=opcodes)


def test_unsupported_ops_are_named():
    for opcode, match in [(16, r"operator 0: unsupported op 'LSTM'"),
                          ("MyCustomOp", r"operator 0: unsupported custom op 'MyCustomOp'"),
                          (250, r"operator 0: unknown builtin operator code 250")]:
        with pytest.raises(UnsupportedOpError, match=match):
            runtime.load(craft(_one_op([opcode])))
    with pytest.raises(UnsupportedOpError, match="'LSTM'"):
        read_model(craft(_one_op([16])), supported_ops={"ADD"})


def test_operator_indices():
    ok = {"LSTM"}
    read_model(craft(_one_op([16])), supported_ops=ok)
    with pytest.raises(ModelError, match="opcode index 3 out of range"):
        read_model(craft(_one_op([16], opcode_index=3)), supported_ops=ok)
    with pytest.raises(ModelError, match=r"operator 0 \(LSTM\) inputs: tensor index 9 out of range"):
        read_model(craft(_one_op([16], ins=(0, 9))), supported_ops=ok)
    read_model(craft(_one_op([16], ins=(0, -1))), supported_ops=ok)  # -1: absent optional input
    with pytest.raises(ModelError, match="outputs: tensor index -1 out of range"):
        read_model(craft(_one_op([16], outs=(-1,))), supported_ops=ok)
    with pytest.raises(ModelError, match="has no outputs"):
        read_model(craft(_one_op([16], outs=())), supported_ops=ok)


def test_model_input_with_constant_data():
    s = Spec(tensors=[T([1, 4], buffer=1, scale=[0.5], zero_point=[0], name="x")], inputs=[0], outputs=[0],
             buffers=[B(), B(data=bytes(4))])
    bad(s, "constant data")


def test_not_bytes():
    with pytest.raises(ModelError, match="expected a path or bytes"):
        runtime.load(12345)
    with pytest.raises(ModelError, match="cannot read model file"):
        runtime.load("/nonexistent/model.tflite")


def _conv(options_type):
    """CONV_2D (code 3) 1x4x4x1 -> 1x4x4x1 with a 1x1 filter; options table of the given type, empty."""
    tensors = [T([1, 4, 4, 1], scale=[0.5], zero_point=[0], name="x"),
               T([1, 1, 1, 1], buffer=1, scale=[0.1], zero_point=[0], name="w"),
               T([1], "int32", buffer=2, scale=[0.05], zero_point=[0], name="b"),
               T([1, 4, 4, 1], scale=[0.5], zero_point=[0], name="y")]
    return craft(Spec(tensors=tensors, inputs=[0], outputs=[3], buffers=[B(), B(data=b"\x01"), B(data=bytes(4))],
                      operators=[Op(0, [0, 1, 2], [3], options_type)], opcodes=[3]))


def test_options_of_the_wrong_type():
    with pytest.raises(ModelError, match="builtin options are Pool2DOptions, expected Conv2DOptions"):
        read_model(_conv(5))


def test_absent_options_mean_schema_defaults():
    m = read_model(_conv(0))
    assert m.operators[0].options["padding"] == "SAME" and m.operators[0].options["stride_w"] == 0
    assert read_model(_conv(1)).operators[0].options == m.operators[0].options
    with pytest.raises(ModelError, match="stride"):  # defaults are invalid strides for a convolution
        runtime.load(_conv(0))
