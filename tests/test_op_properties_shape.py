"""Hypothesis property tests for the data-movement ops RESHAPE, CONCATENATION and
PAD/PADV2 (their grids live in test_op_shape_reduce.py and test_op_pad.py):
random configurations, 0 differences against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import models
from tests import nn_models as NM
from tests.elem_oracle import assert_matches_oracle

_shape = st.lists(st.integers(1, 5), min_size=1, max_size=5)


@settings(max_examples=30, deadline=None)
@given(shape=_shape, data=st.data(), seed=st.integers(0, 2**16))
def test_reshape_property(shape, data, seed):
    # new shape: a random regrouping of the prime factors of the element count
    n = int(np.prod(shape))
    factors, f, m = [], 2, n
    while m > 1:
        while m % f == 0:
            factors.append(f)
            m //= f
        f += 1
    rank = data.draw(st.integers(1, 5))
    slots = data.draw(st.lists(st.integers(0, rank - 1), min_size=len(factors), max_size=len(factors)))
    new = [1] * rank
    for p, slot in zip(factors, slots):
        new[slot] *= p
    rng = np.random.default_rng(seed)
    buf = models.reshape_model(rng, tuple(shape), tuple(new))
    assert_matches_oracle(buf, rng=rng, what=f"{shape}->{new}")


@settings(max_examples=30, deadline=None)
@given(shape=_shape, data=st.data(), seed=st.integers(0, 2**16))
def test_concatenation_property(shape, data, seed):
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    sizes = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    shapes = []
    for s in sizes:
        one = list(shape)
        one[axis % nd] = s
        shapes.append(tuple(one))
    rng = np.random.default_rng(seed)
    buf = models.concatenation_model(rng, shapes, axis)
    assert_matches_oracle(buf, rng=rng, what=f"{shapes} axis {axis}")


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), data=st.data(), zp=st.integers(-128, 127),
       constant=st.one_of(st.none(), st.integers(-128, 127)), seed=st.integers(0, 2**16))
def test_pad_property(shape, data, zp, constant, seed):
    pads = data.draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=len(shape),
                              max_size=len(shape)))
    rng = np.random.default_rng(seed)
    model = NM.pad(rng, tuple(shape), tuple(pads), q=(0.05, zp), constant=constant)
    NM.assert_matches_litert(model, rng, n_inputs=1)
