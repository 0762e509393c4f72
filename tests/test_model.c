/* test_model.c: the whole model: a naive double-precision reference forward for every model kind,
 * finite-difference checks of every parameter tensor's gradient (dropout on, masks held fixed), backend
 * equivalence (FFT / DFT matrix / naive, CBLAS / naive), checkpoints (round trip, HF directory layout,
 * refused mismatches), and config.json's reader and writer. */
#include "blas.h"
#include "check.h"
#include "model.h"
#include "safetensors.h"
#include "util.h"
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------- naive double reference of docs/MODEL.md ---------- */
static double *dalloc(size_t n) { return calloc(n, sizeof(double)); }
static void r_linear(double *out, const double *in, const float *w, const float *b, int N, int C, int OC) {
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0;
            for (int k = 0; k < C; k++) s += in[(size_t)i * C + k] * w[(size_t)o * C + k];
            out[(size_t)i * OC + o] = s;
        }
}
static void r_ln(double *x, const float *w, const float *b, int N, int C, double eps) {
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0, *r = x + (size_t)i * C;
        for (int j = 0; j < C; j++) m += r[j];
        m /= C;
        for (int j = 0; j < C; j++) v += (r[j] - m) * (r[j] - m);
        v /= C;
        for (int j = 0; j < C; j++) r[j] = (r[j] - m) / sqrt(v + eps) * w[j] + b[j];
    }
}
static double r_gelu(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double r_ce(const double *logits, int V, int t) {
    double mx = -1e300, s = 0;
    for (int j = 0; j < V; j++) mx = fmax(mx, logits[j]);
    for (int j = 0; j < V; j++) s += exp(logits[j] - mx);
    return -(logits[t] - mx - log(s));
}

typedef struct { double *hidden, *pooled, *mlm, *nsp, *cls, loss; } ref_out;

/* s (N,Wo) = Re(DFT_T X DFT_W)[.., :Wo] by direct sums over every column of x, padding included */
static void r_fourier(double *s, const double *x, int B, int T, int W, int Wo) {
    for (int b = 0; b < B; b++)
        for (int n = 0; n < T; n++)
            for (int kk = 0; kk < Wo; kk++) {
                double acc = 0;
                for (int tt = 0; tt < T; tt++)
                    for (int d = 0; d < W; d++) acc += x[(size_t)(b * T + tt) * W + d] * cos(2 * M_PI * ((double)n * tt / T + (double)kk * d / W));
                s[(size_t)(b * T + n) * Wo + kk] = acc;
            }
}

/* r (N,W/2) = the Dimension Reduction of x (N,W) */
static void r_reduce(double *r, const double *x, const fastfnet_config *c, const fastfnet_layer_params *p, int N, int W) {
    int Wo = W / 2;
    if (c->residual == FASTFNET_RES_DENSE) r_linear(r, x, p->r_w, p->r_b, N, W, Wo);
    else
        for (int i = 0; i < N; i++)
            for (int j = 0; j < Wo; j++) {
                double a = x[(size_t)i * W + 2 * j], bb = x[(size_t)i * W + 2 * j + 1];
                r[(size_t)i * Wo + j] = c->residual == FASTFNET_RES_MAXPOOL ? fmax(a, bb) : c->residual == FASTFNET_RES_AVGPOOL ? (a + bb) / 2 : x[(size_t)i * W + j];
            }
}

/* The authors' block on the full-width state x (N,W), straight from its definition: f = Re(DFT2(x))[.., :H];
 * the residual is the previous block's y (the values of x) after a block of this kind, else Reduce(x);
 * y = LN_2(h + FFN(h)), h = LN_1(f + res), at H = W/2; returns ZeroPad(y) (N,W). */
static double *r_padblock(const double *x, const fastfnet_config *c, int l, const fastfnet_layer_params *p, int B, int T) {
    int N = B * T, W = fastfnet_config_width(c, l), H = W / 2;
    int off = c->pad == FASTFNET_PAD_CENTRED ? W / 4 : 0;
    int F = (int)((long)c->intermediate_size * W / c->hidden_size) / (c->block_ffn == FASTFNET_BLOCK_FFN_HALVED ? 2 : 1);
    double *s1 = dalloc((size_t)N * H), *r = dalloc((size_t)N * H), *a = dalloc((size_t)N * F), *o = dalloc((size_t)N * H);
    r_fourier(s1, x, B, T, W, H);
    if (l > 0 && c->mixing[l - 1] == FASTFNET_MIX_FAST_FOURIER_PAD)
        for (int i = 0; i < N; i++) memcpy(r + (size_t)i * H, x + (size_t)i * W + off, sizeof(double) * H);
    else r_reduce(r, x, c, p, N, W);
    for (size_t i = 0; i < (size_t)N * H; i++) s1[i] += r[i];
    r_ln(s1, p->ln1_w, p->ln1_b, N, H, c->layer_norm_eps);
    r_linear(a, s1, p->w1, p->b1, N, H, F);
    for (size_t i = 0; i < (size_t)N * F; i++) a[i] = r_gelu(a[i]);
    r_linear(o, a, p->w2, p->b2, N, F, H);
    for (size_t i = 0; i < (size_t)N * H; i++) o[i] += s1[i];
    r_ln(o, p->ln2_w, p->ln2_b, N, H, c->layer_norm_eps);
    double *xp = dalloc((size_t)N * W);
    for (int i = 0; i < N; i++) memcpy(xp + (size_t)i * W + off, o + (size_t)i * H, sizeof(double) * H);
    free(s1), free(r), free(a), free(o);
    return xp;
}

/* x (N,E) = Proj(LN(word + position + token type embeddings)) */
static double *r_embeddings(const fastfnet_model *m, const fastfnet_batch *bt) {
    const fastfnet_config *c = &m->cfg;
    const fastfnet_params *P = &m->P;
    int T = bt->T, E = c->hidden_size, N = bt->B * T;
    double *x = dalloc((size_t)N * E), *t = dalloc((size_t)N * E);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < E; k++)
            t[(size_t)i * E + k] = (double)P->wte[(size_t)bt->input_ids[i] * E + k] + P->wpe[(size_t)(i % T) * E + k] +
                                   P->wtt[(size_t)(bt->token_type_ids ? bt->token_type_ids[i] : 0) * E + k];
    r_ln(t, P->eln_w, P->eln_b, N, E, c->layer_norm_eps);
    r_linear(x, t, P->proj_w, P->proj_b, N, E, E);
    free(t);
    return x;
}

/* s1 (N,W) = x + O(softmax(Q K^T / sqrt(hs)) V) per head; a row's pad keys are masked unless the row is all
 * padding */
static void r_attention(double *s1, const double *x, const fastfnet_config *c, const fastfnet_layer_params *p,
                        const fastfnet_batch *bt, int W) {
    int B = bt->B, T = bt->T, N = B * T;
    double *q = dalloc((size_t)N * W), *k = dalloc((size_t)N * W), *v = dalloc((size_t)N * W), *ctx = dalloc((size_t)N * W);
    r_linear(q, x, p->q_w, p->q_b, N, W, W);
    r_linear(k, x, p->k_w, p->k_b, N, W, W);
    r_linear(v, x, p->v_w, p->v_b, N, W, W);
    int NH = c->num_heads, hs = W / NH;
    double *sc = dalloc(T);
    for (int b = 0; b < B; b++) {
        int any = 0;
        for (int j = 0; j < T; j++) any |= bt->input_ids[b * T + j] != c->pad_token_id;
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int e = 0; e < hs; e++) d += q[(size_t)(b * T + i) * W + h * hs + e] * k[(size_t)(b * T + j) * W + h * hs + e];
                    sc[j] = d / sqrt(hs);
                    if (!any || bt->input_ids[b * T + j] != c->pad_token_id) mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < T; j++)
                    sum += sc[j] = (!any || bt->input_ids[b * T + j] != c->pad_token_id) ? exp(sc[j] - mx) : 0;
                for (int j = 0; j < T; j++)
                    for (int e = 0; e < hs; e++) ctx[(size_t)(b * T + i) * W + h * hs + e] += sc[j] / sum * v[(size_t)(b * T + j) * W + h * hs + e];
            }
    }
    r_linear(s1, ctx, p->o_w, p->o_b, N, W, W);
    for (size_t i = 0; i < (size_t)N * W; i++) s1[i] += x[i];
    free(q), free(k), free(v), free(ctx), free(sc);
}

