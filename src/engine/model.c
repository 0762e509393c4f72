/* model.c: the encoder: parameter table and init, activation arena, forward and backward (AdamW: optim.c).
 * Mixing per layer (fourier / fast_fourier / attention; fast_fourier_pad blocks in fast_fnet.c) as defined in
 * docs/MODEL.md. */
#include "model.h"
#include "blas.h"
#include "ops.h"
#include "util.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <math.h>
#include <omp.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------- parameter table ---------- */

typedef struct {
    fastfnet_model *m;
    size_t total;
} table_builder;

static void add(table_builder *tb, size_t field, int d0, int d1, const char *fmt, int idx) {
    fastfnet_model *m = tb->m;
    fastfnet_tensor_info *t = &m->tensors[m->num_tensors++];
    snprintf(t->name, sizeof t->name, fmt, idx);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = (size_t)d0 * (d1 ? d1 : 1);
    t->offset = tb->total;
    t->field = field;
    /* 16-float alignment keeps every tensor on its own cache line start */
    tb->total += (t->numel + 15) & ~(size_t)15;
}

#define F(x) offsetof(fastfnet_params, x)
#define LF(i, x) (offsetof(fastfnet_params, layer) + (size_t)(i) * sizeof(fastfnet_layer_params) + offsetof(fastfnet_layer_params, x))

int fastfnet_width_ffn(const fastfnet_config *c, int w) { return (int)((long)c->intermediate_size * w / c->hidden_size); }

/* A layer's FFN and the LayerNorm after it, at width Wo with Fw hidden units. */
static void table_ffn(table_builder *tb, int i, int Wo, int Fw) {
    add(tb, LF(i, w1), Fw, Wo, "fnet.encoder.layer.%d.intermediate.dense.weight", i);
    add(tb, LF(i, b1), Fw, 0, "fnet.encoder.layer.%d.intermediate.dense.bias", i);
    add(tb, LF(i, w2), Wo, Fw, "fnet.encoder.layer.%d.output.dense.weight", i);
    add(tb, LF(i, b2), Wo, 0, "fnet.encoder.layer.%d.output.dense.bias", i);
    add(tb, LF(i, ln2_w), Wo, 0, "fnet.encoder.layer.%d.output.LayerNorm.weight", i);
    add(tb, LF(i, ln2_b), Wo, 0, "fnet.encoder.layer.%d.output.LayerNorm.bias", i);
}

/* fast_fourier_pad block i: everything after the Fourier layer is H = W/2 wide; the Dimension Reduction
 * exists only where the residual is not the previous block's output. */
static void table_padblock(table_builder *tb, const fastfnet_config *c, int i) {
    int W = fastfnet_config_width(c, i), H = W / 2, Fw = fastfnet_config_block_ffn_width(c, W);
    if (!fastfnet_padblock_narrow_in(c, i) && c->residual == FASTFNET_RES_DENSE) {
        add(tb, LF(i, r_w), H, W, "fnet.encoder.layer.%d.fourier.residual.dense.weight", i);
        add(tb, LF(i, r_b), H, 0, "fnet.encoder.layer.%d.fourier.residual.dense.bias", i);
    }
    add(tb, LF(i, ln1_w), H, 0, "fnet.encoder.layer.%d.fourier.output.LayerNorm.weight", i);
    add(tb, LF(i, ln1_b), H, 0, "fnet.encoder.layer.%d.fourier.output.LayerNorm.bias", i);
    table_ffn(tb, i, H, Fw);
}

static void table_embeddings(table_builder *tb, const fastfnet_config *c) {
    int E = c->hidden_size;
    add(tb, F(wte), c->vocab_size, E, "fnet.embeddings.word_embeddings.weight", 0);
    add(tb, F(wpe), c->max_position, E, "fnet.embeddings.position_embeddings.weight", 0);
    add(tb, F(wtt), c->type_vocab_size, E, "fnet.embeddings.token_type_embeddings.weight", 0);
    add(tb, F(eln_w), E, 0, "fnet.embeddings.LayerNorm.weight", 0);
    add(tb, F(eln_b), E, 0, "fnet.embeddings.LayerNorm.bias", 0);
    add(tb, F(proj_w), E, E, "fnet.embeddings.projection.weight", 0);
    add(tb, F(proj_b), E, 0, "fnet.embeddings.projection.bias", 0);
}

/* Attention layer i's projections at its input width W, then the LayerNorm after mixing at Wo. */
static void table_attention(table_builder *tb, int i, int W, int Wo) {
    add(tb, LF(i, q_w), W, W, "fnet.encoder.layer.%d.attention.self.query.weight", i);
    add(tb, LF(i, q_b), W, 0, "fnet.encoder.layer.%d.attention.self.query.bias", i);
    add(tb, LF(i, k_w), W, W, "fnet.encoder.layer.%d.attention.self.key.weight", i);
    add(tb, LF(i, k_b), W, 0, "fnet.encoder.layer.%d.attention.self.key.bias", i);
    add(tb, LF(i, v_w), W, W, "fnet.encoder.layer.%d.attention.self.value.weight", i);
    add(tb, LF(i, v_b), W, 0, "fnet.encoder.layer.%d.attention.self.value.bias", i);
    add(tb, LF(i, o_w), W, W, "fnet.encoder.layer.%d.attention.output.dense.weight", i);
    add(tb, LF(i, o_b), W, 0, "fnet.encoder.layer.%d.attention.output.dense.bias", i);
    add(tb, LF(i, ln1_w), Wo, 0, "fnet.encoder.layer.%d.attention.output.LayerNorm.weight", i);
    add(tb, LF(i, ln1_b), Wo, 0, "fnet.encoder.layer.%d.attention.output.LayerNorm.bias", i);
}

/* Fourier mixing has no weights: before its FFN a Fourier layer holds only the LayerNorm after mixing and,
 * in a fast_fourier layer with a dense residual, the Dimension Reduction. */
static void table_fourier(table_builder *tb, const fastfnet_config *c, int i, int W, int Wo) {
    if (c->mixing[i] == FASTFNET_MIX_FAST_FOURIER && c->residual == FASTFNET_RES_DENSE) {
        add(tb, LF(i, r_w), Wo, W, "fnet.encoder.layer.%d.fourier.residual.dense.weight", i);
        add(tb, LF(i, r_b), Wo, 0, "fnet.encoder.layer.%d.fourier.residual.dense.bias", i);
    }
    add(tb, LF(i, ln1_w), Wo, 0, "fnet.encoder.layer.%d.fourier.output.LayerNorm.weight", i);
    add(tb, LF(i, ln1_b), Wo, 0, "fnet.encoder.layer.%d.fourier.output.LayerNorm.bias", i);
}


static void table_layer(table_builder *tb, const fastfnet_config *c, int i) {
    int W = fastfnet_config_width(c, i), Wo = fastfnet_config_width(c, i + 1), Fw = fastfnet_width_ffn(c, Wo);
    if (c->mixing[i] == FASTFNET_MIX_FAST_FOURIER_PAD) {
        table_padblock(tb, c, i);
        return;
    }
    if (c->mixing[i] == FASTFNET_MIX_ATTENTION) table_attention(tb, i, W, Wo);
    else table_fourier(tb, c, i, W, Wo);
    table_ffn(tb, i, Wo, Fw);
}

/* The heads read the last layer's width Df; the MLM transform maps it back to E for the tied decoder. */
static void table_heads(table_builder *tb, const fastfnet_config *c) {
    int E = c->hidden_size, Df = fastfnet_config_width(c, c->num_layers);
    if (c->heads & FASTFNET_HEAD_POOLER) {
        add(tb, F(pool_w), Df, Df, "fnet.pooler.dense.weight", 0);
        add(tb, F(pool_b), Df, 0, "fnet.pooler.dense.bias", 0);
    }
    if (c->heads & FASTFNET_HEAD_MLM) {
        add(tb, F(mlm_w), E, Df, "cls.predictions.transform.dense.weight", 0);
        add(tb, F(mlm_b), E, 0, "cls.predictions.transform.dense.bias", 0);
        add(tb, F(mlm_ln_w), E, 0, "cls.predictions.transform.LayerNorm.weight", 0);
        add(tb, F(mlm_ln_b), E, 0, "cls.predictions.transform.LayerNorm.bias", 0);
        add(tb, F(mlm_bias), c->vocab_size, 0, "cls.predictions.bias", 0);
    }
    if (c->heads & FASTFNET_HEAD_NSP) {
        add(tb, F(nsp_w), 2, Df, "cls.seq_relationship.weight", 0);
        add(tb, F(nsp_b), 2, 0, "cls.seq_relationship.bias", 0);
    }
    if (c->heads & FASTFNET_HEAD_CLS) {
        add(tb, F(cls_w), c->num_labels, Df, "classifier.weight", 0);
        add(tb, F(cls_b), c->num_labels, 0, "classifier.bias", 0);
    }
}

