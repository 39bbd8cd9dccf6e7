/* The int8 broadcast loop shared by the ADD and MUL references: applies
 * one(p, a, b) to every output element of an ember_broadcast, walking the
 * output in row-major order (the last dim is the inner loop), as TFLite's
 * BroadcastAdd6DSlow / BroadcastMul6DSlow do. Internal header: include as
 * "elem_common/broadcast_walk.h". static inline, so each kernel gets its own
 * copy with its element function inlined. */
#ifndef EMBER_ELEM_COMMON_BROADCAST_WALK_H
#define EMBER_ELEM_COMMON_BROADCAST_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "ember/ops/broadcast.h"
#include "ember/status.h"

typedef int8_t (*ember_el_binary_s8_fn)(const void *p, int32_t a, int32_t b);

static inline ember_status ember_el_broadcast_s8(ember_el_binary_s8_fn one, const void *p,
                                                 const ember_broadcast *bc, const int8_t *a, const int8_t *b,
                                                 int8_t *out) {
    if (p == NULL || bc == NULL) return EMBER_ERR_ARG;
    if (bc->count == 0) return EMBER_OK;
    if (a == NULL || b == NULL || out == NULL) return EMBER_ERR_ARG;
    if (bc->same_shape) {
        for (int32_t i = 0; i < bc->count; ++i) out[i] = one(p, a[i], b[i]);
        return EMBER_OK;
    }
    const int32_t nd = bc->ndim;
    const int32_t inner = bc->dims[nd - 1];
    const int32_t isa = bc->stride_a[nd - 1], isb = bc->stride_b[nd - 1];
    int32_t idx[EMBER_MAX_DIMS] = {0};
    int32_t off_a = 0, off_b = 0;
    int8_t *y = out;
    const int32_t rows = bc->count / inner;
    for (int32_t r = 0; r < rows; ++r) {
        for (int32_t i = 0; i < inner; ++i) y[i] = one(p, a[off_a + i * isa], b[off_b + i * isb]);
        y += inner;
        for (int32_t d = nd - 2; d >= 0; --d) { /* odometer over the outer dims */
            off_a += bc->stride_a[d];
            off_b += bc->stride_b[d];
            if (++idx[d] < bc->dims[d]) break;
            off_a -= bc->stride_a[d] * bc->dims[d];
            off_b -= bc->stride_b[d] * bc->dims[d];
            idx[d] = 0;
        }
    }
    return EMBER_OK;
}

#endif
