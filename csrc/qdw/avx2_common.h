/* Helpers shared by the AVX2 depthwise kernels (avx2.c, avx2_row3x3.c).
 * Include only from *avx2*.c files. */
#ifndef EMBER_QDW_AVX2_COMMON_H
#define EMBER_QDW_AVX2_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/requant_avx2.h"
#include "ember/kernels.h"

static inline __m256i ember_load16_s8(const int8_t *p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}

/* Broadcasts lanes [off, off+4) of a header field to both 128-bit halves. */
static inline __m256i ember_field_x2(const int32_t *hdr, int field, int off) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(hdr + field * 16 + off)));
}

static inline ember_rq_avx2 ember_rq_x2(const int32_t *hdr, int off) {
    ember_rq_avx2 q;
    q.mult = ember_field_x2(hdr, EMBER_QHDR_MULT, off);
    q.mult_odd = _mm256_srli_epi64(q.mult, 32);
    q.lshift = ember_field_x2(hdr, EMBER_QHDR_LSHIFT, off);
    q.rshift = ember_field_x2(hdr, EMBER_QHDR_RSHIFT, off);
    q.rmask = ember_field_x2(hdr, EMBER_QHDR_RMASK, off);
    q.rhalf = ember_field_x2(hdr, EMBER_QHDR_RHALF, off);
    return q;
}

/* The whole-row 3x3 kernel of ember_dwconv_16c__avx2 (avx2_row3x3.c). */
int ember_dwconv_16c_row3x3_avx2(size_t nrows, size_t out_w, size_t channels, const int8_t *const *rows,
                                 int32_t in_w, int32_t pad_left, int32_t stride_w, int32_t input_zero_point,
                                 const void *w, int8_t *out, const ember_output_stage *os);

#endif
