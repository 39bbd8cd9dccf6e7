/* How an adapter without prepacked weights (ADD, the pools) keeps the SIMD
 * path it was loaded with: prepare asks for a few persistent bytes only when
 * the active ISA selects a micro-kernel, init records that kernel's ISA
 * there, run looks the variant up again. Scalar plans keep nothing (like the
 * conv family's), and a later ember_isa_set() does not change a loaded plan.
 * Internal header: include as "cpu/isa_record.h". */
#ifndef EMBER_CPU_ISA_RECORD_H
#define EMBER_CPU_ISA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "ember/kernels.h"
#include "ember/op.h"

/* prepare: persistent bytes to ask for (0 when the active ISA runs scalar). */
static inline size_t ember_isa_record_bytes(ember_kernel_id kernel) {
    ember_isa used;
    return ember_kernel_select(kernel, ember_isa_active(), &used) != NULL ? sizeof(int32_t) : 0;
}

/* init: records the ISA of the selected variant. */
static inline ember_status ember_isa_record_init(ember_op *op, ember_kernel_id kernel) {
    ember_isa used;
    if (op->persistent == NULL || op->persistent_bytes < sizeof(int32_t)) return EMBER_ERR_STATE;
    (void)ember_kernel_select(kernel, ember_isa_active(), &used);
    *(int32_t *)op->persistent = (int32_t)used;
    return EMBER_OK;
}

/* run: the recorded variant, NULL for scalar. */
static inline const void *ember_isa_record_variant(const ember_op *op, ember_kernel_id kernel) {
    if (op->persistent == NULL || op->persistent_bytes < sizeof(int32_t)) return NULL;
    const ember_isa isa = (ember_isa)*(const int32_t *)op->persistent;
    return ember_isa_available(isa) ? ember_kernel_variant(kernel, isa) : NULL;
}

#endif
