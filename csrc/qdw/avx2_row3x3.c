/* Whole-row 3x3 depthwise kernel (AVX2), the run_row3x3 of
 * ember_dwconv_16c__avx2 (avx2.c): 16-channel blocks at stride_w 1 or 2
 * (a last block of 8 channels in 128-bit halves), 8-channel layers as
 * pixel pairs at stride 1; dilation_w 1. */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "qdw/avx2_common.h"

/* The helpers take compile-time stride/requant/check flags: force inlining
 * so that every call site is specialized. */
#if defined(__GNUC__)
#define EMBER_DW_INLINE static inline __attribute__((always_inline))
#else
#define EMBER_DW_INLINE static inline
#endif

/* ---- 3x3 rows (dilation_w 1). Taps are packed in ROW_PAIRS order: pairs
 * (0,kx)/(1,kx) for kx = 0..2, then (2,0)/(2,1) and (2,2)/zero weight. An
 * input column c of rows 0/1 interleaved, V[c], serves the kx = c - X taps of
 * every output pixel that reads it (three pixels at stride 1), so each input
 * column is loaded and widened once per row instead of once per tap. */

/* 16 channels of input column x of a row (already offset to the block), or
 * the widened input zero point outside the image; checked = 0: known inside. */
/* CALL(S, M) with compile-time stride S (1 or 2) and output-stage mode M: every
 * specialization the row kernels are instantiated for, chosen from run-time values. */
#define EMBER_DW_BY_MODE(CALL, S, mode)                  \
    do {                                                 \
        if ((mode) == EMBER_RQ_FAST_NOCLAMP)             \
            CALL(S, EMBER_RQ_FAST_NOCLAMP);              \
        else if ((mode) == EMBER_RQ_FAST)                \
            CALL(S, EMBER_RQ_FAST);                      \
        else if ((mode) == EMBER_RQ_SIMPLE)              \
            CALL(S, EMBER_RQ_SIMPLE);                    \
        else                                             \
            CALL(S, EMBER_RQ_FULL);                      \
    } while (0)
#define EMBER_DW_SPECIALIZE(CALL, stride, mode)          \
    do {                                                 \
        if ((stride) == 1)                               \
            EMBER_DW_BY_MODE(CALL, 1, mode);             \
        else                                             \
            EMBER_DW_BY_MODE(CALL, 2, mode);             \
    } while (0)

EMBER_DW_INLINE __m256i ember_col16(const int8_t *row, ptrdiff_t x, ptrdiff_t in_w, size_t C, __m256i zpv,
                                  const int checked) {
    if (!checked) return ember_load16_s8(row + (size_t)x * C);
    return row != NULL && x >= 0 && x < in_w ? ember_load16_s8(row + (size_t)x * C) : zpv;
}

/* Output stage of one block for the row kernels. mode (a constant at every
 * call site): EMBER_RQ_FULL = ember_requant_avx2 (left shifts, INT32_MIN);
 * EMBER_RQ_SIMPLE = the same without them; EMBER_RQ_FAST = the exact
 * shortcut below. */
enum { EMBER_RQ_FAST = 0, EMBER_RQ_SIMPLE = 1, EMBER_RQ_FULL = 2, EMBER_RQ_FAST_NOCLAMP = 3 };
/* EMBER_RQ_FAST_NOCLAMP: FAST for a clamp of [-128, 127] (the saturating
 * packs already do it; e.g. a fused RELU whose output zero point is -128). */

/* The fast requantization, exact under three conditions checked per block
 * (ember_dw_fast_ok): no left shift, multipliers in [2^30, 2^31) (what TFLite
 * produces for any nonzero scale), |bias| <= 2^30 - 2^18 (so |acc| < 2^30:
 * a 3x3 tap sum is below 9 * 2^14). With t = SRDHM(acc, m) and r the right
 * shift, TFLite's RoundingDivideByPOT(t, r) == (t + nr - [t < 0]) >> r with
 * nr = 2^(r-1) (0 and no sign term for r = 0). nr * 2^31 is folded into the
 * 64-bit nudge of the high multiply (|t| < 2^30: t + nr cannot overflow), and
 * t < 0 <=> acc * m < -2^30 <=> acc < thr with thr = 0, or -1 when m == 2^30
 * (INT32_MIN for r = 0: never). The output zero point and the clamp are done
 * on 16 channels after the saturating packs (exact: zp is in [-128, 127]). */
