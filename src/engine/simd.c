/* simd.c: builds src/engine/kernels.h once for the build's baseline (-march, x86-64-v3 by default) and, on x86-64
 * with GCC or Clang, once more for AVX-512; picks one at run time, so one binary runs on either machine. */
#include "simd.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define KSUF base
#define KNAME "base"
#include "kernels.h"
#undef KSUF
#undef KNAME

#if defined(__x86_64__) && defined(__GNUC__)
#define FASTFNET_HAVE_AVX512 1
/* 512-bit vectors: the compilers' default preference is 256 even where AVX-512 is there. Clang ignores
 * `#pragma GCC target`, so it gets the same through its own attribute pragma (min_vector_width for the width). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"))), apply_to = function)
#pragma clang attribute push(__attribute__((min_vector_width(512))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")
#endif
#define KSUF avx512
#define KNAME "avx512"
#include "kernels.h"
#undef KSUF
#undef KNAME
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#else
#define FASTFNET_HAVE_AVX512 0
#endif

static _Atomic(const fastfnet_kernels *) g_kern;

static const fastfnet_kernels *lookup(const char *name) {
    if (!strcmp(name, "base")) return &fastfnet_kernels_base;
#if FASTFNET_HAVE_AVX512
    if (!strcmp(name, "avx512") && cpu_has_avx512()) return &fastfnet_kernels_avx512;
#endif
    return NULL;
}

int fastfnet_simd_select(const char *name) {
    const fastfnet_kernels *k = lookup(name);
    if (!k) return -1;
    atomic_store(&g_kern, k);
    return 0;
}

const fastfnet_kernels *fastfnet_kern(void) {
    const fastfnet_kernels *k = atomic_load_explicit(&g_kern, memory_order_relaxed);
    if (k) return k;
    const char *env = getenv("FASTFNET_SIMD");
    k = env ? lookup(env) : NULL;
#if FASTFNET_HAVE_AVX512
    if (!k && !env) k = lookup("avx512");
#endif
    if (!k) k = &fastfnet_kernels_base;
    /* every thread that races here stores the same table */
    atomic_store(&g_kern, k);
    return k;
}