/* The table's order is the parameter buffer's layout and the order in which tensors are saved. */
static size_t build_table(fastfnet_model *m) {
    const fastfnet_config *c = &m->cfg;
    table_builder tb = {m, 0};
    m->num_tensors = 0;
    table_embeddings(&tb, c);
    for (int i = 0; i < c->num_layers; i++) table_layer(&tb, c, i);
    table_heads(&tb, c);
    return tb.total;
}

static void point_into(fastfnet_params *p, const fastfnet_model *m, float *base) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < m->num_tensors; i++)
        *(float **)((char *)p + m->tensors[i].field) = base + m->tensors[i].offset;
}

fastfnet_model *fastfnet_model_alloc(const fastfnet_config *cfg, char *err, size_t errlen) {
    if (fastfnet_config_validate(cfg, err, errlen)) return NULL;
    fastfnet_model *m = fastfnet_calloc(sizeof *m);
    if (!m) goto oom;
    m->cfg = *cfg;
    m->tensors = fastfnet_calloc(sizeof(fastfnet_tensor_info) * (16 + 18 * (size_t)(cfg->num_layers + 1)));
    if (!m->tensors) goto oom;
    m->num_params = build_table(m);
    m->params = fastfnet_calloc(m->num_params * sizeof(float));
    if (!m->params) goto oom;
    point_into(&m->P, m, m->params);
    return m;
oom:
    fastfnet_model_free(m);
    fastfnet_err(err, errlen, "out of memory for the parameters of the model");
    return NULL;
}

fastfnet_tensor_info *fastfnet_config_tensors(const fastfnet_config *cfg, int *n) {
    fastfnet_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *cfg;
    tmp.tensors = fastfnet_calloc(sizeof(fastfnet_tensor_info) * (16 + 18 * (size_t)(cfg->num_layers + 1)));
    *n = 0;
    if (!tmp.tensors) return NULL;
    build_table(&tmp);
    *n = tmp.num_tensors;
    return tmp.tensors;
}

size_t fastfnet_config_count_params(const fastfnet_config *cfg, size_t *encoder) {
    int nt;
    fastfnet_tensor_info *t = fastfnet_config_tensors(cfg, &nt);
    size_t total = 0, enc = 0;
    if (!t) return 0; /* out of memory for the table: no count (validation then refuses the config) */
    for (int i = 0; i < nt; i++) {
        total += t[i].numel;
        if (!strncmp(t[i].name, "fnet.embeddings.", 16) || !strncmp(t[i].name, "fnet.encoder.", 13)) enc += t[i].numel;
    }
    fastfnet_free(t);
    if (encoder) *encoder = enc;
    return total;
}

size_t fastfnet_config_num_params(const fastfnet_config *cfg, size_t *encoder) {
    return fastfnet_config_validate(cfg, NULL, 0) ? 0 : fastfnet_config_count_params(cfg, encoder);
}

fastfnet_model *fastfnet_model_create(const fastfnet_config *cfg, uint64_t seed, char *err, size_t errlen) {
    fastfnet_model *m = fastfnet_model_alloc(cfg, err, errlen);
    if (!m) return NULL;
    fastfnet_rng rng;
    fastfnet_rng_seed(&rng, seed);
    /* HF init: normal(0, initializer_range) for 2-D weights, LayerNorm weights 1, every bias 0 */
    for (int i = 0; i < m->num_tensors; i++) {
        fastfnet_tensor_info *t = &m->tensors[i];
        float *p = m->params + t->offset;
        int is_ln_w = strstr(t->name, "LayerNorm.weight") != NULL;
        for (size_t j = 0; j < t->numel; j++)
            p[j] = t->ndim == 2 ? cfg->initializer_range * fastfnet_rng_normal(&rng) : (is_ln_w ? 1.0f : 0.0f);
    }
    m->dropout_seed = seed ^ 0xD50F5EEDull;
    return m;
}

void fastfnet_model_free(fastfnet_model *m) {
    if (!m) return;
    fastfnet_model_unpack_weights(m);
    for (int i = 0; i < m->nplans; i++) fastfnet_fourier_free(m->plans[i].f);
    fastfnet_free(m->tensors);
    fastfnet_free(m->params);
    fastfnet_free(m->grads);
    fastfnet_free(m->arena);
    fastfnet_free(m->tt_zero);
    fastfnet_free(m);
}

const fastfnet_config *fastfnet_model_config(const fastfnet_model *m) { return &m->cfg; }
int fastfnet_model_num_tensors(const fastfnet_model *m) { return m->num_tensors; }
size_t fastfnet_model_num_params(const fastfnet_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->num_tensors; i++) n += m->tensors[i].numel;
    return n;
}

fastfnet_tensor fastfnet_model_tensor(const fastfnet_model *m, int i) {
    const fastfnet_tensor_info *t = &m->tensors[i];
    fastfnet_tensor r = {t->name, t->ndim, {t->shape[0], t->shape[1]}, t->numel, m->params + t->offset,
                    m->grads ? m->grads + t->offset : NULL};
    return r;
}

/* ---------- activation arena ---------- */

typedef struct {
    char *base;
    size_t off;
} bump;

static void *take(bump *b, size_t bytes) {
    void *p = b->base ? b->base + b->off : NULL;
    b->off += (bytes + 63) & ~(size_t)63;
    return p;
}
#define TAKEF(n) ((float *)take(bp, sizeof(float) * (size_t)(n)))
#define TAKEB(n) ((uint8_t *)take(bp, (size_t)(n)))

int fastfnet_mlm_capacity_floor = 64;

/* Rows of vocabulary-wide MLM buffers (logits, probabilities). Training computes the head at the masked
 * positions only: BERT masks 15% of tokens, so a quarter of the batch is many standard deviations above what
 * a batch holds at any size (with a floor for small batches); a batch with more is processed in chunks of
 * this many rows, backward recomputing each chunk's logits, so nothing overflows. Inference (any row may
 * be asked for) keeps every row. */
static int mlm_capacity(size_t BT, int train) {
    size_t cap = train ? (BT + 3) / 4 : BT, floor = (size_t)(fastfnet_mlm_capacity_floor > 1 ? fastfnet_mlm_capacity_floor : 1);
    cap = cap > floor ? cap : floor;
    return (int)(cap < BT ? cap : BT);
}

/* fast_fourier_pad block i: activations at H/2 = W/2; the padded output only where a full-width reader
 * follows. Returns the block's FFN width. */
static int layout_padblock(fastfnet_layer_acts *L, const fastfnet_config *c, int i, size_t BT, bump *bp) {
    int W = fastfnet_config_width(c, i), H = W / 2, Fw = fastfnet_config_block_ffn_width(c, W);
    L->sum1 = TAKEF(BT * H);
    L->ln1_mean = TAKEF(BT);
    L->ln1_rstd = TAKEF(BT);
    L->h = TAKEF(BT * H);
    L->a = TAKEF(BT * Fw);
    if (c->hidden_dropout > 0) L->o_drop = TAKEB(BT * H);
    L->sum2 = TAKEF(BT * H);
    L->ln2_mean = TAKEF(BT);
    L->ln2_rstd = TAKEF(BT);
    L->y = TAKEF(BT * H);
    if (!fastfnet_padblock_narrow_out(c, i)) L->xpad = TAKEF(BT * W);
    return Fw;
}

static void layout_embeddings(fastfnet_acts *A, const fastfnet_config *c, size_t BT, bump *bp) {
    int E = c->hidden_size;
    A->emb_sum = TAKEF(BT * E);
    A->emb_mean = TAKEF(BT);
    A->emb_rstd = TAKEF(BT);
    A->emb_ln = TAKEF(BT * E);
    A->emb_out = TAKEF(BT * E);
    if (c->hidden_dropout > 0) A->emb_drop = TAKEB(BT * E);
}

