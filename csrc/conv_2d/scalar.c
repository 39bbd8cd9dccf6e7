/* CONV_2D int8 scalar reference (see ember/ops/conv_2d.h). */
#include "ember/ops/conv_2d.h"

#include "ember/requant.h"
#include "nn_common/conv_check.h"
#include "nn_common/wrap.h"

ember_status ember_conv_2d_s8_check(const ember_conv_2d_params *p, const ember_nhwc *in,
                                    const ember_nhwc *filter, const ember_nhwc *out,
                                    int32_t row_start, int32_t row_end) {
    if (!p || !in || !filter || !out) return EMBER_ERR_ARG;
    ember_status st = ember_conv_check_common(in, filter, out, EMBER_CONV_WINDOW(*p), row_start, row_end);
    if (st != EMBER_OK) return st;
    if (out->c != filter->n) return EMBER_ERR_ARG;
    if (in->c % filter->c != 0) return EMBER_ERR_ARG;
    const int32_t groups = in->c / filter->c;
    if (out->c % groups != 0) return EMBER_ERR_ARG;
    return EMBER_OK;
}

size_t ember_conv_2d_s8_scratch_size(const ember_conv_2d_params *p, const ember_nhwc *in,
                                     const ember_nhwc *filter, const ember_nhwc *out) {
    (void)p; (void)in; (void)filter; (void)out;
    return 0;
}

ember_status ember_conv_2d_s8_scalar(const ember_conv_2d_params *p,
                                     const ember_nhwc *in, const int8_t *input,
                                     const ember_nhwc *filter, const int8_t *filter_data,
                                     const int32_t *bias,
                                     const int32_t *mult, const int32_t *shift,
                                     const ember_nhwc *out, int8_t *output,
                                     int32_t row_start, int32_t row_end, void *scratch) {
    (void)scratch;
    ember_status st = ember_conv_2d_s8_check(p, in, filter, out, row_start, row_end);
    if (st != EMBER_OK) return st;
    if (!input || !filter_data || !mult || !shift || !output) return EMBER_ERR_ARG;

    const int32_t fc = filter->c;
    const int32_t groups = in->c / fc;
    const int32_t oc_per_group = out->c / groups;
    const int32_t input_offset = p->input_offset;

    for (int32_t r = row_start; r < row_end; ++r) {
        const int32_t b = r / out->h;
        const int32_t y = r % out->h;
        const int32_t in_y0 = y * p->stride_h - p->pad_h;
        const int8_t *in_b = input + (size_t)b * in->h * in->w * in->c;
        int8_t *out_row = output + ((size_t)b * out->h + y) * out->w * out->c;
        for (int32_t x = 0; x < out->w; ++x) {
            const int32_t in_x0 = x * p->stride_w - p->pad_w;
            for (int32_t oc = 0; oc < out->c; ++oc) {
                const int32_t g = oc / oc_per_group;
                const int8_t *w_oc = filter_data + (size_t)oc * filter->h * filter->w * fc;
                int32_t acc = 0;
                for (int32_t ky = 0; ky < filter->h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= in->h) continue;
                    for (int32_t kx = 0; kx < filter->w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        if (ix < 0 || ix >= in->w) continue;
                        const int8_t *px = in_b + ((size_t)iy * in->w + ix) * in->c + (size_t)g * fc;
                        const int8_t *wk = w_oc + ((size_t)ky * filter->w + kx) * fc;
                        for (int32_t ic = 0; ic < fc; ++ic) {
                            acc = ember_add_wrap(acc, (int32_t)wk[ic] * ((int32_t)px[ic] + input_offset));
                        }
                    }
                }
                out_row[(size_t)x * out->c + oc] =
                    ember_conv_output(acc, bias, oc, mult, shift, p->output_offset, p->act_min, p->act_max);
            }
        }
    }
    return EMBER_OK;
}
