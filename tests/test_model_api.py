"""runtime.load / Model.infer / infer_float / runtime.infer: behaviour and input validation.

Uses op-free models (outputs are inputs or constants) so the API is tested
independently of any kernel; real-model numerics live in test_real_models.py."""
import os
import threading

import numpy as np
import pytest

import runtime
from runtime import EmberError, InputError, ModelError, UnsupportedOpError
from tflite_craft import B, Spec, T, craft, identity


def two_io_model():
    """inputs a int8[1,4], b int16[2,3]; outputs b, a, c (constant int32[3])."""
    s = Spec(tensors=[T([1, 4], "int8", scale=[0.5], zero_point=[-3], name="a"),
                      T([2, 3], "int16", scale=[0.25], zero_point=[0], name="b"),
                      T([3], "int32", buffer=1, name="c")],
             inputs=[0, 1], outputs=[1, 0, 2], buffers=[B(), B(data=np.array([7, 8, 9], np.int32).tobytes())])
    return craft(s)


def test_exports():
    for name in ("load", "infer", "Model", "ModelError", "InputError", "UnsupportedOpError", "EmberError"):
        assert hasattr(runtime, name)
    assert issubclass(UnsupportedOpError, ModelError) and issubclass(InputError, EmberError)


def test_single_io_model(tmp_path):
    m = runtime.load(craft(identity((1, 4), scale=0.5, zero_point=3)))
    (spec,) = m.inputs
    assert (spec.name, spec.shape, spec.dtype, spec.scale, spec.zero_point) == ("x", (1, 4), "int8", 0.5, 3)
    assert m.outputs[0].name == "x"
    x = np.array([[1, -2, 3, 127]], np.int8)
    y = m.infer(x)
    assert isinstance(y, np.ndarray) and y.dtype == np.int8
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(m.infer([x]), x)
    np.testing.assert_array_equal(m.infer({"x": x}), x)
    assert m.arena_bytes == 16 and m.isa
    assert m.layers == [] and "arena 16 B" in repr(m)


def test_multi_io_model_returns_dict():
    m = runtime.load(two_io_model())
    assert [s.name for s in m.inputs] == ["a", "b"] and [s.name for s in m.outputs] == ["b", "a", "c"]
    a = np.arange(4, dtype=np.int8).reshape(1, 4)
    b = np.arange(6, dtype=np.int16).reshape(2, 3)
    out = m.infer([a, b])
    assert set(out) == {"a", "b", "c"}
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)
    np.testing.assert_array_equal(out["c"], [7, 8, 9])
    out2 = m.infer({"b": b, "a": a})
    np.testing.assert_array_equal(out2["b"], b)


@pytest.mark.parametrize("x, match", [
    (np.zeros((1, 4), np.float32), "must have dtype int8, got float32"),
    (np.zeros((1, 4), np.uint8), "must have dtype int8, got uint8"),
    (np.zeros((1, 5), np.int8), r"must have shape \(1, 4\), got \(1, 5\)"),
    (np.zeros((4,), np.int8), r"must have shape \(1, 4\), got \(4,\)"),
    ([np.zeros((1, 4), np.int8)] * 2, "model has 1 input"),
    ([], "model has 1 input"),
    ([[1, 2, 3, 4]], "must be a numpy array"),
    ([1, 2, 3, 4], "model has 1 input"),
    ({"y": np.zeros((1, 4), np.int8)}, r"missing \['x'\], unknown \['y'\]"),
    ("not an array", "must be a numpy array"),
])
def test_input_validation(x, match):
    m = runtime.load(craft(identity()))
    with pytest.raises(InputError, match=match):
        m.infer(x)


def test_wrong_input_count_multi():
    m = runtime.load(two_io_model())
    with pytest.raises(InputError, match="model has 2 input"):
        m.infer(np.zeros((1, 4), np.int8))