/* Layer i other than fast_fourier_pad: attention keeps q, k, v and the context at the input width W, the
 * rest is at the output width Wo. Returns the layer's FFN width. */
static int layout_layer(fastfnet_layer_acts *L, const fastfnet_config *c, int i, size_t BT, bump *bp) {
    int W = fastfnet_config_width(c, i), Wo = fastfnet_config_width(c, i + 1), Fw = fastfnet_width_ffn(c, Wo);
    int NH = c->num_heads;
    float pdrop = c->hidden_dropout;
    L->sum1 = TAKEF(BT * Wo);
    L->ln1_mean = TAKEF(BT);
    L->ln1_rstd = TAKEF(BT);
    L->h = TAKEF(BT * Wo);
    if (c->mixing[i] == FASTFNET_MIX_ATTENTION) {
        L->q = TAKEF(BT * W);
        L->k = TAKEF(BT * W);
        L->v = TAKEF(BT * W);
        L->ctx = TAKEF(BT * W);
        L->lse = TAKEF(BT * NH);
        if (pdrop > 0) L->mix_drop = TAKEB(BT * Wo);
    }
    L->a = TAKEF(BT * Fw);
    if (pdrop > 0) L->o_drop = TAKEB(BT * Wo);
    L->sum2 = TAKEF(BT * Wo);
    L->ln2_mean = TAKEF(BT);
    L->ln2_rstd = TAKEF(BT);
    L->y = TAKEF(BT * Wo);
    return Fw;
}

/* Every layer in order; the widest FFN (at least 1) and whether any layer attends size the shared buffers. */
static void layout_layers(fastfnet_acts *A, const fastfnet_config *c, size_t BT, bump *bp, int *maxF, int *any_attn) {
    for (int i = 0; i < c->num_layers; i++) {
        fastfnet_layer_acts *L = &A->layer[i];
        int Fw;
        if (c->mixing[i] == FASTFNET_MIX_FAST_FOURIER_PAD) {
            Fw = layout_padblock(L, c, i, BT, bp);
        } else {
            Fw = layout_layer(L, c, i, BT, bp);
            if (c->mixing[i] == FASTFNET_MIX_ATTENTION) *any_attn = 1;
        }
        *maxF = Fw > *maxF ? Fw : *maxF;
    }
}

/* Buffers all layers share, sized for the widest: gelu's output (training only), the scratch, attention's
 * per-thread tiles, the key mask. */
static void layout_shared(fastfnet_acts *A, const fastfnet_config *c, int T, size_t BT, int maxW, int maxF,
                          int any_attn, int train, bump *bp) {
    /* gelu(a) is not kept per layer: every layer's FFN writes one shared buffer, and backward recomputes it
     * from a (with gelu's derivative, in one pass), which saves (N-1) x (B,T,F) floats, the largest
     * activations. An inference arena, which no backward can use, keeps neither: gelu runs in place on a. */
    float *g = train ? TAKEF(BT * maxF) : NULL;
    for (int i = 0; i < c->num_layers; i++) A->layer[i].g = train ? g : A->layer[i].a;
    A->scratch = TAKEF(BT * maxW);
    if (any_attn) {
        A->att_slots = omp_get_max_threads();
        A->att_scratch = TAKEF(fastfnet_attention_scratch_floats(T) * A->att_slots);
    }
    A->keymask = TAKEB(BT);
}

/* The MLM head: the transform at E, and vocabulary-wide logits and probabilities for mlm_cap rows only. */
static void layout_mlm(fastfnet_acts *A, const fastfnet_config *c, size_t BT, int train, bump *bp) {
    int E = c->hidden_size, Df = fastfnet_config_width(c, c->num_layers);
    A->mlm_cap = mlm_capacity(BT, train);
    A->mlm_rows = (int *)take(bp, sizeof(int) * BT);
    A->mlm_tg = (int *)take(bp, sizeof(int) * BT);
    A->mlm_in = TAKEF(BT * Df);
    A->t1 = TAKEF(BT * E);
    A->t2 = TAKEF(BT * E);
    A->t_mean = TAKEF(BT);
    A->t_rstd = TAKEF(BT);
    A->t3 = TAKEF(BT * E);
    A->mlm_logits = TAKEF((size_t)A->mlm_cap * c->vocab_size);
    A->mlm_probs = TAKEF((size_t)A->mlm_cap * c->vocab_size);
}

/* The heads the config has, in a fixed order: pooler, classifier, NSP, MLM. */
static void layout_heads(fastfnet_acts *A, const fastfnet_config *c, int B, size_t BT, int train, bump *bp) {
    int Df = fastfnet_config_width(c, c->num_layers);
    if (c->heads & FASTFNET_HEAD_POOLER) {
        A->pool_in = TAKEF((size_t)B * Df);
        A->pooled = TAKEF((size_t)B * Df);
    }
    if (c->heads & FASTFNET_HEAD_CLS) {
        A->cls_in = TAKEF((size_t)B * Df);
        if (c->hidden_dropout > 0) A->cls_drop = TAKEB((size_t)B * Df);
        A->cls_logits = TAKEF((size_t)B * c->num_labels);
        A->cls_probs = TAKEF((size_t)B * c->num_labels);
    }
    if (c->heads & FASTFNET_HEAD_NSP) {
        A->nsp_logits = TAKEF((size_t)B * 2);
        A->nsp_probs = TAKEF((size_t)B * 2);
    }
    if (c->heads & FASTFNET_HEAD_MLM) layout_mlm(A, c, BT, train, bp);
}

/* Training only: backward's activation gradients, sized for the widest layer and FFN so any layer can use them. */
static void layout_grads(fastfnet_acts *A, const fastfnet_config *c, int B, size_t BT, int maxW, int maxF, int any_attn,
                         bump *bp) {
    int E = c->hidden_size, Df = fastfnet_config_width(c, c->num_layers);
    A->gA = TAKEF(BT * maxW);
    A->gB = TAKEF(BT * maxW);
    A->gC = TAKEF(BT * maxW);
    A->gX0 = TAKEF(BT * maxW);
    A->gX1 = TAKEF(BT * maxW);
    A->gF = TAKEF(BT * maxF);
    A->gF2 = TAKEF(BT * maxF);
    if (any_attn) {
        A->gq = TAKEF(BT * maxW);
        A->gk = TAKEF(BT * maxW);
        A->gv = TAKEF(BT * maxW);
    }
    A->gE = TAKEF(BT * E);
    int mx = Df > E ? Df : E;
    A->gpool = TAKEF((size_t)B * mx);
    A->gtmp = TAKEF((size_t)B * mx);
}

/* One layout function serves both sizing (base NULL) and carving the real arena. */
static size_t layout(fastfnet_acts *A, const fastfnet_config *c, int B, int T, int train, char *base) {
    bump b = {base, 0}, *bp = &b;
    memset(A, 0, sizeof *A);
    size_t BT = (size_t)B * T;
    int maxW = c->hidden_size, maxF = 1, any_attn = 0;
    layout_embeddings(A, c, BT, bp);
    layout_layers(A, c, BT, bp, &maxF, &any_attn);
    layout_shared(A, c, T, BT, maxW, maxF, any_attn, train, bp);
    layout_heads(A, c, B, BT, train, bp);
    if (train) layout_grads(A, c, B, BT, maxW, maxF, any_attn, bp);
    return b.off;
}

/* Whether an arena for (B, T) batches can be laid out: 0, or -1 with a message. Beyond T <= max_position,
 * B T rows must fit the int row counts the kernels take, and a generous bound of the arena's bytes (every
 * buffer at the widest width of the config, per row and per layer) must stay far below SIZE_MAX, so that no
 * size computed in layout wraps. */
