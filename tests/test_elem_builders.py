"""Op builders of the elementwise/shape ops (runtime/ops): validation messages and
TFLite-Prepare parameters, without the C executor (a stub graph collects emitted ops)."""
from __future__ import annotations

import numpy as np
import pytest

from runtime.errors import ModelError
from runtime.ops import load_all
from runtime.ops._binary import add_params, mul_params
from runtime.ops.base import OpContext, Tensor
from runtime.ops.softmax import softmax_params


class StubGraph:
    def __init__(self):
        self.consts = []

    def new_const(self, array, name):
        t = Tensor(1000 + len(self.consts), name, tuple(array.shape), str(array.dtype), data=array)
        self.consts.append(t)
        return t

    def new_tensor(self, shape, dtype, scale, zp, name):  # pragma: no cover - unused by these ops
        raise AssertionError("no intermediates expected")


def q8(i, shape, scale=0.05, zp=0, name=None):
    return Tensor(i, name or f"t{i}", tuple(shape), "int8", np.array([scale], np.float64), np.array([zp], np.int64))


def build(name, inputs, outputs, options=None):
    ctx = OpContext(StubGraph(), 7, name, inputs, outputs, options or {})
    load_all()[name](ctx)
    return ctx


def test_softmax_params_match_tflite_prepare():
    # beta * scale * 2^26 = 2^22 -> multiplier 2^30, shift 23; radius floor(31 * 2^26 / 2^23) = 248
    assert softmax_params(1.0, 0.0625) == {"input_multiplier": 1 << 30, "input_left_shift": 23, "diff_min": -248}
    with pytest.raises(ValueError):
        softmax_params(0.0, 0.1)


def test_add_params_left_shift_20_and_smaller_than_one():
    p = add_params(0.1, 3, 0.05, -2, 0.2, 5)
    assert p["left_shift"] == 20 and p["input1_offset"] == -3 and p["input2_offset"] == 2
    assert p["input1_multiplier"] == 1 << 30 and p["input1_shift"] == 0  # 0.1 / 0.2 = 0.5
    assert all(p[k] <= 0 for k in ("input1_shift", "input2_shift", "output_shift"))
    with pytest.raises(ValueError, match="too small"):
        add_params(0.5, 0, 0.5, 0, 1e-9, 0)


def test_mul_params():
    p = mul_params(0.5, 0, 0.25, 0, 0.125, 0)  # 0.5 * 0.25 / 0.125 = 1 -> 2^30 << 1
    assert (p["output_multiplier"], p["output_shift"]) == (1 << 30, 1)


def test_emitted_records():
    ctx = build("SOFTMAX", [q8(0, (1, 10), 0.0625)], [q8(1, (1, 10), 1 / 256, -128)], {"beta": 1.0})
    (e,) = ctx.emitted
    assert e.kernel == "SOFTMAX" and e.params["diff_min"] == -248
    ctx = build("LOGISTIC", [q8(0, (4,), 0.05, 3)], [q8(1, (4,), 1 / 256, -128)])
    (e,) = ctx.emitted
    assert e.kernel == "LOGISTIC" and e.inputs[1].data.tolist() == [np.float32(0.05), 1 / 256]
    ctx = build("MEAN", [q8(0, (1, 4, 4, 8)), Tensor(5, "axes", (2,), "int32", data=np.array([1, 2], np.int32))],
                [q8(1, (1, 1, 1, 8), 0.03)], {"keep_dims": True})
    assert ctx.emitted[0].params["axis_mask"] == 0b0110
    ctx = build("SQUEEZE", [q8(0, (1, 3, 1))], [q8(1, (3,))], {"squeeze_dims": [0, 2]})
    assert ctx.emitted[0].kernel == "RESHAPE"
    ctx = build("CONCATENATION", [q8(0, (2, 3)), q8(1, (2, 5))], [q8(2, (2, 8))], {"axis": -1})
    assert ctx.emitted[0].params == {"axis": 1}


