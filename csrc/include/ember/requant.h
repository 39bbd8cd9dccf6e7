/* Fixed-point requantization shared by every kernel (scalar and SIMD oracles).
 *
 * These are TFLite's default ("double rounding") semantics, bit for bit:
 *   SaturatingRoundingDoublingHighMul(a, b): high 32 bits of 2*a*b, rounded
 *     half away from zero via the gemmlowp nudge; the single overflow case
 *     a == b == INT32_MIN saturates to INT32_MAX.
 *   RoundingDivideByPOT(x, e): x / 2^e rounded half away from zero.
 *   MultiplyByQuantizedMultiplier(x, m, s): s > 0 is a left shift applied
 *     before the high-mul, s < 0 a rounding right shift applied after it.
 * A real multiplier M is encoded as (m, s) with M = m * 2^(s-31), m in
 * [2^30, 2^31) (see ember_quantize_multiplier, which mirrors TFLite's
 * QuantizeMultiplier, frexp on a double).
 *
 * Every SIMD path must produce exactly these results; tests compare against
 * them with tolerance 0. */
#ifndef EMBER_REQUANT_H
#define EMBER_REQUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int32_t ember_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    /* Division (not shift) truncates toward zero, as gemmlowp does. */
    return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

static inline int32_t ember_rdbpot(int32_t x, int exponent) {
    /* exponent in [0, 31] */
    const int32_t mask = (int32_t)((INT64_C(1) << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding). shift in [-31, 30]. */
static inline int32_t ember_mbqm(int32_t x, int32_t multiplier, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* The left shift is done in 32 bits and wraps like TFLite's x * (1 << left). */
    int32_t shifted = (int32_t)((uint32_t)x << left);
    return ember_rdbpot(ember_srdhm(shifted, multiplier), right);
}

/* TFLite MultiplyByQuantizedMultiplierSmallerThanOneExp: shift <= 0. */
static inline int32_t ember_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int shift) {
    return ember_rdbpot(ember_srdhm(x, multiplier), -shift);
}

/* TFLite MultiplyByQuantizedMultiplierGreaterThanOne: shift >= 0. */
static inline int32_t ember_mbqm_greater_than_one(int32_t x, int32_t multiplier, int shift) {
    return ember_srdhm((int32_t)((uint32_t)x << shift), multiplier);
}

static inline int32_t ember_clamp_i32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* TFLite QuantizeMultiplier: real = multiplier * 2^(shift - 31).
 * Returns EMBER_OK-compatible 0 on success, nonzero for non-finite/negative input. */
int ember_quantize_multiplier(double real, int32_t *multiplier, int *shift);

#ifdef __cplusplus
}
#endif
#endif