static int check_shape(const fastfnet_config *c, int B, int T, char *err, size_t errlen) {
    if (B < 1 || T < 1) return fastfnet_err(err, errlen, "batch shape must be positive (got B=%d, T=%d)", B, T);
    if (T > c->max_position)
        return fastfnet_err(err, errlen, "sequence length %d exceeds max_position_embeddings %d", T, c->max_position);
    if ((long long)B * T > INT_MAX)
        return fastfnet_err(err, errlen, "a (%d, %d) batch has %lld rows, more than fastfnet takes (2^31 - 1)", B, T, (long long)B * T);
    double width = (double)c->hidden_size + c->intermediate_size + c->num_heads + 16;
    double per_row = 16.0 * (c->num_layers + 8) * width + 2.0 * c->vocab_size + c->num_labels;
    double bytes = 4.0 * ((double)B * T * per_row + (double)fastfnet_attention_scratch_floats(T) * omp_get_max_threads()) + 65536.0;
    if (bytes > (double)(SIZE_MAX / 4))
        return fastfnet_err(err, errlen, "the activations of a (%d, %d) batch do not fit in memory (about %.3g bytes)", B, T, bytes);
    return 0;
}

size_t fastfnet_model_activation_bytes(const fastfnet_config *cfg, int B, int T, int train) {
    fastfnet_acts A;
    if (fastfnet_config_validate(cfg, NULL, 0) || check_shape(cfg, B, T, NULL, 0)) return 0;
    return layout(&A, cfg, B, T, train, NULL);
}

static fastfnet_fourier *get_plan(fastfnet_model *m, int T, int W, int keep) { return fastfnet_model_plan(m, T, W, keep, -1); }

fastfnet_fourier *fastfnet_model_plan(fastfnet_model *m, int T, int W, int keep, int off) {
    for (int i = 0; i < m->nplans; i++)
        if (m->plans[i].T == T && m->plans[i].W == W && m->plans[i].keep == keep && m->plans[i].off == off)
            return m->plans[i].f;
    if (m->nplans == FASTFNET_MAX_PLANS) {
        /* many distinct lengths: drop the oldest plan rather than grow without bound */
        fastfnet_fourier_free(m->plans[0].f);
        memmove(m->plans, m->plans + 1, sizeof(m->plans[0]) * (FASTFNET_MAX_PLANS - 1));
        m->nplans--;
    }
    fastfnet_fourier_impl impl = (fastfnet_fourier_impl)m->cfg.fourier_impl;
    fastfnet_fourier *f = off >= 0 ? fastfnet_fourier_init_padded(m->maxB, T, W, off, impl) : fastfnet_fourier_init(m->maxB, T, W, keep, impl);
    if (!f) return NULL;
    m->plans[m->nplans++] = (fastfnet_plan_entry){T, W, keep, off, f};
    return f;
}

/* Every Fourier plan a batch of length T needs, so that forward and backward only look them up.
 * 0, or -1 with a message when one cannot be made (memory, FFTW). */
static int make_plans(fastfnet_model *m, int T, char *err, size_t errlen) {
    for (int i = 0; i < m->cfg.num_layers; i++) {
        int W = fastfnet_config_width(&m->cfg, i), keep = fastfnet_config_width(&m->cfg, i + 1);
        fastfnet_fourier *f = (fastfnet_fourier *)1;
        if (m->cfg.mixing[i] == FASTFNET_MIX_FAST_FOURIER_PAD)
            keep = W / 2, f = fastfnet_model_plan(m, T, W, keep, fastfnet_padblock_narrow_in(&m->cfg, i) ? fastfnet_config_pad_offset(&m->cfg, W) : -1);
        else if (m->cfg.mixing[i] != FASTFNET_MIX_ATTENTION)
            f = get_plan(m, T, W, keep);
        if (!f) return fastfnet_err(err, errlen, "cannot plan the Fourier transform for T=%d, width %d -> %d (out of memory?)", T, W, keep);
    }
    return 0;
}

/* A reserve that failed leaves no arena (the next one starts over); gradients and moments made before stay. */
static int reserve_failed(fastfnet_model *m, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int reserve_failed(fastfnet_model *m, char *err, size_t errlen, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = 0; i < m->nplans; i++) fastfnet_fourier_free(m->plans[i].f);
    m->nplans = 0;
    fastfnet_free(m->arena);
    fastfnet_free(m->tt_zero);
    m->arena = NULL, m->tt_zero = NULL;
    m->maxB = m->maxT = m->train_ready = 0;
    return fastfnet_err(err, errlen, "%s", msg);
}

/* Monotone: the arena covers what every reserve so far asked for (the largest B, the largest T, training if
 * any asked), so a later, smaller or inference-only reserve takes nothing away. */
int fastfnet_model_reserve(fastfnet_model *m, int B, int T, int train, char *err, size_t errlen) {
    fastfnet_threads_apply();
    if (check_shape(&m->cfg, B, T, err, errlen)) return -1;
    train = train || m->train_ready;
    B = B > m->maxB ? B : m->maxB;
    T = T > m->maxT ? T : m->maxT;
    if (B == m->maxB && T == m->maxT && train == m->train_ready) return 0;
    if (check_shape(&m->cfg, B, T, err, errlen)) return -1; /* the union of the reserves is too large: nothing changes */
    m->backward_ready = 0; /* the last forward's activations are gone */
    for (int i = 0; i < m->nplans; i++) fastfnet_fourier_free(m->plans[i].f);
    m->nplans = 0;
    fastfnet_free(m->arena);
    fastfnet_free(m->tt_zero);
    m->maxB = B;
    m->maxT = T;
    m->arena_bytes = layout(&m->A, &m->cfg, B, T, train, NULL);
    m->arena = fastfnet_calloc(m->arena_bytes);
    m->tt_zero = fastfnet_calloc(sizeof(int) * (size_t)B * T);
    if (!m->arena || !m->tt_zero) return reserve_failed(m, err, errlen, "out of memory for the activations of a (%d, %d) batch (%.1f MiB)", B, T, m->arena_bytes / 1048576.0);
    layout(&m->A, &m->cfg, B, T, train, m->arena);
    if (train && !m->grads) {
        m->grads = fastfnet_calloc(m->num_params * sizeof(float));
        if (!m->grads) return reserve_failed(m, err, errlen, "out of memory for the gradients of %zu parameters", m->num_params);
        point_into(&m->G, m, m->grads);
    }
    m->train_ready = train;
    char msg[200];
    if (make_plans(m, T, msg, sizeof msg)) return reserve_failed(m, err, errlen, "%s", msg);
    return 0;
}

int fastfnet_model_check_batch(const fastfnet_model *m, const fastfnet_batch *b, char *err, size_t errlen) {
    const fastfnet_config *c = &m->cfg;
    if (b->B < 1 || b->T < 1) return fastfnet_err(err, errlen, "empty batch");
    if (b->B > m->maxB || b->T > m->maxT)
        return fastfnet_err(err, errlen, "batch (%d x %d) is larger than reserved (%d x %d)", b->B, b->T, m->maxB, m->maxT);
    for (int i = 0; i < b->B * b->T; i++) {
        if (b->input_ids[i] < 0 || b->input_ids[i] >= c->vocab_size)
            return fastfnet_err(err, errlen, "sequence %d position %d: token id %d is outside the vocabulary (0..%d)",
                           i / b->T, i % b->T, b->input_ids[i], c->vocab_size - 1);
        if (b->token_type_ids && (b->token_type_ids[i] < 0 || b->token_type_ids[i] >= c->type_vocab_size))
            return fastfnet_err(err, errlen, "sequence %d position %d: token type %d is outside 0..%d", i / b->T,
                           i % b->T, b->token_type_ids[i], c->type_vocab_size - 1);
        if (b->mlm_labels && b->mlm_labels[i] != -100 && (b->mlm_labels[i] < 0 || b->mlm_labels[i] >= c->vocab_size))
            return fastfnet_err(err, errlen, "sequence %d position %d: MLM label %d is outside the vocabulary", i / b->T,
                           i % b->T, b->mlm_labels[i]);
    }
    for (int i = 0; i < b->B; i++) {
        if (b->nsp_labels && b->nsp_labels[i] != -100 && (b->nsp_labels[i] < 0 || b->nsp_labels[i] > 1))
            return fastfnet_err(err, errlen, "sequence %d: NSP label %d must be 0 or 1", i, b->nsp_labels[i]);
        if (b->cls_labels && b->cls_labels[i] != -100 && (b->cls_labels[i] < 0 || b->cls_labels[i] >= c->num_labels))
            return fastfnet_err(err, errlen, "sequence %d: label %d is outside 0..%d", i, b->cls_labels[i], c->num_labels - 1);
    }
    if ((b->mlm_labels && !(c->heads & FASTFNET_HEAD_MLM)) || (b->nsp_labels && !(c->heads & FASTFNET_HEAD_NSP)) ||
        (b->cls_labels && !(c->heads & FASTFNET_HEAD_CLS)))
        return fastfnet_err(err, errlen, "the batch has labels for a head this model does not have");
    return 0;
}

