/* Tiny helpers shared by the C tests: a deterministic PRNG and failure
 * reporting. Each test binary exits non-zero if any check failed. */
#ifndef EMBER_TEST_HARNESS_H
#define EMBER_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

static int th_failures = 0;
static int th_checks = 0;

#define TH_CHECK(cond, ...)                                                  \
    do {                                                                     \
        ++th_checks;                                                         \
        if (!(cond)) {                                                       \
            ++th_failures;                                                   \
            if (th_failures <= 20) {                                         \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
                fprintf(stderr, __VA_ARGS__);                                \
                fprintf(stderr, "\n");                                       \
            }                                                                \
        }                                                                    \
    } while (0)

static uint64_t th_rng_state = 0x9E3779B97F4A7C15ull;
static inline uint32_t th_rand(void) {
    uint64_t x = th_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    th_rng_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}
/* Uniform in [lo, hi]. */
static inline int32_t th_range(int32_t lo, int32_t hi) {
    return lo + (int32_t)(th_rand() % (uint32_t)((int64_t)hi - lo + 1));
}

static inline int th_finish(const char *name) {
    if (th_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, th_failures, th_checks);
        return 1;
    }
    printf("%s: %d checks passed\n", name, th_checks);
    return 0;
}

#endif
