/* DEPTHWISE_CONV_2D adapter: executor record -> ember_depthwise_conv_2d_s8_scalar. */
#include "ember/ops/depthwise_conv_2d.h"

#include <string.h>

#include "ember/op.h"
#include "ember/qconv_op.h"
#include "nn_common/adapter_check.h"
#include "nn_common/parallel.h"

#define NAME "DEPTHWISE_CONV_2D"

static const char *const k_param_names[] = {EMBER_DEPTHWISE_CONV_2D_PARAMS(EMBER_PARAM_NAME)};

static ember_depthwise_conv_2d_params params_of(const ember_op *op) {
    ember_depthwise_conv_2d_params p;
    p.stride_h = op->p[EMBER_DEPTHWISE_CONV_2D_P_stride_h];
    p.stride_w = op->p[EMBER_DEPTHWISE_CONV_2D_P_stride_w];
    p.dilation_h = op->p[EMBER_DEPTHWISE_CONV_2D_P_dilation_h];
    p.dilation_w = op->p[EMBER_DEPTHWISE_CONV_2D_P_dilation_w];
    p.pad_h = op->p[EMBER_DEPTHWISE_CONV_2D_P_pad_h];
    p.pad_w = op->p[EMBER_DEPTHWISE_CONV_2D_P_pad_w];
    p.depth_multiplier = op->p[EMBER_DEPTHWISE_CONV_2D_P_depth_multiplier];
    p.input_offset = op->p[EMBER_DEPTHWISE_CONV_2D_P_input_offset];
    p.output_offset = op->p[EMBER_DEPTHWISE_CONV_2D_P_output_offset];
    p.act_min = op->p[EMBER_DEPTHWISE_CONV_2D_P_act_min];
    p.act_max = op->p[EMBER_DEPTHWISE_CONV_2D_P_act_max];
    return p;
}

