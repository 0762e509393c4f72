/* fastfnet.h: the public API of libfastfnet: FNet, Fast-FNet and attention encoders in C.
 * One config struct describes a model; a model owns its parameters, gradients, AdamW moments (one flat
 * buffer each) and an activation arena sized for a maximum batch shape. See docs/MODEL.md. */
#ifndef FASTFNET_H
#define FASTFNET_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FFN_MAX_LAYERS 64

/* FAST_FOURIER: the narrow design (reduce once, stay narrow). FAST_FOURIER_PAD: the authors' Fast-FNet block
 * (Fourier layer H -> H/2, Add & Norm and FFN at H/2, zero-padded back to H). docs/MODEL.md. */
typedef enum { FFN_MIX_FOURIER = 0, FFN_MIX_FAST_FOURIER = 1, FFN_MIX_ATTENTION = 2, FFN_MIX_FAST_FOURIER_PAD = 3 } ffn_mixing;
typedef enum { FFN_RES_DENSE = 0, FFN_RES_MAXPOOL = 1, FFN_RES_AVGPOOL = 2, FFN_RES_SLICE = 3 } ffn_residual;
typedef enum { FFN_PAD_FIRST = 0, FFN_PAD_CENTRED = 1 } ffn_pad;                     /* where the H/2 values sit */
typedef enum { FFN_BLOCK_FFN_UNCHANGED = 0, FFN_BLOCK_FFN_HALVED = 1 } ffn_block_ffn; /* FFN inner width */
enum { FFN_HEAD_MLM = 1, FFN_HEAD_NSP = 2, FFN_HEAD_CLS = 4, FFN_HEAD_POOLER = 8 };

typedef struct {
    int vocab_size;            /* V */
    int hidden_size;           /* E: embedding width and width of layer 0 */
    int num_layers;            /* N */
    int intermediate_size;     /* FFN width at full width; scaled with the layer width */
    int max_position;          /* P */
    int type_vocab_size;       /* 4 in FNet */
    int num_heads;             /* attention heads */
    int num_labels;            /* classifier outputs */
    int pad_token_id;          /* 3 in FNet */
    float hidden_dropout;      /* embeddings, FFN output, attention output, classifier input */
    float attn_dropout;        /* attention probabilities */
    float initializer_range;   /* 0.02 */
    float layer_norm_eps;      /* 1e-12 */
    int heads;                 /* FFN_HEAD_* bits */
    ffn_residual residual;     /* Fast-FNet residual reduction */
    int fourier_impl;          /* 0 auto, 1 fft, 2 matrix, 3 naive (tests) */
    ffn_pad pad;               /* fast_fourier_pad blocks: values first, zeros after; or centred */
    ffn_block_ffn block_ffn;   /* fast_fourier_pad blocks: FFN inner width intermediate_size, or half of it */
    ffn_mixing mixing[FFN_MAX_LAYERS];
} ffn_config;

/* Defaults for an architecture name: "fnet", "fast-fnet" (the authors' model: every layer fast_fourier_pad),
 * "fast-fnet-narrow" (reduce at layer 0, stay narrow), "bert", "hybrid"
 * (attention in the top 2 layers). Sizes are FNet-Base's; change fields afterwards. 0 ok, -1 unknown. */
int ffn_config_default(ffn_config *cfg, const char *arch);
/* Check a config for consistency; 0 ok, -1 with a message naming the field. */
int ffn_config_validate(const ffn_config *cfg, char *err, size_t errlen);
/* Width of the input of layer l (l == num_layers gives the final width). */
int ffn_config_width(const ffn_config *cfg, int l);
/* Config as JSON (HF FNetConfig fields + fastfnet_*); returns bytes written or -1 if cap is too small. */
int ffn_config_to_json(const ffn_config *cfg, char *buf, size_t cap);
int ffn_config_from_json(ffn_config *cfg, const char *json, size_t len, char *err, size_t errlen);
const char *ffn_mixing_name(ffn_mixing m);
const char *ffn_residual_name(ffn_residual r);
const char *ffn_pad_name(ffn_pad p);
const char *ffn_block_ffn_name(ffn_block_ffn f);
/* A fast_fourier_pad block of width w: the column where its w/2 values start, and its FFN inner width. */
int ffn_config_pad_offset(const ffn_config *cfg, int w);
int ffn_config_block_ffn_width(const ffn_config *cfg, int w);

typedef struct ffn_model ffn_model;

/* A batch of B sequences of T tokens. token_type_ids may be NULL (all 0). Label arrays may be NULL
 * (that head's loss is skipped); -100 marks an ignored target. */
