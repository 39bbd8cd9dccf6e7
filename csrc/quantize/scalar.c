/* QUANTIZE float32 -> int8/uint8 and (u)int8 -> (u)int8 (see ember/ops/quantize.h). */
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

#define EMBER_QUANTIZE_F32(NAME, OUT_T, LO, HI)                                                  \
    ember_status NAME(const float *in, OUT_T *out, size_t n, float scale, int32_t zero_point) {   \
        if (n == 0) return EMBER_OK;                                                             \
        if (in == NULL || out == NULL) return EMBER_ERR_ARG;                                     \
        for (size_t i = 0; i < n; ++i) {                                                         \
            /* TFLite adds the zero point in int32 (wrapping in practice). */                    \
            const int32_t q = (int32_t)((uint32_t)ember_quantize_round_to_i32(in[i], scale) +    \
                                        (uint32_t)zero_point);                                   \
            out[i] = (OUT_T)ember_clamp_i32(q, LO, HI);                                          \
        }                                                                                        \
        return EMBER_OK;                                                                         \
    }

EMBER_QUANTIZE_F32(ember_quantize_f32_s8_scalar, int8_t, -128, 127)
EMBER_QUANTIZE_F32(ember_quantize_f32_u8_scalar, uint8_t, 0, 255)

#define EMBER_REQUANTIZE(NAME, IN_T, OUT_T, LO, HI)                                                 \
    ember_status NAME(const IN_T *in, OUT_T *out, size_t n, int32_t input_zero_point,               \
                      int32_t output_zero_point, int32_t multiplier, int32_t shift) {               \
        if (n == 0) return EMBER_OK;                                                                \
        if (in == NULL || out == NULL) return EMBER_ERR_ARG;                                        \
        for (size_t i = 0; i < n; ++i) {                                                            \
            const int32_t v = ember_mbqm((int32_t)in[i] - input_zero_point, multiplier, (int)shift) + \
                              output_zero_point;                                                    \
            out[i] = (OUT_T)ember_clamp_i32(v, LO, HI);                                             \
        }                                                                                           \
        return EMBER_OK;                                                                            \
    }

EMBER_REQUANTIZE(ember_requantize_s8_scalar, int8_t, int8_t, -128, 127)
EMBER_REQUANTIZE(ember_requantize_s8_u8_scalar, int8_t, uint8_t, 0, 255)
EMBER_REQUANTIZE(ember_requantize_u8_s8_scalar, uint8_t, int8_t, -128, 127)
EMBER_REQUANTIZE(ember_requantize_u8_scalar, uint8_t, uint8_t, 0, 255)
