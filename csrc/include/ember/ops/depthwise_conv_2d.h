/* DEPTHWISE_CONV_2D, int8 activations x int8 per-channel symmetric weights -> int8.
 *
 * TFLite reference_integer_ops::DepthwiseConvPerChannel, bit for bit: for
 * output channel oc = ic * depth_multiplier + m,
 *   acc = sum over (ky, kx) inside the image of
 *           filter[0][ky][kx][oc] * (input[b][iy][ix][ic] + input_offset)
 *   acc += bias[oc]                     (when bias != NULL)
 *   out  = clamp(mbqm(acc, mult[oc], shift[oc]) + output_offset, act_min, act_max)
 * with iy = y * stride_h - pad_h + ky * dilation_h (same for x).
 * Filter dims: n = 1, h = kh, w = kw, c = in.c * depth_multiplier = out.c.
 *
 * Executor record (csrc/depthwise_conv_2d/op.c):
 *   in  = [input, filter, bias (-1 if absent), mult int32[out.c], shift int32[out.c]]
 *   out = [output]
 *   p   = EMBER_DEPTHWISE_CONV_2D_PARAMS below. */
#ifndef EMBER_OPS_DEPTHWISE_CONV_2D_H
#define EMBER_OPS_DEPTHWISE_CONV_2D_H

#include <stddef.h>
#include <stdint.h>

#include "ember/ops/nhwc.h"
#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_DEPTHWISE_CONV_2D_PARAMS(X) \
    X(stride_h) X(stride_w) X(dilation_h) X(dilation_w) X(pad_h) X(pad_w) \
    X(depth_multiplier) X(input_offset) X(output_offset) X(act_min) X(act_max)

#define EMBER_DEPTHWISE_CONV_2D_P_(name) EMBER_DEPTHWISE_CONV_2D_P_##name,
enum { EMBER_DEPTHWISE_CONV_2D_PARAMS(EMBER_DEPTHWISE_CONV_2D_P_) EMBER_DEPTHWISE_CONV_2D_NPARAMS };

typedef struct {
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t depth_multiplier;       /* >= 1, out.c == in.c * depth_multiplier */
    int32_t input_offset;           /* -input zero point */
    int32_t output_offset;          /* output zero point */
    int32_t act_min, act_max;
} ember_depthwise_conv_2d_params;

size_t ember_depthwise_conv_2d_s8_scratch_size(const ember_depthwise_conv_2d_params *p,
                                               const ember_nhwc *in, const ember_nhwc *filter,
                                               const ember_nhwc *out);

/* Computes output rows [row_start, row_end) (see nhwc.h). bias may be NULL. */
ember_status ember_depthwise_conv_2d_s8_scalar(const ember_depthwise_conv_2d_params *p,
                                               const ember_nhwc *in, const int8_t *input,
                                               const ember_nhwc *filter, const int8_t *filter_data,
                                               const int32_t *bias,
                                               const int32_t *mult, const int32_t *shift,
                                               const ember_nhwc *out, int8_t *output,
                                               int32_t row_start, int32_t row_end, void *scratch);

ember_status ember_depthwise_conv_2d_s8_check(const ember_depthwise_conv_2d_params *p,
                                              const ember_nhwc *in, const ember_nhwc *filter,
                                              const ember_nhwc *out,
                                              int32_t row_start, int32_t row_end);

#ifdef __cplusplus
}
#endif
#endif
