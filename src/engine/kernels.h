/* kernels.h: the hot elementwise and row kernels, written once as branch-free loops (selects, no calls) so
 * that they vectorise on AVX2 as on AVX-512. simd.c includes this file once per instruction set, with KSUF
 * naming the copy; each copy fills one fastfnet_kernels table. Kernels are serial: callers split the work. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define KCAT_(a, b) a##b
#define KCAT(a, b) KCAT_(a, b)
#define K(name) KCAT(name, KSUF)

#define KGELU_C 0.7978845608028654f /* sqrt(2/pi) */

/* exp accurate to about 2 ulp on [-87, 88]: 2^n * p(r), x = n ln2 + r, |r| <= ln2/2, p of degree 6 (Taylor;
 * truncation below 1e-8 relative). Every clamp is an unconditional select, so no lane needs a branch:
 * NaN stays NaN (non-finite losses are detected downstream), below -87 gives exactly 0 (so a -inf score of a
 * masked key weighs nothing), above 88 saturates at e^88. */
static inline float K(exp_fast)(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    xc = xc == xc ? xc : 0.0f; /* no NaN reaches the float -> int conversion */
    /* round to nearest by the 1.5 * 2^23 trick: a roundf call would stop the loop from vectorising */
    float n = (xc * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666667f + r * (0.0083333333f + r * 0.0013888889f)))));
    int32_t bits;
    memcpy(&bits, &p, sizeof bits);
    bits += (int32_t)n * (1 << 23); /* n is in [-126, 127]: no overflow, and no shift of a negative */
    float e;
    memcpy(&e, &bits, sizeof e);
    e = x < -87.0f ? 0.0f : e;
    return x == x ? e : x;
}

/* tanh(v) = 1 - 2 / (1 + e^(2v)): absolute error ~1e-7 near 0, which gelu_new's 0.5 x (1 + tanh) absorbs */
static inline float K(tanh_fast)(float v) { return 1.0f - 2.0f / (1.0f + K(exp_fast)(2.0f * v)); }

static inline float K(gelu1)(float x) { return 0.5f * x * (1.0f + K(tanh_fast)(KGELU_C * (x + 0.044715f * x * x * x))); }

/* out (n) = gelu_new(inp); out may alias inp */
static void K(gelu_fwd)(float *out, const float *inp, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = K(gelu1)(inp[i]);
}

/* a (n) += bias (n), then g = gelu_new(a): the bias of the linear before the gelu, added in the same pass */
static void K(bias_gelu)(float *g, float *a, const float *bias, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = a[i] + bias[i];
        a[i] = x;
        g[i] = K(gelu1)(x);
    }
}

/* dinp (n) += gelu_new'(inp) * dout */
static void K(gelu_bwd)(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float th = K(tanh_fast)(KGELU_C * (x + 0.044715f * x * x * x));
        float d = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * KGELU_C * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += d * dout[i];
    }
}

static float K(row_max)(const float *x, size_t n) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (size_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* x (n) = exp(x - shift) in place; returns the sum */
static float K(exp_shift_sum)(float *x, float shift, size_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) {
        float e = K(exp_fast)(x[i] - shift);
        x[i] = e;
        s += e;
    }
    return s;
}

/* splitmix64 of (seed, index): a counter-based stream, so a mask is the same for any thread split */
static inline uint64_t K(mix64)(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* keep (n): element i is kept when mix64(base ^ ((first + i) * K)) >= thresh (base = mix64(seed)) */
static void K(drop_mask)(uint8_t *keep, size_t n, uint64_t base, uint64_t first, uint64_t thresh) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) keep[i] = K(mix64)(base ^ ((first + i) * 0xD1B54A32D192ED03ull)) >= thresh;
}

/* out (n) = (keep ? inp * scale : 0) + resid; keep NULL keeps all at scale 1; out may alias inp or resid */
static void K(drop_add)(float *out, const uint8_t *keep, const float *inp, const float *resid, float scale, size_t n) {
    if (!keep) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) out[i] = inp[i] + resid[i];
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = (keep[i] ? inp[i] * scale : 0.0f) + resid[i];
}

/* LayerNorm of one row of C: out = (x - mean) * rstd * w + b; returns mean and rstd */
static void K(ln_row)(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int C, float eps) {
    float m = 0.0f;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) {
        float d = x[c] - m;
        v += d * d;
    }
    v /= C;
    float s = 1.0f / sqrtf(v + eps);
#pragma omp simd
    for (int c = 0; c < C; c++) out[c] = (x[c] - m) * s * w[c] + b[c];
    *mean = m;
    *rstd = s;
}

/* AdamW on n parameters (torch.optim.AdamW): decoupled decay wd, then the bias-corrected moment step */
static void K(adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float wd, float b1, float b2,
                     float bc1, float bc2, float eps) {
    float step = lr / bc1, rbc2 = 1.0f / sqrtf(bc2);
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float pi = p[i] - lr * wd * p[i];
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step * mi / (sqrtf(vi) * rbc2 + eps);
    }
}

const fastfnet_kernels K(fastfnet_kernels_) = {
    KNAME, K(gelu_fwd), K(bias_gelu), K(gelu_bwd), K(row_max), K(exp_shift_sum), K(drop_mask), K(drop_add), K(ln_row), K(adamw),
};

#undef K
