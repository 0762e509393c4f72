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
#define KGELU_K 0.044715f

/* 2^n p(r) for x already in [-87, 88]: x = n ln2 + r, |r| <= ln2/2, p of degree 6 (Taylor; truncation below
 * 1e-8 relative), about 2 ulp. n is rounded by adding 1.5 * 2^23, which leaves n + 2^22 in the low mantissa
 * bits of the sum: shifted up by 23 they are n's exponent increment (the 2^22 shifts out), so there is no
 * float -> int conversion (and no NaN can meet one). The fmaf calls are single instructions on any target
 * with FMA (x86-64-v3 up): -std=c11 lets the compiler contract nothing by itself. */
static inline float K(exp_core)(float x) {
    float t = fmaf(x, 1.4426950408889634f, 12582912.0f);
    float n = t - 12582912.0f;
    float r = fmaf(n, -0.693145751953125f, x);
    r = fmaf(n, -1.428606765330187e-06f, r);
    float p = fmaf(r, 0.0013888889f, 0.0083333333f);
    p = fmaf(p, r, 0.041666667f);
    p = fmaf(p, r, 0.16666667f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t tb, pb;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&pb, &p, sizeof pb);
    pb += tb << 23; /* unsigned, wrapping; n in [-126, 127] keeps the exponent in range */
    float e;
    memcpy(&e, &pb, sizeof e);
    return e;
}

/* exp accurate to about 2 ulp on [-87, 88]: NaN stays NaN (non-finite losses are detected downstream),
 * below -87 gives exactly 0 (so a -inf score of a masked key weighs nothing), above 88 saturates at e^88.
 * Every clamp is an unconditional select, so no lane needs a branch. */
static inline float K(exp_fast)(float x) {
    uint32_t b, eb;
    memcpy(&b, &x, sizeof b);
    /* both clamps on the bits, integer mins (no float blends): as unsigned, a negative x below -87 (-inf, a
     * negative NaN) becomes -87 and a positive x keeps its bits; then as signed, where every negative float is a
     * negative integer, a positive x above 88 (+inf, a positive NaN) becomes 88 */
    uint32_t c = b < 0xC2AE0000u ? b : 0xC2AE0000u;
    int32_t ci = (int32_t)c < 0x42B00000 ? (int32_t)c : 0x42B00000;
    float u;
    memcpy(&u, &ci, sizeof u);
    float e = K(exp_core)(u);
    memcpy(&eb, &e, sizeof eb);
    eb = b > 0xC2AE0000u ? 0u : eb; /* below -87: exactly 0, an integer mask rather than a float blend */
    memcpy(&e, &eb, sizeof e);
    return x == x ? e : x;
}

/* e^(-|w|), the exponent capped at -87: the sign bit is set, then an unsigned min of the bits (for negative
 * floats a larger pattern is a larger magnitude; a NaN becomes -87) is the clamp, one vpminud, where float
 * compares would leave the vectoriser blends (it keeps NaN semantics for them) */
static inline float K(exp_negabs)(float w) {
    uint32_t b;
    memcpy(&b, &w, sizeof b);
    b |= 0x80000000u;
    b = b < 0xC2AE0000u ? b : 0xC2AE0000u; /* the bits of -87.0f */
    float u;
    memcpy(&u, &b, sizeof u);
    return K(exp_core)(u);
}

/* gelu_new(x) = 0.5 x (1 + tanh(v)), v = sqrt(2/pi) (x + 0.044715 x^3), with tanh(v) = sign(v) (1 - e) / (1 + e),
 * e = e^(-2|v|) <= 1: one exp with one clamp and no selects (the sign by copysign, a bit operation). A NaN x
 * gives NaN through the 0.5 x factors; inf gives inf, -inf NaN (inf - inf), a huge negative x -0. */
static inline float K(gelu_tanh)(float x, float x2, float *th) {
    float w = (2.0f * KGELU_C) * x * fmaf(KGELU_K, x2, 1.0f); /* 2v */
    float e = K(exp_negabs)(w);
    *th = (1.0f - e) / (1.0f + e);
    return copysignf(*th, w);
}
static inline float K(gelu1)(float x) {
    float th, T = K(gelu_tanh)(x, x * x, &th), hx = 0.5f * x;
    return fmaf(hx, T, hx);
}
/* gelu_new'(x) = 0.5 (1 + T) + 0.5 x (1 - T^2) v', v' = sqrt(2/pi) (1 + 3 0.044715 x^2), T = tanh(v) (th its
 * magnitude); 0.5 x (1 - T^2) is formed first so that it is exactly 0 where T is +-1 and x^2 is large */
