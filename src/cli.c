/* cli.c: the fastfnet command-line tool: init, info, embed (training and evaluation: see issue 3). */
#include "fastfnet.h"
#include "fft.h"
#include "json.h"
#include "plot.h"
#include "tokenizer.h"
#include "train.h"
#include "listops.h"
#include "pathfinder.h"
#include "model_dir.h"
#include "safetensors.h"
#include "spm.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FFN_VERSION /* set by the Makefile: version and git commit */
#define FFN_VERSION "0.1.0"
#endif
#ifndef FFN_WITH_MPI
#define FFN_WITH_MPI 0
#endif

static const char *USAGE =
    "usage: fastfnet <command> [options]   (fastfnet --version: version and optional parts built in)\n"
    "\n"
    "commands:\n"
    "  init    create a model with fresh weights (FNet, Fast-FNet, BERT or hybrid) and save it\n"
    "  info    print a model's config, parameter counts and memory estimate\n"
    "  embed   run the encoder over token ids and save last_hidden_state and pooler_output\n"
    "  train   train a model on a task (classify, classify-pair, mlm) and save checkpoints\n"
    "  eval    loss and accuracy of a trained model on a data split\n"
    "  predict labels and probabilities for new examples, one JSON line each\n"
    "  tokenizer  train | encode | decode with byte, word, BPE or SentencePiece tokenizers\n"
    "  plot    draw loss and accuracy curves from metrics files as SVG\n"
    "  data    generate the ListOps data set\n"
    "\n"
    "`fastfnet <command> --help` describes each command's options.\n"
    "\n"
    "environment:\n"
    "  FASTFNET_THREADS=N     threads (default: all cores); --threads N on a command overrides it\n"
    "  FASTFNET_WISDOM=FILE   FFTW wisdom file: plans are measured (FFTW_MEASURE) once, saved to FILE and\n"
    "                         reused by later runs\n";

static const char *INFO_HELP =
    "usage: fastfnet info MODEL [--batch B] [--seq T]\n"
    "\n"
    "MODEL is a .safetensors file written by fastfnet or an HF directory (config.json +\n"
    "model.safetensors, e.g. google/fnet-base). Prints the config, parameters per part, and the\n"
    "memory training and inference need for a batch of B sequences of T tokens\n"
    "(defaults: B 8, T = max_position_embeddings).\n";

static const char *EMBED_HELP =
    "usage: fastfnet embed --model MODEL --ids FILE --out OUT.safetensors [--batch N] [--threads N]\n"
    "\n"
    "FILE holds one sequence per line as space-separated token ids. Shorter lines are padded with the\n"
    "model's pad_token_id to the longest line. OUT receives float32 last_hidden_state [B,T,H] and\n"
    "pooler_output [B,H] (HF's names; the latter only if the model has a pooler). Sequences run in\n"
    "chunks of --batch (default 16).\n";

static int is_flag(const char *a, const char *name) { return !strcmp(a, name); }

/* Fetch the value after a flag, or exit naming the flag. */
static const char *need(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) ffn_die("%s needs a value (see --help)", argv[*i]);
    return argv[++*i];
}

static long parse_long(const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        ffn_die("%s: '%s' is not an integer in %ld..%ld", flag, s, lo, hi);
    return v;
}

static int cmd_init(int argc, char **argv);

static void human_bytes(char *buf, size_t n, double b) {
    if (b >= 1 << 30) snprintf(buf, n, "%.2f GiB", b / (1 << 30));
    else if (b >= 1 << 20) snprintf(buf, n, "%.1f MiB", b / (1 << 20));
    else snprintf(buf, n, "%.1f KiB", b / 1024);
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int B = 8, T = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_flag(a, "--help") || is_flag(a, "-h")) {
            fputs(INFO_HELP, stdout);
            return 0;
        } else if (is_flag(a, "--batch")) B = (int)parse_long(a, need(argc, argv, &i), 1, 1 << 20);
        else if (is_flag(a, "--seq")) T = (int)parse_long(a, need(argc, argv, &i), 1, 1 << 20);
        else if (is_flag(a, "--model")) path = need(argc, argv, &i);
        else if (is_flag(a, "--threads")) ffn_set_threads((int)parse_long(a, need(argc, argv, &i), 1, 1024));
        else if (a[0] == '-') ffn_die("info: unknown option '%s' (see fastfnet info --help)", a);
        else path = a;
    }
    if (!path) ffn_die("info: which model? usage: fastfnet info MODEL");
    char err[1024];
    ffn_model *m = ffn_model_load(path, err, sizeof err);
    if (!m) ffn_die("%s", err);
    const ffn_config *c = ffn_model_config(m);
    if (T < 0) T = c->max_position;
    if (T > c->max_position) ffn_die("--seq %d exceeds max_position_embeddings %d", T, c->max_position);
    char json[8192];
    ffn_config_to_json(c, json, sizeof json);
    printf("model: %s\nconfig:\n%s", path, json);
    /* parameters per part: embeddings, each layer, heads */
    size_t emb = 0, heads = 0, layer[FFN_MAX_LAYERS] = {0};
    for (int i = 0; i < ffn_model_num_tensors(m); i++) {
        ffn_tensor t = ffn_model_tensor(m, i);
        int l;
        if (!strncmp(t.name, "fnet.embeddings.", 16)) emb += t.numel;
        else if (sscanf(t.name, "fnet.encoder.layer.%d.", &l) == 1) layer[l] += t.numel;
        else heads += t.numel;
    }
    size_t total = ffn_model_num_params(m), enc = emb;
    printf("parameters:\n  embeddings            %12zu\n", emb);
    for (int l = 0; l < c->num_layers; l++) {
        if (c->mixing[l] == FFN_MIX_FAST_FOURIER_PAD)
            printf("  layer %-2d %-12s %12zu  (width %d -> %d inside, FFN %d, padded back to %d)\n", l, ffn_mixing_name(c->mixing[l]),
                   layer[l], ffn_config_width(c, l), ffn_config_width(c, l) / 2, ffn_config_block_ffn_width(c, ffn_config_width(c, l)),
                   ffn_config_width(c, l + 1));
        else
            printf("  layer %-2d %-12s %12zu  (width %d -> %d)\n", l, ffn_mixing_name(c->mixing[l]), layer[l],
                   ffn_config_width(c, l), ffn_config_width(c, l + 1));
        enc += layer[l];
    }
    printf("  heads (pooler, mlm transform+bias, nsp, classifier) %zu\n", heads);
    printf("  encoder (embeddings + layers) %zu\n  total %zu (%.2fM)\n", enc, total, total / 1e6);
    double pb = (double)total * sizeof(float);
    double act_inf = (double)ffn_model_activation_bytes(c, B, T, 0), act_tr = (double)ffn_model_activation_bytes(c, B, T, 1);
    char s1[32], s2[32], s3[32], s4[32];
    human_bytes(s1, sizeof s1, pb);
    human_bytes(s2, sizeof s2, act_inf);
    human_bytes(s3, sizeof s3, pb + act_inf);
    printf("memory for a batch of %d x %d tokens:\n", B, T);
    printf("  inference: parameters %s + activations %s = %s\n", s1, s2, s3);
    human_bytes(s1, sizeof s1, 4 * pb);
    human_bytes(s2, sizeof s2, act_tr);
    human_bytes(s4, sizeof s4, 4 * pb + act_tr);
    printf("  training:  parameters + gradients + AdamW moments %s + activations and their gradients %s = %s\n", s1,
           s2, s4);
    ffn_model_free(m);
    return 0;
}

