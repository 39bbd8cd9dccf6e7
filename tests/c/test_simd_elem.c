/* Every compiled SIMD variant of ADD, AVERAGE_POOL_2D and MAX_POOL_2D
 * (kernel_list.def: add, avgpool, maxpool) against the scalar reference with
 * tolerance 0: ADD over lengths 1..67 and longer (non-multiples of every
 * vector width), extreme zero points, multipliers (0, 2^30, INT32_MAX) and
 * right shifts 0..31, left shifts 0/8/9/16/20/22, activation clamps, broadcasts
 * (scalar, per-channel, either side, both sides, in place); pools over
 * kernels 1/2/3/5, strides 1/2, SAME/VALID padding, channels 1..67, windows
 * above 256 taps, inputs that make the average's rounding ties common; the
 * exact division of nn_common/pool_div.h against C division; random cases;
 * and the three ops end to end through the executor on every ISA, 1 and 2
 * threads (SIMD plans record their path, scalar plans keep nothing).
 * ISAs this CPU lacks are reported and skipped. */
#include <stdlib.h>
#include <string.h>

#include "ember/kernels.h"
#include "ember/ops/average_pool_2d.h"
#include "ember/ops/max_pool_2d.h"
#include "ember/plan.h"
#include "ember/requant.h"
#include "ember/threadpool.h"
#include "nn_common/pool_div.h"
#include "test_harness.h"

static long cases_run;

/* ---------------------------------------------------------------- ADD */

static int32_t rand_multiplier(int mode) {
    switch (mode % 6) {
    case 0: return 1 << 30;
    case 1: return INT32_MAX;
    case 2: return th_range(1 << 30, INT32_MAX);
    case 3: return (th_rand() % 8 == 0) ? 0 : th_range(1 << 30, INT32_MAX);
    case 4: return (1 << 30) | (1 << th_range(0, 29)); /* one low bit: exact rounding ties in the high multiply */
    default: return (1 << 30) | (int32_t)(th_rand() & ((1u << th_range(1, 23)) - 1u));
    }
}

static ember_add_params rand_add_params(int mode) {
    static const int32_t zps[] = {-128, 127, 0, -1, 1};
    ember_add_params p;
    const int extreme = mode % 3 == 1;
    p.input1_offset = extreme ? -zps[th_rand() % 5] : -th_range(-128, 127);
    p.input2_offset = extreme ? -zps[th_rand() % 5] : -th_range(-128, 127);
    p.output_offset = extreme ? zps[th_rand() % 5] : th_range(-128, 127);
    static const int32_t lshifts[] = {0, 8, 9, 20, 22, 16, 20}; /* x86 fast path: [9, 22] */
    p.left_shift = lshifts[mode % 7];
    p.input1_multiplier = rand_multiplier(th_rand());
    p.input2_multiplier = rand_multiplier(th_rand());
    p.output_multiplier = rand_multiplier(th_rand());
    if (mode % 3 == 2) { /* the whole shift range, 0 and 31 included */
        static const int32_t sh[] = {0, -1, -31, -30, -16};
        p.input1_shift = sh[th_rand() % 5];
        p.input2_shift = th_range(-31, 0);
        p.output_shift = sh[th_rand() % 5];
    } else { /* realistic: input scales ~1/2 .. 1/2^8, output ~2^(20-..) */
        p.input1_shift = th_range(-8, 0);
        p.input2_shift = th_range(-8, 0);
        p.output_shift = -th_range(10, 22);
    }
    switch (th_rand() % 4) {
    case 0: p.act_min = -128, p.act_max = 127; break;
    case 1: p.act_min = p.output_offset, p.act_max = 127; break; /* RELU-like */
    case 2: p.act_min = th_range(-128, 0), p.act_max = th_range(0, 127); break;
    default: p.act_min = p.act_max = th_range(-128, 127); break;
    }
    return p;
}

static void fill_s8(int8_t *x, size_t n, int mode) {
    for (size_t i = 0; i < n; ++i) {
        switch (mode % 4) {
        case 0: x[i] = (int8_t)th_range(-128, 127); break;
        case 1: x[i] = (int8_t)((th_rand() & 1) ? -128 : 127); break;
        case 2: x[i] = (int8_t)th_range(-3, 3); break;
        default: x[i] = (int8_t)(i % 256 - 128); break;
        }
    }
}

