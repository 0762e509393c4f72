/* options.c: option tables parsed from argv strings and JSON config files, their help text and their JSON
 * form; the table of `fastfnet train` (and the architecture flags it shares with `init`). */
#include "options.h"
#include "fastfnet_util.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void fastfnet_opt_strings_free(opt_strings *k) {
    for (int i = 0; i < k->n; i++) free(k->s[i]);
    free(k->s);
    memset(k, 0, sizeof *k);
}

/* A copy of s that lives as long as k; NULL when out of memory. */
static const char *opt_keep(opt_strings *k, const char *s) {
    if (k->n == k->cap) {
        int cap = k->cap ? 2 * k->cap : 32;
        char **p = realloc(k->s, sizeof(char *) * (size_t)cap);
        if (!p) return NULL;
        k->s = p, k->cap = cap;
    }
    char *c = strdup(s);
    if (c) k->s[k->n++] = c;
    return c;
}

int fastfnet_opt_long(const char *flag, const char *s, long lo, long hi, long *v, char *err, size_t errlen) {
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    if (errno || end == s || *end || *v < lo || *v > hi)
        return fastfnet_err(err, errlen, "%s: '%s' is not an integer in %ld..%ld", flag, s, lo, hi);
    return 0;
}

static const opt_def *opt_find(const opt_def *t, const char *name) {
    for (; t->name; t++) {
        size_t n = strlen(t->name);
        int eq = strlen(name) == n;
        for (size_t i = 0; eq && i < n; i++) eq = name[i] == t->name[i] || (name[i] == '_' && t->name[i] == '-');
        if (eq) return t;
    }
    return NULL;
}

/* Set o from the string v (kept in k); src prefixes the flag in messages ("--" or "FILE: "). */
static int opt_set(const opt_def *o, const char *v, const char *src, opt_strings *k, char *err, size_t n) {
    char flag[400];
    snprintf(flag, sizeof flag, "%s%s", src, o->name);
    long l;
    switch (o->type) {
    case OPT_INT:
    case OPT_INT_AUTO:
        if (fastfnet_opt_long(flag, v, o->type == OPT_INT_AUTO ? -1 : 0, 1L << 30, &l, err, n)) return -1;
        *(int *)o->ptr = (int)l;
        return 0;
    case OPT_LONG:
        if (fastfnet_opt_long(flag, v, 0, 0x7fffffffL, &l, err, n)) return -1;
        *(long *)o->ptr = l;
        return 0;
    case OPT_DOUBLE: {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d)) return fastfnet_err(err, n, "%s: '%s' is not a number", flag, v);
        *(double *)o->ptr = d;
        return 0;
    }
    case OPT_STR:
        if (!(*(const char **)o->ptr = opt_keep(k, v))) return fastfnet_err(err, n, "%s: out of memory", flag);
        return 0;
    case OPT_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true")) *(int *)o->ptr = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false")) *(int *)o->ptr = 0;
        else return fastfnet_err(err, n, "%s: '%s' must be true or false", flag, v);
        return 0;
    }
    return -1;
}

/* One value of a JSON object of options onto its option; src names the object ("--config FILE") in messages. */
static int opt_set_json(const opt_def *o, const fastfnet_json *v, const char *src, const char *key, opt_strings *k, char *err,
                        size_t n) {
    char num[64], pre[4200];
    snprintf(pre, sizeof pre, "%s: ", src);
    if (v->type == FASTFNET_JSON_NULL) return 0;
    if (v->type == FASTFNET_JSON_STRING) return opt_set(o, v->str, pre, k, err, n);
    if (v->type == FASTFNET_JSON_BOOL) return opt_set(o, v->boolean ? "true" : "false", pre, k, err, n);
    if (v->type != FASTFNET_JSON_NUMBER) return fastfnet_err(err, n, "%s: option \"%s\" must be a string, number or boolean", src, key);
    snprintf(num, sizeof num, "%.17g", v->number);
    return opt_set(o, num, pre, k, err, n);
}

int fastfnet_opt_apply_json_text(const opt_def *t, const char *text, size_t len, const char *src, opt_strings *k, char *err, size_t n) {
    char jerr[256];
    fastfnet_json *j = fastfnet_json_parse(text, len, jerr, sizeof jerr);
    int rc = 0;
    if (!j || j->type != FASTFNET_JSON_OBJECT) rc = fastfnet_err(err, n, "%s: not a JSON object (%s)", src, j ? "wrong type" : jerr);
    for (int i = 0; !rc && i < j->n; i++) {
        const opt_def *o = opt_find(t, j->keys[i]);
        if (!o) rc = fastfnet_err(err, n, "%s: unknown option \"%s\" (see --help)", src, j->keys[i]);
        else rc = opt_set_json(o, &j->items[i], src, j->keys[i], k, err, n);
    }
    fastfnet_json_free(j);
    return rc;
}

