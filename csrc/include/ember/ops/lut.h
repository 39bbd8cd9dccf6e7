/* 256-entry int8 lookup tables for elementwise int8 -> int8 functions.
 *
 * LiteRT (BUILTIN_REF and the optimized kernels) evaluates int8 LOGISTIC and
 * TANH through a table built at Prepare time in float (LUTPopulate in
 * tensorflow/lite/kernels/internal/common.h):
 *   table[(uint8)q] = clamp(int32(roundf(f(in_scale * float(q - in_zp)) * (1.0f / out_scale))
 *                                 + float(out_zp)))
 * with f evaluated in float (expf / tanhf). We build the same table with the
 * same float operations. TFLM instead uses a fixed-point approximation
 * (reference_integer_ops::Logistic/Tanh) and can differ by one LSB. */
#ifndef EMBER_OPS_LUT_H
#define EMBER_OPS_LUT_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef float (*ember_lut_fn)(float);

/* Fills lut[256], indexed by the input byte reinterpreted as uint8. */
void ember_lut_s8_populate(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp,
                           ember_lut_fn fn, int8_t lut[256]);

/* out[i] = lut[(uint8)in[i]]; in and out may be the same buffer. */
ember_status ember_lut_s8_scalar(const int8_t *lut, const int8_t *in, int8_t *out, size_t n);

/* The transforms LiteRT uses. */
float ember_lut_sigmoid(float x);  /* 1.0f / (1.0f + expf(-x)) */
float ember_lut_tanh(float x);     /* tanhf(x) */

#ifdef __cplusplus
}
#endif
#endif
