/* blas.c: CBLAS backend and the naive reference backend behind blas.h. */
#include "blas.h"
#include "gemm.h"
#include "fastfnet.h"
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int g_naive = 0;
void fastfnet_blas_set_naive(int naive) { g_naive = naive; }

extern void openblas_set_num_threads(int);
void fastfnet_blas_set_threads(int n) { openblas_set_num_threads(n > 0 ? n : 1); }

/* OpenBLAS's kernel choice. A DYNAMIC_ARCH OpenBLAS picks its kernels by the CPU's family and model when it is
 * loaded, and Debian 12's 0.3.21 picks badly on CPUs newer than itself: on Intel Emerald Rapids (family 6, model
 * 207) it falls back to its SSE3 (Prescott) kernels, sgemm 46 GFLOP/s on 2 cores against 197-295 with its AVX-512
 * (SkylakeX) kernels. A CPU with AVX-512 on AVX2 kernels loses half (AMD Zen 5, family 26, made to take Haswell:
 * 194-202 GFLOP/s against 378-391 with SkylakeX or Cooperlake; left to itself 0.3.21 takes Cooperlake there). So,
 * once at load, unless the user named a core in OPENBLAS_CORETYPE, it is told to
 * choose again where its core lacks what the CPU (and the OS) has: SkylakeX where the CPU has AVX-512
 * F/CD/BW/DQ/VL and the core has no AVX-512 kernels, Haswell where the CPU has AVX2 and FMA and the core has no
 * AVX2 kernels. The symbols are weak, so another CBLAS (or an OpenBLAS built for one core) links as before and is
 * left alone. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char gotoblas_SKYLAKEX[] __attribute__((weak));
extern char gotoblas_HASWELL[] __attribute__((weak));

const char *fastfnet_blas_core(void) {
    return openblas_get_corename ? openblas_get_corename() : "cblas";
}

#if defined(__x86_64__) && defined(__GNUC__)
/* 2: the core has AVX-512 kernels, 1: AVX2 kernels, 0: neither (or a core this list does not know) */
static int core_level(const char *core) {
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2[] = {"haswell", "zen"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcasecmp(core, avx512[i])) return 2;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcasecmp(core, avx2[i])) return 1;
    return 0;
}

static int cpu_level(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    return avx512 ? 2 : 1;
}

/* the core OpenBLAS should have chosen on this CPU, or NULL where its choice stands */
static const char *better_core(void) {
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE"))
        return NULL;
    const char *core = openblas_get_corename();
    if (!core) return NULL;
    int have = core_level(core), cpu = cpu_level();
    if (cpu == 2 && have < 2 && gotoblas_SKYLAKEX) return "SkylakeX";
    if (cpu >= 1 && have < 1 && gotoblas_HASWELL) return "Haswell";
    return NULL;
}
#else
static const char *better_core(void) { return NULL; }
#endif

/* Runs when the library is loaded (after OpenBLAS's own start-up, which it depends on), before any product. The
 * variable is set only for OpenBLAS's second look and removed again, so the process's environment is as it was. */
__attribute__((constructor)) static void blas_choose_core(void) {
    const char *want = better_core();
    if (!want) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

static void sgemm_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                double b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * (double)*c));
        }
}

/* C (M rows of N, stride ldc) = 0, split between the threads when it is large and this is not already a
 * parallel region */
static void zero_rows(float *C, int M, int N, int ldc) {
    int split = !omp_in_parallel() && (long)M * N >= 65536;
    if (ldc == N) {
        size_t n = (size_t)M * N;
#pragma omp parallel if (split)
        {
            size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
            size_t lo = n * t / nt / 16 * 16, hi = t + 1 == nt ? n : n * (t + 1) / nt / 16 * 16;
            memset(C + lo, 0, sizeof(float) * (hi - lo));
        }
        return;
    }
#pragma omp parallel for if (split) schedule(static)
    for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, sizeof(float) * N);
}

void fastfnet_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (g_naive) {
        sgemm_naive(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* fastfnet's own product first (gemm.c), where it takes the shape; with A transposed (the weight gradients,
     * K = B T) too since its packing prefetches: on AMD Zen 5 at par with OpenBLAS's AVX-512 kernels, and a
     * training step 1.22x as fast where OPENBLAS_CORETYPE names AVX2 kernels (docs/PERFORMANCE.md, round 10) */
    if (fastfnet_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0) return;
    /* OpenBLAS's own pass for beta = 0 (sgemm_beta) zeroes C at about a third of memset's speed (perf: 5.5-6.2% of
     * an inference step against 1.8%; 7.6% of an attention step's, on 128 x 128 score tiles), so C is zeroed here
     * and the product added into it: the same result */
    if (beta == 0.0f) {
        zero_rows(C, M, N, ldc);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int fastfnet_sgemm_mul(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                       float *colsum) {
    if (M <= 0 || N <= 0 || g_naive) return -1;
    return fastfnet_gemm_mul(M, N, K, A, lda, B, ldb, C, ldc, colsum);
}

void fastfnet_sgemm_bias(int M, int N, int K, const float *A, int lda, const float *W, int ldw, const float *bias,
                         float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (!g_naive && fastfnet_gemm_linear(M, N, K, A, lda, W, ldw, bias, C, ldc) == 0) return;
    if (!bias) {
        fastfnet_sgemm(0, 1, M, N, K, 1.0f, A, lda, W, ldw, 0.0f, C, ldc);
        return;
    }
#pragma omp parallel for if (!omp_in_parallel() && (long)M * N >= 65536) schedule(static)
    for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, sizeof(float) * N);
    fastfnet_sgemm(0, 1, M, N, K, 1.0f, A, lda, W, ldw, 1.0f, C, ldc);
}
