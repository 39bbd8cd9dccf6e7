/* QUANTIZE: float32 -> int8/uint8 (TFLite reference_ops::AffineQuantize) and
 * int8/uint8 -> int8/uint8 requantization (reference_ops::Requantize; its
 * int8 <-> uint8 "xor 0x80" fast path gives the same bytes as the general one).
 *
 * float -> int8: q = clamp(int32(roundf(x / scale)) + zero_point), the
 *   division done in float as TFLite does. Out-of-range and NaN values go
 *   through the float -> int32 conversion of the CPU TFLite runs on (x86:
 *   0x80000000 for anything unrepresentable; ARM: saturation, NaN -> 0) so
 *   that Ember matches the oracle of its own platform.
 * requantize: q = clamp(MBQM(x - input_zero_point, multiplier, shift) + output_zero_point)
 * (clamp to the output type's range).
 *
 * For float input, input 1 of the op record is a constant float32 [1] tensor
 * holding the output scale. */
#ifndef EMBER_OPS_QUANTIZE_H
#define EMBER_OPS_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_QUANTIZE_PARAMS(X) \
    X(input_zero_point) X(output_zero_point) X(multiplier) X(shift)
#define EMBER_QUANTIZE_P(name) EMBER_QUANTIZE_P_##name,
enum { EMBER_QUANTIZE_PARAMS(EMBER_QUANTIZE_P) EMBER_QUANTIZE_NPARAMS };

ember_status ember_quantize_f32_s8_scalar(const float *in, int8_t *out, size_t n,
                                          float scale, int32_t zero_point);

ember_status ember_quantize_f32_u8_scalar(const float *in, uint8_t *out, size_t n,
                                          float scale, int32_t zero_point);

ember_status ember_requantize_s8_scalar(const int8_t *in, int8_t *out, size_t n,
                                        int32_t input_zero_point, int32_t output_zero_point,
                                        int32_t multiplier, int32_t shift);
ember_status ember_requantize_s8_u8_scalar(const int8_t *in, uint8_t *out, size_t n,
                                           int32_t input_zero_point, int32_t output_zero_point,
                                           int32_t multiplier, int32_t shift);
ember_status ember_requantize_u8_s8_scalar(const uint8_t *in, int8_t *out, size_t n,
                                           int32_t input_zero_point, int32_t output_zero_point,
                                           int32_t multiplier, int32_t shift);
ember_status ember_requantize_u8_scalar(const uint8_t *in, uint8_t *out, size_t n,
                                        int32_t input_zero_point, int32_t output_zero_point,
                                        int32_t multiplier, int32_t shift);

/* TFLite's float -> int32 step (see above), exposed for tests. */
int32_t ember_quantize_round_to_i32(float x, float scale);

#ifdef __cplusplus
}
#endif
#endif