/* ---------- forward ---------- */

/* Inference (train == 0) draws no masks and advances nothing: evaluating between training steps leaves the
 * training run's dropout stream as it was. */
static uint64_t next_seed(fastfnet_model *m) { return m->train ? m->dropout_seed + 0x9E3779B97F4A7C15ull * ++m->dropout_calls : 0; }
uint64_t fastfnet_model_next_seed(fastfnet_model *m) { return next_seed(m); }

/* A head's mean loss over this batch's `*count` targets, re-expressed as its share of the mean over `denom`
 * targets of the whole batch (denom 0: this batch is the whole); backward then divides by denom. */
static float head_loss(float mean, int *count, int denom) {
    if (denom <= 0 || *count == 0) return mean;
    float share = mean * ((float)*count / (float)denom);
    *count = denom;
    return share;
}

const char *fastfnet_model_error(const fastfnet_model *m) { return m->error; }
/* Logits of rows [r0, r0 + n) of the MLM head's selected rows, and their probabilities when labelled. */
static float mlm_chunk(fastfnet_model *m, int r0, int n, int *count) {
    fastfnet_acts *A = &m->A;
    int E = m->cfg.hidden_size, V = m->cfg.vocab_size;
    fastfnet_linear_forward(A->mlm_logits, A->t3 + (size_t)r0 * E, m->P.wte, m->P.mlm_bias, n, E, V);
    return m->mlm_labels ? fastfnet_crossentropy_forward(A->mlm_probs, A->mlm_logits, A->mlm_tg + r0, n, V, count) : 0.0f;
}

/* The MLM head on the rows that have a label (every row when the batch has none): gathered, transformed,
 * decoded in chunks of the arena's capacity. Returns the mean loss over the counted targets. */
static float mlm_forward(fastfnet_model *m, const fastfnet_batch *b, const float *x, int *count) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    int BT = b->B * b->T, E = c->hidden_size, Df = fastfnet_config_width(c, c->num_layers), M = 0;
    for (int i = 0; i < BT; i++)
        if (!b->mlm_labels || b->mlm_labels[i] != -100) A->mlm_rows[M] = i, A->mlm_tg[M++] = b->mlm_labels ? b->mlm_labels[i] : -100;
    m->mlm_n = M;
    *count = 0;
    if (!M) return 0.0f;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++) memcpy(A->mlm_in + (size_t)r * Df, x + (size_t)A->mlm_rows[r] * Df, sizeof(float) * Df);
    fastfnet_linear_gelu_forward(A->t2, A->t1, A->mlm_in, m->P.mlm_w, m->P.mlm_b, M, Df, E);
    fastfnet_layernorm_forward(A->t3, A->t_mean, A->t_rstd, A->t2, m->P.mlm_ln_w, m->P.mlm_ln_b, M, E, c->layer_norm_eps);
    double sum = 0.0;
    for (int r0 = 0; r0 < M; r0 += A->mlm_cap) {
        int n = M - r0 < A->mlm_cap ? M - r0 : A->mlm_cap, cnt = 0;
        float mean = mlm_chunk(m, r0, n, &cnt);
        sum += (double)mean * cnt;
        *count += cnt;
    }
    return *count ? (float)(sum / *count) : 0.0f;
}

/* What layer l's mixing leaves for its Add & Norm: sum1 = dropout_p(sum1) + resid, the dropout mask drawn
 * from (seed, first) as fastfnet_residual_forward draws it. */
typedef struct {
    const float *resid;
    uint8_t *mask;
    float p;
    uint64_t seed;
    size_t first;
} mix_residual;

/* The mixing of layer l (attention or Fourier, W -> Wo) into its sum1, before the residual is added. */
static mix_residual layer_mix_forward(fastfnet_model *m, int l, const float *x, const fastfnet_batch *b, float pd, float pa) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_layer_acts *L = &A->layer[l];
    fastfnet_layer_params *p = &m->P.layer[l];
    int B = b->B, T = b->T, W = fastfnet_config_width(c, l), Wo = fastfnet_config_width(c, l + 1);
    size_t BT = (size_t)B * T;
    mix_residual r = {x, NULL, 0.0f, 0, 0};
    if (c->mixing[l] == FASTFNET_MIX_ATTENTION) {
        fastfnet_linear_forward(L->q, x, p->q_w, p->q_b, (int)BT, W, W);
        fastfnet_linear_forward(L->k, x, p->k_w, p->k_b, (int)BT, W, W);
        fastfnet_linear_forward(L->v, x, p->v_w, p->v_b, (int)BT, W, W);
        L->att_seed = next_seed(m);
        fastfnet_attention_forward(L->ctx, L->lse, A->att_scratch, A->att_slots, L->q, L->k, L->v, A->keymask, B, T, W,
                                   c->num_heads, pa, L->att_seed, b->row0);
        fastfnet_linear_forward(L->sum1, L->ctx, p->o_w, p->o_b, (int)BT, W, W);
        r.mask = L->mix_drop, r.p = pd, r.seed = next_seed(m), r.first = (size_t)b->row0 * T * Wo;
        return r;
    }
    fastfnet_fourier_forward(get_plan(m, T, W, Wo), L->sum1, x, B);
    if (W != Wo) {
        if (c->residual == FASTFNET_RES_DENSE) fastfnet_linear_forward(A->scratch, x, p->r_w, p->r_b, (int)BT, W, Wo);
        else fastfnet_reduce_forward(A->scratch, x, (int)BT, W, (int)c->residual);
        r.resid = A->scratch;
    }
    return r;
}

/* The batch a forward runs on, and what its backward will need to know of it. */
static void bind_batch(fastfnet_model *m, const fastfnet_batch *b, int train) {
    m->B = b->B;
    m->T = b->T;
    m->train = train;
    m->ids = b->input_ids;
    m->tt = b->token_type_ids ? b->token_type_ids : m->tt_zero;
    m->mlm_labels = b->mlm_labels;
    m->nsp_labels = b->nsp_labels;
    m->cls_labels = b->cls_labels;
    m->row0 = b->row0;
    m->pooled_only = b->pooled_only && !train && (m->cfg.heads & FASTFNET_HEAD_POOLER);
}

/* emb_out (B,T,E) = dropout(projection(LayerNorm(word + position + token type))); the attention key mask. */
static void embeddings_forward(fastfnet_model *m, const fastfnet_batch *b, float pd) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    int B = b->B, T = b->T, E = c->hidden_size;
    size_t BT = (size_t)B * T;
    fastfnet_embed_forward(A->emb_sum, m->ids, m->tt, m->P.wte, m->P.wpe, m->P.wtt, B, T, E);
    fastfnet_layernorm_forward(A->emb_ln, A->emb_mean, A->emb_rstd, A->emb_sum, m->P.eln_w, m->P.eln_b, (int)BT, E, c->layer_norm_eps);
    fastfnet_linear_forward(A->emb_out, A->emb_ln, m->P.proj_w, m->P.proj_b, (int)BT, E, E);
    fastfnet_dropout_forward(A->emb_out, A->emb_drop, A->emb_out, BT * E, pd, next_seed(m), (size_t)b->row0 * T * E);
    for (size_t i = 0; i < BT; i++) A->keymask[i] = b->input_ids[i] != c->pad_token_id;
}

/* The last layer of a pooled-only inference: only [CLS] feeds the pooler, so after the mixing (which needs
 * every token) its Add & Norm, FFN and Add & Norm run for row 0 of each sequence alone. */
