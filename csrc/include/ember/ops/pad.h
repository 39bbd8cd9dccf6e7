/* PAD / PADV2 int8 (TFLite reference PadImpl, constant mode).
 *
 * Shapes are normalized to EMBER_PAD_MAX_DIMS (5) dims by prepending 1s, as
 * TFLite does. out.dim[i] == before[i] + in.dim[i] + after[i]; padded bytes
 * get pad_value (the output zero point for PAD, the constant for PADV2).
 *
 * Executor record: in = [input], out = [output], p = EMBER_PAD_PARAMS
 * (before_i/after_i for the normalized dims, outermost first). */
#ifndef EMBER_OPS_PAD_H
#define EMBER_OPS_PAD_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_PAD_MAX_DIMS 5

#define EMBER_PAD_PARAMS(X) \
    X(before_0) X(before_1) X(before_2) X(before_3) X(before_4) \
    X(after_0) X(after_1) X(after_2) X(after_3) X(after_4) X(pad_value)

#define EMBER_PAD_P_(name) EMBER_PAD_P_##name,
enum { EMBER_PAD_PARAMS(EMBER_PAD_P_) EMBER_PAD_NPARAMS };

typedef struct {
    int32_t before[EMBER_PAD_MAX_DIMS];
    int32_t after[EMBER_PAD_MAX_DIMS];
    int32_t pad_value; /* int8 range */
} ember_pad_params;

size_t ember_pad_s8_scratch_size(const ember_pad_params *p, const int32_t in_dims[EMBER_PAD_MAX_DIMS]);

/* Writes the whole output. in_dims are the normalized input dims. */
ember_status ember_pad_s8_scalar(const ember_pad_params *p,
                                 const int32_t in_dims[EMBER_PAD_MAX_DIMS], const int8_t *input,
                                 int8_t *output, void *scratch);

#ifdef __cplusplus
}
#endif
#endif
