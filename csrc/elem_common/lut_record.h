/* The adapter body shared by the int8 table ops (LOGISTIC, TANH):
 * in = [input int8, scales float32[2] constant (input, output)],
 * out = [output int8, same shape], p = (input_zero_point, output_zero_point).
 * prepare asks for 256 persistent bytes, init builds the table there with the
 * op's build function, run applies it with the op's kernel. Internal header:
 * include as "elem_common/lut_record.h". */
#ifndef EMBER_ELEM_COMMON_LUT_RECORD_H
#define EMBER_ELEM_COMMON_LUT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "elem_common/record_check.h"
#include "ember/op.h"

/* Param slots of a table op; each op checks its own list against these. */
#define EMBER_EL_LUT_P_input_zero_point 0
#define EMBER_EL_LUT_P_output_zero_point 1

typedef void (*ember_el_lut_build_fn)(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp,
                                      int8_t lut[256]);
typedef ember_status (*ember_el_lut_apply_fn)(const int8_t *lut, const int8_t *in, int8_t *out, size_t n);

static inline ember_status ember_el_lut_prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                                                size_t *persistent_bytes, const char *name) {
    if (ember_el_s8_in_out(op, t, 2, name)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *s = &t[op->in[1]], *y = &t[op->out[0]];
    if (ember_el_same_shape(x, y, name, "input", "output") ||
        ember_el_const_f32(s, 2, 2, name, "scales (input 1)") ||
        ember_el_zero_point(op->p[EMBER_EL_LUT_P_input_zero_point], name, "input") ||
        ember_el_zero_point(op->p[EMBER_EL_LUT_P_output_zero_point], name, "output"))
        return EMBER_ERR_ARG;
    *scratch_bytes = 0;
    *persistent_bytes = 256;
    return EMBER_OK;
}

static inline ember_status ember_el_lut_init(ember_op *op, const ember_tensor *t, ember_el_lut_build_fn build,
                                             const char *name) {
    const float *s = (const float *)t[op->in[1]].data;
    if (op->persistent == NULL || op->persistent_bytes < 256) {
        ember_set_error("%s: no room for the lookup table", name);
        return EMBER_ERR_STATE;
    }
    build(s[0], op->p[EMBER_EL_LUT_P_input_zero_point], s[1], op->p[EMBER_EL_LUT_P_output_zero_point],
          (int8_t *)op->persistent);
    return EMBER_OK;
}

static inline ember_status ember_el_lut_run(const ember_op *op, ember_tensor *t, ember_el_lut_apply_fn apply,
                                            const char *name) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    ember_status st = apply((const int8_t *)op->persistent, (const int8_t *)x->data, (int8_t *)y->data,
                            (size_t)ember_el_count(x));
    if (st != EMBER_OK) ember_set_error("%s: kernel failed (%d)", name, (int)st);
    return st;
}

#endif
