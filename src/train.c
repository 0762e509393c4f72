/* train.c: the training loop (AdamW, warmup + linear/cosine decay, clipping, accumulation), evaluation,
 * crash-safe checkpoints with the full training state, resume, and prediction. */
#include "train.h"
#include "data.h"
#include "dist.h"
#include "json.h"
#include "listops.h"
#include "model.h"
#include "model_dir.h"
#include "pathfinder.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TASK_CLASSIFY = 0, TASK_PAIR = 1, TASK_MLM = 2 };
static const char *FASHION[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

void ffn_train_defaults(ffn_train_opts *o) {
    memset(o, 0, sizeof *o);
    ffn_arch_defaults(&o->arch);
    o->arch.arch = NULL; /* fnet; with --init-from, the pre-trained model's own architecture */
    o->arch.hidden = 128;
    o->arch.layers = 4;
    o->task = "classify";
    o->data_dir = "data";
    o->difficulty = "easy";
    o->valid_frac = 0.1;
    o->max_len = 0; /* 0: the data set's natural length (images 785, otherwise 512) */
    o->tokenizer = "byte";
    o->vocab_size = 4000;
    o->batch = 32;
    o->accum = 1;
    o->epochs = 1;
    o->lr = 1e-3;
    o->weight_decay = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->clip = 1.0;
    o->warmup = -1;
    o->warmup_frac = 0.06;
    o->schedule = "linear";
    o->keep = 3;
    o->log_every = 10;
    o->eval_limit = 0;
}

/* ---------- small helpers ---------- */

/* In a data-parallel run only rank 0 (the lead) prints, writes metrics and checkpoints. */
static int g_lead = 1;
#define say(...) do { if (g_lead) fprintf(stderr, __VA_ARGS__); } while (0)

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static int mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) { /* never create a cut-off directory */
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* for the checkpoint directories, renamed as a whole; single files go through ffn_write_file_atomic.
 * 0 ok; EINVAL (a filesystem that cannot sync directories) counts as done, as there. */
static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return rc != 0 && e != EINVAL ? -1 : 0;
}

