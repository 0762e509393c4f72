/* cli.c: the fastfnet command-line tool: init, info, embed, train, eval, predict, tokenizer, plot and data, each a
 * cmd_ function over the engine's public API and the application library (trainer, data sets, plots). */
#include "fastfnet.h"
#include "die.h"
#include "plot.h"
#include "train.h"
#include "fastfnet_train.h"
#include "listops.h"
#include "pathfinder.h"
#include "model_dir.h"
#include "options.h"
#include "fastfnet_util.h"
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FASTFNET_VERSION /* set by the Makefile: version and git commit */
#define FASTFNET_VERSION "0.1.0"
#endif
#ifndef FASTFNET_WITH_MPI
#define FASTFNET_WITH_MPI 0
#endif

/* The tool reports a failure and exits here (the libraries return errors; the tool decides). */
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
    "usage: fastfnet info MODEL [--batch B] [--seq T] [--threads N]   (or --model MODEL)\n"
    "\n"
    "MODEL is a .safetensors file written by fastfnet or an HF directory (config.json +\n"
    "model.safetensors, e.g. google/fnet-base). Prints the config, parameters per part, and the\n"
    "memory training and inference need for a batch of B sequences of T tokens\n"
    "(defaults: B 8, T = max_position_embeddings).\n";

static const char *EMBED_HELP =
    "usage: fastfnet embed --model MODEL --ids FILE --out OUT.safetensors [--pad model|longest] [--batch N] [--threads N]\n"
    "\n"
    "FILE holds one sequence per line as space-separated token ids. Lines are padded with the model's\n"
    "pad_token_id: by default (--pad model) a model with Fourier mixing to the length it was made for\n"
    "(fastfnet_max_len, else max_position_embeddings), since the transform mixes padding with the tokens\n"
    "and an embedding would otherwise depend on the file's longest line; an all-attention model, or any\n"
    "model with --pad longest, to the longest line (attention masks padding; with Fourier mixing the\n"
    "embeddings are then those of sequences of that length, as the library's embed of such a batch gives).\n"
    "OUT (not one of the inputs) receives float32 last_hidden_state [B,T,H] and\n"
    "pooler_output [B,H] (HF's names; the latter only if the model has a pooler). Sequences run in\n"
    "chunks of --batch (default 16).\n";

static int stdout_checked(int rc);
/* a is the flag name, or name=VALUE (as the option tables of train, eval and predict take it) */
static int is_flag(const char *a, const char *name) {
    size_t n = strlen(name);
    return !strncmp(a, name, n) && (a[n] == '\0' || (a[n] == '=' && name[0] == '-' && name[1] == '-'));
}

/* The flag's value: after its '=', else the next argument; exits naming the flag when there is none. */
static const char *need(int argc, char **argv, int *i) {
    const char *eq = strncmp(argv[*i], "--", 2) ? NULL : strchr(argv[*i], '=');
    if (eq) return eq + 1;
    if (*i + 1 >= argc) fastfnet_die("%s needs a value (see --help)", argv[*i]);
    return argv[++*i];
}

static long parse_long(const char *flag, const char *s, long lo, long hi) {
    char err[512];
    long v;
    if (fastfnet_opt_long(flag, s, lo, hi, &v, err, sizeof err)) fastfnet_die("%s", err);
    return v;
}

static int cmd_init(int argc, char **argv);

static void human_bytes(char *buf, size_t n, double b) {
    if (b >= 1 << 30) snprintf(buf, n, "%.2f GiB", b / (1 << 30));
    else if (b >= 1 << 20) snprintf(buf, n, "%.1f MiB", b / (1 << 20));
    else snprintf(buf, n, "%.1f KiB", b / 1024);
}

/* info's flags; 1 when --help was printed (the command then exits 0). */
static int parse_info_args(int argc, char **argv, const char **path, int *B, int *T) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_flag(a, "--help") || is_flag(a, "-h")) {
            fputs(INFO_HELP, stdout);
            return 1;
        } else if (is_flag(a, "--batch")) *B = (int)parse_long(a, need(argc, argv, &i), 1, 1 << 20);
        else if (is_flag(a, "--seq")) *T = (int)parse_long(a, need(argc, argv, &i), 1, 1 << 20);
        else if (is_flag(a, "--threads")) fastfnet_set_threads((int)parse_long(a, need(argc, argv, &i), 1, 1024));
        else if (a[0] == '-' && !is_flag(a, "--model")) fastfnet_die("info: unknown option '%s' (see fastfnet info --help)", a);
        else {
            const char *p = a[0] == '-' ? need(argc, argv, &i) : a;
            if (*path) fastfnet_die("info: one model at a time ('%s' and '%s' given)", *path, p);
            *path = p;
        }
    }
    return 0;
}

