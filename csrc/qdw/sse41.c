/* Depthwise micro-kernel, 8 channels per block, taps in pairs (SSE4.1):
 * widened inputs of two taps interleaved (punpck{l,h}wd) and pmaddwd with
 * the interleaved weights; channels 0-3 / 4-7 land in natural order. */
#include <smmintrin.h>
#include <stddef.h>
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

/* ---- 3x3 rows (dilation_w 1), as in avx2.c: taps packed in ROW_PAIRS order
 * ((0,kx)/(1,kx) for kx = 0..2, (2,0)/(2,1), (2,2)/zero), each input column
 * loaded and widened once per output row and shared by the output pixels
 * that read it. Channels in blocks of 8 (multiples of 8 only). */

#if defined(__GNUC__)
#define EMBER_DW_INLINE static inline __attribute__((always_inline))
#else
#define EMBER_DW_INLINE static inline
#endif

/* 8 channels of input column x (row already offset to the block), or the
 * widened input zero point outside the image; checked = 0: known inside. */
EMBER_DW_INLINE __m128i ember_col8(const int8_t *row, ptrdiff_t x, ptrdiff_t in_w, size_t C, __m128i zpv,
                                   const int checked) {
    if (!checked || (row != NULL && x >= 0 && x < in_w)) return ember_load8_s8(row + (size_t)x * C);
    return zpv;
}

typedef struct {
    __m128i v0l, v0h, v1l, v1h, r2a, r2b;
} ember_dw_cols_sse41;

/* Fast exact requantization (the conditions and the rounding identity are
 * those of avx2.c: no left shift, multipliers in [2^30, 2^31), |bias| <=
 * 2^30 - 2^18, y = SRDHM(acc, m) + nr - [t < 0] with nr folded into the
 * 64-bit nudge). SSE4.1 has no per-lane shifts, so y >> r is the high half
 * of the unsigned product (y + 2^31) * 2^(32 - r), minus 2^(31 - r) (r = 0
 * lanes take y itself). Zero point and clamp after the saturating packs.
 * Per half h (lanes 4h..4h+3); 64-bit fields: even / odd lanes. */
typedef struct {
    __m128i m[2], m_odd[2], nudge_e[2], nudge_o[2], thr[2], k_e[2], k_o[2], sub[2], r0[2];
    __m128i zp16, lo8, hi8;
} ember_rq_fast_sse41;

/* 1 and *f filled when the block header allows the fast path. */
static int ember_rq_fast_sse41_init(const int32_t *hdr, const ember_output_stage *os, ember_rq_fast_sse41 *f) {
    int64_t nudge[8];
    uint32_t k[8];
    int32_t thr[8], sub[8], r0[8];
    for (int l = 0; l < 8; ++l) {
        const int32_t m = hdr[EMBER_QHDR_MULT * 8 + l], r = hdr[EMBER_QHDR_RSHIFT * 8 + l];
        const int32_t b = hdr[EMBER_QHDR_BIAS * 8 + l];
        if (hdr[EMBER_QHDR_LSHIFT * 8 + l] != 0 || m < (1 << 30) || b > (1 << 30) - (1 << 18) ||
            b < -((1 << 30) - (1 << 18)))
            return 0;
        const int64_t nr = r > 0 ? INT64_C(1) << (r - 1) : 0;
        nudge[l] = (INT64_C(1) << 30) + nr * (INT64_C(1) << 31);
        k[l] = r > 0 ? (uint32_t)(UINT64_C(1) << (32 - r)) : 0u;
        thr[l] = r == 0 ? INT32_MIN : (m == (1 << 30) ? -1 : 0);
        sub[l] = r > 0 ? (int32_t)(UINT32_C(1) << (31 - r)) : 0;
        r0[l] = r == 0 ? -1 : 0;
    }
    for (int h = 0; h < 2; ++h) {
        const int32_t *m = hdr + EMBER_QHDR_MULT * 8 + 4 * h;
        f->m[h] = _mm_loadu_si128((const __m128i *)m);
        f->m_odd[h] = _mm_srli_epi64(f->m[h], 32);
        f->nudge_e[h] = _mm_set_epi64x(nudge[4 * h + 2], nudge[4 * h]);
        f->nudge_o[h] = _mm_set_epi64x(nudge[4 * h + 3], nudge[4 * h + 1]);
        f->k_e[h] = _mm_set_epi64x((int64_t)k[4 * h + 2], (int64_t)k[4 * h]);
        f->k_o[h] = _mm_set_epi64x((int64_t)k[4 * h + 3], (int64_t)k[4 * h + 1]);
        f->thr[h] = _mm_loadu_si128((const __m128i *)(thr + 4 * h));
        f->sub[h] = _mm_loadu_si128((const __m128i *)(sub + 4 * h));
        f->r0[h] = _mm_loadu_si128((const __m128i *)(r0 + 4 * h));
    }
    f->zp16 = _mm_set1_epi16((int16_t)os->output_zero_point);
    f->lo8 = _mm_set1_epi8((int8_t)os->act_min);
    f->hi8 = _mm_set1_epi8((int8_t)os->act_max);
    return 1;
}

