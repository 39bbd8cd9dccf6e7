/* The scalar paths of the CONV_2D / DEPTHWISE / FULLY_CONNECTED / pool
 * adapters split their rows (units) over the run's thread pool
 * (csrc/nn_common/parallel.h): outputs must equal a single-threaded run,
 * for pools of 1..5 threads. */
#include "ember/op.h"
#include "ember/ops/conv_2d.h"
#include "ember/ops/depthwise_conv_2d.h"
#include "ember/ops/fully_connected.h"
#include "ember/ops/pool_2d.h"
#include "ember/threadpool.h"
#include "nn_common/parallel.h"
#include "nn_test_util.h"

extern const ember_op_adapter ember_adapter_conv_2d;
extern const ember_op_adapter ember_adapter_depthwise_conv_2d;
extern const ember_op_adapter ember_adapter_fully_connected;
extern const ember_op_adapter ember_adapter_average_pool_2d;
extern const ember_op_adapter ember_adapter_max_pool_2d;

static int8_t x[2 * 9 * 7 * 6], w[40 * 63], out_one[4096], out_many[4096]; /* w: the largest filter (FC) */
static int32_t bias[64], mult[64], shift[64];

static ember_tensor tensor(int32_t dtype, int ndim, const int32_t *dims, void *data, int is_const) {
    ember_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    size_t n = 1;
    for (int i = 0; i < ndim; ++i) {
        t.dims[i] = dims[i];
        n *= (size_t)dims[i];
    }
    t.bytes = n * (dtype == EMBER_DT_INT8 ? 1 : 4);
    t.data = data;
    t.is_const = is_const;
    return t;
}

/* Runs op on 1 thread into out_one and on `threads` into out_many; compares `n` bytes. */
static void compare(const ember_op_adapter *ad, ember_op *op, ember_tensor *t, int out_id, size_t n, int threads,
                    const char *what) {
    ember_run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    t[out_id].data = out_one;
    memset(out_one, 0x55, n);
    NN_CHECK(ad->run(op, t, &ctx) == EMBER_OK, "%s single run", what);
    ember_threadpool *pool = ember_threadpool_create(threads);
    NN_CHECK(pool != NULL, "pool");
    ctx.pool = pool;
    ctx.num_threads = threads;
    t[out_id].data = out_many;
    memset(out_many, 0x66, n);
    NN_CHECK(ad->run(op, t, &ctx) == EMBER_OK, "%s threaded run", what);
    NN_CHECK(nn_first_diff(out_one, out_many, n) < 0, "%s with %d threads differs at %ld", what, threads, nn_first_diff(out_one, out_many, n));
    ember_threadpool_destroy(pool);
}

