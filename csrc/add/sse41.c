/* ADD micro-kernel, 16 elements per step (SSE4.1): the AVX2 kernel's math
 * (csrc/add/avx2.c) on 4 int32 lanes: lane-uniform shifts (psrad by one
 * count, precomputed masks), the floor-form high multiply on even/odd lanes
 * (pmuldq; pmulld for the inputs when the left shift allows), saturating
 * packs, then the int8 clamp. Tails through a buffer. */
#include <smmintrin.h>
#include <string.h>

#include "ember/kernels.h"

/* One input's constants; fast path as in csrc/add/avx2.c (ember_add_in_avx2):
 * left shift L in [9, 22], k = 31 - L, m = mh * 2^k + ml, the high multiply
 * of (x << L) is x * mh + ((x * ml + 2^(k-1)) >> k) with pmulld. */
typedef struct {
    __m128i off, m, mh, ml, round, mask, half;
    __m128i lsh, ksh, right;
} ember_add_in_sse41;

typedef struct {
    ember_add_in_sse41 in1, in2;
    __m128i mo, zp, masko, halfo, so;
    __m128i lo, hi; /* int8 clamp bounds */
    int fast;       /* left shift in [9, 22] */
} ember_add_k_sse41;

static __m128i ember_mask_sse41(int32_t right) { return _mm_set1_epi32((int32_t)((UINT64_C(1) << right) - 1)); }

static void ember_add_in_consts_sse41(int32_t offset, int32_t mult, int32_t shift, int32_t left_shift,
                                      ember_add_in_sse41 *in) {
    const int32_t k = 31 - left_shift; /* used only when left_shift is in [9, 22] */
    in->off = _mm_set1_epi32(offset);
    in->m = _mm_set1_epi32(mult);
    in->mh = _mm_set1_epi32(k >= 9 && k <= 22 ? mult >> k : 0);
    in->ml = _mm_set1_epi32(k >= 9 && k <= 22 ? mult & ((INT32_C(1) << k) - 1) : 0);
    in->round = _mm_set1_epi32(k >= 9 && k <= 22 ? INT32_C(1) << (k - 1) : 0);
    in->ksh = _mm_cvtsi32_si128(k);
    in->lsh = _mm_cvtsi32_si128(left_shift);
    in->right = _mm_cvtsi32_si128(-shift);
    in->mask = ember_mask_sse41(-shift);
    in->half = _mm_srli_epi32(in->mask, 1);
}

static void ember_add_consts_sse41(const ember_add_params *p, ember_add_k_sse41 *k) {
    ember_add_in_consts_sse41(p->input1_offset, p->input1_multiplier, p->input1_shift, p->left_shift, &k->in1);
    ember_add_in_consts_sse41(p->input2_offset, p->input2_multiplier, p->input2_shift, p->left_shift, &k->in2);
    k->mo = _mm_set1_epi32(p->output_multiplier);
    k->zp = _mm_set1_epi32(p->output_offset);
    k->so = _mm_cvtsi32_si128(-p->output_shift);
    k->masko = ember_mask_sse41(-p->output_shift);
    k->halfo = _mm_srli_epi32(k->masko, 1);
    k->lo = _mm_set1_epi8((int8_t)p->act_min);
    k->hi = _mm_set1_epi8((int8_t)p->act_max);
    k->fast = p->left_shift >= 9 && p->left_shift <= 22;
}

/* SaturatingRoundingDoublingHighMul with lane-uniform m >= 0 (never saturates). */
static inline __m128i ember_srdhm_sse41(__m128i x, __m128i m) {
    const __m128i nudge = _mm_set1_epi64x(INT64_C(1) << 30);
    const __m128i even = _mm_srli_epi64(_mm_add_epi64(_mm_mul_epi32(x, m), nudge), 31);
    const __m128i odd = _mm_slli_epi64(_mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(x, 32), m), nudge), 1);
    return _mm_blend_epi16(even, odd, 0xCC);
}

/* RoundingDivideByPOT with a lane-uniform exponent. */
static inline __m128i ember_rdbpot_sse41(__m128i h, __m128i right, __m128i mask, __m128i half) {
    const __m128i thr = _mm_sub_epi32(half, _mm_srai_epi32(h, 31));
    return _mm_sub_epi32(_mm_sra_epi32(h, right), _mm_cmpgt_epi32(_mm_and_si128(h, mask), thr));
}

