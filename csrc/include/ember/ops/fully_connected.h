/* FULLY_CONNECTED, int8 activations x int8 weights -> int8.
 *
 * TFLite reference_integer_ops::FullyConnected / FullyConnectedPerChannel:
 *   acc = sum_d (filter[oc][d] + filter_offset) * (input[b][d] + input_offset)
 *   acc += bias[oc]                     (when bias != NULL)
 *   out[b][oc] = clamp(mbqm(acc, mult[oc], shift[oc]) + output_offset, act_min, act_max)
 * Per-tensor weights are expressed with mult/shift arrays holding the same
 * value for every channel (exactly TFLite's per-tensor path); filter_offset
 * is -weights zero point (0 for per-channel weights).
 *
 * Two requantizations exist, chosen by the record's `requant` param:
 *   0: fixed point, mbqm(acc, mult[oc], shift[oc]) (TFLM, CMSIS-NN, LiteRT's
 *      optimized kernels);
 *   1: double, (int32)round((double)acc * scale[oc]) with
 *      scale[oc] = (double)input_scale * (double)filter_scale[oc] / (double)output_scale
 *      -- what LiteRT's reference FULLY_CONNECTED (BUILTIN_REF, our oracle)
 *      does for int8, per-tensor and per-channel alike. The two can differ by 1.
 * The input is viewed as [batches, depth] (TFLite reshapes any input rank so);
 * filter is [units, depth] row-major, output [batches, units].
 *
 * Work splitting: a call computes output channels [oc_start, oc_end) for every
 * batch row, so threads split the units (batch is usually 1).
 *
 * Executor record (csrc/fully_connected/op.c):
 *   in  = [input, filter, bias (-1 if absent), mult int32[units], shift int32[units],
 *          scales float32[units + 2]]
 *         requant 0 needs mult/shift (scales may be absent); requant 1 needs
 *         scales = (input scale, output scale, filter scale per unit) and
 *         mult/shift may be -1.
 *   out = [output]
 *   p   = EMBER_FULLY_CONNECTED_PARAMS below (batches/depth/units are derived
 *         from the tensors: depth = filter dim 1, batches = input size / depth). */
#ifndef EMBER_OPS_FULLY_CONNECTED_H
#define EMBER_OPS_FULLY_CONNECTED_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_FULLY_CONNECTED_PARAMS(X) \
    X(input_offset) X(filter_offset) X(output_offset) X(act_min) X(act_max) X(requant)

#define EMBER_FULLY_CONNECTED_P_(name) EMBER_FULLY_CONNECTED_P_##name,
enum { EMBER_FULLY_CONNECTED_PARAMS(EMBER_FULLY_CONNECTED_P_) EMBER_FULLY_CONNECTED_NPARAMS };

typedef struct {
    int32_t input_offset;   /* -input zero point */
    int32_t filter_offset;  /* -weights zero point (0 for symmetric weights) */
    int32_t output_offset;  /* output zero point */
    int32_t act_min, act_max;
} ember_fully_connected_params;

typedef struct {
    int32_t batches; /* rows of input/output */
    int32_t depth;   /* accumulation depth */
    int32_t units;   /* output channels */
} ember_fc_dims;

size_t ember_fully_connected_s8_scratch_size(const ember_fully_connected_params *p,
                                             const ember_fc_dims *d);

/* Computes output channels [oc_start, oc_end) of every batch row. bias may be NULL. */
ember_status ember_fully_connected_s8_scalar(const ember_fully_connected_params *p,
                                             const ember_fc_dims *d,
                                             const int8_t *input, const int8_t *filter,
                                             const int32_t *bias,
                                             const int32_t *mult, const int32_t *shift,
                                             int8_t *output,
                                             int32_t oc_start, int32_t oc_end, void *scratch);

/* Same as above with LiteRT-reference double requantization (requant 1):
 * scale[oc] = (double)input_scale * (double)filter_scale[oc] / (double)output_scale. */
ember_status ember_fully_connected_s8_double_requant_scalar(const ember_fully_connected_params *p,
                                                            const ember_fc_dims *d,
                                                            const int8_t *input, const int8_t *filter,
                                                            const int32_t *bias, const double *scale,
                                                            int8_t *output,
                                                            int32_t oc_start, int32_t oc_end, void *scratch);

/* (int32)round(acc * scale), round half away from zero, saturated to int32
 * (LiteRT casts without saturating; beyond int32 its result is undefined). */
static inline int32_t ember_requant_double(int32_t acc, double scale) {
    const double r = round((double)acc * scale);
    if (r >= 2147483647.0) return INT32_MAX;
    if (r <= -2147483648.0) return INT32_MIN;
    return (int32_t)r;
}

ember_status ember_fully_connected_s8_check(const ember_fully_connected_params *p,
                                            const ember_fc_dims *d,
                                            int32_t oc_start, int32_t oc_end);

#ifdef __cplusplus
}
#endif
#endif
