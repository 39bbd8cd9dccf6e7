/* ISA names, what this binary compiled, and the process-wide choice. */
#include "ember/cpu.h"

#include <stdlib.h>

static const char *const ember_isa_names[EMBER_ISA_COUNT] = {"scalar", "sse41", "avx2", "neon", "neondot"};

const char *ember_isa_name(int isa) {
    return (isa >= 0 && isa < EMBER_ISA_COUNT) ? ember_isa_names[isa] : "?";
}

static int ember_name_eq(const char *a, const char *b) {
    for (; *a && *b; ++a, ++b) {
        char ca = *a, cb = *b;
        if (ca >= 'A' && ca <= 'Z') ca = (char)(ca - 'A' + 'a');
        if (ca != cb) return 0;
    }
    return *a == 0 && *b == 0;
}

ember_status ember_isa_from_name(const char *name, ember_isa *isa) {
    if (!name || !isa) return EMBER_ERR_ARG;
    for (int i = 0; i < EMBER_ISA_COUNT; ++i) {
        if (ember_name_eq(name, ember_isa_names[i])) {
            *isa = (ember_isa)i;
            return EMBER_OK;
        }
    }
    return EMBER_ERR_ARG;
}

int ember_isa_compiled(ember_isa isa) {
    switch (isa) {
    case EMBER_ISA_SCALAR: return 1;
#if defined(EMBER_HAVE_X86_SIMD)
    case EMBER_ISA_SSE41: return 1;
    case EMBER_ISA_AVX2: return 1;
#endif
#if defined(EMBER_HAVE_NEON)
    case EMBER_ISA_NEON: return 1;
#endif
#if defined(EMBER_HAVE_NEONDOT)
    case EMBER_ISA_NEONDOT: return 1;
#endif
    default: return 0;
    }
}

int ember_isa_available(ember_isa isa) {
    return isa >= 0 && isa < EMBER_ISA_COUNT && ember_isa_compiled(isa) && ember_cpu_supports(isa);
}

ember_isa ember_isa_best(void) {
    static const ember_isa order[] = {EMBER_ISA_AVX2, EMBER_ISA_SSE41, EMBER_ISA_NEONDOT, EMBER_ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; ++i)
        if (ember_isa_available(order[i])) return order[i];
    return EMBER_ISA_SCALAR;
}

/* -1: not chosen yet (first use picks the best). Plain int: written only by
 * ember_isa_set/init_from_env, which callers run before loading models. */
static volatile int ember_active_isa = -1;

ember_isa ember_isa_active(void) {
    int isa = ember_active_isa;
    if (isa < 0) {
        isa = (int)ember_isa_best();
        ember_active_isa = isa;
    }
    return (ember_isa)isa;
}

const char *ember_isa_active_name(void) { return ember_isa_name(ember_isa_active()); }

ember_status ember_isa_set(ember_isa isa) {
    if ((int)isa < 0 || isa >= EMBER_ISA_COUNT) return EMBER_ERR_ARG;
    if (!ember_isa_available(isa)) return EMBER_ERR_UNSUPPORTED;
    ember_active_isa = (int)isa;
    return EMBER_OK;
}

ember_status ember_isa_init_from_env(void) {
    const char *env = getenv("EMBER_ISA");
    if (!env || !*env) return EMBER_OK;
    ember_isa isa;
    if (ember_isa_from_name(env, &isa) != EMBER_OK) return EMBER_ERR_ARG;
    return ember_isa_set(isa);
}

const char *ember_isa_available_list(void) {
    static char buf[64];
    static volatile int built = 0;
    if (!built) {
        static const ember_isa order[] = {EMBER_ISA_SCALAR, EMBER_ISA_SSE41, EMBER_ISA_AVX2, EMBER_ISA_NEON,
                                          EMBER_ISA_NEONDOT};
        size_t n = 0;
        for (size_t i = 0; i < sizeof order / sizeof order[0]; ++i) {
            if (!ember_isa_available(order[i])) continue;
            const char *s = ember_isa_name(order[i]);
            if (n) buf[n++] = ',';
            while (*s && n + 1 < sizeof buf) buf[n++] = *s++;
        }
        buf[n] = 0;
        built = 1;
    }
    return buf;
}
