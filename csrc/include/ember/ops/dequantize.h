/* DEQUANTIZE int8/uint8 -> float32 (TFLite reference Dequantize):
 *   y = float((double)scale * (double)(q - zero_point))
 * Input 1 of the op record is a constant float32 [1] tensor with the scale. */
#ifndef EMBER_OPS_DEQUANTIZE_H
#define EMBER_OPS_DEQUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_DEQUANTIZE_PARAMS(X) X(zero_point)
#define EMBER_DEQUANTIZE_P(name) EMBER_DEQUANTIZE_P_##name,
enum { EMBER_DEQUANTIZE_PARAMS(EMBER_DEQUANTIZE_P) EMBER_DEQUANTIZE_NPARAMS };

ember_status ember_dequantize_s8_f32_scalar(const int8_t *in, float *out, size_t n,
                                            float scale, int32_t zero_point);
ember_status ember_dequantize_u8_f32_scalar(const uint8_t *in, float *out, size_t n,
                                            float scale, int32_t zero_point);

#ifdef __cplusplus
}
#endif
#endif
