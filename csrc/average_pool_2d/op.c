/* AVERAGE_POOL_2D adapter: executor record -> ember_average_pool_2d_s8_ukernel
 * (the SIMD micro-kernel of the ISA active at load, else the scalar reference). */
#include "ember/ops/average_pool_2d.h"

#include "ember/op.h"
#include "nn_common/pool_record.h"

#define NAME "AVERAGE_POOL_2D"

static const char *const k_param_names[] = {EMBER_AVERAGE_POOL_2D_PARAMS(EMBER_PARAM_NAME)};

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    return ember_pool_adapter_prepare(op, t, NAME, ember_average_pool_2d_s8_scratch_size, EMBER_KERNEL_AVGPOOL,
                                      scratch_bytes, persistent_bytes);
}

static ember_status init(ember_op *op, const ember_tensor *t) {
    (void)t;
    return ember_isa_record_init(op, EMBER_KERNEL_AVGPOOL);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    return ember_pool_adapter_run(op, t, ctx, NAME, ember_average_pool_2d_s8_ukernel, EMBER_KERNEL_AVGPOOL);
}

const ember_op_adapter ember_adapter_average_pool_2d = {
    NAME, k_param_names, EMBER_POOL_2D_NPARAMS, prepare, init, run,
};
