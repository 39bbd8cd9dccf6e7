/* CONV_2D scalar kernel: hand-checked cases, a naive reference over random
 * shapes (padding materialized with the input zero point, 64-bit sums),
 * row-range splitting and argument errors. */
#include <stdlib.h>

#include "ember/ops/conv_2d.h"
#include "ember/requant.h"
#include "nn_test_util.h"

#define MAXBUF 40000

static void test_hand_1x1(void) {
    /* 1x2x2x2 input, 3 output channels, 1x1 filter, identity-ish weights.
     * input_offset = 1 (zp -1), mult 0.5 (2^30, shift 0) for all; output zp 3. */
    const ember_nhwc in = {1, 2, 2, 2}, fd = {3, 1, 1, 2}, out = {1, 2, 2, 3};
    const int8_t x[8] = {1, 2, 3, 4, -5, -6, 7, 8};
    const int8_t w[6] = {1, 0, 0, 1, 2, -1};
    const int32_t bias[3] = {0, 10, -1};
    const int32_t mult[3] = {1 << 30, 1 << 30, 1 << 30}, shift[3] = {0, 0, 0};
    ember_conv_2d_params p = {1, 1, 1, 1, 0, 0, 1, 3, -128, 127};
    int8_t y[12];
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, bias, mult, shift, &out, y, 0, 2, NULL) == EMBER_OK, "run");
    /* Pixel 0: x + 1 = (2, 3). ch0 = 2 -> 1 (+3) = 4; ch1 = 3 + 10 = 13 -> 6.5 -> 7 (+3) = 10;
     * ch2 = 2*2 - 3 - 1 = 0 -> 3. The loop below spells out the same formula for every pixel. */
    int8_t expect[12];
    for (int px = 0; px < 4; ++px) {
        for (int oc = 0; oc < 3; ++oc) {
            int32_t acc = w[oc * 2] * (x[px * 2] + 1) + w[oc * 2 + 1] * (x[px * 2 + 1] + 1) + bias[oc];
            /* times 0.5, ties: srdhm rounds half up */
            int32_t r = (acc >= 0) ? (acc + 1) / 2 : -((-acc) / 2);
            r += 3;
            expect[px * 3 + oc] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
        }
    }
    NN_CHECK(expect[0] == 4 && expect[1] == 10 && expect[2] == 3, "hand formula %d %d %d", expect[0], expect[1], expect[2]);
    NN_CHECK(nn_first_diff(y, expect, 12) < 0, "1x1 conv differs at %ld", nn_first_diff(y, expect, 12));
}

static void test_hand_3x3_same(void) {
    /* 1x3x3x1 input of ones (zp 0), 3x3 filter of ones, SAME padding 1:
     * output = number of taps inside: corners 4, edges 6, center 9. */
    const ember_nhwc in = {1, 3, 3, 1}, fd = {1, 3, 3, 1}, out = {1, 3, 3, 1};
    int8_t x[9], w[9], y[9];
    memset(x, 1, 9);
    memset(w, 1, 9);
    const int32_t mult[1] = {1 << 30}, shift[1] = {1}; /* x1.0 */
    ember_conv_2d_params p = {1, 1, 1, 1, 1, 1, 0, 0, -128, 127};
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, mult, shift, &out, y, 0, 3, NULL) == EMBER_OK, "run");
    const int8_t want[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
    NN_CHECK(nn_first_diff(y, want, 9) < 0, "3x3 same differs at %ld", nn_first_diff(y, want, 9));
    /* RELU6-like clamp to [0, 5] */
    p.act_max = 5;
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, mult, shift, &out, y, 0, 3, NULL) == EMBER_OK, "run");
    const int8_t want2[9] = {4, 5, 4, 5, 5, 5, 4, 5, 4};
    NN_CHECK(nn_first_diff(y, want2, 9) < 0, "clamped differs at %ld", nn_first_diff(y, want2, 9));
}

/* Naive reference: materialize the zero-padded input (padding = input zero
 * point, i.e. -input_offset, so that it contributes nothing). */
static void naive_conv(const ember_conv_2d_params *p, const ember_nhwc *in, const int8_t *x, const ember_nhwc *fd,
                       const int8_t *w, const int32_t *bias, const int32_t *mult, const int32_t *shift,
                       const ember_nhwc *out, int8_t *y) {
    const int ph = in->h + 2 * p->pad_h + (fd->h - 1) * p->dilation_h + out->h * p->stride_h;
    const int pw = in->w + 2 * p->pad_w + (fd->w - 1) * p->dilation_w + out->w * p->stride_w;
    int32_t *padded = (int32_t *)malloc(sizeof(int32_t) * (size_t)ph * pw * in->c);
    const int groups = in->c / fd->c, opg = out->c / groups;
    for (int b = 0; b < in->n; ++b) {
        for (int i = 0; i < ph * pw * in->c; ++i) padded[i] = 0;
        for (int yy = 0; yy < in->h; ++yy)
            for (int xx = 0; xx < in->w; ++xx)
                for (int c = 0; c < in->c; ++c)
                    padded[((yy + p->pad_h) * pw + xx + p->pad_w) * in->c + c] =
                        x[((b * in->h + yy) * in->w + xx) * in->c + c] + p->input_offset;
        for (int oy = 0; oy < out->h; ++oy)
            for (int ox = 0; ox < out->w; ++ox)
                for (int oc = 0; oc < out->c; ++oc) {
                    int64_t acc = 0;
                    const int g = oc / opg;
                    for (int ky = 0; ky < fd->h; ++ky)
                        for (int kx = 0; kx < fd->w; ++kx)
                            for (int ic = 0; ic < fd->c; ++ic) {
                                const int py = oy * p->stride_h + ky * p->dilation_h;
                                const int pxx = ox * p->stride_w + kx * p->dilation_w;
                                acc += (int64_t)w[((oc * fd->h + ky) * fd->w + kx) * fd->c + ic] *
                                       padded[(py * pw + pxx) * in->c + g * fd->c + ic];
                            }
                    y[((b * out->h + oy) * out->w + ox) * out->c + oc] =
                        nn_requant_ref(acc, bias, oc, mult, shift, p->output_offset, p->act_min, p->act_max);
                }
    }
    free(padded);
}

