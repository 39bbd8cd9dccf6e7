"""AVERAGE_POOL_2D and MAX_POOL_2D vs LiteRT BUILTIN_REF: windows, strides,
paddings, activations and zero points; plus hypothesis."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import nn_models as NM

OPS = ["AVERAGE_POOL_2D", "MAX_POOL_2D"]
ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
GEOMETRY = list(itertools.product(OPS, ["SAME", "VALID"], [(1, 1), (2, 2), (3, 2)], [(1, 1), (2, 2), (3, 3), (2, 5)]))


@pytest.mark.parametrize("i,op,padding,stride,k", [(i, *g) for i, g in enumerate(GEOMETRY)])
def test_geometry_grid(i, op, padding, stride, k):
    rng = np.random.default_rng(3000 + i)
    shape = [(1, 9, 9, 3), (2, 8, 7, 5), (1, 10, 6, 1)][i % 3]
    NM.assert_matches_litert(NM.pool(rng, op, shape, k, stride, padding, ACTS[i % 4]), rng, n_inputs=1)


@pytest.mark.parametrize("op,zp,act", list(itertools.product(OPS, [-128, 127, 0], ACTS)))
def test_zero_points_and_activations(op, zp, act):
    rng = np.random.default_rng(abs(zp) + ACTS.index(act))
    scale = 6.0 / 200 if act != "RELU_N1_TO_1" else 1.0 / 100
    NM.assert_matches_litert(NM.pool(rng, op, (1, 6, 6, 4), (3, 3), (1, 1), "SAME", act, q=(scale, zp)), rng)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("act", ["NONE", "RELU6"])
def test_output_quantization_differs(op, act):
    """LiteRT writes the raw pooled int8 values and clamps with the output's activation range."""
    rng = np.random.default_rng(9)
    model = NM.pool(rng, op, (1, 6, 6, 3), (2, 2), (2, 2), "VALID", act, q=(0.05, 3), out_q=(0.04, -20))
    NM.assert_matches_litert(model, rng)


def test_global_average_like_kws():
    rng = np.random.default_rng(4)
    NM.assert_matches_litert(NM.pool(rng, "AVERAGE_POOL_2D", (1, 25, 5, 64), (25, 5), (2, 2), "VALID"), rng)
    NM.assert_matches_litert(NM.pool(rng, "AVERAGE_POOL_2D", (1, 3, 3, 256), (3, 3), (1, 1), "VALID"), rng)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_configurations(data):
    d = data.draw
    seed = d(st.integers(0, 2**31 - 1))
    h, w = d(st.integers(1, 10)), d(st.integers(1, 10))
    k = (d(st.integers(1, 4)), d(st.integers(1, 4)))
    padding = d(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID" and (k[0] > h or k[1] > w):
        padding = "SAME"
    rng = np.random.default_rng(seed)
    model = NM.pool(rng, d(st.sampled_from(OPS)), (d(st.integers(1, 2)), h, w, d(st.integers(1, 5))), k,
                    (d(st.integers(1, 3)), d(st.integers(1, 3))), padding, d(st.sampled_from(ACTS)),
                    q=(0.03, d(st.integers(-128, 127))))
    NM.assert_matches_litert(model, rng, n_inputs=1)
