/* The average pool's rounded division by the tap count without a divide
 * instruction, for the SIMD micro-kernels. Internal header: include as
 * "nn_common/pool_div.h".
 *
 * TFLite rounds sum / n half away from zero with C division:
 *   sum > 0 ? (sum + n/2) / n : (sum - n/2) / n
 * which is sign(sum) * floor(u / n) with u = |sum| + n/2. For u < 2^31 the
 * floor is exact as a multiply and shift (Granlund-Montgomery, round-up
 * variant): with l = ceil(log2 n) and m = ceil(2^(31+l) / n) < 2^32,
 *   floor(u / n) == (u * m) >> (31 + l)
 * because m * n - 2^(31+l) < n <= 2^l makes the error term u * (m * n -
 * 2^(31+l)) / (n * 2^(31+l)) < 2^-l <= 1/n. The micro-kernels need
 * |sum| <= 128 * n and n <= EMBER_POOL_UKERNEL_MAX_TAPS (2^23), so u < 2^31. */
#ifndef EMBER_NN_COMMON_POOL_DIV_H
#define EMBER_NN_COMMON_POOL_DIV_H

#include <stdint.h>

typedef struct {
    uint32_t magic; /* m */
    int32_t shift;  /* 31 + l, in [31, 54] */
    int32_t half;   /* n / 2 */
} ember_pool_div;

static inline ember_pool_div ember_pool_div_make(uint32_t n) {
    ember_pool_div d;
    int32_t l = 0;
    while ((UINT64_C(1) << l) < n) ++l;
    d.magic = (uint32_t)(((UINT64_C(1) << (31 + l)) + n - 1) / n);
    d.shift = 31 + l;
    d.half = (int32_t)(n / 2);
    return d;
}

/* The rounded average of one sum (the scalar form of what the kernels do). */
static inline int32_t ember_pool_div_apply(const ember_pool_div *d, int32_t sum) {
    const uint32_t u = (uint32_t)(sum < 0 ? -sum : sum) + (uint32_t)d->half;
    const int32_t q = (int32_t)(((uint64_t)u * d->magic) >> d->shift);
    return sum < 0 ? -q : q;
}

/* TFLite's formula with C division (the micro-kernels' channel tails). */
static inline int32_t ember_pool_avg_round(int32_t sum, int32_t n) {
    return sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
}

#endif
