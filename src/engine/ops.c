/* ops.c: fast float32 kernels for every encoder operation (forward/backward pairs).
 * The naive double-precision references these are tested against live in tests/ref.h. */
#include "ops.h"
#include "blas.h"
#include "simd.h"
#include <math.h>
#include <omp.h>
#include <string.h>

void fastfnet_embed_forward(float *out, const int *ids, const int *tt, const float *wte, const float *wpe,
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

void fastfnet_embed_backward(float *dwte, float *dwpe, float *dwtt, const float *dout, const int *ids,
                        const int *tt, int B, int T, int C) {
    /* Rows of dwte collide when a token repeats, so threads own channel ranges instead, and walk the rows in
     * order over their range (contiguous and vectorised; each sum is taken in the same order as row by row) */
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), th = omp_get_thread_num();
        int lo = (int)((long)C * th / nt), hi = (int)((long)C * (th + 1) / nt);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                const float *g = dout + ((size_t)b * T + t) * C;
                float *we = dwte + (size_t)ids[b * T + t] * C, *pe = dwpe + (size_t)t * C, *te = dwtt + (size_t)tt[b * T + t] * C;
#pragma omp simd
                for (int c = lo; c < hi; c++) {
                    we[c] += g[c];
                    pe[c] += g[c];
                    te[c] += g[c];
                }
            }
    }
}

void fastfnet_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                           const float *b, int N, int C, float eps) {
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) k->ln_row(out + (size_t)i * C, mean + i, rstd + i, inp + (size_t)i * C, w, b, C, eps);
}

void fastfnet_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, const float *mean, const float *rstd, int N, int C) {
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel
    {
#pragma omp for
        for (int i = 0; i < N; i++)
            k->ln_row_bwd(dinp + (size_t)i * C, dout + (size_t)i * C, inp + (size_t)i * C, w, mean[i], rstd[i], C);
        /* weight/bias gradients reduce over rows: threads own channel ranges (no two share an output)
         * and walk the rows in order, so every read is contiguous */
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int lo = (int)((long)C * t / nt), hi = (int)((long)C * (t + 1) / nt);
        for (int i = 0; i < N && hi > lo; i++) {
            size_t o = (size_t)i * C + lo;
            k->ln_param_acc(dw + lo, db + lo, dout + o, inp + o, mean[i], rstd[i], (size_t)(hi - lo));
        }
    }
}

/* out (N, OC) = inp (N, C) w^T + b (NULL: none), through w's packed copy where there is one; the bias is added as
 * out is stored */
void fastfnet_linear_forward_pk(float *out, const float *inp, const float *w, const fastfnet_gemm_wpack *wp, const float *b,
                                int N, int C, int OC) {
    if (wp && fastfnet_gemm_wpacked(wp, N, inp, C, 0.0f, b, out, OC) == 0) return;
    fastfnet_sgemm_bias(N, OC, C, inp, C, w, C, b, out, OC);
}

void fastfnet_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC) {
    fastfnet_linear_forward_pk(out, inp, w, NULL, b, N, C, OC);
}

/* dinp_beta 1 adds the input gradient to dinp, 0 overwrites it (no pass zeroing it first, no read of it back) */
static void linear_backward(float *dinp, float dinp_beta, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC) {
    if (dinp) fastfnet_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, dinp_beta, dinp, C);
    fastfnet_sgemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
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

void fastfnet_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int N, int C, int OC) {
    linear_backward(dinp, 1.0f, dw, db, dout, inp, w, N, C, OC);
}

void fastfnet_linear_backward_set(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                                  int N, int C, int OC) {
    linear_backward(dinp, 0.0f, dw, db, dout, inp, w, N, C, OC);
}

/* This thread's share [lo, hi) of n elements, in multiples of 16 floats so no two threads share a cache line. */
static void share(size_t n, size_t *lo, size_t *hi) {
    size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    size_t blocks = (n + 15) / 16;
    *lo = blocks * t / nt * 16;
    *hi = blocks * (t + 1) / nt * 16;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

void fastfnet_zero(float *p, size_t n) {
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        if (hi > lo) memset(p + lo, 0, sizeof(float) * (hi - lo));
    }
}

void fastfnet_copy(float *dst, const float *src, size_t n) {
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        if (hi > lo) memcpy(dst + lo, src + lo, sizeof(float) * (hi - lo));
    }
}

void fastfnet_add(float *dst, const float *src, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

void fastfnet_gelu_forward(float *out, const float *inp, size_t n) {
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        k->gelu_fwd(out + lo, inp + lo, hi - lo);
    }
}