typedef struct {
    int B, T;
    const int *input_ids;      /* (B,T) */
    const int *token_type_ids; /* (B,T) */
    const int *mlm_labels;     /* (B,T) */
    const int *nsp_labels;     /* (B) */
    const int *cls_labels;     /* (B) */
    /* For a batch that is one slice of a larger one (data parallelism; 0 = this batch is the whole):
     * row0 is its first row in the whole, which keys the dropout masks, so every slicing draws the same
     * masks; *_denom are the whole batch's counts of labelled targets, by which each head's loss is divided,
     * so the slices' losses and gradients add up to the whole batch's (with accumulation, "the whole" is every
     * micro-batch of the optimizer step). */
    int row0;
    int cls_denom, mlm_denom, nsp_denom;
} ffn_batch;

ffn_model *ffn_model_create(const ffn_config *cfg, uint64_t seed, char *err, size_t errlen);
/* Load from a .safetensors file (config in __metadata__["config"]) or an HF-layout directory
 * (config.json + model.safetensors). NULL with a one-line message on any problem. */
ffn_model *ffn_model_load(const char *path, char *err, size_t errlen);
/* Save atomically (temp file, fsync, rename): a failed save never damages an existing file. */
int ffn_model_save(const ffn_model *m, const char *path, char *err, size_t errlen);
void ffn_model_free(ffn_model *m);
const ffn_config *ffn_model_config(const ffn_model *m);

/* Allocate the activation arena for batches up to (B, T), T <= max_position, and plan the FFTs for T.
 * train != 0 also allocates gradients, AdamW moments and the activation-gradient arena. Call before
 * forward; forward/backward/step never allocate (a batch with another T plans once for that T). */
int ffn_model_reserve(ffn_model *m, int B, int T, int train, char *err, size_t errlen);
/* Forward; returns the total loss (sum over heads with labels of the mean cross-entropy), or 0 when no
 * labels were given. train != 0 enables dropout. A batch that fails ffn_model_check_batch (ids, labels, or
 * B and T larger than reserved) is not run: forward returns NaN and ffn_model_error says why. */
float ffn_model_forward(ffn_model *m, const ffn_batch *batch, int train);
/* Why the last forward refused its batch; "" when it ran. */
const char *ffn_model_error(const ffn_model *m);
/* Backward of the last forward's loss; gradients accumulate into the gradient buffer (nothing after a
 * refused batch). */
void ffn_model_backward(ffn_model *m);
void ffn_model_zero_grad(ffn_model *m);
/* Validate ids/labels of a batch against the config: 0 ok, -1 with a message (which row/column). */
int ffn_model_check_batch(const ffn_model *m, const ffn_batch *batch, char *err, size_t errlen);

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} ffn_adamw;
/* One AdamW step (torch.optim.AdamW semantics; no decay on 1-D tensors: biases, LayerNorm). step >= 1. */
void ffn_model_adamw_step(ffn_model *m, const ffn_adamw *opt, int step);
/* Global gradient L2 norm. */
float ffn_model_grad_norm(const ffn_model *m);

/* Outputs of the last forward (valid until the next forward). Shapes: hidden (B,T,D_f), pooled (B,D_f),
 * nsp (B,2), cls (B,num_labels). NULL when the head is absent. mlm (M,V): the head runs only at the
 * positions with an MLM label (every position when the batch has no MLM labels), M of them in batch order;
 * NULL when a training arena held too many to keep (it then computed them in chunks; the loss is exact). */
const float *ffn_model_hidden(const ffn_model *m);
/* Inference for classification: when on (and the model has a pooler), forward with train == 0 computes the
 * last layer's per-token work (LayerNorms, FFN) for the [CLS] row only and skips the MLM head, since the
 * pooler reads nothing else. Pooled output and nsp/classifier logits are unchanged; ffn_model_hidden then
 * holds only row 0 of each sequence. Off by default; training is never affected. */
void ffn_model_set_pooled_only(ffn_model *m, int on);
const float *ffn_model_pooled(const ffn_model *m);
const float *ffn_model_logits_mlm(const ffn_model *m);
const float *ffn_model_logits_nsp(const ffn_model *m);
const float *ffn_model_logits_cls(const ffn_model *m);

/* Parameter table: count, and per tensor its HF name, shape and data/gradient pointers. */
typedef struct {
    const char *name;
    int ndim;
    int shape[2];
    size_t numel;
    float *data;
    float *grad;
} ffn_tensor;
int ffn_model_num_tensors(const ffn_model *m);
ffn_tensor ffn_model_tensor(const ffn_model *m, int i);
size_t ffn_model_num_params(const ffn_model *m);
/* Bytes of activations (and their gradients when train != 0) the arena needs for (B, T). */
size_t ffn_model_activation_bytes(const ffn_config *cfg, int B, int T, int train);
/* Parameters of a config without building it (total, and encoder = embeddings + layers). */
size_t ffn_config_num_params(const ffn_config *cfg, size_t *encoder);

void ffn_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
