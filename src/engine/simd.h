/* simd.h: the seam between the ops and their vector kernels. One table of kernels per instruction set
 * (src/engine/kernels.h, compiled once per set by src/engine/simd.c), chosen once at start-up from what the CPU has. */
#ifndef FASTFNET_SIMD_H
#define FASTFNET_SIMD_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name; /* "avx512" or "base" (the build's own -march: x86-64-v3, AVX2, by default) */
    void (*gelu_fwd)(float *out, const float *inp, size_t n);
    void (*bias_gelu)(float *g, float *a, const float *bias, size_t n);
    void (*gelu_bwd)(float *dinp, const float *inp, const float *dout, size_t n);
    void (*gelu_fwd_deriv)(float *g, float *d, const float *a, size_t n);
    void (*mul_acc)(float *x, const float *y, float *s, size_t n);
    float (*row_max)(const float *x, size_t n);
    float (*exp_shift_sum)(float *x, float shift, size_t n);
    void (*drop_mask)(uint8_t *keep, size_t n, uint64_t base, uint64_t first, uint64_t thresh);
    void (*drop_add)(float *out, const uint8_t *keep, const float *inp, const float *resid, float scale, size_t n);
    void (*ln_row)(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int C, float eps);
    void (*ln_row_bwd)(float *dx, const float *g, const float *x, const float *w, float m, float s, int C);
    void (*ln_param_acc)(float *dw, float *db, const float *g, const float *x, float m, float r, size_t n);
    void (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float wd, float b1, float b2,
                  float bc1, float bc2, float eps);
} fastfnet_kernels;

/* The kernels in use. The first call picks the widest set the CPU runs, unless the environment variable
 * FASTFNET_SIMD names one ("base" or "avx512"; one the CPU lacks falls back to base). */
const fastfnet_kernels *fastfnet_kern(void);
/* Switches to the named set for the rest of the process (tests compare the paths); returns -1, changing
 * nothing, when it was not built or the CPU cannot run it. */
int fastfnet_simd_select(const char *name);
#endif