void fastfnet_linear_gelu_forward_pk(float *g, float *a, const float *inp, const float *w, const fastfnet_gemm_wpack *wp,
                                     const float *b, int N, int C, int OC) {
    /* the bias is added in the gelu's pass, not by the product: the pass is compute-bound, so it costs nothing there */
    fastfnet_linear_forward_pk(a, inp, w, wp, NULL, N, C, OC);
    if (!b) {
        fastfnet_gelu_forward(g, a, (size_t)N * OC);
        return;
    }
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) k->bias_gelu(g + (size_t)i * OC, a + (size_t)i * OC, b, (size_t)OC);
}

void fastfnet_linear_gelu_forward(float *g, float *a, const float *inp, const float *w, const float *b, int N, int C, int OC) {
    fastfnet_linear_gelu_forward_pk(g, a, inp, w, NULL, b, N, C, OC);
}

void fastfnet_gelu_forward_deriv(float *g, float *d, const float *inp, size_t n) {
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        k->gelu_fwd_deriv(g + lo, d + lo, inp + lo, hi - lo);
    }
}

void fastfnet_gelu_backward_deriv(float *dinp, float *db, const float *dout, int N, int OC) {
    const fastfnet_kernels *k = fastfnet_kern();
    if (!db) {
#pragma omp parallel
        {
            size_t lo, hi;
            share((size_t)N * OC, &lo, &hi);
            k->mul_acc(dinp + lo, dout + lo, NULL, hi - lo);
        }
        return;
    }
    /* as linear_backward's bias gradient: threads own column ranges (whole cache lines of every row) and walk
     * the rows in order, so db sums in the same order for any thread count */
#pragma omp parallel
    {
        size_t lo, hi;
        share((size_t)OC, &lo, &hi);
        for (int i = 0; i < N; i++) {
            size_t o = (size_t)i * OC;
            if (hi > lo) k->mul_acc(dinp + o + lo, dout + o + lo, db + lo, hi - lo);
        }
    }
}

void fastfnet_linear_gelu_backward(float *dA, float *da_b, float *dw, float *db, float *dG, const float *dout,
                                   const float *g, const float *w, int N, int C, int OC) {
    linear_backward(NULL, 0.0f, dw, db, dout, g, w, N, C, OC);
    /* fused, the product's pass over dA replaces mul_acc's over dG and dA (docs/PERFORMANCE.md, round 11) */
    if (fastfnet_sgemm_mul(N, C, OC, dout, OC, w, C, dA, C, da_b) == 0) return;
    fastfnet_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 0.0f, dG, C);
    fastfnet_gelu_backward_deriv(dA, da_b, dG, N, C);
}

void fastfnet_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        k->gelu_bwd(dinp + lo, inp + lo, dout + lo, hi - lo);
    }
}

void fastfnet_tanh_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

void fastfnet_tanh_backward(float *dinp, const float *out, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += (1.0f - out[i] * out[i]) * dout[i];
}

/* splitmix64 of (seed, index): a counter-based stream, so a mask is the same for any thread split */
static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t drop_thresh(float p) { return (uint64_t)((double)p * 18446744073709551616.0); }

void fastfnet_dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p, uint64_t seed, size_t first) {
    if (p <= 0.0f) {
        if (out != inp) memcpy(out, inp, n * sizeof(float));
        return;
    }
    const fastfnet_kernels *k = fastfnet_kern();
    uint64_t thresh = drop_thresh(p), base = mix64(seed);
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        k->drop_mask(mask + lo, hi - lo, base, first + lo, thresh);
#pragma omp simd
        for (size_t i = lo; i < hi; i++) out[i] = mask[i] ? inp[i] * scale : 0.0f;
    }
}

void fastfnet_residual_forward(float *out, uint8_t *mask, const float *inp, const float *resid, size_t n, float p,
                          uint64_t seed, size_t first) {
    const fastfnet_kernels *k = fastfnet_kern();
    uint64_t thresh = drop_thresh(p), base = mix64(seed);
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        if (p > 0.0f) k->drop_mask(mask + lo, hi - lo, base, first + lo, thresh);
        k->drop_add(out + lo, p > 0.0f ? mask + lo : NULL, inp + lo, resid + lo, scale, hi - lo);
    }
}