/* Rescaled term of 4 int8 inputs (the low 4 bytes of v). */
static inline __m128i ember_add_term_sse41(__m128i v, const ember_add_in_sse41 *in, const int fast) {
    const __m128i x = _mm_add_epi32(_mm_cvtepi8_epi32(v), in->off);
    __m128i h;
    if (fast) {
        const __m128i lo = _mm_sra_epi32(_mm_add_epi32(_mm_mullo_epi32(x, in->ml), in->round), in->ksh);
        h = _mm_add_epi32(_mm_mullo_epi32(x, in->mh), lo);
    } else {
        h = ember_srdhm_sse41(_mm_sll_epi32(x, in->lsh), in->m);
    }
    return ember_rdbpot_sse41(h, in->right, in->mask, in->half);
}

/* 16 elements; has_b 0: b is the constant term bt (vb unused). */
static inline __m128i ember_add16_sse41(__m128i va, int has_b, __m128i vb, __m128i bt, const ember_add_k_sse41 *k,
                                        const int fast) {
    __m128i r[4];
    for (int i = 0; i < 4; ++i) {
        const __m128i ta = ember_add_term_sse41(va, &k->in1, fast);
        const __m128i tb = has_b ? ember_add_term_sse41(vb, &k->in2, fast) : bt;
        const __m128i h = ember_srdhm_sse41(_mm_add_epi32(ta, tb), k->mo);
        r[i] = _mm_add_epi32(ember_rdbpot_sse41(h, k->so, k->masko, k->halfo), k->zp);
        va = _mm_srli_si128(va, 4);
        vb = _mm_srli_si128(vb, 4);
    }
    const __m128i v = _mm_packs_epi16(_mm_packs_epi32(r[0], r[1]), _mm_packs_epi32(r[2], r[3]));
    return _mm_min_epi8(_mm_max_epi8(v, k->lo), k->hi);
}

static inline void ember_vadd_row_sse41(size_t n, const int8_t *a, const int8_t *b, int8_t *out,
                                        const ember_add_k_sse41 *k, const int fast) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i vb = _mm_loadu_si128((const __m128i *)(b + i));
        const __m128i y = ember_add16_sse41(_mm_loadu_si128((const __m128i *)(a + i)), 1, vb, vb, k, fast);
        _mm_storeu_si128((__m128i *)(out + i), y);
    }
    if (i < n) {
        int8_t ta[16] = {0}, tb[16] = {0}, ty[16];
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        const __m128i vb = _mm_loadu_si128((const __m128i *)tb);
        _mm_storeu_si128((__m128i *)ty, ember_add16_sse41(_mm_loadu_si128((const __m128i *)ta), 1, vb, vb, k, fast));
        memcpy(out + i, ty, n - i);
    }
}

static inline void ember_vadd_const_row_sse41(size_t n, const int8_t *a, __m128i bt, int8_t *out,
                                              const ember_add_k_sse41 *k, const int fast) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(out + i),
                         ember_add16_sse41(_mm_loadu_si128((const __m128i *)(a + i)), 0, bt, bt, k, fast));
    if (i < n) {
        int8_t ta[16] = {0}, ty[16];
        memcpy(ta, a + i, n - i);
        _mm_storeu_si128((__m128i *)ty, ember_add16_sse41(_mm_loadu_si128((const __m128i *)ta), 0, bt, bt, k, fast));
        memcpy(out + i, ty, n - i);
    }
}

static void ember_vadd_sse41(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                             size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_sse41 k;
    ember_add_consts_sse41(p, &k);
    for (size_t r = 0; r < rows; ++r) {
        if (k.fast)
            ember_vadd_row_sse41(n, a + r * a_stride, b + r * b_stride, out + r * n, &k, 1);
        else
            ember_vadd_row_sse41(n, a + r * a_stride, b + r * b_stride, out + r * n, &k, 0);
    }
}

/* b's rescaled term of each row: the lanes' own term function on a broadcast value. */
static void ember_vadd_const_sse41(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                                   size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_sse41 k;
    ember_add_consts_sse41(p, &k);
    for (size_t r = 0; r < rows; ++r) {
        const __m128i vb = _mm_set1_epi8((char)b[r * b_stride]);
        if (k.fast)
            ember_vadd_const_row_sse41(n, a + r * a_stride, ember_add_term_sse41(vb, &k.in2, 1), out + r * n, &k, 1);
        else
            ember_vadd_const_row_sse41(n, a + r * a_stride, ember_add_term_sse41(vb, &k.in2, 0), out + r * n, &k, 0);
    }
}

const ember_add_ukernel ember_vadd_16x__sse41 = {ember_vadd_sse41, ember_vadd_const_sse41};
