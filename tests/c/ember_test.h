/* Tiny test helpers for the C unit tests: CHECK prints what failed and
 * counts; each test's main returns non-zero when anything failed. */
#ifndef EMBER_TEST_H
#define EMBER_TEST_H

#include <stdio.h>

static int ember_test_failures = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++ember_test_failures;                                                  \
        }                                                                           \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                          \
    do {                                                                                            \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                       \
        if (va_ != vb_) {                                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, \
                    #b, va_, vb_);                                                                  \
            ++ember_test_failures;                                                                  \
        }                                                                                           \
    } while (0)

#define TEST_DONE(name)                                                       \
    do {                                                                      \
        if (ember_test_failures) {                                            \
            fprintf(stderr, "%s: %d check(s) failed\n", name, ember_test_failures); \
            return 1;                                                         \
        }                                                                     \
        printf("%s: ok\n", name);                                             \
        return 0;                                                             \
    } while (0)

#endif
