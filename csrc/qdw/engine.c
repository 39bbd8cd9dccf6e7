/* DEPTHWISE_CONV_2D on a prepacked micro-kernel (see ember/qconv.h). For
 * each output pixel the engine builds the list of tap rows (padding taps
 * point at a row of input zero points, so with the zero point folded into
 * the bias every tap is a plain product); the kernel runs a whole output row
 * per call, all channel blocks (3x3 kernels: several rows per call). Tasks
 * split output rows. A depth multiplier dm > 1 first expands the input so
 * that channel c * dm + m holds input channel c (in the first part of the
 * scratch): the kernels then read out_c channels per pixel as for dm = 1. */
#include <stddef.h>
#include <string.h>

#include "qconv/packed.h"

static void ember_qdw_sizes(const ember_conv_geom *g, const ember_dwconv_ukernel *uk, ember_qpack_header *h) {
    const int64_t taps = (int64_t)g->kernel_h * g->kernel_w;
    const int64_t tp = (taps + uk->tr - 1) / uk->tr * uk->tr;
    h->k = taps;
    h->kp = tp;
    h->nblocks = (g->out_c + uk->cr - 1) / uk->cr;
    h->block_bytes = (int64_t)ember_dw_block_bytes(uk->cr, (size_t)tp);
    h->blocks_offset = (int64_t)ember_align_up(sizeof(ember_qpack_header), EMBER_QPACK_ALIGN);
    h->zp_row_offset = h->blocks_offset + h->nblocks * h->block_bytes;
    h->total_bytes = (int64_t)ember_align_up((size_t)(h->zp_row_offset + g->out_c), EMBER_QPACK_ALIGN);
    h->scratch_per_thread =
        (int64_t)ember_align_up((size_t)tp * (size_t)g->out_w * sizeof(const int8_t *), EMBER_QPACK_ALIGN);
}

static ember_status ember_qdw_check(const ember_conv_geom *g) {
    ember_status st = ember_qgeom_check(g);
    if (st != EMBER_OK) return st;
    if (g->depth_multiplier < 1 || (int64_t)g->in_c * g->depth_multiplier != g->out_c) return EMBER_ERR_ARG;
    return EMBER_OK;
}

/* Bytes of the expanded input at the start of the scratch (dm > 1 only). */
static size_t ember_qdw_expand_bytes(const ember_conv_geom *g) {
    if (g->depth_multiplier == 1) return 0;
    return ember_align_up((size_t)g->batch * g->in_h * g->in_w * g->out_c, EMBER_QPACK_ALIGN);
}

/* out[p][c * dm + m] = in[p][c]. */
static void ember_qdw_expand(const int8_t *in, int8_t *out, size_t pixels, size_t in_c, int32_t dm) {
    for (size_t i = 0; i < pixels * in_c; ++i) {
        const int8_t v = in[i];
        for (int32_t m = 0; m < dm; ++m) *out++ = v;
    }
}

ember_status ember_qdw_plan(const ember_conv_geom *g, ember_isa isa, int max_threads, size_t *packed_bytes,
                            size_t *scratch_bytes) {
    if (!packed_bytes || !scratch_bytes || max_threads < 1 || max_threads > EMBER_MAX_THREADS) return EMBER_ERR_ARG;
    ember_status st = ember_qdw_check(g);
    if (st != EMBER_OK) return st;
    ember_isa used;
    const ember_dwconv_ukernel *uk =
        (const ember_dwconv_ukernel *)ember_kernel_select(EMBER_KERNEL_DWCONV, isa, &used);
    if (!uk) return EMBER_ERR_UNSUPPORTED;
    ember_qpack_header h;
    memset(&h, 0, sizeof h);
    ember_qdw_sizes(g, uk, &h);
    *packed_bytes = (size_t)h.total_bytes;
    *scratch_bytes = ember_qdw_expand_bytes(g) + (size_t)(h.scratch_per_thread * max_threads);
    return EMBER_OK;
}

