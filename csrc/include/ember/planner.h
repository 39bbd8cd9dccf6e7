/* Arena memory planner (greedy by size over tensor lifetimes).
 *
 * Like TFLite Micro's GreedyMemoryPlanner: buffers are placed largest first;
 * each goes at the lowest offset where it does not overlap any already placed
 * buffer whose lifetime [first, last] (op indices, inclusive) intersects its
 * own. Sizes are rounded up to `alignment`, so every offset is aligned too.
 * Buffers of size 0 get offset 0 and take no space. */
#ifndef EMBER_PLANNER_H
#define EMBER_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t size;     /* bytes */
    int32_t first;   /* first op index using the buffer (inclusive) */
    int32_t last;    /* last op index using the buffer (inclusive), >= first */
    size_t offset;   /* out */
} ember_plan_buffer;

/* alignment: a power of two. On success *total is the arena size needed.
 * Allocates temporary memory (build time only): EMBER_ERR_NO_MEMORY. */
ember_status ember_plan_memory_greedy(ember_plan_buffer *buffers, int32_t n, size_t alignment, size_t *total);

#ifdef __cplusplus
}
#endif
#endif
