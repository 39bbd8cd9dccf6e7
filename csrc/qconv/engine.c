/* CONV_2D / FULLY_CONNECTED on a prepacked GEMM micro-kernel (see
 * ember/qconv.h). Rows are output pixels; each task takes a range of MR-row
 * blocks (or, when there are few rows, a range of channel blocks), gathers
 * the rows' receptive fields into its A buffer and runs the micro-kernel over
 * its channel blocks. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h> /* baseline on x86-64: no per-file flag needed */
#endif

#include "qconv/packed.h"

/* A buffers get this much slack so the fast gather may write past a row. */
#define EMBER_GATHER_SLACK 64
/* A task gathers a panel of up to this many bytes of A rows (a multiple of
 * MR rows, at least MR) and then runs every channel block over the whole
 * panel, so a channel block's weights are read once per panel instead of
 * once per MR rows (few-pixel layers with large weights: 6x6x128 -> 128,
 * 3x3x256 -> 256). Half of a 32 KiB L1 leaves room for a weight block. */
#define EMBER_PANEL_BYTES 16384

/* Rows per panel: the most MR multiples within EMBER_PANEL_BYTES, at least
 * MR, at most the rows of the layer rounded up to MR. */
static int64_t ember_qconv_panel_rows(const ember_conv_geom *g, const ember_qgemm_ukernel *uk, int64_t kp) {
    const int64_t rows = (int64_t)g->batch * g->out_h * g->out_w;
    const int64_t row_bytes = kp * uk->a_bytes;
    int64_t mbs = EMBER_PANEL_BYTES / (row_bytes * uk->mr);
    const int64_t need = (rows + uk->mr - 1) / uk->mr;
    if (mbs > need) mbs = need;
    if (mbs < 1) mbs = 1;
    return mbs * uk->mr;
}

static ember_status ember_qconv_sizes(const ember_conv_geom *g, const ember_qgemm_ukernel *uk, int max_threads,
                                      ember_qpack_header *h) {
    const int64_t k = (int64_t)g->kernel_h * g->kernel_w * g->in_c;
    const int64_t kp = (k + uk->k_align - 1) / uk->k_align * uk->k_align;
    const int64_t nblocks = (g->out_c + uk->nr - 1) / uk->nr;
    h->k = k;
    h->kp = kp;
    h->nblocks = nblocks;
    h->block_bytes = (int64_t)ember_align_up((size_t)(4 * EMBER_QHDR_WORDS * uk->nr + kp * uk->nr * uk->w_bytes), EMBER_QPACK_ALIGN);
    h->blocks_offset = (int64_t)ember_align_up(sizeof(ember_qpack_header), EMBER_QPACK_ALIGN);
    h->zp_row_offset = h->blocks_offset + nblocks * h->block_bytes;
    h->total_bytes = (int64_t)ember_align_up((size_t)(h->zp_row_offset + 1), EMBER_QPACK_ALIGN);
    h->scratch_per_thread = (int64_t)ember_align_up(
        (size_t)(ember_qconv_panel_rows(g, uk, kp) * kp * uk->a_bytes) + EMBER_GATHER_SLACK, EMBER_QPACK_ALIGN);
    h->max_threads = max_threads;
    return EMBER_OK;
}

/* The micro-kernel for this geometry: the narrow variant when the output
 * channels fit it, else the regular one. */
static const ember_qgemm_ukernel *ember_qconv_pick(const ember_conv_geom *g, ember_isa isa, ember_isa *used,
                                                   int *kernel) {
    ember_isa nused;
    const ember_qgemm_ukernel *n =
        (const ember_qgemm_ukernel *)ember_kernel_select(EMBER_KERNEL_QGEMM_NARROW, isa, &nused);
    const ember_qgemm_ukernel *uk = (const ember_qgemm_ukernel *)ember_kernel_select(EMBER_KERNEL_QGEMM, isa, used);
    if (n && uk && nused == *used && g->out_c <= n->nr) {
        *kernel = EMBER_KERNEL_QGEMM_NARROW;
        return n;
    }
    *kernel = EMBER_KERNEL_QGEMM;
    return uk;
}

