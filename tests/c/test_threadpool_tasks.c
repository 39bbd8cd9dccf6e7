/* ember_threadpool_tasks: when an op is split and into how many tasks. */
#include "ember/threadpool.h"
#include "test_harness.h"

int main(void) {
    const int64_t min = EMBER_MIN_TASK_WORK;
    /* one thread, one piece or too little work: inline */
    TH_CHECK(ember_threadpool_tasks(1, 1000, 1000 * min) == 1, "one thread runs inline");
    TH_CHECK(ember_threadpool_tasks(4, 1, 1000 * min) == 1, "one piece runs inline");
    TH_CHECK(ember_threadpool_tasks(4, 0, 1000 * min) == 1, "no piece runs inline");
    TH_CHECK(ember_threadpool_tasks(2, 1000, 2 * min - 1) == 1, "below 2 * EMBER_MIN_TASK_WORK runs inline");
    TH_CHECK(ember_threadpool_tasks(2, 1000, 0) == 1, "no work runs inline");
    /* just above: as many tasks as EMBER_MIN_TASK_WORK pieces fit */
    TH_CHECK(ember_threadpool_tasks(2, 1000, 2 * min) == 2, "2 threads, 2 tasks' work");
    TH_CHECK(ember_threadpool_tasks(3, 1000, 2 * min) == 2, "3 threads, 2 tasks' work");
    TH_CHECK(ember_threadpool_tasks(3, 1000, 3 * min) == 3, "3 threads, 3 tasks' work");
    /* above threads: a multiple of threads, at most EMBER_MAX_TASKS_PER_THREAD each */
    TH_CHECK(ember_threadpool_tasks(2, 1000, 5 * min) == 4, "5 tasks' work on 2 threads: 4 tasks");
    TH_CHECK(ember_threadpool_tasks(2, 1000, 1000 * min) == 2 * EMBER_MAX_TASKS_PER_THREAD, "large op, 2 threads");
    TH_CHECK(ember_threadpool_tasks(EMBER_MAX_THREADS, 1 << 30, (int64_t)1 << 50) ==
                 EMBER_MAX_THREADS * EMBER_MAX_TASKS_PER_THREAD,
             "largest pool");
    /* never more tasks than pieces */
    TH_CHECK(ember_threadpool_tasks(4, 3, 1000 * min) == 3, "3 pieces on 4 threads");
    TH_CHECK(ember_threadpool_tasks(2, 6, 1000 * min) == 6, "6 pieces on 2 threads");
    TH_CHECK(ember_threadpool_tasks(4, 7, 1000 * min) == 4, "7 pieces on 4 threads: one task each");
    for (int threads = 1; threads <= 8; ++threads)
        for (int64_t units = 0; units <= 40; ++units)
            for (int64_t work = 0; work <= 40 * min; work += min / 2) {
                const int n = ember_threadpool_tasks(threads, units, work);
                TH_CHECK(n >= 1 && (n == 1 || (n <= units && work / n >= min)),
                         "threads %d units %lld work %lld: %d tasks", threads, (long long)units, (long long)work, n);
                TH_CHECK(n <= threads || n % threads == 0, "threads %d: %d tasks, not a multiple", threads, n);
                TH_CHECK(n <= threads * EMBER_MAX_TASKS_PER_THREAD, "threads %d: %d tasks", threads, n);
            }
    if (th_failures) {
        fprintf(stderr, "%d of %d checks failed\n", th_failures, th_checks);
        return 1;
    }
    printf("ok: %d checks\n", th_checks);
    return 0;
}