/* RoundingDivideByPOT(SRDHM(acc, m), r) of half h (before the zero point). */
EMBER_DW_INLINE __m128i ember_rq_fast_apply_sse41(__m128i acc, const ember_rq_fast_sse41 *f, int h) {
    const __m128i e = _mm_srli_epi64(_mm_add_epi64(_mm_mul_epi32(acc, f->m[h]), f->nudge_e[h]), 31);
    const __m128i o = _mm_slli_epi64(_mm_add_epi64(_mm_mul_epi32(_mm_srli_epi64(acc, 32), f->m_odd[h]), f->nudge_o[h]), 1);
    const __m128i y = _mm_add_epi32(_mm_blend_epi16(e, o, 0xCC), _mm_cmpgt_epi32(f->thr[h], acc));
    const __m128i yu = _mm_xor_si128(y, _mm_set1_epi32(INT32_MIN));
    const __m128i qe = _mm_srli_epi64(_mm_mul_epu32(yu, f->k_e[h]), 32);
    const __m128i qo = _mm_mul_epu32(_mm_srli_epi64(yu, 32), f->k_o[h]);
    const __m128i q = _mm_sub_epi32(_mm_blend_epi16(qe, qo, 0xCC), f->sub[h]);
    return _mm_blendv_epi8(q, y, f->r0[h]);
}

EMBER_DW_INLINE void ember_dw3x3_px8(ember_dw_cols_sse41 *s, const int8_t *const *r, ptrdiff_t X, ptrdiff_t in_w,
                                     size_t C, __m128i zpv, const int32_t *hdr, int8_t *o, __m128i zp, __m128i lo,
                                     __m128i hi, const ember_rq_fast_sse41 *f, const int S, const int fast,
                                     const int checked) {
    const __m128i *w = (const __m128i *)(const void *)(hdr + EMBER_QHDR_WORDS * 8);
    __m128i a, b;
    if (S == 2) {
        a = ember_col8(r[0], X + 1, in_w, C, zpv, checked);
        b = ember_col8(r[1], X + 1, in_w, C, zpv, checked);
        s->v1l = _mm_unpacklo_epi16(a, b);
        s->v1h = _mm_unpackhi_epi16(a, b);
        s->r2b = ember_col8(r[2], X + 1, in_w, C, zpv, checked);
    }
    a = ember_col8(r[0], X + 2, in_w, C, zpv, checked);
    b = ember_col8(r[1], X + 2, in_w, C, zpv, checked);
    const __m128i c = ember_col8(r[2], X + 2, in_w, C, zpv, checked);
    const __m128i v2l = _mm_unpacklo_epi16(a, b), v2h = _mm_unpackhi_epi16(a, b);
    const __m128i zero = _mm_setzero_si128();
#define W(p, h) _mm_loadu_si128(w + 2 * (p) + (h))
    __m128i acc0 = _mm_add_epi32(_mm_loadu_si128((const __m128i *)hdr), _mm_madd_epi16(s->v0l, W(0, 0)));
    __m128i acc1 = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(hdr + 4)), _mm_madd_epi16(s->v0h, W(0, 1)));
    __m128i t0 = _mm_madd_epi16(s->v1l, W(1, 0)), t1 = _mm_madd_epi16(s->v1h, W(1, 1));
    acc0 = _mm_add_epi32(acc0, _mm_madd_epi16(v2l, W(2, 0)));
    acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(v2h, W(2, 1)));
    t0 = _mm_add_epi32(t0, _mm_madd_epi16(_mm_unpacklo_epi16(s->r2a, s->r2b), W(3, 0)));
    t1 = _mm_add_epi32(t1, _mm_madd_epi16(_mm_unpackhi_epi16(s->r2a, s->r2b), W(3, 1)));
    acc0 = _mm_add_epi32(acc0, _mm_madd_epi16(_mm_unpacklo_epi16(c, zero), W(4, 0)));
    acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(_mm_unpackhi_epi16(c, zero), W(4, 1)));
