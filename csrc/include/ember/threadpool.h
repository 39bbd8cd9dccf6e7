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

#include <stdint.h>

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

/* Whether splitting an op pays. Work is counted in units of one int8
 * multiply-accumulate of the SIMD GEMM (CONV_2D, FULLY_CONNECTED; about
 * 20 ps on a 2020s x86 core); other work is weighted by its cost relative to
 * that (the EMBER_*_WORK factors). Handing tasks to a worker and waiting for
 * its results (cache lines of the input and output move between cores) costs
 * about 1-1.5 us, so every task carries at least EMBER_MIN_TASK_WORK units
 * (about 2.5 us) and an op with less than twice that runs inline on the
 * caller. Every engine and adapter that splits work decides through
 * ember_threadpool_tasks. */
#define EMBER_MIN_TASK_WORK 131072
/* Work units of one depthwise SIMD MAC (no reuse across output channels). */
#define EMBER_DW_MAC_WORK 4
/* Work units of one MAC of a scalar reference kernel. */
#define EMBER_SCALAR_MAC_WORK 32
/* Work units of one byte of a SIMD element-wise op or one pooling tap. */
#define EMBER_BYTE_OP_WORK 8
/* Tasks per thread for large ops (balance a core that is busy elsewhere). */
#define EMBER_MAX_TASKS_PER_THREAD 4

/* Number of tasks to cut an op of `work` units into, made of `units`
 * independent pieces (rows, channel blocks), on `threads` threads: 1 (run
 * inline) for one thread, one piece or work < 2 * EMBER_MIN_TASK_WORK; else
 * at most work / EMBER_MIN_TASK_WORK, at most units and at most
 * EMBER_MAX_TASKS_PER_THREAD * threads tasks, rounded down to a multiple of
 * threads when above it (every thread gets as many tasks). */
int ember_threadpool_tasks(int threads, int64_t units, int64_t work);

/* Monotonic nanoseconds (per-op timing). */
unsigned long long ember_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
