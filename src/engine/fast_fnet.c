/* fast_fnet.c: the authors' Fast-FNet block (mixing fast_fourier_pad): Fourier layer W -> W/2, Add & Norm,
 * FFN and Add & Norm at W/2, zero-padded back to W; forward and backward. Definition in docs/MODEL.md. */
#include "model.h"
#include "ops.h"
#include <string.h>

int fastfnet_padblock_narrow_in(const fastfnet_config *c, int l) { return l > 0 && c->mixing[l - 1] == FASTFNET_MIX_FAST_FOURIER_PAD; }
int fastfnet_padblock_narrow_out(const fastfnet_config *c, int l) {
    return l + 1 < c->num_layers && c->mixing[l + 1] == FASTFNET_MIX_FAST_FOURIER_PAD;
}

/* sum1 (B,T,H) = the altered Fourier layer of the block's input plus its residual. A narrow input is the
 * previous block's y: the transform reads it as the padded signal it stands for, and it is the residual. */
static void mix_forward(fastfnet_model *m, int l, const float *x, int B, int T) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_layer_acts *L = &m->A.layer[l];
    const fastfnet_layer_params *p = &m->P.layer[l];
    int W = fastfnet_config_width(c, l), H = W / 2;
    size_t BT = (size_t)B * T, nH = BT * H;
    if (fastfnet_padblock_narrow_in(c, l)) {
        fastfnet_fourier_forward(fastfnet_model_plan(m, T, W, H, fastfnet_config_pad_offset(c, W)), L->sum1, x, B);
        fastfnet_add(L->sum1, x, nH);
        return;
    }
    float *r = m->A.scratch;
    fastfnet_fourier_forward(fastfnet_model_plan(m, T, W, H, -1), L->sum1, x, B);
    if (c->residual == FASTFNET_RES_DENSE) fastfnet_linear_forward(r, x, p->r_w, p->r_b, (int)BT, W, H);
    else fastfnet_reduce_forward(r, x, (int)BT, W, (int)c->residual);
    fastfnet_add(L->sum1, r, nH);
}

/* y (N,H) = LN_2(h + FFN(h)) with h = LN_1(s1), for N rows of width H (dropout only when training). */
static void fastfnet_part_forward(fastfnet_model *m, int l, fastfnet_layer_acts *L, const float *s1, float *y, int N, float pd, size_t first) {
    const fastfnet_config *c = &m->cfg;
    const fastfnet_layer_params *p = &m->P.layer[l];
    int H = fastfnet_config_width(c, l) / 2, Fw = fastfnet_config_block_ffn_width(c, 2 * H);
    fastfnet_layernorm_forward(L->h, L->ln1_mean, L->ln1_rstd, s1, p->ln1_w, p->ln1_b, N, H, c->layer_norm_eps);
    fastfnet_linear_gelu_forward_pk(L->g, L->a, L->h, p->w1, fastfnet_model_wpack(m, l, 0), p->b1, N, H, Fw);
    fastfnet_linear_forward_pk(L->sum2, L->g, p->w2, fastfnet_model_wpack(m, l, 1), p->b2, N, Fw, H);
    fastfnet_residual_layernorm_forward(y, L->sum2, L->ln2_mean, L->ln2_rstd, L->o_drop, L->sum2, L->h, p->ln2_w, p->ln2_b, N, H,
                                        c->layer_norm_eps, pd, fastfnet_model_next_seed(m), first);
}

/* xpad (rows of W) = y (rows of H) at columns off.., zeros elsewhere; every `step`-th row of n. */
static void pad_rows(float *xpad, const float *y, size_t n, size_t step, int W, int H, int off) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += step) {
        float *o = xpad + i * W;
        memset(o, 0, sizeof(float) * off);
        memcpy(o + off, y + i * H, sizeof(float) * H);
        memset(o + off + H, 0, sizeof(float) * (W - off - H));
    }
}

