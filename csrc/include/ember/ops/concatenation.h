/* CONCATENATION along one axis. TFLite requires every int8 input to share
 * the output's scale and zero point, so this is a pure copy (element size
 * given in bytes, so any dtype works):
 *   for each outer index o (product of dims before axis), for each input i:
 *     copy inner_bytes[i] bytes (input's dims from axis on) to the output. */
#ifndef EMBER_OPS_CONCATENATION_H
#define EMBER_OPS_CONCATENATION_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* axis: the concatenation axis, already made non-negative by the builder. */
#define EMBER_CONCATENATION_PARAMS(X) X(axis)
#define EMBER_CONCATENATION_P(name) EMBER_CONCATENATION_P_##name,
enum { EMBER_CONCATENATION_PARAMS(EMBER_CONCATENATION_P) EMBER_CONCATENATION_NPARAMS };

ember_status ember_concatenation_s8_scalar(int32_t n_inputs, const int8_t *const *inputs,
                                           const size_t *inner_bytes, size_t outer,
                                           int8_t *out);

#ifdef __cplusplus
}
#endif
#endif
