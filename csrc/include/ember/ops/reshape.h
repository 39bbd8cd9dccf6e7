/* RESHAPE (also SQUEEZE and EXPAND_DIMS): the bytes do not change, only the
 * shape does. When the planner gives input and output the same memory the op
 * is free; otherwise the kernel copies. */
#ifndef EMBER_OPS_RESHAPE_H
#define EMBER_OPS_RESHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* No int32 parameters: the output tensor's shape is the new shape. */
#define EMBER_RESHAPE_PARAMS(X)

/* Copies bytes from in to out (overlap allowed; nothing to do if in == out). */
ember_status ember_reshape_s8_scalar(const int8_t *in, int8_t *out, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