/* s1 (N,Wo) = Re(DFT2(x))[.., :Wo] + the residual: x itself, or Reduce(x) where the layer halves the width */
static void r_fourier_mixing(double *s1, const double *x, const fastfnet_config *c, const fastfnet_layer_params *p,
                             int B, int T, int W, int Wo) {
    int N = B * T;
    r_fourier(s1, x, B, T, W, Wo);
    if (W == Wo) {
        for (size_t i = 0; i < (size_t)N * W; i++) s1[i] += x[i];
    } else {
        double *r = dalloc((size_t)N * Wo);
        r_reduce(r, x, c, p, N, W); /* Wo == W / 2: a width changes only by halving */
        for (size_t i = 0; i < (size_t)N * Wo; i++) s1[i] += r[i];
        free(r);
    }
}

/* A layer of FNet, the narrow design or BERT on x (N,W): h = LN_1(mixing + residual) at the output width Wo;
 * returns y = LN_2(h + FFN(h)) (N,Wo). */
static double *r_layer(const double *x, const fastfnet_config *c, int l, const fastfnet_layer_params *p,
                       const fastfnet_batch *bt) {
    int B = bt->B, T = bt->T, N = B * T;
    int W = fastfnet_config_width(c, l), Wo = fastfnet_config_width(c, l + 1), F = fastfnet_width_ffn(c, Wo);
    double *s1 = dalloc((size_t)N * Wo);
    if (c->mixing[l] == FASTFNET_MIX_ATTENTION) r_attention(s1, x, c, p, bt, W);
    else r_fourier_mixing(s1, x, c, p, B, T, W, Wo);
    r_ln(s1, p->ln1_w, p->ln1_b, N, Wo, c->layer_norm_eps);
    double *a = dalloc((size_t)N * F), *o = dalloc((size_t)N * Wo);
    r_linear(a, s1, p->w1, p->b1, N, Wo, F);
    for (size_t i = 0; i < (size_t)N * F; i++) a[i] = r_gelu(a[i]);
    r_linear(o, a, p->w2, p->b2, N, F, Wo);
    for (size_t i = 0; i < (size_t)N * Wo; i++) o[i] += s1[i];
    r_ln(o, p->ln2_w, p->ln2_b, N, Wo, c->layer_norm_eps);
    free(s1), free(a);
    return o;
}

/* *loss += the mean cross-entropy of the rows of logits (n,V) whose label is not -100 (none if labels is NULL) */
static void r_add_mean_ce(double *loss, const double *logits, int n, int V, const int *labels) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n && labels; i++)
        if (labels[i] != -100) s += r_ce(logits + (size_t)i * V, V, labels[i]), k++;
    if (k) *loss += s / k;
}

/* pooled (B,Df) = tanh(Dense(x at each sequence's first position)) */
static double *r_pooler(const double *x, const fastfnet_params *P, int B, int T, int Df) {
    double *first = dalloc((size_t)B * Df);
    for (int b = 0; b < B; b++) memcpy(first + (size_t)b * Df, x + (size_t)b * T * Df, sizeof(double) * Df);
    double *pooled = dalloc((size_t)B * Df);
    r_linear(pooled, first, P->pool_w, P->pool_b, B, Df, Df);
    for (int i = 0; i < B * Df; i++) pooled[i] = tanh(pooled[i]);
    free(first);
    return pooled;
}

/* MLM logits (N,V) = LN(GELU(Dense(x))) times the word embeddings (tied decoder) + bias */
static double *r_mlm_logits(const double *x, const fastfnet_config *c, const fastfnet_params *P, int N, int Df) {
    int E = c->hidden_size, V = c->vocab_size;
    double *t1 = dalloc((size_t)N * E);
    r_linear(t1, x, P->mlm_w, P->mlm_b, N, Df, E);
    for (size_t i = 0; i < (size_t)N * E; i++) t1[i] = r_gelu(t1[i]);
    r_ln(t1, P->mlm_ln_w, P->mlm_ln_b, N, E, c->layer_norm_eps);
    double *mlm = dalloc((size_t)N * V);
    r_linear(mlm, t1, P->wte, P->mlm_bias, N, E, V);
    free(t1);
    return mlm;
}

/* The heads the model has on the final hidden state R->hidden, and the sum of their mean losses. */
static void r_heads(ref_out *R, const fastfnet_model *m, const fastfnet_batch *bt) {
    const fastfnet_config *c = &m->cfg;
    const fastfnet_params *P = &m->P;
    int B = bt->B, T = bt->T, N = B * T;
    int Df = fastfnet_config_width(c, c->num_layers);
    if (c->heads & FASTFNET_HEAD_POOLER) R->pooled = r_pooler(R->hidden, P, B, T, Df);
    if (c->heads & FASTFNET_HEAD_CLS) {
        R->cls = dalloc((size_t)B * c->num_labels);
        r_linear(R->cls, R->pooled, P->cls_w, P->cls_b, B, Df, c->num_labels);
        r_add_mean_ce(&R->loss, R->cls, B, c->num_labels, bt->cls_labels);
    }
    if (c->heads & FASTFNET_HEAD_NSP) {
        R->nsp = dalloc((size_t)B * 2);
        r_linear(R->nsp, R->pooled, P->nsp_w, P->nsp_b, B, Df, 2);
        r_add_mean_ce(&R->loss, R->nsp, B, 2, bt->nsp_labels);
    }
    if (c->heads & FASTFNET_HEAD_MLM) {
        R->mlm = r_mlm_logits(R->hidden, c, P, N, Df);
        r_add_mean_ce(&R->loss, R->mlm, N, c->vocab_size, bt->mlm_labels);
    }
}

static ref_out ref_forward(const fastfnet_model *m, const fastfnet_batch *bt) {
    const fastfnet_config *c = &m->cfg;
    double *x = r_embeddings(m, bt);
    for (int l = 0; l < c->num_layers; l++) {
        const fastfnet_layer_params *p = &m->P.layer[l];
        double *y = c->mixing[l] == FASTFNET_MIX_FAST_FOURIER_PAD ? r_padblock(x, c, l, p, bt->B, bt->T)
                                                                   : r_layer(x, c, l, p, bt);
        free(x);
        x = y;
    }
    ref_out R = {x, 0, 0, 0, 0, 0};
    r_heads(&R, m, bt);
    return R;
}

/* ---------- fixtures ---------- */
/* mixing letters: f fourier, F fast_fourier (narrow), P fast_fourier_pad (the authors' block), a attention;
 * after a colon, the authors' block options that are not the default (centred, halved) */
typedef struct { const char *name; const char *mixing; fastfnet_residual res; int E, T, NH, F; } kind;
static const kind KINDS[] = {
    {"fnet", "fff", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"fnet-odd", "ff", FASTFNET_RES_DENSE, 30, 13, 3, 60},
    {"fast-dense", "Fff", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"fast-maxpool", "Fff", FASTFNET_RES_MAXPOOL, 12, 5, 2, 24},
    {"fast-avgpool", "Fff", FASTFNET_RES_AVGPOOL, 6, 7, 3, 12},
    {"fast-slice", "Fff", FASTFNET_RES_SLICE, 8, 7, 2, 16},
    {"fast-0,2", "FfF", FASTFNET_RES_DENSE, 16, 7, 2, 32}, /* 16 -> 8 -> 4: a LayerNorm over 2 would be a sign */
    {"bert", "aa", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"hybrid", "ffa", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"fast-hybrid", "Ffa", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"authors-dense", "PPP", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"authors-maxpool", "PPP", FASTFNET_RES_MAXPOOL, 12, 5, 2, 24},
    {"authors-avgpool", "PP", FASTFNET_RES_AVGPOOL, 8, 6, 2, 16},
    {"authors-slice", "PP", FASTFNET_RES_SLICE, 8, 7, 2, 16},
    {"authors-centred", "PPP:centred", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"authors-centred-odd", "PP:centred", FASTFNET_RES_AVGPOOL, 6, 7, 3, 12},
    {"authors-halved", "PPP:halved", FASTFNET_RES_DENSE, 8, 7, 2, 16},
    {"authors-mixed", "PfPa:centred", FASTFNET_RES_DENSE, 8, 7, 2, 16},
};
#define NKINDS (int)(sizeof KINDS / sizeof KINDS[0])