ember_status ember_qdw_pack(const ember_conv_geom *g, ember_isa isa, const int8_t *filter, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, void *packed, size_t packed_bytes) {
    if (!filter || !packed) return EMBER_ERR_ARG;
    ember_status st = ember_qdw_check(g);
    if (st != EMBER_OK) return st;
    if ((st = ember_qrequant_check(mult, shift, g->out_c)) != EMBER_OK) return st;
    ember_isa used;
    const ember_dwconv_ukernel *uk =
        (const ember_dwconv_ukernel *)ember_kernel_select(EMBER_KERNEL_DWCONV, isa, &used);
    if (!uk) return EMBER_ERR_UNSUPPORTED;
    ember_qpack_header h;
    memset(&h, 0, sizeof h);
    ember_qdw_sizes(g, uk, &h);
    if (packed_bytes < (size_t)h.total_bytes) return EMBER_ERR_NO_MEMORY;
    h.magic = EMBER_QPACK_MAGIC;
    h.isa = (int32_t)used;
    h.kernel = EMBER_KERNEL_DWCONV;
    h.g = *g;
    uint8_t *base = (uint8_t *)packed;
    const int cr = uk->cr, tr = uk->tr;
    const int32_t C = g->out_c;
    for (int64_t cb = 0; cb < h.nblocks; ++cb) {
        uint8_t *blk = base + h.blocks_offset + cb * h.block_bytes;
        memset(blk, 0, (size_t)h.block_bytes);
        int32_t *hb = (int32_t *)blk;
        int16_t *w = (int16_t *)(blk + 4 * EMBER_QHDR_WORDS * cr);
        for (int l = 0; l < cr; ++l) {
            const int64_t c = cb * cr + uk->lane_channel[l];
            if (c >= C) continue;
            int64_t wsum = 0;
            for (int64_t t = 0; t < h.k; ++t) wsum += filter[t * C + c];
            const int64_t b = (bias ? (int64_t)bias[c] : 0) - (int64_t)g->input_zero_point * wsum;
            ember_qhdr_set(hb, cr, l, (int32_t)(uint32_t)(uint64_t)b, mult[c], shift[c]);
            for (int32_t ky = 0; ky < g->kernel_h; ++ky)
                for (int32_t kx = 0; kx < g->kernel_w; ++kx) {
                    const int64_t s = ember_dw_tap_slot(uk->tap_order, g->kernel_h, g->kernel_w, ky, kx);
                    w[((s / tr) * cr + l) * tr + (s % tr)] = filter[((int64_t)ky * g->kernel_w + kx) * C + c];
                }
        }
    }
    memset(base + h.zp_row_offset, (int8_t)g->input_zero_point, (size_t)g->out_c);
    memcpy(packed, &h, sizeof h);
    return EMBER_OK;
}

typedef struct {
    const ember_qpack_header *h;
    const ember_dwconv_ukernel *uk;
    const uint8_t *blocks;
    const int8_t *zp_row;
    const int8_t *input;
    int8_t *output;
    uint8_t *scratch;
    int64_t rows; /* batch * out_h */
} ember_qdw_job;

/* Tap pointers of output pixels [ox0, ox1) of one output row into taps
 * (tp slots per pixel, from slot 0; padded slots already hold the zp row). */
static void ember_qdw_build_taps(const ember_qdw_job *j, const int8_t *img, int32_t iy0, int32_t ox0, int32_t ox1,
                                 const int8_t **taps) {
    const ember_conv_geom *g = &j->h->g;
    const size_t C = (size_t)g->out_c, tp = (size_t)j->h->kp; /* channels of the rows read */
    for (int32_t ox = ox0; ox < ox1; ++ox) {
        const int32_t ix0 = ox * g->stride_w - g->pad_left;
        const int8_t **pt = taps + (size_t)(ox - ox0) * tp;
        for (int32_t ky = 0; ky < g->kernel_h; ++ky) {
            const int32_t iy = iy0 + ky * g->dilation_h;
            const int row_ok = iy >= 0 && iy < g->in_h;
            const int8_t *line = row_ok ? img + (size_t)iy * g->in_w * C : j->zp_row;
            for (int32_t kx = 0; kx < g->kernel_w; ++kx) {
                const int32_t ix = ix0 + kx * g->dilation_w;
                pt[ember_dw_tap_slot(j->uk->tap_order, g->kernel_h, g->kernel_w, ky, kx)] =
                    (row_ok && ix >= 0 && ix < g->in_w) ? line + (size_t)ix * C : j->zp_row;
            }
        }
    }
}

