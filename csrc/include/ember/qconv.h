/* Prepacked SIMD engines for the int8 conv family (TFLite semantics).
 *
 * qconv:  CONV_2D (any kernel/stride/dilation/padding) and FULLY_CONNECTED
 *         as a GEMM over output pixels: rows = batch*out_h*out_w, K =
 *         kernel_h*kernel_w*in_c, N = out_c. 1x1/stride-1 convs and FC read
 *         input rows directly; other shapes gather MR output pixels at a time
 *         (implicit im2col in a tiny per-thread buffer, padding = input zp).
 * qdw:    DEPTHWISE_CONV_2D, per output pixel over an indirection list of
 *         tap rows (padding taps read a zp row) or whole rows at a time (3x3);
 *         a depth multiplier > 1 expands the input channels in the scratch
 *         first.
 *
 * Use: plan (sizes; EMBER_ERR_UNSUPPORTED means "no SIMD variant for this ISA
 * or shape: run the scalar reference"), pack once at load (adapter init,
 * into op->persistent), run on every inference with caller-owned scratch.
 * Filters: conv OHWI [out_c][kh][kw][in_c]; FC [out_c][in_c] (use kernel 1x1,
 * in_h = in_w = 1, batch = rows); depthwise [1][kh][kw][out_c].
 * mult/shift are per output channel (expand per-tensor values); bias may be
 * NULL. Results are bit-identical to the scalar reference kernels. */
#ifndef EMBER_QCONV_H
#define EMBER_QCONV_H

#include <stddef.h>
#include <stdint.h>

#include "ember/cpu.h"
#include "ember/kernels.h"
#include "ember/status.h"
#include "ember/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t depth_multiplier; /* depthwise only (out_c = in_c * depth_multiplier) */
    int32_t input_zero_point; /* int8 value of real 0 in the input (= -input_offset) */
    ember_output_stage os;
} ember_conv_geom;

/* CONV_2D / FULLY_CONNECTED. */
ember_status ember_qconv_plan(const ember_conv_geom *g, ember_isa isa, int max_threads, size_t *packed_bytes,
                              size_t *scratch_bytes);
ember_status ember_qconv_pack(const ember_conv_geom *g, ember_isa isa, const int8_t *filter, const int32_t *bias,
                              const int32_t *mult, const int32_t *shift, void *packed, size_t packed_bytes);
ember_status ember_qconv_run(const void *packed, const int8_t *input, int8_t *output, void *scratch,
                             size_t scratch_bytes, ember_threadpool *pool);

/* DEPTHWISE_CONV_2D. */
ember_status ember_qdw_plan(const ember_conv_geom *g, ember_isa isa, int max_threads, size_t *packed_bytes,
                            size_t *scratch_bytes);
ember_status ember_qdw_pack(const ember_conv_geom *g, ember_isa isa, const int8_t *filter, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, void *packed, size_t packed_bytes);
ember_status ember_qdw_run(const void *packed, const int8_t *input, int8_t *output, void *scratch,
                           size_t scratch_bytes, ember_threadpool *pool);

/* ISA a packed blob was made for (scalar if the blob is invalid). */
ember_isa ember_qpacked_isa(const void *packed);
/* Kernel (ember_kernel_id) a packed blob runs, -1 if the blob is invalid. */
int ember_qpacked_kernel(const void *packed);

#ifdef __cplusplus
}
#endif
#endif
