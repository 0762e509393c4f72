/* record.h: `fastfnet train --record DIR` writes what a run trained on, so that another implementation (the
 * PyTorch twin, tests/twin_replay.py) can replay it step for step and compare:
 *   DIR/init.safetensors  the weights before the first step (config in its metadata)
 *   DIR/options.json      the run's options (AdamW's hyperparameters, clipping)
 *   DIR/steps.bin         one record per micro-batch, little-endian, as below
 * A record: a header of 12 int32 words
 *   magic 0x31524646 ("FFR1"), step (1-based), micro-batch, micro-batches per step, B, T, flags,
 *   mlm_denom, cls_denom (the step's target counts every micro-batch's loss is divided by),
 *   lr, loss, grad_norm (float32 bits: the step's learning rate, its summed loss, its gradient norm before
 *   clipping)
 * then input_ids [B*T], token_type_ids [B*T], labels [B] (classifier or NSP, -100: none), and mlm_labels
 * [B*T] when flags has bit 0 (MLM). Bit 1: the labels are NSP labels; otherwise classifier labels. */
#ifndef FASTFNET_RECORD_H
#define FASTFNET_RECORD_H
#include <stdint.h>
#include <stdio.h>
#include "fastfnet.h"

#define FASTFNET_RECORD_MAGIC 0x31524646
enum { FASTFNET_RECORD_MLM = 1, FASTFNET_RECORD_NSP = 2 };

typedef struct {
    FILE *f;
    char path[4200];
} fastfnet_record;

/* What one optimizer step trained on: micro-batch a's sequences at ids + a * B * Tmax, Tb[a] long. */
typedef struct {
    long step;
    int accum, B, Tmax, flags, mlm_denom, cls_denom;
    const int *Tb;
    const int32_t *ids, *tt, *lab, *mlm;
    float lr, loss, grad_norm;
} fastfnet_record_step;

/* Create DIR (one level) and write init.safetensors and options.json (a record already there is replaced:
 * the trainer refuses that without --force). 0, or -1 with a message naming the file. */
int fastfnet_record_open(fastfnet_record *r, const char *dir, const fastfnet_model *m, const char *options_json, char *err,
                         size_t errlen);
int fastfnet_record_write(fastfnet_record *r, const fastfnet_record_step *s, char *err, size_t errlen);
/* Close; 0, or -1 when the last writes failed. Safe on a record never opened. */
int fastfnet_record_close(fastfnet_record *r, char *err, size_t errlen);
#endif
