/* blas.h: the one seam through which fastfnet multiplies matrices (CBLAS/OpenBLAS, or a naive loop). */
#ifndef FASTFNET_BLAS_H
#define FASTFNET_BLAS_H
/* Row-major C(M,N) = alpha * op(A) * op(B) + beta * C, where op(X) = X or X^T (trans != 0).
 * A is (M,K) or, transposed, stored (K,M); B is (K,N) or stored (N,K). */
void fastfnet_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
/* A linear layer's product: C(M,N) = A(M,K) W^T + bias (N floats added to each row; NULL: none), W stored (N,K).
 * fastfnet's own kernel adds the bias as it stores C; otherwise the bias is copied into C's rows and the product
 * added to it. The same result either way. */
void fastfnet_sgemm_bias(int M, int N, int K, const float *A, int lda, const float *W, int ldw, const float *bias,
                         float *C, int ldc);
/* C(M,N) = A(M,K) B(K,N) times C elementwise (C holds a factor per element on entry), and colsum (N; NULL: none)
 * += the new C's columns summed over the rows in order, in one pass as fastfnet's own kernel stores C. Returns 0
 * when done; nonzero, nothing touched, where that kernel does not take it (or the naive backend is selected): the
 * caller then forms the product and multiplies itself. */
int fastfnet_sgemm_mul(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                       float *colsum);
/* Select the backend: 0 = CBLAS (default), 1 = naive triple loop (reference for tests). */
void fastfnet_blas_set_naive(int naive);
/* Threads used inside BLAS calls. */
void fastfnet_blas_set_threads(int n);
#endif