typedef struct {
    __m256i m, m_odd, nudge_e, nudge_o, thr, rshift;
} ember_rq_fast;

static inline ember_rq_fast ember_rq_fast_of(const ember_rq_avx2 *q) {
    ember_rq_fast f;
    const __m256i nr = _mm256_srli_epi32(_mm256_add_epi32(q->rmask, _mm256_set1_epi32(1)), 1);
    const __m256i half = _mm256_set1_epi64x(INT64_C(1) << 30);
    f.m = q->mult;
    f.m_odd = q->mult_odd;
    f.nudge_e = _mm256_add_epi64(_mm256_slli_epi64(_mm256_and_si256(nr, _mm256_set1_epi64x(0xFFFFFFFF)), 31), half);
    f.nudge_o = _mm256_add_epi64(_mm256_slli_epi64(_mm256_srli_epi64(nr, 32), 31), half);
    const __m256i m_is_2p30 = _mm256_cmpeq_epi32(q->mult, _mm256_set1_epi32(1 << 30));
    const __m256i r_is_0 = _mm256_cmpeq_epi32(q->rshift, _mm256_setzero_si256());
    f.thr = _mm256_blendv_epi8(m_is_2p30, _mm256_set1_epi32(INT32_MIN), r_is_0);
    f.rshift = q->rshift;
    return f;
}

static inline int ember_dw_fast_ok(const ember_rq_avx2 *q, __m256i bias) {
    const __m256i lim = _mm256_set1_epi32((1 << 30) - (1 << 18));
    const __m256i bad = _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(1 << 30), q->mult),
                                                        _mm256_cmpgt_epi32(_mm256_abs_epi32(bias), lim)),
                                        q->lshift);
    return _mm256_testz_si256(bad, bad);
}

/* RoundingDivideByPOT(SRDHM(acc, m), r) on 8 lanes (fast mode, before zp). */
static inline __m256i ember_rq_fast_avx2(__m256i acc, const ember_rq_fast *f) {
    const __m256i e = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(acc, f->m), f->nudge_e), 31);
    const __m256i o =
        _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), f->m_odd), f->nudge_o), 1);
    const __m256i y = _mm256_add_epi32(_mm256_blend_epi32(e, o, 0xAA), _mm256_cmpgt_epi32(f->thr, acc));
    return _mm256_srav_epi32(y, f->rshift);
}

typedef struct {
    ember_rq_avx2 q0, q1;  /* lanes 0-7 / 8-15 (SIMPLE, FULL) */
    ember_rq_fast f0, f1;  /* FAST */
    __m256i zp, lo, hi;    /* int32 */
    __m256i zp16;          /* FAST: zp as int16 */
    __m128i lo8, hi8;      /* FAST: clamp as int8 */
} ember_dw_ostage;

static inline void ember_dw_ostage_init(ember_dw_ostage *o, const ember_output_stage *os) {
    o->zp = _mm256_set1_epi32(os->output_zero_point);
    o->lo = _mm256_set1_epi32(os->act_min);
    o->hi = _mm256_set1_epi32(os->act_max);
    o->zp16 = _mm256_set1_epi16((int16_t)os->output_zero_point);
    o->lo8 = _mm_set1_epi8((int8_t)os->act_min);
    o->hi8 = _mm_set1_epi8((int8_t)os->act_max);
}

/* Requantized int8 of the accumulators (lanes 0-7, 8-15) in packs order. */
EMBER_DW_INLINE __m128i ember_dw_finish(__m256i acc0, __m256i acc1, const ember_dw_ostage *o, const int mode) {
    if (mode == EMBER_RQ_FAST || mode == EMBER_RQ_FAST_NOCLAMP) {
        __m256i pk = _mm256_packs_epi32(ember_rq_fast_avx2(acc0, &o->f0), ember_rq_fast_avx2(acc1, &o->f1));
        pk = _mm256_adds_epi16(pk, o->zp16);
        const __m128i v = _mm_packs_epi16(_mm256_castsi256_si128(pk), _mm256_extracti128_si256(pk, 1));
        return mode == EMBER_RQ_FAST ? _mm_min_epi8(_mm_max_epi8(v, o->lo8), o->hi8) : v;
    }
    const int full = mode == EMBER_RQ_FULL;
    const __m256i pk = _mm256_packs_epi32(ember_requant_avx2_x(acc0, &o->q0, o->zp, o->lo, o->hi, full),
                                          ember_requant_avx2_x(acc1, &o->q1, o->zp, o->lo, o->hi, full));
    return _mm_packs_epi16(_mm256_castsi256_si128(pk), _mm256_extracti128_si256(pk, 1));
}