static fastfnet_config make_cfg(const kind *k) {
    fastfnet_config c;
    fastfnet_config_default(&c, "fnet");
    c.vocab_size = 23;
    c.hidden_size = k->E;
    c.intermediate_size = k->F;
    c.num_layers = (int)strcspn(k->mixing, ":");
    c.max_position = 16;
    c.num_heads = k->NH;
    c.num_labels = 3;
    c.residual = k->res;
    c.pad = strstr(k->mixing, ":centred") ? FASTFNET_PAD_CENTRED : FASTFNET_PAD_FIRST;
    c.block_ffn = strstr(k->mixing, ":halved") ? FASTFNET_BLOCK_FFN_HALVED : FASTFNET_BLOCK_FFN_UNCHANGED;
    c.hidden_dropout = c.attn_dropout = 0.0f;
    for (int i = 0; i < c.num_layers; i++)
        c.mixing[i] = k->mixing[i] == 'a'   ? FASTFNET_MIX_ATTENTION
                      : k->mixing[i] == 'F' ? FASTFNET_MIX_FAST_FOURIER
                      : k->mixing[i] == 'P' ? FASTFNET_MIX_FAST_FOURIER_PAD
                                            : FASTFNET_MIX_FOURIER;
    return c;
}

typedef struct { int B, T; int ids[64], tt[64], mlm[64], nsp[4], cls[4]; } batch_data;
static void make_batch(batch_data *d, const fastfnet_config *c, int B, int T) {
    d->B = B, d->T = T;
    for (int i = 0; i < B * T; i++) {
        int b = i / T, t = i % T;
        int id = 4 + (int)(urand() * (c->vocab_size - 4));
        d->ids[i] = (b == 1 && t >= T - 2) ? c->pad_token_id : id; /* row 1 ends with padding */
        d->tt[i] = t > T / 2;
        d->mlm[i] = urand() < 0.4 ? (int)(urand() * c->vocab_size) : -100;
    }
    d->mlm[0] = 5;
    for (int b = 0; b < B; b++) d->nsp[b] = b & 1, d->cls[b] = b % c->num_labels;
}
static fastfnet_batch as_batch(batch_data *d) { return (fastfnet_batch){.B = d->B, .T = d->T, .input_ids = d->ids, .token_type_ids = d->tt, .mlm_labels = d->mlm, .nsp_labels = d->nsp, .cls_labels = d->cls}; }

static void test_reference(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 11, err, sizeof err);
    if (!m) {
        check(0, "%s: create: %s", k->name, err);
        return;
    }
    /* perturb LN params and biases away from 1/0 so the reference sees them */
    for (size_t i = 0; i < m->num_params; i++) m->params[i] += 0.05f * nrand();
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_reserve(m, 3, k->T, 0, err, sizeof err);
    float loss = fastfnet_model_forward(m, &b, 0);
    ref_out R = ref_forward(m, &b);
    int N = 3 * k->T, Df = fastfnet_config_width(&c, c.num_layers);
    double eh = rel_err_fd(fastfnet_model_hidden(m), R.hidden, (size_t)N * Df);
    double ep = rel_err_fd(fastfnet_model_pooled(m), R.pooled, (size_t)3 * Df);
    /* the MLM head ran at the labelled positions only: compare those rows */
    int V = c.vocab_size, M = 0;
    double *rm = malloc(sizeof(double) * (size_t)N * V);
    for (int i = 0; i < N; i++)
        if (d.mlm[i] != -100) memcpy(rm + (size_t)M++ * V, R.mlm + (size_t)i * V, sizeof(double) * V);
    const float *lm = fastfnet_model_logits_mlm(m);
    double em = lm ? rel_err_fd(lm, rm, (size_t)M * V) : 1.0;
    free(rm);
    double en = rel_err_fd(fastfnet_model_logits_nsp(m), R.nsp, 6);
    double ec = rel_err_fd(fastfnet_model_logits_cls(m), R.cls, 9);
    double el = fabs(loss - R.loss) / fabs(R.loss);
    double worst = fmax(fmax(fmax(eh, ep), fmax(em, en)), fmax(ec, el));
    check(worst < 1e-4, "%s forward vs double reference: hidden %.1e pooler %.1e mlm %.1e nsp %.1e cls %.1e loss %.1e", k->name, eh, ep, em, en, ec, el);
    free(R.hidden), free(R.pooled), free(R.mlm), free(R.nsp), free(R.cls);
    fastfnet_model_free(m);
}

/* The error of tensor t's gradient along a random unit direction u (drawn here) against central differences of the
 * loss, at the best step size, relative to the larger derivative plus 1% of the model's gradient scale gscale.
 * save holds every parameter, to restore t after each evaluation; calls is the dropout stream's start. */
static double fd_error(fastfnet_model *m, const fastfnet_batch *b, fastfnet_tensor t, float *u, const float *save,
                       uint64_t calls, double gscale) {
    double nrm = 0, an = 0;
    for (size_t i = 0; i < t.numel; i++) u[i] = nrand(), nrm += (double)u[i] * u[i];
    nrm = sqrt(nrm);
    for (size_t i = 0; i < t.numel; i++) u[i] /= nrm, an += (double)u[i] * t.grad[i];
    /* float32 losses: truncation error grows with h, rounding error shrinks with it; a correct gradient
     * agrees at some step size of this ladder, a wrong one at none */
    static const float H[] = {2e-2f, 1e-2f, 5e-3f, 2e-3f};
    double e = 1e30;
    for (int hi = 0; hi < 4; hi++) {
        float h = H[hi];
        /* fourth-order central stencil: (-L(2h) + 8L(h) - 8L(-h) + L(-2h)) / 12h */
        static const float OFF[] = {2, 1, -1, -2};
        double L[4];
        for (int s = 0; s < 4; s++) {
            for (size_t i = 0; i < t.numel; i++) t.data[i] += OFF[s] * h * u[i];
            m->dropout_calls = calls; /* the same dropout masks for every evaluation */
            L[s] = fastfnet_model_forward(m, b, 1);
            memcpy(t.data, save + (t.data - m->params), sizeof(float) * t.numel);
        }
        double fd = (-L[0] + 8 * L[1] - 8 * L[2] + L[3]) / (12.0 * h);
        e = fmin(e, fabs(fd - an) / (fmax(fabs(fd), fabs(an)) + 1e-2 * gscale));
    }
    return e;
}

/* Per tensor, the directional derivative along a random unit direction, central differences. */
static void test_gradients(const kind *k, float dropout) {
    fastfnet_config c = make_cfg(k);
    c.hidden_dropout = c.attn_dropout = dropout;
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 5, err, sizeof err);
    for (size_t i = 0; i < m->num_params; i++) m->params[i] += 0.05f * nrand();
    /* Embeddings at 0.02 scale make the first LayerNorm divide by a tiny spread, so the loss curves
     * sharply and finite differences lose accuracy; a larger scale keeps the check sharp. */
    for (int i = 0; i < c.vocab_size * c.hidden_size; i++) m->P.wte[i] *= 10;
    for (int i = 0; i < c.max_position * c.hidden_size; i++) m->P.wpe[i] *= 10;
    for (int i = 0; i < c.type_vocab_size * c.hidden_size; i++) m->P.wtt[i] *= 10;
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_reserve(m, 3, k->T, 1, err, sizeof err);
    uint64_t calls = m->dropout_calls;
    fastfnet_model_zero_grad(m);
    fastfnet_model_forward(m, &b, 1);
    fastfnet_model_backward(m);
    double worst = 0;
    const char *wname = "";
    float *u = malloc(sizeof(float) * m->num_params), *save = malloc(sizeof(float) * m->num_params);
    memcpy(save, m->params, sizeof(float) * m->num_params);
    /* errors are measured against the model's gradient scale, as the normwise metric of the PyTorch twin:
     * a directional derivative near zero is compared to 1% of the largest one */
    double gscale = 0;
    for (size_t i = 0; i < m->num_params; i++) gscale = fmax(gscale, fabs(m->grads[i]));
    for (int ti = 0; ti < m->num_tensors; ti++) {
        fastfnet_tensor t = fastfnet_model_tensor(m, ti);
        double e = fd_error(m, &b, t, u, save, calls, gscale);
        if (e > worst) worst = e, wname = t.name;
    }
    check(worst < 2e-2, "%s gradients (dropout %.1f), every tensor vs finite differences: worst %.1e (%s)", k->name, dropout, worst, wname);
    free(u), free(save);
    fastfnet_model_free(m);
}

