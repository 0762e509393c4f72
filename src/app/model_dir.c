/* model_dir.c: the files of a model directory beside the weights: which tokenizer file it holds, whether that
 * tokenizer fits the model, and config.json with the fields HF needs to load a classifier. */
#include "model_dir.h"
#include "fastfnet_util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *fastfnet_dir_tokenizer_file(fastfnet_tok_kind kind) {
    if (kind == FASTFNET_TOK_BYTE) return NULL;
    return kind == FASTFNET_TOK_SPM ? "spiece.model" : "tokenizer.json";
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

fastfnet_tokenizer *fastfnet_dir_tokenizer(const char *dir, const char *kind, char *path, size_t pcap, char *err, size_t errlen) {
    path[0] = 0;
    struct stat sb;
    int is_dir = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (kind && !strcmp(kind, "byte")) return fastfnet_tok_byte();
    if (kind) {
        snprintf(path, pcap, "%s/%s", dir, fastfnet_dir_tokenizer_file(strcmp(kind, "sentencepiece") ? FASTFNET_TOK_BPE : FASTFNET_TOK_SPM));
        if (!exists(path))
            return fastfnet_err(err, errlen, "%s is missing: the model was trained with a %s tokenizer; copy its file back", path, kind), NULL;
        return fastfnet_tok_load(path, err, errlen);
    }
    if (!is_dir) return fastfnet_tok_byte(); /* a single .safetensors file (fastfnet init): byte ids */
    snprintf(path, pcap, "%s/spiece.model", dir);
    if (!exists(path)) snprintf(path, pcap, "%s/tokenizer.json", dir);
    if (!exists(path)) {
        path[0] = 0;
        return fastfnet_tok_byte();
    }
    return fastfnet_tok_load(path, err, errlen);
}

