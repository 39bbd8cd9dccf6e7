/* Depthwise micro-kernel, 16 channels per block, taps in pairs (AVX2).
 * Two taps' inputs are widened and interleaved (vpunpck{l,h}wd) so one
 * vpmaddwd adds x_t*w_t + x_u*w_u per channel exactly in int32. The
 * interleave puts channels {0-3,8-11} in one accumulator and {4-7,12-15}
 * in the other; the packed weights/header use that lane order, and
 * vpackssdw of the two restores natural order. Blocks with fewer than 16
 * channels run as two 8-channel halves with 128-bit loads (a half with
 * fewer than 8 channels reads through a small buffer). */
#include <immintrin.h>
#include <string.h>

#include "cpu/requant_avx2.h"
#include "ember/kernels.h"

static const uint8_t ember_dw16_lanes[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};

static inline __m256i ember_load16_s8(const int8_t *p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}

static inline __m128i ember_load8_s8(const int8_t *p) { return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)); }

/* Header field of half h (channels 8h..8h+7): lanes 4h..4h+3 and 8+4h..8+4h+3. */
static inline __m256i ember_half_field(const int32_t *hdr, int field, int h) {
    const int32_t *f = hdr + field * 16;
    return _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(f + 8 + 4 * h)),
                            _mm_loadu_si128((const __m128i *)(f + 4 * h)));
}

/* Channels [c, c + hv) (hv <= 8) = half h of a block, for every pixel. */
static void ember_dw_half(size_t pixels, size_t channels, size_t hv, const int8_t *const *taps, size_t ntp, size_t c,
                          const int32_t *hdr, int h, int8_t *out, __m256i zp, __m256i lo, __m256i hi) {
    const __m128i bias0 = _mm_loadu_si128((const __m128i *)(hdr + 4 * h));
    const __m128i bias1 = _mm_loadu_si128((const __m128i *)(hdr + 8 + 4 * h));
    const int16_t *w0 = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    ember_rq_avx2 q;
    q.mult = ember_half_field(hdr, EMBER_QHDR_MULT, h);
    q.mult_odd = _mm256_srli_epi64(q.mult, 32);
    q.lshift = ember_half_field(hdr, EMBER_QHDR_LSHIFT, h);
    q.rshift = ember_half_field(hdr, EMBER_QHDR_RSHIFT, h);
    q.rmask = ember_half_field(hdr, EMBER_QHDR_RMASK, h);
    q.rhalf = ember_half_field(hdr, EMBER_QHDR_RHALF, h);
    const int simple = ember_rq_simple_avx2(&q);
    int8_t b0[8] = {0}, b1[8] = {0};
    for (size_t px = 0; px < pixels; ++px) {
        const int8_t *const *tp = taps + px * ntp;
        __m128i a0 = bias0, a1 = bias1;
        const int16_t *wp = w0;
        for (size_t t = 0; t < ntp; t += 2, wp += 32) {
            const int8_t *p0 = tp[t] + c, *p1 = tp[t + 1] + c;
            if (hv != 8) {
                memcpy(b0, p0, hv);
                memcpy(b1, p1, hv);
                p0 = b0;
                p1 = b1;
            }
            const __m128i x0 = ember_load8_s8(p0), x1 = ember_load8_s8(p1);
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(x0, x1),
                                                  _mm_loadu_si128((const __m128i *)(wp + 8 * h))));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(x0, x1),
                                                  _mm_loadu_si128((const __m128i *)(wp + 16 + 8 * h))));
        }
        const __m256i acc = _mm256_set_m128i(a1, a0);
        const __m256i r = simple ? ember_requant_avx2_x(acc, &q, zp, lo, hi, 0) : ember_requant_avx2(acc, &q, zp, lo, hi);
        __m128i pk = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        pk = _mm_packs_epi16(pk, pk);
        int8_t *o = out + px * channels + c;
        if (hv == 8) {
            _mm_storel_epi64((__m128i *)o, pk);
        } else {
            int8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, pk);
            memcpy(o, tmp, hv);
        }
    }
}

static void ember_dwconv_16c_avx2(size_t pixels, size_t channels, size_t ntp, const int8_t *const *taps,
                                  const void *w, int8_t *out, const ember_output_stage *os) {
    const size_t bb = ember_dw_block_bytes(16, ntp);
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 16, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        const size_t cv = channels - c0 < 16 ? channels - c0 : 16;
        if (cv < 16) {
            ember_dw_half(pixels, channels, cv < 8 ? cv : 8, taps, ntp, c0, hdr, 0, out, zp, lo, hi);
            if (cv > 8) ember_dw_half(pixels, channels, cv - 8, taps, ntp, c0 + 8, hdr, 1, out, zp, lo, hi);
            continue;
        }
        const __m256i bias0 = _mm256_loadu_si256((const __m256i *)hdr);
        const __m256i bias1 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
        const int16_t *w0 = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
        const ember_rq_avx2 q0 = ember_rq_load_avx2(hdr, 16, 0), q1 = ember_rq_load_avx2(hdr, 16, 8);
        const int simple = ember_rq_simple_avx2(&q0) && ember_rq_simple_avx2(&q1);
        for (size_t px = 0; px < pixels; ++px) {
            const int8_t *const *tp = taps + px * ntp;
            __m256i acc0 = bias0, acc1 = bias1;
            const int16_t *wp = w0;
            for (size_t t = 0; t < ntp; t += 2, wp += 32) {
                const __m256i x0 = ember_load16_s8(tp[t] + c0), x1 = ember_load16_s8(tp[t + 1] + c0);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1),
                                                                _mm256_loadu_si256((const __m256i *)wp)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1),
                                                                _mm256_loadu_si256((const __m256i *)(wp + 16))));
            }
            const __m256i r0 = simple ? ember_requant_avx2_x(acc0, &q0, zp, lo, hi, 0)
                                      : ember_requant_avx2(acc0, &q0, zp, lo, hi);
            const __m256i r1 = simple ? ember_requant_avx2_x(acc1, &q1, zp, lo, hi, 0)
                                      : ember_requant_avx2(acc1, &q1, zp, lo, hi);
            /* packs in-lane: [0-3 | 8-11] + [4-7 | 12-15] -> [0-7 | 8-15] */
            const __m256i pk = _mm256_packs_epi32(r0, r1);
            _mm_storeu_si128((__m128i *)(out + px * channels + c0),
                             _mm_packs_epi16(_mm256_castsi256_si128(pk), _mm256_extracti128_si256(pk, 1)));
        }
    }
}

const ember_dwconv_ukernel ember_dwconv_16c__avx2 = {16, 2, ember_dw16_lanes, ember_dwconv_16c_avx2};
