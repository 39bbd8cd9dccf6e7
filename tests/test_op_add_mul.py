"""ADD and MUL int8 with broadcasting and fused activations vs LiteRT BUILTIN_REF: 0 differences."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import ModelError
import runtime
from tests import models
from tests.elem_oracle import assert_matches_oracle

BROADCASTS = [
    ((1, 4, 4, 8), (1, 4, 4, 8)),   # same shape
    ((1, 4, 4, 8), (8,)),           # per-channel vector
    ((1, 4, 4, 8), (1, 1, 1, 8)),
    ((2, 3, 1, 5), (1, 1, 4, 1)),   # both sides broadcast
    ((4, 1), (1, 6)),
    ((1,), (3, 2, 5)),              # scalar-like
    ((2, 1, 3), (4, 1)),
    ((2, 3, 2, 2, 3), (3, 1, 1, 3)),  # 5-D
    ((7,), (7,)),
]
ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def _add_out_scale(sa, sb, k):
    return (sa + sb) * k


@pytest.mark.parametrize("shapes", BROADCASTS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("zps", [(0, 0, 0), (-128, 127, -128), (127, -128, 127), (5, -17, 33)])
def test_add_grid(shapes, act, zps):
    rng = np.random.default_rng(zlib.crc32(repr((shapes, act, zps)).encode()))
    for ratio, k in ((1.0, 1.0), (7.5, 0.6), (0.11, 2.5)):
        sa = float(rng.uniform(0.01, 0.1))
        sb = sa * ratio
        buf = models.binary_model_q("ADD", shapes[0], shapes[1], (sa, zps[0]), (sb, zps[1]),
                                    (_add_out_scale(sa, sb, k), zps[2]), act)
        assert_matches_oracle(buf, rng=rng, what=f"ADD {shapes} {act} {zps} ratio={ratio}")


@pytest.mark.parametrize("shapes", BROADCASTS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("zps", [(0, 0, 0), (-128, 127, -128), (127, -128, 127), (5, -17, 33)])
def test_mul_grid(shapes, act, zps):
    rng = np.random.default_rng(zlib.crc32(repr((shapes, act, zps, "mul")).encode()))
    for k in (128.0, 4.0, 3000.0, 0.5):  # effective multiplier s1*s2/so from < 1 to > 1
        sa, sb = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.005, 0.2))
        buf = models.binary_model_q("MUL", shapes[0], shapes[1], (sa, zps[0]), (sb, zps[1]),
                                    (sa * sb * k, zps[2]), act)
        assert_matches_oracle(buf, rng=rng, what=f"MUL {shapes} {act} {zps} k={k}")


def test_add_rejects_tiny_output_scale():
    buf = models.binary_model_q("ADD", (4,), (4,), (0.5, 0), (0.5, 0), (1e-9, 0))
    with pytest.raises(ModelError, match="too small"):
        runtime.load(buf)


def _shapes():
    return st.lists(st.integers(1, 4), min_size=1, max_size=4).flatmap(
        lambda out: st.tuples(st.just(tuple(out)),
                              st.lists(st.booleans(), min_size=len(out), max_size=len(out)),
                              st.integers(0, len(out) - 1)))


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(["ADD", "MUL"]), shp=_shapes(), act=st.sampled_from(ACTS),
       za=st.integers(-128, 127), zb=st.integers(-128, 127), zo=st.integers(-128, 127),
       sa=st.floats(0.001, 0.5), ratio=st.floats(0.05, 20.0), k=st.floats(0.3, 3.0),
       seed=st.integers(0, 2**16))
def test_add_mul_property(op, shp, act, za, zb, zo, sa, ratio, k, seed):
    out, keep, drop = shp
    shape_a = tuple(out)
    shape_b = tuple(d if kd else 1 for d, kd in zip(out, keep))[drop:]
    sb = sa * ratio
    so = (sa + sb) * k if op == "ADD" else sa * sb * 128 * k
    buf = models.binary_model_q(op, shape_a, shape_b, (sa, za), (sb, zb), (so, zo), act)
    try:
        runtime.load(buf)
    except ModelError as e:  # a valid rejection (e.g. empty activation range) must say why
        assert "operator 0 (" in str(e)
        return
    assert_matches_oracle(buf, rng=np.random.default_rng(seed), what="hypothesis")


def test_relu6_bound_is_quantized_in_float():
    # 6 / 0.14814815f is 40.4999997 in double but 40.5 in float: TFLite clamps at 41.
    so = 0.14814814925193787
    buf = models.binary_model_q("ADD", (64,), (64,), (0.1, 0), (0.1, 0), (so, 0), "RELU6")
    x = np.full(64, 127, np.int8)
    y = assert_matches_oracle(buf, [x, x], what="RELU6 bound")
    assert y.max() == 41


@pytest.mark.parametrize("op", ["ADD", "MUL"])
def test_constant_operand(op):
    from runtime.tflite.writer import ModelBuilder
    rng = np.random.default_rng(11)
    c = rng.integers(-128, 128, (1, 1, 8)).astype(np.int8)
    mb = ModelBuilder()
    a = mb.add_tensor("a", (2, 3, 8), "int8", scale=0.04, zero_point=-7)
    b = mb.add_tensor("b", (1, 1, 8), "int8", data=c, scale=0.02, zero_point=3)
    so = 0.05 if op == "ADD" else 0.04 * 0.02 * 100
    y = mb.add_tensor("y", (2, 3, 8), "int8", scale=so, zero_point=1)
    mb.add_operator(op, [a, b], [y], {"fused_activation_function": "NONE"})
    mb.set_io([a], [y])
    assert_matches_oracle(mb.build(), rng=rng, what=f"{op} with a constant")
