/* train.c: the training loop (AdamW, warmup + linear/cosine decay, clipping, accumulation), evaluation,
 * crash-safe checkpoints with the full training state, resume, and prediction. */
#include "train.h"
#include "fastfnet_train.h"
#include "options.h"
#include "data.h"
#include "dist.h"
#include "fastfnet_util.h"
#include "listops.h"
#include "pathfinder.h"
#include "model_dir.h"
#include "record.h"
#include <dirent.h>
#include <omp.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TASK_CLASSIFY = 0, TASK_PAIR = 1, TASK_MLM = 2 };
static const char *FASHION[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

void fastfnet_train_defaults(fastfnet_train_opts *o) {
    memset(o, 0, sizeof *o);
    fastfnet_arch_defaults(&o->arch);
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

/* Informational lines go to the caller's log hook, from rank 0 only (in a data-parallel run only the lead
 * reports, writes metrics and checkpoints). */
typedef struct {
    fastfnet_train_log fn;
    void *user;
    int lead;
} logger;

__attribute__((format(printf, 2, 3))) static void say(const logger *lg, const char *fmt, ...) {
    if (!lg || !lg->fn || !lg->lead) return;
    char buf[1024], *line = buf;
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    if (k >= (int)sizeof buf && (line = malloc((size_t)k + 1))) vsnprintf(line, (size_t)k + 1, fmt, aq); /* the options of long paths */
    va_end(aq);
    va_end(ap);
    if (!line) line = buf; /* out of memory: the line cut short */
    line[strcspn(line, "\n")] = 0;
    lg->fn(line, lg->user);
    if (line != buf) free(line);
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

/* for the checkpoint directories, renamed as a whole; single files go through fastfnet_write_file_atomic.
 * 0 ok; EINVAL (a filesystem that cannot sync directories) counts as done, as there. */
static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return rc != 0 && e != EINVAL ? -1 : 0;
}

/* perm = a Fisher-Yates shuffle of 0..n-1 drawn from a generator seeded with seed: the one shuffle of the
 * data order, the held-out split and the subsets. */
static void shuffled(int *perm, int n, uint64_t seed) {
    for (int i = 0; i < n; i++) perm[i] = i;
    fastfnet_rng r;
    fastfnet_rng_seed(&r, seed);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(fastfnet_rng_u64(&r) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

/* The data order of an epoch. */
static void permutation(int *perm, int n, long seed, long epoch) { shuffled(perm, n, (uint64_t)seed * 1000003ull + (uint64_t)epoch); }

/* Which k of n items a seeded random subset keeps (keep[i] = 1), so that they can be kept in their original
 * order: files and splits are often sorted by label (SpamAssassin's are), so the first k could share one. */
static char *pick_subset(int n, int k, long seed, long salt) {
    int *perm = malloc(sizeof(int) * n);
    char *keep = calloc((size_t)n, 1);
    if (!perm || !keep) return free(perm), free(keep), NULL;
    permutation(perm, n, seed, salt);
    for (int i = 0; i < k; i++) keep[perm[i]] = 1;
    free(perm);
    return keep;
}

/* out = the examples idx[0..k) of d, in that order; -1 when out of memory. */
static int dataset_gather(fastfnet_dataset *out, const fastfnet_dataset *d, const int *idx, int k) {
    fastfnet_dataset t = {0};
    size_t len = 0;
    for (int i = 0; i < k; i++) len += (size_t)(d->off[idx[i] + 1] - d->off[idx[i]]);
    t.n = k;
    t.off = malloc(sizeof(int64_t) * (size_t)(k > 0 ? k + 1 : 1));
    t.seg = malloc(sizeof(int32_t) * (size_t)(k > 0 ? k : 1));
    t.ids = malloc(sizeof(int32_t) * (len ? len : 1));
    if (d->labels) t.labels = malloc(sizeof(int32_t) * (size_t)(k > 0 ? k : 1));
    if (!t.off || !t.seg || !t.ids || (d->labels && !t.labels)) {
        fastfnet_dataset_free(&t);
        return -1;
    }
    int64_t pos = 0;
    for (int i = 0; i < k; i++) {
        int e = idx[i];
        int64_t l = d->off[e + 1] - d->off[e];
        t.off[i] = pos;
        memcpy(t.ids + pos, d->ids + d->off[e], sizeof(int32_t) * (size_t)l);
        t.seg[i] = d->seg[e];
        if (d->labels) t.labels[i] = d->labels[e];
        pos += l;
    }
    t.off[k] = pos;
    *out = t;
    return 0;
}

/* Keep a seeded random subset of k examples of d, in their original order. */
static int take_subset(fastfnet_dataset *d, int k, uint64_t seed) {
    if (k <= 0 || d->n <= k) return 0;
    char *keep = pick_subset(d->n, k, (long)(seed & 0x7fffffff), -2);
    int *idx = malloc(sizeof(int) * (size_t)k), j = 0;
    fastfnet_dataset t;
    int rc = keep && idx ? 0 : -1;
    for (int i = 0; !rc && i < d->n; i++)
        if (keep[i]) idx[j++] = i;
    if (!rc) rc = dataset_gather(&t, d, idx, k);
    free(keep), free(idx);
    if (rc) return -1;
    t.truncated = d->truncated;
    fastfnet_dataset_free(d);
    *d = t;
    return 0;
}

/* ---------- the data of a run ---------- */

typedef struct {
    int task;
    fastfnet_dataset train, valid, test;
    int have_test;
    fastfnet_labels labels;
    fastfnet_tokenizer *tok;
    fastfnet_mlm_ids mlm; /* MLM: the tokenizer's [CLS], [SEP], [MASK] and special ids */
    int max_len;
    const logger *lg;
} run_data;

/* --eval-limit: a seeded random subset of the validation and of the test examples (each split its own seed). */
static int eval_subsets(run_data *d, const fastfnet_train_opts *o) {
    if (o->eval_limit <= 0) return 0;
    return take_subset(&d->valid, o->eval_limit, (uint64_t)o->seed) || take_subset(&d->test, o->eval_limit, (uint64_t)o->seed + 1) ? -1 : 0;
}

static void run_data_free(run_data *d) {
    fastfnet_dataset_free(&d->train);
    fastfnet_dataset_free(&d->valid);
    fastfnet_dataset_free(&d->test);
    fastfnet_labels_free(&d->labels);
    if (d->tok) fastfnet_tok_free(d->tok);
}

static int task_of(const char *t) {
    if (!strcmp(t, "classify")) return TASK_CLASSIFY;
    if (!strcmp(t, "classify-pair")) return TASK_PAIR;
    if (!strcmp(t, "mlm")) return TASK_MLM;
    return -1;
}

/* Hold out the last valid_frac (0 < frac < 1, checked with the options) of a shuffled copy: deterministic from
 * the seed; at least one example on each side. -1 with a message naming the data (name). */
static int split_valid(fastfnet_dataset *train, fastfnet_dataset *valid, double frac, uint64_t seed, const char *name, char *err, size_t errlen) {
    int n = train->n, nv = (int)(n * frac);
    if (n < 2)
        return fastfnet_err(err, errlen, "%s: %d example%s, too few to hold out a validation split: give --valid FILE or more data", name, n,
                            n == 1 ? "" : "s");
    if (nv < 1) nv = 1;
    if (nv > n - 1) nv = n - 1;
    int *perm = malloc(sizeof(int) * (size_t)n);
    fastfnet_dataset shuf;
    int rc = perm ? 0 : -1;
    if (perm) shuffled(perm, n, seed ^ 0x5EED5);
    if (!rc) rc = dataset_gather(&shuf, train, perm, n); /* in permuted order, then sliced */
    free(perm);
    if (!rc) {
        fastfnet_dataset_free(train);
        rc = fastfnet_dataset_slice(valid, &shuf, n - nv, n) || fastfnet_dataset_slice(train, &shuf, 0, n - nv) ? -1 : 0;
        fastfnet_dataset_free(&shuf);
    }
    return rc ? fastfnet_err(err, errlen, "%s: out of memory holding out the validation split", name) : 0;
}

/* The examples of a records file; labels mapped by d->labels (when empty, an eval of a model that names none:
 * built from the file). */
static int load_records_ds(fastfnet_dataset *ds, const char *path, run_data *d, int need_label, char *err, size_t n) {
    fastfnet_records r;
    if (fastfnet_records_read(&r, path, d->task == TASK_PAIR, need_label, err, n)) return -1;
    int rc = need_label && !d->labels.n ? fastfnet_labels_build(&d->labels, &r, err, n) : 0;
    if (!rc) rc = fastfnet_dataset_from_records(ds, &r, path, d->tok, need_label ? &d->labels : NULL, d->max_len, err, n);
    fastfnet_records_free(&r);
    if (!rc && ds->truncated)
        say(d->lg, "fastfnet: %s: %lld of %d examples truncated to %d tokens\n", path, (long long)ds->truncated, ds->n, d->max_len);
    return rc;
}

/* Concatenate the texts of records for tokenizer training. */
static char *records_text(const fastfnet_records *r, size_t *len) {
    size_t n = 0;
    for (int i = 0; i < r->n; i++) n += strlen(r->a[i]) + 1 + (r->b && r->b[i] ? strlen(r->b[i]) + 1 : 0);
    char *s = malloc(n + 1), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < r->n; i++) {
        size_t k = strlen(r->a[i]);
        memcpy(p, r->a[i], k), p += k, *p++ = '\n';
        if (r->b && r->b[i]) k = strlen(r->b[i]), memcpy(p, r->b[i], k), p += k, *p++ = '\n';
    }
    *p = 0;
    *len = n;
    return s;
}

/* dst = a copy of src; -1 when out of memory (dst then empty). */
static int copy_labels(fastfnet_labels *dst, const fastfnet_labels *src) {
    dst->n = 0;
    if (!(dst->names = malloc(sizeof(char *) * (size_t)(src->n ? src->n : 1)))) return -1;
    for (; dst->n < src->n; dst->n++)
        if (!(dst->names[dst->n] = strdup(src->names[dst->n]))) return fastfnet_labels_free(dst), -1;
    return 0;
}

/* Built-in ListOps: generated once into data_dir/listops (train/valid/test TSV), seeded. */
static int ensure_listops(const char *dir, const logger *lg, char *err, size_t n) {
    static const char *names[] = {"train.tsv", "valid.tsv", "test.tsv"};
    static const int counts[] = {20000, 1000, 1000};
    if (mkdir_p(dir)) return fastfnet_err(err, n, "%s: cannot create (%s)", dir, strerror(errno));
    for (int i = 0; i < 3; i++) {
        char p[4200];
        if (fastfnet_path(p, sizeof p, err, n, "%s/%s", dir, names[i])) return -1;
        if (file_exists(p)) continue;
        fastfnet_listops_config c;
        fastfnet_listops_default(&c);
        say(lg, "fastfnet: generating ListOps %s (%d examples, LRA lengths %d..%d)\n", p, counts[i], c.min_len, c.max_len);
        if (fastfnet_listops_write_tsv(p, &c, 1000 + (uint64_t)i, counts[i], err, n)) return -1;
    }
    return 0;
}

/* The tokenizer must have what the task's examples are built from: [CLS], [SEP] and a pad piece ([MASK] too
 * for MLM, checked by fastfnet_mlm_ids_of). */
static int check_task_tokenizer(const fastfnet_tokenizer *t, int task, const fastfnet_train_opts *o, char *err, size_t n) {
    const char *name = o->tokenizer_file ? o->tokenizer_file : o->init_from ? o->init_from : "the tokenizer";
    static const char *const role[] = {"[CLS]", "[SEP]", "[MASK]", "<pad>", "<unk>"};
    for (int r = FASTFNET_TOK_CLS; r <= FASTFNET_TOK_PAD; r++)
        if (r != FASTFNET_TOK_MASK && fastfnet_tok_special(t, r) < 0)
            return fastfnet_err(err, n, "%s has no %s piece, which the examples need: train it with `fastfnet tokenizer train "
                           "--kind unigram` (or spm_train --pad_id=3 --user_defined_symbols=[CLS],[SEP],[MASK])", name, role[r]);
    return 0;
}

/* The files of a run's splits (empty: none) and what kind of data set they are. */
typedef struct {
    char tr[4200], va[4200], te[4200];
    int is_text, is_sotu, is_listops; /* is_text, is_sotu: a built-in set with its own valid and test splits */
} data_files;

enum { IMAGE_LEN = 785, PATHFINDER_LEN = 1025 }; /* [CLS] + 28 x 28 and 32 x 32 pixel tokens */

/* Fashion-MNIST: 784 pixel tokens + [CLS], ten named classes, the byte tokenizer. */
static int prepare_image(run_data *d, const fastfnet_train_opts *o, fastfnet_tokenizer *given_tok, char *err, size_t n) {
    if (d->task != TASK_CLASSIFY) return fastfnet_err(err, n, "--data image is a classify task");
    d->max_len = o->max_len ? o->max_len : IMAGE_LEN;
    if (d->max_len < IMAGE_LEN) return fastfnet_err(err, n, "--data image needs --max-len >= 785 (784 pixels + [CLS])");
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/fashion-mnist/train-images-idx3-ubyte", o->data_dir);
    snprintf(b, sizeof b, "%s/fashion-mnist/train-labels-idx1-ubyte", o->data_dir);
    if (!file_exists(a)) return fastfnet_err(err, n, "%s is missing: run scripts/fetch_data.sh first", a);
    if (fastfnet_dataset_from_idx(&d->train, a, b, 28, 10, o->limit, err, n)) return -1;
    snprintf(a, sizeof a, "%s/fashion-mnist/t10k-images-idx3-ubyte", o->data_dir);
    snprintf(b, sizeof b, "%s/fashion-mnist/t10k-labels-idx1-ubyte", o->data_dir);
    if (fastfnet_dataset_from_idx(&d->test, a, b, 28, 10, 0, err, n)) return -1;
    d->have_test = 1;
    snprintf(a, sizeof a, "%s/fashion-mnist/train-images-idx3-ubyte", o->data_dir);
    if (split_valid(&d->train, &d->valid, o->valid_frac, (uint64_t)o->seed, a, err, n)) return -1;
    if (eval_subsets(d, o)) return fastfnet_err(err, n, "out of memory taking --eval-limit examples");
    d->tok = given_tok ? given_tok : fastfnet_tok_byte();
    fastfnet_labels named = {10, (char **)FASHION};
    return copy_labels(&d->labels, &named) ? fastfnet_err(err, n, "out of memory") : 0;
}

/* Built-in Pathfinder: generated once into data_dir/pathfinder-LEVEL as IDX files, seeded per level and split. */
static const int PF_COUNTS[3] = {40000, 2000, 2000};
static const char *const PF_SPLITS[3] = {"train", "valid", "test"};
static int ensure_pathfinder(const char *dir, int level, const logger *lg, char *err, size_t n) {
    if (mkdir_p(dir)) return fastfnet_err(err, n, "%s: cannot create (%s)", dir, strerror(errno));
    for (int i = 0; i < 3; i++) {
        char im[4200], lab[4200];
        if (fastfnet_path(im, sizeof im, err, n, "%s/%s-images-idx3-ubyte", dir, PF_SPLITS[i]) ||
            fastfnet_path(lab, sizeof lab, err, n, "%s/%s-labels-idx1-ubyte", dir, PF_SPLITS[i]))
            return -1;
        if (file_exists(im) && file_exists(lab)) continue;
        fastfnet_pathfinder_config c;
        fastfnet_pathfinder_default(&c, level);
        say(lg, "fastfnet: generating Pathfinder %s (%d images, %s, contour length %d)\n", im, PF_COUNTS[i],
            fastfnet_pathfinder_levels[level], c.contour_length);
        if (fastfnet_pathfinder_write_idx(im, lab, &c, 2000 + 10 * (uint64_t)level + (uint64_t)i, PF_COUNTS[i], err, n)) return -1;
    }
    return 0;
}

/* --data pathfinder: [CLS] + 32 x 32 pixel tokens (byte ids), labels "disconnected" / "connected". */
static int prepare_pathfinder(run_data *d, const fastfnet_train_opts *o, fastfnet_tokenizer *given_tok, char *err, size_t n) {
    int level = fastfnet_pathfinder_level(o->difficulty);
    if (level < 0) return fastfnet_err(err, n, "--difficulty: '%s' must be easy, medium or hard", o->difficulty ? o->difficulty : "");
    if (d->task != TASK_CLASSIFY) return fastfnet_err(err, n, "--data pathfinder is a classify task");
    d->max_len = o->max_len ? o->max_len : PATHFINDER_LEN;
    if (d->max_len < PATHFINDER_LEN) return fastfnet_err(err, n, "--data pathfinder needs --max-len >= 1025 (32 x 32 pixels + [CLS])");
    char dir[4100], a[4200], b[4200];
    if (fastfnet_path(dir, sizeof dir, err, n, "%s/pathfinder-%s", o->data_dir, fastfnet_pathfinder_levels[level])) return -1;
    int lead = fastfnet_dist_rank() == 0;
    if (lead && ensure_pathfinder(dir, level, d->lg, err, n)) return -1; /* one writer; the others wait, then read */
    fastfnet_dist_barrier();
    fastfnet_dataset *ds[3] = {&d->train, &d->valid, &d->test};
    for (int i = 0; i < 3; i++)
        if (fastfnet_path(a, sizeof a, err, n, "%s/%s-images-idx3-ubyte", dir, PF_SPLITS[i]) ||
            fastfnet_path(b, sizeof b, err, n, "%s/%s-labels-idx1-ubyte", dir, PF_SPLITS[i]) ||
            fastfnet_dataset_from_idx(ds[i], a, b, 32, 2, i == 0 ? o->limit : 0, err, n))
            return -1;
    d->have_test = 1;
    if (eval_subsets(d, o)) return fastfnet_err(err, n, "out of memory taking --eval-limit examples");
    d->tok = given_tok ? given_tok : fastfnet_tok_byte();
    static const char *const names[] = {"disconnected", "connected"};
    fastfnet_labels named = {2, (char **)names};
    return copy_labels(&d->labels, &named) ? fastfnet_err(err, n, "out of memory") : 0;
}

/* The split files of --data NAME (ListOps generated on first use: one writer, the others wait, then read)
 * or of --train/--valid/--test, and the default length of each kind. */
static int resolve_files(data_files *f, run_data *d, const fastfnet_train_opts *o, char *err, size_t n) {
    const char *data = o->data;
    memset(f, 0, sizeof *f);
    if (data && !strcmp(data, "listops")) {
        char dir[4200];
        if (d->task != TASK_CLASSIFY) return fastfnet_err(err, n, "--data listops is a classify task");
        int lead = fastfnet_dist_rank() == 0;
        if (fastfnet_path(dir, sizeof dir, err, n, "%s/listops", o->data_dir) || (lead && ensure_listops(dir, d->lg, err, n))) return -1;
        fastfnet_dist_barrier();
        if (!lead && ensure_listops(dir, d->lg, err, n)) return -1;
        if (fastfnet_path(f->tr, sizeof f->tr, err, n, "%s/train.tsv", dir) || fastfnet_path(f->va, sizeof f->va, err, n, "%s/valid.tsv", dir) ||
            fastfnet_path(f->te, sizeof f->te, err, n, "%s/test.tsv", dir))
            return -1;
        f->is_listops = 1;
    } else if (data && !strcmp(data, "text")) {
        if (d->task != TASK_CLASSIFY) return fastfnet_err(err, n, "--data text is a classify task");
        snprintf(f->tr, sizeof f->tr, "%s/spam-assassin", o->data_dir);
        f->is_text = 1;
    } else if (data && !strcmp(data, "sotu")) {
        if (d->task != TASK_CLASSIFY) return fastfnet_err(err, n, "--data sotu is a classify task");
        snprintf(f->tr, sizeof f->tr, "%s/sotu", o->data_dir);
        f->is_sotu = 1;
    } else if (data && !strcmp(data, "pretrain")) {
        if (d->task != TASK_MLM) return fastfnet_err(err, n, "--data pretrain is for --task mlm");
    } else if (data) {
        return fastfnet_err(err, n, "--data: '%s' must be image, text, sotu, listops, pathfinder or pretrain (or give --train FILE)", data);
    } else {
        if (!o->train) return fastfnet_err(err, n, "give --data NAME or --train FILE (see fastfnet train --help)");
        snprintf(f->tr, sizeof f->tr, "%s", o->train);
        if (o->valid) snprintf(f->va, sizeof f->va, "%s", o->valid);
        if (o->test) snprintf(f->te, sizeof f->te, "%s", o->test);
    }
    d->max_len = o->max_len ? o->max_len : f->is_text ? 4096 : f->is_listops ? 2000 : 512;
    return 0;
}

/* The tokenizer kind to train (--tokenizer; "auto" is word for ListOps' symbols, bytes otherwise; eval
 * and predict give none: the model's own is used). */
static fastfnet_tok_kind tokenizer_kind(const fastfnet_train_opts *o, int listops) {
    if (!o->tokenizer) return FASTFNET_TOK_BYTE;
    if (!strcmp(o->tokenizer, "bpe")) return FASTFNET_TOK_BPE;
    if (!strcmp(o->tokenizer, "word") || (!strcmp(o->tokenizer, "auto") && listops)) return FASTFNET_TOK_WORD;
    return FASTFNET_TOK_BYTE;
}

/* Whether make_tokenizer will train one (and so needs the corpus text). */
static int trains_tokenizer(const fastfnet_train_opts *o, const fastfnet_tokenizer *given, fastfnet_tok_kind k) {
    return !given && !o->tokenizer_file && k != FASTFNET_TOK_BYTE;
}

/* The run's tokenizer: the given one (a checkpoint's or a pre-trained model's), --tokenizer-file, or one of
 * kind k trained on text[0..len); then what the task's examples need of it. */
static int make_tokenizer(run_data *d, const fastfnet_train_opts *o, fastfnet_tokenizer *given, fastfnet_tok_kind k, const char *text,
                          size_t len, int min_freq, char *err, size_t n) {
    if (given) d->tok = given;
    else if (o->tokenizer_file) d->tok = fastfnet_tok_load(o->tokenizer_file, err, n);
    else d->tok = k == FASTFNET_TOK_BYTE ? fastfnet_tok_byte() : fastfnet_tok_train(k, text, len, o->vocab_size, min_freq, err, n);
    if (!d->tok || check_task_tokenizer(d->tok, d->task, o, err, n)) return -1;
    return d->task == TASK_MLM ? fastfnet_mlm_ids_of(&d->mlm, d->tok, err, n) : 0;
}

/* MLM's raw text: the built-in corpus, or the --train (and --valid) file, each one token stream. */
static int read_mlm_text(const data_files *f, const fastfnet_train_opts *o, char **text, size_t *len, char **vtext, size_t *vlen,
                         char *err, size_t n) {
    *text = *vtext = NULL, *vlen = 0;
    if (f->te[0]) /* it was ignored: MLM reports the validation loss and accuracy only */
        return fastfnet_err(err, n, "--test: MLM is measured on the validation text (--valid, or held out); omit --test");
    if (o->data) return fastfnet_text_corpus(o->data_dir, text, len, vtext, vlen, err, n);
    if (!(*text = fastfnet_read_file(f->tr, len, (size_t)1 << 34, err, n))) return -1;
    if (f->va[0] && !(*vtext = fastfnet_read_file(f->va, vlen, (size_t)1 << 34, err, n))) return free(*text), *text = NULL, -1;
    return 0;
}

/* Pre-training examples of split (0 train, 1 valid) from text (name: its file or corpus, for messages). */
static int encode_pretrain(run_data *d, const fastfnet_train_opts *o, const char *name, const char *text, size_t len, int split, char *err,
                           size_t n) {
    size_t cap = len + 16;
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    size_t m = ids ? fastfnet_tok_encode(d->tok, text, len, ids, cap) : 0;
    if (m == FASTFNET_TOK_ERROR) {
        free(ids);
        return fastfnet_err(err, n, "the tokenizer could not encode the corpus (out of memory, or the SentencePiece library failed)");
    }
    if (ids && m > cap) {
        int32_t *p = realloc(ids, sizeof(int32_t) * m);
        if (!p) free(ids);
        ids = p;
        if (ids) m = fastfnet_tok_encode(d->tok, text, len, ids, m);
    }
    if (ids && m == FASTFNET_TOK_ERROR) free(ids), ids = NULL;
    if (!ids) return fastfnet_err(err, n, "out of memory encoding %zu bytes of text", len);
    char why[512];
    int rc = fastfnet_dataset_pretrain(split ? &d->valid : &d->train, ids, m, d->max_len, o->nsp, (uint64_t)o->seed + split, &d->mlm, why,
                                       sizeof why);
    free(ids);
    return rc ? fastfnet_err(err, n, "%s: %s", name, why) : 0;
}

/* MLM (and NSP): the text as token streams cut into examples; validation held out when no file gives it. */
static int prepare_mlm(run_data *d, const fastfnet_train_opts *o, const data_files *f, fastfnet_tokenizer *given_tok, char *err, size_t n) {
    size_t len, vlen;
    char *text, *vtext;
    if (read_mlm_text(f, o, &text, &len, &vtext, &vlen, err, n)) return -1;
    int rc = make_tokenizer(d, o, given_tok, tokenizer_kind(o, 0), text, len, 2, err, n);
    const char *tname = o->data ? "the pre-training corpus" : f->tr;
    if (!rc) rc = encode_pretrain(d, o, tname, text, len, 0, err, n);
    if (!rc && vtext) rc = encode_pretrain(d, o, o->data ? "the corpus's validation text" : f->va, vtext, vlen, 1, err, n);
    free(text), free(vtext);
    if (rc) return -1;
    if (d->valid.n == 0 && split_valid(&d->train, &d->valid, o->valid_frac, (uint64_t)o->seed, tname, err, n)) return -1;
    if (o->limit > 0 && o->limit < d->train.n) {
        fastfnet_dataset t;
        if (fastfnet_dataset_slice(&t, &d->train, 0, o->limit)) return fastfnet_err(err, n, "out of memory");
        fastfnet_dataset_free(&d->train);
        d->train = t;
    }
    /* --eval-limit: a seeded subset of the validation chunks, as for classification */
    if (o->eval_limit > 0 && take_subset(&d->valid, o->eval_limit, (uint64_t)o->seed)) return fastfnet_err(err, n, "out of memory");
    return 0;
}

/* --limit: a seeded subset of the records, kept in file order. */
static int limit_records(fastfnet_records *r, int limit, long seed, char *err, size_t n) {
    if (limit <= 0 || limit >= r->n) return 0;
    char *keep = pick_subset(r->n, limit, seed, -1);
    if (!keep) return fastfnet_err(err, n, "out of memory");
    int k = 0;
    for (int i = 0; i < r->n; i++) {
        if (!keep[i]) {
            free(r->a[i]), free(r->b ? r->b[i] : NULL), free(r->label[i]);
            continue;
        }
        r->a[k] = r->a[i], r->label[k] = r->label[i], r->line[k] = r->line[i];
        if (r->b) r->b[k] = r->b[i];
        k++;
    }
    r->n = k;
    free(keep);
    return 0;
}

/* The validation and test splits of a classification run: SpamAssassin's or sotu's own, the files given, or
 * (validation) held out of the training set; --eval-limit subsets of them. */
static int classify_splits(run_data *d, const fastfnet_train_opts *o, const data_files *f, fastfnet_records *rv, fastfnet_records *rt,
                           char *err, size_t n) {
    if (f->is_text || f->is_sotu) {
        int rc = fastfnet_dataset_from_records(&d->valid, rv, "valid", d->tok, &d->labels, d->max_len, err, n);
        if (!rc) rc = fastfnet_dataset_from_records(&d->test, rt, "test", d->tok, &d->labels, d->max_len, err, n);
        if (rc) return -1;
        d->have_test = 1;
    } else if (f->va[0]) {
        if (load_records_ds(&d->valid, f->va, d, 1, err, n)) return -1;
    } else if (split_valid(&d->train, &d->valid, o->valid_frac, (uint64_t)o->seed, f->tr, err, n)) {
        return -1;
    }
    if (f->te[0]) { /* a missing file is an error, not a run without test figures */
        if (load_records_ds(&d->test, f->te, d, 1, err, n)) return -1;
        d->have_test = 1;
    }
    return eval_subsets(d, o) ? fastfnet_err(err, n, "out of memory") : 0;
}

/* Classification from records: labels (the given map, or built from the training set), tokenizer,
 * examples, and the other splits. */
static int prepare_classify(run_data *d, const fastfnet_train_opts *o, const data_files *f, fastfnet_tokenizer *given_tok,
                            const fastfnet_labels *given_labels, char *err, size_t n) {
    fastfnet_records r = {0}, rv = {0}, rt = {0};
    int rc = f->is_text   ? fastfnet_records_spam(&r, &rv, &rt, f->tr, err, n)
             : f->is_sotu ? fastfnet_records_sotu(&r, &rv, &rt, f->tr, err, n)
                          : fastfnet_records_read(&r, f->tr, d->task == TASK_PAIR, 1, err, n);
    /* the label set of the whole training file, before --limit: a small subset would miss classes (and shrink the head) */
    if (!rc && given_labels && copy_labels(&d->labels, given_labels)) rc = fastfnet_err(err, n, "out of memory");
    else if (!rc && !given_labels) rc = fastfnet_labels_build(&d->labels, &r, err, n);
    if (!rc) rc = limit_records(&r, o->limit, o->seed, err, n);
    fastfnet_tok_kind k = tokenizer_kind(o, f->is_listops);
    size_t len = 0;
    char *text = !rc && trains_tokenizer(o, given_tok, k) ? records_text(&r, &len) : NULL;
    if (!rc && trains_tokenizer(o, given_tok, k) && !text) rc = fastfnet_err(err, n, "%s: out of memory", f->tr);
    if (!rc) rc = make_tokenizer(d, o, given_tok, k, text, len, 1, err, n);
    free(text);
    if (!rc) rc = fastfnet_dataset_from_records(&d->train, &r, f->tr, d->tok, &d->labels, d->max_len, err, n);
    if (!rc && d->train.truncated)
        say(d->lg, "fastfnet: %s: %lld of %d examples truncated to %d tokens", f->tr, (long long)d->train.truncated, d->train.n, d->max_len);
    if (!rc) rc = classify_splits(d, o, f, &rv, &rt, err, n);
    fastfnet_records_free(&r), fastfnet_records_free(&rv), fastfnet_records_free(&rt);
    return rc;
}

/* The data of a run (or of an evaluation): the splits, tokenizer, labels and length. given_tok (may be NULL)
 * is the checkpoint's or pre-trained model's tokenizer, which d->tok then holds; given_labels the label map
 * the model was trained with. */
static int prepare_data(run_data *d, const fastfnet_train_opts *o, fastfnet_tokenizer *given_tok, const fastfnet_labels *given_labels,
                        const logger *lg, char *err, size_t n) {
    memset(d, 0, sizeof *d);
    d->lg = lg;
    d->task = task_of(o->task);
    if (d->task < 0) return fastfnet_err(err, n, "--task: '%s' must be classify, classify-pair or mlm", o->task);
    if (o->data && !strcmp(o->data, "image")) return prepare_image(d, o, given_tok, err, n);
    if (o->data && !strcmp(o->data, "pathfinder")) return prepare_pathfinder(d, o, given_tok, err, n);
    data_files f;
    if (resolve_files(&f, d, o, err, n)) return -1;
    if (d->task == TASK_MLM) return prepare_mlm(d, o, &f, given_tok, err, n);
    return prepare_classify(d, o, &f, given_tok, given_labels, err, n);
}

/* ---------- evaluation ---------- */

/* Attention masks pad tokens as keys, so padding cannot change an all-attention model's outputs: it pads each
 * batch only to its longest example. Fourier mixing transforms the padding with the text (FNet's outputs
 * depend on the length), so Fourier and hybrid models keep one fixed length for training and evaluation. */
static int pads_per_batch(const fastfnet_config *c) {
    for (int l = 0; l < c->num_layers; l++)
        if (c->mixing[l] != FASTFNET_MIX_ATTENTION) return 0;
    return 1;
}

/* The length a batch of examples idx[0..n) is padded to: T, or (per_batch) its longest example up to T. */
static int batch_len(const fastfnet_dataset *ds, const int *idx, int n, int T, int per_batch) {
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

/* Sums of one evaluated batch into S (loss, correct, total, mlm_nll, mlm_correct, mlm_total, nsp_correct). */
static void eval_sums(double *S, const fastfnet_model *m, int task, int nb, int Tb, const int32_t *mlm, const int32_t *lab) {
    const fastfnet_config *c = fastfnet_model_config(m);
    int V = c->vocab_size, L = c->num_labels;
    if (task != TASK_MLM) {
        const float *lg = fastfnet_model_logits_cls(m);
        for (int i = 0; i < nb; i++) {
            int am = 0;
            for (int j = 1; j < L; j++)
                if (lg[i * L + j] > lg[i * L + am]) am = j;
            S[1] += am == lab[i];
        }
        return;
    }
    const float *lg = fastfnet_model_logits_mlm(m); /* the labelled rows, in order */
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
    if (c->heads & FASTFNET_HEAD_NSP) {
        const float *ln = fastfnet_model_logits_nsp(m);
        for (int i = 0; i < nb; i++) S[6] += (ln[2 * i + 1] > ln[2 * i]) == lab[i];
    }
}

/* The figures from the summed S. MLM: the mean over masked targets (not over batches, nor with the NSP
 * loss), so loss == log(perplexity). */
static eval_result eval_figures(const double *S, int task) {
    eval_result r = {0};
    double total = S[2];
    r.n = (int)total;
    r.loss = total ? S[0] / total : 0;
    r.accuracy = total ? S[1] / total : 0;
    if (task == TASK_MLM) {
        r.loss = S[5] ? S[3] / S[5] : 0;
        r.mlm_accuracy = S[5] ? S[4] / S[5] : 0;
        r.perplexity = S[5] ? exp(S[3] / S[5]) : 0;
        r.nsp_accuracy = total ? S[6] / total : 0;
        r.accuracy = r.mlm_accuracy;
    }
    return r;
}

/* Loss and accuracy on a data set, in chunks of B sequences; in a data-parallel run chunk j is evaluated by
 * rank j % size and the sums are reduced, so every rank gets the same numbers. MLM masks are drawn per
 * example from (mask_seed, example index): the same masks at every evaluation and for any process count. */
static int evaluate(eval_result *out, fastfnet_model *m, const fastfnet_dataset *ds, int task, const fastfnet_mlm_ids *mi, int B, int T,
                    uint64_t mask_seed, char *err, size_t n) {
    const fastfnet_config *c = fastfnet_model_config(m);
    int32_t *ids = malloc(sizeof(int32_t) * B * T), *tt = malloc(sizeof(int32_t) * B * T);
    int32_t *lab = malloc(sizeof(int32_t) * B), *mlm = malloc(sizeof(int32_t) * B * T);
    int *idx = malloc(sizeof(int) * B), rc = 0;
    if (!ids || !tt || !lab || !mlm || !idx) rc = fastfnet_err(err, n, "evaluation: out of memory for batches of %d x %d", B, T);
    double S[7] = {0};
    int rank = fastfnet_dist_rank(), size = fastfnet_dist_size();
    for (long b0 = (long)rank * B; !rc && b0 < ds->n; b0 += (long)size * B) {
        int nb = ds->n - b0 < B ? (int)(ds->n - b0) : B;
        for (int i = 0; i < nb; i++) idx[i] = (int)b0 + i;
        const int Tb = batch_len(ds, idx, nb, T, pads_per_batch(c));
        fastfnet_dataset_batch(ds, idx, nb, Tb, c->pad_token_id, ids, tt, lab);
        fastfnet_batch bt = {.B = nb, .T = Tb, .input_ids = ids, .token_type_ids = tt, .pooled_only = task != TASK_MLM};
        if (task == TASK_MLM) {
            for (int i = 0; i < nb; i++) {
                fastfnet_rng rng;
                fastfnet_rng_seed(&rng, mask_seed ^ ((uint64_t)(b0 + i) * 0x9E3779B97F4A7C15ull));
                fastfnet_mlm_mask(ids + (size_t)i * Tb, mlm + (size_t)i * Tb, (size_t)Tb, mi, &rng);
            }
            bt.mlm_labels = mlm;
            if (c->heads & FASTFNET_HEAD_NSP) bt.nsp_labels = lab;
        } else {
            bt.cls_labels = lab;
        }
        float loss = fastfnet_model_forward(m, &bt, 0);
        if (*fastfnet_model_error(m)) { /* nothing of a failed forward is read */
            rc = fastfnet_err(err, n, "evaluation: %s", fastfnet_model_error(m));
            break;
        }
        S[0] += (double)loss * nb;
        eval_sums(S, m, task, nb, Tb, mlm, lab);
        S[2] += nb;
    }
    fastfnet_dist_sum_f64(S, 7);
    *out = eval_figures(S, task);
    free(ids), free(tt), free(lab), free(mlm), free(idx);
    return rc;
}

/* ---------- checkpoints ---------- */

typedef struct {
    long step, epoch, pos;
    uint64_t data_rng, dropout_seed, dropout_calls;
    double best, elapsed;
    long bad_evals;
    long best_step;     /* the step of the best evaluation (-1: none yet) */
    long stopped_early; /* --patience ended the run */
    long timed_steps, timed_tokens; /* over every session of the run: its steps but each session's first */
    double step_time;
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
    meta[k++] = fastfnet_tok_kind_name(fastfnet_tok_kind_of(d->tok));
    if (d->labels.n) {
        *labels_json = fastfnet_labels_to_json(&d->labels);
        meta[k++] = "fastfnet_labels";
        meta[k++] = *labels_json;
    }
    meta[k++] = "fastfnet_train_options";
    meta[k++] = opts_json;
    meta[k] = NULL;
}

/* Save the model and tokenizer into dir (model.safetensors, config.json, tokenizer.json). */
static int save_model_dir(const char *dir, const fastfnet_model *m, const run_data *d, const char *opts_json, char *err, size_t n) {
    const char *meta[20];
    char bufs[4][64], *lj = NULL, p[4200];
    meta_list(meta, bufs, &lj, d, opts_json);
    if (d->labels.n && !lj) return fastfnet_err(err, n, "%s: out of memory writing the label map", dir);
    int rc = fastfnet_path(p, sizeof p, err, n, "%s/model.safetensors", dir) ? -1 : fastfnet_model_save_meta(m, p, meta, err, n);
    free(lj);
    if (rc) return -1;
    char cfg[65536];
    if (fastfnet_dir_config_json(fastfnet_model_config(m), &d->labels, cfg, sizeof cfg) < 0) fastfnet_config_to_json(fastfnet_model_config(m), cfg, sizeof cfg);
    if (fastfnet_path(p, sizeof p, err, n, "%s/config.json", dir) || fastfnet_write_file_atomic(p, cfg, strlen(cfg), err, n)) return -1;
    const char *tokfile = fastfnet_dir_tokenizer_file(fastfnet_tok_kind_of(d->tok));
    if (tokfile) {
        if (fastfnet_path(p, sizeof p, err, n, "%s/%s", dir, tokfile) || fastfnet_tok_save(d->tok, p, err, n)) return -1;
    }
    return 0;
}

/* What one checkpoint holds beside the run's data: the model, the AdamW moments of every parameter (gathered
 * from the ranks when ZeRO-1 shards them), with --patience the best weights when they are not the model's own
 * (NULL otherwise), and the model for the top-level copy (NULL: none yet). */
typedef struct {
    const fastfnet_model *m, *top;
    const float *mm, *vv, *best;
} checkpoint_parts;

static int save_state(const char *path, const checkpoint_parts *c, const train_state *s, char *err, size_t n) {
    char b[12][32];
    snprintf(b[0], 32, "%ld", s->step);
    snprintf(b[1], 32, "%ld", s->epoch);
    snprintf(b[2], 32, "%ld", s->pos);
    u64s(b[3], 32, s->data_rng);
    u64s(b[4], 32, s->dropout_seed);
    u64s(b[5], 32, s->dropout_calls);
    snprintf(b[6], 32, "%.17g", s->best);
    snprintf(b[7], 32, "%ld", s->bad_evals);
    snprintf(b[8], 32, "%ld", s->best_step);
    snprintf(b[9], 32, "%ld", s->stopped_early);
    snprintf(b[10], 32, "%ld", s->timed_steps);
    snprintf(b[11], 32, "%ld", s->timed_tokens);
    char el[32], stt[32];
    snprintf(el, sizeof el, "%.3f", s->elapsed);
    snprintf(stt, sizeof stt, "%.6f", s->step_time);
    const char *meta[] = {"step", b[0], "epoch", b[1], "pos", b[2], "data_rng", b[3], "dropout_seed", b[4],
                          "dropout_calls", b[5], "best", b[6], "bad_evals", b[7], "best_step", b[8], "stopped_early", b[9],
                          "timed_steps", b[10], "timed_tokens", b[11], "step_seconds", stt, "elapsed", el, NULL};
    int64_t np = (int64_t)fastfnet_model_buffer_floats(c->m);
    fastfnet_st_out t[3] = {{"adamw.m", FASTFNET_DT_F32, 1, {np}, (float *)c->mm}, {"adamw.v", FASTFNET_DT_F32, 1, {np}, (float *)c->vv},
                            {"best.params", FASTFNET_DT_F32, 1, {np}, (float *)c->best}};
    return fastfnet_st_write(path, t, c->best ? 3 : 2, meta, err, n);
}

/* The state's number `key` in lo..hi into *v, or, when the key is missing, def (def < lo: the key is required;
 * the optional ones are younger than some checkpoints). Digits only, with a '-' for a negative lo: strtoll and
 * strtoull alone take " -1" and "-1" (the latter as 2^64 - 1). */
static int meta_long(const fastfnet_st_file *f, const char *key, long lo, long hi, long def, long *v, const char *path, char *err,
                     size_t n) {
    const char *s = fastfnet_st_meta(f, key);
    if (!s && def >= lo) return *v = def, 0;
    if (!s) return fastfnet_err(err, n, "%s: training state has no \"%s\": the checkpoint is damaged", path, key);
    const char *d = s + (*s == '-' && lo < 0);
    char *end;
    errno = 0;
    long long x = *d >= '0' && *d <= '9' ? strtoll(s, &end, 10) : 0;
    char range[64];
    snprintf(range, sizeof range, hi == LONG_MAX ? ">= %ld" : "in %ld..%ld", lo, hi);
    if (*d < '0' || *d > '9' || errno || *end || x < lo || x > hi)
        return fastfnet_err(err, n, "%s: training state \"%s\" is '%.40s', not a whole number %s: the checkpoint is damaged", path, key, s, range);
    *v = (long)x;
    return 0;
}

/* A generator state or counter of the state (any 64-bit value; digits only). */
static int meta_u64(const fastfnet_st_file *f, const char *key, uint64_t *v, const char *path, char *err, size_t n) {
    const char *s = fastfnet_st_meta(f, key);
    char *end;
    if (!s) return fastfnet_err(err, n, "%s: training state has no \"%s\": the checkpoint is damaged", path, key);
    errno = 0;
    *v = *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (*s < '0' || *s > '9' || errno || *end)
        return fastfnet_err(err, n, "%s: training state \"%s\" is '%.40s', not a number: the checkpoint is damaged", path, key, s);
    return 0;
}

/* The state's real number `key` in lo..hi (or exactly def, what a missing key reads as). */
static int meta_double(const fastfnet_st_file *f, const char *key, double lo, double hi, double def, double *v, const char *path, char *err,
                       size_t n) {
    const char *s = fastfnet_st_meta(f, key);
    char *end = NULL;
    *v = s ? strtod(s, &end) : def;
    if (s && (end == s || *end || !isfinite(*v) || ((*v < lo || *v > hi) && *v != def)))
        return fastfnet_err(err, n, "%s: training state \"%s\" is '%.40s', not a number in %g..%g: the checkpoint is damaged", path, key, s, lo, hi);
    return 0;
}

/* The counters of the state, each checked against its range (a damaged file is refused, never indexed with). */
static int load_counters(const fastfnet_st_file *f, train_state *s, const char *path, char *err, size_t n) {
    const long L = LONG_MAX;
    struct {
        const char *key;
        long *v, lo, hi, def;
    } ls[] = {{"step", &s->step, 0, L, -1}, {"epoch", &s->epoch, 0, L, -1}, {"pos", &s->pos, 0, L, -1}, {"bad_evals", &s->bad_evals, 0, L, -1},
              {"best_step", &s->best_step, -1, L, -1}, {"stopped_early", &s->stopped_early, 0, 1, 0},
              {"timed_steps", &s->timed_steps, 0, L, 0}, {"timed_tokens", &s->timed_tokens, 0, L, 0}};
    for (size_t i = 0; i < sizeof ls / sizeof *ls; i++)
        if (meta_long(f, ls[i].key, ls[i].lo, ls[i].hi, ls[i].def, ls[i].v, path, err, n)) return -1;
    if (s->best_step > s->step || s->timed_steps > s->step)
        return fastfnet_err(err, n, "%s: training state has best_step %ld / timed_steps %ld past its step %ld: the checkpoint is damaged", path,
                            s->best_step, s->timed_steps, s->step);
    if (meta_u64(f, "data_rng", &s->data_rng, path, err, n) || meta_u64(f, "dropout_seed", &s->dropout_seed, path, err, n) ||
        meta_u64(f, "dropout_calls", &s->dropout_calls, path, err, n))
        return -1;
    if (!s->data_rng) return fastfnet_err(err, n, "%s: training state \"data_rng\" is 0, which no run reaches: the checkpoint is damaged", path);
    return meta_double(f, "best", 0, 1, -1e30, &s->best, path, err, n) || meta_double(f, "elapsed", 0, 1e15, 0, &s->elapsed, path, err, n) ||
                   meta_double(f, "step_seconds", 0, 1e15, 0, &s->step_time, path, err, n) ? -1 : 0;
}

/* The training state in path: the AdamW moments of np parameters into mm and vv, the best weights (when the
 * file has them) into a new *best, and the counters into s. */
static int load_state(const char *path, size_t np, float *mm, float *vv, float **best, train_state *s, char *err, size_t n) {
    fastfnet_st_file f;
    if (fastfnet_st_open(&f, path, err, n)) return -1;
    int rc = -1;
    const fastfnet_st_tensor *tm = fastfnet_st_find(&f, "adamw.m"), *tv = fastfnet_st_find(&f, "adamw.v"), *tb = fastfnet_st_find(&f, "best.params");
    *best = NULL;
    if (!tm || !tv || tm->numel != np || tv->numel != np || (tb && tb->numel != np)) {
        fastfnet_err(err, n, "%s: AdamW moments missing or not the model's size (%zu)", path, np);
        goto done;
    }
    if (fastfnet_st_read_f32(&f, tm, mm, np, err, n) || fastfnet_st_read_f32(&f, tv, vv, np, err, n)) goto done;
    if (tb && !(*best = malloc(sizeof(float) * np))) {
        fastfnet_err(err, n, "%s: out of memory for the best weights", path);
        goto done;
    }
    if (tb && fastfnet_st_read_f32(&f, tb, *best, np, err, n)) goto done;
    rc = load_counters(&f, s, path, err, n);
done:
    if (rc) free(*best), *best = NULL;
    fastfnet_st_close(&f);
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
        if (!fastfnet_path(p, sizeof p, NULL, 0, "%s/%s", dir, e->d_name)) unlink(p);
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
            if (clear_tmp && !fastfnet_path(p, sizeof p, NULL, 0, "%s/%s", ckdir, e->d_name)) rm_rf_dir(p);
            continue;
        }
        long st = step_of(e->d_name);
        if (st >= 0 && k < cap) steps[k++] = st;
    }
    closedir(dd);
    qsort(steps, (size_t)k, sizeof(long), cmp_desc);
    return k;
}

/* Whether name is a temporary file of fastfnet_atomic_open ("NAME.tmp.PID" or "NAME.tmp.PID.I") whose writer is
 * gone: a process killed while it wrote. This process's and a live one's are not touched. */
static int stale_tmp(const char *dir, const char *name, int owned) {
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name) return 0;
    char *end, p[4400];
    errno = 0;
    long pid = strtol(t + 5, &end, 10);
    if (errno || end == t + 5 || pid <= 0 || (*end && *end != '.') || pid == (long)getpid()) return 0;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) return 0;
    /* outside the checkpoints directory only the temporary of a file that is there (model.safetensors.tmp.PID
     * beside model.safetensors), so nothing of the user's goes */
    if (owned) return 1;
    return (size_t)(t - name) < 256 && !fastfnet_path(p, sizeof p, NULL, 0, "%s/%.*s", dir, (int)(t - name), name) && file_exists(p);
}