static void broadcast_or_die(ember_broadcast *bc, const int32_t *da, int na, const int32_t *db, int nb,
                             const int32_t *dy, int ny) {
    const ember_status st = ember_broadcast_init(bc, da, na, db, nb, dy, ny);
    TH_CHECK(st == EMBER_OK, "broadcast shapes of the test are valid");
}

/* One ADD shape on one variant vs the scalar reference; also in place when same shape. */
static void add_case(const ember_add_ukernel *uk, const char *isa, const int32_t *da, int na, const int32_t *db,
                     int nb, const int32_t *dy, int ny, int mode) {
    ember_broadcast bc;
    broadcast_or_die(&bc, da, na, db, nb, dy, ny);
    size_t ca = 1, cb = 1;
    for (int i = 0; i < na; ++i) ca *= (size_t)da[i];
    for (int i = 0; i < nb; ++i) cb *= (size_t)db[i];
    const size_t cy = (size_t)bc.count;
    int8_t *a = malloc(ca + 1), *b = malloc(cb + 1), *ref = malloc(cy + 1), *got = malloc(cy + 1);
    fill_s8(a, ca, mode);
    fill_s8(b, cb, mode + 1);
    const ember_add_params p = rand_add_params(mode);
    TH_CHECK(ember_add_s8_scalar(&p, &bc, a, b, ref) == EMBER_OK, "scalar ADD runs");
    memset(got, 0x5A, cy + 1);
    TH_CHECK(ember_add_s8_ukernel(uk, &p, &bc, a, b, got) == EMBER_OK, "%s ADD runs", isa);
    size_t bad = cy;
    for (size_t i = 0; i < cy; ++i)
        if (got[i] != ref[i]) {
            bad = i;
            break;
        }
    TH_CHECK(bad == cy, "%s ADD a[%d..] b[%d..] count %zu mode %d: element %zu got %d want %d (offs %d %d %d, ls %d, "
             "m %d/%d %d/%d %d/%d, act [%d,%d])",
             isa, (int)da[0], (int)db[0], cy, mode, bad, bad < cy ? got[bad] : 0, bad < cy ? ref[bad] : 0,
             (int)p.input1_offset, (int)p.input2_offset, (int)p.output_offset, (int)p.left_shift,
             (int)p.input1_multiplier, (int)p.input1_shift, (int)p.input2_multiplier, (int)p.input2_shift,
             (int)p.output_multiplier, (int)p.output_shift, (int)p.act_min, (int)p.act_max);
    TH_CHECK(got[cy] == 0x5A, "%s ADD writes nothing past the output", isa);
    /* Split into three unit ranges, as threads would. */
    const int32_t units = ember_add_s8_units(&bc), u1 = units / 3, u2 = units - units / 4;
    memset(got, 0x5A, cy + 1);
    TH_CHECK(ember_add_s8_ukernel_part(uk, &p, &bc, a, b, got, 0, u1) == EMBER_OK &&
                 ember_add_s8_ukernel_part(uk, &p, &bc, a, b, got, u1, u2) == EMBER_OK &&
                 ember_add_s8_ukernel_part(uk, &p, &bc, a, b, got, u2, units) == EMBER_OK,
             "%s ADD parts run", isa);
    TH_CHECK(memcmp(got, ref, cy) == 0 && got[cy] == 0x5A, "%s ADD in unit ranges [0,%d) [%d,%d) [%d,%d)", isa,
             (int)u1, (int)u1, (int)u2, (int)u2, (int)units);
    TH_CHECK(ember_add_s8_ukernel_part(uk, &p, &bc, a, b, got, 0, units + 1) == EMBER_ERR_ARG,
             "%s ADD rejects a range past the units", isa);
    if (bc.same_shape) { /* in place: out == a, then out == b */
        memcpy(got, a, cy);
        TH_CHECK(ember_add_s8_ukernel(uk, &p, &bc, got, b, got) == EMBER_OK && memcmp(got, ref, cy) == 0,
                 "%s ADD in place (out == a)", isa);
        memcpy(got, b, cy);
        TH_CHECK(ember_add_s8_ukernel(uk, &p, &bc, a, got, got) == EMBER_OK && memcmp(got, ref, cy) == 0,
                 "%s ADD in place (out == b)", isa);
    }
    ++cases_run;
    free(a), free(b), free(ref), free(got);
}