/* Parse an ids file: one sequence per line, space-separated ids; pads to the longest line. */
static int *read_ids(const char *path, const ffn_config *c, int *outB, int *outT) {
    FILE *f = fopen(path, "r");
    if (!f) ffn_die("%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1024, n = 0;
    int *vals = ffn_malloc(cap * sizeof(int));
    int lines = 0, maxT = 0;
    int *lens = ffn_malloc(sizeof(int) * 1024);
    size_t lcap = 1024;
    char *line = NULL;
    size_t lsz = 0;
    ssize_t got;
    while ((got = getline(&line, &lsz, f)) != -1) {
        int len = 0;
        char *p = line;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
            if (!*p) break;
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || (*end && *end != ' ' && *end != '\t' && *end != '\r' && *end != '\n'))
                ffn_die("%s:%d: '%.*s' is not a token id", path, lines + 1, (int)strcspn(p, " \t\r\n") > 20 ? 20 : (int)strcspn(p, " \t\r\n"), p);
            if (v < 0 || v >= c->vocab_size)
                ffn_die("%s:%d: token id %ld at position %d is outside the vocabulary (0..%d)", path, lines + 1, v, len,
                        c->vocab_size - 1);
            if (n == cap) vals = realloc(vals, (cap *= 2) * sizeof(int));
            if (!vals) ffn_die("out of memory reading %s", path);
            vals[n++] = (int)v;
            len++;
            p = end;
        }
        if (len == 0) ffn_die("%s:%d: empty line (every line must hold a sequence)", path, lines + 1);
        if (len > c->max_position)
            ffn_die("%s:%d: %d tokens exceed the model's max_position_embeddings %d", path, lines + 1, len, c->max_position);
        if ((size_t)lines == lcap) lens = realloc(lens, (lcap *= 2) * sizeof(int));
        if (!lens) ffn_die("out of memory reading %s", path);
        lens[lines++] = len;
        if (len > maxT) maxT = len;
    }
    free(line);
    fclose(f);
    if (lines == 0) ffn_die("%s: no sequences", path);
    int *ids = ffn_malloc(sizeof(int) * (size_t)lines * maxT);
    size_t k = 0;
    for (int b = 0; b < lines; b++)
        for (int t = 0; t < maxT; t++) ids[(size_t)b * maxT + t] = t < lens[b] ? vals[k++] : c->pad_token_id;
    free(vals);
    free(lens);
    *outB = lines;
    *outT = maxT;
    return ids;
}

