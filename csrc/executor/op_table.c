/* The op table: one entry per line of op_list.def, in that order.
 * An op's type in an ember_op record is its index here. The trailing NULL
 * keeps the array non-empty when no op is listed. */
#include <string.h>

#include "ember/op.h"

#define EMBER_OP(NAME, SYMBOL) extern const ember_op_adapter SYMBOL;
#include "op_list.def"
#undef EMBER_OP

const ember_op_adapter *const ember_op_table[] = {
#define EMBER_OP(NAME, SYMBOL) &SYMBOL,
#include "op_list.def"
#undef EMBER_OP
    NULL};

const int32_t ember_op_count = (int32_t)(sizeof(ember_op_table) / sizeof(ember_op_table[0]) - 1);

int32_t ember_op_find(const char *name) {
    int32_t i;
    if (name == NULL) return -1;
    for (i = 0; i < ember_op_count; ++i) {
        if (strcmp(ember_op_table[i]->name, name) == 0) return i;
    }
    return -1;
}
