/* Plan life cycle over fake op adapters: correct results through a chain,
 * memory sharing, zero-copy inputs, and every build/run error path. */
#include <stdint.h>
#include <string.h>

#include "ember/plan.h"
#include "ember_test.h"

/* ADD_CONST: out = saturate(in0 + p[0] + sum(in1 if present)); scratch p[1] bytes, persistent 4 bytes. */
static const char *const add_const_params[] = {"value", "scratch"};
static int init_calls = 0;

static ember_status add_const_prepare(const ember_op *op, const ember_tensor *t, size_t *scratch, size_t *persistent) {
    if (op->n_in < 1 || op->in[0] < 0 || t[op->in[0]].dtype != EMBER_DT_INT8 || t[op->out[0]].bytes != t[op->in[0]].bytes) {
        ember_set_error("bad tensors");
        return EMBER_ERR_ARG;
    }
    *scratch = (size_t)op->p[1];
    *persistent = 4;
    return EMBER_OK;
}

static ember_status add_const_init(ember_op *op, const ember_tensor *t) {
    int32_t v = op->p[0];
    memcpy(op->persistent, &v, 4);
    ++init_calls;
    return EMBER_OK;
}

static ember_status add_const_run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    const int8_t *x = (const int8_t *)t[op->in[0]].data;
    const int8_t *y = (op->n_in > 1 && op->in[1] >= 0) ? (const int8_t *)t[op->in[1]].data : NULL;
    int8_t *out = (int8_t *)t[op->out[0]].data;
    int32_t v;
    size_t i;
    if (ctx->scratch_bytes < (size_t)op->p[1]) return EMBER_ERR_NO_MEMORY;
    if (op->p[1] > 0) memset(ctx->scratch, 0x5A, (size_t)op->p[1]); /* scribble: must not hit tensors */
    memcpy(&v, op->persistent, 4);
    for (i = 0; i < t[op->out[0]].bytes; ++i) {
        int32_t r = x[i] + v + (y ? y[i] : 0);
        out[i] = (int8_t)(r > 127 ? 127 : (r < -128 ? -128 : r));
    }
    return EMBER_OK;
}

static const ember_op_adapter add_const = {"ADD_CONST", add_const_params, 2, add_const_prepare, add_const_init, add_const_run};

static ember_status fail_prepare(const ember_op *op, const ember_tensor *t, size_t *s, size_t *p) {
    ember_set_error("the shape is wrong");
    return EMBER_ERR_ARG;
}
static ember_status fail_run(const ember_op *op, ember_tensor *t, const ember_run_ctx *ctx) {
    ember_set_error("kernel exploded");
    return EMBER_ERR_UNSUPPORTED;
}
static ember_status ok_prepare(const ember_op *op, const ember_tensor *t, size_t *s, size_t *p) { return EMBER_OK; }

static const ember_op_adapter bad_prepare = {"BAD_PREPARE", NULL, 0, fail_prepare, NULL, fail_run};
static const ember_op_adapter bad_run = {"BAD_RUN", NULL, 0, ok_prepare, NULL, fail_run};

static const ember_op_adapter *const table[] = {&add_const, &bad_prepare, &bad_run};
enum { OP_ADD = 0, OP_BAD_PREPARE = 1, OP_BAD_RUN = 2 };

static int contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

static int32_t act(ember_plan *plan, int32_t n) {
    int32_t id = -1, dims[2] = {1, 0};
    dims[1] = n;
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 2, dims, 0.5f, 0, NULL, &id), EMBER_OK);
    return id;
}

