/* Depthwise micro-kernel, 16 channels per block, taps in pairs (AVX2).
 * Two taps' inputs are widened and interleaved (vpunpck{l,h}wd) so one
 * vpmaddwd adds x_t*w_t + x_u*w_u per channel exactly in int32. The
 * interleave puts channels {0-3,8-11} in one accumulator and {4-7,12-15}
 * in the other; the packed weights/header use that lane order, and
 * vpackssdw of the two restores natural order. */
#include <immintrin.h>
#include <string.h>

#include "cpu/requant_avx2.h"
#include "ember/kernels.h"

static const uint8_t ember_dw16_lanes[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};

static inline __m256i ember_load16_s8(const int8_t *p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}

static void ember_dwconv_16c_avx2(size_t channels, size_t ntp, const int8_t *const *taps, const void *w,
                                  int8_t *out, const ember_output_stage *os) {
    const size_t bb = ember_dw_block_bytes(16, ntp);
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 16, blk += bb) {
        const int32_t *hdr = (const int32_t *)blk;
        __m256i acc0 = _mm256_loadu_si256((const __m256i *)hdr);
        __m256i acc1 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
        const int16_t *wp = (const int16_t *)(hdr + 64);
        const size_t cv = channels - c0 < 16 ? channels - c0 : 16;
        if (cv == 16) {
            for (size_t t = 0; t < ntp; t += 2, wp += 32) {
                const __m256i x0 = ember_load16_s8(taps[t] + c0), x1 = ember_load16_s8(taps[t + 1] + c0);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1),
                                                                _mm256_loadu_si256((const __m256i *)wp)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1),
                                                                _mm256_loadu_si256((const __m256i *)(wp + 16))));
            }
        } else {
            int8_t b0[16] = {0}, b1[16] = {0};
            for (size_t t = 0; t < ntp; t += 2, wp += 32) {
                memcpy(b0, taps[t] + c0, cv);
                memcpy(b1, taps[t + 1] + c0, cv);
                const __m256i x0 = ember_load16_s8(b0), x1 = ember_load16_s8(b1);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1),
                                                                _mm256_loadu_si256((const __m256i *)wp)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1),
                                                                _mm256_loadu_si256((const __m256i *)(wp + 16))));
            }
        }
        const __m256i r0 = ember_requant_avx2(acc0, _mm256_loadu_si256((const __m256i *)(hdr + 16)),
                                              _mm256_loadu_si256((const __m256i *)(hdr + 32)),
                                              _mm256_loadu_si256((const __m256i *)(hdr + 48)), zp, lo, hi);
        const __m256i r1 = ember_requant_avx2(acc1, _mm256_loadu_si256((const __m256i *)(hdr + 24)),
                                              _mm256_loadu_si256((const __m256i *)(hdr + 40)),
                                              _mm256_loadu_si256((const __m256i *)(hdr + 56)), zp, lo, hi);
        /* packs in-lane: [0-3 | 8-11] + [4-7 | 12-15] -> [0-7 | 8-15] */
        const __m256i p = _mm256_packs_epi32(r0, r1);
        const __m128i v = _mm_packs_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        if (cv == 16) {
            _mm_storeu_si128((__m128i *)(out + c0), v);
        } else {
            int8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, v);
            memcpy(out + c0, tmp, cv);
        }
    }
}

const ember_dwconv_ukernel ember_dwconv_16c__avx2 = {16, 2, ember_dw16_lanes, ember_dwconv_16c_avx2};
