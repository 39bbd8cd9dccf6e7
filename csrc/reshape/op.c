/* RESHAPE adapter (also SQUEEZE / EXPAND_DIMS): in = [input], out = [output],
 * no params. Same dtype and byte count; a copy unless the planner aliased the
 * two tensors. */
#include "ember/ops/reshape.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "RESHAPE"

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_io(op, 1, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    if (ember_el_valid_shape(x, NAME, "input") || ember_el_valid_shape(y, NAME, "output")) return EMBER_ERR_ARG;
    if (x->dtype != y->dtype || ember_dtype_size(x->dtype) == 0) {
        ember_set_error(NAME ": input dtype %d and output dtype %d must be equal and known", (int)x->dtype,
                        (int)y->dtype);
        return EMBER_ERR_ARG;
    }
    if (ember_el_count(x) != ember_el_count(y)) {
        ember_set_error(NAME ": input has %lld elements, output %lld", (long long)ember_el_count(x),
                        (long long)ember_el_count(y));
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]];
    ember_tensor *y = &t[op->out[0]];
    const size_t bytes = (size_t)ember_el_count(x) * ember_dtype_size(x->dtype);
    ember_status st = ember_reshape_s8_scalar((const int8_t *)x->data, (int8_t *)y->data, bytes);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_reshape = {NAME, NULL, 0, prepare, NULL, run};