/* Every (a, b) pair of int8 values at once (65536 elements) under params
 * that keep the rescaled terms' low bits visible in the output: small input
 * shifts, output scale ~ 2^-(L+1), multipliers whose low bits make the high
 * multiply land exactly on rounding ties. */
static void test_add_all_pairs(const ember_add_ukernel *uk, const char *isa) {
    static int8_t a[65536], b[65536], ref[65536], got[65536];
    for (int i = 0; i < 65536; ++i) {
        a[i] = (int8_t)(i & 0xFF);
        b[i] = (int8_t)(i >> 8);
    }
    const int32_t d[1] = {65536};
    ember_broadcast bc;
    broadcast_or_die(&bc, d, 1, d, 1, d, 1);
    static const int32_t lshifts[] = {9, 10, 11, 15, 20, 22, 8, 0};
    for (size_t li = 0; li < sizeof lshifts / sizeof lshifts[0]; ++li) {
        const int32_t L = lshifts[li], k = 31 - L;
        for (int variant = 0; variant < 4; ++variant) {
            ember_add_params p;
            const int32_t tie = (k >= 1 && k <= 30) ? (INT32_C(1) << (k - 1)) : 1;
            const int32_t mults[4] = {(1 << 30) | tie, (1 << 30) | (tie - 1),
                                      (1 << 30) | (k <= 28 ? 3 << k : 0) | tie, th_range(1 << 30, INT32_MAX)};
            p.input1_offset = variant & 1 ? 128 : -127;
            p.input2_offset = variant & 2 ? 0 : 5;
            p.output_offset = variant == 3 ? -128 : 0;
            p.left_shift = L;
            p.input1_multiplier = mults[variant];
            p.input2_multiplier = mults[(variant + 1) % 4];
            p.input1_shift = -(variant & 1);
            p.input2_shift = 0;
            p.output_multiplier = mults[(variant + 2) % 4];
            p.output_shift = L + 2 > 31 ? -31 : -(L + 2);
            p.act_min = -128;
            p.act_max = 127;
            TH_CHECK(ember_add_s8_scalar(&p, &bc, a, b, ref) == EMBER_OK, "scalar ADD runs");
            TH_CHECK(ember_add_s8_ukernel(uk, &p, &bc, a, b, got) == EMBER_OK, "%s ADD runs", isa);
            int bad = -1;
            for (int i = 0; i < 65536 && bad < 0; ++i)
                if (got[i] != ref[i]) bad = i;
            TH_CHECK(bad < 0, "%s ADD all pairs, left shift %d variant %d: a=%d b=%d got %d want %d", isa, (int)L,
                     variant, bad < 0 ? 0 : a[bad], bad < 0 ? 0 : b[bad], bad < 0 ? 0 : got[bad],
                     bad < 0 ? 0 : ref[bad]);
            ++cases_run;
        }
    }
}

