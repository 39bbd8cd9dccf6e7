/* Every compiled SIMD variant of the conv family (qconv: CONV_2D/FC GEMM,
 * qdw: DEPTHWISE_CONV_2D) against the naive reference with tolerance 0:
 * an edge-case matrix (channels 1..67 incl. primes and non-multiples of the
 * vector width, kernels 1/3/5, strides 1/2, dilation, padding, extreme zero
 * points, multipliers and shifts, the INT32_MIN high-mul corner) and random
 * geometries, single-threaded and on a 2-thread pool. ISAs this CPU lacks
 * are reported and skipped. */
#include <stdlib.h>
#include <string.h>

#include "ember/qconv.h"
#include "ref_conv.h"
#include "test_harness.h"

static ember_threadpool *pool2;
static long cases_run;

typedef struct {
    int32_t *bias, *mult, *shift;
    int8_t *in, *w, *ref, *got;
} bufs;

static void fill_requant(int n, int mode, int32_t *bias, int32_t *mult, int32_t *shift, int k) {
    for (int i = 0; i < n; ++i) {
        switch (mode) {
        case 0: /* realistic: scale ~ 1/(k*64) */
            mult[i] = th_range(1 << 30, INT32_MAX);
            shift[i] = th_range(-12, 0) - (k > 64 ? 3 : 0);
            bias[i] = th_range(-20000, 20000);
            break;
        case 1: /* extreme shifts and multipliers */
            mult[i] = (th_rand() & 1) ? INT32_MAX : (1 << 30);
            shift[i] = th_range(-31, 30);
            bias[i] = (int32_t)th_rand();
            break;
        case 3: /* every lane on the AVX2 fast requantization path (no left
                 * shift, right shift >= 1, multiplier != INT32_MIN) with
                 * extreme multipliers and biases: the mbqm result reaches
                 * +-2^30 and the narrowing saturates */
            mult[i] = (th_rand() & 3) == 0 ? INT32_MAX : ((th_rand() & 3) == 0 ? -INT32_MAX : (int32_t)th_rand());
            if (mult[i] == INT32_MIN) mult[i] = INT32_MAX;
            shift[i] = -th_range(1, 31);
            bias[i] = (th_rand() & 1) ? ((th_rand() & 1) ? INT32_MAX : INT32_MIN) : th_range(-20000, 20000);
            break;
        default: { /* the INT32_MIN corner and friends */
            static const int32_t mults[] = {INT32_MIN, INT32_MAX, 1 << 30, 0, 1, -1};
            static const int32_t biases[] = {INT32_MIN, INT32_MAX, 0, -1, 1 << 30};
            static const int32_t shifts[] = {0, -31, 30, 1, -1};
            mult[i] = mults[th_rand() % 6];
            bias[i] = biases[th_rand() % 5];
            shift[i] = shifts[th_rand() % 5];
        }
        }
    }
}

