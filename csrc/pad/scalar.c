/* PAD / PADV2 int8 scalar reference (see ember/ops/pad.h). */
#include "ember/ops/pad.h"

#include <string.h>

size_t ember_pad_s8_scratch_size(const ember_pad_params *p, const int32_t in_dims[EMBER_PAD_MAX_DIMS]) {
    (void)p; (void)in_dims;
    return 0;
}

ember_status ember_pad_s8_scalar(const ember_pad_params *p,
                                 const int32_t in_dims[EMBER_PAD_MAX_DIMS], const int8_t *input,
                                 int8_t *output, void *scratch) {
    (void)scratch;
    if (!p || !in_dims || !output) return EMBER_ERR_ARG;
    if (p->pad_value < -128 || p->pad_value > 127) return EMBER_ERR_ARG;
    int32_t od[EMBER_PAD_MAX_DIMS];
    int64_t in_count = 1;
    for (int i = 0; i < EMBER_PAD_MAX_DIMS; ++i) {
        if (in_dims[i] < 0 || p->before[i] < 0 || p->after[i] < 0) return EMBER_ERR_ARG;
        od[i] = in_dims[i] + p->before[i] + p->after[i];
        in_count *= in_dims[i];
    }
    if (in_count > 0 && !input) return EMBER_ERR_ARG;

    /* Walk the output in order; copy the innermost contiguous run of input
     * when inside, else fill with pad_value. */
    const int8_t fill = (int8_t)p->pad_value;
    const int32_t inner_out = od[4];
    int8_t *dst = output;
    const int8_t *src = input;
    for (int32_t i0 = 0; i0 < od[0]; ++i0) {
        const int in0 = i0 >= p->before[0] && i0 < p->before[0] + in_dims[0];
        for (int32_t i1 = 0; i1 < od[1]; ++i1) {
            const int in1 = in0 && i1 >= p->before[1] && i1 < p->before[1] + in_dims[1];
            for (int32_t i2 = 0; i2 < od[2]; ++i2) {
                const int in2 = in1 && i2 >= p->before[2] && i2 < p->before[2] + in_dims[2];
                for (int32_t i3 = 0; i3 < od[3]; ++i3) {
                    const int in3 = in2 && i3 >= p->before[3] && i3 < p->before[3] + in_dims[3];
                    if (in3 && in_dims[4] > 0) {
                        memset(dst, fill, (size_t)p->before[4]);
                        memcpy(dst + p->before[4], src, (size_t)in_dims[4]);
                        memset(dst + p->before[4] + in_dims[4], fill, (size_t)p->after[4]);
                        src += in_dims[4];
                    } else {
                        memset(dst, fill, (size_t)inner_out);
                    }
                    dst += inner_out;
                }
            }
        }
    }
    return EMBER_OK;
}