static void test_add(const ember_add_ukernel *uk, const char *isa) {
    /* Same shape, every length 1..67 and some longer ones, every params mode. */
    for (int32_t n = 1; n <= 67; ++n)
        for (int mode = 0; mode < 6; ++mode) {
            const int32_t d[1] = {n};
            add_case(uk, isa, d, 1, d, 1, d, 1, mode + n);
        }
    static const int32_t longer[] = {96, 127, 128, 129, 255, 256, 1000, 1024, 3 * 1024 + 1, 8192 + 7};
    for (size_t i = 0; i < sizeof longer / sizeof longer[0]; ++i) {
        const int32_t d[1] = {longer[i]};
        add_case(uk, isa, d, 1, d, 1, d, 1, (int)i);
    }
    /* Broadcasts: per-channel vector on either side, scalar on either side,
     * both sides broadcast, inner dim 1, 5-D, channel counts around the widths. */
    for (int32_t c = 1; c <= 67; c += (c < 20 ? 1 : 5)) {
        const int32_t x[4] = {1, 3, 5, c}, v[1] = {c}, v4[4] = {1, 1, 1, c}, s[1] = {1}, col[4] = {1, 3, 5, 1};
        add_case(uk, isa, x, 4, v, 1, x, 4, c);
        add_case(uk, isa, v4, 4, x, 4, x, 4, c + 1);
        add_case(uk, isa, x, 4, s, 1, x, 4, c + 2);
        add_case(uk, isa, s, 1, x, 4, x, 4, c + 3);
        add_case(uk, isa, x, 4, col, 4, x, 4, c + 4);
        add_case(uk, isa, col, 4, x, 4, x, 4, c + 5);
        const int32_t h1[4] = {2, 3, 1, c}, w1[4] = {1, 1, 4, c}, y[4] = {2, 3, 4, c};
        add_case(uk, isa, h1, 4, w1, 4, y, 4, c + 6);
    }
    const int32_t a5[5] = {2, 3, 2, 2, 3}, b5[4] = {3, 1, 1, 3};
    add_case(uk, isa, a5, 5, b5, 4, a5, 5, 7);
    const int32_t ra[2] = {4, 1}, rb[2] = {1, 6}, ry[2] = {4, 6};
    add_case(uk, isa, ra, 2, rb, 2, ry, 2, 8);
    const int32_t one[1] = {1};
    add_case(uk, isa, one, 1, one, 1, one, 1, 9);
    /* ResNet-like residual add and its per-channel cousin. */
    const int32_t big[4] = {1, 16, 16, 32}, ch[1] = {32};
    add_case(uk, isa, big, 4, big, 4, big, 4, 10);
    add_case(uk, isa, big, 4, ch, 1, big, 4, 11);
}

/* --------------------------------------------------------------- pools */

typedef struct {
    int32_t h, w, c, k_h, k_w, stride, same;
} pool_geom;

static int32_t out_size(int32_t in, int32_t k, int32_t stride, int same, int32_t *pad) {
    if (same) {
        const int32_t out = (in + stride - 1) / stride;
        const int32_t total = (out - 1) * stride + k - in;
        *pad = total > 0 ? total / 2 : 0;
        return out;
    }
    *pad = 0;
    return (in - k) / stride + 1;
}

/* mode: 0 random, 1 extremes, 2 small values (rounding ties are common),
 * 3 blocks of -128 and 127, 4 all -128, 5 all 127 (largest sums). */