/* Widened input columns carried from one output pixel (or pair) to the next:
 * V[X], V[X + 1] (rows 0/1 interleaved, lanes 0-7 / 8-15) and row 2 at X, X + 1. */
typedef struct {
    __m256i v0l, v0h, v1l, v1h, r2a, r2b;
} ember_dw_cols;

/* Slide a column window (ember_dw_cols or ember_dw_cols_t8) to the next output pixel: at stride 1
 * the new column (v2l/v2h, c) joins the two kept ones; at stride 2 it starts the next window. */
#define EMBER_DW_SLIDE(s, v2l, v2h, c, S)                                                                    \
    do {                                                                                                     \
        if ((S) == 1) {                                                                                      \
            (s)->v0l = (s)->v1l;                                                                             \
            (s)->v0h = (s)->v1h;                                                                             \
            (s)->v1l = (v2l);                                                                                \
            (s)->v1h = (v2h);                                                                                \
            (s)->r2a = (s)->r2b;                                                                             \
            (s)->r2b = (c);                                                                                  \
        } else {                                                                                             \
            (s)->v0l = (v2l);                                                                                \
            (s)->v0h = (v2h);                                                                                \
            (s)->r2a = (c);                                                                                  \
        }                                                                                                    \
    } while (0)

/* Sum of the five tap pairs of one output pixel (or pixel pair) given
 * V[X..X+2] and row 2 at X..X+2, weights W(pair, half); then requantized. */
#define EMBER_DW3X3_ACC(W)                                                                                        \
    __m256i acc0 = _mm256_add_epi32(bias0, _mm256_madd_epi16(s->v0l, W(0, 0)));                                   \
    __m256i acc1 = _mm256_add_epi32(bias1, _mm256_madd_epi16(s->v0h, W(0, 1)));                                   \
    __m256i t0 = _mm256_madd_epi16(s->v1l, W(1, 0));                                                              \
    __m256i t1 = _mm256_madd_epi16(s->v1h, W(1, 1));                                                              \
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(v2l, W(2, 0)));                                               \
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(v2h, W(2, 1)));                                               \
    t0 = _mm256_add_epi32(t0, _mm256_madd_epi16(_mm256_unpacklo_epi16(s->r2a, s->r2b), W(3, 0)));                 \
    t1 = _mm256_add_epi32(t1, _mm256_madd_epi16(_mm256_unpackhi_epi16(s->r2a, s->r2b), W(3, 1)));                 \
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(c, _mm256_setzero_si256()), W(4, 0)));  \
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(c, _mm256_setzero_si256()), W(4, 1)));  \
    const __m128i res = ember_dw_finish(_mm256_add_epi32(acc0, t0), _mm256_add_epi32(acc1, t1), os, mode)

/* One output pixel of a 16-channel block at input column X (stride S). */
EMBER_DW_INLINE void ember_dw3x3_px16(ember_dw_cols *s, const int8_t *const *r, ptrdiff_t X, ptrdiff_t in_w,
                                      size_t C, __m256i zpv, const __m256i *w, __m256i bias0, __m256i bias1,
                                      int8_t *o, const ember_dw_ostage *os, const int S, const int mode,
                                      const int checked) {
    __m256i a, b;
    if (S == 2) {
        a = ember_col16(r[0], X + 1, in_w, C, zpv, checked);
        b = ember_col16(r[1], X + 1, in_w, C, zpv, checked);
        s->v1l = _mm256_unpacklo_epi16(a, b);
        s->v1h = _mm256_unpackhi_epi16(a, b);
        s->r2b = ember_col16(r[2], X + 1, in_w, C, zpv, checked);
    }
    a = ember_col16(r[0], X + 2, in_w, C, zpv, checked);
    b = ember_col16(r[1], X + 2, in_w, C, zpv, checked);
    const __m256i c = ember_col16(r[2], X + 2, in_w, C, zpv, checked);
    const __m256i v2l = _mm256_unpacklo_epi16(a, b), v2h = _mm256_unpackhi_epi16(a, b);
#define EMBER_W16(p, h) _mm256_loadu_si256(w + 2 * (p) + (h))
    EMBER_DW3X3_ACC(EMBER_W16);
#undef EMBER_W16
    _mm_storeu_si128((__m128i *)o, res);
    EMBER_DW_SLIDE(s, v2l, v2h, c, S);
}