/* Parameters per part: embeddings, each layer (with its widths), heads. */
static void print_info_params(const fastfnet_model *m, const fastfnet_config *c, size_t total) {
    size_t emb = 0, heads = 0, layer[FASTFNET_MAX_LAYERS] = {0};
    for (int i = 0; i < fastfnet_model_num_tensors(m); i++) {
        fastfnet_tensor t = fastfnet_model_tensor(m, i);
        int l;
        if (!strncmp(t.name, "fnet.embeddings.", 16)) emb += t.numel;
        else if (sscanf(t.name, "fnet.encoder.layer.%d.", &l) == 1) layer[l] += t.numel;
        else heads += t.numel;
    }
    size_t enc = emb;
    printf("parameters:\n  embeddings            %12zu\n", emb);
    for (int l = 0; l < c->num_layers; l++) {
        if (c->mixing[l] == FASTFNET_MIX_FAST_FOURIER_PAD)
            printf("  layer %-2d %-12s %12zu  (width %d -> %d inside, FFN %d, padded back to %d)\n", l, fastfnet_mixing_name(c->mixing[l]),
                   layer[l], fastfnet_config_width(c, l), fastfnet_config_width(c, l) / 2, fastfnet_config_block_ffn_width(c, fastfnet_config_width(c, l)),
                   fastfnet_config_width(c, l + 1));
        else
            printf("  layer %-2d %-12s %12zu  (width %d -> %d)\n", l, fastfnet_mixing_name(c->mixing[l]), layer[l],
                   fastfnet_config_width(c, l), fastfnet_config_width(c, l + 1));
        enc += layer[l];
    }
    printf("  heads (pooler, mlm transform+bias, nsp, classifier) %zu\n", heads);
    printf("  encoder (embeddings + layers) %zu\n  total %zu (%.2fM)\n", enc, total, total / 1e6);
}

/* Training holds four copies of the parameters (weights, gradients, two AdamW moments); inference the weights and,
 * as eval, predict and embed run, the FFN weights packed for the matrix kernel (packed bytes, 0 where none are). */
static void print_info_memory(const fastfnet_config *c, int B, int T, size_t total, size_t packed) {
    double pb = (double)total * sizeof(float), pk = (double)packed;
    double act_inf = (double)fastfnet_model_activation_bytes(c, B, T, 0), act_tr = (double)fastfnet_model_activation_bytes(c, B, T, 1);
    char s1[32], s2[32], s3[32], s4[32];
    if (act_inf == 0) { /* the engine's sentinel: a shape no arena can hold (B x T past 2^31 - 1 rows) */
        printf("memory for a batch of %d x %d tokens: more rows than fastfnet takes (2^31 - 1)\n", B, T);
        return;
    }
    human_bytes(s1, sizeof s1, pb);
    human_bytes(s2, sizeof s2, act_inf);
    human_bytes(s3, sizeof s3, pb + pk + act_inf);
    human_bytes(s4, sizeof s4, pk);
    printf("memory for a batch of %d x %d tokens:\n", B, T);
    if (packed) printf("  inference: parameters %s + packed FFN weights %s + activations %s = %s\n", s1, s4, s2, s3);
    else printf("  inference: parameters %s + activations %s = %s\n", s1, s2, s3);
    human_bytes(s1, sizeof s1, 4 * pb);
    human_bytes(s2, sizeof s2, act_tr);
    human_bytes(s4, sizeof s4, 4 * pb + act_tr);
    printf("  training:  parameters + gradients + AdamW moments %s + activations and their gradients %s = %s\n", s1,
           s2, s4);
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int B = 8, T = -1;
    if (parse_info_args(argc, argv, &path, &B, &T)) return 0;
    if (!path) fastfnet_die("info: which model? usage: fastfnet info MODEL");
    char err[1024];
    fastfnet_model *m = fastfnet_model_load(path, err, sizeof err);
    if (!m) fastfnet_die("%s", err);
    const fastfnet_config *c = fastfnet_model_config(m);
    if (T < 0) T = c->max_position;
    if (T > c->max_position) fastfnet_die("--seq %d exceeds max_position_embeddings %d", T, c->max_position);
    char json[8192];
    fastfnet_config_to_json(c, json, sizeof json);
    printf("model: %s\nconfig:\n%s", path, json);
    size_t total = fastfnet_model_num_params(m);
    print_info_params(m, c, total);
    print_info_memory(c, B, T, total, fastfnet_model_pack_bytes(m));
    fastfnet_model_free(m);
    return 0;
}

/* One line's ids appended to vals (grown as needed); returns how many. line_no counts from 1, for messages. */
static int parse_id_line(const char *path, int line_no, char *line, const fastfnet_config *c, int **vals, size_t *n,
                         size_t *cap) {
    int len = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ' ' && *end != '\t' && *end != '\r' && *end != '\n'))
            fastfnet_die("%s:%d: '%.*s' is not a token id", path, line_no, (int)strcspn(p, " \t\r\n") > 20 ? 20 : (int)strcspn(p, " \t\r\n"), p);
        if (v < 0 || v >= c->vocab_size)
            fastfnet_die("%s:%d: token id %ld at position %d is outside the vocabulary (0..%d)", path, line_no, v, len,
                    c->vocab_size - 1);
        if (*n == *cap) *vals = realloc(*vals, (*cap *= 2) * sizeof(int));
        if (!*vals) fastfnet_die("out of memory reading %s", path);
        (*vals)[(*n)++] = (int)v;
        len++;
        p = end;
    }
    return len;
}

