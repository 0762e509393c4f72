/* twin_dump.c: runs a model on a batch and dumps logits, loss, every gradient and 5 AdamW steps, for the
 * PyTorch twin (tests/torch_twin.py) to compare against.
 * usage: twin_dump MODEL INPUTS.safetensors OUT.safetensors */
#include "fastfnet.h"
#include "safetensors.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static int32_t *read_i32(ffn_st_file *f, const char *name, size_t want, int required) {
    const ffn_st_tensor *t = ffn_st_find(f, name);
    if (!t) {
        if (required) ffn_die("inputs: tensor '%s' missing", name);
        return NULL;
    }
    if (t->numel != want) ffn_die("inputs: tensor '%s' has %zu elements, expected %zu", name, t->numel, want);
    int32_t *d = ffn_malloc(sizeof(int32_t) * want);
    char err[256];
    if (ffn_st_read_i32(f, t, d, want, err, sizeof err)) ffn_die("inputs: %s", err);
    return d;
}

int main(int argc, char **argv) {
    if (argc != 4) ffn_die("usage: twin_dump MODEL INPUTS.safetensors OUT.safetensors");
    ffn_set_threads(2);
    char err[1024];
    ffn_model *m = ffn_model_load(argv[1], err, sizeof err);
    if (!m) ffn_die("%s", err);
    const ffn_config *c = ffn_model_config(m);
    ffn_st_file in;
    if (ffn_st_open(&in, argv[2], err, sizeof err)) ffn_die("%s", err);
    const ffn_st_tensor *ti = ffn_st_find(&in, "input_ids");
    if (!ti || ti->ndim != 2) ffn_die("inputs: input_ids [B,T] missing");
    int B = (int)ti->shape[0], T = (int)ti->shape[1];
    size_t BT = (size_t)B * T;
    int32_t *ids = read_i32(&in, "input_ids", BT, 1), *tt = read_i32(&in, "token_type_ids", BT, 0);
    int32_t *mlm = c->heads & FFN_HEAD_MLM ? read_i32(&in, "mlm_labels", BT, 0) : NULL;
    int32_t *nsp = c->heads & FFN_HEAD_NSP ? read_i32(&in, "nsp_labels", B, 0) : NULL;
    int32_t *cls = c->heads & FFN_HEAD_CLS ? read_i32(&in, "cls_labels", B, 0) : NULL;
    ffn_batch batch = {.B = B, .T = T, .input_ids = ids, .token_type_ids = tt, .mlm_labels = mlm, .nsp_labels = nsp, .cls_labels = cls};
    if (ffn_model_reserve(m, B, T, 1, err, sizeof err)) ffn_die("%s", err);
    if (ffn_model_check_batch(m, &batch, err, sizeof err)) ffn_die("inputs: %s", err);

    int nt = ffn_model_num_tensors(m);
    ffn_st_out *out = ffn_calloc(sizeof(ffn_st_out) * (size_t)(2 * nt + 8));
    char **names = ffn_calloc(sizeof(char *) * (size_t)(2 * nt));
    int no = 0;
    ffn_model_zero_grad(m);
    float loss = ffn_model_forward(m, &batch, 0);
    ffn_model_backward(m);
    int Lb = c->num_labels, V = c->vocab_size;
    float *lm = NULL, *ln = NULL, *lc = NULL;
    if (c->heads & FFN_HEAD_MLM) {
        /* the MLM head ran at the labelled positions only; the twin compares every position, so run once more
         * without MLM labels (the gradients above are already taken) */
        ffn_batch all = batch;
        all.mlm_labels = NULL;
        ffn_model_forward(m, &all, 0);
        const float *full = ffn_model_logits_mlm(m);
        if (!full) ffn_die("twin_dump: the MLM logits of all %zu positions do not fit the arena", BT);
        lm = ffn_malloc(sizeof(float) * BT * V);
        memcpy(lm, full, sizeof(float) * BT * V);
        out[no++] = (ffn_st_out){"logits.mlm", FFN_DT_F32, 3, {B, T, V}, lm};
    }
    if (c->heads & FFN_HEAD_NSP) {
        ln = ffn_malloc(sizeof(float) * B * 2);
        memcpy(ln, ffn_model_logits_nsp(m), sizeof(float) * B * 2);
        out[no++] = (ffn_st_out){"logits.nsp", FFN_DT_F32, 2, {B, 2}, ln};
    }
    if (c->heads & FFN_HEAD_CLS) {
        lc = ffn_malloc(sizeof(float) * B * Lb);
        memcpy(lc, ffn_model_logits_cls(m), sizeof(float) * B * Lb);
        out[no++] = (ffn_st_out){"logits.cls", FFN_DT_F32, 2, {B, Lb}, lc};
    }
    out[no++] = (ffn_st_out){"loss", FFN_DT_F32, 1, {1}, &loss};
    size_t np = 0;
    for (int i = 0; i < nt; i++) np += ffn_model_tensor(m, i).numel;
    float *grads = ffn_malloc(sizeof(float) * np), *finals = ffn_malloc(sizeof(float) * np);
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        ffn_tensor t = ffn_model_tensor(m, i);
        memcpy(grads + off, t.grad, sizeof(float) * t.numel);
        names[i] = ffn_malloc(strlen(t.name) + 8);
        sprintf(names[i], "grad.%s", t.name);
        out[no++] = (ffn_st_out){names[i], FFN_DT_F32, t.ndim, {t.shape[0], t.shape[1]}, grads + off};
        off += t.numel;
    }
    float losses[6];
    losses[0] = loss;
    ffn_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    for (int s = 1; s <= 5; s++) {
        ffn_model_adamw_step(m, &opt, s);
        ffn_model_zero_grad(m);
        losses[s] = ffn_model_forward(m, &batch, 0);
        ffn_model_backward(m);
    }
    out[no++] = (ffn_st_out){"adamw.loss", FFN_DT_F32, 1, {6}, losses};
    off = 0;
    for (int i = 0; i < nt; i++) {
        ffn_tensor t = ffn_model_tensor(m, i);
        memcpy(finals + off, t.data, sizeof(float) * t.numel);
        names[nt + i] = ffn_malloc(strlen(t.name) + 8);
        sprintf(names[nt + i], "final.%s", t.name);
        out[no++] = (ffn_st_out){names[nt + i], FFN_DT_F32, t.ndim, {t.shape[0], t.shape[1]}, finals + off};
        off += t.numel;
    }
    if (ffn_st_write(argv[3], out, no, NULL, err, sizeof err)) ffn_die("%s", err);
    for (int i = 0; i < 2 * nt; i++) ffn_free(names[i]);
    ffn_free(names);
    ffn_free(out);
    ffn_free(grads);
    ffn_free(finals);
    ffn_free(lm);
    ffn_free(ln);
    ffn_free(lc);
    ffn_free(ids);
    ffn_free(tt);
    ffn_free(mlm);
    ffn_free(nsp);
    ffn_free(cls);
    ffn_st_close(&in);
    ffn_model_free(m);
    return 0;
}