/* Runs one geometry on every available ISA. mode: requant mode above. */
static void run_case(ember_conv_geom g, int depthwise, int mode, int with_bias) {
    const size_t nin = (size_t)g.batch * g.in_h * g.in_w * g.in_c;
    const size_t nout = (size_t)g.batch * g.out_h * g.out_w * g.out_c;
    const size_t nw = depthwise ? (size_t)g.kernel_h * g.kernel_w * g.out_c
                                : (size_t)g.out_c * g.kernel_h * g.kernel_w * g.in_c;
    bufs b;
    b.bias = malloc(sizeof(int32_t) * g.out_c);
    b.mult = malloc(sizeof(int32_t) * g.out_c);
    b.shift = malloc(sizeof(int32_t) * g.out_c);
    b.in = malloc(nin);
    b.w = malloc(nw);
    b.ref = malloc(nout);
    b.got = malloc(nout);
    const int extreme_data = mode == 2 || (th_rand() % 4 == 0);
    for (size_t i = 0; i < nin; ++i) b.in[i] = extreme_data ? ((th_rand() & 1) ? 127 : -128) : (int8_t)th_range(-128, 127);
    for (size_t i = 0; i < nw; ++i) b.w[i] = extreme_data ? ((th_rand() & 1) ? 127 : -127) : (int8_t)th_range(-127, 127);
    if (mode == 2 && (th_rand() & 1)) memset(b.w, 0, nw); /* accumulator == bias exactly */
    fill_requant(g.out_c, mode, b.bias, b.mult, b.shift, g.kernel_h * g.kernel_w * (depthwise ? 1 : g.in_c));
    const int32_t *bias = with_bias ? b.bias : NULL;
    ref_conv(&g, depthwise, b.in, b.w, bias, b.mult, b.shift, b.ref);
    for (int i = 1; i < EMBER_ISA_COUNT; ++i) {
        const ember_isa isa = (ember_isa)i;
        const ember_kernel_id kid = depthwise ? EMBER_KERNEL_DWCONV : EMBER_KERNEL_QGEMM;
        if (!ember_kernel_variant(kid, isa) || !ember_isa_available(isa)) continue;
        size_t pb = 0, sb = 0;
        ember_status st = depthwise ? ember_qdw_plan(&g, isa, 2, &pb, &sb) : ember_qconv_plan(&g, isa, 2, &pb, &sb);
        TH_CHECK(st == EMBER_OK, "plan %s", ember_isa_name(i));
        if (st != EMBER_OK) continue;
        void *packed = malloc(pb);
        void *scratch = malloc(sb);
        st = depthwise ? ember_qdw_pack(&g, isa, b.w, bias, b.mult, b.shift, packed, pb)
                       : ember_qconv_pack(&g, isa, b.w, bias, b.mult, b.shift, packed, pb);
        TH_CHECK(st == EMBER_OK && ember_qpacked_isa(packed) == isa, "pack %s", ember_isa_name(i));
        if (!depthwise) {
            const void *narrow = ember_kernel_variant(EMBER_KERNEL_QGEMM_NARROW, isa);
            const int want = (narrow && g.out_c <= ((const ember_qgemm_ukernel *)narrow)->nr) ? EMBER_KERNEL_QGEMM_NARROW
                                                                                            : EMBER_KERNEL_QGEMM;
            TH_CHECK(ember_qpacked_kernel(packed) == want, "%s out_c=%d uses kernel %s", ember_isa_name(i), g.out_c,
                     ember_kernel_name(want));
        }
        for (int threads = 1; threads <= 2 && st == EMBER_OK; ++threads) {
            memset(b.got, 0x5A, nout);
            st = depthwise ? ember_qdw_run(packed, b.in, b.got, scratch, sb, threads == 2 ? pool2 : NULL)
                           : ember_qconv_run(packed, b.in, b.got, scratch, sb, threads == 2 ? pool2 : NULL);
            TH_CHECK(st == EMBER_OK, "run %s", ember_isa_name(i));
            size_t bad = 0, first = 0;
            for (size_t j = 0; j < nout; ++j)
                if (b.got[j] != b.ref[j] && bad++ == 0) first = j;
            TH_CHECK(bad == 0,
                     "%s %s threads=%d: %zu/%zu differ (first #%zu got %d want %d) b=%d in=%dx%dx%d out=%dx%dx%d "
                     "k=%dx%d s=%d,%d d=%d,%d pad=%d,%d zp=%d ozp=%d act=[%d,%d] mode=%d bias=%d",
                     depthwise ? "dw" : "conv", ember_isa_name(i), threads, bad, nout, first, b.got[first],
                     b.ref[first], g.batch, g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.kernel_h, g.kernel_w,
                     g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.pad_top, g.pad_left, g.input_zero_point,
                     g.os.output_zero_point, g.os.act_min, g.os.act_max, mode, with_bias);
            ++cases_run;
        }
        free(packed);
        free(scratch);
    }
    free(b.bias);
    free(b.mult);
    free(b.shift);
    free(b.in);
    free(b.w);
    free(b.ref);
    free(b.got);
}

static int out_size(int in, int k, int s, int d, int pad_lo, int pad_hi) {
    const int eff = d * (k - 1) + 1;
    const int n = (in + pad_lo + pad_hi - eff) / s + 1;
    return n;
}

static ember_conv_geom make_geom(int batch, int h, int w, int ic, int oc, int kh, int kw, int s, int d, int pad,
                                 int depthwise, int dm) {
    ember_conv_geom g;
    memset(&g, 0, sizeof g);
    g.batch = batch;
    g.in_h = h;
    g.in_w = w;
    g.in_c = ic;
    g.out_c = depthwise ? ic * dm : oc;
    g.depth_multiplier = depthwise ? dm : 1;
    g.kernel_h = kh;
    g.kernel_w = kw;
    g.stride_h = g.stride_w = s;
    g.dilation_h = g.dilation_w = d;
    /* pad: 0 = VALID, 1 = SAME-like (symmetric, extra at the end) */
    const int th = pad ? (d * (kh - 1)) : 0, tw = pad ? (d * (kw - 1)) : 0;
    g.pad_top = th / 2;
    g.pad_left = tw / 2;
    g.out_h = out_size(h, kh, s, d, g.pad_top, th - g.pad_top);
    g.out_w = out_size(w, kw, s, d, g.pad_left, tw - g.pad_left);
    g.input_zero_point = th_range(-128, 127);
    g.os.output_zero_point = th_range(-128, 127);
    g.os.act_min = -128;
    g.os.act_max = 127;
    return g;
}

