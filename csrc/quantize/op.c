/* QUANTIZE adapter, p = EMBER_QUANTIZE_PARAMS, out = [y int8, same shape]:
 *   float32 input: in = [x float32, scale float32[1] constant], uses output_zero_point;
 *   int8 input:    in = [x int8], uses all four params. */
#include "ember/ops/quantize.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "QUANTIZE"

static const char *const k_param_names[] = {EMBER_QUANTIZE_PARAMS(EMBER_PARAM_NAME)};

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (op->n_in < 1 || op->in[0] < 0) {
        ember_set_error(NAME ": missing input");
        return EMBER_ERR_ARG;
    }
    const int from_float = t[op->in[0]].dtype == EMBER_DT_FLOAT32;
    if (ember_el_io(op, from_float ? 2 : 1, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    if ((!from_float && ember_el_dtype(x, EMBER_DT_INT8, NAME, "input (float32 or int8)")) ||
        ember_el_dtype(y, EMBER_DT_INT8, NAME, "output") || ember_el_valid_shape(x, NAME, "input") ||
        ember_el_same_shape(x, y, NAME, "input", "output") ||
        ember_el_zero_point(op->p[EMBER_QUANTIZE_P_output_zero_point], NAME, "output"))
        return EMBER_ERR_ARG;
    if (from_float) {
        if (ember_el_const_f32(&t[op->in[1]], 1, 1, NAME, "scale (input 1)")) return EMBER_ERR_ARG;
    } else if (ember_el_zero_point(op->p[EMBER_QUANTIZE_P_input_zero_point], NAME, "input") ||
               ember_el_multiplier(op->p[EMBER_QUANTIZE_P_multiplier], op->p[EMBER_QUANTIZE_P_shift], -31, 30,
                                   NAME, "requantization")) {
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    const size_t n = (size_t)ember_el_count(x);
    ember_status st;
    if (x->dtype == EMBER_DT_FLOAT32) {
        const float scale = *(const float *)t[op->in[1]].data;
        st = ember_quantize_f32_s8_scalar((const float *)x->data, (int8_t *)y->data, n, scale,
                                          op->p[EMBER_QUANTIZE_P_output_zero_point]);
    } else {
        st = ember_requantize_s8_scalar((const int8_t *)x->data, (int8_t *)y->data, n,
                                        op->p[EMBER_QUANTIZE_P_input_zero_point],
                                        op->p[EMBER_QUANTIZE_P_output_zero_point],
                                        op->p[EMBER_QUANTIZE_P_multiplier], op->p[EMBER_QUANTIZE_P_shift]);
    }
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_quantize = {
    NAME, k_param_names, EMBER_QUANTIZE_NPARAMS, prepare, NULL, run,
};
