/* model.h: the model's internals: the parameter table (one flat buffer, named pointers into it), the
 * activation arena, and the pieces the checkpoint code and the tests reach into. */
#ifndef FASTFNET_MODEL_H
#define FASTFNET_MODEL_H
#include "fastfnet.h"
#include "gemm.h"
#include "fft.h"

typedef struct {
    float *ln1_w, *ln1_b;                            /* fourier.output.LayerNorm / attention.output.LayerNorm */
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b; /* attention only */
    float *r_w, *r_b;                                /* fast_fourier with dense residual */
    float *w1, *b1, *w2, *b2, *ln2_w, *ln2_b;        /* FFN and its LayerNorm */
} fastfnet_layer_params;

typedef struct {
    float *wte, *wpe, *wtt, *eln_w, *eln_b, *proj_w, *proj_b;
    fastfnet_layer_params layer[FASTFNET_MAX_LAYERS];
    float *pool_w, *pool_b;
    float *mlm_w, *mlm_b, *mlm_ln_w, *mlm_ln_b, *mlm_bias;
    float *nsp_w, *nsp_b, *cls_w, *cls_b;
} fastfnet_params;

typedef struct {
    char name[96];
    int ndim, shape[2];
    size_t numel, offset;
    size_t field; /* byte offset of the float* inside fastfnet_params */
} fastfnet_tensor_info;

/* Activations kept for backward, per layer. W = input width, Wo = output width, F = FFN width. */
typedef struct {
    float *sum1;                 /* (B,T,Wo) mix + residual: LN_1's input */
    float *ln1_mean, *ln1_rstd;  /* (B,T) */
    float *h;                    /* (B,T,Wo) LN_1 output */
    float *q, *k, *v, *ctx;      /* (B,T,W) attention */
    float *lse;                  /* (B,NH,T) log-sum-exp of each attention score row */
    uint64_t att_seed;           /* the attention dropout's seed in the last forward */
    uint8_t *mix_drop;
    float *a, *g;                /* (B,T,F) FFN pre-activation and gelu output */
    uint8_t *o_drop;             /* (B,T,Wo) */
    float *sum2;                 /* (B,T,Wo) FFN output + h: LN_2's input */
    float *ln2_mean, *ln2_rstd;
    float *y;                    /* (B,T,Wo) layer output (fast_fourier_pad: (B,T,W/2), before the padding) */
    float *xpad;                 /* (B,T,W) fast_fourier_pad: y padded back to W, only where the next reader
                                  * needs the full width (the heads, a layer of another kind) */
} fastfnet_layer_acts;

typedef struct {
    float *emb_sum, *emb_mean, *emb_rstd, *emb_ln, *emb_out; /* (B,T,E) */
    uint8_t *emb_drop;
    fastfnet_layer_acts layer[FASTFNET_MAX_LAYERS];
    float *scratch;                         /* (B,T,maxW) */
    float *att_scratch;                     /* att_slots x fastfnet_attention_scratch_floats(T): per-thread tiles */
    int att_slots;
    uint8_t *keymask;                       /* (B,T) */
    float *pool_in, *pooled, *cls_in;       /* (B,Df) */
    uint8_t *cls_drop;
    float *cls_logits, *cls_probs;          /* (B,L) */
    float *nsp_logits, *nsp_probs;          /* (B,2) */
    int *mlm_rows, *mlm_tg;                 /* (M) the MLM head's rows (b T + t) and their labels */
    float *mlm_in;                          /* (M,Df) their hidden states, gathered */
    float *t1, *t2, *t_mean, *t_rstd, *t3;  /* (M,E) MLM transform, M <= B T */
    float *mlm_logits, *mlm_probs;          /* (mlm_cap,V) */
    int mlm_cap;                            /* rows of the vocabulary-wide buffers (see mlm_capacity) */
    /* backward scratch (train only) */
    float *gA, *gB, *gC, *gX0, *gX1;        /* (B,T,maxW) */
    float *gF, *gF2;                        /* (B,T,maxF) */
    float *gq, *gk, *gv;                    /* attention */
    float *gE;                              /* (B,T,E) */
    float *gpool, *gtmp;                    /* (B,max(Df,E)) */
} fastfnet_acts;

#define FASTFNET_MAX_PLANS 16
typedef struct { int T, W, keep, off; fastfnet_fourier *f; } fastfnet_plan_entry; /* off >= 0: padded input there */