static void test_chain(void) {
    /* x -> +1 -> a -> +2 -> b -> +3 -> c -> (+c) -> y ; 6 tensors of 100 bytes */
    ember_plan *plan = ember_plan_create_with_ops(table, 3);
    ember_plan_memory_info mem;
    int8_t x[100], y[100];
    int8_t y2[100];
    const void *ins[1];
    void *outs[1];
    int32_t t[5], i, p[2];
    for (i = 0; i < 5; ++i) t[i] = act(plan, 100);
    for (i = 0; i < 3; ++i) {
        p[0] = i + 1;
        p[1] = 64;
        CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &t[i], 1, &t[i + 1], 2, p), EMBER_OK);
    }
    {
        int32_t in2[2];
        in2[0] = t[3];
        in2[1] = t[3];
        p[0] = 0;
        p[1] = 0;
        CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 2, in2, 1, &t[4], 2, p), EMBER_OK);
    }
    CHECK_EQ_INT(ember_plan_run(plan, NULL, NULL), EMBER_ERR_STATE);
    CHECK(contains(ember_last_error(), "not finalized"));
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &t[0], 1, &t[4]), EMBER_OK);
    CHECK_EQ_INT(ember_plan_finalize(plan, 1), EMBER_OK);
    CHECK_EQ_INT(init_calls, 4);
    CHECK_EQ_INT(ember_plan_memory(plan, &mem), EMBER_OK);
    CHECK_EQ_INT(mem.naive_activation_bytes, 5 * 112);
    CHECK_EQ_INT(mem.activation_bytes, 2 * 112); /* a chain needs two live buffers */
    CHECK_EQ_INT(mem.scratch_bytes, 64);
    CHECK_EQ_INT(mem.arena_bytes, 2 * 112 + 64);
    CHECK_EQ_INT(mem.persistent_bytes, 16);
    for (i = 0; i < 100; ++i) x[i] = (int8_t)(i - 50);
    ins[0] = x;
    outs[0] = y;
    CHECK_EQ_INT(ember_plan_run(plan, ins, outs), EMBER_OK);
    for (i = 0; i < 100; ++i) {
        int32_t want = 2 * ((i - 50) + 6);
        want = want > 127 ? 127 : (want < -128 ? -128 : want);
        CHECK_EQ_INT(y[i], want);
    }
    /* The input binding was undone: writing the arena input slot works too. */
    CHECK(ember_plan_tensor(plan, t[0])->data != (void *)x);
    memcpy(ember_plan_tensor(plan, t[0])->data, x, 100);
    outs[0] = y2;
    CHECK_EQ_INT(ember_plan_run(plan, NULL, outs), EMBER_OK);
    CHECK(memcmp(y, y2, 100) == 0);
    /* No changes after finalize. */
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 2, ember_plan_tensor(plan, 0)->dims, 1.f, 0, NULL, &i),
                 EMBER_ERR_STATE);
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &t[0], 1, &t[1], 2, p), EMBER_ERR_STATE);
    CHECK_EQ_INT(ember_plan_finalize(plan, 1), EMBER_ERR_STATE);
    ember_plan_destroy(plan);
}

static void test_tensor_errors(void) {
    ember_plan *plan = ember_plan_create_with_ops(table, 3);
    int32_t id, dims[7] = {1, 2, 3, 4, 5, 6, 7};
    int32_t neg[2] = {2, -1}, zero[2] = {2, 0}, huge[3] = {65536, 65536, 2};
    int16_t odd_storage[4];
    CHECK_EQ_INT(ember_plan_add_tensor(plan, 99, 1, dims, 1.f, 0, NULL, &id), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "dtype"));
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 7, dims, 1.f, 0, NULL, &id), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "rank"));
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 2, neg, 1.f, 0, NULL, &id), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 2, zero, 1.f, 0, NULL, &id), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 3, huge, 1.f, 0, NULL, &id), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "overflow"));
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT16, 1, dims, 1.f, 0, (const char *)odd_storage + 1, &id),
                 EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "aligned"));
    CHECK_EQ_INT(ember_plan_num_tensors(plan), 0);
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 0, NULL, 1.f, 0, NULL, &id), EMBER_OK); /* scalar */
    CHECK_EQ_INT(ember_plan_tensor(plan, id)->bytes, 1);
    ember_plan_destroy(plan);
}

