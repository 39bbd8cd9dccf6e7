/* Record checks shared by the CONV_2D and DEPTHWISE_CONV_2D adapters:
 * in = [input, filter, bias (optional), multipliers, shifts], out = [output],
 * all int8 NHWC except the int32 bias/multipliers/shifts.
 * Internal header: include as "nn_common/conv_record.h". */
#ifndef EMBER_NN_COMMON_CONV_RECORD_H
#define EMBER_NN_COMMON_CONV_RECORD_H

#include <string.h>

#include "ember/qconv_op.h"
#include "nn_common/adapter_check.h"
#include "nn_common/conv_check.h"

/* Validates the tensors of the record (count, dtypes, ranks, constant filter, bias and
 * requantization over the output channels); returns nonzero after ember_set_error. */
static inline int ember_conv_check_tensors(const ember_op *op, const ember_tensor *t, const char *name,
                                           ember_nhwc *in, ember_nhwc *fd, ember_nhwc *out) {
    int32_t ix, iw, ib, im, is;
    if (op->n_in != 5 || op->n_out != 1) {
        ember_set_error("%s: expected 5 inputs and 1 output, got %d and %d", name, (int)op->n_in, (int)op->n_out);
        return 1;
    }
    if (ember_nn_input(op, 0, 1, name, "input", &ix) || ember_nn_input(op, 1, 1, name, "filter", &iw) ||
        ember_nn_input(op, 2, 0, name, "bias", &ib) || ember_nn_input(op, 3, 1, name, "multipliers", &im) ||
        ember_nn_input(op, 4, 1, name, "shifts", &is) || op->out[0] < 0)
        return 1;
    const ember_tensor *x = &t[ix], *w = &t[iw], *y = &t[op->out[0]];
    if (ember_nn_dtype(x, EMBER_DT_INT8, name, "input") || ember_nn_dtype(w, EMBER_DT_INT8, name, "filter") ||
        ember_nn_dtype(y, EMBER_DT_INT8, name, "output") || ember_nn_rank(x, 4, name, "input") ||
        ember_nn_rank(w, 4, name, "filter") || ember_nn_rank(y, 4, name, "output") ||
        ember_nn_const(w, name, "filter"))
        return 1;
    *in = ember_nn_nhwc(x);
    *fd = ember_nn_nhwc(w);
    *out = ember_nn_nhwc(y);
    if (ib >= 0) {
        const ember_tensor *b = &t[ib];
        if (ember_nn_dtype(b, EMBER_DT_INT32, name, "bias") || ember_nn_const(b, name, "bias")) return 1;
        if (ember_nn_count(b) != out->c) {
            ember_set_error("%s: bias has %lld values, expected %d", name, (long long)ember_nn_count(b), (int)out->c);
            return 1;
        }
    }
    return ember_nn_check_requant(&t[im], &t[is], out->c, name);
}

/* Validates the window parameters (pass EMBER_CONV_WINDOW(p)). */
static inline int ember_conv_check_window(int32_t stride_h, int32_t stride_w, int32_t dilation_h, int32_t dilation_w,
                                          int32_t pad_h, int32_t pad_w, int32_t input_offset, int32_t output_offset,
                                          int32_t act_min, int32_t act_max, const char *name) {
    if (ember_nn_check_act(act_min, act_max, name) || ember_nn_check_offsets(input_offset, output_offset, name))
        return 1;
    if (stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1 || pad_h < 0 || pad_w < 0) {
        ember_set_error("%s: stride %dx%d, dilation %dx%d, padding %dx%d must be >= 1, >= 1, >= 0", name,
                        (int)stride_h, (int)stride_w, (int)dilation_h, (int)dilation_w, (int)pad_h, (int)pad_w);
        return 1;
    }
    return 0;
}

/* Geometry for the prepacked SIMD engine (ember/qconv_op.h); pass EMBER_CONV_WINDOW(p). */
static inline ember_conv_geom ember_conv_geom_of(const ember_nhwc *in, const ember_nhwc *fd, const ember_nhwc *out,
                                                 int32_t stride_h, int32_t stride_w, int32_t dilation_h,
                                                 int32_t dilation_w, int32_t pad_h, int32_t pad_w,
                                                 int32_t input_offset, int32_t output_offset, int32_t act_min,
                                                 int32_t act_max, int32_t depth_multiplier) {
    ember_conv_geom g;
    memset(&g, 0, sizeof g);
    g.batch = in->n;
    g.in_h = in->h;
    g.in_w = in->w;
    g.in_c = in->c;
    g.out_h = out->h;
    g.out_w = out->w;
    g.out_c = out->c;
    g.kernel_h = fd->h;
    g.kernel_w = fd->w;
    g.stride_h = stride_h;
    g.stride_w = stride_w;
    g.dilation_h = dilation_h;
    g.dilation_w = dilation_w;
    g.pad_top = pad_h;
    g.pad_left = pad_w;
    g.depth_multiplier = depth_multiplier;
    g.input_zero_point = -input_offset;
    g.os.output_zero_point = output_offset;
    g.os.act_min = act_min;
    g.os.act_max = act_max;
    return g;
}

/* Shapes and data of a validated CONV_2D / DEPTHWISE_CONV_2D record (bias NULL when absent). */
typedef struct {
    ember_nhwc in, fd, out;
    const int8_t *x, *w;
    const int32_t *bias, *mult, *shift;
    int8_t *y;
} ember_conv_io;

static inline ember_conv_io ember_conv_io_of(const ember_op *op, const ember_tensor *t) {
    ember_conv_io io;
    io.in = ember_nn_nhwc(&t[op->in[0]]);
    io.fd = ember_nn_nhwc(&t[op->in[1]]);
    io.out = ember_nn_nhwc(&t[op->out[0]]);
    io.x = (const int8_t *)t[op->in[0]].data;
    io.w = (const int8_t *)t[op->in[1]].data;
    io.bias = op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL;
    io.mult = (const int32_t *)t[op->in[3]].data;
    io.shift = (const int32_t *)t[op->in[4]].data;
    io.y = (int8_t *)t[op->out[0]].data;
    return io;
}

#endif
