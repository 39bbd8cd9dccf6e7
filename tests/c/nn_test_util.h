/* Small helpers for the kernel tests of conv/depthwise/fc/pool/pad
 * (tests/c/test_*.c): failure counting, a deterministic RNG and random
 * int8 fills. Header-only so each test stays one executable. */
#ifndef EMBER_TESTS_NN_TEST_UTIL_H
#define EMBER_TESTS_NN_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int nn_failures = 0;

#define NN_CHECK(cond, ...)                                                 \
    do {                                                                    \
        if (!(cond)) {                                                      \
            if (nn_failures < 20) {                                         \
                printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
                printf(__VA_ARGS__);                                        \
                printf("\n");                                               \
            }                                                               \
            ++nn_failures;                                                  \
        }                                                                   \
    } while (0)

static uint64_t nn_rng = 0x2545F4914F6CDD1Dull;

static uint32_t nn_rand(void) {
    nn_rng ^= nn_rng << 13;
    nn_rng ^= nn_rng >> 7;
    nn_rng ^= nn_rng << 17;
    return (uint32_t)(nn_rng >> 11);
}

/* Uniform in [lo, hi]. */
static int32_t nn_range(int32_t lo, int32_t hi) {
    return lo + (int32_t)(nn_rand() % (uint32_t)(hi - lo + 1));
}

static void nn_fill_s8(int8_t *p, size_t n, int lo, int hi) {
    for (size_t i = 0; i < n; ++i) p[i] = (int8_t)nn_range(lo, hi);
}

/* Index of the first difference, or -1. */
static long nn_first_diff(const int8_t *a, const int8_t *b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return (long)i;
    return -1;
}

static int nn_report(const char *name) {
    if (nn_failures) {
        printf("%s: %d failures\n", name, nn_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