/* Removes dir's stale temporary files (stale_tmp); owned: a directory only fastfnet writes (checkpoints). */
static void clear_stale_tmp(const char *dir, int owned) {
    DIR *dd = opendir(dir);
    if (!dd) return;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(dd)))
        if (stale_tmp(dir, e->d_name, owned) && !fastfnet_path(p, sizeof p, NULL, 0, "%s/%s", dir, e->d_name)) unlink(p);
    closedir(dd);
}

/* Keep the `keep` newest step directories, and always `newest` (the one LATEST names; -1: none). */
static void prune_checkpoints(const char *ckdir, int keep, long newest) {
    long steps[4096];
    int k = list_steps(ckdir, steps, 4096, 1);
    char p[4400];
    for (int i = keep; i < k; i++)
        if (steps[i] != newest && !fastfnet_path(p, sizeof p, NULL, 0, "%s/step-%09ld", ckdir, steps[i])) rm_rf_dir(p);
}

/* The files of one checkpoint into the new directory tmp, synced. */
static int write_checkpoint_dir(const char *tmp, const checkpoint_parts *c, const run_data *d, const train_state *s, const char *opts_json,
                                char *err, size_t n) {
    char p[4400];
    if (mkdir(tmp, 0755)) return fastfnet_err(err, n, "%s: cannot create (%s)", tmp, strerror(errno));
    if (save_model_dir(tmp, c->m, d, opts_json, err, n)) return -1;
    if (fastfnet_path(p, sizeof p, err, n, "%s/state.safetensors", tmp) || save_state(p, c, s, err, n)) return -1;
    if (fsync_dir(tmp)) return fastfnet_err(err, n, "%s: cannot sync the directory (%s)", tmp, strerror(errno));
    return 0;
}

