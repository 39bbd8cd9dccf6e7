/* qgemm micro-kernel 4x8c4 for Armv8.2 dot product (SDOT, aarch64): int8 A
 * rows and int8 weights packed [K/4][8][4]; vdotq_laneq_s32 adds 4 products
 * per channel lane exactly in int32, 16 k per A load. */
#include <arm_neon.h>
#include <string.h>

#include "cpu/requant_neon.h"
#include "ember/kernels.h"

static void ember_qgemm_load_a_neondot(const int8_t *src, void *dst, size_t n) { memcpy(dst, src, n); }

static void ember_qgemm_fill_a_neondot(void *dst, int8_t v, size_t n) { memset(dst, (unsigned char)v, n); }

#define EMBER_DOT_LANE(L)                                                      \
    do {                                                                       \
        const int8x16_t wl = vld1q_s8(wp), wh = vld1q_s8(wp + 16);             \
        wp += 32;                                                              \
        c0l = vdotq_laneq_s32(c0l, wl, a0v, L);                                \
        c0h = vdotq_laneq_s32(c0h, wh, a0v, L);                                \
        c1l = vdotq_laneq_s32(c1l, wl, a1v, L);                                \
        c1h = vdotq_laneq_s32(c1h, wh, a1v, L);                                \
        c2l = vdotq_laneq_s32(c2l, wl, a2v, L);                                \
        c2h = vdotq_laneq_s32(c2h, wh, a2v, L);                                \
        c3l = vdotq_laneq_s32(c3l, wl, a3v, L);                                \
        c3h = vdotq_laneq_s32(c3h, wh, a3v, L);                                \
    } while (0)

static void ember_qgemm_4x8c4_neondot(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride,
                                      const void *w, int8_t *out, size_t out_stride, const ember_output_stage *os) {
    const int8_t *a0 = (const int8_t *)a;
    const int8_t *a1 = mr_valid > 1 ? (const int8_t *)a + a_stride : a0;
    const int8_t *a2 = mr_valid > 2 ? (const int8_t *)a + 2 * a_stride : a1;
    const int8_t *a3 = mr_valid > 3 ? (const int8_t *)a + 3 * a_stride : a2;
    const int32_t *hdr = (const int32_t *)w;
    int32x4_t c0l = vld1q_s32(hdr), c0h = vld1q_s32(hdr + 4);
    int32x4_t c1l = c0l, c1h = c0h, c2l = c0l, c2h = c0h, c3l = c0l, c3h = c0h;
    const int8_t *wp = (const int8_t *)(hdr + EMBER_QHDR_WORDS * 8);
    for (size_t k = 0; k < kp; k += 16) {
        const int8x16_t a0v = vld1q_s8(a0 + k), a1v = vld1q_s8(a1 + k);
        const int8x16_t a2v = vld1q_s8(a2 + k), a3v = vld1q_s8(a3 + k);
        EMBER_DOT_LANE(0);
        EMBER_DOT_LANE(1);
        EMBER_DOT_LANE(2);
        EMBER_DOT_LANE(3);
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

const ember_qgemm_ukernel ember_qgemm_4x8c4__neondot = {
    4, 8, 4, 16, 1, 1, ember_qgemm_load_a_neondot, ember_qgemm_fill_a_neondot, ember_qgemm_4x8c4_neondot,
};
