/* train.h: what `fastfnet train`, `eval` and `predict` run: options, the architecture flags shared with
 * `init`, and the three entry points. */
#ifndef FASTFNET_TRAIN_H
#define FASTFNET_TRAIN_H
#include "fastfnet.h"
#include "fastfnet_train.h"

/* Architecture flags (init and train). Strings may be NULL (default). */
typedef struct {
    const char *arch;          /* fnet | fast-fnet | fast-fnet-narrow | bert | hybrid */
    int vocab, hidden, layers, intermediate, heads, max_pos, labels, attention_layers;
    const char *reduce;        /* fast-fnet-narrow: "0" or "0,6" */
    const char *residual;      /* dense | maxpool | avgpool | slice */
    const char *pad;           /* fast-fnet: first | centred */
    const char *block_ffn;     /* fast-fnet: unchanged | halved */
    const char *mixing;        /* per-layer override */
    const char *outputs;       /* mlm,nsp,classifier,pooler */
    const char *fourier_impl;  /* auto | fft | matrix */
    double dropout;
} fastfnet_arch_opts;
void fastfnet_arch_defaults(fastfnet_arch_opts *o);
/* Build and validate a config from the flags; -1 with a message naming the flag. */
int fastfnet_arch_build(fastfnet_config *c, const fastfnet_arch_opts *o, char *err, size_t errlen);

typedef struct {
    fastfnet_arch_opts arch;
    const char *task;          /* classify | classify-pair | mlm */
    const char *data;          /* built-in: image | text | sotu | listops | pathfinder | pretrain; or NULL with --train */
    const char *data_dir;
    const char *difficulty;    /* pathfinder: easy | medium | hard */
    const char *train, *valid, *test;
    int limit, eval_limit;     /* examples (0 = all) */
    double valid_frac;
    int max_len;
    const char *tokenizer;     /* byte | word | bpe */
    const char *tokenizer_file;
    int vocab_size;            /* for word / bpe training */
    int batch, accum, epochs, steps, warmup;
    double lr, weight_decay, beta1, beta2, eps, clip, min_lr_ratio, warmup_frac;
    const char *schedule;      /* linear | cosine */
    int eval_every, save_every, keep, patience, log_every;
    int nsp;
    long seed;
    int threads;
    const char *out, *resume, *metrics, *init_from;
    const char *record;        /* DIR: the initial weights and every step's batches, for a replay (record.h) */
    int force;
    int zero;                  /* ZeRO-1: shard the AdamW moments across processes (MPI runs) */
    const char *options_json;  /* the options as given (JSON object), stored with checkpoints; may be NULL */
} fastfnet_train_opts;
void fastfnet_train_defaults(fastfnet_train_opts *o);

/* eval: loss and metrics of the model in dir on a split, as a JSON object into result[cap]; 0, or -1 with a
 * message. (Training: the trainer of fastfnet_train.h.) */
int fastfnet_eval_run(const char *model_dir, const fastfnet_train_opts *o, fastfnet_train_log log, void *user, char *result, size_t cap,
                      char *err, size_t errlen);
/* predict: JSON lines of labels and probabilities into out (atomically) or standard output; input NULL or
 * "-": standard input (plain text, one example per line). 0, or -1 with a message. */
int fastfnet_predict_run(const char *model_dir, const char *input, const char *out, int batch, char *err, size_t errlen);
#endif
