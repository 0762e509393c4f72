/* arch.c: turns the architecture flags shared by `init` and `train` into a validated config. */
#include "train.h"
#include "fastfnet_util.h"
#include <stdlib.h>
#include <string.h>

void fastfnet_arch_defaults(fastfnet_arch_opts *o) {
    memset(o, 0, sizeof *o);
    o->arch = "fnet";
    o->vocab = 32000;
    o->hidden = 768;
    o->layers = 12;
    o->intermediate = -1;
    o->heads = -1;
    o->max_pos = 512;
    o->labels = 2;
    o->attention_layers = 2;
    o->dropout = 0.1;
}

/* The index of name among the n names that fn gives (the engine's one table per enum), or -1. */
typedef const char *(*name_fn)(int);
static int name_index(const char *name, name_fn fn, int n) {
    for (int k = 0; k < n; k++)
        if (!strcmp(name, fn(k))) return k;
    return -1;
}
static const char *mix_name(int k) { return fastfnet_mixing_name((fastfnet_mixing)k); }
static const char *res_name(int k) { return fastfnet_residual_name((fastfnet_residual)k); }
static const char *pad_name(int k) { return fastfnet_pad_name((fastfnet_pad)k); }
static const char *bffn_name(int k) { return fastfnet_block_ffn_name((fastfnet_block_ffn)k); }

static int parse_layer(const char *tok, int N, int *out, char *err, size_t n) {
    char *end;
    long l = strtol(tok, &end, 10);
    if (end == tok || *end || l < 0) return fastfnet_err(err, n, "--reduce: '%s' is not a layer index", tok);
    if (l >= N) return fastfnet_err(err, n, "--reduce: layer %ld does not exist (--layers %d)", l, N);
    *out = (int)l;
    return 0;
}

/* The sizes, and one mixing per layer as --arch draws it (hybrid: attention in the top --attention-layers). */
static int arch_set_layers(fastfnet_config *c, const fastfnet_arch_opts *o, const char *arch, int authors, char *err,
                           size_t n) {
    int N = o->layers, E = o->hidden;
    if (N < 0 || N > FASTFNET_MAX_LAYERS) return fastfnet_err(err, n, "--layers must be in 0..%d", FASTFNET_MAX_LAYERS);
    c->vocab_size = o->vocab;
    c->hidden_size = E;
    c->num_layers = N;
    c->intermediate_size = o->intermediate > 0 ? o->intermediate : 4 * E;
    c->num_heads = o->heads > 0 ? o->heads : (E % 64 == 0 ? E / 64 : 1);
    c->max_position = o->max_pos;
    c->num_labels = o->labels;
    c->hidden_dropout = c->attn_dropout = (float)o->dropout;
    if (c->pad_token_id >= c->vocab_size) c->pad_token_id = 0;
    for (int i = 0; i < N; i++)
        c->mixing[i] = !strcmp(arch, "bert") ? FASTFNET_MIX_ATTENTION : authors ? FASTFNET_MIX_FAST_FOURIER_PAD : FASTFNET_MIX_FOURIER;
    if (!strcmp(arch, "hybrid")) {
        if (o->attention_layers < 0 || o->attention_layers > N)
            return fastfnet_err(err, n, "--attention-layers %d must be in 0..%d (--layers)", o->attention_layers, N);
        for (int i = N - o->attention_layers; i < N; i++) c->mixing[i] = FASTFNET_MIX_ATTENTION;
    }
    return 0;
}

/* A comma list into buf; one that does not fit is refused rather than cut (its last entry would be lost). */
static int copy_list(char *buf, size_t cap, const char *flag, const char *list, char *err, size_t n) {
    size_t len = strlen(list);
    if (len >= cap) return fastfnet_err(err, n, "%s: the list is %zu characters long, more than the %zu allowed", flag, len, cap - 1);
    memcpy(buf, list, len + 1);
    return 0;
}

/* --reduce (default "0" for the narrow design): the listed Fourier layers become Fast-FNet ones. */
static int arch_apply_reduce(fastfnet_config *c, const char *reduce, int N, char *err, size_t n) {
    char buf[512];
    if (copy_list(buf, sizeof buf, "--reduce", reduce ? reduce : "0", err, n)) return -1;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int l = 0;
        if (parse_layer(tok, N, &l, err, n)) return -1;
        if (c->mixing[l] == FASTFNET_MIX_ATTENTION) return fastfnet_err(err, n, "--reduce: layer %d is an attention layer", l);
        c->mixing[l] = FASTFNET_MIX_FAST_FOURIER;
    }
    return 0;
}

