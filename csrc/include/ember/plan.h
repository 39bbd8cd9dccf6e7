/* An execution plan: a flat list of ops over a tensor table and one arena.
 *
 * Life cycle (every call returns an ember_status; on failure the cause is in
 * ember_last_error()):
 *   ember_plan_create        empty plan
 *   ember_plan_add_tensor    constants (borrowed data) and activations
 *   ember_plan_add_op        ops in execution order (type = op_list.def index)
 *   ember_plan_set_io        which tensors are the model's inputs and outputs
 *   ember_plan_finalize      validate the graph, prepare every op, plan memory
 *                            (greedy by size over lifetimes, planner.c),
 *                            allocate the arena and per-op persistent buffers
 *   ember_plan_run           any number of times; never allocates
 *   ember_plan_destroy
 * All allocation happens before ember_plan_run returns for the first time:
 * at build time and in finalize. A plan is not safe to run from two threads
 * at once (it has one arena); the binding serializes runs per plan.
 */
#ifndef EMBER_PLAN_H
#define EMBER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "ember/op.h"
#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_ARENA_ALIGNMENT 16
#define EMBER_PLAN_MAX_TENSORS (1 << 20)
#define EMBER_PLAN_MAX_OPS (1 << 20)

typedef struct ember_plan ember_plan;

typedef struct {
    size_t arena_bytes;             /* activations + scratch: the one arena */
    size_t activation_bytes;        /* planned activation region (includes inputs/outputs) */
    size_t scratch_bytes;           /* max scratch over ops, shared by all ops */
    size_t persistent_bytes;        /* sum of per-op persistent buffers */
    size_t naive_activation_bytes;  /* sum of all activation sizes (no sharing), for comparison */
} ember_plan_memory_info;

/* NULL when out of memory. Ops are looked up in ember_op_table. */
ember_plan *ember_plan_create(void);
/* The same over another adapter table (tests use fake ops); the table must
 * outlive the plan. */
ember_plan *ember_plan_create_with_ops(const ember_op_adapter *const *table, int32_t count);
void ember_plan_destroy(ember_plan *plan);

/* Add a tensor and return its id. data != NULL makes it a constant: the plan
 * BORROWS data (the caller keeps it alive and unchanged until destroy); it
 * must be aligned to the dtype size. data == NULL makes it an activation
 * placed in the arena by finalize. */
ember_status ember_plan_add_tensor(ember_plan *plan, int32_t dtype, int32_t ndim, const int32_t *dims,
                                   float scale, int32_t zero_point, const void *data, int32_t *id);

/* Append an op. n_params must equal the adapter's n_params. */
ember_status ember_plan_add_op(ember_plan *plan, int32_t type, int32_t n_in, const int32_t *in,
                               int32_t n_out, const int32_t *out, int32_t n_params, const int32_t *params);

ember_status ember_plan_set_io(ember_plan *plan, int32_t n_in, const int32_t *in, int32_t n_out, const int32_t *out);

ember_status ember_plan_finalize(ember_plan *plan, int32_t num_threads);

/* Upper bound on the memory finalize may allocate for the model: arena
 * (activations + scratch) plus per-op persistent buffers, in bytes. 0 (the
 * default) means no limit. When the planned total exceeds it, finalize fails
 * with EMBER_ERR_NO_MEMORY before allocating anything large, so a hostile
 * model cannot make the host try a huge allocation. Call before finalize. */
ember_status ember_plan_set_memory_limit(ember_plan *plan, size_t max_bytes);

/* Run once. inputs[i] (may be NULL = already written to the input tensor's
 * arena memory) is read in place, not copied; it must hold the input tensor's
 * bytes with the dtype's alignment. outputs[i] (may be NULL = skip) receives a
 * copy of output i. inputs/outputs may be NULL when there are none to pass. */
ember_status ember_plan_run(ember_plan *plan, const void *const *inputs, void *const *outputs);

/* Queries (valid ids only; NULL / -1 / 0 otherwise). */
int32_t ember_plan_num_tensors(const ember_plan *plan);
int32_t ember_plan_num_ops(const ember_plan *plan);
int32_t ember_plan_num_inputs(const ember_plan *plan);
int32_t ember_plan_num_outputs(const ember_plan *plan);
int32_t ember_plan_input(const ember_plan *plan, int32_t i);
int32_t ember_plan_output(const ember_plan *plan, int32_t i);
const ember_tensor *ember_plan_tensor(const ember_plan *plan, int32_t id);
const ember_op *ember_plan_op(const ember_plan *plan, int32_t i);
/* Scratch bytes op i asked for at prepare (0 before finalize). */
size_t ember_plan_op_scratch(const ember_plan *plan, int32_t i);
int ember_plan_is_finalized(const ember_plan *plan);
ember_status ember_plan_memory(const ember_plan *plan, ember_plan_memory_info *info);

/* Per-op timing for `ember bench`: when enabled, every run records each op's
 * wall time (monotonic clock around adapter->run); read it after a run.
 * Ops added after enabling are not timed until it is enabled again. */
ember_status ember_plan_set_profiling(ember_plan *plan, int enable);
unsigned long long ember_plan_op_time_ns(const ember_plan *plan, int32_t i);

#ifdef __cplusplus
}
#endif
#endif
