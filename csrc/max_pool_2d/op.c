/* MAX_POOL_2D adapter: executor record -> ember_max_pool_2d_s8_scalar. */
#include "ember/ops/max_pool_2d.h"

#include "ember/op.h"
#include "nn_common/pool_record.h"

#define NAME "MAX_POOL_2D"

static const char *const k_param_names[] = {EMBER_MAX_POOL_2D_PARAMS(EMBER_PARAM_NAME)};

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    ember_status st = ember_pool_prepare(op, t, NAME);
    if (st != EMBER_OK) return st;
    const ember_pool_2d_params p = ember_pool_params_of(op);
    const ember_nhwc in = ember_nn_nhwc(&t[op->in[0]]), out = ember_nn_nhwc(&t[op->out[0]]);
    *scratch_bytes = ember_max_pool_2d_s8_scratch_size(&p, &in, &out);
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    const ember_nhwc in = ember_nn_nhwc(x), out = ember_nn_nhwc(y);
    const ember_pool_2d_params p = ember_pool_params_of(op);
    ember_status st = ember_max_pool_2d_s8_scalar(&p, &in, (const int8_t *)x->data, &out, (int8_t *)y->data, 0,
                                                      out.n * out.h, ctx ? ctx->scratch : NULL);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_max_pool_2d = {
    NAME, k_param_names, EMBER_POOL_2D_NPARAMS, prepare, NULL, run,
};