static void test_backends(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch b = as_batch(&d);
    float *out[4], *grad[4];
    size_t nh = 0, np = 0;
    for (int impl = 0; impl < 4; impl++) {
        c.fourier_impl = impl == 3 ? 1 : impl;
        fastfnet_blas_set_naive(impl == 3);
        if (impl == 3) c.fourier_impl = 3; /* fully naive: naive DFT and naive BLAS */
        fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err);
        fastfnet_model_reserve(m, 3, k->T, 1, err, sizeof err);
        fastfnet_model_zero_grad(m);
        fastfnet_model_forward(m, &b, 0);
        fastfnet_model_backward(m);
        nh = (size_t)3 * k->T * fastfnet_config_width(&c, c.num_layers);
        np = m->num_params;
        out[impl] = malloc(sizeof(float) * nh);
        grad[impl] = malloc(sizeof(float) * np);
        memcpy(out[impl], fastfnet_model_hidden(m), sizeof(float) * nh);
        memcpy(grad[impl], m->grads, sizeof(float) * np);
        fastfnet_model_free(m);
    }
    fastfnet_blas_set_naive(0);
    static const char *nm[] = {"auto", "fft", "matrix"};
    for (int i = 0; i < 3; i++) {
        double eo = 0, eg = 0, mo = 0, mg = 0;
        for (size_t j = 0; j < nh; j++) eo = fmax(eo, fabs(out[i][j] - out[3][j])), mo = fmax(mo, fabs(out[3][j]));
        for (size_t j = 0; j < np; j++) eg = fmax(eg, fabs(grad[i][j] - grad[3][j])), mg = fmax(mg, fabs(grad[3][j]));
        check(eo / mo < 1e-5 && eg / mg < 1e-4, "%s: fourier=%s + cblas agrees with naive DFT + naive BLAS: hidden %.1e grads %.1e",
              k->name, nm[i], eo / mo, eg / mg);
    }
    for (int i = 0; i < 4; i++) free(out[i]), free(grad[i]);
}

/* Classification inference computes the last layer for [CLS] only: the pooled output and logits must not
 * change. */
static void test_pooled_only(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 13, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_reserve(m, 3, k->T, 0, err, sizeof err);
    int Df = fastfnet_config_width(&c, c.num_layers), L = c.num_labels;
    float loss_full = fastfnet_model_forward(m, &b, 0);
    float *pooled = malloc(sizeof(float) * 3 * Df), *cls = malloc(sizeof(float) * 3 * L);
    memcpy(pooled, fastfnet_model_pooled(m), sizeof(float) * 3 * Df);
    memcpy(cls, fastfnet_model_logits_cls(m), sizeof(float) * 3 * L);
    b.mlm_labels = NULL; /* no MLM head in this mode */
    b.pooled_only = 1;
    fastfnet_model_forward(m, &b, 0);
    double ep = 0, ec = 0;
    for (int i = 0; i < 3 * Df; i++) ep = fmax(ep, fabs(pooled[i] - fastfnet_model_pooled(m)[i]));
    for (int i = 0; i < 3 * L; i++) ec = fmax(ec, fabs(cls[i] - fastfnet_model_logits_cls(m)[i]));
    check(ep < 1e-6 && ec < 1e-6 && loss_full > 0, "%s: [CLS]-only last layer gives the same pooled output (%.1e) and logits (%.1e)", k->name, ep, ec);
    free(pooled), free(cls);
    fastfnet_model_free(m);
}

/* Inference leaves training alone: two eval forwards, then a train forward, give the loss and gradients
 * of a lone train forward of a fresh model (the dropout stream does not advance in inference); the
 * classification-only option is per call (the next forward without it computes every row again); and a
 * backward without a training reserve is refused with a message, not a crash. */
/* fastfnet_model_pack_weights: inference through the packed FFN weights gives the unpacked model's hidden state to
 * the bit (the same kernel, the same sums); an optimizer step drops the packing, so the next inference sees the
 * updated weights (as a model never packed); a write through the parameter buffer is not seen until repacked (the
 * documented snapshot). The kind's sizes x4, so the FFN products are ones the kernel takes. */
static void test_packed_weights(const kind *k) {
    fastfnet_config c = make_cfg(k);
    c.hidden_size *= 4, c.intermediate_size *= 4;
    char err[256];
    fastfnet_model *a = fastfnet_model_create(&c, 5, err, sizeof err), *b = fastfnet_model_create(&c, 5, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch bt = as_batch(&d);
    fastfnet_model_reserve(a, 3, k->T, 1, err, sizeof err), fastfnet_model_reserve(b, 3, k->T, 1, err, sizeof err);
    size_t nh = (size_t)3 * k->T * fastfnet_config_width(&c, c.num_layers);
    float *h0 = malloc(sizeof(float) * nh);
    fastfnet_model_forward(a, &bt, 0);
    memcpy(h0, fastfnet_model_hidden(a), sizeof(float) * nh);
    size_t bytes = fastfnet_model_pack_bytes(a), floats = 0;
    int rc = fastfnet_model_pack_weights(a), packed = 0;
    for (int l = 0; l < c.num_layers; l++)
        for (int i = 0; i < 2; i++)
            if (a->wpack[l][i]) packed++, floats += (size_t)c.hidden_size * c.intermediate_size; /* an upper bound */
    fastfnet_model_forward(a, &bt, 0);
    int same = !memcmp(h0, fastfnet_model_hidden(a), sizeof(float) * nh);
    /* the snapshot: a write to w1 after packing is not seen by inference */
    float *w1 = a->P.layer[0].w1, save = w1[0];
    w1[0] += 1.0f;
    fastfnet_model_forward(a, &bt, 0);
    int snapshot = !memcmp(h0, fastfnet_model_hidden(a), sizeof(float) * nh) || !a->wpack[0][0];
    w1[0] = save;
    fastfnet_adamw hp = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f};
    fastfnet_optimizer *oa = fastfnet_optimizer_create(a, &hp, 0, 0, err, sizeof err), *ob = fastfnet_optimizer_create(b, &hp, 0, 0, err, sizeof err);
    fastfnet_model *ms[2] = {a, b};
    fastfnet_optimizer *os[2] = {oa, ob};
    for (int i = 0; i < 2; i++) {
        fastfnet_model_zero_grad(ms[i]);
        fastfnet_model_forward(ms[i], &bt, 1);
        fastfnet_model_backward(ms[i]);
        fastfnet_optimizer_step(os[i], hp.lr, 1);
        fastfnet_model_forward(ms[i], &bt, 0);
    }
    int dropped = 1;
    for (int l = 0; l < c.num_layers; l++) dropped &= !a->wpack[l][0] && !a->wpack[l][1];
    int after = !memcmp(fastfnet_model_hidden(a), fastfnet_model_hidden(b), sizeof(float) * nh);
    int want = strcmp(fastfnet_gemm_name(), "openblas") != 0;
    /* the bytes announced (fastfnet_model_pack_bytes, for info): nonzero exactly when something is packed, and no
     * more than twice the floats of full-size weights (hidden x FFN each; panels pad a narrow one) */
    int bytes_ok = (bytes > 0) == (packed > 0) && bytes <= 2 * sizeof(float) * floats + 64 * (size_t)packed;
    check(rc == (want ? 0 : -1) && (packed > 0) == want && same && snapshot && dropped && after && bytes_ok,
          "%s: packed FFN weights (%d products, %zu bytes, kernel %s): inference equal to the bit, a later write unseen, "
          "dropped by the optimizer's step (then as never packed)", k->name, packed, bytes, fastfnet_gemm_name());
    free(h0);
    fastfnet_optimizer_free(oa), fastfnet_optimizer_free(ob);
    fastfnet_model_free(a), fastfnet_model_free(b);
}