static int8_t xbuf[MAXBUF], wbuf[MAXBUF], ybuf[MAXBUF], rbuf[MAXBUF], sbuf[MAXBUF];
static int32_t bias[256], mult[256], shift[256];

static void test_random(void) {
    for (int iter = 0; iter < 300; ++iter) {
        ember_conv_2d_params p;
        ember_nhwc in, fd, out;
        const int groups = (iter % 5 == 4) ? nn_range(2, 3) : 1;
        in.n = nn_range(1, 2);
        in.h = nn_range(1, 9);
        in.w = nn_range(1, 9);
        fd.c = nn_range(1, 5);
        in.c = fd.c * groups;
        fd.n = groups * nn_range(1, 4);
        fd.h = nn_range(1, 4);
        fd.w = nn_range(1, 4);
        out.n = in.n;
        out.c = fd.n;
        if (!nn_random_window(&in, fd.h, fd.w, &out, NN_WINDOW_FIELDS(p))) continue;
        p.input_offset = nn_range(-127, 128);
        p.output_offset = nn_range(-128, 127);
        p.act_min = nn_range(-128, 0);
        p.act_max = nn_range(p.act_min, 127);
        if (iter % 3 == 0) {
            p.act_min = -128;
            p.act_max = 127;
        }
        const size_t nx = (size_t)in.n * in.h * in.w * in.c, nw = (size_t)fd.n * fd.h * fd.w * fd.c;
        const size_t ny = (size_t)out.n * out.h * out.w * out.c;
        nn_fill_s8(xbuf, nx, -128, 127);
        nn_fill_s8(wbuf, nw, -127, 127);
        for (int c = 0; c < out.c; ++c) {
            bias[c] = nn_range(-20000, 20000);
            mult[c] = nn_range(1 << 30, 0x7fffffff);
            shift[c] = nn_range(-12, 1);
        }
        const int32_t *bp = (iter % 4 == 1) ? NULL : bias;
        naive_conv(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, rbuf);
        memset(ybuf, 0x55, ny);
        NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, ybuf, 0, out.n * out.h,
                                         NULL) == EMBER_OK,
                 "iter %d run", iter);
        const long d = nn_first_diff(ybuf, rbuf, ny);
        NN_CHECK(d < 0, "iter %d: in %dx%dx%dx%d filter %dx%dx%dx%d stride %d,%d dil %d,%d pad %d,%d: diff at %ld (%d vs %d)",
                 iter, in.n, in.h, in.w, in.c, fd.n, fd.h, fd.w, fd.c, p.stride_h, p.stride_w, p.dilation_h,
                 p.dilation_w, p.pad_h, p.pad_w, d, d >= 0 ? ybuf[d] : 0, d >= 0 ? rbuf[d] : 0);
        /* Split into row ranges, as threads would. */
        const int rows = out.n * out.h;
        const int cut = nn_range(0, rows);
        memset(sbuf, 0x55, ny);
        NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, sbuf, cut, rows, NULL) ==
                     EMBER_OK, "split");
        NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, xbuf, &fd, wbuf, bp, mult, shift, &out, sbuf, 0, cut, NULL) ==
                     EMBER_OK, "split");
        NN_CHECK(nn_first_diff(sbuf, rbuf, ny) < 0, "iter %d split at %d differs", iter, cut);
    }
}

static void test_errors(void) {
    const ember_nhwc in = {1, 3, 3, 2}, fd = {2, 1, 1, 2}, out = {1, 3, 3, 2};
    int8_t x[18] = {0}, w[4] = {0}, y[18];
    const int32_t m[2] = {1 << 30, 1 << 30}, s[2] = {0, 0};
    ember_conv_2d_params p = {1, 1, 1, 1, 0, 0, 0, 0, -128, 127};
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_OK, "ok case");
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 4, NULL) == EMBER_ERR_ARG, "range");
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 2, 1, NULL) == EMBER_ERR_ARG, "range");
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, NULL, &fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_ERR_ARG, "null");
    p.stride_h = 0;
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_ERR_ARG, "stride");
    p.stride_h = 1;
    const ember_nhwc bad_fd = {2, 1, 1, 3};
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &bad_fd, w, NULL, m, s, &out, y, 0, 3, NULL) == EMBER_ERR_ARG,
             "channels");
    const ember_nhwc bad_out = {1, 3, 3, 3};
    NN_CHECK(ember_conv_2d_s8_scalar(&p, &in, x, &fd, w, NULL, m, s, &bad_out, y, 0, 3, NULL) == EMBER_ERR_ARG,
             "out channels");
    NN_CHECK(ember_conv_2d_s8_scratch_size(&p, &in, &fd, &out) == 0, "scalar scratch");
}

int main(void) {
    test_hand_1x1();
    test_hand_3x3_same();
    test_random();
    test_errors();
    return nn_report("test_conv_2d");
}
