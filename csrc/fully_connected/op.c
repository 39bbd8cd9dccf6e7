/* FULLY_CONNECTED adapter: executor record -> ember_fully_connected_s8_scalar.
 * The input may have any rank; it is viewed as [size / depth, depth] where
 * depth is the filter's second dimension (TFLite's reshaping). The output
 * must hold batches * units values (any rank, e.g. keep_num_dims). */
#include "ember/ops/fully_connected.h"

#include <string.h>

#include "ember/op.h"
#include "ember/qconv_op.h"
#include "nn_common/adapter_check.h"

#define NAME "FULLY_CONNECTED"

static const char *const k_param_names[] = {EMBER_FULLY_CONNECTED_PARAMS(EMBER_PARAM_NAME)};

static ember_fully_connected_params params_of(const ember_op *op) {
    ember_fully_connected_params p;
    p.input_offset = op->p[EMBER_FULLY_CONNECTED_P_input_offset];
    p.filter_offset = op->p[EMBER_FULLY_CONNECTED_P_filter_offset];
    p.output_offset = op->p[EMBER_FULLY_CONNECTED_P_output_offset];
    p.act_min = op->p[EMBER_FULLY_CONNECTED_P_act_min];
    p.act_max = op->p[EMBER_FULLY_CONNECTED_P_act_max];
    return p;
}

static ember_fc_dims dims_of(const ember_tensor *x, const ember_tensor *w) {
    ember_fc_dims d;
    d.units = w->dims[0];
    d.depth = w->dims[1];
    d.batches = (int32_t)(ember_nn_count(x) / d.depth);
    return d;
}

/* FC as a 1x1 conv over `batches` rows for the prepacked SIMD engine. */
static ember_conv_geom geom_of(const ember_fully_connected_params *p, const ember_fc_dims *d) {
    ember_conv_geom g;
    memset(&g, 0, sizeof g);
    g.batch = d->batches;
    g.in_h = g.in_w = g.out_h = g.out_w = 1;
    g.in_c = d->depth;
    g.out_c = d->units;
    g.kernel_h = g.kernel_w = g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = 1;
    g.depth_multiplier = 1;
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
        ember_nn_dtype(y, EMBER_DT_INT8, NAME, "output") || ember_nn_rank(w, 2, NAME, "filter") ||
        ember_nn_const(w, NAME, "filter"))
        return EMBER_ERR_ARG;
    if (x->ndim < 1 || y->ndim < 1) {
        ember_set_error(NAME ": input and output need rank >= 1");
        return EMBER_ERR_ARG;
    }
    const int64_t in_count = ember_nn_count(x), out_count = ember_nn_count(y);
    if (in_count <= 0 || in_count % w->dims[1] != 0) {
        ember_set_error(NAME ": input size %lld is not a multiple of the filter depth %d", (long long)in_count,
                        (int)w->dims[1]);
        return EMBER_ERR_ARG;
    }
    const ember_fc_dims d = dims_of(x, w);
    if (out_count != (int64_t)d.batches * d.units) {
        ember_set_error(NAME ": output size %lld, expected %d batches x %d units", (long long)out_count,
                        (int)d.batches, (int)d.units);
        return EMBER_ERR_ARG;
    }
    if (ib >= 0) {
        const ember_tensor *b = &t[ib];
        if (ember_nn_dtype(b, EMBER_DT_INT32, NAME, "bias") || ember_nn_const(b, NAME, "bias")) return EMBER_ERR_ARG;
        if (ember_nn_count(b) != d.units) {
            ember_set_error(NAME ": bias has %lld values, expected %d", (long long)ember_nn_count(b), (int)d.units);
            return EMBER_ERR_ARG;
        }
    }
    if (ember_nn_check_requant(&t[im], &t[is], d.units, NAME)) return EMBER_ERR_ARG;
    const ember_fully_connected_params p = params_of(op);
    if (ember_nn_check_act(p.act_min, p.act_max, NAME) ||
        ember_nn_check_offsets(p.input_offset, p.output_offset, NAME))
        return EMBER_ERR_ARG;
    if (p.filter_offset < -127 || p.filter_offset > 128) {
        ember_set_error(NAME ": filter offset %d out of the int8 range", (int)p.filter_offset);
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = ember_fully_connected_s8_scratch_size(&p, &d);
    *persistent_bytes = 0;
    if (p.filter_offset != 0 || d.batches < 1) return EMBER_OK; /* asymmetric weights: scalar only */
    const ember_conv_geom g = geom_of(&p, &d);
    return ember_qconv_op_prepare(&g, EMBER_QOP_CONV, scratch_bytes, persistent_bytes);
}

/* Packs the weights for the SIMD engine (only when prepare asked for it). */
static ember_status init(ember_op *op, const ember_tensor *t) {
    const ember_fc_dims d = dims_of(&t[op->in[0]], &t[op->in[1]]);
    const ember_fully_connected_params p = params_of(op);
    const ember_conv_geom g = geom_of(&p, &d);
    return ember_qconv_op_init(op, &g, EMBER_QOP_CONV, (const int8_t *)t[op->in[1]].data,
                               op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL,
                               (const int32_t *)t[op->in[3]].data, (const int32_t *)t[op->in[4]].data);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    if (op->persistent_bytes > 0)
        return ember_qconv_op_run(op, EMBER_QOP_CONV, (const int8_t *)t[op->in[0]].data, (int8_t *)t[op->out[0]].data,
                                  ctx);
    const ember_tensor *x = &t[op->in[0]], *w = &t[op->in[1]], *y = &t[op->out[0]];
    const ember_fc_dims d = dims_of(x, w);
    const ember_fully_connected_params p = params_of(op);
    const int32_t *bias = op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL;
    ember_status st = ember_fully_connected_s8_scalar(&p, &d, (const int8_t *)x->data, (const int8_t *)w->data, bias,
                                                      (const int32_t *)t[op->in[3]].data,
                                                      (const int32_t *)t[op->in[4]].data, (int8_t *)y->data, 0,
                                                      d.units, ctx ? ctx->scratch : NULL);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_fully_connected = {
    NAME, k_param_names, EMBER_FULLY_CONNECTED_NPARAMS, prepare, init, run,
};