static void pool_case(const ember_pool_ukernel *avg, const ember_pool_ukernel *max, const char *isa, pool_geom g,
                      int batches, int mode, int32_t act_min, int32_t act_max) {
    if (!g.same && (g.k_h > g.h || g.k_w > g.w)) return;
    ember_pool_2d_params p;
    ember_nhwc in = {batches, g.h, g.w, g.c}, out;
    out.n = batches;
    out.c = g.c;
    out.h = out_size(g.h, g.k_h, g.stride, g.same, &p.pad_h);
    out.w = out_size(g.w, g.k_w, g.stride, g.same, &p.pad_w);
    p.stride_h = p.stride_w = g.stride;
    p.filter_h = g.k_h;
    p.filter_w = g.k_w;
    p.act_min = act_min;
    p.act_max = act_max;
    if (p.pad_h >= p.filter_h || p.pad_w >= p.filter_w) return; /* window fully in the padding: an error case */
    const size_t nin = (size_t)batches * g.h * g.w * g.c, nout = (size_t)batches * out.h * out.w * g.c;
    int8_t *x = malloc(nin), *ref = malloc(nout + 1), *got = malloc(nout + 1);
    if (mode == 3) {
        for (size_t i = 0; i < nin; ++i) x[i] = (int8_t)(((i / 7) & 1) ? 127 : -128);
    } else if (mode >= 4) {
        memset(x, mode == 4 ? 0x80 : 0x7F, nin);
    } else {
        fill_s8(x, nin, mode == 0 ? 0 : (mode == 1 ? 1 : 2));
    }
    const int32_t rows = batches * out.h;
    for (int kind = 0; kind < 2; ++kind) {
        const ember_pool_ukernel *uk = kind ? max : avg;
        if (uk == NULL) continue;
        ember_status sr = kind ? ember_max_pool_2d_s8_scalar(&p, &in, x, &out, ref, 0, rows, NULL)
                               : ember_average_pool_2d_s8_scalar(&p, &in, x, &out, ref, 0, rows, NULL);
        TH_CHECK(sr == EMBER_OK, "scalar pool runs");
        memset(got, 0x5A, nout + 1);
        /* two row ranges, as two threads would split it */
        const int32_t mid = rows / 2;
        ember_status s1 = kind ? ember_max_pool_2d_s8_ukernel(uk, &p, &in, x, &out, got, 0, mid)
                               : ember_average_pool_2d_s8_ukernel(uk, &p, &in, x, &out, got, 0, mid);
        ember_status s2 = kind ? ember_max_pool_2d_s8_ukernel(uk, &p, &in, x, &out, got, mid, rows)
                               : ember_average_pool_2d_s8_ukernel(uk, &p, &in, x, &out, got, mid, rows);
        TH_CHECK(s1 == EMBER_OK && s2 == EMBER_OK, "%s pool runs", isa);
        size_t bad = nout;
        for (size_t i = 0; i < nout; ++i)
            if (got[i] != ref[i]) {
                bad = i;
                break;
            }
        TH_CHECK(bad == nout,
                 "%s %s %dx%dx%d k%dx%d s%d %s mode %d act [%d,%d]: element %zu got %d want %d", isa,
                 kind ? "max" : "avg", (int)g.h, (int)g.w, (int)g.c, (int)g.k_h, (int)g.k_w, (int)g.stride,
                 g.same ? "SAME" : "VALID", mode, (int)act_min, (int)act_max, bad, bad < nout ? got[bad] : 0,
                 bad < nout ? ref[bad] : 0);
        TH_CHECK(got[nout] == 0x5A, "%s pool writes nothing past the output", isa);
        ++cases_run;
    }
    free(x), free(ref), free(got);
}

static void test_pools(const ember_pool_ukernel *avg, const ember_pool_ukernel *max, const char *isa) {
    static const int32_t ks[] = {1, 2, 3, 5};
    int n = 0;
    for (int32_t c = 1; c <= 67; ++c) {
        for (size_t ki = 0; ki < 4; ++ki)
            for (int32_t stride = 1; stride <= 2; ++stride)
                for (int same = 0; same <= 1; ++same, ++n) {
                    pool_geom g = {5 + (int32_t)(n % 3), 6 + (int32_t)(n % 2), c, ks[ki], ks[(ki + n) % 4], stride,
                                   same};
                    const int32_t lo = n % 5 == 0 ? 0 : -128, hi = n % 7 == 0 ? 6 : 127;
                    pool_case(avg, max, isa, g, 1 + (n % 11 == 0), n % 4, lo, hi);
                }
    }
    /* Global pools like KWS (25x5 -> 1, 125 taps) and VWW (3x3, 256 channels),
     * windows above 256 taps (int16 partial sums flushed), a 1x1 window. */
    const pool_geom big[] = {{25, 5, 64, 25, 5, 2, 0}, {3, 3, 256, 3, 3, 1, 0}, {17, 17, 40, 17, 17, 1, 0},
                             {20, 30, 33, 20, 30, 1, 0}, {4, 4, 67, 1, 1, 1, 0}, {33, 9, 16, 33, 9, 1, 1}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; ++i)
        for (int mode = 0; mode < 6; ++mode) pool_case(avg, max, isa, big[i], 1, mode, -128, 127);
}

