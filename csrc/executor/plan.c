/* Execution plan: build, validate, prepare, plan memory, run (see ember/plan.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ember/plan.h"
#include "ember/planner.h"
#include "ember/threadpool.h"

enum { PLAN_BUILDING = 0, PLAN_READY = 1, PLAN_FAILED = 2 };

struct ember_plan {
    int state;
    const ember_op_adapter *const *table; /* op adapters, indexed by op type */
    int32_t table_count;
    ember_tensor *tensors;
    int32_t n_tensors, cap_tensors;
    ember_op *ops;
    int32_t n_ops, cap_ops;
    size_t *op_scratch;          /* per op, from prepare */
    int32_t n_inputs, n_outputs;
    int32_t *inputs, *outputs;
    void **input_home;           /* arena address of each input, restored after a run */
    int io_set;
    int32_t num_threads;
    size_t memory_limit;         /* 0: none (ember_plan_set_memory_limit) */
    void *arena_raw;             /* malloc'd, arena is its aligned start */
    uint8_t *arena;
    void **persistent_raw;       /* per op */
    ember_plan_memory_info mem;
    ember_threadpool *pool;      /* num_threads > 1: persistent workers for the ops */
    int profiling;               /* 1: time every op (ember_plan_set_profiling) */
    unsigned long long *op_ns;   /* per op: time of the last profiled run */
};

#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((size_t)(a)-1))

static void *aligned_malloc(size_t bytes, size_t alignment, void **raw) {
    uintptr_t p;
    *raw = calloc(1, bytes + alignment);
    if (*raw == NULL) return NULL;
    p = ALIGN_UP((uintptr_t)*raw, alignment);
    return (void *)p;
}

#define op_name(type) plan_op_name(plan, type)
static const char *plan_op_name(const ember_plan *plan, int32_t type) {
    return (type >= 0 && type < plan->table_count) ? plan->table[type]->name : "?";
}

ember_plan *ember_plan_create_with_ops(const ember_op_adapter *const *table, int32_t count) {
    ember_plan *plan;
    if (count < 0 || (count > 0 && table == NULL)) {
        ember_set_error("plan: invalid op table");
        return NULL;
    }
    plan = (ember_plan *)calloc(1, sizeof(ember_plan));
    if (plan == NULL) {
        ember_set_error("plan: out of memory");
        return NULL;
    }
    plan->num_threads = 1;
    plan->table = table;
    plan->table_count = count;
    return plan;
}

ember_plan *ember_plan_create(void) { return ember_plan_create_with_ops(ember_op_table, ember_op_count); }

void ember_plan_destroy(ember_plan *plan) {
    int32_t i;
    if (plan == NULL) return;
    if (plan->persistent_raw != NULL) {
        for (i = 0; i < plan->n_ops; ++i) free(plan->persistent_raw[i]);
        free(plan->persistent_raw);
    }
    free(plan->arena_raw);
    free(plan->tensors);
    free(plan->ops);
    free(plan->op_scratch);
    free(plan->inputs);
    free(plan->outputs);
    free(plan->input_home);
    free(plan->op_ns);
    ember_threadpool_destroy(plan->pool);
    free(plan);
}

static ember_status check_building(ember_plan *plan, const char *what) {
    if (plan == NULL) {
        ember_set_error("%s: plan is NULL", what);
        return EMBER_ERR_ARG;
    }
    if (plan->state != PLAN_BUILDING) {
        ember_set_error("%s: plan is already finalized", what);
        return EMBER_ERR_STATE;
    }
    return EMBER_OK;
}

