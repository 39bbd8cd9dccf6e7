/* ISA names, detection, EMBER_ISA handling, the dispatch table and the
 * thread pool. */
#include <stdlib.h>
#include <string.h>

#include "ember/cpu.h"
#include "ember/kernels.h"
#include "ember/threadpool.h"
#include "test_harness.h"

static void test_names(void) {
    for (int i = 0; i < EMBER_ISA_COUNT; ++i) {
        ember_isa isa;
        TH_CHECK(ember_isa_from_name(ember_isa_name(i), &isa) == EMBER_OK && (int)isa == i, "name roundtrip %d", i);
    }
    ember_isa isa;
    TH_CHECK(ember_isa_from_name("AVX2", &isa) == EMBER_OK && isa == EMBER_ISA_AVX2, "case-insensitive");
    TH_CHECK(ember_isa_from_name("avx512", &isa) == EMBER_ERR_ARG, "unknown name rejected");
    TH_CHECK(ember_isa_from_name("", &isa) == EMBER_ERR_ARG, "empty name rejected");
    TH_CHECK(ember_isa_from_name(NULL, &isa) == EMBER_ERR_ARG, "NULL name rejected");
    TH_CHECK(strcmp(ember_isa_name(99), "?") == 0, "bad isa name");
}

static void test_availability(void) {
    TH_CHECK(ember_isa_available(EMBER_ISA_SCALAR), "scalar always available");
    const ember_isa best = ember_isa_best();
    TH_CHECK(ember_isa_available(best), "best is available");
#if defined(__x86_64__)
    TH_CHECK(ember_cpu_supports(EMBER_ISA_SSE41) || !ember_cpu_supports(EMBER_ISA_AVX2), "avx2 implies sse4.1");
    TH_CHECK(!ember_cpu_supports(EMBER_ISA_NEON), "no NEON on x86");
#endif
#if defined(__aarch64__)
    TH_CHECK(ember_cpu_supports(EMBER_ISA_NEON), "aarch64 has ASIMD");
    TH_CHECK(!ember_cpu_supports(EMBER_ISA_AVX2), "no AVX2 on ARM");
#endif
    printf("available ISAs: %s (best %s)\n", ember_isa_available_list(), ember_isa_name(best));
    for (int i = 0; i < EMBER_ISA_COUNT; ++i) {
        const ember_isa isa = (ember_isa)i;
        const ember_status st = ember_isa_set(isa);
        if (ember_isa_available(isa)) {
            TH_CHECK(st == EMBER_OK && ember_isa_active() == isa, "set %s", ember_isa_name(i));
            TH_CHECK(strcmp(ember_isa_active_name(), ember_isa_name(i)) == 0, "active name %s", ember_isa_name(i));
        } else {
            TH_CHECK(st == EMBER_ERR_UNSUPPORTED, "set unavailable %s refused", ember_isa_name(i));
        }
    }
    TH_CHECK(ember_isa_set((ember_isa)42) == EMBER_ERR_ARG, "out-of-range isa");
}

static void test_env(void) {
    ember_isa_set(EMBER_ISA_SCALAR);
    setenv("EMBER_ISA", "bogus", 1);
    TH_CHECK(ember_isa_init_from_env() == EMBER_ERR_ARG, "unknown EMBER_ISA");
    TH_CHECK(ember_isa_active() == EMBER_ISA_SCALAR, "unchanged after error");
    const ember_isa best = ember_isa_best();
    setenv("EMBER_ISA", ember_isa_name(best), 1);
    TH_CHECK(ember_isa_init_from_env() == EMBER_OK && ember_isa_active() == best, "EMBER_ISA=%s",
             ember_isa_name(best));
    for (int i = 0; i < EMBER_ISA_COUNT; ++i) {
        if (ember_isa_available((ember_isa)i)) continue;
        setenv("EMBER_ISA", ember_isa_name(i), 1);
        TH_CHECK(ember_isa_init_from_env() == EMBER_ERR_UNSUPPORTED, "EMBER_ISA=%s unavailable", ember_isa_name(i));
        TH_CHECK(ember_isa_active() == best, "unchanged after unavailable request");
    }
    unsetenv("EMBER_ISA");
    TH_CHECK(ember_isa_init_from_env() == EMBER_OK, "unset EMBER_ISA is fine");
}