static inline float K(gelu_d)(float x, float x2, float th, float T) {
    float vp = fmaf(3.0f * KGELU_K * KGELU_C, x2, KGELU_C);
    return fmaf(0.5f * x * fmaf(-th, th, 1.0f), vp, fmaf(0.5f, T, 0.5f));
}

/* out (n) = gelu_new(inp); out may alias inp */
static void K(gelu_fwd)(float *out, const float *inp, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = K(gelu1)(inp[i]);
}

/* a (n) += bias (n), then g = gelu_new(a): the bias of the linear before the gelu, added in the same pass.
 * g may be a itself (a then is not kept). */
static void K(bias_gelu)(float *g, float *a, const float *bias, size_t n) {
    if (g == a) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) a[i] = K(gelu1)(a[i] + bias[i]);
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = a[i] + bias[i];
        a[i] = x;
        g[i] = K(gelu1)(x);
    }
}

/* g (n) = gelu_new(a) and d (n) = gelu_new'(a) in one pass: the backward's recompute */
static void K(gelu_fwd_deriv)(float *g, float *d, const float *a, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = a[i], x2 = x * x, th, T = K(gelu_tanh)(x, x2, &th), hx = 0.5f * x;
        g[i] = fmaf(hx, T, hx);
        d[i] = K(gelu_d)(x, x2, th, T);
    }
}

/* dinp (n) += gelu_new'(inp) * dout */
static void K(gelu_bwd)(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], x2 = x * x, th, T = K(gelu_tanh)(x, x2, &th);
        dinp[i] = fmaf(K(gelu_d)(x, x2, th, T), dout[i], dinp[i]);
    }
}

/* x (n) *= y (n), then s (n) += x: the gelu backward once its derivative is stored, with the bias gradient
 * of the linear before it (s NULL: none) */
static void K(mul_acc)(float *x, const float *y, float *s, size_t n) {
    if (!s) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) x[i] *= y[i];
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = x[i] * y[i];
        x[i] = v;
        s[i] += v;
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
    /* (first + i) K as an induction variable: one vector add per step instead of an emulated 64-bit multiply
     * (AVX2 has none: three vpmuludq and their shifts and adds) */
    const uint64_t M = 0xD1B54A32D192ED03ull;
    uint64_t x = first * M;
#pragma omp simd linear(x : M)
    for (size_t i = 0; i < n; i++) {
        keep[i] = K(mix64)(base ^ x) >= thresh;
        x += M;
    }
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

/* One row of LayerNorm's input gradient, n = (x - m) s the normalised input: dx = s (g w - mean(g w) - n mean(g w n)) */
static void K(ln_row_bwd)(float *dx, const float *g, const float *x, const float *w, float m, float s, int C) {
    float sum_d = 0.0f, sum_dn = 0.0f;
#pragma omp simd reduction(+ : sum_d, sum_dn)
    for (int c = 0; c < C; c++) {
        float n = (x[c] - m) * s, d = g[c] * w[c];
        sum_d += d;
        sum_dn += d * n;
    }
    sum_d /= C;
    sum_dn /= C;
#pragma omp simd
    for (int c = 0; c < C; c++) dx[c] = s * (g[c] * w[c] - sum_d - (x[c] - m) * s * sum_dn);
}

/* One row's share of LayerNorm's weight and bias gradients, over n of its columns */
static void K(ln_param_acc)(float *dw, float *db, const float *g, const float *x, float m, float r, size_t n) {
#pragma omp simd
    for (size_t c = 0; c < n; c++) {
        dw[c] += g[c] * (x[c] - m) * r;
        db[c] += g[c];
    }
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
    KNAME, K(gelu_fwd), K(bias_gelu), K(gelu_bwd), K(gelu_fwd_deriv), K(mul_acc), K(row_max), K(exp_shift_sum), K(drop_mask), K(drop_add), K(ln_row), K(ln_row_bwd), K(ln_param_acc), K(adamw),
};

#undef K
