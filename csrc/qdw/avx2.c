/* Depthwise micro-kernel, 16 channels per block, taps in pairs (AVX2).
 * Two taps' inputs are widened and interleaved (vpunpck{l,h}wd) so one
 * vpmaddwd adds x_t*w_t + x_u*w_u per channel exactly in int32. The
 * interleave puts channels {0-3,8-11} in one accumulator and {4-7,12-15}
 * in the other; the packed weights/header use that lane order, and
 * vpackssdw of the two restores natural order. Blocks with fewer than 16
 * channels run as two 8-channel halves with 128-bit loads (a half with
 * fewer than 8 channels reads through a small buffer). 3x3 layers with
 * dilation_w 1 run the whole-row kernel of avx2_row3x3.c instead (taps
 * packed in ROW_PAIRS order; these paths read that order from the engine's
 * tap lists and offsets). */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "qdw/avx2_common.h"

/* Where a pixel's taps are: a pointer list, or base + p * step + off[t]. */
typedef struct {
    const int8_t *const *taps;
    const int8_t *base;
    size_t step;
    const ptrdiff_t *off;
} ember_dw_src;

static inline const int8_t *ember_tap(const ember_dw_src *s, size_t ntp, size_t px, size_t t) {
    return s->taps ? s->taps[px * ntp + t] : s->base + px * s->step + s->off[t];
}

static const uint8_t ember_dw16_lanes[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};


static inline __m128i ember_load8_s8(const int8_t *p) { return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)); }

/* Header field of half h (channels 8h..8h+7): lanes 4h..4h+3 and 8+4h..8+4h+3. */
static inline __m256i ember_half_field(const int32_t *hdr, int field, int h) {
    const int32_t *f = hdr + field * 16;
    return _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(f + 8 + 4 * h)),
                            _mm_loadu_si128((const __m128i *)(f + 4 * h)));
}



/* Two 8-byte loads (pixels p and p+1) widened into one ymm. */
static inline __m256i ember_load8x2_s8(const int8_t *p0, const int8_t *p1) {
    const __m128i lo = _mm_loadl_epi64((const __m128i *)p0);
    return _mm256_cvtepi8_epi16(_mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(lo), (const double *)(const void *)p1)));
}

/* A full half (8 channels [c, c+8), half h) for pixel pairs: pixel p in the low
 * 128 bits, pixel p+1 in the high ones, so every vpmaddwd is 256 bits wide
 * (8-channel depthwise layers would otherwise run at half width). Returns the
 * number of pixels done (even). */
static inline size_t ember_dw_half_pairs_x(size_t pixels, size_t channels, const ember_dw_src *src, size_t ntp,
                                           size_t c, const int32_t *hdr, int h, int8_t *out, __m256i zp, __m256i lo,
                                           __m256i hi, const int contig) {
    const __m256i bias0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(hdr + 4 * h)));
    const __m256i bias1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(hdr + 8 + 4 * h)));
    const int16_t *w0 = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    const ember_rq_avx2 q0 = ember_rq_x2(hdr, 4 * h), q1 = ember_rq_x2(hdr, 8 + 4 * h);
    const int simple = ember_rq_simple_avx2(&q0) && ember_rq_simple_avx2(&q1);
    size_t px = 0;
    for (; px + 2 <= pixels; px += 2) {
        __m256i a0 = bias0, a1 = bias1;
        const int16_t *wp = w0;
        for (size_t t = 0; t < ntp; t += 2, wp += 32) {
            /* contig: pixel p+1's taps are 8 bytes after pixel p's (8-channel
             * stride-1 rows read through offsets): one 16-byte load */
            const __m256i x0 = contig ? ember_load16_s8(src->base + px * 8 + (size_t)src->off[t])
                                      : ember_load8x2_s8(ember_tap(src, ntp, px, t) + c, ember_tap(src, ntp, px + 1, t) + c);
            const __m256i x1 =
                contig ? ember_load16_s8(src->base + px * 8 + (size_t)src->off[t + 1])
                       : ember_load8x2_s8(ember_tap(src, ntp, px, t + 1) + c, ember_tap(src, ntp, px + 1, t + 1) + c);
            const __m256i wl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(wp + 8 * h)));
            const __m256i wh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(wp + 16 + 8 * h)));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), wl));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), wh));
        }
        const __m256i r0 = simple ? ember_requant_avx2_x(a0, &q0, zp, lo, hi, 0) : ember_requant_avx2(a0, &q0, zp, lo, hi);
        const __m256i r1 = simple ? ember_requant_avx2_x(a1, &q1, zp, lo, hi, 0) : ember_requant_avx2(a1, &q1, zp, lo, hi);
        /* in-lane packs: [p ch0-3, p ch4-7 | p+1 ch0-3, p+1 ch4-7] */
        const __m256i pk = _mm256_packs_epi32(r0, r1);
        const __m128i v = _mm_packs_epi16(_mm256_castsi256_si128(pk), _mm256_extracti128_si256(pk, 1));
        _mm_storel_epi64((__m128i *)(out + px * channels + c), v);
        _mm_storeh_pd((double *)(void *)(out + (px + 1) * channels + c), _mm_castsi128_pd(v));
    }
    return px;
}