int fastfnet_dir_check_tokenizer(const fastfnet_tokenizer *t, const char *tok_path, const fastfnet_config *c, const char *dir,
                            char *err, size_t errlen) {
    const char *tp = tok_path && tok_path[0] ? tok_path : "the byte tokenizer";
    struct stat sb;
    if (fastfnet_tok_vocab_size(t) != c->vocab_size && !(tok_path && tok_path[0]) && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        return fastfnet_err(err, errlen, "%s holds no spiece.model or tokenizer.json, and byte ids (%d) do not fit its vocabulary "
                       "of %d: copy the model's tokenizer file into %s", dir, fastfnet_tok_vocab_size(t), c->vocab_size, dir);
    if (fastfnet_tok_vocab_size(t) != c->vocab_size)
        return fastfnet_err(err, errlen, "%s has %d tokens but the model in %s has a vocabulary of %d: use the tokenizer the "
                       "model was trained with", tp, fastfnet_tok_vocab_size(t), dir, c->vocab_size);
    int32_t pad = fastfnet_tok_special(t, FASTFNET_TOK_PAD);
    if (pad >= 0 && pad != c->pad_token_id)
        return fastfnet_err(err, errlen, "%s/config.json: pad_token_id is %d but the pad piece of %s is id %d: fix one so "
                       "that they agree", dir, c->pad_token_id, tp, pad);
    return 0;
}

int fastfnet_dir_config_json(const fastfnet_config *c, const fastfnet_labels *labels, char *buf, size_t cap) {
    int n = fastfnet_config_to_json(c, buf, cap);
    if (n < 2) return -1;
    size_t pos = (size_t)n;
    while (pos > 0 && buf[pos - 1] != '}') pos--; /* reopen the object: add fields before its closing brace */
    if (pos == 0) return -1;
    pos--;
    while (pos > 0 && (buf[pos - 1] == '\n' || buf[pos - 1] == ' ')) pos--;
    const char *arch = c->heads & FASTFNET_HEAD_CLS ? "FNetForSequenceClassification"
                       : (c->heads & FASTFNET_HEAD_MLM) && (c->heads & FASTFNET_HEAD_NSP) ? "FNetForPreTraining"
                       : c->heads & FASTFNET_HEAD_MLM ? "FNetForMaskedLM" : "FNetModel";
    int k = snprintf(buf + pos, cap - pos, ",\n  \"architectures\": [\"%s\"]", arch);
    if (k < 0 || (size_t)k >= cap - pos) return -1;
    pos += (size_t)k;
    if ((c->heads & FASTFNET_HEAD_CLS) && labels && labels->n == c->num_labels) {
        for (int pass = 0; pass < 2; pass++) {
            k = snprintf(buf + pos, cap - pos, ",\n  \"%s\": {", pass ? "label2id" : "id2label");
            if (k < 0 || (size_t)k >= cap - pos) return -1;
            pos += (size_t)k;
            for (int i = 0; i < labels->n; i++) {
                char id[16];
                snprintf(id, sizeof id, "\"%d\"", i);
                if (pos + 8 + strlen(id) + 6 * strlen(labels->names[i]) >= cap) return -1;
                if (i) buf[pos++] = ',', buf[pos++] = ' ';
                if (pass) {
                    if (fastfnet_json_escape(buf, cap, &pos, labels->names[i])) return -1;
                    pos += (size_t)snprintf(buf + pos, cap - pos, ": %d", i);
                } else {
                    pos += (size_t)snprintf(buf + pos, cap - pos, "%s: ", id);
                    if (fastfnet_json_escape(buf, cap, &pos, labels->names[i])) return -1;
                }
            }
            if (pos + 2 >= cap) return -1;
            buf[pos++] = '}';
        }
    }
    k = snprintf(buf + pos, cap - pos, "\n}\n");
    if (k < 0 || (size_t)k >= cap - pos) return -1;
    return (int)(pos + (size_t)k);
}

int fastfnet_dir_max_len(const char *ml, const fastfnet_config *c, const char *path, int *out, char *err, size_t errlen) {
    if (!ml) return *out = c->max_position, 0;
    char *end;
    errno = 0;
    long v = strtol(ml, &end, 10);
    if (errno || end == ml || *end || v < 1 || v > c->max_position)
        return fastfnet_err(err, errlen, "%s: fastfnet_max_len '%.32s' is not a length in 1..%d (max_position): the file is damaged or was "
                            "edited; retrain or restore it", path, ml, c->max_position);
    return *out = (int)v, 0;
}

int fastfnet_check_model_opts(const char *model_dir, const fastfnet_train_opts *o, char *err, size_t errlen) {
    char p[4200], msg[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", model_dir);
    if (!exists(p)) snprintf(p, sizeof p, "%s", model_dir);
    fastfnet_st_file f;
    if (fastfnet_st_open(&f, p, err, errlen)) return -1;
    const char *ml = fastfnet_st_meta(&f, "fastfnet_max_len"), *tk = fastfnet_st_meta(&f, "fastfnet_tokenizer");
    char kind[64], tp[4300];
    snprintf(kind, sizeof kind, "%s", tk ? tk : "");
    char *end = NULL;
    long mlv = ml ? strtol(ml, &end, 10) : 0; /* a malformed one is the loader's error (fastfnet_dir_max_len) */
    int bad_len = o->max_len && ml && end != ml && !*end && mlv != o->max_len;
    if (bad_len)
        fastfnet_err(err, errlen, "--max-len %d contradicts the model's length %s (%s): the model's is used; omit --max-len", o->max_len, ml, p);
    fastfnet_st_close(&f);
    if (bad_len) return -1;
    fastfnet_tokenizer *t = fastfnet_dir_tokenizer(model_dir, kind[0] ? kind : NULL, tp, sizeof tp, err, errlen);
    if (!t) return -1;
    const char *have = fastfnet_tok_kind_name(fastfnet_tok_kind_of(t));
    fastfnet_tok_free(t);
    if (o->tokenizer && strcmp(o->tokenizer, have) && !(!strcmp(o->tokenizer, "unigram") && !strcmp(have, "sentencepiece")))
        return fastfnet_err(err, errlen, "--tokenizer %s contradicts the model's %s tokenizer%s%s: the model's is used; omit --tokenizer", o->tokenizer, have,
                tp[0] ? " in " : "", tp);
    if (o->tokenizer_file) {
        size_t na = 0, nb = 0; /* the same bytes (a copy of the model's file is fine) */
        char *a = fastfnet_read_file(o->tokenizer_file, &na, (size_t)1 << 30, msg, sizeof msg);
        if (!a) return fastfnet_err(err, errlen, "--tokenizer-file: %s", msg);
        char *b = tp[0] ? fastfnet_read_file(tp, &nb, (size_t)1 << 30, msg, sizeof msg) : NULL;
        int same = a && b && na == nb && !memcmp(a, b, na);
        free(a), free(b);
        if (!same)
            return fastfnet_err(err, errlen, "--tokenizer-file %s contradicts the model's tokenizer (%s): the model's is used; omit --tokenizer-file",
                    o->tokenizer_file, tp[0] ? tp : "byte ids");
    }
    return 0;
}