static int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *idsf = NULL, *out = NULL;
    int chunk = 16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_flag(a, "--help") || is_flag(a, "-h")) {
            fputs(EMBED_HELP, stdout);
            return 0;
        } else if (is_flag(a, "--model")) model = need(argc, argv, &i);
        else if (is_flag(a, "--ids")) idsf = need(argc, argv, &i);
        else if (is_flag(a, "--out")) out = need(argc, argv, &i);
        else if (is_flag(a, "--batch")) chunk = (int)parse_long(a, need(argc, argv, &i), 1, 1 << 16);
        else if (is_flag(a, "--threads")) ffn_set_threads((int)parse_long(a, need(argc, argv, &i), 1, 1024));
        else ffn_die("embed: unknown option '%s' (see fastfnet embed --help)", a);
    }
    if (!model || !idsf || !out) ffn_die("embed: --model, --ids and --out are required (see fastfnet embed --help)");
    char err[1024];
    ffn_model *m = ffn_model_load(model, err, sizeof err);
    if (!m) ffn_die("%s", err);
    const ffn_config *c = ffn_model_config(m);
    int B, T;
    int *ids = read_ids(idsf, c, &B, &T);
    int H = ffn_config_width(c, c->num_layers), pool = (c->heads & FFN_HEAD_POOLER) != 0;
    if (chunk > B) chunk = B;
    if (ffn_model_reserve(m, chunk, T, 0, err, sizeof err)) ffn_die("%s", err);
    float *hid = ffn_malloc(sizeof(float) * (size_t)B * T * H), *pooled = ffn_malloc(sizeof(float) * (size_t)B * H);
    double t0 = ffn_now();
    for (int b0 = 0; b0 < B; b0 += chunk) {
        int nb = B - b0 < chunk ? B - b0 : chunk;
        ffn_batch batch = {.B = nb, .T = T, .input_ids = ids + (size_t)b0 * T};
        if (ffn_model_check_batch(m, &batch, err, sizeof err)) ffn_die("%s: %s", idsf, err);
        ffn_model_forward(m, &batch, 0);
        memcpy(hid + (size_t)b0 * T * H, ffn_model_hidden(m), sizeof(float) * (size_t)nb * T * H);
        if (pool) memcpy(pooled + (size_t)b0 * H, ffn_model_pooled(m), sizeof(float) * (size_t)nb * H);
    }
    double dt = ffn_now() - t0;
    ffn_st_out o[2] = {{"last_hidden_state", FFN_DT_F32, 3, {B, T, H}, hid}, {"pooler_output", FFN_DT_F32, 2, {B, H}, pooled}};
    const char *meta[] = {"format", "pt", "producer", "fastfnet embed", NULL};
    if (ffn_st_write(out, o, pool ? 2 : 1, meta, err, sizeof err)) ffn_die("%s", err);
    printf("embedded %d sequences of %d tokens in %.3f s (%.0f tokens/s); wrote %s: last_hidden_state [%d,%d,%d]%s\n", B, T,
           dt, B * T / (dt > 0 ? dt : 1e-9), out, B, T, H, pool ? ", pooler_output" : "");
    ffn_free(hid);
    ffn_free(pooled);
    ffn_free(ids);
    ffn_model_free(m);
    return 0;
}

/* ---------- option tables (train / eval / predict share them, and a JSON config gives the same) ---------- */

typedef enum { OPT_INT, OPT_LONG, OPT_DOUBLE, OPT_STR, OPT_BOOL } opt_type;
typedef struct {
    const char *name;
    opt_type type;
    void *ptr;
    const char *help;
} opt_def;

/* An option without help text is accepted but not listed (a deprecated spelling). */
static void opt_print_help(const opt_def *t, FILE *f) {
    for (; t->name; t++) {
        if (!t->help) continue;
        char def[64];
        switch (t->type) {
        case OPT_INT: snprintf(def, sizeof def, "%d", *(int *)t->ptr); break;
        case OPT_LONG: snprintf(def, sizeof def, "%ld", *(long *)t->ptr); break;
        case OPT_DOUBLE: snprintf(def, sizeof def, "%g", *(double *)t->ptr); break;
        case OPT_STR: snprintf(def, sizeof def, "%s", *(const char **)t->ptr ? *(const char **)t->ptr : "-"); break;
        case OPT_BOOL: snprintf(def, sizeof def, "%s", *(int *)t->ptr ? "on" : "off"); break;
        }
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", t->name, t->type == OPT_BOOL ? "" : " X");
        fprintf(f, "  %-22s %s (default %s)\n", flag, t->help, def);
    }
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

static void opt_set(const opt_def *o, const char *v, const char *src) {
    char flag[80];
    snprintf(flag, sizeof flag, "%s%s", src, o->name);
    switch (o->type) {
    case OPT_INT: *(int *)o->ptr = (int)parse_long(flag, v, -1, 1L << 30); break;
    case OPT_LONG: *(long *)o->ptr = parse_long(flag, v, 0, 0x7fffffffL); break;
    case OPT_DOUBLE: {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d)) ffn_die("%s: '%s' is not a number", flag, v);
        *(double *)o->ptr = d;
        break;
    }
    case OPT_STR: *(const char **)o->ptr = v; break;
    case OPT_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true")) *(int *)o->ptr = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false")) *(int *)o->ptr = 0;
        else ffn_die("%s: '%s' must be true or false", flag, v);
        break;
    }
}

/* Apply a JSON config file: keys are option names (dashes or underscores). Strings stay alive (leaked on
 * purpose: the options point into them for the whole run). */
static void opt_apply_json(const opt_def *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) ffn_die("--config %s: cannot open (%s)", path, strerror(errno));
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    char err[256];
    ffn_json *j = ffn_json_parse(buf, n, err, sizeof err);
    if (!j || j->type != FFN_JSON_OBJECT) ffn_die("--config %s: not a JSON object (%s)", path, j ? "wrong type" : err);
    for (int i = 0; i < j->n; i++) {
        const opt_def *o = opt_find(t, j->keys[i]);
        if (!o) ffn_die("--config %s: unknown option \"%s\" (see --help)", path, j->keys[i]);
        const ffn_json *v = &j->items[i];
        char num[64], src[300];
        snprintf(src, sizeof src, "%s: ", path);
        if (v->type == FFN_JSON_NULL) continue;
        if (v->type == FFN_JSON_STRING) opt_set(o, strdup(v->str), src);
        else if (v->type == FFN_JSON_BOOL) opt_set(o, v->boolean ? "true" : "false", src);
        else if (v->type == FFN_JSON_NUMBER) {
            snprintf(num, sizeof num, "%.17g", v->number);
            opt_set(o, strdup(num), src);
        } else ffn_die("--config %s: option \"%s\" must be a string, number or boolean", path, j->keys[i]);
    }
    ffn_json_free(j);
    free(buf);
}

/* Parse argv against the table; --config FILE is applied first so flags override it. Positional arguments
 * are returned in pos (at most npos). */
