/* ADD through a SIMD micro-kernel (see ember/ops/add.h). Dims of size 1 are
 * dropped and neighbouring dims that both operands walk the same way are
 * merged, so a scalar or per-channel broadcast becomes few long rows; the
 * rows along the innermost dim are either elementwise (run) or have one
 * operand fixed along the row (run_b_const), and go to the micro-kernel in
 * groups along the next dim. Work units for threads: rows, or blocks of
 * EMBER_ADD_UNIT elements when same-shape. The output is still written in
 * row-major order and every element is the same function of its two
 * inputs, so the bytes equal ember_add_s8_scalar's. */
#include "ember/kernels.h"
#include "ember/ops/add.h"

/* p with the two inputs exchanged (ADD is symmetric in its rescaled terms). */
static ember_add_params ember_add_swapped(const ember_add_params *p) {
    ember_add_params s = *p;
    s.input1_offset = p->input2_offset;
    s.input2_offset = p->input1_offset;
    s.input1_multiplier = p->input2_multiplier;
    s.input1_shift = p->input2_shift;
    s.input2_multiplier = p->input1_multiplier;
    s.input2_shift = p->input1_shift;
    return s;
}

/* Drops size-1 dims and merges dim d into d+1 when both operands step
 * through d exactly as through a longer d+1 (stride[d] == stride[d+1] *
 * dims[d+1], which covers both strides 0). Returns the new rank (0: one element). */
static int32_t ember_add_coalesce(const ember_broadcast *bc, int32_t *dims, int32_t *sa, int32_t *sb) {
    int32_t n = 0;
    for (int32_t d = 0; d < bc->ndim; ++d) {
        if (bc->dims[d] == 1) continue;
        if (n > 0 && sa[n - 1] == bc->stride_a[d] * bc->dims[d] && sb[n - 1] == bc->stride_b[d] * bc->dims[d]) {
            dims[n - 1] *= bc->dims[d];
            sa[n - 1] = bc->stride_a[d];
            sb[n - 1] = bc->stride_b[d];
            continue;
        }
        dims[n] = bc->dims[d];
        sa[n] = bc->stride_a[d];
        sb[n] = bc->stride_b[d];
        ++n;
    }
    return n;
}

/* The coalesced walk of a broadcast: rows of `inner` outputs. */
typedef struct {
    int32_t nd, inner, rows;
    int32_t dims[EMBER_MAX_DIMS], sa[EMBER_MAX_DIMS], sb[EMBER_MAX_DIMS];
} ember_add_walk;

static void ember_add_walk_init(const ember_broadcast *bc, ember_add_walk *w) {
    w->nd = ember_add_coalesce(bc, w->dims, w->sa, w->sb);
    w->inner = w->nd > 0 ? w->dims[w->nd - 1] : 1;
    w->rows = bc->count / w->inner;
}

int32_t ember_add_s8_units(const ember_broadcast *bc) {
    if (bc == NULL || bc->count <= 0) return 0;
    if (bc->same_shape) return bc->count / EMBER_ADD_UNIT + (bc->count % EMBER_ADD_UNIT != 0);
    ember_add_walk w;
    ember_add_walk_init(bc, &w);
    return w.rows;
}

ember_status ember_add_s8_ukernel_part(const struct ember_add_ukernel *uk, const ember_add_params *p,
                                       const ember_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out,
                                       int32_t start, int32_t end) {
    if (uk == NULL || p == NULL || bc == NULL || bc->ndim < 1 || bc->ndim > EMBER_MAX_DIMS || start < 0 ||
        end < start || end > ember_add_s8_units(bc))
        return EMBER_ERR_ARG;
    if (start == end) return EMBER_OK;
    if (a == NULL || b == NULL || out == NULL) return EMBER_ERR_ARG;
    if (bc->same_shape) {
        const int32_t lo = start * EMBER_ADD_UNIT;
        const int32_t hi = (int64_t)end * EMBER_ADD_UNIT < bc->count ? end * EMBER_ADD_UNIT : bc->count;
        uk->run(1, (size_t)(hi - lo), a + lo, 0, b + lo, 0, out + lo, p);
        return EMBER_OK;
    }
    ember_add_walk w;
    ember_add_walk_init(bc, &w);
    if (w.nd == 0) return ember_add_s8_scalar(p, bc, a, b, out); /* one element */
    const ember_add_params swapped = ember_add_swapped(p);
    const int32_t nd = w.nd, inner = w.inner;
    const int32_t isa = w.sa[nd - 1], isb = w.sb[nd - 1]; /* 1 or 0, never both 0 (size-1 dims are gone) */
    /* Rows are handed over in groups along dim nd-2 (constant strides). */
    const int32_t gdim = nd >= 2 ? w.dims[nd - 2] : 1;
    const int32_t gsa = nd >= 2 ? w.sa[nd - 2] : 0, gsb = nd >= 2 ? w.sb[nd - 2] : 0;
    int32_t idx[EMBER_MAX_DIMS] = {0};
    int32_t off_a = 0, off_b = 0;
    for (int32_t d = nd - 2, r = start; d >= 0; --d) { /* position of row `start` */
        idx[d] = r % w.dims[d];
        r /= w.dims[d];
        off_a += idx[d] * w.sa[d];
        off_b += idx[d] * w.sb[d];
    }
    int8_t *y = out + (size_t)start * inner;
    for (int32_t r = start; r < end;) {
        const int32_t g0 = nd >= 2 ? idx[nd - 2] : 0;
        const int32_t rows = end - r < gdim - g0 ? end - r : gdim - g0;
        if (isa && isb)
            uk->run((size_t)rows, (size_t)inner, a + off_a, (size_t)gsa, b + off_b, (size_t)gsb, y, p);
        else if (isa)
            uk->run_b_const((size_t)rows, (size_t)inner, a + off_a, (size_t)gsa, b + off_b, (size_t)gsb, y, p);
        else
            uk->run_b_const((size_t)rows, (size_t)inner, b + off_b, (size_t)gsb, a + off_a, (size_t)gsa, y, &swapped);
        y += (size_t)rows * inner;
        r += rows;
        if (nd < 2) break;
        /* advance `rows` rows: along dim nd-2, then the odometer over the outer dims */
        idx[nd - 2] += rows;
        off_a += rows * gsa;
        off_b += rows * gsb;
        if (idx[nd - 2] < gdim) continue;
        off_a -= gsa * gdim;
        off_b -= gsb * gdim;
        idx[nd - 2] = 0;
        for (int32_t d = nd - 3; d >= 0; --d) {
            off_a += w.sa[d];
            off_b += w.sb[d];
            if (++idx[d] < w.dims[d]) break;
            off_a -= w.sa[d] * w.dims[d];
            off_b -= w.sb[d] * w.dims[d];
            idx[d] = 0;
        }
    }
    return EMBER_OK;
}

ember_status ember_add_s8_ukernel(const struct ember_add_ukernel *uk, const ember_add_params *p,
                                  const ember_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out) {
    if (uk == NULL) return ember_add_s8_scalar(p, bc, a, b, out);
    if (bc == NULL) return EMBER_ERR_ARG;
    return ember_add_s8_ukernel_part(uk, p, bc, a, b, out, 0, ember_add_s8_units(bc));
}
