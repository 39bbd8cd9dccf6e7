/* Naive int8 conv / depthwise conv / FC reference for the SIMD tests:
 * TFLite reference_integer_ops semantics written as plainly as possible,
 * int32 accumulation with wrap-around (as the int32 accumulator of every
 * kernel), ember_mbqm() for requantization. */
#ifndef EMBER_TEST_REF_CONV_H
#define EMBER_TEST_REF_CONV_H

#include <stdint.h>

#include "ember/qconv.h"
#include "ember/requant.h"

static inline int32_t ref_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

/* depthwise == 0: filter OHWI; depthwise == 1: filter [kh][kw][out_c]. */
static void ref_conv(const ember_conv_geom *g, int depthwise, const int8_t *in, const int8_t *w, const int32_t *bias,
                     const int32_t *mult, const int32_t *shift, int8_t *out) {
    const int32_t off = -g->input_zero_point;
    for (int b = 0; b < g->batch; ++b)
        for (int oy = 0; oy < g->out_h; ++oy)
            for (int ox = 0; ox < g->out_w; ++ox)
                for (int oc = 0; oc < g->out_c; ++oc) {
                    int32_t acc = 0;
                    const int ic_lo = depthwise ? oc / g->depth_multiplier : 0;
                    const int ic_hi = depthwise ? ic_lo + 1 : g->in_c;
                    for (int ky = 0; ky < g->kernel_h; ++ky)
                        for (int kx = 0; kx < g->kernel_w; ++kx) {
                            const int iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
                            const int ix = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
                            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) continue;
                            for (int ic = ic_lo; ic < ic_hi; ++ic) {
                                const int32_t x = in[((b * g->in_h + iy) * g->in_w + ix) * g->in_c + ic];
                                const int32_t f =
                                    depthwise ? w[(ky * g->kernel_w + kx) * g->out_c + oc]
                                              : w[((oc * g->kernel_h + ky) * g->kernel_w + kx) * g->in_c + ic];
                                acc = ref_wrap_add(acc, (x + off) * f);
                            }
                        }
                    if (bias) acc = ref_wrap_add(acc, bias[oc]);
                    acc = ember_mbqm(acc, mult[oc], shift[oc]);
                    acc = ref_wrap_add(acc, g->os.output_zero_point);
                    acc = ember_clamp_i32(acc, g->os.act_min, g->os.act_max);
                    out[((b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc] = (int8_t)acc;
                }
}

#endif
