/* Depthwise engine (qdw) paths against the naive reference with tolerance 0,
 * aimed at what test_simd_conv's small 6x7 images do not reach:
 *  - the whole-row 3x3 kernels (run_row3x3; AVX2: 16-channel blocks at
 *    stride_w 1/2, 8-channel layers as pixel pairs; SSE4.1: 8-channel
 *    blocks; both with their exact requantization shortcut and the general
 *    requantization beside it; NEON: 8-channel blocks, run under qemu by
 *    tools/cross_test.sh), on rows narrower than the
 *    kernel, wide rows, padding on either side (up to 2 columns/rows, so
 *    whole taps fall outside), any stride_h / dilation_h, padding rows;
 *  - the fallbacks beside them (dilation_w 2, 8-channel stride 2, channel
 *    counts that are neither 8 nor a multiple of 16);
 *  - the packed tap order (ROW_PAIRS) on non-3x3 kernels, odd and even
 *    heights, through the pointer-list and offset paths;
 *  - depth multipliers > 1 (input channels expanded, then the same paths);
 *  - extreme zero points, multipliers, shifts and biases (every requant
 *    specialization), fused-activation clamps, batches, 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "ember/qconv.h"
#include "ref_conv.h"
#include "test_harness.h"

static ember_threadpool *pool2;
static long runs;

/* mode 0: realistic TFLite multipliers [2^30, 2^31) and right shifts, small
 * biases; 1: the same with a multiplier of exactly 2^30 here and there and
 * shifts 0 / -31; 2: extreme (left shifts, INT32_MIN, 0, negative); 3:
 * TFLite multipliers and right shifts with biases around the limits of the
 * kernels' shortcuts (|bias| near 2^30, INT32_MIN/MAX: accumulators wrap). */
static void fill_requant(int n, int mode, int32_t *bias, int32_t *mult, int32_t *shift) {
    uint32_t mag = 0;
    for (int i = 0; i < n; ++i) {
        if (mode == 0) {
            mult[i] = th_range(1 << 30, INT32_MAX);
            shift[i] = th_range(-12, -1);
            bias[i] = th_range(-30000, 30000);
        } else if (mode == 1) {
            mult[i] = (th_rand() % 3 == 0) ? (1 << 30) : th_range(1 << 30, INT32_MAX);
            static const int32_t sh[] = {0, -1, -2, -7, -20, -30, -31};
            shift[i] = sh[th_rand() % 7];
            bias[i] = th_range(-(1 << 29), 1 << 29);
        } else if (mode == 3) {
            /* one magnitude per call, so that whole channel blocks share it */
            static const uint32_t mags[] = {(1u << 30) - (1u << 18), 1u << 30, 1503238553u, 2147483647u, 2147000000u};
            if (i == 0) mag = mags[th_rand() % 5];
            mult[i] = th_rand() % 2 ? INT32_MAX : th_range(1 << 30, INT32_MAX);
            shift[i] = th_range(-31, -1);
            const uint32_t b = (th_rand() % 2 ? mag : 0u - mag) + (uint32_t)th_range(-3, 3) * (th_rand() % 2);
            bias[i] = (int32_t)b;
        } else {
            static const int32_t mults[] = {INT32_MIN, INT32_MAX, 1 << 30, 0, 1, -1, 12345};
            static const int32_t biases[] = {INT32_MIN, INT32_MAX, 0, -1, 1 << 30, -(1 << 30)};
            static const int32_t shifts[] = {0, -31, 30, 1, -1, 5};
            mult[i] = mults[th_rand() % 7];
            bias[i] = biases[th_rand() % 6];
            shift[i] = shifts[th_rand() % 6];
        }
    }
}

/* Output size for kernel k, stride s, dilation d, padding lo/hi. */
static int out_size(int in, int k, int s, int d, int lo, int hi) {
    const int span = in + lo + hi - (d * (k - 1) + 1);
    return span < 0 ? 0 : span / s + 1;
}