/* Apply a JSON config file: keys are option names (dashes or underscores). */
static int opt_apply_json(const opt_def *t, const char *path, opt_strings *k, char *err, size_t n) {
    size_t len;
    char jerr[256], src[4200];
    char *buf = fastfnet_read_file(path, &len, (size_t)1 << 20, jerr, sizeof jerr);
    if (!buf) return fastfnet_err(err, n, "--config %s", jerr);
    snprintf(src, sizeof src, "--config %s", path);
    int rc = fastfnet_opt_apply_json_text(t, buf, len, src, k, err, n);
    free(buf);
    return rc;
}

/* One "--name[=value]" at argv[*i] (its value may be the next argument). */
static int opt_flag(const opt_def *t, int argc, const char *const *argv, int *i, const char *cmd, opt_strings *k, char *err,
                    size_t n) {
    const char *a = argv[*i], *eq = strchr(a, '=');
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a - 2 : (long)strlen(a) - 2), a + 2);
    const opt_def *o = opt_find(t, name);
    if (!o) return fastfnet_err(err, n, "unknown option '%s' (see %s --help)", a, cmd);
    if (o->type == OPT_BOOL && !eq) return opt_set(o, "true", "--", k, err, n);
    if (eq) return opt_set(o, eq + 1, "--", k, err, n);
    if (*i + 1 >= argc) return fastfnet_err(err, n, "%s needs a value (see --help)", a);
    return opt_set(o, argv[++*i], "--", k, err, n);
}

int fastfnet_opt_parse(const opt_def *t, int argc, const char *const *argv, const char *cmd, const char **pos, int npos, int *npos_out,
              opt_strings *keep, char *err, size_t errlen) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) return fastfnet_err(err, errlen, "--config needs a file");
            if (opt_apply_json(t, argv[i + 1], keep, err, errlen)) return -1;
        }
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    int np = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) i++;
        else if (!strncmp(a, "--", 2)) {
            if (opt_flag(t, argc, argv, &i, cmd, keep, err, errlen)) return -1;
        } else if (np >= npos) {
            return fastfnet_err(err, errlen, "unexpected argument '%s' (see %s --help)", a, cmd);
        } else if (!(pos[np++] = opt_keep(keep, a))) {
            return fastfnet_err(err, errlen, "out of memory");
        }
    }
    if (npos_out) *npos_out = np;
    return 0;
}

void fastfnet_opt_value(const opt_def *o, char *def, size_t n) {
    switch (o->type) {
    case OPT_INT:
    case OPT_INT_AUTO: snprintf(def, n, "%d", *(int *)o->ptr); break;
    case OPT_LONG: snprintf(def, n, "%ld", *(long *)o->ptr); break;
    case OPT_DOUBLE: snprintf(def, n, "%g", *(double *)o->ptr); break;
    case OPT_STR: snprintf(def, n, "%s", *(const char **)o->ptr ? *(const char **)o->ptr : "-"); break;
    case OPT_BOOL: snprintf(def, n, "%s", *(int *)o->ptr ? "on" : "off"); break;
    }
}

int fastfnet_opt_same(const opt_def *a, const opt_def *b) {
    switch (a->type) {
    case OPT_INT:
    case OPT_INT_AUTO:
    case OPT_BOOL: return *(int *)a->ptr == *(int *)b->ptr;
    case OPT_LONG: return *(long *)a->ptr == *(long *)b->ptr;
    case OPT_DOUBLE: { /* at 9 digits, what fastfnet_opt_to_json kept before it kept every digit */
        char x[64], y[64];
        snprintf(x, sizeof x, "%.9g", *(double *)a->ptr);
        snprintf(y, sizeof y, "%.9g", *(double *)b->ptr);
        return !strcmp(x, y);
    }
    case OPT_STR: {
        const char *x = *(const char **)a->ptr, *y = *(const char **)b->ptr;
        return x == y || (x && y && !strcmp(x, y));
    }
    }
    return 0;
}

char *fastfnet_opt_help(const opt_def *t) {
    size_t cap = 1, pos = 0;
    for (const opt_def *o = t; o->name; o++) cap += o->help ? strlen(o->help) + 200 : 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[0] = 0;
    for (const opt_def *o = t; o->name; o++) {
        if (!o->help) continue;
        char def[64], flag[64];
        fastfnet_opt_value(o, def, sizeof def);
        snprintf(flag, sizeof flag, "--%s%s", o->name, o->type == OPT_BOOL ? "" : " X");
        pos += (size_t)snprintf(buf + pos, cap - pos, "  %-22s %s (default %s)\n", flag, o->help, def);
    }
    return buf;
}