/* Parse an ids file: one sequence per line, space-separated ids; pads to the longest line. */
static int *read_ids(const char *path, const fastfnet_config *c, int *outB, int *outT) {
    char err[1024];
    FILE *f = fastfnet_open_input(path, err, sizeof err);
    if (!f) fastfnet_die("%s", err);
    size_t cap = 1024, n = 0;
    int *vals = fastfnet_xmalloc(cap * sizeof(int));
    int lines = 0, maxT = 0;
    int *lens = fastfnet_xmalloc(sizeof(int) * 1024);
    size_t lcap = 1024;
    char *line = NULL;
    size_t lsz = 0;
    long got;
    while ((got = fastfnet_read_line(f, &line, &lsz, NULL)) >= 0) {
        if (strlen(line) != (size_t)got) fastfnet_die("%s:%d: a NUL byte in the line (ids are space-separated text)", path, lines + 1);
        int len = parse_id_line(path, lines + 1, line, c, &vals, &n, &cap);
        if (len == 0) fastfnet_die("%s:%d: empty line (every line must hold a sequence)", path, lines + 1);
        if (len > c->max_position)
            fastfnet_die("%s:%d: %d tokens exceed the model's max_position_embeddings %d", path, lines + 1, len, c->max_position);
        if ((size_t)lines == lcap) lens = realloc(lens, (lcap *= 2) * sizeof(int));
        if (!lens) fastfnet_die("out of memory reading %s", path);
        lens[lines++] = len;
        if (len > maxT) maxT = len;
    }
    if (got == -2) fastfnet_die("%s: reading failed after line %d (%s)", path, lines, strerror(errno));
    free(line);
    fclose(f);
    if (lines == 0) fastfnet_die("%s: no sequences", path);
    int *ids = fastfnet_xmalloc(sizeof(int) * (size_t)lines * maxT);
    size_t k = 0;
    for (int b = 0; b < lines; b++)
        for (int t = 0; t < maxT; t++) ids[(size_t)b * maxT + t] = t < lens[b] ? vals[k++] : c->pad_token_id;
    free(vals);
    free(lens);
    *outB = lines;
    *outT = maxT;
    return ids;
}

/* The length embed pads to. Fourier mixing transforms the padding with the tokens, so a model with a Fourier layer
 * gets the one length it was trained for (fastfnet_max_len, else max_position), as train, eval and predict give
 * it, and a sequence's embedding does not depend on the other lines. An all-attention model masks padding as
 * keys, so the longest line is enough. */
static int embed_length(const char *model, const fastfnet_config *c, int longest, int pad_longest) {
    int attention_only = 1;
    for (int l = 0; l < c->num_layers; l++) attention_only &= c->mixing[l] == FASTFNET_MIX_ATTENTION;
    if (attention_only || pad_longest) return longest;
    char p[4200], err[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/model.safetensors", model);
    if (stat(p, &st) != 0) snprintf(p, sizeof p, "%s", model);
    fastfnet_st_file f;
    int L = c->max_position;
    if (fastfnet_st_open(&f, p, err, sizeof err) == 0) { /* an HF directory without one: max_position */
        int rc = fastfnet_dir_max_len(fastfnet_st_meta(&f, "fastfnet_max_len"), c, p, &L, err, sizeof err);
        fastfnet_st_close(&f);
        if (rc) fastfnet_die("%s", err);
    }
    if (longest > L)
        fastfnet_die("%s: a sequence of %d tokens is longer than the %d the model was made for (its fastfnet_max_len)", model,
                     longest, L);
    return L;
}

/* ids (B rows of T) padded on to rows of L >= T */
static int *pad_rows(int *ids, int B, int T, int L, int pad) {
    if (L == T) return ids;
    int *out = fastfnet_xmalloc(sizeof(int) * (size_t)B * L);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++) out[(size_t)b * L + t] = t < T ? ids[(size_t)b * T + t] : pad;
    free(ids);
    return out;
}

/* The same file (both exist, one inode): writing one would destroy the other. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Refuse an --out that is one of the command's inputs (the model file, the model directory's weights, the ids). */
static void refuse_out_over_input(const char *out, const char *model, const char *ids) {
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", model);
    if (same_file(out, model) || same_file(out, p) || same_file(out, ids))
        fastfnet_die("--out %s is one of the inputs (%s): writing it would destroy it; name another file", out,
                     same_file(out, ids) ? ids : model);
}

/* Every hidden state (and pooled output) finite, or exit: a model with NaN or Inf weights gives NaN embeddings. */
static void check_finite(const float *x, size_t n, const char *model, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            fastfnet_die("%s: the model's %s is not finite (%g at %zu): its weights are damaged (NaN or Inf)", model, what, x[i], i);
}