/* A checkpoint is a directory written under a temporary name, fsync'd, then renamed, and only then named
 * in LATEST: a crash at any moment leaves the previous checkpoint intact and LATEST pointing at it. The
 * top-level copy (what eval/predict/--model use: c->top, the newest model or with --patience the best) is
 * written before LATEST, so a failed copy leaves LATEST as it was and the resume rewrites it. */
static int save_checkpoint(const char *out, const checkpoint_parts *c, const run_data *d, const train_state *s, const char *opts_json,
                           int keep, char *err, size_t n) {
    char ck[4200], tmp[4300], fin[4300], p[4400];
    if (fastfnet_path(ck, sizeof ck, err, n, "%s/checkpoints", out) || fastfnet_path(fin, sizeof fin, err, n, "%s/step-%09ld", ck, s->step) ||
        fastfnet_path(tmp, sizeof tmp, err, n, "%s.tmp", fin) || fastfnet_path(p, sizeof p, err, n, "%s/LATEST", ck))
        return -1;
    if (mkdir_p(ck)) return fastfnet_err(err, n, "%s: cannot create (%s)", ck, strerror(errno));
    clear_stale_tmp(ck, 1); /* LATEST.tmp.PID of a run killed while it named its newest checkpoint */
    clear_stale_tmp(out, 0);
    rm_rf_dir(tmp);
    if (write_checkpoint_dir(tmp, c, d, s, opts_json, err, n)) {
        rm_rf_dir(tmp); /* a failed save (a full disk) leaves nothing half-written and gives its room back */
        return -1;
    }
    rm_rf_dir(fin); /* a checkpoint of the same step from before a resume */
    if (rename(tmp, fin)) return fastfnet_err(err, n, "%s: rename failed (%s)", fin, strerror(errno));
    if (fsync_dir(ck)) return fastfnet_err(err, n, "%s: cannot sync the directory (%s)", ck, strerror(errno));
    if (c->top && save_model_dir(out, c->top, d, opts_json, err, n)) return -1;
    char name[64];
    snprintf(name, sizeof name, "step-%09ld\n", s->step);
    if (fastfnet_write_file_atomic(p, name, strlen(name), err, n)) return -1; /* syncs ck too */
    prune_checkpoints(ck, keep, s->step);
    return 0;
}

/* --force over an older run: its checkpoints go before this run trains, LATEST first, so that neither the
 * pruning of this run's checkpoints nor a --resume after this run dies early can take them for this run's;
 * then its top-level model, which would otherwise pass for this run's (with --patience it is written only
 * once this run has evaluated). */
