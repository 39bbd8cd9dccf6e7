/* Edge-case tests of the requantization helpers (ember/requant.h,
 * csrc/common/requant.c): a hand-derived table (requant_cases.h, shared with
 * tests/test_requant.py), then sweeps of edge values and pseudo-random
 * values against independent exact formulations in 64-bit arithmetic. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ember/requant.h"
#include "requant_cases.h"

static int failures = 0;

#define CHECK_EQ(got, want, ...)                                                          \
    do {                                                                                  \
        long long g_ = (long long)(got), w_ = (long long)(want);                          \
        if (g_ != w_) {                                                                   \
            if (failures < 30) {                                                          \
                printf("FAIL %s:%d: got %lld want %lld: ", __FILE__, __LINE__, g_, w_);   \
                printf(__VA_ARGS__);                                                      \
                printf("\n");                                                             \
            }                                                                             \
            ++failures;                                                                   \
        }                                                                                 \
    } while (0)

/* floor((a*b + 2^30) / 2^31), saturating. */
static int32_t ref_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    const int64_t v = (int64_t)a * b + (INT64_C(1) << 30);
    const int64_t q = v >= 0 ? v / (INT64_C(1) << 31) : -((-v + (INT64_C(1) << 31) - 1) / (INT64_C(1) << 31));
    return (int32_t)q;
}

/* x / 2^e rounded half away from zero. */
static int32_t ref_rdbpot(int32_t x, int e) {
    if (e == 0) return x;
    const int64_t half = INT64_C(1) << (e - 1);
    const int64_t ax = x < 0 ? -(int64_t)x : (int64_t)x;
    const int64_t q = (ax + half) >> e;
    return (int32_t)(x < 0 ? -q : q);
}

static int32_t ref_mbqm(int32_t x, int32_t m, int s) {
    const int left = s > 0 ? s : 0;
    const int right = s > 0 ? 0 : -s;
    const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(uint32_t)x << left);
    return ref_rdbpot(ref_srdhm(shifted, m), right);
}

static int32_t call_case(const char *fn, int64_t a, int64_t b, int64_t c) {
    if (fn[0] == 's') return ember_srdhm((int32_t)a, (int32_t)b);
    if (fn[0] == 'r') return ember_rdbpot((int32_t)a, (int)b);
    return ember_mbqm((int32_t)a, (int32_t)b, (int)c);
}

static int32_t ref_case(const char *fn, int64_t a, int64_t b, int64_t c) {
    if (fn[0] == 's') return ref_srdhm((int32_t)a, (int32_t)b);
    if (fn[0] == 'r') return ref_rdbpot((int32_t)a, (int)b);
    return ref_mbqm((int32_t)a, (int32_t)b, (int)c);
}

