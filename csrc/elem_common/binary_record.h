/* Record checks shared by the ADD and MUL adapters: in = [a int8, b int8],
 * out = [y int8, the broadcast shape of a and b]. Internal header: include as
 * "elem_common/binary_record.h". Checks set a message with ember_set_error
 * and return nonzero on failure. */
#ifndef EMBER_ELEM_COMMON_BINARY_RECORD_H
#define EMBER_ELEM_COMMON_BINARY_RECORD_H

#include "elem_common/record_check.h"
#include "ember/op.h"
#include "ember/ops/broadcast.h"

/* The broadcast of the record's two inputs onto its output. */
static inline ember_status ember_el_binary_broadcast(const ember_op *op, const ember_tensor *t, ember_broadcast *bc) {
    const ember_tensor *a = &t[op->in[0]], *b = &t[op->in[1]], *y = &t[op->out[0]];
    return ember_broadcast_init(bc, a->dims, a->ndim, b->dims, b->ndim, y->dims, y->ndim);
}

/* Inputs, outputs, dtypes, shapes and broadcast of the record. */
static inline int ember_el_binary_s8_io(const ember_op *op, const ember_tensor *t, const char *name) {
    if (ember_el_io(op, 2, 1, name)) return 1;
    const ember_tensor *a = &t[op->in[0]], *b = &t[op->in[1]], *y = &t[op->out[0]];
    if (ember_el_dtype(a, EMBER_DT_INT8, name, "input 0") || ember_el_dtype(b, EMBER_DT_INT8, name, "input 1") ||
        ember_el_dtype(y, EMBER_DT_INT8, name, "output") || ember_el_valid_shape(a, name, "input 0") ||
        ember_el_valid_shape(b, name, "input 1") || ember_el_valid_shape(y, name, "output"))
        return 1;
    ember_broadcast bc;
    return ember_el_binary_broadcast(op, t, &bc) != EMBER_OK;
}

/* The offsets (-zp1, -zp2, +zp_out) and the activation clamp. */
static inline int ember_el_binary_s8_quant(int32_t input1_offset, int32_t input2_offset, int32_t output_offset,
                                           int32_t act_min, int32_t act_max, const char *name) {
    return ember_el_zero_point(-input1_offset, name, "input 0") ||
           ember_el_zero_point(-input2_offset, name, "input 1") ||
           ember_el_zero_point(output_offset, name, "output") || ember_el_act(act_min, act_max, name);
}

#endif
