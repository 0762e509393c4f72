/* checkpoint.c: models to and from safetensors with HF's tensor names: a single file with the config in
 * __metadata__["config"], or an HF-layout directory (config.json + model.safetensors). */
#include "model.h"
#include "safetensors.h"
#include "util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_CAP 8192

int fastfnet_model_save(const fastfnet_model *m, const char *path, char *err, size_t errlen) {
    return fastfnet_model_save_meta(m, path, NULL, err, errlen);
}

int fastfnet_model_save_meta(const fastfnet_model *m, const char *path, const char *const *extra, char *err, size_t errlen) {
    char cfg[CONFIG_CAP];
    if (fastfnet_config_to_json(&m->cfg, cfg, sizeof cfg) < 0) return fastfnet_err(err, errlen, "config too large to save");
    fastfnet_st_out *t = fastfnet_calloc(sizeof(fastfnet_st_out) * (size_t)m->num_tensors);
    if (!t) return fastfnet_err(err, errlen, "%s: out of memory for the tensor list", path);
    for (int i = 0; i < m->num_tensors; i++) {
        const fastfnet_tensor_info *ti = &m->tensors[i];
        t[i].name = ti->name;
        t[i].dtype = FASTFNET_DT_F32;
        t[i].ndim = ti->ndim;
        t[i].shape[0] = ti->shape[0];
        t[i].shape[1] = ti->shape[1];
        t[i].data = m->params + ti->offset;
    }
    const char *meta[64] = {"format", "pt", "config", cfg, "producer", "fastfnet"};
    int k = 6;
    for (int i = 0; extra && extra[i] && k < 62; i++) meta[k++] = extra[i];
    meta[k] = NULL;
    int rc = fastfnet_st_write(path, t, m->num_tensors, meta, err, errlen);
    fastfnet_free(t);
    return rc;
}

/* Find a tensor by our name, also accepting HF FNetModel's unprefixed names. */
static const fastfnet_st_tensor *find(const fastfnet_st_file *f, const char *name) {
    const fastfnet_st_tensor *t = fastfnet_st_find(f, name);
    if (!t && !strncmp(name, "fnet.", 5)) t = fastfnet_st_find(f, name + 5);
    if (!t && !strcmp(name, "cls.predictions.bias")) t = fastfnet_st_find(f, "cls.predictions.decoder.bias");
    return t;
}

/* The file's tensors against the config's table, before anything is allocated: a config that claims more
 * than the file holds is refused by a tensor's name and shape, not by an allocation. */
static int check_shapes(const fastfnet_st_file *f, const fastfnet_config *cfg, const char *stpath, char *err, size_t errlen) {
    int nt, rc = 0;
    fastfnet_tensor_info *tab = fastfnet_config_tensors(cfg, &nt);
    if (!tab) return fastfnet_err(err, errlen, "%s: out of memory for the tensor table", stpath);
    for (int i = 0; i < nt && !rc; i++) {
        const fastfnet_tensor_info *ti = &tab[i];
        const fastfnet_st_tensor *t = find(f, ti->name);
        if (!t) {
            rc = fastfnet_err(err, errlen, "%s: tensor '%s' is missing (the config says this model has it)", stpath, ti->name);
            break;
        }
        if (t->ndim == ti->ndim && t->shape[0] == ti->shape[0] && (ti->ndim == 1 || t->shape[1] == ti->shape[1])) continue;
        char got[128] = "";
        size_t p = 0;
        for (int d = 0; d < t->ndim && p < sizeof got - 24; d++)
            p += (size_t)snprintf(got + p, sizeof got - p, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        rc = fastfnet_err(err, errlen, "%s: tensor '%s' has shape [%s] but the config needs [%d%s%.0d]", stpath, ti->name, got,
                     ti->shape[0], ti->ndim == 2 ? ", " : "", ti->ndim == 2 ? ti->shape[1] : 0);
    }
    fastfnet_free(tab);
    return rc;
}

/* A seed from the weights' bits (every 997th): a float times a scale cast to an integer would be undefined
 * for negative or large weights. */
static uint64_t weights_hash(const fastfnet_model *m) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < m->num_params; i += 997) {
        uint32_t bits;
        memcpy(&bits, &m->params[i], sizeof bits);
        h = (h ^ bits) * 1099511628211ull;
    }
    return h;
}

/* The config in text (from name); whether it names its heads decides if they come from the config or from the
 * tensors in the file. */
static int config_from_text(fastfnet_config *cfg, int *have_heads, const char *text, size_t len, const char *name,
                            char *err, size_t errlen) {
    char msg[512];
    if (fastfnet_config_from_json(cfg, text, len, msg, sizeof msg)) return fastfnet_err(err, errlen, "%s: %s", name, msg);
    *have_heads = strstr(text, "\"fastfnet_heads\"") != NULL;
    return 0;
}