static void permutation(int *perm, int n, long seed, long epoch) {
    for (int i = 0; i < n; i++) perm[i] = i;
    ffn_rng r;
    ffn_rng_seed(&r, (uint64_t)seed * 1000003ull + (uint64_t)epoch);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(ffn_rng_u64(&r) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

/* Which k of n items a seeded random subset keeps (keep[i] = 1), so that they can be kept in their original
 * order: files and splits are often sorted by label (SpamAssassin's are), so the first k could share one. */
static char *pick_subset(int n, int k, long seed, long salt) {
    int *perm = malloc(sizeof(int) * n);
    char *keep = calloc((size_t)n, 1);
    permutation(perm, n, seed, salt);
    for (int i = 0; i < k; i++) keep[perm[i]] = 1;
    free(perm);
    return keep;
}

/* Keep a seeded random subset of k examples of d, in their original order. */
static void take_subset(ffn_dataset *d, int k, uint64_t seed) {
    if (k <= 0 || d->n <= k) return;
    char *keep = pick_subset(d->n, k, (long)(seed & 0x7fffffff), -2);
    ffn_dataset t = {0};
    t.n = k;
    t.off = malloc(sizeof(int64_t) * (k + 1));
    t.seg = malloc(sizeof(int32_t) * k);
    if (d->labels) t.labels = malloc(sizeof(int32_t) * k);
    size_t len = 0;
    for (int i = 0; i < d->n; i++)
        if (keep[i]) len += (size_t)(d->off[i + 1] - d->off[i]);
    t.ids = malloc(sizeof(int32_t) * (len ? len : 1));
    int j = 0;
    int64_t pos = 0;
    for (int i = 0; i < d->n; i++) {
        if (!keep[i]) continue;
        int64_t l = d->off[i + 1] - d->off[i];
        t.off[j] = pos;
        memcpy(t.ids + pos, d->ids + d->off[i], sizeof(int32_t) * (size_t)l);
        t.seg[j] = d->seg[i];
        if (d->labels) t.labels[j] = d->labels[i];
        pos += l, j++;
    }
    t.off[k] = pos;
    t.truncated = d->truncated;
    free(keep);
    ffn_dataset_free(d);
    *d = t;
}

/* ---------- the data of a run ---------- */

typedef struct {
    int task;
    ffn_dataset train, valid, test;
    int have_test;
    ffn_labels labels;
    ffn_tokenizer *tok;
    ffn_mlm_ids mlm; /* MLM: the tokenizer's [CLS], [SEP], [MASK] and special ids */
    int max_len;
} run_data;

static void run_data_free(run_data *d) {
    ffn_dataset_free(&d->train);
    ffn_dataset_free(&d->valid);
    ffn_dataset_free(&d->test);
    ffn_labels_free(&d->labels);
    if (d->tok) ffn_tok_free(d->tok);
}

static int task_of(const char *t) {
    if (!strcmp(t, "classify")) return TASK_CLASSIFY;
    if (!strcmp(t, "classify-pair")) return TASK_PAIR;
    if (!strcmp(t, "mlm")) return TASK_MLM;
    return -1;
}

/* Hold out the last valid_frac of a shuffled copy: deterministic from the seed. */
static void split_valid(ffn_dataset *train, ffn_dataset *valid, double frac, uint64_t seed) {
    int n = train->n, nv = (int)(n * frac);
    if (nv < 1) nv = 1;
    int *perm = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) perm[i] = i;
    ffn_rng r;
    ffn_rng_seed(&r, seed ^ 0x5EED5);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(ffn_rng_u64(&r) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    /* rebuild in permuted order, then slice */
    ffn_dataset shuf = {0};
    shuf.n = n;
    shuf.off = malloc(sizeof(int64_t) * (n + 1));
    shuf.seg = malloc(sizeof(int32_t) * n);
    shuf.ids = malloc(sizeof(int32_t) * (size_t)(train->off[n] ? train->off[n] : 1));
    if (train->labels) shuf.labels = malloc(sizeof(int32_t) * n);
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
        int e = perm[i];
        int64_t len = train->off[e + 1] - train->off[e];
        shuf.off[i] = pos;
        memcpy(shuf.ids + pos, train->ids + train->off[e], sizeof(int32_t) * (size_t)len);
        shuf.seg[i] = train->seg[e];
        if (train->labels) shuf.labels[i] = train->labels[e];
        pos += len;
    }
    shuf.off[n] = pos;
    free(perm);
    ffn_dataset_free(train);
    ffn_dataset_slice(valid, &shuf, n - nv, n);
    ffn_dataset_slice(train, &shuf, 0, n - nv);
    ffn_dataset_free(&shuf);
}

static int load_records_ds(ffn_dataset *ds, const char *path, run_data *d, int need_label, char *err, size_t n) {
    ffn_records r;
    if (ffn_records_read(&r, path, d->task == TASK_PAIR, need_label, err, n)) return -1;
    int rc = ffn_dataset_from_records(ds, &r, path, d->tok, need_label ? &d->labels : NULL, d->max_len, err, n);
    ffn_records_free(&r);
    if (!rc && ds->truncated)
        say("fastfnet: %s: %lld of %d examples truncated to %d tokens\n", path, (long long)ds->truncated, ds->n, d->max_len);
    return rc;
}

/* Concatenate the texts of records for tokenizer training. */
static char *records_text(const ffn_records *r, size_t *len) {
    size_t n = 0;
    for (int i = 0; i < r->n; i++) n += strlen(r->a[i]) + 1 + (r->b && r->b[i] ? strlen(r->b[i]) + 1 : 0);
    char *s = malloc(n + 1), *p = s;
    for (int i = 0; i < r->n; i++) {
        size_t k = strlen(r->a[i]);
        memcpy(p, r->a[i], k), p += k, *p++ = '\n';
        if (r->b && r->b[i]) k = strlen(r->b[i]), memcpy(p, r->b[i], k), p += k, *p++ = '\n';
    }
    *p = 0;
    *len = n;
    return s;
}

/* Built-in ListOps: generated once into data_dir/listops (train/valid/test TSV), seeded. */
static int ensure_listops(const char *dir, char *err, size_t n) {
    static const char *names[] = {"train.tsv", "valid.tsv", "test.tsv"};
    static const int counts[] = {20000, 1000, 1000};
    if (mkdir_p(dir)) return ffn_err(err, n, "%s: cannot create (%s)", dir, strerror(errno));
    for (int i = 0; i < 3; i++) {
        char p[4200];
        if (ffn_path(p, sizeof p, err, n, "%s/%s", dir, names[i])) return -1;
        if (file_exists(p)) continue;
        ffn_listops_config c;
        ffn_listops_default(&c);
        say("fastfnet: generating ListOps %s (%d examples, LRA lengths %d..%d)\n", p, counts[i], c.min_len, c.max_len);
        if (ffn_listops_write_tsv(p, &c, 1000 + (uint64_t)i, counts[i], err, n)) return -1;
    }
    return 0;
}

/* Built-in Pathfinder: generated once into data_dir/pathfinder-LEVEL as IDX files, seeded per level and split. */
static const int PF_COUNTS[3] = {40000, 2000, 2000};
static int ensure_pathfinder(const char *dir, int level, char *err, size_t n) {
    static const char *names[] = {"train", "valid", "test"};
    if (mkdir_p(dir)) return ffn_err(err, n, "%s: cannot create (%s)", dir, strerror(errno));
    for (int i = 0; i < 3; i++) {
        char im[4200], lab[4200];
        if (ffn_path(im, sizeof im, err, n, "%s/%s-images-idx3-ubyte", dir, names[i]) ||
            ffn_path(lab, sizeof lab, err, n, "%s/%s-labels-idx1-ubyte", dir, names[i]))
            return -1;
        if (file_exists(im) && file_exists(lab)) continue;
        ffn_pathfinder_config c;
        ffn_pathfinder_default(&c, level);
        say("fastfnet: generating Pathfinder %s (%d images, %s, contour length %d)\n", im, PF_COUNTS[i],
            ffn_pathfinder_levels[level], c.contour_length);
        if (ffn_pathfinder_write_idx(im, lab, &c, 2000 + 10 * (uint64_t)level + (uint64_t)i, PF_COUNTS[i], err, n)) return -1;
    }
    return 0;
}

/* --data pathfinder: [CLS] + size*size pixel tokens (byte ids), labels "disconnected" / "connected". */
static int prepare_pathfinder(run_data *d, const ffn_train_opts *o, ffn_tokenizer *given_tok, char *err, size_t n) {
    int level = ffn_pathfinder_level(o->difficulty);
    if (level < 0) return ffn_err(err, n, "--difficulty: '%s' must be easy, medium or hard", o->difficulty ? o->difficulty : "");
    if (d->task != TASK_CLASSIFY) return ffn_err(err, n, "--data pathfinder is a classify task");
    d->max_len = o->max_len ? o->max_len : 1025;
    if (d->max_len < 1025) return ffn_err(err, n, "--data pathfinder needs --max-len >= 1025 (32 x 32 pixels + [CLS])");
    char dir[4100], a[4200], b[4200];
    if (ffn_path(dir, sizeof dir, err, n, "%s/pathfinder-%s", o->data_dir, ffn_pathfinder_levels[level])) return -1;
    if (g_lead && ensure_pathfinder(dir, level, err, n)) return -1; /* one writer; the others wait, then read */
    ffn_dist_barrier();
    static const char *split[3] = {"train", "valid", "test"};
    ffn_dataset *ds[3] = {&d->train, &d->valid, &d->test};
    for (int i = 0; i < 3; i++) {
        if (ffn_path(a, sizeof a, err, n, "%s/%s-images-idx3-ubyte", dir, split[i]) ||
            ffn_path(b, sizeof b, err, n, "%s/%s-labels-idx1-ubyte", dir, split[i]) ||
            ffn_dataset_from_idx(ds[i], a, b, i == 0 ? o->limit : 0, err, n))
            return -1;
    }
    d->have_test = 1;
    if (o->eval_limit > 0) {
        take_subset(&d->valid, o->eval_limit, (uint64_t)o->seed);
        take_subset(&d->test, o->eval_limit, (uint64_t)o->seed + 1);
    }
    d->tok = given_tok ? given_tok : ffn_tok_byte();
    d->labels.n = 2;
    d->labels.names = malloc(sizeof(char *) * 2);
    d->labels.names[0] = strdup("disconnected"), d->labels.names[1] = strdup("connected");
    return 0;
}

/* The tokenizer must have what the task's examples are built from: [CLS], [SEP] and a pad piece ([MASK] too
 * for MLM, checked by ffn_mlm_ids_of). */
static int check_task_tokenizer(const ffn_tokenizer *t, int task, const ffn_train_opts *o, char *err, size_t n) {
    const char *name = o->tokenizer_file ? o->tokenizer_file : o->init_from ? o->init_from : "the tokenizer";
    static const char *const role[] = {"[CLS]", "[SEP]", "[MASK]", "<pad>", "<unk>"};
    for (int r = FFN_TOK_CLS; r <= FFN_TOK_PAD; r++)
        if (r != FFN_TOK_MASK && ffn_tok_special(t, r) < 0)
            return ffn_err(err, n, "%s has no %s piece, which the examples need: train it with `fastfnet tokenizer train "
                           "--kind unigram` (or spm_train --pad_id=3 --user_defined_symbols=[CLS],[SEP],[MASK])", name, role[r]);
    return 0;
}

static int prepare_data(run_data *d, const ffn_train_opts *o, ffn_tokenizer *given_tok, const ffn_labels *given_labels,
                        char *err, size_t n) {
    memset(d, 0, sizeof *d);
    d->task = task_of(o->task);
    if (d->task < 0) return ffn_err(err, n, "--task: '%s' must be classify, classify-pair or mlm", o->task);
    char tr[4200] = "", va[4200] = "", te[4200] = "";
    const char *data = o->data;
    if (data && !strcmp(data, "image")) {
        if (d->task != TASK_CLASSIFY) return ffn_err(err, n, "--data image is a classify task");
        d->max_len = o->max_len ? o->max_len : 785;
        if (d->max_len < 785) return ffn_err(err, n, "--data image needs --max-len >= 785 (784 pixels + [CLS])");
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s/fashion-mnist/train-images-idx3-ubyte", o->data_dir);
        snprintf(b, sizeof b, "%s/fashion-mnist/train-labels-idx1-ubyte", o->data_dir);
        if (!file_exists(a)) return ffn_err(err, n, "%s is missing: run scripts/fetch_data.sh first", a);
        if (ffn_dataset_from_idx(&d->train, a, b, o->limit, err, n)) return -1;
        snprintf(a, sizeof a, "%s/fashion-mnist/t10k-images-idx3-ubyte", o->data_dir);
        snprintf(b, sizeof b, "%s/fashion-mnist/t10k-labels-idx1-ubyte", o->data_dir);
        if (ffn_dataset_from_idx(&d->test, a, b, o->eval_limit, err, n)) return -1;
        d->have_test = 1;
        split_valid(&d->train, &d->valid, o->valid_frac, (uint64_t)o->seed);
        d->tok = given_tok ? given_tok : ffn_tok_byte();
        d->labels.n = 10;
        d->labels.names = malloc(sizeof(char *) * 10);
        for (int i = 0; i < 10; i++) d->labels.names[i] = strdup(FASHION[i]);
        return 0;
    }
    if (data && !strcmp(data, "pathfinder")) return prepare_pathfinder(d, o, given_tok, err, n);
    if (data && !strcmp(data, "listops")) {
        char dir[4200];
        if (ffn_path(dir, sizeof dir, err, n, "%s/listops", o->data_dir)) return -1;
        if (g_lead && ensure_listops(dir, err, n)) return -1; /* one writer; the others wait, then read */
        ffn_dist_barrier();
        if (!g_lead && ensure_listops(dir, err, n)) return -1;
        if (ffn_path(tr, sizeof tr, err, n, "%s/train.tsv", dir) || ffn_path(va, sizeof va, err, n, "%s/valid.tsv", dir) ||
            ffn_path(te, sizeof te, err, n, "%s/test.tsv", dir))
            return -1;
    } else if (data && !strcmp(data, "text")) {
        if (d->task != TASK_CLASSIFY) return ffn_err(err, n, "--data text is a classify task");
        snprintf(tr, sizeof tr, "%s/spam-assassin", o->data_dir);
    } else if (data && !strcmp(data, "pretrain")) {
        if (d->task != TASK_MLM) return ffn_err(err, n, "--data pretrain is for --task mlm");
    } else if (data) {
        return ffn_err(err, n, "--data: '%s' must be image, text, listops, pathfinder or pretrain (or give --train FILE)", data);
    } else {
        if (!o->train) return ffn_err(err, n, "give --data NAME or --train FILE (see fastfnet train --help)");
        snprintf(tr, sizeof tr, "%s", o->train);
        if (o->valid) snprintf(va, sizeof va, "%s", o->valid);
        if (o->test) snprintf(te, sizeof te, "%s", o->test);
    }
    int is_text = data && !strcmp(data, "text"), is_listops = data && !strcmp(data, "listops");
    d->max_len = o->max_len ? o->max_len : is_text ? 4096 : is_listops ? 2000 : 512;
    if (d->task == TASK_MLM) {
        /* raw text: the whole file is one token stream */
        size_t len, vlen = 0;
        char *text, *vtext = NULL;
        if (data) {
            if (ffn_text_corpus(o->data_dir, &text, &len, &vtext, &vlen, err, n)) return -1;
        } else if (!(text = ffn_read_file(tr, &len, (size_t)1 << 34, err, n))) {
            return -1;
        } else if (va[0] && !(vtext = ffn_read_file(va, &vlen, (size_t)1 << 34, err, n))) {
            free(text);
            return -1;
        }
        if (given_tok) d->tok = given_tok;
        else if (o->tokenizer_file) {
            if (!(d->tok = ffn_tok_load(o->tokenizer_file, err, n))) return free(text), -1;
        } else {
            ffn_tok_kind k = !strcmp(o->tokenizer, "bpe") ? FFN_TOK_BPE : !strcmp(o->tokenizer, "word") ? FFN_TOK_WORD : FFN_TOK_BYTE;
            d->tok = k == FFN_TOK_BYTE ? ffn_tok_byte() : ffn_tok_train(k, text, len, o->vocab_size, 2, err, n);
            if (!d->tok) return free(text), -1;
        }
        if (check_task_tokenizer(d->tok, d->task, o, err, n) || ffn_mlm_ids_of(&d->mlm, d->tok, err, n))
            return free(text), free(vtext), -1;
        for (int split = 0; split < 2; split++) {
            if (split == 1) {
                free(text);
                text = vtext, len = vlen;
                if (!text) break;
            }
            size_t cap = len + 16;
            int32_t *ids = malloc(sizeof(int32_t) * cap);
            size_t m = ffn_tok_encode(d->tok, text, len, ids, cap);
            if (m > cap) {
                ids = realloc(ids, sizeof(int32_t) * m);
                m = ffn_tok_encode(d->tok, text, len, ids, m);
            }
            int rc = ffn_dataset_pretrain(split ? &d->valid : &d->train, ids, m, d->max_len, o->nsp, (uint64_t)o->seed + split, &d->mlm, err, n);
            free(ids);
            if (rc) return free(text), -1;
        }
        free(text);
        if (d->valid.n == 0) split_valid(&d->train, &d->valid, o->valid_frac, (uint64_t)o->seed);
        if (o->limit > 0 && o->limit < d->train.n) {
            ffn_dataset t;
            ffn_dataset_slice(&t, &d->train, 0, o->limit);
            ffn_dataset_free(&d->train);
            d->train = t;
        }
        return 0;
    }
    /* classification from records */
    ffn_records r, rv = {0}, rt = {0};
    if (is_text) {
        if (ffn_records_spam(&r, &rv, &rt, tr, err, n)) return -1;
    } else if (ffn_records_read(&r, tr, d->task == TASK_PAIR, 1, err, n)) {
        return -1;
    }
    if (o->limit > 0 && o->limit < r.n) {
        char *keep = pick_subset(r.n, o->limit, o->seed, -1); /* kept in file order */
        int k = 0;
        for (int i = 0; i < r.n; i++) {
            if (!keep[i]) {
                free(r.a[i]), free(r.b ? r.b[i] : NULL), free(r.label[i]);
                continue;
            }
            r.a[k] = r.a[i], r.label[k] = r.label[i], r.line[k] = r.line[i];
            if (r.b) r.b[k] = r.b[i];
            k++;
        }
        r.n = k;
        free(keep);
    }
    if (given_labels) {
        d->labels.n = given_labels->n;
        d->labels.names = malloc(sizeof(char *) * given_labels->n);
        for (int i = 0; i < given_labels->n; i++) d->labels.names[i] = strdup(given_labels->names[i]);
    } else if (ffn_labels_build(&d->labels, &r, err, n)) {
        ffn_records_free(&r);
        return -1;
    }
    if (given_tok) d->tok = given_tok;
    else if (o->tokenizer_file) d->tok = ffn_tok_load(o->tokenizer_file, err, n);
    else {
        int word = !strcmp(o->tokenizer, "word") || (!strcmp(o->tokenizer, "auto") && data && !strcmp(data, "listops"));
        ffn_tok_kind k = !strcmp(o->tokenizer, "bpe") ? FFN_TOK_BPE : word ? FFN_TOK_WORD : FFN_TOK_BYTE;
        if (k == FFN_TOK_BYTE) d->tok = ffn_tok_byte();
        else {
            size_t len;
            char *text = records_text(&r, &len);
            d->tok = ffn_tok_train(k, text, len, o->vocab_size, 1, err, n);
            free(text);
        }
    }
    if (!d->tok || check_task_tokenizer(d->tok, d->task, o, err, n) ||
        (d->task == TASK_MLM && ffn_mlm_ids_of(&d->mlm, d->tok, err, n))) {
        ffn_records_free(&r), ffn_records_free(&rv), ffn_records_free(&rt);
        return -1;
    }
    int rc = ffn_dataset_from_records(&d->train, &r, tr, d->tok, &d->labels, d->max_len, err, n);
    if (!rc && d->train.truncated)
        say("fastfnet: %s: %lld of %d examples truncated to %d tokens\n", tr, (long long)d->train.truncated, d->train.n, d->max_len);
    ffn_records_free(&r);
    if (rc) return -1;
    if (is_text) {
        rc = ffn_dataset_from_records(&d->valid, &rv, "valid", d->tok, &d->labels, d->max_len, err, n);
        if (!rc) rc = ffn_dataset_from_records(&d->test, &rt, "test", d->tok, &d->labels, d->max_len, err, n);
        ffn_records_free(&rv), ffn_records_free(&rt);
        if (rc) return -1;
        d->have_test = 1;
    } else if (va[0]) {
        if (load_records_ds(&d->valid, va, d, 1, err, n)) return -1;
    } else {
        split_valid(&d->train, &d->valid, o->valid_frac, (uint64_t)o->seed);
    }
    if (te[0] && file_exists(te)) {
        if (load_records_ds(&d->test, te, d, 1, err, n)) return -1;
        d->have_test = 1;
    }
    if (o->eval_limit > 0) {
        take_subset(&d->valid, o->eval_limit, (uint64_t)o->seed);
        take_subset(&d->test, o->eval_limit, (uint64_t)o->seed + 1);
    }
    return 0;
}

/* ---------- evaluation ---------- */

/* Attention masks pad tokens as keys, so padding cannot change an all-attention model's outputs: it pads each
 * batch only to its longest example. Fourier mixing transforms the padding with the text (FNet's outputs
 * depend on the length), so Fourier and hybrid models keep one fixed length for training and evaluation. */
static int pads_per_batch(const ffn_config *c) {
    for (int l = 0; l < c->num_layers; l++)
        if (c->mixing[l] != FFN_MIX_ATTENTION) return 0;
    return 1;
}

/* The length a batch of examples idx[0..n) is padded to: T, or (per_batch) its longest example up to T. */
static int batch_len(const ffn_dataset *ds, const int *idx, int n, int T, int per_batch) {
    if (!per_batch) return T;
    int L = 1;
    for (int i = 0; i < n; i++) {
        int l = (int)(ds->off[idx[i] + 1] - ds->off[idx[i]]);
        if (l > L) L = l;
    }
    return L < T ? L : T;
}

typedef struct {
    double loss, accuracy, mlm_accuracy, perplexity, nsp_accuracy;
    int n;
} eval_result;

/* Loss and accuracy on a data set, in chunks of B sequences; in a data-parallel run chunk j is evaluated by
 * rank j % size and the sums are reduced, so every rank gets the same numbers. MLM masks are drawn per
 * example from (mask_seed, example index): the same masks at every evaluation and for any process count. */
static eval_result evaluate(ffn_model *m, const ffn_dataset *ds, int task, const ffn_mlm_ids *mi, int B, int T, uint64_t mask_seed) {
    eval_result r = {0};
    const ffn_config *c = &m->cfg;
    int32_t *ids = malloc(sizeof(int32_t) * B * T), *tt = malloc(sizeof(int32_t) * B * T);
    int32_t *lab = malloc(sizeof(int32_t) * B), *mlm = malloc(sizeof(int32_t) * B * T);
    int *idx = malloc(sizeof(int) * B);
    ffn_model_set_pooled_only(m, task != TASK_MLM);
    /* sums: loss, correct, total, mlm_nll, mlm_correct, mlm_total, nsp_correct */
    double S[7] = {0};
    int V = c->vocab_size, rank = ffn_dist_rank(), size = ffn_dist_size();
    for (long b0 = (long)rank * B; b0 < ds->n; b0 += (long)size * B) {
        int nb = ds->n - b0 < B ? (int)(ds->n - b0) : B;
        for (int i = 0; i < nb; i++) idx[i] = (int)b0 + i;
        const int Tb = batch_len(ds, idx, nb, T, pads_per_batch(c));
        ffn_dataset_batch(ds, idx, nb, Tb, c->pad_token_id, ids, tt, lab);
        ffn_batch bt = {.B = nb, .T = Tb, .input_ids = ids, .token_type_ids = tt};
        if (task == TASK_MLM) {
            for (int i = 0; i < nb; i++) {
                ffn_rng rng;
                ffn_rng_seed(&rng, mask_seed ^ ((uint64_t)(b0 + i) * 0x9E3779B97F4A7C15ull));
                ffn_mlm_mask(ids + (size_t)i * Tb, mlm + (size_t)i * Tb, (size_t)Tb, mi, &rng);
            }
            bt.mlm_labels = mlm;
            if (c->heads & FFN_HEAD_NSP) bt.nsp_labels = lab;
        } else {
            bt.cls_labels = lab;
        }
        float loss = ffn_model_forward(m, &bt, 0);
        if (*ffn_model_error(m)) ffn_die("evaluation: %s", ffn_model_error(m));
        S[0] += (double)loss * nb;
        if (task == TASK_MLM) {
            const float *lg = ffn_model_logits_mlm(m); /* the labelled rows, in order */
            for (int i = 0, r = 0; i < nb * Tb && lg; i++) {
                if (mlm[i] == -100) continue;
                const float *x = lg + (size_t)r++ * V;
                int am = 0;
                double mx, e = 0;
                for (int j = 1; j < V; j++)
                    if (x[j] > x[am]) am = j;
                mx = x[am];
                for (int j = 0; j < V; j++) e += exp(x[j] - mx);
                S[3] += -(x[mlm[i]] - mx - log(e));
                S[4] += am == mlm[i];
                S[5] += 1;
            }
            if (c->heads & FFN_HEAD_NSP) {
                const float *ln = ffn_model_logits_nsp(m);
                for (int i = 0; i < nb; i++) S[6] += (ln[2 * i + 1] > ln[2 * i]) == lab[i];
            }
        } else {
            const float *lg = ffn_model_logits_cls(m);
            int L = c->num_labels;
            for (int i = 0; i < nb; i++) {
                int am = 0;
                for (int j = 1; j < L; j++)
                    if (lg[i * L + j] > lg[i * L + am]) am = j;
                S[1] += am == lab[i];
            }
        }
        S[2] += nb;
    }
    ffn_dist_sum_f64(S, 7);
    double total = S[2];
    r.n = (int)total;
    r.loss = total ? S[0] / total : 0;
    r.accuracy = total ? S[1] / total : 0;
    if (task == TASK_MLM) {
        /* the mean over masked targets (not over batches, nor with the NSP loss), so loss == log(perplexity) */
        r.loss = S[5] ? S[3] / S[5] : 0;
        r.mlm_accuracy = S[5] ? S[4] / S[5] : 0;
        r.perplexity = S[5] ? exp(S[3] / S[5]) : 0;
        r.nsp_accuracy = total ? S[6] / total : 0;
        r.accuracy = r.mlm_accuracy;
    }
    ffn_model_set_pooled_only(m, 0);
    free(ids), free(tt), free(lab), free(mlm), free(idx);
    return r;
}

/* ---------- checkpoints ---------- */

typedef struct {
    long step, epoch, pos;
    uint64_t data_rng, dropout_seed, dropout_calls;
    double best, elapsed;
    long bad_evals;
    long best_step; /* the step of the best evaluation (-1: none yet) */
} train_state;

static void u64s(char *buf, size_t n, uint64_t v) { snprintf(buf, n, "%llu", (unsigned long long)v); }

/* Everything needed to load a trained model beside the weights: task, labels, tokenizer, length. */
static void meta_list(const char **meta, char (*bufs)[64], char **labels_json, const run_data *d, const char *opts_json) {
    int k = 0;
    meta[k++] = "fastfnet_task";
    meta[k++] = d->task == TASK_MLM ? "mlm" : d->task == TASK_PAIR ? "classify-pair" : "classify";
    meta[k++] = "fastfnet_max_len";
    snprintf(bufs[0], 64, "%d", d->max_len);
    meta[k++] = bufs[0];
    meta[k++] = "fastfnet_tokenizer";
    meta[k++] = ffn_tok_kind_name(ffn_tok_kind_of(d->tok));
    if (d->labels.n) {
        *labels_json = ffn_labels_to_json(&d->labels);
        meta[k++] = "fastfnet_labels";
        meta[k++] = *labels_json;
    }
    meta[k++] = "fastfnet_train_options";
    meta[k++] = opts_json;
    meta[k] = NULL;
}

/* Save the model and tokenizer into dir (model.safetensors, config.json, tokenizer.json). */
static int save_model_dir(const char *dir, ffn_model *m, const run_data *d, const char *opts_json, char *err, size_t n) {
    const char *meta[20];
    char bufs[4][64], *lj = NULL, p[4200];
    meta_list(meta, bufs, &lj, d, opts_json);
    int rc = ffn_path(p, sizeof p, err, n, "%s/model.safetensors", dir) ? -1 : ffn_model_save_meta(m, p, meta, err, n);
    free(lj);
    if (rc) return -1;
    char cfg[65536];
    if (ffn_dir_config_json(&m->cfg, &d->labels, cfg, sizeof cfg) < 0) ffn_config_to_json(&m->cfg, cfg, sizeof cfg);
    if (ffn_path(p, sizeof p, err, n, "%s/config.json", dir) || ffn_write_file_atomic(p, cfg, strlen(cfg), err, n)) return -1;
    const char *tokfile = ffn_dir_tokenizer_file(ffn_tok_kind_of(d->tok));
    if (tokfile) {
        if (ffn_path(p, sizeof p, err, n, "%s/%s", dir, tokfile) || ffn_tok_save(d->tok, p, err, n)) return -1;
    }
    return 0;
}

/* mm, vv: the AdamW moments of every parameter (gathered from the ranks when ZeRO-1 shards them) */
static int save_state(const char *path, const ffn_model *m, const float *mm, const float *vv, const train_state *s, char *err,
                      size_t n) {
    char b[9][32];
    snprintf(b[0], 32, "%ld", s->step);
    snprintf(b[1], 32, "%ld", s->epoch);
    snprintf(b[2], 32, "%ld", s->pos);
    u64s(b[3], 32, s->data_rng);
    u64s(b[4], 32, s->dropout_seed);
    u64s(b[5], 32, s->dropout_calls);
    snprintf(b[6], 32, "%.17g", s->best);
    snprintf(b[7], 32, "%ld", s->bad_evals);
    snprintf(b[8], 32, "%ld", s->best_step);
    char el[32];
    snprintf(el, sizeof el, "%.3f", s->elapsed);
    const char *meta[] = {"step", b[0], "epoch", b[1], "pos", b[2], "data_rng", b[3], "dropout_seed", b[4],
                          "dropout_calls", b[5], "best", b[6], "bad_evals", b[7], "best_step", b[8],
                          "elapsed", el, NULL};
    ffn_st_out t[2] = {{"adamw.m", FFN_DT_F32, 1, {(int64_t)m->num_params}, (float *)mm},
                       {"adamw.v", FFN_DT_F32, 1, {(int64_t)m->num_params}, (float *)vv}};
    return ffn_st_write(path, t, 2, meta, err, n);
}

static int meta_u64(const ffn_st_file *f, const char *key, uint64_t *v, const char *path, char *err, size_t n) {
    const char *s = ffn_st_meta(f, key);
    char *end;
    if (!s) return ffn_err(err, n, "%s: training state has no \"%s\"", path, key);
    errno = 0;
    *v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return ffn_err(err, n, "%s: training state \"%s\" is not a number", path, key);
    return 0;
}

/* The training state in path: the AdamW moments of np parameters into mm and vv, and the counters into s. */
static int load_state(const char *path, size_t np, float *mm, float *vv, train_state *s, char *err, size_t n) {
    ffn_st_file f;
    if (ffn_st_open(&f, path, err, n)) return -1;
    int rc = -1;
    const ffn_st_tensor *tm = ffn_st_find(&f, "adamw.m"), *tv = ffn_st_find(&f, "adamw.v");
    uint64_t step, epoch, pos, bad;
    if (!tm || !tv || tm->numel != np || tv->numel != np) {
        ffn_err(err, n, "%s: AdamW moments missing or not the model's size (%zu)", path, np);
        goto done;
    }
    if (ffn_st_read_f32(&f, tm, mm, np, err, n) || ffn_st_read_f32(&f, tv, vv, np, err, n)) goto done;
    if (meta_u64(&f, "step", &step, path, err, n) || meta_u64(&f, "epoch", &epoch, path, err, n) ||
        meta_u64(&f, "pos", &pos, path, err, n) || meta_u64(&f, "data_rng", &s->data_rng, path, err, n) ||
        meta_u64(&f, "dropout_seed", &s->dropout_seed, path, err, n) ||
        meta_u64(&f, "dropout_calls", &s->dropout_calls, path, err, n) || meta_u64(&f, "bad_evals", &bad, path, err, n))
        goto done;
    s->step = (long)step, s->epoch = (long)epoch, s->pos = (long)pos, s->bad_evals = (long)bad;
    const char *b = ffn_st_meta(&f, "best"), *el = ffn_st_meta(&f, "elapsed"), *bs = ffn_st_meta(&f, "best_step");
    s->best = b ? strtod(b, NULL) : -1e30;
    s->best_step = bs ? strtol(bs, NULL, 10) : -1;
    s->elapsed = el ? strtod(el, NULL) : 0;
    rc = 0;
done:
    ffn_st_close(&f);
    return rc;
}

/* The number of a checkpoint directory "step-<digits>", or -1 for any other name. */
static long step_of(const char *name) {
    if (strncmp(name, "step-", 5) || name[5] < '0' || name[5] > '9') return -1;
    char *end;
    errno = 0;
    long v = strtol(name + 5, &end, 10);
    return errno || *end || v < 0 ? -1 : v;
}

static int cmp_desc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x < y) - (x > y);
}

