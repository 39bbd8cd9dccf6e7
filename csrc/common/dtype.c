#include "ember/op.h"

size_t ember_dtype_size(int32_t dtype) {
    switch (dtype) {
    case EMBER_DT_INT8: return 1;
    case EMBER_DT_UINT8: return 1;
    case EMBER_DT_INT16: return 2;
    case EMBER_DT_INT32: return 4;
    case EMBER_DT_INT64: return 8;
    case EMBER_DT_FLOAT32: return 4;
    }
    return 0;
}
