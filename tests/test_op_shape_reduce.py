"""RESHAPE / SQUEEZE / EXPAND_DIMS, CONCATENATION and MEAN int8 vs BUILTIN_REF: 0 differences."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runtime
from runtime.errors import ModelError
from tests import models
from tests.elem_oracle import assert_matches_oracle


@pytest.mark.parametrize("in_shape,new_shape", [((1, 4, 4, 2), (1, 32)), ((1, 32), (2, 4, 4)),
                                                ((3, 5), (15,)), ((2, 3, 4), (4, 3, 2)), ((1, 1, 1, 12), (12,))])
def test_reshape(in_shape, new_shape):
    buf = models.reshape_model(np.random.default_rng(0), in_shape, new_shape)
    assert_matches_oracle(buf, rng=np.random.default_rng(1), what=f"{in_shape}->{new_shape}")


@pytest.mark.parametrize("in_shape,dims", [((1, 3, 1, 4), None), ((1, 3, 1, 4), [0]), ((1, 3, 1, 4), [-2, 0]),
                                           ((5, 1), [1])])
def test_squeeze(in_shape, dims):
    assert_matches_oracle(models.squeeze_model(in_shape, dims), rng=np.random.default_rng(2), what="squeeze")


@pytest.mark.parametrize("in_shape,axis", [((3, 4), 0), ((3, 4), 1), ((3, 4), 2), ((3, 4), -1), ((2, 2, 2), -4)])
def test_expand_dims(in_shape, axis):
    assert_matches_oracle(models.expand_dims_model(in_shape, axis), rng=np.random.default_rng(3), what="expand")


@pytest.mark.parametrize("shapes,axis", [
    (((1, 4, 4, 3), (1, 4, 4, 5)), -1), (((1, 4, 4, 3), (1, 4, 4, 3)), 3), (((2, 3), (4, 3), (1, 3)), 0),
    (((2, 3), (2, 1), (2, 7)), 1), (((1, 2, 4, 3), (1, 5, 4, 3)), 1), (((1, 2, 4, 3), (1, 2, 1, 3)), -2),
    (((6,),), 0), (((2, 2, 2, 2, 2), (2, 2, 3, 2, 2)), 2)])
def test_concatenation(shapes, axis):
    buf = models.concatenation_model(np.random.default_rng(4), shapes, axis)
    assert_matches_oracle(buf, rng=np.random.default_rng(5), what=f"{shapes} axis {axis}")


def test_concatenation_rejects_mixed_quantization():
    from runtime.tflite.writer import ModelBuilder
    mb = ModelBuilder()
    a = mb.add_tensor("a", (1, 2), "int8", scale=0.1, zero_point=0)
    b = mb.add_tensor("b", (1, 2), "int8", scale=0.2, zero_point=0)
    y = mb.add_tensor("y", (1, 4), "int8", scale=0.1, zero_point=0)
    mb.add_operator("CONCATENATION", [a, b], [y], {"axis": 1})
    mb.set_io([a, b], [y])
    with pytest.raises(ModelError, match="identical scales"):
        runtime.load(mb.build())


MEAN_CASES = [
    ((1, 4, 4, 8), (1, 2), True), ((1, 4, 4, 8), (2, 1), True), ((1, 4, 4, 8), (-3, -2), True),
    ((2, 5, 7, 3), (1, 2), False), ((1, 6, 6, 16), (1, 2), True), ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), (-1,), True), ((4, 6), (0,), False), ((3, 3, 3, 3), (0, 1, 2, 3), True),
    ((2, 3, 4, 5), (3, 1, 1), False), ((1, 10, 10, 2), (1, 2), True), ((2, 3, 2, 2, 3), (1, 3), False),
]


@pytest.mark.parametrize("in_shape,axes,keep", MEAN_CASES)
@pytest.mark.parametrize("qcase", ["same", "down", "up", "zp_extremes"])
def test_mean(in_shape, axes, keep, qcase):
    rng = np.random.default_rng(zlib.crc32(repr((in_shape, axes, keep, qcase)).encode()))
    si, zi = 0.05, int(rng.integers(-40, 41))
    out_q = {"same": (si, zi), "down": (si * 0.37, 9), "up": (si * 6.1, -20), "zp_extremes": (si, 127)}[qcase]
    if qcase == "zp_extremes":
        zi = -128
    buf = models.mean_model_q(in_shape, axes, keep, (si, zi), out_q)
    for _ in range(2):
        assert_matches_oracle(buf, rng=rng, what=f"MEAN {in_shape} {axes} {keep} {qcase}")


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=5), data=st.data(), keep=st.booleans(),
       si=st.floats(0.005, 0.5), ratio=st.floats(0.1, 10.0), zi=st.integers(-128, 127), zo=st.integers(-128, 127),
       seed=st.integers(0, 2**16))
def test_mean_property(shape, data, keep, si, ratio, zi, zo, seed):
    nd = len(shape)
    axes = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd))
    reduced = {a % nd for a in axes}
    if not keep and len(reduced) == nd:
        return  # a rank-0 output; covered with keep_dims
    buf = models.mean_model_q(tuple(shape), axes, keep, (si, zi), (si * ratio, zo))
    assert_matches_oracle(buf, rng=np.random.default_rng(seed), what="hypothesis")


def test_mean_to_scalar():
    from runtime.tflite.writer import ModelBuilder
    mb = ModelBuilder()
    x = mb.add_tensor("x", (3, 4), "int8", scale=0.05, zero_point=2)
    a = mb.add_tensor("axes", (2,), "int32", data=np.asarray([0, 1], np.int32))
    y = mb.add_tensor("y", (), "int8", scale=0.02, zero_point=-3)
    mb.add_operator("MEAN", [x, a], [y], {"keep_dims": False})
    mb.set_io([x], [y])
    assert_matches_oracle(mb.build(), rng=np.random.default_rng(6), what="MEAN to a scalar")
