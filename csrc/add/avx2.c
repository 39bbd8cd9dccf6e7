/* ADD micro-kernel, 32 elements per step (AVX2): TFLite's int8 ADD on 8
 * int32 lanes, bit for bit (ember/ops/add.h). Every shift and multiplier is
 * the same in all lanes, so the rounding right shifts use one shift count
 * (vpsrad) and precomputed masks; SaturatingRoundingDoublingHighMul is the
 * floor form (x*m + 2^30) >> 31 on even/odd lanes (vpmuldq; multipliers are
 * >= 0, so it never saturates), for the inputs with two 32-bit multiplies
 * when the left shift allows (see ember_add_in_avx2). Results are packed with saturation and then
 * clamped in int8 (the clamp bounds are int8, so this equals clamping first).
 * Tails run through a 32-byte buffer. */
#include <immintrin.h>
#include <string.h>

#include "ember/kernels.h"

/* One input's constants. Fast path (left shift L in [9, 22], int8 ADD uses
 * 20): with k = 31 - L and m = mh * 2^k + ml, the high multiply of
 * (x << L) is exactly x * mh + ((x * ml + 2^(k-1)) >> k) for |x| <= 255
 * (floor((x * 2^L * m + 2^30) / 2^31) with 2^L cancelled; both products fit
 * in int32), two vpmulld instead of the 64-bit even/odd multiplies. */
typedef struct {
    __m256i off, m, mh, ml, round, mask, half;
    __m128i lsh, ksh, right;
} ember_add_in_avx2;

typedef struct {
    ember_add_in_avx2 in1, in2;
    __m256i mo, zp, masko, halfo;
    __m128i so;
    __m256i lo, hi; /* int8 clamp bounds */
    int fast;       /* left shift in [9, 22] */
} ember_add_k_avx2;

static __m256i ember_mask_avx2(int32_t right) { return _mm256_set1_epi32((int32_t)((UINT64_C(1) << right) - 1)); }

static void ember_add_in_consts_avx2(int32_t offset, int32_t mult, int32_t shift, int32_t left_shift,
                                     ember_add_in_avx2 *in) {
    const int32_t k = 31 - left_shift; /* used only when left_shift is in [9, 22] */
    in->off = _mm256_set1_epi32(offset);
    in->m = _mm256_set1_epi32(mult);
    in->mh = _mm256_set1_epi32(k >= 9 && k <= 22 ? mult >> k : 0);
    in->ml = _mm256_set1_epi32(k >= 9 && k <= 22 ? mult & ((INT32_C(1) << k) - 1) : 0);
    in->round = _mm256_set1_epi32(k >= 9 && k <= 22 ? INT32_C(1) << (k - 1) : 0);
    in->ksh = _mm_cvtsi32_si128(k);
    in->lsh = _mm_cvtsi32_si128(left_shift);
    in->right = _mm_cvtsi32_si128(-shift);
    in->mask = ember_mask_avx2(-shift);
    in->half = _mm256_srli_epi32(in->mask, 1);
}

static void ember_add_consts_avx2(const ember_add_params *p, ember_add_k_avx2 *k) {
    ember_add_in_consts_avx2(p->input1_offset, p->input1_multiplier, p->input1_shift, p->left_shift, &k->in1);
    ember_add_in_consts_avx2(p->input2_offset, p->input2_multiplier, p->input2_shift, p->left_shift, &k->in2);
    k->mo = _mm256_set1_epi32(p->output_multiplier);
    k->zp = _mm256_set1_epi32(p->output_offset);
    k->so = _mm_cvtsi32_si128(-p->output_shift);
    k->masko = ember_mask_avx2(-p->output_shift);
    k->halfo = _mm256_srli_epi32(k->masko, 1);
    k->lo = _mm256_set1_epi8((int8_t)p->act_min);
    k->hi = _mm256_set1_epi8((int8_t)p->act_max);
    k->fast = p->left_shift >= 9 && p->left_shift <= 22;
}

/* SaturatingRoundingDoublingHighMul with lane-uniform m >= 0 (never saturates). */
static inline __m256i ember_srdhm_avx2(__m256i x, __m256i m) {
    const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
    const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
    const __m256i odd = _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge), 1);
    return _mm256_blend_epi32(even, odd, 0xAA);
}

/* RoundingDivideByPOT with a lane-uniform exponent. */
static inline __m256i ember_rdbpot_avx2(__m256i h, __m128i right, __m256i mask, __m256i half) {
    const __m256i thr = _mm256_sub_epi32(half, _mm256_srai_epi32(h, 31));
    return _mm256_sub_epi32(_mm256_sra_epi32(h, right), _mm256_cmpgt_epi32(_mm256_and_si256(h, mask), thr));
}

/* Rescaled term of 8 int8 inputs (in the low 8 bytes of v). */
static inline __m256i ember_add_term_avx2(__m128i v, const ember_add_in_avx2 *in, const int fast) {
    const __m256i x = _mm256_add_epi32(_mm256_cvtepi8_epi32(v), in->off);
    __m256i h;
    if (fast) {
        const __m256i lo = _mm256_sra_epi32(_mm256_add_epi32(_mm256_mullo_epi32(x, in->ml), in->round), in->ksh);
        h = _mm256_add_epi32(_mm256_mullo_epi32(x, in->mh), lo);
    } else {
        h = ember_srdhm_avx2(_mm256_sll_epi32(x, in->lsh), in->m);
    }
    return ember_rdbpot_avx2(h, in->right, in->mask, in->half);
}

