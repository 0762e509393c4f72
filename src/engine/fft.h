/* fft.h: Fourier token mixing of FNet / Fast-FNet, out = Re(DFT_seq(DFT_hidden(x)))[..., 0:keep], and its adjoint. */
#ifndef FASTFNET_FFT_H
#define FASTFNET_FFT_H
#include "fastfnet.h" /* fastfnet_fourier_impl, its names and the FFTW wisdom calls are public */
#include <stddef.h>

/* Opaque: plans, DFT matrices and scratch for one (max_B, T, D, keep) shape. */
typedef struct fastfnet_fourier fastfnet_fourier;

/* keep == D (FNet) or keep == D/2 with D even (Fast-FNet: keep hidden-frequency bins 0..D/2-1).
 * max_B bounds the B of forward/backward: all scratch (per OpenMP thread, omp_get_max_threads() at init)
 * is allocated here, once, so forward/backward never allocate. Returns NULL if the shape is invalid or memory
 * or FFTW planning fails. Thread-safe (FFTW's planner is made thread-safe once, on first use). */
fastfnet_fourier *fastfnet_fourier_init(int max_B, int T, int D, int keep, fastfnet_fourier_impl impl);
/* The same map on a zero-padded input, computed from its non-zero columns only (Fast-FNet's blocks from the
 * second on): the input is (B,T,D/2), the values of hidden positions off .. off+D/2-1 of a width-D signal
 * whose other columns are zero; forward gives out (B,T,D/2) (bins 0..D/2-1) and backward accumulates into
 * dinp (B,T,D/2). D even, 0 <= off <= D/2. NULL if the shape is invalid. */
fastfnet_fourier *fastfnet_fourier_init_padded(int max_B, int T, int D, int off, fastfnet_fourier_impl impl);
void fastfnet_fourier_free(fastfnet_fourier *f);
fastfnet_fourier_impl fastfnet_fourier_impl_chosen(const fastfnet_fourier *f); /* what AUTO resolved to */
size_t fastfnet_fourier_bytes(const fastfnet_fourier *f);                  /* scratch + matrices held, for memory reports */

/* out (B,T,keep) = Re(DFT_T X DFT_D)[:, :, 0:keep] for each of B sequences X = inp[b] (T,D) row-major,
 * DFT_N[n,m] = exp(-2 pi i n m / N) (numpy/torch forward). Overwrites out, which must not alias inp.
 * B <= max_B: 0; otherwise nothing is computed and it returns -1. */
int fastfnet_fourier_forward(fastfnet_fourier *f, float *out, const float *inp, int B);
/* dinp (B,T,D) += adjoint of the forward map applied to dout (B,T,keep). ACCUMULATES (llm.c convention).
 * 0, or -1 (nothing done) when B > max_B. */
int fastfnet_fourier_backward(fastfnet_fourier *f, float *dinp, const float *dout, int B);

#endif