/* An HF-layout directory's config.json at cpath. *text is the caller's to free, also on failure. */
static int config_from_dir(fastfnet_config *cfg, int *have_heads, char **text, char *cpath, size_t cpathlen,
                           const char *path, char *err, size_t errlen) {
    size_t len = 0;
    if (fastfnet_path(cpath, cpathlen, err, errlen, "%s/config.json", path)) return -1;
    *text = fastfnet_read_file(cpath, &len, 1 << 24, err, errlen);
    if (!*text) return -1;
    return config_from_text(cfg, have_heads, *text, len, cpath, err, errlen);
}

/* A single file's config, from its __metadata__["config"]. */
static int config_from_meta(fastfnet_config *cfg, int *have_heads, const fastfnet_st_file *f, const char *stpath,
                            char *err, size_t errlen) {
    const char *c = fastfnet_st_meta(f, "config");
    if (!c)
        return fastfnet_err(err, errlen, "%s: no fastfnet config in the file's __metadata__; for an HF checkpoint pass "
                                         "its directory (config.json + model.safetensors)", stpath);
    return config_from_text(cfg, have_heads, c, strlen(c), stpath, err, errlen);
}

/* An HF checkpoint: the heads are whatever the file holds. */
static int heads_from_file(fastfnet_config *cfg, const fastfnet_st_file *f, const char *cfgname, char *err,
                           size_t errlen) {
    char msg[512];
    cfg->heads = 0;
    if (find(f, "fnet.pooler.dense.weight")) cfg->heads |= FASTFNET_HEAD_POOLER;
    if (fastfnet_st_find(f, "cls.predictions.transform.dense.weight")) cfg->heads |= FASTFNET_HEAD_MLM;
    if (fastfnet_st_find(f, "cls.seq_relationship.weight")) cfg->heads |= FASTFNET_HEAD_NSP;
    const fastfnet_st_tensor *ct = fastfnet_st_find(f, "classifier.weight");
    if (ct) {
        cfg->heads |= FASTFNET_HEAD_CLS;
        if (ct->ndim == 2) cfg->num_labels = (int)ct->shape[0];
    }
    if (fastfnet_config_validate(cfg, msg, sizeof msg)) return fastfnet_err(err, errlen, "%s: %s", cfgname, msg);
    return 0;
}

/* Every tensor of the model's table, converted to float32 into the parameters. */
static int read_tensors(fastfnet_model *m, const fastfnet_st_file *f, const char *stpath, char *err, size_t errlen) {
    char msg[512];
    for (int i = 0; i < m->num_tensors; i++) {
        const fastfnet_tensor_info *ti = &m->tensors[i];
        const fastfnet_st_tensor *t = find(f, ti->name); /* there, of the right shape: check_shapes said so */
        if (fastfnet_st_read_f32(f, t, m->params + ti->offset, ti->numel, msg, sizeof msg))
            return fastfnet_err(err, errlen, "%s: tensor '%s': %s", stpath, ti->name, msg);
    }
    return 0;
}

fastfnet_model *fastfnet_model_load(const char *path, char *err, size_t errlen) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fastfnet_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char stpath[4096], cpath[4096], msg[512];
    int is_dir = S_ISDIR(sb.st_mode);
    if (fastfnet_path(stpath, sizeof stpath, err, errlen, is_dir ? "%s/model.safetensors" : "%s", path)) return NULL;
    fastfnet_st_file f;
    if (fastfnet_st_open(&f, stpath, err, errlen)) return NULL;
    fastfnet_config cfg;
    fastfnet_model *m = NULL;
    char *cfgtext = NULL;
    const char *cfgname = is_dir ? cpath : stpath;
    int have_heads = 0;
    if (is_dir ? config_from_dir(&cfg, &have_heads, &cfgtext, cpath, sizeof cpath, path, err, errlen)
               : config_from_meta(&cfg, &have_heads, &f, stpath, err, errlen))
        goto fail;
    if (!have_heads && heads_from_file(&cfg, &f, cfgname, err, errlen)) goto fail;
    if (check_shapes(&f, &cfg, stpath, err, errlen)) goto fail;
    m = fastfnet_model_alloc(&cfg, msg, sizeof msg);
    if (!m) {
        fastfnet_err(err, errlen, "%s: %s", cfgname, msg);
        goto fail;
    }
    if (read_tensors(m, &f, stpath, err, errlen)) goto fail;
    m->dropout_seed = weights_hash(m); /* dropout stream from the weights: loads are reproducible */
    free(cfgtext);
    fastfnet_st_close(&f);
    return m;
fail:
    fastfnet_model_free(m);
    free(cfgtext);
    fastfnet_st_close(&f);
    return NULL;
}