/* One 16-channel block of an output row at stride S (1 or 2). Pixels whose
 * columns are all inside skip the bounds checks. */
EMBER_DW_INLINE void ember_dw3x3_row16(size_t out_w, const int8_t *const *r, ptrdiff_t in_w, ptrdiff_t pad_left,
                                       size_t C, __m256i zpv, const int32_t *hdr, int8_t *out,
                                       const ember_dw_ostage *os, const int S, const int mode) {
    const __m256i bias0 = _mm256_loadu_si256((const __m256i *)hdr);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i *)(hdr + 8));
    const __m256i *w = (const __m256i *)(const void *)(hdr + EMBER_QHDR_WORDS * 16);
    const int rows_in = r[0] != NULL && r[1] != NULL && r[2] != NULL;
    ptrdiff_t X = -pad_left;
    ember_dw_cols st, *s = &st;
    __m256i a = ember_col16(r[0], X, in_w, C, zpv, 1), b = ember_col16(r[1], X, in_w, C, zpv, 1);
    s->v0l = _mm256_unpacklo_epi16(a, b);
    s->v0h = _mm256_unpackhi_epi16(a, b);
    s->r2a = ember_col16(r[2], X, in_w, C, zpv, 1);
    s->v1l = s->v1h = s->r2b = s->r2a;
    if (S == 1) {
        a = ember_col16(r[0], X + 1, in_w, C, zpv, 1);
        b = ember_col16(r[1], X + 1, in_w, C, zpv, 1);
        s->v1l = _mm256_unpacklo_epi16(a, b);
        s->v1h = _mm256_unpackhi_epi16(a, b);
        s->r2b = ember_col16(r[2], X + 1, in_w, C, zpv, 1);
    }
    for (size_t px = 0; px < out_w; ++px, X += S) {
        if (rows_in && X >= 0 && X + 2 < in_w)
            ember_dw3x3_px16(s, r, X, in_w, C, zpv, w, bias0, bias1, out + px * C, os, S, mode, 0);
        else
            ember_dw3x3_px16(s, r, X, in_w, C, zpv, w, bias0, bias1, out + px * C, os, S, mode, 1);
    }
}

/* Columns x and x + 1 of an 8-channel row (one 16-byte load inside the
 * image, zero points outside), widened: [column x | column x + 1]. */
EMBER_DW_INLINE __m256i ember_col8x2(const int8_t *row, ptrdiff_t x, ptrdiff_t in_w, int8_t zpb, const int checked) {
    if (!checked || (row != NULL && x >= 0 && x + 1 < in_w)) return ember_load16_s8(row + (size_t)x * 8);
    /* built in registers (a byte buffer would stall store forwarding) */
    const __m128i zp8 = _mm_set1_epi8(zpb);
    const __m128i c0 = row != NULL && x >= 0 && x < in_w ? _mm_loadl_epi64((const __m128i *)(row + (size_t)x * 8)) : zp8;
    const __m128i c1 =
        row != NULL && x + 1 >= 0 && x + 1 < in_w ? _mm_loadl_epi64((const __m128i *)(row + (size_t)(x + 1) * 8)) : zp8;
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi64(c0, c1));
}

/* Carried between pixel pairs of an 8-channel row: the widened columns
 * [X | X + 1] of rows 0..2 and V of rows 0/1 there. */
typedef struct {
    __m256i a0, b0, c0, v0l, v0h;
} ember_dw_cols8;

/* Output pixels px, px + 1 (input column X = px - pad_left) of an 8-channel
 * layer at stride 1: pixel px in the low 128 bits and px + 1 in the high
 * ones (channels 0-3 / 4-7 = lanes 0-3 / 8-11 of the block), so every
 * vpmaddwd is 256 bits wide. Columns [X + 2 | X + 3] are loaded, [X + 1 |
 * X + 2] is a lane shuffle of the two pairs. */