static int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *idsf = NULL, *out = NULL, *pad = "model";
    int chunk = 16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_flag(a, "--help") || is_flag(a, "-h")) {
            fputs(EMBED_HELP, stdout);
            return 0;
        } else if (is_flag(a, "--model")) model = need(argc, argv, &i);
        else if (is_flag(a, "--ids")) idsf = need(argc, argv, &i);
        else if (is_flag(a, "--out")) out = need(argc, argv, &i);
        else if (is_flag(a, "--pad")) pad = need(argc, argv, &i);
        else if (is_flag(a, "--batch")) chunk = (int)parse_long(a, need(argc, argv, &i), 1, 1 << 16);
        else if (is_flag(a, "--threads")) fastfnet_set_threads((int)parse_long(a, need(argc, argv, &i), 1, 1024));
        else fastfnet_die("embed: unknown option '%s' (see fastfnet embed --help)", a);
    }
    if (!model || !idsf || !out) fastfnet_die("embed: --model, --ids and --out are required (see fastfnet embed --help)");
    if (strcmp(pad, "model") && strcmp(pad, "longest")) fastfnet_die("embed: --pad is model or longest, not '%s'", pad);
    refuse_out_over_input(out, model, idsf);
    char err[1024];
    fastfnet_model *m = fastfnet_model_load(model, err, sizeof err);
    if (!m) fastfnet_die("%s", err);
    const fastfnet_config *c = fastfnet_model_config(m);
    int B, T0;
    int *ids = read_ids(idsf, c, &B, &T0);
    int T = embed_length(model, c, T0, !strcmp(pad, "longest"));
    ids = pad_rows(ids, B, T0, T, c->pad_token_id);
    int H = fastfnet_config_width(c, c->num_layers), pool = (c->heads & FASTFNET_HEAD_POOLER) != 0;
    if (chunk > B) chunk = B;
    if (fastfnet_model_reserve(m, chunk, T, 0, err, sizeof err)) fastfnet_die("%s", err);
    fastfnet_model_pack_weights(m); /* inference only; where it cannot pack, it runs unpacked */
    float *hid = fastfnet_xmalloc(sizeof(float) * (size_t)B * T * H), *pooled = fastfnet_xmalloc(sizeof(float) * (size_t)B * H);
    double t0 = fastfnet_now();
    for (int b0 = 0; b0 < B; b0 += chunk) {
        int nb = B - b0 < chunk ? B - b0 : chunk;
        fastfnet_batch batch = {.B = nb, .T = T, .input_ids = ids + (size_t)b0 * T};
        if (fastfnet_model_check_batch(m, &batch, err, sizeof err)) fastfnet_die("%s: %s", idsf, err);
        fastfnet_model_forward(m, &batch, 0);
        memcpy(hid + (size_t)b0 * T * H, fastfnet_model_hidden(m), sizeof(float) * (size_t)nb * T * H);
        if (pool) memcpy(pooled + (size_t)b0 * H, fastfnet_model_pooled(m), sizeof(float) * (size_t)nb * H);
    }
    double dt = fastfnet_now() - t0;
    check_finite(hid, (size_t)B * T * H, model, "last_hidden_state");
    if (pool) check_finite(pooled, (size_t)B * H, model, "pooler_output");
    fastfnet_st_out o[2] = {{"last_hidden_state", FASTFNET_DT_F32, 3, {B, T, H}, hid}, {"pooler_output", FASTFNET_DT_F32, 2, {B, H}, pooled}};
    const char *meta[] = {"format", "pt", "producer", "fastfnet embed", NULL};
    if (fastfnet_st_write(out, o, pool ? 2 : 1, meta, err, sizeof err)) fastfnet_die("%s", err);
    printf("embedded %d sequences of %d tokens in %.3f s (%.0f tokens/s); wrote %s: last_hidden_state [%d,%d,%d]%s\n", B, T,
           dt, B * T / (dt > 0 ? dt : 1e-9), out, B, T, H, pool ? ", pooler_output" : "");
    free(hid);
    free(pooled);
    free(ids);
    fastfnet_model_free(m);
    return 0;
}

/* ---------- options (the tables and their parser: src/app/options.c) ---------- */

static int g_threads;

/* Parse argv (argv[0]: the command) against t, or exit with the message; --help prints usage and options. */
static int cli_parse(const opt_def *t, int argc, char **argv, const char *usage, const char **pos, int npos) {
    static opt_strings keep; /* the options point into it for the whole command */
    char err[1024];
    int np = 0, rc = fastfnet_opt_parse(t, argc - 1, (const char *const *)argv + 1, argv[0], pos, npos, &np, &keep, err, sizeof err);
    if (rc < 0) fastfnet_die("%s", err);
    if (rc == 1) {
        char *h = fastfnet_opt_help(t);
        fputs(usage, stdout);
        fputs(h ? h : "", stdout);
        free(h);
        exit(stdout_checked(0));
    }
    return np;
}

static const char *INIT_USAGE =
    "usage: fastfnet init --out FILE.safetensors [options]\n"
    "\n"
    "Create a model with HF FNet's initialisation (normal 0.02, zero biases) and save it as one safetensors\n"
    "file with its config in the metadata. An existing FILE is kept unless --force. Options:\n";

static int cmd_init(int argc, char **argv) {
    fastfnet_arch_opts a;
    fastfnet_arch_defaults(&a);
    const char *out = NULL;
    long seed = 0;
    int force = 0;
    opt_def t[OPT_ARCH_COUNT + 9];
    fastfnet_opt_arch_entries(t, &a);
    const opt_def more[] = {{"vocab", OPT_INT, &a.vocab, "vocabulary size"},
                   {"max-pos", OPT_INT, &a.max_pos, "maximum sequence length (position embeddings)"},
                   {"labels", OPT_INT, &a.labels, "classifier outputs"},
                   {"outputs", OPT_STR, &a.outputs, "heads among mlm,nsp,classifier,pooler (default all)"},
                   {"seed", OPT_LONG, &seed, "initialisation seed"},
                   {"out", OPT_STR, &out, "safetensors file to write"},
                   {"force", OPT_BOOL, &force, "overwrite an existing --out file"},
                   {"threads", OPT_INT, &g_threads, "threads (0: all cores)"},
                   {NULL, 0, NULL, NULL}};
    memcpy(t + OPT_ARCH_COUNT, more, sizeof more);
    cli_parse(t, argc, argv, INIT_USAGE, NULL, 0);
    if (!out) fastfnet_die("init: --out FILE.safetensors is required");
    fastfnet_config c;
    char err[512];
    if (fastfnet_arch_build(&c, &a, err, sizeof err)) fastfnet_die("init: %s", err);
    struct stat sb;
    if (!force && stat(out, &sb) == 0) fastfnet_die("%s already exists; pass --force to overwrite it", out);
    fastfnet_model *m = fastfnet_model_create(&c, (uint64_t)seed, err, sizeof err);
    if (!m) fastfnet_die("init: %s", err);
    if (fastfnet_model_save(m, out, err, sizeof err)) fastfnet_die("%s", err);
    printf("wrote %s: %s, %d layers, width %d -> %d, %.3fM parameters\n", out, a.arch ? a.arch : "fnet", c.num_layers, c.hidden_size,
           fastfnet_config_width(&c, c.num_layers), fastfnet_model_num_params(m) / 1e6);
    fastfnet_model_free(m);
    return 0;
}