static size_t ember_dw_half_pairs(size_t pixels, size_t channels, const ember_dw_src *src, size_t ntp, size_t c,
                                  const int32_t *hdr, int h, int8_t *out, __m256i zp, __m256i lo, __m256i hi) {
    if (!src->taps && src->step == 8 && c == 0)
        return ember_dw_half_pairs_x(pixels, channels, src, ntp, 0, hdr, h, out, zp, lo, hi, 1);
    return ember_dw_half_pairs_x(pixels, channels, src, ntp, c, hdr, h, out, zp, lo, hi, 0);
}

/* Channels [c, c + hv) (hv <= 8) = half h of a block, for every pixel. */
static void ember_dw_half(size_t pixels, size_t channels, size_t hv, const ember_dw_src *src, size_t ntp, size_t c,
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
    const size_t first = hv == 8 ? ember_dw_half_pairs(pixels, channels, src, ntp, c, hdr, h, out, zp, lo, hi) : 0;
    for (size_t px = first; px < pixels; ++px) {
        __m128i a0 = bias0, a1 = bias1;
        const int16_t *wp = w0;
        for (size_t t = 0; t < ntp; t += 2, wp += 32) {
            const int8_t *p0 = ember_tap(src, ntp, px, t) + c, *p1 = ember_tap(src, ntp, px, t + 1) + c;
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

static inline void ember_dwconv_16c_body(size_t pixels, size_t channels, size_t ntp, const ember_dw_src *src,
                                         const void *w, int8_t *out, const ember_output_stage *os) {
    const size_t bb = ember_dw_block_bytes(16, ntp);
    const __m256i zp = _mm256_set1_epi32(os->output_zero_point);
    const __m256i lo = _mm256_set1_epi32(os->act_min), hi = _mm256_set1_epi32(os->act_max);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 16, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        const size_t cv = channels - c0 < 16 ? channels - c0 : 16;
        if (cv < 16) {
            ember_dw_half(pixels, channels, cv < 8 ? cv : 8, src, ntp, c0, hdr, 0, out, zp, lo, hi);
            if (cv > 8) ember_dw_half(pixels, channels, cv - 8, src, ntp, c0 + 8, hdr, 1, out, zp, lo, hi);
            continue;
        }
        const __m256i bias0 = _mm256_loadu_si256((const __m256i *)hdr);
        const __m256i bias1 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
        const int16_t *w0 = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
        const ember_rq_avx2 q0 = ember_rq_load_avx2(hdr, 16, 0), q1 = ember_rq_load_avx2(hdr, 16, 8);
        const int simple = ember_rq_simple_avx2(&q0) && ember_rq_simple_avx2(&q1);
        for (size_t px = 0; px < pixels; ++px) {
            __m256i acc0 = bias0, acc1 = bias1;
            const int16_t *wp = w0;
            for (size_t t = 0; t < ntp; t += 2, wp += 32) {
                const __m256i x0 = ember_load16_s8(ember_tap(src, ntp, px, t) + c0);
                const __m256i x1 = ember_load16_s8(ember_tap(src, ntp, px, t + 1) + c0);
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

static void ember_dwconv_16c_avx2(size_t pixels, size_t channels, size_t ntp, const int8_t *const *taps,
                                  const void *w, int8_t *out, const ember_output_stage *os) {
    const ember_dw_src src = {taps, NULL, 0, NULL};
    ember_dwconv_16c_body(pixels, channels, ntp, &src, w, out, os);
}

static void ember_dwconv_16c_offsets_avx2(size_t pixels, size_t channels, size_t ntp, const int8_t *base,
                                          size_t step, const ptrdiff_t *off, const void *w, int8_t *out,
                                          const ember_output_stage *os) {
    const ember_dw_src src = {NULL, base, step, off};
    ember_dwconv_16c_body(pixels, channels, ntp, &src, w, out, os);
}

const ember_dwconv_ukernel ember_dwconv_16c__avx2 = {16,
                                                     2,
                                                     ember_dw16_lanes,
                                                     ember_dwconv_16c_avx2,
                                                     ember_dwconv_16c_offsets_avx2,
                                                     EMBER_DW_TAPS_ROW_PAIRS,
                                                     ember_dwconv_16c_row3x3_avx2};
