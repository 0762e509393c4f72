/* fastfnet.h: the public API of libfastfnet: FNet, Fast-FNet and attention encoders in C.
 * One config struct describes a model; a model owns its parameters and gradients (one flat buffer each) and
 * an activation arena sized for a maximum batch shape; an optimizer owns the AdamW moments. docs/MODEL.md. */
#ifndef FASTFNET_H
#define FASTFNET_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every public function is marked FASTFNET_API: the library is built with -fvisibility=hidden, so only these
 * are exported from libfastfnet.so. */
#if defined(__GNUC__)
#define FASTFNET_API __attribute__((visibility("default")))
#else
#define FASTFNET_API
#endif

/* The library's version; fastfnet_version() gives the one the running library was built as
 * ("MAJOR.MINOR.PATCH"). The shared library's SONAME carries the major. */
#define FASTFNET_VERSION_MAJOR 0
#define FASTFNET_VERSION_MINOR 1
#define FASTFNET_VERSION_PATCH 0
FASTFNET_API const char *fastfnet_version(void);
/* sizeof(fastfnet_batch) and sizeof(fastfnet_tensor) as this library was built: bindings that mirror the
 * structs (python/fastfnet/_lib.py) check theirs against these before any call. */
FASTFNET_API size_t fastfnet_sizeof_batch(void);
FASTFNET_API size_t fastfnet_sizeof_tensor(void);

#define FASTFNET_MAX_LAYERS 64

/* FAST_FOURIER: the narrow design (reduce once, stay narrow). FAST_FOURIER_PAD: the authors' Fast-FNet block
 * (Fourier layer H -> H/2, Add & Norm and FFN at H/2, zero-padded back to H). docs/MODEL.md. */
typedef enum { FASTFNET_MIX_FOURIER = 0, FASTFNET_MIX_FAST_FOURIER = 1, FASTFNET_MIX_ATTENTION = 2, FASTFNET_MIX_FAST_FOURIER_PAD = 3 } fastfnet_mixing;
typedef enum { FASTFNET_RES_DENSE = 0, FASTFNET_RES_MAXPOOL = 1, FASTFNET_RES_AVGPOOL = 2, FASTFNET_RES_SLICE = 3 } fastfnet_residual;
typedef enum { FASTFNET_PAD_FIRST = 0, FASTFNET_PAD_CENTRED = 1 } fastfnet_pad;                     /* where the H/2 values sit */
typedef enum { FASTFNET_BLOCK_FFN_UNCHANGED = 0, FASTFNET_BLOCK_FFN_HALVED = 1 } fastfnet_block_ffn; /* FFN inner width */
enum { FASTFNET_HEAD_MLM = 1, FASTFNET_HEAD_NSP = 2, FASTFNET_HEAD_CLS = 4, FASTFNET_HEAD_POOLER = 8 };

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
    int heads;                 /* FASTFNET_HEAD_* bits */
    fastfnet_residual residual;     /* Fast-FNet residual reduction */
    int fourier_impl;          /* 0 auto, 1 fft, 2 matrix, 3 naive (tests) */
    fastfnet_pad pad;               /* fast_fourier_pad blocks: values first, zeros after; or centred */
    fastfnet_block_ffn block_ffn;   /* fast_fourier_pad blocks: FFN inner width intermediate_size, or half of it */
    fastfnet_mixing mixing[FASTFNET_MAX_LAYERS];
} fastfnet_config;

/* Defaults for an architecture name: "fnet", "fast-fnet" (the authors' model: every layer fast_fourier_pad),
 * "fast-fnet-narrow" (reduce at layer 0, stay narrow), "bert", "hybrid"
 * (attention in the top 2 layers). Sizes are FNet-Base's; change fields afterwards. 0 ok, -1 unknown. */