static void test_inference_state(const kind *k) {
    fastfnet_config c = make_cfg(k);
    c.hidden_dropout = c.attn_dropout = 0.2f;
    char err[256];
    fastfnet_model *a = fastfnet_model_create(&c, 21, err, sizeof err), *b = fastfnet_model_create(&c, 21, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch bt = as_batch(&d);
    fastfnet_model_reserve(a, 3, k->T, 1, err, sizeof err);
    fastfnet_model_reserve(b, 3, k->T, 1, err, sizeof err);
    fastfnet_batch eval = bt;
    eval.pooled_only = 1;
    eval.mlm_labels = NULL;
    fastfnet_model_forward(a, &bt, 0);
    fastfnet_model_forward(a, &eval, 0);
    fastfnet_model_zero_grad(a), fastfnet_model_zero_grad(b);
    float la = fastfnet_model_forward(a, &bt, 1), lb = fastfnet_model_forward(b, &bt, 1);
    int ra = fastfnet_model_backward(a), rb = fastfnet_model_backward(b);
    int same = la == lb && ra == 0 && rb == 0;
    for (size_t i = 0; same && i < a->num_params; i++) same = a->grads[i] == b->grads[i];
    check(same && a->dropout_calls == b->dropout_calls, "%s: eval forwards before a train forward change nothing (loss %g vs %g, %llu vs %llu dropout draws)",
          k->name, la, lb, (unsigned long long)a->dropout_calls, (unsigned long long)b->dropout_calls);
    /* per call: a full forward after a pooled-only one has every row of the last hidden state again */
    int W = fastfnet_config_width(&c, c.num_layers);
    fastfnet_model_forward(b, &bt, 0);
    float *full = malloc(sizeof(float) * 3 * k->T * W);
    memcpy(full, fastfnet_model_hidden(b), sizeof(float) * 3 * k->T * W);
    fastfnet_model_forward(a, &eval, 0);
    fastfnet_model_forward(a, &bt, 0);
    double e = 0;
    for (int i = 0; i < 3 * k->T * W; i++) e = fmax(e, fabs(full[i] - fastfnet_model_hidden(a)[i]));
    check(e == 0, "%s: pooled_only is per call: the next full forward gives every row (max diff %.1e)", k->name, e);
    free(full);
    fastfnet_model *inf = fastfnet_model_create(&c, 21, err, sizeof err);
    fastfnet_model_reserve(inf, 3, k->T, 0, err, sizeof err);
    fastfnet_model_forward(inf, &bt, 0);
    int rc = fastfnet_model_backward(inf);
    check(rc == -1 && strstr(fastfnet_model_error(inf), "reserve"), "%s: backward without a training reserve: %d, \"%s\"", k->name, rc,
          fastfnet_model_error(inf));
    fastfnet_model_free(inf);
    fastfnet_model_free(a);
    fastfnet_model_free(b);
}

/* Data parallelism splits a batch into slices (one per process): with row0 and the whole batch's label
 * counts, the slices' losses add up to the whole batch's loss and their gradients to its gradient, dropout
 * masks included. */
static void test_slices(const kind *k) {
    fastfnet_config c = make_cfg(k);
    c.hidden_dropout = c.attn_dropout = 0.2f;
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 17, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    int T = k->T;
    fastfnet_model_reserve(m, 3, T, 1, err, sizeof err);
    fastfnet_batch whole = as_batch(&d);
    uint64_t calls = m->dropout_calls;
    fastfnet_model_zero_grad(m);
    float loss_whole = fastfnet_model_forward(m, &whole, 1);
    fastfnet_model_backward(m);
    size_t n = m->num_params;
    float *g = malloc(sizeof(float) * n);
    memcpy(g, m->grads, sizeof(float) * n);
    int nmlm = 0;
    for (int i = 0; i < 3 * T; i++) nmlm += d.mlm[i] != -100;
    fastfnet_model_zero_grad(m);
    float loss_parts = 0.0f;
    int cut[3] = {0, 1, 3}; /* rows [0,1) and [1,3) */
    for (int s = 0; s < 2; s++) {
        int r0 = cut[s], nb = cut[s + 1] - cut[s];
        fastfnet_batch part = {.B = nb, .T = T, .input_ids = d.ids + r0 * T, .token_type_ids = d.tt + r0 * T,
                          .mlm_labels = d.mlm + r0 * T, .nsp_labels = d.nsp + r0, .cls_labels = d.cls + r0,
                          .row0 = r0, .cls_denom = 3, .nsp_denom = 3, .mlm_denom = nmlm};
        m->dropout_calls = calls; /* every process draws the same sequence of dropout seeds */
        loss_parts += fastfnet_model_forward(m, &part, 1);
        fastfnet_model_backward(m);
    }
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i])), dmax = fmax(dmax, fabs(g[i] - m->grads[i]));
    double el = fabs(loss_parts - loss_whole) / fabs(loss_whole);
    check(el < 1e-6 && dmax <= 1e-5 * gmax, "%s: two slices of a batch (dropout 0.2) add up to it: loss %.1e, gradient %.1e "
          "(max abs diff / max abs gradient)", k->name, el, dmax / gmax);
    free(g);
    fastfnet_model_free(m);
}

/* ---------- checkpoints ---------- */
/* More labelled rows than the MLM head's vocabulary-wide buffers hold: the head runs in chunks (backward
 * recomputing them) and must give the loss and gradients of one pass. */
static void test_mlm_chunks(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch b = as_batch(&d);
    float loss[2];
    float *g[2];
    int M = 0, chunked = 0;
    for (int i = 0; i < 3 * k->T; i++) M += d.mlm[i] != -100;
    for (int pass = 0; pass < 2; pass++) {
        fastfnet_mlm_capacity_floor = pass ? 2 : 64;
        fastfnet_model *m = fastfnet_model_create(&c, 5, err, sizeof err);
        fastfnet_model_reserve(m, 3, k->T, 1, err, sizeof err);
        if (pass) chunked = m->A.mlm_cap < M;
        fastfnet_model_zero_grad(m);
        loss[pass] = fastfnet_model_forward(m, &b, 1);
        fastfnet_model_backward(m);
        g[pass] = malloc(sizeof(float) * m->num_params);
        memcpy(g[pass], m->grads, sizeof(float) * m->num_params);
        size_t n = m->num_params;
        fastfnet_model_free(m);
        if (pass) {
            double worst = 0, gmax = 0;
            for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(g[0][i] - g[1][i])), gmax = fmax(gmax, fabs(g[0][i]));
            check(chunked && fabs(loss[0] - loss[1]) <= 1e-6f * fabsf(loss[0]) && worst <= 1e-5 * gmax,
                  "%s: MLM head in chunks (%d labelled rows) = in one pass: loss %.7f vs %.7f, grads %.1e", k->name, M,
                  loss[1], loss[0], worst / gmax);
        }
    }
    fastfnet_mlm_capacity_floor = 64;
    free(g[0]), free(g[1]);
}

static char g_dir[256];

static void test_roundtrip(void) {
    fastfnet_config c = make_cfg(&KINDS[9]);
    char err[512], path[300];
    fastfnet_model *m = fastfnet_model_create(&c, 9, err, sizeof err);
    snprintf(path, sizeof path, "%s/m.safetensors", g_dir);
    check(fastfnet_model_save(m, path, err, sizeof err) == 0, "save a fast-hybrid model");
    fastfnet_model *m2 = fastfnet_model_load(path, err, sizeof err);
    check(m2 && m2->num_params == m->num_params && !memcmp(m2->params, m->params, m->num_params * 4) &&
              !memcmp(&m2->cfg, &m->cfg, sizeof c),
          "load gives back the identical config and parameters");
    fastfnet_model_free(m2);
    fastfnet_model_free(m);
}

/* The authors' model with its non-default options survives a round trip; a config written before the
 * authors' block existed (no fastfnet_pad / fastfnet_block_ffn, "fast_fourier" layers) still means the narrow
 * design; a bad option value is refused with its field's name. */