void fastfnet_residual_layernorm_forward(float *out, float *sum, float *mean, float *rstd, uint8_t *mask, const float *inp,
                                    const float *resid, const float *w, const float *b, int N, int C, float eps,
                                    float p, uint64_t seed, size_t first) {
    const fastfnet_kernels *k = fastfnet_kern();
    uint64_t thresh = drop_thresh(p), base = mix64(seed);
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    /* one pass per row while it is in cache: mask, dropout + residual into sum, then LayerNorm of sum */
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        size_t o = (size_t)i * C;
        if (p > 0.0f) k->drop_mask(mask + o, (size_t)C, base, first + o, thresh);
        k->drop_add(sum + o, p > 0.0f ? mask + o : NULL, inp + o, resid + o, scale, (size_t)C);
        k->ln_row(out + o, mean + i, rstd + i, sum + o, w, b, C, eps);
    }
}

void fastfnet_dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p) {
    if (p <= 0.0f) {
        fastfnet_copy(dinp, dout, n);
        return;
    }
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] = mask[i] ? dout[i] * scale : 0.0f;
}

void fastfnet_adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float wd, float beta1,
                      float beta2, float bc1, float bc2, float eps) {
    const fastfnet_kernels *k = fastfnet_kern();
#pragma omp parallel
    {
        size_t lo, hi;
        share(n, &lo, &hi);
        k->adamw(p + lo, g + lo, m + lo, v + lo, hi - lo, lr, wd, beta1, beta2, bc1, bc2, eps);
    }
}