static void rm_rf_dir(const char *dir) {
    DIR *dd = opendir(dir);
    if (!dd) return;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(dd))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!ffn_path(p, sizeof p, NULL, 0, "%s/%s", dir, e->d_name)) unlink(p);
    }
    closedir(dd);
    rmdir(dir);
}

/* The steps of the checkpoint directories in ckdir, newest first (by number: names of another width or run
 * do not sort by name), at most cap; with clear_tmp, half-written ones (*.tmp) left by a crash are removed. */
static int list_steps(const char *ckdir, long *steps, int cap, int clear_tmp) {
    DIR *dd = opendir(ckdir);
    if (!dd) return 0;
    int k = 0;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(dd))) {
        if (strncmp(e->d_name, "step-", 5)) continue;
        if (strstr(e->d_name, ".tmp")) {
            if (clear_tmp && !ffn_path(p, sizeof p, NULL, 0, "%s/%s", ckdir, e->d_name)) rm_rf_dir(p);
            continue;
        }
        long st = step_of(e->d_name);
        if (st >= 0 && k < cap) steps[k++] = st;
    }
    closedir(dd);
    qsort(steps, (size_t)k, sizeof(long), cmp_desc);
    return k;
}

/* Keep the `keep` newest step directories, and always `newest` (the one LATEST names; -1: none). */
static void prune_checkpoints(const char *ckdir, int keep, long newest) {
    long steps[4096];
    int k = list_steps(ckdir, steps, 4096, 1);
    char p[4400];
    for (int i = keep; i < k; i++)
        if (steps[i] != newest && !ffn_path(p, sizeof p, NULL, 0, "%s/step-%09ld", ckdir, steps[i])) rm_rf_dir(p);
}