/* Exact division of nn_common/pool_div.h vs TFLite's C-division rounding. */
static void test_pool_div(void) {
    long bad = 0, checked = 0;
    for (uint32_t n = 1; n <= 5000; ++n) {
        const ember_pool_div d = ember_pool_div_make(n);
        const int32_t lim = 128 * (int32_t)n;
        for (int32_t k = -128; k <= 128; ++k) { /* around every multiple of n: ties at k*n +- n/2 */
            const int32_t base = k * (int32_t)n;
            const int32_t cand[] = {base, base + (int32_t)n / 2, base - (int32_t)n / 2, base + (int32_t)n / 2 + 1,
                                    base - (int32_t)n / 2 - 1, base + 1, base - 1};
            for (size_t j = 0; j < sizeof cand / sizeof cand[0]; ++j) {
                const int32_t s = cand[j];
                if (s < -lim || s > lim) continue;
                ++checked;
                if (ember_pool_div_apply(&d, s) != ember_pool_avg_round(s, (int32_t)n)) ++bad;
            }
        }
    }
    static const uint32_t big[] = {65535, 65536, 65537, 1000003, (1u << 22) + 1, (1u << 23) - 1, 1u << 23};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; ++i) {
        const uint32_t n = big[i];
        const ember_pool_div d = ember_pool_div_make(n);
        const int32_t lim = 128 * (int32_t)n;
        for (int t = 0; t < 20000; ++t) {
            int32_t s = (int32_t)(th_rand() % (2u * (uint32_t)lim + 1u)) - lim;
            if (t % 3 == 0) s = (s / (int32_t)n) * (int32_t)n + (t % 2 ? 1 : -1) * (int32_t)(n / 2);
            if (t < 4) s = (t & 1) ? lim : -lim;
            ++checked;
            if (ember_pool_div_apply(&d, s) != ember_pool_avg_round(s, (int32_t)n)) ++bad;
        }
    }
    TH_CHECK(bad == 0, "pool_div: %ld of %ld rounded divisions differ from C division", bad, checked);
}

/* Random geometries and params. */
static void test_random(const ember_add_ukernel *add, const ember_pool_ukernel *avg, const ember_pool_ukernel *max,
                        const char *isa) {
    for (int it = 0; it < 150; ++it) {
        if (add) {
            int32_t dy[4], da[4], db[4];
            const int nd = th_range(1, 4);
            for (int i = 0; i < nd; ++i) {
                dy[i] = th_range(1, i == nd - 1 ? 70 : 5);
                const int r = (int)(th_rand() % 3);
                da[i] = r == 1 ? 1 : dy[i];
                db[i] = r == 2 ? 1 : dy[i];
            }
            add_case(add, isa, da, nd, db, nd, dy, nd, it);
        }
        pool_geom g = {th_range(1, 12), th_range(1, 12), th_range(1, 70), th_range(1, 6), th_range(1, 6),
                       th_range(1, 3), (int)(th_rand() & 1)};
        const int32_t lo = th_range(-128, 0), hi = th_range(lo, 127);
        pool_case(avg, max, isa, g, th_range(1, 2), it % 6, lo, hi);
    }
}

/* --------------------------------------------------- through the executor */

/* A plan of ADD(x, y) -> MAX_POOL 2x2/2 -> AVERAGE_POOL 3x3/1 SAME with `isa`
 * active (the ADD is large enough to be split across threads). */
static ember_status run_plan(ember_isa isa, int threads, const int8_t *x, const int8_t *y, int8_t *out,
                             size_t *persistent) {
    if (ember_isa_set(isa) != EMBER_OK) return EMBER_ERR_UNSUPPORTED;
    ember_plan *p = ember_plan_create();
    const int32_t dx[4] = {1, 24, 25, 37}, dv[1] = {37}, dm[4] = {1, 12, 12, 37};
    int32_t tx, ty, ts, tm, to;
    ember_status st = ember_plan_add_tensor(p, EMBER_DT_INT8, 4, dx, 1.f, 0, NULL, &tx);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT8, 1, dv, 1.f, 0, y, &ty);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT8, 4, dx, 1.f, 0, NULL, &ts);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT8, 4, dm, 1.f, 0, NULL, &tm);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT8, 4, dm, 1.f, 0, NULL, &to);
    const int32_t add_p[12] = {3, -100, -7, 20, 1518500250, -1, 1288490189, 0, 1431655765, -19, -128, 127};
    const int32_t max_p[8] = {2, 2, 2, 2, 0, 0, -128, 127};
    const int32_t avg_p[8] = {1, 1, 3, 3, 1, 1, -20, 100};
    const int32_t ins[2] = {tx, ty};
    if (!st) st = ember_plan_add_op(p, ember_op_find("ADD"), 2, ins, 1, &ts, 12, add_p);
    if (!st) st = ember_plan_add_op(p, ember_op_find("MAX_POOL_2D"), 1, &ts, 1, &tm, 8, max_p);
    if (!st) st = ember_plan_add_op(p, ember_op_find("AVERAGE_POOL_2D"), 1, &tm, 1, &to, 8, avg_p);
    if (!st) st = ember_plan_set_io(p, 1, &tx, 1, &to);
    if (!st) st = ember_plan_finalize(p, threads);
    const void *inputs[1] = {x};
    void *outputs[1] = {out};
    if (!st) st = ember_plan_run(p, inputs, outputs);
    if (!st) st = ember_plan_run(p, inputs, outputs);
    ember_plan_memory_info mi;
    if (!st && ember_plan_memory(p, &mi) == EMBER_OK) *persistent = mi.persistent_bytes;
    if (st) fprintf(stderr, "plan on %s: %s\n", ember_isa_name(isa), ember_last_error());
    ember_plan_destroy(p);
    return st;
}