static int opt_parse(const opt_def *t, int argc, char **argv, const char *usage, const char **pos, int npos) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) ffn_die("--config needs a file");
            opt_apply_json(t, argv[i + 1]);
        }
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            opt_print_help(t, stdout);
            exit(0);
        }
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--", 2)) {
            char name[128];
            const char *eq = strchr(a, '=');
            snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a - 2 : (long)strlen(a) - 2), a + 2);
            const opt_def *o = opt_find(t, name);
            if (!o) ffn_die("unknown option '%s' (see %s --help)", a, argv[0]);
            if (o->type == OPT_BOOL && !eq) opt_set(o, "true", "--");
            else opt_set(o, eq ? eq + 1 : need(argc, argv, &i), "--");
            continue;
        }
        if (np >= npos) ffn_die("unexpected argument '%s' (see %s --help)", a, argv[0]);
        pos[np++] = a;
    }
    return np;
}

static int g_threads;

/* The resolved options as a JSON object with the table's names (dashes as underscores): printed at the start
 * of a run and saved with its checkpoints, and valid input for --config. */
static char *opt_to_json(const opt_def *t) {
    size_t cap = 256, pos = 0;
    for (const opt_def *o = t; o->name; o++) cap += 64 + (o->type == OPT_STR && *(const char **)o->ptr ? strlen(*(const char **)o->ptr) * 6 : 32);
    char *buf = malloc(cap);
    buf[pos++] = '{';
    for (const opt_def *o = t; o->name; o++) {
        char key[64];
        snprintf(key, sizeof key, "%s", o->name);
        for (char *c = key; *c; c++) *c = *c == '-' ? '_' : *c;
        pos += (size_t)snprintf(buf + pos, cap - pos, "%s\"%s\": ", o == t ? "" : ", ", key);
        switch (o->type) {
        case OPT_INT: pos += (size_t)snprintf(buf + pos, cap - pos, "%d", *(int *)o->ptr); break;
        case OPT_LONG: pos += (size_t)snprintf(buf + pos, cap - pos, "%ld", *(long *)o->ptr); break;
        case OPT_DOUBLE: pos += (size_t)snprintf(buf + pos, cap - pos, "%.9g", *(double *)o->ptr); break;
        case OPT_BOOL: pos += (size_t)snprintf(buf + pos, cap - pos, "%s", *(int *)o->ptr ? "true" : "false"); break;
        case OPT_STR: {
            const char *v = *(const char **)o->ptr;
            if (!v || ffn_json_escape(buf, cap, &pos, v)) pos += (size_t)snprintf(buf + pos, cap - pos, "null");
            break;
        }
        }
    }
    snprintf(buf + pos, cap - pos, "}");
    return buf;
}

#define ARCH_OPTS(a)                                                                                               \
    {"arch", OPT_STR, &a.arch, "fnet | fast-fnet (the authors' Fast-FNet) | fast-fnet-narrow | bert | hybrid"},      \
    {"hidden", OPT_INT, &a.hidden, "model width (embedding width, width of layer 0)"},                            \
    {"layers", OPT_INT, &a.layers, "encoder layers"},                                                              \
    {"intermediate", OPT_INT, &a.intermediate, "FFN width at full width (-1: 4 x hidden)"},                       \
    {"heads", OPT_INT, &a.heads, "attention heads (-1: hidden/64, at least 1)"},                                  \
    {"reduce", OPT_STR, &a.reduce, "fast-fnet-narrow: layers that halve the width for good, e.g. 0 or 0,6 (default 0)"}, \
    {"residual", OPT_STR, &a.residual, "Fast-FNet Dimension Reduction: dense | maxpool | avgpool | slice (default dense)"}, \
    {"pad", OPT_STR, &a.pad, "fast-fnet: where a block's H/2 values sit when padded back to H: first | centred (default first)"}, \
    {"block-ffn", OPT_STR, &a.block_ffn, "fast-fnet: FFN inner width at H/2: unchanged (--intermediate) | halved (default unchanged)"}, \
    {"attention-layers", OPT_INT, &a.attention_layers, "hybrid: attention in the top K layers"},                  \
    {"mixing", OPT_STR, &a.mixing, "per-layer override: fourier,fast_fourier,fast_fourier_pad,attention,... (one per layer)"}, \
    {"fourier-impl", OPT_STR, &a.fourier_impl, "auto | fft | matrix (default auto)"},                             \
    {"dropout", OPT_DOUBLE, &a.dropout, "hidden and attention dropout"}

static const char *INIT_USAGE =
    "usage: fastfnet init --out FILE.safetensors [options]\n"
    "\n"
    "Create a model with HF FNet's initialisation (normal 0.02, zero biases) and save it as one safetensors\n"
    "file with its config in the metadata. An existing FILE is kept unless --force. Options:\n";

static int cmd_init(int argc, char **argv) {
    ffn_arch_opts a;
    ffn_arch_defaults(&a);
    const char *out = NULL;
    long seed = 0;
    int force = 0;
    opt_def t[] = {ARCH_OPTS(a),
                   {"vocab", OPT_INT, &a.vocab, "vocabulary size"},
                   {"max-pos", OPT_INT, &a.max_pos, "maximum sequence length (position embeddings)"},
                   {"labels", OPT_INT, &a.labels, "classifier outputs"},
                   {"outputs", OPT_STR, &a.outputs, "heads among mlm,nsp,classifier,pooler (default all)"},
                   {"seed", OPT_LONG, &seed, "initialisation seed"},
                   {"out", OPT_STR, &out, "safetensors file to write"},
                   {"force", OPT_BOOL, &force, "overwrite an existing --out file"},
                   {"threads", OPT_INT, &g_threads, "threads (0: all cores)"},
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc, argv, INIT_USAGE, NULL, 0);
    if (!out) ffn_die("init: --out FILE.safetensors is required");
    ffn_config c;
    char err[512];
    if (ffn_arch_build(&c, &a, err, sizeof err)) ffn_die("init: %s", err);
    struct stat sb;
    if (!force && stat(out, &sb) == 0) ffn_die("%s already exists; pass --force to overwrite it", out);
    ffn_model *m = ffn_model_create(&c, (uint64_t)seed, err, sizeof err);
    if (!m) ffn_die("init: %s", err);
    if (ffn_model_save(m, out, err, sizeof err)) ffn_die("%s", err);
    printf("wrote %s: %s, %d layers, width %d -> %d, %.3fM parameters\n", out, a.arch ? a.arch : "fnet", c.num_layers, c.hidden_size,
           ffn_config_width(&c, c.num_layers), ffn_model_num_params(m) / 1e6);
    ffn_model_free(m);
    return 0;
}

