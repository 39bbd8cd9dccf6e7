/* TANH, int8 -> int8, through a 256-entry table built at init from the
 * tensors' quantization (see ember/ops/lut.h for the exact recipe and where
 * LiteRT and TFLM differ). Input 1 of the op record is a constant float32
 * tensor [input_scale, output_scale]; the zero points are params. */
#ifndef EMBER_OPS_TANH_H
#define EMBER_OPS_TANH_H

#include <stddef.h>
#include <stdint.h>

#include "ember/ops/lut.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_TANH_PARAMS(X) X(input_zero_point) X(output_zero_point)
#define EMBER_TANH_P(name) EMBER_TANH_P_##name,
enum { EMBER_TANH_PARAMS(EMBER_TANH_P) EMBER_TANH_NPARAMS };

/* Builds the op's table (256 bytes). */
void ember_tanh_s8_lut(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp, int8_t lut[256]);

/* Applies a table built by ember_tanh_s8_lut. */
ember_status ember_tanh_s8_scalar(const int8_t *lut, const int8_t *in, int8_t *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
