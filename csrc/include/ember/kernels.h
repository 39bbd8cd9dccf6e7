/* SIMD micro-kernels and the dispatch table (one kernel list drives all).
 *
 * csrc/cpu/kernel_list.def lists every (kernel, ISA, descriptor) variant
 * once; it fills the dispatch table (csrc/cpu/dispatch.c), the C tests sweep
 * it (tests/c/test_simd_*.c compare each compiled variant to the scalar
 * reference with tolerance 0) and `ember bench --isa` names come from it.
 *
 * Kernels (scalar = the op's reference kernel in csrc/<op>/scalar.c):
 *   qgemm  - int8 GEMM on prepacked weights with per-channel requantization.
 *            Used by CONV_2D (1x1 directly, any other shape through an
 *            implicit im2col of MR output pixels at a time) and
 *            FULLY_CONNECTED. Packed weights: per block of NR output
 *            channels, NR int32 each of folded bias, multiplier, left shift
 *            and right shift, then the weights as [K/KR][NR][KR] elements of
 *            w_bytes (int16 pre-widened on x86/NEON, int8 for SDOT).
 *   dwconv - depthwise conv (depth multiplier 1) on prepacked weights.
 *   qgemm_narrow - optional qgemm variant for few output channels (e.g. an
 *            8-channel stem conv would leave half of a 16-wide tile idle).
 *   add    - int8 ADD over rows of contiguous runs (ember_add_ukernel);
 *            broadcasts are cut into rows by ember_add_s8_ukernel
 *            (csrc/add/ukernel.c).
 *   avgpool, maxpool - a run of output pixels with same-shaped pooling
 *            windows, all channels (ember_pool_ukernel), driven by the
 *            pools' window walk (nn_common/pool_walk.h).
 *
 * Zero points are folded into the bias at pack time:
 *   bias'[n] = bias[n] - input_zp * sum_k w[n][k]
 * and padding reads input_zp, so every tap is a plain product x*w. */
#ifndef EMBER_KERNELS_H
#define EMBER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ember/cpu.h"
#include "ember/ops/add.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output stage shared by the kernels. */
typedef struct {
    int32_t output_zero_point;
    int32_t act_min, act_max; /* clamp after adding the output zero point */
} ember_output_stage;

/* Per channel block header in the packed weights: EMBER_QHDR_WORDS arrays of
 * NR int32 (one per lane): folded bias, multiplier, left shift, right shift,
 * right-shift mask (2^r - 1) and half mask (mask >> 1), the last two so that
 * x86 kernels round without per-lane shift arithmetic. Weights follow. */
enum { EMBER_QHDR_BIAS = 0, EMBER_QHDR_MULT, EMBER_QHDR_LSHIFT, EMBER_QHDR_RSHIFT, EMBER_QHDR_RMASK,
       EMBER_QHDR_RHALF, EMBER_QHDR_WORDS };

/* Fills lane `lane` of a block header of `nr` lanes. */
static inline void ember_qhdr_set(int32_t *hdr, int nr, int lane, int32_t bias, int32_t mult, int32_t shift) {
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t mask = (int32_t)((UINT32_C(1) << right) - 1u);
    hdr[EMBER_QHDR_BIAS * nr + lane] = bias;
    hdr[EMBER_QHDR_MULT * nr + lane] = mult;
    hdr[EMBER_QHDR_LSHIFT * nr + lane] = shift > 0 ? shift : 0;
    hdr[EMBER_QHDR_RSHIFT * nr + lane] = right;
    hdr[EMBER_QHDR_RMASK * nr + lane] = mask;
    hdr[EMBER_QHDR_RHALF * nr + lane] = mask >> 1;
}

typedef struct {
    int mr, nr, kr;     /* rows per call, channels per block, k per packed group */
    int k_align;        /* K is padded to a multiple of this (multiple of kr) */
    int a_bytes;        /* bytes per A element: 2 (int16) or 1 (int8) */
    int w_bytes;        /* bytes per packed weight: 2 or 1 */
    /* Converts n int8 inputs into A elements. */
    void (*load_a)(const int8_t *src, void *dst, size_t n);
    /* Writes n A elements of value v. */
    void (*fill_a)(void *dst, int8_t v, size_t n);
    /* Computes rows [0, mr_valid) x channels [0, nr_valid) of one channel
     * block: a = mr rows of kp A elements (row i at a + i*a_stride bytes),
     * w = the packed block (header + weights), out row i at out + i*out_stride. */
    void (*run)(int mr_valid, int nr_valid, size_t kp, const void *a, size_t a_stride, const void *w, int8_t *out,
                size_t out_stride, const ember_output_stage *os);
} ember_qgemm_ukernel;

