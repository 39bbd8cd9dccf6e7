"""runtime._core.Plan: building, running and error mapping of the C executor binding."""
import numpy as np
import pytest

from runtime import _core
from runtime.errors import InputError, ModelError, RuntimeFailure


def identity_plan(shape=(1, 4), dtype="int8"):
    p = _core.Plan()
    x = p.add_tensor(list(shape), dtype, 0.5, 1)
    p.set_io([x], [x])
    p.finalize(1)
    return p


def test_ops_lists_names_and_params():
    ops = _core.ops()
    assert isinstance(ops, dict)
    assert ops == _core.Plan.ops()
    for name, params in ops.items():
        assert name.isupper() and all(isinstance(n, str) and n for n in params)


def test_identity_plan_runs_and_copies_output():
    p = identity_plan()
    x = np.arange(4, dtype=np.int8).reshape(1, 4)
    (y,) = p.run([x])
    assert y.dtype == np.int8 and y.shape == (1, 4)
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(x, y)
    assert p.arena_bytes == 16
    mem = p.memory()
    assert mem["arena_bytes"] == 16 and mem["scratch_bytes"] == 0


def test_non_contiguous_and_other_dtypes_are_copied_in():
    p = identity_plan((2, 3), "float32")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:2, :3]
    assert not x.flags.c_contiguous
    (y,) = p.run([x])
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([np.zeros((1, 5), np.int8)], r"shape \(1, 5\), expected \(1, 4\)"),
        ([np.zeros((4,), np.int8)], r"shape \(4,\), expected \(1, 4\)"),
        ([np.zeros((1, 4), np.float32)], "dtype float32, expected int8"),
        ([], "expected 1 input"),
        ([np.zeros((1, 4), np.int8)] * 2, "expected 1 input"),
        ([[1, 2, 3, 4]], "must be a numpy array"),
    ],
)
def test_run_rejects_bad_inputs(bad, match):
    with pytest.raises(InputError, match=match):
        identity_plan().run(bad)


def test_run_before_finalize():
    p = _core.Plan()
    p.add_tensor([1], "int8")
    with pytest.raises(RuntimeFailure, match="not finalized"):
        p.run([])


def test_build_errors_are_model_errors():
    p = _core.Plan()
    with pytest.raises(ModelError, match="unsupported tensor dtype 'float16'"):
        p.add_tensor([1], "float16")
    with pytest.raises(ModelError, match="dimension -3"):
        p.add_tensor([1, -3], "int8")
    with pytest.raises(ModelError, match="rank 7"):
        p.add_tensor([1] * 7, "int8")
    with pytest.raises(ModelError, match="overflows"):
        p.add_tensor([65536, 65536, 4], "int8")
    with pytest.raises(ModelError, match="elements"):
        p.add_tensor([2, 2], "int8", data=np.zeros(3, np.int8))
    with pytest.raises(ModelError, match="dtype"):
        p.add_tensor([2], "int8", data=np.zeros(2, np.int32))
    with pytest.raises(ModelError, match="unknown kernel 'NOPE'"):
        p.add_op("NOPE", [], [0], {})
    x = p.add_tensor([2], "int8")
    with pytest.raises(ModelError, match="constant"):
        c = p.add_tensor([2], "int8", data=np.zeros(2, np.int8))
        p.set_io([c], [x])
    p.set_io([], [x])
    with pytest.raises(ModelError, match="never written"):
        p.finalize(1)
    with pytest.raises(ModelError, match="finalize"):
        p.finalize(1)


def test_constants_are_borrowed_and_kept_alive():
    p = _core.Plan()
    data = np.arange(6, dtype=np.int32).reshape(2, 3)
    c = p.add_tensor([2, 3], "int32", data=data)
    del data  # the plan holds a reference
    x = p.add_tensor([1], "int8")
    p.set_io([x], [x, c])
    p.finalize(1)
    outs = p.run([np.ones(1, np.int8)])
    np.testing.assert_array_equal(outs[1], np.arange(6, dtype=np.int32).reshape(2, 3))


def test_misaligned_constant_is_copied():
    raw = np.zeros(4 * 4 + 1, np.uint8)
    view = raw[1:].view(np.int32)  # misaligned int32 view
    view[:] = [1, 2, 3, 4]
    p = _core.Plan()
    c = p.add_tensor([4], "int32", data=view)
    x = p.add_tensor([1], "int8")
    p.set_io([x], [c])
    p.finalize(1)
    np.testing.assert_array_equal(p.run([np.ones(1, np.int8)])[0], [1, 2, 3, 4])
