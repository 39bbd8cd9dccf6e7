/* Shapes shared by the spatial ops (CONV_2D, DEPTHWISE_CONV_2D, pooling).
 *
 * Activations are NHWC, int8, row-major and dense. Filters reuse the struct:
 * CONV_2D filters are OHWI (n = output channels, c = input channels of one
 * group), DEPTHWISE_CONV_2D filters are 1HWC (n = 1, c = output channels).
 *
 * Work splitting for threads and SIMD: spatial kernels take a half-open
 * range [row_start, row_end) of output rows counted over batches, i.e. row r
 * is image r / out.h, output row r % out.h; the full op is
 * [0, out.n * out.h). Disjoint ranges write disjoint output bytes, so ranges
 * can run on different threads (each thread with its own scratch). */
#ifndef EMBER_OPS_NHWC_H
#define EMBER_OPS_NHWC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t n, h, w, c;
} ember_nhwc;

/* Bound on spatial extents (dilated filter span + strided output span,
 * padding, pooled window areas) the kernels accept, so that every
 * coordinate and tap count they compute fits in int32 with room to spare. */
#define EMBER_SPATIAL_LIMIT (INT32_C(1) << 28)

#ifdef __cplusplus
}
#endif
#endif
