/* fastfnet_train.h: the public API of libfastfnet_train: the trainer `fastfnet train` runs, as an object the
 * CLI and Python drive the same way. Its options are exactly `fastfnet train`'s command-line options, as
 * argv strings. Nothing here exits or prints: failures return -1 (or NULL) with a one-line message in
 * err[errlen]; informational lines go to the log hook; progress to the step callback. docs/API.md. */
#ifndef FASTFNET_TRAIN_API_H
#define FASTFNET_TRAIN_API_H
#include "fastfnet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fastfnet_trainer fastfnet_trainer;

/* After every optimizer step. The first fields are the agreed ones; later fields are only appended. */
typedef struct {
    long step, steps;        /* steps done, steps of the run */
    float loss, lr, grad_norm;
    double elapsed;          /* seconds of training, across resumes */
    int evaluated;           /* this step ran the scheduled evaluation on the validation split */
    float eval_loss, eval_accuracy;
    /* appended */
    int logged;              /* a --log-every step: a metrics line was written */
    float mean_loss;         /* mean step loss since the previous logged step (what metrics.jsonl has) */
    double tokens_per_s;     /* since the previous logged step */
    int mlm;                 /* the task is mlm: eval_accuracy is the masked-token accuracy */
    int lead;                /* this process is rank 0 of a data-parallel run (or the only one) */
} fastfnet_train_progress;

/* Called after every optimizer step; a nonzero return stops the run (a checkpoint is saved first). */
typedef int (*fastfnet_train_callback)(const fastfnet_train_progress *p, void *user);
/* Informational lines of a run (what it trains on, truncations, resumes, early stopping), without "\n". */
typedef void (*fastfnet_train_log)(const char *line, void *user);

/* argv as after "fastfnet train" (argv[0] is the first option); the strings are copied. NULL with a message
 * naming the flag or the --config file. */
FASTFNET_API fastfnet_trainer *fastfnet_trainer_create(int argc, const char *const *argv, char *err, size_t errlen);
/* Where informational lines go (rank 0 only); none by default. */
FASTFNET_API void fastfnet_trainer_set_log(fastfnet_trainer *t, fastfnet_train_log fn, void *user);
/* Data, tokenizer, model, optimizer, run directory and metrics file; resumes when --resume was given, with the
 * options the checkpoint records (the arguments applied over them; one that would change the run is refused). */
FASTFNET_API int fastfnet_trainer_setup(fastfnet_trainer *t, char *err, size_t errlen);
/* Back to the run directory's LATEST checkpoint (or the newest older one that loads): weights, AdamW
 * moments, data order, dropout stream and counters, so that stepping on retraces the run from there. */
FASTFNET_API int fastfnet_trainer_resume(fastfnet_trainer *t, char *err, size_t errlen);
/* One optimizer step with its scheduled logging, evaluation and checkpoint; p (may be NULL) receives the
 * progress. 1 when the run is complete (the last step or early stopping), 0 otherwise, -1 on an error
 * (a non-finite loss or gradient stops without saving). */
FASTFNET_API int fastfnet_trainer_step(fastfnet_trainer *t, fastfnet_train_progress *p, char *err, size_t errlen);
/* Loss and accuracy (mlm: masked-token accuracy) on split "valid" or "test"; -1 when there is no such split. */
FASTFNET_API int fastfnet_trainer_evaluate(fastfnet_trainer *t, const char *split, float *loss, float *accuracy, char *err,
                                           size_t errlen);
/* A checkpoint of the current step now (the run directory's checkpoints/ and top-level model). */
FASTFNET_API int fastfnet_trainer_checkpoint(fastfnet_trainer *t, char *err, size_t errlen);
/* The whole run exactly as `fastfnet train` runs it: setup if not done, steps to the end with cb (may be
 * NULL) after each, the final evaluation and metrics line. 0 done, 1 stopped by the callback (checkpoint
 * saved; run again continues), -1 error (also for a run again after 0: the run has finished). */
FASTFNET_API int fastfnet_trainer_run(fastfnet_trainer *t, fastfnet_train_callback cb, void *user, char *err, size_t errlen);
/* The run's figures as one JSON line (what `fastfnet train` prints) once run has finished; "" before, and on
 * every process but rank 0. */
FASTFNET_API const char *fastfnet_trainer_summary(const fastfnet_trainer *t);
/* The model being trained (owned by the trainer; NULL before setup). */
FASTFNET_API fastfnet_model *fastfnet_trainer_model(fastfnet_trainer *t);
/* The options as resolved, as JSON (what checkpoints store; after setup, a resume's). */
FASTFNET_API const char *fastfnet_trainer_options_json(const fastfnet_trainer *t);
/* `fastfnet train --help`'s option list (malloc'd; free() it). */
FASTFNET_API char *fastfnet_train_options_help(void);
FASTFNET_API void fastfnet_trainer_free(fastfnet_trainer *t);
/* sizeof(fastfnet_train_progress) as this library was built (for bindings that mirror it). */
FASTFNET_API size_t fastfnet_sizeof_train_progress(void);

#ifdef __cplusplus
}
#endif
#endif
