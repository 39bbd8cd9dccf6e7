/* PAD scalar kernel: a hand-checked 2-D case, random 5-D cases against
 * index arithmetic, and argument errors. */
#include "ember/ops/pad.h"
#include "nn_test_util.h"

static void test_hand(void) {
    /* [2,2] padded by (1,0) rows and (0,2) cols with 9 -> [3,4]. */
    const int32_t dims[5] = {1, 1, 1, 2, 2};
    ember_pad_params p = {{0, 0, 0, 1, 0}, {0, 0, 0, 0, 2}, 9};
    const int8_t x[4] = {1, 2, 3, 4};
    int8_t y[12];
    NN_CHECK(ember_pad_s8_scalar(&p, dims, x, y, NULL) == EMBER_OK, "run");
    const int8_t want[12] = {9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9};
    NN_CHECK(nn_first_diff(y, want, 12) < 0, "differs at %ld", nn_first_diff(y, want, 12));
}

static int8_t xbuf[8192], ybuf[65536], rbuf[65536];

static void test_random(void) {
    for (int iter = 0; iter < 300; ++iter) {
        int32_t d[5], od[5];
        ember_pad_params p;
        size_t nx = 1, ny = 1;
        for (int i = 0; i < 5; ++i) {
            d[i] = nn_range(i < 2 ? 1 : 0, i < 2 ? 2 : 4);
            p.before[i] = nn_range(0, 2);
            p.after[i] = nn_range(0, 2);
            od[i] = d[i] + p.before[i] + p.after[i];
            nx *= (size_t)d[i];
            ny *= (size_t)od[i];
        }
        p.pad_value = nn_range(-128, 127);
        nn_fill_s8(xbuf, nx, -128, 127);
        size_t o = 0;
        for (int a = 0; a < od[0]; ++a)
            for (int b = 0; b < od[1]; ++b)
                for (int c = 0; c < od[2]; ++c)
                    for (int e = 0; e < od[3]; ++e)
                        for (int f = 0; f < od[4]; ++f, ++o) {
                            const int ia = a - p.before[0], ib = b - p.before[1], ic = c - p.before[2],
                                      ie = e - p.before[3], jf = f - p.before[4];
                            const int inside = ia >= 0 && ia < d[0] && ib >= 0 && ib < d[1] && ic >= 0 &&
                                               ic < d[2] && ie >= 0 && ie < d[3] && jf >= 0 && jf < d[4];
                            rbuf[o] = inside ? xbuf[(((ia * d[1] + ib) * d[2] + ic) * d[3] + ie) * d[4] + jf]
                                             : (int8_t)p.pad_value;
                        }
        memset(ybuf, 0x55, ny);
        NN_CHECK(ember_pad_s8_scalar(&p, d, xbuf, ybuf, NULL) == EMBER_OK, "iter %d run", iter);
        NN_CHECK(nn_first_diff(ybuf, rbuf, ny) < 0, "iter %d differs at %ld", iter, nn_first_diff(ybuf, rbuf, ny));
    }
}

static void test_errors(void) {
    const int32_t dims[5] = {1, 1, 1, 2, 2};
    const int8_t x[4] = {0};
    int8_t y[64];
    ember_pad_params p = {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, 0};
    p.before[2] = -1;
    NN_CHECK(ember_pad_s8_scalar(&p, dims, x, y, NULL) == EMBER_ERR_ARG, "negative padding");
    p.before[2] = 0;
    p.pad_value = 200;
    NN_CHECK(ember_pad_s8_scalar(&p, dims, x, y, NULL) == EMBER_ERR_ARG, "pad value");
    p.pad_value = 0;
    NN_CHECK(ember_pad_s8_scalar(&p, dims, NULL, y, NULL) == EMBER_ERR_ARG, "null input");
}

int main(void) {
    test_hand();
    test_random();
    test_errors();
    return nn_report("test_pad");
}