#define TRAIN_OPTS(o)                                                                                                   \
    {"task", OPT_STR, &o.task, "classify | classify-pair | mlm"},                                                       \
    {"data", OPT_STR, &o.data, "built-in data set: image | text | listops | pathfinder | pretrain"},                    \
    {"data-dir", OPT_STR, &o.data_dir, "where scripts/fetch_data.sh put the data sets"},                                \
    {"difficulty", OPT_STR, &o.difficulty, "--data pathfinder: easy | medium | hard (contour length 6, 9, 14)"},         \
    {"train", OPT_STR, &o.train, "training file: .jsonl ({\"text\",\"label\"}) or TSV (label<TAB>text); raw text for mlm"}, \
    {"valid", OPT_STR, &o.valid, "validation file (default: hold out --valid-frac of train)"},                          \
    {"test", OPT_STR, &o.test, "test file, evaluated once at the end"},                                                 \
    {"valid-frac", OPT_DOUBLE, &o.valid_frac, "held-out fraction when there is no validation file"},                    \
    {"limit", OPT_INT, &o.limit, "use at most this many training examples (0: all)"},                                    \
    {"eval-limit", OPT_INT, &o.eval_limit, "use at most this many validation/test examples (0: all)"},                   \
    {"max-len", OPT_INT, &o.max_len, "sequence length: longer inputs are truncated (counted in the log), shorter padded (attention models: to the batch's longest); 0: 785 for images, the --init-from model's, else 512"}, \
    {"tokenizer", OPT_STR, &o.tokenizer, "byte | word | bpe (word/bpe are trained on the training text)"},              \
    {"tokenizer-file", OPT_STR, &o.tokenizer_file, "use this tokenizer.json or SentencePiece .model instead of training one"},                  \
    {"vocab-size", OPT_INT, &o.vocab_size, "vocabulary size for word/bpe training"},                                    \
    {"batch", OPT_INT, &o.batch, "sequences per micro-batch"},                                                           \
    {"seed", OPT_LONG, &o.seed, "seed for initialisation, data order, masking and dropout"},                           \
    {"threads", OPT_INT, &g_threads, "threads (0: all cores)"}

static const char *TRAIN_USAGE =
    "usage: fastfnet train (--data NAME | --train FILE) --out DIR [options]\n"
    "\n"
    "Trains a model and writes DIR/model.safetensors (+ config.json, tokenizer.json), checkpoints with the\n"
    "full training state under DIR/checkpoints (the last --keep), and metrics as JSON lines. Ctrl-C saves\n"
    "and exits; --resume DIR continues a run exactly. A JSON file given with --config sets the same\n"
    "options (keys are the option names); flags override it. Data-parallel on N processes (MPI build):\n"
    "`mpirun -np N fastfnet train ...`: --batch stays the global batch, each process computes B/N of it\n"
    "(docs/DISTRIBUTED.md). Options:\n";

static int cmd_train(int argc, char **argv) {
    ffn_train_opts o;
    ffn_train_defaults(&o);
    opt_def t[] = {TRAIN_OPTS(o),
                   ARCH_OPTS(o.arch),
                   {"epochs", OPT_INT, &o.epochs, "passes over the training data (when --steps is 0)"},
                   {"steps", OPT_INT, &o.steps, "optimizer steps (0: from --epochs)"},
                   {"accum", OPT_INT, &o.accum, "micro-batches accumulated per step"},
                   {"lr", OPT_DOUBLE, &o.lr, "peak learning rate"},
                   {"schedule", OPT_STR, &o.schedule, "decay after warmup: linear | cosine"},
                   {"warmup", OPT_INT, &o.warmup, "warmup steps (-1: --warmup-frac of the steps)"},
                   {"warmup-frac", OPT_DOUBLE, &o.warmup_frac, "warmup as a fraction of the steps"},
                   {"min-lr-ratio", OPT_DOUBLE, &o.min_lr_ratio, "final learning rate / peak"},
                   {"weight-decay", OPT_DOUBLE, &o.weight_decay, "AdamW decoupled weight decay (not on biases, LayerNorm)"},
                   {"beta1", OPT_DOUBLE, &o.beta1, "AdamW beta1"},
                   {"beta2", OPT_DOUBLE, &o.beta2, "AdamW beta2"},
                   {"eps", OPT_DOUBLE, &o.eps, "AdamW epsilon"},
                   {"clip", OPT_DOUBLE, &o.clip, "clip the global gradient norm to this (0: off)"},
                   {"eval-every", OPT_INT, &o.eval_every, "evaluate every N steps (0: 5 times per run)"},
                   {"save-every", OPT_INT, &o.save_every, "checkpoint every N steps (0: at each evaluation)"},
                   {"keep", OPT_INT, &o.keep, "checkpoints kept"},
                   {"patience", OPT_INT, &o.patience, "stop after N evaluations without improvement (0: off)"},
                   {"log-every", OPT_INT, &o.log_every, "progress and metrics every N steps"},
                   {"nsp", OPT_BOOL, &o.nsp, "mlm: also next-sentence prediction"},
                   {"out", OPT_STR, &o.out, "output directory"},
                   {"resume", OPT_STR, &o.resume, "continue the run in DIR from its last checkpoint"},
                   {"metrics", OPT_STR, &o.metrics, "append metrics here (default DIR/metrics.jsonl)"},
                   {"init-from", OPT_STR, &o.init_from, "start from this pre-trained model directory (fastfnet's, or HF's layout: config.json, model.safetensors, spiece.model or tokenizer.json)"},
                   {"force", OPT_BOOL, &o.force, "overwrite a trained model in --out"},
                   {"zero", OPT_BOOL, &o.zero, "under mpirun: shard the AdamW moments across the processes (ZeRO-1)"},
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc, argv, TRAIN_USAGE, NULL, 0);
    if (o.resume && !o.out) o.out = o.resume;
    if (g_threads > 0) ffn_set_threads(g_threads);
    char *json = opt_to_json(t);
    o.options_json = json;
    int rc = ffn_train_run(&o);
    free(json);
    return rc;
}

