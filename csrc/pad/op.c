/* PAD adapter (PAD and PADV2): executor record -> ember_pad_s8_scalar.
 * Input and output ranks must be equal and <= EMBER_PAD_MAX_DIMS; before_i /
 * after_i refer to the dims normalized to 5 (outermost first, leading 1s). */
#include "ember/ops/pad.h"

#include "ember/op.h"
#include "nn_common/adapter_check.h"

#define NAME "PAD"

static const char *const k_param_names[] = {EMBER_PAD_PARAMS(EMBER_PARAM_NAME)};

static ember_pad_params params_of(const ember_op *op) {
    ember_pad_params p;
    for (int i = 0; i < EMBER_PAD_MAX_DIMS; ++i) {
        p.before[i] = op->p[EMBER_PAD_P_before_0 + i];
        p.after[i] = op->p[EMBER_PAD_P_after_0 + i];
    }
    p.pad_value = op->p[EMBER_PAD_P_pad_value];
    return p;
}

static void normalized_dims(const ember_tensor *x, int32_t d[EMBER_PAD_MAX_DIMS]) {
    const int lead = EMBER_PAD_MAX_DIMS - (int)x->ndim;
    for (int i = 0; i < EMBER_PAD_MAX_DIMS; ++i) d[i] = i < lead ? 1 : x->dims[i - lead];
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    int32_t ix;
    if (op->n_in != 1 || op->n_out != 1) {
        ember_set_error(NAME ": expected 1 input and 1 output, got %d and %d", (int)op->n_in, (int)op->n_out);
        return EMBER_ERR_ARG;
    }
    if (ember_nn_input(op, 0, 1, NAME, "input", &ix) || op->out[0] < 0) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[ix], *y = &t[op->out[0]];
    if (ember_nn_dtype(x, EMBER_DT_INT8, NAME, "input") || ember_nn_dtype(y, EMBER_DT_INT8, NAME, "output"))
        return EMBER_ERR_ARG;
    if (x->ndim < 1 || x->ndim > EMBER_PAD_MAX_DIMS || y->ndim != x->ndim) {
        ember_set_error(NAME ": input rank %d and output rank %d must be equal and in [1, %d]", (int)x->ndim,
                        (int)y->ndim, EMBER_PAD_MAX_DIMS);
        return EMBER_ERR_ARG;
    }
    const ember_pad_params p = params_of(op);
    if (p.pad_value < -128 || p.pad_value > 127) {
        ember_set_error(NAME ": pad value %d outside int8", (int)p.pad_value);
        return EMBER_ERR_ARG;
    }
    int32_t in_d[EMBER_PAD_MAX_DIMS], out_d[EMBER_PAD_MAX_DIMS];
    normalized_dims(x, in_d);
    normalized_dims(y, out_d);
    for (int i = 0; i < EMBER_PAD_MAX_DIMS; ++i) {
        if (in_d[i] < 0 || p.before[i] < 0 || p.after[i] < 0 ||
            (int64_t)in_d[i] + p.before[i] + p.after[i] != out_d[i]) {
            ember_set_error(NAME ": dim %d: input %d + padding %d/%d does not give output %d", i, (int)in_d[i],
                            (int)p.before[i], (int)p.after[i], (int)out_d[i]);
            return EMBER_ERR_ARG;
        }
    }
    *scratch_bytes = ember_pad_s8_scratch_size(&p, in_d);
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    int32_t in_d[EMBER_PAD_MAX_DIMS];
    normalized_dims(x, in_d);
    const ember_pad_params p = params_of(op);
    ember_status st = ember_pad_s8_scalar(&p, in_d, (const int8_t *)x->data, (int8_t *)y->data,
                                          ctx ? ctx->scratch : NULL);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_pad = {
    NAME, k_param_names, EMBER_PAD_NPARAMS, prepare, NULL, run,
};