static void test_table(void) {
    int n = 0;
#define RUN_CASE(fn, a, b, c, want)                                                               \
    CHECK_EQ(call_case(#fn, (a), (b), (c)), (want), "%s(%lld, %lld, %lld)", #fn, (long long)(a), \
             (long long)(b), (long long)(c));                                                    \
    CHECK_EQ(ref_case(#fn, (a), (b), (c)), (want), "reference %s(%lld, %lld, %lld)", #fn,        \
             (long long)(a), (long long)(b), (long long)(c));                                    \
    ++n;
    EMBER_REQUANT_CASES(RUN_CASE)
#undef RUN_CASE
    CHECK_EQ(n >= 50, 1, "table has %d cases", n);
}

static const int32_t k_edges[] = {INT32_MIN, INT32_MIN + 1, -1073741825, -1073741824, -1073741823, -65536,
                                  -32769, -255, -128, -3, -2, -1, 0, 1, 2, 3, 127, 255, 32768, 65536,
                                  1073741823, 1073741824, 1073741825, INT32_MAX - 1, INT32_MAX};
#define N_EDGES ((int)(sizeof(k_edges) / sizeof(k_edges[0])))

static void test_edges(void) {
    for (int i = 0; i < N_EDGES; ++i) {
        for (int j = 0; j < N_EDGES; ++j) {
            const int32_t a = k_edges[i], b = k_edges[j];
            CHECK_EQ(ember_srdhm(a, b), ref_srdhm(a, b), "srdhm(%d, %d)", (int)a, (int)b);
            CHECK_EQ(ember_srdhm(a, b), ember_srdhm(b, a), "srdhm symmetry (%d, %d)", (int)a, (int)b);
            if (b >= 0) {
                for (int s = -31; s <= 30; ++s) {
                    CHECK_EQ(ember_mbqm(a, b, s), ref_mbqm(a, b, s), "mbqm(%d, %d, %d)", (int)a, (int)b, s);
                    if (s <= 0)
                        CHECK_EQ(ember_mbqm_smaller_than_one(a, b, s), ref_mbqm(a, b, s),
                                 "mbqm_smaller_than_one(%d, %d, %d)", (int)a, (int)b, s);
                    if (s >= 0)
                        CHECK_EQ(ember_mbqm_greater_than_one(a, b, s), ref_srdhm((int32_t)((uint32_t)a << s), b),
                                 "mbqm_greater_than_one(%d, %d, %d)", (int)a, (int)b, s);
                }
            }
        }
        for (int e = 0; e <= 31; ++e) {
            CHECK_EQ(ember_rdbpot(k_edges[i], e), ref_rdbpot(k_edges[i], e), "rdbpot(%d, %d)", (int)k_edges[i], e);
        }
    }
    /* Every tie of rdbpot for small exponents: (2k+1) * 2^(e-1). */
    for (int e = 1; e <= 30; ++e) {
        for (int k = -40; k <= 40; ++k) {
            const int64_t x = (int64_t)(2 * k + 1) * (INT64_C(1) << (e - 1));
            if (x < INT32_MIN || x > INT32_MAX) continue;
            const int32_t want = (int32_t)(k >= 0 ? k + 1 : k); /* half away from zero */
            CHECK_EQ(ember_rdbpot((int32_t)x, e), want, "rdbpot tie (%lld, %d)", (long long)x, e);
        }
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_random(void) {
    for (int i = 0; i < 2000000; ++i) {
        const int32_t a = (int32_t)rnd();
        const int32_t b = (int32_t)rnd();
        const int e = (int)(rnd() % 32);
        const int s = (int)(rnd() % 62) - 31;
        const int32_t m = (int32_t)(rnd() & 0x7fffffff);
        if (ember_srdhm(a, b) != ref_srdhm(a, b)) CHECK_EQ(ember_srdhm(a, b), ref_srdhm(a, b), "srdhm(%d, %d)", a, b);
        if (ember_rdbpot(a, e) != ref_rdbpot(a, e)) CHECK_EQ(ember_rdbpot(a, e), ref_rdbpot(a, e), "rdbpot(%d, %d)", a, e);
        if (ember_mbqm(a, m, s) != ref_mbqm(a, m, s)) CHECK_EQ(ember_mbqm(a, m, s), ref_mbqm(a, m, s), "mbqm(%d, %d, %d)", a, m, s);
        /* Small accumulators as kernels see them. */
        const int32_t acc = (int32_t)(rnd() % 2000001) - 1000000;
        if (ember_mbqm(acc, m, s) != ref_mbqm(acc, m, s))
            CHECK_EQ(ember_mbqm(acc, m, s), ref_mbqm(acc, m, s), "mbqm(%d, %d, %d)", acc, m, s);
    }
}

static void expect_qm(double real, int32_t want_m, int want_s) {
    int32_t m = -7;
    int s = -7;
    const int rc = ember_quantize_multiplier(real, &m, &s);
    CHECK_EQ(rc, 0, "quantize_multiplier(%.17g) failed", real);
    CHECK_EQ(m, want_m, "quantize_multiplier(%.17g) multiplier", real);
    CHECK_EQ(s, want_s, "quantize_multiplier(%.17g) shift", real);
}

static void expect_qm_error(double real) {
    int32_t m = 0;
    int s = 0;
    CHECK_EQ(ember_quantize_multiplier(real, &m, &s) != 0, 1, "quantize_multiplier(%.17g) should fail", real);
}

static void test_quantize_multiplier(void) {
    expect_qm(0.0, 0, 0);
    expect_qm(0.5, 1073741824, 0);
    expect_qm(1.0, 1073741824, 1);
    expect_qm(0.25, 1073741824, -1);
    expect_qm(0.75, 1610612736, 0);
    expect_qm(1.0 - ldexp(1.0, -33), 1073741824, 1);       /* rounds up to 2^31: halved, shift + 1 */
    expect_qm(0.5 - ldexp(1.0, -34), 1073741824, 0);       /* q = 1 - 2^-33 -> 2^31 -> 2^30, exp -1 + 1 */
    expect_qm(1.0 - ldexp(1.0, -31), 2147483647, 0);       /* largest mantissa that stays below 2^31 */
    expect_qm(0.5 + ldexp(1.0, -32), 1073741825, 0);       /* q*2^31 = 2^30 + 0.5: tie away from zero */
    expect_qm(0.5 + ldexp(1.0, -33), 1073741824, 0);       /* 2^30 + 0.25 rounds down */
    expect_qm(ldexp(1.0, -32), 1073741824, -31);           /* smallest kept shift */
    expect_qm(ldexp(1.0, -33), 0, 0);                      /* shift -32: flushed to zero */
    expect_qm(ldexp(1.0, -40), 0, 0);
    expect_qm(ldexp(1.0, 29), 1073741824, 30);             /* largest shift */
    expect_qm(ldexp(1.0, 30) - 1.0, 2147483646, 30);       /* (2^31 - 2) * 2^(30-31) */
    expect_qm_error(ldexp(1.0, 30));                       /* needs shift 31 */
    expect_qm_error(-0.5);
    expect_qm_error(NAN);
    expect_qm_error(INFINITY);
    /* Round trip: m * 2^(s-31) is within half an ulp of Q31 of real. */
    for (int i = 0; i < 100000; ++i) {
        const double real = ldexp((double)(rnd() | 1u) / 4294967296.0, (int)(rnd() % 50) - 35);
        int32_t m;
        int s;
        if (ember_quantize_multiplier(real, &m, &s) != 0) {
            CHECK_EQ(1, 0, "quantize_multiplier(%.17g) failed", real);
            continue;
        }
        if (m == 0) {
            CHECK_EQ(real < ldexp(1.0, -32), 1, "flushed %.17g", real);
            continue;
        }
        CHECK_EQ(m >= 1073741824, 1, "multiplier %d below 2^30 for %.17g", m, real);
        const double back = ldexp((double)m, s - 31);
        CHECK_EQ(fabs(back - real) <= ldexp(1.0, s - 32), 1, "round trip %.17g -> %d,%d", real, m, s);
    }
}

int main(void) {
    test_table();
    test_edges();
    test_random();
    test_quantize_multiplier();
    if (failures) {
        printf("test_requant: %d failures\n", failures);
        return 1;
    }
    printf("test_requant: ok\n");
    return 0;
}
