/* DEPTHWISE_CONV_2D adapter: executor record -> ember_depthwise_conv_2d_s8_scalar. */
#include "ember/ops/depthwise_conv_2d.h"

#include "ember/op.h"
#include "ember/qconv_op.h"
#include "nn_common/conv_record.h"
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
    return ember_conv_geom_of(in, fd, out, EMBER_CONV_WINDOW(*p), p->depth_multiplier);
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    ember_nhwc in, fd, out;
    if (ember_conv_check_tensors(op, t, NAME, &in, &fd, &out)) return EMBER_ERR_ARG;
    const ember_depthwise_conv_2d_params p = params_of(op);
    if (ember_conv_check_window(EMBER_CONV_WINDOW(p), NAME)) return EMBER_ERR_ARG;
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
    const ember_conv_geom g = geom_of(&p, &in, &fd, &out);
    return ember_qconv_op_prepare(&g, EMBER_QOP_DEPTHWISE, scratch_bytes, persistent_bytes);
}

/* Packs the weights for the SIMD engine (only when prepare asked for it). */
static ember_status init(ember_op *op, const ember_tensor *t) {
    const ember_conv_io io = ember_conv_io_of(op, t);
    const ember_depthwise_conv_2d_params p = params_of(op);
    const ember_conv_geom g = geom_of(&p, &io.in, &io.fd, &io.out);
    return ember_qconv_op_init(op, &g, EMBER_QOP_DEPTHWISE, io.w, io.bias, io.mult, io.shift);
}

typedef struct {
    ember_depthwise_conv_2d_params p;
    ember_conv_io io;
} dw_args;

static ember_status dw_rows(const void *vargs, int32_t start, int32_t end) {
    const dw_args *a = (const dw_args *)vargs;
    const ember_conv_io *io = &a->io;
    return ember_depthwise_conv_2d_s8_scalar(&a->p, &io->in, io->x, &io->fd, io->w, io->bias, io->mult, io->shift,
                                             &io->out, io->y, start, end, NULL);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    if (op->persistent_bytes > 0)
        return ember_qconv_op_run(op, EMBER_QOP_DEPTHWISE, (const int8_t *)t[op->in[0]].data,
                                  (int8_t *)t[op->out[0]].data, ctx);
    dw_args a;
    a.p = params_of(op);
    a.io = ember_conv_io_of(op, t);
    ember_status st = ember_parallel_range(
        ctx, a.io.out.n * a.io.out.h,
        EMBER_SCALAR_MAC_WORK * EMBER_DW_MAC_WORK * (int64_t)a.io.out.n * a.io.out.h * a.io.out.w * a.io.out.c * a.io.fd.h * a.io.fd.w,
        dw_rows, &a);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_depthwise_conv_2d = {
    NAME, k_param_names, EMBER_DEPTHWISE_CONV_2D_NPARAMS, prepare, init, run,
};
