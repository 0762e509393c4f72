/* test_ops.c: every op against a naive double-precision reference written here, and every backward
 * against central finite differences. Odd, prime and non-power-of-two sizes throughout. */
#include "blas.h"
#include "gemm.h"
#include "fastfnet.h"
#include "check.h"
#include "ops.h"
#include "simd.h"
#include "util.h"
#include "die.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef void (*fwd_fn)(void *ctx);

/* Central differences of L = sum(r * out) w.r.t. x, on up to 48 coordinates; returns the worst
 * |fd - analytic| / (max(|fd|,|analytic|) + floor). */
static double gradcheck(fwd_fn f, void *ctx, float *x, size_t n, const float *out, size_t nout, const float *r,
                        const float *analytic, float h, double floor) {
    double worst = 0;
    size_t step = n > 48 ? n / 48 : 1;
    for (size_t i = 0; i < n; i += step) {
        float save = x[i];
        double L[2];
        for (int s = 0; s < 2; s++) {
            x[i] = save + (s ? -h : h);
            f(ctx);
            double acc = 0;
            for (size_t j = 0; j < nout; j++) acc += (double)r[j] * out[j];
            L[s] = acc;
        }
        x[i] = save;
        double fd = (L[0] - L[1]) / (2.0 * h), an = analytic[i];
        double e = fabs(fd - an) / (fmax(fabs(fd), fabs(an)) + floor);
        if (!(e <= worst)) worst = e;
    }
    f(ctx);
    return worst;
}

static float *fa(size_t n) { return fastfnet_xcalloc(n * sizeof(float)); }

/* ---------- layernorm ---------- */
typedef struct { float *out, *mean, *rstd, *inp, *w, *b; int N, C; } ln_ctx;
static void ln_f(void *p) {
    ln_ctx *c = p;
    fastfnet_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C, 1e-5f);
}
static void test_layernorm(int N, int C) {
    ln_ctx c = {fa(N * C), fa(N), fa(N), fa(N * C), fa(C), fa(C), N, C};
    fill(c.inp, N * C, 1.0f);
    for (int i = 0; i < C; i++) c.w[i] = 1.0f + 0.3f * nrand(), c.b[i] = 0.2f * nrand();
    ln_f(&c);
    double *ref = malloc(sizeof(double) * N * C);
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < C; j++) m += c.inp[i * C + j];
        m /= C;
        for (int j = 0; j < C; j++) v += (c.inp[i * C + j] - m) * (c.inp[i * C + j] - m);
        v /= C;
        for (int j = 0; j < C; j++) ref[i * C + j] = (c.inp[i * C + j] - m) / sqrt(v + 1e-5) * c.w[j] + c.b[j];
    }
    double e = rel_err_fd(c.out, ref, (size_t)N * C);
    check(e < 1e-5, "layernorm forward N=%d C=%d vs double: rel err %.2e", N, C, e);
    float *r = fa(N * C), *dx = fa(N * C), *dw = fa(C), *db = fa(C);
    fill(r, N * C, 1.0f);
    fastfnet_layernorm_backward(dx, dw, db, r, c.inp, c.w, c.mean, c.rstd, N, C);
    double e1 = gradcheck(ln_f, &c, c.inp, N * C, c.out, N * C, r, dx, 1e-2f, 1e-2);
    double e2 = gradcheck(ln_f, &c, c.w, C, c.out, N * C, r, dw, 1e-2f, 1e-2);
    double e3 = gradcheck(ln_f, &c, c.b, C, c.out, N * C, r, db, 1e-2f, 1e-2);
    check(e1 < 1e-2 && e2 < 1e-2 && e3 < 1e-2, "layernorm backward N=%d C=%d finite differences: dx %.1e dw %.1e db %.1e", N, C, e1, e2, e3);
    /* backward writes dinp (whatever was in it) and adds into dw, db */
    float *dx2 = fa(N * C), *dw2 = fa(C), *db2 = fa(C);
    for (int i = 0; i < N * C; i++) dx2[i] = 1e3f * (i % 7 - 3);
    memcpy(dw2, dw, sizeof(float) * C), memcpy(db2, db, sizeof(float) * C);
    fastfnet_layernorm_backward(dx2, dw2, db2, r, c.inp, c.w, c.mean, c.rstd, N, C);
    int wr = !memcmp(dx2, dx, sizeof(float) * N * C), acc = 1;
    for (int i = 0; i < C; i++) acc &= fabsf(dw2[i] - 2 * dw[i]) <= 1e-5f * (1 + fabsf(dw[i])) && fabsf(db2[i] - 2 * db[i]) <= 1e-5f * (1 + fabsf(db[i]));
    check(wr && acc, "layernorm backward writes dinp (bit for bit, over a non-zero buffer) and accumulates dw, db");
    fastfnet_free(dw2), fastfnet_free(db2);
    free(ref);
    fastfnet_free(c.out), fastfnet_free(c.mean), fastfnet_free(c.rstd), fastfnet_free(c.inp), fastfnet_free(c.w), fastfnet_free(c.b);
    fastfnet_free(r), fastfnet_free(dx), fastfnet_free(dw), fastfnet_free(db), fastfnet_free(dx2);
}

/* ---------- linear (both BLAS backends) ---------- */
typedef struct { float *out, *inp, *w, *b; int N, C, OC; } lin_ctx;
static void lin_f(void *p) {
    lin_ctx *c = p;
    fastfnet_linear_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
}
static void test_linear(int N, int C, int OC, int naive) {
    fastfnet_blas_set_naive(naive);
    lin_ctx c = {fa(N * OC), fa(N * C), fa(OC * C), fa(OC), N, C, OC};
    fill(c.inp, N * C, 1), fill(c.w, OC * C, 0.5f), fill(c.b, OC, 0.5f);
    lin_f(&c);
    double *ref = malloc(sizeof(double) * N * OC);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = c.b[o];
            for (int k = 0; k < C; k++) s += (double)c.inp[i * C + k] * c.w[o * C + k];
            ref[i * OC + o] = s;
        }
    double e = rel_err_fd(c.out, ref, (size_t)N * OC);
    check(e < 1e-5, "linear forward %s N=%d C=%d OC=%d vs double: rel err %.2e", naive ? "naive" : "cblas", N, C, OC, e);
    float *r = fa(N * OC), *dx = fa(N * C), *dw = fa(OC * C), *db = fa(OC);
    fill(r, N * OC, 1);
    fastfnet_linear_backward(dx, dw, db, r, c.inp, c.w, N, C, OC);
    double e1 = gradcheck(lin_f, &c, c.inp, N * C, c.out, N * OC, r, dx, 1e-2f, 1e-3);
    double e2 = gradcheck(lin_f, &c, c.w, OC * C, c.out, N * OC, r, dw, 1e-2f, 1e-3);
    double e3 = gradcheck(lin_f, &c, c.b, OC, c.out, N * OC, r, db, 1e-2f, 1e-3);
    check(e1 < 1e-2 && e2 < 1e-2 && e3 < 1e-2, "linear backward %s N=%d C=%d OC=%d finite differences: %.1e %.1e %.1e",
          naive ? "naive" : "cblas", N, C, OC, e1, e2, e3);
    free(ref);
    fastfnet_free(c.out), fastfnet_free(c.inp), fastfnet_free(c.w), fastfnet_free(c.b), fastfnet_free(r), fastfnet_free(dx), fastfnet_free(dw), fastfnet_free(db);
    fastfnet_blas_set_naive(0);
}

