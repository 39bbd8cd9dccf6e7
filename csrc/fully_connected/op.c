/* FULLY_CONNECTED adapter: executor record -> ember_fully_connected_s8_scalar.
 * The input may have any rank; it is viewed as [size / depth, depth] where
 * depth is the filter's second dimension (TFLite's reshaping). The output
 * must hold batches * units values (any rank, e.g. keep_num_dims).
 * With requant 1 the per-unit double scales are computed once at init, as
 * LiteRT does on every call, into the op's persistent memory. */
#include "ember/ops/fully_connected.h"

#include <math.h>

#include <string.h>

#include "ember/op.h"
#include "ember/qconv_op.h"
#include "nn_common/adapter_check.h"
#include "nn_common/parallel.h"

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

/* The SIMD engine handles the fixed-point requantization with symmetric weights. */
static int simd_eligible(const ember_op *op, const ember_fully_connected_params *p) {
    return op->p[EMBER_FULLY_CONNECTED_P_requant] == 0 && p->filter_offset == 0;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    int32_t ix, iw, ib, im, is, isc;
    if (op->n_in < 5 || op->n_in > 6 || op->n_out != 1) {
        ember_set_error(NAME ": expected 5 or 6 inputs and 1 output, got %d and %d", (int)op->n_in, (int)op->n_out);
        return EMBER_ERR_ARG;
    }
    const int32_t requant = op->p[EMBER_FULLY_CONNECTED_P_requant];
    if (requant != 0 && requant != 1) {
        ember_set_error(NAME ": requant mode %d is not 0 (fixed point) or 1 (double)", (int)requant);
        return EMBER_ERR_ARG;
    }
    if (ember_nn_input(op, 0, 1, NAME, "input", &ix) || ember_nn_input(op, 1, 1, NAME, "filter", &iw) ||
        ember_nn_input(op, 2, 0, NAME, "bias", &ib) ||
        ember_nn_input(op, 3, requant == 0, NAME, "multipliers", &im) ||
        ember_nn_input(op, 4, requant == 0, NAME, "shifts", &is) ||
        ember_nn_input(op, 5, requant == 1, NAME, "requantization scales", &isc) || op->out[0] < 0)
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
    if (requant == 0 && ember_nn_check_requant(&t[im], &t[is], d.units, NAME)) return EMBER_ERR_ARG;
    if (requant == 1) {
        const ember_tensor *sc = &t[isc];
        if (ember_nn_dtype(sc, EMBER_DT_FLOAT32, NAME, "requantization scales") ||
            ember_nn_const(sc, NAME, "requantization scales"))
            return EMBER_ERR_ARG;
        if (ember_nn_count(sc) != (int64_t)d.units + 2) {
            ember_set_error(NAME ": requantization scales hold %lld values, expected %d", (long long)ember_nn_count(sc),
                            (int)d.units + 2);
            return EMBER_ERR_ARG;
        }
        const float *f = (const float *)sc->data;
        for (int32_t i = 0; i < d.units + 2; ++i) {
            if (!(f[i] > 0.0f) || isinf(f[i])) {
                ember_set_error(NAME ": requantization scale %d is %g, must be finite and > 0", (int)i, (double)f[i]);
                return EMBER_ERR_ARG;
            }
        }
    }
    const ember_fully_connected_params p = params_of(op);
    if (ember_nn_check_act(p.act_min, p.act_max, NAME) ||
        ember_nn_check_offsets(p.input_offset, p.output_offset, NAME))
        return EMBER_ERR_ARG;
    if (p.filter_offset < -127 || p.filter_offset > 128) {
        ember_set_error(NAME ": filter offset %d out of the int8 range", (int)p.filter_offset);
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = ember_fully_connected_s8_scratch_size(&p, &d);
    *persistent_bytes = requant == 1 ? (size_t)d.units * sizeof(double) : 0;
    if (!simd_eligible(op, &p)) return EMBER_OK; /* double requant / asymmetric weights: scalar */
    const ember_conv_geom g = geom_of(&p, &d);
    return ember_qconv_op_prepare(&g, EMBER_QOP_CONV, scratch_bytes, persistent_bytes);
}

/* requant 1: scale[oc] = (double)input_scale * (double)filter_scale[oc] / (double)output_scale,
 * evaluated in this order, as LiteRT's reference kernel does. */
static ember_status init(ember_op *op, const ember_tensor *t) {
    if (op->p[EMBER_FULLY_CONNECTED_P_requant] == 0) {
        if (op->persistent_bytes == 0) return EMBER_OK;
        /* packed weights for the SIMD engine (prepare asked for them) */
        const ember_fc_dims d = dims_of(&t[op->in[0]], &t[op->in[1]]);
        const ember_fully_connected_params p = params_of(op);
        const ember_conv_geom g = geom_of(&p, &d);
        return ember_qconv_op_init(op, &g, EMBER_QOP_CONV, (const int8_t *)t[op->in[1]].data,
                                   op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL,
                                   (const int32_t *)t[op->in[3]].data, (const int32_t *)t[op->in[4]].data);
    }
    const ember_fc_dims d = dims_of(&t[op->in[0]], &t[op->in[1]]);
    const float *f = (const float *)t[op->in[5]].data;
    double *scale = (double *)op->persistent;
    if (scale == NULL || op->persistent_bytes < (size_t)d.units * sizeof(double)) {
        ember_set_error(NAME ": persistent memory missing");
        return EMBER_ERR_STATE;
    }
    for (int32_t oc = 0; oc < d.units; ++oc) {
        const double filter_scale = (double)f[2 + oc];
        scale[oc] = (double)f[0] * filter_scale / (double)f[1];
    }
    return EMBER_OK;
}

typedef struct {
    ember_fully_connected_params p;
    ember_fc_dims d;
    const int8_t *x, *w;
    const int32_t *bias, *mult, *shift;
    const double *scale; /* requant 1 */
    int8_t *y;
} fc_args;

static ember_status fc_units(const void *vargs, int32_t start, int32_t end) {
    const fc_args *a = (const fc_args *)vargs;
    if (a->scale)
        return ember_fully_connected_s8_double_requant_scalar(&a->p, &a->d, a->x, a->w, a->bias, a->scale, a->y, start,
                                                              end, NULL);
    return ember_fully_connected_s8_scalar(&a->p, &a->d, a->x, a->w, a->bias, a->mult, a->shift, a->y, start, end,
                                           NULL);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *w = &t[op->in[1]], *y = &t[op->out[0]];
    const int32_t requant = op->p[EMBER_FULLY_CONNECTED_P_requant];
    ember_status st;
    if (requant == 0 && op->persistent_bytes > 0) {
        st = ember_qconv_op_run(op, EMBER_QOP_CONV, (const int8_t *)x->data, (int8_t *)y->data, ctx);
    } else {
        fc_args a;
        a.p = params_of(op);
        a.d = dims_of(x, w);
        a.x = (const int8_t *)x->data;
        a.w = (const int8_t *)w->data;
        a.bias = op->in[2] >= 0 ? (const int32_t *)t[op->in[2]].data : NULL;
        a.mult = requant == 0 ? (const int32_t *)t[op->in[3]].data : NULL;
        a.shift = requant == 0 ? (const int32_t *)t[op->in[4]].data : NULL;
        a.scale = requant == 1 ? (const double *)op->persistent : NULL;
        a.y = (int8_t *)y->data;
        /* Units are split across the pool (batch is usually 1). */
        st = ember_parallel_range(ctx, a.d.units, EMBER_SCALAR_MAC_WORK * (int64_t)a.d.batches * a.d.depth * a.d.units,
                                  fc_units, &a);
    }
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_fully_connected = {
    NAME, k_param_names, EMBER_FULLY_CONNECTED_NPARAMS, prepare, init, run,
};
