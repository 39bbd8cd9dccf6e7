/* AVERAGE_POOL_2D int8 scalar reference (see ember/ops/average_pool_2d.h). */
#include "ember/ops/average_pool_2d.h"

#include "nn_common/pool_walk.h"

size_t ember_average_pool_2d_s8_scratch_size(const ember_pool_2d_params *p, const ember_nhwc *in,
                                             const ember_nhwc *out) {
    (void)p; (void)in; (void)out;
    return 0;
}

ember_status ember_average_pool_2d_s8_scalar(const ember_pool_2d_params *p,
                                             const ember_nhwc *in, const int8_t *input,
                                             const ember_nhwc *out, int8_t *output,
                                             int32_t row_start, int32_t row_end, void *scratch) {
    (void)scratch;
    return ember_pool_2d_s8_walk(p, in, input, out, output, row_start, row_end, 0);
}