/* ---------- gelu_new, tanh ---------- */
typedef struct { float *out, *inp; size_t n; int which; } ew_ctx;
static void ew_f(void *p) {
    ew_ctx *c = p;
    if (c->which == 0) fastfnet_gelu_forward(c->out, c->inp, c->n);
    else fastfnet_tanh_forward(c->out, c->inp, c->n);
}
static void test_elementwise(int which, size_t n) {
    ew_ctx c = {fa(n), fa(n), n, which};
    fill(c.inp, n, 2.5f);
    ew_f(&c);
    double *ref = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        double x = c.inp[i];
        ref[i] = which == 0 ? 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))) : tanh(x);
    }
    double e = rel_err_fd(c.out, ref, n);
    const char *nm = which == 0 ? "gelu_new" : "tanh";
    check(e < 2e-6, "%s forward n=%zu vs double: rel err %.2e", nm, n, e);
    float *r = fa(n), *dx = fa(n);
    fill(r, n, 1);
    if (which == 0) fastfnet_gelu_backward(dx, c.inp, r, n);
    else fastfnet_tanh_backward(dx, c.out, r, n);
    double g = gradcheck(ew_f, &c, c.inp, n, c.out, n, r, dx, 1e-2f, 1e-3);
    check(g < 1e-2, "%s backward finite differences: %.1e", nm, g);
    free(ref);
    fastfnet_free(c.out), fastfnet_free(c.inp), fastfnet_free(r), fastfnet_free(dx);
}

/* gelu_new's derivative against the double one, the backward's one-pass recompute (g and g') against the
 * forward and backward ops, bias + gelu in place, and the edges (NaN, infinities, |x| beyond 1e13) */
static double gelu_ref(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double gelu_dref(double x) {
    double c = sqrt(2 / M_PI), t = tanh(c * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
}

/* The backward against the double derivative (dx), and the one-pass g and g' (gd, dd) against the forward (g)
 * and backward ops. */
static void check_gelu_one_pass(float *dx, float *g, float *gd, float *dd, double *ref, const float *x, const float *d,
                                size_t n) {
    fastfnet_gelu_backward(dx, x, d, n);
    for (size_t i = 0; i < n; i++) ref[i] = gelu_dref(x[i]) * d[i];
    double e = rel_err_fd(dx, ref, n);
    check(e < 2e-6, "gelu_new backward n=%zu vs double: rel err %.2e", n, e);
    fastfnet_gelu_forward(g, x, n);
    fastfnet_gelu_forward_deriv(gd, dd, x, n);
    fastfnet_gelu_backward_deriv(dd, NULL, d, 1, (int)n);
    double eg = 0, ed = 0;
    for (size_t i = 0; i < n; i++) {
        eg = fmax(eg, fabs(gd[i] - g[i]));
        ed = fmax(ed, fabs(dd[i] - dx[i]));
    }
    check(eg == 0 && ed < 1e-6, "gelu_new one-pass g and g' = forward and backward ops (diff %.1e, %.1e)", eg, ed);
}

/* With the bias gradient of (N,OC) = (7,143): the same dinp as dd (computed without it), db = its column sums
 * (added into); gd is scratch. */
static void check_gelu_bias_grad(float *gd, const float *dd, const float *x, const float *d, size_t n) {
    float *dd2 = fa(n), db[143];
    for (int j = 0; j < 143; j++) db[j] = 1.0f;
    fastfnet_gelu_forward_deriv(gd, dd2, x, n);
    fastfnet_gelu_backward_deriv(dd2, db, d, 7, 143);
    double eb = 0;
    for (int j = 0; j < 143; j++) {
        double sum = 1.0;
        for (int i = 0; i < 7; i++) sum += dd[i * 143 + j];
        eb = fmax(eb, fabs(db[j] - sum));
    }
    check(n == 1001 && !memcmp(dd, dd2, sizeof(float) * n) && eb < 1e-5, "gelu_new backward with the bias gradient: same dinp, db += column sums (err %.1e)", eb);
    fastfnet_free(dd2);
}

/* Bias + gelu, into another buffer (a keeps x + b) and in place, by rows of 37. */
static void check_bias_gelu(float *a, float *ga, const float *x, const float *b, size_t n) {
    size_t rows = n / 37;
    memcpy(a, x, sizeof(float) * rows * 37);
    const fastfnet_kernels *k = fastfnet_kern();
    int same = 1;
    for (size_t r = 0; r < rows; r++) {
        float *ar = a + r * 37, *gr = ga + r * 37, t[37];
        memcpy(t, x + r * 37, sizeof t);
        k->bias_gelu(gr, ar, b, 37);
        k->bias_gelu(t, t, b, 37);
        for (int j = 0; j < 37; j++) same &= ar[j] == x[r * 37 + j] + b[j] && t[j] == gr[j] && fabs(gr[j] - gelu_ref(ar[j])) < 4e-6 * (1 + fabs(ar[j]));
    }
    check(same, "bias + gelu_new: a = x + b, g matches the double reference, in place gives the same g");
}

static void check_gelu_edges(void) {
    float ex[] = {NAN, INFINITY, -INFINITY, 1e13f, -1e13f, 3e38f, -3e38f, 30.0f, -30.0f, 0.0f};
    float eo[10], eg2[10], ed2[10];
    fastfnet_gelu_forward(eo, ex, 10);
    fastfnet_gelu_forward_deriv(eg2, ed2, ex, 10);
    int edges = isnan(eo[0]) && isnan(ed2[0]) && eo[1] == INFINITY && eo[3] == 1e13f && eo[4] == 0.0f && eo[5] == 3e38f &&
                eo[6] == 0.0f && eo[7] == 30.0f && eo[8] == 0.0f && eo[9] == 0.0f && ed2[3] == 1.0f && ed2[4] == 0.0f &&
                ed2[7] == 1.0f && ed2[8] == 0.0f && ed2[9] == 0.5f && !memcmp(eo, eg2, sizeof eo);
    check(edges, "gelu_new edges: NaN stays NaN, inf -> inf, x >= 30 -> x (g' 1), x <= -30 and -1e13 -> 0 (g' 0)");
}

static void test_gelu_kernels(size_t n) {
    float *x = fa(n), *d = fa(n), *g = fa(n), *gd = fa(n), *dd = fa(n), *dx = fa(n), *a = fa(n), *b = fa(n), *ga = fa(n);
    double *ref = malloc(sizeof(double) * n);
    fill(x, n, 4.0f), fill(d, n, 1.0f), fill(b, 37 < n ? 37 : n, 1.0f);
    check_gelu_one_pass(dx, g, gd, dd, ref, x, d, n);
    check_gelu_bias_grad(gd, dd, x, d, n);
    check_bias_gelu(a, ga, x, b, n);
    check_gelu_edges();
    free(ref);
    fastfnet_free(x), fastfnet_free(d), fastfnet_free(g), fastfnet_free(gd), fastfnet_free(dd), fastfnet_free(dx);
    fastfnet_free(a), fastfnet_free(b), fastfnet_free(ga);
}

/* ---------- embeddings ---------- */
typedef struct { float *out, *wte, *wpe, *wtt; int *ids, *tt; int B, T, C; } emb_ctx;
static void emb_f(void *p) {
    emb_ctx *c = p;
    fastfnet_embed_forward(c->out, c->ids, c->tt, c->wte, c->wpe, c->wtt, c->B, c->T, c->C);
}
static void test_embed(int B, int T, int C, int V) {
    emb_ctx c = {fa(B * T * C), fa(V * C), fa(T * C), fa(4 * C), malloc(sizeof(int) * B * T), malloc(sizeof(int) * B * T), B, T, C};
    fill(c.wte, V * C, 1), fill(c.wpe, T * C, 1), fill(c.wtt, 4 * C, 1);
    for (int i = 0; i < B * T; i++) c.ids[i] = (int)(urand() * 3) % V, c.tt[i] = (int)(urand() * 4) % 4; /* repeats */
    emb_f(&c);
    double *ref = malloc(sizeof(double) * B * T * C);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int k = 0; k < C; k++)
                ref[(b * T + t) * C + k] = (double)c.wte[c.ids[b * T + t] * C + k] + c.wpe[t * C + k] + c.wtt[c.tt[b * T + t] * C + k];
    double e = rel_err_fd(c.out, ref, (size_t)B * T * C);
    check(e < 1e-6, "embeddings forward B=%d T=%d C=%d vs double: rel err %.2e", B, T, C, e);
    float *r = fa(B * T * C), *dwte = fa(V * C), *dwpe = fa(T * C), *dwtt = fa(4 * C);
    fill(r, B * T * C, 1);
    fastfnet_embed_backward(dwte, dwpe, dwtt, r, c.ids, c.tt, B, T, C);
    double e1 = gradcheck(emb_f, &c, c.wte, V * C, c.out, B * T * C, r, dwte, 1e-2f, 1e-3);
    double e2 = gradcheck(emb_f, &c, c.wpe, T * C, c.out, B * T * C, r, dwpe, 1e-2f, 1e-3);
    double e3 = gradcheck(emb_f, &c, c.wtt, 4 * C, c.out, B * T * C, r, dwtt, 1e-2f, 1e-3);
    check(e1 < 1e-2 && e2 < 1e-2 && e3 < 1e-2, "embeddings backward (repeated ids) finite differences: %.1e %.1e %.1e", e1, e2, e3);
    free(ref), free(c.ids), free(c.tt);
    fastfnet_free(c.out), fastfnet_free(c.wte), fastfnet_free(c.wpe), fastfnet_free(c.wtt), fastfnet_free(r), fastfnet_free(dwte), fastfnet_free(dwpe), fastfnet_free(dwtt);
}

/* ---------- Fast-FNet residual reductions ---------- */
typedef struct { float *out, *inp; int N, C, mode; } red_ctx;
static void red_f(void *p) {
    red_ctx *c = p;
    fastfnet_reduce_forward(c->out, c->inp, c->N, c->C, c->mode);
}
static void test_reduce(int mode, int N, int C) {
    static const char *nm[] = {"", "maxpool", "avgpool", "slice"};
    int H = C / 2;
    red_ctx c = {fa(N * H), fa(N * C), N, C, mode};
    fill(c.inp, N * C, 1);
    red_f(&c);
    double *ref = malloc(sizeof(double) * N * H);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++) {
            double a = c.inp[i * C + 2 * j], b = c.inp[i * C + 2 * j + 1];
            ref[i * H + j] = mode == 1 ? fmax(a, b) : mode == 2 ? (a + b) / 2 : c.inp[i * C + j];
        }
    double e = rel_err_fd(c.out, ref, (size_t)N * H);
    check(e < 1e-7, "residual %s forward N=%d C=%d vs double: rel err %.2e", nm[mode], N, C, e);
    float *r = fa(N * H), *dx = fa(N * C);
    fill(r, N * H, 1);
    fastfnet_reduce_backward(dx, r, c.inp, N, C, mode);
    double g = gradcheck(red_f, &c, c.inp, N * C, c.out, N * H, r, dx, 1e-3f, 1e-3);
    check(g < 1e-2, "residual %s backward finite differences: %.1e", nm[mode], g);
    free(ref);
    fastfnet_free(c.out), fastfnet_free(c.inp), fastfnet_free(r), fastfnet_free(dx);
}