static int clear_old_run(const char *out, char *err, size_t n) {
    char ck[4200], p[4300];
    if (fastfnet_path(ck, sizeof ck, err, n, "%s/checkpoints", out) || fastfnet_path(p, sizeof p, err, n, "%s/LATEST", ck)) return -1;
    if (file_exists(ck)) {
        if (unlink(p) && errno != ENOENT) return fastfnet_err(err, n, "%s: cannot remove (%s)", p, strerror(errno));
        if (fsync_dir(ck)) return fastfnet_err(err, n, "%s: cannot sync the directory (%s)", ck, strerror(errno));
        prune_checkpoints(ck, 0, -1);
    }
    const char *top[] = {"model.safetensors", "config.json", fastfnet_dir_tokenizer_file(FASTFNET_TOK_BPE),
                         fastfnet_dir_tokenizer_file(FASTFNET_TOK_SPM)};
    for (int i = 0; i < 4; i++) {
        if (fastfnet_path(p, sizeof p, err, n, "%s/%s", out, top[i])) return -1;
        if (unlink(p) && errno != ENOENT) return fastfnet_err(err, n, "%s: cannot remove the older run's file (%s)", p, strerror(errno));
    }
    return 0;
}

/* The weights file of a trained model: DIR/model.safetensors, or dir itself (a single file). */
static void trained_file(char *p, size_t cap, const char *dir) {
    snprintf(p, cap, "%s/model.safetensors", dir);
    if (!file_exists(p)) snprintf(p, cap, "%s", dir);
}

/* Load a trained model directory with its task metadata (labels, tokenizer, max_len). */
static fastfnet_model *load_trained(const char *dir, run_data *d, char *task, size_t tcap, char *err, size_t n) {
    char p[4200];
    trained_file(p, sizeof p, dir);
    fastfnet_model *m = fastfnet_model_load(p, err, n);
    if (!m && strcmp(p, dir)) m = fastfnet_model_load(dir, err, n); /* an HF directory: the config is config.json */
    if (!m) return NULL;
    fastfnet_st_file f;
    if (fastfnet_st_open(&f, p, err, n)) return fastfnet_model_free(m), NULL;
    const char *t = fastfnet_st_meta(&f, "fastfnet_task"), *ml = fastfnet_st_meta(&f, "fastfnet_max_len");
    const char *tk = fastfnet_st_meta(&f, "fastfnet_tokenizer"), *lj = fastfnet_st_meta(&f, "fastfnet_labels");
    snprintf(task, tcap, "%s", t ? t : "");
    int rc = fastfnet_dir_max_len(ml, fastfnet_model_config(m), p, &d->max_len, err, n);
    char why[512];
    if (!rc && lj && fastfnet_labels_from_json(&d->labels, lj, why, sizeof why)) rc = fastfnet_err(err, n, "%s: fastfnet_labels: %s", p, why);
    const fastfnet_config *c = fastfnet_model_config(m);
    if (!rc && lj && (c->heads & FASTFNET_HEAD_CLS) && d->labels.n != c->num_labels) /* predict reads num_labels per row */
        rc = fastfnet_err(err, n, "%s: its fastfnet_labels names %d labels but the classifier has %d (num_labels): the file is damaged or was "
                          "edited; retrain or restore it", p, d->labels.n, c->num_labels);
    char tp[4300];
    if (!rc && !(d->tok = fastfnet_dir_tokenizer(dir, tk, tp, sizeof tp, err, n))) rc = -1;
    if (!rc && fastfnet_dir_check_tokenizer(d->tok, tp, fastfnet_model_config(m), dir, err, n)) rc = -1;
    fastfnet_st_close(&f);
    if (rc) { /* nothing half-loaded is left to the caller */
        fastfnet_labels_free(&d->labels);
        if (d->tok) fastfnet_tok_free(d->tok);
        d->tok = NULL;
        fastfnet_model_free(m);
        return NULL;
    }
    return m;
}

/* A checkpoint that loaded: the model with its task metadata, and the training state. */
typedef struct {
    fastfnet_model *m;
    run_data meta;
    char task[64];
    train_state st;
    float *mm, *vv; /* AdamW moments of every parameter */
    float *best;    /* the best weights, when the state holds them (NULL otherwise) */
    char *options;  /* the run's options (fastfnet_train_options; NULL: not recorded) */
} resume_point;

static void resume_point_free(resume_point *r) {
    run_data_free(&r->meta);
    fastfnet_model_free(r->m);
    free(r->mm), free(r->vv), free(r->best), free(r->options);
    memset(r, 0, sizeof *r);
}

/* The options a checkpoint's run was given (its model's fastfnet_train_options) into a new *opts; NULL when
 * it records none. */
static int read_options(const char *dir, char **opts, char *err, size_t n) {
    char p[4400];
    fastfnet_st_file f;
    *opts = NULL;
    if (fastfnet_path(p, sizeof p, err, n, "%s/model.safetensors", dir) || fastfnet_st_open(&f, p, err, n)) return -1;
    const char *o = fastfnet_st_meta(&f, "fastfnet_train_options");
    int rc = o && !(*opts = strdup(o)) ? fastfnet_err(err, n, "%s: out of memory", p) : 0;
    fastfnet_st_close(&f);
    return rc;
}

/* Load the checkpoint directory dir, step `step`, whole (model, metadata and state), or fail naming why. */
static int load_checkpoint(const char *dir, long step, resume_point *r, char *err, size_t n) {
    char sp[4400];
    memset(r, 0, sizeof *r);
    if (fastfnet_path(sp, sizeof sp, err, n, "%s/state.safetensors", dir)) return -1;
    r->m = load_trained(dir, &r->meta, r->task, sizeof r->task, err, n);
    if (!r->m) return -1;
    r->mm = malloc(sizeof(float) * fastfnet_model_buffer_floats(r->m));
    r->vv = malloc(sizeof(float) * fastfnet_model_buffer_floats(r->m));
    int rc = !r->mm || !r->vv ? fastfnet_err(err, n, "%s: out of memory for the AdamW moments", sp)
                              : load_state(sp, fastfnet_model_buffer_floats(r->m), r->mm, r->vv, &r->best, &r->st, err, n);
    if (!rc && r->st.step != step) rc = fastfnet_err(err, n, "%s: the state is of step %ld", sp, r->st.step);
    if (!rc) rc = read_options(dir, &r->options, err, n);
    if (rc) resume_point_free(r);
    return rc;
}

/* The checkpoint to resume from: the one LATEST names or, when that one does not load (a damaged disk, a
 * truncated file), the newest older one that does, saying so. No LATEST means nothing to resume: a --force
 * run removes the older run's LATEST before it trains. */
static int find_resume(const char *out, resume_point *r, char *ckpath, size_t cap, const logger *lg, char *err, size_t n) {
    char ck[4200], p[4300], name[128] = "", why[700], first[800] = "";
    if (fastfnet_path(ck, sizeof ck, err, n, "%s/checkpoints", out) || fastfnet_path(p, sizeof p, err, n, "%s/LATEST", ck)) return -1;
    FILE *f = fopen(p, "r");
    if (!f) return fastfnet_err(err, n, "%s: no checkpoint to resume from (%s missing)", out, p);
    if (!fgets(name, sizeof name, f)) name[0] = 0;
    fclose(f);
    name[strcspn(name, "\r\n")] = 0;
    long latest = step_of(name), steps[4096];
    if (latest < 0) say(lg, "fastfnet: %s does not name a checkpoint; trying the newest that loads\n", p);
    int k = list_steps(ck, steps, 4096, 0);
    for (int i = -1; i < k; i++) {
        long step = i < 0 ? latest : steps[i];
        if (step < 0 || (i >= 0 && latest >= 0 && step >= latest)) continue;
        if (fastfnet_path(ckpath, cap, err, n, "%s/step-%09ld", ck, step)) return -1;
        if (!load_checkpoint(ckpath, step, r, why, sizeof why)) return 0;
        say(lg, "fastfnet: checkpoint %s is unreadable (%s); trying the one before it\n", ckpath, why);
        if (!first[0]) snprintf(first, sizeof first, "%s", why);
    }
    return fastfnet_err(err, n, "%s: no readable checkpoint to resume from (%s)", ck, first[0] ? first : "none left");
}

/* Whether a metrics line is one of this run's that a run resuming at `step` logs again: a later step's, or a
 * final line. run: the run's name in a shared --metrics file, where the lines of other runs stay, and those
 * without a name or that do not parse (j NULL: a line another run is writing, say); NULL: the file is the
 * run's own, and a line that does not parse is one cut short by a crash. */
static int superseded(const fastfnet_json *j, long step, const char *run) {
    const char *r = j ? fastfnet_json_get_str(j, "run") : NULL;
    if (run && (!r || strcmp(r, run))) return 0;
    long long s = 0;
    const fastfnet_json *fin = j ? fastfnet_json_get(j, "final") : NULL;
    return !j || (fastfnet_json_get_int(j, "step", &s) == 0 && s > step) || (fin && fin->type == FASTFNET_JSON_BOOL && fin->boolean);
}

/* After a resume at `step` (-1: a --force start over): drop this run's metrics lines that are about to be
 * logged again (superseded), so every step appears once and the run has one final line. */
static int trim_metrics(const char *path, long step, const char *run, char *err, size_t n) {
    size_t len;
    char *text = fastfnet_read_file(path, &len, (size_t)1 << 30, NULL, 0);
    if (!text) return 0; /* no metrics yet */
    char *kept = malloc(len + 1);
    if (!kept) return free(text), fastfnet_err(err, n, "%s: out of memory", path);
    size_t k = 0;
    int dropped = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) + 1 : strlen(line);
        fastfnet_json *j = nl ? fastfnet_json_parse(line, ll - 1, NULL, 0) : NULL;
        int drop = superseded(j, step, run);
        fastfnet_json_free(j);
        if (!drop) memcpy(kept + k, line, ll), k += ll;
        dropped += drop;
        line += ll;
    }
    int rc = dropped ? fastfnet_write_file_atomic(path, kept, k, err, n) : 0;
    free(text), free(kept);
    return rc;
}

/* Refuse data that does not fit the model before running any of it: a token id past the vocabulary would
 * read (and in training write) other tensors' rows, a label past the classifier another class's weights. */
static int require_fit(const fastfnet_model *m, const fastfnet_dataset *ds, int task, const char *what, char *err, size_t n) {
    const fastfnet_config *c = fastfnet_model_config(m);
    for (int i = 0; i < ds->n; i++) {
        for (int64_t k = ds->off[i]; k < ds->off[i + 1]; k++)
            if (ds->ids[k] < 0 || ds->ids[k] >= c->vocab_size)
                return fastfnet_err(err, n, "%s: example %d has token id %d, outside the model's vocabulary (0..%d): this data does "
                                    "not fit the model (another tokenizer or data set?)", what, i + 1, ds->ids[k], c->vocab_size - 1);
        if (task != TASK_MLM && ds->labels && (ds->labels[i] < 0 || ds->labels[i] >= c->num_labels))
            return fastfnet_err(err, n, "%s: example %d has label %d, but the model has %d labels: this data does not fit the model",
                                what, i + 1, ds->labels[i], c->num_labels);
    }
    return 0;
}

/* Every path a run is given leaves room for the names made from it (DIR/checkpoints/step-N.tmp/...). */
#define PATH_ROOM 3900
static int require_short(const char *flag, const char *path, char *err, size_t n) {
    if (path && strlen(path) > PATH_ROOM)
        return fastfnet_err(err, n, "--%s: path too long (%zu bytes; at most %d): use a shorter one", flag, strlen(path), PATH_ROOM);
    return 0;
}

/* ---------- the training loop ---------- */

static double lr_at(const fastfnet_train_opts *o, long step, long total, long warmup) {
    if (step <= warmup && warmup > 0) return o->lr * step / warmup;
    double frac = total > warmup ? (double)(step - warmup) / (double)(total - warmup) : 1.0;
    if (frac > 1) frac = 1;
    double lo = o->lr * o->min_lr_ratio;
    if (!strcmp(o->schedule, "cosine")) return lo + (o->lr - lo) * 0.5 * (1 + cos(M_PI * frac));
    return lo + (o->lr - lo) * (1 - frac);
}


/* Copy every tensor whose name and shape match from src (a pre-trained model) into dst; says which of dst's
 * tensors kept their fresh initialisation (absent from src, or another shape: FNet <-> Fast-FNet layers). */
static int copy_matching(fastfnet_model *dst, const fastfnet_model *src, const logger *lg) {
    int copied = 0, skipped = 0;
    for (int i = 0; i < fastfnet_model_num_tensors(dst); i++) {
        fastfnet_tensor t = fastfnet_model_tensor(dst, i);
        int found = 0;
        for (int j = 0; j < fastfnet_model_num_tensors(src) && !found; j++) {
            fastfnet_tensor s = fastfnet_model_tensor(src, j);
            if (strcmp(t.name, s.name) || t.numel != s.numel || t.shape[0] != s.shape[0]) continue;
            memcpy(t.data, s.data, sizeof(float) * t.numel);
            copied++;
            found = 1;
        }
        if (!found && skipped++ < 12) say(lg, "fastfnet: not in the pre-trained model with this shape, freshly initialised: %s\n", t.name);
    }
    if (skipped > 12) say(lg, "fastfnet: ... and %d more tensors freshly initialised\n", skipped - 12);
    return copied;
}

/* Put the parameters of the top-level model (the best one, with --patience) into m, which has its config. */
static int use_best(fastfnet_model *m, const char *out, char *err, size_t n) {
    char p[4200];
    if (fastfnet_path(p, sizeof p, err, n, "%s/model.safetensors", out)) return -1;
    fastfnet_model *b = fastfnet_model_load(p, err, n);
    if (!b) return -1;
    int rc = fastfnet_model_buffer_floats(b) != fastfnet_model_buffer_floats(m) ? fastfnet_err(err, n, "%s: not the model of this run", p) : 0;
    if (!rc) memcpy(fastfnet_model_params(m), fastfnet_model_params(b), sizeof(float) * fastfnet_model_buffer_floats(m));
    fastfnet_model_free(b);
    return rc;
}

/* ---------- the trainer object ---------- */

struct fastfnet_trainer {
    fastfnet_train_opts o;
    opt_strings strs;          /* the strings the options point into */
    char *opts_json;
    int argc;                  /* the arguments as given (a resume applies them over the run's options) */
    char **argv;
    int threads, threads_before; /* --threads, and the process's count before setup (restored by free) */
    logger lg;
    int ready;                 /* setup begun (the process group joined) */
    int finished;              /* run returned 0: its final evaluation and metrics line are written */
    int ok;                    /* setup completed: the run can step */
    int rank, nproc, zero;
    run_data d;
    fastfnet_model *m;
    fastfnet_model *best;      /* with --patience: the weights of the best evaluation so far */
    fastfnet_optimizer *optim;
    fastfnet_adamw hp;
    train_state st;
    int T, B, Bl, Bmax, per_batch;
    size_t r0, glo, ghi;       /* this rank's rows of a batch; the parameters whose gradients it applies */
    float *rs_scratch;
    long total, warmup;
    int eval_every, save_every;
    char metrics_path[4200];
    char run_name[4200];       /* in a shared --metrics file, the "run" of this run's lines ("": the run's own file) */
    char run_key[8400];        /* what each line starts with: "run": NAME, (or "") */
    FILE *mf;
    int *perm, *idx, *tlen;
    int32_t *ids, *tt, *lab, *mlm; /* one optimizer step's sequences, every micro-batch */
    fastfnet_rng data_rng;
    double t_start, t_log, comm_since, loss_acc;
    long tokens_since, first_step, saved_step;
    int loss_n;
    eval_result last;
    long last_step;            /* the step t->last evaluated (-1: none in this session) */
    fastfnet_record rec;       /* --record (rank 0) */
    char summary[8192];
};

/* Checkpoint: every rank calls it at the same step (ZeRO-1 gathers the moment shards on rank 0, which
 * alone writes). */
static int checkpoint_all(const fastfnet_trainer *t, char *err, size_t n) {
    const train_state *st = &t->st;
    int lead = fastfnet_dist_rank() == 0, has_best = t->best && st->best_step >= 0;
    size_t np = fastfnet_model_buffer_floats(t->m);
    fastfnet_optimizer_state os = fastfnet_optimizer_get_state(t->optim);
    const fastfnet_model *top = !t->best ? t->m : has_best ? t->best : NULL; /* --patience: the best so far, once evaluated */
    checkpoint_parts c = {.m = t->m, .top = top, .mm = os.m, .vv = os.v,
                          .best = has_best && st->best_step != st->step ? fastfnet_model_params(t->best) : NULL};
    float *mm = NULL, *vv = NULL;
    if (t->zero) {
        mm = lead ? malloc(sizeof(float) * np) : NULL;
        vv = lead ? malloc(sizeof(float) * np) : NULL;
        if (lead && (!mm || !vv)) { /* the other ranks wait in the gather until the caller ends the job */
            free(mm), free(vv);
            return fastfnet_err(err, n, "checkpoint: out of memory gathering the AdamW moments");
        }
        fastfnet_dist_gather_f32(os.m, mm, np);
        fastfnet_dist_gather_f32(os.v, vv, np);
        c.mm = mm, c.vv = vv;
    }
    int rc = lead ? save_checkpoint(t->o.out, &c, &t->d, st, t->opts_json, t->o.keep, err, n) : 0;
    free(mm), free(vv);
    return rc;
}