typedef struct {
    int cr;             /* channels per block */
    int tr;             /* taps per packed group; taps padded to a multiple */
    /* Lane l of a block (header entries and weights) holds channel
     * lane_channel[l] of the block (kernels may permute to avoid shuffles). */
    const uint8_t *lane_channel;
    /* `pixels` output pixels, all channels: taps[p * ntaps_padded + t] points
     * at the input pixel row (`channels` int8 values) of tap t of pixel p;
     * pixel p's output goes to out + p * channels; w: the packed
     * blocks, ember_dw_block_bytes() apart (header: EMBER_QHDR_WORDS x cr int32,
     * then weights [ntaps_padded/tr][cr lanes][tr] int16). */
    void (*run)(size_t pixels, size_t channels, size_t ntaps_padded, const int8_t *const *taps, const void *w,
                int8_t *out, const ember_output_stage *os);
    /* Optional (NULL: not provided): the same for pixels whose taps are all
     * inside the image, tap t of pixel p at base + p * pixel_step +
     * tap_off[t] (no pointer list to build; for 8-channel layers building it
     * cost as much as the arithmetic). */
    void (*run_offsets)(size_t pixels, size_t channels, size_t ntaps_padded, const int8_t *base, size_t pixel_step,
                        const ptrdiff_t *tap_off, const void *w, int8_t *out, const ember_output_stage *os);
    /* Order of the taps in the packed groups (and in taps/tap_off above):
     * EMBER_DW_TAPS_NATURAL (row-major) or EMBER_DW_TAPS_ROW_PAIRS (see
     * ember_dw_tap_slot). */
    int tap_order;
    /* Optional: nrows whole output rows of a 3x3 kernel with dilation_w 1:
     * rows[3 * i + ky] = input row of tap row ky of output row i (NULL: a
     * padding row); output pixel x reads input columns x * stride_w -
     * pad_left + kx (columns outside [0, in_w) read input_zero_point);
     * output row i at out + i * out_w * channels. Returns 0 (nothing written)
     * for a shape it does not take (channels, stride_w); the caller then
     * uses run. */
    int (*run_row3x3)(size_t nrows, size_t out_w, size_t channels, const int8_t *const *rows, int32_t in_w,
                      int32_t pad_left, int32_t stride_w, int32_t input_zero_point, const void *w, int8_t *out,
                      const ember_output_stage *os);
} ember_dwconv_ukernel;

enum { EMBER_DW_TAPS_NATURAL = 0, EMBER_DW_TAPS_ROW_PAIRS = 1 };

/* Packed slot of tap (ky, kx) of a kh x kw kernel. ROW_PAIRS: rows 2i and
 * 2i+1 interleaved column by column ((2i,0),(2i+1,0),(2i,1),...), then the
 * last row of an odd kh in natural order; with taps in pairs (tr = 2) a
 * 3x3 kernel pairs each column's rows 0/1 vertically, so one interleaved
 * input column serves three output pixels of a stride-1 row. */
static inline int ember_dw_tap_slot(int order, int kh, int kw, int ky, int kx) {
    if (order != EMBER_DW_TAPS_ROW_PAIRS || ky >= kh - (kh & 1)) return ky * kw + kx;
    return (ky / 2) * 2 * kw + kx * 2 + (ky & 1);
}

static inline size_t ember_dw_block_bytes(int cr, size_t ntaps_padded) {
    return (4 * EMBER_QHDR_WORDS * (size_t)cr + ntaps_padded * (size_t)cr * 2 + 63) / 64 * 64;
}

/* int8 ADD (ember/ops/add.h semantics, bit for bit) on `rows` contiguous
 * output rows of n elements, row r at out + r * n:
 *   run:         out[r][i] = ADD(a[r * a_stride + i], b[r * b_stride + i])
 *   run_b_const: out[r][i] = ADD(a[r * a_stride + i], b[r * b_stride])
 *                (one b per row, broadcast along it).
 * out may alias a (or b, for run) when their rows are the output's rows. */
typedef struct ember_add_ukernel {
    void (*run)(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b, size_t b_stride,
                int8_t *out, const ember_add_params *p);
    void (*run_b_const)(size_t rows, size_t n, const int8_t *a, size_t a_stride, const int8_t *b, size_t b_stride,
                        int8_t *out, const ember_add_params *p);
} ember_add_ukernel;

/* Pooling (ember/ops/pool_2d.h semantics): `pixels` output pixels whose
 * windows, clipped to the image, have the same shape: kh rows of kw input
 * pixels, pixel p's window at x + p * pixel_step, its tap (i, j) at
 * + i * row_stride + j * channels; output pixel p (all channels) at
 * out + p * channels; out = clamp(max or rounded average, act_min, act_max).
 * Averages need kh * kw <= EMBER_POOL_UKERNEL_MAX_TAPS (sums below 2^31)
 * and the division by kh * kw in the stage (nn_common/pool_div.h). */
#define EMBER_POOL_UKERNEL_MAX_TAPS (1 << 23)
typedef struct {
    int32_t act_min, act_max;
    uint32_t div_magic; /* average only: floor(u / (kh*kw)) == (u * div_magic) >> div_shift */
    int32_t div_shift, div_half; /* div_half = (kh*kw) / 2 */
} ember_pool_stage;
typedef struct ember_pool_ukernel {
    void (*run)(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw, size_t row_stride,
                size_t channels, int8_t *out, const ember_pool_stage *st);
} ember_pool_ukernel;

typedef enum {
    EMBER_KERNEL_QGEMM = 0,
    EMBER_KERNEL_DWCONV = 1,
    EMBER_KERNEL_QGEMM_NARROW = 2, /* qgemm for out_c <= nr of this variant (no idle lanes) */
    EMBER_KERNEL_ADD = 3,
    EMBER_KERNEL_AVGPOOL = 4,
    EMBER_KERNEL_MAXPOOL = 5,
    EMBER_KERNEL_COUNT = 6
} ember_kernel_id;

/* Name of a kernel ("qgemm", "dwconv", "add", "avgpool", "maxpool"). */
const char *ember_kernel_name(int kernel);
/* The descriptor of (kernel, isa) or NULL when not compiled into this binary
 * (scalar variants are NULL: scalar means the op's reference kernel).
 * Cast to ember_qgemm_ukernel / ember_dwconv_ukernel. */
const void *ember_kernel_variant(ember_kernel_id kernel, ember_isa isa);
/* The variant to use for `isa`: the best compiled variant whose ISA is
 * isa or a subset of it (avx2 -> sse41; neondot -> neon), NULL for scalar.
 * *used receives the ISA of the returned variant (scalar for NULL). */
const void *ember_kernel_select(ember_kernel_id kernel, ember_isa isa, ember_isa *used);

#ifdef __cplusplus
}
#endif
#endif
