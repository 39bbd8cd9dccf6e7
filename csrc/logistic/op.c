/* LOGISTIC adapter: in = [input int8, scales float32[2] constant (input, output)],
 * out = [output int8, same shape], p = EMBER_LOGISTIC_PARAMS. init builds the
 * 256-byte table into op->persistent. */
#include "ember/ops/logistic.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "LOGISTIC"

static const char *const k_param_names[] = {EMBER_LOGISTIC_PARAMS(EMBER_PARAM_NAME)};

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_io(op, 2, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *s = &t[op->in[1]], *y = &t[op->out[0]];
    if (ember_el_dtype(x, EMBER_DT_INT8, NAME, "input") || ember_el_dtype(y, EMBER_DT_INT8, NAME, "output") ||
        ember_el_valid_shape(x, NAME, "input") || ember_el_same_shape(x, y, NAME, "input", "output") ||
        ember_el_const_f32(s, 2, 2, NAME, "scales (input 1)") ||
        ember_el_zero_point(op->p[EMBER_LOGISTIC_P_input_zero_point], NAME, "input") ||
        ember_el_zero_point(op->p[EMBER_LOGISTIC_P_output_zero_point], NAME, "output"))
        return EMBER_ERR_ARG;
    *scratch_bytes = 0;
    *persistent_bytes = 256;
    return EMBER_OK;
}

static ember_status init(ember_op *op, const ember_tensor *t) {
    const float *s = (const float *)t[op->in[1]].data;
    if (op->persistent == NULL || op->persistent_bytes < 256) {
        ember_set_error(NAME ": no room for the lookup table");
        return EMBER_ERR_STATE;
    }
    ember_logistic_s8_lut(s[0], op->p[EMBER_LOGISTIC_P_input_zero_point], s[1], op->p[EMBER_LOGISTIC_P_output_zero_point],
                       (int8_t *)op->persistent);
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    ember_status st = ember_logistic_s8_scalar((const int8_t *)op->persistent, (const int8_t *)x->data,
                                             (int8_t *)y->data, (size_t)ember_el_count(x));
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_logistic = {
    NAME, k_param_names, EMBER_LOGISTIC_NPARAMS, prepare, init, run,
};
