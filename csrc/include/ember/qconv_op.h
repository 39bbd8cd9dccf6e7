/* Glue between the conv-family op adapters (csrc/conv_2d, depthwise_conv_2d,
 * fully_connected op.c) and the prepacked SIMD engines (ember/qconv.h).
 *
 * prepare: if the active ISA (ember_isa_active()) has an engine for this
 *          geometry, asks for persistent bytes (the packed weights) and
 *          raises *scratch_bytes to what the engine needs for up to
 *          ember_simd_max_threads() threads; otherwise leaves both as they
 *          are and the adapter keeps its scalar kernel.
 * init:    packs the weights into op->persistent (once, at load).
 * run:     runs the engine on ctx->pool; only when op->persistent_bytes > 0.
 * The blob records its ISA, so a model keeps the path it was loaded with. */
#ifndef EMBER_QCONV_OP_H
#define EMBER_QCONV_OP_H

#include "ember/op.h"
#include "ember/qconv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { EMBER_QOP_CONV = 0, EMBER_QOP_DEPTHWISE = 1 } ember_qop_kind;

/* Threads the engines size scratch for: online CPUs in [4, 16]. A plan with
 * more threads runs these ops single-threaded. */
int ember_simd_max_threads(void);

ember_status ember_qconv_op_prepare(const ember_conv_geom *g, ember_qop_kind kind, size_t *scratch_bytes,
                                    size_t *persistent_bytes);
ember_status ember_qconv_op_init(ember_op *op, const ember_conv_geom *g, ember_qop_kind kind, const int8_t *filter,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift);
ember_status ember_qconv_op_run(const ember_op *op, ember_qop_kind kind, const int8_t *input, int8_t *output,
                                const ember_run_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