fastfnet_trainer *fastfnet_trainer_create(int argc, const char *const *argv, char *err, size_t n) {
    fastfnet_trainer *t = calloc(1, sizeof *t);
    if (!t) return fastfnet_err(err, n, "train: out of memory"), NULL;
    fastfnet_train_defaults(&t->o);
    opt_def tab[OPT_TRAIN_MAX];
    fastfnet_opt_train_table(tab, &t->o, &t->threads);
    int rc = fastfnet_opt_parse(tab, argc, argv, "train", NULL, 0, NULL, &t->strs, err, n);
    if (rc == 1) rc = fastfnet_err(err, n, "--help is not an option of a run (fastfnet_train_options_help lists them)");
    if (!rc && t->o.resume && !t->o.out) t->o.out = t->o.resume;
    if (!rc && !(t->opts_json = fastfnet_opt_to_json(tab))) rc = fastfnet_err(err, n, "train: out of memory");
    if (!rc && !(t->argv = calloc((size_t)argc + 1, sizeof(char *)))) rc = fastfnet_err(err, n, "train: out of memory");
    for (; !rc && t->argc < argc; t->argc++)
        if (!(t->argv[t->argc] = strdup(argv[t->argc]))) rc = fastfnet_err(err, n, "train: out of memory");
    if (rc) {
        fastfnet_trainer_free(t);
        return NULL;
    }
    t->o.options_json = t->opts_json;
    t->lg.lead = 1;
    t->saved_step = t->last_step = -1;
    return t;
}

char *fastfnet_train_options_help(void) {
    fastfnet_train_opts o;
    int threads = 0;
    opt_def tab[OPT_TRAIN_MAX];
    fastfnet_train_defaults(&o);
    fastfnet_opt_train_table(tab, &o, &threads);
    return fastfnet_opt_help(tab);
}

void fastfnet_trainer_set_log(fastfnet_trainer *t, fastfnet_train_log fn, void *user) { t->lg.fn = fn, t->lg.user = user; }
fastfnet_model *fastfnet_trainer_model(fastfnet_trainer *t) { return t->m; }
const char *fastfnet_trainer_summary(const fastfnet_trainer *t) { return t->summary; }
const char *fastfnet_trainer_options_json(const fastfnet_trainer *t) { return t->opts_json; }

size_t fastfnet_sizeof_train_progress(void) { return sizeof(fastfnet_train_progress); }

void fastfnet_trainer_free(fastfnet_trainer *t) {
    if (!t) return;
    if (t->mf) fclose(t->mf);
    fastfnet_record_close(&t->rec, NULL, 0);
    free(t->perm), free(t->ids), free(t->tt), free(t->lab), free(t->mlm), free(t->idx), free(t->tlen);
    free(t->rs_scratch);
    fastfnet_optimizer_free(t->optim);
    run_data_free(&t->d);
    fastfnet_model_free(t->m);
    fastfnet_model_free(t->best);
    free(t->opts_json);
    for (int i = 0; i < t->argc; i++) free(t->argv[i]);
    free(t->argv);
    fastfnet_opt_strings_free(&t->strs);
    if (t->ready) fastfnet_dist_finalize();
    if (t->threads_before > 0) fastfnet_set_threads(t->threads_before); /* a library call leaves the process as it was */
    free(t);
}

/* What an --out directory holds of an earlier run that a new run (without --resume or --force) would mix with
 * its own: 0 nothing, 1 a trained model, 2 a checkpoint, 3 metrics only (an empty file, of a setup that
 * failed, is nothing). */
static int earlier_run(const char *out) {
    static const char *const held[] = {"model.safetensors", "checkpoints/LATEST", "metrics.jsonl"};
    char p[4200];
    struct stat sb;
    for (int i = 0; i < 3; i++)
        if (!fastfnet_path(p, sizeof p, NULL, 0, "%s/%s", out, held[i]) && stat(p, &sb) == 0 && (i < 2 || sb.st_size > 0)) return i + 1;
    return 0;
}

/* The options a run cannot start without, and room in every path for the names made from it. */
static int check_run_opts(const fastfnet_train_opts *o, char *err, size_t n) {
    if (!o->out) return fastfnet_err(err, n, "train: --out DIR is required");
    if (o->batch < 1 || o->accum < 1) return fastfnet_err(err, n, "train: --batch and --accum must be >= 1");
    if (o->keep < 1) return fastfnet_err(err, n, "train: --keep must be >= 1");
    if (!(o->valid_frac > 0 && o->valid_frac < 1)) /* a fraction: 1.5 read past the examples */
        return fastfnet_err(err, n, "--valid-frac: %g must be above 0 and below 1", o->valid_frac);
    if (o->log_every < 1) return fastfnet_err(err, n, "train: --log-every must be >= 1 (a metrics line every N steps)");
    if (o->epochs < 1) return fastfnet_err(err, n, "train: --epochs must be >= 1 (passes over the training data; --steps N sets the steps instead)");
    if (o->steps < 0) return fastfnet_err(err, n, "train: --steps must be >= 0 (0: as many as --epochs passes over the data take)");
    if (strcmp(o->schedule, "linear") && strcmp(o->schedule, "cosine"))
        return fastfnet_err(err, n, "--schedule: '%s' must be linear or cosine", o->schedule);
    if (o->record && o->resume) return fastfnet_err(err, n, "--record cannot continue a run (--resume): the optimizer state is not in the record");
    const char *flags[] = {"out", "data-dir", "train", "valid", "test", "metrics", "init-from", "tokenizer-file", "record"};
    const char *paths[] = {o->out, o->data_dir, o->train, o->valid, o->test, o->metrics, o->init_from, o->tokenizer_file, o->record};
    for (int i = 0; i < 9; i++)
        if (require_short(flags[i], paths[i], err, n)) return -1;
    int held = o->resume || o->force ? 0 : earlier_run(o->out);
    if (held == 1)
        return fastfnet_err(err, n, "%s already holds a trained model; pass --resume %s to continue it or --force to start over", o->out, o->out);
    if (held == 2)
        return fastfnet_err(err, n, "%s holds a run that did not finish (checkpoints/LATEST); pass --resume %s to continue it or --force to "
                            "start over", o->out, o->out);
    if (held == 3)
        return fastfnet_err(err, n, "%s holds the metrics.jsonl of an earlier run but no checkpoint; pass --force to start over (or use "
                            "another --out)", o->out);
    char model_path[4200];
    snprintf(model_path, sizeof model_path, "%s/steps.bin", o->record ? o->record : "");
    if (o->record && !o->force && file_exists(model_path))
        return fastfnet_err(err, n, "--record %s already holds a record; choose another directory or pass --force", o->record);
    if (o->resume && strcmp(o->resume, o->out)) return fastfnet_err(err, n, "--resume DIR must be the same directory as --out (or omit --out)");
    return 0;
}

/* The options a resume may change; the others define the run (its data, model, optimizer, seed, batch) and
 * are its checkpoint's: how long it runs, how often it logs, evaluates and saves, where its data and metrics
 * are, and how this session runs (threads, ZeRO-1, its directory). */
static int changeable_on_resume(const char *name) {
    static const char *const ok[] = {"steps", "epochs", "threads", "log-every", "eval-every", "save-every", "keep", "metrics",
                                     "data-dir", "out", "resume", "force", "record", "zero", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(ok[i], name)) return 1;
    return 0;
}

/* The options as resolved (a resume's, a pre-trained model's length): what checkpoints store and report. */
static int refresh_options(fastfnet_trainer *t, char *err, size_t n) {
    opt_def tab[OPT_TRAIN_MAX];
    fastfnet_opt_train_table(tab, &t->o, &t->threads);
    char *j = fastfnet_opt_to_json(tab);
    if (!j) return fastfnet_err(err, n, "train: out of memory");
    free(t->opts_json);
    t->opts_json = j, t->o.options_json = j;
    return 0;
}

/* --resume: the run's options are its checkpoint's, with the arguments given applied over them (as over a
 * --config file), so `--resume DIR` alone continues the run as it was. One that defines the run given with
 * another value is refused naming the flag; the length is the checkpoint model's. A checkpoint that records no
 * options leaves the arguments as given. */
static int adopt_run_options(fastfnet_trainer *t, const resume_point *rp, const char *ck, char *err, size_t n) {
    if (!rp->options) {
        say(&t->lg, "fastfnet: %s records no options; the ones given are used", ck);
        return 0;
    }
    fastfnet_train_opts run;
    int run_threads = 0;
    opt_def rt[OPT_TRAIN_MAX], tab[OPT_TRAIN_MAX];
    char src[4400], given[256], was[256];
    fastfnet_train_defaults(&run);
    fastfnet_opt_train_table(rt, &run, &run_threads);
    snprintf(src, sizeof src, "%s/model.safetensors (fastfnet_train_options)", ck);
    if (fastfnet_opt_apply_json_text(rt, rp->options, strlen(rp->options), src, &t->strs, err, n)) return -1;
    t->o = run, t->threads = run_threads;
    t->o.out = t->o.resume = t->o.record = NULL, t->o.force = 0; /* this session's, never the run's */
    fastfnet_opt_train_table(tab, &t->o, &t->threads);
    if (fastfnet_opt_parse(tab, t->argc, (const char *const *)t->argv, "train", NULL, 0, NULL, &t->strs, err, n)) return -1;
    if (!t->o.out) t->o.out = t->o.resume;
    for (int i = 0; tab[i].name; i++) /* --max-len: against the model's length below (an --init-from run stored 0 before) */
        if (!changeable_on_resume(tab[i].name) && strcmp(tab[i].name, "max-len") && !fastfnet_opt_same(&tab[i], &rt[i])) {
            fastfnet_opt_value(&tab[i], given, sizeof given), fastfnet_opt_value(&rt[i], was, sizeof was);
            return fastfnet_err(err, n, "--%s %s: the run in %s was trained with --%s %s; omit --%s to continue it as it was, or start a new "
                                "run (another --out, or --force)", tab[i].name, given, t->o.out, tab[i].name, was, tab[i].name);
        }
    if (t->o.max_len && t->o.max_len != rp->meta.max_len)
        return fastfnet_err(err, n, "--max-len %d: the run in %s has length %d (its model's); omit --max-len to continue it", t->o.max_len,
                            t->o.out, rp->meta.max_len);
    t->o.max_len = rp->meta.max_len;
    return 0;
}

/* Where the run starts from: its checkpoint (--resume; rp, whose options the run takes) or a pre-trained model
 * (--init-from; *pre, whose tokenizer and length the data takes). */
static int load_start(fastfnet_trainer *t, resume_point *rp, fastfnet_model **pre, fastfnet_tokenizer **tok, char *ck, size_t ckcap,
                      char *err, size_t n) {
    const fastfnet_train_opts *o = &t->o;
    if (o->resume) {
        if (find_resume(o->out, rp, ck, ckcap, &t->lg, err, n) || adopt_run_options(t, rp, ck, err, n) || check_run_opts(o, err, n)) return -1;
        if (strcmp(rp->task, o->task)) return fastfnet_err(err, n, "%s: the checkpoint is a %s model but --task is %s", ck, rp->task, o->task);
        *tok = rp->meta.tok, rp->meta.tok = NULL;
        return 0;
    }
    if (!o->init_from) return 0;
    run_data tmp;
    memset(&tmp, 0, sizeof tmp);
    char task[64], why[1024];
    if (!(*pre = load_trained(o->init_from, &tmp, task, sizeof task, why, sizeof why)))
        return fastfnet_err(err, n, "--init-from: %s", why);
    *tok = tmp.tok;
    if (!o->max_len) t->o.max_len = tmp.max_len; /* the pre-trained model's length, not 512, unless --max-len says otherwise */
    fastfnet_labels_free(&tmp.labels);
    return 0;
}

/* The config of a new model: from the flags, or the pre-trained model's (another architecture from the
 * flags: what fits is copied from it afterwards). */
static int new_config(fastfnet_config *c, const fastfnet_trainer *t, const fastfnet_model *pre, char *err, size_t n) {
    const fastfnet_train_opts *o = &t->o;
    const run_data *d = &t->d;
    fastfnet_arch_opts a = o->arch;
    if (pre && !o->arch.arch) {
        *c = *fastfnet_model_config(pre);
        c->hidden_dropout = c->attn_dropout = (float)o->arch.dropout;
    } else {
        a.vocab = pre ? fastfnet_model_config(pre)->vocab_size : fastfnet_tok_vocab_size(d->tok);
        a.max_pos = pre ? fastfnet_model_config(pre)->max_position : t->T;
        if (fastfnet_arch_build(c, &a, err, n)) return -1;
    }
    if (t->T > c->max_position) return fastfnet_err(err, n, "--max-len %d exceeds the pre-trained model's %d positions", t->T, c->max_position);
    if (c->vocab_size != fastfnet_tok_vocab_size(d->tok))
        return fastfnet_err(err, n, "the tokenizer has %d tokens but the model's vocabulary is %d", fastfnet_tok_vocab_size(d->tok), c->vocab_size);
    if (!pre) c->pad_token_id = fastfnet_tok_special(d->tok, FASTFNET_TOK_PAD); /* a pre-trained config's was checked on load */
    if (d->task == TASK_MLM) c->heads = FASTFNET_HEAD_MLM | (o->nsp ? FASTFNET_HEAD_NSP | FASTFNET_HEAD_POOLER : 0);
    else c->heads = FASTFNET_HEAD_CLS | FASTFNET_HEAD_POOLER, c->num_labels = t->d.labels.n;
    return 0;
}

/* The model of the run: the checkpoint's (already in t->m) or a new one, initialised from pre if given. */
static int build_model(fastfnet_trainer *t, fastfnet_model *pre, const char *ck, char *err, size_t n) {
    if (t->m) {
        if (t->d.task != TASK_MLM && fastfnet_model_config(t->m)->num_labels != t->d.labels.n) return fastfnet_err(err, n, "%s: label map does not fit the model", ck);
        return 0;
    }
    fastfnet_config c;
    if (new_config(&c, t, pre, err, n)) return -1;
    if (!(t->m = fastfnet_model_create(&c, (uint64_t)t->o.seed, err, n))) return -1;
    if (pre) say(&t->lg, "fastfnet: initialised %d of %d tensors from %s", copy_matching(t->m, pre, &t->lg), fastfnet_model_num_tensors(t->m), t->o.init_from);
    return 0;
}

/* Arena, replicas in agreement, data that fits, and the optimizer over this rank's shard. */
static int reserve_and_shard(fastfnet_trainer *t, char *err, size_t n) {
    fastfnet_model *m = t->m;
    const run_data *d = &t->d;
    if (fastfnet_model_reserve(m, t->Bmax, t->T, 1, err, n)) return -1;
    /* the replicas start from rank 0's parameters (they already agree: same seed or the same files) */
    fastfnet_dist_bcast(fastfnet_model_params(m), sizeof(float) * fastfnet_model_buffer_floats(m), 0);
    if (require_fit(m, &d->train, d->task, "training data", err, n) || require_fit(m, &d->valid, d->task, "validation data", err, n) ||
        (d->have_test && require_fit(m, &d->test, d->task, "test data", err, n)))
        return -1;
    t->glo = 0, t->ghi = fastfnet_model_buffer_floats(m);
    if (fastfnet_dist_check_size(fastfnet_model_buffer_floats(m), err, n)) return -1;
    if (t->nproc > 1) {
        size_t blo, bhi;
        fastfnet_dist_block(fastfnet_model_buffer_floats(m), t->rank, t->nproc, &blo, &bhi);
        if (!(t->rs_scratch = malloc(sizeof(float) * (bhi - blo + 1)))) return fastfnet_err(err, n, "train: out of memory");
        if (t->zero) t->glo = blo, t->ghi = bhi; /* AdamW state: 1/nproc of it on each rank (ZeRO-1) */
    }
    const fastfnet_train_opts *o = &t->o;
    t->hp = (fastfnet_adamw){(float)o->lr, (float)o->beta1, (float)o->beta2, (float)o->eps, (float)o->weight_decay};
    return (t->optim = fastfnet_optimizer_create(m, &t->hp, t->glo, t->ghi, err, n)) ? 0 : -1;
}

/* With --patience, room for the best weights: a model of the run's config, never reserved (weights only). */
static int alloc_best(fastfnet_trainer *t, char *err, size_t n) {
    if (t->o.patience <= 0) return 0;
    return (t->best = fastfnet_model_create(fastfnet_model_config(t->m), 0, err, n)) ? 0 : -1;
}

/* The best weights of a resumed run: the checkpoint's own when its step was the best, else the copy its
 * state holds; a checkpoint of an older fastfnet holds none, and its top-level model was the best. */
static int restore_best(fastfnet_trainer *t, const resume_point *rp, char *err, size_t n) {
    const train_state *st = &t->st;
    size_t bytes = sizeof(float) * fastfnet_model_buffer_floats(t->m);
    if (!t->best || st->best_step < 0) return 0;
    if (st->best_step == st->step) memcpy(fastfnet_model_params(t->best), fastfnet_model_params(t->m), bytes);
    else if (rp->best) memcpy(fastfnet_model_params(t->best), rp->best, bytes);
    else {
        say(&t->lg, "fastfnet: the checkpoint holds no copy of the best model (step %ld): reading %s/model.safetensors", st->best_step, t->o.out);
        return use_best(t->best, t->o.out, err, n);
    }
    return 0;
}

/* Training state, moments and dropout stream from a loaded checkpoint (every rank loaded it; rank 0's
 * moments are broadcast so the replicas agree bit for bit). The position in the epoch is checked against the
 * data here, the state's other numbers when it was read. */