static const char *TRAIN_USAGE =
    "usage: fastfnet train (--data NAME | --train FILE) --out DIR [options]\n"
    "       fastfnet train --resume DIR [--steps N] [--threads N] ...\n"
    "\n"
    "Trains a model and writes DIR/model.safetensors (+ config.json, tokenizer.json), checkpoints with the\n"
    "full training state under DIR/checkpoints (the last --keep), and metrics as JSON lines. Ctrl-C saves\n"
    "and exits; --resume DIR continues a run exactly, with the options its checkpoint records (a flag that\n"
    "would change the run is refused). A JSON file given with --config sets the same\n"
    "options (keys are the option names); flags override it. Data-parallel on N processes (MPI build):\n"
    "`mpirun -np N fastfnet train ...`: --batch stays the global batch, each process computes B/N of it\n"
    "(docs/DISTRIBUTED.md). Options:\n";

static void fmt_eta(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

/* Ctrl-C / SIGTERM: the next step's callback stops the run, which saves a checkpoint first. That waits for
 * the step, and for an evaluation that is under way, so the first signal says so and restores the default
 * action of both: a second one of either kind ends the process at once (the last checkpoint saved stays, as
 * after kill -9). */
static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    static const char msg[] = "\nfastfnet: stopping after this step (or evaluation) with a checkpoint; signal again to quit now\n";
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (!g_stop) {
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
    }
    g_stop = 1;
}

static void train_log(const char *line, void *user) {
    (void)user;
    fprintf(stderr, "%s%s\n", isatty(2) ? "\r\033[K" : "", line);
}

/* Progress as it has always been printed: one line per --log-every step (redrawn in place on a terminal) and
 * one per evaluation. */
static int train_progress(const fastfnet_train_progress *p, void *user) {
    (void)user;
    int tty = isatty(2);
    if (p->lead && p->logged) {
        char eta[32];
        fmt_eta(eta, sizeof eta, (p->steps - p->step) * (p->elapsed / (p->step > 0 ? p->step : 1)));
        if (tty)
            fprintf(stderr, "\r\033[Kstep %ld/%ld | loss %.4f | lr %.2e | %.0f tok/s | ETA %s", p->step, p->steps, p->mean_loss, p->lr, p->tokens_per_s, eta);
        else
            fprintf(stderr, "step %ld/%ld loss %.4f lr %.2e tok/s %.0f elapsed %.1fs eta %s\n", p->step, p->steps, p->mean_loss, p->lr, p->tokens_per_s,
                    p->elapsed, eta);
    }
    if (p->lead && p->evaluated)
        fprintf(stderr, "%seval step %ld: loss %.4f, %s %.4f\n", tty ? "\r\033[K" : "", p->step, p->eval_loss,
                p->mlm ? "masked-token accuracy" : "accuracy", p->eval_accuracy);
    return g_stop != 0;
}

static int cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (is_flag(argv[i], "--help") || is_flag(argv[i], "-h")) {
            char *h = fastfnet_train_options_help();
            fputs(TRAIN_USAGE, stdout);
            fputs(h ? h : "", stdout);
            free(h);
            return 0;
        }
    char err[2048];
    fastfnet_trainer *t = fastfnet_trainer_create(argc - 1, (const char *const *)argv + 1, err, sizeof err);
    if (!t) fastfnet_die("%s", err);
    fastfnet_trainer_set_log(t, train_log, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* which restores the default action of both: the second signal ends the process */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT); /* the other kind waits for the handler, then takes the default action */
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = fastfnet_trainer_run(t, train_progress, NULL, err, sizeof err);
    if (rc < 0) {
        fastfnet_trainer_free(t);
        fastfnet_die("%s", err);
    }
    if (rc == 0 && *fastfnet_trainer_summary(t)) printf("%s\n", fastfnet_trainer_summary(t));
    fastfnet_trainer_free(t);
    return rc == 1 ? 130 : 0;
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
    fastfnet_train_opts o;
    fastfnet_train_defaults(&o);
    o.task = NULL;
    o.tokenizer = NULL;
    const char *model = NULL;
    opt_def t[] = {{"model", OPT_STR, &model, "trained model directory"},
                   {"input", OPT_STR, &o.train, "file to evaluate: .jsonl ({\"text\",\"label\"}) or TSV (label<TAB>text); raw text for mlm"},
                   {"train", OPT_STR, &o.train, NULL}, /* the old spelling of --input */
                   {"data", OPT_STR, &o.data, "built-in data set (its test split): image | text | sotu | listops | pathfinder | pretrain"},
                   {"data-dir", OPT_STR, &o.data_dir, "where scripts/fetch_data.sh put the data sets"},
                   {"difficulty", OPT_STR, &o.difficulty, "--data pathfinder: easy | medium | hard"},
                   {"task", OPT_STR, &o.task, "must be the model's task if given"},
                   {"eval-limit", OPT_INT, &o.eval_limit, "evaluate a seeded subset of this many examples (0: all)"},
                   {"batch", OPT_INT, &o.batch, "sequences per batch"},
                   {"seed", OPT_LONG, &o.seed, "mlm: seed of the evaluation masks"},
                   {"threads", OPT_INT, &g_threads, "threads (0: all cores)"},
                   MODEL_FIXED_OPTS(o),
                   {NULL, 0, NULL, NULL}};
    cli_parse(t, argc, argv, EVAL_USAGE, NULL, 0);
    if (!model) fastfnet_die("eval: --model DIR is required (see fastfnet eval --help)");
    if (!o.train && !o.data) fastfnet_die("eval: give --input FILE or --data NAME (see fastfnet eval --help)");
    if (o.batch < 1) fastfnet_die("--batch must be >= 1");
    if (g_threads > 0) fastfnet_set_threads(g_threads);
    char err[1024];
    char result[8192];
    if (fastfnet_check_model_opts(model, &o, err, sizeof err) || fastfnet_eval_run(model, &o, train_log, NULL, result, sizeof result, err, sizeof err))
        fastfnet_die("%s", err);
    printf("%s\n", result);
    return 0;
}