ember_status ember_qconv_plan(const ember_conv_geom *g, ember_isa isa, int max_threads, size_t *packed_bytes,
                              size_t *scratch_bytes) {
    if (!packed_bytes || !scratch_bytes || max_threads < 1 || max_threads > EMBER_MAX_THREADS) return EMBER_ERR_ARG;
    ember_status st = ember_qgeom_check(g);
    if (st != EMBER_OK) return st;
    ember_isa used;
    int kernel;
    const ember_qgemm_ukernel *uk = ember_qconv_pick(g, isa, &used, &kernel);
    if (!uk) return EMBER_ERR_UNSUPPORTED;
    ember_qpack_header h;
    memset(&h, 0, sizeof h);
    ember_qconv_sizes(g, uk, max_threads, &h);
    *packed_bytes = (size_t)h.total_bytes;
    *scratch_bytes = (size_t)(h.scratch_per_thread * max_threads);
    return EMBER_OK;
}

ember_status ember_qconv_pack(const ember_conv_geom *g, ember_isa isa, const int8_t *filter, const int32_t *bias,
                              const int32_t *mult, const int32_t *shift, void *packed, size_t packed_bytes) {
    if (!filter || !packed) return EMBER_ERR_ARG;
    ember_status st = ember_qgeom_check(g);
    if (st != EMBER_OK) return st;
    if ((st = ember_qrequant_check(mult, shift, g->out_c)) != EMBER_OK) return st;
    ember_isa used;
    int kernel;
    const ember_qgemm_ukernel *uk = ember_qconv_pick(g, isa, &used, &kernel);
    if (!uk) return EMBER_ERR_UNSUPPORTED;
    ember_qpack_header h;
    memset(&h, 0, sizeof h);
    ember_qconv_sizes(g, uk, 1, &h);
    if (packed_bytes < (size_t)h.total_bytes) return EMBER_ERR_NO_MEMORY;
    h.magic = EMBER_QPACK_MAGIC;
    h.isa = (int32_t)used;
    h.kernel = kernel;
    h.g = *g;
    /* max_threads is fixed by the scratch the caller sized; run derives it. */
    h.max_threads = 0;
    uint8_t *base = (uint8_t *)packed;
    const int nr = uk->nr, kr = uk->kr;
    const int64_t k = h.k, kp = h.kp;
    for (int64_t nb = 0; nb < h.nblocks; ++nb) {
        uint8_t *blk = base + h.blocks_offset + nb * h.block_bytes;
        memset(blk, 0, (size_t)h.block_bytes);
        int32_t *hb = (int32_t *)blk; /* block_offset and block_bytes are multiples of 64 */
        for (int j = 0; j < nr; ++j) {
            const int64_t n = nb * nr + j;
            if (n >= g->out_c) break;
            int64_t wsum = 0;
            for (int64_t i = 0; i < k; ++i) wsum += filter[n * k + i];
            const int64_t b = (bias ? (int64_t)bias[n] : 0) - (int64_t)g->input_zero_point * wsum;
            /* the folded bias wraps like the int32 accumulator */
            ember_qhdr_set(hb, nr, j, (int32_t)(uint32_t)(uint64_t)b, mult[n], shift[n]);
        }
        uint8_t *w = blk + 4 * EMBER_QHDR_WORDS * nr;
        for (int64_t grp = 0; grp < kp / kr; ++grp) {
            for (int j = 0; j < nr; ++j) {
                const int64_t n = nb * nr + j;
                for (int r = 0; r < kr; ++r) {
                    const int64_t kk = grp * kr + r;
                    const int8_t v = (n < g->out_c && kk < k) ? filter[n * k + kk] : 0;
                    const int64_t idx = (grp * nr + j) * kr + r;
                    if (uk->w_bytes == 2)
                        ((int16_t *)w)[idx] = v;
                    else
                        ((int8_t *)w)[idx] = v;
                }
            }
        }
    }
    memset(base + h.zp_row_offset, 0, (size_t)(h.total_bytes - h.zp_row_offset));
    memcpy(packed, &h, sizeof h);
    return EMBER_OK;
}

