/* CONCATENATION adapter: in = [x0 .. xn-1, int8], out = [y int8],
 * p = EMBER_CONCATENATION_PARAMS (axis in [0, rank)). Every input has the
 * output's rank and dims except along axis, where they sum to the output's. */
#include "ember/ops/concatenation.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "CONCATENATION"

static const char *const k_param_names[] = {EMBER_CONCATENATION_PARAMS(EMBER_PARAM_NAME)};

static size_t outer_of(const ember_tensor *y, int32_t axis) {
    size_t outer = 1;
    for (int32_t d = 0; d < axis; ++d) outer *= (size_t)y->dims[d];
    return outer;
}

static size_t inner_of(const ember_tensor *x, int32_t axis) {
    size_t inner = 1;
    for (int32_t d = axis; d < x->ndim; ++d) inner *= (size_t)x->dims[d];
    return inner;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (op->n_in < 1 || op->n_in > EMBER_MAX_OP_INPUTS) {
        ember_set_error(NAME ": expected 1..%d inputs, got %d", EMBER_MAX_OP_INPUTS, (int)op->n_in);
        return EMBER_ERR_ARG;
    }
    if (ember_el_io(op, op->n_in, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *y = &t[op->out[0]];
    const int32_t axis = op->p[EMBER_CONCATENATION_P_axis];
    if (ember_el_dtype(y, EMBER_DT_INT8, NAME, "output") || ember_el_valid_shape(y, NAME, "output"))
        return EMBER_ERR_ARG;
    if (axis < 0 || axis >= y->ndim) {
        ember_set_error(NAME ": axis %d out of range for rank %d", (int)axis, (int)y->ndim);
        return EMBER_ERR_ARG;
    }
    int64_t along = 0;
    for (int32_t i = 0; i < op->n_in; ++i) {
        const ember_tensor *x = &t[op->in[i]];
        if (ember_el_dtype(x, EMBER_DT_INT8, NAME, "an input") || ember_el_valid_shape(x, NAME, "an input"))
            return EMBER_ERR_ARG;
        if (x->ndim != y->ndim) {
            ember_set_error(NAME ": input %d has rank %d, output %d", (int)i, (int)x->ndim, (int)y->ndim);
            return EMBER_ERR_ARG;
        }
        for (int32_t d = 0; d < y->ndim; ++d) {
            if (d != axis && x->dims[d] != y->dims[d]) {
                ember_set_error(NAME ": input %d dim %d is %d, output has %d", (int)i, (int)d, (int)x->dims[d],
                                (int)y->dims[d]);
                return EMBER_ERR_ARG;
            }
        }
        along += x->dims[axis];
    }
    if (along != y->dims[axis]) {
        ember_set_error(NAME ": inputs sum to %lld along axis %d, output has %d", (long long)along, (int)axis,
                        (int)y->dims[axis]);
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *y = &t[op->out[0]];
    const int32_t axis = op->p[EMBER_CONCATENATION_P_axis];
    const int8_t *inputs[EMBER_MAX_OP_INPUTS];
    size_t inner[EMBER_MAX_OP_INPUTS];
    for (int32_t i = 0; i < op->n_in; ++i) {
        inputs[i] = (const int8_t *)t[op->in[i]].data;
        inner[i] = inner_of(&t[op->in[i]], axis);
    }
    ember_status st = ember_concatenation_s8_scalar(op->n_in, inputs, inner, outer_of(y, axis), (int8_t *)y->data);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_concatenation = {
    NAME, k_param_names, EMBER_CONCATENATION_NPARAMS, prepare, NULL, run,
};
