/* Persistent pthread pool (see ember/threadpool.h). A run publishes the job
 * under the mutex and bumps a generation counter; workers notice it by
 * spinning on the counter for a short while, then by sleeping on cv_work.
 * Tasks are claimed with an atomic counter, so uneven tasks balance. */
#define _GNU_SOURCE
#include "ember/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

struct ember_threadpool {
    int n;
    pthread_t workers[EMBER_MAX_THREADS];
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    unsigned gen;   /* bumped per run; read atomically while spinning */
    int pending;    /* workers that have not finished the current run */
    int stop;
    ember_task_fn fn;
    void *ctx;
    int ntasks;
    int next_task;  /* atomic */
};

#define EMBER_SPIN_ITERS 20000

static void ember_pool_work(ember_threadpool *p) {
    for (;;) {
        const int t = __atomic_fetch_add(&p->next_task, 1, __ATOMIC_ACQ_REL);
        if (t >= p->ntasks) break;
        p->fn(p->ctx, t, p->ntasks);
    }
}

static void *ember_pool_main(void *arg) {
    ember_threadpool *p = (ember_threadpool *)arg;
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
        ember_pool_work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
}

ember_threadpool *ember_threadpool_create(int num_threads) {
    if (num_threads < 1 || num_threads > EMBER_MAX_THREADS) return NULL;
    ember_threadpool *p = (ember_threadpool *)calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = num_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    for (int i = 0; i < num_threads - 1; ++i) {
        if (pthread_create(&p->workers[i], NULL, ember_pool_main, p) != 0) {
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
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int ember_threadpool_size(const ember_threadpool *p) { return p ? p->n : 1; }

void ember_threadpool_run(ember_threadpool *p, ember_task_fn fn, void *ctx, int ntasks) {
    if (ntasks <= 0) return;
    if (!p || p->started == 0 || ntasks == 1) {
        for (int t = 0; t < ntasks; ++t) fn(ctx, t, ntasks);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    __atomic_store_n(&p->next_task, 0, __ATOMIC_RELEASE);
    p->pending = p->started;
    __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    ember_pool_work(p);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