typedef struct {
    const ember_qpack_header *h;
    const ember_qgemm_ukernel *uk;
    const uint8_t *blocks;
    const int8_t *input;
    int8_t *output;
    uint8_t *scratch;
    int64_t rows, mblocks;
    int64_t panel_mblocks; /* MR-row blocks gathered at once (scratch_per_thread holds them) */
    int split_rows; /* 1: tasks split row blocks, 0: channel blocks */
    int direct;     /* 1x1, stride 1, no padding, K == kp: A rows = input rows */
    int short_rows; /* int16 A, dilation_w 1, kernel_w * in_c <= 16: ember_qconv_gather_rows_short */
    const int8_t *input_end;
} ember_qconv_job;

/* Copies n inputs into A elements at dst. With int16 A on x86 it widens 16
 * at a time inline (SSE2), reading up to 15 bytes past src + n when they are
 * inside the input and writing up to 15 elements past dst + n (the next
 * segment or row overwrites them; buffers have EMBER_GATHER_SLACK). Small
 * segments (3x3 kernels over 3 channels) made the generic call dominate. */
static inline void ember_qconv_copy(const ember_qconv_job *j, const int8_t *src, uint8_t *dst, size_t n) {
#if defined(__SSE2__)
    if (j->uk->a_bytes == 2 && src + ((n + 15) & ~(size_t)15) <= j->input_end) {
        int16_t *d = (int16_t *)(void *)dst;
        for (size_t i = 0; i < n; i += 16) {
            const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
            const __m128i sign = _mm_cmpgt_epi8(_mm_setzero_si128(), x);
            _mm_storeu_si128((__m128i *)(void *)(d + i), _mm_unpacklo_epi8(x, sign));
            _mm_storeu_si128((__m128i *)(void *)(d + i + 8), _mm_unpackhi_epi8(x, sign));
        }
        return;
    }
#endif
    j->uk->load_a(src, dst, n);
}

/* Writes n A elements of value v. These runs are short (K padding, padded
 * taps); gcc's auto-vectorized form of the plain loop built its broadcast
 * through the stack and stalled on store forwarding on every call, so int16
 * fills use explicit SSE2 stores plus a scalar tail. */
static inline void ember_qconv_fill(const ember_qconv_job *j, uint8_t *dst, int8_t v, size_t n) {
    if (j->uk->a_bytes == 2) {
        int16_t *d = (int16_t *)(void *)dst;
        size_t i = 0;
#if defined(__SSE2__)
        if (n >= 8) {
            const __m128i vv = _mm_set1_epi16(v);
            for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(void *)(d + i), vv);
        }
        switch (n - i) { /* at most 7 left: no loop for the vectorizer to touch */
        case 7: d[i + 6] = v; /* fall through */
        case 6: d[i + 5] = v; /* fall through */
        case 5: d[i + 4] = v; /* fall through */
        case 4: d[i + 3] = v; /* fall through */
        case 3: d[i + 2] = v; /* fall through */
        case 2: d[i + 1] = v; /* fall through */
        case 1: d[i] = v; /* fall through */
        default: break;
        }
        return;
#else
        for (; i < n; ++i) d[i] = v;
        return;
#endif
    }
    j->uk->fill_a(dst, v, n);
}

/* Gathers the receptive field of the output pixel at (b, oy, ox) into dst
 * (kp A elements). */
