/* qgemm micro-kernel 4x16c2 for AVX2: 4 rows x 16 channels per call, K in
 * pairs. A rows are int16 (widened at gather); weights are pre-widened int16
 * packed [K/2][16][2], so one vpmaddwd does 8 channels x 2 k exactly in
 * int32, with a 32-bit broadcast of the row's (a[k], a[k+1]) pair. */
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

static void ember_qgemm_4x16c2_avx2(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                    const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int16_t *a0 = (const int16_t *)a;
    const int16_t *a1 = mr_valid > 1 ? (const int16_t *)((const uint8_t *)a + a_stride) : a0;
    const int16_t *a2 = mr_valid > 2 ? (const int16_t *)((const uint8_t *)a + 2 * a_stride) : a1;
    const int16_t *a3 = mr_valid > 3 ? (const int16_t *)((const uint8_t *)a + 3 * a_stride) : a2;
    const int32_t *hdr = (const int32_t *)w;
    __m256i c00 = _mm256_loadu_si256((const __m256i *)hdr), c01 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
    __m256i c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    for (size_t k = 0; k < kp; k += 2) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));
        wp += 32;
        __m256i va = ember_bcast_pair(a0 + k);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(va, w0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(va, w1));
        va = ember_bcast_pair(a1 + k);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(va, w0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(va, w1));
        va = ember_bcast_pair(a2 + k);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(va, w0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(va, w1));
        va = ember_bcast_pair(a3 + k);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(va, w0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(va, w1));
    }
    const ember_rq_avx2 q0 = ember_rq_load_avx2(hdr, 16, 0), q1 = ember_rq_load_avx2(hdr, 16, 8);
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
#define EMBER_ROW(i, x0, x1, full)                                                                             \
    if (mr_valid > i)                                                                                          \
        ember_store_row16(out + (size_t)(i) * out_stride,                                                      \
                          ember_pack16_avx2(ember_requant_avx2_x(x0, &q0, zp, lo, hi, full),                    \
                                            ember_requant_avx2_x(x1, &q1, zp, lo, hi, full)),                   \
                          nr_valid);
    if (ember_rq_simple_avx2(&q0) && ember_rq_simple_avx2(&q1)) {
        EMBER_ROW(0, c00, c01, 0)
        EMBER_ROW(1, c10, c11, 0)
        EMBER_ROW(2, c20, c21, 0)
        EMBER_ROW(3, c30, c31, 0)
    } else {
        EMBER_ROW(0, c00, c01, 1)
        EMBER_ROW(1, c10, c11, 1)
        EMBER_ROW(2, c20, c21, 1)
        EMBER_ROW(3, c30, c31, 1)
    }
#undef EMBER_ROW
}

const ember_qgemm_ukernel ember_qgemm_4x16c2__avx2 = {
    4, 16, 2, 2, 2, 2, ember_qgemm_load_a_avx2, ember_qgemm_fill_a_avx2, ember_qgemm_4x16c2_avx2,
};

/* qgemm micro-kernel 8x8c2 for AVX2 (the narrow variant, out_c <= 8): 8 rows
 * x 8 channels, one weight vector (8 channels x 2 k) per k pair and a
 * broadcast A pair per row, so no lane idles for an 8-channel conv. */
static void ember_qgemm_8x8c2_avx2(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                   const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int16_t *ap[8];
    for (int i = 0; i < 8; ++i)
        ap[i] = (const int16_t *)((const uint8_t *)a + (size_t)(i < mr_valid ? i : mr_valid - 1) * a_stride);
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
    const ember_rq_avx2 q = ember_rq_load_avx2(hdr, 8, 0);
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
    __m256i acc[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
    const int simple = ember_rq_simple_avx2(&q);
    for (int i = 0; i < mr_valid; ++i) {
        const __m256i r = simple ? ember_requant_avx2_x(acc[i], &q, zp, lo, hi, 0) : ember_requant_avx2(acc[i], &q, zp, lo, hi);
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
