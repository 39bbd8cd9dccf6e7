/* Kernel-side checks and output step shared by the CONV_2D and
 * DEPTHWISE_CONV_2D scalar references (the op-specific shape rules stay in each op).
 * Internal header: include as "nn_common/conv_check.h". */
#ifndef EMBER_NN_COMMON_CONV_CHECK_H
#define EMBER_NN_COMMON_CONV_CHECK_H

#include <stdint.h>

#include "ember/ops/nhwc.h"
#include "ember/requant.h"
#include "ember/status.h"
#include "nn_common/wrap.h"

/* The fields both params structs (ember_conv_2d_params,
 * ember_depthwise_conv_2d_params) share, in the order the helpers below take them. */
#define EMBER_CONV_WINDOW(p)                                                                          \
    (p).stride_h, (p).stride_w, (p).dilation_h, (p).dilation_w, (p).pad_h, (p).pad_w, (p).input_offset, \
        (p).output_offset, (p).act_min, (p).act_max

static inline int ember_nhwc_positive(const ember_nhwc *d) {
    return d->n > 0 && d->h > 0 && d->w > 0 && d->c > 0;
}

/* Positive sizes, window parameters, batch match, row range [row_start, row_end)
 * inside [0, out.n * out.h], and every input coordinate the loops compute inside
 * int32. Pass EMBER_CONV_WINDOW(*p); the offsets are checked by the adapters. */
static inline ember_status ember_conv_check_common(const ember_nhwc *in, const ember_nhwc *filter,
                                                   const ember_nhwc *out, int32_t stride_h, int32_t stride_w,
                                                   int32_t dilation_h, int32_t dilation_w, int32_t pad_h,
                                                   int32_t pad_w, int32_t input_offset, int32_t output_offset,
                                                   int32_t act_min, int32_t act_max, int32_t row_start,
                                                   int32_t row_end) {
    (void)input_offset;
    (void)output_offset;
    if (!ember_nhwc_positive(in) || !ember_nhwc_positive(filter) || !ember_nhwc_positive(out)) return EMBER_ERR_ARG;
    if (stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1) return EMBER_ERR_ARG;
    if (pad_h < 0 || pad_w < 0) return EMBER_ERR_ARG;
    if (act_min > act_max) return EMBER_ERR_ARG;
    if (out->n != in->n) return EMBER_ERR_ARG;
    if (row_start < 0 || row_end < row_start || (int64_t)row_end > (int64_t)out->n * out->h) return EMBER_ERR_ARG;
    if ((int64_t)(filter->h - 1) * dilation_h + (int64_t)(out->h - 1) * stride_h > EMBER_SPATIAL_LIMIT ||
        (int64_t)(filter->w - 1) * dilation_w + (int64_t)(out->w - 1) * stride_w > EMBER_SPATIAL_LIMIT ||
        pad_h > EMBER_SPATIAL_LIMIT || pad_w > EMBER_SPATIAL_LIMIT)
        return EMBER_ERR_ARG;
    return EMBER_OK;
}

/* Output value of channel oc from its int32 accumulator: + bias (may be NULL),
 * ember_mbqm, + output offset (all wrapping as TFLite's int32), clamp. */
static inline int8_t ember_conv_output(int32_t acc, const int32_t *bias, int32_t oc, const int32_t *mult,
                                       const int32_t *shift, int32_t output_offset, int32_t act_min,
                                       int32_t act_max) {
    if (bias) acc = ember_add_wrap(acc, bias[oc]);
    acc = ember_mbqm(acc, mult[oc], shift[oc]);
    acc = ember_add_wrap(acc, output_offset);
    return (int8_t)ember_clamp_i32(acc, act_min, act_max);
}

#endif