static void ember_qdw_task(void *ctx, int task, int ntasks, int thread) {
    const ember_qdw_job *j = (const ember_qdw_job *)ctx;
    const ember_conv_geom *g = &j->h->g;
    const ember_dwconv_ukernel *uk = j->uk;
    const int64_t r0 = j->rows * task / ntasks, r1 = j->rows * (task + 1) / ntasks;
    const int8_t **taps = (const int8_t **)(void *)(j->scratch + (size_t)thread * (size_t)j->h->scratch_per_thread);
    const size_t C = (size_t)g->out_c, tp = (size_t)j->h->kp; /* channels of the rows read */
    for (int32_t ox = 0; ox < g->out_w; ++ox)
        for (size_t t = (size_t)j->h->k; t < tp; ++t) taps[(size_t)ox * tp + t] = j->zp_row;
    /* Tap offsets from the top-left tap, for interior pixels (padded taps
     * have zero weight: offset 0 is any readable byte). */
    enum { MAX_TAP_OFF = 64 };
    ptrdiff_t tap_off[MAX_TAP_OFF];
    int use_offsets = uk->run_offsets != NULL && tp <= MAX_TAP_OFF;
    if (use_offsets) {
        for (size_t t = (size_t)j->h->k; t < tp; ++t) tap_off[t] = 0;
        for (int32_t ky = 0; ky < g->kernel_h; ++ky)
            for (int32_t kx = 0; kx < g->kernel_w; ++kx)
                tap_off[ember_dw_tap_slot(uk->tap_order, g->kernel_h, g->kernel_w, ky, kx)] =
                    ((ptrdiff_t)ky * g->dilation_h * g->in_w + (ptrdiff_t)kx * g->dilation_w) * (ptrdiff_t)C;
    }
    /* Whole rows of a 3x3 kernel in one call when the kernel has that path. */
    const int use_rows = uk->run_row3x3 != NULL && g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_w == 1;
    /* Output columns whose taps are all inside the image horizontally. */
    int32_t ox_lo = 0, ox_hi = 0;
    while (ox_lo < g->out_w && ox_lo * g->stride_w - g->pad_left < 0) ++ox_lo;
    ox_hi = ox_lo;
    while (ox_hi < g->out_w && ox_hi * g->stride_w - g->pad_left + (g->kernel_w - 1) * g->dilation_w < g->in_w) ++ox_hi;
    int64_t first = r0;
    if (use_rows) {
        /* up to ROWS output rows per call: the kernel sets each channel block
         * up once for all of them */
        enum { ROWS = 16 };
        const int8_t *rows[3 * ROWS];
        while (first < r1) {
            const int64_t n = r1 - first < ROWS ? r1 - first : ROWS;
            for (int64_t i = 0; i < n; ++i) {
                const int64_t row = first + i;
                const int8_t *img = j->input + (size_t)(row / g->out_h) * g->in_h * g->in_w * C;
                const int32_t iy0 = (int32_t)(row % g->out_h) * g->stride_h - g->pad_top;
                for (int32_t ky = 0; ky < 3; ++ky) {
                    const int32_t iy = iy0 + ky * g->dilation_h;
                    rows[3 * i + ky] = iy >= 0 && iy < g->in_h ? img + (size_t)iy * g->in_w * C : NULL;
                }
            }
            if (!uk->run_row3x3((size_t)n, (size_t)g->out_w, C, rows, g->in_w, g->pad_left, g->stride_w,
                                g->input_zero_point, j->blocks, j->output + (size_t)first * g->out_w * C, &g->os))
                break; /* a shape the kernel does not take: the paths below */
            first += n;
        }
    }
    for (int64_t row = first; row < r1; ++row) {
        const int64_t b = row / g->out_h;
        const int32_t oy = (int32_t)(row % g->out_h);
        const int32_t iy0 = oy * g->stride_h - g->pad_top;
        const int8_t *img = j->input + (size_t)b * g->in_h * g->in_w * C;
        int8_t *orow = j->output + (size_t)row * g->out_w * C;
        const int rows_inside = iy0 >= 0 && iy0 + (g->kernel_h - 1) * g->dilation_h < g->in_h;
        if (use_offsets && rows_inside && ox_hi > ox_lo) {
            if (ox_lo > 0) {
                ember_qdw_build_taps(j, img, iy0, 0, ox_lo, taps);
                uk->run((size_t)ox_lo, C, tp, taps, j->blocks, orow, &g->os);
            }
            const int8_t *base = img + ((size_t)iy0 * g->in_w + (size_t)(ox_lo * g->stride_w - g->pad_left)) * C;
            uk->run_offsets((size_t)(ox_hi - ox_lo), C, tp, base, (size_t)g->stride_w * C, tap_off, j->blocks,
                            orow + (size_t)ox_lo * C, &g->os);
            if (ox_hi < g->out_w) {
                ember_qdw_build_taps(j, img, iy0, ox_hi, g->out_w, taps);
                uk->run((size_t)(g->out_w - ox_hi), C, tp, taps, j->blocks, orow + (size_t)ox_hi * C, &g->os);
            }
            continue;
        }
        ember_qdw_build_taps(j, img, iy0, 0, g->out_w, taps);
        uk->run((size_t)g->out_w, C, tp, taps, j->blocks, orow, &g->os);
    }
}

