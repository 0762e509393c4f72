/* ops.c: fast float32 kernels for every encoder operation (forward/backward pairs).
 * The naive double-precision references these are tested against live in tests/ref.h. */
#include "ops.h"
#include "blas.h"
#include <math.h>
#include <omp.h>
#include <string.h>

void ffn_embed_forward(float *out, const int *ids, const int *tt, const float *wte, const float *wpe,
                       const float *wtt, int B, int T, int C) {
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *we = wte + (size_t)ids[b * T + t] * C;
            const float *pe = wpe + (size_t)t * C;
            const float *te = wtt + (size_t)tt[b * T + t] * C;
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c] + te[c];
        }
}

void ffn_embed_backward(float *dwte, float *dwpe, float *dwtt, const float *dout, const int *ids,
                        const int *tt, int B, int T, int C) {
    /* Rows of dwte collide when a token repeats, so threads split the channels instead. */
#pragma omp parallel
    {
#pragma omp for
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++) {
                    float g = dout[((size_t)b * T + t) * C + c];
                    dwte[(size_t)ids[b * T + t] * C + c] += g;
                    dwpe[(size_t)t * C + c] += g;
                    dwtt[(size_t)tt[b * T + t] * C + c] += g;
                }
    }
}

void ffn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                           const float *b, int N, int C, float eps) {
#pragma omp parallel for
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        /* omp simd lets the compiler reorder these sums into vector lanes (plain C forbids it) */
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
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

void ffn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel
    {
#pragma omp for
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C, *g = dout + (size_t)i * C;
            float *dx = dinp + (size_t)i * C;
            float m = mean[i], s = rstd[i];
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
            for (int c = 0; c < C; c++) {
                float n = (x[c] - m) * s;
                dx[c] += s * (g[c] * w[c] - sum_d - n * sum_dn);
            }
        }
        /* weight/bias gradients reduce over rows: threads own channel ranges (no two share an output)
         * and walk the rows in order, so every read is contiguous */
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int lo = (int)((long)C * t / nt), hi = (int)((long)C * (t + 1) / nt);
        for (int i = 0; i < N; i++) {
            const float *g = dout + (size_t)i * C, *x = inp + (size_t)i * C;
            float m = mean[i], r = rstd[i];
#pragma omp simd
            for (int c = lo; c < hi; c++) {
                dw[c] += g[c] * (x[c] - m) * r;
                db[c] += g[c];
            }
        }
    }
}

void ffn_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC) {
    if (b) {
#pragma omp parallel for
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, b, sizeof(float) * OC);
    }
    ffn_sgemm(0, 1, N, OC, C, 1.0f, inp, C, w, C, b ? 1.0f : 0.0f, out, OC);
}

void ffn_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int N, int C, int OC) {
    if (dinp) ffn_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
    ffn_sgemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (db) {
        /* threads own column ranges and walk the rows in order, so reads stay contiguous */
#pragma omp parallel
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int lo = (int)((long)OC * t / nt), hi = (int)((long)OC * (t + 1) / nt);
            for (int i = 0; i < N; i++) {
                const float *g = dout + (size_t)i * OC;
#pragma omp simd
                for (int o = lo; o < hi; o++) db[o] += g[o];
            }
        }
    }
}

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

/* exp for the gelu loops: libm's expf/tanhf are scalar calls that cost a fifth of a training step; this
 * inlines, vectorises under `omp simd`, and is accurate to about 2 ulp on [-87, 88]. 2^n * p(r) with
 * x = n ln2 + r, |r| <= ln2/2, p a degree-6 polynomial (Taylor coefficients; the truncation error is
 * below 1e-8 relative there). */
static inline float exp_fast(float x) {
    /* a NaN input must stay NaN (non-finite losses are detected downstream) without converting NaN to int */
    float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    xc = xc == xc ? xc : 0.0f;
    /* round to nearest by the 1.5 * 2^23 trick: a call to roundf would stop the loop from vectorising */
    float n = (xc * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666667f + r * (0.0083333333f + r * 0.0013888889f)))));
    union { float f; int32_t i; } u = {p};
    u.i += (int32_t)n * (1 << 23); /* n is in [-126, 127]: no overflow, and no shift of a negative */
    return x == x ? u.f : x;
}

/* tanh(v) = 1 - 2 / (1 + e^(2v)): absolute error ~1e-7 near 0, which gelu_new's 0.5 x (1 + tanh) absorbs */
static inline float tanh_fast(float v) { return 1.0f - 2.0f / (1.0f + exp_fast(2.0f * v)); }

