/* CPU feature detection: what the processor and OS can execute.
 * x86: CPUID leaf 1 (SSE4.1, FMA, AVX, OSXSAVE) and leaf 7 (AVX2), plus
 *      XGETBV(0) to check the OS saves XMM+YMM state.
 * aarch64: getauxval(AT_HWCAP) HWCAP_ASIMD / HWCAP_ASIMDDP.
 * armv7: getauxval(AT_HWCAP) HWCAP_NEON. */
#include "ember/cpu.h"

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define EMBER_CPU_X86 1
#include <cpuid.h>
#elif defined(__aarch64__) || defined(__arm__)
#define EMBER_CPU_ARM 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

#ifdef EMBER_CPU_X86
static unsigned long long ember_xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static int ember_x86_supports(ember_isa isa) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int sse41 = (c >> 19) & 1;
    if (isa == EMBER_ISA_SSE41) return sse41;
    if (isa != EMBER_ISA_AVX2) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(sse41 && fma && osxsave && avx)) return 0;
    if ((ember_xgetbv0() & 6) != 6) return 0; /* XMM and YMM state enabled */
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 5) & 1;
}
#endif

#ifdef EMBER_CPU_ARM
static int ember_arm_supports(ember_isa isa) {
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP);
#if defined(__aarch64__)
    const unsigned long asimd = 1UL << 1, asimddp = 1UL << 20; /* HWCAP_ASIMD, HWCAP_ASIMDDP */
    if (isa == EMBER_ISA_NEON) return (hw & asimd) != 0;
    if (isa == EMBER_ISA_NEONDOT) return (hw & asimd) && (hw & asimddp);
    return 0;
#else
    const unsigned long neon = 1UL << 12; /* HWCAP_NEON (HWCAP_ARM_NEON) */
    return isa == EMBER_ISA_NEON && (hw & neon) != 0;
#endif
#else
#if defined(__aarch64__)
    return isa == EMBER_ISA_NEON; /* ASIMD is mandatory on aarch64 */
#else
    return 0;
#endif
#endif
}
#endif

static int ember_cpu_detect(ember_isa isa) {
    if (isa == EMBER_ISA_SCALAR) return 1;
#ifdef EMBER_CPU_X86
    return ember_x86_supports(isa);
#elif defined(EMBER_CPU_ARM)
    return ember_arm_supports(isa);
#else
    return 0;
#endif
}

/* CPUID traps to the hypervisor in VMs (microseconds): detect once. */
int ember_cpu_supports(ember_isa isa) {
    static volatile int cache[EMBER_ISA_COUNT]; /* 0 unknown, 1 no, 2 yes */
    if ((int)isa < 0 || isa >= EMBER_ISA_COUNT) return 0;
    int v = cache[isa];
    if (v == 0) {
        v = ember_cpu_detect(isa) ? 2 : 1;
        cache[isa] = v;
    }
    return v == 2;
}
