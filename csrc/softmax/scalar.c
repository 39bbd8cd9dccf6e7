/* SOFTMAX int8 reference: TFLite reference_ops::Softmax with gemmlowp's
 * fixed-point exp and reciprocal, bit for bit (see ember/ops/softmax.h).
 *
 * gemmlowp FixedPoint<int32, I> values are handled as raw int32: + and -
 * wrap, * of an I1 and an I2 value is SaturatingRoundingDoublingHighMul and
 * gives I1+I2 integer bits, Rescale<J> of an I value multiplies the raw value
 * by 2^(I-J) with rounding (right shifts) or saturation (left shifts). */
#include <stddef.h>

#include "ember/ops/softmax.h"
#include "ember/requant.h"

static int32_t fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>. */
static int32_t fp_mul_pot(int32_t x, int exponent) {
    if (exponent == 0) return x;
    if (exponent < 0) return ember_rdbpot(x, -exponent);
    const int32_t threshold = (int32_t)((INT64_C(1) << (31 - exponent)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = fp_add(a, INT32_C(1) << 28); /* a + 1/8 */
    const int32_t x2 = ember_srdhm(x, x);
    const int32_t x3 = ember_srdhm(x2, x);
    const int32_t x4 = ember_srdhm(x2, x2);
    const int32_t x4_over_4 = fp_mul_pot(x4, -2);
    const int32_t poly = fp_mul_pot(
        fp_add(ember_srdhm(fp_add(x4_over_4, x3), constant_1_over_3), x2), -1);
    return fp_add(constant_term, ember_srdhm(constant_term, fp_add(x, poly)));
}

int32_t ember_fp_exp_on_negative_values_q5(int32_t a) {
    enum { kIntegerBits = 5, kFractionalBits = 26 };
    const int32_t one_quarter = INT32_C(1) << (kFractionalBits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = fp_sub(a & mask, one_quarter);
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        fp_mul_pot(a_mod_quarter_minus_one_quarter, kIntegerBits)); /* Rescale<0> */
    const int32_t remainder = fp_sub(a_mod_quarter_minus_one_quarter, a);
    /* Barrel shifter: exp(-2^k) for k = -2 .. 4 (all below kIntegerBits). */
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535, 720401, 242};
    for (int k = -2; k <= 4; ++k) {
        if (remainder & (INT32_C(1) << (kFractionalBits + k))) {
            result = ember_srdhm(result, multipliers[k + 2]);
        }
    }
    /* kIntegerBits == 5: no clamp below -32 is needed. */
    if (a == 0) result = INT32_MAX; /* ResultF::One() */
    return result;
}

int32_t ember_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    /* half_denominator = RoundingHalfSum(a, One) in Q0.31 */
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t constant_48_over_17 = 1515870810;    /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = INT32_C(1) << 29;
    int32_t x = fp_add(constant_48_over_17, ember_srdhm(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = ember_srdhm(half_denominator, x);     /* Q2 */
        const int32_t one_minus = fp_sub(one_q2, half_denominator_times_x);           /* Q2 */
        x = fp_add(x, fp_mul_pot(ember_srdhm(x, one_minus), 2)); /* Q4 -> Rescale<2> */
    }
    /* Rescale<0>(ExactMulByPot<-1>(x)): Q1 -> Q0 */
    return fp_mul_pot(x, 1);
}

ember_status ember_softmax_s8_scalar(const ember_softmax_params *p, int32_t rows, int32_t depth,
                                     const int8_t *in, int8_t *out) {
    if (p == NULL || rows < 0 || depth < 0 || ((in == NULL || out == NULL) && rows * depth > 0)) {
        return EMBER_ERR_ARG;
    }
    const int32_t mult = p->input_multiplier;
    const int left_shift = (int)p->input_left_shift;
    const int32_t diff_min = p->diff_min;
    enum { kAccumulationIntegerBits = 12 };
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *x = in + (size_t)r * (size_t)depth;
        int8_t *y = out + (size_t)r * (size_t)depth;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < depth; ++c) {
            if (x[c] > max_in_row) max_in_row = x[c];
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= diff_min) {
                const int32_t scaled = ember_mbqm_greater_than_one(diff, mult, left_shift);
                const int32_t e = ember_fp_exp_on_negative_values_q5(scaled);
                sum_of_exps = fp_add(sum_of_exps, fp_mul_pot(e, -kAccumulationIntegerBits));
            }
        }
        /* GetReciprocal(sum_of_exps, 12, &num_bits_over_unit) */
        int headroom_plus_one = 0;
        {
            uint32_t v = (uint32_t)sum_of_exps;
            if (v == 0) {
                headroom_plus_one = 32;
            } else {
                while (!(v & UINT32_C(0x80000000))) {
                    v <<= 1;
                    ++headroom_plus_one;
                }
            }
        }
        const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << (headroom_plus_one & 31)) - UINT32_C(0x80000000));
        const int32_t shifted_scale =
            ember_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= diff_min) {
                const int32_t scaled = ember_mbqm_greater_than_one(diff, mult, left_shift);
                const int32_t e = ember_fp_exp_on_negative_values_q5(scaled);
                const int32_t prod = ember_srdhm(shifted_scale, e);
                /* TFLite checks 0 <= exponent <= 31 (it aborts otherwise: only when a
                 * row sums to >= 2^28 in Q12.19, i.e. > ~512 entries at the max);
                 * a wider shift of a Q0.31 value rounds to 0, which we return. */
                const int32_t unsat = exponent <= 31 ? ember_rdbpot(prod, exponent) : 0;
                y[c] = (int8_t)ember_clamp_i32(unsat - 128, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
    return EMBER_OK;
}