#undef W
    acc0 = _mm_add_epi32(acc0, t0);
    acc1 = _mm_add_epi32(acc1, t1);
    if (fast) {
        const __m128i pk = _mm_adds_epi16(_mm_packs_epi32(ember_rq_fast_apply_sse41(acc0, f, 0), ember_rq_fast_apply_sse41(acc1, f, 1)),
                                          f->zp16);
        const __m128i v = _mm_packs_epi16(pk, pk);
        _mm_storel_epi64((__m128i *)o, _mm_min_epi8(_mm_max_epi8(v, f->lo8), f->hi8));
    } else {
        const __m128i r0 = ember_requant_sse41(acc0, hdr, 8, 0, zp, lo, hi);
        const __m128i r1 = ember_requant_sse41(acc1, hdr, 8, 4, zp, lo, hi);
        _mm_storel_epi64((__m128i *)o, ember_pack8_sse41(r0, r1));
    }
    if (S == 1) {
        s->v0l = s->v1l;
        s->v0h = s->v1h;
        s->v1l = v2l;
        s->v1h = v2h;
        s->r2a = s->r2b;
        s->r2b = c;
    } else {
        s->v0l = v2l;
        s->v0h = v2h;
        s->r2a = c;
    }
}

EMBER_DW_INLINE void ember_dw3x3_row8_sse41(size_t out_w, const int8_t *const *r, ptrdiff_t in_w,
                                            ptrdiff_t pad_left, size_t C, __m128i zpv, const int32_t *hdr,
                                            int8_t *out, __m128i zp, __m128i lo, __m128i hi,
                                            const ember_rq_fast_sse41 *f, const int S, const int fast) {
    const int rows_in = r[0] != NULL && r[1] != NULL && r[2] != NULL;
    ptrdiff_t X = -pad_left;
    ember_dw_cols_sse41 st, *s = &st;
    __m128i a = ember_col8(r[0], X, in_w, C, zpv, 1), b = ember_col8(r[1], X, in_w, C, zpv, 1);
    s->v0l = _mm_unpacklo_epi16(a, b);
    s->v0h = _mm_unpackhi_epi16(a, b);
    s->r2a = ember_col8(r[2], X, in_w, C, zpv, 1);
    s->v1l = s->v1h = s->r2b = s->r2a;
    if (S == 1) {
        a = ember_col8(r[0], X + 1, in_w, C, zpv, 1);
        b = ember_col8(r[1], X + 1, in_w, C, zpv, 1);
        s->v1l = _mm_unpacklo_epi16(a, b);
        s->v1h = _mm_unpackhi_epi16(a, b);
        s->r2b = ember_col8(r[2], X + 1, in_w, C, zpv, 1);
    }
    for (size_t px = 0; px < out_w; ++px, X += S) {
        if (rows_in && X >= 0 && X + 2 < in_w)
            ember_dw3x3_px8(s, r, X, in_w, C, zpv, hdr, out + px * C, zp, lo, hi, f, S, fast, 0);
        else
            ember_dw3x3_px8(s, r, X, in_w, C, zpv, hdr, out + px * C, zp, lo, hi, f, S, fast, 1);
    }
}

static int ember_dwconv_8c_row3x3_sse41(size_t nrows, size_t out_w, size_t channels, const int8_t *const *rows,
                                        int32_t in_w, int32_t pad_left, int32_t stride_w, int32_t input_zero_point,
                                        const void *w, int8_t *out, const ember_output_stage *os) {
    if (channels % 8 != 0 || (stride_w != 1 && stride_w != 2)) return 0;
    const size_t bb = ember_dw_block_bytes(8, 10);
    const __m128i zp = _mm_set1_epi32(os->output_zero_point);
    const __m128i lo = _mm_set1_epi32(os->act_min), hi = _mm_set1_epi32(os->act_max);
    const __m128i zpv = _mm_set1_epi16((int16_t)input_zero_point);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 8, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        ember_rq_fast_sse41 f;
        const int fast = ember_rq_fast_sse41_init(hdr, os, &f);
        for (size_t i = 0; i < nrows; ++i) {
            const int8_t *r[3];
            for (int k = 0; k < 3; ++k) r[k] = rows[3 * i + k] ? rows[3 * i + k] + c0 : NULL;
            int8_t *o = out + i * out_w * channels + c0;
#define EMBER_ROW8(S, F) ember_dw3x3_row8_sse41(out_w, r, in_w, pad_left, channels, zpv, hdr, o, zp, lo, hi, &f, S, F)
            if (stride_w == 1) {
                if (fast)
                    EMBER_ROW8(1, 1);
                else
                    EMBER_ROW8(1, 0);
            } else {
                if (fast)
                    EMBER_ROW8(2, 1);
                else
                    EMBER_ROW8(2, 0);
            }
#undef EMBER_ROW8
        }
    }
    return 1;
}

const ember_dwconv_ukernel ember_dwconv_8c__sse41 = {8,
                                                      2,
                                                      ember_dw8_lanes_sse41,
                                                      ember_dwconv_8c_sse41,
                                                      NULL,
                                                      EMBER_DW_TAPS_ROW_PAIRS,
                                                      ember_dwconv_8c_row3x3_sse41};
