"""DEPTHWISE_CONV_2D vs LiteRT BUILTIN_REF: grid over depth multipliers,
kernels, strides, dilations, paddings, activations and zero points, plus
hypothesis over random configurations."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import nn_models as NM

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
SHAPES = [(1, 9, 9, 3), (1, 8, 7, 2), (2, 6, 10, 4), (1, 11, 9, 1)]
GEOMETRY = list(itertools.product(["SAME", "VALID"], [(1, 1), (2, 2), (2, 1)], [(1, 1), (2, 2)],
                                  [(1, 1), (3, 3), (2, 3)], [1, 2, 3]))


@pytest.mark.parametrize("i,padding,stride,dilation,k,dm", [(i, *g) for i, g in enumerate(GEOMETRY)])
def test_geometry_grid(i, padding, stride, dilation, k, dm):
    rng = np.random.default_rng(2000 + i)
    model = NM.depthwise(rng, SHAPES[i % len(SHAPES)], dm, k, stride, dilation, padding, act=ACTS[i % len(ACTS)])
    NM.assert_matches_litert(model, rng, n_inputs=1)


@pytest.mark.parametrize("in_zp,out_zp,act", list(itertools.product([-128, 127, -3], [-128, 127], ACTS)))
def test_zero_points_and_activations(in_zp, out_zp, act):
    rng = np.random.default_rng(abs(in_zp) * 5 + abs(out_zp) + ACTS.index(act))
    out_s = 6.0 / 200 if act != "RELU_N1_TO_1" else 1.0 / 100
    model = NM.depthwise(rng, (1, 7, 7, 8), 1, (3, 3), (2, 2), (1, 1), "SAME", act,
                         in_q=(0.05, in_zp), out_q=(out_s, out_zp))
    NM.assert_matches_litert(model, rng)


@pytest.mark.parametrize("per_channel", [False, True])
def test_per_tensor_weights(per_channel):
    rng = np.random.default_rng(11 + per_channel)
    NM.assert_matches_litert(NM.depthwise(rng, (1, 6, 6, 4), 2, (3, 3), per_channel=per_channel), rng)


@pytest.mark.parametrize("per_channel", [False, True])
def test_weight_zero_points_are_ignored_like_litert(per_channel):
    rng = np.random.default_rng(21 + per_channel)
    NM.assert_matches_litert(NM.depthwise(rng, (1, 6, 6, 4), 1, (3, 3), per_channel=per_channel, w_zp=9), rng)


@pytest.mark.parametrize("dm,dm_option", [(2, 0), (2, 1), (2, 3), (1, 4)])
def test_depth_multiplier_option_is_ignored_like_litert(dm, dm_option):
    rng = np.random.default_rng(40 + dm_option)
    NM.assert_matches_litert(NM.depthwise(rng, (1, 5, 5, 3), dm, (3, 3), dm_option=dm_option), rng)


def test_large_channels_and_kernel():
    rng = np.random.default_rng(12)
    NM.assert_matches_litert(NM.depthwise(rng, (1, 10, 10, 64), 1, (3, 3), (2, 2)), rng)
    NM.assert_matches_litert(NM.depthwise(rng, (1, 12, 12, 5), 1, (7, 7), (1, 1), (1, 1), "VALID"), rng)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_configurations(data):
    d = data.draw
    seed = d(st.integers(0, 2**31 - 1))
    h, w, c, k, stride, dilation, padding = NM.draw_conv_geometry(d)
    rng = np.random.default_rng(seed)
    model = NM.depthwise(rng, (d(st.integers(1, 2)), h, w, c), d(st.integers(1, 3)), k, stride, dilation,
                         padding, d(st.sampled_from(ACTS)), per_channel=d(st.booleans()),
                         in_q=(0.03, d(st.integers(-128, 127))))
    NM.assert_matches_litert(model, rng, n_inputs=1)