ember_status ember_plan_add_tensor(ember_plan *plan, int32_t dtype, int32_t ndim, const int32_t *dims,
                                   float scale, int32_t zero_point, const void *data, int32_t *id) {
    ember_status st = check_building(plan, "add_tensor");
    ember_tensor *t;
    size_t elem = ember_dtype_size(dtype), count = 1;
    int32_t i;
    if (st != EMBER_OK) return st;
    if (id == NULL) {
        ember_set_error("add_tensor: id is NULL");
        return EMBER_ERR_ARG;
    }
    if (elem == 0) {
        ember_set_error("add_tensor: unknown dtype %d", (int)dtype);
        return EMBER_ERR_ARG;
    }
    if (ndim < 0 || ndim > EMBER_MAX_DIMS || (ndim > 0 && dims == NULL)) {
        ember_set_error("add_tensor: rank %d out of range [0, %d]", (int)ndim, EMBER_MAX_DIMS);
        return EMBER_ERR_ARG;
    }
    for (i = 0; i < ndim; ++i) {
        if (dims[i] <= 0) {
            ember_set_error("add_tensor: dimension %d is %d (must be > 0)", (int)i, (int)dims[i]);
            return EMBER_ERR_ARG;
        }
        if (count > (SIZE_MAX / elem) / (size_t)dims[i] || count * (size_t)dims[i] > (size_t)INT32_MAX) {
            ember_set_error("add_tensor: element count overflows");
            return EMBER_ERR_ARG;
        }
        count *= (size_t)dims[i];
    }
    if (data != NULL && ((uintptr_t)data % elem) != 0) {
        ember_set_error("add_tensor: constant data not aligned to %u bytes", (unsigned)elem);
        return EMBER_ERR_ARG;
    }
    if (plan->n_tensors >= EMBER_PLAN_MAX_TENSORS) {
        ember_set_error("add_tensor: more than %d tensors", EMBER_PLAN_MAX_TENSORS);
        return EMBER_ERR_ARG;
    }
    if (plan->n_tensors == plan->cap_tensors) {
        int32_t cap = plan->cap_tensors ? plan->cap_tensors * 2 : 64;
        ember_tensor *grown = (ember_tensor *)realloc(plan->tensors, sizeof(ember_tensor) * (size_t)cap);
        if (grown == NULL) {
            ember_set_error("add_tensor: out of memory");
            return EMBER_ERR_NO_MEMORY;
        }
        plan->tensors = grown;
        plan->cap_tensors = cap;
    }
    t = &plan->tensors[plan->n_tensors];
    memset(t, 0, sizeof(*t));
    t->dtype = dtype;
    t->ndim = ndim;
    for (i = 0; i < ndim; ++i) t->dims[i] = dims[i];
    t->scale = scale;
    t->zero_point = zero_point;
    t->is_const = data != NULL;
    t->bytes = count * elem;
    t->data = (void *)data;
    *id = plan->n_tensors++;
    return EMBER_OK;
}

ember_status ember_plan_add_op(ember_plan *plan, int32_t type, int32_t n_in, const int32_t *in,
                               int32_t n_out, const int32_t *out, int32_t n_params, const int32_t *params) {
    ember_status st = check_building(plan, "add_op");
    ember_op *op;
    int32_t i;
    if (st != EMBER_OK) return st;
    if (type < 0 || type >= plan->table_count) {
        ember_set_error("add_op: unknown op type %d (%d ops in this build)", (int)type, (int)plan->table_count);
        return EMBER_ERR_ARG;
    }
    if (n_in < 0 || n_in > EMBER_MAX_OP_INPUTS || (n_in > 0 && in == NULL)) {
        ember_set_error("add_op %s: %d inputs (max %d)", op_name(type), (int)n_in, EMBER_MAX_OP_INPUTS);
        return EMBER_ERR_ARG;
    }
    if (n_out < 1 || n_out > EMBER_MAX_OP_OUTPUTS || out == NULL) {
        ember_set_error("add_op %s: %d outputs (need 1..%d)", op_name(type), (int)n_out, EMBER_MAX_OP_OUTPUTS);
        return EMBER_ERR_ARG;
    }
    if (n_params != plan->table[type]->n_params || n_params > EMBER_MAX_OP_PARAMS || (n_params > 0 && params == NULL)) {
        ember_set_error("add_op %s: %d params given, the adapter has %d", op_name(type), (int)n_params,
                        (int)plan->table[type]->n_params);
        return EMBER_ERR_ARG;
    }
    for (i = 0; i < n_in; ++i) {
        if (in[i] < -1 || in[i] >= plan->n_tensors) {
            ember_set_error("add_op %s: input %d is tensor %d (have %d tensors)", op_name(type), (int)i, (int)in[i],
                            (int)plan->n_tensors);
            return EMBER_ERR_ARG;
        }
    }
    for (i = 0; i < n_out; ++i) {
        if (out[i] < 0 || out[i] >= plan->n_tensors) {
            ember_set_error("add_op %s: output %d is tensor %d (have %d tensors)", op_name(type), (int)i, (int)out[i],
                            (int)plan->n_tensors);
            return EMBER_ERR_ARG;
        }
    }
    if (plan->n_ops >= EMBER_PLAN_MAX_OPS) {
        ember_set_error("add_op: more than %d ops", EMBER_PLAN_MAX_OPS);
        return EMBER_ERR_ARG;
    }
    if (plan->n_ops == plan->cap_ops) {
        int32_t cap = plan->cap_ops ? plan->cap_ops * 2 : 32;
        ember_op *grown = (ember_op *)realloc(plan->ops, sizeof(ember_op) * (size_t)cap);
        if (grown == NULL) {
            ember_set_error("add_op: out of memory");
            return EMBER_ERR_NO_MEMORY;
        }
        plan->ops = grown;
        plan->cap_ops = cap;
    }
    op = &plan->ops[plan->n_ops];
    memset(op, 0, sizeof(*op));
    op->type = type;
    op->n_in = n_in;
    for (i = 0; i < EMBER_MAX_OP_INPUTS; ++i) op->in[i] = i < n_in ? in[i] : -1;
    op->n_out = n_out;
    for (i = 0; i < EMBER_MAX_OP_OUTPUTS; ++i) op->out[i] = i < n_out ? out[i] : -1;
    for (i = 0; i < n_params; ++i) op->p[i] = params[i];
    plan->n_ops++;
    return EMBER_OK;
}

