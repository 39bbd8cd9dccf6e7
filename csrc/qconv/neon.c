/* qgemm micro-kernel 4x8 for NEON (aarch64 and armv7): 4 rows x 8 channels,
 * int16 A rows and pre-widened int16 weights [K][8]; vmlal_lane_s16
 * multiplies 4 channels by one A element into int32, exact. */
#include <arm_neon.h>
#include <string.h>

#include "cpu/requant_neon.h"
#include "ember/kernels.h"

static void ember_qgemm_load_a_neon(const int8_t *src, void *dst, size_t n) {
    int16_t *d = (int16_t *)dst;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vst1q_s16(d + i, vmovl_s8(vld1_s8(src + i)));
    for (; i < n; ++i) d[i] = src[i];
}

static void ember_qgemm_fill_a_neon(void *dst, int8_t v, size_t n) {
    int16_t *d = (int16_t *)dst;
    for (size_t i = 0; i < n; ++i) d[i] = v;
}

#define EMBER_MAC_LANE(L)                                                      \
    do {                                                                       \
        const int16x8_t wv = vld1q_s16(wp);                                    \
        wp += 8;                                                               \
        const int16x4_t wl = vget_low_s16(wv), wh = vget_high_s16(wv);         \
        c0l = vmlal_lane_s16(c0l, wl, a0v, L);                                 \
        c0h = vmlal_lane_s16(c0h, wh, a0v, L);                                 \
        c1l = vmlal_lane_s16(c1l, wl, a1v, L);                                 \
        c1h = vmlal_lane_s16(c1h, wh, a1v, L);                                 \
        c2l = vmlal_lane_s16(c2l, wl, a2v, L);                                 \
        c2h = vmlal_lane_s16(c2h, wh, a2v, L);                                 \
        c3l = vmlal_lane_s16(c3l, wl, a3v, L);                                 \
        c3h = vmlal_lane_s16(c3h, wh, a3v, L);                                 \
    } while (0)

static void ember_qgemm_4x8_neon(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                 const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int16_t *a0 = (const int16_t *)a;
    const int16_t *a1 = mr_valid > 1 ? (const int16_t *)((const uint8_t *)a + a_stride) : a0;
    const int16_t *a2 = mr_valid > 2 ? (const int16_t *)((const uint8_t *)a + 2 * a_stride) : a1;
    const int16_t *a3 = mr_valid > 3 ? (const int16_t *)((const uint8_t *)a + 3 * a_stride) : a2;
    const int32_t *hdr = (const int32_t *)w;
    int32x4_t c0l = vld1q_s32(hdr), c0h = vld1q_s32(hdr + 4);
    int32x4_t c1l = c0l, c1h = c0h, c2l = c0l, c2h = c0h, c3l = c0l, c3h = c0h;
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 8);
    for (size_t k = 0; k < kp; k += 4) {
        const int16x4_t a0v = vld1_s16(a0 + k), a1v = vld1_s16(a1 + k);
        const int16x4_t a2v = vld1_s16(a2 + k), a3v = vld1_s16(a3 + k);
        EMBER_MAC_LANE(0);
        EMBER_MAC_LANE(1);
        EMBER_MAC_LANE(2);
        EMBER_MAC_LANE(3);
    }
    const int32x4_t ml = vld1q_s32(hdr + 8), mh = vld1q_s32(hdr + 12);
    const int32x4_t ll = vld1q_s32(hdr + 16), lh = vld1q_s32(hdr + 20);
    const int32x4_t rl = vld1q_s32(hdr + 24), rh = vld1q_s32(hdr + 28);
    const int32x4_t zp = vdupq_n_s32(os->output_zero_point);
    const int32x4_t lo = vdupq_n_s32(os->act_min), hi = vdupq_n_s32(os->act_max);
#define EMBER_ROW(i, xl, xh)                                                                                   \
    if (mr_valid > i)                                                                                          \
        ember_store8_neon(out + (size_t)(i) * out_stride,                                                      \
                          ember_narrow8_neon(ember_requant_neon(xl, ml, ll, rl, zp, lo, hi),                   \
                                             ember_requant_neon(xh, mh, lh, rh, zp, lo, hi)),                  \
                          nr_valid);
    EMBER_ROW(0, c0l, c0h)
    EMBER_ROW(1, c1l, c1h)
    EMBER_ROW(2, c2l, c2h)
    EMBER_ROW(3, c3l, c3h)
#undef EMBER_ROW
}

const ember_qgemm_ukernel ember_qgemm_4x8__neon = {
    4, 8, 1, 4, 2, 2, ember_qgemm_load_a_neon, ember_qgemm_fill_a_neon, ember_qgemm_4x8_neon,
};
