/* qgemm micro-kernels for AVX2, K in pairs. A rows are int16 (widened at
 * gather); weights are pre-widened int16 packed [K/2][NR][2], so one
 * vpmaddwd does 8 channels x 2 k exactly in int32, with a 32-bit broadcast
 * of the row's (a[k], a[k+1]) pair. */
#include <immintrin.h>
#include <string.h>

#include "cpu/requant_avx2.h"
#include "ember/kernels.h"

static void ember_qgemm_load_a_avx2(const int8_t *src, void *dst, size_t n) {
    int16_t *d = (int16_t *)dst;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i), _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(src + i))));
    for (; i < n; ++i) d[i] = src[i];
}

static void ember_qgemm_fill_a_avx2(void *dst, int8_t v, size_t n) {
    int16_t *d = (int16_t *)dst;
    for (size_t i = 0; i < n; ++i) d[i] = v;
}

static inline __m256i ember_bcast_pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

static void ember_store_row16(int8_t *out, __m128i v, int nv) {
    if (nv == 16) {
        _mm_storeu_si128((__m128i *)out, v);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, v);
        memcpy(out, tmp, (size_t)nv);
    }
}

/* The fast requantization case of a channel block, checked per call over the
 * lanes that are stored (lane < nr_valid): no left shift, no INT32_MIN
 * multiplier and a right shift of at least 1. Then the mbqm result fits in
 * [-2^30, 2^30], so adding the output zero point cannot wrap and the zero
 * point and clamp can be applied after narrowing with saturation (packs to
 * int16, saturating add, packs to int8, int8 min/max): saturation keeps the
 * sign of an out-of-range value and the clamp bounds lie inside int8, so the
 * result equals the int32 add-then-clamp of the reference exactly. */
static inline int ember_rq_fast_avx2(const int32_t *hdr, int nr, int off, int nr_valid) {
    const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr_valid - off), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i mult = ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_MULT, off);
    const __m256i bad = _mm256_or_si256(
        _mm256_or_si256(ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_LSHIFT, off),
                        _mm256_cmpeq_epi32(mult, _mm256_set1_epi32(INT32_MIN))),
        _mm256_cmpeq_epi32(ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RSHIFT, off), _mm256_setzero_si256()));
    return _mm256_testz_si256(bad, live);
}

/* mbqm of the fast case (no left shift, no saturation), before the zero
 * point, for lanes [off, off + 8) of a block header of nr lanes. The
 * constants are read from the header at each use (memory operands, no
 * registers held across the 12 accumulators of a 6-row call); the odd
 * lanes' multipliers come from a load one lane further, whose even dwords
 * are they (vpmuldq reads even dwords only; for the last 8 lanes the extra
 * dword read is the next header field's). RoundingDivideByPOT compares
 * remainder + (x < 0 ? -1 : 0) > half, i.e. remainder > half + (x < 0). */
static inline __m256i ember_mbqm_fast_avx2(__m256i acc, const int32_t *hdr, int nr, int off) {
    const int32_t *mult = hdr + EMBER_QHDR_MULT * nr + off;
    const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
    const __m256i even = _mm256_srli_epi64(
        _mm256_add_epi64(_mm256_mul_epi32(acc, _mm256_loadu_si256((const __m256i *)mult)), nudge), 31);
    const __m256i odd = _mm256_slli_epi64(
        _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_loadu_si256((const __m256i *)(mult + 1))),
                         nudge),
        1);
    const __m256i x = _mm256_blend_epi32(even, odd, 0xAA);
    const __m256i rem = _mm256_add_epi32(_mm256_and_si256(x, ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RMASK, off)),
                                         _mm256_srai_epi32(x, 31));
    return _mm256_sub_epi32(_mm256_srav_epi32(x, ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RSHIFT, off)),
                            _mm256_cmpgt_epi32(rem, ember_hdr_load_avx2(hdr, nr, EMBER_QHDR_RHALF, off)));
}