@pytest.mark.parametrize("name,inputs,outputs,options,match", [
    ("SOFTMAX", [q8(0, (1, 10))], [q8(1, (1, 10), 1 / 256, 0)], {"beta": 1.0}, "zero point must be -128"),
    ("SOFTMAX", [q8(0, (1, 10))], [q8(1, (1, 10), 0.1, -128)], {"beta": 1.0}, "scale must be 1/256"),
    ("SOFTMAX", [q8(0, (1, 10))], [q8(1, (1, 10), 1 / 256, -128)], {}, "too small"),
    ("LOGISTIC", [q8(0, (4,))], [q8(1, (4,), 0.01, -128)], {}, "exactly 1/256"),
    ("ADD", [q8(0, (2, 3)), q8(1, (4, 3))], [q8(2, (2, 3))], {}, "do not broadcast"),
    ("ADD", [q8(0, (2, 3)), q8(1, (1, 3))], [q8(2, (2, 1))], {}, "broadcast shape"),
    ("ADD", [q8(0, (3,)), q8(1, (3,))], [q8(2, (3,))], {"fused_activation_function": "TANH"}, "not supported"),
    ("MUL", [q8(0, (3,)), q8(1, (3,), 1e3)], [q8(2, (3,), 1e-9)], {}, "too large"),
    ("MUL", [q8(0, (3,)), q8(1, (3,))], [q8(2, (3,), 2.0**-31)], {"fused_activation_function": "RELU_N1_TO_1"},
     "overflows int32"),
    ("ADD", [q8(0, (3,)), q8(1, (3,))], [q8(2, (3,), 1e-45)], {"fused_activation_function": "RELU6"},
     "overflows int32"),  # 6 / subnormal scale is inf in float32
    ("MUL", [q8(0, (3,)), Tensor(1, "f", (3,), "float32")], [q8(2, (3,))], {}, "must be int8"),
    ("CONCATENATION", [q8(0, (2, 3)), q8(1, (2, 3), 0.07)], [q8(2, (2, 6))], {"axis": 1}, "identical scales"),
    ("CONCATENATION", [q8(0, (2, 3)), q8(1, (2, 3))], [q8(2, (2, 6))], {"axis": 2}, "out of range"),
    ("CONCATENATION", [q8(0, (2, 3))], [q8(2, (2, 3))], {"axis": 0, "fused_activation_function": "RELU"}, "NONE"),
    ("MEAN", [q8(0, (2, 3)), Tensor(5, "a", (1,), "int32", data=np.array([2], np.int32))], [q8(1, (2,))], {},
     "out of range"),
    ("MEAN", [q8(0, (2, 3)), Tensor(5, "a", (1,), "int32")], [q8(1, (2,))], {}, "must be a constant"),
    ("RESHAPE", [q8(0, (2, 3))], [q8(1, (7,))], {}, "elements"),
    ("RESHAPE", [q8(0, (2, 3)), Tensor(5, "s", (2,), "int32", data=np.array([3, -1], np.int32))], [q8(1, (6,))],
     {}, "disagrees"),
    ("SQUEEZE", [q8(0, (1, 3))], [q8(1, (3,))], {"squeeze_dims": [1]}, "cannot squeeze"),
    ("QUANTIZE", [Tensor(0, "x", (4,), "float32")], [Tensor(1, "y", (4,), "int8")], {}, "no quantization"),
    ("DEQUANTIZE", [q8(0, (4,))], [q8(1, (4,))], {}, "must be float32"),
    ("DEQUANTIZE", [q8(0, (4,), 0.0)], [Tensor(1, "y", (4,), "float32")], {}, "invalid scale"),
    ("DEQUANTIZE", [q8(0, (4,), 0.1, 200)], [Tensor(1, "y", (4,), "float32")], {}, "outside the int8 range"),
])
def test_builder_rejects(name, inputs, outputs, options, match):
    with pytest.raises(ModelError, match=match) as e:
        build(name, inputs, outputs, options)
    assert f"operator 7 ({name})" in str(e.value)


def test_rank_above_six_is_rejected():
    with pytest.raises(ModelError, match="at most 6"):
        build("RESHAPE", [q8(0, (1,) * 7)], [q8(1, (1,))])
