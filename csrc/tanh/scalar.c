/* TANH int8: a LiteRT-identical table (see ember/ops/lut.h). */
#include "ember/ops/tanh.h"

void ember_tanh_s8_lut(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp, int8_t lut[256]) {
    ember_lut_s8_populate(in_scale, in_zp, out_scale, out_zp, ember_lut_tanh, lut);
}

ember_status ember_tanh_s8_scalar(const int8_t *lut, const int8_t *in, int8_t *out, size_t n) {
    return ember_lut_s8_scalar(lut, in, out, n);
}
