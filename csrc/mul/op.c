/* MUL adapter: in = [a int8, b int8], out = [y int8, broadcast shape],
 * p = EMBER_MUL_PARAMS. */
#include "ember/ops/mul.h"

#include "ember/op.h"
#include "elem_common/binary_record.h"

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

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_binary_s8_io(op, t, NAME)) return EMBER_ERR_ARG;
    const ember_mul_params p = params_of(op);
    if (ember_el_binary_s8_quant(p.input1_offset, p.input2_offset, p.output_offset, p.act_min, p.act_max, NAME) ||
        ember_el_multiplier(p.output_multiplier, p.output_shift, -31, 30, NAME, "output"))
        return EMBER_ERR_ARG;
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    ember_broadcast bc;
    ember_status st = ember_el_binary_broadcast(op, t, &bc);
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
