/* config.c: model configuration: architecture defaults, validation, and the JSON form saved with
 * every checkpoint (HF FNetConfig field names plus fastfnet_* extensions, see docs/MODEL.md). */
#include "fastfnet.h"
#include "model.h"
#include "json.h"
#include "util.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *MIX_NAMES[] = {"fourier", "fast_fourier", "attention", "fast_fourier_pad"};
static const char *RES_NAMES[] = {"dense", "maxpool", "avgpool", "slice"};
static const char *PAD_NAMES[] = {"first", "centred"};
static const char *BFFN_NAMES[] = {"unchanged", "halved"};
static const char *HEAD_NAMES[] = {"mlm", "nsp", "classifier", "pooler"}; /* bit k of heads: 1 << k */
const char *fastfnet_head_name(int k) { return (unsigned)k < 4 ? HEAD_NAMES[k] : "?"; }
const char *fastfnet_mixing_name(fastfnet_mixing m) { return (unsigned)m < 4 ? MIX_NAMES[m] : "?"; }
const char *fastfnet_pad_name(fastfnet_pad p) { return (unsigned)p < 2 ? PAD_NAMES[p] : "?"; }
const char *fastfnet_block_ffn_name(fastfnet_block_ffn f) { return (unsigned)f < 2 ? BFFN_NAMES[f] : "?"; }
/* centred: as many zeros before the values as after (one more after when w/2 is odd) */
int fastfnet_config_pad_offset(const fastfnet_config *c, int w) { return c->pad == FASTFNET_PAD_CENTRED ? w / 4 : 0; }
int fastfnet_config_block_ffn_width(const fastfnet_config *c, int w) {
    int f = (int)((long)c->intermediate_size * w / c->hidden_size);
    return c->block_ffn == FASTFNET_BLOCK_FFN_HALVED ? f / 2 : f;
}
const char *fastfnet_residual_name(fastfnet_residual r) { return (unsigned)r < 4 ? RES_NAMES[r] : "?"; }

int fastfnet_config_default(fastfnet_config *c, const char *arch) {
    memset(c, 0, sizeof *c);
    c->vocab_size = 32000;
    c->hidden_size = 768;
    c->num_layers = 12;
    c->intermediate_size = 3072;
    c->max_position = 512;
    c->type_vocab_size = 4;
    c->num_heads = 12;
    c->num_labels = 2;
    c->pad_token_id = 3;
    c->hidden_dropout = 0.1f;
    c->attn_dropout = 0.1f;
    c->initializer_range = 0.02f;
    c->layer_norm_eps = 1e-12f;
    c->heads = FASTFNET_HEAD_MLM | FASTFNET_HEAD_NSP | FASTFNET_HEAD_CLS | FASTFNET_HEAD_POOLER;
    c->residual = FASTFNET_RES_DENSE;
    for (int i = 0; i < FASTFNET_MAX_LAYERS; i++) c->mixing[i] = FASTFNET_MIX_FOURIER;
    if (!strcmp(arch, "fnet")) return 0;
    if (!strcmp(arch, "fast-fnet")) {
        for (int i = 0; i < FASTFNET_MAX_LAYERS; i++) c->mixing[i] = FASTFNET_MIX_FAST_FOURIER_PAD;
        return 0;
    }
    if (!strcmp(arch, "fast-fnet-narrow")) {
        c->mixing[0] = FASTFNET_MIX_FAST_FOURIER;
        return 0;
    }
    if (!strcmp(arch, "bert")) {
        for (int i = 0; i < FASTFNET_MAX_LAYERS; i++) c->mixing[i] = FASTFNET_MIX_ATTENTION;
        return 0;
    }
    if (!strcmp(arch, "hybrid")) {
        /* FNet-Hybrid: attention only in the top layers; callers re-apply this after changing num_layers */
        c->mixing[c->num_layers - 1] = c->mixing[c->num_layers - 2] = FASTFNET_MIX_ATTENTION;
        return 0;
    }
    return -1;
}

int fastfnet_config_width(const fastfnet_config *c, int l) {
    int w = c->hidden_size;
    for (int i = 0; i < l && i < c->num_layers; i++)
        if (c->mixing[i] == FASTFNET_MIX_FAST_FOURIER) w /= 2;
    return w;
}

/* Sizes come from files and flags: bounded field by field, then every weight matrix (an int-indexed BLAS
 * operand) and the total, so that an absurd config is refused by name before anything is allocated. */