typedef struct {
    int batch, h, w, c, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr;
    int dm; /* depth multiplier (0 = 1): c input channels, c * dm outputs */
} shape;

static void run_case(const shape *s, int mode, int extreme_data) {
    ember_conv_geom g;
    memset(&g, 0, sizeof g);
    g.batch = s->batch;
    g.in_h = s->h;
    g.in_w = s->w;
    g.in_c = s->c;
    g.out_c = s->c * (s->dm > 1 ? s->dm : 1);
    g.kernel_h = s->kh;
    g.kernel_w = s->kw;
    g.stride_h = s->sh;
    g.stride_w = s->sw;
    g.dilation_h = s->dh;
    g.dilation_w = s->dw;
    g.pad_top = s->pt;
    g.pad_left = s->pl;
    g.depth_multiplier = s->dm > 1 ? s->dm : 1;
    g.out_h = out_size(s->h, s->kh, s->sh, s->dh, s->pt, s->pb);
    g.out_w = out_size(s->w, s->kw, s->sw, s->dw, s->pl, s->pr);
    if (g.out_h < 1 || g.out_w < 1) return;
    static const int zps[] = {-128, 127, 0, -5};
    g.input_zero_point = extreme_data ? zps[th_rand() % 2] : zps[th_rand() % 4];
    g.os.output_zero_point = zps[th_rand() % 4];
    g.os.act_min = -128;
    g.os.act_max = 127;
    if (th_rand() % 4 == 0) { /* fused RELU / RELU6-like clamp */
        g.os.act_min = th_range(-128, 0);
        g.os.act_max = th_range(g.os.act_min, 127);
    }
    const size_t nin = (size_t)g.batch * g.in_h * g.in_w * g.in_c;
    const size_t nout = (size_t)g.batch * g.out_h * g.out_w * g.out_c;
    const size_t nw = (size_t)g.kernel_h * g.kernel_w * g.out_c;
    int8_t *in = malloc(nin), *w = malloc(nw), *ref = malloc(nout), *got = malloc(nout);
    int32_t *bias = malloc(4 * (size_t)g.out_c), *mult = malloc(4 * (size_t)g.out_c), *shift = malloc(4 * (size_t)g.out_c);
    for (size_t i = 0; i < nin; ++i) in[i] = extreme_data ? ((th_rand() & 1) ? 127 : -128) : (int8_t)th_range(-128, 127);
    for (size_t i = 0; i < nw; ++i) w[i] = extreme_data ? ((th_rand() & 1) ? 127 : -128) : (int8_t)th_range(-127, 127);
    fill_requant(g.out_c, mode, bias, mult, shift);
    const int with_bias = th_rand() % 5 != 0;
    ref_conv(&g, 1, in, w, with_bias ? bias : NULL, mult, shift, ref);
    for (int i = 1; i < EMBER_ISA_COUNT; ++i) {
        const ember_isa isa = (ember_isa)i;
        if (!ember_kernel_variant(EMBER_KERNEL_DWCONV, isa) || !ember_isa_available(isa)) continue;
        size_t pb = 0, sb = 0;
        ember_status st = ember_qdw_plan(&g, isa, 2, &pb, &sb);
        TH_CHECK(st == EMBER_OK, "plan %s", ember_isa_name(i));
        if (st != EMBER_OK) continue;
        void *packed = malloc(pb), *scratch = malloc(sb ? sb : 1);
        st = ember_qdw_pack(&g, isa, w, with_bias ? bias : NULL, mult, shift, packed, pb);
        TH_CHECK(st == EMBER_OK, "pack %s", ember_isa_name(i));
        for (int threads = 1; threads <= 2 && st == EMBER_OK; ++threads) {
            memset(got, 0x5A, nout);
            st = ember_qdw_run(packed, in, got, scratch, sb, threads == 2 ? pool2 : NULL);
            TH_CHECK(st == EMBER_OK, "run %s", ember_isa_name(i));
            size_t bad = 0, first = 0;
            for (size_t j = 0; j < nout; ++j)
                if (got[j] != ref[j] && bad++ == 0) first = j;
            TH_CHECK(bad == 0,
                     "dw %s threads=%d: %zu/%zu differ (first #%zu got %d want %d) b=%d in=%dx%dx%d out=%dx%dx%d "
                     "k=%dx%d s=%d,%d d=%d,%d pad=t%d,b%d,l%d,r%d zp=%d ozp=%d act=[%d,%d] mode=%d bias=%d",
                     ember_isa_name(i), threads, bad, nout, first, got[first], ref[first], g.batch, g.in_h, g.in_w,
                     g.in_c, g.out_h, g.out_w, g.out_c, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.dilation_h,
                     g.dilation_w, s->pt, s->pb, s->pl, s->pr, g.input_zero_point, g.os.output_zero_point,
                     g.os.act_min, g.os.act_max, mode, with_bias);
            ++runs;
        }
        free(packed);
        free(scratch);
    }
    free(in);
    free(w);
    free(ref);
    free(got);
    free(bias);
    free(mult);
    free(shift);
}