/* ---------- dropout ---------- */
static void test_dropout(void) {
    size_t n = 100003;
    float *x = fa(n), *y = fa(n), *y2 = fa(n), *dx = fa(n), *g = fa(n);
    uint8_t *mask = fastfnet_xcalloc(n), *mask2 = fastfnet_xcalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f, g[i] = 1.0f;
    fastfnet_dropout_forward(y, mask, x, n, 0.1f, 42, 0);
    size_t kept = 0;
    double sum = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        kept += mask[i];
        sum += y[i];
        ok &= mask[i] ? fabsf(y[i] - 1.0f / 0.9f) < 1e-6f : y[i] == 0.0f;
    }
    double frac = 1.0 - (double)kept / n;
    check(ok && fabs(frac - 0.1) < 0.005 && fabs(sum / n - 1.0) < 0.01,
          "dropout p=0.1: dropped fraction %.4f, mean %.4f, kept values scaled by 1/(1-p)", frac, sum / n);
    fastfnet_dropout_forward(y2, mask2, x, n, 0.1f, 42, 0);
    check(!memcmp(mask, mask2, n), "dropout mask is reproducible from its seed");
    fastfnet_dropout_forward(y2, mask2, x, n, 0.1f, 43, 0);
    check(memcmp(mask, mask2, n) != 0, "dropout masks differ between seeds");
    for (size_t i = 0; i < n; i++) dx[i] = 7.0f; /* backward writes dx, whatever was in it */
    fastfnet_dropout_backward(dx, g, mask, n, 0.1f);
    ok = 1;
    for (size_t i = 0; i < n; i++) ok &= fabsf(dx[i] - y[i]) < 1e-6f; /* linear map: d/dx equals y at x = 1 */
    check(ok, "dropout backward applies the same mask and scale");
    fastfnet_free(x), fastfnet_free(y), fastfnet_free(y2), fastfnet_free(dx), fastfnet_free(g), fastfnet_free(mask), fastfnet_free(mask2);
}

/* ---------- attention ---------- */
typedef struct { float *ctx, *lse, *q, *k, *v; uint8_t *km; int B, T, C, NH; float p; float *scr; } att_ctx;
#define ATT_SLOTS 2
static void att_f(void *pp) {
    att_ctx *c = pp;
    fastfnet_attention_forward(c->ctx, c->lse, c->scr, ATT_SLOTS, c->q, c->k, c->v, c->km, c->B, c->T, c->C, c->NH, c->p, 7, 0);
}
/* Gradients of sum(r * ctx) in double: P softmax, Pd its dropout, ctx = Pd v; dv = Pd^T r, dPd = r v^T,
 * dP = dPd * mask / (1 - p), dS = P (dP - rowsum(dP P)), dq = dS k / sqrt(hs), dk = dS^T q / sqrt(hs). */