static int apply_resume(fastfnet_trainer *t, resume_point *rp, const char *ck, char *err, size_t n) {
    fastfnet_model *m = t->m;
    if (rp->st.pos > t->d.train.n)
        return fastfnet_err(err, n, "%s/state.safetensors: training state \"pos\" %ld is past the %d training examples: the checkpoint is damaged "
                            "(or of other data)", ck, rp->st.pos, t->d.train.n);
    t->st = rp->st;
    fastfnet_dist_bcast(rp->mm, sizeof(float) * fastfnet_model_buffer_floats(m), 0);
    fastfnet_dist_bcast(rp->vv, sizeof(float) * fastfnet_model_buffer_floats(m), 0);
    fastfnet_optimizer_state os = fastfnet_optimizer_get_state(t->optim);
    memcpy(os.m, rp->mm + os.lo, sizeof(float) * (os.hi - os.lo));
    memcpy(os.v, rp->vv + os.lo, sizeof(float) * (os.hi - os.lo));
    fastfnet_model_set_dropout(m, t->st.dropout_seed, t->st.dropout_calls);
    t->saved_step = t->st.step;
    say(&t->lg, "fastfnet: resuming %s at step %ld (epoch %ld, example %ld)", ck, t->st.step, t->st.epoch, t->st.pos);
    return restore_best(t, rp, err, n);
}

static void fresh_state(fastfnet_trainer *t) {
    fastfnet_rng r0;
    fastfnet_rng_seed(&r0, (uint64_t)t->o.seed ^ 0xDA7A);
    t->st = (train_state){.best = -1e30, .best_step = -1};
    t->st.data_rng = r0.s;
    uint64_t calls;
    fastfnet_model_get_dropout(t->m, &t->st.dropout_seed, &calls);
}

/* What this run's lines in a shared --metrics file start with: "run": its directory's absolute path. */
static int name_run(fastfnet_trainer *t, char *err, size_t n) {
    size_t k = (size_t)snprintf(t->run_key, sizeof t->run_key, "\"run\": ");
    if (!realpath(t->o.out, t->run_name)) return fastfnet_err(err, n, "%s: cannot resolve the path (%s)", t->o.out, strerror(errno));
    if (fastfnet_json_escape(t->run_key, sizeof t->run_key - 3, &k, t->run_name))
        return fastfnet_err(err, n, "--metrics: %s cannot name the run in a shared metrics file (not UTF-8)", t->run_name);
    memcpy(t->run_key + k, ", ", 3);
    return 0;
}

/* The metrics file of the run: its own DIR/metrics.jsonl, or a --metrics file that other runs may share, where
 * each line names the run ("run": the directory's absolute path). After a resume this run's lines that are
 * logged again go; with --force an older run's (its own file, or its lines in the shared one). */
static int open_metrics(fastfnet_trainer *t, char *err, size_t n) {
    const fastfnet_train_opts *o = &t->o;
    snprintf(t->metrics_path, sizeof t->metrics_path, "%s%s", o->metrics ? o->metrics : o->out, o->metrics ? "" : "/metrics.jsonl");
    if (mkdir_p(o->out)) return fastfnet_err(err, n, "%s: cannot create (%s)", o->out, strerror(errno));
    t->run_name[0] = t->run_key[0] = 0;
    if (o->metrics && name_run(t, err, n)) return -1;
    const char *run = o->metrics ? t->run_name : NULL;
    if (o->resume && trim_metrics(t->metrics_path, t->st.step, run, err, n)) return -1;
    if (!o->resume && o->force) {
        if (clear_old_run(o->out, err, n)) return -1;
        if (!o->metrics) unlink(t->metrics_path);
        else if (trim_metrics(t->metrics_path, -1, run, err, n)) return -1;
    }
    if (!(t->mf = fopen(t->metrics_path, "a"))) return fastfnet_err(err, n, "%s: cannot append (%s)", t->metrics_path, strerror(errno));
    return 0;
}

/* Steps, warmup, evaluation and checkpoint periods, and the metrics file (rank 0's; the others write none). */
static int schedule_and_metrics(fastfnet_trainer *t, char *err, size_t n) {
    const fastfnet_train_opts *o = &t->o;
    long per_epoch = (t->d.train.n + (long)t->B * o->accum - 1) / ((long)t->B * o->accum);
    t->total = o->steps > 0 ? o->steps : per_epoch * o->epochs;
    t->warmup = o->warmup >= 0 ? o->warmup : (long)(o->warmup_frac * t->total);
    t->eval_every = o->eval_every > 0 ? o->eval_every : (int)(t->total / 5 > 0 ? t->total / 5 : 1);
    t->save_every = o->save_every > 0 ? o->save_every : t->eval_every;
    if (!t->lg.lead) return (t->mf = fopen("/dev/null", "w")) ? 0 : fastfnet_err(err, n, "/dev/null: cannot open (%s)", strerror(errno));
    return open_metrics(t, err, n);
}

/* What the run trains on, logged once. */
static void describe_run(fastfnet_trainer *t) {
    const run_data *d = &t->d;
    const fastfnet_train_opts *o = &t->o;
    say(&t->lg, "fastfnet: %s", t->per_batch ? "attention model: each batch is padded to its longest example (at most --max-len); the key mask makes padding inert"
                                            : "Fourier mixing sees padding: every example is padded to --max-len tokens, in training and evaluation alike");
    say(&t->lg, "fastfnet: %d train / %d valid%s examples of %d tokens, %zu parameters, %ld steps of %d x %d%s", d->train.n, d->valid.n,
        d->have_test ? " / test" : "", t->T, fastfnet_model_num_params(t->m), t->total, t->B, o->accum, o->accum > 1 ? " (accumulated)" : "");
    if (t->nproc > 1)
        say(&t->lg, "fastfnet: %d processes, %d-%d sequences of each batch per process; AdamW moments %.3f MiB per process%s", t->nproc,
            t->B / t->nproc, t->Bmax, 2.0 * sizeof(float) * (double)(t->ghi - t->glo) / 1048576.0, t->zero ? " (ZeRO-1: sharded)" : "");
}

/* The batch buffers of one optimizer step (every micro-batch) and the data order. */
static int alloc_batches(fastfnet_trainer *t, char *err, size_t n) {
    size_t nstep = (size_t)t->o.accum * t->B, T = (size_t)t->T;
    t->perm = malloc(sizeof(int) * (size_t)t->d.train.n);
    t->ids = malloc(sizeof(int32_t) * nstep * T), t->tt = malloc(sizeof(int32_t) * nstep * T);
    t->lab = malloc(sizeof(int32_t) * nstep), t->mlm = malloc(sizeof(int32_t) * nstep * T);
    t->idx = malloc(sizeof(int) * (size_t)t->B), t->tlen = malloc(sizeof(int) * (size_t)t->o.accum);
    if (!t->perm || !t->ids || !t->tt || !t->lab || !t->mlm || !t->idx || !t->tlen)
        return fastfnet_err(err, n, "train: out of memory for %zu sequences of %zu tokens per step", nstep, T);
    return 0;
}

/* The counters of a run that (re)starts at t->st: data order and stream, clocks, the logging window. */
static void restart_counters(fastfnet_trainer *t) {
    permutation(t->perm, t->d.train.n, t->o.seed, t->st.epoch);
    t->data_rng.s = t->st.data_rng;
    t->t_start = fastfnet_now() - t->st.elapsed, t->t_log = fastfnet_now();
    t->tokens_since = 0, t->loss_acc = 0, t->loss_n = 0;
    t->comm_since = 0;
    t->first_step = t->st.step + 1; /* not timed (warm-up: page faults, plans); the steps timed are in t->st */
    t->last_step = -1;
    fastfnet_dist_comm_reset();
}

/* The data of the run: with the checkpoint's or pre-trained model's tokenizer (tok, owned from here) and
 * the checkpoint's labels. */
static int setup_data(fastfnet_trainer *t, fastfnet_tokenizer *tok, const fastfnet_labels *labels, char *err, size_t n) {
    int rc = prepare_data(&t->d, &t->o, tok, labels && labels->n ? labels : NULL, &t->lg, err, n);
    if (tok && t->d.tok != tok) fastfnet_tok_free(tok); /* a failure before the data took it */
    if (rc) return -1;
    if (t->d.train.n < 1) return fastfnet_err(err, n, "no training examples");
    t->T = t->d.max_len;
    return 0;
}

/* Data parallelism: this rank computes rows [r0, r1) of every global batch of B. */
static int split_batch(fastfnet_trainer *t, char *err, size_t n) {
    t->B = t->o.batch;
    if (t->B < t->nproc) return fastfnet_err(err, n, "--batch %d is smaller than the %d processes; each needs at least one sequence", t->B, t->nproc);
    size_t r1;
    fastfnet_dist_block((size_t)t->B, t->rank, t->nproc, &t->r0, &r1);
    t->Bl = (int)(r1 - t->r0), t->Bmax = (t->B + t->nproc - 1) / t->nproc;
    return 0;
}

/* What the options say of this process, once they are resolved (a resume's are its checkpoint's): the thread
 * count, ZeRO-1, the options as stored, and the line that reports them. */
static int session_options(fastfnet_trainer *t, char *err, size_t n) {
    t->zero = t->o.zero && t->nproc > 1;
    if (t->threads > 0) t->threads_before = omp_get_max_threads(), fastfnet_set_threads(t->threads);
    if (refresh_options(t, err, n)) return -1;
    say(&t->lg, "fastfnet train: options %s", t->opts_json);
    return 0;
}

int fastfnet_trainer_setup(fastfnet_trainer *t, char *err, size_t n) {
    if (t->ready) return fastfnet_err(err, n, "train: the trainer is set up already");
    if (check_run_opts(&t->o, err, n) || fastfnet_dist_init(NULL, NULL, err, n)) return -1;
    t->ready = 1; /* from here fastfnet_trainer_free finalizes the process group */
    t->rank = fastfnet_dist_rank(), t->nproc = fastfnet_dist_size();
    t->lg.lead = t->rank == 0;
    resume_point rp;
    memset(&rp, 0, sizeof rp);
    fastfnet_model *pre = NULL;
    fastfnet_tokenizer *tok = NULL;
    char ck[4300] = "";
    int rc = load_start(t, &rp, &pre, &tok, ck, sizeof ck, err, n);
    if (!rc) rc = session_options(t, err, n);
    if (!rc) rc = setup_data(t, tok, &rp.meta.labels, err, n);
    else if (tok) fastfnet_tok_free(tok);
    t->m = rp.m, rp.m = NULL;
    if (!rc) rc = split_batch(t, err, n);
    if (!rc) rc = build_model(t, pre, ck, err, n);
    fastfnet_model_free(pre);
    if (!rc) rc = reserve_and_shard(t, err, n);
    if (!rc) rc = alloc_best(t, err, n);
    if (!rc && t->o.resume) rc = apply_resume(t, &rp, ck, err, n);
    else if (!rc) fresh_state(t);
    resume_point_free(&rp);
    if (rc || schedule_and_metrics(t, err, n) || alloc_batches(t, err, n)) return -1;
    t->per_batch = pads_per_batch(fastfnet_model_config(t->m));
    describe_run(t);
    restart_counters(t);
    if (t->o.record && t->lg.lead && fastfnet_record_open(&t->rec, t->o.record, t->m, t->opts_json, err, n)) return -1;
    t->ok = 1;
    return 0;
}

int fastfnet_trainer_resume(fastfnet_trainer *t, char *err, size_t n) {
    if (!t->ok) return fastfnet_err(err, n, "resume: set the trainer up first");
    resume_point rp;
    char ck[4300];
    if (find_resume(t->o.out, &rp, ck, sizeof ck, &t->lg, err, n)) return -1;
    int rc = 0;
    if (strcmp(rp.task, t->o.task)) rc = fastfnet_err(err, n, "%s: the checkpoint is a %s model but --task is %s", ck, rp.task, t->o.task);
    else if (fastfnet_model_buffer_floats(rp.m) != fastfnet_model_buffer_floats(t->m)) rc = fastfnet_err(err, n, "%s: not the model of this run", ck);
    if (!rc) {
        memcpy(fastfnet_model_params(t->m), fastfnet_model_params(rp.m), sizeof(float) * fastfnet_model_buffer_floats(t->m));
        fastfnet_dist_bcast(fastfnet_model_params(t->m), sizeof(float) * fastfnet_model_buffer_floats(t->m), 0);
        rc = apply_resume(t, &rp, ck, err, n);
        restart_counters(t);
    }
    if (!rc && t->lg.lead) { /* the metrics of the steps to be taken again go; the file is replaced, so reopen it */
        fclose(t->mf);
        rc = trim_metrics(t->metrics_path, t->st.step, t->run_name[0] ? t->run_name : NULL, err, n);
        if (!(t->mf = fopen(t->metrics_path, "a")) && !rc) rc = fastfnet_err(err, n, "%s: cannot append (%s)", t->metrics_path, strerror(errno));
    }
    resume_point_free(&rp);
    return rc;
}

/* ---------- one optimizer step ---------- */

static int run_done(const fastfnet_trainer *t) { return t->st.step >= t->total || t->st.stopped_early; }

/* The step's micro-batches first: each head's loss is a mean over the targets of all of them (and of every
 * rank's rows), so accum x batch B trains as one batch of accum * B. Every rank builds (and masks) the whole
 * global batch, the same on all, and computes its rows. */
static long build_step_batches(fastfnet_trainer *t, int *ndenom, int *mdenom) {
    const fastfnet_dataset *tr = &t->d.train;
    int B = t->B, T = t->T;
    long tokens = 0;
    *ndenom = *mdenom = 0;
    for (int a = 0; a < t->o.accum; a++) {
        size_t ob = (size_t)a * B * T;
        for (int i = 0; i < B; i++) {
            if (t->st.pos >= tr->n) {
                t->st.epoch++;
                t->st.pos = 0;
                permutation(t->perm, tr->n, t->o.seed, t->st.epoch);
            }
            t->idx[i] = t->perm[t->st.pos++];
        }
        const int Tb = t->tlen[a] = batch_len(tr, t->idx, B, T, t->per_batch);
        fastfnet_dataset_batch(tr, t->idx, B, Tb, fastfnet_model_config(t->m)->pad_token_id, t->ids + ob, t->tt + ob, t->lab + (size_t)a * B);
        tokens += (long)B * Tb;
        for (int i = 0; i < B; i++) *ndenom += t->lab[(size_t)a * B + i] != -100;
        if (t->d.task == TASK_MLM) {
            fastfnet_mlm_mask(t->ids + ob, t->mlm + ob, (size_t)B * Tb, &t->d.mlm, &t->data_rng);
            for (size_t i = 0; i < (size_t)B * Tb; i++) *mdenom += t->mlm[ob + i] != -100;
        }
    }
    return tokens;
}

/* Forward and backward of this rank's rows of every micro-batch; the summed loss into *loss. */
static int run_micro_batches(fastfnet_trainer *t, int ndenom, int mdenom, double *loss, char *err, size_t n) {
    fastfnet_model *m = t->m;
    *loss = 0;
    for (int a = 0; a < t->o.accum; a++) {
        const int Tb = t->tlen[a]; /* micro-batch a sits at a * B * T, its rows Tb apart */
        size_t o0 = (size_t)a * t->B * t->T + t->r0 * (size_t)Tb, l0 = (size_t)a * t->B + t->r0;
        fastfnet_batch bt = {.B = t->Bl, .T = Tb, .input_ids = t->ids + o0, .token_type_ids = t->tt + o0, .row0 = (int)t->r0,
                             .cls_denom = ndenom, .nsp_denom = ndenom, .mlm_denom = mdenom ? mdenom : 1};
        if (t->d.task == TASK_MLM) {
            bt.mlm_labels = t->mlm + o0;
            if (fastfnet_model_config(m)->heads & FASTFNET_HEAD_NSP) bt.nsp_labels = t->lab + l0;
        } else {
            bt.cls_labels = t->lab + l0;
        }
        *loss += fastfnet_model_forward(m, &bt, 1);
        if (*fastfnet_model_error(m)) return fastfnet_err(err, n, "training batch: %s", fastfnet_model_error(m));
        fastfnet_model_backward(m);
    }
    return 0;
}

/* Sum the gradients over ranks (all of them, or this rank's block with ZeRO-1) and clip by the global norm,
 * returned in *gn. */
static int reduce_and_clip(fastfnet_trainer *t, float *gn, char *err, size_t n) {
    fastfnet_model *m = t->m;
    if (t->zero) fastfnet_dist_reduce_scatter_f32(fastfnet_model_grads(m), fastfnet_model_buffer_floats(m), t->rs_scratch);
    else fastfnet_dist_allreduce_f32(fastfnet_model_grads(m), fastfnet_model_buffer_floats(m), t->rs_scratch);
    double sq = fastfnet_model_grad_sq(m, t->glo, t->ghi);
    if (t->zero) fastfnet_dist_sum_f64(&sq, 1); /* the blocks' sums; otherwise every rank holds all gradients */
    *gn = (float)sqrt(sq);
    if (!isfinite(*gn))
        return fastfnet_err(err, n, "the gradient became non-finite at step %ld; stopping without saving (last good checkpoint kept in "
                            "%s/checkpoints)", t->st.step + 1, t->o.out);
    if (t->o.clip > 0 && *gn > t->o.clip) {
        float s = (float)(t->o.clip / *gn);
        for (size_t i = t->glo; i < t->ghi; i++) fastfnet_model_grads(m)[i] *= s;
    }
    return 0;
}

/* The metrics lines are checked where they are flushed: a full disk or /dev/full stops the run (a lost line
 * is not silently a shorter curve). */
static int metrics_flush(fastfnet_trainer *t, char *err, size_t n) {
    errno = 0;
    if (fflush(t->mf) == 0 && !ferror(t->mf)) return 0;
    return fastfnet_err(err, n, "%s: writing the metrics failed (%s)", t->metrics_path, errno ? strerror(errno) : "write error");
}

