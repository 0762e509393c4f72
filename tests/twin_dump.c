/* twin_dump.c: runs a model on a batch and dumps logits, loss, every gradient and 5 AdamW steps, for the
 * PyTorch twin (tests/torch_twin.py) to compare against.
 * usage: twin_dump MODEL INPUTS.safetensors OUT.safetensors */
#include "fastfnet.h"
#include "safetensors.h"
#include "util.h"
#include "die.h"
#include <stdlib.h>
#include <string.h>

static int32_t *read_i32(fastfnet_st_file *f, const char *name, size_t want, int required) {
    const fastfnet_st_tensor *t = fastfnet_st_find(f, name);
    if (!t) {
        if (required) fastfnet_die("inputs: tensor '%s' missing", name);
        return NULL;
    }
    if (t->numel != want) fastfnet_die("inputs: tensor '%s' has %zu elements, expected %zu", name, t->numel, want);
    int32_t *d = fastfnet_xmalloc(sizeof(int32_t) * want);
    char err[256];
    if (fastfnet_st_read_i32(f, t, d, want, err, sizeof err)) fastfnet_die("inputs: %s", err);
    return d;
}

/* The batch the twin wrote: input_ids [B,T], and token types and the labels of the model's heads where given. */
typedef struct { int32_t *ids, *tt, *mlm, *nsp, *cls; } twin_inputs;

static fastfnet_batch read_inputs(twin_inputs *d, fastfnet_st_file *in, const fastfnet_config *c) {
    const fastfnet_st_tensor *ti = fastfnet_st_find(in, "input_ids");
    if (!ti || ti->ndim != 2) fastfnet_die("inputs: input_ids [B,T] missing");
    int B = (int)ti->shape[0], T = (int)ti->shape[1];
    size_t BT = (size_t)B * T;
    d->ids = read_i32(in, "input_ids", BT, 1), d->tt = read_i32(in, "token_type_ids", BT, 0);
    d->mlm = c->heads & FASTFNET_HEAD_MLM ? read_i32(in, "mlm_labels", BT, 0) : NULL;
    d->nsp = c->heads & FASTFNET_HEAD_NSP ? read_i32(in, "nsp_labels", B, 0) : NULL;
    d->cls = c->heads & FASTFNET_HEAD_CLS ? read_i32(in, "cls_labels", B, 0) : NULL;
    return (fastfnet_batch){.B = B, .T = T, .input_ids = d->ids, .token_type_ids = d->tt, .mlm_labels = d->mlm,
                            .nsp_labels = d->nsp, .cls_labels = d->cls};
}

/* Copies of the logits of every head the model has (lg: mlm, nsp, cls; NULL for a head it lacks), each an
 * output entry from out[no]; returns the new count. */
static int add_logits(fastfnet_st_out *out, int no, float *lg[3], fastfnet_model *m, const fastfnet_batch *batch) {
    const fastfnet_config *c = fastfnet_model_config(m);
    int B = batch->B, T = batch->T, Lb = c->num_labels, V = c->vocab_size;
    size_t BT = (size_t)B * T;
    if (c->heads & FASTFNET_HEAD_MLM) {
        /* the MLM head ran at the labelled positions only; the twin compares every position, so run once more
         * without MLM labels (the caller has taken the gradients already) */
        fastfnet_batch all = *batch;
        all.mlm_labels = NULL;
        fastfnet_model_forward(m, &all, 0);
        const float *full = fastfnet_model_logits_mlm(m);
        if (!full) fastfnet_die("twin_dump: the MLM logits of all %zu positions do not fit the arena", BT);
        lg[0] = fastfnet_xmalloc(sizeof(float) * BT * V);
        memcpy(lg[0], full, sizeof(float) * BT * V);
        out[no++] = (fastfnet_st_out){"logits.mlm", FASTFNET_DT_F32, 3, {B, T, V}, lg[0]};
    }
    if (c->heads & FASTFNET_HEAD_NSP) {
        lg[1] = fastfnet_xmalloc(sizeof(float) * B * 2);
        memcpy(lg[1], fastfnet_model_logits_nsp(m), sizeof(float) * B * 2);
        out[no++] = (fastfnet_st_out){"logits.nsp", FASTFNET_DT_F32, 2, {B, 2}, lg[1]};
    }
    if (c->heads & FASTFNET_HEAD_CLS) {
        lg[2] = fastfnet_xmalloc(sizeof(float) * B * Lb);
        memcpy(lg[2], fastfnet_model_logits_cls(m), sizeof(float) * B * Lb);
        out[no++] = (fastfnet_st_out){"logits.cls", FASTFNET_DT_F32, 2, {B, Lb}, lg[2]};
    }
    return no;
}