static void ember_qconv_gather(const ember_qconv_job *j, int64_t b, int32_t oy, int32_t ox, uint8_t *dst) {
    const ember_conv_geom *g = &j->h->g;
    const ember_qgemm_ukernel *uk = j->uk;
    const size_t ab = (size_t)uk->a_bytes;
    const int8_t zp = (int8_t)g->input_zero_point;
    const int32_t ic = g->in_c;
    const int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
    const int8_t *img = j->input + (size_t)b * g->in_h * g->in_w * ic;
    for (int32_t ky = 0; ky < g->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * g->dilation_h;
        if (iy < 0 || iy >= g->in_h) {
            ember_qconv_fill(j, dst, zp, (size_t)g->kernel_w * ic);
            dst += (size_t)g->kernel_w * ic * ab;
            continue;
        }
        const int8_t *line = img + (size_t)iy * g->in_w * ic;
        if (g->dilation_w == 1 && ix0 >= 0 && ix0 + g->kernel_w <= g->in_w) {
            ember_qconv_copy(j, line + (size_t)ix0 * ic, dst, (size_t)g->kernel_w * ic);
            dst += (size_t)g->kernel_w * ic * ab;
            continue;
        }
        for (int32_t kx = 0; kx < g->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * g->dilation_w;
            if (ix < 0 || ix >= g->in_w)
                ember_qconv_fill(j, dst, zp, (size_t)ic);
            else
                ember_qconv_copy(j, line + (size_t)ix * ic, dst, (size_t)ic);
            dst += (size_t)ic * ab;
        }
    }
    if (j->h->kp > j->h->k) ember_qconv_fill(j, dst, 0, (size_t)(j->h->kp - j->h->k));
}

#if defined(__SSE2__)
/* Short-row border pixels with at most this many kernel rows build their
 * window on the stack (16 bytes per kernel row). */
#define EMBER_SHORT_WINDOW_ROWS 16

/* One interior pixel of a 3x3 kernel over 3 channels: 3 kernel rows of 9
 * values, K = 27 assembled in registers and stored as 4 whole 16-byte
 * chunks, so every A pair the micro-kernel loads comes from one store (a
 * pair split across two overlapping stores fails store-to-load forwarding). */
static inline void ember_qconv_gather_rgb3x3(const int8_t *src, size_t line, uint8_t *dst) {
    const __m128i m9 = _mm_set_epi32(-1, (int)0xFFFFFF00u, 0, 0), m11 = _mm_set_epi32(0, 0x00FFFFFF, -1, -1);
    const __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)src);
    const __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(src + line));
    const __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * line));
    const __m128i v0 = _mm_or_si128(_mm_andnot_si128(m9, x0), _mm_slli_si128(x1, 9));
    const __m128i v1 = _mm_and_si128(_mm_or_si128(_mm_srli_si128(_mm_slli_si128(x1, 7), 14), _mm_slli_si128(x2, 2)), m11);
    const __m128i s0 = _mm_cmpgt_epi8(_mm_setzero_si128(), v0), s1 = _mm_cmpgt_epi8(_mm_setzero_si128(), v1);
    __m128i *d = (__m128i *)(void *)dst;
    _mm_storeu_si128(d, _mm_unpacklo_epi8(v0, s0));
    _mm_storeu_si128(d + 1, _mm_unpackhi_epi8(v0, s0));
    _mm_storeu_si128(d + 2, _mm_unpacklo_epi8(v1, s1));
    _mm_storeu_si128(d + 3, _mm_unpackhi_epi8(v1, s1));
}

/* One interior pixel of any short kernel row (kernel_w * in_c = seg <= 16):
 * one load and two widening stores per kernel row, then the K padding. */
