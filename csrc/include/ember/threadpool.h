/* A small persistent thread pool for splitting one op across cores.
 *
 * ember_threadpool_run(pool, fn, ctx, ntasks) calls fn(ctx, task, ntasks, thread) for
 * every task in [0, ntasks) and returns when all are done. The calling thread
 * takes part, so a pool of n threads starts n-1 workers. Workers spin briefly
 * after a run (µs-scale layers follow each other) and then sleep on a
 * condition variable. A NULL pool or n == 1 runs the tasks inline.
 * Kernels receive the pool through ember_run_ctx (ember/op.h); they never
 * create one. Not reentrant: one run at a time per pool. */
#ifndef EMBER_THREADPOOL_H
#define EMBER_THREADPOOL_H

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ember_threadpool ember_threadpool;
/* thread: index of the running thread in [0, size) (0 = the caller), e.g.
 * to pick per-thread scratch; tasks may outnumber threads. */
typedef void (*ember_task_fn)(void *ctx, int task, int ntasks, int thread);

#define EMBER_MAX_THREADS 64

/* num_threads in [1, EMBER_MAX_THREADS]. NULL on bad argument or failure. */
ember_threadpool *ember_threadpool_create(int num_threads);
void ember_threadpool_destroy(ember_threadpool *pool);
/* Threads that run tasks (workers + caller); 1 for NULL. */
int ember_threadpool_size(const ember_threadpool *pool);
void ember_threadpool_run(ember_threadpool *pool, ember_task_fn fn, void *ctx, int ntasks);

/* Monotonic nanoseconds (per-op timing). */
unsigned long long ember_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
