/* The dispatch table, filled from kernel_list.def at compile time; the
 * run-time part (which ISA the CPU has) is ember_isa_available(). */
#include "ember/kernels.h"

#include <stddef.h>

#if defined(EMBER_HAVE_X86_SIMD)
#define EMBER_IF_SSE41(...) __VA_ARGS__
#define EMBER_IF_AVX2(...) __VA_ARGS__
#else
#define EMBER_IF_SSE41(...)
#define EMBER_IF_AVX2(...)
#endif
#if defined(EMBER_HAVE_NEON)
#define EMBER_IF_NEON(...) __VA_ARGS__
#else
#define EMBER_IF_NEON(...)
#endif
#if defined(EMBER_HAVE_NEONDOT)
#define EMBER_IF_NEONDOT(...) __VA_ARGS__
#else
#define EMBER_IF_NEONDOT(...)
#endif

#define EMBER_KERNEL_TYPE_QGEMM ember_qgemm_ukernel
#define EMBER_KERNEL_TYPE_DWCONV ember_dwconv_ukernel
#define EMBER_KERNEL_TYPE_QGEMM_NARROW ember_qgemm_ukernel
#define EMBER_KERNEL_TYPE_ADD ember_add_ukernel
#define EMBER_KERNEL_TYPE_AVGPOOL ember_pool_ukernel
#define EMBER_KERNEL_TYPE_MAXPOOL ember_pool_ukernel

#define EMBER_KERNEL(kernel, isa, desc) EMBER_IF_##isa(extern const EMBER_KERNEL_TYPE_##kernel desc;)
#include "cpu/kernel_list.def"
#undef EMBER_KERNEL

static const void *const ember_dispatch[EMBER_KERNEL_COUNT][EMBER_ISA_COUNT] = {
#define EMBER_KERNEL(kernel, isa, desc) EMBER_IF_##isa([EMBER_KERNEL_##kernel][EMBER_ISA_##isa] = &desc, )
#include "cpu/kernel_list.def"
#undef EMBER_KERNEL
};

const char *ember_kernel_name(int kernel) {
    switch (kernel) {
    case EMBER_KERNEL_QGEMM: return "qgemm";
    case EMBER_KERNEL_DWCONV: return "dwconv";
    case EMBER_KERNEL_QGEMM_NARROW: return "qgemm_narrow";
    case EMBER_KERNEL_ADD: return "add";
    case EMBER_KERNEL_AVGPOOL: return "avgpool";
    case EMBER_KERNEL_MAXPOOL: return "maxpool";
    default: return "?";
    }
}

const void *ember_kernel_variant(ember_kernel_id kernel, ember_isa isa) {
    if ((int)kernel < 0 || kernel >= EMBER_KERNEL_COUNT || (int)isa < 0 || isa >= EMBER_ISA_COUNT) return NULL;
    return ember_dispatch[kernel][isa];
}

const void *ember_kernel_select(ember_kernel_id kernel, ember_isa isa, ember_isa *used) {
    /* Candidates in preference order for each requested ISA. */
    ember_isa chain[3];
    int n = 0;
    switch (isa) {
    case EMBER_ISA_AVX2: chain[n++] = EMBER_ISA_AVX2; chain[n++] = EMBER_ISA_SSE41; break;
    case EMBER_ISA_SSE41: chain[n++] = EMBER_ISA_SSE41; break;
    case EMBER_ISA_NEONDOT: chain[n++] = EMBER_ISA_NEONDOT; chain[n++] = EMBER_ISA_NEON; break;
    case EMBER_ISA_NEON: chain[n++] = EMBER_ISA_NEON; break;
    default: break;
    }
    for (int i = 0; i < n; ++i) {
        const void *v = ember_kernel_variant(kernel, chain[i]);
        if (v && ember_isa_available(chain[i])) {
            if (used) *used = chain[i];
            return v;
        }
    }
    if (used) *used = EMBER_ISA_SCALAR;
    return NULL;
}
