/* DEQUANTIZE adapter: in = [x int8 or uint8, scale float32[1] constant],
 * out = [y float32, same shape], p = EMBER_DEQUANTIZE_PARAMS. */
#include "ember/ops/dequantize.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "DEQUANTIZE"

static const char *const k_param_names[] = {EMBER_DEQUANTIZE_PARAMS(EMBER_PARAM_NAME)};

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (ember_el_io(op, 2, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    if (x->dtype != EMBER_DT_INT8 && x->dtype != EMBER_DT_UINT8) {
        ember_set_error(NAME ": input dtype %d must be int8 or uint8", (int)x->dtype);
        return EMBER_ERR_ARG;
    }
    const int32_t zp = op->p[EMBER_DEQUANTIZE_P_zero_point];
    if (ember_el_dtype(y, EMBER_DT_FLOAT32, NAME, "output") || ember_el_valid_shape(x, NAME, "input") ||
        ember_el_same_shape(x, y, NAME, "input", "output") ||
        ember_el_const_f32(&t[op->in[1]], 1, 1, NAME, "scale (input 1)"))
        return EMBER_ERR_ARG;
    if (x->dtype == EMBER_DT_UINT8 ? (zp < 0 || zp > 255) : (zp < -128 || zp > 127)) {
        ember_set_error(NAME ": input zero point %d is outside the input type's range", (int)zp);
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    const float scale = *(const float *)t[op->in[1]].data;
    const size_t n = (size_t)ember_el_count(x);
    const int32_t zp = op->p[EMBER_DEQUANTIZE_P_zero_point];
    ember_status st = x->dtype == EMBER_DT_UINT8
                          ? ember_dequantize_u8_f32_scalar((const uint8_t *)x->data, (float *)y->data, n, scale, zp)
                          : ember_dequantize_s8_f32_scalar((const int8_t *)x->data, (float *)y->data, n, scale, zp);
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_dequantize = {
    NAME, k_param_names, EMBER_DEQUANTIZE_NPARAMS, prepare, NULL, run,
};
