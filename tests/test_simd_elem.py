"""SIMD ADD, AVERAGE_POOL_2D and MAX_POOL_2D through runtime.load on every ISA
this CPU can run vs LiteRT BUILTIN_REF, 0 differences: lengths and channel
counts around every vector width (1..67), extreme zero points and scale
ratios, activations, broadcasts; pool kernels 1/2/3/5, strides 1/2,
SAME/VALID, windows above 256 taps; plus hypothesis. The C test
tests/c/test_simd_elem.c sweeps the micro-kernels directly against the
scalar reference (shifts 0..31, zero multipliers, in place)."""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runtime
from runtime import _core
from tests import models
from tests import nn_models as NM
from tests.elem_oracle import random_inputs
from tests.oracle import litert_ref

ISAS = list(_core.available_isas())
ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def _assert_add_all_isas(buf, rng, what, n_inputs=2):
    loaded = []
    before = _core.isa()
    try:
        for isa in ISAS:
            _core.set_isa(isa)
            m = runtime.load(buf)
            assert m.isa == isa
            if isa != "scalar":
                assert m.memory["persistent_bytes"] > 0, f"{what}: {isa} plan did not record its SIMD path"
            loaded.append((isa, m))
            loaded.append((f"{isa} x2 threads", runtime.load(buf, num_threads=2)))
    finally:
        _core.set_isa(before)
    for _ in range(n_inputs):
        xs = random_inputs(loaded[0][1], rng, extremes=0.2)
        want = litert_ref(buf, list(xs))[0]
        for isa, m in loaded:
            got = m.infer(list(xs))
            bad = np.flatnonzero(got != want)
            assert bad.size == 0, (f"{what} on {isa}: {bad.size} of {want.size} differ; first at {bad[0]}: "
                                   f"{got.ravel()[bad[:5]]} vs {want.ravel()[bad[:5]]}")


ADD_SHAPES = [((n,), (n,)) for n in (1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 64, 67, 129)] + [
    ((1, 16, 16, 32), (1, 16, 16, 32)),  # ResNet-like residual add
    ((1, 32, 33, 20), (1, 32, 33, 20)),  # large enough to be split across threads
    ((1, 40, 30, 17), (17,)),
    ((1, 5, 3, 19), (19,)),              # per-channel vector
    ((67,), (1, 3, 4, 67)),              # per-channel on the other side
    ((1, 4, 4, 33), (1,)),               # scalar
    ((1,), (2, 3, 41)),
    ((1, 3, 1, 17), (1, 1, 5, 17)),      # both sides broadcast
    ((2, 3, 5, 1), (2, 3, 5, 9)),        # inner dim broadcast
]


@pytest.mark.parametrize("shapes", ADD_SHAPES, ids=lambda s: f"{s[0]}+{s[1]}")
@pytest.mark.parametrize("zps", [(0, 0, 0), (-128, 127, -128), (127, -128, 127), (9, -33, 71)])
def test_add_every_isa(shapes, zps):
    rng = np.random.default_rng(zlib.crc32(repr((shapes, zps)).encode()))
    for i, (ratio, k) in enumerate(((1.0, 1.0), (40.0, 0.3), (0.02, 3.0), (1.7, 0.51))):
        sa = float(rng.uniform(0.005, 0.1))
        buf = models.binary_model_q("ADD", shapes[0], shapes[1], (sa, zps[0]), (sa * ratio, zps[1]),
                                    ((sa + sa * ratio) * k, zps[2]), ACTS[i])
        _assert_add_all_isas(buf, rng, f"ADD {shapes} zps={zps} ratio={ratio} k={k} {ACTS[i]}")


POOL_GEOMETRY = list(itertools.product(["AVERAGE_POOL_2D", "MAX_POOL_2D"], [(1, 1), (2, 2), (3, 3), (5, 5), (2, 3)],
                                       [1, 2], ["SAME", "VALID"]))


@pytest.mark.parametrize("i,op,k,stride,padding", [(i, *g) for i, g in enumerate(POOL_GEOMETRY)],
                         ids=[f"{op[:3]}-k{k[0]}x{k[1]}-s{st}-{pad}" for op, k, st, pad in POOL_GEOMETRY])
def test_pool_channels_every_isa(i, op, k, stride, padding):
    rng = np.random.default_rng(7000 + i)
    for c in (1, 8, 15, 16, 17, 32, 33, 67):
        shape = (1 + (c == 17), 7, 6, c)
        NM.assert_matches_litert(NM.pool(rng, op, shape, k, (stride, stride), padding, ACTS[(i + c) % 4],
                                         q=(0.03, [-128, 127, 0, 11][c % 4])), rng, n_inputs=1)


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pool_large_windows_every_isa(op):
    """Windows above 256 taps (the int16 partial sums are flushed), global pools like KWS/VWW."""
    rng = np.random.default_rng(11)
    for shape, k in (((1, 20, 17, 40), (20, 17)), ((1, 25, 5, 64), (25, 5)), ((1, 3, 3, 256), (3, 3))):
        NM.assert_matches_litert(NM.pool(rng, op, shape, k, (1, 1), "VALID"), rng)


def test_average_pool_rounding_ties_every_isa():
    """Small inputs around the zero point make sum / count land on .5 often."""
    rng = np.random.default_rng(5)
    for k in ((2, 2), (2, 1), (3, 2)):
        buf = NM.pool(rng, "AVERAGE_POOL_2D", (1, 6, 6, 35), k, (1, 1), "VALID", q=(0.02, 3))
        models_ = []
        before = _core.isa()
        try:
            for isa in ISAS:
                _core.set_isa(isa)
                models_.append((isa, runtime.load(buf)))
        finally:
            _core.set_isa(before)
        x = (3 + rng.integers(-2, 3, size=(1, 6, 6, 35))).astype(np.int8)
        want = litert_ref(buf, [x])[0]
        for isa, m in models_:
            assert np.array_equal(m.infer(x), want), f"{isa}: ties for window {k}"


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_random_add_and_pools_every_isa(data):
    d = data.draw
    seed = d(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    c = d(st.integers(1, 67))
    out = (d(st.integers(1, 3)), d(st.integers(1, 5)), c)
    keep = d(st.lists(st.booleans(), min_size=3, max_size=3))
    shape_b = tuple(v if kb else 1 for v, kb in zip(out, keep))
    za, zb, zo = (d(st.integers(-128, 127)) for _ in range(3))
    sa, ratio, k = d(st.floats(0.001, 0.5)), d(st.floats(0.05, 20.0)), d(st.floats(0.3, 3.0))
    buf = models.binary_model_q("ADD", out, shape_b, (sa, za), (sa * ratio, zb), ((sa + sa * ratio) * k, zo),
                                d(st.sampled_from(ACTS)))
    _assert_add_all_isas(buf, rng, f"ADD {out}+{shape_b}", n_inputs=1)

    h, w = d(st.integers(1, 9)), d(st.integers(1, 9))
    kk = (d(st.integers(1, 5)), d(st.integers(1, 5)))
    padding = d(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID" and (kk[0] > h or kk[1] > w):
        padding = "SAME"
    model = NM.pool(rng, d(st.sampled_from(["AVERAGE_POOL_2D", "MAX_POOL_2D"])), (1, h, w, c), kk,
                    (d(st.integers(1, 2)), d(st.integers(1, 2))), padding, d(st.sampled_from(ACTS)),
                    q=(0.03, d(st.integers(-128, 127))))
    NM.assert_matches_litert(model, rng, n_inputs=1)
