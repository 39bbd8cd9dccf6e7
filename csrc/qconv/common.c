/* Checks shared by the qconv and qdw engines. */
#include "qconv/packed.h"

ember_status ember_qgeom_check(const ember_conv_geom *g) {
    if (!g) return EMBER_ERR_ARG;
    if (g->batch < 1 || g->in_h < 1 || g->in_w < 1 || g->in_c < 1 || g->out_h < 1 || g->out_w < 1 ||
        g->out_c < 1 || g->kernel_h < 1 || g->kernel_w < 1 || g->stride_h < 1 || g->stride_w < 1 ||
        g->dilation_h < 1 || g->dilation_w < 1 || g->pad_top < 0 || g->pad_left < 0)
        return EMBER_ERR_ARG;
    if (g->input_zero_point < -128 || g->input_zero_point > 127) return EMBER_ERR_ARG;
    if (g->os.act_min > g->os.act_max || g->os.act_min < -128 || g->os.act_max > 127) return EMBER_ERR_ARG;
    return EMBER_OK;
}

ember_status ember_qrequant_check(const int32_t *mult, const int32_t *shift, int32_t n) {
    if (!mult || !shift) return EMBER_ERR_ARG;
    for (int32_t i = 0; i < n; ++i)
        if (shift[i] < -31 || shift[i] > 30) return EMBER_ERR_ARG;
    return EMBER_OK;
}

const ember_qpack_header *ember_qpack_header_of(const void *packed, int kernel) {
    const ember_qpack_header *h = (const ember_qpack_header *)packed;
    if (!h || h->magic != EMBER_QPACK_MAGIC || h->kernel != kernel) return NULL;
    return h;
}

ember_status ember_qpack_run_setup(const ember_qpack_header *h, const void *scratch, size_t scratch_bytes,
                                   const void **ukernel, ember_threadpool **pool, int *threads) {
    *ukernel = ember_kernel_variant((ember_kernel_id)h->kernel, (ember_isa)h->isa);
    if (!*ukernel || !ember_isa_available((ember_isa)h->isa)) return EMBER_ERR_UNSUPPORTED;
    const int64_t per = h->scratch_per_thread;
    if (!scratch || scratch_bytes < (size_t)per) return EMBER_ERR_NO_MEMORY;
    *threads = ember_threadpool_size(*pool);
    if ((int64_t)scratch_bytes / per < *threads) {
        *threads = 1;
        *pool = NULL;
    }
    return EMBER_OK;
}

ember_isa ember_qpacked_isa(const void *packed) {
    const ember_qpack_header *h = (const ember_qpack_header *)packed;
    if (!h || h->magic != EMBER_QPACK_MAGIC) return EMBER_ISA_SCALAR;
    return (ember_isa)h->isa;
}

int ember_qpacked_kernel(const void *packed) {
    const ember_qpack_header *h = (const ember_qpack_header *)packed;
    return (h && h->magic == EMBER_QPACK_MAGIC) ? h->kernel : -1;
}