FASTFNET_API int fastfnet_config_default(fastfnet_config *cfg, const char *arch);
/* Check a config for consistency; 0 ok, -1 with a message naming the field. */
FASTFNET_API int fastfnet_config_validate(const fastfnet_config *cfg, char *err, size_t errlen);
/* Width of the input of layer l (l == num_layers gives the final width). */
FASTFNET_API int fastfnet_config_width(const fastfnet_config *cfg, int l);
/* Config as JSON (HF FNetConfig fields + fastfnet_*); returns bytes written or -1 if cap is too small. */
FASTFNET_API int fastfnet_config_to_json(const fastfnet_config *cfg, char *buf, size_t cap);
FASTFNET_API int fastfnet_config_from_json(fastfnet_config *cfg, const char *json, size_t len, char *err, size_t errlen);
FASTFNET_API const char *fastfnet_mixing_name(fastfnet_mixing m);
FASTFNET_API const char *fastfnet_residual_name(fastfnet_residual r);
FASTFNET_API const char *fastfnet_pad_name(fastfnet_pad p);
FASTFNET_API const char *fastfnet_block_ffn_name(fastfnet_block_ffn f);
/* The name of head bit k (FASTFNET_HEAD_* == 1 << k): "mlm", "nsp", "classifier", "pooler"; "?" past them. */
FASTFNET_API const char *fastfnet_head_name(int k);
/* A fast_fourier_pad block of width w: the column where its w/2 values start, and its FFN inner width. */
FASTFNET_API int fastfnet_config_pad_offset(const fastfnet_config *cfg, int w);
FASTFNET_API int fastfnet_config_block_ffn_width(const fastfnet_config *cfg, int w);

typedef struct fastfnet_model fastfnet_model;

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
    /* Inference for classification, this call only: nonzero (with train == 0 and a model with a pooler) runs
     * the last layer's per-token work (LayerNorms, FFN) for the [CLS] row only and skips the MLM head, since
     * the pooler reads nothing else. Pooled output and nsp/classifier logits are unchanged;
     * fastfnet_model_hidden then holds only row 0 of each sequence. Training forwards ignore it. */
    int pooled_only;
} fastfnet_batch;

FASTFNET_API fastfnet_model *fastfnet_model_create(const fastfnet_config *cfg, uint64_t seed, char *err, size_t errlen);
/* Load from a .safetensors file (config in __metadata__["config"]) or an HF-layout directory
 * (config.json + model.safetensors). NULL with a one-line message on any problem. */
FASTFNET_API fastfnet_model *fastfnet_model_load(const char *path, char *err, size_t errlen);
/* Save atomically (temp file, fsync, rename): a failed save never damages an existing file. */
FASTFNET_API int fastfnet_model_save(const fastfnet_model *m, const char *path, char *err, size_t errlen);
/* The same, with extra string metadata (a NULL-terminated key, value, ... list) saved beside the config
 * (a trainer's step and data position, say). */
FASTFNET_API int fastfnet_model_save_meta(const fastfnet_model *m, const char *path, const char *const *extra, char *err, size_t errlen);
FASTFNET_API void fastfnet_model_free(fastfnet_model *m);
FASTFNET_API const fastfnet_config *fastfnet_model_config(const fastfnet_model *m);

/* Allocate the activation arena for batches up to (B, T), T <= max_position, and plan the FFTs for T.
 * train != 0 also allocates gradients and the activation-gradient arena (AdamW moments: fastfnet_optimizer). Call before
 * forward; forward/backward/step never allocate (a batch with another T plans once for that T).
 * Reserves are monotone: the arena covers every reserve so far (the largest B, the largest T, training if any
 * asked for it), so reserve(8,16) then reserve(2,64) serves (8,64) batches and a later train == 0 reserve
 * keeps backward possible; a reserve within what is there does nothing. -1 with a message, nothing changed,
 * when B < 1, T < 1, T > max_position, or the union's B x T exceeds 2^31 - 1 rows (or its bytes size_t);
 * -1 with a message and no arena left (reserve again) when memory runs out. An arena that grows loses the
 * last forward's activations: backward then needs a new forward. */
