/* Broadcast strides for binary elementwise ops (see ember/ops/broadcast.h). */
#include "ember/ops/broadcast.h"

ember_status ember_broadcast_init(ember_broadcast *bc,
                                  const int32_t *dims_a, int32_t ndim_a,
                                  const int32_t *dims_b, int32_t ndim_b,
                                  const int32_t *dims_out, int32_t ndim_out) {
    if (ndim_a < 0 || ndim_b < 0 || ndim_out < 0 || ndim_a > EMBER_MAX_DIMS ||
        ndim_b > EMBER_MAX_DIMS || ndim_out > EMBER_MAX_DIMS) {
        ember_set_error("broadcast: rank out of range (%d, %d -> %d)", (int)ndim_a, (int)ndim_b,
                        (int)ndim_out);
        return EMBER_ERR_ARG;
    }
    if (ndim_a > ndim_out || ndim_b > ndim_out) {
        ember_set_error("broadcast: output rank %d is below an input rank (%d, %d)",
                        (int)ndim_out, (int)ndim_a, (int)ndim_b);
        return EMBER_ERR_ARG;
    }
    const int32_t nd = ndim_out > 0 ? ndim_out : 1;
    int32_t sa = 1, sb = 1;
    int same = (ndim_a == ndim_out && ndim_b == ndim_out);
    bc->ndim = nd;
    bc->count = 1;
    for (int32_t i = nd - 1; i >= 0; --i) {
        const int32_t o = ndim_out > 0 ? dims_out[i] : 1;
        const int32_t ia = i - (nd - ndim_a);
        const int32_t ib = i - (nd - ndim_b);
        const int32_t da = ia >= 0 ? dims_a[ia] : 1;
        const int32_t db = ib >= 0 ? dims_b[ib] : 1;
        if (o < 0 || da < 0 || db < 0) {
            ember_set_error("broadcast: negative dim");
            return EMBER_ERR_ARG;
        }
        if ((da != o && da != 1) || (db != o && db != 1) || (da == 1 && db == 1 && o != 1)) {
            ember_set_error("broadcast: dim %d: inputs %d and %d do not broadcast to %d", (int)i,
                            (int)da, (int)db, (int)o);
            return EMBER_ERR_ARG;
        }
        if (da != o || db != o) same = 0;
        bc->dims[i] = o;
        bc->stride_a[i] = (da == 1 && o != 1) ? 0 : sa;
        bc->stride_b[i] = (db == 1 && o != 1) ? 0 : sb;
        sa *= da;
        sb *= db;
        bc->count *= o;
    }
    for (int32_t i = nd; i < EMBER_MAX_DIMS; ++i) {
        bc->dims[i] = 1;
        bc->stride_a[i] = bc->stride_b[i] = 0;
    }
    bc->same_shape = same;
    return EMBER_OK;
}
