/* MUL, int8 * int8 -> int8 with broadcasting and a fused activation clamp:
 * TFLite's reference_integer_ops::Mul / BroadcastMul6DSlow, parameters from
 * mul.cc Prepare (QuantizeMultiplier(s1 * s2 / s_out)):
 *   y = clamp(MBQM((a + input1_offset) * (b + input2_offset),
 *                  output_multiplier, output_shift) + output_offset, act_min, act_max) */
#ifndef EMBER_OPS_MUL_H
#define EMBER_OPS_MUL_H

#include <stdint.h>

#include "ember/ops/broadcast.h"
#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_MUL_PARAMS(X) \
    X(input1_offset) X(input2_offset) X(output_offset) \
    X(output_multiplier) X(output_shift) X(act_min) X(act_max)
#define EMBER_MUL_P(name) EMBER_MUL_P_##name,
enum { EMBER_MUL_PARAMS(EMBER_MUL_P) EMBER_MUL_NPARAMS };

typedef struct {
    int32_t input1_offset, input2_offset, output_offset;  /* -zp1, -zp2, +zp_out */
    int32_t output_multiplier, output_shift;              /* shift in [-31, 30] */
    int32_t act_min, act_max;
} ember_mul_params;

ember_status ember_mul_s8_scalar(const ember_mul_params *p, const ember_broadcast *bc,
                                 const int8_t *a, const int8_t *b, int8_t *out);

#ifdef __cplusplus
}
#endif
#endif
