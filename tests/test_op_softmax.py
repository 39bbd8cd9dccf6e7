"""SOFTMAX int8 vs LiteRT BUILTIN_REF (gemmlowp fixed-point reference): 0 differences."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import models
from tests.elem_oracle import assert_matches_oracle

OUT_Q = (1.0 / 256, -128)


@pytest.mark.parametrize("shape", [(1,), (7,), (1, 10), (3, 12), (2, 3, 5), (2, 2, 3, 17), (1, 1, 1, 64), (2, 1, 2, 3, 9)])
@pytest.mark.parametrize("in_scale", [0.004, 0.05, 0.25, 1.5])
@pytest.mark.parametrize("beta", [1.0, 0.3, 2.0])
def test_softmax_grid(shape, in_scale, beta):
    rng = np.random.default_rng(zlib.crc32(repr((shape, in_scale, beta)).encode()))
    zp = int(rng.integers(-128, 128))
    buf = models.unary_model_q("SOFTMAX", shape, (in_scale, zp), OUT_Q, {"beta": beta})
    for _ in range(2):
        assert_matches_oracle(buf, rng=rng, what=f"{shape} s={in_scale} beta={beta}")


@pytest.mark.parametrize("fill", [-128, 0, 127])
def test_softmax_constant_rows(fill):
    buf = models.unary_model_q("SOFTMAX", (3, 20), (0.1, 0), OUT_Q, {"beta": 1.0})
    assert_matches_oracle(buf, [np.full((3, 20), fill, np.int8)], what=f"fill {fill}")


def test_softmax_one_hot_and_wide_rows():
    x = np.full((2, 300), -128, np.int8)
    x[0, 5] = 127
    x[1, :] = np.arange(300) % 256 - 128
    buf = models.unary_model_q("SOFTMAX", (2, 300), (0.02, 3), OUT_Q, {"beta": 1.0})
    assert_matches_oracle(buf, [x], what="wide")


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 4), depth=st.integers(1, 40), scale=st.floats(0.001, 2.0),
       zp=st.integers(-128, 127), beta=st.floats(0.05, 4.0), seed=st.integers(0, 2**16))
def test_softmax_property(rows, depth, scale, zp, beta, seed):
    buf = models.unary_model_q("SOFTMAX", (rows, depth), (scale, zp), OUT_Q, {"beta": beta})
    assert_matches_oracle(buf, rng=np.random.default_rng(seed), what="hypothesis")
