/* MEAN over a set of axes, int8 -> int8: TFLite's
 * reference_ops::QuantizedMeanOrSum (compute_sum = false), which LiteRT 2.3
 * BUILTIN_REF runs for every int8 MEAN (checked against the oracle: also for
 * the keep_dims 4-D {1,2} "spatial" case and when input and output share
 * their quantization; older TFLite and TFLM use reference_integer_ops::Mean
 * there, with a different rounding).
 *   sum = sum of the raw int8 values over the reduced axes, n = their count
 *   s = min(floor(log2 n), 32, 31 + shift); m' = (multiplier << s) / n; shift' = shift - s
 *   y = clamp(MBQM(sum - input_zero_point * n, m', shift') + output_zero_point)
 * multiplier/shift: QuantizeMultiplier(input_scale / output_scale).
 * axis_mask: bit d set when input dim d is reduced. Scratch: one int32 per
 * output element. */
#ifndef EMBER_OPS_MEAN_H
#define EMBER_OPS_MEAN_H

#include <stddef.h>
#include <stdint.h>

#include "ember/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_MEAN_PARAMS(X) \
    X(axis_mask) X(input_zero_point) X(output_zero_point) X(multiplier) X(shift)
#define EMBER_MEAN_P(name) EMBER_MEAN_P_##name,
enum { EMBER_MEAN_PARAMS(EMBER_MEAN_P) EMBER_MEAN_NPARAMS };

typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} ember_mean_params;

size_t ember_mean_scratch_size(size_t out_count);

/* in_dims/ndim: input shape; axis_mask: reduced dims; out_count: number of
 * output elements (product of the kept dims). */
ember_status ember_mean_s8_scalar(const ember_mean_params *p, const int32_t *in_dims, int32_t ndim,
                                  uint32_t axis_mask, const int8_t *in, int8_t *out,
                                  size_t out_count, int32_t *scratch);

#ifdef __cplusplus
}
#endif
#endif
