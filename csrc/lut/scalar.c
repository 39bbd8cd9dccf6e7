/* int8 lookup tables built as LiteRT's LUTPopulate builds them (see ember/ops/lut.h).
 *
 * Every step is a single float operation so that no compiler may contract or
 * reorder them (no a*b+c patterns): the table must equal LiteRT's bit for bit. */
#include <math.h>

#include "ember/ops/lut.h"

float ember_lut_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

float ember_lut_tanh(float x) { return tanhf(x); }

void ember_lut_s8_populate(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp,
                           ember_lut_fn fn, int8_t lut[256]) {
    const float inverse_scale = 1.0f / out_scale;
    for (int32_t val = -128; val <= 127; ++val) {
        const float dequantized = in_scale * (float)(val - in_zp);
        const float transformed = fn(dequantized);
        const float rescaled = roundf(transformed * inverse_scale);
        const float shifted = rescaled + (float)out_zp;
        int32_t q;
        /* TFLite converts with static_cast<int32_t>; the values here are small
         * (|f| <= 1 for sigmoid and tanh), so the conversion is exact. */
        if (shifted != shifted) {
            q = -128;
        } else if (shifted >= 127.0f) {
            q = 127;
        } else if (shifted <= -128.0f) {
            q = -128;
        } else {
            q = (int32_t)shifted;
        }
        lut[(uint8_t)(int8_t)val] = (int8_t)q;
    }
}

ember_status ember_lut_s8_scalar(const int8_t *lut, const int8_t *in, int8_t *out, size_t n) {
    if (n == 0) return EMBER_OK;
    if (lut == NULL || in == NULL || out == NULL) return EMBER_ERR_ARG;
    for (size_t i = 0; i < n; ++i) out[i] = lut[(uint8_t)in[i]];
    return EMBER_OK;
}
