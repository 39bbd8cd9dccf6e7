/* Depthwise micro-kernel, 8 channels per block, taps in pairs (SSE4.1):
 * widened inputs of two taps interleaved (punpck{l,h}wd) and pmaddwd with
 * the interleaved weights; channels 0-3 / 4-7 land in natural order. */
#include <smmintrin.h>
#include <string.h>

#include "cpu/requant_sse41.h"
#include "ember/kernels.h"

static const uint8_t ember_dw8_lanes_sse41[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static inline __m128i ember_load8_s8(const int8_t *p) { return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)); }

static void ember_dwconv_8c_sse41(size_t pixels, size_t channels, size_t ntp, const int8_t *const *taps,
                                  const void *w, int8_t *out, const ember_output_stage *os) {
    const size_t bb = ember_dw_block_bytes(8, ntp);
    const __m128i zp = _mm_set1_epi32(os->output_zero_point);
    const __m128i lo = _mm_set1_epi32(os->act_min), hi = _mm_set1_epi32(os->act_max);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 8, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        const __m128i bias0 = _mm_loadu_si128((const __m128i *)hdr), bias1 = _mm_loadu_si128((const __m128i *)(hdr + 4));
        const int16_t *w0 = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 8);
        const size_t cv = channels - c0 < 8 ? channels - c0 : 8;
        int8_t b0[8] = {0}, b1[8] = {0};
        for (size_t px = 0; px < pixels; ++px) {
            const int8_t *const *tp = taps + px * ntp;
            __m128i acc0 = bias0, acc1 = bias1;
            const int16_t *wp = w0;
            for (size_t t = 0; t < ntp; t += 2, wp += 16) {
                const int8_t *p0 = tp[t] + c0, *p1 = tp[t + 1] + c0;
                if (cv != 8) {
                    memcpy(b0, p0, cv);
                    memcpy(b1, p1, cv);
                    p0 = b0;
                    p1 = b1;
                }
                const __m128i x0 = ember_load8_s8(p0), x1 = ember_load8_s8(p1);
                acc0 = _mm_add_epi32(acc0,
                                     _mm_madd_epi16(_mm_unpacklo_epi16(x0, x1), _mm_loadu_si128((const __m128i *)wp)));
                acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(_mm_unpackhi_epi16(x0, x1),
                                                          _mm_loadu_si128((const __m128i *)(wp + 8))));
            }
            const __m128i r0 = ember_requant_sse41(acc0, hdr, 8, 0, zp, lo, hi);
            const __m128i r1 = ember_requant_sse41(acc1, hdr, 8, 4, zp, lo, hi);
            ember_store8_sse41(out + px * channels + c0, ember_pack8_sse41(r0, r1), (int)cv);
        }
    }
}

const ember_dwconv_ukernel ember_dwconv_8c__sse41 = {8, 2, ember_dw8_lanes_sse41, ember_dwconv_8c_sse41, NULL,
                                                      EMBER_DW_TAPS_NATURAL, NULL};
