/* Exact TFLite requantization on 4 int32 lanes (NEON, aarch64 and armv7).
 * Include only from *neon*.c files. Matches ember_mbqm() bit for bit:
 *  - vshlq_s32 by a non-negative count wraps like (uint32_t)x << left;
 *  - vqrdmulhq_s32 is exactly SaturatingRoundingDoublingHighMul
 *    ((a*b + 2^30) >> 31, INT32_MIN*INT32_MIN saturating to INT32_MAX);
 *  - RoundingDivideByPOT: vrshlq_s32 rounds ties up, so negative inputs get
 *    the gemmlowp fixup (-1, saturating) first to round ties away from 0. */
#ifndef EMBER_REQUANT_NEON_H
#define EMBER_REQUANT_NEON_H

#include <arm_neon.h>
#include <stdint.h>

static inline int32x4_t ember_rdbpot_neon(int32x4_t x, int32x4_t neg_exponent) {
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, neg_exponent), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), neg_exponent);
}

/* mbqm + output zero point + clamp; rshift holds the positive right shift. */
static inline int32x4_t ember_requant_neon(int32x4_t acc, int32x4_t mult, int32x4_t lshift, int32x4_t rshift,
                                           int32x4_t zp, int32x4_t lo, int32x4_t hi) {
    int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, lshift), mult);
    x = vaddq_s32(ember_rdbpot_neon(x, vnegq_s32(rshift)), zp);
    return vminq_s32(vmaxq_s32(x, lo), hi);
}

/* 8 clamped int32 -> 8 int8. */
static inline int8x8_t ember_narrow8_neon(int32x4_t a, int32x4_t b) {
    return vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
}

static inline void ember_store8_neon(int8_t *out, int8x8_t v, int nv) {
    if (nv == 8) {
        vst1_s8(out, v);
    } else {
        int8_t tmp[8];
        vst1_s8(tmp, v);
        for (int i = 0; i < nv; ++i) out[i] = tmp[i];
    }
}

#endif
