/* The executor's view of tensors and ops, and the contract every op adapter keeps.
 *
 * A model is a flat list of ops over a table of tensors. Constant tensors
 * (weights, bias, per-channel multipliers/shifts, LUTs) point into memory the
 * plan owns; activation tensors live in one arena at offsets chosen by the
 * memory planner (csrc/executor/planner.c). Ops are generic records:
 *   - type: index into the op list (csrc/executor/op_list.def),
 *   - in[]/out[]: tensor ids (-1 for an absent optional input),
 *   - p[]: int32 parameters, named by the op's EMBER_<OP>_PARAMS X-macro
 *     (the Python builder sets them by name, the binding maps names to slots).
 * Each op supplies an adapter (csrc/<op>/op.c) that checks the record once at
 * prepare time and then calls its typed kernel (CMSIS-NN style: params struct,
 * dims, caller-owned scratch) on every run.
 */
#ifndef EMBER_OP_H
#define EMBER_OP_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_MAX_DIMS 6
#define EMBER_MAX_OP_INPUTS 16
#define EMBER_MAX_OP_OUTPUTS 4
#define EMBER_MAX_OP_PARAMS 40

typedef enum {
    EMBER_DT_INT8 = 1,
    EMBER_DT_UINT8 = 2,
    EMBER_DT_INT16 = 3,
    EMBER_DT_INT32 = 4,
    EMBER_DT_INT64 = 5,
    EMBER_DT_FLOAT32 = 6
} ember_dtype;

size_t ember_dtype_size(int32_t dtype); /* 0 for an unknown dtype */

typedef struct {
    int32_t dtype;
    int32_t ndim;
    int32_t dims[EMBER_MAX_DIMS];
    float scale;          /* per-tensor quantization (informational for kernels) */
    int32_t zero_point;
    int32_t is_const;     /* 1: data points to plan-owned constant memory */
    size_t bytes;         /* element count * dtype size */
    void *data;           /* set for constants at build time, for activations by finalize */
} ember_tensor;

typedef struct {
    int32_t type;                        /* index in op_list.def */
    int32_t n_in;
    int32_t in[EMBER_MAX_OP_INPUTS];     /* tensor ids, -1 = absent optional input */
    int32_t n_out;
    int32_t out[EMBER_MAX_OP_OUTPUTS];
    int32_t p[EMBER_MAX_OP_PARAMS];      /* named by EMBER_<OP>_PARAMS */
    void *persistent;                    /* op-owned data built at prepare (packed weights, LUTs) */
    size_t persistent_bytes;
} ember_op;

/* Per-run context handed to adapters. */
typedef struct ember_threadpool ember_threadpool;
typedef struct {
    void *scratch;              /* caller-owned, at least the op's scratch_bytes */
    size_t scratch_bytes;
    ember_threadpool *pool;     /* may be NULL: run single-threaded */
    int num_threads;
} ember_run_ctx;

/* An op adapter. All functions receive the plan's full tensor table.
 *  prepare:  validate the record (dtypes, ranks, shapes, params) and report
 *            the scratch bytes a run needs and the persistent bytes the op
 *            keeps (e.g. prepacked weights). Called once; must not write to
 *            tensors. Return EMBER_ERR_ARG with a precise cause on any doubt.
 *  init:     fill op->persistent (already allocated, persistent_bytes long)
 *            from constant tensors. May be NULL when persistent_bytes is 0.
 *  run:      compute outputs. No allocation, no printing. */
typedef struct {
    const char *name;                    /* TFLite builtin name, e.g. "CONV_2D" */
    const char *const *param_names;
    int32_t n_params;
    ember_status (*prepare)(const ember_op *op, const ember_tensor *tensors,
                            size_t *scratch_bytes, size_t *persistent_bytes);
    ember_status (*init)(ember_op *op, const ember_tensor *tensors);
    ember_status (*run)(const ember_op *op, ember_tensor *tensors, const ember_run_ctx *ctx);
} ember_op_adapter;

/* Helper macros for op headers:
 *   #define EMBER_CONV_2D_PARAMS(X) X(stride_h) X(stride_w) ...
 *   enum { EMBER_CONV_2D_PARAMS(EMBER_PARAM_ENUM) EMBER_CONV_2D_NPARAMS };
 * gives slot indices EMBER_P_stride_h... scoped by prefix; see ops headers. */
#define EMBER_PARAM_NAME(name) #name,

/* The op table (filled from op_list.def). */
extern const ember_op_adapter *const ember_op_table[];
extern const int32_t ember_op_count;
/* Index of an op by TFLite builtin name, -1 if unknown. */
int32_t ember_op_find(const char *name);

/* Last error detail (thread-local string set by prepare/run on failure). */
void ember_set_error(const char *fmt, ...);
const char *ember_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
