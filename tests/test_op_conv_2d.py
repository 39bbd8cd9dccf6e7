"""CONV_2D vs LiteRT BUILTIN_REF: a grid of shapes, kernels, strides,
dilations, paddings, activations and zero points (0 differences), plus
hypothesis over random configurations."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import nn_models as NM
from tests.oracle import litert_ref

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
SHAPES = [((1, 9, 9, 3), 4), ((1, 8, 7, 2), 3), ((2, 6, 10, 4), 5), ((1, 11, 9, 1), 2)]
GEOMETRY = list(itertools.product(["SAME", "VALID"], [(1, 1), (2, 2), (1, 2)], [(1, 1), (2, 2), (1, 3)],
                                  [(1, 1), (3, 3), (2, 3)]))


@pytest.mark.parametrize("i,padding,stride,dilation,k", [(i, *g) for i, g in enumerate(GEOMETRY)])
def test_geometry_grid(i, padding, stride, dilation, k):
    rng = np.random.default_rng(1000 + i)
    in_shape, out_c = SHAPES[i % len(SHAPES)]
    model = NM.conv(rng, in_shape, out_c, k, stride, dilation, padding, act=ACTS[i % len(ACTS)])
    NM.assert_matches_litert(model, rng)


@pytest.mark.parametrize("in_zp,out_zp,act", list(itertools.product([-128, 127, 5], [-128, 127], ACTS)))
def test_zero_points_and_activations(in_zp, out_zp, act):
    rng = np.random.default_rng(abs(in_zp) * 7 + abs(out_zp) * 3 + ACTS.index(act))
    # an output scale whose RELU6 / RELU_N1_TO_1 bounds land inside int8 for these zero points
    out_s = 6.0 / 200 if act != "RELU_N1_TO_1" else 1.0 / 100
    model = NM.conv(rng, (1, 7, 7, 3), 4, (3, 3), (1, 1), (1, 1), "SAME", act,
                    in_q=(0.05, in_zp), out_q=(out_s, out_zp))
    NM.assert_matches_litert(model, rng)


@pytest.mark.parametrize("per_channel", [False, True])
def test_weights_quantization(per_channel):
    rng = np.random.default_rng(7 + 2 * per_channel)
    model = NM.conv(rng, (1, 6, 6, 5), 6, (3, 3), (2, 2), (1, 1), "SAME", "RELU", per_channel=per_channel)
    NM.assert_matches_litert(model, rng)


def test_without_bias_equals_zero_bias():
    """LiteRT refuses an int8 CONV_2D without bias; Ember runs it as a zero bias (every ISA)."""
    import runtime
    from runtime import _core

    x = np.random.default_rng(4).integers(-128, 128, (1, 7, 7, 5)).astype(np.int8)
    args = ((1, 7, 7, 5), 6, (3, 3), (2, 1), (1, 1), "SAME", "RELU")
    no_bias = NM.conv(np.random.default_rng(3), *args, bias=False)
    zero_bias = NM.conv(np.random.default_rng(3), *args, bias="zero")
    want = litert_ref(zero_bias, [x])[0]
    before = _core.isa()
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            np.testing.assert_array_equal(runtime.load(no_bias).infer(x), want, err_msg=f"isa {isa}")
    finally:
        _core.set_isa(before)


@pytest.mark.parametrize("groups", [2, 3])
def test_grouped(groups):
    rng = np.random.default_rng(50 + groups)
    model = NM.conv(rng, (1, 6, 6, 2 * groups), 2 * groups, (3, 3), (1, 1), (1, 1), "SAME", groups=groups)
    NM.assert_matches_litert(model, rng)


def test_large_kernel_and_1x1_image():
    rng = np.random.default_rng(99)
    NM.assert_matches_litert(NM.conv(rng, (1, 1, 1, 16), 8, (1, 1), padding="VALID"), rng)
    NM.assert_matches_litert(NM.conv(rng, (1, 12, 12, 3), 4, (7, 7), (3, 3), (1, 1), "SAME"), rng)
    NM.assert_matches_litert(NM.conv(rng, (1, 3, 3, 3), 4, (5, 5), (1, 1), (1, 1), "SAME"), rng)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_configurations(data):
    d = data.draw
    seed = d(st.integers(0, 2**31 - 1))
    h, w, c, k, stride, dilation, padding = NM.draw_conv_geometry(d)
    rng = np.random.default_rng(seed)
    model = NM.conv(rng, (d(st.integers(1, 2)), h, w, c), d(st.integers(1, 6)), k, stride, dilation, padding,
                    d(st.sampled_from(ACTS)), per_channel=d(st.booleans()),
                    in_q=(0.03, d(st.integers(-128, 127))))
    NM.assert_matches_litert(model, rng, n_inputs=1)


@pytest.mark.parametrize("out_scale", [0.04428044334053993, 0.07547169923782349, 0.04210526496171951])
def test_relu6_bound_is_quantized_in_float32(out_scale):
    """6 / scale lands on .5 in float32 but not in double: LiteRT's clamp follows float32."""
    rng = np.random.default_rng(1)
    model = NM.conv(rng, (1, 6, 6, 8), 4, (3, 3), act="RELU6", in_q=(0.05, 0), out_q=(out_scale, -128))
    NM.assert_matches_litert(model, rng)
