/* TANH adapter: a table op (see elem_common/lut_record.h), p = EMBER_TANH_PARAMS.
 * init builds the 256-byte table into op->persistent. */
#include "ember/ops/tanh.h"

#include "elem_common/lut_record.h"
#include "ember/op.h"

#define NAME "TANH"

/* Compile-time check (C99): lut_record.h reads the zero points from these slots. */
typedef char tanh_zp_slots[EMBER_TANH_P_input_zero_point == EMBER_EL_LUT_P_input_zero_point &&
    EMBER_TANH_P_output_zero_point == EMBER_EL_LUT_P_output_zero_point ? 1 : -1];

static const char *const k_param_names[] = {EMBER_TANH_PARAMS(EMBER_PARAM_NAME)};

static ember_status prepare(const ember_op *op, const ember_tensor *t, size_t *scratch_bytes,
                            size_t *persistent_bytes) {
    return ember_el_lut_prepare(op, t, scratch_bytes, persistent_bytes, NAME);
}

static ember_status init(ember_op *op, const ember_tensor *t) {
    return ember_el_lut_init(op, t, ember_tanh_s8_lut, NAME);
}

static ember_status run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    return ember_el_lut_run(op, t, ember_tanh_s8_scalar, NAME);
}

const ember_op_adapter ember_adapter_tanh = {
    NAME, k_param_names, EMBER_TANH_NPARAMS, prepare, init, run,
};