/* 3x3: the row kernels and their fallbacks over widths, strides, padding. */
static void rows3x3(void) {
    static const int chans[] = {8, 16, 32, 48, 64, 128, 1, 7, 9, 24, 40, 67};
    static const int widths[] = {1, 2, 3, 4, 5, 6, 9, 17, 48};
    const int nc = (int)(sizeof chans / sizeof chans[0]), nwid = (int)(sizeof widths / sizeof widths[0]);
    int k = 0;
    for (int ci = 0; ci < nc; ++ci)
        for (int wi = 0; wi < nwid; ++wi)
            for (int sw = 1; sw <= 2; ++sw, ++k) {
                if (chans[ci] >= 64 && widths[wi] > 17 && sw == 1 && ci % 2) continue;
                shape s = {1, th_range(1, 5), widths[wi], chans[ci], 3, 3, th_range(1, 2), sw, 1, 1, 0, 0, 0, 0};
                s.dh = th_rand() % 4 == 0 ? 2 : 1;
                s.dw = k % 7 == 3 ? 2 : 1; /* dilation_w 2: the pointer/offset path */
                s.pt = th_range(0, 2);
                s.pb = th_range(0, 2);
                s.pl = th_range(0, 2);
                s.pr = th_range(0, 2);
                if (k % 5 == 0) s.batch = 2;
                run_case(&s, k % 4, k % 11 == 0 || k % 4 == 3);
            }
    /* the VWW / KWS shapes (SAME padding; stride 2 pads only bottom/right) */
    static const int real[][4] = {{48, 48, 8, 1},  {48, 48, 16, 2}, {24, 24, 32, 1}, {24, 24, 32, 2}, {12, 12, 64, 1},
                                  {12, 12, 64, 2}, {6, 6, 128, 1},  {6, 6, 128, 2},  {3, 3, 256, 1},  {25, 5, 64, 1}};
    for (int i = 0; i < (int)(sizeof real / sizeof real[0]); ++i) {
        const int st = real[i][3];
        shape s = {1, real[i][0], real[i][1], real[i][2], 3, 3, st, st, 1, 1, st == 1, 1, st == 1, 1};
        run_case(&s, i % 3, 0);
    }
}

/* Other kernel shapes: the ROW_PAIRS tap order through the generic paths. */
static void other_kernels(void) {
    static const int ks[][2] = {{1, 1}, {1, 3}, {3, 1}, {2, 2}, {2, 3}, {4, 3}, {5, 5}, {3, 5}, {5, 2}, {7, 1}};
    for (int i = 0; i < (int)(sizeof ks / sizeof ks[0]); ++i)
        for (int j = 0; j < 6; ++j) {
            static const int chans[] = {8, 16, 5, 33, 64, 17};
            shape s = {1 + (j == 2), th_range(1, 9), th_range(1, 11), chans[j], ks[i][0], ks[i][1], th_range(1, 2),
                       th_range(1, 2), th_range(1, 2), th_range(1, 2), th_range(0, 2), th_range(0, 2), th_range(0, 2),
                       th_range(0, 2)};
            run_case(&s, (i + j) % 3, j == 5);
        }
}

