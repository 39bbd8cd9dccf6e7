/* Depthwise micro-kernel, 8 channels per block, one tap at a time (NEON,
 * aarch64 and armv7): widened input times int16 weights, vmlal_s16 into
 * int32, natural channel order. */
#include <arm_neon.h>
#include <stddef.h>
#include <string.h>

#include "cpu/requant_neon.h"
#include "ember/kernels.h"

static const uint8_t ember_dw8_lanes[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static void ember_dwconv_8c_neon(size_t pixels, size_t channels, size_t ntp, const int8_t *const *taps,
                                 const void *w, int8_t *out, const ember_output_stage *os) {
    const size_t bb = ember_dw_block_bytes(8, ntp);
    const int32x4_t zp = vdupq_n_s32(os->output_zero_point);
    const int32x4_t lo = vdupq_n_s32(os->act_min), hi = vdupq_n_s32(os->act_max);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 8, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        const int32x4_t bl = vld1q_s32(hdr), bh = vld1q_s32(hdr + 4);
        const int32x4_t ml = vld1q_s32(hdr + 8), mh = vld1q_s32(hdr + 12);
        const int32x4_t ll = vld1q_s32(hdr + 16), lh = vld1q_s32(hdr + 20);
        const int32x4_t rl = vld1q_s32(hdr + 24), rh = vld1q_s32(hdr + 28);
        const int16_t *w0 = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 8);
        const size_t cv = channels - c0 < 8 ? channels - c0 : 8;
        int8_t buf[8] = {0};
        for (size_t px = 0; px < pixels; ++px) {
            const int8_t *const *tp = taps + px * ntp;
            int32x4_t al = bl, ah = bh;
            const int16_t *wp = w0;
            for (size_t t = 0; t < ntp; ++t, wp += 8) {
                const int8_t *src = tp[t] + c0;
                if (cv != 8) {
                    memcpy(buf, src, cv);
                    src = buf;
                }
                const int16x8_t x = vmovl_s8(vld1_s8(src));
                const int16x8_t wv = vld1q_s16(wp);
                al = vmlal_s16(al, vget_low_s16(x), vget_low_s16(wv));
                ah = vmlal_s16(ah, vget_high_s16(x), vget_high_s16(wv));
            }
            ember_store8_neon(out + px * channels + c0,
                              ember_narrow8_neon(ember_requant_neon(al, ml, ll, rl, zp, lo, hi),
                                                 ember_requant_neon(ah, mh, lh, rh, zp, lo, hi)),
                              (int)cv);
        }
    }
}

/* ---- 3x3 rows (dilation_w 1): each input column of the three rows is
 * loaded and widened once per output row and used by every output pixel
 * that reads it (three at stride 1) instead of once per tap; padding
 * columns/rows are the widened input zero point. Blocks of 8 channels. */

#if defined(__GNUC__)
#define EMBER_DW_INLINE static inline __attribute__((always_inline))
#else
#define EMBER_DW_INLINE static inline
#endif

EMBER_DW_INLINE int16x8_t ember_col8_neon(const int8_t *row, ptrdiff_t x, ptrdiff_t in_w, size_t C, int16x8_t zpv,
                                          const int checked) {
    if (!checked || (row != NULL && x >= 0 && x < in_w)) return vmovl_s8(vld1_s8(row + (size_t)x * C));
    return zpv;
}

typedef struct {
    int32x4_t bl, bh, ml, mh, ll, lh, rl, rh, zp, lo, hi;
    int16x8_t w[9];
} ember_dw_blk_neon;

/* Output pixel of columns X..X+2: col[ky][k] holds row ky at column X + k. */
EMBER_DW_INLINE void ember_dw3x3_px8_neon(int16x8_t col[3][3], const ember_dw_blk_neon *b, int8_t *o) {
    int32x4_t al = b->bl, ah = b->bh;
    for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
            const int16x8_t x = col[ky][kx], w = b->w[ky * 3 + kx];
            al = vmlal_s16(al, vget_low_s16(x), vget_low_s16(w));
            ah = vmlal_s16(ah, vget_high_s16(x), vget_high_s16(w));
        }
    vst1_s8(o, ember_narrow8_neon(ember_requant_neon(al, b->ml, b->ll, b->rl, b->zp, b->lo, b->hi),
                                  ember_requant_neon(ah, b->mh, b->lh, b->rh, b->zp, b->lo, b->hi)));
}