ember_status ember_plan_set_io(ember_plan *plan, int32_t n_in, const int32_t *in, int32_t n_out, const int32_t *out) {
    ember_status st = check_building(plan, "set_io");
    int32_t i, j;
    if (st != EMBER_OK) return st;
    if (n_in < 0 || n_in > plan->n_tensors || (n_in > 0 && in == NULL) || n_out < 1 || n_out > plan->n_tensors ||
        out == NULL) {
        ember_set_error("set_io: %d inputs / %d outputs invalid (need >= 1 output, ids of %d tensors)", (int)n_in,
                        (int)n_out, (int)plan->n_tensors);
        return EMBER_ERR_ARG;
    }
    for (i = 0; i < n_in; ++i) {
        if (in[i] < 0 || in[i] >= plan->n_tensors) {
            ember_set_error("set_io: input %d is tensor %d (have %d tensors)", (int)i, (int)in[i], (int)plan->n_tensors);
            return EMBER_ERR_ARG;
        }
        if (plan->tensors[in[i]].is_const) {
            ember_set_error("set_io: input %d (tensor %d) is a constant", (int)i, (int)in[i]);
            return EMBER_ERR_ARG;
        }
        for (j = 0; j < i; ++j) {
            if (in[j] == in[i]) {
                ember_set_error("set_io: tensor %d listed twice as an input", (int)in[i]);
                return EMBER_ERR_ARG;
            }
        }
    }
    for (i = 0; i < n_out; ++i) {
        if (out[i] < 0 || out[i] >= plan->n_tensors) {
            ember_set_error("set_io: output %d is tensor %d (have %d tensors)", (int)i, (int)out[i], (int)plan->n_tensors);
            return EMBER_ERR_ARG;
        }
    }
    free(plan->inputs);
    free(plan->outputs);
    plan->inputs = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n_in > 0 ? n_in : 1));
    plan->outputs = (int32_t *)malloc(sizeof(int32_t) * (size_t)n_out);
    if (plan->inputs == NULL || plan->outputs == NULL) {
        ember_set_error("set_io: out of memory");
        plan->io_set = 0;
        return EMBER_ERR_NO_MEMORY;
    }
    if (n_in > 0) memcpy(plan->inputs, in, sizeof(int32_t) * (size_t)n_in);
    memcpy(plan->outputs, out, sizeof(int32_t) * (size_t)n_out);
    plan->n_inputs = n_in;
    plan->n_outputs = n_out;
    plan->io_set = 1;
    return EMBER_OK;
}

/* Structural checks: producers before consumers, one producer per tensor,
 * graph inputs never produced, constants never written. Fills first/last
 * use (op indices) for the planner; -2 = unused. */