static inline void ember_qconv_gather_short_px(const int8_t *src, size_t line, int32_t kh, size_t seg, int64_t k,
                                               int64_t kp, uint8_t *dst) {
    int16_t *d = (int16_t *)(void *)dst;
    for (int32_t ky = 0; ky < kh; ++ky, src += line, d += seg) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)src);
        const __m128i sign = _mm_cmpgt_epi8(_mm_setzero_si128(), x);
        _mm_storeu_si128((__m128i *)(void *)d, _mm_unpacklo_epi8(x, sign));
        _mm_storeu_si128((__m128i *)(void *)(d + 8), _mm_unpackhi_epi8(x, sign));
    }
    for (int64_t q = k; q < kp; ++q) ((int16_t *)(void *)dst)[q] = 0;
}

/* Fills the A rows of output pixels [row0, row0 + mv) when kernel rows are
 * short (kernel_w * in_c <= 16, e.g. a 3x3 stem over 3 channels, int16 A).
 * Pixels go in runs along an output row: a run of interior pixels (kernel
 * inside the image, 16-byte loads inside the input) steps its source by
 * stride_w * in_c with no per-pixel bounds logic; the geometry stays in
 * locals (with -fno-strict-aliasing the compiler reloads it through j after
 * every store otherwise). The stores run up to 16 elements past a kernel
 * row's values; the next kernel row, the K padding written last, the next A
 * row or EMBER_GATHER_SLACK absorbs them. Border pixels take the generic
 * gather. */
static void ember_qconv_gather_rows_short(const ember_qconv_job *j, int64_t row0, int mv, uint8_t *abuf,
                                          size_t a_stride) {
    const ember_conv_geom *g = &j->h->g;
    const int32_t kh = g->kernel_h, kw = g->kernel_w, ic = g->in_c, in_h = g->in_h, in_w = g->in_w;
    const int32_t sh = g->stride_h, sw = g->stride_w, pt = g->pad_top, pl = g->pad_left, out_h = g->out_h,
                  out_w = g->out_w;
    const int64_t k = j->h->k, kp = j->h->kp;
    const size_t line = (size_t)in_w * (size_t)ic * (size_t)g->dilation_h, seg = (size_t)kw * (size_t)ic;
    const int32_t last_ky = (kh - 1) * g->dilation_h;
    const int8_t *input = j->input, *input_end = j->input_end;
    const int8_t zp = (int8_t)g->input_zero_point;
    const int rgb3x3 = kh == 3 && seg == 9 && kp <= 32; /* e.g. a 3x3 stem over 3 channels */
    const size_t need = rgb3x3 ? 2 * line + 16 : (size_t)(kh - 1) * line + 16; /* bytes read from a pixel's src */
    const size_t step = (size_t)sw * (size_t)ic;
    const int32_t ox_lo = (pl + sw - 1) / sw;                               /* first ox with ix0 >= 0 */
    const int32_t ox_hi = in_w - kw + pl >= 0 ? (in_w - kw + pl) / sw : -1; /* last ox with ix0 + kw <= in_w */
    const int64_t hw = (int64_t)out_h * out_w;
    int64_t b = row0 / hw;
    const int64_t r = row0 % hw;
    int32_t oy = (int32_t)(r / out_w), ox = (int32_t)(r % out_w);
    for (int i = 0; i < mv;) {
        const int32_t iy0 = oy * sh - pt;
        int run = 0;
        const int8_t *src = input;
        if (iy0 >= 0 && iy0 + last_ky < in_h && ox >= ox_lo && ox <= ox_hi) {
            run = (ox_hi < out_w - 1 ? ox_hi : out_w - 1) - ox + 1;
            if (run > mv - i) run = mv - i;
            src = input + (((size_t)b * (size_t)in_h + (size_t)iy0) * (size_t)in_w + (size_t)(ox * sw - pl)) * (size_t)ic;
            const ptrdiff_t room = (input_end - src) - (ptrdiff_t)need; /* pixel q of the run needs q * step <= room */
            if (room < 0)
                run = 0;
            else if ((size_t)(run - 1) * step > (size_t)room)
                run = (int)((size_t)room / step) + 1;
        }
        uint8_t *dst = abuf + (size_t)i * a_stride;
        if (run == 0 && kh <= EMBER_SHORT_WINDOW_ROWS) {
            /* a border pixel: its window (kernel rows of 16 bytes, input
             * zero point outside the image) built on the stack, then the
             * interior code with a line of 16 bytes */
            int8_t win[EMBER_SHORT_WINDOW_ROWS * 16];
            const __m128i zpv = _mm_set1_epi8((char)zp);
            const int32_t ix0 = ox * sw - pl;
            const int32_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = in_w - ix0 < kw ? in_w - ix0 : kw;
            const int8_t *img = input + (size_t)b * (size_t)in_h * (size_t)in_w * (size_t)ic;
            for (int32_t ky = 0; ky < kh; ++ky) {
                const int32_t iy = iy0 + ky * g->dilation_h;
                _mm_storeu_si128((__m128i *)(void *)(win + 16 * ky), zpv);
                if (iy >= 0 && iy < in_h && kx1 > kx0)
                    memcpy(win + 16 * ky + (size_t)kx0 * (size_t)ic,
                           img + ((size_t)iy * (size_t)in_w + (size_t)(ix0 + kx0)) * (size_t)ic,
                           (size_t)(kx1 - kx0) * (size_t)ic);
            }
            if (rgb3x3)
                ember_qconv_gather_rgb3x3(win, 16, dst);
            else
                ember_qconv_gather_short_px(win, 16, kh, seg, k, kp, dst);
            run = 1;
        } else if (run == 0) {
            ember_qconv_gather(j, b, oy, ox, dst);
            run = 1;
        } else if (rgb3x3) {
            for (int q = 0; q < run; ++q, src += step, dst += a_stride) ember_qconv_gather_rgb3x3(src, line, dst);
        } else {
            for (int q = 0; q < run; ++q, src += step, dst += a_stride)
                ember_qconv_gather_short_px(src, line, kh, seg, k, kp, dst);
        }
        i += run;
        ox += run;
        if (ox == out_w) {
            ox = 0;
            if (++oy == out_h) {
                oy = 0;
                ++b;
            }
        }
    }
}
#endif