static const char *EVAL_USAGE =
    "usage: fastfnet eval --model DIR (--input FILE | --data NAME) [options]\n"
    "\n"
    "Loss and accuracy (masked-token accuracy and perplexity for mlm) of a trained model on every example of\n"
    "FILE (.jsonl or TSV with labels; raw text for mlm), or on the test split of a built-in data set. The\n"
    "tokenizer, length and label map are the model's; labels must be ones the model knows. Options:\n";

/* eval/predict: these name what the model already fixes; given, they must agree with it */
#define MODEL_FIXED_OPTS(o)                                                                                 \
    {"max-len", OPT_INT, &o.max_len, "must equal the model's length if given (the model's is used)"},        \
    {"tokenizer", OPT_STR, &o.tokenizer, "must be the model's tokenizer kind if given"},                       \
    {"tokenizer-file", OPT_STR, &o.tokenizer_file, "must be the model's tokenizer file if given"}

static int cmd_eval(int argc, char **argv) {
    ffn_train_opts o;
    ffn_train_defaults(&o);
    o.task = NULL;
    o.tokenizer = NULL;
    const char *model = NULL;
    opt_def t[] = {{"model", OPT_STR, &model, "trained model directory"},
                   {"input", OPT_STR, &o.train, "file to evaluate: .jsonl ({\"text\",\"label\"}) or TSV (label<TAB>text); raw text for mlm"},
                   {"train", OPT_STR, &o.train, NULL}, /* the old spelling of --input */
                   {"data", OPT_STR, &o.data, "built-in data set (its test split): image | text | listops | pathfinder | pretrain"},
                   {"data-dir", OPT_STR, &o.data_dir, "where scripts/fetch_data.sh put the data sets"},
                   {"difficulty", OPT_STR, &o.difficulty, "--data pathfinder: easy | medium | hard"},
                   {"task", OPT_STR, &o.task, "must be the model's task if given"},
                   {"eval-limit", OPT_INT, &o.eval_limit, "evaluate a seeded subset of this many examples (0: all)"},
                   {"batch", OPT_INT, &o.batch, "sequences per batch"},
                   {"seed", OPT_LONG, &o.seed, "mlm: seed of the evaluation masks"},
                   {"threads", OPT_INT, &g_threads, "threads (0: all cores)"},
                   MODEL_FIXED_OPTS(o),
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc, argv, EVAL_USAGE, NULL, 0);
    if (!model) ffn_die("eval: --model DIR is required (see fastfnet eval --help)");
    if (!o.train && !o.data) ffn_die("eval: give --input FILE or --data NAME (see fastfnet eval --help)");
    if (o.batch < 1) ffn_die("--batch must be >= 1");
    if (g_threads > 0) ffn_set_threads(g_threads);
    char err[1024];
    if (ffn_check_model_opts(model, &o, err, sizeof err)) ffn_die("%s", err);
    return ffn_eval_run(model, &o);
}

static const char *PREDICT_USAGE =
    "usage: fastfnet predict --model DIR [--input FILE|-] [--out FILE] [--batch N]\n"
    "\n"
    "One JSON line per example: {\"line\": N, \"label\": ..., \"probs\": {label: p, ...}}. FILE is .jsonl or .tsv\n"
    "(labels optional) or plain text with one example per line; without --input (or with -) plain text is read\n"
    "from standard input. The tokenizer, length and label map are the model's. Options:\n";

static int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *out = NULL;
    int batch = 32;
    ffn_train_opts o;
    ffn_train_defaults(&o);
    o.tokenizer = NULL;
    opt_def t[] = {{"model", OPT_STR, &model, "trained model directory"},
                   {"input", OPT_STR, &input, "examples to label (- or none: standard input)"},
                   {"out", OPT_STR, &out, "write here instead of stdout"},
                   {"batch", OPT_INT, &batch, "sequences per batch"},
                   {"threads", OPT_INT, &g_threads, "threads (0: all cores)"},
                   MODEL_FIXED_OPTS(o),
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc, argv, PREDICT_USAGE, NULL, 0);
    if (!model) ffn_die("predict: --model DIR is required (see fastfnet predict --help)");
    if (batch < 1) ffn_die("--batch must be >= 1");
    if (g_threads > 0) ffn_set_threads(g_threads);
    char err[1024];
    if (ffn_check_model_opts(model, &o, err, sizeof err)) ffn_die("%s", err);
    return ffn_predict_run(model, input, out, batch);
}

static const char *TOK_USAGE =
    "usage: fastfnet tokenizer train --kind bpe|word|unigram --input TEXT --vocab-size N --out FILE\n"
    "       fastfnet tokenizer encode --tokenizer FILE|byte [--input TEXT]   (ids, space-separated, to stdout)\n"
    "       fastfnet tokenizer decode --tokenizer FILE|byte [--input IDS]    (text to stdout)\n"
    "\n"
    "encode writes one line of ids per input line, decode one line of text per line of ids. Tokenizer files\n"
    "are HF tokenizer.json (BPE: byte-level; word: WordLevel; special ids 0 [CLS], 1 [SEP], 2 [MASK], 3 [PAD],\n"
    "4 [UNK]) or SentencePiece .model files (ids as spm_encode --output_format=id; specials are the model's\n"
    "pieces). --kind unigram trains a SentencePiece unigram model (write it as FILE.model) with FNet's\n"
    "specials: <unk> 0, <s> 1, </s> 2, <pad> 3, [CLS] 4, [SEP] 5, [MASK] 6. Input defaults to standard input.\n";

