/* Exact TFLite requantization on 4 int32 lanes (SSE4.1). Include only from
 * *sse41*.c files. Same math as requant_avx2.h; SSE has no per-lane shifts,
 * so the left shift multiplies by 2^n (pmulld wraps like the scalar shift;
 * 2^n is built from a float exponent, 2^31 turning into 0x80000000) and the
 * arithmetic right shift is done lane by lane. */
#ifndef EMBER_REQUANT_SSE41_H
#define EMBER_REQUANT_SSE41_H

#include <smmintrin.h>
#include <stdint.h>

#include "ember/kernels.h"

/* 2^n per lane for n in [0, 31] (bit pattern 1u << n). */
static inline __m128i ember_pow2_sse41(__m128i n) {
    return _mm_cvttps_epi32(_mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)), 23)));
}

static inline __m128i ember_srdhm_sse41(__m128i a, __m128i b) {
    const __m128i nudge = _mm_set1_epi64x(INT64_C(1) << 30);
    __m128i even = _mm_add_epi64(_mm_mul_epi32(a, b), nudge);
    __m128i odd = _mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(a, 32), _mm_srli_epi64(b, 32)), nudge);
    even = _mm_srli_epi64(even, 31);
    odd = _mm_slli_epi64(odd, 1);
    __m128i r = _mm_blend_epi16(even, odd, 0xCC);
    return _mm_xor_si128(r, _mm_cmpeq_epi32(r, _mm_set1_epi32(INT32_MIN)));
}

static inline __m128i ember_srav_sse41(__m128i x, __m128i e) {
    const __m128i r0 = _mm_sra_epi32(x, _mm_cvtsi32_si128(_mm_extract_epi32(e, 0)));
    const __m128i r1 = _mm_sra_epi32(x, _mm_cvtsi32_si128(_mm_extract_epi32(e, 1)));
    const __m128i r2 = _mm_sra_epi32(x, _mm_cvtsi32_si128(_mm_extract_epi32(e, 2)));
    const __m128i r3 = _mm_sra_epi32(x, _mm_cvtsi32_si128(_mm_extract_epi32(e, 3)));
    return _mm_blend_epi16(_mm_blend_epi16(r0, r1, 0x0C), _mm_blend_epi16(r2, r3, 0xC0), 0xF0);
}

/* Lanes [off, off+4) of a block header of nr lanes (ember/kernels.h). */
static inline __m128i ember_hdr_load_sse41(const int32_t *hdr, int nr, int field, int off) {
    return _mm_loadu_si128((const __m128i *)(hdr + field * nr + off));
}

static inline __m128i ember_requant_sse41(__m128i acc, const int32_t *hdr, int nr, int off, __m128i zp, __m128i lo,
                                          __m128i hi) {
    const __m128i mult = ember_hdr_load_sse41(hdr, nr, EMBER_QHDR_MULT, off);
    const __m128i lshift = ember_hdr_load_sse41(hdr, nr, EMBER_QHDR_LSHIFT, off);
    const __m128i rshift = ember_hdr_load_sse41(hdr, nr, EMBER_QHDR_RSHIFT, off);
    const __m128i mask = ember_hdr_load_sse41(hdr, nr, EMBER_QHDR_RMASK, off);
    const __m128i half = ember_hdr_load_sse41(hdr, nr, EMBER_QHDR_RHALF, off);
    __m128i x = ember_srdhm_sse41(_mm_mullo_epi32(acc, ember_pow2_sse41(lshift)), mult);
    const __m128i rem = _mm_and_si128(x, mask);
    const __m128i thr = _mm_sub_epi32(half, _mm_srai_epi32(x, 31));
    x = _mm_sub_epi32(ember_srav_sse41(x, rshift), _mm_cmpgt_epi32(rem, thr));
    x = _mm_add_epi32(x, zp);
    return _mm_min_epi32(_mm_max_epi32(x, lo), hi);
}

/* 8 clamped int32 (two vectors) -> 8 int8 in the low half. */
static inline __m128i ember_pack8_sse41(__m128i a, __m128i b) {
    const __m128i w = _mm_packs_epi32(a, b);
    return _mm_packs_epi16(w, w);
}

static inline void ember_store8_sse41(int8_t *out, __m128i v, int nv) {
    if (nv == 8) {
        _mm_storel_epi64((__m128i *)out, v);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, v);
        for (int i = 0; i < nv; ++i) out[i] = tmp[i];
    }
}

#endif
