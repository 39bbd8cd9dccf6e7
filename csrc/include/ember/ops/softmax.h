/* SOFTMAX, int8 -> int8, along the last dim: TFLite's reference
 * (reference_ops::Softmax, gemmlowp fixed point), which is what BUILTIN_REF
 * runs for int8. The optimized TFLite kernel uses a float LUT instead and can
 * differ by one; TFLM uses this same fixed-point path.
 *
 * Per row: d = x - max(row); rows with d < diff_min contribute 0. Other
 * entries are exp(d * input_scale * beta) computed in Q5.26 -> Q0.31 by
 * gemmlowp's exp_on_negative_values, summed in Q12.19, inverted with
 * one_over_one_plus_x_for_x_in_0_1, and output as -128 + round(p * 256).
 * The output quantization is fixed by TFLite: scale 1/256, zero point -128. */
#ifndef EMBER_OPS_SOFTMAX_H
#define EMBER_OPS_SOFTMAX_H

#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* From TFLite's PreprocessSoftmaxScaling(beta, input_scale, 5) and
 * CalculateInputRadius(5, input_left_shift). */
#define EMBER_SOFTMAX_PARAMS(X) X(input_multiplier) X(input_left_shift) X(diff_min)
#define EMBER_SOFTMAX_P(name) EMBER_SOFTMAX_P_##name,
enum { EMBER_SOFTMAX_PARAMS(EMBER_SOFTMAX_P) EMBER_SOFTMAX_NPARAMS };

typedef struct {
    int32_t input_multiplier;   /* Q31, >= 2^30 */
    int32_t input_left_shift;   /* [0, 30] */
    int32_t diff_min;           /* <= 0 */
} ember_softmax_params;

/* rows x depth, row-major; out may be in (each entry is read before it is written). */
ember_status ember_softmax_s8_scalar(const ember_softmax_params *p, int32_t rows, int32_t depth,
                                     const int8_t *in, int8_t *out);

/* gemmlowp building blocks, exposed for tests (raw int32 fixed point). */
int32_t ember_fp_exp_on_negative_values_q5(int32_t a_q5_26);       /* -> Q0.31 */
int32_t ember_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a_q0_31); /* -> Q0.31 */

#ifdef __cplusplus
}
#endif
#endif
