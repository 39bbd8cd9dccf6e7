/* FULLY_CONNECTED scalar kernel: hand-checked cases (per-tensor with a
 * weights offset, per-channel), a naive reference, channel-range splitting
 * and argument errors. */
#include <math.h>

#include "ember/ops/fully_connected.h"
#include "ember/requant.h"
#include "nn_test_util.h"

static void test_hand(void) {
    /* 2 batches, depth 3, 2 units. input zp 1 (offset -1), weights zp 0. */
    const ember_fc_dims d = {2, 3, 2};
    const int8_t x[6] = {1, 2, 3, -1, 0, 1};
    const int8_t w[6] = {1, 1, 1, 2, 0, -2};
    const int32_t bias[2] = {4, -3};
    const int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {1, -1}; /* x1.0, x0.25 */
    ember_fully_connected_params p = {-1, 0, 0, -128, 127};
    int8_t y[4];
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, bias, mult, shift, y, 0, 2, NULL) == EMBER_OK, "run");
    /* b0: x-1 = (0,1,2): u0 = 3 + 4 = 7; u1 = 0 + 0 - 4 - 3 = -7 -> -1.75 -> -2
     * b1: x-1 = (-2,-1,0): u0 = -3 + 4 = 1; u1 = -4 - 3 = -7 -> -2 */
    NN_CHECK(y[0] == 7 && y[1] == -2 && y[2] == 1 && y[3] == -2, "got %d %d %d %d", y[0], y[1], y[2], y[3]);
    /* Weights offset (per-tensor asymmetric weights): filter zp 1 -> offset -1. */
    p.filter_offset = -1;
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, NULL, mult, shift, y, 0, 2, NULL) == EMBER_OK, "run");
    /* b0: w-1 = (0,0,0)->0; (1,-1,-3)·(0,1,2) = -7 -> -2. b1: 0; (1,-1,-3)·(-2,-1,0) = -1 -> -0.25 -> 0 */
    NN_CHECK(y[0] == 0 && y[1] == -2 && y[2] == 0 && y[3] == 0, "offset got %d %d %d %d", y[0], y[1], y[2], y[3]);
}

static void test_double_requant(void) {
    /* LiteRT reference requantization: round(acc * scale), ties away from zero. */
    NN_CHECK(ember_requant_double(5, 0.5) == 3, "2.5 -> %d", ember_requant_double(5, 0.5));
    NN_CHECK(ember_requant_double(-5, 0.5) == -3, "-2.5 -> %d", ember_requant_double(-5, 0.5));
    NN_CHECK(ember_requant_double(7, 0.25) == 2, "1.75 -> %d", ember_requant_double(7, 0.25));
    NN_CHECK(ember_requant_double(INT32_MAX, 4.0) == INT32_MAX, "saturates high");
    NN_CHECK(ember_requant_double(INT32_MIN, 4.0) == INT32_MIN, "saturates low");
    /* Where fixed point and double differ: acc 1001 * 0.25 = 250.25 -> 250 in double, while
     * mbqm(1001, 2^30, -1) double-rounds 500.5 -> 501 -> 250.5 -> 251. */
    const ember_fc_dims d = {1, 1, 1};
    const int8_t x[1] = {7}, w[1] = {11};
    const int32_t bias[1] = {924}; /* 7 * 11 + 924 = 1001 */
    const double scale[1] = {0.25};
    const int32_t mult[1] = {1 << 30}, shift[1] = {-1};
    ember_fully_connected_params p = {0, 0, 0, -128, 127};
    int8_t y = 0;
    NN_CHECK(ember_fully_connected_s8_double_requant_scalar(&p, &d, x, w, bias, scale, &y, 0, 1, NULL) == EMBER_OK &&
                 y == 127, "double requant (saturated) got %d", y);
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, bias, mult, shift, &y, 0, 1, NULL) == EMBER_OK && y == 127,
             "fixed point (saturated) got %d", y);
    p.output_offset = -100;
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, bias, mult, shift, &y, 0, 1, NULL) == EMBER_OK && y == 127,
             "fixed point got %d", y);
    p.output_offset = -200; /* 251 - 200 = 51 vs 250 - 200 = 50 */
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, bias, mult, shift, &y, 0, 1, NULL) == EMBER_OK && y == 51,
             "fixed point got %d", y);
    NN_CHECK(ember_fully_connected_s8_double_requant_scalar(&p, &d, x, w, bias, scale, &y, 0, 1, NULL) == EMBER_OK &&
                 y == 50, "double got %d", y);
    /* Random: the kernel equals the formula. */
    static int8_t xs[300], ws[300 * 9], ys[9];
    static double sc[9];
    static int32_t bs[9];
    for (int iter = 0; iter < 200; ++iter) {
        const ember_fc_dims dd = {1, nn_range(1, 300), nn_range(1, 9)};
        ember_fully_connected_params q = {nn_range(-127, 128), 0, nn_range(-128, 127), -128, 127};
        nn_fill_s8(xs, (size_t)dd.depth, -128, 127);
        nn_fill_s8(ws, (size_t)dd.depth * dd.units, -127, 127);
        for (int u = 0; u < dd.units; ++u) {
            sc[u] = (double)nn_range(1, 1 << 20) / (double)(1 << 28);
            bs[u] = nn_range(-9999, 9999);
        }
        NN_CHECK(ember_fully_connected_s8_double_requant_scalar(&q, &dd, xs, ws, bs, sc, ys, 0, dd.units, NULL) ==
                     EMBER_OK, "run");
        for (int u = 0; u < dd.units; ++u) {
            int32_t acc = bs[u];
            for (int k = 0; k < dd.depth; ++k) acc += ws[u * dd.depth + k] * (xs[k] + q.input_offset);
            const double r = (double)acc * sc[u];
            long want = (long)(r >= 0 ? floor(r + 0.5) : -floor(-r + 0.5)) + q.output_offset;
            want = want < -128 ? -128 : want > 127 ? 127 : want;
            NN_CHECK(ys[u] == want, "iter %d unit %d: %d vs %ld", iter, u, ys[u], want);
        }
    }
}