/* encode/decode: the same line rule for every kind: one output line per input line ('\n' ends a line; a
 * last line without one counts). */
static void tok_encode_lines(ffn_tokenizer *tk, const char *text, size_t len) {
    size_t cap = 1024;
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t n = ffn_tok_encode(tk, text + p, e - p, ids, cap);
        if (n > cap) {
            ids = realloc(ids, sizeof(int32_t) * (cap = n));
            if (!ids) ffn_die("out of memory encoding");
            ffn_tok_encode(tk, text + p, e - p, ids, cap);
        }
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
        p = e + 1;
    }
    free(ids);
}

static void tok_decode_lines(ffn_tokenizer *tk, char *text, size_t len, const char *name) {
    size_t ic = 1024;
    int32_t *ids = malloc(sizeof(int32_t) * ic);
    int line = 0, V = ffn_tok_vocab_size(tk);
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p)), *stop = nl ? nl : text + len;
        *stop = 0;
        line++;
        size_t n = 0;
        for (char *q = p, *end;;) {
            while (*q == ' ' || *q == '\t' || *q == '\r') q++;
            if (!*q) break;
            errno = 0;
            long v = strtol(q, &end, 10);
            if (end == q || errno || v < 0 || v >= V || (*end && *end != ' ' && *end != '\t' && *end != '\r'))
                ffn_die("%s:%d: '%.*s' is not a token id of this tokenizer (0..%d); decode reads space-separated ids, "
                        "one sequence per line", name, line, (int)strcspn(q, " \t\r") > 20 ? 20 : (int)strcspn(q, " \t\r"), q, V - 1);
            if (n == ic) ids = realloc(ids, sizeof(int32_t) * (ic *= 2));
            if (!ids) ffn_die("out of memory decoding");
            ids[n++] = (int32_t)v;
            q = end;
        }
        size_t need = ffn_tok_decode(tk, ids, n, NULL, 0);
        char *o = malloc(need + 1);
        ffn_tok_decode(tk, ids, n, o, need + 1);
        fwrite(o, 1, need, stdout);
        putchar('\n');
        free(o);
        p = stop + 1;
    }
    free(ids);
}

static int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "train") && strcmp(argv[1], "encode") && strcmp(argv[1], "decode"))) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(TOK_USAGE, stdout);
            return 0;
        }
        ffn_die("tokenizer: say train, encode or decode (see fastfnet tokenizer --help)");
    }
    const char *kind = "bpe", *input = NULL, *out = NULL, *tokf = "byte";
    int vocab = 4000, minf = 2;
    opt_def t[] = {{"kind", OPT_STR, &kind, "train: bpe | word | unigram (SentencePiece)"},
                   {"input", OPT_STR, &input, "input file (default stdin)"},
                   {"vocab-size", OPT_INT, &vocab, "train: vocabulary size"},
                   {"min-freq", OPT_INT, &minf, "train: minimum pair/word frequency"},
                   {"out", OPT_STR, &out, "train: tokenizer.json (unigram: a .model file) to write"},
                   {"tokenizer", OPT_STR, &tokf, "encode/decode: tokenizer.json, a SentencePiece .model, or byte"},
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc - 1, argv + 1, TOK_USAGE, NULL, 0);
    char err[1024];
    size_t len = 0, cap = 1 << 20;
    FILE *f = input ? fopen(input, "rb") : stdin;
    if (!f) ffn_die("%s: cannot open (%s)", input, strerror(errno));
    char *text = malloc(cap);
    size_t r;
    while ((r = fread(text + len, 1, cap - len - 1, f)) > 0)
        if ((len += r) + 1 == cap) text = realloc(text, cap *= 2);
    text[len] = 0;
    if (input) fclose(f);
    if (!strcmp(argv[1], "train")) {
        if (!out) ffn_die("tokenizer train: --out FILE is required");
        ffn_tok_kind k = !strcmp(kind, "bpe") ? FFN_TOK_BPE : !strcmp(kind, "word") ? FFN_TOK_WORD
                       : !strcmp(kind, "unigram") ? FFN_TOK_SPM : (ffn_tok_kind)-1;
        if ((int)k < 0) ffn_die("--kind: '%s' must be bpe, word or unigram", kind);
        double t0 = ffn_now();
        ffn_tokenizer *tk = ffn_tok_train(k, text, len, vocab, minf, err, sizeof err);
        if (!tk) ffn_die("%s", err);
        if (ffn_tok_save(tk, out, err, sizeof err)) ffn_die("%s", err);
        fprintf(stderr, "trained a %s tokenizer of %d tokens on %zu bytes in %.2f s; wrote %s\n", kind, ffn_tok_vocab_size(tk), len,
                ffn_now() - t0, out);
        ffn_tok_free(tk);
    } else {
        ffn_tokenizer *tk = !strcmp(tokf, "byte") ? ffn_tok_byte() : ffn_tok_load(tokf, err, sizeof err);
        if (!tk) ffn_die("%s", err);
        if (!strcmp(argv[1], "encode")) tok_encode_lines(tk, text, len);
        else tok_decode_lines(tk, text, len, input ? input : "stdin");
        ffn_tok_free(tk);
    }
    free(text);
    return 0;
}

