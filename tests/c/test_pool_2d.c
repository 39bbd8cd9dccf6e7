/* AVERAGE_POOL_2D and MAX_POOL_2D scalar kernels: hand-checked cases
 * (rounding of negative averages, clipped windows), a naive reference,
 * row-range splitting and argument errors. */
#include "ember/ops/average_pool_2d.h"
#include "ember/ops/max_pool_2d.h"
#include "nn_test_util.h"

static void test_hand(void) {
    /* 1x2x2x1 input, 2x2 window VALID. */
    const ember_nhwc in = {1, 2, 2, 1}, out = {1, 1, 1, 1};
    ember_pool_2d_params p = {2, 2, 2, 2, 0, 0, -128, 127};
    int8_t y[1];
    const int8_t a[4] = {1, 2, 3, 4};     /* 10/4 = 2.5 -> 3 */
    const int8_t b[4] = {-1, -2, -3, -4}; /* -2.5 -> -3 */
    const int8_t c[4] = {-1, -2, -3, -3}; /* -2.25 -> -2 */
    const int8_t e[4] = {-128, -128, -128, 127};
    NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, a, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == 3, "a %d", y[0]);
    NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, b, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == -3, "b %d", y[0]);
    NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, c, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == -2, "c %d", y[0]);
    NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, e, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == -64, "e %d", y[0]);
    NN_CHECK(ember_max_pool_2d_s8_scalar(&p, &in, b, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == -1, "max b %d", y[0]);
    NN_CHECK(ember_max_pool_2d_s8_scalar(&p, &in, e, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == 127, "max e %d", y[0]);
    p.act_max = 100;
    NN_CHECK(ember_max_pool_2d_s8_scalar(&p, &in, e, &out, y, 0, 1, NULL) == EMBER_OK && y[0] == 100, "clamp %d", y[0]);
    /* SAME 3x3 stride 1 on 2x2: corner windows are clipped to the 4 pixels. */
    const ember_nhwc out2 = {1, 2, 2, 1};
    ember_pool_2d_params q = {1, 1, 3, 3, 1, 1, -128, 127};
    int8_t y4[4];
    NN_CHECK(ember_average_pool_2d_s8_scalar(&q, &in, a, &out2, y4, 0, 2, NULL) == EMBER_OK, "same");
    NN_CHECK(y4[0] == 3 && y4[1] == 3 && y4[2] == 3 && y4[3] == 3, "same got %d %d %d %d", y4[0], y4[1], y4[2], y4[3]);
    /* A window entirely in the padding is an error. */
    ember_pool_2d_params bad = {1, 1, 1, 1, 1, 1, -128, 127};
    const ember_nhwc out3 = {1, 2, 2, 1};
    NN_CHECK(ember_average_pool_2d_s8_scalar(&bad, &in, a, &out3, y4, 0, 2, NULL) == EMBER_ERR_ARG, "empty window");
    NN_CHECK(ember_max_pool_2d_s8_scalar(&bad, &in, a, &out3, y4, 0, 2, NULL) == EMBER_ERR_ARG, "empty window");
}

static int8_t xbuf[20000], ybuf[20000], rbuf[20000], mbuf[20000], rmbuf[20000];

static void test_random(void) {
    for (int iter = 0; iter < 400; ++iter) {
        ember_nhwc in = {nn_range(1, 2), nn_range(1, 12), nn_range(1, 12), nn_range(1, 8)}, out;
        ember_pool_2d_params p;
        p.filter_h = nn_range(1, 4);
        p.filter_w = nn_range(1, 4);
        p.stride_h = nn_range(1, 3);
        p.stride_w = nn_range(1, 3);
        out.n = in.n;
        out.c = in.c;
        if (!nn_random_padding(&in, p.filter_h, p.filter_w, p.stride_h, p.stride_w, &out, &p.pad_h, &p.pad_w))
            continue;
        p.act_min = nn_range(-128, 0);
        p.act_max = nn_range(p.act_min, 127);
        nn_fill_s8(xbuf, (size_t)in.n * in.h * in.w * in.c, -128, 127);
        for (int b = 0; b < out.n; ++b)
            for (int oy = 0; oy < out.h; ++oy)
                for (int ox = 0; ox < out.w; ++ox)
                    for (int c = 0; c < out.c; ++c) {
                        int sum = 0, n = 0, mx = -1000;
                        for (int ky = 0; ky < p.filter_h; ++ky)
                            for (int kx = 0; kx < p.filter_w; ++kx) {
                                const int iy = oy * p.stride_h - p.pad_h + ky, ix = ox * p.stride_w - p.pad_w + kx;
                                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                                const int v = xbuf[((b * in.h + iy) * in.w + ix) * in.c + c];
                                sum += v;
                                ++n;
                                mx = v > mx ? v : mx;
                            }
                        /* round half away from zero, via doubles */
                        const double avg = (double)sum / n;
                        int r = (int)(avg >= 0 ? avg + 0.5 : avg - 0.5);
                        r = r < p.act_min ? p.act_min : r > p.act_max ? p.act_max : r;
                        mx = mx < p.act_min ? p.act_min : mx > p.act_max ? p.act_max : mx;
                        const size_t o = ((size_t)(b * out.h + oy) * out.w + ox) * out.c + c;
                        rbuf[o] = (int8_t)r;
                        rmbuf[o] = (int8_t)mx;
                    }
        const size_t ny = (size_t)out.n * out.h * out.w * out.c;
        const int rows = out.n * out.h, cut = nn_range(0, rows);
        memset(ybuf, 0x55, ny);
        memset(mbuf, 0x55, ny);
        NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, xbuf, &out, ybuf, 0, cut, NULL) == EMBER_OK, "avg");
        NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, xbuf, &out, ybuf, cut, rows, NULL) == EMBER_OK, "avg");
        NN_CHECK(ember_max_pool_2d_s8_scalar(&p, &in, xbuf, &out, mbuf, 0, rows, NULL) == EMBER_OK, "max");
        NN_CHECK(nn_first_diff(ybuf, rbuf, ny) < 0, "iter %d avg differs at %ld", iter, nn_first_diff(ybuf, rbuf, ny));
        NN_CHECK(nn_first_diff(mbuf, rmbuf, ny) < 0, "iter %d max differs at %ld", iter, nn_first_diff(mbuf, rmbuf, ny));
    }
}

static void test_errors(void) {
    const ember_nhwc in = {1, 2, 2, 1}, out = {1, 1, 1, 1}, bad_out = {1, 1, 1, 2};
    const int8_t x[4] = {0};
    int8_t y[2];
    ember_pool_2d_params p = {2, 2, 2, 2, 0, 0, -128, 127};
    NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, x, &bad_out, y, 0, 1, NULL) == EMBER_ERR_ARG, "channels");
    NN_CHECK(ember_max_pool_2d_s8_scalar(&p, &in, x, &out, y, 0, 2, NULL) == EMBER_ERR_ARG, "range");
    NN_CHECK(ember_max_pool_2d_s8_scalar(&p, &in, NULL, &out, y, 0, 1, NULL) == EMBER_ERR_ARG, "null");
    p.filter_h = 0;
    NN_CHECK(ember_average_pool_2d_s8_scalar(&p, &in, x, &out, y, 0, 1, NULL) == EMBER_ERR_ARG, "filter");
}

int main(void) {
    test_hand();
    test_random();
    test_errors();
    return nn_report("test_pool_2d");
}