/* The files of one checkpoint into the new directory tmp, synced. */
static int write_checkpoint_dir(const char *tmp, ffn_model *m, const float *mm, const float *vv, const run_data *d,
                                const train_state *s, const char *opts_json, char *err, size_t n) {
    char p[4400];
    if (mkdir(tmp, 0755)) return ffn_err(err, n, "%s: cannot create (%s)", tmp, strerror(errno));
    if (save_model_dir(tmp, m, d, opts_json, err, n)) return -1;
    if (ffn_path(p, sizeof p, err, n, "%s/state.safetensors", tmp) || save_state(p, m, mm, vv, s, err, n)) return -1;
    if (fsync_dir(tmp)) return ffn_err(err, n, "%s: cannot sync the directory (%s)", tmp, strerror(errno));
    return 0;
}

/* A checkpoint is a directory written under a temporary name, fsync'd, then renamed, and only then named
 * in LATEST: a crash at any moment leaves the previous checkpoint intact and LATEST pointing at it. The
 * top-level copy (what eval/predict/--model use) is written when top_level: the newest model, or with
 * --patience only the best one. */
static int save_checkpoint(const char *out, ffn_model *m, const float *mm, const float *vv, const run_data *d,
                           const train_state *s, const char *opts_json, int keep, int top_level, char *err, size_t n) {
    char ck[4200], tmp[4300], fin[4300], p[4400];
    if (ffn_path(ck, sizeof ck, err, n, "%s/checkpoints", out) || ffn_path(fin, sizeof fin, err, n, "%s/step-%09ld", ck, s->step) ||
        ffn_path(tmp, sizeof tmp, err, n, "%s.tmp", fin) || ffn_path(p, sizeof p, err, n, "%s/LATEST", ck))
        return -1;
    if (mkdir_p(ck)) return ffn_err(err, n, "%s: cannot create (%s)", ck, strerror(errno));
    rm_rf_dir(tmp);
    if (write_checkpoint_dir(tmp, m, mm, vv, d, s, opts_json, err, n)) {
        rm_rf_dir(tmp); /* a failed save (a full disk) leaves nothing half-written and gives its room back */
        return -1;
    }
    rm_rf_dir(fin); /* a checkpoint of the same step from before a resume */
    if (rename(tmp, fin)) return ffn_err(err, n, "%s: rename failed (%s)", fin, strerror(errno));
    if (fsync_dir(ck)) return ffn_err(err, n, "%s: cannot sync the directory (%s)", ck, strerror(errno));
    char name[64];
    snprintf(name, sizeof name, "step-%09ld\n", s->step);
    if (ffn_write_file_atomic(p, name, strlen(name), err, n)) return -1; /* syncs ck too */
    if (top_level && save_model_dir(out, m, d, opts_json, err, n)) return -1;
    prune_checkpoints(ck, keep, s->step);
    return 0;
}

/* --force over an older run: its checkpoints go before this run trains, LATEST first, so that neither the
 * pruning of this run's checkpoints nor a --resume after this run dies early can take them for this run's. */
static int clear_old_run(const char *out, char *err, size_t n) {
    char ck[4200], p[4300];
    if (ffn_path(ck, sizeof ck, err, n, "%s/checkpoints", out) || ffn_path(p, sizeof p, err, n, "%s/LATEST", ck)) return -1;
    if (!file_exists(ck)) return 0;
    if (unlink(p) && errno != ENOENT) return ffn_err(err, n, "%s: cannot remove (%s)", p, strerror(errno));
    if (fsync_dir(ck)) return ffn_err(err, n, "%s: cannot sync the directory (%s)", ck, strerror(errno));
    prune_checkpoints(ck, 0, -1);
    return 0;
}

