/* The window walk shared by the AVERAGE_POOL_2D and MAX_POOL_2D scalar
 * references: output rows [row_start, row_end), windows clipped to the image
 * (see ember/ops/pool_2d.h). `reduce_max` is a constant at each call site, so
 * the compiler specializes the inner loop per pool. The SIMD paths use the
 * same walk with a micro-kernel per run of like windows (ember_pool_2d_s8_walk_runs).
 * Internal header: include as "nn_common/pool_walk.h". */
#ifndef EMBER_NN_COMMON_POOL_WALK_H
#define EMBER_NN_COMMON_POOL_WALK_H

#include <stddef.h>

#include "ember/kernels.h"
#include "ember/ops/pool_2d.h"
#include "ember/requant.h"
#include "nn_common/pool_div.h"

static inline ember_status ember_pool_2d_s8_walk(const ember_pool_2d_params *p, const ember_nhwc *in,
                                                 const int8_t *input, const ember_nhwc *out, int8_t *output,
                                                 int32_t row_start, int32_t row_end, int reduce_max) {
    ember_status st = ember_pool_2d_s8_check(p, in, out, row_start, row_end);
    if (st != EMBER_OK) return st;
    if (!input || !output) return EMBER_ERR_ARG;

    for (int32_t r = row_start; r < row_end; ++r) {
        const int32_t b = r / out->h;
        const int32_t y = r % out->h;
        const int32_t in_y0 = y * p->stride_h - p->pad_h;
        const int32_t fy0 = in_y0 < 0 ? -in_y0 : 0;
        const int32_t fy1 = p->filter_h < in->h - in_y0 ? p->filter_h : in->h - in_y0;
        const int8_t *in_b = input + (size_t)b * in->h * in->w * in->c;
        int8_t *out_row = output + ((size_t)b * out->h + y) * out->w * out->c;
        for (int32_t x = 0; x < out->w; ++x) {
            const int32_t in_x0 = x * p->stride_w - p->pad_w;
            const int32_t fx0 = in_x0 < 0 ? -in_x0 : 0;
            const int32_t fx1 = p->filter_w < in->w - in_x0 ? p->filter_w : in->w - in_x0;
            if (fy1 <= fy0 || fx1 <= fx0) return EMBER_ERR_ARG; /* window entirely in the padding */
            const int32_t count = (fy1 - fy0) * (fx1 - fx0);
            for (int32_t c = 0; c < in->c; ++c) {
                int32_t acc = reduce_max ? -128 : 0;
                for (int32_t fy = fy0; fy < fy1; ++fy) {
                    const int8_t *row = in_b + ((size_t)(in_y0 + fy) * in->w) * in->c;
                    for (int32_t fx = fx0; fx < fx1; ++fx) {
                        const int32_t v = row[(size_t)(in_x0 + fx) * in->c + c];
                        if (reduce_max) {
                            if (v > acc) acc = v;
                        } else {
                            acc += v;
                        }
                    }
                }
                /* Average: round half away from zero, as TFLite does. */
                if (!reduce_max) acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                out_row[(size_t)x * out->c + c] = (int8_t)ember_clamp_i32(acc, p->act_min, p->act_max);
            }
        }
    }
    return EMBER_OK;
}

/* The same walk through a micro-kernel (ember_pool_ukernel.run): each output
 * row is cut into runs of pixels whose clipped windows have one shape (the
 * interior of a row is one run); `average` fills the stage's division,
 * recomputed only when the tap count changes. */
typedef void (*ember_pool_run_fn)(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw,
                                  size_t row_stride, size_t channels, int8_t *out, const ember_pool_stage *st);

static inline ember_status ember_pool_2d_s8_walk_runs(const ember_pool_2d_params *p, const ember_nhwc *in,
                                                      const int8_t *input, const ember_nhwc *out, int8_t *output,
                                                      int32_t row_start, int32_t row_end, ember_pool_run_fn fn,
                                                      int average) {
    ember_status st = ember_pool_2d_s8_check(p, in, out, row_start, row_end);
    if (st != EMBER_OK) return st;
    if (!input || !output) return EMBER_ERR_ARG;
    const size_t c = (size_t)in->c, row_stride = (size_t)in->w * c, pixel_step = (size_t)p->stride_w * c;
    ember_pool_stage stage;
    stage.act_min = p->act_min;
    stage.act_max = p->act_max;
    stage.div_magic = 0;
    stage.div_shift = stage.div_half = 0;
    int32_t stage_count = 0;
    for (int32_t r = row_start; r < row_end; ++r) {
        const int32_t b = r / out->h;
        const int32_t y = r % out->h;
        const int32_t in_y0 = y * p->stride_h - p->pad_h;
        const int32_t fy0 = in_y0 < 0 ? -in_y0 : 0;
        const int32_t fy1 = p->filter_h < in->h - in_y0 ? p->filter_h : in->h - in_y0;
        if (fy1 <= fy0) return EMBER_ERR_ARG; /* window entirely in the padding */
        const int8_t *in_rows = input + ((size_t)b * in->h + (size_t)(in_y0 + fy0)) * row_stride;
        int8_t *out_row = output + ((size_t)b * out->h + y) * out->w * c;
        int32_t x = 0;
        while (x < out->w) {
            const int32_t in_x0 = x * p->stride_w - p->pad_w;
            const int32_t fx0 = in_x0 < 0 ? -in_x0 : 0;
            const int32_t fx1 = p->filter_w < in->w - in_x0 ? p->filter_w : in->w - in_x0;
            if (fx1 <= fx0) return EMBER_ERR_ARG;
            int32_t n = 1; /* pixels after x with an unclipped left edge and the same width */
            if (fx0 == 0)
                while (x + n < out->w) {
                    const int32_t nx0 = (x + n) * p->stride_w - p->pad_w;
                    const int32_t nx1 = p->filter_w < in->w - nx0 ? p->filter_w : in->w - nx0;
                    if (nx1 != fx1) break;
                    ++n;
                }
            const int32_t count = (fy1 - fy0) * (fx1 - fx0);
            if (average && count != stage_count) {
                const ember_pool_div d = ember_pool_div_make((uint32_t)count);
                stage.div_magic = d.magic;
                stage.div_shift = d.shift;
                stage.div_half = d.half;
                stage_count = count;
            }
            fn((size_t)n, in_rows + (size_t)(in_x0 + fx0) * c, pixel_step, (size_t)(fy1 - fy0), (size_t)(fx1 - fx0),
               row_stride, c, out_row + (size_t)x * c, &stage);
            x += n;
        }
    }
    return EMBER_OK;
}

#endif