/* A --log-every step: the metrics line of the window since the last one, and its figures into p. */
static void log_step(fastfnet_trainer *t, fastfnet_train_progress *p) {
    double now = fastfnet_now(), comm = fastfnet_dist_comm_seconds();
    double tps = t->tokens_since / (now - t->t_log + 1e-9), el = now - t->t_start;
    fprintf(t->mf, "{%s\"step\": %ld, \"epoch\": %.4f, \"loss\": %.9g, \"lr\": %.6g, \"grad_norm\": %.9g, \"tokens_per_s\": %.1f, \"elapsed_s\": %.3f",
            t->run_key, t->st.step, t->st.epoch + (double)t->st.pos / t->d.train.n, t->loss_acc / t->loss_n, p->lr, p->grad_norm, tps, el);
    if (t->nproc > 1) fprintf(t->mf, ", \"comm_s\": %.4f", comm - t->comm_since);
    fputs("}\n", t->mf);
    t->comm_since = comm;
    p->logged = 1, p->mean_loss = (float)(t->loss_acc / t->loss_n), p->tokens_per_s = tps, p->elapsed = el;
    t->loss_acc = 0, t->loss_n = 0, t->tokens_since = 0;
    t->t_log = fastfnet_now();
}

/* The scheduled evaluation on the validation split, its metrics line, the best weights so far and early
 * stopping (--patience). */
static int eval_step(fastfnet_trainer *t, fastfnet_train_progress *p, char *err, size_t n) {
    fastfnet_model *m = t->m;
    if (evaluate(&t->last, m, &t->d.valid, t->d.task, &t->d.mlm, t->Bmax, t->T, (uint64_t)t->o.seed ^ 0xE7A1, err, n)) return -1;
    t->last_step = t->st.step;
    double el = fastfnet_now() - t->t_start;
    const eval_result *l = &t->last;
    if (t->d.task == TASK_MLM)
        fprintf(t->mf, "{%s\"step\": %ld, \"eval_loss\": %.6g, \"eval_mlm_accuracy\": %.6g, \"eval_perplexity\": %.6g, \"elapsed_s\": %.3f}\n",
                t->run_key, t->st.step, l->loss, l->mlm_accuracy, l->perplexity, el);
    else
        fprintf(t->mf, "{%s\"step\": %ld, \"eval_loss\": %.6g, \"eval_accuracy\": %.6g, \"elapsed_s\": %.3f}\n", t->run_key, t->st.step, l->loss,
                l->accuracy, el);
    p->evaluated = 1, p->eval_loss = (float)l->loss, p->eval_accuracy = (float)l->accuracy;
    train_state *st = &t->st;
    if (l->accuracy > st->best) {
        st->best = l->accuracy, st->bad_evals = 0, st->best_step = st->step;
        if (t->best) memcpy(fastfnet_model_params(t->best), fastfnet_model_params(m), sizeof(float) * fastfnet_model_buffer_floats(m));
    } else if (++st->bad_evals >= t->o.patience && t->o.patience > 0) {
        say(&t->lg, "fastfnet: no improvement in %ld evaluations: stopping early", st->bad_evals);
        st->stopped_early = 1;
    }
    return 0;
}

static int save_now(fastfnet_trainer *t, char *err, size_t n) {
    t->st.elapsed = fastfnet_now() - t->t_start;
    if (checkpoint_all(t, err, n)) return -1;
    t->saved_step = t->st.step;
    return 0;
}

/* --record: what this step trained on (every rank built the whole global batch; rank 0 writes it). */
static int record_step(fastfnet_trainer *t, const fastfnet_train_progress *p, double loss, int ndenom, int mdenom, char *err, size_t n) {
    int mlm = t->d.task == TASK_MLM, nsp = mlm && (fastfnet_model_config(t->m)->heads & FASTFNET_HEAD_NSP);
    fastfnet_record_step s = {.step = t->st.step, .accum = t->o.accum, .B = t->B, .Tmax = t->T,
                              .flags = (mlm ? FASTFNET_RECORD_MLM : 0) | (nsp ? FASTFNET_RECORD_NSP : 0),
                              .mlm_denom = mdenom, .cls_denom = ndenom, .Tb = t->tlen, .ids = t->ids, .tt = t->tt,
                              .lab = t->lab, .mlm = t->mlm, .lr = p->lr, .loss = (float)loss, .grad_norm = p->grad_norm};
    return fastfnet_record_write(&t->rec, &s, err, n);
}

/* The update itself: learning rate of the schedule, AdamW on this rank's block, parameters gathered. */
static void apply_update(fastfnet_trainer *t, fastfnet_train_progress *p) {
    t->st.step++;
    float lr = (float)lr_at(&t->o, t->st.step, t->total, t->warmup);
    fastfnet_optimizer_step(t->optim, lr, t->st.step); /* ZeRO-1: this rank's block of parameters only */
    if (t->zero) fastfnet_dist_allgather_f32(fastfnet_model_params(t->m), fastfnet_model_buffer_floats(t->m));
    p->lr = lr;
}

/* The step's metrics line, evaluation and checkpoint, as scheduled. Metrics that cannot be written stop the
 * run, after a checkpoint of this step (nothing trained is lost for them). */
static int step_outputs(fastfnet_trainer *t, fastfnet_train_progress *p, char *err, size_t n) {
    long s = t->st.step;
    int last = s == t->total, logged = s % t->o.log_every == 0 || last, evaluated = s % t->eval_every == 0 || last;
    char why[4400] = "";
    if (logged) log_step(t, p);
    if (evaluated && eval_step(t, p, err, n)) return -1;
    int lost = (logged || evaluated) && metrics_flush(t, why, sizeof why);
    if ((s % t->save_every == 0 || last || t->st.stopped_early || (lost && t->saved_step != s)) && save_now(t, err, n)) return -1;
    return lost ? fastfnet_err(err, n, "%s; the checkpoint of step %ld is saved: give --metrics another file (or free space) and --resume %s", why,
                               s, t->o.out)
                : 0;
}

static void progress_init(const fastfnet_trainer *t, fastfnet_train_progress *p) {
    memset(p, 0, sizeof *p);
    p->step = t->st.step, p->steps = t->total, p->mlm = t->d.task == TASK_MLM, p->lead = t->lg.lead;
    p->elapsed = fastfnet_now() - t->t_start;
}

int fastfnet_trainer_step(fastfnet_trainer *t, fastfnet_train_progress *out, char *err, size_t n) {
    fastfnet_train_progress p;
    if (!t->ok) return fastfnet_err(err, n, "step: set the trainer up first");
    progress_init(t, &p);
    if (run_done(t)) return out ? *out = p, 1 : 1;
    double t_step = fastfnet_now(), loss;
    fastfnet_model_zero_grad(t->m);
    int ndenom, mdenom;
    long step_tokens = build_step_batches(t, &ndenom, &mdenom);
    if (run_micro_batches(t, ndenom, mdenom, &loss, err, n)) return -1;
    fastfnet_dist_sum_f64(&loss, 1); /* the batch loss over every rank's rows */
    if (!isfinite(loss))
        return fastfnet_err(err, n, "the loss became %g at step %ld; stopping without saving. The last good checkpoint is kept in "
                            "%s/checkpoints (try a lower --lr or --clip)", loss, t->st.step + 1, t->o.out);
    if (reduce_and_clip(t, &p.grad_norm, err, n)) return -1;
    apply_update(t, &p);
    if (record_step(t, &p, loss, ndenom, mdenom, err, n)) return -1;
    if (t->st.step == t->first_step) fastfnet_dist_comm_reset();
    else t->st.step_time += fastfnet_now() - t_step, t->st.timed_steps++, t->st.timed_tokens += step_tokens;
    t->tokens_since += step_tokens;
    t->st.data_rng = t->data_rng.s;
    uint64_t seed;
    fastfnet_model_get_dropout(t->m, &seed, &t->st.dropout_calls);
    t->loss_acc += loss, t->loss_n++;
    p.step = t->st.step, p.loss = (float)loss, p.elapsed = fastfnet_now() - t->t_start;
    if (step_outputs(t, &p, err, n)) return -1;
    if (out) *out = p;
    return run_done(t);
}

/* ---------- evaluation, checkpoint and the whole run ---------- */

int fastfnet_trainer_evaluate(fastfnet_trainer *t, const char *split, float *loss, float *accuracy, char *err, size_t n) {
    if (!t->ok) return fastfnet_err(err, n, "evaluate: set the trainer up first");
    int test = !strcmp(split, "test");
    if (!test && strcmp(split, "valid")) return fastfnet_err(err, n, "evaluate: split '%s' must be valid or test", split);
    if (test && !t->d.have_test) return fastfnet_err(err, n, "evaluate: this run has no test split (give --test FILE)");
    eval_result r;
    int rc = evaluate(&r, t->m, test ? &t->d.test : &t->d.valid, t->d.task, &t->d.mlm, t->Bmax, t->T,
                      (uint64_t)t->o.seed ^ (test ? 0x7E57 : 0xE7A1), err, n);
    if (rc) return -1;
    if (loss) *loss = (float)r.loss;
    if (accuracy) *accuracy = (float)r.accuracy;
    return 0;
}

int fastfnet_trainer_checkpoint(fastfnet_trainer *t, char *err, size_t n) {
    if (!t->ok) return fastfnet_err(err, n, "checkpoint: set the trainer up first");
    return save_now(t, err, n);
}

/* The final model and its validation figures in t->last: with --patience the best one (its weights into
 * t->m), evaluated unless this session's last evaluation was of it (a finished run resumed has none). */
static int final_model(fastfnet_trainer *t, char *err, size_t n) {
    const train_state *st = &t->st;
    int to_best = t->best && st->best_step >= 0 && st->best_step != st->step;
    if (to_best) {
        memcpy(fastfnet_model_params(t->m), fastfnet_model_params(t->best), sizeof(float) * fastfnet_model_buffer_floats(t->m));
        say(&t->lg, "fastfnet: the model kept is the best one (step %ld); the final figures are its", st->best_step);
    } else if (t->last_step == st->step) {
        return 0;
    }
    if (evaluate(&t->last, t->m, &t->d.valid, t->d.task, &t->d.mlm, t->Bmax, t->T, (uint64_t)t->o.seed ^ 0xE7A1, err, n)) return -1;
    t->last_step = -1; /* the figures are no longer of step st->step's weights */
    return 0;
}

/* The run's figures as one JSON line (rank 0): te is the test split's. */
static void write_summary(fastfnet_trainer *t, const eval_result *te, double el, double rss, double rss_sum) {
    const fastfnet_train_opts *o = &t->o;
    const train_state *st = &t->st;
    const eval_result *l = &t->last;
    char *s = t->summary;
    size_t cap = sizeof t->summary, k = 0, np = fastfnet_model_num_params(t->m);
    double tps = st->step_time > 0 ? (double)st->timed_tokens / st->step_time : 0;
    k += (size_t)snprintf(s, cap, "{\"model\": ");
    if (fastfnet_json_escape(s, cap, &k, o->out)) k += (size_t)snprintf(s + k, cap - k, "null"); /* a path not UTF-8 */
    k += (size_t)snprintf(s + k, cap - k, ", \"task\": \"%s\", \"steps\": %ld, \"parameters\": %zu, \"valid_accuracy\": %.4f, "
                          "\"valid_loss\": %.4f", o->task, st->step, np, l->accuracy, l->loss);
    if (t->d.task == TASK_MLM) k += (size_t)snprintf(s + k, cap - k, ", \"valid_perplexity\": %.3f", l->perplexity);
    if (t->d.have_test) k += (size_t)snprintf(s + k, cap - k, ", \"test_accuracy\": %.4f, \"test_loss\": %.4f", te->accuracy, te->loss);
    snprintf(s + k, cap - k, ", \"train_seconds\": %.1f, \"peak_rss_mib\": %.1f, \"processes\": %d, \"zero\": %d, \"timed_steps\": %ld, "
             "\"first_step\": %ld, \"step_seconds\": %.3f, \"tokens_per_s\": %.1f, \"comm_seconds\": %.4f, \"wait_seconds\": %.4f, "
             "\"mean_peak_rss_mib\": %.1f}",
             el, rss, t->nproc, t->zero, st->timed_steps, t->first_step, st->step_time, tps, fastfnet_dist_comm_seconds(), fastfnet_dist_wait_seconds(),
             rss_sum / t->nproc);
}

/* The figures of a finished run: the final model's (final_model), the test split's; the final metrics line
 * and the summary (rank 0). */
static int finish_run(fastfnet_trainer *t, char *err, size_t n) {
    const train_state *st = &t->st;
    if (final_model(t, err, n)) return -1;
    double el = fastfnet_now() - t->t_start;
    eval_result te = {0}, *l = &t->last;
    if (t->d.have_test && evaluate(&te, t->m, &t->d.test, t->d.task, &t->d.mlm, t->Bmax, t->T, (uint64_t)t->o.seed ^ 0x7E57, err, n)) return -1;
    fprintf(t->mf, "{%s\"step\": %ld, \"final\": true, \"valid_accuracy\": %.6g, \"valid_loss\": %.6g", t->run_key, st->step, l->accuracy, l->loss);
    if (t->d.have_test) fprintf(t->mf, ", \"test_accuracy\": %.6g, \"test_loss\": %.6g", te.accuracy, te.loss);
    double rss = peak_rss_mib(), rss_sum = rss;
    fprintf(t->mf, ", \"parameters\": %zu, \"elapsed_s\": %.3f, \"peak_rss_mib\": %.1f}\n", fastfnet_model_num_params(t->m), el, rss);
    int rc = metrics_flush(t, err, n);
    fastfnet_dist_sum_f64(&rss_sum, 1); /* the mean over ranks is reported below */
    if (!rc && t->lg.lead) write_summary(t, &te, el, rss, rss_sum);
    return rc;
}

/* Whether any rank's callback asked to stop (one small collective, so every rank stops at the same step). */
static int agree_stop(const fastfnet_trainer *t, int stop) {
    double s = stop ? 1.0 : 0.0;
    if (t->nproc > 1) fastfnet_dist_sum_f64(&s, 1);
    return s > 0;
}

int fastfnet_trainer_run(fastfnet_trainer *t, fastfnet_train_callback cb, void *user, char *err, size_t n) {
    if (!t->ready && fastfnet_trainer_setup(t, err, n)) return -1;
    if (!t->ok) return fastfnet_err(err, n, "run: the trainer's setup failed");
    if (t->finished) /* a second run wrote a second final line */
        return fastfnet_err(err, n, "run: this trainer's run has finished; fastfnet_trainer_summary() has its result");
    fastfnet_train_progress p;
    int rc = run_done(t);
    while (rc == 0) {
        if ((rc = fastfnet_trainer_step(t, &p, err, n)) < 0) return -1;
        if (!agree_stop(t, cb && cb(&p, user)) || rc) continue;
        if (t->saved_step != t->st.step && save_now(t, err, n)) return -1;
        say(&t->lg, "fastfnet: interrupted at step %ld: checkpoint saved; continue with --resume %s", t->st.step, t->o.out);
        return 1;
    }
    if (finish_run(t, err, n)) return -1;
    t->finished = 1;
    return 0;
}

/* ---------- eval and predict ---------- */

/* eval and predict of a model without a task: made by init or another tool, never trained here. */
static int untrained(const char *model, char *err, size_t n) {
    return fastfnet_err(err, n, "%s: not a trained model (its metadata names no fastfnet_task); train or fine-tune it first "
                        "(fastfnet train --init-from %s ...)", model, model);
}

/* A classification model's eval and predict read its classifier's logits, which an edited config can leave
 * out (fastfnet_heads without "classifier"): refused, naming the weights file. */
static int require_classifier(const fastfnet_model *m, const char *model, const char *task, char *err, size_t n) {
    if (fastfnet_model_config(m)->heads & FASTFNET_HEAD_CLS) return 0;
    char p[4200];
    trained_file(p, sizeof p, model);
    return fastfnet_err(err, n, "%s: this %s model has no classifier head (its config's fastfnet_heads lacks \"classifier\"): the file "
                        "was edited or is damaged; retrain or restore it", p, task);
}

/* What eval cannot do with this model: one never trained, a classifier without its head, or a built-in image
 * set longer than the model reads (the data's own advice, --max-len, does not apply: the length is the model's). */
static int eval_refusal(const fastfnet_model *m, const char *model, const char *task, const char *data, int max_len, char *err, size_t n) {
    if (!*task) return untrained(model, err, n);
    if ((task_of(task) == TASK_CLASSIFY || task_of(task) == TASK_PAIR) && require_classifier(m, model, task, err, n)) return -1;
    int need = !data ? 0 : !strcmp(data, "image") ? IMAGE_LEN : !strcmp(data, "pathfinder") ? PATHFINDER_LEN : 0;
    if (need && max_len < need)
        return fastfnet_err(err, n, "%s reads %d tokens, --data %s needs %d (pixels + [CLS]): evaluate a model trained on it", model, max_len, data, need);
    return 0;
}

/* eval --input FILE: the file read once, whole (nothing held out of it), as the split evaluated (d->valid),
 * with the model's tokenizer and labels (a model that names none: the file's). MLM: the text encoded as a
 * validation text is, so the examples and masks are those the training run's evaluations used. */