static int geom_ok(const ember_conv_geom *g) { return g->out_h >= 1 && g->out_w >= 1; }

static void matrix(void) {
    static const int chans[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 23, 31, 32, 33, 47, 48, 64, 67};
    const int nch = (int)(sizeof chans / sizeof chans[0]);
    static const int zps[] = {-128, 127, 0};
    /* 1x1 convs / FC over the channel grid */
    for (int a = 0; a < nch; ++a)
        for (int c = 0; c < nch; c += 2) {
            ember_conv_geom g = make_geom(1, 3, 2, chans[a], chans[c], 1, 1, 1, 1, 0, 0, 1);
            g.input_zero_point = zps[(a + c) % 3];
            run_case(g, 0, (a + c) % 3 == 2 ? 2 : 0, 1);
            ember_conv_geom fc = make_geom(1 + (a % 3), 1, 1, chans[c], chans[a], 1, 1, 1, 1, 0, 0, 1);
            run_case(fc, 0, a % 2, c % 4 != 0);
        }
    /* spatial convs: kernel 3/5, stride 1/2, dilation 1/2, padding */
    static const int ks[] = {3, 5};
    for (int ki = 0; ki < 2; ++ki)
        for (int s = 1; s <= 2; ++s)
            for (int d = 1; d <= 2; ++d)
                for (int pad = 0; pad <= 1; ++pad)
                    for (int ci = 0; ci < nch; ci += 3) {
                        ember_conv_geom g = make_geom(1, 7, 6, chans[ci], chans[(ci * 7 + 5) % nch], ks[ki], ks[ki],
                                                      s, d, pad, 0, 1);
                        if (!geom_ok(&g)) continue;
                        g.input_zero_point = zps[ci % 3];
                        g.os.output_zero_point = zps[(ci + 1) % 3];
                        run_case(g, 0, ci % 3, 1);
                    }
    /* depthwise: channels 1..67, kernels 1/3/5, strides, dilation, padding */
    static const int dks[] = {1, 3, 5};
    for (int ci = 0; ci < nch; ++ci)
        for (int ki = 0; ki < 3; ++ki)
            for (int s = 1; s <= 2; ++s)
                for (int pad = 0; pad <= 1; ++pad) {
                    const int d = (ci % 4 == 3) ? 2 : 1;
                    ember_conv_geom g = make_geom(1, 6, 7, chans[ci], 0, dks[ki], dks[ki], s, d, pad, 1, 1);
                    if (!geom_ok(&g)) continue;
                    g.input_zero_point = zps[(ci + ki) % 3];
                    run_case(g, 1, (ci + s) % 3, pad || ci % 2);
                }
    /* depth multipliers > 1 (the engine expands the input channels) */
    for (int dm = 2; dm <= 3; ++dm) run_case(make_geom(1, 5, 5, 3, 0, 3, 3, 1, 1, 1, 1, dm), 1, 0, 1);
    /* clamps narrower than int8 (fused RELU / RELU6) */
    for (int i = 0; i < 4; ++i) {
        ember_conv_geom g = make_geom(2, 5, 5, 19, 21, 3, 3, 1, 1, 1, i & 1, 1);
        g.os.act_min = th_range(-128, 0);
        g.os.act_max = th_range(g.os.act_min, 127);
        run_case(g, i & 1, 0, 1);
    }
}

/* Row counts around the micro-kernel heights (AVX2 6x16 with a 3-row path,
 * 8x8 narrow, 4-row SSE4.1/NEON) x channel counts around the block widths x
 * K values around the pair/quad padding, over every requantization mode; and
 * layers whose A rows exceed one gather panel (several panels per task). */
