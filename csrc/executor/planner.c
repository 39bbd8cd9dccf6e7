/* Greedy-by-size arena planner (see ember/planner.h). O(n^2) in buffers,
 * run once at finalize. */
#include <stdlib.h>

#include "ember/op.h"
#include "ember/planner.h"

typedef struct {
    size_t size;
    int32_t first;
    int32_t index;
} sort_key;

/* Largest first; ties: earlier first use, then lower index (deterministic). */
static int by_size_desc(const void *a, const void *b) {
    const sort_key *x = (const sort_key *)a, *y = (const sort_key *)b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static int lifetimes_intersect(const ember_plan_buffer *a, const ember_plan_buffer *b) {
    return a->first <= b->last && b->first <= a->last;
}

ember_status ember_plan_memory_greedy(ember_plan_buffer *buffers, int32_t n, size_t alignment, size_t *total) {
    sort_key *keys;
    int32_t *order, *placed, *live;
    int32_t n_placed = 0, i, j, k;
    size_t end = 0;
    if (total == NULL || n < 0 || (n > 0 && buffers == NULL) || alignment == 0 || (alignment & (alignment - 1)) != 0) {
        ember_set_error("planner: invalid arguments");
        return EMBER_ERR_ARG;
    }
    *total = 0;
    for (i = 0; i < n; ++i) {
        if (buffers[i].last < buffers[i].first) {
            ember_set_error("planner: buffer %d has lifetime [%d, %d]", (int)i, (int)buffers[i].first, (int)buffers[i].last);
            return EMBER_ERR_ARG;
        }
        if (buffers[i].size > (size_t)-1 - alignment) {
            ember_set_error("planner: buffer %d too large", (int)i);
            return EMBER_ERR_ARG;
        }
        buffers[i].size = (buffers[i].size + alignment - 1) & ~(alignment - 1);
        buffers[i].offset = 0;
    }
    if (n == 0) return EMBER_OK;
    keys = (sort_key *)malloc(sizeof(sort_key) * (size_t)n);
    order = (int32_t *)malloc(sizeof(int32_t) * (size_t)n * 3);
    if (keys == NULL || order == NULL) {
        free(keys);
        free(order);
        ember_set_error("planner: out of memory");
        return EMBER_ERR_NO_MEMORY;
    }
    placed = order + n; /* placed buffers, in placement order */
    live = placed + n;  /* placed buffers overlapping in time, sorted by offset */
    for (i = 0; i < n; ++i) {
        keys[i].size = buffers[i].size;
        keys[i].first = buffers[i].first;
        keys[i].index = i;
    }
    qsort(keys, (size_t)n, sizeof(sort_key), by_size_desc);
    for (i = 0; i < n; ++i) order[i] = keys[i].index;
    free(keys);

    for (i = 0; i < n; ++i) {
        ember_plan_buffer *cur = &buffers[order[i]];
        int32_t n_live = 0;
        size_t candidate = 0;
        if (cur->size == 0) continue;
        /* Insertion-sort the time-overlapping placed buffers by offset. */
        for (j = 0; j < n_placed; ++j) {
            const ember_plan_buffer *other = &buffers[placed[j]];
            if (!lifetimes_intersect(cur, other)) continue;
            k = n_live++;
            while (k > 0 && buffers[live[k - 1]].offset > other->offset) {
                live[k] = live[k - 1];
                --k;
            }
            live[k] = placed[j];
        }
        /* First gap (from offset 0 upward) that fits. */
        for (j = 0; j < n_live; ++j) {
            const ember_plan_buffer *other = &buffers[live[j]];
            if (candidate + cur->size <= other->offset) break;
            if (other->offset + other->size > candidate) candidate = other->offset + other->size;
        }
        cur->offset = candidate;
        placed[n_placed++] = order[i];
        if (candidate + cur->size > end) end = candidate + cur->size;
    }
    free(order);
    *total = end;
    return EMBER_OK;
}