/* Geometry for the prepacked SIMD engine (ember/qconv_op.h). */
static ember_conv_geom geom_of(const ember_depthwise_conv_2d_params *p, const ember_nhwc *in, const ember_nhwc *fd,
                               const ember_nhwc *out) {
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
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.dilation_h = p->dilation_h;
    g.dilation_w = p->dilation_w;
    g.pad_top = p->pad_h;
    g.pad_left = p->pad_w;
    g.depth_multiplier = p->depth_multiplier;
    g.input_zero_point = -p->input_offset;
    g.os.output_zero_point = p->output_offset;
    g.os.act_min = p->act_min;
    g.os.act_max = p->act_max;
    return g;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    int32_t ix, iw, ib, im, is;
    if (op->n_in != 5 || op->n_out != 1) {
        ember_set_error(NAME ": expected 5 inputs and 1 output, got %d and %d", (int)op->n_in, (int)op->n_out);
        return EMBER_ERR_ARG;
    }
    if (ember_nn_input(op, 0, 1, NAME, "input", &ix) || ember_nn_input(op, 1, 1, NAME, "filter", &iw) ||
        ember_nn_input(op, 2, 0, NAME, "bias", &ib) || ember_nn_input(op, 3, 1, NAME, "multipliers", &im) ||
        ember_nn_input(op, 4, 1, NAME, "shifts", &is) || op->out[0] < 0)
        return EMBER_ERR_ARG;
    const ember_tensor *x = &t[ix], *w = &t[iw], *y = &t[op->out[0]];
    if (ember_nn_dtype(x, EMBER_DT_INT8, NAME, "input") || ember_nn_dtype(w, EMBER_DT_INT8, NAME, "filter") ||
        ember_nn_dtype(y, EMBER_DT_INT8, NAME, "output") || ember_nn_rank(x, 4, NAME, "input") ||
        ember_nn_rank(w, 4, NAME, "filter") || ember_nn_rank(y, 4, NAME, "output") ||
        ember_nn_const(w, NAME, "filter"))
        return EMBER_ERR_ARG;
    const ember_nhwc in = ember_nn_nhwc(x), fd = ember_nn_nhwc(w), out = ember_nn_nhwc(y);
    if (ib >= 0) {
        const ember_tensor *b = &t[ib];
        if (ember_nn_dtype(b, EMBER_DT_INT32, NAME, "bias") || ember_nn_const(b, NAME, "bias")) return EMBER_ERR_ARG;
        if (ember_nn_count(b) != out.c) {
            ember_set_error(NAME ": bias has %lld values, expected %d", (long long)ember_nn_count(b), (int)out.c);
            return EMBER_ERR_ARG;
        }
    }
    if (ember_nn_check_requant(&t[im], &t[is], out.c, NAME)) return EMBER_ERR_ARG;
    const ember_depthwise_conv_2d_params p = params_of(op);
    if (ember_nn_check_act(p.act_min, p.act_max, NAME) ||
        ember_nn_check_offsets(p.input_offset, p.output_offset, NAME))
        return EMBER_ERR_ARG;
    if (p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1 || p.pad_h < 0 || p.pad_w < 0) {
        ember_set_error(NAME ": stride %dx%d, dilation %dx%d, padding %dx%d must be >= 1, >= 1, >= 0",
                        (int)p.stride_h, (int)p.stride_w, (int)p.dilation_h, (int)p.dilation_w, (int)p.pad_h,
                        (int)p.pad_w);
        return EMBER_ERR_ARG;
    }
    if (p.depth_multiplier < 1 || fd.n != 1 || out.n != in.n || (int64_t)in.c * p.depth_multiplier != out.c ||
        fd.c != out.c) {
        ember_set_error(NAME ": input [%d,%d,%d,%d], filter [%d,%d,%d,%d], output [%d,%d,%d,%d] and depth multiplier %d "
                        "are inconsistent",
                        (int)in.n, (int)in.h, (int)in.w, (int)in.c, (int)fd.n, (int)fd.h, (int)fd.w, (int)fd.c,
                        (int)out.n, (int)out.h, (int)out.w, (int)out.c, (int)p.depth_multiplier);
        return EMBER_ERR_ARG;
    }
    if (ember_depthwise_conv_2d_s8_check(&p, &in, &fd, &out, 0, out.n * out.h) != EMBER_OK) {
        ember_set_error(NAME ": inconsistent parameters");
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = ember_depthwise_conv_2d_s8_scratch_size(&p, &in, &fd, &out);
    *persistent_bytes = 0;
    const ember_conv_geom g = geom_of(&p, &in, &fd, &out); /* multiplier != 1: scalar only */
    return ember_qconv_op_prepare(&g, EMBER_QOP_DEPTHWISE, scratch_bytes, persistent_bytes);
}

/* Packs the weights for the SIMD engine (only when prepare asked for it). */
static ember_status init(ember_op *op, const ember_tensor *t) {
    const ember_nhwc in = ember_nn_nhwc(&t[op->in[0]]), fd = ember_nn_nhwc(&t[op->in[1]]),
                     out = ember_nn_nhwc(&t[op->out[0]]);
    const ember_depthwise_conv_2d_params p = params_of(op);
    const ember_conv_geom g = geom_of(&p, &in, &fd, &out);
    return ember_qconv_op_init(op, &g, EMBER_QOP_DEPTHWISE, (const int8_t *)t[op->in[1]].data,
                               op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL,
                               (const int32_t *)t[op->in[3]].data, (const int32_t *)t[op->in[4]].data);
}

typedef struct {
    ember_depthwise_conv_2d_params p;
    ember_nhwc in, fd, out;
    const int8_t *x, *w;
    const int32_t *bias, *mult, *shift;
    int8_t *y;
} dw_args;

static ember_status dw_rows(const void *vargs, int32_t start, int32_t end) {
    const dw_args *a = (const dw_args *)vargs;
    return ember_depthwise_conv_2d_s8_scalar(&a->p, &a->in, a->x, &a->fd, a->w, a->bias, a->mult, a->shift, &a->out,
                                             a->y, start, end, NULL);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    if (op->persistent_bytes > 0)
        return ember_qconv_op_run(op, EMBER_QOP_DEPTHWISE, (const int8_t *)t[op->in[0]].data,
                                  (int8_t *)t[op->out[0]].data, ctx);
    dw_args a;
    a.p = params_of(op);
    a.in = ember_nn_nhwc(&t[op->in[0]]);
    a.fd = ember_nn_nhwc(&t[op->in[1]]);
    a.out = ember_nn_nhwc(&t[op->out[0]]);
    a.x = (const int8_t *)t[op->in[0]].data;
    a.w = (const int8_t *)t[op->in[1]].data;
    a.bias = op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL;
    a.mult = (const int32_t *)t[op->in[3]].data;
    a.shift = (const int32_t *)t[op->in[4]].data;
    a.y = (int8_t *)t[op->out[0]].data;
    ember_status st = ember_parallel_range(ctx, a.out.n * a.out.h, dw_rows, &a);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_depthwise_conv_2d = {
    NAME, k_param_names, EMBER_DEPTHWISE_CONV_2D_NPARAMS, prepare, init, run,
};
