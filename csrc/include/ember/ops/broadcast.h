/* NumPy/TFLite broadcasting of two operands onto an output shape.
 *
 * Shapes are right-aligned (a missing leading dim counts as 1). Every
 * output dim must equal each operand's dim or that dim must be 1, in which
 * case the operand's stride along it is 0. The kernels walk the output in
 * row-major order with these strides, as TFLite's BroadcastAdd6DSlow /
 * BroadcastMul6DSlow do, so results are independent of the walk. */
#ifndef EMBER_OPS_BROADCAST_H
#define EMBER_OPS_BROADCAST_H

#include <stdint.h>

#include "ember/op.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t ndim;                       /* output rank, >= 1 (a scalar is [1]) */
    int32_t dims[EMBER_MAX_DIMS];       /* output dims */
    int32_t stride_a[EMBER_MAX_DIMS];   /* element strides of operand a, 0 when broadcast */
    int32_t stride_b[EMBER_MAX_DIMS];
    int32_t count;                      /* number of output elements */
    int32_t same_shape;                 /* 1: a, b and the output have one flat layout */
} ember_broadcast;

/* Fills bc. Returns EMBER_ERR_ARG (with ember_set_error) if the shapes
 * do not broadcast to exactly dims_out. */
ember_status ember_broadcast_init(ember_broadcast *bc,
                                  const int32_t *dims_a, int32_t ndim_a,
                                  const int32_t *dims_b, int32_t ndim_b,
                                  const int32_t *dims_out, int32_t ndim_out);

#ifdef __cplusplus
}
#endif
#endif