static void att_grad_ref(double *dq, double *dk, double *dv, const att_ctx *c, const float *r) {
    int B = c->B, T = c->T, C = c->C, NH = c->NH, hs = C / NH;
    double *P = malloc(sizeof(double) * T), *dP = malloc(sizeof(double) * T), sc = 1 / sqrt(hs);
    for (int b = 0; b < B; b++) {
        int any = 0;
        for (int t = 0; t < T; t++) any |= c->km[b * T + t];
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *qi = c->q + (size_t)(b * T + i) * C + h * hs, *ri = r + (size_t)(b * T + i) * C + h * hs;
                double mx = -1e300, sum = 0, dot = 0;
                for (int j = 0; j < T; j++) {
                    const float *kj = c->k + (size_t)(b * T + j) * C + h * hs;
                    double d = 0;
                    for (int e = 0; e < hs; e++) d += (double)qi[e] * kj[e];
                    P[j] = d * sc;
                    if ((!any || c->km[b * T + j]) && P[j] > mx) mx = P[j];
                }
                for (int j = 0; j < T; j++) sum += P[j] = (!any || c->km[b * T + j]) ? exp(P[j] - mx) : 0;
                for (int j = 0; j < T; j++) {
                    P[j] /= sum;
                    double keep = fastfnet_attention_kept(7, b, h, NH, T, i, j, c->p) ? 1 / (1 - c->p) : 0;
                    const float *vj = c->v + (size_t)(b * T + j) * C + h * hs;
                    double *dvj = dv + (size_t)(b * T + j) * C + h * hs, g = 0;
                    for (int e = 0; e < hs; e++) dvj[e] += P[j] * keep * ri[e], g += (double)ri[e] * vj[e];
                    dP[j] = g * keep;
                    dot += dP[j] * P[j];
                }
                for (int j = 0; j < T; j++) {
                    double ds = P[j] * (dP[j] - dot) * sc;
                    const float *kj = c->k + (size_t)(b * T + j) * C + h * hs;
                    double *dqi = dq + (size_t)(b * T + i) * C + h * hs, *dkj = dk + (size_t)(b * T + j) * C + h * hs;
                    for (int e = 0; e < hs; e++) dqi[e] += ds * kj[e], dkj[e] += ds * qi[e];
                }
            }
    }
    free(P), free(dP);
}

/* The forward in double: masked softmax over keys (a row with no key kept attends to all), dropout from
 * the same keep decisions (seed 7), times v. */
static void att_forward_ref(double *ref, const att_ctx *c) {
    int B = c->B, T = c->T, C = c->C, NH = c->NH, hs = C / NH;
    float p = c->p;
    double *s = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++) {
        int any = 0;
        for (int t = 0; t < T; t++) any |= c->km[b * T + t];
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int e = 0; e < hs; e++) d += (double)c->q[(b * T + i) * C + h * hs + e] * c->k[(b * T + j) * C + h * hs + e];
                    s[j] = d / sqrt(hs);
                    if ((!any || c->km[b * T + j]) && s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < T; j++) sum += s[j] = (!any || c->km[b * T + j]) ? exp(s[j] - mx) : 0;
                for (int j = 0; j < T; j++) {
                    double a = s[j] / sum;
                    if (p > 0) a = fastfnet_attention_kept(7, b, h, NH, T, i, j, p) ? a / (1 - p) : 0;
                    for (int e = 0; e < hs; e++) ref[(b * T + i) * C + h * hs + e] += a * c->v[(b * T + j) * C + h * hs + e];
                }
            }
    }
    free(s);
}

/* dq, dk, dv of sum(r * ctx): finite differences on short rows, the double reference on long ones. */
static void check_att_backward(att_ctx *c, const float *r, const float *dq, const float *dk, const float *dv) {
    size_t n = (size_t)c->B * c->T * c->C;
    if (c->T <= 16) { /* finite differences in float are too noisy over long rows: below, a double reference */
        double e1 = gradcheck(att_f, c, c->q, n, c->ctx, n, r, dq, 1e-2f, 1e-3);
        double e2 = gradcheck(att_f, c, c->k, n, c->ctx, n, r, dk, 1e-2f, 1e-3);
        double e3 = gradcheck(att_f, c, c->v, n, c->ctx, n, r, dv, 1e-2f, 1e-3);
        check(e1 < 2e-2 && e2 < 2e-2 && e3 < 2e-2, "attention backward finite differences: dq %.1e dk %.1e dv %.1e", e1, e2, e3);
    } else {
        double *rq = calloc(n, sizeof(double)), *rk = calloc(n, sizeof(double)), *rv = calloc(n, sizeof(double));
        att_grad_ref(rq, rk, rv, c, r);
        double e1 = rel_err_fd(dq, rq, n), e2 = rel_err_fd(dk, rk, n), e3 = rel_err_fd(dv, rv, n);
        check(e1 < 1e-4 && e2 < 1e-4 && e3 < 1e-4, "attention backward B=%d T=%d p=%.1f vs double: dq %.1e dk %.1e dv %.1e", c->B, c->T, c->p, e1, e2, e3);
        free(rq), free(rk), free(rv);
    }
}

static void test_attention(int B, int T, int C, int NH, float p) {
    size_t n = (size_t)B * T * C;
    att_ctx c = {fa(n), fa((size_t)B * NH * T), fa(n), fa(n), fa(n), fastfnet_xcalloc(B * T), B, T, C, NH, p,
                 fa(fastfnet_attention_scratch_floats(T) * ATT_SLOTS)};
    fill(c.q, n, 1), fill(c.k, n, 1), fill(c.v, n, 1);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) c.km[b * T + t] = b == 1 ? 0 : t < T - b * (T / 3); /* row 1 fully masked, others padded */
    att_f(&c);
    double *ref = calloc(n, sizeof(double));
    att_forward_ref(ref, &c);
    double e = rel_err_fd(c.ctx, ref, n);
    check(e < 1e-5, "attention forward B=%d T=%d C=%d NH=%d p=%.1f (padding, an all-pad row) vs double: rel err %.2e", B, T, C, NH, p, e);
    float *r = fa(n), *dq = fa(n), *dk = fa(n), *dv = fa(n);
    fill(r, n, 1);
    fastfnet_attention_backward(dq, dk, dv, c.scr, ATT_SLOTS, r, c.ctx, c.lse, c.q, c.k, c.v, c.km, B, T, C, NH, p, 7, 0);
    check_att_backward(&c, r, dq, dk, dv);
    free(ref);
    fastfnet_free(c.ctx), fastfnet_free(c.lse), fastfnet_free(c.q), fastfnet_free(c.k), fastfnet_free(c.v), fastfnet_free(c.km), fastfnet_free(c.scr);
    fastfnet_free(r), fastfnet_free(dq), fastfnet_free(dk), fastfnet_free(dv);
}

/* ---------- fused residual + LayerNorm, AdamW ---------- */
static void test_residual_layernorm(int N, int C, float p) {
    size_t n = (size_t)N * C;
    float *x = fa(n), *res = fa(n), *w = fa(C), *b = fa(C), *sum = fa(n), *out = fa(n), *mean = fa(N), *rstd = fa(N);
    float *x2 = fa(n), *out2 = fa(n), *mean2 = fa(N), *rstd2 = fa(N);
    uint8_t *mask = fastfnet_xcalloc(n), *mask2 = fastfnet_xcalloc(n);
    fill(x, n, 1), fill(res, n, 1);
    for (int i = 0; i < C; i++) w[i] = 1.0f + 0.3f * nrand(), b[i] = 0.2f * nrand();
    fastfnet_residual_layernorm_forward(out, sum, mean, rstd, mask, x, res, w, b, N, C, 1e-5f, p, 99, 1234);
    /* the unfused ops it replaces: dropout, add, LayerNorm */
    fastfnet_dropout_forward(x2, mask2, x, n, p, 99, 1234);
    for (size_t i = 0; i < n; i++) x2[i] += res[i];
    fastfnet_layernorm_forward(out2, mean2, rstd2, x2, w, b, N, C, 1e-5f);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(sum[i] - x2[i]) + fabs(out[i] - out2[i]));
    int same_mask = p <= 0 || !memcmp(mask, mask2, n);
    check(same_mask && worst < 1e-5, "residual + LayerNorm fused N=%d C=%d p=%.1f vs dropout, add, LayerNorm: same mask %d, max diff %.1e",
          N, C, p, same_mask, worst);
    fastfnet_free(x), fastfnet_free(res), fastfnet_free(w), fastfnet_free(b), fastfnet_free(sum), fastfnet_free(out), fastfnet_free(mean), fastfnet_free(rstd);
    fastfnet_free(x2), fastfnet_free(out2), fastfnet_free(mean2), fastfnet_free(rstd2), fastfnet_free(mask), fastfnet_free(mask2);
}

