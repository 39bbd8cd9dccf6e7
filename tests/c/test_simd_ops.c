/* The conv-family adapters end to end through the executor: the same plan
 * built with the scalar ISA and with every available SIMD ISA, on 1 and 2
 * threads, gives identical bytes; SIMD plans prepack (persistent bytes > 0),
 * scalar plans do not; per-op profiling records times. */
#include <stdlib.h>
#include <string.h>

#include "ember/cpu.h"
#include "ember/plan.h"
#include "test_harness.h"

typedef struct {
    const char *op;
    int32_t in_dims[4], in_rank;
    int32_t w_dims[4], w_rank;
    int32_t out_dims[4], out_rank;
    int32_t oc;
    int32_t params[16], n_params;
} op_case;

static int64_t count(const int32_t *d, int r) {
    int64_t n = 1;
    for (int i = 0; i < r; ++i) n *= d[i];
    return n;
}

/* Builds, finalizes and runs the case with `isa` active; returns status and
 * fills out; *persistent receives the plan's persistent bytes. */
static ember_status run_plan(const op_case *c, ember_isa isa, int threads, const int8_t *x, const int8_t *w,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *out,
                             size_t *persistent, unsigned long long *op_ns) {
    if (ember_isa_set(isa) != EMBER_OK) return EMBER_ERR_UNSUPPORTED;
    ember_plan *p = ember_plan_create();
    int32_t tx, tw, tb, tm, ts, ty;
    const int32_t oc1[1] = {c->oc};
    ember_status st = ember_plan_add_tensor(p, EMBER_DT_INT8, c->in_rank, c->in_dims, 1.f, 0, NULL, &tx);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT8, c->w_rank, c->w_dims, 1.f, 0, w, &tw);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT32, 1, oc1, 1.f, 0, bias, &tb);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT32, 1, oc1, 1.f, 0, mult, &tm);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT32, 1, oc1, 1.f, 0, shift, &ts);
    if (!st) st = ember_plan_add_tensor(p, EMBER_DT_INT8, c->out_rank, c->out_dims, 1.f, 0, NULL, &ty);
    const int32_t ins[5] = {tx, tw, tb, tm, ts};
    if (!st) st = ember_plan_add_op(p, ember_op_find(c->op), 5, ins, 1, &ty, c->n_params, c->params);
    if (!st) st = ember_plan_set_io(p, 1, &tx, 1, &ty);
    if (!st) st = ember_plan_finalize(p, threads);
    if (!st) st = ember_plan_set_profiling(p, 1);
    const void *inputs[1] = {x};
    void *outputs[1] = {out};
    if (!st) st = ember_plan_run(p, inputs, outputs);
    if (!st) st = ember_plan_run(p, inputs, outputs); /* twice: packed weights are reused */
    ember_plan_memory_info mi;
    if (!st && ember_plan_memory(p, &mi) == EMBER_OK) *persistent = mi.persistent_bytes;
    *op_ns = ember_plan_op_time_ns(p, 0);
    if (st) fprintf(stderr, "%s on %s: %s\n", c->op, ember_isa_name(isa), ember_last_error());
    ember_plan_destroy(p);
    return st;
}