/* Fast case: 4 vectors of mbqm results -> 32 int8 with zero point and clamp
 * (see ember_rq_fast_avx2). x0, x1 and y0, y1 are 16 lanes each (lanes 0-7,
 * 8-15 of one row of a 16-channel block, or rows r, r+1 of an 8-channel
 * block as x0, x1 and rows r+2, r+3 as y0, y1); the result holds x0 x1 y0 y1
 * in that order, 4-byte groups restored by one dword permute. */
static inline __m256i ember_narrow4_avx2(__m256i x0, __m256i x1, __m256i y0, __m256i y1, __m256i zp16, __m256i lo8,
                                         __m256i hi8) {
    const __m256i px = _mm256_adds_epi16(_mm256_packs_epi32(x0, x1), zp16);
    const __m256i py = _mm256_adds_epi16(_mm256_packs_epi32(y0, y1), zp16);
    const __m256i v = _mm256_min_epi8(_mm256_max_epi8(_mm256_packs_epi16(px, py), lo8), hi8);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Fast case (ember_rq_fast_avx2): requantizes rows i (x0, x1) and i + 1
 * (y0, y1) of a 16-channel block and stores row i, and row i + 1 when
 * `two`. */
static inline void ember_store_pair16_avx2(__m256i x0, __m256i x1, __m256i y0, __m256i y1, const int32_t *hdr,
                                           __m256i zp16, __m256i lo8, __m256i hi8, int8_t *out, size_t out_stride,
                                           int two, int nr_valid) {
    const __m256i v = ember_narrow4_avx2(ember_mbqm_fast_avx2(x0, hdr, 16, 0), ember_mbqm_fast_avx2(x1, hdr, 16, 8),
                                         ember_mbqm_fast_avx2(y0, hdr, 16, 0), ember_mbqm_fast_avx2(y1, hdr, 16, 8),
                                         zp16, lo8, hi8);
    ember_store_row16(out, _mm256_castsi256_si128(v), nr_valid);
    if (two) ember_store_row16(out + out_stride, _mm256_extracti128_si256(v, 1), nr_valid);
}

/* General case: one row, full requantization (left shift, saturation). */
static inline void ember_store_row16_full_avx2(__m256i x0, __m256i x1, const int32_t *hdr,
                                               const ember_output_stage *os, int8_t *out, int nr_valid) {
    const ember_rq_avx2 q0v = ember_rq_load_avx2(hdr, 16, 0), q1v = ember_rq_load_avx2(hdr, 16, 8);
    const ember_rq_avx2 *q0 = &q0v, *q1 = &q1v;
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
    ember_store_row16(out, ember_pack16_avx2(ember_requant_avx2(x0, q0, zp, lo, hi), ember_requant_avx2(x1, q1, zp, lo, hi)),
                      nr_valid);
}

/* Requantization prologue of a 16-channel block: constants, fast-case test. */
#define EMBER_RQ16_SETUP                                                                                           \
    const int fast = ember_rq_fast_avx2(hdr, 16, 0, nr_valid) && ember_rq_fast_avx2(hdr, 16, 8, nr_valid);       \
    const __m256i zp16 = _mm256_set1_epi16((int16_t)os->output_zero_point);                                      \
    const __m256i lo8 = _mm256_set1_epi8((int8_t)os->act_min), hi8 = _mm256_set1_epi8((int8_t)os->act_max)
#define EMBER_PAIR16(i, x0, x1, y0, y1)                                                                            \
    ember_store_pair16_avx2(x0, x1, y0, y1, hdr, zp16, lo8, hi8, out + (size_t)(i) * out_stride, out_stride,       \
                            mr_valid > (i) + 1, nr_valid)
#define EMBER_ROW16(i, x0, x1)                                                                                     \
    if (mr_valid > (i)) ember_store_row16_full_avx2(x0, x1, hdr, os, out + (size_t)(i) * out_stride, nr_valid)

/* One row's step of the K loop: (a[k], a[k+1]) times 16 channels. */
#define EMBER_ROW_STEP(acc0, acc1, row)                                                                            \
    do {                                                                                                           \
        const __m256i va_ = ember_bcast_pair((row) + k);                                                           \
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(va_, w0));                                                 \
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(va_, w1));                                                 \
    } while (0)