/* --mixing: one name per layer, replacing what --arch and --reduce chose. */
static int arch_apply_mixing(fastfnet_config *c, const char *mixing, int N, char *err, size_t n) {
    char buf[2048];
    if (copy_list(buf, sizeof buf, "--mixing", mixing, err, n)) return -1;
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), k++) {
        if (k >= N) return fastfnet_err(err, n, "--mixing lists more than --layers %d entries", N);
        int q = name_index(!strcmp(tok, "fast") ? "fast_fourier" : tok, mix_name, 4);
        if (q >= 0) c->mixing[k] = (fastfnet_mixing)q;
        else return fastfnet_err(err, n, "--mixing: '%s' must be fourier, fast_fourier, attention or fast_fourier_pad", tok);
    }
    if (k != N) return fastfnet_err(err, n, "--mixing lists %d entries but --layers is %d", k, N);
    return 0;
}

/* --residual, --pad and --block-ffn: one name each. */
static int arch_apply_block_names(fastfnet_config *c, const fastfnet_arch_opts *o, char *err, size_t n) {
    if (o->residual) {
        int k = name_index(o->residual, res_name, 4);
        if (k < 0) return fastfnet_err(err, n, "--residual: '%s' must be dense, maxpool, avgpool or slice", o->residual);
        c->residual = (fastfnet_residual)k;
    }
    if (o->pad) {
        int k = name_index(o->pad, pad_name, 2);
        if (k >= 0) c->pad = (fastfnet_pad)k;
        else return fastfnet_err(err, n, "--pad: '%s' must be first or centred", o->pad);
    }
    if (o->block_ffn) {
        int k = name_index(o->block_ffn, bffn_name, 2);
        if (k >= 0) c->block_ffn = (fastfnet_block_ffn)k;
        else return fastfnet_err(err, n, "--block-ffn: '%s' must be unchanged or halved", o->block_ffn);
    }
    return 0;
}

/* --outputs: the heads to build, replacing the default set (NSP and the classifier read the pooler). */
static int arch_apply_outputs(fastfnet_config *c, const char *outputs, char *err, size_t n) {
    char buf[256];
    if (copy_list(buf, sizeof buf, "--outputs", outputs, err, n)) return -1;
    c->heads = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = name_index(tok, fastfnet_head_name, 4);
        if (k < 0) return fastfnet_err(err, n, "--outputs: '%s' must be mlm, nsp, classifier or pooler", tok);
        c->heads |= 1 << k;
    }
    if (c->heads & (FASTFNET_HEAD_NSP | FASTFNET_HEAD_CLS)) c->heads |= FASTFNET_HEAD_POOLER;
    return 0;
}

int fastfnet_arch_build(fastfnet_config *c, const fastfnet_arch_opts *o, char *err, size_t n) {
    const char *arch = o->arch ? o->arch : "fnet";
    int authors = !strcmp(arch, "fast-fnet"), narrow = !strcmp(arch, "fast-fnet-narrow");
    if (strcmp(arch, "fnet") && !authors && !narrow && strcmp(arch, "bert") && strcmp(arch, "hybrid"))
        return fastfnet_err(err, n, "--arch: '%s' must be fnet, fast-fnet, fast-fnet-narrow, bert or hybrid", arch);
    if (authors && o->reduce)
        return fastfnet_err(err, n, "--reduce is the schedule of the narrow design: use --arch fast-fnet-narrow (fast-fnet halves and pads back in every block)");
    fastfnet_config_default(c, "fnet");
    if (arch_set_layers(c, o, arch, authors, err, n)) return -1;
    if (narrow || o->reduce) {
        if (!strcmp(arch, "bert")) return fastfnet_err(err, n, "--reduce applies to Fourier layers, not to --arch bert");
        if (arch_apply_reduce(c, o->reduce, o->layers, err, n)) return -1;
    }
    if (o->mixing && arch_apply_mixing(c, o->mixing, o->layers, err, n)) return -1;
    if (arch_apply_block_names(c, o, err, n)) return -1;
    if (o->outputs && arch_apply_outputs(c, o->outputs, err, n)) return -1;
    if (o->fourier_impl) {
        fastfnet_fourier_impl fi;
        if (fastfnet_fourier_impl_parse(o->fourier_impl, &fi) || fi == FASTFNET_FOURIER_NAIVE)
            return fastfnet_err(err, n, "--fourier-impl: '%s' must be auto, fft or matrix", o->fourier_impl);
        c->fourier_impl = (int)fi;
    }
    return fastfnet_config_validate(c, err, n);
}