static const float *layer_cls_forward(fastfnet_model *m, int l, const mix_residual *r, int B, int T) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_layer_acts *L = &m->A.layer[l];
    fastfnet_layer_params *p = &m->P.layer[l];
    int Wo = fastfnet_config_width(c, l + 1), Fw = fastfnet_width_ffn(c, Wo);
    fastfnet_residual_forward(L->sum1, r->mask, L->sum1, r->resid, (size_t)B * T * Wo, r->p, r->seed, r->first);
    float *cls = m->A.scratch;
    for (int b = 0; b < B; b++) memcpy(cls + (size_t)b * Wo, L->sum1 + (size_t)b * T * Wo, sizeof(float) * Wo);
    fastfnet_layernorm_forward(L->h, L->ln1_mean, L->ln1_rstd, cls, p->ln1_w, p->ln1_b, B, Wo, c->layer_norm_eps);
    fastfnet_linear_forward(L->a, L->h, p->w1, p->b1, B, Wo, Fw);
    fastfnet_gelu_forward(L->g, L->a, (size_t)B * Fw);
    fastfnet_linear_forward(L->sum2, L->g, p->w2, p->b2, B, Fw, Wo);
    for (size_t i = 0; i < (size_t)B * Wo; i++) L->sum2[i] += L->h[i];
    fastfnet_layernorm_forward(cls, L->ln2_mean, L->ln2_rstd, L->sum2, p->ln2_w, p->ln2_b, B, Wo, c->layer_norm_eps);
    for (int b = 0; b < B; b++) memcpy(L->y + (size_t)b * T * Wo, cls + (size_t)b * Wo, sizeof(float) * Wo);
    return L->y;
}

/* Encoder layer l (not an authors' block) on x: returns its output y (B,T,Wo). */
static const float *layer_forward(fastfnet_model *m, int l, const float *x, const fastfnet_batch *b, int train, float pd, float pa) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_layer_acts *L = &m->A.layer[l];
    fastfnet_layer_params *p = &m->P.layer[l];
    int T = b->T, Wo = fastfnet_config_width(c, l + 1), Fw = fastfnet_width_ffn(c, Wo);
    size_t BT = (size_t)b->B * T;
    mix_residual r = layer_mix_forward(m, l, x, b, pd, pa);
    if (m->pooled_only && !train && l == c->num_layers - 1) return layer_cls_forward(m, l, &r, b->B, T);
    /* the mixing's Add & Norm in one pass per row */
    fastfnet_residual_layernorm_forward(L->h, L->sum1, L->ln1_mean, L->ln1_rstd, r.mask, L->sum1, r.resid, p->ln1_w, p->ln1_b,
                                        (int)BT, Wo, c->layer_norm_eps, r.p, r.seed, r.first);
    fastfnet_linear_gelu_forward_pk(L->g, L->a, L->h, p->w1, fastfnet_model_wpack(m, l, 0), p->b1, (int)BT, Wo, Fw);
    fastfnet_linear_forward_pk(L->sum2, L->g, p->w2, fastfnet_model_wpack(m, l, 1), p->b2, (int)BT, Fw, Wo);
    fastfnet_residual_layernorm_forward(L->y, L->sum2, L->ln2_mean, L->ln2_rstd, L->o_drop, L->sum2, L->h, p->ln2_w, p->ln2_b,
                                        (int)BT, Wo, c->layer_norm_eps, pd, next_seed(m), (size_t)b->row0 * T * Wo);
    return L->y;
}

/* The pooler, classifier, NSP and MLM heads on the final hidden state x (B,T,Df): the batch's loss. */
static float heads_forward(fastfnet_model *m, const fastfnet_batch *b, const float *x, int train, float pd) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    int B = b->B, T = b->T, Df = fastfnet_config_width(c, c->num_layers);
    float loss = 0.0f;
    m->mlm_count = m->nsp_count = m->cls_count = 0;
    if (c->heads & FASTFNET_HEAD_POOLER) {
        for (int i = 0; i < B; i++) memcpy(A->pool_in + (size_t)i * Df, x + (size_t)i * T * Df, sizeof(float) * Df);
        fastfnet_linear_forward(A->pooled, A->pool_in, m->P.pool_w, m->P.pool_b, B, Df, Df);
        fastfnet_tanh_forward(A->pooled, A->pooled, (size_t)B * Df);
    }
    if (c->heads & FASTFNET_HEAD_CLS) {
        fastfnet_dropout_forward(A->cls_in, A->cls_drop, A->pooled, (size_t)B * Df, pd, next_seed(m), (size_t)b->row0 * Df);
        fastfnet_linear_forward(A->cls_logits, A->cls_in, m->P.cls_w, m->P.cls_b, B, Df, c->num_labels);
        if (b->cls_labels)
            loss += head_loss(fastfnet_crossentropy_forward(A->cls_probs, A->cls_logits, b->cls_labels, B, c->num_labels, &m->cls_count),
                              &m->cls_count, b->cls_denom);
    }
    if (c->heads & FASTFNET_HEAD_NSP) {
        fastfnet_linear_forward(A->nsp_logits, A->pooled, m->P.nsp_w, m->P.nsp_b, B, Df, 2);
        if (b->nsp_labels)
            loss += head_loss(fastfnet_crossentropy_forward(A->nsp_probs, A->nsp_logits, b->nsp_labels, B, 2, &m->nsp_count),
                              &m->nsp_count, b->nsp_denom);
    }
    m->mlm_n = 0;
    if ((c->heads & FASTFNET_HEAD_MLM) && !(m->pooled_only && !train)) {
        float mean = mlm_forward(m, b, x, &m->mlm_count);
        if (b->mlm_labels) loss += head_loss(mean, &m->mlm_count, b->mlm_denom);
    }
    return loss;
}

float fastfnet_model_forward(fastfnet_model *m, const fastfnet_batch *b, int train) {
    fastfnet_threads_apply();
    /* ids or labels outside the model would index past its tensors: such a batch is not run at all */
    m->backward_ready = 0;
    if (fastfnet_model_check_batch(m, b, m->error, sizeof m->error) || make_plans(m, b->T, m->error, sizeof m->error)) {
        m->B = 0;
        return NAN;
    }
    m->error[0] = 0;
    const fastfnet_config *c = &m->cfg;
    float pd = train ? c->hidden_dropout : 0.0f, pa = train ? c->attn_dropout : 0.0f;
    bind_batch(m, b, train);
    embeddings_forward(m, b, pd);
    const float *x = m->A.emb_out;
    for (int l = 0; l < c->num_layers; l++)
        x = c->mixing[l] == FASTFNET_MIX_FAST_FOURIER_PAD ? fastfnet_padblock_forward(m, l, x, b, train) : layer_forward(m, l, x, b, train, pd, pa);
    m->backward_ready = 1;
    return heads_forward(m, b, x, train, pd);
}

/* ---------- backward ---------- */

void fastfnet_model_zero_grad(fastfnet_model *m) {
    if (m->grads) memset(m->grads, 0, m->num_params * sizeof(float));
}


/* Backward of mlm_forward: adds the gradient of the selected rows' hidden states into dy (B,T,Df). */
static void mlm_backward(fastfnet_model *m, float *dy) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_params *G = &m->G, *P = &m->P;
    int M = m->mlm_n, E = c->hidden_size, V = c->vocab_size, Df = fastfnet_config_width(c, c->num_layers);
    float s = 1.0f / m->mlm_count;
    float *dt3 = A->gE;
    fastfnet_zero(dt3, (size_t)M * E);
    for (int r0 = 0; r0 < M; r0 += A->mlm_cap) {
        int n = M - r0 < A->mlm_cap ? M - r0 : A->mlm_cap, cnt;
        if (M > A->mlm_cap) mlm_chunk(m, r0, n, &cnt); /* only the last chunk's probabilities are still there */
        /* the probs buffer becomes dlogits in place: nothing else reads it after the loss */
        float *dl = A->mlm_probs;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            float *d = dl + (size_t)i * V;
            for (int j = 0; j < V; j++) d[j] *= s;
            d[A->mlm_tg[r0 + i]] -= s;
        }
        fastfnet_linear_backward(dt3 + (size_t)r0 * E, G->wte, G->mlm_bias, dl, A->t3 + (size_t)r0 * E, P->wte, n, E, V);
    }
    float *dt2 = A->t3; /* t3 is dead now: reuse it */
    fastfnet_layernorm_backward(dt2, G->mlm_ln_w, G->mlm_ln_b, dt3, A->t2, P->mlm_ln_w, A->t_mean, A->t_rstd, M, E);
    fastfnet_zero(dt3, (size_t)M * E);
    fastfnet_gelu_backward(dt3, A->t1, dt2, (size_t)M * E);
    float *din = A->gX1; /* free until the layer loop */
    fastfnet_zero(din, (size_t)M * Df);
    fastfnet_linear_backward(din, G->mlm_w, G->mlm_b, dt3, A->mlm_in, P->mlm_w, M, Df, E);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++) {
        float *d = dy + (size_t)A->mlm_rows[r] * Df;
        const float *g = din + (size_t)r * Df;
        for (int j = 0; j < Df; j++) d[j] += g[j];
    }
}