EMBER_DW_INLINE void ember_dw3x3_px8x2(ember_dw_cols8 *st8, const int8_t *const *r, ptrdiff_t X, ptrdiff_t in_w,
                                       int8_t zpb, const __m256i *w, __m256i bias0, __m256i bias1, int8_t *o,
                                       int both, const ember_dw_ostage *os, const int mode, const int checked) {
    const __m256i a2 = ember_col8x2(r[0], X + 2, in_w, zpb, checked);
    const __m256i b2 = ember_col8x2(r[1], X + 2, in_w, zpb, checked);
    const __m256i c = ember_col8x2(r[2], X + 2, in_w, zpb, checked);
    const __m256i a1 = _mm256_permute2x128_si256(st8->a0, a2, 0x21);
    const __m256i b1 = _mm256_permute2x128_si256(st8->b0, b2, 0x21);
    ember_dw_cols t, *s = &t;
    t.v0l = st8->v0l;
    t.v0h = st8->v0h;
    t.v1l = _mm256_unpacklo_epi16(a1, b1);
    t.v1h = _mm256_unpackhi_epi16(a1, b1);
    t.r2a = st8->c0;
    t.r2b = _mm256_permute2x128_si256(st8->c0, c, 0x21);
    const __m256i v2l = _mm256_unpacklo_epi16(a2, b2), v2h = _mm256_unpackhi_epi16(a2, b2);
#define EMBER_W8(p, h) _mm256_load_si256(w + 2 * (p) + (h))
    EMBER_DW3X3_ACC(EMBER_W8);
#undef EMBER_W8
    if (both)
        _mm_storeu_si128((__m128i *)o, res);
    else
        _mm_storel_epi64((__m128i *)o, res);
    st8->a0 = a2;
    st8->b0 = b2;
    st8->c0 = c;
    st8->v0l = v2l;
    st8->v0h = v2h;
}

EMBER_DW_INLINE void ember_dw3x3_row8(size_t out_w, const int8_t *const *r, ptrdiff_t in_w, ptrdiff_t pad_left,
                                      int8_t zpb, const int32_t *hdr, int8_t *out, __m256i bias0, __m256i bias1,
                                      const ember_dw_ostage *os, const int mode) {
    /* the 10 weight vectors of lanes 0-3 / 8-11 (channels 0-3 / 4-7),
     * broadcast to both pixels once per row */
    const int16_t *wp = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    __m256i w[10];
    for (int i = 0; i < 10; ++i)
        w[i] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(wp + 32 * (i / 2) + 16 * (i % 2))));
    const int rows_in = r[0] != NULL && r[1] != NULL && r[2] != NULL;
    ptrdiff_t X = -pad_left;
    ember_dw_cols8 st;
    st.a0 = ember_col8x2(r[0], X, in_w, zpb, 1);
    st.b0 = ember_col8x2(r[1], X, in_w, zpb, 1);
    st.c0 = ember_col8x2(r[2], X, in_w, zpb, 1);
    st.v0l = _mm256_unpacklo_epi16(st.a0, st.b0);
    st.v0h = _mm256_unpackhi_epi16(st.a0, st.b0);
    for (size_t px = 0; px < out_w; px += 2, X += 2) {
        const int both = px + 1 < out_w;
        if (rows_in && X >= 0 && X + 3 < in_w)
            ember_dw3x3_px8x2(&st, r, X, in_w, zpb, w, bias0, bias1, out + px * 8, both, os, mode, 0);
        else
            ember_dw3x3_px8x2(&st, r, X, in_w, zpb, w, bias0, bias1, out + px * 8, both, os, mode, 1);
    }
}

/* ---- the last 8 channels of a layer with channels = 16k + 8 (k >= 1):
 * 128-bit columns, block lanes 0-3 / 8-11 = channels 0-3 / 4-7, the two
 * accumulators requantized as one 256-bit vector. */
typedef struct {
    __m128i v0l, v0h, v1l, v1h, r2a, r2b;
} ember_dw_cols_t8;

EMBER_DW_INLINE __m128i ember_col8(const int8_t *row, ptrdiff_t x, ptrdiff_t in_w, size_t C, __m128i zpv,
                                   const int checked) {
    if (!checked || (row != NULL && x >= 0 && x < in_w))
        return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(row + (size_t)x * C)));
    return zpv;
}