EMBER_DW_INLINE void ember_dw3x3_step_neon(int16x8_t col[3][3], const int8_t *const *r, ptrdiff_t X, ptrdiff_t in_w,
                                           size_t C, int16x8_t zpv, const ember_dw_blk_neon *b, int8_t *o,
                                           const int S, const int checked) {
    for (int ky = 0; ky < 3; ++ky) {
        if (S == 2) col[ky][1] = ember_col8_neon(r[ky], X + 1, in_w, C, zpv, checked);
        col[ky][2] = ember_col8_neon(r[ky], X + 2, in_w, C, zpv, checked);
    }
    ember_dw3x3_px8_neon(col, b, o);
    for (int ky = 0; ky < 3; ++ky) {
        if (S == 1) {
            col[ky][0] = col[ky][1];
            col[ky][1] = col[ky][2];
        } else {
            col[ky][0] = col[ky][2];
        }
    }
}

EMBER_DW_INLINE void ember_dw3x3_row8_neon(size_t out_w, const int8_t *const *r, ptrdiff_t in_w, ptrdiff_t pad_left,
                                           size_t C, int16x8_t zpv, const ember_dw_blk_neon *b, int8_t *out,
                                           const int S) {
    const int rows_in = r[0] != NULL && r[1] != NULL && r[2] != NULL;
    ptrdiff_t X = -pad_left;
    int16x8_t col[3][3];
    for (int ky = 0; ky < 3; ++ky) {
        col[ky][0] = ember_col8_neon(r[ky], X, in_w, C, zpv, 1);
        col[ky][1] = S == 1 ? ember_col8_neon(r[ky], X + 1, in_w, C, zpv, 1) : zpv;
        col[ky][2] = zpv;
    }
    for (size_t px = 0; px < out_w; ++px, X += S) {
        if (rows_in && X >= 0 && X + 2 < in_w)
            ember_dw3x3_step_neon(col, r, X, in_w, C, zpv, b, out + px * C, S, 0);
        else
            ember_dw3x3_step_neon(col, r, X, in_w, C, zpv, b, out + px * C, S, 1);
    }
}

static int ember_dwconv_8c_row3x3_neon(size_t nrows, size_t out_w, size_t channels, const int8_t *const *rows,
                                       int32_t in_w, int32_t pad_left, int32_t stride_w, int32_t input_zero_point,
                                       const void *w, int8_t *out, const ember_output_stage *os) {
    if (channels % 8 != 0 || (stride_w != 1 && stride_w != 2)) return 0;
    const size_t bb = ember_dw_block_bytes(8, 9);
    const int16x8_t zpv = vdupq_n_s16((int16_t)input_zero_point);
    ember_dw_blk_neon b;
    b.zp = vdupq_n_s32(os->output_zero_point);
    b.lo = vdupq_n_s32(os->act_min);
    b.hi = vdupq_n_s32(os->act_max);
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 8, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        b.bl = vld1q_s32(hdr);
        b.bh = vld1q_s32(hdr + 4);
        b.ml = vld1q_s32(hdr + 8);
        b.mh = vld1q_s32(hdr + 12);
        b.ll = vld1q_s32(hdr + 16);
        b.lh = vld1q_s32(hdr + 20);
        b.rl = vld1q_s32(hdr + 24);
        b.rh = vld1q_s32(hdr + 28);
        const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 8);
        for (int t = 0; t < 9; ++t) b.w[t] = vld1q_s16(wp + 8 * t);
        for (size_t i = 0; i < nrows; ++i) {
            const int8_t *r[3];
            for (int k = 0; k < 3; ++k) r[k] = rows[3 * i + k] ? rows[3 * i + k] + c0 : NULL;
            int8_t *o = out + i * out_w * channels + c0;
            if (stride_w == 1)
                ember_dw3x3_row8_neon(out_w, r, in_w, pad_left, channels, zpv, &b, o, 1);
            else
                ember_dw3x3_row8_neon(out_w, r, in_w, pad_left, channels, zpv, &b, o, 2);
        }
    }
    return 1;
}

const ember_dwconv_ukernel ember_dwconv_8c__neon = {8,
                                                     1,
                                                     ember_dw8_lanes,
                                                     ember_dwconv_8c_neon,
                                                     NULL,
                                                     EMBER_DW_TAPS_NATURAL,
                                                     ember_dwconv_8c_row3x3_neon};