/* Rows past mr_valid repeat the last valid row and are not stored. The
 * accumulators are named variables: as an array gcc kept half of them on
 * the stack inside the K loop. */
static void ember_qgemm_6rows_avx2(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                   const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int16_t *a0 = (const int16_t *)a;
    const int16_t *a1 = (const int16_t *)((const uint8_t *)a + a_stride);
    const int16_t *a2 = (const int16_t *)((const uint8_t *)a + 2 * a_stride);
    const int16_t *a3 = (const int16_t *)((const uint8_t *)a + 3 * a_stride);
    const int16_t *a4 = mr_valid > 4 ? (const int16_t *)((const uint8_t *)a + 4 * a_stride) : a3;
    const int16_t *a5 = mr_valid > 5 ? (const int16_t *)((const uint8_t *)a + 5 * a_stride) : a4;
    const int32_t *hdr = (const int32_t *)w;
    __m256i c00 = _mm256_loadu_si256((const __m256i *)hdr), c01 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
    __m256i c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00,
            c51 = c01;
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    for (size_t k = 0; k < kp; k += 2, wp += 32) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));
        EMBER_ROW_STEP(c00, c01, a0);
        EMBER_ROW_STEP(c10, c11, a1);
        EMBER_ROW_STEP(c20, c21, a2);
        EMBER_ROW_STEP(c30, c31, a3);
        EMBER_ROW_STEP(c40, c41, a4);
        EMBER_ROW_STEP(c50, c51, a5);
    }
    EMBER_RQ16_SETUP;
    if (fast) {
        EMBER_PAIR16(0, c00, c01, c10, c11);
        EMBER_PAIR16(2, c20, c21, c30, c31);
        if (mr_valid > 4) EMBER_PAIR16(4, c40, c41, c50, c51);
        return;
    }
    EMBER_ROW16(0, c00, c01);
    EMBER_ROW16(1, c10, c11);
    EMBER_ROW16(2, c20, c21);
    EMBER_ROW16(3, c30, c31);
    EMBER_ROW16(4, c40, c41);
    EMBER_ROW16(5, c50, c51);
}

static void ember_qgemm_3rows_avx2(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                   const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int16_t *a0 = (const int16_t *)a;
    const int16_t *a1 = mr_valid > 1 ? (const int16_t *)((const uint8_t *)a + a_stride) : a0;
    const int16_t *a2 = mr_valid > 2 ? (const int16_t *)((const uint8_t *)a + 2 * a_stride) : a1;
    const int32_t *hdr = (const int32_t *)w;
    __m256i c00 = _mm256_loadu_si256((const __m256i *)hdr), c01 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
    __m256i c10 = c00, c11 = c01, c20 = c00, c21 = c01;
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    for (size_t k = 0; k < kp; k += 2, wp += 32) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));
        EMBER_ROW_STEP(c00, c01, a0);
        EMBER_ROW_STEP(c10, c11, a1);
        EMBER_ROW_STEP(c20, c21, a2);
    }
    EMBER_RQ16_SETUP;
    if (fast) {
        EMBER_PAIR16(0, c00, c01, c10, c11);
        if (mr_valid > 2)
            ember_store_pair16_avx2(c20, c21, c20, c21, hdr, zp16, lo8, hi8, out + 2 * out_stride, out_stride, 0, nr_valid);
        return;
    }
    EMBER_ROW16(0, c00, c01);
    EMBER_ROW16(1, c10, c11);
    EMBER_ROW16(2, c20, c21);
}
/* One row (FULLY_CONNECTED with batch 1, a 1-pixel conv): two K pairs per
 * step into two accumulator sets, so the loop is bound by its loads rather
 * than by the accumulator chains; no duplicate rows computed. */