#define FASTFNET_MAX_PARAMS (1ull << 32)
static int config_check_sizes(const fastfnet_config *c, char *err, size_t n) {
    static const struct { const char *name; long long max; } lim[] = {
        {"vocab_size", 1 << 24}, {"hidden_size", 1 << 16}, {"intermediate_size", 1 << 20},
        {"max_position_embeddings", 1 << 20}, {"type_vocab_size", 1 << 16}, {"num_attention_heads", 1 << 16},
        {"num_labels", 1 << 20}};
    const int val[] = {c->vocab_size, c->hidden_size, c->intermediate_size, c->max_position, c->type_vocab_size,
                       c->num_heads, c->num_labels};
    for (int i = 0; i < 7; i++)
        if (val[i] > lim[i].max) return fastfnet_err(err, n, "%s %d is larger than fastfnet takes (at most %lld)", lim[i].name, val[i], lim[i].max);
    const int rows[] = {c->vocab_size, c->max_position, c->type_vocab_size, c->hidden_size, c->intermediate_size, c->num_labels};
    static const char *rname[] = {"vocab_size", "max_position_embeddings", "type_vocab_size", "hidden_size",
                                  "intermediate_size", "num_labels"};
    for (int i = 0; i < 6; i++)
        if ((long long)rows[i] * c->hidden_size > 2147483647LL)
            return fastfnet_err(err, n, "%s %d x hidden_size %d is a weight matrix of more than 2^31 - 1 entries", rname[i], rows[i],
                           c->hidden_size);
    unsigned long long total = fastfnet_config_count_params(c, NULL);
    if (total == 0) return fastfnet_err(err, n, "out of memory counting the parameters of the config");
    if (total > FASTFNET_MAX_PARAMS)
        return fastfnet_err(err, n, "the config describes %llu parameters (%.1f GiB), more than fastfnet takes (2^32): check "
                               "vocab_size, hidden_size, intermediate_size and num_hidden_layers", total, total * 4.0 / (1 << 30));
    return 0;
}

int fastfnet_config_validate(const fastfnet_config *c, char *err, size_t n) {
    if (c->vocab_size < 1) return fastfnet_err(err, n, "vocab_size must be >= 1 (got %d)", c->vocab_size);
    if (c->hidden_size < 1) return fastfnet_err(err, n, "hidden_size must be >= 1 (got %d)", c->hidden_size);
    if (c->num_layers < 0 || c->num_layers > FASTFNET_MAX_LAYERS)
        return fastfnet_err(err, n, "num_hidden_layers must be in 0..%d (got %d)", FASTFNET_MAX_LAYERS, c->num_layers);
    if (c->intermediate_size < 1) return fastfnet_err(err, n, "intermediate_size must be >= 1");
    if (c->max_position < 1) return fastfnet_err(err, n, "max_position_embeddings must be >= 1");
    if (c->type_vocab_size < 1) return fastfnet_err(err, n, "type_vocab_size must be >= 1");
    if (c->pad_token_id < 0 || c->pad_token_id >= c->vocab_size)
        return fastfnet_err(err, n, "pad_token_id %d is outside the vocabulary (0..%d)", c->pad_token_id, c->vocab_size - 1);
    if (!(c->hidden_dropout >= 0 && c->hidden_dropout < 1) || !(c->attn_dropout >= 0 && c->attn_dropout < 1))
        return fastfnet_err(err, n, "dropout probabilities must be in [0, 1)");
    if (!(c->layer_norm_eps > 0)) return fastfnet_err(err, n, "layer_norm_eps must be > 0");
    if ((c->heads & (FASTFNET_HEAD_NSP | FASTFNET_HEAD_CLS)) && !(c->heads & FASTFNET_HEAD_POOLER))
        return fastfnet_err(err, n, "the nsp and classifier heads need the pooler");
    if ((c->heads & FASTFNET_HEAD_CLS) && c->num_labels < 1) return fastfnet_err(err, n, "num_labels must be >= 1");
    if ((unsigned)c->residual > FASTFNET_RES_SLICE) return fastfnet_err(err, n, "unknown fastfnet_residual");
    if (c->fourier_impl < 0 || c->fourier_impl > 3) return fastfnet_err(err, n, "unknown fastfnet_fourier_impl");
    if ((unsigned)c->pad > FASTFNET_PAD_CENTRED) return fastfnet_err(err, n, "unknown fastfnet_pad");
    if ((unsigned)c->block_ffn > FASTFNET_BLOCK_FFN_HALVED) return fastfnet_err(err, n, "unknown fastfnet_block_ffn");
    int w = c->hidden_size;
    for (int i = 0; i < c->num_layers; i++) {
        if ((unsigned)c->mixing[i] > FASTFNET_MIX_FAST_FOURIER_PAD) return fastfnet_err(err, n, "layer %d: unknown mixing", i);
        if (c->mixing[i] == FASTFNET_MIX_FAST_FOURIER_PAD) {
            if (w % 2 || w < 2)
                return fastfnet_err(err, n, "layer %d: fast_fourier_pad halves the width inside the block, but the width there is %d (must be even)", i, w);
            if (fastfnet_config_block_ffn_width(c, w) < 1) return fastfnet_err(err, n, "layer %d: FFN width rounds to 0", i);
        }
        if (c->mixing[i] == FASTFNET_MIX_FAST_FOURIER) {
            if (w % 2 || w < 2)
                return fastfnet_err(err, n, "layer %d: fast_fourier halves the width, but the width there is %d (must be even)", i, w);
            w /= 2;
        }
        if (c->mixing[i] == FASTFNET_MIX_ATTENTION && (c->num_heads < 1 || w % c->num_heads))
            return fastfnet_err(err, n, "layer %d: attention width %d is not divisible by num_attention_heads %d", i, w, c->num_heads);
        if ((long)c->intermediate_size * w / c->hidden_size < 1)
            return fastfnet_err(err, n, "layer %d: FFN width rounds to 0", i);
    }
    return config_check_sizes(c, err, n);
}

