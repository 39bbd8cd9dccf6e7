/* Splitting a scalar kernel's work range across the run's thread pool.
 * The scalar kernels compute any half-open range of output rows (or FC
 * units) independently, so a range [0, total) is cut into one contiguous
 * piece per task, when the work pays for it (ember_threadpool_tasks). Scalar
 * kernels need no scratch, so pieces share nothing. Internal header: include
 * as "nn_common/parallel.h". */
#ifndef EMBER_NN_COMMON_PARALLEL_H
#define EMBER_NN_COMMON_PARALLEL_H

#include <stdint.h>

#include "ember/op.h"
#include "ember/threadpool.h"

/* Computes [start, end) of the work described by args. */
typedef ember_status (*ember_range_fn)(const void *args, int32_t start, int32_t end);

typedef struct {
    ember_range_fn fn;
    const void *args;
    int32_t total;
    ember_status status[EMBER_MAX_TASKS_PER_THREAD * EMBER_MAX_THREADS];
} ember_parallel_ctx;

static void ember_parallel_task(void *vctx, int task, int ntasks, int thread) {
    ember_parallel_ctx *c = (ember_parallel_ctx *)vctx;
    const int32_t start = (int32_t)((int64_t)c->total * task / ntasks);
    const int32_t end = (int32_t)((int64_t)c->total * (task + 1) / ntasks);
    (void)thread;
    c->status[task] = c->fn(c->args, start, end);
}

/* Runs fn over [0, total) on ctx's pool (inline without one, or when the
 * op's `work` units do not pay for splitting). */
static inline ember_status ember_parallel_range(const ember_run_ctx *ctx, int32_t total, int64_t work,
                                                ember_range_fn fn, const void *args) {
    ember_threadpool *pool = ctx ? ctx->pool : NULL;
    const int n = ember_threadpool_tasks(ember_threadpool_size(pool), total, work);
    if (n <= 1) return fn(args, 0, total);
    ember_parallel_ctx c;
    c.fn = fn;
    c.args = args;
    c.total = total;
    for (int i = 0; i < n; ++i) c.status[i] = EMBER_ERR_STATE;
    ember_threadpool_run(pool, ember_parallel_task, &c, n);
    for (int i = 0; i < n; ++i)
        if (c.status[i] != EMBER_OK) return c.status[i];
    return EMBER_OK;
}

#endif
