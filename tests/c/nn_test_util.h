/* Small helpers for the kernel tests of conv/depthwise/fc/pool/pad
 * (tests/c/test_*.c): failure counting, a deterministic RNG and random
 * int8 fills. Header-only so each test stays one executable. */
#ifndef EMBER_TESTS_NN_TEST_UTIL_H
#define EMBER_TESTS_NN_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ember/ops/nhwc.h"
#include "ember/requant.h"

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

/* SAME or VALID padding (drawn) for a window of eff_h x eff_w over `in`, as
 * TFLite computes it: sets out->h, out->w, *pad_h, *pad_w. Returns 0 when VALID
 * padding leaves no output. */
static inline int nn_random_padding(const ember_nhwc *in, int32_t eff_h, int32_t eff_w, int32_t stride_h,
                                    int32_t stride_w, ember_nhwc *out, int32_t *pad_h, int32_t *pad_w) {
    if (nn_range(0, 1)) {
        out->h = (in->h + stride_h - 1) / stride_h;
        out->w = (in->w + stride_w - 1) / stride_w;
        const int32_t th = (out->h - 1) * stride_h + eff_h - in->h, tw = (out->w - 1) * stride_w + eff_w - in->w;
        *pad_h = th > 0 ? th / 2 : 0;
        *pad_w = tw > 0 ? tw / 2 : 0;
        return 1;
    }
    out->h = (in->h - eff_h + stride_h) / stride_h;
    out->w = (in->w - eff_w + stride_w) / stride_w;
    *pad_h = *pad_w = 0;
    return out->h >= 1 && out->w >= 1;
}

/* Random conv window for a kh x kw filter over `in` (test_conv_2d.c,
 * test_depthwise_conv_2d.c): stride in [1, 3], dilation in [1, 2], then
 * nn_random_padding. Pass NN_WINDOW_FIELDS(p). */
#define NN_WINDOW_FIELDS(p) &(p).stride_h, &(p).stride_w, &(p).dilation_h, &(p).dilation_w, &(p).pad_h, &(p).pad_w

static inline int nn_random_window(const ember_nhwc *in, int32_t kh, int32_t kw, ember_nhwc *out, int32_t *stride_h,
                                   int32_t *stride_w, int32_t *dilation_h, int32_t *dilation_w, int32_t *pad_h,
                                   int32_t *pad_w) {
    *stride_h = nn_range(1, 3);
    *stride_w = nn_range(1, 3);
    *dilation_h = nn_range(1, 2);
    *dilation_w = nn_range(1, 2);
    return nn_random_padding(in, (kh - 1) * *dilation_h + 1, (kw - 1) * *dilation_w + 1, *stride_h, *stride_w, out,
                             pad_h, pad_w);
}

/* Requantizes a naive reference's 64-bit sum of channel oc: + bias, ember_mbqm,
 * + output offset, clamp to [act_min, act_max]. */
static inline int8_t nn_requant_ref(int64_t acc, const int32_t *bias, int oc, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min, int32_t act_max) {
    if (bias) acc += bias[oc];
    int32_t r = ember_mbqm((int32_t)acc, mult[oc], shift[oc]) + output_offset;
    r = r < act_min ? act_min : r > act_max ? act_max : r;
    return (int8_t)r;
}

#endif