/* Load a trained model directory with its task metadata (labels, tokenizer, max_len). */
static ffn_model *load_trained(const char *dir, run_data *d, char *task, size_t tcap, char *err, size_t n) {
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (!file_exists(p)) snprintf(p, sizeof p, "%s", dir); /* a single file */
    ffn_model *m = ffn_model_load(p, err, n);
    if (!m && strcmp(p, dir)) m = ffn_model_load(dir, err, n); /* an HF directory: the config is config.json */
    if (!m) return NULL;
    ffn_st_file f;
    if (ffn_st_open(&f, p, err, n)) return ffn_model_free(m), NULL;
    const char *t = ffn_st_meta(&f, "fastfnet_task"), *ml = ffn_st_meta(&f, "fastfnet_max_len");
    const char *tk = ffn_st_meta(&f, "fastfnet_tokenizer"), *lj = ffn_st_meta(&f, "fastfnet_labels");
    snprintf(task, tcap, "%s", t ? t : "");
    d->max_len = ml ? atoi(ml) : m->cfg.max_position;
    if (d->max_len < 1 || d->max_len > m->cfg.max_position) d->max_len = m->cfg.max_position;
    int rc = 0;
    if (lj && ffn_labels_from_json(&d->labels, lj, err, n)) rc = -1;
    char tp[4300];
    if (!rc && !(d->tok = ffn_dir_tokenizer(dir, tk, tp, sizeof tp, err, n))) rc = -1;
    if (!rc && ffn_dir_check_tokenizer(d->tok, tp, &m->cfg, dir, err, n)) rc = -1;
    ffn_st_close(&f);
    if (rc) {
        ffn_model_free(m);
        return NULL;
    }
    return m;
}

/* A checkpoint that loaded: the model with its task metadata, and the training state. */
typedef struct {
    ffn_model *m;
    run_data meta;
    char task[64];
    train_state st;
    float *mm, *vv; /* AdamW moments of every parameter */
} resume_point;

static void resume_point_free(resume_point *r) {
    run_data_free(&r->meta);
    ffn_model_free(r->m);
    ffn_free(r->mm), ffn_free(r->vv);
    memset(r, 0, sizeof *r);
}

/* Load the checkpoint directory dir, step `step`, whole (model, metadata and state), or fail naming why. */
static int load_checkpoint(const char *dir, long step, resume_point *r, char *err, size_t n) {
    char sp[4400];
    memset(r, 0, sizeof *r);
    if (ffn_path(sp, sizeof sp, err, n, "%s/state.safetensors", dir)) return -1;
    r->m = load_trained(dir, &r->meta, r->task, sizeof r->task, err, n);
    if (!r->m) return -1;
    r->mm = ffn_malloc(sizeof(float) * r->m->num_params);
    r->vv = ffn_malloc(sizeof(float) * r->m->num_params);
    int rc = load_state(sp, r->m->num_params, r->mm, r->vv, &r->st, err, n);
    if (!rc && r->st.step != step) rc = ffn_err(err, n, "%s: the state is of step %ld", sp, r->st.step);
    if (rc) resume_point_free(r);
    return rc;
}

/* The checkpoint to resume from: the one LATEST names or, when that one does not load (a damaged disk, a
 * truncated file), the newest older one that does, saying so. No LATEST means nothing to resume: a --force
 * run removes the older run's LATEST before it trains. */
static int find_resume(const char *out, resume_point *r, char *ckpath, size_t cap, char *err, size_t n) {
    char ck[4200], p[4300], name[128] = "", why[700], first[800] = "";
    if (ffn_path(ck, sizeof ck, err, n, "%s/checkpoints", out) || ffn_path(p, sizeof p, err, n, "%s/LATEST", ck)) return -1;
    FILE *f = fopen(p, "r");
    if (!f) return ffn_err(err, n, "%s: no checkpoint to resume from (%s missing)", out, p);
    if (!fgets(name, sizeof name, f)) name[0] = 0;
    fclose(f);
    name[strcspn(name, "\r\n")] = 0;
    long latest = step_of(name), steps[4096];
    if (latest < 0) say("fastfnet: %s does not name a checkpoint; trying the newest that loads\n", p);
    int k = list_steps(ck, steps, 4096, 0);
    for (int i = -1; i < k; i++) {
        long step = i < 0 ? latest : steps[i];
        if (step < 0 || (i >= 0 && latest >= 0 && step >= latest)) continue;
        if (ffn_path(ckpath, cap, err, n, "%s/step-%09ld", ck, step)) return -1;
        if (!load_checkpoint(ckpath, step, r, why, sizeof why)) return 0;
        say("fastfnet: checkpoint %s is unreadable (%s); trying the one before it\n", ckpath, why);
        if (!first[0]) snprintf(first, sizeof first, "%s", why);
    }
    return ffn_err(err, n, "%s: no readable checkpoint to resume from (%s)", ck, first[0] ? first : "none left");
}

/* After a resume at `step`: drop the metrics lines of later steps (logged before the run stopped, and about
 * to be logged again) and a line cut short by a crash, so every step appears once. */
static int trim_metrics(const char *path, long step, char *err, size_t n) {
    size_t len;
    char *text = ffn_read_file(path, &len, (size_t)1 << 30, NULL, 0);
    if (!text) return 0; /* no metrics yet */
    char *kept = malloc(len + 1);
    size_t k = 0;
    int dropped = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) + 1 : strlen(line);
        ffn_json *j = nl ? ffn_json_parse(line, ll - 1, NULL, 0) : NULL;
        long long s = 0;
        int keep = j && (ffn_json_get_int(j, "step", &s) != 0 || s <= step);
        ffn_json_free(j);
        if (keep) memcpy(kept + k, line, ll), k += ll;
        else dropped++;
        line += ll;
    }
    int rc = dropped ? ffn_write_file_atomic(path, kept, k, err, n) : 0;
    free(text), free(kept);
    return rc;
}

/* Refuse data that does not fit the model before running any of it: a token id past the vocabulary would
 * read (and in training write) other tensors' rows, a label past the classifier another class's weights. */
static void require_fit(const ffn_model *m, const ffn_dataset *ds, int task, const char *what) {
    const ffn_config *c = &m->cfg;
    for (int i = 0; i < ds->n; i++) {
        for (int64_t k = ds->off[i]; k < ds->off[i + 1]; k++)
            if (ds->ids[k] < 0 || ds->ids[k] >= c->vocab_size)
                ffn_die("%s: example %d has token id %d, outside the model's vocabulary (0..%d): this data does not fit the "
                        "model (another tokenizer or data set?)", what, i + 1, ds->ids[k], c->vocab_size - 1);
        if (task != TASK_MLM && ds->labels && (ds->labels[i] < 0 || ds->labels[i] >= c->num_labels))
            ffn_die("%s: example %d has label %d, but the model has %d labels: this data does not fit the model", what,
                    i + 1, ds->labels[i], c->num_labels);
    }
}

/* Every path a run is given leaves room for the names made from it (DIR/checkpoints/step-N.tmp/...). */
#define PATH_ROOM 3900
static void require_short(const char *flag, const char *path) {
    if (path && strlen(path) > PATH_ROOM)
        ffn_die("--%s: path too long (%zu bytes; at most %d): use a shorter one", flag, strlen(path), PATH_ROOM);
}

/* ---------- the training loop ---------- */

static double lr_at(const ffn_train_opts *o, long step, long total, long warmup) {
    if (step <= warmup && warmup > 0) return o->lr * step / warmup;
    double frac = total > warmup ? (double)(step - warmup) / (double)(total - warmup) : 1.0;
    if (frac > 1) frac = 1;
    double lo = o->lr * o->min_lr_ratio;
    if (!strcmp(o->schedule, "cosine")) return lo + (o->lr - lo) * 0.5 * (1 + cos(M_PI * frac));
    return lo + (o->lr - lo) * (1 - frac);
}


