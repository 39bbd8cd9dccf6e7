/* MUL adapter: in = [a int8, b int8], out = [y int8, broadcast shape],
 * p = EMBER_MUL_PARAMS. */
#include "ember/ops/mul.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "MUL"

static const char *const k_param_names[] = {EMBER_MUL_PARAMS(EMBER_PARAM_NAME)};

static ember_mul_params params_of(const ember_op *op) {
    ember_mul_params p;
    p.input1_offset = op->p[EMBER_MUL_P_input1_offset];
    p.input2_offset = op->p[EMBER_MUL_P_input2_offset];
    p.output_offset = op->p[EMBER_MUL_P_output_offset];
    p.output_multiplier = op->p[EMBER_MUL_P_output_multiplier];
    p.output_shift = op->p[EMBER_MUL_P_output_shift];
    p.act_min = op->p[EMBER_MUL_P_act_min];
    p.act_max = op->p[EMBER_MUL_P_act_max];
    return p;
}

static ember_status broadcast_of(const ember_op *op, const ember_tensor *t, ember_broadcast *bc) {
    const ember_tensor *a = &t[op->in[0]], *b = &t[op->in[1]], *y = &t[op->out[0]];
    return ember_broadcast_init(bc, a->dims, a->ndim, b->dims, b->ndim, y->dims, y->ndim);
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_io(op, 2, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *a = &t[op->in[0]], *b = &t[op->in[1]], *y = &t[op->out[0]];
    if (ember_el_dtype(a, EMBER_DT_INT8, NAME, "input 0") || ember_el_dtype(b, EMBER_DT_INT8, NAME, "input 1") ||
        ember_el_dtype(y, EMBER_DT_INT8, NAME, "output") || ember_el_valid_shape(a, NAME, "input 0") ||
        ember_el_valid_shape(b, NAME, "input 1") || ember_el_valid_shape(y, NAME, "output"))
        return EMBER_ERR_ARG;
    ember_broadcast bc;
    if (broadcast_of(op, t, &bc) != EMBER_OK) return EMBER_ERR_ARG;
    const ember_mul_params p = params_of(op);
    if (ember_el_zero_point(-p.input1_offset, NAME, "input 0") ||
        ember_el_zero_point(-p.input2_offset, NAME, "input 1") ||
        ember_el_zero_point(p.output_offset, NAME, "output") || ember_el_act(p.act_min, p.act_max, NAME) ||
        ember_el_multiplier(p.output_multiplier, p.output_shift, -31, 30, NAME, "output"))
        return EMBER_ERR_ARG;
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    ember_broadcast bc;
    ember_status st = broadcast_of(op, t, &bc);
    if (st != EMBER_OK) return st;
    const ember_mul_params p = params_of(op);
    st = ember_mul_s8_scalar(&p, &bc, (const int8_t *)t[op->in[0]].data, (const int8_t *)t[op->in[1]].data,
                             (int8_t *)t[op->out[0]].data);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_mul = {
    NAME, k_param_names, EMBER_MUL_NPARAMS, prepare, NULL, run,
};
