/* ADD int8 reference (see ember/ops/add.h). */
#include <stddef.h>

#include "ember/ops/add.h"
#include "ember/requant.h"

static inline int8_t add_one(const ember_add_params *p, int32_t a, int32_t b) {
    const int32_t sa = (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift);
    const int32_t sb = (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift);
    const int32_t ra = ember_mbqm(sa, p->input1_multiplier, p->input1_shift);
    const int32_t rb = ember_mbqm(sb, p->input2_multiplier, p->input2_shift);
    const int32_t raw = ember_mbqm(ra + rb, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ember_clamp_i32(raw, p->act_min, p->act_max);
}

ember_status ember_add_s8_scalar(const ember_add_params *p, const ember_broadcast *bc,
                                 const int8_t *a, const int8_t *b, int8_t *out) {
    if (p == NULL || bc == NULL) return EMBER_ERR_ARG;
    if (bc->count == 0) return EMBER_OK;
    if (a == NULL || b == NULL || out == NULL) return EMBER_ERR_ARG;
    if (bc->same_shape) {
        for (int32_t i = 0; i < bc->count; ++i) out[i] = add_one(p, a[i], b[i]);
        return EMBER_OK;
    }
    /* Row-major walk over the output; the last dim is the inner loop. */
    const int32_t nd = bc->ndim;
    const int32_t inner = bc->dims[nd - 1];
    const int32_t isa = bc->stride_a[nd - 1], isb = bc->stride_b[nd - 1];
    int32_t idx[EMBER_MAX_DIMS] = {0};
    int32_t off_a = 0, off_b = 0;
    int8_t *y = out;
    const int32_t rows = bc->count / inner;
    for (int32_t r = 0; r < rows; ++r) {
        for (int32_t i = 0; i < inner; ++i) y[i] = add_one(p, a[off_a + i * isa], b[off_b + i * isb]);
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
