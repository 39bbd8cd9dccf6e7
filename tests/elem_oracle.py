"""Shared check for the elementwise/shape op tests: Ember vs LiteRT BUILTIN_REF, 0 differences."""
from __future__ import annotations

import numpy as np

import runtime
from tests.oracle import litert_ref


def random_inputs(model, rng, extremes: float = 0.1):
    """Random inputs for every model input (integers with some min/max values; float32 normal)."""
    xs = []
    for spec in model.inputs:
        if spec.dtype == "float32":
            xs.append((rng.standard_normal(spec.shape) * 3).astype(np.float32))
            continue
        info = np.iinfo(np.dtype(spec.dtype))
        x = rng.integers(info.min, info.max + 1, spec.shape).astype(spec.dtype)
        mask = rng.random(spec.shape) < extremes
        x[mask] = rng.choice(np.array([info.min, info.max], spec.dtype), size=int(mask.sum()))
        xs.append(x)
    return xs


def assert_matches_oracle(model_bytes: bytes, inputs=None, rng=None, what: str = ""):
    """Load with Ember, run on inputs (random if None), compare with LiteRT BUILTIN_REF bit for bit."""
    m = runtime.load(model_bytes)
    if inputs is None:
        inputs = random_inputs(m, rng if rng is not None else np.random.default_rng(0))
    got = m.infer(list(inputs))
    ref = litert_ref(model_bytes, list(inputs))[0]
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype} vs {ref.dtype}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs {ref.shape}"
    if got.dtype == np.float32:
        same = got.view(np.int32) == ref.view(np.int32)
    else:
        same = got == ref
    if not np.all(same):
        idx = np.argwhere(~same)[:5].tolist()
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        raise AssertionError(f"{what}: {int((~same).sum())} of {same.size} differ from BUILTIN_REF "
                             f"(max |diff| {diff.max()}); first at {idx}: ember {got[~same][:5]} vs ref {ref[~same][:5]}")
    return got
