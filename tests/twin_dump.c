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

int main(int argc, char **argv) {
    if (argc != 4) fastfnet_die("usage: twin_dump MODEL INPUTS.safetensors OUT.safetensors");
    fastfnet_set_threads(2);
    char err[1024];
    fastfnet_model *m = fastfnet_model_load(argv[1], err, sizeof err);
    if (!m) fastfnet_die("%s", err);
    const fastfnet_config *c = fastfnet_model_config(m);
    fastfnet_st_file in;
    if (fastfnet_st_open(&in, argv[2], err, sizeof err)) fastfnet_die("%s", err);
    const fastfnet_st_tensor *ti = fastfnet_st_find(&in, "input_ids");
    if (!ti || ti->ndim != 2) fastfnet_die("inputs: input_ids [B,T] missing");
    int B = (int)ti->shape[0], T = (int)ti->shape[1];
    size_t BT = (size_t)B * T;
    int32_t *ids = read_i32(&in, "input_ids", BT, 1), *tt = read_i32(&in, "token_type_ids", BT, 0);
    int32_t *mlm = c->heads & FASTFNET_HEAD_MLM ? read_i32(&in, "mlm_labels", BT, 0) : NULL;
    int32_t *nsp = c->heads & FASTFNET_HEAD_NSP ? read_i32(&in, "nsp_labels", B, 0) : NULL;
    int32_t *cls = c->heads & FASTFNET_HEAD_CLS ? read_i32(&in, "cls_labels", B, 0) : NULL;
    fastfnet_batch batch = {.B = B, .T = T, .input_ids = ids, .token_type_ids = tt, .mlm_labels = mlm, .nsp_labels = nsp, .cls_labels = cls};
    if (fastfnet_model_reserve(m, B, T, 1, err, sizeof err)) fastfnet_die("%s", err);
    if (fastfnet_model_check_batch(m, &batch, err, sizeof err)) fastfnet_die("inputs: %s", err);

    int nt = fastfnet_model_num_tensors(m);
    fastfnet_st_out *out = fastfnet_xcalloc(sizeof(fastfnet_st_out) * (size_t)(2 * nt + 8));
    char **names = fastfnet_xcalloc(sizeof(char *) * (size_t)(2 * nt));
    int no = 0;
    fastfnet_model_zero_grad(m);
    float loss = fastfnet_model_forward(m, &batch, 0);
    fastfnet_model_backward(m);
    int Lb = c->num_labels, V = c->vocab_size;
    float *lm = NULL, *ln = NULL, *lc = NULL;
    if (c->heads & FASTFNET_HEAD_MLM) {
        /* the MLM head ran at the labelled positions only; the twin compares every position, so run once more
         * without MLM labels (the gradients above are already taken) */
        fastfnet_batch all = batch;
        all.mlm_labels = NULL;
        fastfnet_model_forward(m, &all, 0);
        const float *full = fastfnet_model_logits_mlm(m);
        if (!full) fastfnet_die("twin_dump: the MLM logits of all %zu positions do not fit the arena", BT);
        lm = fastfnet_xmalloc(sizeof(float) * BT * V);
        memcpy(lm, full, sizeof(float) * BT * V);
        out[no++] = (fastfnet_st_out){"logits.mlm", FASTFNET_DT_F32, 3, {B, T, V}, lm};
    }
    if (c->heads & FASTFNET_HEAD_NSP) {
        ln = fastfnet_xmalloc(sizeof(float) * B * 2);
        memcpy(ln, fastfnet_model_logits_nsp(m), sizeof(float) * B * 2);
        out[no++] = (fastfnet_st_out){"logits.nsp", FASTFNET_DT_F32, 2, {B, 2}, ln};
    }
    if (c->heads & FASTFNET_HEAD_CLS) {
        lc = fastfnet_xmalloc(sizeof(float) * B * Lb);
        memcpy(lc, fastfnet_model_logits_cls(m), sizeof(float) * B * Lb);
        out[no++] = (fastfnet_st_out){"logits.cls", FASTFNET_DT_F32, 2, {B, Lb}, lc};
    }
    out[no++] = (fastfnet_st_out){"loss", FASTFNET_DT_F32, 1, {1}, &loss};
    size_t np = 0;
    for (int i = 0; i < nt; i++) np += fastfnet_model_tensor(m, i).numel;
    float *grads = fastfnet_xmalloc(sizeof(float) * np), *finals = fastfnet_xmalloc(sizeof(float) * np);
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        fastfnet_tensor t = fastfnet_model_tensor(m, i);
        memcpy(grads + off, t.grad, sizeof(float) * t.numel);
        names[i] = fastfnet_xmalloc(strlen(t.name) + 8);
        sprintf(names[i], "grad.%s", t.name);
        out[no++] = (fastfnet_st_out){names[i], FASTFNET_DT_F32, t.ndim, {t.shape[0], t.shape[1]}, grads + off};
        off += t.numel;
    }
    float losses[6];
    losses[0] = loss;
    fastfnet_adamw hp = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    char oerr[256];
    fastfnet_optimizer *opt = fastfnet_optimizer_create(m, &hp, 0, 0, oerr, sizeof oerr);
    if (!opt) fastfnet_die("%s", oerr);
    for (int s = 1; s <= 5; s++) {
        fastfnet_optimizer_step(opt, hp.lr, s);
        fastfnet_model_zero_grad(m);
        losses[s] = fastfnet_model_forward(m, &batch, 0);
        fastfnet_model_backward(m);
    }
    fastfnet_optimizer_free(opt);
    out[no++] = (fastfnet_st_out){"adamw.loss", FASTFNET_DT_F32, 1, {6}, losses};
    off = 0;
    for (int i = 0; i < nt; i++) {
        fastfnet_tensor t = fastfnet_model_tensor(m, i);
        memcpy(finals + off, t.data, sizeof(float) * t.numel);
        names[nt + i] = fastfnet_xmalloc(strlen(t.name) + 8);
        sprintf(names[nt + i], "final.%s", t.name);
        out[no++] = (fastfnet_st_out){names[nt + i], FASTFNET_DT_F32, t.ndim, {t.shape[0], t.shape[1]}, finals + off};
        off += t.numel;
    }
    if (fastfnet_st_write(argv[3], out, no, NULL, err, sizeof err)) fastfnet_die("%s", err);
    for (int i = 0; i < 2 * nt; i++) fastfnet_free(names[i]);
    fastfnet_free(names);
    fastfnet_free(out);
    fastfnet_free(grads);
    fastfnet_free(finals);
    fastfnet_free(lm);
    fastfnet_free(ln);
    fastfnet_free(lc);
    fastfnet_free(ids);
    fastfnet_free(tt);
    fastfnet_free(mlm);
    fastfnet_free(nsp);
    fastfnet_free(cls);
    fastfnet_st_close(&in);
    fastfnet_model_free(m);
    return 0;
}