static void rows_and_panels(void) {
    static const int chans[] = {1, 7, 8, 9, 15, 16, 17, 33};
    static const int ks[] = {1, 2, 5, 8, 29, 64};
    for (int rows = 1; rows <= 13; ++rows)
        for (int ci = 0; ci < 8; ++ci)
            for (int ki = 0; ki < 6; ++ki) {
                if ((rows + ci + ki) % 2) continue; /* half of the grid keeps the run short */
                ember_conv_geom fc = make_geom(rows, 1, 1, ks[ki], chans[ci], 1, 1, 1, 1, 0, 0, 1);
                fc.input_zero_point = (rows + ki) % 3 == 0 ? -128 : ((rows + ki) % 3 == 1 ? 127 : fc.input_zero_point);
                fc.os.output_zero_point = ci % 2 ? 127 : -128;
                if (ci % 3 == 1) {
                    fc.os.act_min = -20;
                    fc.os.act_max = 90;
                }
                run_case(fc, 0, (rows + ci + ki) % 4, (rows + ki) % 5 != 0);
            }
    /* 1x1 over 40x40 pixels (1600 rows) and a 3x3 conv over 24x24: A rows
     * span several 16 KiB panels */
    ember_conv_geom g = make_geom(1, 40, 40, 17, 19, 1, 1, 1, 1, 0, 0, 1);
    run_case(g, 0, 3, 1);
    run_case(g, 0, 0, 1);
    g = make_geom(1, 24, 24, 5, 33, 3, 3, 1, 1, 1, 0, 1);
    run_case(g, 0, 3, 1);
    g = make_geom(1, 48, 48, 3, 8, 3, 3, 2, 1, 1, 0, 1); /* a VWW-like stem */
    run_case(g, 0, 3, 1);
    run_case(g, 0, 0, 1);
    /* short kernel rows (kernel_w * in_c <= 16: runs of interior pixels in
     * the gather) with output rows that panels cut in the middle (out_w 47),
     * batch 2, padding on every side, a dilated kernel height */
    for (int ic = 1; ic <= 5; ++ic) {
        g = make_geom(2, 95, 93, ic, ic == 3 ? 8 : 17, 3, 3, 2, 1, 1, 0, 1);
        run_case(g, 0, ic % 4, 1);
        g = make_geom(2, 9, 11, ic, 5, 3, ic < 3 ? 5 : 3, 1, 1, 1, 0, 1);
        g.dilation_h = 2;
        g.pad_top = 2;
        g.out_h = out_size(g.in_h, g.kernel_h, 1, 2, 2, 2);
        run_case(g, 0, (ic + 1) % 4, 1);
    }
}

static void random_geoms(int n) {
    for (int i = 0; i < n; ++i) {
        const int depthwise = th_rand() & 1;
        const int k = 1 + (int)(th_rand() % 5);
        ember_conv_geom g = make_geom(1 + (int)(th_rand() % 2), th_range(1, 9), th_range(1, 9), th_range(1, 67),
                                      th_range(1, 67), k, th_range(1, 5), th_range(1, 3), th_range(1, 2),
                                      th_rand() & 1, depthwise, 1);
        if (!geom_ok(&g)) continue;
        run_case(g, depthwise, (int)(th_rand() % 4), th_rand() % 4 != 0);
    }
}

static void bad_args(void) {
    ember_conv_geom g = make_geom(1, 4, 4, 8, 8, 3, 3, 1, 1, 1, 0, 1);
    size_t pb, sb;
    ember_conv_geom bad = g;
    bad.stride_h = 0;
    TH_CHECK(ember_qconv_plan(&bad, ember_isa_best(), 1, &pb, &sb) != EMBER_OK, "stride 0 rejected");
    bad = g;
    bad.input_zero_point = 300;
    TH_CHECK(ember_qconv_plan(&bad, ember_isa_best(), 1, &pb, &sb) != EMBER_OK, "zero point out of range rejected");
    TH_CHECK(ember_qconv_plan(&g, EMBER_ISA_SCALAR, 1, &pb, &sb) == EMBER_ERR_UNSUPPORTED,
             "scalar means the reference kernel");
    TH_CHECK(ember_qconv_run(NULL, NULL, NULL, NULL, 0, NULL) == EMBER_ERR_ARG, "NULL packed rejected");
    char junk[256] = {0};
    TH_CHECK(ember_qdw_run(junk, (int8_t *)junk, (int8_t *)junk, junk, 256, NULL) == EMBER_ERR_ARG,
             "garbage blob rejected");
}

int main(void) {
    pool2 = ember_threadpool_create(2);
    if (!pool2) {
        fprintf(stderr, "cannot create thread pool\n");
        return 1;
    }
    printf("available ISAs: %s\n", ember_isa_available_list());
    matrix();
    rows_and_panels();
    random_geoms(150);
    bad_args();
    ember_threadpool_destroy(pool2);
    printf("%ld (case, isa, threads) runs\n", cases_run);
    return th_finish("test_simd_conv");
}
