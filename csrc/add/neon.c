/* ADD micro-kernel, 16 elements per step (NEON, aarch64 and armv7):
 * TFLite's int8 ADD on 4 int32 lanes, bit for bit (ember/ops/add.h):
 * vshlq_s32 for the left shift, vqrdmulhq_s32 (exactly
 * SaturatingRoundingDoublingHighMul) and the gemmlowp rounding right shift
 * of cpu/requant_neon.h; saturating narrows, then the int8 clamp (the clamp
 * bounds are int8, so this equals clamping first). Tails through a buffer. */
#include <arm_neon.h>
#include <string.h>

#include "cpu/requant_neon.h"
#include "ember/kernels.h"

typedef struct {
    int32x4_t off1, off2, m1, m2, mo, zp, lsh, ns1, ns2, nso; /* ns*: minus the right shifts */
    int8x16_t lo, hi;
} ember_add_k_neon;

static void ember_add_consts_neon(const ember_add_params *p, ember_add_k_neon *k) {
    k->off1 = vdupq_n_s32(p->input1_offset);
    k->off2 = vdupq_n_s32(p->input2_offset);
    k->m1 = vdupq_n_s32(p->input1_multiplier);
    k->m2 = vdupq_n_s32(p->input2_multiplier);
    k->mo = vdupq_n_s32(p->output_multiplier);
    k->zp = vdupq_n_s32(p->output_offset);
    k->lsh = vdupq_n_s32(p->left_shift);
    k->ns1 = vdupq_n_s32(p->input1_shift);
    k->ns2 = vdupq_n_s32(p->input2_shift);
    k->nso = vdupq_n_s32(p->output_shift);
    k->lo = vdupq_n_s8((int8_t)p->act_min);
    k->hi = vdupq_n_s8((int8_t)p->act_max);
}

/* Rescaled terms of 4 inputs already widened to int32. */
static inline int32x4_t ember_add_term_neon(int32x4_t v, int32x4_t off, int32x4_t lsh, int32x4_t m, int32x4_t nshift) {
    return ember_rdbpot_neon(vqrdmulhq_s32(vshlq_s32(vaddq_s32(v, off), lsh), m), nshift);
}

static inline int32x4_t ember_add_out_neon(int32x4_t sum, const ember_add_k_neon *k) {
    return vaddq_s32(ember_rdbpot_neon(vqrdmulhq_s32(sum, k->mo), k->nso), k->zp);
}

/* int8x16 -> 4 x int32x4 in order. */
static inline void ember_widen16_neon(int8x16_t v, int32x4_t w[4]) {
    const int16x8_t l = vmovl_s8(vget_low_s8(v)), h = vmovl_s8(vget_high_s8(v));
    w[0] = vmovl_s16(vget_low_s16(l));
    w[1] = vmovl_s16(vget_high_s16(l));
    w[2] = vmovl_s16(vget_low_s16(h));
    w[3] = vmovl_s16(vget_high_s16(h));
}

static inline int8x16_t ember_add_pack_neon(const int32x4_t r[4], const ember_add_k_neon *k) {
    const int16x8_t l = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
    const int16x8_t h = vcombine_s16(vqmovn_s32(r[2]), vqmovn_s32(r[3]));
    const int8x16_t v = vcombine_s8(vqmovn_s16(l), vqmovn_s16(h));
    return vminq_s8(vmaxq_s8(v, k->lo), k->hi);
}

/* 16 elements; has_b 0: b is the constant term bt (vb unused). */
static inline int8x16_t ember_add16_neon(int8x16_t va, int has_b, int8x16_t vb, int32x4_t bt,
                                         const ember_add_k_neon *k) {
    int32x4_t a4[4], b4[4], r[4];
    ember_widen16_neon(va, a4);
    if (has_b) ember_widen16_neon(vb, b4);
    for (int i = 0; i < 4; ++i) {
        const int32x4_t ta = ember_add_term_neon(a4[i], k->off1, k->lsh, k->m1, k->ns1);
        const int32x4_t tb = has_b ? ember_add_term_neon(b4[i], k->off2, k->lsh, k->m2, k->ns2) : bt;
        r[i] = ember_add_out_neon(vaddq_s32(ta, tb), k);
    }
    return ember_add_pack_neon(r, k);
}

static inline void ember_vadd_row_neon(size_t n, const int8_t *a, const int8_t *b, int8_t *out,
                                       const ember_add_k_neon *k) {
    const int32x4_t none = vdupq_n_s32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) vst1q_s8(out + i, ember_add16_neon(vld1q_s8(a + i), 1, vld1q_s8(b + i), none, k));
    if (i < n) {
        int8_t ta[16] = {0}, tb[16] = {0}, ty[16];
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        vst1q_s8(ty, ember_add16_neon(vld1q_s8(ta), 1, vld1q_s8(tb), none, k));
        memcpy(out + i, ty, n - i);
    }
}

static inline void ember_vadd_const_row_neon(size_t n, const int8_t *a, int32x4_t bt, int8_t *out,
                                             const ember_add_k_neon *k) {
    const int8x16_t none = vdupq_n_s8(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) vst1q_s8(out + i, ember_add16_neon(vld1q_s8(a + i), 0, none, bt, k));
    if (i < n) {
        int8_t ta[16] = {0}, ty[16];
        memcpy(ta, a + i, n - i);
        vst1q_s8(ty, ember_add16_neon(vld1q_s8(ta), 0, none, bt, k));
        memcpy(out + i, ty, n - i);
    }
}

static void ember_vadd_neon(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                            size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_neon k;
    ember_add_consts_neon(p, &k);
    for (size_t r = 0; r < rows; ++r) ember_vadd_row_neon(n, a + r * a_stride, b + r * b_stride, out + r * n, &k);
}

/* b's rescaled term of each row: the lanes' own term function on a broadcast value. */
static void ember_vadd_const_neon(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b,
                                  size_t b_stride, int8_t *out, const ember_add_params *p) {
    ember_add_k_neon k;
    ember_add_consts_neon(p, &k);
    for (size_t r = 0; r < rows; ++r) {
        const int32x4_t bt = ember_add_term_neon(vdupq_n_s32(b[r * b_stride]), k.off2, k.lsh, k.m2, k.ns2);
        ember_vadd_const_row_neon(n, a + r * a_stride, bt, out + r * n, &k);
    }
}

const ember_add_ukernel ember_vadd_16x__neon = {ember_vadd_neon, ember_vadd_const_neon};
