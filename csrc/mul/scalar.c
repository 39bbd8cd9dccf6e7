/* MUL int8 reference (see ember/ops/mul.h). */
#include "ember/ops/mul.h"

#include "elem_common/broadcast_walk.h"
#include "ember/requant.h"

static inline int8_t mul_one(const void *params, int32_t a, int32_t b) {
    const ember_mul_params *p = (const ember_mul_params *)params;
    const int32_t prod = (a + p->input1_offset) * (b + p->input2_offset);
    const int32_t raw = ember_mbqm(prod, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ember_clamp_i32(raw, p->act_min, p->act_max);
}

ember_status ember_mul_s8_scalar(const ember_mul_params *p, const ember_broadcast *bc,
                                 const int8_t *a, const int8_t *b, int8_t *out) {
    return ember_el_broadcast_s8(mul_one, p, bc, a, b, out);
}
