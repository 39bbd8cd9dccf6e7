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
