/* Monotonic clock for per-op timing (ember_plan_set_profiling). */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "ember/threadpool.h"

unsigned long long ember_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}