static void test_adamw(size_t n) {
    float *p = fa(n), *g = fa(n), *m = fa(n), *v = fa(n);
    double *rp = malloc(sizeof(double) * n), *rm = calloc(n, sizeof(double)), *rv = calloc(n, sizeof(double));
    fill(p, n, 1);
    for (size_t i = 0; i < n; i++) rp[i] = p[i];
    /* the float hyper-parameters, as the model passes them (1 - 0.999f is 4e-5 away from 0.001) */
    double lr = 1e-2f, wd = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, worst = 0;
    for (int step = 1; step <= 3; step++) {
        fill(g, n, 1);
        double bc1 = 1.0f - powf((float)b1, (float)step), bc2 = 1.0f - powf((float)b2, (float)step);
        fastfnet_adamw_update(p, g, m, v, n, (float)lr, (float)wd, (float)b1, (float)b2, (float)bc1, (float)bc2, (float)eps);
        for (size_t i = 0; i < n; i++) {
            rp[i] -= lr * wd * rp[i];
            rm[i] = b1 * rm[i] + (1 - b1) * g[i];
            rv[i] = b2 * rv[i] + (1 - b2) * (double)g[i] * g[i];
            rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i] / bc2) + eps);
        }
    }
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(p[i] - rp[i]) / (fabs(rp[i]) + 1e-3));
    check(worst < 1e-5, "AdamW n=%zu, 3 steps vs double: rel err %.1e", n, worst);
    fastfnet_free(p), fastfnet_free(g), fastfnet_free(m), fastfnet_free(v), free(rp), free(rm), free(rv);
}

/* ---------- the vector kernels: exp's edges, and every instruction set this CPU runs against the base ---------- */
static void test_exp_edges(void) {
    const fastfnet_kernels *k = fastfnet_kern();
    float x[] = {0.0f, 1e-8f, -1e-8f, 0.5f, -0.5f, 1.0f, 10.0f, -10.0f, 80.0f, 88.0f, -87.0f, -87.5f, -100.0f, 100.0f,
                 -INFINITY, INFINITY, NAN, 0.34657359f, -0.34657359f};
    int n = (int)(sizeof x / sizeof x[0]), ok = 1;
    float y[32];
    memcpy(y, x, sizeof x);
    k->exp_shift_sum(y, 0.0f, (size_t)n);
    for (int i = 0; i < n; i++) {
        double want = x[i] != x[i] ? NAN : x[i] < -87.0f ? 0.0 : exp(fmin(x[i], 88.0));
        int good = want != want ? y[i] != y[i] : fabs(y[i] - want) <= 4e-7 * want;
        if (!good) printf("  exp(%g) = %g, want %g\n", x[i], y[i], want);
        ok &= good;
    }
    check(ok, "exp kernel (%s): 2 ulp on [-87, 88], 0 below (-inf gives 0), e^88 above, NaN stays NaN", k->name);
}

/* rel_err_fd against a float result, promoted */
static double rel_err_vs(const float *a, const float *b, size_t n) {
    double *bd = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) bd[i] = b[i];
    double e = rel_err_fd(a, bd, n);
    free(bd);
    return e;
}

static void test_simd_paths(void) {
    const char *wide = "avx512";
    if (fastfnet_simd_select(wide) != 0) {
        printf("SKIP the %s kernels: this CPU (or compiler) has no %s; only the base path (%s) was tested\n", wide, wide,
               fastfnet_kern()->name);
        fastfnet_simd_select("base");
        return;
    }
    size_t n = 4099;
    float *x = fa(n), *d = fa(n), *y1 = fa(n), *y2 = fa(n), *g1 = fa(n), *g2 = fa(n), *r1 = fa(n), *r2 = fa(n), *q1 = fa(n), *q2 = fa(n);
    uint8_t *m1 = fastfnet_xcalloc(n), *m2 = fastfnet_xcalloc(n);
    fill(x, n, 6), fill(d, n, 1);
    double worst = 0;
    for (int pass = 0; pass < 2; pass++) {
        fastfnet_simd_select(pass ? "base" : wide);
        fastfnet_gelu_forward(pass ? y2 : y1, x, n);
        fastfnet_gelu_backward(pass ? g2 : g1, x, d, n);
        fastfnet_gelu_forward_deriv(pass ? r2 : r1, pass ? q2 : q1, x, n);
        fastfnet_gelu_backward_deriv(pass ? q2 : q1, NULL, d, 1, (int)n);
        fastfnet_dropout_forward(pass ? y2 : y1, pass ? m2 : m1, pass ? y2 : y1, n, 0.2f, 5, 17);
    }
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(y1[i] - y2[i]) + fabs(g1[i] - g2[i]) + fabs(r1[i] - r2[i]) + fabs(q1[i] - q2[i]));
    check(worst < 1e-6 && !memcmp(m1, m2, n), "%s kernels match the base kernels: gelu, gelu backward, the one-pass g and g', dropout (max diff %.1e)",
          wide, worst);
    /* LayerNorm forward and backward, 36 rows of 113 (an odd width: the vector loops' tails; N C <= n) */
    int N = 36, C = 113;
    float *lo[2], *lm[2], *lr[2], *ldx[2], *ldw[2], *ldb[2], *lw = fa(C), *lb = fa(C);
    fill(lw, C, 1), fill(lb, C, 1);
    for (int pass = 0; pass < 2; pass++) {
        fastfnet_simd_select(pass ? "base" : wide);
        lo[pass] = fa(N * C), lm[pass] = fa(N), lr[pass] = fa(N), ldx[pass] = fa(N * C), ldw[pass] = fa(C), ldb[pass] = fa(C);
        fastfnet_layernorm_forward(lo[pass], lm[pass], lr[pass], x, lw, lb, N, C, 1e-5f);
        fastfnet_layernorm_backward(ldx[pass], ldw[pass], ldb[pass], d, x, lw, lm[0], lr[0], N, C);
    }
    double e_out = rel_err_vs(lo[0], lo[1], (size_t)N * C), e_dx = rel_err_vs(ldx[0], ldx[1], (size_t)N * C);
    double e_dw = rel_err_vs(ldw[0], ldw[1], (size_t)C), e_db = rel_err_vs(ldb[0], ldb[1], (size_t)C);
    check(e_out < 1e-6 && e_dx < 1e-5 && e_dw < 1e-6 && e_db < 1e-6,
          "%s LayerNorm matches the base kernels: forward %.1e, dx %.1e, dw %.1e, db %.1e (relative)", wide, e_out, e_dx, e_dw, e_db);
    for (int pass = 0; pass < 2; pass++)
        fastfnet_free(lo[pass]), fastfnet_free(lm[pass]), fastfnet_free(lr[pass]), fastfnet_free(ldx[pass]), fastfnet_free(ldw[pass]), fastfnet_free(ldb[pass]);
    fastfnet_free(lw), fastfnet_free(lb);
    fastfnet_free(x), fastfnet_free(d), fastfnet_free(y1), fastfnet_free(y2), fastfnet_free(g1), fastfnet_free(g2), fastfnet_free(m1), fastfnet_free(m2);
    fastfnet_free(r1), fastfnet_free(r2), fastfnet_free(q1), fastfnet_free(q2);
}