void ffn_gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanh_fast(GELU_C * (x + 0.044715f * x * x * x)));
    }
}

void ffn_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float th = tanh_fast(GELU_C * (x + 0.044715f * x * x * x));
        float d = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += d * dout[i];
    }
}

void ffn_tanh_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

void ffn_tanh_backward(float *dinp, const float *out, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += (1.0f - out[i] * out[i]) * dout[i];
}

/* splitmix64 of (seed, index): a counter-based stream, so a mask is the same for any thread split */
static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ffn_dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p, uint64_t seed, size_t first) {
    if (p <= 0.0f) {
        if (out != inp) memcpy(out, inp, n * sizeof(float));
        return;
    }
    uint64_t thresh = (uint64_t)((double)p * 18446744073709551616.0);
    float scale = 1.0f / (1.0f - p);
    uint64_t base = mix64(seed);
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        uint8_t keep = mix64(base ^ ((first + i) * 0xD1B54A32D192ED03ull)) >= thresh;
        mask[i] = keep;
        out[i] = keep ? inp[i] * scale : 0.0f;
    }
}

void ffn_dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p) {
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
        return;
    }
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd
    for (size_t i = 0; i < n; i++) dinp[i] += mask[i] ? dout[i] * scale : 0.0f;
}

void ffn_reduce_forward(float *out, const float *inp, int N, int C, int mode) {
    int H = C / 2;
#pragma omp parallel for
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * H;
        for (int j = 0; j < H; j++) {
            float a = x[2 * j], b = x[2 * j + 1];
            o[j] = mode == 1 ? (a >= b ? a : b) : mode == 2 ? 0.5f * (a + b) : x[j];
        }
    }
}

void ffn_reduce_backward(float *dinp, const float *dout, const float *inp, int N, int C, int mode) {
    int H = C / 2;
#pragma omp parallel for
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *g = dout + (size_t)i * H;
        float *dx = dinp + (size_t)i * C;
        for (int j = 0; j < H; j++) {
            if (mode == 1) {
                /* ties go to the first element, matching the forward's choice */
                if (x[2 * j] >= x[2 * j + 1]) dx[2 * j] += g[j];
                else dx[2 * j + 1] += g[j];
            } else if (mode == 2) {
                dx[2 * j] += 0.5f * g[j];
                dx[2 * j + 1] += 0.5f * g[j];
            } else {
                dx[j] += g[j];
            }
        }
    }
}

/* Dropped-out probabilities of one head into pd (T,T), recording the mask: the mask is a function of
 * (seed, head, position) only, so backward rebuilds the same pd from att and the mask. */
static void attention_drop(float *pd, uint8_t *dm, const float *A, size_t n, float p, uint64_t seed, int record) {
    uint64_t thresh = (uint64_t)((double)p * 18446744073709551616.0);
    float pscale = 1.0f / (1.0f - p);
    uint64_t base = mix64(seed);
#pragma omp parallel for simd schedule(static)
    for (size_t idx = 0; idx < n; idx++) {
        uint8_t keep = record ? mix64(base ^ (idx * 0xD1B54A32D192ED03ull)) >= thresh : dm[idx];
        if (record) dm[idx] = keep;
        pd[idx] = keep ? A[idx] * pscale : 0.0f;
    }
}

void ffn_attention_forward(float *ctx, float *att, uint8_t *drop, float *scratch, const float *q, const float *k,
                           const float *v, const uint8_t *keymask, int B, int T, int C, int NH, float p,
                           uint64_t seed, int b0) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++) {
        const uint8_t *km = keymask + (size_t)b * T;
        int any = 0;
        for (int t = 0; t < T; t++) any |= km[t];
        for (int h = 0; h < NH; h++) {
            size_t off = ((size_t)b * NH + h) * T * T;
            float *A = att + off;
            const float *qh = q + (size_t)b * T * C + h * hs, *kh = k + (size_t)b * T * C + h * hs;
            const float *vh = v + (size_t)b * T * C + h * hs;
            float *ch = ctx + (size_t)b * T * C + h * hs;
            ffn_sgemm(0, 1, T, T, hs, scale, qh, C, kh, C, 0.0f, A, T);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < T; i++) {
                float *row = A + (size_t)i * T;
                float mx = -INFINITY;
                for (int j = 0; j < T; j++)
                    if (!any || km[j]) mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int j = 0; j < T; j++) {
                    float e = (!any || km[j]) ? exp_fast(row[j] - mx) : 0.0f;
                    row[j] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < T; j++) row[j] *= inv;
            }
            if (p > 0.0f) {
                /* the context uses the dropped-out probabilities; att keeps the clean ones for backward */
                attention_drop(scratch, drop + off, A, (size_t)T * T, p, seed ^ (((uint64_t)(b0 + b) * NH + h) << 32), 1);
                ffn_sgemm(0, 0, T, hs, T, 1.0f, scratch, T, vh, C, 0.0f, ch, C);
            } else {
                ffn_sgemm(0, 0, T, hs, T, 1.0f, A, T, vh, C, 0.0f, ch, C);
            }
        }
    }
}

