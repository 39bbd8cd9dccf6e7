/* ADD adapter: in = [a int8, b int8], out = [y int8, broadcast shape],
 * p = EMBER_ADD_PARAMS. Runs the SIMD micro-kernel of the ISA active at load
 * (cpu/isa_record.h), else the scalar reference; large SIMD ADDs are split
 * across the run's thread pool. */
#include "ember/ops/add.h"

#include "cpu/isa_record.h"
#include "ember/kernels.h"
#include "ember/op.h"
#include "elem_common/binary_record.h"
#include "nn_common/parallel.h"

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

typedef struct {
    const ember_add_ukernel *uk;
    ember_add_params p;
    ember_broadcast bc;
    const int8_t *a, *b;
    int8_t *y;
} add_args;

static ember_status add_units(const void *vargs, int32_t start, int32_t end) {
    const add_args *r = (const add_args *)vargs;
    return ember_add_s8_ukernel_part(r->uk, &r->p, &r->bc, r->a, r->b, r->y, start, end);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    add_args r;
    ember_status st = ember_el_binary_broadcast(op, t, &r.bc);
    if (st != EMBER_OK) return st;
    r.p = params_of(op);
    r.uk = (const ember_add_ukernel *)ember_isa_record_variant(op, EMBER_KERNEL_ADD);
    r.a = (const int8_t *)t[op->in[0]].data;
    r.b = (const int8_t *)t[op->in[1]].data;
    r.y = (int8_t *)t[op->out[0]].data;
    if (r.uk != NULL && r.a != NULL && r.b != NULL && r.y != NULL)
        /* small ADDs run on the caller (see ember_threadpool_tasks) */
        st = ember_parallel_range(ctx, ember_add_s8_units(&r.bc), EMBER_BYTE_OP_WORK * (int64_t)r.bc.count,
                                  add_units, &r);
    else
        st = ember_add_s8_ukernel(r.uk, &r.p, &r.bc, r.a, r.b, r.y);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_add = {
    NAME, k_param_names, EMBER_ADD_NPARAMS, prepare, init, run,
};