const float *fastfnet_padblock_forward(fastfnet_model *m, int l, const float *x, const fastfnet_batch *b, int train) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_layer_acts *L = &m->A.layer[l];
    int B = b->B, T = b->T, W = fastfnet_config_width(c, l), H = W / 2, off = fastfnet_config_pad_offset(c, W);
    size_t BT = (size_t)B * T;
    mix_forward(m, l, x, B, T);
    if (m->pooled_only && !train && l == c->num_layers - 1) {
        /* only [CLS] feeds the pooler: after the mixing, the per-token work for row 0 of each sequence alone */
        float *cls = m->A.scratch, *ycls = m->A.scratch + (size_t)B * H;
        for (int i = 0; i < B; i++) memcpy(cls + (size_t)i * H, L->sum1 + (size_t)i * T * H, sizeof(float) * H);
        fastfnet_part_forward(m, l, L, cls, ycls, B, 0.0f, 0);
        for (int i = 0; i < B; i++) memcpy(L->y + (size_t)i * T * H, ycls + (size_t)i * H, sizeof(float) * H);
        pad_rows(L->xpad, L->y, BT, (size_t)T, W, H, off);
        return L->xpad;
    }
    fastfnet_part_forward(m, l, L, L->sum1, L->y, (int)BT, train ? c->hidden_dropout : 0.0f, (size_t)b->row0 * T * H);
    if (fastfnet_padblock_narrow_out(c, l)) return L->y;
    pad_rows(L->xpad, L->y, BT, 1, W, H, off);
    return L->xpad;
}

/* dh (N,H) = the gradient of h through LN_2(h + FFN(h)) from dy: LN_2's input gradient (the residual's share)
 * is written into dh, the FFN's share added to it. */
static void fastfnet_part_backward(fastfnet_model *m, int l, float *dh, const float *dy, int N, float pd) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_layer_acts *L = &A->layer[l];
    const fastfnet_layer_params *p = &m->P.layer[l];
    fastfnet_layer_params *g = &m->G.layer[l];
    int H = fastfnet_config_width(c, l) / 2, Fw = fastfnet_config_block_ffn_width(c, 2 * H);
    size_t nH = (size_t)N * H, nF = (size_t)N * Fw;
    float *dsum2 = dh, *dO = pd > 0.0f ? A->gC : dsum2, *dG = A->gF, *dA = A->gF2; /* without dropout dO is dsum2 */
    fastfnet_layernorm_backward(dsum2, g->ln2_w, g->ln2_b, dy, L->sum2, p->ln2_w, L->ln2_mean, L->ln2_rstd, N, H);
    if (pd > 0.0f) fastfnet_dropout_backward(dO, dsum2, L->o_drop, nH, pd);
    /* g is not kept per layer (model.c's layout): recomputed from a, with gelu's derivative into dA */
    fastfnet_gelu_forward_deriv(L->g, dA, L->a, nF);
    fastfnet_linear_gelu_backward(dA, g->b1, g->w2, g->b2, dG, dO, L->g, p->w2, N, Fw, H);
    fastfnet_linear_backward(dh, g->w1, NULL, dA, L->h, p->w1, N, H, Fw);
}

void fastfnet_padblock_backward(fastfnet_model *m, int l, float *dx, float *dy) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_layer_acts *L = &A->layer[l];
    const fastfnet_layer_params *p = &m->P.layer[l];
    fastfnet_layer_params *g = &m->G.layer[l];
    int B = m->B, T = m->T, W = fastfnet_config_width(c, l), H = W / 2, off = fastfnet_config_pad_offset(c, W);
    size_t BT = (size_t)B * T, nH = BT * H;
    if (!fastfnet_padblock_narrow_out(c, l))
        /* the padding's gradient goes nowhere: keep y's columns, compacted in place (each row moves down) */
        for (size_t i = 0; i < BT; i++) memmove(dy + i * H, dy + i * W + off, sizeof(float) * H);
    float *dh = A->gA, *dsum1 = A->gB;
    fastfnet_part_backward(m, l, dh, dy, (int)BT, m->train ? c->hidden_dropout : 0.0f);
    fastfnet_layernorm_backward(dsum1, g->ln1_w, g->ln1_b, dh, L->sum1, p->ln1_w, L->ln1_mean, L->ln1_rstd, (int)BT, H);
    if (fastfnet_padblock_narrow_in(c, l)) {
        fastfnet_copy(dx, dsum1, nH); /* the residual's share; the transform's adds to it */
        fastfnet_fourier_backward(fastfnet_model_plan(m, T, W, H, off), dx, dsum1, B);
        return;
    }
    const float *x = fastfnet_layer_output(A, l - 1);
    fastfnet_zero(dx, BT * W);
    fastfnet_fourier_backward(fastfnet_model_plan(m, T, W, H, -1), dx, dsum1, B);
    if (c->residual == FASTFNET_RES_DENSE) fastfnet_linear_backward(dx, g->r_w, g->r_b, dsum1, x, p->r_w, (int)BT, W, H);
    else fastfnet_reduce_backward(dx, dsum1, x, (int)BT, W, (int)c->residual);
}