void ffn_attention_backward(float *dq, float *dk, float *dv, float *datt, float *scratch, const float *dctx,
                            const float *att, const uint8_t *drop, const float *q, const float *k,
                            const float *v, int B, int T, int C, int NH, float p) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float pscale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t off = ((size_t)b * NH + h) * T * T;
            const float *A = att + off;
            float *dA = datt + off;
            const float *dch = dctx + (size_t)b * T * C + h * hs;
            const float *vh = v + (size_t)b * T * C + h * hs;
            const float *qh = q + (size_t)b * T * C + h * hs, *kh = k + (size_t)b * T * C + h * hs;
            float *dvh = dv + (size_t)b * T * C + h * hs;
            float *dqh = dq + (size_t)b * T * C + h * hs, *dkh = dk + (size_t)b * T * C + h * hs;
            /* d(dropped probs) = dctx v^T */
            ffn_sgemm(0, 1, T, T, hs, 1.0f, dch, C, vh, C, 0.0f, dA, T);
            if (p > 0.0f) {
                const uint8_t *dm = drop + off;
                attention_drop(scratch, (uint8_t *)dm, A, (size_t)T * T, p, 0, 0);
                ffn_sgemm(1, 0, T, hs, T, 1.0f, scratch, T, dch, C, 1.0f, dvh, C);
#pragma omp parallel for simd schedule(static)
                for (size_t i = 0; i < (size_t)T * T; i++) dA[i] = dm[i] ? dA[i] * pscale : 0.0f;
            } else {
                ffn_sgemm(1, 0, T, hs, T, 1.0f, A, T, dch, C, 1.0f, dvh, C);
            }
            /* softmax backward, in place: ds = a * (da - sum(da * a)) */
#pragma omp parallel for schedule(static)
            for (int i = 0; i < T; i++) {
                const float *a = A + (size_t)i * T;
                float *g = dA + (size_t)i * T;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < T; j++) s += g[j] * a[j];
#pragma omp simd
                for (int j = 0; j < T; j++) g[j] = a[j] * (g[j] - s);
            }
            ffn_sgemm(0, 0, T, hs, T, scale, dA, T, kh, C, 1.0f, dqh, C);
            ffn_sgemm(1, 0, T, hs, T, scale, dA, T, qh, C, 1.0f, dkh, C);
        }
}

float ffn_crossentropy_forward(float *probs, const float *logits, const int *targets, int N, int V,
                               int *count) {
    double loss = 0.0;
    int cnt = 0;
#pragma omp parallel for reduction(+ : loss, cnt)
    for (int i = 0; i < N; i++) {
        if (targets[i] == -100) continue;
        const float *x = logits + (size_t)i * V;
        float *pr = probs + (size_t)i * V;
        float mx = -INFINITY;
        for (int j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < V; j++) {
            float e = expf(x[j] - mx);
            pr[j] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < V; j++) pr[j] *= inv;
        loss += -(x[targets[i]] - mx - log(sum));
        cnt++;
    }
    *count = cnt;
    return cnt ? (float)(loss / cnt) : 0.0f;
}

void ffn_crossentropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V,
                               int count, float dloss) {
    if (count == 0) return;
    float s = dloss / count;
#pragma omp parallel for
    for (int i = 0; i < N; i++) {
        if (targets[i] == -100) continue;
        const float *pr = probs + (size_t)i * V;
        float *d = dlogits + (size_t)i * V;
        for (int j = 0; j < V; j++) d[j] += s * (pr[j] - (j == targets[i] ? 1.0f : 0.0f));
    }
}