static void ember_qgemm_1row_avx2(int nr_valid, size_t kp, const void *a, const void *w, int8_t *out,
                                  const ember_output_stage *os) {
    const int16_t *a0 = (const int16_t *)a;
    const int mr_valid = 1;
    const size_t out_stride = 0;
    const int32_t *hdr = (const int32_t *)w;
    __m256i c00 = _mm256_loadu_si256((const __m256i *)hdr), c01 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
    __m256i d00 = _mm256_setzero_si256(), d01 = _mm256_setzero_si256();
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    size_t k = 0;
    for (; k + 4 <= kp; k += 4, wp += 64) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));
        EMBER_ROW_STEP(c00, c01, a0);
        w0 = _mm256_loadu_si256((const __m256i *)(wp + 32));
        w1 = _mm256_loadu_si256((const __m256i *)(wp + 48));
        const __m256i va = ember_bcast_pair(a0 + k + 2);
        d00 = _mm256_add_epi32(d00, _mm256_madd_epi16(va, w0));
        d01 = _mm256_add_epi32(d01, _mm256_madd_epi16(va, w1));
    }
    if (k < kp) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));
        EMBER_ROW_STEP(c00, c01, a0);
    }
    c00 = _mm256_add_epi32(c00, d00);
    c01 = _mm256_add_epi32(c01, d01);
    EMBER_RQ16_SETUP;
    if (fast) {
        EMBER_PAIR16(0, c00, c01, c00, c01);
        return;
    }
    EMBER_ROW16(0, c00, c01);
}

#undef EMBER_ROW_STEP
#undef EMBER_RQ16_SETUP
#undef EMBER_PAIR16
#undef EMBER_ROW16

/* qgemm micro-kernel 6x16c2: 6 rows x 16 channels per call (12 accumulators,
 * 2 weight vectors, 1 broadcast), so the per-call setup and the weight loads
 * spread over 6 rows; at most 3 valid rows take a 3-row loop and a single
 * row a 1-row loop instead of computing duplicate rows (9-pixel layers run
 * 6 + 3, FULLY_CONNECTED with batch 1 one row). */
static void ember_qgemm_6x16c2_avx2(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                    const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    if (mr_valid > 3)
        ember_qgemm_6rows_avx2(mr_valid, nr_valid, kp, a, a_stride, w, out, out_stride, os);
    else if (mr_valid == 1)
        ember_qgemm_1row_avx2(nr_valid, kp, a, w, out, os);
    else
        ember_qgemm_3rows_avx2(mr_valid, nr_valid, kp, a, a_stride, w, out, out_stride, os);
}

const ember_qgemm_ukernel ember_qgemm_6x16c2__avx2 = {
    6, 16, 2, 2, 2, 2, ember_qgemm_load_a_avx2, ember_qgemm_fill_a_avx2, ember_qgemm_6x16c2_avx2,
};

/* qgemm micro-kernel 8x8c2 for AVX2 (the narrow variant, out_c <= 8): 8 rows
 * x 8 channels, one weight vector (8 channels x 2 k) per k pair and a
 * broadcast A pair per row, so no lane idles for an 8-channel conv. */