static const char *PREDICT_USAGE =
    "usage: fastfnet predict --model DIR [--input FILE|-] [--out FILE] [--batch N]\n"
    "\n"
    "One JSON line per example: {\"line\": N, \"label\": ..., \"probs\": {label: p, ...}}. FILE is .jsonl (the label\n"
    "may be left out), .tsv (label<TAB>text; the label may be empty) or plain text with one example per line;\n"
    "without --input (or with -) plain text is read from standard input. The tokenizer, length and label map\n"
    "are the model's. Options:\n";

static int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *out = NULL;
    int batch = 32;
    fastfnet_train_opts o;
    fastfnet_train_defaults(&o);
    o.tokenizer = NULL;
    opt_def t[] = {{"model", OPT_STR, &model, "trained model directory"},
                   {"input", OPT_STR, &input, "examples to label (- or none: standard input)"},
                   {"out", OPT_STR, &out, "write here instead of stdout (- : stdout; not one of the inputs)"},
                   {"batch", OPT_INT, &batch, "sequences per batch"},
                   {"threads", OPT_INT, &g_threads, "threads (0: all cores)"},
                   MODEL_FIXED_OPTS(o),
                   {NULL, 0, NULL, NULL}};
    cli_parse(t, argc, argv, PREDICT_USAGE, NULL, 0);
    if (!model) fastfnet_die("predict: --model DIR is required (see fastfnet predict --help)");
    if (out && strcmp(out, "-")) refuse_out_over_input(out, model, input && strcmp(input, "-") ? input : model);
    if (batch < 1) fastfnet_die("--batch must be >= 1");
    if (g_threads > 0) fastfnet_set_threads(g_threads);
    char err[1024];
    if (fastfnet_check_model_opts(model, &o, err, sizeof err) || fastfnet_predict_run(model, input, out, batch, err, sizeof err))
        fastfnet_die("%s", err);
    return 0;
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
static void tok_encode_lines(fastfnet_tokenizer *tk, const char *text, size_t len) {
    size_t cap = 1024;
    int32_t *ids = fastfnet_xmalloc(sizeof(int32_t) * cap);
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t n = fastfnet_tok_encode(tk, text + p, e - p, ids, cap);
        if (n == FASTFNET_TOK_ERROR) fastfnet_die("tokenizer encode: the tokenizer could not encode the text (out of memory, or the SentencePiece library failed)");
        if (n > cap) {
            ids = realloc(ids, sizeof(int32_t) * (cap = n));
            if (!ids) fastfnet_die("out of memory encoding");
            fastfnet_tok_encode(tk, text + p, e - p, ids, cap);
        }
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
        p = e + 1;
    }
    free(ids);
}

static void tok_decode_lines(fastfnet_tokenizer *tk, char *text, size_t len, const char *name) {
    size_t ic = 1024;
    int32_t *ids = fastfnet_xmalloc(sizeof(int32_t) * ic);
    int line = 0, V = fastfnet_tok_vocab_size(tk);
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p)), *stop = nl ? nl : text + len;
        *stop = 0;
        line++;
        if (strlen(p) != (size_t)(stop - p)) fastfnet_die("%s:%d: a NUL byte in the line (decode reads space-separated ids as text)", name, line);
        size_t n = 0;
        for (char *q = p, *end;;) {
            while (*q == ' ' || *q == '\t' || *q == '\r') q++;
            if (!*q) break;
            errno = 0;
            long v = strtol(q, &end, 10);
            if (end == q || errno || v < 0 || v >= V || (*end && *end != ' ' && *end != '\t' && *end != '\r'))
                fastfnet_die("%s:%d: '%.*s' is not a token id of this tokenizer (0..%d); decode reads space-separated ids, "
                        "one sequence per line", name, line, (int)strcspn(q, " \t\r") > 20 ? 20 : (int)strcspn(q, " \t\r"), q, V - 1);
            if (n == ic) ids = realloc(ids, sizeof(int32_t) * (ic *= 2));
            if (!ids) fastfnet_die("out of memory decoding");
            ids[n++] = (int32_t)v;
            q = end;
        }
        size_t need = fastfnet_tok_decode(tk, ids, n, NULL, 0);
        if (need == FASTFNET_TOK_ERROR) fastfnet_die("%s:%d: the tokenizer could not decode the ids (out of memory, or the SentencePiece library failed)", name, line);
        char *o = fastfnet_xmalloc(need + 1);
        fastfnet_tok_decode(tk, ids, n, o, need + 1);
        fwrite(o, 1, need, stdout);
        putchar('\n');
        free(o);
        p = stop + 1;
    }
    free(ids);
}

