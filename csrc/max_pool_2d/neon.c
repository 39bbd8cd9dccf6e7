/* Max pool micro-kernel, 16 channels per step (NEON, aarch64 and armv7):
 * vmaxq_s8 over the window's taps, then the int8 clamp; an 8-channel step,
 * then the last channels one by one. */
#include <arm_neon.h>

#include "ember/kernels.h"

static void ember_maxpool_16c_neon(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw,
                                   size_t row_stride, size_t channels, int8_t *out, const ember_pool_stage *st) {
    const int8x16_t lo = vdupq_n_s8((int8_t)st->act_min), hi = vdupq_n_s8((int8_t)st->act_max);
    for (size_t p = 0; p < pixels; ++p, x += pixel_step, out += channels) {
        size_t c = 0;
        for (; c + 16 <= channels; c += 16) {
            int8x16_t m = vdupq_n_s8(-128);
            for (size_t i = 0; i < kh; ++i) {
                const int8_t *px = x + i * row_stride + c;
                for (size_t j = 0; j < kw; ++j, px += channels) m = vmaxq_s8(m, vld1q_s8(px));
            }
            vst1q_s8(out + c, vminq_s8(vmaxq_s8(m, lo), hi));
        }
        if (c + 8 <= channels) {
            int8x8_t m = vdup_n_s8(-128);
            for (size_t i = 0; i < kh; ++i) {
                const int8_t *px = x + i * row_stride + c;
                for (size_t j = 0; j < kw; ++j, px += channels) m = vmax_s8(m, vld1_s8(px));
            }
            vst1_s8(out + c, vmin_s8(vmax_s8(m, vget_low_s8(lo)), vget_low_s8(hi)));
            c += 8;
        }
        for (; c < channels; ++c) {
            int32_t m = -128;
            for (size_t i = 0; i < kh; ++i)
                for (size_t j = 0; j < kw; ++j) {
                    const int32_t v = x[i * row_stride + j * channels + c];
                    if (v > m) m = v;
                }
            out[c] = (int8_t)(m < st->act_min ? st->act_min : (m > st->act_max ? st->act_max : m));
        }
    }
}

const ember_pool_ukernel ember_maxpool_16c__neon = {ember_maxpool_16c_neon};