FASTFNET_API int fastfnet_model_reserve(fastfnet_model *m, int B, int T, int train, char *err, size_t errlen);
/* Forward; returns the total loss (sum over heads with labels of the mean cross-entropy), or 0 when no
 * labels were given. train != 0 enables dropout; train == 0 (inference) draws no dropout masks and leaves
 * the model's training state (its dropout stream) untouched, so inference between training steps changes
 * nothing the training run does. A batch that fails fastfnet_model_check_batch (ids, labels, or
 * B and T larger than reserved) is not run: forward returns NaN and fastfnet_model_error says why. */
FASTFNET_API float fastfnet_model_forward(fastfnet_model *m, const fastfnet_batch *batch, int train);
/* Packs every layer's FFN weights (about 2/3 of an FNet's parameters) into the layout of fastfnet's own matrix
 * kernel, so inference forwards (train == 0) multiply without repacking them each time: FNet-Base's pass 5-10%
 * faster at batch 1 (docs/PERFORMANCE.md, round 9); the memory of those weights again. A snapshot: forwards with
 * train == 0 read the packed copy until fastfnet_model_unpack_weights, fastfnet_model_free or an optimizer step
 * on the model drops it; a parameter written any other way (fastfnet_model_params, a tensor's data) is not seen
 * until the weights are packed again. Training forwards never use it. 0, or -1 with nothing packed (no kernel for
 * this CPU or build, or memory short): forwards then run as before. */
FASTFNET_API int fastfnet_model_pack_weights(fastfnet_model *m);
FASTFNET_API void fastfnet_model_unpack_weights(fastfnet_model *m);
/* The bytes fastfnet_model_pack_weights adds on this CPU (0 where it would pack nothing): `fastfnet info` counts them
 * in an inference's memory. */
FASTFNET_API size_t fastfnet_model_pack_bytes(const fastfnet_model *m);
/* Why the last forward refused its batch; "" when it ran. */
FASTFNET_API const char *fastfnet_model_error(const fastfnet_model *m);
/* Backward of the last forward's loss; gradients accumulate into the gradient buffer (over forward +
 * backward pairs: one backward per forward). 0, or -1 with nothing done: after a refused batch
 * (fastfnet_model_error still says why it was refused); and, fastfnet_model_error saying why, without a
 * training reserve, before any forward (or after a reserve that grew the arena), a second time for the same
 * forward (backward turns that forward's probabilities into their gradients), or after a pooled_only forward
 * (its last layer kept only the [CLS] rows). */
FASTFNET_API int fastfnet_model_backward(fastfnet_model *m);
FASTFNET_API void fastfnet_model_zero_grad(fastfnet_model *m);
/* Validate ids/labels of a batch against the config: 0 ok, -1 with a message (which row/column). */
FASTFNET_API int fastfnet_model_check_batch(const fastfnet_model *m, const fastfnet_batch *batch, char *err, size_t errlen);

/* ---------- optimizer: AdamW, its moments kept apart from the model ---------- */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} fastfnet_adamw;
typedef struct fastfnet_optimizer fastfnet_optimizer;
/* AdamW over the parameters of m (reserved with train != 0 before the first step), keeping moments (zeroed)
 * for the flat parameter range [lo, hi) only: lo == hi == 0 means every parameter; a part is ZeRO-1's
 * shard, and the step then updates only those parameters. hp->lr is unused (each step names its own).
 * NULL with a message when the range is outside the model or memory runs out. m must outlive it. */
FASTFNET_API fastfnet_optimizer *fastfnet_optimizer_create(fastfnet_model *m, const fastfnet_adamw *hp, size_t lo, size_t hi,
                                                           char *err, size_t errlen);
/* One AdamW step (torch.optim.AdamW semantics; no decay on 1-D tensors: biases, LayerNorm) at learning rate
 * lr; step >= 1 counts the steps taken, bias corrections included. -1 (nothing done) when step < 1 or the
 * model has no gradients. */
FASTFNET_API int fastfnet_optimizer_step(fastfnet_optimizer *o, float lr, long step);
/* The state for checkpoints: first and second moments m, v of the parameters [lo, hi), hi - lo floats
 * each; writable, so that a resume loads them in place. */