/* The value of o as JSON at buf[*pos]. */
static void opt_json_value(const opt_def *o, char *buf, size_t cap, size_t *pos) {
    switch (o->type) {
    case OPT_INT:
    case OPT_INT_AUTO: *pos += (size_t)snprintf(buf + *pos, cap - *pos, "%d", *(int *)o->ptr); break;
    case OPT_LONG: *pos += (size_t)snprintf(buf + *pos, cap - *pos, "%ld", *(long *)o->ptr); break;
    case OPT_DOUBLE: { /* the shortest that reads back as the same double (a resume takes its options from here) */
        double d = *(double *)o->ptr;
        int p = 9;
        char num[40];
        while (snprintf(num, sizeof num, "%.*g", p, d), p < 17 && strtod(num, NULL) != d) p++;
        *pos += (size_t)snprintf(buf + *pos, cap - *pos, "%s", num);
        break;
    }
    case OPT_BOOL: *pos += (size_t)snprintf(buf + *pos, cap - *pos, "%s", *(int *)o->ptr ? "true" : "false"); break;
    case OPT_STR: {
        const char *v = *(const char **)o->ptr;
        if (!v || fastfnet_json_escape(buf, cap, pos, v)) *pos += (size_t)snprintf(buf + *pos, cap - *pos, "null");
        break;
    }
    }
}

char *fastfnet_opt_to_json(const opt_def *t) {
    size_t cap = 256, pos = 0;
    for (const opt_def *o = t; o->name; o++) cap += 64 + (o->type == OPT_STR && *(const char **)o->ptr ? strlen(*(const char **)o->ptr) * 6 : 32);
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[pos++] = '{';
    for (const opt_def *o = t; o->name; o++) {
        char key[64];
        snprintf(key, sizeof key, "%s", o->name);
        for (char *c = key; *c; c++) *c = *c == '-' ? '_' : *c;
        pos += (size_t)snprintf(buf + pos, cap - pos, "%s\"%s\": ", o == t ? "" : ", ", key);
        opt_json_value(o, buf, cap, &pos);
    }
    snprintf(buf + pos, cap - pos, "}");
    return buf;
}

void fastfnet_opt_arch_entries(opt_def *t, fastfnet_arch_opts *a) {
    const opt_def e[OPT_ARCH_COUNT] = {
        {"arch", OPT_STR, &a->arch, "fnet | fast-fnet (the authors' Fast-FNet) | fast-fnet-narrow | bert | hybrid"},
        {"hidden", OPT_INT, &a->hidden, "model width (embedding width, width of layer 0)"},
        {"layers", OPT_INT, &a->layers, "encoder layers"},
        {"intermediate", OPT_INT_AUTO, &a->intermediate, "FFN width at full width (-1: 4 x hidden)"},
        {"heads", OPT_INT_AUTO, &a->heads, "attention heads (-1: hidden/64, at least 1)"},
        {"reduce", OPT_STR, &a->reduce, "fast-fnet-narrow: layers that halve the width for good, e.g. 0 or 0,6 (default 0)"},
        {"residual", OPT_STR, &a->residual, "Fast-FNet Dimension Reduction: dense | maxpool | avgpool | slice (default dense)"},
        {"pad", OPT_STR, &a->pad, "fast-fnet: where a block's H/2 values sit when padded back to H: first | centred (default first)"},
        {"block-ffn", OPT_STR, &a->block_ffn, "fast-fnet: FFN inner width at H/2: unchanged (--intermediate) | halved (default unchanged)"},
        {"attention-layers", OPT_INT, &a->attention_layers, "hybrid: attention in the top K layers"},
        {"mixing", OPT_STR, &a->mixing, "per-layer override: fourier,fast_fourier,fast_fourier_pad,attention,... (one per layer)"},
        {"fourier-impl", OPT_STR, &a->fourier_impl, "auto | fft | matrix (default auto)"},
        {"dropout", OPT_DOUBLE, &a->dropout, "hidden and attention dropout"}};
    memcpy(t, e, sizeof e);
}