#define APPEND(...)                                                                                 \
    do {                                                                                            \
        int k_ = snprintf(buf + pos, pos < cap ? cap - pos : 0, __VA_ARGS__);                       \
        if (k_ < 0) return -1;                                                                      \
        pos += (size_t)k_;                                                                          \
    } while (0)

/* The shortest of %.7g, %.8g, %.9g that reads back as the same float (9 significant digits always do), so
 * a saved config gives back the trained one bit for bit. */
static const char *float_str(float v, char out[32]) {
    for (int p = 7; p <= 9; p++) {
        snprintf(out, 32, "%.*g", p, v);
        if (strtof(out, NULL) == v) break;
    }
    return out;
}

int fastfnet_config_to_json(const fastfnet_config *c, char *buf, size_t cap) {
    size_t pos = 0;
    char f1[32], f2[32];
    APPEND("{\n  \"model_type\": \"fnet\",\n  \"vocab_size\": %d,\n  \"hidden_size\": %d,\n", c->vocab_size, c->hidden_size);
    APPEND("  \"num_hidden_layers\": %d,\n  \"intermediate_size\": %d,\n  \"hidden_act\": \"gelu_new\",\n", c->num_layers, c->intermediate_size);
    APPEND("  \"hidden_dropout_prob\": %s,\n  \"attention_probs_dropout_prob\": %s,\n", float_str(c->hidden_dropout, f1),
           float_str(c->attn_dropout, f2));
    APPEND("  \"max_position_embeddings\": %d,\n  \"type_vocab_size\": %d,\n", c->max_position, c->type_vocab_size);
    APPEND("  \"initializer_range\": %s,\n  \"layer_norm_eps\": %s,\n", float_str(c->initializer_range, f1),
           float_str(c->layer_norm_eps, f2));
    APPEND("  \"pad_token_id\": %d,\n  \"num_attention_heads\": %d,\n  \"num_labels\": %d,\n", c->pad_token_id, c->num_heads, c->num_labels);
    APPEND("  \"fastfnet_mixing\": [");
    for (int i = 0; i < c->num_layers; i++) APPEND("%s\"%s\"", i ? ", " : "", fastfnet_mixing_name(c->mixing[i]));
    APPEND("],\n  \"fastfnet_residual\": \"%s\",\n  \"fastfnet_heads\": [", fastfnet_residual_name(c->residual));
    int first = 1;
    for (int h = 0; h < 4; h++)
        if (c->heads & (1 << h)) {
            APPEND("%s\"%s\"", first ? "" : ", ", HEAD_NAMES[h]);
            first = 0;
        }
    APPEND("],\n  \"fastfnet_fourier_impl\": \"%s\",\n", fastfnet_fourier_impl_name((fastfnet_fourier_impl)(c->fourier_impl & 3)));
    APPEND("  \"fastfnet_pad\": \"%s\",\n  \"fastfnet_block_ffn\": \"%s\"\n}\n", fastfnet_pad_name(c->pad), fastfnet_block_ffn_name(c->block_ffn));
    return pos < cap ? (int)pos : -1;
}

static int get_int(const fastfnet_json *j, const char *key, int *out, char *err, size_t n) {
    long long v;
    int r = fastfnet_json_get_int(j, key, &v);
    if (r < 0 || (r == 0 && (v < -2147483647LL || v > 2147483647LL)))
        return fastfnet_err(err, n, "config field \"%s\" must be an integer", key);
    if (r == 0) *out = (int)v;
    return 0;
}

