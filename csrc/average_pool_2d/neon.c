/* Average pool micro-kernel, 16 channels per step (NEON, aarch64 and
 * armv7): taps summed in int16 with vaddw_s8 (flushed into int32 every 256
 * taps), the exact multiply-and-shift division (nn_common/pool_div.h) with
 * vmull_u32, saturating narrows, int8 clamp. Then 8-channel steps, then the
 * reference formula. */
#include <arm_neon.h>

#include "ember/kernels.h"
#include "nn_common/pool_div.h"

typedef struct {
    uint32x2_t magic;
    int64x2_t nshift; /* minus the shift: vshlq_u64 shifts right */
    uint32x4_t half;
} ember_div_neon;

/* sign(sum) * ((|sum| + n/2) * magic >> shift). */
static inline int32x4_t ember_pool_div_neon(int32x4_t sum, const ember_div_neon *d) {
    const uint32x4_t u = vaddq_u32(vreinterpretq_u32_s32(vabsq_s32(sum)), d->half);
    const uint64x2_t ql = vshlq_u64(vmull_u32(vget_low_u32(u), d->magic), d->nshift);
    const uint64x2_t qh = vshlq_u64(vmull_u32(vget_high_u32(u), d->magic), d->nshift);
    const int32x4_t q = vreinterpretq_s32_u32(vcombine_u32(vmovn_u64(ql), vmovn_u64(qh)));
    const int32x4_t s = vshrq_n_s32(sum, 31);
    return vsubq_s32(veorq_s32(q, s), s);
}

static inline int8x8_t ember_narrow8_s8(int32x4_t a, int32x4_t b) {
    return vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
}

/* One output pixel, all channels. */
static inline void ember_avgpool_pixel_neon(const int8_t *x, size_t kh, size_t kw, size_t row_stride,
                                            size_t channels, int8_t *out, const ember_div_neon *d, int8x16_t lo,
                                            int8x16_t hi, const ember_pool_stage *st) {
    size_t c = 0;
    for (; c + 16 <= channels; c += 16) {
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        int16x8_t s0 = vdupq_n_s16(0), s1 = s0;
        size_t t = 0;
        for (size_t i = 0; i < kh; ++i) {
            const int8_t *px = x + i * row_stride + c;
            for (size_t j = 0; j < kw; ++j, px += channels) {
                const int8x16_t v = vld1q_s8(px);
                s0 = vaddw_s8(s0, vget_low_s8(v));
                s1 = vaddw_s8(s1, vget_high_s8(v));
                if (++t == 256) {
                    a0 = vaddw_s16(a0, vget_low_s16(s0));
                    a1 = vaddw_s16(a1, vget_high_s16(s0));
                    a2 = vaddw_s16(a2, vget_low_s16(s1));
                    a3 = vaddw_s16(a3, vget_high_s16(s1));
                    s0 = s1 = vdupq_n_s16(0);
                    t = 0;
                }
            }
        }
        a0 = ember_pool_div_neon(vaddw_s16(a0, vget_low_s16(s0)), d);
        a1 = ember_pool_div_neon(vaddw_s16(a1, vget_high_s16(s0)), d);
        a2 = ember_pool_div_neon(vaddw_s16(a2, vget_low_s16(s1)), d);
        a3 = ember_pool_div_neon(vaddw_s16(a3, vget_high_s16(s1)), d);
        const int8x16_t v = vcombine_s8(ember_narrow8_s8(a0, a1), ember_narrow8_s8(a2, a3));
        vst1q_s8(out + c, vminq_s8(vmaxq_s8(v, lo), hi));
    }
    for (; c + 8 <= channels; c += 8) {
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
        for (size_t i = 0; i < kh; ++i) {
            const int8_t *px = x + i * row_stride + c;
            for (size_t j = 0; j < kw; ++j, px += channels) {
                const int16x8_t v = vmovl_s8(vld1_s8(px));
                a0 = vaddw_s16(a0, vget_low_s16(v));
                a1 = vaddw_s16(a1, vget_high_s16(v));
            }
        }
        const int8x8_t v = ember_narrow8_s8(ember_pool_div_neon(a0, d), ember_pool_div_neon(a1, d));
        vst1_s8(out + c, vmin_s8(vmax_s8(v, vget_low_s8(lo)), vget_low_s8(hi)));
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        for (size_t i = 0; i < kh; ++i)
            for (size_t j = 0; j < kw; ++j) sum += x[i * row_stride + j * channels + c];
        const int32_t avg = ember_pool_avg_round(sum, (int32_t)(kh * kw));
        out[c] = (int8_t)(avg < st->act_min ? st->act_min : (avg > st->act_max ? st->act_max : avg));
    }
}

static void ember_avgpool_16c_neon(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw,
                                   size_t row_stride, size_t channels, int8_t *out, const ember_pool_stage *st) {
    ember_div_neon d;
    d.magic = vdup_n_u32(st->div_magic);
    d.nshift = vdupq_n_s64(-(int64_t)st->div_shift);
    d.half = vdupq_n_u32((uint32_t)st->div_half);
    const int8x16_t lo = vdupq_n_s8((int8_t)st->act_min), hi = vdupq_n_s8((int8_t)st->act_max);
    for (size_t p = 0; p < pixels; ++p, x += pixel_step, out += channels)
        ember_avgpool_pixel_neon(x, kh, kw, row_stride, channels, out, &d, lo, hi, st);
}

const ember_pool_ukernel ember_avgpool_16c__neon = {ember_avgpool_16c_neon};
