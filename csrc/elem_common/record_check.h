/* Record checks shared by the adapters of the elementwise and shape ops
 * (add, mul, softmax, logistic, tanh, quantize, dequantize, concatenation,
 * mean, reshape). Internal header: include as "elem_common/record_check.h".
 * Each helper sets a precise message with ember_set_error and returns
 * nonzero on failure. */
#ifndef EMBER_ELEM_COMMON_RECORD_CHECK_H
#define EMBER_ELEM_COMMON_RECORD_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/op.h"

static inline int ember_el_io(const ember_op *op, int32_t n_in, int32_t n_out, const char *name) {
    if (op->n_in != n_in || op->n_out != n_out) {
        ember_set_error("%s: expected %d input(s) and %d output(s), got %d and %d", name, (int)n_in,
                        (int)n_out, (int)op->n_in, (int)op->n_out);
        return 1;
    }
    for (int32_t i = 0; i < n_in; ++i) {
        if (op->in[i] < 0) {
            ember_set_error("%s: input %d is missing", name, (int)i);
            return 1;
        }
    }
    for (int32_t i = 0; i < n_out; ++i) {
        if (op->out[i] < 0) {
            ember_set_error("%s: output %d is missing", name, (int)i);
            return 1;
        }
    }
    return 0;
}

static inline int ember_el_dtype(const ember_tensor *t, int32_t dtype, const char *name, const char *what) {
    if (t->dtype != dtype) {
        ember_set_error("%s: %s has dtype %d, expected %d", name, what, (int)t->dtype, (int)dtype);
        return 1;
    }
    return 0;
}

/* Element count (-1 for an invalid shape: rank out of [0, EMBER_MAX_DIMS] or a negative dim). */
static inline int64_t ember_el_count(const ember_tensor *t) {
    if (t->ndim < 0 || t->ndim > EMBER_MAX_DIMS) return -1;
    int64_t n = 1;
    for (int32_t i = 0; i < t->ndim; ++i) {
        if (t->dims[i] < 0) return -1;
        n *= t->dims[i];
    }
    return n;
}

static inline int ember_el_valid_shape(const ember_tensor *t, const char *name, const char *what) {
    if (ember_el_count(t) < 0 || ember_el_count(t) > INT32_MAX) {
        ember_set_error("%s: %s has an invalid shape (rank %d)", name, what, (int)t->ndim);
        return 1;
    }
    return 0;
}

/* n_in inputs and one output; input 0 and the output int8, input 0 of a valid shape. */
static inline int ember_el_s8_in_out(const ember_op *op, const ember_tensor *t, int32_t n_in, const char *name) {
    if (ember_el_io(op, n_in, 1, name)) return 1;
    const ember_tensor *x = &t[op->in[0]], *y = &t[op->out[0]];
    return ember_el_dtype(x, EMBER_DT_INT8, name, "input") || ember_el_dtype(y, EMBER_DT_INT8, name, "output") ||
           ember_el_valid_shape(x, name, "input");
}

static inline int ember_el_same_shape(const ember_tensor *a, const ember_tensor *b, const char *name,
                                      const char *what_a, const char *what_b) {
    int same = a->ndim == b->ndim;
    for (int32_t i = 0; same && i < a->ndim; ++i) same = a->dims[i] == b->dims[i];
    if (!same || ember_el_count(a) < 0) {
        ember_set_error("%s: %s and %s must have the same shape", name, what_a, what_b);
        return 1;
    }
    return 0;
}

static inline int ember_el_zero_point(int32_t zp, const char *name, const char *what) {
    if (zp < -128 || zp > 127) {
        ember_set_error("%s: %s zero point %d is outside the int8 range", name, what, (int)zp);
        return 1;
    }
    return 0;
}

/* A quantized multiplier: m in {0} U [2^30, 2^31), shift in [lo, hi]. */
static inline int ember_el_multiplier(int32_t m, int32_t shift, int32_t lo, int32_t hi, const char *name,
                                      const char *what) {
    if (m < 0 || (m != 0 && m < (INT32_C(1) << 30)) || shift < lo || shift > hi) {
        ember_set_error("%s: %s multiplier %d / shift %d out of range (shift must be in [%d, %d])", name, what,
                        (int)m, (int)shift, (int)lo, (int)hi);
        return 1;
    }
    return 0;
}

static inline int ember_el_act(int32_t lo, int32_t hi, const char *name) {
    if (lo < -128 || hi > 127 || lo > hi) {
        ember_set_error("%s: activation range [%d, %d] is not a non-empty int8 range", name, (int)lo, (int)hi);
        return 1;
    }
    return 0;
}

/* A constant float32 tensor with n finite values, the first `positive` of them > 0. */
static inline int ember_el_const_f32(const ember_tensor *t, int64_t n, int positive, const char *name,
                                     const char *what) {
    if (t->dtype != EMBER_DT_FLOAT32 || !t->is_const || t->data == NULL || ember_el_count(t) != n) {
        ember_set_error("%s: %s must be a constant float32 tensor of %d value(s)", name, what, (int)n);
        return 1;
    }
    const float *v = (const float *)t->data;
    for (int64_t i = 0; i < n; ++i) {
        const float x = v[i];
        if (!isfinite(x) || (i < positive && !(x > 0.0f))) {
            ember_set_error("%s: %s value %d is not a finite%s number", name, what, (int)i,
                            i < positive ? " positive" : "");
            return 1;
        }
    }
    return 0;
}

#endif
