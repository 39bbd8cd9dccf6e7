/* qgemm micro-kernel 4x8c2 for SSE4.1: the 128-bit form of the AVX2 kernel
 * (int16 A rows, int16 weights [K/2][8][2], pmaddwd per k pair). */
#include <smmintrin.h>
#include <string.h>

#include "cpu/requant_sse41.h"
#include "ember/kernels.h"

static void ember_qgemm_load_a_sse41(const int8_t *src, void *dst, size_t n) {
    int16_t *d = (int16_t *)dst;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i), _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(src + i))));
    for (; i < n; ++i) d[i] = src[i];
}

static void ember_qgemm_fill_a_sse41(void *dst, int8_t v, size_t n) {
    int16_t *d = (int16_t *)dst;
    for (size_t i = 0; i < n; ++i) d[i] = v;
}

static inline __m128i ember_bcast_pair_sse41(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm_set1_epi32(v);
}

/* The fast requantization case of 4 lanes [off, off + 4) of an 8-lane block
 * header, checked per call over the stored lanes (lane < nr_valid): no left
 * shift, no INT32_MIN multiplier, right shift >= 1. Then (as in the AVX2
 * kernels) the mbqm result lies in [-2^30, 2^30] and the zero point and
 * clamp are applied exactly after saturating narrowing. */
static inline int ember_rq_fast_sse41(const int32_t *hdr, int off, int nr_valid) {
    const __m128i live = _mm_cmpgt_epi32(_mm_set1_epi32(nr_valid - off), _mm_setr_epi32(0, 1, 2, 3));
    const __m128i bad = _mm_or_si128(
        _mm_or_si128(ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_LSHIFT, off),
                     _mm_cmpeq_epi32(ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_MULT, off), _mm_set1_epi32(INT32_MIN))),
        _mm_cmpeq_epi32(ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_RSHIFT, off), _mm_setzero_si128()));
    return _mm_testz_si128(bad, live);
}

/* Per-call constants of the fast case for 4 lanes. The right shift is a
 * multiply: for e in [1, 31], x >> e (arithmetic) is the high part of
 * x * 2^(31 - e) shifted by 31, exact in the 64-bit pmuldq product (SSE has
 * no per-lane shift; the general path does it lane by lane). */
typedef struct {
    __m128i mult, mult_odd, pow, pow_odd, rmask, rhalf;
} ember_rq_fast4;

static inline ember_rq_fast4 ember_rq_fast_load_sse41(const int32_t *hdr, int off) {
    ember_rq_fast4 q;
    q.mult = ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_MULT, off);
    q.mult_odd = _mm_srli_epi64(q.mult, 32);
    q.pow = ember_pow2_sse41(_mm_sub_epi32(_mm_set1_epi32(31), ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_RSHIFT, off)));
    q.pow_odd = _mm_srli_epi64(q.pow, 32);
    q.rmask = ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_RMASK, off);
    q.rhalf = ember_hdr_load_sse41(hdr, 8, EMBER_QHDR_RHALF, off);
    return q;
}

/* High 32 bits of (64-bit products of even and odd lanes) >> 31 -> 4 lanes. */
static inline __m128i ember_mulhi31_sse41(__m128i a, __m128i b, __m128i b_odd, __m128i add) {
    const __m128i even = _mm_srli_epi64(_mm_add_epi64(_mm_mul_epi32(a, b), add), 31);
    const __m128i odd = _mm_slli_epi64(_mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(a, 32), b_odd), add), 1);
    return _mm_blend_epi16(even, odd, 0xCC);
}

/* mbqm of the fast case, before the zero point: SaturatingRoundingDoubling-
 * HighMul without the saturation, then RoundingDivideByPOT as
 * (x >> e) + (remainder + (x < 0 ? -1 : 0) > half). */
static inline __m128i ember_mbqm_fast_sse41(__m128i acc, const ember_rq_fast4 *q) {
    const __m128i x = ember_mulhi31_sse41(acc, q->mult, q->mult_odd, _mm_set1_epi64x(INT64_C(1) << 30));
    const __m128i shifted = ember_mulhi31_sse41(x, q->pow, q->pow_odd, _mm_setzero_si128());
    const __m128i rem = _mm_add_epi32(_mm_and_si128(x, q->rmask), _mm_srai_epi32(x, 31));
    return _mm_sub_epi32(shifted, _mm_cmpgt_epi32(rem, q->rhalf));
}

/* Rows r (x0: lanes 0-3, x1: lanes 4-7) and r + 1 (y0, y1) of mbqm results
 * -> [row r | row r + 1] x 8 int8 with zero point and clamp. */
static inline __m128i ember_narrow2rows_sse41(__m128i x0, __m128i x1, __m128i y0, __m128i y1, __m128i zp16,
                                              __m128i lo8, __m128i hi8) {
    const __m128i px = _mm_adds_epi16(_mm_packs_epi32(x0, x1), zp16);
    const __m128i py = _mm_adds_epi16(_mm_packs_epi32(y0, y1), zp16);
    return _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(px, py), lo8), hi8);
}