/* ---------- cross-entropy ---------- */
typedef struct { float *probs, *logits; int *tg; int N, V; float loss; } ce_ctx;
static void ce_f(void *p) {
    ce_ctx *c = p;
    int cnt;
    c->loss = fastfnet_crossentropy_forward(c->probs, c->logits, c->tg, c->N, c->V, &cnt);
}
static void test_crossentropy(int N, int V) {
    ce_ctx c = {fa(N * V), fa(N * V), malloc(sizeof(int) * N), N, V, 0};
    fill(c.logits, N * V, 3);
    for (int i = 0; i < N; i++) c.tg[i] = i % 3 == 1 ? -100 : (int)(urand() * V) % V;
    ce_f(&c);
    double ref = 0;
    int cnt = 0;
    for (int i = 0; i < N; i++) {
        if (c.tg[i] == -100) continue;
        double mx = -1e300, s = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, c.logits[i * V + j]);
        for (int j = 0; j < V; j++) s += exp(c.logits[i * V + j] - mx);
        ref += -(c.logits[i * V + c.tg[i]] - mx - log(s));
        cnt++;
    }
    ref /= cnt;
    check(fabs(c.loss - ref) < 1e-5 * fabs(ref), "cross-entropy forward N=%d V=%d (ignore -100) vs double: %.7f vs %.7f", N, V, c.loss, ref);
    float *dl = fa(N * V), one = 1.0f;
    int count;
    fastfnet_crossentropy_forward(c.probs, c.logits, c.tg, N, V, &count);
    fastfnet_crossentropy_backward(dl, c.probs, c.tg, N, V, count, 1.0f);
    double g = gradcheck(ce_f, &c, c.logits, N * V, &c.loss, 1, &one, dl, 5e-2f, 1e-3);
    check(g < 1e-2, "cross-entropy backward finite differences: %.1e", g);
    free(c.tg);
    fastfnet_free(c.probs), fastfnet_free(c.logits), fastfnet_free(dl);
}

/* ---------- the threaded passes: zero, copy, add ---------- */
static void test_passes(size_t n) {
    float *a = fa(n + 1), *b = fa(n + 1), *c = fa(n + 1);
    for (size_t i = 0; i <= n; i++) a[i] = 0.5f * (float)i - 3.0f, b[i] = 9.0f, c[i] = 1.0f + (float)(i % 5);
    fastfnet_copy(b, a, n);
    int ok_copy = !memcmp(a, b, sizeof(float) * n) && b[n] == 9.0f;
    fastfnet_add(b, c, n);
    int ok_add = b[n] == 9.0f;
    for (size_t i = 0; i < n; i++) ok_add &= b[i] == a[i] + c[i];
    fastfnet_zero(b, n);
    int ok_zero = b[n] == 9.0f;
    for (size_t i = 0; i < n; i++) ok_zero &= b[i] == 0.0f;
    check(ok_copy && ok_add && ok_zero, "copy, add, zero over n=%zu: exact, every element, nothing past the end", n);
    fastfnet_free(a), fastfnet_free(b), fastfnet_free(c);
}

/* ---------- the BLAS seam's beta = 0: C is overwritten whatever it held (NaN included), rows past N untouched ---------- */
static void test_sgemm_beta0(int M, int N, int K, int ldc) {
    float *A = fa((size_t)M * K), *B = fa((size_t)K * N), *C = fa((size_t)M * ldc), *R = fa((size_t)M * ldc);
    fill(A, (size_t)M * K, 1.0f), fill(B, (size_t)K * N, 1.0f);
    for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = NAN, R[i] = -1.0f;
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) C[(size_t)i * ldc + j] = -1.0f; /* the gaps a strided C must keep */
    fastfnet_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, ldc);
    fastfnet_blas_set_naive(1);
    fastfnet_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, R, ldc);
    fastfnet_blas_set_naive(0);
    double e = 0.0, s = 0.0;
    int gaps = 1, finite = 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t o = (size_t)i * ldc + j;
            if (j >= N) gaps &= C[o] == -1.0f;
            else finite &= isfinite(C[o]), e += ((double)C[o] - R[o]) * ((double)C[o] - R[o]), s += (double)R[o] * R[o];
        }
    double rel = sqrt(e / (s > 0 ? s : 1));
    check(finite && gaps && rel < 1e-6, "sgemm beta=0 M=%d N=%d K=%d ldc=%d over a NaN-filled C: rel err %.1e vs naive, gaps kept", M, N, K, ldc, rel);
    fastfnet_free(A), fastfnet_free(B), fastfnet_free(C), fastfnet_free(R);
}

/* the seam's linear product, C = A W^T + bias, with its kernel (the bias added as C is stored) and with the naive
 * backend (the bias copied into C, the product added): the same to rounding, C's gaps past N kept */
static void test_sgemm_bias(int M, int N, int K) {
    int ldc = N + 3;
    float *A = fa((size_t)M * K), *W = fa((size_t)N * K), *b = fa(N), *C = fa((size_t)M * ldc), *R = fa((size_t)M * ldc);
    fill(A, (size_t)M * K, 1.0f), fill(W, (size_t)N * K, 1.0f), fill(b, N, 1.0f);
    for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = R[i] = NAN;
    for (int i = 0; i < M; i++) C[(size_t)i * ldc + N] = R[(size_t)i * ldc + N] = -1.0f;
    fastfnet_sgemm_bias(M, N, K, A, K, W, K, b, C, ldc);
    fastfnet_blas_set_naive(1);
    fastfnet_sgemm_bias(M, N, K, A, K, W, K, b, R, ldc);
    fastfnet_blas_set_naive(0);
    double e = 0.0, s = 0.0;
    int gaps = 1, finite = 1;
    for (int i = 0; i < M; i++) {
        gaps &= C[(size_t)i * ldc + N] == -1.0f;
        for (int j = 0; j < N; j++) {
            size_t o = (size_t)i * ldc + j;
            finite &= isfinite(C[o]), e += ((double)C[o] - R[o]) * ((double)C[o] - R[o]), s += (double)R[o] * R[o];
        }
    }
    double rel = sqrt(e / (s > 0 ? s : 1));
    check(finite && gaps && isfinite(rel) && rel < 1e-6, "sgemm_bias M=%d N=%d K=%d over a NaN-filled C: rel err %.1e vs naive, gaps kept",
          M, N, K, rel);
    fastfnet_free(A), fastfnet_free(W), fastfnet_free(b), fastfnet_free(C), fastfnet_free(R);
}

/* fastfnet's own product (gemm.c) against a double-precision loop, on one SIMD kernel set: both transpositions
 * of each operand, strides past the width (whose gaps must be kept), partial tiles in M and N, several K blocks
 * (K > 768), alpha != 1, beta 0 over a NaN-filled C and beta 1; threads = 1 runs it inside a parallel region */
static double gemm_case(int ta, int tb, int M, int N, int K, float alpha, float beta, int in_par, int *kept) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 7;
    /* a linear layer's product (A W^T, alpha 1, beta 0) goes through fastfnet_gemm_linear with a bias */
    int lin = !ta && tb && alpha == 1.0f && beta == 0.0f;
    float *A = fa((size_t)(ta ? K : M) * lda), *B = fa((size_t)(tb ? N : K) * ldb), *C = fa((size_t)M * ldc), *bias = fa(N);
    fill(A, (size_t)(ta ? K : M) * lda, 1.0f), fill(B, (size_t)(tb ? N : K) * ldb, 1.0f), fill(C, (size_t)M * ldc, 1.0f);
    fill(bias, N, 1.0f);
    double *R = malloc(sizeof(double) * (size_t)M * ldc);
    for (size_t i = 0; i < (size_t)M * ldc; i++) {
        R[i] = C[i];
        if (beta == 0.0f && (int)(i % ldc) < N) C[i] = NAN;
    }
    int rc = -1;
