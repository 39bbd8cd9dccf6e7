/* ADD adapter: in = [a int8, b int8], out = [y int8, broadcast shape],
 * p = EMBER_ADD_PARAMS. Runs the SIMD micro-kernel of the ISA active at load
 * (cpu/isa_record.h), else the scalar reference. */
#include "ember/ops/add.h"

#include "cpu/isa_record.h"
#include "ember/kernels.h"
#include "ember/op.h"
#include "elem_common/binary_record.h"

#define NAME "ADD"

static const char *const k_param_names[] = {EMBER_ADD_PARAMS(EMBER_PARAM_NAME)};

static ember_add_params params_of(const ember_op *op) {
    ember_add_params p;
    p.input1_offset = op->p[EMBER_ADD_P_input1_offset];
    p.input2_offset = op->p[EMBER_ADD_P_input2_offset];
    p.output_offset = op->p[EMBER_ADD_P_output_offset];
    p.left_shift = op->p[EMBER_ADD_P_left_shift];
    p.input1_multiplier = op->p[EMBER_ADD_P_input1_multiplier];
    p.input1_shift = op->p[EMBER_ADD_P_input1_shift];
    p.input2_multiplier = op->p[EMBER_ADD_P_input2_multiplier];
    p.input2_shift = op->p[EMBER_ADD_P_input2_shift];
    p.output_multiplier = op->p[EMBER_ADD_P_output_multiplier];
    p.output_shift = op->p[EMBER_ADD_P_output_shift];
    p.act_min = op->p[EMBER_ADD_P_act_min];
    p.act_max = op->p[EMBER_ADD_P_act_max];
    return p;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_binary_s8_io(op, t, NAME)) return EMBER_ERR_ARG;
    const ember_add_params p = params_of(op);
    if (ember_el_binary_s8_quant(p.input1_offset, p.input2_offset, p.output_offset, p.act_min, p.act_max, NAME) ||
        ember_el_multiplier(p.input1_multiplier, p.input1_shift, -31, 0, NAME, "input 0") ||
        ember_el_multiplier(p.input2_multiplier, p.input2_shift, -31, 0, NAME, "input 1") ||
        ember_el_multiplier(p.output_multiplier, p.output_shift, -31, 0, NAME, "output"))
        return EMBER_ERR_ARG;
    if (p.left_shift < 0 || p.left_shift > 22) {
        ember_set_error(NAME ": left_shift %d out of [0, 22]", (int)p.left_shift);
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = ember_isa_record_bytes(EMBER_KERNEL_ADD);
    return EMBER_OK;
}

static ember_status init(ember_op *op, const ember_tensor *t) {
    (void)t;
    return ember_isa_record_init(op, EMBER_KERNEL_ADD);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    ember_broadcast bc;
    ember_status st = ember_el_binary_broadcast(op, t, &bc);
    if (st != EMBER_OK) return st;
    const ember_add_params p = params_of(op);
    const ember_add_ukernel *uk = (const ember_add_ukernel *)ember_isa_record_variant(op, EMBER_KERNEL_ADD);
    st = ember_add_s8_ukernel(uk, &p, &bc, (const int8_t *)t[op->in[0]].data, (const int8_t *)t[op->in[1]].data,
                              (int8_t *)t[op->out[0]].data);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_add = {
    NAME, k_param_names, EMBER_ADD_NPARAMS, prepare, init, run,
};
