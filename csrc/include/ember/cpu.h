/* Instruction sets, CPU feature detection and the process-wide ISA choice.
 *
 * Every SIMD kernel is compiled into its own file with its own flags
 * (cmake/EmberArch.cmake), so one binary holds all variants of its
 * architecture. At run time a variant is used only if it was built AND the
 * CPU (and OS, for AVX state) supports it; scalar is always available.
 *
 * The active ISA is the best available one unless overridden:
 *   - environment: EMBER_ISA=scalar|sse41|avx2|neon|neondot, read by
 *     ember_isa_init_from_env() (the Python binding calls it at import and
 *     raises if the request is unknown or unavailable on this CPU);
 *   - program: ember_isa_set() (tests, `ember bench --isa`).
 * Kernels that prepack weights record the ISA they packed for, so a model
 * keeps the path it was loaded with even if the choice changes later (ADD
 * and the pools record theirs too, see cpu/isa_record.h). */
#ifndef EMBER_CPU_H
#define EMBER_CPU_H

#include "ember/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EMBER_ISA_SCALAR = 0,
    EMBER_ISA_SSE41 = 1,
    EMBER_ISA_AVX2 = 2,   /* AVX2 + FMA, OS-enabled YMM state */
    EMBER_ISA_NEON = 3,   /* aarch64 ASIMD or armv7 NEON */
    EMBER_ISA_NEONDOT = 4, /* aarch64 with SDOT (Armv8.2 dotprod) */
    EMBER_ISA_COUNT = 5
} ember_isa;

/* "scalar", "sse41", "avx2", "neon", "neondot"; "?" for an invalid value. */
const char *ember_isa_name(int isa);
/* Parses a name (case-insensitive). EMBER_ERR_ARG for an unknown name. */
ember_status ember_isa_from_name(const char *name, ember_isa *isa);

/* 1 if kernels for this ISA were compiled into this binary. */
int ember_isa_compiled(ember_isa isa);
/* 1 if this CPU/OS can execute the ISA (independent of what was compiled). */
int ember_cpu_supports(ember_isa isa);
/* compiled && supported. */
int ember_isa_available(ember_isa isa);
/* Best available ISA of this binary on this CPU. */
ember_isa ember_isa_best(void);

/* The ISA new models use. Defaults to ember_isa_best(). */
ember_isa ember_isa_active(void);
const char *ember_isa_active_name(void);
/* EMBER_ERR_UNSUPPORTED if not available here, EMBER_ERR_ARG if out of range. */
ember_status ember_isa_set(ember_isa isa);
/* Applies EMBER_ISA if set. OK when unset or applied; EMBER_ERR_ARG for an
 * unknown name; EMBER_ERR_UNSUPPORTED when not available (the active ISA is
 * then left unchanged). */
ember_status ember_isa_init_from_env(void);

/* Comma-separated names of the available ISAs, best last, e.g.
 * "scalar,sse41,avx2" (static string). */
const char *ember_isa_available_list(void);

#ifdef __cplusplus
}
#endif
#endif
