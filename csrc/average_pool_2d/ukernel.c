/* AVERAGE_POOL_2D through a SIMD micro-kernel (see ember/ops/average_pool_2d.h). */
#include "ember/kernels.h"
#include "ember/ops/average_pool_2d.h"
#include "nn_common/pool_walk.h"

ember_status ember_average_pool_2d_s8_ukernel(const struct ember_pool_ukernel *uk, const ember_pool_2d_params *p,
                                              const ember_nhwc *in, const int8_t *input, const ember_nhwc *out,
                                              int8_t *output, int32_t row_start, int32_t row_end) {
    if (uk == NULL || p == NULL || (int64_t)p->filter_h * p->filter_w > EMBER_POOL_UKERNEL_MAX_TAPS)
        return ember_average_pool_2d_s8_scalar(p, in, input, out, output, row_start, row_end, NULL);
    return ember_pool_2d_s8_walk_runs(p, in, input, out, output, row_start, row_end, uk->run, 1);
}