struct fastfnet_model {
    fastfnet_config cfg;
    int num_tensors;
    fastfnet_tensor_info *tensors;
    size_t num_params;
    float *params, *grads; /* flat buffers, same layout */
    fastfnet_params P, G;
    /* activation arena */
    int maxB, maxT, train_ready;
    void *arena;
    size_t arena_bytes;
    fastfnet_acts A;
    fastfnet_plan_entry plans[FASTFNET_MAX_PLANS];
    int nplans;
    /* last forward */
    int B, T, train, mlm_count, nsp_count, cls_count;
    const int *ids, *tt, *mlm_labels, *nsp_labels, *cls_labels;
    int *tt_zero;         /* (B,T) zeros when token types are absent */
    int row0;             /* the last forward's first row in the whole batch (attention dropout's key) */
    int mlm_n;            /* rows the MLM head computed in the last forward */
    uint64_t dropout_seed, dropout_calls;
    int pooled_only;      /* this forward computes only what the pooler and its heads read (fastfnet_batch) */
    int backward_ready;   /* the last forward ran and its backward has not: backward clears it (one per forward) */
    char error[256];      /* why the last forward refused its batch ("" when it ran) */
    /* the FFN weights (w1, w2) of each layer packed for inference (fastfnet_model_pack_weights), or NULLs */
    fastfnet_gemm_wpack *wpack[FASTFNET_MAX_LAYERS][2];
};

/* layer l's packed FFN weight (0: w1, 1: w2) for an inference forward, NULL in training or where none was packed */
static inline const fastfnet_gemm_wpack *fastfnet_model_wpack(const fastfnet_model *m, int l, int which) {
    return m->train ? NULL : m->wpack[l][which];
}

/* What layer l's successor reads: its padded output when it has one, else its y (l == -1: the embeddings). */
static inline const float *fastfnet_layer_output(const fastfnet_acts *A, int l) {
    return l < 0 ? A->emb_out : A->layer[l].xpad ? A->layer[l].xpad : A->layer[l].y;
}

/* FFN width of a layer whose output width is w: intermediate_size * w / hidden_size. */
int fastfnet_width_ffn(const fastfnet_config *c, int w);
/* The tensor table of a config (names, shapes, offsets) without allocating parameters; fastfnet_free it.
 * The config must be valid (num_layers within FASTFNET_MAX_LAYERS, hidden_size >= 1). */
fastfnet_tensor_info *fastfnet_config_tensors(const fastfnet_config *cfg, int *n);
/* fastfnet_config_num_params without validating the config first (what validation itself uses). */
size_t fastfnet_config_count_params(const fastfnet_config *cfg, size_t *encoder);
/* Least number of rows the MLM head's vocabulary-wide buffers get in a training arena (64; tests lower it
 * to exercise the chunked path). Read when the arena is laid out. */
extern int fastfnet_mlm_capacity_floor;
/* Build the tensor table and allocate params for a validated config (no init). */
fastfnet_model *fastfnet_model_alloc(const fastfnet_config *cfg, char *err, size_t errlen);
/* The next dropout seed of this forward (every dropout call draws one, in order). */
uint64_t fastfnet_model_next_seed(fastfnet_model *m);
/* The Fourier plan for (T, W -> keep), made once and cached; off >= 0: the padded transform of
 * fastfnet_fourier_init_padded with its values at column off. */
fastfnet_fourier *fastfnet_model_plan(fastfnet_model *m, int T, int W, int keep, int off);

/* fast_fnet.c: the authors' Fast-FNet block (mixing fast_fourier_pad), docs/MODEL.md. Its input is narrow
 * (B,T,W/2), the previous block's y, when that block is one too; its output is passed on narrow when the next
 * layer is one too, and padded to (B,T,W) in xpad otherwise. */
int fastfnet_padblock_narrow_in(const fastfnet_config *c, int l);
int fastfnet_padblock_narrow_out(const fastfnet_config *c, int l);
/* Applies fastfnet_set_threads's count to the calling thread (OpenMP's count is per thread). */
void fastfnet_threads_apply(void);
/* Forward of block l on x; returns what the next layer reads (y or xpad). */
const float *fastfnet_padblock_forward(fastfnet_model *m, int l, const float *x, const fastfnet_batch *b, int train);
/* dx (zeroed here, then accumulated) = gradient of block l's input from dy, the gradient of its output (narrow
 * or padded, as the forward passed it on); dy is used as scratch. */
void fastfnet_padblock_backward(fastfnet_model *m, int l, float *dx, float *dy);

#endif
