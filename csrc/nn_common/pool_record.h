/* Record handling shared by the AVERAGE_POOL_2D and MAX_POOL_2D adapters.
 * Internal header: include as "nn_common/pool_record.h". */
#ifndef EMBER_NN_COMMON_POOL_RECORD_H
#define EMBER_NN_COMMON_POOL_RECORD_H

#include "cpu/isa_record.h"
#include "ember/kernels.h"
#include "ember/ops/pool_2d.h"
#include "nn_common/adapter_check.h"
#include "nn_common/parallel.h"

static inline ember_pool_2d_params ember_pool_params_of(const ember_op *op) {
    ember_pool_2d_params p;
    p.stride_h = op->p[EMBER_POOL_2D_P_stride_h];
    p.stride_w = op->p[EMBER_POOL_2D_P_stride_w];
    p.filter_h = op->p[EMBER_POOL_2D_P_filter_h];
    p.filter_w = op->p[EMBER_POOL_2D_P_filter_w];
    p.pad_h = op->p[EMBER_POOL_2D_P_pad_h];
    p.pad_w = op->p[EMBER_POOL_2D_P_pad_w];
    p.act_min = op->p[EMBER_POOL_2D_P_act_min];
    p.act_max = op->p[EMBER_POOL_2D_P_act_max];
    return p;
}

/* Validates the record; every output window must overlap the image. */
static inline ember_status ember_pool_prepare(const ember_op *op, const ember_tensor *t, const char *name) {
    int32_t ix;
    if (op->n_in != 1 || op->n_out != 1) {
        ember_set_error("%s: expected 1 input and 1 output, got %d and %d", name, (int)op->n_in, (int)op->n_out);
        return EMBER_ERR_ARG;
    }
    if (ember_nn_input(op, 0, 1, name, "input", &ix) || op->out[0] < 0) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[ix], *y = &t[op->out[0]];
    if (ember_nn_dtype(x, EMBER_DT_INT8, name, "input") || ember_nn_dtype(y, EMBER_DT_INT8, name, "output") ||
        ember_nn_rank(x, 4, name, "input") || ember_nn_rank(y, 4, name, "output"))
        return EMBER_ERR_ARG;
    const ember_nhwc in = ember_nn_nhwc(x), out = ember_nn_nhwc(y);
    const ember_pool_2d_params p = ember_pool_params_of(op);
    if (ember_nn_check_act(p.act_min, p.act_max, name)) return EMBER_ERR_ARG;
    if (p.stride_h < 1 || p.stride_w < 1 || p.filter_h < 1 || p.filter_w < 1 || p.pad_h < 0 || p.pad_w < 0) {
        ember_set_error("%s: stride %dx%d, filter %dx%d, padding %dx%d must be >= 1, >= 1, >= 0", name,
                        (int)p.stride_h, (int)p.stride_w, (int)p.filter_h, (int)p.filter_w, (int)p.pad_h,
                        (int)p.pad_w);
        return EMBER_ERR_ARG;
    }
    if (out.n != in.n || out.c != in.c) {
        ember_set_error("%s: output [%d,%d,%d,%d] does not match input [%d,%d,%d,%d] in batch/channels", name,
                        (int)out.n, (int)out.h, (int)out.w, (int)out.c, (int)in.n, (int)in.h, (int)in.w, (int)in.c);
        return EMBER_ERR_ARG;
    }
    /* The first window starts at -pad (needs pad < filter); the last at
     * (out-1)*stride - pad (needs it < in). */
    if (p.pad_h >= p.filter_h || p.pad_w >= p.filter_w ||
        (int64_t)(out.h - 1) * p.stride_h - p.pad_h >= in.h ||
        (int64_t)(out.w - 1) * p.stride_w - p.pad_w >= in.w) {
        ember_set_error("%s: output %dx%d with padding %dx%d has windows outside input %dx%d", name, (int)out.h,
                        (int)out.w, (int)p.pad_h, (int)p.pad_w, (int)in.h, (int)in.w);
        return EMBER_ERR_ARG;
    }
    return ember_pool_2d_s8_check(&p, &in, &out, 0, out.n * out.h) == EMBER_OK ? EMBER_OK : EMBER_ERR_ARG;
}

/* The micro-kernel driver (uk NULL: scalar reference) and scratch-size
 * function of one pool (same signatures for both). */
typedef ember_status (*ember_pool_kernel_fn)(const struct ember_pool_ukernel *uk, const ember_pool_2d_params *p,
                                             const ember_nhwc *in, const int8_t *input, const ember_nhwc *out,
                                             int8_t *output, int32_t row_start, int32_t row_end);
typedef size_t (*ember_pool_scratch_fn)(const ember_pool_2d_params *p, const ember_nhwc *in, const ember_nhwc *out);

/* Adapter prepare of either pool: validates the record, asks the kernel's
 * scratch size and room to record the SIMD path (cpu/isa_record.h). */
static inline ember_status ember_pool_adapter_prepare(const ember_op *op, const ember_tensor *t, const char *name,
                                                      ember_pool_scratch_fn scratch_size, ember_kernel_id kernel,
                                                      size_t *scratch_bytes, size_t *persistent_bytes) {
    ember_status st = ember_pool_prepare(op, t, name);
    if (st != EMBER_OK) return st;
    const ember_pool_2d_params p = ember_pool_params_of(op);
    const ember_nhwc in = ember_nn_nhwc(&t[op->in[0]]), out = ember_nn_nhwc(&t[op->out[0]]);
    *scratch_bytes = scratch_size(&p, &in, &out);
    *persistent_bytes = ember_isa_record_bytes(kernel);
    return EMBER_OK;
}

typedef struct {
    ember_pool_kernel_fn kernel;
    const ember_pool_ukernel *uk;
    ember_pool_2d_params p;
    ember_nhwc in, out;
    const int8_t *x;
    int8_t *y;
} ember_pool_args;

static inline ember_status ember_pool_rows(const void *vargs, int32_t start, int32_t end) {
    const ember_pool_args *a = (const ember_pool_args *)vargs;
    return a->kernel(a->uk, &a->p, &a->in, a->x, &a->out, a->y, start, end);
}

/* Adapter run of either pool: output rows split across the run's pool, on
 * the micro-kernel recorded at load (scalar when none). */
static inline ember_status ember_pool_adapter_run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx,
                                                  const char *name, ember_pool_kernel_fn kernel,
                                                  ember_kernel_id kernel_id) {
    ember_pool_args a;
    a.kernel = kernel;
    a.uk = (const ember_pool_ukernel *)ember_isa_record_variant(op, kernel_id);
    a.p = ember_pool_params_of(op);
    a.in = ember_nn_nhwc(&t[op->in[0]]);
    a.out = ember_nn_nhwc(&t[op->out[0]]);
    a.x = (const int8_t *)t[op->in[0]].data;
    a.y = (int8_t *)t[op->out[0]].data;
    ember_status st = ember_parallel_range(ctx, a.out.n * a.out.h,
                                           EMBER_BYTE_OP_WORK * (int64_t)a.out.n * a.out.h * a.out.w * a.out.c * a.p.filter_h * a.p.filter_w,
                                           ember_pool_rows, &a);
    if (st != EMBER_OK) ember_set_error("%s: kernel failed (%d)", name, (int)st);
    return st;
}

#endif