ember_status ember_qdw_run(const void *packed, const int8_t *input, int8_t *output, void *scratch,
                           size_t scratch_bytes, ember_threadpool *pool) {
    const ember_qpack_header *h = ember_qpack_header_of(packed, EMBER_KERNEL_DWCONV);
    if (!h || !input || !output) return EMBER_ERR_ARG;
    const void *ukernel = NULL;
    int threads = 1;
    const ember_conv_geom *g = &h->g;
    const size_t xb = ember_qdw_expand_bytes(g);
    if (!scratch || scratch_bytes < xb) return EMBER_ERR_NO_MEMORY;
    ember_status st =
        ember_qpack_run_setup(h, (uint8_t *)scratch + xb, scratch_bytes - xb, &ukernel, &pool, &threads);
    if (st != EMBER_OK) return st;
    if (xb) {
        ember_qdw_expand(input, (int8_t *)scratch, (size_t)g->batch * g->in_h * g->in_w, (size_t)g->in_c,
                         g->depth_multiplier);
        input = (const int8_t *)scratch;
        scratch = (uint8_t *)scratch + xb;
    }
    const ember_dwconv_ukernel *uk = (const ember_dwconv_ukernel *)ukernel;
    ember_qdw_job j;
    j.h = h;
    j.uk = uk;
    j.blocks = (const uint8_t *)packed + h->blocks_offset;
    j.zp_row = (const int8_t *)packed + h->zp_row_offset;
    j.input = input;
    j.output = output;
    j.scratch = (uint8_t *)scratch;
    j.rows = (int64_t)h->g.batch * h->g.out_h;
    /* Rows are split only when the layer's MACs pay for the hand-off (see
     * ember_threadpool_tasks); fewer, larger tasks also keep whole rows
     * together for the 3x3 row kernel. */
    const int64_t macs = j.rows * g->out_w * g->out_c * g->kernel_h * g->kernel_w;
    const int ntasks = ember_threadpool_tasks(threads, j.rows, EMBER_DW_MAC_WORK * macs);
    ember_threadpool_run(ntasks > 1 ? pool : NULL, ember_qdw_task, &j, ntasks);
    return EMBER_OK;
}
