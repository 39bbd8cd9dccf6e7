/* Argument checks shared by AVERAGE_POOL_2D and MAX_POOL_2D (ember/ops/pool_2d.h). */
#include "ember/ops/pool_2d.h"

ember_status ember_pool_2d_s8_check(const ember_pool_2d_params *p, const ember_nhwc *in,
                                    const ember_nhwc *out, int32_t row_start, int32_t row_end) {
    if (!p || !in || !out) return EMBER_ERR_ARG;
    if (in->n < 1 || in->h < 1 || in->w < 1 || in->c < 1) return EMBER_ERR_ARG;
    if (out->n != in->n || out->c != in->c || out->h < 1 || out->w < 1) return EMBER_ERR_ARG;
    if (p->stride_h < 1 || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1) return EMBER_ERR_ARG;
    if (p->pad_h < 0 || p->pad_w < 0 || p->act_min > p->act_max) return EMBER_ERR_ARG;
    if (row_start < 0 || row_end < row_start || (int64_t)row_end > (int64_t)out->n * out->h) return EMBER_ERR_ARG;
    /* Keep window coordinates and tap counts inside int32. */
    if ((int64_t)(out->h - 1) * p->stride_h + p->filter_h > EMBER_SPATIAL_LIMIT ||
        (int64_t)(out->w - 1) * p->stride_w + p->filter_w > EMBER_SPATIAL_LIMIT ||
        (int64_t)in->h * in->w > EMBER_SPATIAL_LIMIT)
        return EMBER_ERR_ARG;
    return EMBER_OK;
}