/* The softmax cross-entropy's gradient, in place: probs (N,C) becomes (probs - onehot) / count, zero in rows
 * whose label is -100 (the classifier's and the NSP head's; the MLM head scales in its own loop). */
static void xent_grad_inplace(float *probs, const int *labels, int N, int C, int count) {
    for (int i = 0; i < N; i++) {
        float *d = probs + (size_t)i * C;
        int t = labels[i];
        for (int j = 0; j < C; j++) d[j] = t == -100 ? 0.0f : (d[j] - (j == t)) / count;
    }
}

/* The pooler and the heads on it: dy (B,T,Df) row 0 of each sequence += gradient through the pooler from
 * the classifier's and the NSP head's losses. */
static void pooler_backward(fastfnet_model *m, float *dy) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_params *G = &m->G, *P = &m->P;
    int B = m->B, T = m->T, Df = fastfnet_config_width(c, c->num_layers);
    float pd = m->train ? c->hidden_dropout : 0.0f;
    float *dpooled = A->gpool;
    fastfnet_zero(dpooled, (size_t)B * Df);
    if ((c->heads & FASTFNET_HEAD_CLS) && m->cls_count) {
        xent_grad_inplace(A->cls_probs, m->cls_labels, B, c->num_labels, m->cls_count);
        float *dcin = A->gtmp;
        fastfnet_zero(dcin, (size_t)B * Df);
        fastfnet_linear_backward(dcin, G->cls_w, G->cls_b, A->cls_probs, A->cls_in, P->cls_w, B, Df, c->num_labels);
        fastfnet_dropout_backward(dpooled, dcin, A->cls_drop, (size_t)B * Df, pd);
    }
    if ((c->heads & FASTFNET_HEAD_NSP) && m->nsp_count) {
        xent_grad_inplace(A->nsp_probs, m->nsp_labels, B, 2, m->nsp_count);
        fastfnet_linear_backward(dpooled, G->nsp_w, G->nsp_b, A->nsp_probs, A->pooled, P->nsp_w, B, Df, 2);
    }
    float *dpre = A->gtmp;
    fastfnet_zero(dpre, (size_t)B * Df);
    fastfnet_tanh_backward(dpre, A->pooled, dpooled, (size_t)B * Df);
    float *dpin = A->gpool;
    fastfnet_zero(dpin, (size_t)B * Df);
    fastfnet_linear_backward(dpin, G->pool_w, G->pool_b, dpre, A->pool_in, P->pool_w, B, Df, Df);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < Df; j++) dy[(size_t)i * T * Df + j] += dpin[(size_t)i * Df + j];
}

/* Layer l's LN_2, FFN and LN_1 backward: returns dsum1 (B,T,Wo), the gradient of LN_1's input (mix +
 * residual), from dy, the gradient of the layer's output. */
static float *layer_ffn_backward(fastfnet_model *m, int l, const float *dy) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_layer_acts *La = &A->layer[l];
    fastfnet_layer_params *p = &m->P.layer[l], *g = &m->G.layer[l];
    size_t BT = (size_t)m->B * m->T;
    int Wo = fastfnet_config_width(c, l + 1), Fw = fastfnet_width_ffn(c, Wo);
    size_t nWo = BT * Wo;
    float pd = m->train ? c->hidden_dropout : 0.0f;
    /* dsum2 is also dh, the gradient of the FFN's input: the residual's share is already in it, the FFN's is
     * added below. Without dropout it is dO too. */
    float *dsum2 = A->gA, *dh = dsum2, *dO = pd > 0.0f ? A->gC : dsum2, *dG = A->gF, *dA = A->gF2;
    fastfnet_layernorm_backward(dsum2, g->ln2_w, g->ln2_b, dy, La->sum2, p->ln2_w, La->ln2_mean, La->ln2_rstd, (int)BT, Wo);
    if (pd > 0.0f) fastfnet_dropout_backward(dO, dsum2, La->o_drop, nWo, pd);
    /* g is not kept per layer (see layout_shared): recomputed from a, with gelu's derivative into dA */
    fastfnet_gelu_forward_deriv(La->g, dA, La->a, BT * Fw);
    fastfnet_linear_gelu_backward(dA, g->b1, g->w2, g->b2, dG, dO, La->g, p->w2, (int)BT, Fw, Wo);
    fastfnet_linear_backward(dh, g->w1, NULL, dA, La->h, p->w1, (int)BT, Wo, Fw);
    float *dsum1 = A->gB;
    fastfnet_layernorm_backward(dsum1, g->ln1_w, g->ln1_b, dh, La->sum1, p->ln1_w, La->ln1_mean, La->ln1_rstd, (int)BT, Wo);
    return dsum1;
}

/* Attention mixing of layer l: dx (B,T,W) += the gradient of its input x from dsum1, residual included. */
static void attention_mix_backward(fastfnet_model *m, int l, float *dx, const float *dsum1, const float *x) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_layer_acts *La = &A->layer[l];
    fastfnet_layer_params *p = &m->P.layer[l], *g = &m->G.layer[l];
    int B = m->B, T = m->T, W = fastfnet_config_width(c, l);
    size_t BT = (size_t)B * T, nW = BT * W;
    float pd = m->train ? c->hidden_dropout : 0.0f, pa = m->train ? c->attn_dropout : 0.0f;
    float *dproj = A->gC, *dctx = A->gA; /* gB holds dsum1 (layer_ffn_backward); gA is free again */
    fastfnet_dropout_backward(dproj, dsum1, La->mix_drop, nW, pd);
    fastfnet_linear_backward_set(dctx, g->o_w, g->o_b, dproj, La->ctx, p->o_w, (int)BT, W, W);
    fastfnet_zero(A->gq, nW);
    fastfnet_zero(A->gk, nW);
    fastfnet_zero(A->gv, nW);
    fastfnet_attention_backward(A->gq, A->gk, A->gv, A->att_scratch, A->att_slots, dctx, La->ctx, La->lse, La->q, La->k, La->v,
                           A->keymask, B, T, W, c->num_heads, pa, La->att_seed, m->row0);
    fastfnet_linear_backward(dx, g->q_w, g->q_b, A->gq, x, p->q_w, (int)BT, W, W);
    fastfnet_linear_backward(dx, g->k_w, g->k_b, A->gk, x, p->k_w, (int)BT, W, W);
    fastfnet_linear_backward(dx, g->v_w, g->v_b, A->gv, x, p->v_w, (int)BT, W, W);
}

/* Fourier mixing of layer l (W -> Wo): dx (B,T,W) += the gradient of its input x from dsum1, through the
 * transform's adjoint and the residual (identity, dense projection, or the Fast-FNet reduction). */
static void fourier_mix_backward(fastfnet_model *m, int l, float *dx, const float *dsum1, const float *x) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_layer_params *p = &m->P.layer[l], *g = &m->G.layer[l];
    int B = m->B, T = m->T, W = fastfnet_config_width(c, l), Wo = fastfnet_config_width(c, l + 1);
    size_t BT = (size_t)B * T;
    fastfnet_fourier_backward(get_plan(m, T, W, Wo), dx, dsum1, B);
    if (W == Wo) return; /* the identity residual's share is in dx already (layer_backward) */
    if (c->residual == FASTFNET_RES_DENSE) {
        fastfnet_linear_backward(dx, g->r_w, g->r_b, dsum1, x, p->r_w, (int)BT, W, Wo);
    } else {
        fastfnet_reduce_backward(dx, dsum1, x, (int)BT, W, (int)c->residual);
    }
}

