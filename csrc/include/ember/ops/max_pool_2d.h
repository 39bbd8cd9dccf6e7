/* MAX_POOL_2D int8: TFLite reference_integer_ops::MaxPool.
 *   out = clamp(max over the clipped window, act_min, act_max)
 * A window with no tap inside the image is an error.
 *
 * Executor record: in = [input], out = [output], p = EMBER_MAX_POOL_2D_PARAMS. */
#ifndef EMBER_OPS_MAX_POOL_2D_H
#define EMBER_OPS_MAX_POOL_2D_H

#include <stddef.h>
#include <stdint.h>

#include "ember/ops/pool_2d.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_MAX_POOL_2D_PARAMS(X) EMBER_POOL_2D_PARAMS(X)

size_t ember_max_pool_2d_s8_scratch_size(const ember_pool_2d_params *p, const ember_nhwc *in,
                                         const ember_nhwc *out);

ember_status ember_max_pool_2d_s8_scalar(const ember_pool_2d_params *p,
                                         const ember_nhwc *in, const int8_t *input,
                                         const ember_nhwc *out, int8_t *output,
                                         int32_t row_start, int32_t row_end, void *scratch);

/* The same through a SIMD micro-kernel (ember_pool_ukernel, ember/kernels.h),
 * identical bytes; uk NULL runs the scalar reference. */
struct ember_pool_ukernel;
ember_status ember_max_pool_2d_s8_ukernel(const struct ember_pool_ukernel *uk, const ember_pool_2d_params *p,
                                          const ember_nhwc *in, const int8_t *input, const ember_nhwc *out,
                                          int8_t *output, int32_t row_start, int32_t row_end);

#ifdef __cplusplus
}
#endif
#endif