typedef struct {
    float *m, *v;
    size_t lo, hi;
} fastfnet_optimizer_state;
FASTFNET_API fastfnet_optimizer_state fastfnet_optimizer_get_state(fastfnet_optimizer *o);
FASTFNET_API void fastfnet_optimizer_free(fastfnet_optimizer *o);

/* Global gradient L2 norm; 0 when the model has no gradients (no training reserve yet). */
FASTFNET_API float fastfnet_model_grad_norm(const fastfnet_model *m);

/* Outputs of the last forward (valid until the next forward). Shapes: hidden (B,T,D_f), pooled (B,D_f),
 * nsp (B,2), cls (B,num_labels). NULL when the head is absent. mlm (M,V): the head runs only at the
 * positions with an MLM label (every position when the batch has no MLM labels), M of them in batch order;
 * NULL when a training arena held too many to keep (it then computed them in chunks; the loss is exact). */
FASTFNET_API const float *fastfnet_model_hidden(const fastfnet_model *m);
FASTFNET_API const float *fastfnet_model_pooled(const fastfnet_model *m);
FASTFNET_API const float *fastfnet_model_logits_mlm(const fastfnet_model *m);
FASTFNET_API const float *fastfnet_model_logits_nsp(const fastfnet_model *m);
FASTFNET_API const float *fastfnet_model_logits_cls(const fastfnet_model *m);

/* Parameter table: count, and per tensor its HF name, shape and data/gradient pointers. */
typedef struct {
    const char *name;
    int ndim;
    int shape[2];
    size_t numel;
    float *data;
    float *grad;
} fastfnet_tensor;
FASTFNET_API int fastfnet_model_num_tensors(const fastfnet_model *m);
FASTFNET_API fastfnet_tensor fastfnet_model_tensor(const fastfnet_model *m, int i);
FASTFNET_API size_t fastfnet_model_num_params(const fastfnet_model *m);
/* Bytes of activations (and their gradients when train != 0) the arena needs for (B, T). 0 when the config
 * fails fastfnet_config_validate or reserve would refuse the shape (B < 1, T < 1, T > max_position, B x T
 * past 2^31 - 1 rows). */
FASTFNET_API size_t fastfnet_model_activation_bytes(const fastfnet_config *cfg, int B, int T, int train);
/* Parameters of a config without building it (total, and encoder = embeddings + layers); 0 (encoder
 * untouched) when the config fails fastfnet_config_validate or memory runs out. */
FASTFNET_API size_t fastfnet_config_num_params(const fastfnet_config *cfg, size_t *encoder);

/* Threads (OpenMP and OpenBLAS) for every later call, from whichever thread makes it: OpenMP's own count is per
 * thread, so the library applies this one to the calling thread in reserve, forward, backward and the optimizer's
 * step. n < 1 is taken as 1. */
FASTFNET_API void fastfnet_set_threads(int n);
/* The matrix-product kernels in use: OpenBLAS's core name ("Haswell", "Zen", "SkylakeX", ...), or "cblas" for
 * another CBLAS. Where OpenBLAS does not know the CPU and falls back to its SSE3 kernels (Debian 12's OpenBLAS
 * on Intel Emerald Rapids), the library has it choose again when it is loaded (AVX-512 or AVX2 kernels, as the
 * CPU allows), unless OPENBLAS_CORETYPE is set: docs/PERFORMANCE.md, round 5. */
FASTFNET_API const char *fastfnet_blas_core(void);

/* ---- tokenizers: byte, word and byte-level BPE (HF `tokenizers` tokenizer.json files; ids 0..4 are always the
 * specials below, regular tokens follow) and SentencePiece models (.model files, whose specials are their own).
 * A tokenizer is not thread-safe (encode uses its cache): one per thread. ---- */

/* Fixed special ids of the byte, word and BPE kinds (3 is FNet's pad id); they also name the roles asked of
 * fastfnet_tok_special, which gives a SentencePiece model's own ids. */
#define FASTFNET_TOK_CLS 0
#define FASTFNET_TOK_SEP 1
#define FASTFNET_TOK_MASK 2
#define FASTFNET_TOK_PAD 3
#define FASTFNET_TOK_UNK 4
#define FASTFNET_TOK_NUM_SPECIAL 5
/* What encode and decode return when memory runs out (or the SentencePiece library fails). */
#define FASTFNET_TOK_ERROR ((size_t)-1)

