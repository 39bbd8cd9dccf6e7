/* Persistent pthread pool (see ember/threadpool.h). A run publishes the job
 * under the mutex and bumps a generation counter; workers notice it by
 * spinning on the counter for a short while, then by sleeping on cv_work.
 * Tasks are claimed with an atomic counter and the caller waits only for
 * claimed tasks to complete (not for every worker to wake up), so a worker
 * the OS has not scheduled yet never delays a run: the caller simply takes
 * its tasks. A late worker finds no task left, or claims (CAS on one word
 * holding task count and next index) a task of the job current at that
 * moment; fn/ctx are published before that word and stay valid until every
 * claimed task of the job has completed. */
#define _GNU_SOURCE
#include "ember/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef struct {
    struct ember_threadpool *pool;
    int index; /* 1..n-1 (0 is the caller) */
} ember_worker;

struct ember_threadpool {
    int n;
    pthread_t workers[EMBER_MAX_THREADS];
    ember_worker worker_args[EMBER_MAX_THREADS];
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    unsigned gen;   /* bumped per run; read atomically while spinning */
    int done;       /* atomic: tasks of the current run completed */
    int stop;
    ember_task_fn fn;
    void *ctx;
    /* atomic claim word: (ntasks << 32) | next task index. One word, so a
     * claim (CAS) always refers to the job current when it succeeds. */
    unsigned long long claim;
};

#define EMBER_SPIN_ITERS 20000

static void ember_pool_work(ember_threadpool *p, int thread) {
    for (;;) {
        unsigned long long c = __atomic_load_n(&p->claim, __ATOMIC_ACQUIRE);
        const int n = (int)(c >> 32), t = (int)(c & 0xffffffffu);
        if (t >= n) break;
        if (!__atomic_compare_exchange_n(&p->claim, &c, c + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
        p->fn(p->ctx, t, n, thread);
        __atomic_fetch_add(&p->done, 1, __ATOMIC_ACQ_REL);
    }
}

static void *ember_pool_main(void *arg) {
    const ember_worker *w = (const ember_worker *)arg;
    ember_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        for (int i = 0; i < EMBER_SPIN_ITERS && __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == seen &&
                        !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);
             ++i) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        ember_pool_work(p, w->index);
    }
}

ember_threadpool *ember_threadpool_create(int num_threads) {
    if (num_threads < 1 || num_threads > EMBER_MAX_THREADS) return NULL;
    ember_threadpool *p = (ember_threadpool *)calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = num_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    for (int i = 0; i < num_threads - 1; ++i) {
        p->worker_args[i].pool = p;
        p->worker_args[i].index = i + 1;
        if (pthread_create(&p->workers[i], NULL, ember_pool_main, &p->worker_args[i]) != 0) {
            ember_threadpool_destroy(p);
            return NULL;
        }
        p->started++;
    }
    return p;
}

void ember_threadpool_destroy(ember_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; ++i) pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int ember_threadpool_size(const ember_threadpool *p) { return p ? p->n : 1; }

void ember_threadpool_run(ember_threadpool *p, ember_task_fn fn, void *ctx, int ntasks) {
    if (ntasks <= 0) return;
    if (!p || p->started == 0 || ntasks == 1) {
        for (int t = 0; t < ntasks; ++t) fn(ctx, t, ntasks, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    __atomic_store_n(&p->done, 0, __ATOMIC_RELEASE);
    /* Claims of this job are possible from here on (the word was exhausted). */
    __atomic_store_n(&p->claim, (unsigned long long)ntasks << 32, __ATOMIC_RELEASE);
    __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    ember_pool_work(p, 0);
    /* Wait for tasks claimed by workers; spin, then yield the core. */
    for (unsigned i = 0; __atomic_load_n(&p->done, __ATOMIC_ACQUIRE) < ntasks; ++i) {
        if (i < EMBER_SPIN_ITERS) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            sched_yield();
        }
    }
}

int ember_threadpool_tasks(int threads, int64_t units, int64_t work) {
    if (threads <= 1 || units <= 1 || work < 2 * (int64_t)EMBER_MIN_TASK_WORK) return 1;
    int64_t n = work / EMBER_MIN_TASK_WORK;
    const int64_t most = (int64_t)EMBER_MAX_TASKS_PER_THREAD * threads;
    if (n > most) n = most;
    if (n > units) n = units;
    if (n > threads) n -= n % threads;
    return (int)n;
}