static void test_wrapping_accumulator(void) {
    /* 70000 * 127 * (127 + 128) = 2266950000 > INT32_MAX: wraps to -2028017296, as LiteRT does. */
    enum { DEPTH = 70000 };
    static int8_t xw[DEPTH], ww[DEPTH];
    memset(xw, 127, DEPTH);
    memset(ww, 127, DEPTH);
    const ember_fc_dims d = {1, DEPTH, 1};
    const ember_fully_connected_params p = {128, 0, 0, -128, 127};
    const double scale[1] = {1e-9};
    int8_t y = 0;
    NN_CHECK(ember_fully_connected_s8_double_requant_scalar(&p, &d, xw, ww, NULL, scale, &y, 0, 1, NULL) == EMBER_OK &&
                 y == -2, "wrapped double requant got %d", y);
    const int32_t mult[1] = {1 << 30}, shift[1] = {-30}; /* x 2^-31 */
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, xw, ww, NULL, mult, shift, &y, 0, 1, NULL) == EMBER_OK && y == -1,
             "wrapped fixed point got %d", y);
}

static int8_t xbuf[4096], wbuf[65536], ybuf[4096], rbuf[4096];
static int32_t bias[512], mult[512], shift[512];

static void test_random(void) {
    for (int iter = 0; iter < 300; ++iter) {
        ember_fc_dims d = {nn_range(1, 4), nn_range(1, 200), nn_range(1, 64)};
        ember_fully_connected_params p;
        p.input_offset = nn_range(-127, 128);
        p.filter_offset = (iter % 3 == 0) ? nn_range(-127, 128) : 0;
        p.output_offset = nn_range(-128, 127);
        p.act_min = nn_range(-128, 0);
        p.act_max = nn_range(p.act_min, 127);
        nn_fill_s8(xbuf, (size_t)d.batches * d.depth, -128, 127);
        nn_fill_s8(wbuf, (size_t)d.units * d.depth, -127, 127);
        const int per_tensor = iter % 2;
        for (int c = 0; c < d.units; ++c) {
            bias[c] = nn_range(-30000, 30000);
            mult[c] = (per_tensor && c) ? mult[0] : nn_range(1 << 30, 0x7fffffff);
            shift[c] = (per_tensor && c) ? shift[0] : nn_range(-14, 0);
        }
        const int32_t *bp = iter % 5 == 2 ? NULL : bias;
        for (int b = 0; b < d.batches; ++b)
            for (int u = 0; u < d.units; ++u) {
                int64_t acc = 0;
                for (int k = 0; k < d.depth; ++k)
                    acc += (int64_t)(wbuf[u * d.depth + k] + p.filter_offset) * (xbuf[b * d.depth + k] + p.input_offset);
                if (bp) acc += bp[u];
                int32_t r = ember_mbqm((int32_t)acc, mult[u], shift[u]) + p.output_offset;
                r = r < p.act_min ? p.act_min : r > p.act_max ? p.act_max : r;
                rbuf[b * d.units + u] = (int8_t)r;
            }
        const size_t ny = (size_t)d.batches * d.units;
        const int cut = nn_range(0, d.units);
        memset(ybuf, 0x55, ny);
        NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, xbuf, wbuf, bp, mult, shift, ybuf, cut, d.units, NULL) ==
                     EMBER_OK, "run");
        NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, xbuf, wbuf, bp, mult, shift, ybuf, 0, cut, NULL) == EMBER_OK,
                 "run");
        const long diff = nn_first_diff(ybuf, rbuf, ny);
        NN_CHECK(diff < 0, "iter %d (%d,%d,%d) differs at %ld", iter, d.batches, d.depth, d.units, diff);
    }
}

static void test_errors(void) {
    const ember_fc_dims d = {1, 2, 2};
    const int8_t x[2] = {0}, w[4] = {0};
    int8_t y[2];
    const int32_t m[2] = {1 << 30, 1 << 30}, s[2] = {0};
    ember_fully_connected_params p = {0, 0, 0, -128, 127};
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, NULL, m, s, y, 0, 3, NULL) == EMBER_ERR_ARG, "range");
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, NULL, NULL, m, s, y, 0, 2, NULL) == EMBER_ERR_ARG, "null");
    const ember_fc_dims bad = {1, 0, 2};
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &bad, x, w, NULL, m, s, y, 0, 2, NULL) == EMBER_ERR_ARG, "depth");
    p.act_min = 5;
    p.act_max = 4;
    NN_CHECK(ember_fully_connected_s8_scalar(&p, &d, x, w, NULL, m, s, y, 0, 2, NULL) == EMBER_ERR_ARG, "act");
}

int main(void) {
    test_hand();
    test_double_requant();
    test_wrapping_accumulator();
    test_random();
    test_errors();
    return nn_report("test_fully_connected");
}