EMBER_DW_INLINE void ember_dw3x3_px_t8(ember_dw_cols_t8 *s, const int8_t *const *r, ptrdiff_t X, ptrdiff_t in_w,
                                       size_t C, __m128i zpv, const int32_t *hdr, int8_t *o,
                                       const ember_dw_ostage *os, const int S, const int mode, const int checked) {
    const int16_t *w = (const int16_t *)(hdr + EMBER_QHDR_WORDS * 16);
    __m128i a, b;
    if (S == 2) {
        a = ember_col8(r[0], X + 1, in_w, C, zpv, checked);
        b = ember_col8(r[1], X + 1, in_w, C, zpv, checked);
        s->v1l = _mm_unpacklo_epi16(a, b);
        s->v1h = _mm_unpackhi_epi16(a, b);
        s->r2b = ember_col8(r[2], X + 1, in_w, C, zpv, checked);
    }
    a = ember_col8(r[0], X + 2, in_w, C, zpv, checked);
    b = ember_col8(r[1], X + 2, in_w, C, zpv, checked);
    const __m128i c = ember_col8(r[2], X + 2, in_w, C, zpv, checked);
    const __m128i v2l = _mm_unpacklo_epi16(a, b), v2h = _mm_unpackhi_epi16(a, b);
    const __m128i zero = _mm_setzero_si128();
#define W(p, h) _mm_loadu_si128((const __m128i *)(w + 32 * (p) + 16 * (h)))
    __m128i al = _mm_add_epi32(_mm_loadu_si128((const __m128i *)hdr), _mm_madd_epi16(s->v0l, W(0, 0)));
    __m128i ah = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(hdr + 8)), _mm_madd_epi16(s->v0h, W(0, 1)));
    al = _mm_add_epi32(al, _mm_madd_epi16(s->v1l, W(1, 0)));
    ah = _mm_add_epi32(ah, _mm_madd_epi16(s->v1h, W(1, 1)));
    al = _mm_add_epi32(al, _mm_madd_epi16(v2l, W(2, 0)));
    ah = _mm_add_epi32(ah, _mm_madd_epi16(v2h, W(2, 1)));
    al = _mm_add_epi32(al, _mm_madd_epi16(_mm_unpacklo_epi16(s->r2a, s->r2b), W(3, 0)));
    ah = _mm_add_epi32(ah, _mm_madd_epi16(_mm_unpackhi_epi16(s->r2a, s->r2b), W(3, 1)));
    al = _mm_add_epi32(al, _mm_madd_epi16(_mm_unpacklo_epi16(c, zero), W(4, 0)));
    ah = _mm_add_epi32(ah, _mm_madd_epi16(_mm_unpackhi_epi16(c, zero), W(4, 1)));
#undef W
    const __m256i acc = _mm256_set_m128i(ah, al);
    __m128i v;
    if (mode == EMBER_RQ_FAST || mode == EMBER_RQ_FAST_NOCLAMP) {
        const __m256i y = ember_rq_fast_avx2(acc, &os->f0);
        const __m128i p16 = _mm_adds_epi16(_mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1)),
                                           _mm256_castsi256_si128(os->zp16));
        v = _mm_packs_epi16(p16, p16);
        if (mode == EMBER_RQ_FAST) v = _mm_min_epi8(_mm_max_epi8(v, os->lo8), os->hi8);
    } else {
        const __m256i y = ember_requant_avx2_x(acc, &os->q0, os->zp, os->lo, os->hi, mode == EMBER_RQ_FULL);
        const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
        v = _mm_packs_epi16(p16, p16);
    }
    _mm_storel_epi64((__m128i *)o, v);
    EMBER_DW_SLIDE(s, v2l, v2h, c, S);
}