#pragma omp parallel num_threads(2) if (in_par)
#pragma omp single
    rc = lin ? fastfnet_gemm_linear(M, N, K, A, lda, B, ldb, bias, C, ldc)
             : fastfnet_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double e = rc == 0 ? 0.0 : INFINITY, s = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t o = (size_t)i * ldc + j;
            if (j >= N) { *kept &= C[o] == (float)R[o]; continue; }
            double acc = 0.0;
            for (int k = 0; k < K; k++)
                acc += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                       (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            double ref = alpha * acc + beta * R[o] + (lin ? bias[j] : 0.0);
            e += (C[o] - ref) * (C[o] - ref), s += ref * ref;
        }
    free(R);
    fastfnet_free(A), fastfnet_free(B), fastfnet_free(C), fastfnet_free(bias);
    return isfinite(e) ? sqrt(e / (s > 0 ? s : 1)) : INFINITY;
}

/* a weight packed once (fastfnet_gemm_wpack) gives fastfnet_gemm's product to the bit, beta 0 and 1, several K
 * blocks and a partial panel; after a switch of SIMD set (another kernel's layout) it declines */
static void test_gemm_wpack(void) {
    if (!strcmp(fastfnet_gemm_name(), "openblas")) return; /* test_gemm_own said so */
    int M = 37, N = 45, K = 1000;
    float *A = fa((size_t)M * K), *W = fa((size_t)N * K), *C1 = fa((size_t)M * N), *C2 = fa((size_t)M * N);
    fill(A, (size_t)M * K, 1.0f), fill(W, (size_t)N * K, 1.0f), fill(C1, (size_t)M * N, 1.0f);
    memcpy(C2, C1, sizeof(float) * M * N);
    fastfnet_gemm_wpack *w = fastfnet_gemm_wpack_create(W, N, K);
    int ok = w && fastfnet_gemm_wpacked(w, M, A, K, 1.0f, NULL, C1, N) == 0 && fastfnet_gemm(0, 1, M, N, K, 1.0f, A, K, W, K, 1.0f, C2, N) == 0;
    int same1 = ok && !memcmp(C1, C2, sizeof(float) * M * N);
    ok = ok && fastfnet_gemm_wpacked(w, M, A, K, 0.0f, NULL, C1, N) == 0 && fastfnet_gemm(0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, C2, N) == 0;
    int same0 = ok && !memcmp(C1, C2, sizeof(float) * M * N);
    float *bias = fa(N);
    fill(bias, N, 1.0f);
    ok = ok && fastfnet_gemm_wpacked(w, M, A, K, 0.0f, bias, C1, N) == 0 && fastfnet_gemm_linear(M, N, K, A, K, W, K, bias, C2, N) == 0;
    int sameb = ok && !memcmp(C1, C2, sizeof(float) * M * N) && fastfnet_gemm_wpacked(w, M, A, K, 1.0f, bias, C1, N) != 0;
    fastfnet_free(bias);
    const char *was = fastfnet_kern()->name, *other = strcmp(was, "base") ? "base" : "avx512";
    int declines = fastfnet_simd_select(other) != 0 || fastfnet_gemm_wpacked(w, M, A, K, 0.0f, NULL, C1, N) != 0;
    fastfnet_simd_select(was);
    check(same1 && same0 && sameb && declines && fastfnet_gemm_wpacked(NULL, M, A, K, 0.0f, NULL, C1, N) != 0,
          "packed weight (%s): A W^T equal to the bit to fastfnet_gemm's (beta 1 and 0, K %d in 2 blocks, N %d), and "
          "A W^T + bias to fastfnet_gemm_linear's; declined with a bias and beta 1, under the other SIMD set and for NULL", fastfnet_gemm_name(), K, N);
    fastfnet_gemm_wpack_free(w);
    fastfnet_free(A), fastfnet_free(W), fastfnet_free(C1), fastfnet_free(C2);
}

static void test_gemm_own(const char *simd) {
    if (fastfnet_simd_select(simd) != 0) return; /* test_simd_paths says which sets this CPU lacks */
    if (!strcmp(fastfnet_gemm_name(), "openblas")) {
        printf("NOTE fastfnet's own gemm is not built for this compiler or target: every product goes to OpenBLAS\n");
        return;
    }
    static const int shapes[][3] = {{13, 37, 29}, {100, 70, 1000}, {257, 33, 8}, {4, 8, 800}, {29, 131, 97}};
    double worst = 0.0;
    int kept = 1, cases = 0;
    for (int sh = 0; sh < 5; sh++)
        for (int t = 0; t < 4; t++) {
            int M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
            /* alpha 1 with A row-major: A read where it lies; alpha 0.37 with A row-major (sh odd) packs it */
            float alpha = t == 3 || (t == 2 && sh % 2) ? 0.37f : 1.0f, beta = (sh + t) % 2 ? 1.0f : 0.0f;
            double e = gemm_case(t & 1, t >> 1, M, N, K, alpha, beta, (sh + t) % 3 == 0, &kept);
            worst = fmax(worst, e), cases++;
        }
    check(worst < 2e-6 && kept, "own gemm (%s): %d products (every transposition, A read in place and packed, partial tiles, "
          "2 K blocks, alpha, beta 0 over NaN and 1, a linear layer's bias, in and out of a parallel region) vs double: worst rel err %.1e, strides' gaps kept",
          fastfnet_gemm_name(), cases, worst);
    float x[64] = {0};
    check(fastfnet_gemm(0, 0, 8, 8, 8, 1.0f, x, 8, x, 8, 0.5f, x, 8) != 0 && fastfnet_gemm(0, 0, 3, 8, 8, 1.0f, x, 8, x, 8, 0.0f, x, 8) != 0,
          "own gemm (%s) declines beta 0.5 and a 3-row product (they go to OpenBLAS)", fastfnet_gemm_name());
    /* the AVX2 kernel leaves wide products to OpenBLAS (N and K above 256, or K above 1024); AVX-512's takes them */
    float *A = fa(8 * 1100), *B = fa(1100 * 300), *C = fa(8 * 300);
    int wide = fastfnet_gemm(0, 0, 8, 300, 1100, 1.0f, A, 1100, B, 300, 0.0f, C, 300) == 0;
    check(wide == !strcmp(simd, "avx512"), "own gemm (%s) %s a wide product (8 x 300, K 1100)", fastfnet_gemm_name(),
          wide ? "takes" : "leaves OpenBLAS");
    fastfnet_free(A), fastfnet_free(B), fastfnet_free(C);
}

/* the product fused with an elementwise factor and column sums (fastfnet_gemm_mul: C = (A B) C, colsum += the new
 * C's columns) against a double-precision loop; to the bit against the plain product followed by the multiplication
 * and row-by-row sums it replaces, with 2 threads and with 1 (inside a parallel region); C's gaps and the sums past N
 * kept; declined, nothing touched, for K above one block and by the seam under the naive backend */