static void test_op_errors(void) {
    ember_plan *plan = ember_plan_create_with_ops(table, 3);
    int32_t a = act(plan, 8), b = act(plan, 8), bad = 5, p[2] = {1, 0};
    CHECK_EQ_INT(ember_plan_add_op(plan, 3, 1, &a, 1, &b, 0, NULL), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "unknown op type"));
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &a, 1, &b, 1, p), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "params"));
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &bad, 1, &b, 2, p), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &a, 1, &bad, 2, p), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &a, 0, &b, 2, p), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 17, &a, 1, &b, 2, p), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_num_ops(plan), 0);
    CHECK_EQ_INT(ember_plan_finalize(plan, 1), EMBER_ERR_STATE); /* no set_io */
    ember_plan_destroy(plan);
    /* The real op table rejects types it does not have. */
    plan = ember_plan_create();
    a = act(plan, 8);
    b = act(plan, 8);
    CHECK_EQ_INT(ember_plan_add_op(plan, ember_op_count, 1, &a, 1, &b, 0, NULL), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_op_find("NO_SUCH_OP"), -1);
    ember_plan_destroy(plan);
}

/* Build x -> op -> y with op given; return finalize status. */
static ember_status single(int32_t type, int use_io, int wire) {
    ember_plan *plan = ember_plan_create_with_ops(table, 3);
    int32_t x = act(plan, 8), y = act(plan, 8), z = act(plan, 8), p[2] = {1, 0};
    ember_status st;
    int32_t np = type == OP_ADD ? 2 : 0;
    if (wire == 0) ember_plan_add_op(plan, type, 1, &x, 1, &y, np, p);
    if (wire == 1) ember_plan_add_op(plan, type, 1, &z, 1, &y, np, p);  /* z never written */
    if (wire == 2) {                                                    /* y written twice */
        ember_plan_add_op(plan, type, 1, &x, 1, &y, np, p);
        ember_plan_add_op(plan, type, 1, &x, 1, &y, np, p);
    }
    if (wire == 3) ember_plan_add_op(plan, type, 1, &x, 1, &x, np, p);  /* writes the model input */
    if (use_io) ember_plan_set_io(plan, 1, &x, 1, wire == 4 ? &z : &y);
    st = ember_plan_finalize(plan, 1);
    if (st == EMBER_OK) {
        int8_t in[8] = {0}, out[8];
        const void *ins[1];
        void *outs[1];
        ins[0] = in;
        outs[0] = out;
        st = ember_plan_run(plan, ins, outs);
    }
    ember_plan_destroy(plan);
    return st;
}

static void test_graph_errors(void) {
    CHECK_EQ_INT(single(OP_ADD, 1, 0), EMBER_OK);
    CHECK_EQ_INT(single(OP_ADD, 0, 0), EMBER_ERR_STATE);
    CHECK(contains(ember_last_error(), "set_io"));
    CHECK_EQ_INT(single(OP_ADD, 1, 1), EMBER_ERR_PLAN);
    CHECK(contains(ember_last_error(), "before any op writes it"));
    CHECK_EQ_INT(single(OP_ADD, 1, 2), EMBER_ERR_PLAN);
    CHECK(contains(ember_last_error(), "already written"));
    CHECK_EQ_INT(single(OP_ADD, 1, 3), EMBER_ERR_PLAN);
    CHECK_EQ_INT(single(OP_ADD, 1, 4), EMBER_ERR_PLAN);
    CHECK(contains(ember_last_error(), "never written"));
    CHECK_EQ_INT(single(OP_BAD_PREPARE, 1, 0), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "op 0 (BAD_PREPARE): the shape is wrong"));
    CHECK_EQ_INT(single(OP_BAD_RUN, 1, 0), EMBER_ERR_UNSUPPORTED);
    CHECK(contains(ember_last_error(), "op 0 (BAD_RUN): kernel exploded"));
}

