/* ADD micro-kernel, 16 elements per step (SSE4.1): the AVX2 kernel's math
 * (csrc/add/avx2.c) on 4 int32 lanes: lane-uniform shifts (psrad by one
 * count, precomputed masks), the floor-form high multiply on even/odd lanes
 * (pmuldq), saturating packs, then the int8 clamp. Tails through a buffer. */
#include <smmintrin.h>
#include <string.h>

#include "ember/kernels.h"

typedef struct {
    __m128i off1, off2, m1, m2, mo, zp;
    __m128i lsh, s1, s2, so;
    __m128i mask1, half1, mask2, half2, masko, halfo;
    __m128i lo, hi; /* int8 clamp bounds */
} ember_add_k_sse41;

static __m128i ember_mask_sse41(int32_t right) { return _mm_set1_epi32((int32_t)((UINT64_C(1) << right) - 1)); }

static void ember_add_consts_sse41(const ember_add_params *p, ember_add_k_sse41 *k) {
    k->off1 = _mm_set1_epi32(p->input1_offset);
    k->off2 = _mm_set1_epi32(p->input2_offset);
    k->m1 = _mm_set1_epi32(p->input1_multiplier);
    k->m2 = _mm_set1_epi32(p->input2_multiplier);
    k->mo = _mm_set1_epi32(p->output_multiplier);
    k->zp = _mm_set1_epi32(p->output_offset);
    k->lsh = _mm_cvtsi32_si128(p->left_shift);
    k->s1 = _mm_cvtsi32_si128(-p->input1_shift);
    k->s2 = _mm_cvtsi32_si128(-p->input2_shift);
    k->so = _mm_cvtsi32_si128(-p->output_shift);
    k->mask1 = ember_mask_sse41(-p->input1_shift);
    k->mask2 = ember_mask_sse41(-p->input2_shift);
    k->masko = ember_mask_sse41(-p->output_shift);
    k->half1 = _mm_srli_epi32(k->mask1, 1);
    k->half2 = _mm_srli_epi32(k->mask2, 1);
    k->halfo = _mm_srli_epi32(k->masko, 1);
    k->lo = _mm_set1_epi8((int8_t)p->act_min);
    k->hi = _mm_set1_epi8((int8_t)p->act_max);
}

/* MultiplyByQuantizedMultiplierSmallerThanOne with lane-uniform m (>= 0) and right shift. */
static inline __m128i ember_mbqm_sse41(__m128i x, __m128i m, __m128i right, __m128i mask, __m128i half) {
    const __m128i nudge = _mm_set1_epi64x(INT64_C(1) << 30);
    const __m128i even = _mm_srli_epi64(_mm_add_epi64(_mm_mul_epi32(x, m), nudge), 31);
    const __m128i odd = _mm_slli_epi64(_mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(x, 32), m), nudge), 1);
    const __m128i h = _mm_blend_epi16(even, odd, 0xCC);
    const __m128i thr = _mm_sub_epi32(half, _mm_srai_epi32(h, 31));
    return _mm_sub_epi32(_mm_sra_epi32(h, right), _mm_cmpgt_epi32(_mm_and_si128(h, mask), thr));
}

/* Rescaled term of 4 int8 inputs (the low 4 bytes of v). */
static inline __m128i ember_add_term_sse41(__m128i v, __m128i off, __m128i lsh, __m128i m, __m128i right, __m128i mask,
                                           __m128i half) {
    const __m128i x = _mm_sll_epi32(_mm_add_epi32(_mm_cvtepi8_epi32(v), off), lsh);
    return ember_mbqm_sse41(x, m, right, mask, half);
}

/* 16 elements; has_b 0: b is the constant term bt (vb unused). */
static inline __m128i ember_add16_sse41(__m128i va, int has_b, __m128i vb, __m128i bt, const ember_add_k_sse41 *k) {
    __m128i r[4];
    for (int i = 0; i < 4; ++i) {
        const __m128i ta = ember_add_term_sse41(va, k->off1, k->lsh, k->m1, k->s1, k->mask1, k->half1);
        const __m128i tb = has_b ? ember_add_term_sse41(vb, k->off2, k->lsh, k->m2, k->s2, k->mask2, k->half2) : bt;
        r[i] = _mm_add_epi32(ember_mbqm_sse41(_mm_add_epi32(ta, tb), k->mo, k->so, k->masko, k->halfo), k->zp);
        va = _mm_srli_si128(va, 4);
        vb = _mm_srli_si128(vb, 4);
    }
    const __m128i v = _mm_packs_epi16(_mm_packs_epi32(r[0], r[1]), _mm_packs_epi32(r[2], r[3]));
    return _mm_min_epi8(_mm_max_epi8(v, k->lo), k->hi);
}

static inline void ember_vadd_row_sse41(size_t n, const int8_t *a, const int8_t *b, int8_t *out,
                                        const ember_add_k_sse41 *k) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i vb = _mm_loadu_si128((const __m128i *)(b + i));
        const __m128i y = ember_add16_sse41(_mm_loadu_si128((const __m128i *)(a + i)), 1, vb, vb, k);
        _mm_storeu_si128((__m128i *)(out + i), y);
    }
    if (i < n) {
        int8_t ta[16] = {0}, tb[16] = {0}, ty[16];
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        const __m128i vb = _mm_loadu_si128((const __m128i *)tb);
        _mm_storeu_si128((__m128i *)ty, ember_add16_sse41(_mm_loadu_si128((const __m128i *)ta), 1, vb, vb, k));
        memcpy(out + i, ty, n - i);
    }
}

static inline void ember_vadd_const_row_sse41(size_t n, const int8_t *a, __m128i bt, int8_t *out,
                                              const ember_add_k_sse41 *k) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(out + i),
                         ember_add16_sse41(_mm_loadu_si128((const __m128i *)(a + i)), 0, bt, bt, k));
    if (i < n) {
        int8_t ta[16] = {0}, ty[16];
        memcpy(ta, a + i, n - i);
        _mm_storeu_si128((__m128i *)ty, ember_add16_sse41(_mm_loadu_si128((const __m128i *)ta), 0, bt, bt, k));
        memcpy(out + i, ty, n - i);
    }
}

static void ember_vadd_sse41(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                             size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_sse41 k;
    ember_add_consts_sse41(p, &k);
    for (size_t r = 0; r < rows; ++r) ember_vadd_row_sse41(n, a + r * a_stride, b + r * b_stride, out + r * n, &k);
}

/* b's rescaled term of each row: the lanes' own term function on a broadcast value. */
static void ember_vadd_const_sse41(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                                   size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_sse41 k;
    ember_add_consts_sse41(p, &k);
    for (size_t r = 0; r < rows; ++r) {
        const __m128i bt =
            ember_add_term_sse41(_mm_set1_epi8((char)b[r * b_stride]), k.off2, k.lsh, k.m2, k.s2, k.mask2, k.half2);
        ember_vadd_const_row_sse41(n, a + r * a_stride, bt, out + r * n, &k);
    }
}

const ember_add_ukernel ember_vadd_16x__sse41 = {ember_vadd_sse41, ember_vadd_const_sse41};
