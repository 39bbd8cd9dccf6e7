/* QUANTIZE float32 -> int8 and int8 -> int8 (see ember/ops/quantize.h). */
#include <math.h>

#include "ember/ops/quantize.h"
#include "ember/requant.h"

int32_t ember_quantize_round_to_i32(float x, float scale) {
    const float r = roundf(x / scale);
    if (r >= -2147483648.0f && r < 2147483648.0f) return (int32_t)r;
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
    return INT32_MIN; /* cvttss2si: the "integer indefinite" value, NaN included */
#else
    if (r != r) return 0;                  /* ARM fcvtzs: NaN -> 0, saturation */
    return r > 0.0f ? INT32_MAX : INT32_MIN;
#endif
}

ember_status ember_quantize_f32_s8_scalar(const float *in, int8_t *out, size_t n,
                                          float scale, int32_t zero_point) {
    if (n == 0) return EMBER_OK;
    if (in == NULL || out == NULL) return EMBER_ERR_ARG;
    for (size_t i = 0; i < n; ++i) {
        /* TFLite adds the zero point in int32 (wrapping in practice). */
        const int32_t q = (int32_t)((uint32_t)ember_quantize_round_to_i32(in[i], scale) +
                                    (uint32_t)zero_point);
        out[i] = (int8_t)ember_clamp_i32(q, -128, 127);
    }
    return EMBER_OK;
}

ember_status ember_requantize_s8_scalar(const int8_t *in, int8_t *out, size_t n,
                                        int32_t input_zero_point, int32_t output_zero_point,
                                        int32_t multiplier, int32_t shift) {
    if (n == 0) return EMBER_OK;
    if (in == NULL || out == NULL) return EMBER_ERR_ARG;
    for (size_t i = 0; i < n; ++i) {
        const int32_t v = ember_mbqm((int32_t)in[i] - input_zero_point, multiplier, (int)shift) +
                          output_zero_point;
        out[i] = (int8_t)ember_clamp_i32(v, -128, 127);
    }
    return EMBER_OK;
}