/* Where this differs from HF `tokenizers` loading the same file:
 * - BPE pre-tokenization is a hand-written scanner for GPT-2's pattern that treats every byte >= 0x80 as a
 *   letter (HF classifies Unicode characters). ASCII text gives HF's ids exactly; elsewhere chunks may be
 *   longer, so ids can differ (both decode to the same text).
 * - Byte/BPE encoding never produces special ids: the text "[MASK]" is encoded as bytes, so that
 *   decode(encode(x)) == x for every x (HF would extract it as the added token). WORD maps a word equal to a
 *   special's content to that id, as HF's WordLevel vocab does.
 * - WORD splits on ASCII whitespace only (HF's WhitespaceSplit also splits on Unicode spaces). */
typedef enum { FASTFNET_TOK_BYTE = 0, FASTFNET_TOK_WORD = 1, FASTFNET_TOK_BPE = 2, FASTFNET_TOK_SPM = 3 } fastfnet_tok_kind;
typedef struct fastfnet_tokenizer fastfnet_tokenizer;

/* byte b -> id 5 + b; vocab 261. Stored as a BPE model with the 256 byte tokens and no merges. NULL when
 * memory runs out. */
FASTFNET_API fastfnet_tokenizer *fastfnet_tok_byte(void);
/* Train on text[0..len). SPM: a unigram model through the library, on the lines of text, with FNet's layout
 * (<unk> 0, <s> 1, </s> 2, <pad> 3, [CLS] 4, [SEP] 5, [MASK] 6). vocab_size counts everything (the 5 specials included); the result may be
 * smaller when the corpus runs out of words or pairs. min_freq: WORD keeps words seen >= min_freq times
 * (at least 1); BPE stops when the best pair occurs < max(min_freq, 2) times. BYTE ignores the corpus.
 * Returns NULL and a one-line message on bad arguments. */
FASTFNET_API fastfnet_tokenizer *fastfnet_tok_train(fastfnet_tok_kind kind, const char *text, size_t len, int vocab_size, int min_freq,
                             char *err, size_t errlen);
/* HF tokenizer.json layout (SPM: the .model bytes as loaded or trained). Atomic: written to PATH.tmp.PID, fsynced, renamed over PATH. */
FASTFNET_API int fastfnet_tok_save(const fastfnet_tokenizer *t, const char *path, char *err, size_t errlen);
/* Validates everything and refuses a bad file with a one-line message that starts with the path. A file whose
 * name ends in .model or whose bytes start like a serialized ModelProto is read as a SentencePiece model. */
FASTFNET_API fastfnet_tokenizer *fastfnet_tok_load(const char *path, char *err, size_t errlen);
FASTFNET_API void fastfnet_tok_free(fastfnet_tokenizer *t);
FASTFNET_API fastfnet_tok_kind fastfnet_tok_kind_of(const fastfnet_tokenizer *t);
FASTFNET_API const char *fastfnet_tok_kind_name(fastfnet_tok_kind k); /* "byte", "word", "bpe", "sentencepiece" */
/* The id of a special role (FASTFNET_TOK_CLS, _SEP, _MASK, _PAD, _UNK): the fixed id for byte/word/BPE, the
 * model's piece for SPM ([CLS] or <cls>, [SEP] or <sep>, [MASK] or <mask>, its pad_id or <pad>, its unk_id);
 * -1 when the model has none. */
FASTFNET_API int32_t fastfnet_tok_special(const fastfnet_tokenizer *t, int role);
/* 1 when id is a special of the tokenizer that text never encodes to (fixed kinds: 0..4; SPM: control and unknown pieces). */
FASTFNET_API int fastfnet_tok_is_control(const fastfnet_tokenizer *t, int32_t id);
FASTFNET_API int fastfnet_tok_vocab_size(const fastfnet_tokenizer *t);
/* Encode len bytes (no specials added; SPM: the ids spm_encode --output_format=id gives). Writes up to cap ids; returns the total count (may exceed cap:
 * call again with a larger buffer); FASTFNET_TOK_ERROR when memory runs out (or the SentencePiece library fails).
 * Not thread-safe (uses the tokenizer's cache). */
