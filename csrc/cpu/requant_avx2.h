/* Exact TFLite requantization on 8 int32 lanes (AVX2). Include only from
 * *avx2*.c files. Matches ember_mbqm() in ember/requant.h bit for bit:
 *  - left shift: vpsllvd wraps like the scalar (uint32_t)x << left;
 *  - SaturatingRoundingDoublingHighMul(a, b) == (a*b + 2^30) >> 31 (the
 *    gemmlowp nudge with truncating division is exactly this floor form),
 *    computed in 64 bits on even and odd lanes with vpmuldq; the one
 *    overflow (a == b == INT32_MIN) is the only way to get INT32_MIN and is
 *    turned into INT32_MAX;
 *  - RoundingDivideByPOT with per-lane exponents: arithmetic shift plus 1
 *    when the remainder exceeds mask/2 (+1 for negative x). */
#ifndef EMBER_REQUANT_AVX2_H
#define EMBER_REQUANT_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "ember/kernels.h"

/* Requantization constants of 8 lanes, loaded once per micro-kernel call
 * from a block header (ember/kernels.h) of nr lanes, lanes [off, off+8). */
typedef struct {
    __m256i mult, mult_odd, lshift, rshift, rmask, rhalf;
} ember_rq_avx2;

static inline __m256i ember_hdr_load_avx2(const int32_t *hdr, int nr, int field, int off) {
    return _mm256_loadu_si256((const __m256i *)(hdr + field * nr + off));
}

static inline ember_rq_avx2 ember_rq_load_avx2(const int32_t *hdr, int nr, int off) {
    ember_rq_avx2 q;
    q.mult = ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_MULT, off);
    q.mult_odd = _mm256_srli_epi64(q.mult, 32);
    q.lshift = ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_LSHIFT, off);
    q.rshift = ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RSHIFT, off);
    q.rmask = ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RMASK, off);
    q.rhalf = ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RHALF, off);
    return q;
}

/* sat: 0 when no multiplier lane is INT32_MIN (the only way to overflow). */
static inline __m256i ember_srdhm_avx2_x(__m256i a, __m256i b, __m256i b_odd, const int sat) {
    const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
    __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, b), nudge);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), b_odd), nudge);
    even = _mm256_srli_epi64(even, 31);
    odd = _mm256_slli_epi64(odd, 1);
    __m256i r = _mm256_blend_epi32(even, odd, 0xAA);
    return sat ? _mm256_xor_si256(r, _mm256_cmpeq_epi32(r, _mm256_set1_epi32(INT32_MIN))) : r;
}

/* RoundingDivideByPOT: (x >> e) + (remainder > mask/2 + (x < 0)). */
static inline __m256i ember_rdbpot_avx2(__m256i x, __m256i exponent, __m256i mask, __m256i half) {
    const __m256i rem = _mm256_and_si256(x, mask);
    const __m256i thr = _mm256_sub_epi32(half, _mm256_srai_epi32(x, 31));
    return _mm256_sub_epi32(_mm256_srav_epi32(x, exponent), _mm256_cmpgt_epi32(rem, thr));
}

/* mbqm + output zero point + clamp, all in int32. full = 0 is the common
 * case (no left shifts, no INT32_MIN multiplier; ember_rq_simple_avx2) with
 * three operations fewer; pass constants so each call site specializes. */
static inline __m256i ember_requant_avx2_x(__m256i acc, const ember_rq_avx2 *q, __m256i zp, __m256i lo, __m256i hi,
                                           const int full) {
    __m256i x = ember_srdhm_avx2_x(full ? _mm256_sllv_epi32(acc, q->lshift) : acc, q->mult, q->mult_odd, full);
    x = _mm256_add_epi32(ember_rdbpot_avx2(x, q->rshift, q->rmask, q->rhalf), zp);
    return _mm256_min_epi32(_mm256_max_epi32(x, lo), hi);
}

static inline __m256i ember_requant_avx2(__m256i acc, const ember_rq_avx2 *q, __m256i zp, __m256i lo, __m256i hi) {
    return ember_requant_avx2_x(acc, q, zp, lo, hi, 1);
}

/* 1 when these lanes need neither the left shift nor the saturation. */
static inline int ember_rq_simple_avx2(const ember_rq_avx2 *q) {
    const __m256i min = _mm256_cmpeq_epi32(q->mult, _mm256_set1_epi32(INT32_MIN));
    return _mm256_testz_si256(q->lshift, q->lshift) && _mm256_testz_si256(min, min);
}

/* Two vectors of 8 clamped int32 (channels 0-7, 8-15) -> 16 int8 in order. */
static inline __m128i ember_pack16_avx2(__m256i r0, __m256i r1) {
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);
    return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

#endif