static int get_float(const fastfnet_json *j, const char *key, float *out, char *err, size_t n) {
    double v;
    int r = fastfnet_json_get_num(j, key, &v);
    if (r < 0) return fastfnet_err(err, n, "config field \"%s\" must be a number", key);
    /* beyond FLT_MAX the float would be infinite, which a saved config.json cannot hold */
    if (r == 0 && !(fabs(v) <= FLT_MAX)) return fastfnet_err(err, n, "config field \"%s\" is outside the float range", key);
    if (r == 0) *out = (float)v;
    return 0;
}

/* A string from the file, fit for a one-line message: at most 40 bytes, control bytes shown as '?'. */
static const char *show_value(const char *s, char out[48]) {
    size_t k = 0;
    for (; s[k] && k < 40; k++) out[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? '?' : s[k];
    if (s[k]) memcpy(out + k, "...", 3), k += 3;
    out[k] = 0;
    return out;
}

/* "a, b or c" for names[0..count) into out. */
static const char *name_list(const char *const *names, int count, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    for (int q = 0; q < count && k < cap; q++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", q == 0 ? "" : q == count - 1 ? " or " : ", ", names[q]);
    return out;
}

/* An optional string field that must be one of names[0..count): its index into *out (kept when absent). A
 * present field of another type is an error, not ignored. */
static int get_name(const fastfnet_json *j, const char *key, const char *const *names, int count, int *out, char *err, size_t n) {
    const char *v = fastfnet_json_get_str(j, key);
    if (!v) return fastfnet_json_get(j, key) ? fastfnet_err(err, n, "config field \"%s\" must be a string", key) : 0;
    for (int q = 0; q < count; q++)
        if (!strcmp(v, names[q])) {
            *out = q;
            return 0;
        }
    char shown[48], list[128];
    return fastfnet_err(err, n, "config field \"%s\": \"%s\" must be %s", key, show_value(v, shown),
                        name_list(names, count, list, sizeof list));
}

/* The numeric fields (the defaults stay where a field is absent); nonzero with the message on the first bad one. */
static int config_read_numbers(const fastfnet_json *j, fastfnet_config *c, char *err, size_t n) {
    return get_int(j, "vocab_size", &c->vocab_size, err, n) || get_int(j, "hidden_size", &c->hidden_size, err, n) ||
           get_int(j, "num_hidden_layers", &c->num_layers, err, n) ||
           get_int(j, "intermediate_size", &c->intermediate_size, err, n) ||
           get_int(j, "max_position_embeddings", &c->max_position, err, n) ||
           get_int(j, "type_vocab_size", &c->type_vocab_size, err, n) ||
           get_int(j, "num_attention_heads", &c->num_heads, err, n) ||
           get_int(j, "num_labels", &c->num_labels, err, n) ||
           get_int(j, "pad_token_id", &c->pad_token_id, err, n) ||
           get_float(j, "hidden_dropout_prob", &c->hidden_dropout, err, n) ||
           get_float(j, "attention_probs_dropout_prob", &c->attn_dropout, err, n) ||
           get_float(j, "initializer_range", &c->initializer_range, err, n) ||
           get_float(j, "layer_norm_eps", &c->layer_norm_eps, err, n);
}

/* fastfnet_mixing, one name per layer (c->num_layers already checked against FASTFNET_MAX_LAYERS). */
static int config_read_mixing(const fastfnet_json *j, fastfnet_config *c, char *err, size_t n) {
    const fastfnet_json *mix = fastfnet_json_get(j, "fastfnet_mixing");
    if (!mix) return 0;
    if (mix->type != FASTFNET_JSON_ARRAY || mix->n != c->num_layers)
        return fastfnet_err(err, n, "fastfnet_mixing must be a list of num_hidden_layers (%d) strings", c->num_layers);
    for (int i = 0; i < mix->n; i++) {
        const fastfnet_json *e = &mix->items[i];
        int k = -1;
        for (int q = 0; q < 4 && e->type == FASTFNET_JSON_STRING; q++)
            if (!strcmp(e->str, MIX_NAMES[q])) k = q;
        if (k < 0)
            return fastfnet_err(err, n, "fastfnet_mixing[%d] must be one of fourier, fast_fourier, attention, "
                                        "fast_fourier_pad", i);
        c->mixing[i] = (fastfnet_mixing)k;
    }
    return 0;
}

static int config_read_residual(const fastfnet_json *j, fastfnet_config *c, char *err, size_t n) {
    int k = (int)c->residual;
    if (get_name(j, "fastfnet_residual", RES_NAMES, 4, &k, err, n)) return -1;
    c->residual = (fastfnet_residual)k;
    return 0;
}

/* fastfnet_pad and fastfnet_block_ffn, each kept as it is when absent. */
static int config_read_pad_block_ffn(const fastfnet_json *j, fastfnet_config *c, char *err, size_t n) {
    int pad = c->pad, bffn = c->block_ffn;
    if (get_name(j, "fastfnet_pad", PAD_NAMES, 2, &pad, err, n) ||
        get_name(j, "fastfnet_block_ffn", BFFN_NAMES, 2, &bffn, err, n))
        return -1;
    c->pad = (fastfnet_pad)pad;
    c->block_ffn = (fastfnet_block_ffn)bffn;
    return 0;
}

/* fastfnet_heads, when present, replaces the default heads entirely. */
static int config_read_heads(const fastfnet_json *j, fastfnet_config *c, char *err, size_t n) {
    const fastfnet_json *hd = fastfnet_json_get(j, "fastfnet_heads");
    if (!hd) return 0;
    if (hd->type != FASTFNET_JSON_ARRAY) return fastfnet_err(err, n, "fastfnet_heads must be a list");
    c->heads = 0;
    for (int i = 0; i < hd->n; i++) {
        int k = -1;
        for (int q = 0; q < 4 && hd->items[i].type == FASTFNET_JSON_STRING; q++)
            if (!strcmp(hd->items[i].str, HEAD_NAMES[q])) k = q;
        if (k < 0) return fastfnet_err(err, n, "fastfnet_heads[%d] must be one of mlm, nsp, classifier, pooler", i);
        c->heads |= 1 << k;
    }
    return 0;
}

static int config_read_fourier_impl(const fastfnet_json *j, fastfnet_config *c, char *err, size_t n) {
    const char *names[4];
    for (int q = 0; q < 4; q++) names[q] = fastfnet_fourier_impl_name((fastfnet_fourier_impl)q);
    return get_name(j, "fastfnet_fourier_impl", names, 4, &c->fourier_impl, err, n);
}

int fastfnet_config_from_json(fastfnet_config *c, const char *text, size_t len, char *err, size_t n) {
    char jerr[256];
    fastfnet_json *j = fastfnet_json_parse(text, len, jerr, sizeof jerr);
    if (!j) return fastfnet_err(err, n, "config is not valid JSON: %s", jerr);
    int rc = -1;
    if (j->type != FASTFNET_JSON_OBJECT) {
        fastfnet_err(err, n, "config must be a JSON object");
        goto done;
    }
    fastfnet_config_default(c, "fnet");
    c->heads = FASTFNET_HEAD_MLM | FASTFNET_HEAD_NSP | FASTFNET_HEAD_POOLER; /* HF FNetForPreTraining; loader refines */
    if (config_read_numbers(j, c, err, n)) goto done;
    const fastfnet_json *lab = fastfnet_json_get(j, "id2label");
    if (lab && lab->type == FASTFNET_JSON_OBJECT && !fastfnet_json_get(j, "num_labels")) c->num_labels = lab->n;
    static const char *ACT[] = {"gelu_new", "gelu_pytorch_tanh"}; /* the same tanh approximation */
    int act = 0;
    if (get_name(j, "hidden_act", ACT, 2, &act, err, n)) goto done;
    if (c->num_layers < 0 || c->num_layers > FASTFNET_MAX_LAYERS) {
        fastfnet_err(err, n, "num_hidden_layers must be in 0..%d (got %d)", FASTFNET_MAX_LAYERS, c->num_layers);
        goto done;
    }
    if (config_read_mixing(j, c, err, n) || config_read_residual(j, c, err, n) ||
        config_read_pad_block_ffn(j, c, err, n) || config_read_heads(j, c, err, n) ||
        config_read_fourier_impl(j, c, err, n))
        goto done;
    rc = fastfnet_config_validate(c, err, n);
done:
    fastfnet_json_free(j);
    return rc;
}

#define FASTFNET_STR_(x) #x
#define FASTFNET_STR(x) FASTFNET_STR_(x)
size_t fastfnet_sizeof_batch(void) { return sizeof(fastfnet_batch); }
size_t fastfnet_sizeof_tensor(void) { return sizeof(fastfnet_tensor); }

const char *fastfnet_version(void) {
    return FASTFNET_STR(FASTFNET_VERSION_MAJOR) "." FASTFNET_STR(FASTFNET_VERSION_MINOR) "." FASTFNET_STR(FASTFNET_VERSION_PATCH);
}
