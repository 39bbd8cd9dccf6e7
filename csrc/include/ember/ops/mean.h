/* MEAN over a set of axes, int8 -> int8. LiteRT's BUILTIN_REF picks one of
 * three integer recipes (reduce.cc EvalMeanReferenceOps); the builder picks
 * the same one and passes it as `mode`:
 *   EMBER_MEAN_SPATIAL (keep_dims, 4-D, axes given as exactly {1,2}):
 *     reference_integer_ops::Mean: acc = sum(q - in_zp);
 *     acc = MBQM(acc, multiplier, shift); acc = round-half-away(acc / n);
 *     y = clamp(acc + out_zp)
 *   EMBER_MEAN_SAME_QUANT (input and output share scale and zero point):
 *     reference_ops::Mean: y = (int8)(sum(q) / n), C division (toward zero)
 *   EMBER_MEAN_GENERAL: reference_ops::QuantizedMeanOrSum:
 *     the multiplier absorbs 1/n (s = min(floor(log2 n), 32, 31 + shift);
 *     m' = (m << s) / n; shift' = shift - s), then
 *     y = clamp(MBQM(sum(q) - in_zp * n, m', shift') + out_zp)
 * multiplier/shift: QuantizeMultiplier(in_scale / out_scale).
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

enum { EMBER_MEAN_SPATIAL = 0, EMBER_MEAN_SAME_QUANT = 1, EMBER_MEAN_GENERAL = 2 };

#define EMBER_MEAN_PARAMS(X) \
    X(mode) X(axis_mask) X(input_zero_point) X(output_zero_point) X(multiplier) X(shift)
#define EMBER_MEAN_P(name) EMBER_MEAN_P_##name,
enum { EMBER_MEAN_PARAMS(EMBER_MEAN_P) EMBER_MEAN_NPARAMS };

typedef struct {
    int32_t mode;
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