static ember_status validate_graph(ember_plan *plan, int32_t *producer, ember_plan_buffer *buf) {
    int32_t i, j, k;
    const int32_t end = plan->n_ops; /* graph outputs live until after the last op */
    for (i = 0; i < plan->n_tensors; ++i) {
        producer[i] = -2;
        buf[i].first = -2;
        buf[i].last = -2;
        buf[i].size = plan->tensors[i].is_const ? 0 : plan->tensors[i].bytes;
        buf[i].offset = 0;
    }
    for (i = 0; i < plan->n_inputs; ++i) {
        producer[plan->inputs[i]] = -1;
        buf[plan->inputs[i]].first = 0;
        buf[plan->inputs[i]].last = 0;
    }
    for (i = 0; i < plan->n_ops; ++i) {
        const ember_op *op = &plan->ops[i];
        for (j = 0; j < op->n_in; ++j) {
            const int32_t t = op->in[j];
            if (t < 0 || plan->tensors[t].is_const) continue;
            if (producer[t] == -2) {
                ember_set_error("op %d (%s): input %d reads tensor %d before any op writes it and it is not a model input",
                                (int)i, op_name(op->type), (int)j, (int)t);
                return EMBER_ERR_PLAN;
            }
            if (buf[t].last < i) buf[t].last = i;
        }
        for (j = 0; j < op->n_out; ++j) {
            const int32_t t = op->out[j];
            if (plan->tensors[t].is_const) {
                ember_set_error("op %d (%s): output %d is constant tensor %d", (int)i, op_name(op->type), (int)j, (int)t);
                return EMBER_ERR_PLAN;
            }
            if (producer[t] != -2) {
                ember_set_error("op %d (%s): output %d (tensor %d) is already %s", (int)i, op_name(op->type), (int)j,
                                (int)t, producer[t] == -1 ? "a model input" : "written by an earlier op");
                return EMBER_ERR_PLAN;
            }
            for (k = 0; k < op->n_in; ++k) {
                if (op->in[k] == t) {
                    ember_set_error("op %d (%s): tensor %d is both input and output", (int)i, op_name(op->type), (int)t);
                    return EMBER_ERR_PLAN;
                }
            }
            producer[t] = i;
            buf[t].first = i;
            if (buf[t].last < i) buf[t].last = i;
        }
    }
    for (i = 0; i < plan->n_outputs; ++i) {
        const int32_t t = plan->outputs[i];
        if (plan->tensors[t].is_const) continue;
        if (producer[t] == -2) {
            ember_set_error("model output %d (tensor %d) is never written", (int)i, (int)t);
            return EMBER_ERR_PLAN;
        }
        buf[t].last = end;
    }
    for (i = 0; i < plan->n_tensors; ++i) {
        if (buf[i].first == -2) { /* never used: no memory */
            buf[i].first = 0;
            buf[i].last = 0;
            buf[i].size = 0;
        }
    }
    return EMBER_OK;
}

static ember_status prepare_ops(ember_plan *plan, size_t *max_scratch, size_t *persistent_total) {
    int32_t i;
    *max_scratch = 0;
    *persistent_total = 0;
    for (i = 0; i < plan->n_ops; ++i) {
        ember_op *op = &plan->ops[i];
        const ember_op_adapter *ad = plan->table[op->type];
        size_t scratch = 0, persistent = 0;
        ember_status st;
        ember_set_error(NULL);
        st = ad->prepare(op, plan->tensors, &scratch, &persistent);
        if (st != EMBER_OK) {
            char detail[400];
            strncpy(detail, ember_last_error(), sizeof(detail) - 1);
            detail[sizeof(detail) - 1] = '\0';
            ember_set_error("op %d (%s): %s", (int)i, ad->name, detail[0] ? detail : ember_status_str(st));
            return st;
        }
        if (persistent > 0 && ad->init == NULL) {
            ember_set_error("op %d (%s): asks for %lu persistent bytes but has no init", (int)i, ad->name,
                            (unsigned long)persistent);
            return EMBER_ERR_PLAN;
        }
        plan->op_scratch[i] = scratch;
        if (scratch > *max_scratch) *max_scratch = scratch;
        op->persistent_bytes = persistent;
        *persistent_total = *persistent_total > SIZE_MAX - persistent ? SIZE_MAX : *persistent_total + persistent;
    }
    return EMBER_OK;
}