static void test_conv_family(int threads) {
    nn_fill_s8(x, sizeof x, -128, 127);
    nn_fill_s8(w, sizeof w, -127, 127);
    for (int i = 0; i < 64; ++i) {
        bias[i] = nn_range(-2000, 2000);
        mult[i] = nn_range(1 << 30, 0x7fffffff);
        shift[i] = nn_range(-10, -6);
    }
    const int32_t dx[4] = {2, 9, 7, 6}, dw_[4] = {8, 3, 3, 3}, dy[4] = {2, 9, 7, 8}, dc[1] = {8};
    ember_tensor t[6];
    t[0] = tensor(EMBER_DT_INT8, 4, dx, x, 0);
    t[1] = tensor(EMBER_DT_INT8, 4, dw_, w, 1); /* grouped: 2 groups of 3 channels */
    t[2] = tensor(EMBER_DT_INT32, 1, dc, bias, 1);
    t[3] = tensor(EMBER_DT_INT32, 1, dc, mult, 1);
    t[4] = tensor(EMBER_DT_INT32, 1, dc, shift, 1);
    t[5] = tensor(EMBER_DT_INT8, 4, dy, out_one, 0);
    ember_op op;
    memset(&op, 0, sizeof op);
    op.n_in = 5;
    for (int i = 0; i < 5; ++i) op.in[i] = i;
    op.n_out = 1;
    op.out[0] = 5;
    const int32_t conv_p[EMBER_CONV_2D_NPARAMS] = {1, 1, 1, 1, 1, 1, 3, -2, -128, 127};
    memcpy(op.p, conv_p, sizeof conv_p);
    compare(&ember_adapter_conv_2d, &op, t, 5, 2 * 9 * 7 * 8, threads, "conv");

    /* depthwise, multiplier 2, stride 2: 6 -> 12 channels */
    const int32_t dwf[4] = {1, 3, 3, 12}, dwo[4] = {2, 5, 4, 12}, dwc[1] = {12};
    t[1] = tensor(EMBER_DT_INT8, 4, dwf, w, 1);
    t[2] = tensor(EMBER_DT_INT32, 1, dwc, bias, 1);
    t[3] = tensor(EMBER_DT_INT32, 1, dwc, mult, 1);
    t[4] = tensor(EMBER_DT_INT32, 1, dwc, shift, 1);
    t[5] = tensor(EMBER_DT_INT8, 4, dwo, out_one, 0);
    const int32_t dw_p[EMBER_DEPTHWISE_CONV_2D_NPARAMS] = {2, 2, 1, 1, 1, 1, 2, -5, 7, -100, 100};
    memset(op.p, 0, sizeof op.p);
    memcpy(op.p, dw_p, sizeof dw_p);
    compare(&ember_adapter_depthwise_conv_2d, &op, t, 5, 2 * 5 * 4 * 12, threads, "depthwise");

    /* fully connected, fixed-point mode: [2, 63] x [40, 63] ... uses 2 x 378 inputs as [12, 63] */
    const int32_t fx[2] = {12, 63}, fw[2] = {40, 63}, fo[2] = {12, 40}, fc[1] = {40};
    t[0] = tensor(EMBER_DT_INT8, 2, fx, x, 0);
    t[1] = tensor(EMBER_DT_INT8, 2, fw, w, 1);
    t[2] = tensor(EMBER_DT_INT32, 1, fc, bias, 1);
    t[3] = tensor(EMBER_DT_INT32, 1, fc, mult, 1);
    t[4] = tensor(EMBER_DT_INT32, 1, fc, shift, 1);
    t[5] = tensor(EMBER_DT_INT8, 2, fo, out_one, 0);
    const int32_t fc_p[EMBER_FULLY_CONNECTED_NPARAMS] = {11, 0, -3, -128, 127, 0};
    memset(op.p, 0, sizeof op.p);
    memcpy(op.p, fc_p, sizeof fc_p);
    compare(&ember_adapter_fully_connected, &op, t, 5, 12 * 40, threads, "fully connected");

    /* pools: 3x3 stride 2 SAME-like padding 1 on [2, 9, 7, 6] */
    const int32_t po[4] = {2, 5, 4, 6};
    t[0] = tensor(EMBER_DT_INT8, 4, dx, x, 0);
    t[1] = tensor(EMBER_DT_INT8, 4, po, out_one, 0);
    ember_op pop;
    memset(&pop, 0, sizeof pop);
    pop.n_in = 1;
    pop.in[0] = 0;
    pop.n_out = 1;
    pop.out[0] = 1;
    const int32_t pool_p[EMBER_POOL_2D_NPARAMS] = {2, 2, 3, 3, 1, 1, -120, 120};
    memcpy(pop.p, pool_p, sizeof pool_p);
    compare(&ember_adapter_average_pool_2d, &pop, t, 1, 2 * 5 * 4 * 6, threads, "average pool");
    compare(&ember_adapter_max_pool_2d, &pop, t, 1, 2 * 5 * 4 * 6, threads, "max pool");
}

static int32_t seen[100];
static ember_status record_range(const void *args, int32_t start, int32_t end) {
    (void)args;
    for (int32_t i = start; i < end; ++i) seen[i] += 1;
    return EMBER_OK;
}
static ember_status fail_at_7(const void *args, int32_t start, int32_t end) {
    (void)args;
    return (start <= 7 && 7 < end) ? EMBER_ERR_ARG : EMBER_OK;
}

static void test_split(int threads) {
    ember_threadpool *pool = ember_threadpool_create(threads);
    ember_run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.pool = pool;
    for (int total = 0; total <= 100; total += 7) {
        memset(seen, 0, sizeof seen);
        NN_CHECK(ember_parallel_range(&ctx, total, (int64_t)total * EMBER_MIN_TASK_WORK, record_range, NULL) == EMBER_OK, "split");
        for (int i = 0; i < 100; ++i) NN_CHECK(seen[i] == (i < total), "total %d item %d seen %d times", total, i, seen[i]);
    }
    NN_CHECK(ember_parallel_range(&ctx, 50, 50 * EMBER_MIN_TASK_WORK, fail_at_7, NULL) == EMBER_ERR_ARG, "error of one piece is reported");
    ember_threadpool_destroy(pool);
}

int main(void) {
    for (int threads = 1; threads <= 5; ++threads) {
        test_conv_family(threads);
        test_split(threads);
    }
    return nn_report("test_nn_parallel");
}