static void test_plans(void) {
    const size_t nx = 24 * 25 * 37, ny = 12 * 12 * 37;
    int8_t *x = malloc(nx), *ref = malloc(ny), *got = malloc(ny);
    int8_t y[37];
    fill_s8(x, nx, 0);
    fill_s8(y, 37, 0);
    size_t pers = 1;
    TH_CHECK(run_plan(EMBER_ISA_SCALAR, 1, x, y, ref, &pers) == EMBER_OK, "scalar plan runs");
    TH_CHECK(pers == 0, "scalar plan keeps nothing (%zu)", pers);
    for (int i = 1; i < EMBER_ISA_COUNT; ++i) {
        if (!ember_isa_available((ember_isa)i)) continue;
        for (int threads = 1; threads <= 2; ++threads) {
            memset(got, 0x33, ny);
            pers = 0;
            TH_CHECK(run_plan((ember_isa)i, threads, x, y, got, &pers) == EMBER_OK, "%s plan runs", ember_isa_name(i));
            TH_CHECK(memcmp(got, ref, ny) == 0, "plan on %s x%d threads equals scalar", ember_isa_name(i), threads);
            const int simd = ember_kernel_select(EMBER_KERNEL_ADD, (ember_isa)i, NULL) != NULL;
            TH_CHECK(simd ? pers >= 3 * sizeof(int32_t) : pers == 0, "%s plan records its path (%zu bytes)",
                     ember_isa_name(i), pers);
        }
    }
    free(x), free(ref), free(got);
}

int main(void) {
    test_pool_div();
    int variants = 0;
    for (int i = 1; i < EMBER_ISA_COUNT; ++i) {
        const ember_isa isa = (ember_isa)i;
        const ember_add_ukernel *add = (const ember_add_ukernel *)ember_kernel_variant(EMBER_KERNEL_ADD, isa);
        const ember_pool_ukernel *avg = (const ember_pool_ukernel *)ember_kernel_variant(EMBER_KERNEL_AVGPOOL, isa);
        const ember_pool_ukernel *max = (const ember_pool_ukernel *)ember_kernel_variant(EMBER_KERNEL_MAXPOOL, isa);
        if (!add && !avg && !max) continue;
        if (!ember_isa_available(isa)) {
            printf("test_simd_elem: %s compiled but not supported by this CPU: skipped\n", ember_isa_name(i));
            continue;
        }
        const long before = cases_run;
        if (add) test_add(add, ember_isa_name(i));
        if (add) test_add_all_pairs(add, ember_isa_name(i));
        if (avg || max) test_pools(avg, max, ember_isa_name(i));
        test_random(add, avg, max, ember_isa_name(i));
        printf("test_simd_elem: %s: %ld cases\n", ember_isa_name(i), cases_run - before);
        ++variants;
    }
#if defined(EMBER_HAVE_X86_SIMD) || defined(EMBER_HAVE_NEON)
    TH_CHECK(variants > 0 || ember_isa_best() == EMBER_ISA_SCALAR, "a SIMD build tests at least one variant");
#endif
    test_plans();
    ember_isa_set(ember_isa_best());
    return th_finish("test_simd_elem");
}
