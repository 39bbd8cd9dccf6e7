/* See ember/qconv_op.h. */
#include <unistd.h>

#include "ember/qconv_op.h"

int ember_simd_max_threads(void) {
    static int cached = 0;
    if (!cached) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        /* at least 4 so that a few threads work on small machines too */
        cached = n < 4 ? 4 : (n > 16 ? 16 : (int)n);
    }
    return cached;
}

ember_status ember_qconv_op_prepare(const ember_conv_geom *g, ember_qop_kind kind, size_t *scratch_bytes,
                                    size_t *persistent_bytes) {
    size_t pb = 0, sb = 0;
    const ember_isa isa = ember_isa_active();
    const ember_status st = kind == EMBER_QOP_DEPTHWISE
                                ? ember_qdw_plan(g, isa, ember_simd_max_threads(), &pb, &sb)
                                : ember_qconv_plan(g, isa, ember_simd_max_threads(), &pb, &sb);
    if (st != EMBER_OK) return EMBER_OK; /* no SIMD path: the scalar kernel runs */
    *persistent_bytes = pb;
    if (sb > *scratch_bytes) *scratch_bytes = sb;
    return EMBER_OK;
}

ember_status ember_qconv_op_init(ember_op *op, const ember_conv_geom *g, ember_qop_kind kind, const int8_t *filter,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift) {
    const ember_isa isa = ember_isa_active();
    const ember_status st =
        kind == EMBER_QOP_DEPTHWISE
            ? ember_qdw_pack(g, isa, filter, bias, mult, shift, op->persistent, op->persistent_bytes)
            : ember_qconv_pack(g, isa, filter, bias, mult, shift, op->persistent, op->persistent_bytes);
    if (st != EMBER_OK)
        ember_set_error("packing weights for %s failed (%s; ISA changed between prepare and init?)",
                        ember_isa_name(isa), ember_status_str(st));
    return st;
}

ember_status ember_qconv_op_run(const ember_op *op, ember_qop_kind kind, const int8_t *input, int8_t *output,
                                const ember_run_ctx *ctx) {
    void *scratch = ctx ? ctx->scratch : NULL;
    const size_t sb = ctx ? ctx->scratch_bytes : 0;
    ember_threadpool *pool = ctx ? ctx->pool : NULL;
    const ember_status st = kind == EMBER_QOP_DEPTHWISE ? ember_qdw_run(op->persistent, input, output, scratch, sb, pool)
                                                        : ember_qconv_run(op->persistent, input, output, scratch, sb, pool);
    if (st != EMBER_OK) ember_set_error("SIMD %s kernel failed (%s)", kind == EMBER_QOP_DEPTHWISE ? "dw" : "conv",
                                        ember_status_str(st));
    return st;
}
