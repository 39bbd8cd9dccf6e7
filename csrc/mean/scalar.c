/* MEAN int8 reference: TFLite QuantizedMeanOrSum (see ember/ops/mean.h). */
#include <string.h>

#include "ember/ops/mean.h"
#include "ember/requant.h"

size_t ember_mean_scratch_size(size_t out_count) { return out_count * sizeof(int32_t); }

ember_status ember_mean_s8_scalar(const ember_mean_params *p, const int32_t *in_dims, int32_t ndim,
                                  uint32_t axis_mask, const int8_t *in, int8_t *out,
                                  size_t out_count, int32_t *scratch) {
    if (p == NULL || in_dims == NULL || ndim < 0 || ndim > EMBER_MAX_DIMS) return EMBER_ERR_ARG;
    size_t in_count = 1, reduced = 1, kept = 1;
    for (int32_t d = 0; d < ndim; ++d) {
        if (in_dims[d] < 0) return EMBER_ERR_ARG;
        in_count *= (size_t)in_dims[d];
        if (axis_mask & (UINT32_C(1) << d)) reduced *= (size_t)in_dims[d];
        else kept *= (size_t)in_dims[d];
    }
    if (kept != out_count) return EMBER_ERR_ARG;
    if (out_count == 0) return EMBER_OK;
    if (out == NULL || scratch == NULL) return EMBER_ERR_ARG;
    if (in_count == 0) {
        /* LiteRT leaves zero-filled outputs for an empty reduction. */
        memset(out, 0, out_count);
        return EMBER_OK;
    }
    if (in == NULL) return EMBER_ERR_ARG;
    /* Sums of raw values, walking the input in row-major order. Output
     * strides: the kept dims in order, row-major. */
    int32_t ostride[EMBER_MAX_DIMS];
    {
        int32_t s = 1;
        for (int32_t d = ndim - 1; d >= 0; --d) {
            if (axis_mask & (UINT32_C(1) << d)) {
                ostride[d] = 0;
            } else {
                ostride[d] = s;
                s *= in_dims[d];
            }
        }
    }
    memset(scratch, 0, out_count * sizeof(int32_t));
    {
        int32_t idx[EMBER_MAX_DIMS] = {0};
        size_t o = 0;
        for (size_t i = 0; i < in_count; ++i) {
            scratch[o] += in[i];
            for (int32_t d = ndim - 1; d >= 0; --d) {
                o += (size_t)ostride[d];
                if (++idx[d] < in_dims[d]) break;
                o -= (size_t)ostride[d] * (size_t)in_dims[d];
                idx[d] = 0;
            }
        }
    }
    const int32_t n = (int32_t)reduced;
    const int32_t in_zp = p->input_zero_point, out_zp = p->output_zero_point;
    int shift = 63;
    while (shift > 0 && !((uint64_t)n >> shift)) --shift; /* floor(log2 n) */
    if (shift > 32) shift = 32;
    if (shift > 31 + p->shift) shift = 31 + p->shift;
    const int32_t mult = (int32_t)(((int64_t)p->multiplier << shift) / n);
    const int out_shift = (int)p->shift - shift;
    for (size_t o = 0; o < out_count; ++o) {
        /* TFLite subtracts in int64 and narrows to int32 (wrapping). */
        const int32_t shifted_sum = (int32_t)(uint32_t)((int64_t)scratch[o] - (int64_t)in_zp * n);
        const int32_t v = ember_mbqm(shifted_sum, mult, out_shift) + out_zp;
        out[o] = (int8_t)ember_clamp_i32(v, -128, 127);
    }
    return EMBER_OK;
}
