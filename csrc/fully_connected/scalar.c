/* FULLY_CONNECTED int8 scalar reference (see ember/ops/fully_connected.h). */
#include "ember/ops/fully_connected.h"

#include "ember/requant.h"
#include "nn_common/wrap.h"

ember_status ember_fully_connected_s8_check(const ember_fully_connected_params *p,
                                            const ember_fc_dims *d,
                                            int32_t oc_start, int32_t oc_end) {
    if (!p || !d) return EMBER_ERR_ARG;
    if (d->batches < 1 || d->depth < 1 || d->units < 1) return EMBER_ERR_ARG;
    if (p->act_min > p->act_max) return EMBER_ERR_ARG;
    if (oc_start < 0 || oc_end < oc_start || oc_end > d->units) return EMBER_ERR_ARG;
    return EMBER_OK;
}

size_t ember_fully_connected_s8_scratch_size(const ember_fully_connected_params *p,
                                             const ember_fc_dims *d) {
    (void)p; (void)d;
    return 0;
}

/* The wrapping int32 sum of (w + filter_offset) * (x + input_offset) over depth, plus the bias. */
static inline int32_t fc_dot(const ember_fully_connected_params *p, const int8_t *x, const int8_t *w, int32_t depth,
                             const int32_t *bias, int32_t oc) {
    int32_t acc = 0;
    for (int32_t k = 0; k < depth; ++k) {
        acc = ember_add_wrap(acc, ((int32_t)w[k] + p->filter_offset) * ((int32_t)x[k] + p->input_offset));
    }
    if (bias) acc = ember_add_wrap(acc, bias[oc]);
    return acc;
}

ember_status ember_fully_connected_s8_scalar(const ember_fully_connected_params *p,
                                             const ember_fc_dims *d,
                                             const int8_t *input, const int8_t *filter,
                                             const int32_t *bias,
                                             const int32_t *mult, const int32_t *shift,
                                             int8_t *output,
                                             int32_t oc_start, int32_t oc_end, void *scratch) {
    (void)scratch;
    ember_status st = ember_fully_connected_s8_check(p, d, oc_start, oc_end);
    if (st != EMBER_OK) return st;
    if (!input || !filter || !mult || !shift || !output) return EMBER_ERR_ARG;

    for (int32_t b = 0; b < d->batches; ++b) {
        const int8_t *x = input + (size_t)b * d->depth;
        int8_t *y = output + (size_t)b * d->units;
        for (int32_t oc = oc_start; oc < oc_end; ++oc) {
            const int32_t acc = fc_dot(p, x, filter + (size_t)oc * d->depth, d->depth, bias, oc);
            const int32_t r = ember_add_wrap(ember_mbqm(acc, mult[oc], shift[oc]), p->output_offset);
            y[oc] = (int8_t)ember_clamp_i32(r, p->act_min, p->act_max);
        }
    }
    return EMBER_OK;
}

ember_status ember_fully_connected_s8_double_requant_scalar(const ember_fully_connected_params *p,
                                                            const ember_fc_dims *d,
                                                            const int8_t *input, const int8_t *filter,
                                                            const int32_t *bias, const double *scale,
                                                            int8_t *output,
                                                            int32_t oc_start, int32_t oc_end, void *scratch) {
    (void)scratch;
    ember_status st = ember_fully_connected_s8_check(p, d, oc_start, oc_end);
    if (st != EMBER_OK) return st;
    if (!input || !filter || !scale || !output) return EMBER_ERR_ARG;

    for (int32_t b = 0; b < d->batches; ++b) {
        const int8_t *x = input + (size_t)b * d->depth;
        int8_t *y = output + (size_t)b * d->units;
        for (int32_t oc = oc_start; oc < oc_end; ++oc) {
            const int32_t acc = fc_dot(p, x, filter + (size_t)oc * d->depth, d->depth, bias, oc);
            int64_t r = (int64_t)ember_requant_double(acc, scale[oc]) + p->output_offset;
            r = r < p->act_min ? p->act_min : (r > p->act_max ? p->act_max : r);
            y[oc] = (int8_t)r;
        }
    }
    return EMBER_OK;
}
