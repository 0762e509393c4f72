/* gemm.h: fastfnet's own matrix product (gemm.c), which blas.h's fastfnet_sgemm tries before OpenBLAS. */
#ifndef FASTFNET_GEMM_H
#define FASTFNET_GEMM_H
#include <stddef.h>
/* Row-major C(M,N) = alpha op(A) op(B) + beta C, as fastfnet_sgemm, for beta 0 or 1. Returns 0 when done; nonzero,
 * with C untouched, where it does not take the product (no kernel for this build or CPU, beta not 0 or 1, a tiny
 * shape, memory for its packing buffers short, or switched off). Threads: the caller's OpenMP count, or 1 inside a
 * parallel region. */
int fastfnet_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);
/* C (M x N) = A (M x K, row-major) W^T + bias (N floats added to every row; NULL: none), W (N x K) row-major: a
 * linear layer's forward with its bias added as C is stored, not copied into C first. Nonzero, C untouched, where
 * fastfnet_gemm would decline. */
int fastfnet_gemm_linear(int M, int N, int K, const float *A, int lda, const float *W, int ldw, const float *bias, float *C,
                         int ldc);
/* C (M x N) = (A (M x K) B (K x N), both row-major) C elementwise: C holds a factor per element on entry (an
 * elementwise function's derivative) and the product times it on return, as the product is stored; colsum (N floats,
 * NULL: none) += the new C's columns, each summed over the rows in order (the gradient of the bias before that
 * function). Nonzero, C and colsum untouched, where fastfnet_gemm would decline or K is above one K block (768). */
int fastfnet_gemm_mul(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                      float *colsum);
/* on = 0 sends every product to OpenBLAS (benchmarks compare the two); 1, the default, lets this one take them */
void fastfnet_gemm_set_enabled(int on);
/* "avx512 12x32", "avx2 6x16" (the kernel the SIMD set in use selects), or "openblas" where none is used */
const char *fastfnet_gemm_name(void);
/* A weight W (N x K, row-major: a linear layer's (out, in)) packed once for products C = A W^T, for inference:
 * fastfnet_gemm_wpacked then packs only A. A snapshot: later writes to W are not seen. NULL where there is no kernel,
 * the shape is tiny, or memory runs out (callers then multiply with W as before). */
typedef struct fastfnet_gemm_wpack fastfnet_gemm_wpack;
fastfnet_gemm_wpack *fastfnet_gemm_wpack_create(const float *W, int N, int K);
/* the bytes fastfnet_gemm_wpack_create takes for such a W; 0 where the kernel leaves these products to OpenBLAS */
size_t fastfnet_gemm_wpack_bytes(int N, int K);
void fastfnet_gemm_wpack_free(fastfnet_gemm_wpack *w);
/* C (M x N, ldc) = A (M x K, lda) W^T (beta 0; + bias, N floats per row, where bias is not NULL) or C += A W^T (beta
 * 1, bias NULL); nonzero, C untouched, where it declines (w NULL, beta not 0 or 1, a bias with beta 1, fewer than 4
 * rows, the SIMD set switched since packing, memory short) */
int fastfnet_gemm_wpacked(const fastfnet_gemm_wpack *w, int M, const float *A, int lda, float beta, const float *bias,
                          float *C, int ldc);
#endif