static ember_status init_persistent(ember_plan *plan) {
    int32_t i;
    for (i = 0; i < plan->n_ops; ++i) {
        ember_op *op = &plan->ops[i];
        const ember_op_adapter *ad = plan->table[op->type];
        ember_status st;
        if (op->persistent_bytes == 0) continue;
        op->persistent = aligned_malloc(op->persistent_bytes, 64, &plan->persistent_raw[i]);
        if (op->persistent == NULL) {
            ember_set_error("op %d (%s): out of memory for %lu persistent bytes", (int)i, ad->name,
                            (unsigned long)op->persistent_bytes);
            return EMBER_ERR_NO_MEMORY;
        }
        ember_set_error(NULL);
        st = ad->init(op, plan->tensors);
        if (st != EMBER_OK) {
            char detail[400];
            strncpy(detail, ember_last_error(), sizeof(detail) - 1);
            detail[sizeof(detail) - 1] = '\0';
            ember_set_error("op %d (%s) init: %s", (int)i, ad->name, detail[0] ? detail : ember_status_str(st));
            return st;
        }
    }
    return EMBER_OK;
}

static size_t add_saturated(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Before allocating: the arena (activations + aligned scratch) must be
 * addressable and, with the persistent buffers, within the memory limit. */
static ember_status check_memory(const ember_plan *plan, size_t activation, size_t *scratch, size_t persistent) {
    size_t arena, total;
    if (*scratch > SIZE_MAX - 2 * EMBER_ARENA_ALIGNMENT || activation > SIZE_MAX - 2 * EMBER_ARENA_ALIGNMENT) {
        ember_set_error("finalize: arena size overflows");
        return EMBER_ERR_NO_MEMORY;
    }
    *scratch = ALIGN_UP(*scratch, EMBER_ARENA_ALIGNMENT);
    arena = add_saturated(activation, *scratch);
    total = add_saturated(arena, persistent);
    if (arena > SIZE_MAX - 128) {
        ember_set_error("finalize: arena size overflows");
        return EMBER_ERR_NO_MEMORY;
    }
    if (plan->memory_limit > 0 && total > plan->memory_limit) {
        ember_set_error("finalize: the model needs %llu bytes (arena %llu = activations %llu + scratch %llu; "
                        "persistent %llu), more than the memory limit of %llu bytes",
                        (unsigned long long)total, (unsigned long long)arena, (unsigned long long)activation,
                        (unsigned long long)*scratch, (unsigned long long)persistent,
                        (unsigned long long)plan->memory_limit);
        return EMBER_ERR_NO_MEMORY;
    }
    return EMBER_OK;
}

static ember_status finalize(ember_plan *plan, int32_t num_threads) {
    int32_t i;
    int32_t *producer;
    ember_plan_buffer *buf;
    size_t activation = 0, scratch = 0, persistent = 0, naive = 0;
    ember_status st;
    if (!plan->io_set) {
        ember_set_error("finalize: set_io was not called");
        return EMBER_ERR_STATE;
    }
    if (num_threads < 1 || num_threads > 256) {
        ember_set_error("finalize: num_threads %d out of range [1, 256]", (int)num_threads);
        return EMBER_ERR_ARG;
    }
    plan->num_threads = num_threads;
    if (num_threads > 1 && plan->pool == NULL) {
        plan->pool = ember_threadpool_create(num_threads > EMBER_MAX_THREADS ? EMBER_MAX_THREADS : num_threads);
        if (plan->pool == NULL) {
            ember_set_error("finalize: cannot start %d threads", (int)num_threads);
            return EMBER_ERR_NO_MEMORY;
        }
    }
    plan->op_scratch = (size_t *)calloc((size_t)(plan->n_ops > 0 ? plan->n_ops : 1), sizeof(size_t));
    plan->persistent_raw = (void **)calloc((size_t)(plan->n_ops > 0 ? plan->n_ops : 1), sizeof(void *));
    plan->input_home = (void **)calloc((size_t)(plan->n_inputs > 0 ? plan->n_inputs : 1), sizeof(void *));
    producer = (int32_t *)malloc(sizeof(int32_t) * (size_t)(plan->n_tensors > 0 ? plan->n_tensors : 1));
    buf = (ember_plan_buffer *)malloc(sizeof(ember_plan_buffer) * (size_t)(plan->n_tensors > 0 ? plan->n_tensors : 1));
    if (plan->op_scratch == NULL || plan->persistent_raw == NULL || plan->input_home == NULL || producer == NULL || buf == NULL) {
        free(producer);
        free(buf);
        ember_set_error("finalize: out of memory");
        return EMBER_ERR_NO_MEMORY;
    }
    st = validate_graph(plan, producer, buf);
    if (st == EMBER_OK) st = prepare_ops(plan, &scratch, &persistent);
    if (st == EMBER_OK) {
        for (i = 0; i < plan->n_tensors; ++i) naive += ALIGN_UP(buf[i].size, EMBER_ARENA_ALIGNMENT);
        st = ember_plan_memory_greedy(buf, plan->n_tensors, EMBER_ARENA_ALIGNMENT, &activation);
    }
    if (st == EMBER_OK) st = check_memory(plan, activation, &scratch, persistent);
    if (st == EMBER_OK) {
        size_t total = activation + scratch;
        plan->arena = (uint8_t *)aligned_malloc(total > 0 ? total : 1, 64, &plan->arena_raw);
        if (plan->arena == NULL) {
            ember_set_error("finalize: out of memory for an arena of %lu bytes", (unsigned long)total);
            st = EMBER_ERR_NO_MEMORY;
        }
    }
    if (st == EMBER_OK) {
        for (i = 0; i < plan->n_tensors; ++i) {
            ember_tensor *t = &plan->tensors[i];
            if (!t->is_const) t->data = buf[i].size > 0 ? plan->arena + buf[i].offset : NULL;
        }
        for (i = 0; i < plan->n_inputs; ++i) plan->input_home[i] = plan->tensors[plan->inputs[i]].data;
        plan->mem.activation_bytes = activation;
        plan->mem.scratch_bytes = scratch;
        plan->mem.arena_bytes = activation + scratch;
        plan->mem.persistent_bytes = persistent;
        plan->mem.naive_activation_bytes = naive;
        st = init_persistent(plan);
    }
    free(producer);
    free(buf);
    return st;
}

ember_status ember_plan_set_memory_limit(ember_plan *plan, size_t max_bytes) {
    ember_status st = check_building(plan, "set_memory_limit");
    if (st != EMBER_OK) return st;
    plan->memory_limit = max_bytes;
    return EMBER_OK;
}

ember_status ember_plan_finalize(ember_plan *plan, int32_t num_threads) {
    ember_status st = check_building(plan, "finalize");
    if (st != EMBER_OK) {
        if (plan != NULL && plan->state == PLAN_FAILED) ember_set_error("finalize: an earlier finalize failed");
        return st;
    }
    st = finalize(plan, num_threads);
    plan->state = st == EMBER_OK ? PLAN_READY : PLAN_FAILED;
    return st;
}

ember_status ember_plan_run(ember_plan *plan, const void *const *inputs, void *const *outputs) {
    ember_run_ctx ctx;
    ember_status st = EMBER_OK;
    int32_t i;
    if (plan == NULL) {
        ember_set_error("run: plan is NULL");
        return EMBER_ERR_ARG;
    }
    if (plan->state != PLAN_READY) {
        ember_set_error("run: plan is not finalized");
        return EMBER_ERR_STATE;
    }
    ctx.scratch = plan->mem.scratch_bytes > 0 ? plan->arena + plan->mem.activation_bytes : NULL;
    ctx.scratch_bytes = plan->mem.scratch_bytes;
    ctx.pool = plan->pool; /* NULL when single-threaded */
    ctx.num_threads = plan->num_threads;
    if (inputs != NULL) {
        for (i = 0; i < plan->n_inputs; ++i) {
            if (inputs[i] != NULL) plan->tensors[plan->inputs[i]].data = (void *)inputs[i];
        }
    }
    for (i = 0; i < plan->n_ops && st == EMBER_OK; ++i) {
        const ember_op *op = &plan->ops[i];
        const ember_op_adapter *ad = plan->table[op->type];
        ember_set_error(NULL);
        if (plan->profiling) {
            const unsigned long long t0 = ember_now_ns();
            st = ad->run(op, plan->tensors, &ctx);
            plan->op_ns[i] = ember_now_ns() - t0;
        } else {
            st = ad->run(op, plan->tensors, &ctx);
        }
        if (st != EMBER_OK) {
            char detail[400];
            strncpy(detail, ember_last_error(), sizeof(detail) - 1);
            detail[sizeof(detail) - 1] = '\0';
            ember_set_error("op %d (%s): %s", (int)i, ad->name, detail[0] ? detail : ember_status_str(st));
        }
    }
    if (st == EMBER_OK && outputs != NULL) {
        for (i = 0; i < plan->n_outputs; ++i) {
            const ember_tensor *t = &plan->tensors[plan->outputs[i]];
            if (outputs[i] != NULL && t->bytes > 0) memcpy(outputs[i], t->data, t->bytes);
        }
    }
    if (inputs != NULL) { /* unbind caller memory: back to the arena slots */
        for (i = 0; i < plan->n_inputs; ++i) {
            if (inputs[i] != NULL) plan->tensors[plan->inputs[i]].data = plan->input_home[i];
        }
    }
    return st;
}

int32_t ember_plan_num_tensors(const ember_plan *plan) { return plan ? plan->n_tensors : 0; }
int32_t ember_plan_num_ops(const ember_plan *plan) { return plan ? plan->n_ops : 0; }
int32_t ember_plan_num_inputs(const ember_plan *plan) { return plan ? plan->n_inputs : 0; }
int32_t ember_plan_num_outputs(const ember_plan *plan) { return plan ? plan->n_outputs : 0; }

int32_t ember_plan_input(const ember_plan *plan, int32_t i) {
    return (plan && i >= 0 && i < plan->n_inputs) ? plan->inputs[i] : -1;
}

int32_t ember_plan_output(const ember_plan *plan, int32_t i) {
    return (plan && i >= 0 && i < plan->n_outputs) ? plan->outputs[i] : -1;
}

const ember_tensor *ember_plan_tensor(const ember_plan *plan, int32_t id) {
    return (plan && id >= 0 && id < plan->n_tensors) ? &plan->tensors[id] : NULL;
}

const ember_op *ember_plan_op(const ember_plan *plan, int32_t i) {
    return (plan && i >= 0 && i < plan->n_ops) ? &plan->ops[i] : NULL;
}

size_t ember_plan_op_scratch(const ember_plan *plan, int32_t i) {
    return (plan && plan->state == PLAN_READY && i >= 0 && i < plan->n_ops) ? plan->op_scratch[i] : 0;
}

int ember_plan_is_finalized(const ember_plan *plan) { return plan != NULL && plan->state == PLAN_READY; }

ember_status ember_plan_memory(const ember_plan *plan, ember_plan_memory_info *info) {
    if (plan == NULL || info == NULL) {
        ember_set_error("memory: NULL argument");
        return EMBER_ERR_ARG;
    }
    if (plan->state != PLAN_READY) {
        ember_set_error("memory: plan is not finalized");
        return EMBER_ERR_STATE;
    }
    *info = plan->mem;
    return EMBER_OK;
}

ember_status ember_plan_set_profiling(ember_plan *plan, int enable) {
    if (plan == NULL) {
        ember_set_error("profiling: plan is NULL");
        return EMBER_ERR_ARG;
    }
    if (enable && plan->op_ns == NULL) {
        plan->op_ns = (unsigned long long *)calloc((size_t)(plan->n_ops > 0 ? plan->n_ops : 1), sizeof *plan->op_ns);
        if (plan->op_ns == NULL) {
            ember_set_error("profiling: out of memory");
            return EMBER_ERR_NO_MEMORY;
        }
    }
    plan->profiling = enable ? 1 : 0;
    return EMBER_OK;
}

unsigned long long ember_plan_op_time_ns(const ember_plan *plan, int32_t i) {
    return (plan && plan->op_ns && i >= 0 && i < plan->n_ops) ? plan->op_ns[i] : 0;
}
