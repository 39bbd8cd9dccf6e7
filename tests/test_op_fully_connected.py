"""FULLY_CONNECTED vs LiteRT BUILTIN_REF: per-tensor and per-channel
weights, batches, input reshaping to [batch, depth], keep_num_dims,
activations, zero points, absent bias; plus hypothesis."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import nn_models as NM

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


@pytest.mark.parametrize("in_shape,units", [((1, 16), 8), ((3, 10), 5), ((1, 1), 1), ((1, 250), 12),
                                            ((2, 3, 8), 4), ((1, 4, 4, 2), 6), ((4, 8), 1)])
@pytest.mark.parametrize("per_channel", [False, True])
def test_shapes(in_shape, units, per_channel):
    rng = np.random.default_rng(hash((in_shape, units, per_channel)) % 2**32)
    NM.assert_matches_litert(NM.fully_connected(rng, in_shape, units, per_channel=per_channel), rng)


@pytest.mark.parametrize("in_shape,depth", [((1, 5, 6), 30), ((1, 4, 4, 8), 16), ((2, 3, 4), 6), ((12,), 4)])
def test_input_reshaped_to_batches_by_depth(in_shape, depth):
    rng = np.random.default_rng(depth + len(in_shape))
    NM.assert_matches_litert(NM.fully_connected(rng, in_shape, 5, depth=depth), rng)


@pytest.mark.parametrize("in_shape", [(2, 3, 8), (1, 5, 7)])
def test_keep_num_dims(in_shape):
    rng = np.random.default_rng(len(in_shape) + in_shape[-1])
    NM.assert_matches_litert(NM.fully_connected(rng, in_shape, 6, keep_num_dims=True), rng)


@pytest.mark.parametrize("in_zp,out_zp,act", list(itertools.product([-128, 127, 9], [-128, 127], ACTS)))
def test_zero_points_and_activations(in_zp, out_zp, act):
    rng = np.random.default_rng(abs(in_zp) * 3 + abs(out_zp) * 11 + ACTS.index(act))
    out_s = 6.0 / 200 if act != "RELU_N1_TO_1" else 1.0 / 100
    model = NM.fully_connected(rng, (2, 20), 7, act, in_q=(0.04, in_zp), out_q=(out_s, out_zp))
    NM.assert_matches_litert(model, rng)


@pytest.mark.parametrize("w_zp", [-128, -5, 7, 127])
def test_asymmetric_per_tensor_weights(w_zp):
    rng = np.random.default_rng(200 + w_zp)
    NM.assert_matches_litert(NM.fully_connected(rng, (2, 24), 6, "RELU", w_zp=w_zp, in_q=(0.04, -128)), rng)


def test_per_channel_weight_zero_points_are_ignored_like_litert():
    rng = np.random.default_rng(31)
    NM.assert_matches_litert(NM.fully_connected(rng, (2, 24), 6, per_channel=True, w_zp=-11), rng)


def test_without_bias():
    rng = np.random.default_rng(5)
    NM.assert_matches_litert(NM.fully_connected(rng, (2, 12), 5, bias=False), rng)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_configurations(data):
    d = data.draw
    seed = d(st.integers(0, 2**31 - 1))
    depth = d(st.integers(1, 64))
    lead = d(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    keep = d(st.booleans())
    rng = np.random.default_rng(seed)
    model = NM.fully_connected(rng, tuple(lead) + (depth,), d(st.integers(1, 16)), d(st.sampled_from(ACTS)),
                               per_channel=d(st.booleans()), keep_num_dims=keep,
                               in_q=(0.03, d(st.integers(-128, 127))))
    NM.assert_matches_litert(model, rng, n_inputs=1)


def test_fixed_point_requant_record_every_isa():
    """The record's requant 0 mode (TFLM/CMSIS fixed-point multipliers, not used by the TFLite
    builder) against runtime.quant's Python mirror, on every ISA."""
    from runtime import _core, quant

    rng = np.random.default_rng(77)
    batches, depth, units = 3, 37, 11
    x = rng.integers(-128, 128, (batches, depth)).astype(np.int8)
    w = rng.integers(-127, 128, (units, depth)).astype(np.int8)
    bias = rng.integers(-5000, 5000, units).astype(np.int32)
    mult = rng.integers(1 << 30, 1 << 31, units).astype(np.int32)
    shift = rng.integers(-9, -4, units).astype(np.int32)
    in_off, out_off, lo, hi = 17, -9, -100, 120
    acc = (w.astype(np.int64)[None, :, :] * (x.astype(np.int64)[:, None, :] + in_off)).sum(-1) + bias
    want = np.array([[min(max(quant.mbqm(int(acc[b, u]), int(mult[u]), int(shift[u])) + out_off, lo), hi)
                      for u in range(units)] for b in range(batches)], np.int8)
    before = _core.isa()
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            p = _core.Plan()
            tx = p.add_tensor([batches, depth], "int8", 0.05, -in_off)
            tw = p.add_tensor([units, depth], "int8", 0.01, 0, w)
            tb = p.add_tensor([units], "int32", 0, 0, bias)
            tm = p.add_tensor([units], "int32", 0, 0, mult)
            ts = p.add_tensor([units], "int32", 0, 0, shift)
            ty = p.add_tensor([batches, units], "int8", 0.1, out_off)
            p.add_op("FULLY_CONNECTED", [tx, tw, tb, tm, ts], [ty], {
                "input_offset": in_off, "filter_offset": 0, "output_offset": out_off, "act_min": lo,
                "act_max": hi, "requant": 0})
            p.set_io([tx], [ty])
            p.finalize(2)
            (got,) = p.run([x])
            np.testing.assert_array_equal(got, want, err_msg=f"isa {isa}")
    finally:
        _core.set_isa(before)


def test_int32_accumulator_wraps_like_litert():
    """depth 70000 of 127 * (127 + 128) overflows int32: both wrap (two's complement)."""
    import runtime
    from runtime.tflite.writer import ModelBuilder
    from tests.oracle import litert_ref

    depth = 70000
    mb = ModelBuilder()
    x = mb.add_tensor("input", (1, depth), "int8", scale=1.0, zero_point=-128)
    w = mb.add_tensor("w", (2, depth), "int8", data=np.full((2, depth), 127, np.int8), scale=1e-9, zero_point=0)
    y = mb.add_tensor("output", (1, 2), "int8", scale=1.0, zero_point=0)
    mb.add_operator("FULLY_CONNECTED", [x, w, -1], [y], {})
    mb.set_io([x], [y])
    model = mb.build()
    xx = np.full((1, depth), 127, np.int8)
    want = litert_ref(model, [xx])[0]
    assert want.tolist() == [[-2, -2]]  # (127*255*70000 wrapped = -2028017296) * 1e-9
    np.testing.assert_array_equal(runtime.load(model).infer(xx), want)
