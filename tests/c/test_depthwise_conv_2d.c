/* DEPTHWISE_CONV_2D scalar kernel: hand-checked cases, a naive reference
 * over random shapes/multipliers, row-range splitting and argument errors. */
#include <stdlib.h>

#include "ember/ops/depthwise_conv_2d.h"
#include "ember/requant.h"
#include "nn_test_util.h"

#define MAXBUF 40000

static void test_hand(void) {
    /* 1x2x2x1 input (zp 0), depth multiplier 2, 2x2 filter, VALID -> 1x1x1x2.
     * channel 0 weights all 1: sum = 1+2+3+4 = 10; channel 1 weights (1,-1,1,-1): -2.
     * mult 1.0 (2^30, shift 1), output zp -5. */
    const ember_nhwc in = {1, 2, 2, 1}, fd = {1, 2, 2, 2}, out = {1, 1, 1, 2};
    const int8_t x[4] = {1, 2, 3, 4};
    const int8_t w[8] = {1, 1, 1, -1, 1, 1, 1, -1}; /* [ky][kx][oc] */
    const int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {1, 1}, bias[2] = {100, 0};
    ember_depthwise_conv_2d_params p = {1, 1, 1, 1, 0, 0, 2, 0, -5, -128, 127};
    int8_t y[2];
    NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, x, &fd, w, bias, mult, shift, &out, y, 0, 1, NULL) == EMBER_OK,
             "run");
    NN_CHECK(y[0] == 10 + 100 - 5 && y[1] == -2 - 5, "got %d %d", y[0], y[1]);
    /* RELU (act_min = zp): channel 1 clamps to -5. */
    p.act_min = -5;
    p.act_max = 127;
    NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, x, &fd, w, bias, mult, shift, &out, y, 0, 1, NULL) == EMBER_OK,
             "run");
    NN_CHECK(y[0] == 105 && y[1] == -5, "relu got %d %d", y[0], y[1]);
}

static void naive_dw(const ember_depthwise_conv_2d_params *p, const ember_nhwc *in, const int8_t *x,
                     const ember_nhwc *fd, const int8_t *w, const int32_t *bias, const int32_t *mult,
                     const int32_t *shift, const ember_nhwc *out, int8_t *y) {
    for (int b = 0; b < out->n; ++b)
        for (int oy = 0; oy < out->h; ++oy)
            for (int ox = 0; ox < out->w; ++ox)
                for (int oc = 0; oc < out->c; ++oc) {
                    const int ic = oc / p->depth_multiplier;
                    int64_t acc = 0;
                    for (int ky = 0; ky < fd->h; ++ky)
                        for (int kx = 0; kx < fd->w; ++kx) {
                            const int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                            const int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                            /* outside: the input zero point, contributing (zp + offset) = 0 */
                            const int v = (iy >= 0 && iy < in->h && ix >= 0 && ix < in->w)
                                              ? x[((b * in->h + iy) * in->w + ix) * in->c + ic]
                                              : -p->input_offset;
                            acc += (int64_t)w[(ky * fd->w + kx) * fd->c + oc] * (v + p->input_offset);
                        }
                    y[((b * out->h + oy) * out->w + ox) * out->c + oc] =
                        nn_requant_ref(acc, bias, oc, mult, shift, p->output_offset, p->act_min, p->act_max);
                }
}

static int8_t xbuf[MAXBUF], wbuf[MAXBUF], ybuf[MAXBUF], rbuf[MAXBUF], sbuf[MAXBUF];
static int32_t bias[256], mult[256], shift[256];

static void test_random(void) {
    for (int iter = 0; iter < 300; ++iter) {
        ember_depthwise_conv_2d_params p;
        ember_nhwc in, fd, out;
        in.n = nn_range(1, 2);
        in.h = nn_range(1, 9);
        in.w = nn_range(1, 9);
        in.c = nn_range(1, 8);
        p.depth_multiplier = nn_range(1, 3);
        fd.n = 1;
        fd.h = nn_range(1, 4);
        fd.w = nn_range(1, 4);
        fd.c = in.c * p.depth_multiplier;
        out.n = in.n;
        out.c = fd.c;
        if (!nn_random_window(&in, fd.h, fd.w, &out, NN_WINDOW_FIELDS(p))) continue;
        p.input_offset = nn_range(-127, 128);
        p.output_offset = nn_range(-128, 127);
        p.act_min = nn_range(-128, 0);
        p.act_max = nn_range(p.act_min, 127);
        const size_t nx = (size_t)in.n * in.h * in.w * in.c, nw = (size_t)fd.h * fd.w * fd.c;
        const size_t ny = (size_t)out.n * out.h * out.w * out.c;
        nn_fill_s8(xbuf, nx, -128, 127);
        nn_fill_s8(wbuf, nw, -127, 127);
        for (int c = 0; c < out.c; ++c) {
            bias[c] = nn_range(-5000, 5000);
            mult[c] = nn_range(1 << 30, 0x7fffffff);
            shift[c] = nn_range(-10, 1);
        }
        const int32_t *bp = (iter % 4 == 1) ? NULL : bias;
        naive_dw(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, rbuf);
        memset(ybuf, 0x55, ny);
        NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, ybuf, 0,
                                                   out.n * out.h, NULL) == EMBER_OK,
                 "iter %d run", iter);
        const long d = nn_first_diff(ybuf, rbuf, ny);
        NN_CHECK(d < 0, "iter %d: in %dx%dx%dx%d k %dx%d dm %d stride %d,%d dil %d,%d: diff at %ld", iter, in.n, in.h,
                 in.w, in.c, fd.h, fd.w, p.depth_multiplier, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, d);
        const int rows = out.n * out.h, cut = nn_range(0, rows);
        memset(sbuf, 0x55, ny);
        ember_depthwise_conv_2d_s8_scalar(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, sbuf, cut, rows, NULL);
        ember_depthwise_conv_2d_s8_scalar(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, sbuf, 0, cut, NULL);
        NN_CHECK(nn_first_diff(sbuf, rbuf, ny) < 0, "iter %d split at %d differs", iter, cut);
    }
}

static void test_errors(void) {
    const ember_nhwc in = {1, 3, 3, 2}, fd = {1, 1, 1, 4}, out = {1, 3, 3, 4};
    int8_t x[18] = {0}, w[4] = {0}, y[36];
    const int32_t m[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30}, s[4] = {0};
    ember_depthwise_conv_2d_params p = {1, 1, 1, 1, 0, 0, 2, 0, 0, -128, 127};
    NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_OK, "ok");
    p.depth_multiplier = 1;
    NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_ERR_ARG,
             "multiplier mismatch");
    p.depth_multiplier = 2;
    NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 5, NULL) == EMBER_ERR_ARG,
             "range");
    p.dilation_w = 0;
    NN_CHECK(ember_depthwise_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_ERR_ARG,
             "dilation");
}

int main(void) {
    test_hand();
    test_random();
    test_errors();
    return nn_report("test_depthwise_conv_2d");
}
