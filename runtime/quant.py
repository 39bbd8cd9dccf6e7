"""Quantization arithmetic shared by op builders, the quantizer and tests.

Python mirrors of TFLite's helpers (and of csrc/include/ember/requant.h), so
that parameters computed at load time are exactly those TFLite's Prepare
functions compute. Integer results are plain Python ints.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

_DTYPE_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "int32": (INT32_MIN, INT32_MAX),
}


def dtype_range(dtype: str) -> tuple[int, int]:
    return _DTYPE_RANGES[dtype]


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real == m * 2**(shift - 31), m in [2**30, 2**31).

    Raises ValueError for negative, non-finite or too large (shift > 30) values.
    """
    real = float(real)
    if not math.isfinite(real) or real < 0.0:
        raise ValueError(f"multiplier must be finite and >= 0, got {real!r}")
    if real == 0.0:
        return 0, 0
    q, exp = math.frexp(real)
    q_fixed = _round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        exp += 1
    if exp < -31:
        return 0, 0
    if exp > 30:
        raise ValueError(f"multiplier {real!r} too large (needs shift {exp} > 30)")
    return int(q_fixed), int(exp)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplierSmallerThanOneExp (requires 0 < real < 1)."""
    if not (0.0 < real < 1.0):
        raise ValueError(f"multiplier must be in (0, 1), got {real!r}")
    return quantize_multiplier(real)


def _round_half_away(x: float) -> int:
    """C's llround/std::round: ties away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    v = ab + nudge
    # C division truncates toward zero
    q = abs(v) >> 31
    return q if v >= 0 else -q


def rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT (ties away from zero), exponent in [0, 31]."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _wrap32(x: int) -> int:
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (TFLite default double rounding)."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rdbpot(srdhm(_wrap32(x << left), multiplier), right)


def activation_range(activation: str, scale: float, zero_point: int, dtype: str = "int8") -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for a fused activation.

    activation: one of NONE, RELU, RELU6, RELU_N1_TO_1 (TFLite schema names).
    TFLite divides in float32 (``f / scale`` with float operands), which can
    round differently from a double division (e.g. RELU6 at scale
    0.04428044334053993: 135.5 in float32 -> 136, 135.4999.. in double -> 135).
    """
    qmin, qmax = dtype_range(dtype)

    def q(v: float) -> int:
        return zero_point + int(_round_half_away(float(np.float32(v) / np.float32(scale))))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"unsupported fused activation {activation}")


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """Float -> integer as TFLite QUANTIZE does (round half away from zero, clamp)."""
    lo, hi = dtype_range(dtype)
    v = np.asarray(x, dtype=np.float32) / np.float32(scale)
    r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    return np.clip(r + zero_point, lo, hi).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return ((np.asarray(q).astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)).astype(np.float32)