/* Fills the A rows of output pixels [row0, row0 + mv). */
static void ember_qconv_gather_rows(const ember_qconv_job *j, int64_t row0, int mv, uint8_t *abuf, size_t a_stride) {
    const ember_conv_geom *g = &j->h->g;
    if (j->direct) { /* rows are consecutive input pixels of exactly K values */
        j->uk->load_a(j->input + row0 * j->h->k, abuf, (size_t)mv * (size_t)j->h->k);
        return;
    }
#if defined(__SSE2__)
    if (j->short_rows) {
        ember_qconv_gather_rows_short(j, row0, mv, abuf, a_stride);
        return;
    }
#endif
    const int64_t hw = (int64_t)g->out_h * g->out_w;
    int64_t b = row0 / hw;
    const int64_t r = row0 % hw;
    int32_t oy = (int32_t)(r / g->out_w), ox = (int32_t)(r % g->out_w);
    for (int i = 0; i < mv; ++i) {
        ember_qconv_gather(j, b, oy, ox, abuf + (size_t)i * a_stride);
        if (++ox == g->out_w) {
            ox = 0;
            if (++oy == g->out_h) {
                oy = 0;
                ++b;
            }
        }
    }
}

static void ember_qconv_task(void *ctx, int task, int ntasks, int thread) {
    const ember_qconv_job *j = (const ember_qconv_job *)ctx;
    const ember_qpack_header *h = j->h;
    const ember_qgemm_ukernel *uk = j->uk;
    const int mr = uk->mr;
    const int32_t oc = h->g.out_c;
    int64_t mb0 = 0, mb1 = j->mblocks, nb0 = 0, nb1 = h->nblocks;
    if (j->split_rows) {
        mb0 = j->mblocks * task / ntasks;
        mb1 = j->mblocks * (task + 1) / ntasks;
    } else {
        nb0 = h->nblocks * task / ntasks;
        nb1 = h->nblocks * (task + 1) / ntasks;
    }
    if (mb0 >= mb1 || nb0 >= nb1) return;
    uint8_t *abuf = j->scratch + (size_t)thread * (size_t)h->scratch_per_thread;
    const size_t a_stride = (size_t)h->kp * (size_t)uk->a_bytes;
    for (int64_t pb = mb0; pb < mb1; pb += j->panel_mblocks) {
        const int64_t pe = pb + j->panel_mblocks < mb1 ? pb + j->panel_mblocks : mb1;
        const int64_t prow0 = pb * mr, prow1 = pe * mr < j->rows ? pe * mr : j->rows;
        ember_qconv_gather_rows(j, prow0, (int)(prow1 - prow0), abuf, a_stride);
        for (int64_t nb = nb0; nb < nb1; ++nb) {
            const int64_t n0 = nb * uk->nr;
            const int nv = (int)((oc - n0) < uk->nr ? (oc - n0) : uk->nr);
            const uint8_t *w = j->blocks + nb * h->block_bytes;
            for (int64_t row0 = prow0; row0 < prow1; row0 += mr) {
                const int mv = (int)((prow1 - row0) < mr ? (prow1 - row0) : mr);
                uk->run(mv, nv, (size_t)h->kp, abuf + (size_t)(row0 - prow0) * a_stride, a_stride, w,
                        j->output + row0 * oc + n0, (size_t)oc, &h->g.os);
            }
        }
    }
}