static void fmt_eta(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

/* Copy every tensor whose name and shape match from src (a pre-trained model) into dst; says which of dst's
 * tensors kept their fresh initialisation (absent from src, or another shape: FNet <-> Fast-FNet layers). */
static int copy_matching(ffn_model *dst, const ffn_model *src) {
    int copied = 0, skipped = 0;
    for (int i = 0; i < dst->num_tensors; i++) {
        const ffn_tensor_info *t = &dst->tensors[i];
        int found = 0;
        for (int j = 0; j < src->num_tensors && !found; j++) {
            const ffn_tensor_info *s = &src->tensors[j];
            if (strcmp(t->name, s->name) || t->numel != s->numel || t->shape[0] != s->shape[0]) continue;
            memcpy(dst->params + t->offset, src->params + s->offset, sizeof(float) * t->numel);
            copied++;
            found = 1;
        }
        if (!found && skipped++ < 12) say("fastfnet: not in the pre-trained model with this shape, freshly initialised: %s\n", t->name);
    }
    if (skipped > 12) say("fastfnet: ... and %d more tensors freshly initialised\n", skipped - 12);
    return copied;
}

/* Put the parameters of the top-level model (the best one, with --patience) into m, which has its config. */
static void use_best(ffn_model *m, const char *out) {
    char p[4200], err[1024];
    if (ffn_path(p, sizeof p, err, sizeof err, "%s/model.safetensors", out)) ffn_die("%s", err);
    ffn_model *b = ffn_model_load(p, err, sizeof err);
    if (!b) ffn_die("%s", err);
    if (b->num_params != m->num_params) ffn_die("%s: not the model of this run", p);
    memcpy(m->params, b->params, sizeof(float) * m->num_params);
    ffn_model_free(b);
}

/* Checkpoint: every rank calls it at the same step (ZeRO-1 gathers the moment shards on rank 0, which
 * alone writes). */
static void checkpoint_all(const ffn_train_opts *o, ffn_model *m, const run_data *d, const train_state *st,
                           const char *opts_json, int zero) {
    int top_level = o->patience <= 0 || st->best_step == st->step;
    char err[1024];
    float *mm = m->m, *vv = m->v;
    if (zero) {
        mm = g_lead ? ffn_malloc(sizeof(float) * m->num_params) : NULL;
        vv = g_lead ? ffn_malloc(sizeof(float) * m->num_params) : NULL;
        ffn_dist_gather_f32(m->m, mm, m->num_params);
        ffn_dist_gather_f32(m->v, vv, m->num_params);
    }
    if (g_lead && save_checkpoint(o->out, m, mm, vv, d, st, opts_json, o->keep, top_level, err, sizeof err)) ffn_die("%s", err);
    if (zero) ffn_free(mm), ffn_free(vv);
}

int ffn_train_run(const ffn_train_opts *o) {
    char err[1024];
    if (ffn_dist_init(NULL, NULL, err, sizeof err)) ffn_die("%s", err);
    int rank = ffn_dist_rank(), nproc = ffn_dist_size();
    g_lead = rank == 0;
    int zero = o->zero && nproc > 1;
    if (!o->out) ffn_die("train: --out DIR is required");
    if (o->batch < 1 || o->accum < 1) ffn_die("train: --batch and --accum must be >= 1");
    if (o->keep < 1) ffn_die("train: --keep must be >= 1");
    if (strcmp(o->schedule, "linear") && strcmp(o->schedule, "cosine")) ffn_die("--schedule: '%s' must be linear or cosine", o->schedule);
    require_short("out", o->out), require_short("data-dir", o->data_dir), require_short("train", o->train);
    require_short("valid", o->valid), require_short("test", o->test), require_short("metrics", o->metrics);
    require_short("init-from", o->init_from), require_short("tokenizer-file", o->tokenizer_file);
    char model_path[4200];
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", o->out);
    if (!o->resume && !o->force && file_exists(model_path))
        ffn_die("%s already holds a trained model; pass --resume %s to continue it or --force to start over", o->out, o->out);
    if (o->resume && strcmp(o->resume, o->out)) ffn_die("--resume DIR must be the same directory as --out (or omit --out)");
    const char *opts_json = o->options_json ? o->options_json : "{}";
    say("fastfnet train: options %s\n", opts_json);

    /* model and data */
    run_data d;
    ffn_model *m = NULL, *pre = NULL;
    train_state st = {0, 0, 0, 0, 0, 0, -1e30, 0, 0, -1};
    resume_point rp;
    memset(&rp, 0, sizeof rp);
    char ckpath[4300] = "";
    ffn_tokenizer *given_tok = NULL;
    ffn_labels given_labels = {0};
    if (o->resume) {
        if (find_resume(o->out, &rp, ckpath, sizeof ckpath, err, sizeof err)) ffn_die("%s", err);
        m = rp.m;
        if (strcmp(rp.task, o->task)) ffn_die("%s: the checkpoint is a %s model but --task is %s", ckpath, rp.task, o->task);
        given_tok = rp.meta.tok; /* owned from here by the run's data */
        given_labels = rp.meta.labels;
    } else if (o->init_from) {
        run_data tmp;
        memset(&tmp, 0, sizeof tmp);
        char task[64];
        pre = load_trained(o->init_from, &tmp, task, sizeof task, err, sizeof err);
        if (!pre) ffn_die("--init-from: %s", err);
        given_tok = tmp.tok;
        if (!o->max_len) { /* the pre-trained model's length, not 512, unless --max-len says otherwise */
            static ffn_train_opts oo;
            oo = *o;
            oo.max_len = tmp.max_len;
            o = &oo;
        }
        ffn_labels_free(&tmp.labels);
    }
    if (prepare_data(&d, o, given_tok, given_labels.n ? &given_labels : NULL, err, sizeof err)) ffn_die("%s", err);
    ffn_labels_free(&given_labels);
    if (d.train.n < 1) ffn_die("no training examples");
    int T = d.max_len, B = o->batch;
    /* data parallelism: this rank computes rows [r0, r1) of every global batch of B */
    if (B < nproc) ffn_die("--batch %d is smaller than the %d processes; each needs at least one sequence", B, nproc);
    size_t r0, r1;
    ffn_dist_block((size_t)B, rank, nproc, &r0, &r1);
    int Bl = (int)(r1 - r0), Bmax = (B + nproc - 1) / nproc;
    if (!m) {
        ffn_config c;
        if (pre && o->arch.arch) {
            /* another architecture from the flags (FNet <-> Fast-FNet): what fits is copied below */
            ffn_arch_opts a = o->arch;
            a.vocab = pre->cfg.vocab_size;
            a.max_pos = pre->cfg.max_position;
            if (ffn_arch_build(&c, &a, err, sizeof err)) ffn_die("%s", err);
        } else if (pre) {
            c = pre->cfg;
            c.hidden_dropout = c.attn_dropout = (float)o->arch.dropout;
        } else {
            ffn_arch_opts a = o->arch;
            a.vocab = ffn_tok_vocab_size(d.tok);
            a.max_pos = T;
            if (ffn_arch_build(&c, &a, err, sizeof err)) ffn_die("%s", err);
        }
        if (T > c.max_position) ffn_die("--max-len %d exceeds the pre-trained model's %d positions", T, c.max_position);
        if (c.vocab_size != ffn_tok_vocab_size(d.tok))
            ffn_die("the tokenizer has %d tokens but the model's vocabulary is %d", ffn_tok_vocab_size(d.tok), c.vocab_size);
        if (!pre) c.pad_token_id = ffn_tok_special(d.tok, FFN_TOK_PAD); /* a pre-trained config's was checked on load */
        if (d.task == TASK_MLM) c.heads = FFN_HEAD_MLM | (o->nsp ? FFN_HEAD_NSP | FFN_HEAD_POOLER : 0);
        else c.heads = FFN_HEAD_CLS | FFN_HEAD_POOLER, c.num_labels = d.labels.n;
        m = ffn_model_create(&c, (uint64_t)o->seed, err, sizeof err);
        if (!m) ffn_die("%s", err);
        if (pre) {
            int k = copy_matching(m, pre);
            say("fastfnet: initialised %d of %d tensors from %s\n", k, m->num_tensors, o->init_from);
            ffn_model_free(pre);
        }
    } else {
        const ffn_config *c = &m->cfg;
        if (d.task != TASK_MLM && c->num_labels != d.labels.n) ffn_die("%s: label map does not fit the model", ckpath);
    }
    if (ffn_model_reserve(m, Bmax, T, 1, err, sizeof err)) ffn_die("%s", err);
    /* the replicas start from rank 0's parameters (they already agree: same seed or the same files) */
    ffn_dist_bcast(m->params, sizeof(float) * m->num_params, 0);
    for (int i = 0; i < 3; i++) {
        const ffn_dataset *ds = i == 0 ? &d.train : i == 1 ? &d.valid : &d.test;
        if (i < 2 || d.have_test) require_fit(m, ds, d.task, i == 0 ? "training data" : i == 1 ? "validation data" : "test data");
    }
    if (o->resume) {
        st = rp.st;
        memcpy(m->m, rp.mm, sizeof(float) * m->num_params);
        memcpy(m->v, rp.vv, sizeof(float) * m->num_params);
        ffn_free(rp.mm), ffn_free(rp.vv);
        m->dropout_seed = st.dropout_seed;
        m->dropout_calls = st.dropout_calls;
        ffn_dist_bcast(m->m, sizeof(float) * m->num_params, 0);
        ffn_dist_bcast(m->v, sizeof(float) * m->num_params, 0);
        say("fastfnet: resuming %s at step %ld (epoch %ld, example %ld)\n", ckpath, st.step, st.epoch, st.pos);
    } else {
        ffn_rng r0;
        ffn_rng_seed(&r0, (uint64_t)o->seed ^ 0xDA7A);
        st.data_rng = r0.s;
        st.dropout_seed = m->dropout_seed;
    }
    size_t glo = 0, ghi = m->num_params; /* the gradients this rank reduces and applies */
    float *rs_scratch = NULL;
    if (nproc > 1) {
        size_t blo, bhi;
        ffn_dist_block(m->num_params, rank, nproc, &blo, &bhi);
        rs_scratch = ffn_malloc(sizeof(float) * (bhi - blo + 1));
        if (zero) {
            ffn_model_shard_moments(m, blo, bhi); /* AdamW state: 1/nproc of it on each rank */
            glo = blo, ghi = bhi;
        }
    }
    if (g_lead && mkdir_p(o->out)) ffn_die("%s: cannot create (%s)", o->out, strerror(errno));

    long per_epoch = (d.train.n + (long)B * o->accum - 1) / ((long)B * o->accum);
    long total = o->steps > 0 ? o->steps : per_epoch * o->epochs;
    long warmup = o->warmup >= 0 ? o->warmup : (long)(o->warmup_frac * total);
    int eval_every = o->eval_every > 0 ? o->eval_every : (int)(total / 5 > 0 ? total / 5 : 1);
    int save_every = o->save_every > 0 ? o->save_every : eval_every;
    char metrics_path[4200];
    if (o->metrics) snprintf(metrics_path, sizeof metrics_path, "%s", o->metrics);
    else snprintf(metrics_path, sizeof metrics_path, "%s/metrics.jsonl", o->out);
    if (g_lead && o->resume && trim_metrics(metrics_path, st.step, err, sizeof err)) ffn_die("%s", err);
    if (g_lead && !o->resume && o->force) {
        if (clear_old_run(o->out, err, sizeof err)) ffn_die("%s", err);
        if (!o->metrics) unlink(metrics_path); /* the older run's; a --metrics file is appended to, as asked */
    }
    FILE *mf = g_lead ? fopen(metrics_path, "a") : fopen("/dev/null", "w");
    if (!mf) ffn_die("%s: cannot append (%s)", metrics_path, strerror(errno));
    size_t nparams = ffn_model_num_params(m);
    const int per_batch = pads_per_batch(&m->cfg);
    say("fastfnet: %s\n", per_batch ? "attention model: each batch is padded to its longest example (at most --max-len); the key mask makes padding inert"
                                     : "Fourier mixing sees padding: every example is padded to --max-len tokens, in training and evaluation alike");
    say("fastfnet: %d train / %d valid%s examples of %d tokens, %zu parameters, %ld steps of %d x %d%s\n",
            d.train.n, d.valid.n, d.have_test ? " / test" : "", T, nparams, total, B, o->accum, o->accum > 1 ? " (accumulated)" : "");
    if (nproc > 1)
        say("fastfnet: %d processes, %d-%d sequences of each batch per process; AdamW moments %.3f MiB per process%s\n",
            nproc, B / nproc, Bmax, 2.0 * sizeof(float) * (double)(m->mom_hi - m->mom_lo) / 1048576.0,
            zero ? " (ZeRO-1: sharded)" : "");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(2);

    int *perm = malloc(sizeof(int) * d.train.n);
    permutation(perm, d.train.n, o->seed, st.epoch);
    size_t nstep = (size_t)o->accum * B; /* sequences of one optimizer step, all micro-batches */
    int32_t *ids = malloc(sizeof(int32_t) * nstep * T), *tt = malloc(sizeof(int32_t) * nstep * T);
    int32_t *lab = malloc(sizeof(int32_t) * nstep), *mlm = malloc(sizeof(int32_t) * nstep * T);
    int *idx = malloc(sizeof(int) * B), *tlen = malloc(sizeof(int) * o->accum);
    ffn_rng data_rng = {st.data_rng};
    ffn_adamw opt = {(float)o->lr, (float)o->beta1, (float)o->beta2, (float)o->eps, (float)o->weight_decay};
    double t_start = ffn_now() - st.elapsed, t_log = ffn_now();
    long tokens_since = 0;
    double loss_acc = 0;
    int loss_n = 0, rc = 0;
    eval_result last = {0};
    int stopped_early = 0;
    double step_time = 0, comm_since = 0; /* training steps after the first (warm-up: page faults, plans) */
    long timed_steps = 0, first_step = st.step + 1, timed_tokens = 0; /* tokens: padded positions computed */
    ffn_dist_comm_reset();
    int stop = 0; /* a stop request, agreed by every process at the same step */
    while (st.step < total && !stop) {
        double t_step = ffn_now();
        ffn_model_zero_grad(m);
        double loss_step = 0;
        /* the step's micro-batches first: each head's loss is a mean over the targets of all of them (and of
         * every rank's rows), so accum x batch B trains as one batch of accum * B */
        int ndenom = 0, mdenom = 0;
        long step_tokens = 0;
        for (int a = 0; a < o->accum; a++) {
            size_t ob = (size_t)a * B * T;
            for (int i = 0; i < B; i++) {
                if (st.pos >= d.train.n) {
                    st.epoch++;
                    st.pos = 0;
                    permutation(perm, d.train.n, o->seed, st.epoch);
                }
                idx[i] = perm[st.pos++];
            }
            /* every rank builds (and masks) the whole global batch, the same on all, and computes its rows */
            const int Tb = tlen[a] = batch_len(&d.train, idx, B, T, per_batch);
            ffn_dataset_batch(&d.train, idx, B, Tb, m->cfg.pad_token_id, ids + ob, tt + ob, lab + (size_t)a * B);
            step_tokens += (long)B * Tb;
            for (int i = 0; i < B; i++) ndenom += lab[(size_t)a * B + i] != -100;
            if (d.task == TASK_MLM) {
                ffn_mlm_mask(ids + ob, mlm + ob, (size_t)B * Tb, &d.mlm, &data_rng);
                for (size_t i = 0; i < (size_t)B * Tb; i++) mdenom += mlm[ob + i] != -100;
            }
        }
        for (int a = 0; a < o->accum; a++) {
            const int Tb = tlen[a]; /* micro-batch a sits at a * B * T, its rows Tb apart */
            size_t o0 = (size_t)a * B * T + r0 * (size_t)Tb, l0 = (size_t)a * B + r0;
            ffn_batch bt = {.B = Bl, .T = Tb, .input_ids = ids + o0, .token_type_ids = tt + o0, .row0 = (int)r0,
                            .cls_denom = ndenom, .nsp_denom = ndenom, .mlm_denom = mdenom ? mdenom : 1};
            if (d.task == TASK_MLM) {
                bt.mlm_labels = mlm + o0;
                if (m->cfg.heads & FFN_HEAD_NSP) bt.nsp_labels = lab + l0;
            } else {
                bt.cls_labels = lab + l0;
            }
            loss_step += ffn_model_forward(m, &bt, 1);
            if (*ffn_model_error(m)) ffn_die("training batch: %s", ffn_model_error(m));
            ffn_model_backward(m);
        }
        /* one small collective per step: the batch loss and whether any rank was asked to stop */
        double agree[2] = {loss_step, g_stop ? 1.0 : 0.0};
        ffn_dist_sum_f64(agree, 2);
        loss_step = agree[0];
        stop = agree[1] > 0;
        if (!isfinite(loss_step)) {
            say("\nfastfnet: the loss became %g at step %ld; stopping without saving. The last good checkpoint is "
                            "kept in %s/checkpoints (try a lower --lr or --clip)\n", loss_step, st.step + 1, o->out);
            rc = 1;
            break;
        }
        /* sum the gradients over ranks: all of them (plain data parallelism) or this rank's block (ZeRO-1) */
        if (zero) ffn_dist_reduce_scatter_f32(m->grads, m->num_params, rs_scratch);
        else ffn_dist_allreduce_f32(m->grads, m->num_params, rs_scratch);
        double sq = ffn_model_grad_sq(m, glo, ghi);
        if (zero) ffn_dist_sum_f64(&sq, 1); /* the blocks' sums; otherwise every rank holds all gradients */
        float gn = (float)sqrt(sq);
        if (!isfinite(gn)) {
            say("\nfastfnet: the gradient became non-finite at step %ld; stopping without saving (last good "
                            "checkpoint kept in %s/checkpoints)\n", st.step + 1, o->out);
            rc = 1;
            break;
        }
        if (o->clip > 0 && gn > o->clip) {
            float s = (float)(o->clip / gn);
            for (size_t i = glo; i < ghi; i++) m->grads[i] *= s;
        }
        st.step++;
        opt.lr = (float)lr_at(o, st.step, total, warmup);
        ffn_model_adamw_step(m, &opt, (int)st.step); /* ZeRO-1: this rank's block of parameters only */
        if (zero) ffn_dist_allgather_f32(m->params, m->num_params);
        if (st.step == first_step) ffn_dist_comm_reset();
        else step_time += ffn_now() - t_step, timed_steps++, timed_tokens += step_tokens;
        tokens_since += step_tokens;
        st.data_rng = data_rng.s;
        st.dropout_calls = m->dropout_calls;
        loss_acc += loss_step;
        loss_n++;
        double now = ffn_now();
        if (st.step % o->log_every == 0 || st.step == total) {
            double comm = ffn_dist_comm_seconds();
            double tps = tokens_since / (now - t_log + 1e-9);
            double el = now - t_start;
            char eta[32];
            fmt_eta(eta, sizeof eta, (total - st.step) * (el / (st.step > 0 ? st.step : 1)));
            fprintf(mf, "{\"step\": %ld, \"epoch\": %.4f, \"loss\": %.9g, \"lr\": %.6g, \"grad_norm\": %.9g, \"tokens_per_s\": %.1f, \"elapsed_s\": %.3f",
                    st.step, st.epoch + (double)st.pos / d.train.n, loss_acc / loss_n, opt.lr, gn, tps, el);
            if (nproc > 1) fprintf(mf, ", \"comm_s\": %.4f", comm - comm_since);
            fputs("}\n", mf);
            comm_since = comm;
            fflush(mf);
            if (tty)
                say("\r\033[Kstep %ld/%ld | loss %.4f | lr %.2e | %.0f tok/s | ETA %s", st.step, total, loss_acc / loss_n, opt.lr, tps, eta);
            else
                say("step %ld/%ld loss %.4f lr %.2e tok/s %.0f elapsed %.1fs eta %s\n", st.step, total, loss_acc / loss_n, opt.lr, tps, el, eta);
            loss_acc = 0, loss_n = 0, tokens_since = 0;
            t_log = ffn_now();
        }
        int do_eval = st.step % eval_every == 0 || st.step == total;
        if (do_eval) {
            uint64_t calls = m->dropout_calls;
            last = evaluate(m, &d.valid, d.task, &d.mlm, Bmax, T, (uint64_t)o->seed ^ 0xE7A1);
            m->dropout_calls = calls;
            double el = ffn_now() - t_start;
            if (d.task == TASK_MLM)
                fprintf(mf, "{\"step\": %ld, \"eval_loss\": %.6g, \"eval_mlm_accuracy\": %.6g, \"eval_perplexity\": %.6g%s, \"elapsed_s\": %.3f}\n",
                        st.step, last.loss, last.mlm_accuracy, last.perplexity, "", el);
            else
                fprintf(mf, "{\"step\": %ld, \"eval_loss\": %.6g, \"eval_accuracy\": %.6g, \"elapsed_s\": %.3f}\n", st.step, last.loss, last.accuracy, el);
            fflush(mf);
            say("%seval step %ld: loss %.4f, %s %.4f%s\n", tty ? "\r\033[K" : "", st.step, last.loss,
                    d.task == TASK_MLM ? "masked-token accuracy" : "accuracy", last.accuracy, "");
            if (last.accuracy > st.best) st.best = last.accuracy, st.bad_evals = 0, st.best_step = st.step;
            else if (++st.bad_evals >= o->patience && o->patience > 0) {
                say("fastfnet: no improvement in %ld evaluations: stopping early\n", st.bad_evals);
                stopped_early = 1;
            }
        }
        if (st.step % save_every == 0 || st.step == total || stopped_early || stop) {
            st.elapsed = ffn_now() - t_start;
            checkpoint_all(o, m, &d, &st, opts_json, zero);
        }
        if (stopped_early) break;
    }
    if (stop && rc == 0) {
        say("%sfastfnet: interrupted at step %ld: checkpoint saved; continue with --resume %s\n", tty ? "\r\033[K" : "", st.step, o->out);
        rc = 130;
    }
    if (rc == 0 && o->patience > 0 && st.best_step >= 0 && st.best_step != st.step) {
        /* the final figures are those of the model kept at the top level: the best one */
        use_best(m, o->out);
        last = evaluate(m, &d.valid, d.task, &d.mlm, Bmax, T, (uint64_t)o->seed ^ 0xE7A1);
        say("fastfnet: the model kept is the best one (step %ld); the final figures are its\n", st.best_step);
    }
    if (rc == 0) {
        double el = ffn_now() - t_start;
        eval_result te = {0};
        if (d.have_test) te = evaluate(m, &d.test, d.task, &d.mlm, Bmax, T, (uint64_t)o->seed ^ 0x7E57);
        fprintf(mf, "{\"step\": %ld, \"final\": true, \"valid_accuracy\": %.6g, \"valid_loss\": %.6g%s", st.step, last.accuracy, last.loss, "");
        if (d.have_test) fprintf(mf, ", \"test_accuracy\": %.6g, \"test_loss\": %.6g", te.accuracy, te.loss);
        double rss = peak_rss_mib(), rss_sum = rss;
        fprintf(mf, ", \"parameters\": %zu, \"elapsed_s\": %.3f, \"peak_rss_mib\": %.1f}\n", nparams, el, rss);
        double tps = step_time > 0 ? (double)timed_tokens / step_time : 0, comm = ffn_dist_comm_seconds();
        ffn_dist_sum_f64(&rss_sum, 1); /* the mean over ranks is reported below */
        if (g_lead) {
            printf("{\"model\": \"%s\", \"task\": \"%s\", \"steps\": %ld, \"parameters\": %zu, \"valid_accuracy\": %.4f, \"valid_loss\": %.4f",
                   o->out, o->task, st.step, nparams, last.accuracy, last.loss);
            if (d.task == TASK_MLM) printf(", \"valid_perplexity\": %.3f", last.perplexity);
            if (d.have_test) printf(", \"test_accuracy\": %.4f, \"test_loss\": %.4f", te.accuracy, te.loss);
            printf(", \"train_seconds\": %.1f, \"peak_rss_mib\": %.1f", el, rss);
            printf(", \"processes\": %d, \"zero\": %d, \"timed_steps\": %ld, \"step_seconds\": %.3f, \"tokens_per_s\": %.1f, "
                   "\"comm_seconds\": %.4f, \"wait_seconds\": %.4f, \"mean_peak_rss_mib\": %.1f}\n", nproc, zero, timed_steps,
                   step_time, tps, comm, ffn_dist_wait_seconds(), rss_sum / nproc);
        }
    }
    fclose(mf);
    free(perm), free(ids), free(tt), free(lab), free(mlm), free(idx), free(tlen);
    ffn_free(rs_scratch);
    run_data_free(&d);
    ffn_model_free(m);
    ffn_dist_finalize();
    return rc;
}

int ffn_eval_run(const char *model_dir, const ffn_train_opts *o) {
    char err[1024], task[64];
    require_short("model", model_dir), require_short("data-dir", o->data_dir), require_short("train", o->train);
    run_data meta;
    memset(&meta, 0, sizeof meta);
    ffn_model *m = load_trained(model_dir, &meta, task, sizeof task, err, sizeof err);
    if (!m) ffn_die("%s", err);
    ffn_train_opts oo = *o;
    oo.task = o->task ? o->task : task;
    if (strcmp(oo.task, task)) ffn_die("%s is a %s model but --task is %s", model_dir, task, oo.task);
    oo.max_len = meta.max_len;
    if (!oo.data && oo.train && !oo.valid) oo.valid = oo.train; /* the whole file is evaluated: nothing held out of it */
    run_data d;
    /* evaluation reads the split given by --data/--train as the "train" file of prepare_data, with the model's
     * own tokenizer and labels: an unknown label is then an error naming its line */
    if (prepare_data(&d, &oo, meta.tok, meta.labels.n ? &meta.labels : NULL, err, sizeof err)) ffn_die("%s", err);
    const ffn_dataset *ds = o->data && d.have_test ? &d.test : oo.valid == oo.train ? &d.valid : &d.train;
    if (o->data && !d.have_test) ds = &d.valid;
    require_fit(m, ds, d.task, o->data ? o->data : o->train);
    if (ffn_model_reserve(m, o->batch, d.max_len, 0, err, sizeof err)) ffn_die("%s", err);
    double t0 = ffn_now();
    eval_result r = evaluate(m, ds, d.task, &d.mlm, o->batch, d.max_len, (uint64_t)o->seed ^ 0x7E57);
    double dt = ffn_now() - t0;
    printf("{\"model\": \"%s\", \"examples\": %d, \"loss\": %.6g, \"accuracy\": %.6g", model_dir, r.n, r.loss, r.accuracy);
    if (d.task == TASK_MLM) printf(", \"perplexity\": %.6g", r.perplexity);
    printf(", \"seconds\": %.2f, \"tokens_per_s\": %.0f}\n", dt, (double)r.n * d.max_len / (dt > 0 ? dt : 1e-9));
    ffn_labels_free(&meta.labels);
    run_data_free(&d);
    ffn_model_free(m);
    return 0;
}

int ffn_predict_run(const char *model_dir, const char *input, const char *out, int batch) {
    char err[1024], task[64];
    require_short("model", model_dir), require_short("input", input), require_short("out", out);
    run_data d;
    memset(&d, 0, sizeof d);
    ffn_model *m = load_trained(model_dir, &d, task, sizeof task, err, sizeof err);
    if (!m) ffn_die("%s", err);
    if (!strcmp(task, "mlm") || d.labels.n == 0) ffn_die("%s: predict needs a classifier (this is a %s model)", model_dir, task);
    d.task = task_of(task);
    /* input: JSONL/TSV records (labels optional) or plain text, one example per line; no file or "-": stdin */
    ffn_records r;
    int from_stdin = !input || !strcmp(input, "-");
    if (from_stdin) input = "stdin";
    size_t il = strlen(input);
    int structured = !from_stdin && ((il > 6 && !strcmp(input + il - 6, ".jsonl")) || (il > 4 && !strcmp(input + il - 4, ".tsv")));
    if (structured) {
        if (ffn_records_read(&r, input, d.task == TASK_PAIR, 0, err, sizeof err)) ffn_die("%s", err);
    } else {
        if (d.task == TASK_PAIR) ffn_die("%s: a pair model needs --input FILE.jsonl or FILE.tsv with two texts per example", input);
        FILE *f = from_stdin ? stdin : fopen(input, "r");
        if (!f) ffn_die("%s: cannot open (%s)", input, strerror(errno));
        memset(&r, 0, sizeof r);
        int cap = 0;
        char *line = NULL;
        size_t lsz = 0;
        ssize_t got;
        int ln = 0;
        while ((got = getline(&line, &lsz, f)) != -1) {
            ln++;
            while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
            if (r.n == cap) {
                cap = cap ? cap * 2 : 256;
                r.a = realloc(r.a, sizeof(char *) * cap), r.label = realloc(r.label, sizeof(char *) * cap);
                r.line = realloc(r.line, sizeof(int) * cap);
            }
            r.a[r.n] = strdup(line), r.label[r.n] = NULL, r.line[r.n] = ln;
            r.n++;
        }
        free(line);
        if (!from_stdin) fclose(f);
        if (r.n == 0) ffn_die("%s: no examples (plain text: one example per line)", input);
    }
    ffn_dataset ds;
    if (ffn_dataset_from_records(&ds, &r, input, d.tok, NULL, d.max_len, err, sizeof err)) ffn_die("%s", err);
    require_fit(m, &ds, d.task, input);
    /* --out is written atomically: a failed or interrupted predict leaves the old file (or none) */
    ffn_atomic_file af = {NULL, NULL, NULL};
    FILE *of = stdout;
    if (out) {
        if (ffn_atomic_open(&af, out, err, sizeof err)) ffn_die("%s", err);
        of = af.f;
    }
    int T = d.max_len, L = m->cfg.num_labels;
    ffn_model_set_pooled_only(m, 1);
    if (ffn_model_reserve(m, batch, T, 0, err, sizeof err)) {
        ffn_atomic_abort(&af);
        ffn_die("%s", err);
    }
    int32_t *ids = malloc(sizeof(int32_t) * batch * T), *tt = malloc(sizeof(int32_t) * batch * T);
    int *idx = malloc(sizeof(int) * batch);
    double *p = malloc(sizeof(double) * L);
    for (int b0 = 0; b0 < ds.n; b0 += batch) {
        int nb = ds.n - b0 < batch ? ds.n - b0 : batch;
        for (int i = 0; i < nb; i++) idx[i] = b0 + i;
        const int Tb = batch_len(&ds, idx, nb, T, pads_per_batch(&m->cfg));
        ffn_dataset_batch(&ds, idx, nb, Tb, m->cfg.pad_token_id, ids, tt, NULL);
        ffn_batch bt = {.B = nb, .T = Tb, .input_ids = ids, .token_type_ids = tt};
        ffn_model_forward(m, &bt, 0);
        if (*ffn_model_error(m)) ffn_die("%s: %s", input, ffn_model_error(m));
        const float *lg = ffn_model_logits_cls(m);
        for (int i = 0; i < nb; i++) {
            double mx = lg[i * L], s = 0;
            int am = 0;
            for (int j = 1; j < L; j++)
                if (lg[i * L + j] > mx) mx = lg[i * L + j], am = j;
            for (int j = 0; j < L; j++) s += p[j] = exp(lg[i * L + j] - mx);
            size_t cap = 256 + (size_t)L * 64, pos = 0;
            char *line = malloc(cap + strlen(d.labels.names[am]) * 6);
            for (int j = 0; j < L; j++) cap += strlen(d.labels.names[j]) * 6;
            line = realloc(line, cap);
            pos += (size_t)snprintf(line, cap, "{\"line\": %d, \"label\": ", r.line[b0 + i]);
            ffn_json_escape(line, cap, &pos, d.labels.names[am]);
            pos += (size_t)snprintf(line + pos, cap - pos, ", \"probs\": {");
            for (int j = 0; j < L; j++) {
                if (j) line[pos++] = ',', line[pos++] = ' ';
                ffn_json_escape(line, cap, &pos, d.labels.names[j]);
                pos += (size_t)snprintf(line + pos, cap - pos, ": %.6f", p[j] / s);
            }
            fprintf(of, "%s}}\n", line);
            free(line);
        }
    }
    if (out && ffn_atomic_commit(&af, err, sizeof err)) ffn_die("%s", err);
    /* a pipe or a full disk can refuse the buffered lines: that is a failure, not a silent loss */
    if (!out && (fflush(stdout) != 0 || ferror(stdout))) ffn_die("writing the predictions to standard output failed (%s)", strerror(errno));
    free(ids), free(tt), free(idx), free(p);
    ffn_dataset_free(&ds);
    ffn_records_free(&r);
    run_data_free(&d);
    ffn_model_free(m);
    return 0;
}