EMBER_DW_INLINE void ember_dw3x3_rows_t8(size_t nrows, const int8_t *const *rows, size_t c0, size_t out_w,
                                         ptrdiff_t in_w, ptrdiff_t pad_left, size_t C, __m128i zpv,
                                         const int32_t *hdr, int8_t *out, const ember_dw_ostage *os, const int S,
                                         const int mode) {
    for (size_t i = 0; i < nrows; ++i) {
        const int8_t *r[3];
        for (int k = 0; k < 3; ++k) r[k] = rows[3 * i + k] ? rows[3 * i + k] + c0 : NULL;
        int8_t *o = out + i * out_w * C + c0;
        const int rows_in = r[0] != NULL && r[1] != NULL && r[2] != NULL;
        ptrdiff_t X = -pad_left;
        ember_dw_cols_t8 st;
        __m128i a = ember_col8(r[0], X, in_w, C, zpv, 1), b = ember_col8(r[1], X, in_w, C, zpv, 1);
        st.v0l = _mm_unpacklo_epi16(a, b);
        st.v0h = _mm_unpackhi_epi16(a, b);
        st.r2a = ember_col8(r[2], X, in_w, C, zpv, 1);
        st.v1l = st.v1h = st.r2b = st.r2a;
        if (S == 1) {
            a = ember_col8(r[0], X + 1, in_w, C, zpv, 1);
            b = ember_col8(r[1], X + 1, in_w, C, zpv, 1);
            st.v1l = _mm_unpacklo_epi16(a, b);
            st.v1h = _mm_unpackhi_epi16(a, b);
            st.r2b = ember_col8(r[2], X + 1, in_w, C, zpv, 1);
        }
        for (size_t px = 0; px < out_w; ++px, X += S) {
            if (rows_in && X >= 0 && X + 2 < in_w)
                ember_dw3x3_px_t8(&st, r, X, in_w, C, zpv, hdr, o + px * C, os, S, mode, 0);
            else
                ember_dw3x3_px_t8(&st, r, X, in_w, C, zpv, hdr, o + px * C, os, S, mode, 1);
        }
    }
}

/* Header field of lanes 0-3 and 8-11 (the tail block's 8 channels). */
static inline __m256i ember_t8_field(const int32_t *hdr, int field) {
    const int32_t *f = hdr + field * 16;
    return _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(f + 8)), _mm_loadu_si128((const __m128i *)f));
}

/* nrows output rows of one block (rows: 3 per output row, see run_row3x3). */
EMBER_DW_INLINE void ember_dw3x3_rows16(size_t nrows, const int8_t *const *rows, size_t c0, size_t out_w,
                                        ptrdiff_t in_w, ptrdiff_t pad_left, size_t C, __m256i zpv,
                                        const int32_t *hdr, int8_t *out, const ember_dw_ostage *os, const int S,
                                        const int mode) {
    for (size_t i = 0; i < nrows; ++i) {
        const int8_t *r[3];
        for (int k = 0; k < 3; ++k) r[k] = rows[3 * i + k] ? rows[3 * i + k] + c0 : NULL;
        ember_dw3x3_row16(out_w, r, in_w, pad_left, C, zpv, hdr, out + i * out_w * C + c0, os, S, mode);
    }
}

EMBER_DW_INLINE void ember_dw3x3_rows8(size_t nrows, const int8_t *const *rows, size_t out_w, ptrdiff_t in_w,
                                       ptrdiff_t pad_left, int8_t zpb, const int32_t *hdr, int8_t *out,
                                       __m256i bias0, __m256i bias1, const ember_dw_ostage *os, const int mode) {
    for (size_t i = 0; i < nrows; ++i)
        ember_dw3x3_row8(out_w, rows + 3 * i, in_w, pad_left, zpb, hdr, out + i * out_w * 8, bias0, bias1, os, mode);
}

/* Requant mode of a block whose lanes are q0/q1 with biases bias0/bias1. */
static inline int ember_dw_mode(const ember_rq_avx2 *q0, const ember_rq_avx2 *q1, __m256i bias0, __m256i bias1,
                                const ember_output_stage *os) {
    if (ember_dw_fast_ok(q0, bias0) && ember_dw_fast_ok(q1, bias1))
        return os->act_min == -128 && os->act_max == 127 ? EMBER_RQ_FAST_NOCLAMP : EMBER_RQ_FAST;
    return ember_rq_simple_avx2(q0) && ember_rq_simple_avx2(q1) ? EMBER_RQ_SIMPLE : EMBER_RQ_FULL;
}

