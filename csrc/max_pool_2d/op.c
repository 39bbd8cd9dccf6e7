/* MAX_POOL_2D adapter: executor record -> ember_max_pool_2d_s8_scalar. */
#include "ember/ops/max_pool_2d.h"

#include "ember/op.h"
#include "nn_common/parallel.h"
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

typedef struct {
    ember_pool_2d_params p;
    ember_nhwc in, out;
    const int8_t *x;
    int8_t *y;
} pool_args;

static ember_status pool_rows(const void *vargs, int32_t start, int32_t end) {
    const pool_args *a = (const pool_args *)vargs;
    return ember_max_pool_2d_s8_scalar(&a->p, &a->in, a->x, &a->out, a->y, start, end, NULL);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    pool_args a;
    a.p = ember_pool_params_of(op);
    a.in = ember_nn_nhwc(&t[op->in[0]]);
    a.out = ember_nn_nhwc(&t[op->out[0]]);
    a.x = (const int8_t *)t[op->in[0]].data;
    a.y = (int8_t *)t[op->out[0]].data;
    ember_status st = ember_parallel_range(ctx, a.out.n * a.out.h, pool_rows, &a);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_max_pool_2d = {
    NAME, k_param_names, EMBER_POOL_2D_NPARAMS, prepare, NULL, run,
};
