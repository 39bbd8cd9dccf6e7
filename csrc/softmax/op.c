/* SOFTMAX adapter: in = [input int8], out = [output int8, same shape],
 * p = EMBER_SOFTMAX_PARAMS. Rows are all dims but the last. */
#include "ember/ops/softmax.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "SOFTMAX"

static const char *const k_param_names[] = {EMBER_SOFTMAX_PARAMS(EMBER_PARAM_NAME)};

static ember_softmax_params params_of(const ember_op *op) {
    ember_softmax_params p;
    p.input_multiplier = op->p[EMBER_SOFTMAX_P_input_multiplier];
    p.input_left_shift = op->p[EMBER_SOFTMAX_P_input_left_shift];
    p.diff_min = op->p[EMBER_SOFTMAX_P_diff_min];
    return p;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_s8_in_out(op, t, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    if (ember_el_same_shape(x, y, NAME, "input", "output")) return EMBER_ERR_ARG;
    if (x->ndim < 1) {
        ember_set_error(NAME ": input must have at least one dimension");
        return EMBER_ERR_ARG;
    }
    const ember_softmax_params p = params_of(op);
    if (p.input_multiplier < (INT32_C(1) << 30) || ember_el_multiplier(p.input_multiplier, p.input_left_shift,
                                                                       0, 30, NAME, "input"))
        return EMBER_ERR_ARG;
    if (p.diff_min > 0) {
        ember_set_error(NAME ": diff_min %d must be <= 0", (int)p.diff_min);
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    const int32_t depth = x->dims[x->ndim - 1];
    const int32_t rows = depth > 0 ? (int32_t)(ember_el_count(x) / depth) : 0;
    const ember_softmax_params p = params_of(op);
    ember_status st = ember_softmax_s8_scalar(&p, rows, depth, (const int8_t *)x->data, (int8_t *)y->data);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_softmax = {
    NAME, k_param_names, EMBER_SOFTMAX_NPARAMS, prepare, NULL, run,
};