def test_non_contiguous_input():
    m = runtime.load(craft(identity((2, 3), scale=0.1, zero_point=0)))
    big = np.arange(24, dtype=np.int8).reshape(4, 6)
    x = big[::2, ::2]
    np.testing.assert_array_equal(m.infer(x), x)


def test_infer_float_quantizes_and_dequantizes():
    m = runtime.load(craft(identity((1, 4), scale=0.5, zero_point=3)))
    x = np.array([[0.0, 1.25, -1.0, 1000.0]], np.float32)
    y = m.infer_float(x)
    q = np.array([[3, 6, 1, 127]])  # round half away from zero, then clamp
    np.testing.assert_array_equal(y, (q - 3) * 0.5)
    assert y.dtype == np.float32
    with pytest.raises(InputError, match="NaN"):
        m.infer_float(np.array([[np.nan, 0, 0, 0]], np.float32))
    with pytest.raises(InputError, match="shape"):
        m.infer_float(np.zeros((2, 4), np.float32))


def test_num_threads_validation():
    data = craft(identity())
    assert runtime.load(data, num_threads=2).num_threads == 2
    for bad in (0, -1, 1000, 1.5, "2", True):
        with pytest.raises(InputError, match="num_threads"):
            runtime.load(data, num_threads=bad)


def test_runtime_infer_caches_by_path_mtime_size(tmp_path):
    runtime.clear_cache()
    path = tmp_path / "m.tflite"
    path.write_bytes(craft(identity((1, 4))))
    x = np.ones((1, 4), np.int8)
    np.testing.assert_array_equal(runtime.infer(str(path), x), x)
    from runtime import model as model_mod

    assert len(model_mod._cache) == 1
    first = next(iter(model_mod._cache.values()))
    runtime.infer(path, x)
    assert next(iter(model_mod._cache.values())) is first
    # a changed file is reloaded
    path.write_bytes(craft(identity((1, 6))))
    os.utime(path, ns=(1, 1))
    y = runtime.infer(str(path), np.ones((1, 6), np.int8))
    assert y.shape == (1, 6) and len(model_mod._cache) == 1
    m = runtime.load(craft(identity()))
    np.testing.assert_array_equal(runtime.infer(m, np.ones((1, 4), np.int8)), np.ones((1, 4)))
    np.testing.assert_array_equal(runtime.infer(craft(identity()), np.ones((1, 4), np.int8)), np.ones((1, 4)))
    with pytest.raises(ModelError, match="cannot read"):
        runtime.infer(str(tmp_path / "missing.tflite"), x)
    runtime.clear_cache()


def test_concurrent_infer_on_one_model():
    m = runtime.load(craft(identity((1, 512))))
    errors = []

    def work(v):
        x = np.full((1, 512), v, np.int8)
        for _ in range(100):
            if not (m.infer(x) == v).all():
                errors.append(v)

    threads = [threading.Thread(target=work, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_isa_is_the_one_the_model_was_planned_with():
    from runtime import _core

    if not hasattr(_core, "set_isa"):
        assert runtime.load(craft(identity())).isa == "scalar"
        return
    before = _core.isa()
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            m = runtime.load(craft(identity()))
            _core.set_isa("scalar")
            assert m.isa == isa
    finally:
        _core.set_isa(before)


def test_repeated_tensor_names_get_unique_keys():
    s = Spec(tensors=[T([1, 2], scale=[1.0], zero_point=[0], name="same"),
                      T([1, 3], scale=[1.0], zero_point=[0], name="same")], inputs=[0, 1], outputs=[1, 0])
    m = runtime.load(craft(s))
    assert [i.name for i in m.inputs] == ["same:0", "same:1"]
    out = m.infer({"same:0": np.ones((1, 2), np.int8), "same:1": np.zeros((1, 3), np.int8)})
    assert out["same:0"].shape == (1, 2) and out["same:1"].shape == (1, 3)


def test_duplicate_subgraph_outputs_rejected():
    s = identity()
    s.outputs = [0, 0]
    with pytest.raises(ModelError, match="outputs list a tensor twice"):
        runtime.load(craft(s))
