/* DEQUANTIZE int8/uint8 -> float32 (see ember/ops/dequantize.h). */
#include "ember/ops/dequantize.h"

#define EMBER_DEQUANTIZE(NAME, IN_T)                                                          \
    ember_status NAME(const IN_T *in, float *out, size_t n, float scale, int32_t zero_point) {  \
        if (n == 0) return EMBER_OK;                                                           \
        if (in == NULL || out == NULL) return EMBER_ERR_ARG;                                   \
        const double s = (double)scale;                                                        \
        for (size_t i = 0; i < n; ++i) {                                                       \
            out[i] = (float)(s * (double)((int32_t)in[i] - zero_point));                       \
        }                                                                                      \
        return EMBER_OK;                                                                       \
    }

EMBER_DEQUANTIZE(ember_dequantize_s8_f32_scalar, int8_t)
EMBER_DEQUANTIZE(ember_dequantize_u8_f32_scalar, uint8_t)
