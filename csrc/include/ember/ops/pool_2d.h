/* Parameters shared by AVERAGE_POOL_2D and MAX_POOL_2D (int8, NHWC).
 *
 * Window of output (y, x): input rows y * stride_h - pad_h + [0, filter_h),
 * clipped to the image (TFLite reference_integer_ops pooling). Pooling needs
 * the same quantization on input and output, so there is no requantization,
 * only the fused-activation clamp. Kernels take an output row range
 * [row_start, row_end) over batches (see nhwc.h). */
#ifndef EMBER_OPS_POOL_2D_H
#define EMBER_OPS_POOL_2D_H

#include <stdint.h>

#include "ember/ops/nhwc.h"
#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_POOL_2D_PARAMS(X) \
    X(stride_h) X(stride_w) X(filter_h) X(filter_w) X(pad_h) X(pad_w) X(act_min) X(act_max)

#define EMBER_POOL_2D_P_(name) EMBER_POOL_2D_P_##name,
enum { EMBER_POOL_2D_PARAMS(EMBER_POOL_2D_P_) EMBER_POOL_2D_NPARAMS };

typedef struct {
    int32_t stride_h, stride_w;
    int32_t filter_h, filter_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} ember_pool_2d_params;

/* Checks shared by both pools: out.n == in.n, out.c == in.c, positive sizes,
 * range inside [0, out.n * out.h]. */
ember_status ember_pool_2d_s8_check(const ember_pool_2d_params *p, const ember_nhwc *in,
                                    const ember_nhwc *out, int32_t row_start, int32_t row_end);

#ifdef __cplusplus
}
#endif
#endif
