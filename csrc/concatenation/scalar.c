/* CONCATENATION: interleaved block copies (see ember/ops/concatenation.h). */
#include <string.h>

#include "ember/ops/concatenation.h"

ember_status ember_concatenation_s8_scalar(int32_t n_inputs, const int8_t *const *inputs,
                                           const size_t *inner_bytes, size_t outer,
                                           int8_t *out) {
    if (n_inputs < 0 || (n_inputs > 0 && (inputs == NULL || inner_bytes == NULL))) return EMBER_ERR_ARG;
    int8_t *y = out;
    for (size_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < n_inputs; ++i) {
            const size_t n = inner_bytes[i];
            if (n == 0) continue;
            if (inputs[i] == NULL || y == NULL) return EMBER_ERR_ARG;
            memcpy(y, inputs[i] + o * n, n);
            y += n;
        }
    }
    return EMBER_OK;
}