/* Output stage of 8 sums, before packing: MBQM + zero point. */
static inline __m256i ember_add_out_avx2(__m256i sum, const ember_add_k_avx2 *k) {
    return _mm256_add_epi32(ember_rdbpot_avx2(ember_srdhm_avx2(sum, k->mo), k->so, k->masko, k->halfo), k->zp);
}

/* 4 x 8 int32 (elements 0-7, 8-15, 16-23, 24-31) -> 32 clamped int8 in order. */
static inline __m256i ember_add_pack_avx2(__m256i r0, __m256i r1, __m256i r2, __m256i r3, const ember_add_k_avx2 *k) {
    const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(r0, r1), _mm256_packs_epi32(r2, r3));
    const __m256i v = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    return _mm256_min_epi8(_mm256_max_epi8(v, k->lo), k->hi);
}

/* 32 elements; b_vec NULL: b is the constant term bt. */
static inline __m256i ember_add32_avx2(__m256i va, const __m256i *b_vec, __m256i bt, const ember_add_k_avx2 *k,
                                       const int fast) {
    const __m128i a_lo = _mm256_castsi256_si128(va), a_hi = _mm256_extracti128_si256(va, 1);
    const __m128i a8[4] = {a_lo, _mm_srli_si128(a_lo, 8), a_hi, _mm_srli_si128(a_hi, 8)};
    __m256i r[4];
    if (b_vec) {
        const __m128i b_lo = _mm256_castsi256_si128(*b_vec), b_hi = _mm256_extracti128_si256(*b_vec, 1);
        const __m128i b8[4] = {b_lo, _mm_srli_si128(b_lo, 8), b_hi, _mm_srli_si128(b_hi, 8)};
        for (int i = 0; i < 4; ++i) {
            const __m256i ta = ember_add_term_avx2(a8[i], &k->in1, fast);
            const __m256i tb = ember_add_term_avx2(b8[i], &k->in2, fast);
            r[i] = ember_add_out_avx2(_mm256_add_epi32(ta, tb), k);
        }
    } else {
        for (int i = 0; i < 4; ++i) {
            const __m256i ta = ember_add_term_avx2(a8[i], &k->in1, fast);
            r[i] = ember_add_out_avx2(_mm256_add_epi32(ta, bt), k);
        }
    }
    return ember_add_pack_avx2(r[0], r[1], r[2], r[3], k);
}

static inline void ember_vadd_row_avx2(size_t n, const int8_t *a, const int8_t *b, int8_t *out,
                                       const ember_add_k_avx2 *k, const int fast) {
    const __m256i none = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i vb = _mm256_loadu_si256((const __m256i *)(b + i));
        const __m256i y = ember_add32_avx2(_mm256_loadu_si256((const __m256i *)(a + i)), &vb, none, k, fast);
        _mm256_storeu_si256((__m256i *)(out + i), y);
    }
    if (i < n) {
        int8_t ta[32] = {0}, tb[32] = {0}, ty[32];
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        const __m256i vb = _mm256_loadu_si256((const __m256i *)tb);
        const __m256i y = ember_add32_avx2(_mm256_loadu_si256((const __m256i *)ta), &vb, none, k, fast);
        _mm256_storeu_si256((__m256i *)ty, y);
        memcpy(out + i, ty, n - i);
    }
}

static inline void ember_vadd_const_row_avx2(size_t n, const int8_t *a, __m256i bt, int8_t *out,
                                             const ember_add_k_avx2 *k, const int fast) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm256_storeu_si256((__m256i *)(out + i),
                            ember_add32_avx2(_mm256_loadu_si256((const __m256i *)(a + i)), NULL, bt, k, fast));
    if (i < n) {
        int8_t ta[32] = {0}, ty[32];
        memcpy(ta, a + i, n - i);
        const __m256i y = ember_add32_avx2(_mm256_loadu_si256((const __m256i *)ta), NULL, bt, k, fast);
        _mm256_storeu_si256((__m256i *)ty, y);
        memcpy(out + i, ty, n - i);
    }
}

static void ember_vadd_avx2(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                            size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_avx2 k;
    ember_add_consts_avx2(p, &k);
    for (size_t r = 0; r < rows; ++r) {
        if (k.fast)
            ember_vadd_row_avx2(n, a + r * a_stride, b + r * b_stride, out + r * n, &k, 1);
        else
            ember_vadd_row_avx2(n, a + r * a_stride, b + r * b_stride, out + r * n, &k, 0);
    }
}

/* b's rescaled term of each row: the lanes' own term function on a broadcast value. */
static void ember_vadd_const_avx2(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                                  size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_avx2 k;
    ember_add_consts_avx2(p, &k);
    for (size_t r = 0; r < rows; ++r) {
        const __m128i vb = _mm_set1_epi8((char)b[r * b_stride]);
        if (k.fast)
            ember_vadd_const_row_avx2(n, a + r * a_stride, ember_add_term_avx2(vb, &k.in2, 1), out + r * n, &k, 1);
        else
            ember_vadd_const_row_avx2(n, a + r * a_stride, ember_add_term_avx2(vb, &k.in2, 0), out + r * n, &k, 0);
    }
}

const ember_add_ukernel ember_vadd_32x__avx2 = {ember_vadd_avx2, ember_vadd_const_avx2};