static int prepare_eval_file(run_data *d, const fastfnet_train_opts *o, fastfnet_tokenizer *tok, const fastfnet_labels *labels,
                             const logger *lg, char *err, size_t n) {
    memset(d, 0, sizeof *d);
    d->lg = lg;
    d->task = task_of(o->task);
    d->max_len = o->max_len;
    if (d->task < 0) return fastfnet_err(err, n, "--task: '%s' must be classify, classify-pair or mlm", o->task);
    if (d->task != TASK_MLM) {
        if (labels && copy_labels(&d->labels, labels)) return fastfnet_err(err, n, "out of memory");
        if (make_tokenizer(d, o, tok, FASTFNET_TOK_BYTE, NULL, 0, 1, err, n) || load_records_ds(&d->valid, o->train, d, 1, err, n)) return -1;
        return eval_subsets(d, o) ? fastfnet_err(err, n, "out of memory") : 0;
    }
    size_t len;
    char *text = fastfnet_read_file(o->train, &len, (size_t)1 << 34, err, n);
    if (!text) return -1;
    int rc = make_tokenizer(d, o, tok, FASTFNET_TOK_BYTE, text, len, 2, err, n);
    if (!rc) rc = encode_pretrain(d, o, o->train, text, len, 1, err, n);
    free(text);
    if (!rc && eval_subsets(d, o)) rc = fastfnet_err(err, n, "out of memory");
    return rc;
}

/* The data eval reads with the model's tokenizer and labels, and the split it evaluates: the --input file
 * (read once), or the test split of --data NAME (its validation split when it has none). */
static const fastfnet_dataset *eval_data(run_data *d, const fastfnet_train_opts *o, fastfnet_tokenizer *tok, const fastfnet_labels *labels,
                                         const logger *lg, int *rc, char *err, size_t n) {
    *rc = o->data ? prepare_data(d, o, tok, labels, lg, err, n) : prepare_eval_file(d, o, tok, labels, lg, err, n);
    return o->data && d->have_test ? &d->test : &d->valid;
}

/* eval's result: one JSON object (the model's path escaped as JSON) into s[cap]; -1 with a message when it
 * does not fit. */
static int eval_json(char *s, size_t cap, const char *model, const eval_result *r, int task, double dt, int T, char *err, size_t n) {
    size_t k = (size_t)snprintf(s, cap, "{\"model\": ");
    int bad = k >= cap || fastfnet_json_escape(s, cap, &k, model);
    if (!bad) k += (size_t)snprintf(s + k, cap - k, ", \"examples\": %d, \"loss\": %.6g, \"accuracy\": %.6g", r->n, r->loss, r->accuracy);
    if (!bad && task == TASK_MLM && k < cap) k += (size_t)snprintf(s + k, cap - k, ", \"perplexity\": %.6g", r->perplexity);
    if (!bad && k < cap) k += (size_t)snprintf(s + k, cap - k, ", \"seconds\": %.2f, \"tokens_per_s\": %.0f}", dt, (double)r->n * T / (dt > 0 ? dt : 1e-9));
    if (bad || k >= cap) return fastfnet_err(err, n, "%s: eval's result does not fit in %zu bytes with the path escaped as JSON: use a shorter path", model, cap);
    return 0;
}

/* The evaluation of ds in batches of at most --batch sequences (room for the examples there are, not for
 * --batch), its figures as JSON into result[cap]. */
static int eval_report(fastfnet_model *m, const run_data *d, const fastfnet_dataset *ds, const char *model_dir, const fastfnet_train_opts *o,
                       char *result, size_t cap, char *err, size_t n) {
    const char *what = o->data ? o->data : o->train;
    int B = ds->n > 0 && o->batch > ds->n ? ds->n : o->batch;
    int rc = require_fit(m, ds, d->task, what, err, n);
    if (!rc) rc = fastfnet_model_reserve(m, B, d->max_len, 0, err, n);
    if (!rc) fastfnet_model_pack_weights(m); /* inference only from here; where it cannot pack, it runs unpacked */
    double t0 = fastfnet_now();
    eval_result r;
    if (!rc) rc = evaluate(&r, m, ds, d->task, &d->mlm, B, d->max_len, (uint64_t)o->seed ^ 0x7E57, err, n);
    if (!rc && !isfinite(r.loss))
        rc = fastfnet_err(err, n, "%s: the loss on %s is %g: the model's weights are damaged (NaN or Inf)", model_dir, what, r.loss);
    return rc ? rc : eval_json(result, cap, model_dir, &r, d->task, fastfnet_now() - t0, d->max_len, err, n);
}

int fastfnet_eval_run(const char *model_dir, const fastfnet_train_opts *o, fastfnet_train_log log, void *user, char *result, size_t cap,
                      char *err, size_t n) {
    char task[64];
    logger lg = {log, user, 1};
    if (require_short("model", model_dir, err, n) || require_short("data-dir", o->data_dir, err, n) || require_short("train", o->train, err, n))
        return -1;
    if (o->data && o->train) return fastfnet_err(err, n, "eval: give --input FILE or --data NAME, not both");
    if (!fastfnet_json_utf8_valid(model_dir, strlen(model_dir)))
        return fastfnet_err(err, n, "--model: %s is not UTF-8, so eval's result (JSON) cannot name it: rename it", model_dir);
    run_data meta, d;
    memset(&meta, 0, sizeof meta);
    memset(&d, 0, sizeof d);
    fastfnet_model *m = load_trained(model_dir, &meta, task, sizeof task, err, n);
    if (!m) return -1;
    if (eval_refusal(m, model_dir, task, o->data, meta.max_len, err, n)) {
        fastfnet_model_free(m), fastfnet_labels_free(&meta.labels), fastfnet_tok_free(meta.tok);
        return -1;
    }
    fastfnet_train_opts oo = *o;
    oo.task = o->task ? o->task : task;
    oo.max_len = meta.max_len;
    int rc = strcmp(oo.task, task) ? fastfnet_err(err, n, "%s is a %s model but --task is %s", model_dir, task, oo.task) : 0;
    const fastfnet_dataset *ds = rc ? NULL : eval_data(&d, &oo, meta.tok, meta.labels.n ? &meta.labels : NULL, &lg, &rc, err, n);
    if (d.tok != meta.tok) fastfnet_tok_free(meta.tok);
    if (!rc) rc = eval_report(m, &d, ds, model_dir, o, result, cap, err, n);
    fastfnet_labels_free(&meta.labels);
    run_data_free(&d);
    fastfnet_model_free(m);
    return rc;
}

/* Plain text, one example per line (labels none), from f; name is for messages. */
static int read_lines(fastfnet_records *r, FILE *f, const char *name, char *err, size_t n) {
    memset(r, 0, sizeof *r);
    int cap = 0, ln = 0, rc = 0;
    char *line = NULL;
    size_t lsz = 0;
    long got;
    while (!rc && (got = fastfnet_read_line(f, &line, &lsz, NULL)) >= 0) {
        if (++ln == 1) got = fastfnet_drop_bom(line, got);
        if (memchr(line, 0, (size_t)got)) {
            rc = fastfnet_err(err, n, "%s:%d: a NUL byte in the line (plain text: one example per line, without NUL)", name, ln);
            break;
        }
        if (r->n == cap) {
            cap = cap ? cap * 2 : 256;
            char **a = realloc(r->a, sizeof(char *) * cap), **l = a ? realloc(r->label, sizeof(char *) * cap) : NULL;
            int *li = l ? realloc(r->line, sizeof(int) * cap) : NULL;
            if (a) r->a = a;
            if (l) r->label = l;
            if (li) r->line = li;
            if (!li) rc = fastfnet_err(err, n, "%s: out of memory at line %d", name, ln);
        }
        if (!rc && !(r->a[r->n] = strdup(line))) rc = fastfnet_err(err, n, "%s: out of memory at line %d", name, ln);
        if (!rc) r->label[r->n] = NULL, r->line[r->n] = ln, r->n++;
    }
    if (!rc && got == -2) rc = fastfnet_err(err, n, "%s: reading failed after line %d (%s)", name, ln, strerror(errno));
    free(line);
    if (!rc && r->n == 0) rc = fastfnet_err(err, n, "%s: no examples (plain text: one example per line)", name);
    if (rc) fastfnet_records_free(r);
    return rc;
}

/* predict's input: JSONL/TSV records (labels optional) or plain text, one example per line; no file or "-":
 * standard input. */
static int read_predict_input(fastfnet_records *r, const char **input, int pair, char *err, size_t n) {
    int from_stdin = !*input || !strcmp(*input, "-");
    if (from_stdin) *input = "stdin";
    if (!from_stdin && fastfnet_records_format(*input) >= 0)
        return fastfnet_records_read(r, *input, pair, 0, err, n);
    if (pair) return fastfnet_err(err, n, "%s: a pair model needs --input FILE.jsonl or FILE.tsv with two texts per example", *input);
    FILE *f = from_stdin ? stdin : fastfnet_open_input(*input, err, n);
    if (!f) return -1;
    int rc = read_lines(r, f, *input, err, n);
    if (!from_stdin) fclose(f);
    return rc;
}

/* The bytes a prediction line can take: every label escaped (at most 6 bytes a byte, as \u0007, and its
 * quotes), the winner's a second time, and room for the line number and each probability. */
static size_t prediction_room(const fastfnet_labels *labels, int am) {
    size_t cap = 64 + strlen(labels->names[am]) * 6 + 2;
    for (int j = 0; j < labels->n; j++) cap += strlen(labels->names[j]) * 6 + 2 + 32;
    return cap;
}

/* One prediction as a JSON line: the arg-max label and every label's probability from the logits lg. */
static int write_prediction(FILE *of, int line_no, const float *lg, const fastfnet_labels *labels, char *err, size_t n) {
    int L = labels->n, am = 0;
    double mx = lg[0], s = 0;
    for (int j = 1; j < L; j++)
        if (lg[j] > mx) mx = lg[j], am = j;
    for (int j = 0; j < L; j++) s += exp(lg[j] - mx);
    size_t cap = prediction_room(labels, am), pos = 0;
    char *line = malloc(cap);
    if (!line) return fastfnet_err(err, n, "predict: out of memory");
    pos += (size_t)snprintf(line, cap, "{\"line\": %d, \"label\": ", line_no);
    int bad = fastfnet_json_escape(line, cap, &pos, labels->names[am]);
    if (!bad) pos += (size_t)snprintf(line + pos, cap - pos, ", \"probs\": {");
    for (int j = 0; !bad && j < L; j++) {
        if (j) line[pos++] = ',', line[pos++] = ' ';
        bad = fastfnet_json_escape(line, cap, &pos, labels->names[j]);
        if (!bad) pos += (size_t)snprintf(line + pos, cap - pos, ": %.6f", exp(lg[j] - mx) / s);
    }
    if (!bad) fprintf(of, "%s}}\n", line);
    free(line);
    return bad ? fastfnet_err(err, n, "predict: the model's labels cannot be written as JSON strings (not UTF-8)") : 0;
}

/* Classify every example of ds in batches, one JSON line each into of. */
static int predict_all(FILE *of, fastfnet_model *m, const fastfnet_dataset *ds, const fastfnet_records *r, const fastfnet_labels *labels,
                       int batch, int T, const char *input, char *err, size_t n) {
    int32_t *ids = malloc(sizeof(int32_t) * batch * T), *tt = malloc(sizeof(int32_t) * batch * T);
    int *idx = malloc(sizeof(int) * batch), L = fastfnet_model_config(m)->num_labels, rc = 0;
    if (!ids || !tt || !idx) rc = fastfnet_err(err, n, "predict: out of memory for batches of %d x %d", batch, T);
    for (int b0 = 0; !rc && b0 < ds->n; b0 += batch) {
        int nb = ds->n - b0 < batch ? ds->n - b0 : batch;
        for (int i = 0; i < nb; i++) idx[i] = b0 + i;
        const int Tb = batch_len(ds, idx, nb, T, pads_per_batch(fastfnet_model_config(m)));
        fastfnet_dataset_batch(ds, idx, nb, Tb, fastfnet_model_config(m)->pad_token_id, ids, tt, NULL);
        fastfnet_batch bt = {.B = nb, .T = Tb, .input_ids = ids, .token_type_ids = tt, .pooled_only = 1};
        fastfnet_model_forward(m, &bt, 0);
        if (*fastfnet_model_error(m)) rc = fastfnet_err(err, n, "%s: %s", input, fastfnet_model_error(m));
        const float *lg = fastfnet_model_logits_cls(m);
        for (size_t k = 0; !rc && k < (size_t)nb * L; k++)
            if (!isfinite(lg[k]))
                rc = fastfnet_err(err, n, "%s, line %d: the model's output is not finite (%g): its weights are damaged (NaN or Inf)", input,
                                  r->line[b0 + (int)(k / (size_t)L)], lg[k]);
        for (int i = 0; !rc && i < nb; i++) rc = write_prediction(of, r->line[b0 + i], lg + (size_t)i * L, labels, err, n);
    }
    free(ids), free(tt), free(idx);
    return rc;
}

/* An interrupted predict --out (SIGINT, SIGTERM, SIGHUP) removes its temporary file, then dies of the signal
 * as it would have, so the old file or none is left. The handler is installed before the file is created: a
 * signal that comes before its name is known waits for guard_ready. It only unlinks the name copied before,
 * and raises the signal again with the default action (async-signal-safe calls, lock-free atomics). A signal
 * that was ignored or handled by the caller is left as it was. */
static const int GUARD_SIGNALS[3] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction g_guard_old[3];
static int g_guarded[3];
static char g_guard_tmp[PATH_MAX + 64];
static _Atomic int g_guard_ready, g_guard_pending;

static void guard_die(int sig) {
    if (g_guard_tmp[0]) unlink(g_guard_tmp);
    signal(sig, SIG_DFL);
    raise(sig); /* in the handler it waits for the handler's return, then ends the process as the signal does */
}

static void on_guard_signal(int sig) {
    atomic_store(&g_guard_pending, sig);
    if (atomic_load(&g_guard_ready)) guard_die(sig); /* else guard_ready sees it: the stores and loads are ordered */
}

static void guard_begin(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_guard_signal;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < 3; k++) sigaddset(&sa.sa_mask, GUARD_SIGNALS[k]); /* one handler at a time */
    for (int k = 0; k < 3; k++) {
        g_guarded[k] = sigaction(GUARD_SIGNALS[k], NULL, &g_guard_old[k]) == 0 && g_guard_old[k].sa_handler == SIG_DFL;
        if (g_guarded[k]) sigaction(GUARD_SIGNALS[k], &sa, NULL);
    }
}

/* The temporary file's name (NULL: none was made), then a signal that came while it was being made. */
static void guard_ready(const char *tmp) {
    if (tmp && strlen(tmp) < sizeof g_guard_tmp) memcpy(g_guard_tmp, tmp, strlen(tmp) + 1);
    atomic_store(&g_guard_ready, 1);
    int sig = atomic_load(&g_guard_pending);
    if (sig) guard_die(sig);
}

static void guard_end(void) {
    for (int k = 0; k < 3; k++)
        if (g_guarded[k]) sigaction(GUARD_SIGNALS[k], &g_guard_old[k], NULL), g_guarded[k] = 0;
    atomic_store(&g_guard_ready, 0);
    g_guard_tmp[0] = 0;
}

/* The predictions into out (atomically: a failed or interrupted predict leaves the old file, or none) or
 * standard output, where a pipe or a full disk refusing the buffered lines is a failure, not a silent loss. */
static int predict_to(const char *out, fastfnet_model *m, const fastfnet_dataset *ds, const fastfnet_records *r, const run_data *d,
                      int batch, const char *input, char *err, size_t n) {
    fastfnet_atomic_file af = {NULL, NULL, NULL};
    if (out) guard_begin();
    int rc = out ? fastfnet_atomic_open(&af, out, err, n) : 0;
    if (out) guard_ready(af.tmp);
    if (!rc) rc = predict_all(out ? af.f : stdout, m, ds, r, &d->labels, batch, d->max_len, input, err, n);
    if (rc) fastfnet_atomic_abort(&af);
    else if (out) rc = fastfnet_atomic_commit(&af, err, n);
    else if (fflush(stdout) != 0 || ferror(stdout))
        rc = fastfnet_err(err, n, "writing the predictions to standard output failed (%s)", strerror(errno));
    if (out) guard_end();
    return rc;
}

/* What predict cannot do with this model: one never trained, or one that is no classifier. */
static int predict_refusal(const fastfnet_model *m, const char *model, const char *task, const run_data *d, char *err, size_t n) {
    if (!*task) return untrained(model, err, n);
    if (!strcmp(task, "mlm") || d->labels.n == 0) return fastfnet_err(err, n, "%s: predict needs a classifier (this is a %s model)", model, task);
    return require_classifier(m, model, task, err, n);
}

int fastfnet_predict_run(const char *model_dir, const char *input, const char *out, int batch, char *err, size_t n) {
    char task[64];
    if (require_short("model", model_dir, err, n) || require_short("input", input, err, n) || require_short("out", out, err, n)) return -1;
    if (out && !strcmp(out, "-")) out = NULL; /* standard output, as --input - is standard input */
    run_data d;
    memset(&d, 0, sizeof d);
    fastfnet_model *m = load_trained(model_dir, &d, task, sizeof task, err, n);
    if (!m) return -1;
    fastfnet_records r = {0};
    fastfnet_dataset ds = {0};
    d.task = task_of(task);
    int rc = predict_refusal(m, model_dir, task, &d, err, n) ? -1 : read_predict_input(&r, &input, d.task == TASK_PAIR, err, n);
    if (!rc) rc = fastfnet_dataset_from_records(&ds, &r, input, d.tok, NULL, d.max_len, err, n);
    if (!rc) rc = require_fit(m, &ds, d.task, input, err, n);
    if (!rc && batch > ds.n) batch = ds.n; /* room for the examples there are, not for --batch */
    if (!rc) rc = fastfnet_model_reserve(m, batch, d.max_len, 0, err, n);
    if (!rc) fastfnet_model_pack_weights(m); /* inference only; where it cannot pack, it runs unpacked */
    if (!rc) rc = predict_to(out, m, &ds, &r, &d, batch, input, err, n);
    fastfnet_dataset_free(&ds);
    fastfnet_records_free(&r);
    run_data_free(&d);
    fastfnet_model_free(m);
    return rc;
}