void fastfnet_reduce_forward(float *out, const float *inp, int N, int C, int mode) {
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

void fastfnet_reduce_backward(float *dinp, const float *dout, const float *inp, int N, int C, int mode) {
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

/* ---------- attention: tiled, online softmax (flash attention) ----------
 * A head's scores are computed FA_BR query rows x FA_BC keys at a time and never stored whole: forward keeps
 * each row's log-sum-exp, backward recomputes the probabilities of a tile from it. Tiles of 128 keep the
 * products big enough for the BLAS kernel and a thread's scratch in L2. */
#define FA_BR 128
#define FA_BC 128

size_t fastfnet_attention_scratch_floats(int T) { return 3 * (size_t)FA_BR * FA_BC + (size_t)T + 2 * FA_BR + FA_BC / 4 + 16; }

/* The dropout stream of head h of batch row brow (its index in the whole batch): element (i, j) of the head's
 * (T,T) probabilities is kept when mix64(base ^ ((i T + j) K)) >= thresh. */
static uint64_t att_base(uint64_t seed, int brow, int h, int NH) { return mix64(seed ^ (((uint64_t)brow * NH + h) << 32)); }

int fastfnet_attention_kept(uint64_t seed, int brow, int h, int NH, int T, int i, int j, float p) {
    if (p <= 0.0f) return 1;
    uint64_t idx = (uint64_t)i * T + j;
    return mix64(att_base(seed, brow, h, NH) ^ (idx * 0xD1B54A32D192ED03ull)) >= drop_thresh(p);
}

typedef struct {
    const float *q, *k, *v;    /* (T, C) rows of one sequence, this head's columns first */
    const uint8_t *km;         /* (T) keys that may be attended, or NULL for all */
    int T, C, hs;
    float scale, p, pscale;
    uint64_t base, thresh;
} att_head;

static att_head head_of(const float *q, const float *k, const float *v, const uint8_t *keymask, int b, int h, int T,
                        int C, int NH, float p, uint64_t seed, int b0) {
    int hs = C / NH;
    size_t o = (size_t)b * T * C + (size_t)h * hs;
    const uint8_t *km = keymask + (size_t)b * T;
    int any = 0;
    for (int t = 0; t < T; t++) any |= km[t];
    att_head a = {q + o, k + o, v + o, any ? km : NULL, T, C, hs, 1.0f / sqrtf((float)hs), p,
                  p > 0.0f ? 1.0f / (1.0f - p) : 1.0f, att_base(seed, b0 + b, h, NH), drop_thresh(p)};
    return a;
}

/* S (br,bc) = scale q_i k_j^T, masked keys at -inf */
static void att_scores(float *S, const att_head *a, int i0, int br, int j0, int bc) {
    fastfnet_sgemm(0, 1, br, bc, a->hs, a->scale, a->q + (size_t)i0 * a->C, a->C, a->k + (size_t)j0 * a->C, a->C, 0.0f, S, bc);
    if (!a->km) return;
    const uint8_t *km = a->km + j0;
    for (int r = 0; r < br; r++) {
        float *s = S + (size_t)r * bc;
#pragma omp simd
        for (int j = 0; j < bc; j++) s[j] = km[j] ? s[j] : -INFINITY;
    }
}

/* One query tile of one head: ctx rows i0..i0+br (strided by C) and their log-sum-exp. */
static void att_forward_tile(float *ctx, float *lse, float *ws, const att_head *a, int i0, int br) {
    const fastfnet_kernels *kn = fastfnet_kern();
    int T = a->T, C = a->C, hs = a->hs;
    float *S = ws, *mrow = ws + (size_t)FA_BR * FA_BC, *lrow = mrow + FA_BR;
    uint8_t *keep = (uint8_t *)(lrow + FA_BR);
    float *o = ctx + (size_t)i0 * C;
    for (int r = 0; r < br; r++) {
        mrow[r] = -INFINITY, lrow[r] = 0.0f;
        memset(o + (size_t)r * C, 0, sizeof(float) * hs);
    }
    for (int j0 = 0; j0 < T; j0 += FA_BC) {
        int bc = T - j0 < FA_BC ? T - j0 : FA_BC;
        att_scores(S, a, i0, br, j0, bc);
        for (int r = 0; r < br; r++) {
            float *s = S + (size_t)r * bc, *orow = o + (size_t)r * C;
            float mnew = kn->row_max(s, (size_t)bc);
            mnew = mnew > mrow[r] ? mnew : mrow[r];
            if (mnew == -INFINITY) { /* no key of this row attended yet: the tile adds nothing */
                memset(s, 0, sizeof(float) * bc);
                continue;
            }
            /* online softmax: rescale what the earlier tiles summed to the new running maximum */
            float alpha = expf(mrow[r] - mnew);
            lrow[r] = alpha * lrow[r] + kn->exp_shift_sum(s, mnew, (size_t)bc);
            mrow[r] = mnew;
            for (int e = 0; e < hs; e++) orow[e] *= alpha;
            if (a->p > 0.0f) { /* the context uses the dropped-out probabilities; l sums the clean ones */
                kn->drop_mask(keep, (size_t)bc, a->base, (uint64_t)(i0 + r) * T + j0, a->thresh);
#pragma omp simd
                for (int j = 0; j < bc; j++) s[j] = keep[j] ? s[j] * a->pscale : 0.0f;
            }
        }
        fastfnet_sgemm(0, 0, br, hs, bc, 1.0f, S, bc, a->v + (size_t)j0 * C, C, 1.0f, o, C);
    }
    for (int r = 0; r < br; r++) {
        float inv = 1.0f / lrow[r];
        for (int e = 0; e < hs; e++) o[(size_t)r * C + e] *= inv;
        lse[i0 + r] = mrow[r] + logf(lrow[r]);
    }
}

static int att_slots(int nslots) {
    int nt = omp_get_max_threads();
    return nt < nslots ? nt : nslots;
}

void fastfnet_attention_forward(float *ctx, float *lse, float *scratch, int nslots, const float *q, const float *k,
                           const float *v, const uint8_t *keymask, int B, int T, int C, int NH, float p,
                           uint64_t seed, int b0) {
    int nq = (T + FA_BR - 1) / FA_BR, ntask = B * NH * nq;
    size_t per = fastfnet_attention_scratch_floats(T);
    /* tiles of different heads run side by side, each product single-threaded inside the parallel region */
#pragma omp parallel for schedule(dynamic, 1) num_threads(att_slots(nslots))
    for (int task = 0; task < ntask; task++) {
        int b = task / (NH * nq), h = task / nq % NH, i0 = task % nq * FA_BR;
        att_head a = head_of(q, k, v, keymask, b, h, T, C, NH, p, seed, b0);
        int br = T - i0 < FA_BR ? T - i0 : FA_BR;
        float *hctx = ctx + (size_t)b * T * C + (size_t)h * a.hs;
        att_forward_tile(hctx, lse + ((size_t)b * NH + h) * T, scratch + per * omp_get_thread_num(), &a, i0, br);
    }
}

/* One (query tile, key tile) pair of one head's backward: adds into dq rows i0.., dk and dv rows j0... */
static void att_backward_tile(float *dq, float *dk, float *dv, float *ws, const att_head *a, const float *dctx,
                              const float *lse, const float *D, int i0, int br, int j0, int bc) {
    const fastfnet_kernels *kn = fastfnet_kern();
    int T = a->T, C = a->C, hs = a->hs;
    float *P = ws, *dP = P + (size_t)FA_BR * FA_BC, *Pd = dP + (size_t)FA_BR * FA_BC;
    uint8_t *keep = (uint8_t *)(Pd + (size_t)FA_BR * FA_BC + T + 2 * FA_BR);
    const float *dO = dctx + (size_t)i0 * C;
    att_scores(P, a, i0, br, j0, bc);
    fastfnet_sgemm(0, 1, br, bc, hs, 1.0f, dO, C, a->v + (size_t)j0 * C, C, 0.0f, dP, bc);
    for (int r = 0; r < br; r++) {
        float *pr = P + (size_t)r * bc, *g = dP + (size_t)r * bc, *pd = Pd + (size_t)r * bc;
        kn->exp_shift_sum(pr, lse[i0 + r], (size_t)bc); /* the probabilities, from the saved row statistics */
        if (a->p > 0.0f) {
            kn->drop_mask(keep, (size_t)bc, a->base, (uint64_t)(i0 + r) * T + j0, a->thresh);
#pragma omp simd
            for (int j = 0; j < bc; j++) {
                pd[j] = keep[j] ? pr[j] * a->pscale : 0.0f;
                g[j] = keep[j] ? g[j] * a->pscale : 0.0f;
            }
        }
        /* softmax backward: ds = a * (da - sum(da * a)), the sum being rowsum(dctx * ctx) */
        float d = D[i0 + r];
#pragma omp simd
        for (int j = 0; j < bc; j++) g[j] = pr[j] * (g[j] - d);
    }
    const float *Pv = a->p > 0.0f ? Pd : P;
    fastfnet_sgemm(1, 0, bc, hs, br, 1.0f, Pv, bc, dO, C, 1.0f, dv + (size_t)j0 * C, C);
    fastfnet_sgemm(0, 0, br, hs, bc, a->scale, dP, bc, a->k + (size_t)j0 * C, C, 1.0f, dq + (size_t)i0 * C, C);
    fastfnet_sgemm(1, 0, bc, hs, br, a->scale, dP, bc, a->q + (size_t)i0 * C, C, 1.0f, dk + (size_t)j0 * C, C);
}

void fastfnet_attention_backward(float *dq, float *dk, float *dv, float *scratch, int nslots, const float *dctx,
                            const float *ctx, const float *lse, const float *q, const float *k, const float *v,
                            const uint8_t *keymask, int B, int T, int C, int NH, float p, uint64_t seed, int b0) {
    size_t per = fastfnet_attention_scratch_floats(T);
    /* one head per task: its dq, dk, dv columns belong to it alone */
#pragma omp parallel for schedule(dynamic, 1) num_threads(att_slots(nslots))
    for (int task = 0; task < B * NH; task++) {
        int b = task / NH, h = task % NH;
        att_head a = head_of(q, k, v, keymask, b, h, T, C, NH, p, seed, b0);
        float *ws = scratch + per * omp_get_thread_num(), *D = ws + 3 * (size_t)FA_BR * FA_BC;
        size_t o = (size_t)b * T * C + (size_t)h * a.hs;
        const float *hlse = lse + (size_t)task * T;
        for (int i = 0; i < T; i++) {
            const float *g = dctx + o + (size_t)i * C, *c = ctx + o + (size_t)i * C;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int e = 0; e < a.hs; e++) s += g[e] * c[e];
            D[i] = s;
        }
        for (int j0 = 0; j0 < T; j0 += FA_BC)
            for (int i0 = 0; i0 < T; i0 += FA_BR)
                att_backward_tile(dq + o, dk + o, dv + o, ws, &a, dctx + o, hlse, D, i0, T - i0 < FA_BR ? T - i0 : FA_BR,
                                  j0, T - j0 < FA_BC ? T - j0 : FA_BC);
    }
}

float fastfnet_crossentropy_forward(float *probs, const float *logits, const int *targets, int N, int V,
                               int *count) {
    const fastfnet_kernels *k = fastfnet_kern();
    double loss = 0.0;
    int cnt = 0;
#pragma omp parallel for reduction(+ : loss, cnt)
    for (int i = 0; i < N; i++) {
        if (targets[i] == -100) continue;
        const float *x = logits + (size_t)i * V;
        float *pr = probs + (size_t)i * V;
        float mx = k->row_max(x, (size_t)V);
        memcpy(pr, x, sizeof(float) * V);
        double sum = k->exp_shift_sum(pr, mx, (size_t)V);
        float inv = (float)(1.0 / sum);
#pragma omp simd
        for (int j = 0; j < V; j++) pr[j] *= inv;
        loss += -(x[targets[i]] - mx - log(sum));
        cnt++;
    }
    *count = cnt;
    return cnt ? (float)(loss / cnt) : 0.0f;
}

void fastfnet_crossentropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V,
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
