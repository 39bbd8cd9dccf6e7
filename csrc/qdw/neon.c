/* Depthwise micro-kernel, 8 channels per block, one tap at a time (NEON,
 * aarch64 and armv7): widened input times int16 weights, vmlal_s16 into
 * int32, natural channel order. */
#include <arm_neon.h>
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

const ember_dwconv_ukernel ember_dwconv_8c__neon = {8, 1, ember_dw8_lanes, ember_dwconv_8c_neon, NULL,
                                                     EMBER_DW_TAPS_NATURAL, NULL};