static void test_config_compat(void) {
    char err[512], path[300], json[4096];
    for (int i = 0; i < NKINDS; i++) {
        if (!strchr(KINDS[i].mixing, ':')) continue;
        fastfnet_config c = make_cfg(&KINDS[i]);
        fastfnet_model *m = fastfnet_model_create(&c, 9, err, sizeof err);
        snprintf(path, sizeof path, "%s/opt.safetensors", g_dir);
        fastfnet_model_save(m, path, err, sizeof err);
        fastfnet_model *m2 = fastfnet_model_load(path, err, sizeof err);
        check(m2 && !memcmp(&m2->cfg, &m->cfg, sizeof c) && m2->num_params == m->num_params &&
                  !memcmp(m2->params, m->params, m->num_params * 4),
              "%s: config (pad %s, block FFN %s) and parameters survive save + load", KINDS[i].name, fastfnet_pad_name(c.pad),
              fastfnet_block_ffn_name(c.block_ffn));
        fastfnet_model_free(m2);
        fastfnet_model_free(m);
    }
    static const char *old = "{\"vocab_size\": 23, \"hidden_size\": 8, \"num_hidden_layers\": 2, \"intermediate_size\": 16,"
                             " \"max_position_embeddings\": 16, \"fastfnet_mixing\": [\"fast_fourier\", \"fourier\"],"
                             " \"fastfnet_residual\": \"avgpool\", \"fastfnet_heads\": [\"mlm\"]}";
    fastfnet_config c;
    int rc = fastfnet_config_from_json(&c, old, strlen(old), err, sizeof err);
    check(rc == 0 && c.mixing[0] == FASTFNET_MIX_FAST_FOURIER && c.pad == FASTFNET_PAD_FIRST && c.block_ffn == FASTFNET_BLOCK_FFN_UNCHANGED &&
              fastfnet_config_width(&c, 2) == 4,
          "an old narrow-design config loads as the narrow design (final width %d)", fastfnet_config_width(&c, 2));
    snprintf(json, sizeof json, "%s", old);
    char *at = strstr(json, "\"fastfnet_heads\"");
    memmove(at + 26, at, strlen(at) + 1);
    memcpy(at, "\"fastfnet_pad\": \"middle\", ", 26);
    rc = fastfnet_config_from_json(&c, json, strlen(json), err, sizeof err);
    check(rc != 0 && strstr(err, "fastfnet_pad") && strstr(err, "middle"), "fastfnet_pad \"middle\" is refused: %s", err);
    fastfnet_config d;
    fastfnet_config_default(&d, "fast-fnet");
    int all = 1;
    for (int i = 0; i < d.num_layers; i++) all &= d.mixing[i] == FASTFNET_MIX_FAST_FOURIER_PAD;
    fastfnet_config_default(&c, "fast-fnet-narrow");
    check(all && d.residual == FASTFNET_RES_DENSE && d.pad == FASTFNET_PAD_FIRST && d.block_ffn == FASTFNET_BLOCK_FFN_UNCHANGED &&
              fastfnet_config_width(&d, d.num_layers) == 768 && c.mixing[0] == FASTFNET_MIX_FAST_FOURIER && c.mixing[1] == FASTFNET_MIX_FOURIER,
          "fast-fnet is the authors' model (every block, dense, first, FFN unchanged, heads at 768); fast-fnet-narrow reduces at layer 0");
}

/* config.json as google/fnet-base has it (no fastfnet fields), at the size of the fnet fixture */
static void write_hf_config(const char *dir) {
    char p[400];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"architectures\": [\"FNetForPreTraining\"], \"model_type\": \"fnet\", \"vocab_size\": 23, \"hidden_size\": 8,"
          " \"num_hidden_layers\": 2, \"intermediate_size\": 16, \"hidden_act\": \"gelu_new\", \"hidden_dropout_prob\": 0.1,"
          " \"max_position_embeddings\": 16, \"type_vocab_size\": 4, \"initializer_range\": 0.02, \"layer_norm_eps\": 1e-12,"
          " \"use_tpu_fourier_optimizations\": false, \"tpu_short_seq_length\": 512, \"pad_token_id\": 3,"
          " \"bos_token_id\": 1, \"eos_token_id\": 2}", f);
    fclose(f);
}

/* m's tensors as an HF file holds them: the MLM bias only as the decoder's copy, the tied decoder weight, and
 * the position_ids buffer (pos, 16 entries, filled here); t has room for m->num_tensors + 3. Returns the count. */
static int hf_tensors(fastfnet_st_out *t, fastfnet_model *m, int64_t pos[16]) {
    int n = 0;
    for (int i = 0; i < 16; i++) pos[i] = i;
    for (int i = 0; i < m->num_tensors; i++) {
        fastfnet_tensor_info *ti = &m->tensors[i];
        if (!strcmp(ti->name, "cls.predictions.bias")) continue; /* only the decoder's copy, as some HF files have */
        t[n++] = (fastfnet_st_out){ti->name, FASTFNET_DT_F32, ti->ndim, {ti->shape[0], ti->shape[1]}, m->params + ti->offset};
    }
    t[n++] = (fastfnet_st_out){"cls.predictions.decoder.weight", FASTFNET_DT_F32, 2, {23, 8}, m->P.wte};
    t[n++] = (fastfnet_st_out){"cls.predictions.decoder.bias", FASTFNET_DT_F32, 1, {23}, m->P.mlm_bias};
    t[n++] = (fastfnet_st_out){"fnet.embeddings.position_ids", FASTFNET_DT_I64, 2, {1, 16}, pos};
    return n;
}

/* A directory in google/fnet-base's layout: HF config.json (no fastfnet fields), unprefixed-or-prefixed
 * HF names, the tied decoder tensors and the position_ids buffer. */
static void test_hf_dir(void) {
    char err[512], dir[300], p[400];
    snprintf(dir, sizeof dir, "%s/hf", g_dir);
    mkdir(dir, 0755);
    write_hf_config(dir);
    fastfnet_config c = make_cfg(&KINDS[0]);
    c.num_layers = 2;
    c.heads = FASTFNET_HEAD_MLM | FASTFNET_HEAD_NSP | FASTFNET_HEAD_POOLER;
    fastfnet_model *m = fastfnet_model_create(&c, 4, err, sizeof err);
    fastfnet_st_out *t = calloc(m->num_tensors + 3, sizeof *t);
    int64_t pos[16];
    int n = hf_tensors(t, m, pos);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    fastfnet_st_write(p, t, n, (const char *[]){"format", "pt", NULL}, err, sizeof err);
    fastfnet_model *m2 = fastfnet_model_load(dir, err, sizeof err);
    check(m2 && m2->cfg.heads == c.heads && m2->num_params == m->num_params && !memcmp(m2->params, m->params, m->num_params * 4),
          "HF directory (config.json + model.safetensors, tied decoder, position_ids buffer) loads as is%s%s", m2 ? "" : ": ", m2 ? "" : err);
    fastfnet_model_free(m2);
    /* the same with a shape that contradicts config.json */
    t[0].shape[1] = 7;
    t[0].data = m->P.wte;
    fastfnet_st_write(p, t, n, (const char *[]){"format", "pt", NULL}, err, sizeof err); /* (23,7) payload from wte */
    m2 = fastfnet_model_load(dir, err, sizeof err);
    check(!m2 && strstr(err, "word_embeddings") && strstr(err, "shape"), "a shape/config mismatch is refused: %s", err);
    fastfnet_model_free(m2);
    /* a missing tensor */
    t[0].shape[1] = 8;
    fastfnet_st_write(p, t + 1, n - 1, NULL, err, sizeof err);
    m2 = fastfnet_model_load(dir, err, sizeof err);
    check(!m2 && strstr(err, "missing"), "a missing tensor is refused: %s", err);
    fastfnet_model_free(m2);
    /* broken config.json */
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"hidden_size\": 8,", f);
    fclose(f);
    m2 = fastfnet_model_load(dir, err, sizeof err);
    check(!m2 && strstr(err, "config.json"), "a malformed config.json is refused: %s", err);
    fastfnet_model_free(m2);
    free(t);
    fastfnet_model_free(m);
}