/* Depth multipliers > 1: input channels expanded, then the dm = 1 paths
 * (row kernels when c * dm is 8 or a multiple of 8 / 16, generic otherwise). */
static void depth_multipliers(void) {
    static const int cd[][2] = {{1, 2}, {4, 2}, {8, 2}, {3, 3}, {16, 2}, {2, 4}, {5, 3}, {1, 8}, {32, 2}, {4, 4}};
    for (int i = 0; i < (int)(sizeof cd / sizeof cd[0]); ++i)
        for (int j = 0; j < 3; ++j) {
            const int k3 = j != 2;
            shape s = {1 + (i + j) % 2, th_range(1, 8), th_range(1, 12), cd[i][0], k3 ? 3 : th_range(1, 5),
                       k3 ? 3 : th_range(1, 5), th_range(1, 2), 1 + (j == 1), th_range(1, 2), 1 + (j == 2),
                       th_range(0, 2), th_range(0, 2), th_range(0, 2), th_range(0, 2), cd[i][1]};
            run_case(&s, (i + j) % 4, i % 5 == 4);
        }
}

/* The packed slot order is a permutation of the taps for every shape. */
static void slot_order(void) {
    for (int kh = 1; kh <= 7; ++kh)
        for (int kw = 1; kw <= 7; ++kw)
            for (int order = 0; order <= 1; ++order) {
                unsigned char seen[49] = {0};
                int ok = 1;
                for (int ky = 0; ky < kh; ++ky)
                    for (int kx = 0; kx < kw; ++kx) {
                        const int sl = ember_dw_tap_slot(order, kh, kw, ky, kx);
                        if (sl < 0 || sl >= kh * kw || seen[sl]++) ok = 0;
                    }
                TH_CHECK(ok, "tap slots of %dx%d (order %d) are not a permutation", kh, kw, order);
            }
    /* 3x3 ROW_PAIRS: the layout the row kernels read */
    static const int want[9] = {0, 2, 4, 1, 3, 5, 6, 7, 8};
    for (int t = 0; t < 9; ++t)
        TH_CHECK(ember_dw_tap_slot(EMBER_DW_TAPS_ROW_PAIRS, 3, 3, t / 3, t % 3) == want[t], "3x3 slot of tap %d", t);
}

static void random_cases(int n) {
    for (int i = 0; i < n; ++i) {
        static const int chans[] = {8, 16, 32, 48, 3, 13, 24, 64};
        const int k3 = th_rand() % 3 != 0;
        shape s = {th_range(1, 2), th_range(1, 12), th_range(1, 20), chans[th_rand() % 8], k3 ? 3 : th_range(1, 5),
                   k3 ? 3 : th_range(1, 5), th_range(1, 3), th_range(1, 3), th_range(1, 2), th_range(1, 2),
                   th_range(0, 2), th_range(0, 2), th_range(0, 2), th_range(0, 2)};
        const int mode = (int)(th_rand() % 4);
        run_case(&s, mode, mode == 3 || th_rand() % 6 == 0);
    }
}

int main(void) {
    pool2 = ember_threadpool_create(2);
    if (!pool2) {
        fprintf(stderr, "cannot create thread pool\n");
        return 1;
    }
    printf("available ISAs: %s\n", ember_isa_available_list());
    slot_order();
    rows3x3();
    other_kernels();
    depth_multipliers();
    random_cases(200);
    ember_threadpool_destroy(pool2);
    printf("%ld (case, isa, threads) runs\n", runs);
    return th_finish("test_simd_qdw");
}