/* One encoder layer: dx (zeroed here) = the gradient of layer l's input from dy, that of its output. */
static void layer_backward(fastfnet_model *m, int l, float *dx, float *dy) {
    const fastfnet_config *c = &m->cfg;
    if (c->mixing[l] == FASTFNET_MIX_FAST_FOURIER_PAD) {
        fastfnet_padblock_backward(m, l, dx, dy);
        return;
    }
    const float *dsum1 = layer_ffn_backward(m, l, dy);
    /* an identity residual (attention, or Fourier W -> W) starts dx at dsum1; the mixing's share adds to it */
    size_t n = (size_t)m->B * m->T * fastfnet_config_width(c, l);
    if (fastfnet_config_width(c, l) == fastfnet_config_width(c, l + 1)) fastfnet_copy(dx, dsum1, n);
    else fastfnet_zero(dx, n);
    const float *x = fastfnet_layer_output(&m->A, l - 1);
    if (c->mixing[l] == FASTFNET_MIX_ATTENTION) attention_mix_backward(m, l, dx, dsum1, x);
    else fourier_mix_backward(m, l, dx, dsum1, x);
}

/* Embeddings: dy is the gradient of emb_out (B,T,E); scratch is a second (B,T,E) buffer. */
static void embeddings_backward(fastfnet_model *m, float *dy, float *scratch) {
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    fastfnet_params *G = &m->G, *P = &m->P;
    int B = m->B, T = m->T, E = c->hidden_size;
    size_t BT = (size_t)B * T;
    float pd = m->train ? c->hidden_dropout : 0.0f;
    float *dln = A->gE, *dproj = scratch;
    fastfnet_dropout_backward(dproj, dy, A->emb_drop, BT * E, pd);
    fastfnet_linear_backward_set(dln, G->proj_w, G->proj_b, dproj, A->emb_ln, P->proj_w, (int)BT, E, E);
    float *dsum = dy;
    fastfnet_layernorm_backward(dsum, G->eln_w, G->eln_b, dln, A->emb_sum, P->eln_w, A->emb_mean, A->emb_rstd, (int)BT, E);
    fastfnet_embed_backward(G->wte, G->wpe, G->wtt, dsum, m->ids, m->tt, B, T, E);
}

/* The heads, the layers from the top down, the embeddings: each adds into the gradient buffer. */
int fastfnet_model_backward(fastfnet_model *m) {
    fastfnet_threads_apply();
    const fastfnet_config *c = &m->cfg;
    fastfnet_acts *A = &m->A;
    if (!m->train_ready) return fastfnet_err(m->error, sizeof m->error, "backward needs fastfnet_model_reserve(..., train=1) first");
    if (m->B == 0 && m->error[0]) return -1; /* the last forward refused its batch: its message stays */
    /* the probabilities become their gradients in place (mlm_backward, xent_grad_inplace): one backward each */
    if (!m->backward_ready)
        return fastfnet_err(m->error, sizeof m->error, "backward needs a forward of its own: the last forward's backward already ran, "
                            "or no forward ran since the last reserve");
    if (m->pooled_only)
        return fastfnet_err(m->error, sizeof m->error, "backward of a pooled_only forward: its last layer kept only the [CLS] rows; "
                            "forward without pooled_only to differentiate");
    m->backward_ready = 0;
    /* gradient of the final hidden state, (B,T,Df) */
    float *dy = A->gX0, *dx = A->gX1;
    fastfnet_zero(dy, (size_t)m->B * m->T * fastfnet_config_width(c, c->num_layers));
    if ((c->heads & FASTFNET_HEAD_MLM) && m->mlm_count && m->mlm_n) mlm_backward(m, dy);
    if (c->heads & FASTFNET_HEAD_POOLER) pooler_backward(m, dy);
    for (int l = c->num_layers - 1; l >= 0; l--) {
        layer_backward(m, l, dx, dy);
        float *t = dy;
        dy = dx;
        dx = t;
    }
    embeddings_backward(m, dy, dx);
    return 0;
}

/* ---------- gradient norm (AdamW itself: optim.c) ---------- */

double fastfnet_model_grad_sq(const fastfnet_model *m, size_t lo, size_t hi) {
    double s = 0.0;
    if (!m->grads) return 0.0; /* no training reserve yet: no gradients */
    hi = hi < m->num_params ? hi : m->num_params;
#pragma omp parallel for reduction(+ : s)
    for (size_t i = lo; i < hi; i++) s += (double)m->grads[i] * m->grads[i];
    return s;
}

float fastfnet_model_grad_norm(const fastfnet_model *m) { return (float)sqrt(fastfnet_model_grad_sq(m, 0, m->num_params)); }

size_t fastfnet_model_buffer_floats(const fastfnet_model *m) { return m->num_params; }
float *fastfnet_model_params(fastfnet_model *m) { return m->params; }

void fastfnet_model_unpack_weights(fastfnet_model *m) {
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int i = 0; i < 2; i++) fastfnet_gemm_wpack_free(m->wpack[l][i]), m->wpack[l][i] = NULL;
}

/* the (rows, cols) of the tensor whose data is w, from the tensor table; 0 when none is */
static int tensor_shape(const fastfnet_model *m, const float *w, int *rows, int *cols) {
    for (int i = 0; i < m->num_tensors; i++) {
        const fastfnet_tensor_info *t = &m->tensors[i];
        if (m->params + t->offset == w && t->ndim == 2) {
            *rows = (int)t->shape[0], *cols = (int)t->shape[1];
            return 1;
        }
    }
    return 0;
}

/* layer l's FFN weight i (0: w1, F x W; 1: w2, W x F) and its shape, from the tensor table (an authors' block is
 * narrower); 0 where the layer has none */
static int ffn_weight(const fastfnet_model *m, int l, int i, const float **w, int *rows, int *cols) {
    const fastfnet_layer_params *p = &m->P.layer[l];
    *w = i ? p->w2 : p->w1;
    return *w && tensor_shape(m, *w, rows, cols);
}

int fastfnet_model_pack_weights(fastfnet_model *m) {
    fastfnet_model_unpack_weights(m);
    if (!strcmp(fastfnet_gemm_name(), "openblas")) return -1;
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int i = 0; i < 2; i++) {
            const float *w;
            int r, k;
            if (!ffn_weight(m, l, i, &w, &r, &k) || !fastfnet_gemm_wpack_bytes(r, k)) continue; /* OpenBLAS's anyway */
            if (!(m->wpack[l][i] = fastfnet_gemm_wpack_create(w, r, k))) {
                fastfnet_model_unpack_weights(m);
                return -1;
            }
        }
    return 0;
}

size_t fastfnet_model_pack_bytes(const fastfnet_model *m) {
    size_t n = 0;
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int i = 0; i < 2; i++) {
            const float *w;
            int r, k;
            if (ffn_weight(m, l, i, &w, &r, &k)) n += fastfnet_gemm_wpack_bytes(r, k);
        }
    return n;
}
float *fastfnet_model_grads(fastfnet_model *m) { return m->grads; }
void fastfnet_model_get_dropout(const fastfnet_model *m, uint64_t *seed, uint64_t *calls) { *seed = m->dropout_seed, *calls = m->dropout_calls; }
void fastfnet_model_set_dropout(fastfnet_model *m, uint64_t seed, uint64_t calls) { m->dropout_seed = seed, m->dropout_calls = calls; }

const float *fastfnet_model_hidden(const fastfnet_model *m) { return fastfnet_layer_output(&m->A, m->cfg.num_layers - 1); }
const float *fastfnet_model_pooled(const fastfnet_model *m) { return m->A.pooled; }
const float *fastfnet_model_logits_mlm(const fastfnet_model *m) {
    return m->A.mlm_logits && m->mlm_n <= m->A.mlm_cap ? m->A.mlm_logits : NULL;
}
const float *fastfnet_model_logits_nsp(const fastfnet_model *m) { return m->A.nsp_logits; }
const float *fastfnet_model_logits_cls(const fastfnet_model *m) { return m->A.cls_logits; }

/* OpenMP's thread count is a per-thread setting: one thread's omp_set_num_threads leaves the others (a program's
 * or Python's worker threads) at OpenMP's default, all cores. So the count is kept here too, and the entry points
 * that run parallel work (reserve, forward, backward, the optimizer's step) apply it to the thread calling them. */
static _Atomic int g_threads; /* 0 until fastfnet_set_threads: OpenMP's own default */

void fastfnet_set_threads(int n) {
    if (n < 1) n = 1;
    atomic_store(&g_threads, n);
    omp_set_num_threads(n);
    fastfnet_blas_set_threads(n);
}

void fastfnet_threads_apply(void) {
    int n = atomic_load_explicit(&g_threads, memory_order_relaxed);
    if (n > 0 && !omp_in_parallel() && omp_get_max_threads() != n) omp_set_num_threads(n);
}
