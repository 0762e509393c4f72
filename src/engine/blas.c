/* blas.c: CBLAS backend and the naive reference backend behind blas.h. */
#include "blas.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>

static int g_naive = 0;
void fastfnet_blas_set_naive(int naive) { g_naive = naive; }

extern void openblas_set_num_threads(int);
void fastfnet_blas_set_threads(int n) { openblas_set_num_threads(n > 0 ? n : 1); }

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
