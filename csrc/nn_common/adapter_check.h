/* Record checks shared by the adapters of the spatial/dense ops
 * (conv_2d, depthwise_conv_2d, fully_connected, pools, pad).
 * Internal header: include as "nn_common/adapter_check.h". Each helper sets a
 * precise message with ember_set_error and returns nonzero on failure. */
#ifndef EMBER_NN_COMMON_ADAPTER_CHECK_H
#define EMBER_NN_COMMON_ADAPTER_CHECK_H

#include <stdint.h>

#include "ember/op.h"
#include "ember/ops/nhwc.h"

/* Tensor id of input slot i, or -1. Fails when the slot is missing and required. */
static inline int ember_nn_input(const ember_op *op, int i, int required, const char *op_name,
                                 const char *what, int32_t *id) {
    *id = (i < op->n_in) ? op->in[i] : -1;
    if (*id < 0 && required) {
        ember_set_error("%s: missing %s (input %d)", op_name, what, i);
        return 1;
    }
    return 0;
}

static inline int ember_nn_dtype(const ember_tensor *t, int32_t dtype, const char *op_name,
                                 const char *what) {
    if (t->dtype != dtype) {
        ember_set_error("%s: %s has dtype %d, expected %d", op_name, what, (int)t->dtype, (int)dtype);
        return 1;
    }
    return 0;
}

static inline int ember_nn_rank(const ember_tensor *t, int32_t ndim, const char *op_name,
                                const char *what) {
    if (t->ndim != ndim) {
        ember_set_error("%s: %s has rank %d, expected %d", op_name, what, (int)t->ndim, (int)ndim);
        return 1;
    }
    for (int32_t i = 0; i < t->ndim; ++i) {
        if (t->dims[i] <= 0) {
            ember_set_error("%s: %s has non-positive dimension %d", op_name, what, (int)t->dims[i]);
            return 1;
        }
    }
    return 0;
}

static inline int ember_nn_const(const ember_tensor *t, const char *op_name, const char *what) {
    if (!t->is_const || !t->data) {
        ember_set_error("%s: %s must be a constant tensor", op_name, what);
        return 1;
    }
    return 0;
}

static inline int64_t ember_nn_count(const ember_tensor *t) {
    int64_t n = 1;
    for (int32_t i = 0; i < t->ndim; ++i) n *= t->dims[i];
    return n;
}

static inline ember_nhwc ember_nn_nhwc(const ember_tensor *t) {
    ember_nhwc d;
    d.n = t->dims[0];
    d.h = t->dims[1];
    d.w = t->dims[2];
    d.c = t->dims[3];
    return d;
}

/* Zero-point offsets: input_offset = -zp in [-127, 128], output_offset = zp in [-128, 127]. */
static inline int ember_nn_check_offsets(int32_t input_offset, int32_t output_offset, const char *op_name) {
    if (input_offset < -127 || input_offset > 128 || output_offset < -128 || output_offset > 127) {
        ember_set_error("%s: zero-point offsets (input %d, output %d) out of the int8 range", op_name,
                        (int)input_offset, (int)output_offset);
        return 1;
    }
    return 0;
}

/* Checks multipliers/shifts: int32 constants of `channels` elements, shift in [-31, 30],
 * multiplier in [0, 2^31). */
static inline int ember_nn_check_requant(const ember_tensor *mult, const ember_tensor *shift,
                                         int32_t channels, const char *op_name) {
    if (ember_nn_dtype(mult, EMBER_DT_INT32, op_name, "multiplier tensor") ||
        ember_nn_dtype(shift, EMBER_DT_INT32, op_name, "shift tensor") ||
        ember_nn_const(mult, op_name, "multiplier tensor") ||
        ember_nn_const(shift, op_name, "shift tensor"))
        return 1;
    if (ember_nn_count(mult) != channels || ember_nn_count(shift) != channels) {
        ember_set_error("%s: multiplier/shift tensors have %lld/%lld values, expected %d", op_name,
                        (long long)ember_nn_count(mult), (long long)ember_nn_count(shift), (int)channels);
        return 1;
    }
    const int32_t *m = (const int32_t *)mult->data;
    const int32_t *s = (const int32_t *)shift->data;
    for (int32_t i = 0; i < channels; ++i) {
        if (m[i] < 0 || s[i] < -31 || s[i] > 30) {
            ember_set_error("%s: channel %d has multiplier %d shift %d (need multiplier >= 0, shift in [-31, 30])",
                            op_name, (int)i, (int)m[i], (int)s[i]);
            return 1;
        }
    }
    return 0;
}

static inline int ember_nn_check_act(int32_t act_min, int32_t act_max, const char *op_name) {
    if (act_min < -128 || act_max > 127 || act_min > act_max) {
        ember_set_error("%s: activation range [%d, %d] is not inside [-128, 127]", op_name,
                        (int)act_min, (int)act_max);
        return 1;
    }
    return 0;
}

#endif
