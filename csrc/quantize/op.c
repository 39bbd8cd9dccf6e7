/* QUANTIZE adapter, p = EMBER_QUANTIZE_PARAMS, out = [y int8 or uint8, same shape]:
 *   float32 input: in = [x float32, scale float32[1] constant], uses output_zero_point;
 *   int8/uint8 input: in = [x], uses all four params. */
#include "ember/ops/quantize.h"

#include "ember/op.h"
#include "elem_common/record_check.h"

#define NAME "QUANTIZE"

static const char *const k_param_names[] = {EMBER_QUANTIZE_PARAMS(EMBER_PARAM_NAME)};

static int is_q8(int32_t dtype) { return dtype == EMBER_DT_INT8 || dtype == EMBER_DT_UINT8; }

static int zero_point_ok(int32_t zp, int32_t dtype, const char *what) {
    const int32_t lo = dtype == EMBER_DT_UINT8 ? 0 : -128, hi = dtype == EMBER_DT_UINT8 ? 255 : 127;
    if (zp < lo || zp > hi) {
        ember_set_error(NAME ": %s zero point %d is outside [%d, %d]", what, (int)zp, (int)lo, (int)hi);
        return 0;
    }
    return 1;
}

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    if (op->n_in < 1 || op->in[0] < 0) {
        ember_set_error(NAME ": missing input");
        return EMBER_ERR_ARG;
    }
    const int from_float = t[op->in[0]].dtype == EMBER_DT_FLOAT32;
    if (ember_el_io(op, from_float ? 2 : 1, 1, NAME)) return EMBER_ERR_ARG;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    if (!from_float && !is_q8(x->dtype)) {
        ember_set_error(NAME ": input dtype %d must be float32, int8 or uint8", (int)x->dtype);
        return EMBER_ERR_ARG;
    }
    if (!is_q8(y->dtype)) {
        ember_set_error(NAME ": output dtype %d must be int8 or uint8", (int)y->dtype);
        return EMBER_ERR_ARG;
    }
    if (ember_el_valid_shape(x, NAME, "input") || ember_el_same_shape(x, y, NAME, "input", "output") ||
        !zero_point_ok(op->p[EMBER_QUANTIZE_P_output_zero_point], y->dtype, "output"))
        return EMBER_ERR_ARG;
    if (from_float) {
        if (ember_el_const_f32(&t[op->in[1]], 1, 1, NAME, "scale (input 1)")) return EMBER_ERR_ARG;
    } else if (!zero_point_ok(op->p[EMBER_QUANTIZE_P_input_zero_point], x->dtype, "input") ||
               ember_el_multiplier(op->p[EMBER_QUANTIZE_P_multiplier], op->p[EMBER_QUANTIZE_P_shift], -31, 30,
                                   NAME, "requantization")) {
        return EMBER_ERR_ARG;
    }
    *scratch_bytes = 0;
    *persistent_bytes = 0;
    return EMBER_OK;
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    const size_t n = (size_t)ember_el_count(x);
    const int32_t zi = op->p[EMBER_QUANTIZE_P_input_zero_point], zo = op->p[EMBER_QUANTIZE_P_output_zero_point];
    const int32_t m = op->p[EMBER_QUANTIZE_P_multiplier], s = op->p[EMBER_QUANTIZE_P_shift];
    const int out_u8 = y->dtype == EMBER_DT_UINT8;
    ember_status st;
    if (x->dtype == EMBER_DT_FLOAT32) {
        const float scale = *(const float *)t[op->in[1]].data;
        st = out_u8 ? ember_quantize_f32_u8_scalar((const float *)x->data, (uint8_t *)y->data, n, scale, zo)
                    : ember_quantize_f32_s8_scalar((const float *)x->data, (int8_t *)y->data, n, scale, zo);
    } else if (x->dtype == EMBER_DT_INT8) {
        st = out_u8 ? ember_requantize_s8_u8_scalar((const int8_t *)x->data, (uint8_t *)y->data, n, zi, zo, m, s)
                    : ember_requantize_s8_scalar((const int8_t *)x->data, (int8_t *)y->data, n, zi, zo, m, s);
    } else {
        st = out_u8 ? ember_requantize_u8_scalar((const uint8_t *)x->data, (uint8_t *)y->data, n, zi, zo, m, s)
                    : ember_requantize_u8_s8_scalar((const uint8_t *)x->data, (int8_t *)y->data, n, zi, zo, m, s);
    }
    if (st != EMBER_OK) ember_set_error(NAME ": kernel failed (%d)", (int)st);
    return st;
}

const ember_op_adapter ember_adapter_quantize = {
    NAME, k_param_names, EMBER_QUANTIZE_NPARAMS, prepare, NULL, run,
};