int ember_dwconv_16c_row3x3_avx2(size_t nrows, size_t out_w, size_t channels, const int8_t *const *rows,
                                        int32_t in_w, int32_t pad_left, int32_t stride_w, int32_t input_zero_point,
                                        const void *w, int8_t *out, const ember_output_stage *os) {
    const int c8 = channels == 8 && stride_w == 1;
    if (!c8 && (channels % 8 != 0 || channels == 8 || (stride_w != 1 && stride_w != 2))) return 0;
    const size_t bb = ember_dw_block_bytes(16, 10);
    ember_dw_ostage o;
    ember_dw_ostage_init(&o, os);
    const __m256i zpv = _mm256_set1_epi16((int16_t)input_zero_point);
    const int8_t zpb = (int8_t)input_zero_point;
    const uint8_t *blk = (const uint8_t *)w;
    for (size_t c0 = 0; c0 < channels; c0 += 16, blk += bb) {
        const int32_t *hdr = (const int32_t *)(const void *)blk;
        if (c8) {
            const __m256i bias0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)hdr));
            const __m256i bias1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(hdr + 8)));
            o.q0 = ember_rq_x2(hdr, 0);
            o.q1 = ember_rq_x2(hdr, 8);
            o.f0 = ember_rq_fast_of(&o.q0);
            o.f1 = ember_rq_fast_of(&o.q1);
            switch (ember_dw_mode(&o.q0, &o.q1, bias0, bias1, os)) {
            case EMBER_RQ_FAST_NOCLAMP:
                ember_dw3x3_rows8(nrows, rows, out_w, in_w, pad_left, zpb, hdr, out, bias0, bias1, &o, EMBER_RQ_FAST_NOCLAMP);
                break;
            case EMBER_RQ_FAST:
                ember_dw3x3_rows8(nrows, rows, out_w, in_w, pad_left, zpb, hdr, out, bias0, bias1, &o, EMBER_RQ_FAST);
                break;
            case EMBER_RQ_SIMPLE:
                ember_dw3x3_rows8(nrows, rows, out_w, in_w, pad_left, zpb, hdr, out, bias0, bias1, &o, EMBER_RQ_SIMPLE);
                break;
            default:
                ember_dw3x3_rows8(nrows, rows, out_w, in_w, pad_left, zpb, hdr, out, bias0, bias1, &o, EMBER_RQ_FULL);
            }
            break;
        }
        if (channels - c0 == 8) { /* the tail of 16k + 8 channels */
            ember_rq_avx2 *q = &o.q0;
            q->mult = ember_t8_field(hdr, EMBER_QHDR_MULT);
            q->mult_odd = _mm256_srli_epi64(q->mult, 32);
            q->lshift = ember_t8_field(hdr, EMBER_QHDR_LSHIFT);
            q->rshift = ember_t8_field(hdr, EMBER_QHDR_RSHIFT);
            q->rmask = ember_t8_field(hdr, EMBER_QHDR_RMASK);
            q->rhalf = ember_t8_field(hdr, EMBER_QHDR_RHALF);
            o.f0 = ember_rq_fast_of(q);
            const __m256i bias = ember_t8_field(hdr, EMBER_QHDR_BIAS);
            const int tmode = ember_dw_mode(q, q, bias, bias, os);
            const __m128i zpv8 = _mm256_castsi256_si128(zpv);
#define EMBER_T8(S, M) ember_dw3x3_rows_t8(nrows, rows, c0, out_w, in_w, pad_left, channels, zpv8, hdr, out, &o, S, M)
            EMBER_DW_SPECIALIZE(EMBER_T8, stride_w, tmode);
#undef EMBER_T8
            break;
        }
        o.q0 = ember_rq_load_avx2(hdr, 16, 0);
        o.q1 = ember_rq_load_avx2(hdr, 16, 8);
        o.f0 = ember_rq_fast_of(&o.q0);
        o.f1 = ember_rq_fast_of(&o.q1);
        const int mode = ember_dw_mode(&o.q0, &o.q1, _mm256_loadu_si256((const __m256i *)hdr),
                                       _mm256_loadu_si256((const __m256i *)(hdr + 8)), os);
#define EMBER_ROW16(S, M) \
    ember_dw3x3_rows16(nrows, rows, c0, out_w, in_w, pad_left, channels, zpv, hdr, out, &o, S, M)
        EMBER_DW_SPECIALIZE(EMBER_ROW16, stride_w, mode);
#undef EMBER_ROW16
    }
    return 1;
}