/* Every parameter tensor's gradient (grad nonzero) or value, copied into buf (the model's total size) and
 * named "PREFIX.name" (names[], freed by the caller), as output entries from out[no]; returns the new count. */
static int add_tensors(fastfnet_st_out *out, int no, char **names, float *buf, fastfnet_model *m, const char *prefix,
                       int grad) {
    size_t off = 0;
    for (int i = 0; i < fastfnet_model_num_tensors(m); i++) {
        fastfnet_tensor t = fastfnet_model_tensor(m, i);
        memcpy(buf + off, grad ? t.grad : t.data, sizeof(float) * t.numel);
        names[i] = fastfnet_xmalloc(strlen(t.name) + 8);
        sprintf(names[i], "%s.%s", prefix, t.name);
        out[no++] = (fastfnet_st_out){names[i], FASTFNET_DT_F32, t.ndim, {t.shape[0], t.shape[1]}, buf + off};
        off += t.numel;
    }
    return no;
}

/* 5 AdamW steps on the same batch; losses[s] is the loss after step s (losses[0], before any, is the caller's). */
static void run_adamw(fastfnet_model *m, const fastfnet_batch *batch, float losses[6]) {
    fastfnet_adamw hp = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    char oerr[256];
    fastfnet_optimizer *opt = fastfnet_optimizer_create(m, &hp, 0, 0, oerr, sizeof oerr);
    if (!opt) fastfnet_die("%s", oerr);
    for (int s = 1; s <= 5; s++) {
        fastfnet_optimizer_step(opt, hp.lr, s);
        fastfnet_model_zero_grad(m);
        losses[s] = fastfnet_model_forward(m, batch, 0);
        fastfnet_model_backward(m);
    }
    fastfnet_optimizer_free(opt);
}

int main(int argc, char **argv) {
    if (argc != 4) fastfnet_die("usage: twin_dump MODEL INPUTS.safetensors OUT.safetensors");
    fastfnet_set_threads(2);
    char err[1024];
    fastfnet_model *m = fastfnet_model_load(argv[1], err, sizeof err);
    if (!m) fastfnet_die("%s", err);
    fastfnet_st_file in;
    if (fastfnet_st_open(&in, argv[2], err, sizeof err)) fastfnet_die("%s", err);
    twin_inputs d;
    fastfnet_batch batch = read_inputs(&d, &in, fastfnet_model_config(m));
    if (fastfnet_model_reserve(m, batch.B, batch.T, 1, err, sizeof err)) fastfnet_die("%s", err);
    if (fastfnet_model_check_batch(m, &batch, err, sizeof err)) fastfnet_die("inputs: %s", err);

    int nt = fastfnet_model_num_tensors(m);
    fastfnet_st_out *out = fastfnet_xcalloc(sizeof(fastfnet_st_out) * (size_t)(2 * nt + 8));
    char **names = fastfnet_xcalloc(sizeof(char *) * (size_t)(2 * nt));
    int no = 0;
    fastfnet_model_zero_grad(m);
    float loss = fastfnet_model_forward(m, &batch, 0);
    fastfnet_model_backward(m);
    float *lg[3] = {NULL, NULL, NULL};
    no = add_logits(out, no, lg, m, &batch);
    out[no++] = (fastfnet_st_out){"loss", FASTFNET_DT_F32, 1, {1}, &loss};
    size_t np = 0;
    for (int i = 0; i < nt; i++) np += fastfnet_model_tensor(m, i).numel;
    float *grads = fastfnet_xmalloc(sizeof(float) * np), *finals = fastfnet_xmalloc(sizeof(float) * np);
    no = add_tensors(out, no, names, grads, m, "grad", 1);
    float losses[6];
    losses[0] = loss;
    run_adamw(m, &batch, losses);
    out[no++] = (fastfnet_st_out){"adamw.loss", FASTFNET_DT_F32, 1, {6}, losses};
    no = add_tensors(out, no, names + nt, finals, m, "final", 0);
    if (fastfnet_st_write(argv[3], out, no, NULL, err, sizeof err)) fastfnet_die("%s", err);
    for (int i = 0; i < 2 * nt; i++) fastfnet_free(names[i]);
    fastfnet_free(names);
    fastfnet_free(out);
    fastfnet_free(grads);
    fastfnet_free(finals);
    for (int i = 0; i < 3; i++) fastfnet_free(lg[i]);
    fastfnet_free(d.ids);
    fastfnet_free(d.tt);
    fastfnet_free(d.mlm);
    fastfnet_free(d.nsp);
    fastfnet_free(d.cls);
    fastfnet_st_close(&in);
    fastfnet_model_free(m);
    return 0;
}