static int gemm_mul_case(int M, int N, int K, int in_par, double *worst) {
    int lda = K + 3, ldb = N + 5, ldc = N + 7;
    float *A = fa((size_t)M * lda), *B = fa((size_t)K * ldb), *C = fa((size_t)M * ldc), *D = fa((size_t)M * ldc);
    float *P = fa((size_t)M * ldc), *cs = fa(N + 1), *ps = fa(N + 1);
    fill(A, (size_t)M * lda, 1.0f), fill(B, (size_t)K * ldb, 1.0f), fill(D, (size_t)M * ldc, 1.0f), fill(cs, N + 1, 1.0f);
    memcpy(C, D, sizeof(float) * (size_t)M * ldc), memcpy(ps, cs, sizeof(float) * (N + 1));
    int rc = -1;
#pragma omp parallel num_threads(2) if (in_par)
#pragma omp single
    rc = fastfnet_gemm_mul(M, N, K, A, lda, B, ldb, C, ldc, cs);
    int ok = rc == 0 && fastfnet_gemm(0, 0, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, P, ldc) == 0 && cs[N] == ps[N];
    double e = 0.0, s = 0.0, es = 0.0, ss = 0.0;
    for (int j = 0; j < N; j++) {
        double sum = ps[j];
        for (int i = 0; i < M; i++) {
            size_t o = (size_t)i * ldc + j;
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += (double)A[(size_t)i * lda + k] * B[(size_t)k * ldb + j];
            double ref = acc * D[o];
            e += (C[o] - ref) * (C[o] - ref), s += ref * ref, sum += ref;
            float x = P[o] * D[o];
            ps[j] += x;
            ok &= !memcmp(&x, &C[o], sizeof x);
        }
        es += (cs[j] - sum) * (cs[j] - sum), ss += sum * sum;
        ok &= !memcmp(&ps[j], &cs[j], sizeof(float));
    }
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) ok &= C[(size_t)i * ldc + j] == D[(size_t)i * ldc + j];
    *worst = fmax(*worst, fmax(sqrt(e / (s > 0 ? s : 1)), sqrt(es / (ss > 0 ? ss : 1))));
    fastfnet_free(A), fastfnet_free(B), fastfnet_free(C), fastfnet_free(D), fastfnet_free(P), fastfnet_free(cs), fastfnet_free(ps);
    return ok;
}

static void test_gemm_mul(const char *simd) {
    if (fastfnet_simd_select(simd) != 0 || !strcmp(fastfnet_gemm_name(), "openblas")) return; /* test_gemm_own says why */
    static const int shapes[][3] = {{100, 70, 29}, {257, 131, 768}, {4, 8, 8}, {37, 200, 128}};
    double worst = 0.0;
    int ok = 1;
    for (int sh = 0; sh < 4; sh++)
        for (int par = 0; par < 2; par++) ok &= gemm_mul_case(shapes[sh][0], shapes[sh][1], shapes[sh][2], par, &worst);
    check(ok && worst < 2e-6, "own gemm (%s) with a factor and column sums: 8 products (partial tiles, K 8..768, 1 and 2 "
          "threads) vs double: worst rel err %.1e; to the bit the plain product times the factor, summed row by row; "
          "strides' gaps kept", fastfnet_gemm_name(), worst);
    int M = 16, N = 16, K = 769;
    float *A = fa((size_t)M * K), *B = fa((size_t)K * N), *C = fa((size_t)M * N), cs[16] = {0};
    fill(C, (size_t)M * N, 1.0f);
    float c0 = C[5];
    int declines = fastfnet_gemm_mul(M, N, K, A, K, B, N, C, N, cs) != 0 && C[5] == c0 && cs[5] == 0.0f;
    fastfnet_blas_set_naive(1);
    declines &= fastfnet_sgemm_mul(M, N, 8, A, K, B, N, C, N, cs) != 0 && C[5] == c0;
    fastfnet_blas_set_naive(0);
    check(declines, "own gemm (%s) with a factor declines K 769 (two K blocks), and the seam under the naive backend; "
          "C untouched", fastfnet_gemm_name());
    fastfnet_free(A), fastfnet_free(B), fastfnet_free(C);
}

/* OpenBLAS's kernels fit the CPU: a core named in OPENBLAS_CORETYPE is kept; otherwise a CPU with AVX2 and FMA
 * gets a core with AVX2 kernels at least, and one with AVX-512 F/CD/BW/DQ/VL a core with AVX-512 kernels (Debian
 * 12's OpenBLAS chose its SSE3 kernels on Intel Emerald Rapids, a fifth of the AVX-512 speed, until the library
 * had it choose again; AVX2 kernels on an AVX-512 CPU run at half its speed, seen on AMD Zen 5) */
static void test_blas_core(void) {
    const char *core = fastfnet_blas_core(), *env = getenv("OPENBLAS_CORETYPE");
    if (!strcmp(core, "cblas")) return; /* not OpenBLAS: nothing to choose */
    if (env) {
        check(!strcasecmp(core, env), "OpenBLAS kernels %s: the core named in OPENBLAS_CORETYPE (%s) is kept", core, env);
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    static const char *const fit[] = {"SkylakeX", "Cooperlake", "SapphireRapids", "Haswell", "Zen"};
    int level = 0; /* 2: AVX-512 kernels, 1: AVX2 */
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(core, fit[i])) level = i < 3 ? 2 : 1;
    int want = avx512 ? 2 : avx2 ? 1 : 0;
    check(level >= want, "OpenBLAS kernels %s on a CPU with %s: a core with that CPU's widest kernels", core,
          avx512 ? "AVX-512" : avx2 ? "AVX2 and FMA" : "neither AVX2 nor AVX-512");
#endif
}

int main(void) {
    fastfnet_set_threads(2);
    int sizes[][2] = {{7, 6}, {13, 30}, {5, 16}, {1, 2}, {3, 1}};
    for (int i = 0; i < 5; i++) test_layernorm(sizes[i][0], sizes[i][1]);
    for (int naive = 0; naive < 2; naive++) {
        test_linear(7, 6, 5, naive);
        test_linear(13, 30, 15, naive);
        test_linear(1, 3, 1, naive);
    }
    test_blas_core();
    const char *simd = fastfnet_kern()->name; /* the CPU's widest set: the tests after these run on it */
    test_gemm_own("avx512");
    test_gemm_own("base");
    fastfnet_simd_select(simd);
    test_gemm_wpack();
    test_sgemm_beta0(300, 257, 33, 257);
    test_sgemm_beta0(300, 250, 17, 261);
    test_sgemm_beta0(5, 7, 3, 9);
    test_elementwise(0, 1001);
    test_elementwise(1, 257);
    test_gelu_kernels(1001);
    test_embed(2, 7, 6, 5);
    test_embed(3, 13, 30, 4);
    for (int mode = 1; mode <= 3; mode++) {
        test_reduce(mode, 7, 6);
        test_reduce(mode, 13, 30);
    }
    test_dropout();
    size_t pass_sizes[] = {0, 1, 15, 17, 1001, 4096 + 3};
    for (int i = 0; i < 6; i++) test_passes(pass_sizes[i]);
    test_attention(3, 7, 6, 2, 0.0f);
    test_attention(3, 13, 30, 3, 0.0f);
    test_attention(3, 7, 6, 1, 0.3f);
    /* several tiles of queries and keys, a partial last tile, and whole key tiles masked */
    test_attention(3, 300, 16, 2, 0.0f);
    test_attention(3, 260, 8, 1, 0.2f);
    test_residual_layernorm(13, 30, 0.0f);
    test_residual_layernorm(13, 30, 0.3f);
    test_adamw(1001);
    test_exp_edges();
    test_simd_paths();
    test_crossentropy(7, 5);
    test_crossentropy(13, 31);
    /* last: fill()'s one random stream stays where the tests above had it */
    test_sgemm_bias(300, 257, 33);
    test_sgemm_bias(3, 40, 16);
    test_gemm_mul("avx512");
    test_gemm_mul("base");
    fastfnet_simd_select(simd);
    return check_summary();
}
