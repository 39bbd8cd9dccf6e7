/* ADD int8 reference (see ember/ops/add.h). */
#include "ember/ops/add.h"

#include "elem_common/broadcast_walk.h"
#include "ember/requant.h"

static inline int8_t add_one(const void *params, int32_t a, int32_t b) {
    const ember_add_params *p = (const ember_add_params *)params;
    const int32_t sa = (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift);
    const int32_t sb = (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift);
    const int32_t ra = ember_mbqm(sa, p->input1_multiplier, p->input1_shift);
    const int32_t rb = ember_mbqm(sb, p->input2_multiplier, p->input2_shift);
    const int32_t raw = ember_mbqm(ra + rb, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ember_clamp_i32(raw, p->act_min, p->act_max);
}

ember_status ember_add_s8_scalar(const ember_add_params *p, const ember_broadcast *bc,
                                 const int8_t *a, const int8_t *b, int8_t *out) {
    return ember_el_broadcast_s8(add_one, p, bc, a, b, out);
}