static void ember_qgemm_4x8c2_sse41(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                    const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int16_t *a0 = (const int16_t *)a;
    const int16_t *a1 = mr_valid > 1 ? (const int16_t *)((const uint8_t *)a + a_stride) : a0;
    const int16_t *a2 = mr_valid > 2 ? (const int16_t *)((const uint8_t *)a + 2 * a_stride) : a1;
    const int16_t *a3 = mr_valid > 3 ? (const int16_t *)((const uint8_t *)a + 3 * a_stride) : a2;
    const int32_t *hdr = (const int32_t *)w;
    __m128i c00 = _mm_loadu_si128((const __m128i *)hdr), c01 = _mm_loadu_si128((const __m128i *)(hdr + 4));
    __m128i c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 8);
    for (size_t k = 0; k < kp; k += 2) {
        const __m128i w0 = _mm_loadu_si128((const __m128i *)wp);
        const __m128i w1 = _mm_loadu_si128((const __m128i *)(wp + 8));
        wp += 16;
        __m128i va = ember_bcast_pair_sse41(a0 + k);
        c00 = _mm_add_epi32(c00, _mm_madd_epi16(va, w0));
        c01 = _mm_add_epi32(c01, _mm_madd_epi16(va, w1));
        va = ember_bcast_pair_sse41(a1 + k);
        c10 = _mm_add_epi32(c10, _mm_madd_epi16(va, w0));
        c11 = _mm_add_epi32(c11, _mm_madd_epi16(va, w1));
        va = ember_bcast_pair_sse41(a2 + k);
        c20 = _mm_add_epi32(c20, _mm_madd_epi16(va, w0));
        c21 = _mm_add_epi32(c21, _mm_madd_epi16(va, w1));
        va = ember_bcast_pair_sse41(a3 + k);
        c30 = _mm_add_epi32(c30, _mm_madd_epi16(va, w0));
        c31 = _mm_add_epi32(c31, _mm_madd_epi16(va, w1));
    }
    if (ember_rq_fast_sse41(hdr, 0, nr_valid) && ember_rq_fast_sse41(hdr, 4, nr_valid)) {
        const ember_rq_fast4 q0 = ember_rq_fast_load_sse41(hdr, 0), q1 = ember_rq_fast_load_sse41(hdr, 4);
        const __m128i zp16 = _mm_set1_epi16((int16_t)os->output_zero_point);
        const __m128i lo8 = _mm_set1_epi8((char)os->act_min), hi8 = _mm_set1_epi8((char)os->act_max);
        const __m128i v01 = ember_narrow2rows_sse41(ember_mbqm_fast_sse41(c00, &q0), ember_mbqm_fast_sse41(c01, &q1),
                                                    ember_mbqm_fast_sse41(c10, &q0), ember_mbqm_fast_sse41(c11, &q1),
                                                    zp16, lo8, hi8);
        const __m128i v23 = ember_narrow2rows_sse41(ember_mbqm_fast_sse41(c20, &q0), ember_mbqm_fast_sse41(c21, &q1),
                                                    ember_mbqm_fast_sse41(c30, &q0), ember_mbqm_fast_sse41(c31, &q1),
                                                    zp16, lo8, hi8);
        ember_store8_sse41(out, v01, nr_valid);
        if (mr_valid > 1) ember_store8_sse41(out + out_stride, _mm_srli_si128(v01, 8), nr_valid);
        if (mr_valid > 2) ember_store8_sse41(out + 2 * out_stride, v23, nr_valid);
        if (mr_valid > 3) ember_store8_sse41(out + 3 * out_stride, _mm_srli_si128(v23, 8), nr_valid);
        return;
    }
    const __m128i zp = _mm_set1_epi32(os->output_zero_point);
    const __m128i lo = _mm_set1_epi32(os->act_min), hi = _mm_set1_epi32(os->act_max);
#define EMBER_ROW(i, x0, x1)                                                                                   \
    if (mr_valid > i)                                                                                          \
        ember_store8_sse41(out + (size_t)(i) * out_stride,                                                     \
                           ember_pack8_sse41(ember_requant_sse41(x0, hdr, 8, 0, zp, lo, hi),                   \
                                             ember_requant_sse41(x1, hdr, 8, 4, zp, lo, hi)),                  \
                           nr_valid);
    EMBER_ROW(0, c00, c01)
    EMBER_ROW(1, c10, c11)
    EMBER_ROW(2, c20, c21)
    EMBER_ROW(3, c30, c31)
#undef EMBER_ROW
}

const ember_qgemm_ukernel ember_qgemm_4x8c2__sse41 = {
    4, 8, 2, 2, 2, 2, ember_qgemm_load_a_sse41, ember_qgemm_fill_a_sse41, ember_qgemm_4x8c2_sse41,
};
