"""QUANTIZE (float32 -> int8, int8 -> int8) and DEQUANTIZE (int8 -> float32) vs BUILTIN_REF."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import models
from tests.elem_oracle import assert_matches_oracle

ALL = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)


def _floats(rng, scale, n=400):
    x = (rng.standard_normal(n) * scale * rng.uniform(1, 300)).astype(np.float32)
    ties = (np.arange(-20, 20) + 0.5).astype(np.float32) * np.float32(scale)  # exact-ish .5 ties
    big = np.float32([1e9, -1e9, 3.4e38, -3.4e38]) * np.float32(min(scale, 1.0))
    return np.concatenate([x, ties, big]).astype(np.float32)


@pytest.mark.parametrize("scale", [1e-4, 0.0039, 0.02, 0.1, 1.0, 7.3])
@pytest.mark.parametrize("zp", [-128, -5, 0, 64, 127])
def test_quantize_float_grid(scale, zp):
    rng = np.random.default_rng(zlib.crc32(repr((scale, zp)).encode()))
    x = _floats(rng, scale)
    buf = models.unary_model_q("QUANTIZE", x.shape, None, (scale, zp), in_dtype="float32")
    assert_matches_oracle(buf, [x], what=f"QUANTIZE f32 {scale} {zp}")


def test_quantize_float_nonfinite():
    # inf/NaN go through the host's float->int32 conversion, as in LiteRT on the same CPU.
    x = np.float32([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1e30, -1e30])
    for zp in (-128, -3, 0, 9, 127):
        buf = models.unary_model_q("QUANTIZE", x.shape, None, (0.05, zp), in_dtype="float32")
        assert_matches_oracle(buf, [x], what=f"non-finite zp={zp}")


@pytest.mark.parametrize("ratio", [1.0, 0.5, 2.0, 0.013, 77.0, 1.0001])
@pytest.mark.parametrize("zps", [(0, 0), (-128, 127), (127, -128), (13, -40)])
def test_requantize_grid(ratio, zps):
    si = 0.03
    buf = models.unary_model_q("QUANTIZE", ALL.shape, (si, zps[0]), (si / ratio, zps[1]))
    assert_matches_oracle(buf, [ALL], what=f"requantize {ratio} {zps}")


@pytest.mark.parametrize("scale", [1e-5, 0.0039, 0.0137, 0.1, 1.0, 123.4])
@pytest.mark.parametrize("zp", [-128, -1, 0, 100, 127])
def test_dequantize_grid(scale, zp):
    buf = models.unary_model_q("DEQUANTIZE", ALL.shape, (scale, zp), None, out_dtype="float32")
    assert_matches_oracle(buf, [ALL], what=f"DEQUANTIZE {scale} {zp}")


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["f32", "s8", "deq"]), s1=st.floats(1e-4, 10.0), s2=st.floats(1e-4, 10.0),
       z1=st.integers(-128, 127), z2=st.integers(-128, 127), seed=st.integers(0, 2**16))
def test_quantize_property(kind, s1, s2, z1, z2, seed):
    if kind == "f32":
        x = _floats(np.random.default_rng(seed), s2, 64)
        buf = models.unary_model_q("QUANTIZE", x.shape, None, (s2, z2), in_dtype="float32")
    elif kind == "s8":
        if not 2.0**-31 < s1 / s2 < 2.0**30:
            return
        x, buf = ALL, models.unary_model_q("QUANTIZE", ALL.shape, (s1, z1), (s2, z2))
    else:
        x, buf = ALL, models.unary_model_q("DEQUANTIZE", ALL.shape, (s1, z1), None, out_dtype="float32")
    assert_matches_oracle(buf, [x], what="hypothesis")


ALL_U8 = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)


@pytest.mark.parametrize("in_dtype,out_dtype", [("int8", "uint8"), ("uint8", "int8"), ("uint8", "uint8")])
@pytest.mark.parametrize("ratio", [1.0, 0.37, 3.1])
@pytest.mark.parametrize("zps", [(0, 128), (-128, 0), (5, 200), (127, 255)])
def test_requantize_uint8(in_dtype, out_dtype, ratio, zps):
    zi = zps[0] + 128 if in_dtype == "uint8" else zps[0]
    zo = zps[1] if out_dtype == "uint8" else zps[1] - 128
    x = ALL_U8 if in_dtype == "uint8" else ALL
    buf = models.unary_model_q("QUANTIZE", x.shape, (0.02, zi), (0.02 / ratio, zo), in_dtype=in_dtype,
                               out_dtype=out_dtype)
    assert_matches_oracle(buf, [x], what=f"{in_dtype}->{out_dtype} {ratio} {zi} {zo}")


@pytest.mark.parametrize("zp", [0, 1, 128, 255])
def test_quantize_float_to_uint8_and_back(zp):
    rng = np.random.default_rng(zp)
    x = _floats(rng, 0.03)
    assert_matches_oracle(models.unary_model_q("QUANTIZE", x.shape, None, (0.03, zp), in_dtype="float32",
                                               out_dtype="uint8"), [x], what=f"f32->u8 zp={zp}")
    assert_matches_oracle(models.unary_model_q("DEQUANTIZE", ALL_U8.shape, (0.03, zp), None, in_dtype="uint8",
                                               out_dtype="float32"), [ALL_U8], what=f"u8->f32 zp={zp}")