/* The tokenizer command's input: --input FILE or standard input, whole. */
static char *tok_input(const char *input, size_t *len) {
    char err[1024];
    char *text = input ? fastfnet_read_file(input, len, (size_t)1 << 34, err, sizeof err)
                       : fastfnet_read_stream(stdin, "stdin", len, (size_t)1 << 34, err, sizeof err);
    if (!text) fastfnet_die("%s", err);
    return text;
}

/* tokenizer train: --kind and --out are checked before the input is read (it may be a terminal's stdin). */
static void tok_train(const char *kind, const char *input, const char *out, int vocab, int minf) {
    if (!out) fastfnet_die("tokenizer train: --out FILE is required");
    fastfnet_tok_kind k = !strcmp(kind, "bpe") ? FASTFNET_TOK_BPE : !strcmp(kind, "word") ? FASTFNET_TOK_WORD
                   : !strcmp(kind, "unigram") ? FASTFNET_TOK_SPM : (fastfnet_tok_kind)-1;
    if ((int)k < 0) fastfnet_die("--kind: '%s' must be bpe, word or unigram", kind);
    char err[1024];
    size_t len = 0;
    char *text = tok_input(input, &len);
    double t0 = fastfnet_now();
    fastfnet_tokenizer *tk = fastfnet_tok_train(k, text, len, vocab, minf, err, sizeof err);
    if (!tk) fastfnet_die("%s", err);
    if (fastfnet_tok_save(tk, out, err, sizeof err)) fastfnet_die("%s", err);
    fprintf(stderr, "trained a %s tokenizer of %d tokens on %zu bytes in %.2f s; wrote %s\n", kind, fastfnet_tok_vocab_size(tk), len,
            fastfnet_now() - t0, out);
    fastfnet_tok_free(tk);
    free(text);
}

static int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "train") && strcmp(argv[1], "encode") && strcmp(argv[1], "decode"))) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(TOK_USAGE, stdout);
            return 0;
        }
        fastfnet_die("tokenizer: say train, encode or decode (see fastfnet tokenizer --help)");
    }
    const char *kind = NULL, *input = NULL, *out = NULL, *tokf = NULL; /* NULL / -1: not given */
    int vocab = -1, minf = -1;
    opt_def t[] = {{"kind", OPT_STR, &kind, "train: bpe | word | unigram (SentencePiece) (default bpe)"},
                   {"input", OPT_STR, &input, "input file (default stdin)"},
                   {"vocab-size", OPT_INT, &vocab, "train: vocabulary size (default 4000)"},
                   {"min-freq", OPT_INT, &minf, "train: minimum pair/word frequency (default 2)"},
                   {"out", OPT_STR, &out, "train: tokenizer.json (unigram: a .model file) to write"},
                   {"tokenizer", OPT_STR, &tokf, "encode/decode: tokenizer.json, a SentencePiece .model, or byte (default byte)"},
                   {NULL, 0, NULL, NULL}};
    char *sub = argv[1];
    argv[1] = (char *)"tokenizer"; /* messages say "see tokenizer --help" */
    cli_parse(t, argc - 1, argv + 1, TOK_USAGE, NULL, 0);
    argv[1] = sub;
    if (!strcmp(argv[1], "train")) {
        if (tokf) fastfnet_die("tokenizer train: --tokenizer is for encode and decode; train writes the tokenizer to --out");
        tok_train(kind ? kind : "bpe", input, out, vocab < 0 ? 4000 : vocab, minf < 0 ? 2 : minf);
        return 0;
    }
    if (kind || out || vocab >= 0 || minf >= 0)
        fastfnet_die("tokenizer %s: --kind, --vocab-size, --min-freq and --out are train's options; %s writes to standard output "
                     "(redirect it: > FILE)", argv[1], argv[1]);
    char err[1024];
    fastfnet_tokenizer *tk = !tokf || !strcmp(tokf, "byte") ? fastfnet_tok_byte() : fastfnet_tok_load(tokf, err, sizeof err);
    if (!tk) fastfnet_die("%s", tokf ? err : "the byte tokenizer: out of memory");
    size_t len = 0;
    char *text = tok_input(input, &len);
    if (!strcmp(argv[1], "encode")) tok_encode_lines(tk, text, len);
    else tok_decode_lines(tk, text, len, input ? input : "stdin");
    fastfnet_tok_free(tk);
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
    int n = cli_parse(t, argc, argv, PLOT_USAGE, files, 32);
    if (!out || n == 0) fastfnet_die("plot: give metrics files and --out FILE.svg (see fastfnet plot --help)");
    char err[1024];
    if (fastfnet_plot_svg(files, n, out, title, err, sizeof err)) fastfnet_die("%s", err);
    printf("wrote %s\n", out);
    return 0;
}

