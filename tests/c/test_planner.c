/* Memory planner: live tensors never overlap, offsets are aligned, the arena
 * is between the peak live bytes and the naive sum, and chains reuse memory. */
#include <stdlib.h>
#include <string.h>

#include "ember/planner.h"
#include "ember_test.h"

#define ALIGN 16

static unsigned rng_state = 12345u;
static unsigned rng(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xFFFFFF;
}

static size_t align_up(size_t x) { return (x + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

static void check_random_case(int n, int n_ops) {
    ember_plan_buffer b[64];
    size_t orig[64], total = 0, naive = 0, peak = 0;
    int i, j, t;
    for (i = 0; i < n; ++i) {
        int a = (int)(rng() % (unsigned)n_ops), c = (int)(rng() % (unsigned)n_ops);
        b[i].first = a < c ? a : c;
        b[i].last = a < c ? c : a;
        b[i].size = (rng() % 5 == 0) ? 0 : 1 + rng() % 5000;
        orig[i] = b[i].size;
        naive += align_up(b[i].size);
    }
    CHECK_EQ_INT(ember_plan_memory_greedy(b, n, ALIGN, &total), EMBER_OK);
    for (i = 0; i < n; ++i) {
        CHECK(b[i].offset % ALIGN == 0);
        CHECK(b[i].size == align_up(orig[i]));
        CHECK(b[i].offset + b[i].size <= total);
        for (j = 0; j < i; ++j) {
            int live_together = b[i].first <= b[j].last && b[j].first <= b[i].last;
            int overlap = b[i].offset < b[j].offset + b[j].size && b[j].offset < b[i].offset + b[i].size;
            if (b[i].size == 0 || b[j].size == 0) continue;
            if (live_together && overlap) {
                fprintf(stderr, "buffers %d [%d,%d] @%zu+%zu and %d [%d,%d] @%zu+%zu overlap\n", i, b[i].first,
                        b[i].last, b[i].offset, b[i].size, j, b[j].first, b[j].last, b[j].offset, b[j].size);
                ++ember_test_failures;
            }
        }
    }
    for (t = 0; t < n_ops; ++t) {
        size_t live = 0;
        for (i = 0; i < n; ++i)
            if (b[i].first <= t && t <= b[i].last) live += b[i].size;
        if (live > peak) peak = live;
    }
    CHECK(total <= naive);
    CHECK(total >= peak);
}

static void check_chain_reuses_memory(void) {
    /* t0 -> op0 -> t1 -> op1 -> t2 -> op2 -> t3 -> op3 -> t4 */
    ember_plan_buffer b[5];
    size_t total = 0;
    int i;
    for (i = 0; i < 5; ++i) {
        b[i].size = 1000;
        b[i].first = i == 0 ? 0 : i - 1;
        b[i].last = i == 4 ? 4 : i;
    }
    CHECK_EQ_INT(ember_plan_memory_greedy(b, 5, ALIGN, &total), EMBER_OK);
    CHECK_EQ_INT(total, 2 * align_up(1000)); /* two tensors are ever live together */
}

static void check_errors(void) {
    ember_plan_buffer b[1];
    size_t total = 7;
    b[0].size = 10;
    b[0].first = 3;
    b[0].last = 2;
    CHECK_EQ_INT(ember_plan_memory_greedy(b, 1, ALIGN, &total), EMBER_ERR_ARG);
    b[0].last = 3;
    CHECK_EQ_INT(ember_plan_memory_greedy(b, 1, 12, &total), EMBER_ERR_ARG); /* not a power of two */
    CHECK_EQ_INT(ember_plan_memory_greedy(b, 1, ALIGN, NULL), EMBER_ERR_ARG);
    CHECK_EQ_INT(ember_plan_memory_greedy(NULL, 0, ALIGN, &total), EMBER_OK);
    CHECK_EQ_INT(total, 0);
}

int main(void) {
    int k;
    for (k = 0; k < 300; ++k) check_random_case(1 + (int)(rng() % 64), 1 + (int)(rng() % 20));
    check_chain_reuses_memory();
    check_errors();
    TEST_DONE("test_planner");
}