static void check_case(const op_case *c, int expect_simd) {
    const int64_t nx = count(c->in_dims, c->in_rank), nw = count(c->w_dims, c->w_rank),
                  ny = count(c->out_dims, c->out_rank);
    int8_t *x = malloc(nx), *w = malloc(nw), *ref = malloc(ny), *got = malloc(ny);
    int32_t *bias = malloc(4 * c->oc), *mult = malloc(4 * c->oc), *shift = malloc(4 * c->oc);
    for (int64_t i = 0; i < nx; ++i) x[i] = (int8_t)th_range(-128, 127);
    for (int64_t i = 0; i < nw; ++i) w[i] = (int8_t)th_range(-127, 127);
    for (int i = 0; i < c->oc; ++i) {
        bias[i] = th_range(-5000, 5000);
        mult[i] = th_range(1 << 30, INT32_MAX);
        shift[i] = th_range(-10, -5);
    }
    size_t pers = 0;
    unsigned long long ns = 0;
    TH_CHECK(run_plan(c, EMBER_ISA_SCALAR, 1, x, w, bias, mult, shift, ref, &pers, &ns) == EMBER_OK, "%s scalar",
             c->op);
    TH_CHECK(pers == 0, "%s: scalar plan prepacks nothing (%zu)", c->op, pers);
    TH_CHECK(ns > 0, "%s: profiling recorded a time", c->op);
    for (int i = 1; i < EMBER_ISA_COUNT; ++i) {
        if (!ember_isa_available((ember_isa)i)) continue;
        for (int threads = 1; threads <= 2; ++threads) {
            memset(got, 0x33, ny);
            TH_CHECK(run_plan(c, (ember_isa)i, threads, x, w, bias, mult, shift, got, &pers, &ns) == EMBER_OK,
                     "%s %s", c->op, ember_isa_name(i));
            TH_CHECK(memcmp(got, ref, ny) == 0, "%s on %s x%d threads equals scalar", c->op, ember_isa_name(i),
                     threads);
            TH_CHECK(expect_simd ? pers > 0 : pers == 0, "%s on %s: prepacked=%zu expected %s", c->op,
                     ember_isa_name(i), pers, expect_simd ? "yes" : "no");
        }
    }
    free(x), free(w), free(ref), free(got), free(bias), free(mult), free(shift);
}

int main(void) {
    /* CONV_2D 3x3 stride 2 SAME-ish, zp -3 -> input_offset 3 */
    op_case conv = {"CONV_2D", {1, 9, 8, 13}, 4, {19, 3, 3, 13}, 4, {1, 5, 4, 19}, 4, 19,
                    {2, 2, 1, 1, 1, 1, 3, -7, -128, 127}, 10};
    check_case(&conv, 1);
    op_case conv1 = {"CONV_2D", {2, 5, 5, 32}, 4, {40, 1, 1, 32}, 4, {2, 5, 5, 40}, 4, 40,
                     {1, 1, 1, 1, 0, 0, 128, 5, 0, 127}, 10};
    check_case(&conv1, 1);
    /* grouped conv (filter channels 4 of 8): scalar only */
    op_case grouped = {"CONV_2D", {1, 4, 4, 8}, 4, {6, 1, 1, 4}, 4, {1, 4, 4, 6}, 4, 6,
                       {1, 1, 1, 1, 0, 0, 0, 0, -128, 127}, 10};
    check_case(&grouped, 0);
    op_case dw = {"DEPTHWISE_CONV_2D", {1, 10, 9, 21}, 4, {1, 3, 3, 21}, 4, {1, 10, 9, 21}, 4, 21,
                  {1, 1, 1, 1, 1, 1, 1, 12, -7, -128, 127}, 11};
    check_case(&dw, 1);
    op_case dw2 = {"DEPTHWISE_CONV_2D", {1, 6, 6, 5}, 4, {1, 3, 3, 10}, 4, {1, 4, 4, 10}, 4, 10,
                   {1, 1, 1, 1, 0, 0, 2, 0, 0, -128, 127}, 11};
    check_case(&dw2, 1); /* depth multiplier 2: SIMD on the expanded input channels */
    op_case fc = {"FULLY_CONNECTED", {3, 70}, 2, {37, 70}, 2, {3, 37}, 2, 37, {-4, 0, 9, -128, 127, 0}, 6};
    check_case(&fc, 1);
    op_case fc_asym = {"FULLY_CONNECTED", {1, 16}, 2, {8, 16}, 2, {1, 8}, 2, 8, {-4, 3, 9, -128, 127, 0}, 6};
    check_case(&fc_asym, 0); /* filter offset != 0: scalar only */
    ember_isa_set(ember_isa_best());
    return th_finish("test_simd_ops");
}