static const char *PLOT_USAGE =
    "usage: fastfnet plot METRICS.jsonl [MORE.jsonl ...] --out curves.svg [--title T]\n"
    "\n"
    "Loss (train and eval) and accuracy curves against step, one series per file, as a standalone SVG.\n";

static int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *title = "fastfnet training";
    const char *files[32];
    opt_def t[] = {{"out", OPT_STR, &out, "SVG file to write"}, {"title", OPT_STR, &title, "title"}, {NULL, 0, NULL, NULL}};
    int n = opt_parse(t, argc, argv, PLOT_USAGE, files, 32);
    if (!out || n == 0) ffn_die("plot: give metrics files and --out FILE.svg (see fastfnet plot --help)");
    char err[1024];
    if (ffn_plot_svg(files, n, out, title, err, sizeof err)) ffn_die("%s", err);
    printf("wrote %s\n", out);
    return 0;
}

static const char *DATA_USAGE =
    "usage: fastfnet data listops --out FILE.tsv [--n N] [--seed S] [--min-len A] [--max-len B] [--max-depth D]\n"
    "       fastfnet data pathfinder --out PREFIX [--n N] [--seed S] [--difficulty easy|medium|hard]\n"
    "\n"
    "listops: LRA-style ListOps examples as label<TAB>expression lines (see src/listops.h for the rules).\n"
    "pathfinder: LRA-style Pathfinder images, 32 x 32, as PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte\n"
    "(label 1: the two markers are on one path; see src/pathfinder.h for the rules and parameters).\n";

static int cmd_data_pathfinder(int argc, char **argv) {
    const char *out = NULL, *level = "easy";
    int n = 1000;
    long seed = 0;
    opt_def t[] = {{"out", OPT_STR, &out, "prefix of the two IDX files"},
                   {"n", OPT_INT, &n, "images"},
                   {"seed", OPT_LONG, &seed, "seed"},
                   {"difficulty", OPT_STR, &level, "easy | medium | hard (contour length 6, 9, 14)"},
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc, argv, DATA_USAGE, NULL, 0);
    if (!out) ffn_die("data pathfinder: --out PREFIX is required");
    int lv = ffn_pathfinder_level(level);
    if (lv < 0) ffn_die("data pathfinder: --difficulty '%s' must be easy, medium or hard", level);
    if (n < 0) ffn_die("data pathfinder: --n %d must be >= 0", n);
    ffn_pathfinder_config c;
    ffn_pathfinder_default(&c, lv);
    char im[4200], lab[4200], err[1024];
    if (snprintf(im, sizeof im, "%s-images-idx3-ubyte", out) >= (int)sizeof im ||
        snprintf(lab, sizeof lab, "%s-labels-idx1-ubyte", out) >= (int)sizeof lab)
        ffn_die("data pathfinder: --out '%s' is too long", out);
    if (ffn_pathfinder_write_idx(im, lab, &c, (uint64_t)seed, n, err, sizeof err)) ffn_die("%s", err);
    printf("wrote %d Pathfinder images (%s) to %s and %s\n", n, level, im, lab);
    return 0;
}

static int cmd_data(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "pathfinder")) return cmd_data_pathfinder(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "listops")) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(DATA_USAGE, stdout);
            return 0;
        }
        ffn_die("data: give listops or pathfinder (see fastfnet data --help)");
    }
    ffn_listops_config c;
    ffn_listops_default(&c);
    const char *out = NULL;
    int n = 1000;
    long seed = 0;
    opt_def t[] = {{"out", OPT_STR, &out, "TSV file to write"},
                   {"n", OPT_INT, &n, "examples"},
                   {"seed", OPT_LONG, &seed, "seed"},
                   {"min-len", OPT_INT, &c.min_len, "minimum tokens"},
                   {"max-len", OPT_INT, &c.max_len, "maximum tokens"},
                   {"max-depth", OPT_INT, &c.max_depth, "tree levels"},
                   {"max-args", OPT_INT, &c.max_args, "arguments per operator at most"},
                   {NULL, 0, NULL, NULL}};
    opt_parse(t, argc - 1, argv + 1, DATA_USAGE, NULL, 0);
    if (!out) ffn_die("data listops: --out FILE is required");
    char err[1024];
    if (ffn_listops_write_tsv(out, &c, (uint64_t)seed, n, err, sizeof err)) ffn_die("%s", err);
    printf("wrote %d ListOps examples to %s\n", n, out);
    return 0;
}

static const char *g_wisdom;
static void save_wisdom(void) {
    if (g_wisdom && ffn_fft_save_wisdom(g_wisdom))
        fprintf(stderr, "fastfnet: warning: could not write FFTW wisdom to %s\n", g_wisdom);
}

int main(int argc, char **argv) {
    const char *th = getenv("FASTFNET_THREADS");
    ffn_set_threads(th && atoi(th) > 0 ? atoi(th) : omp_get_max_threads());
    g_wisdom = getenv("FASTFNET_WISDOM");
    if (g_wisdom && *g_wisdom) {
        ffn_fft_set_measure(1);
        ffn_fft_load_wisdom(g_wisdom); /* a missing file is fine: it is written at exit */
        atexit(save_wisdom);
    }
    if (argc >= 2 && is_flag(argv[1], "--version")) {
        printf("fastfnet %s; sentencepiece %s; mpi %s\n", FFN_VERSION, ffn_spm_available() ? ffn_spm_version() : "no (apt-get install libsentencepiece-dev, then make)",
               FFN_WITH_MPI ? "yes" : "no");
        return 0;
    }
    if (argc < 2 || is_flag(argv[1], "--help") || is_flag(argv[1], "-h") || is_flag(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "init")) return cmd_init(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "embed")) return cmd_embed(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenizer")) return cmd_tokenizer(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return cmd_data(argc - 1, argv + 1);
    fprintf(stderr, "fastfnet: unknown command '%s'\n%s", cmd, USAGE);
    return 2;
}
