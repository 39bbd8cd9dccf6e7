/* MEAN adapter: in = [x int8], out = [y int8], p = EMBER_MEAN_PARAMS.
 * The output holds the kept dims (with or without the reduced 1s), so only its
 * element count is checked against the input and axis_mask. */
#include "ember/ops/mean.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "MEAN"

static const char *const k_param_names[] = {EMBER_MEAN_PARAMS(EMBER_PARAM_NAME)};

static ember_mean_params params_of(const ember_op *op) {
    ember_mean_params p;
    p.input_zero_point = op->p[EMBER_MEAN_P_input_zero_point];
    p.output_zero_point = op->p[EMBER_MEAN_P_output_zero_point];
    p.multiplier = op->p[EMBER_MEAN_P_multiplier];
    p.shift = op->p[EMBER_MEAN_P_shift];
    return p;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_s8_in_out(op, t, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    if (ember_el_valid_shape(y, NAME, "output")) return EMBER_ERR_ARG;
    const uint32_t mask = (uint32_t)op->p[EMBER_MEAN_P_axis_mask];
    if (x->ndim < 1 || mask == 0 || (mask >> x->ndim) != 0) {
        ember_set_error(NAME ": axis mask 0x%x does not select axes of a rank-%d input", (unsigned)mask,
                        (int)x->ndim);
        return EMBER_ERR_ARG;
    }
    int64_t kept = 1;
    for (int32_t d = 0; d < x->ndim; ++d) {
        if (!(mask & (UINT32_C(1) << d))) kept *= x->dims[d];
    }
    if (kept != ember_el_count(y)) {
        ember_set_error(NAME ": output has %lld elements, the kept input dims give %lld",
                        (long long)ember_el_count(y), (long long)kept);
        return EMBER_ERR_ARG;
    }
    const ember_mean_params p = params_of(op);
    if (ember_el_zero_point(p.input_zero_point, NAME, "input") ||
        ember_el_zero_point(p.output_zero_point, NAME, "output") ||
        ember_el_multiplier(p.multiplier, p.shift, -31, 30, NAME, "output"))
        return EMBER_ERR_ARG;
    *scratch_bytes = ember_mean_scratch_size((size_t)kept);
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    const size_t n_out = (size_t)ember_el_count(y);
    if (ctx == NULL || ctx->scratch_bytes < ember_mean_scratch_size(n_out)) {
        ember_set_error(NAME ": scratch buffer too small");
        return EMBER_ERR_NO_MEMORY;
    }
    const ember_mean_params p = params_of(op);
    ember_status st = ember_mean_s8_scalar(&p, x->dims, x->ndim, (uint32_t)op->p[EMBER_MEAN_P_axis_mask],
                                           (const int8_t *)x->data, (int8_t *)y->data, n_out,
                                           (int32_t *)ctx->scratch);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_mean = {
    NAME, k_param_names, EMBER_MEAN_NPARAMS, prepare, NULL, run,
};