FASTFNET_API size_t fastfnet_tok_encode(fastfnet_tokenizer *t, const char *text, size_t len, int32_t *out, size_t cap);
/* Decode ids (byte/word/BPE: specials and out-of-range ids skipped; SPM: exactly as spm_decode, out-of-range ids
 * skipped, so FNet's [CLS]/[SEP]/[MASK], user-defined pieces, decode as their text and <unk> as U+2047,
 * which keeps decode(encode(x)) == x for a text that contains "[CLS]", as HF's decode does) into out (cap bytes, NUL-terminated if room);
 * returns the byte count needed, not counting the NUL; FASTFNET_TOK_ERROR when memory runs out. */
FASTFNET_API size_t fastfnet_tok_decode(const fastfnet_tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap);
/* Readable form, for debugging: the vocab-file string (GPT-2 byte-to-unicode form for BPE/byte tokens,
 * the word itself for WORD, "[CLS]" etc. for specials). NULL for an id out of range. */
FASTFNET_API const char *fastfnet_tok_token_str(const fastfnet_tokenizer *t, int id);
/* ---------- what trainers and tools built on the engine use ---------- */
/* The flat parameter and gradient buffers: fastfnet_model_buffer_floats floats each (the tensors in table
 * order with alignment gaps, so more than fastfnet_model_num_params); gradients NULL until a training
 * reserve. Optimizer shards and gradient reductions index this buffer. */
FASTFNET_API size_t fastfnet_model_buffer_floats(const fastfnet_model *m);
FASTFNET_API float *fastfnet_model_params(fastfnet_model *m);
FASTFNET_API float *fastfnet_model_grads(fastfnet_model *m);
/* Sum of squared gradients of params [lo, hi) (fastfnet_model_grad_norm is the root of the whole range's); hi
 * past fastfnet_model_buffer_floats is clamped to it; 0 when the model has no gradients. */
FASTFNET_API double fastfnet_model_grad_sq(const fastfnet_model *m, size_t lo, size_t hi);
/* The dropout stream: its seed and the number of draws so far; setting both resumes it exactly. */
FASTFNET_API void fastfnet_model_get_dropout(const fastfnet_model *m, uint64_t *seed, uint64_t *calls);
FASTFNET_API void fastfnet_model_set_dropout(fastfnet_model *m, uint64_t seed, uint64_t calls);

/* fastfnet_config.fourier_impl. Every implementation computes the same map; they differ only in speed and
 * float rounding (naive: for tests). */
typedef enum { FASTFNET_FOURIER_AUTO = 0, FASTFNET_FOURIER_FFT = 1, FASTFNET_FOURIER_MATRIX = 2, FASTFNET_FOURIER_NAIVE = 3 } fastfnet_fourier_impl;
FASTFNET_API const char *fastfnet_fourier_impl_name(fastfnet_fourier_impl i);           /* "auto","fft","matrix","naive" */
FASTFNET_API int fastfnet_fourier_impl_parse(const char *s, fastfnet_fourier_impl *out); /* 0 ok, -1 unknown */
/* FFTW planning: FFTW_MEASURE for plans made afterwards (default FFTW_ESTIMATE), and wisdom files. */
FASTFNET_API void fastfnet_fft_set_measure(int on);
FASTFNET_API int fastfnet_fft_load_wisdom(const char *path); /* 0 ok, -1 if unreadable */
FASTFNET_API int fastfnet_fft_save_wisdom(const char *path); /* 0 ok, -1 if unwritable */
/* 1 when built with libsentencepiece (SentencePiece .model tokenizers); its version string (or NULL). */
FASTFNET_API int fastfnet_spm_available(void);
FASTFNET_API const char *fastfnet_spm_version(void);

#ifdef __cplusplus
}
#endif
#endif