ember_status ember_qconv_run(const void *packed, const int8_t *input, int8_t *output, void *scratch,
                             size_t scratch_bytes, ember_threadpool *pool) {
    const ember_qpack_header *h = ember_qpack_header_of(packed, EMBER_KERNEL_QGEMM);
    if (!h) h = ember_qpack_header_of(packed, EMBER_KERNEL_QGEMM_NARROW);
    if (!h || !input || !output) return EMBER_ERR_ARG;
    const void *ukernel = NULL;
    int threads = 1;
    ember_status st = ember_qpack_run_setup(h, scratch, scratch_bytes, &ukernel, &pool, &threads);
    if (st != EMBER_OK) return st;
    const ember_qgemm_ukernel *uk = (const ember_qgemm_ukernel *)ukernel;
    ember_qconv_job j;
    j.h = h;
    j.uk = uk;
    j.blocks = (const uint8_t *)packed + h->blocks_offset;
    j.input = input;
    j.input_end = input + (size_t)h->g.batch * h->g.in_h * h->g.in_w * h->g.in_c;
    j.output = output;
    j.scratch = (uint8_t *)scratch;
    j.rows = (int64_t)h->g.batch * h->g.out_h * h->g.out_w;
    j.mblocks = (j.rows + uk->mr - 1) / uk->mr;
    j.panel_mblocks = ember_qconv_panel_rows(&h->g, uk, h->kp) / uk->mr;
    const ember_conv_geom *g = &h->g;
    j.direct = g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
               g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w && h->kp == h->k;
    j.short_rows = uk->a_bytes == 2 && g->dilation_w == 1 && (int64_t)g->kernel_w * g->in_c <= 16;
    /* Rows are split when there are enough row blocks, else channel blocks;
     * only when the MACs pay for the hand-off, and in several tasks per
     * thread only when large (see ember_threadpool_tasks). */
    j.split_rows = j.mblocks >= 2 * threads || j.mblocks >= h->nblocks;
    const int64_t units = j.split_rows ? j.mblocks : h->nblocks;
    const int64_t macs = j.rows * h->k * (int64_t)h->g.out_c;
    const int ntasks = ember_threadpool_tasks(threads, units, macs);
    ember_threadpool_run(ntasks > 1 ? pool : NULL, ember_qconv_task, &j, ntasks);
    return EMBER_OK;
}
