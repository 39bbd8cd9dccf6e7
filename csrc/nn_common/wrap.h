/* Two's-complement wrapping int32 addition for the accumulators of the
 * scalar reference kernels. TFLite accumulates in int32 and (in practice)
 * wraps on the overflow a hostile or extreme model can cause (e.g. a
 * FULLY_CONNECTED with depth > 65k of extreme values); doing the sum in
 * uint32 gives the same bits without C's undefined signed overflow.
 * Internal header: include as "nn_common/wrap.h". */
#ifndef EMBER_NN_COMMON_WRAP_H
#define EMBER_NN_COMMON_WRAP_H

#include <stdint.h>

static inline int32_t ember_add_wrap(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

#endif