/* ---------- config.json: found by tests/fuzz/fuzz_config.c ---------- */
static void test_config_json(void) {
    char err[512], json[4096];
    fastfnet_config c, back;
    /* a string from the file is echoed in the message: a newline in it must not break the one line */
    static const char *bad[] = {"{\"hidden_act\": \"relu\\nx\"}", "{\"fastfnet_residual\": \"d\\nse\"}",
                                "{\"fastfnet_fourier_impl\": \"fast\\r\\nest\"}"};
    for (int i = 0; i < 3; i++) {
        err[0] = 0;
        int rc = fastfnet_config_from_json(&c, bad[i], strlen(bad[i]), err, sizeof err);
        check(rc == -1 && err[0] && !strchr(err, '\n') && !strchr(err, '\r'), "%s is refused in one line: %s", bad[i], err);
    }
    /* a string field given another type is refused, naming the field (it was ignored for these three) */
    static const char *typed[][2] = {{"{\"hidden_act\": 7}", "hidden_act"},
                                     {"{\"fastfnet_residual\": [\"dense\"]}", "fastfnet_residual"},
                                     {"{\"fastfnet_fourier_impl\": null}", "fastfnet_fourier_impl"}};
    for (int i = 0; i < 3; i++) {
        err[0] = 0;
        int rc = fastfnet_config_from_json(&c, typed[i][0], strlen(typed[i][0]), err, sizeof err);
        check(rc == -1 && strstr(err, typed[i][1]) && strstr(err, "must be a string"), "%s is refused: %s", typed[i][0], err);
    }
    /* an unknown name is answered with every accepted one */
    const char *fi = "{\"fastfnet_fourier_impl\": \"fast\"}";
    err[0] = 0;
    check(fastfnet_config_from_json(&c, fi, strlen(fi), err, sizeof err) == -1 && strstr(err, "auto, fft, matrix or naive"),
          "an unknown fastfnet_fourier_impl lists all four: %s", err);
    const char *naive = "{\"fastfnet_fourier_impl\": \"naive\", \"hidden_act\": \"gelu_pytorch_tanh\"}";
    check(fastfnet_config_from_json(&c, naive, strlen(naive), err, sizeof err) == 0 && c.fourier_impl == FASTFNET_FOURIER_NAIVE,
          "fastfnet_fourier_impl naive and hidden_act gelu_pytorch_tanh are read: %s", err);
    /* a number beyond the float range would be saved as inf, which no JSON reader takes back */
    const char *huge = "{\"layer_norm_eps\": 1e300}";
    err[0] = 0;
    check(fastfnet_config_from_json(&c, huge, strlen(huge), err, sizeof err) == -1 && strstr(err, "layer_norm_eps"),
          "layer_norm_eps 1e300 is refused, naming the field: %s", err);
    /* the saved form reads back bit for bit, floats that need 8 or 9 digits included */
    const char *fine = "{\"hidden_dropout_prob\": 0.123456789, \"attention_probs_dropout_prob\": 0.1,"
                       " \"initializer_range\": 0.0123456789, \"layer_norm_eps\": 1.2345678e-7}";
    int rc = fastfnet_config_from_json(&c, fine, strlen(fine), err, sizeof err);
    int n = rc == 0 ? fastfnet_config_to_json(&c, json, sizeof json) : -1;
    rc = n > 0 ? fastfnet_config_from_json(&back, json, (size_t)n, err, sizeof err) : -1;
    check(rc == 0 && !memcmp(&c, &back, sizeof c), "a saved config reads back bit for bit (dropout %.9g -> %.9g)",
          c.hidden_dropout, rc == 0 ? back.hidden_dropout : 0.0f);
}

/* A batch that does not fit the model (an id past the vocabulary, a label past the classifier, more rows or
 * positions than reserved) is refused by forward itself: NaN, a message, and backward changes nothing. */
static void test_bad_batch(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 7, err, sizeof err);
    fastfnet_model_reserve(m, 3, k->T, 1, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    static const char *what[] = {"token id", "label", "larger than reserved", "larger than reserved"};
    for (int bad = 0; bad < 4; bad++) {
        batch_data e = d;
        fastfnet_batch b = as_batch(&e);
        if (bad == 0) e.ids[k->T + 1] = c.vocab_size;
        if (bad == 1) e.cls[2] = c.num_labels;
        if (bad == 2) b.B = 4;
        if (bad == 3) b.T = k->T + 1;
        fastfnet_model_zero_grad(m);
        float loss = fastfnet_model_forward(m, &b, 1);
        fastfnet_model_backward(m);
        int untouched = fastfnet_model_grad_norm(m) == 0.0f;
        check(isnan(loss) && strstr(fastfnet_model_error(m), what[bad]) && untouched,
              "%s: forward refuses a batch with a %s (loss %g, \"%s\", gradients %s)", k->name, what[bad], loss,
              fastfnet_model_error(m), untouched ? "untouched" : "changed");
    }
    fastfnet_batch b = as_batch(&d);
    float loss = fastfnet_model_forward(m, &b, 1);
    check(isfinite(loss) && !*fastfnet_model_error(m), "%s: a good batch after refused ones runs (loss %g)", k->name, loss);
    fastfnet_model_free(m);
}

/* ---------- the public API's edges (review of include/fastfnet.h) ---------- */

/* A model without a training reserve has no gradients: their norm is 0, not a crash; a range past the
 * buffer is clamped to it. */
static void test_grad_norm_without_grads(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err);
    float n0 = fastfnet_model_grad_norm(m);
    fastfnet_model_reserve(m, 2, k->T, 0, err, sizeof err);
    float n1 = fastfnet_model_grad_norm(m);
    double s1 = fastfnet_model_grad_sq(m, 0, 100);
    check(n0 == 0.0f && n1 == 0.0f && s1 == 0.0, "%s: grad_norm / grad_sq without gradients are 0 (%g, %g, %g)", k->name, n0, n1, s1);
    fastfnet_model_reserve(m, 2, k->T, 1, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 2, k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_zero_grad(m);
    fastfnet_model_forward(m, &b, 1);
    fastfnet_model_backward(m);
    double all = fastfnet_model_grad_sq(m, 0, fastfnet_model_buffer_floats(m)), past = fastfnet_model_grad_sq(m, 0, SIZE_MAX);
    check(all > 0 && past == all, "%s: grad_sq over a range past the buffer is clamped to it (%g vs %g)", k->name, past, all);
    fastfnet_model_free(m);
}

/* A pooled_only forward keeps only the [CLS] rows of the last layer: backward refuses it (nothing added)
 * rather than differentiate rows that are not there; a full forward then differentiates again. */
static void test_backward_pooled_only(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err);
    fastfnet_model_reserve(m, 2, k->T, 1, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 2, k->T);
    fastfnet_batch b = as_batch(&d);
    b.mlm_labels = NULL;
    b.pooled_only = 1;
    fastfnet_model_zero_grad(m);
    fastfnet_model_forward(m, &b, 0);
    int rc = fastfnet_model_backward(m);
    float gn = fastfnet_model_grad_norm(m);
    check(rc == -1 && strstr(fastfnet_model_error(m), "pooled_only") && gn == 0.0f,
          "%s: backward of a pooled_only forward is refused: %d, \"%s\", grad norm %g", k->name, rc, fastfnet_model_error(m), gn);
    b.pooled_only = 0;
    fastfnet_model_forward(m, &b, 0);
    rc = fastfnet_model_backward(m);
    check(rc == 0 && fastfnet_model_grad_norm(m) > 0, "%s: a full forward after it differentiates (%d)", k->name, rc);
    fastfnet_model_free(m);
}

/* Backward overwrites the loss's probabilities with their gradients: a second backward of one forward is
 * refused (the gradients stay those of one backward), and backward before any forward too. */
static void test_backward_twice(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err);
    fastfnet_model_reserve(m, 2, k->T, 1, err, sizeof err);
    int r0 = fastfnet_model_backward(m);
    check(r0 == -1 && strstr(fastfnet_model_error(m), "forward"), "%s: backward before any forward is refused: %d, \"%s\"", k->name, r0,
          fastfnet_model_error(m));
    batch_data d;
    make_batch(&d, &c, 2, k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_zero_grad(m);
    fastfnet_model_forward(m, &b, 1);
    int r1 = fastfnet_model_backward(m);
    size_t n = fastfnet_model_buffer_floats(m);
    float *g = malloc(sizeof(float) * n);
    memcpy(g, fastfnet_model_grads(m), sizeof(float) * n);
    int r2 = fastfnet_model_backward(m);
    int same = !memcmp(g, fastfnet_model_grads(m), sizeof(float) * n);
    check(r1 == 0 && r2 == -1 && same && strstr(fastfnet_model_error(m), "already"),
          "%s: a second backward of one forward is refused, gradients unchanged: %d %d, \"%s\"", k->name, r1, r2, fastfnet_model_error(m));
    fastfnet_model_forward(m, &b, 1);
    int r3 = fastfnet_model_backward(m);
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(fastfnet_model_grads(m)[i] - 2 * g[i]));
    check(r3 == 0 && e <= 1e-6, "%s: the next forward's backward accumulates (2x: max diff %.1e)", k->name, e);
    free(g);
    fastfnet_model_free(m);
}

