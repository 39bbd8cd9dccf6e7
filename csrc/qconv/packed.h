/* Header at the start of every packed blob of the qconv/qdw engines. */
#ifndef EMBER_QCONV_PACKED_H
#define EMBER_QCONV_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "ember/qconv.h"

#define EMBER_QPACK_MAGIC 0x4b505145u /* "EQPK" */
#define EMBER_QPACK_ALIGN 64

typedef struct {
    uint32_t magic;
    int32_t isa;
    int32_t kernel;          /* ember_kernel_id */
    int32_t max_threads;
    ember_conv_geom g;
    int64_t k;               /* GEMM depth (qconv) or taps (qdw) */
    int64_t kp;              /* padded depth / padded taps */
    int64_t nblocks;         /* channel blocks */
    int64_t block_bytes;     /* bytes per channel block */
    int64_t blocks_offset;   /* from the blob start */
    int64_t zp_row_offset;   /* in_c bytes of input_zero_point (qdw: + tail room) */
    int64_t scratch_per_thread;
    int64_t total_bytes;
} ember_qpack_header;

static inline size_t ember_align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* Shared checks of plan(): geometry sane, requant params in range. */
ember_status ember_qgeom_check(const ember_conv_geom *g);
ember_status ember_qrequant_check(const int32_t *mult, const int32_t *shift, int32_t n);
const ember_qpack_header *ember_qpack_header_of(const void *packed, int kernel);

/* Shared start of run(): the header's micro-kernel for its ISA (*ukernel), and how many
 * threads the caller's scratch allows. Each pool thread needs its own scratch slice; a
 * pool larger than the scratch was sized for runs the op on the calling thread alone
 * (*pool set to NULL, *threads to 1). */
ember_status ember_qpack_run_setup(const ember_qpack_header *h, const void *scratch, size_t scratch_bytes,
                                   const void **ukernel, ember_threadpool **pool, int *threads);

#endif
