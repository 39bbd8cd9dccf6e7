#include "ember/requant.h"

#include <math.h>

int ember_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
    if (!(real >= 0.0) || isinf(real)) return 1;
    if (real == 0.0) {
        *multiplier = 0;
        *shift = 0;
        return 0;
    }
    int exp = 0;
    const double q = frexp(real, &exp);
    int64_t q_fixed = (int64_t)llround(q * (double)(INT64_C(1) << 31));
    if (q_fixed == (INT64_C(1) << 31)) {
        q_fixed /= 2;
        ++exp;
    }
    if (exp < -31) { /* TFLite flushes tiny multipliers to zero */
        exp = 0;
        q_fixed = 0;
    }
    if (exp > 30) return 1; /* TFLite caps the left shift at 30 */
    *multiplier = (int32_t)q_fixed;
    *shift = exp;
    return 0;
}