static void test_io_errors(void) {
    ember_plan *plan = ember_plan_create_with_ops(table, 3);
    int8_t w[8] = {0};
    int32_t x = act(plan, 8), c, dims[2] = {1, 8}, two[2], bad = 9;
    CHECK_EQ_INT(ember_plan_add_tensor(plan, EMBER_DT_INT8, 2, dims, 1.f, 0, w, &c), EMBER_OK);
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &c, 1, &x), EMBER_ERR_ARG);
    CHECK(contains(ember_last_error(), "constant"));
    two[0] = x;
    two[1] = x;
    CHECK_EQ_INT(ember_plan_set_io(plan, 2, two, 1, &x), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &x, 1, &bad), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &x, 0, &x), EMBER_ERR_ARG);
    /* A model whose output is its input (no ops) is valid. */
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &x, 1, &x), EMBER_OK);
    CHECK_EQ_INT(ember_plan_finalize(plan, 0), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_finalize(plan, 1), EMBER_ERR_STATE); /* failed finalize is final */
    ember_plan_destroy(plan);
    plan = ember_plan_create_with_ops(table, 3);
    x = act(plan, 8);
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &x, 1, &x), EMBER_OK);
    CHECK_EQ_INT(ember_plan_finalize(plan, 2), EMBER_OK);
    {
        int8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8] = {0};
        const void *ins[1];
        void *outs[1];
        ins[0] = in;
        outs[0] = out;
        CHECK_EQ_INT(ember_plan_run(plan, ins, outs), EMBER_OK);
        CHECK(memcmp(in, out, 8) == 0);
    }
    ember_plan_destroy(plan);
}

/* x -> ADD_CONST (scratch 64, persistent 4) -> y: arena 2*112 + 64 = 288, persistent 16 (aligned). */
static ember_status limited(size_t limit, int set_after_finalize) {
    ember_plan *plan = ember_plan_create_with_ops(table, 3);
    int32_t x = act(plan, 100), y = act(plan, 100), p[2] = {1, 64};
    ember_status st;
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &x, 1, &y, 2, p), EMBER_OK);
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &x, 1, &y), EMBER_OK);
    if (!set_after_finalize) CHECK_EQ_INT(ember_plan_set_memory_limit(plan, limit), EMBER_OK);
    st = ember_plan_finalize(plan, 1);
    if (set_after_finalize) CHECK_EQ_INT(ember_plan_set_memory_limit(plan, limit), EMBER_ERR_STATE);
    ember_plan_destroy(plan);
    return st;
}

static void test_memory_limit(void) {
    ember_plan_memory_info mem;
    ember_plan *plan;
    int32_t x, y, p[2] = {1, 64};
    CHECK_EQ_INT(limited(0, 0), EMBER_OK); /* 0: no limit */
    /* Find the exact need from an unlimited plan, then probe the boundary. */
    plan = ember_plan_create_with_ops(table, 3);
    x = act(plan, 100);
    y = act(plan, 100);
    CHECK_EQ_INT(ember_plan_add_op(plan, OP_ADD, 1, &x, 1, &y, 2, p), EMBER_OK);
    CHECK_EQ_INT(ember_plan_set_io(plan, 1, &x, 1, &y), EMBER_OK);
    CHECK_EQ_INT(ember_plan_finalize(plan, 1), EMBER_OK);
    CHECK_EQ_INT(ember_plan_memory(plan, &mem), EMBER_OK);
    ember_plan_destroy(plan);
    CHECK_EQ_INT(mem.arena_bytes, 2 * 112 + 64);
    CHECK_EQ_INT(limited(mem.arena_bytes + mem.persistent_bytes, 0), EMBER_OK);
    CHECK_EQ_INT(limited(mem.arena_bytes + mem.persistent_bytes - 1, 0), EMBER_ERR_NO_MEMORY);
    CHECK(contains(ember_last_error(), "more than the memory limit"));
    CHECK(contains(ember_last_error(), "scratch 64"));
    CHECK_EQ_INT(limited(mem.arena_bytes, 1), EMBER_OK); /* too late once finalized */
    CHECK_EQ_INT(ember_plan_set_memory_limit(NULL, 1), EMBER_ERR_ARG);
}

int main(void) {
    test_chain();
    test_memory_limit();
    test_tensor_errors();
    test_op_errors();
    test_graph_errors();
    test_io_errors();
    CHECK(ember_dtype_size(EMBER_DT_INT8) == 1 && ember_dtype_size(EMBER_DT_INT16) == 2 &&
          ember_dtype_size(EMBER_DT_FLOAT32) == 4 && ember_dtype_size(EMBER_DT_INT64) == 8 && ember_dtype_size(0) == 0);
    TEST_DONE("test_plan");
}