static void test_dispatch(void) {
    for (int k = 0; k < EMBER_KERNEL_COUNT; ++k) {
        ember_isa used;
        TH_CHECK(ember_kernel_select((ember_kernel_id)k, EMBER_ISA_SCALAR, &used) == NULL && used == EMBER_ISA_SCALAR,
                 "scalar selects the reference for %s", ember_kernel_name(k));
        TH_CHECK(ember_kernel_variant((ember_kernel_id)k, EMBER_ISA_SCALAR) == NULL, "no scalar variant entry");
        for (int i = 1; i < EMBER_ISA_COUNT; ++i) {
            const void *v = ember_kernel_variant((ember_kernel_id)k, (ember_isa)i);
            if (v) TH_CHECK(ember_isa_compiled((ember_isa)i), "variant %s/%s only if compiled", ember_kernel_name(k),
                            ember_isa_name(i));
            const void *s = ember_kernel_select((ember_kernel_id)k, (ember_isa)i, &used);
            if (s) {
                TH_CHECK(ember_isa_available(used), "selected ISA is available");
                TH_CHECK(s == ember_kernel_variant((ember_kernel_id)k, used), "selected entry matches");
            }
            printf("kernel %-7s isa %-8s compiled=%d selected=%s\n", ember_kernel_name(k), ember_isa_name(i), v != NULL,
                   ember_isa_name(used));
        }
    }
#if defined(EMBER_HAVE_X86_SIMD)
    TH_CHECK(ember_kernel_variant(EMBER_KERNEL_QGEMM, EMBER_ISA_AVX2) != NULL, "x86 build has the AVX2 qgemm");
#endif
#if defined(EMBER_HAVE_NEON)
    TH_CHECK(ember_kernel_variant(EMBER_KERNEL_QGEMM, EMBER_ISA_NEON) != NULL, "ARM build has the NEON qgemm");
#endif
}

typedef struct {
    int hits[256];
} pool_ctx;

static int pool_size_now;
static int thread_ok = 1;

static void pool_task(void *ctx, int task, int ntasks, int thread) {
    pool_ctx *c = (pool_ctx *)ctx;
    if (thread < 0 || thread >= pool_size_now || ntasks < 1) thread_ok = 0;
    __atomic_fetch_add(&c->hits[task], 1, __ATOMIC_RELAXED);
}

static void test_threadpool(void) {
    TH_CHECK(ember_threadpool_create(0) == NULL, "0 threads refused");
    TH_CHECK(ember_threadpool_create(EMBER_MAX_THREADS + 1) == NULL, "too many threads refused");
    TH_CHECK(ember_threadpool_size(NULL) == 1, "NULL pool size 1");
    for (int n = 1; n <= 4; ++n) {
        ember_threadpool *p = ember_threadpool_create(n);
        TH_CHECK(p != NULL && ember_threadpool_size(p) == n, "pool of %d", n);
        if (!p) continue;
        pool_size_now = n;
        for (int rep = 0; rep < 2000; ++rep) {
            pool_ctx c;
            memset(&c, 0, sizeof c);
            const int ntasks = 1 + rep % 200;
            ember_threadpool_run(p, pool_task, &c, ntasks);
            int ok = 1;
            for (int t = 0; t < 256; ++t) ok &= c.hits[t] == (t < ntasks ? 1 : 0);
            TH_CHECK(ok, "pool %d run %d: every task exactly once", n, rep);
        }
        ember_threadpool_destroy(p);
    }
    TH_CHECK(thread_ok, "thread index within the pool");
    ember_threadpool_destroy(NULL);
}

int main(void) {
    test_names();
    test_availability();
    test_env();
    test_dispatch();
    test_threadpool();
    return th_finish("test_isa_dispatch");
}