/* Reserve is monotone: a later inference reserve keeps training possible, a later (2, 2T) reserve keeps
 * (4, T) batches possible; the gradients are those of a model reserved once for the union. */
static void test_reserve_monotone(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256];
    int T = k->T;
    fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err), *u = fastfnet_model_create(&c, 3, err, sizeof err);
    int r = fastfnet_model_reserve(m, 2, T, 1, err, sizeof err) | fastfnet_model_reserve(m, 3, T, 0, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 3, T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_zero_grad(m);
    float loss = fastfnet_model_forward(m, &b, 1);
    int rb = fastfnet_model_backward(m);
    check(r == 0 && isfinite(loss) && rb == 0, "%s: reserve(2,T,train) then reserve(3,T,infer): a training step of 3 rows runs (%g, %d, \"%s\")",
          k->name, loss, rb, fastfnet_model_error(m));
    fastfnet_model_reserve(u, 3, T, 1, err, sizeof err);
    fastfnet_model_zero_grad(u);
    float lu = fastfnet_model_forward(u, &b, 1);
    fastfnet_model_backward(u);
    size_t n = fastfnet_model_buffer_floats(m);
    int same = loss == lu && !memcmp(fastfnet_model_grads(m), fastfnet_model_grads(u), sizeof(float) * n);
    check(same, "%s: ... and gives the loss and gradients of one reserve(3,T,train) bit for bit", k->name);
    r = fastfnet_model_reserve(m, 1, T + 2, 0, err, sizeof err);
    loss = fastfnet_model_forward(m, &b, 0);
    check(r == 0 && isfinite(loss), "%s: reserve(1,T+2) after reserve(3,T): (3,T) batches still run (%g, \"%s\")", k->name, loss,
          fastfnet_model_error(m));
    fastfnet_model_free(m);
    fastfnet_model_free(u);
}

/* Shapes whose rows or sizes overflow the types the engine uses are refused by reserve, before anything is
 * freed: the arena reserved before still serves. */
static void test_reserve_huge(const kind *k) {
    fastfnet_config c = make_cfg(k);
    char err[256] = "";
    fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err);
    fastfnet_model_reserve(m, 3, k->T, 1, err, sizeof err);
    int r1 = fastfnet_model_reserve(m, INT_MAX, 2, 0, err, sizeof err);
    check(r1 == -1 && strstr(err, "rows"), "%s: reserve(INT_MAX, 2) is refused by its row count: %d, \"%s\"", k->name, r1, err);
    int r2 = fastfnet_model_reserve(m, INT_MAX / 4, 1, 0, err, sizeof err);
    check(r2 == -1 && strstr(err, "rows"), "%s: reserve(INT_MAX/4, 1) after (3, %d): the union is refused: %d, \"%s\"", k->name, k->T, r2, err);
    batch_data d;
    make_batch(&d, &c, 3, k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_zero_grad(m);
    float loss = fastfnet_model_forward(m, &b, 1);
    int rb = fastfnet_model_backward(m);
    check(isfinite(loss) && rb == 0, "%s: the arena reserved before still serves (%g, %d, \"%s\")", k->name, loss, rb, fastfnet_model_error(m));
    fastfnet_model_free(m);
}

/* The size queries validate what they are given: 0 for an invalid config (too many layers, width 0) or a
 * shape reserve would refuse (B < 1, T past max_position, rows past 2^31 - 1, bytes past size_t). */
static void test_size_queries(void) {
    fastfnet_config c;
    fastfnet_config_default(&c, "fnet");
    size_t ok = fastfnet_model_activation_bytes(&c, 1, 8, 0), np = fastfnet_config_num_params(&c, NULL);
    fastfnet_config layers = c, width = c, big = c;
    layers.num_layers = 100;
    width.hidden_size = 0;
    big.hidden_size = 64, big.num_heads = 1, big.intermediate_size = 1 << 20, big.max_position = 1 << 20;
    size_t a[] = {fastfnet_model_activation_bytes(&layers, 1, 8, 0), fastfnet_model_activation_bytes(&width, 1, 8, 1),
                  fastfnet_config_num_params(&layers, NULL), fastfnet_config_num_params(&width, NULL),
                  fastfnet_model_activation_bytes(&c, -1, 16, 0), fastfnet_model_activation_bytes(&c, 1, 0, 0),
                  fastfnet_model_activation_bytes(&c, 1, c.max_position + 1, 0), fastfnet_model_activation_bytes(&big, INT_MAX, 1 << 20, 1),
                  fastfnet_model_activation_bytes(&c, INT_MAX / 256 + 1, 256, 0)};
    int all0 = 1;
    for (int i = 0; i < 9; i++) all0 &= a[i] == 0;
    check(ok > 0 && np > 0 && all0, "size queries: 0 for an invalid config or shape (%zu %zu %zu %zu %zu %zu %zu %zu %zu), sizes otherwise (%zu, %zu)",
          a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], ok, np);
}

/* fastfnet_set_threads holds for every thread that calls the library, not only the one that set it (OpenMP's
 * count is per thread: a worker thread would run at OpenMP's default) */
typedef struct {
    const kind *k;
    int before, during, after;
} threads_probe;

static void *threads_worker(void *arg) {
    threads_probe *p = arg;
    p->before = omp_get_max_threads();
    fastfnet_set_threads(p->before + 1); /* from this thread: a count no new thread starts with */
    p->during = omp_get_max_threads();
    return NULL;
}

static void *forward_worker(void *arg) {
    threads_probe *p = arg;
    p->before = omp_get_max_threads();
    fastfnet_config c = make_cfg(p->k);
    char err[256];
    fastfnet_model *m = fastfnet_model_create(&c, 3, err, sizeof err);
    batch_data d;
    make_batch(&d, &c, 2, p->k->T);
    fastfnet_batch b = as_batch(&d);
    fastfnet_model_reserve(m, 2, p->k->T, 0, err, sizeof err);
    fastfnet_model_forward(m, &b, 0);
    p->after = omp_get_max_threads();
    fastfnet_model_free(m);
    return NULL;
}

static void test_threads_other_thread(const kind *k) {
    threads_probe set = {k, 0, 0, 0}, use = {k, 0, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, threads_worker, &set), pthread_join(t, NULL);
    pthread_create(&t, NULL, forward_worker, &use), pthread_join(t, NULL);
    int n = set.before + 1;
    check(set.during == n && use.before == set.before && use.after == n,
          "%s: fastfnet_set_threads(%d) from one thread holds in another's forward (it started at %d, ran at %d)", k->name, n,
          use.before, use.after);
    fastfnet_set_threads(2);
}

int main(void) {
    fastfnet_set_threads(2);
    snprintf(g_dir, sizeof g_dir, "/tmp/fastfnet_test_model_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    for (int i = 0; i < NKINDS; i++) test_reference(&KINDS[i]);
    for (int i = 0; i < NKINDS; i++) test_gradients(&KINDS[i], 0.0f);
    for (int i = 0; i < NKINDS; i++) test_gradients(&KINDS[i], 0.2f);
    for (int i = 0; i < NKINDS; i++) test_backends(&KINDS[i]);
    for (int i = 0; i < NKINDS; i++) test_pooled_only(&KINDS[i]);
    for (int i = 0; i < NKINDS; i++) test_slices(&KINDS[i]);
    for (int i = 0; i < NKINDS; i++) test_packed_weights(&KINDS[i]);
    test_bad_batch(&KINDS[0]);
    test_mlm_chunks(&KINDS[0]);
    test_mlm_chunks(&KINDS[7]);
    test_roundtrip();
    test_config_compat();
    test_hf_dir();
    test_config_json();
    /* last: its batches draw from the shared generator, which the tests above must see unchanged */
    for (int i = 0; i < NKINDS; i++) test_inference_state(&KINDS[i]);
    /* after it, for the same reason */
    test_grad_norm_without_grads(&KINDS[0]);
    test_backward_pooled_only(&KINDS[0]);
    test_backward_pooled_only(&KINDS[7]);
    test_backward_twice(&KINDS[0]);
    test_backward_twice(&KINDS[7]);
    test_reserve_monotone(&KINDS[0]);
    test_reserve_monotone(&KINDS[10]);
    test_reserve_huge(&KINDS[0]);
    test_size_queries();
    test_threads_other_thread(&KINDS[0]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd)) return 1;
    return check_summary();
}