static void ember_qgemm_8x8c2_avx2(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                   const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    /* row pointers: rows past mr_valid repeat the last valid row (plain
     * selects; as a loop over an array gcc built them with 64-bit vector
     * multiplies on every call) */
    const uint8_t *ab = (const uint8_t *)a;
    const int16_t *ap[8];
    ap[0] = (const int16_t *)ab;
    ap[1] = mr_valid > 1 ? (const int16_t *)(ab + a_stride) : ap[0];
    ap[2] = mr_valid > 2 ? (const int16_t *)(ab + 2 * a_stride) : ap[1];
    ap[3] = mr_valid > 3 ? (const int16_t *)(ab + 3 * a_stride) : ap[2];
    ap[4] = mr_valid > 4 ? (const int16_t *)(ab + 4 * a_stride) : ap[3];
    ap[5] = mr_valid > 5 ? (const int16_t *)(ab + 5 * a_stride) : ap[4];
    ap[6] = mr_valid > 6 ? (const int16_t *)(ab + 6 * a_stride) : ap[5];
    ap[7] = mr_valid > 7 ? (const int16_t *)(ab + 7 * a_stride) : ap[6];
    const int32_t *hdr = (const int32_t *)w;
    const __m256i bias = _mm256_loadu_si256((const __m256i *)hdr);
    __m256i c0 = bias, c1 = bias, c2 = bias, c3 = bias, c4 = bias, c5 = bias, c6 = bias, c7 = bias;
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 8);
    for (size_t k = 0; k < kp; k += 2, wp += 16) {
        const __m256i wv = _mm256_loadu_si256((const __m256i *)wp);
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(ember_bcast_pair(ap[0] + k), wv));
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(ember_bcast_pair(ap[1] + k), wv));
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(ember_bcast_pair(ap[2] + k), wv));
        c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(ember_bcast_pair(ap[3] + k), wv));
        c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(ember_bcast_pair(ap[4] + k), wv));
        c5 = _mm256_add_epi32(c5, _mm256_madd_epi16(ember_bcast_pair(ap[5] + k), wv));
        c6 = _mm256_add_epi32(c6, _mm256_madd_epi16(ember_bcast_pair(ap[6] + k), wv));
        c7 = _mm256_add_epi32(c7, _mm256_madd_epi16(ember_bcast_pair(ap[7] + k), wv));
    }
    if (ember_rq_fast_avx2(hdr, 8, 0, nr_valid)) {
        /* 4 rows per narrowing: [row i | i+1 | i+2 | i+3] x 8 bytes, both
         * groups computed before the first store */
        const __m256i zp16 = _mm256_set1_epi16((int16_t)os->output_zero_point);
        const __m256i lo8 = _mm256_set1_epi8((int8_t)os->act_min), hi8 = _mm256_set1_epi8((int8_t)os->act_max);
        const __m256i v0 = ember_narrow4_avx2(ember_mbqm_fast_avx2(c0, hdr, 8, 0), ember_mbqm_fast_avx2(c1, hdr, 8, 0),
                                              ember_mbqm_fast_avx2(c2, hdr, 8, 0), ember_mbqm_fast_avx2(c3, hdr, 8, 0),
                                              zp16, lo8, hi8);
        const __m256i v1 = ember_narrow4_avx2(ember_mbqm_fast_avx2(c4, hdr, 8, 0), ember_mbqm_fast_avx2(c5, hdr, 8, 0),
                                              ember_mbqm_fast_avx2(c6, hdr, 8, 0), ember_mbqm_fast_avx2(c7, hdr, 8, 0),
                                              zp16, lo8, hi8);
        if (mr_valid == 8 && nr_valid == 8 && out_stride == 8) { /* 8 consecutive output rows */
            _mm256_storeu_si256((__m256i *)(void *)out, v0);
            _mm256_storeu_si256((__m256i *)(void *)(out + 32), v1);
            return;
        }
        int8_t tmp[64];
        _mm256_storeu_si256((__m256i *)(void *)tmp, v0);
        _mm256_storeu_si256((__m256i *)(void *)(tmp + 32), v1);
        for (int r = 0; r < mr_valid; ++r) memcpy(out + (size_t)r * out_stride, tmp + 8 * r, (size_t)nr_valid);
        return;
    }
    __m256i acc[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
    const ember_rq_avx2 q = ember_rq_load_avx2(hdr, 8, 0);
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
    for (int i = 0; i < mr_valid; ++i) {
        const __m256i r = ember_requant_avx2(acc[i], &q, zp, lo, hi);
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        p = _mm_packs_epi16(p, p);
        int8_t *o = out + (size_t)i * out_stride;
        if (nr_valid == 8) {
            _mm_storel_epi64((__m128i *)o, p);
        } else {
            int8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, p);
            memcpy(o, tmp, (size_t)nr_valid);
        }
    }
}

const ember_qgemm_ukernel ember_qgemm_8x8c2__avx2 = {
    8, 8, 2, 2, 2, 2, ember_qgemm_load_a_avx2, ember_qgemm_fill_a_avx2, ember_qgemm_8x8c2_avx2,
};
