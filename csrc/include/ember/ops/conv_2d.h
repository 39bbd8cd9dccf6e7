/* CONV_2D, int8 activations x int8 per-channel symmetric weights -> int8.
 *
 * TFLite reference_integer_ops::ConvPerChannel, bit for bit:
 *   acc = sum over (ky, kx, ic) inside the image of
 *           filter[oc][ky][kx][ic] * (input[b][iy][ix][g*fc + ic] + input_offset)
 *   acc += bias[oc]                     (when bias != NULL)
 *   out  = clamp(mbqm(acc, mult[oc], shift[oc]) + output_offset, act_min, act_max)
 * with iy = y * stride_h - pad_h + ky * dilation_h (same for x), taps outside
 * the image skipped (zero padding in the real domain), and grouped
 * convolution when in.c == groups * filter.c (group g = oc / (out.c / groups)).
 *
 * Executor record (csrc/conv_2d/op.c):
 *   in  = [input, filter, bias (-1 if absent), mult int32[out.c], shift int32[out.c]]
 *   out = [output]
 *   p   = EMBER_CONV_2D_PARAMS below. */
#ifndef EMBER_OPS_CONV_2D_H
#define EMBER_OPS_CONV_2D_H

#include <stddef.h>
#include <stdint.h>

#include "ember/ops/nhwc.h"
#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_CONV_2D_PARAMS(X) \
    X(stride_h) X(stride_w) X(dilation_h) X(dilation_w) X(pad_h) X(pad_w) \
    X(input_offset) X(output_offset) X(act_min) X(act_max)

#define EMBER_CONV_2D_P_(name) EMBER_CONV_2D_P_##name,
enum { EMBER_CONV_2D_PARAMS(EMBER_CONV_2D_P_) EMBER_CONV_2D_NPARAMS };

typedef struct {
    int32_t stride_h, stride_w;     /* >= 1 */
    int32_t dilation_h, dilation_w; /* >= 1 */
    int32_t pad_h, pad_w;           /* top / left padding (TFLite padding_values) */
    int32_t input_offset;           /* -input zero point, in [-127, 128] */
    int32_t output_offset;          /* output zero point, in [-128, 127] */
    int32_t act_min, act_max;       /* fused activation clamp, int8 range */
} ember_conv_2d_params;

/* Bytes of scratch a call needs (per thread). The scalar kernel needs none;
 * SIMD variants (im2col, packed inputs) report their need here. */
size_t ember_conv_2d_s8_scratch_size(const ember_conv_2d_params *p, const ember_nhwc *in,
                                     const ember_nhwc *filter, const ember_nhwc *out);

/* Computes output rows [row_start, row_end) (see nhwc.h). Returns EMBER_ERR_ARG
 * on null pointers, non-positive dims/strides/dilations, filter/in channel
 * mismatch, or a range outside [0, out->n * out->h]. bias may be NULL.
 * scratch may be NULL when the scratch size is 0. */
ember_status ember_conv_2d_s8_scalar(const ember_conv_2d_params *p,
                                     const ember_nhwc *in, const int8_t *input,
                                     const ember_nhwc *filter, const int8_t *filter_data,
                                     const int32_t *bias,
                                     const int32_t *mult, const int32_t *shift,
                                     const ember_nhwc *out, int8_t *output,
                                     int32_t row_start, int32_t row_end, void *scratch);

/* Shared argument check used by every variant (scalar and SIMD). */
ember_status ember_conv_2d_s8_check(const ember_conv_2d_params *p, const ember_nhwc *in,
                                    const ember_nhwc *filter, const ember_nhwc *out,
                                    int32_t row_start, int32_t row_end);

#ifdef __cplusplus
}
#endif
#endif
