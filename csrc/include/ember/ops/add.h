/* ADD, int8 + int8 -> int8 with broadcasting and a fused activation clamp:
 * TFLite's reference_integer_ops::Add / BroadcastAdd6DSlow, parameters from
 * add.cc Prepare (left_shift 20 for int8):
 *   a' = MBQM((a + input1_offset) << left_shift, input1_multiplier, input1_shift)
 *   b' = MBQM((b + input2_offset) << left_shift, input2_multiplier, input2_shift)
 *   y  = clamp(MBQM(a' + b', output_multiplier, output_shift) + output_offset,
 *              act_min, act_max)
 * (all shifts <= 0: "smaller than one" multipliers). */
#ifndef EMBER_OPS_ADD_H
#define EMBER_OPS_ADD_H

#include <stdint.h>

#include "ember/ops/broadcast.h"
#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_ADD_PARAMS(X) \
    X(input1_offset) X(input2_offset) X(output_offset) X(left_shift) \
    X(input1_multiplier) X(input1_shift) X(input2_multiplier) X(input2_shift) \
    X(output_multiplier) X(output_shift) X(act_min) X(act_max)
#define EMBER_ADD_P(name) EMBER_ADD_P_##name,
enum { EMBER_ADD_PARAMS(EMBER_ADD_P) EMBER_ADD_NPARAMS };

typedef struct {
    int32_t input1_offset, input2_offset, output_offset;  /* -zp1, -zp2, +zp_out */
    int32_t left_shift;                                   /* [0, 30] */
    int32_t input1_multiplier, input1_shift;              /* shift in [-31, 0] */
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;                             /* within [-128, 127] */
} ember_add_params;

ember_status ember_add_s8_scalar(const ember_add_params *p, const ember_broadcast *bc,
                                 const int8_t *a, const int8_t *b, int8_t *out);

/* The same through a SIMD micro-kernel (ember_add_ukernel, ember/kernels.h),
 * identical bytes: the broadcast is cut into contiguous runs (same shape,
 * one operand broadcast along the run); uk NULL runs the scalar reference. */
struct ember_add_ukernel;
ember_status ember_add_s8_ukernel(const struct ember_add_ukernel *uk, const ember_add_params *p,
                                  const ember_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out);

/* Work split for threads: the ADD is ember_add_s8_units(bc) independent
 * units (same shape: blocks of EMBER_ADD_UNIT elements; else output rows of
 * the coalesced broadcast); ember_add_s8_ukernel_part computes units
 * [start, end) with a micro-kernel (uk must not be NULL). Disjoint ranges
 * write disjoint output bytes. */
#define EMBER_ADD_UNIT 1024
int32_t ember_add_s8_units(const ember_broadcast *bc);
ember_status ember_add_s8_ukernel_part(const struct ember_add_ukernel *uk, const ember_add_params *p,
                                       const ember_broadcast *bc, const int8_t *a, const int8_t *b, int8_t *out,
                                       int32_t start, int32_t end);

#ifdef __cplusplus
}
#endif
#endif