static const char *DATA_USAGE =
    "usage: fastfnet data listops --out FILE.tsv [--n N] [--seed S] [--min-len A] [--max-len B] [--max-depth D]\n"
    "       fastfnet data pathfinder --out PREFIX [--n N] [--seed S] [--difficulty easy|medium|hard]\n"
    "\n"
    "listops: LRA-style ListOps examples as label<TAB>expression lines (see src/app/listops.h for the rules).\n"
    "pathfinder: LRA-style Pathfinder images, 32 x 32, as PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte\n"
    "(label 1: the two markers are on one path; see src/app/pathfinder.h for the rules and parameters).\n";

static int cmd_data_pathfinder(int argc, char **argv) {
    const char *out = NULL, *level = "easy";
    int n = 1000;
    long seed = 0;
    opt_def t[] = {{"out", OPT_STR, &out, "prefix of the two IDX files"},
                   {"n", OPT_INT, &n, "images"},
                   {"seed", OPT_LONG, &seed, "seed"},
                   {"difficulty", OPT_STR, &level, "easy | medium | hard (contour length 6, 9, 14)"},
                   {NULL, 0, NULL, NULL}};
    cli_parse(t, argc - 1, argv + 1, DATA_USAGE, NULL, 0);
    if (!out) fastfnet_die("data pathfinder: --out PREFIX is required");
    int lv = fastfnet_pathfinder_level(level);
    if (lv < 0) fastfnet_die("data pathfinder: --difficulty '%s' must be easy, medium or hard", level);
    if (n < 0) fastfnet_die("data pathfinder: --n %d must be >= 0", n);
    fastfnet_pathfinder_config c;
    fastfnet_pathfinder_default(&c, lv);
    char im[4200], lab[4200], err[1024];
    if (fastfnet_path(im, sizeof im, err, sizeof err, "%s-images-idx3-ubyte", out) ||
        fastfnet_path(lab, sizeof lab, err, sizeof err, "%s-labels-idx1-ubyte", out))
        fastfnet_die("data pathfinder: --out: %s", err);
    if (fastfnet_pathfinder_write_idx(im, lab, &c, (uint64_t)seed, n, err, sizeof err)) fastfnet_die("%s", err);
    printf("wrote %d Pathfinder images (%s) to %s and %s\n", n, level, im, lab);
    return 0;
}

static int cmd_data(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "pathfinder")) return cmd_data_pathfinder(argc, argv);
    if (argc < 2 || strcmp(argv[1], "listops")) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(DATA_USAGE, stdout);
            return 0;
        }
        fastfnet_die("data: give listops or pathfinder (see fastfnet data --help)");
    }
    fastfnet_listops_config c;
    fastfnet_listops_default(&c);
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
    cli_parse(t, argc - 1, argv + 1, DATA_USAGE, NULL, 0);
    if (!out) fastfnet_die("data listops: --out FILE is required");
    char err[1024];
    if (fastfnet_listops_write_tsv(out, &c, (uint64_t)seed, n, err, sizeof err)) fastfnet_die("%s", err);
    printf("wrote %d ListOps examples to %s\n", n, out);
    return 0;
}

static const char *g_wisdom;
static void save_wisdom(void) {
    if (g_wisdom && fastfnet_fft_save_wisdom(g_wisdom))
        fprintf(stderr, "fastfnet: warning: could not write FFTW wisdom to %s\n", g_wisdom);
}

static int run_command(int argc, char **argv) {
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"init", cmd_init}, {"info", cmd_info}, {"embed", cmd_embed}, {"train", cmd_train}, {"eval", cmd_eval},
        {"predict", cmd_predict}, {"tokenizer", cmd_tokenizer}, {"plot", cmd_plot}, {"data", cmd_data}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "fastfnet: unknown command '%s'\n%s", argv[1], USAGE);
    return 2;
}

/* A command's results on standard output (ids, JSON lines, info) that a full disk or a closed pipe refused are a
 * failure, not a silent loss: exit 1 when the final flush shows a write error. */
static int stdout_checked(int rc) {
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
        fprintf(stderr, "fastfnet: writing to standard output failed (%s)\n", strerror(errno ? errno : EIO));
        return 1;
    }
    return rc;
}

int main(int argc, char **argv) {
    const char *th = getenv("FASTFNET_THREADS");
    fastfnet_set_threads(th && atoi(th) > 0 ? atoi(th) : omp_get_max_threads());
    g_wisdom = getenv("FASTFNET_WISDOM");
    if (g_wisdom && *g_wisdom) {
        fastfnet_fft_set_measure(1);
        struct stat st;
        /* a missing or empty file is fine (it is written at exit); one that holds something else is left alone */
        if (fastfnet_fft_load_wisdom(g_wisdom) != 0 && stat(g_wisdom, &st) == 0 && (st.st_size > 0 || !S_ISREG(st.st_mode))) {
            fprintf(stderr, "fastfnet: warning: FASTFNET_WISDOM=%s is not FFTW wisdom: left as it is, and no wisdom is saved\n", g_wisdom);
            g_wisdom = NULL;
        } else {
            atexit(save_wisdom);
        }
    }
    if (argc >= 2 && is_flag(argv[1], "--version")) {
        printf("fastfnet %s; sentencepiece %s; mpi %s; blas %s\n", FASTFNET_VERSION, fastfnet_spm_available() ? fastfnet_spm_version() : "no (apt-get install libsentencepiece-dev, then make)",
               FASTFNET_WITH_MPI ? "yes" : "no", fastfnet_blas_core());
        return 0;
    }
    if (argc < 2 || is_flag(argv[1], "--help") || is_flag(argv[1], "-h") || is_flag(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    return stdout_checked(run_command(argc, argv));
}