void fastfnet_opt_train_table(opt_def *t, fastfnet_train_opts *o, int *threads) {
    const opt_def head[] = {
        {"task", OPT_STR, &o->task, "classify | classify-pair | mlm"},
        {"data", OPT_STR, &o->data, "built-in data set: image | text | sotu | listops | pathfinder | pretrain"},
        {"data-dir", OPT_STR, &o->data_dir, "where scripts/fetch_data.sh put the data sets"},
        {"difficulty", OPT_STR, &o->difficulty, "--data pathfinder: easy | medium | hard (contour length 6, 9, 14)"},
        {"train", OPT_STR, &o->train, "training file: .jsonl ({\"text\",\"label\"}) or TSV (label<TAB>text); raw text for mlm"},
        {"valid", OPT_STR, &o->valid, "validation file (default: hold out --valid-frac of train)"},
        {"test", OPT_STR, &o->test, "test file, evaluated once at the end"},
        {"valid-frac", OPT_DOUBLE, &o->valid_frac, "held-out fraction when there is no validation file"},
        {"limit", OPT_INT, &o->limit, "use at most this many training examples (0: all)"},
        {"eval-limit", OPT_INT, &o->eval_limit, "use at most this many validation/test examples (0: all)"},
        {"max-len", OPT_INT, &o->max_len, "sequence length: longer inputs are truncated (counted in the log), shorter padded (attention models: to the batch's longest); 0: 785 for images, the --init-from model's, else 512"},
        {"tokenizer", OPT_STR, &o->tokenizer, "byte | word | bpe (word/bpe are trained on the training text)"},
        {"tokenizer-file", OPT_STR, &o->tokenizer_file, "use this tokenizer.json or SentencePiece .model instead of training one"},
        {"vocab-size", OPT_INT, &o->vocab_size, "vocabulary size for word/bpe training"},
        {"batch", OPT_INT, &o->batch, "sequences per micro-batch"},
        {"seed", OPT_LONG, &o->seed, "seed for initialisation, data order, masking and dropout"},
        {"threads", OPT_INT, threads, "threads (0: all cores)"}};
    const opt_def tail[] = {
        {"epochs", OPT_INT, &o->epochs, "passes over the training data (when --steps is 0)"},
        {"steps", OPT_INT, &o->steps, "optimizer steps (0: from --epochs)"},
        {"accum", OPT_INT, &o->accum, "micro-batches accumulated per step"},
        {"lr", OPT_DOUBLE, &o->lr, "peak learning rate"},
        {"schedule", OPT_STR, &o->schedule, "decay after warmup: linear | cosine"},
        {"warmup", OPT_INT_AUTO, &o->warmup, "warmup steps (-1: --warmup-frac of the steps)"},
        {"warmup-frac", OPT_DOUBLE, &o->warmup_frac, "warmup as a fraction of the steps"},
        {"min-lr-ratio", OPT_DOUBLE, &o->min_lr_ratio, "final learning rate / peak"},
        {"weight-decay", OPT_DOUBLE, &o->weight_decay, "AdamW decoupled weight decay (not on biases, LayerNorm)"},
        {"beta1", OPT_DOUBLE, &o->beta1, "AdamW beta1"},
        {"beta2", OPT_DOUBLE, &o->beta2, "AdamW beta2"},
        {"eps", OPT_DOUBLE, &o->eps, "AdamW epsilon"},
        {"clip", OPT_DOUBLE, &o->clip, "clip the global gradient norm to this (0: off)"},
        {"eval-every", OPT_INT, &o->eval_every, "evaluate every N steps (0: 5 times per run)"},
        {"save-every", OPT_INT, &o->save_every, "checkpoint every N steps (0: at each evaluation)"},
        {"keep", OPT_INT, &o->keep, "checkpoints kept"},
        {"patience", OPT_INT, &o->patience, "stop after N evaluations without improvement (0: off)"},
        {"log-every", OPT_INT, &o->log_every, "progress and metrics every N steps"},
        {"nsp", OPT_BOOL, &o->nsp, "mlm: also next-sentence prediction"},
        {"out", OPT_STR, &o->out, "output directory"},
        {"resume", OPT_STR, &o->resume, "continue the run in DIR from its last checkpoint, with the run's options (a flag given must agree, but for --steps, --threads, --log-every and a few others: docs/TRAINING.md)"},
        {"metrics", OPT_STR, &o->metrics, "append metrics here, each line naming the run, so runs may share the file (default DIR/metrics.jsonl)"},
        {"init-from", OPT_STR, &o->init_from, "start from this pre-trained model directory (fastfnet's, or HF's layout: config.json, model.safetensors, spiece.model or tokenizer.json)"},
        {"record", OPT_STR, &o->record, "write the initial weights and every step's batches to DIR, to replay the run in another implementation (tests/twin_replay.py; replayable with --dropout 0)"},
        {"force", OPT_BOOL, &o->force, "start over in an --out that holds a run: its model, checkpoints and metrics go first (and overwrite a record in --record)"},
        {"zero", OPT_BOOL, &o->zero, "under mpirun: shard the AdamW moments across the processes (ZeRO-1)"},
        {NULL, 0, NULL, NULL}};
    size_t nh = sizeof head / sizeof *head;
    memcpy(t, head, sizeof head);
    fastfnet_opt_arch_entries(t + nh, &o->arch);
    memcpy(t + nh + OPT_ARCH_COUNT, tail, sizeof tail);
}
