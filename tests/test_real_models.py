"""MLPerf Tiny models end to end: bit-exact with LiteRT BUILTIN_REF on 50 random inputs each."""
import numpy as np
import pytest

import runtime
from oracle import litert_ref
from real_models import KWS, VWW, model_bytes
from runtime.ops import load_all
from runtime.tflite.reader import read_model

N_INPUTS = 50


def load_or_skip(path):
    data = model_bytes(path)
    missing = sorted({op.name for op in read_model(data).operators} - set(load_all()))
    if missing:
        pytest.skip(f"no builder yet for {', '.join(missing)}")
    return data


@pytest.mark.parametrize("path", [KWS, VWW], ids=["kws", "vww"])
def test_bit_exact_with_litert_reference(path):
    data = load_or_skip(path)
    m = runtime.load(data)
    (spec,) = m.inputs
    rng = np.random.default_rng(1234)
    for i in range(N_INPUTS):
        x = rng.integers(-128, 128, spec.shape, dtype=np.int8)
        got = m.infer(x)
        (want,) = litert_ref(data, [x])
        assert got.dtype == want.dtype and got.shape == want.shape
        diff = int(np.count_nonzero(got != want))
        assert diff == 0, f"input {i}: {diff} element(s) differ: ours {got.ravel()[:12]}, litert {want.ravel()[:12]}"


@pytest.mark.parametrize("path", [KWS, VWW], ids=["kws", "vww"])
def test_memory_plan_shares_activations(path):
    data = load_or_skip(path)
    m = runtime.load(data)
    mem = m.memory
    assert mem["arena_bytes"] == mem["activation_bytes"] + mem["scratch_bytes"]
    # a chain of layers needs far less than every activation at once
    assert mem["activation_bytes"] < mem["naive_activation_bytes"] / 2
    largest_pair = max(sum(np.prod(s) for s in l.input_shapes[:1] + l.output_shapes) for l in m.layers)
    assert mem["activation_bytes"] >= largest_pair
    assert m.macs > 0 and all(l.kernels for l in m.layers)


@pytest.mark.parametrize("path", [KWS, VWW], ids=["kws", "vww"])
def test_threads_give_identical_results(path):
    data = load_or_skip(path)
    m1, m2 = runtime.load(data), runtime.load(data, num_threads=2)
    x = np.random.default_rng(5).integers(-128, 128, m1.inputs[0].shape, dtype=np.int8)
    np.testing.assert_array_equal(m1.infer(x), m2.infer(x))
