/* data.c: records (JSONL/TSV), label maps, tokenized datasets, IDX images, pre-training chunks, batches and
 * BERT masking. */
#include "data.h"
#include "fastfnet_util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* A copy of s[0..n); NULL when out of memory. */
static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* Grow every column of r to cap entries; -1 when out of memory (r keeps what it had). */
static int rec_grow(fastfnet_records *r, int cap) {
    char **a = realloc(r->a, sizeof(char *) * cap);
    if (a) r->a = a;
    char **b = a ? realloc(r->b, sizeof(char *) * cap) : NULL;
    if (b) r->b = b;
    char **l = b ? realloc(r->label, sizeof(char *) * cap) : NULL;
    if (l) r->label = l;
    int *li = l ? realloc(r->line, sizeof(int) * cap) : NULL;
    if (li) r->line = li;
    return li ? 0 : -1;
}

/* Append a record that owns a, b (NULL: a single text, unless need_b) and label; a NULL a, or b when need_b
 * (a copy that ran out of memory), or no room fails with all three freed. */
static int rec_push(fastfnet_records *r, int *cap, char *a, char *b, int need_b, char *label, int line) {
    if (!a || (need_b && !b) || (r->n == *cap && rec_grow(r, *cap ? *cap * 2 : 1024))) {
        free(a), free(b), free(label);
        return -1;
    }
    if (r->n == *cap) *cap = *cap ? *cap * 2 : 1024;
    r->a[r->n] = a, r->b[r->n] = b, r->label[r->n] = label, r->line[r->n] = line;
    r->n++;
    return 0;
}

/* A JSON label may be a string or an integer; both become strings so one map serves both. */
static char *json_label(const fastfnet_json *o) {
    const fastfnet_json *l = fastfnet_json_get(o, "label");
    if (!l) return NULL;
    char buf[64];
    long long v;
    if (l->type == FASTFNET_JSON_STRING) return dupn(l->str, strlen(l->str));
    /* get_int checks the range before converting: (long long)1e300 is undefined behaviour */
    if (fastfnet_json_get_int(o, "label", &v) == 0) {
        snprintf(buf, sizeof buf, "%lld", v);
        return dupn(buf, strlen(buf));
    }
    if (l->type == FASTFNET_JSON_BOOL) return dupn(l->boolean ? "true" : "false", l->boolean ? 4 : 5);
    return dupn("", 0); /* present but unusable: reported by the caller */
}

/* Where the lines of one records file go, and what a bad one is reported as. */
typedef struct {
    fastfnet_records *r;
    int cap; /* entries r's columns have room for */
    const char *path;
    int lineno, pair, need_label;
    char *err;
    size_t errlen;
} rec_reader;

/* The first of keys whose string holds a NUL (JSON's \u0000), which the C strings of records would cut; NULL if none. */
static const char *json_nul_field(const fastfnet_json *j, const char *const *keys, int n) {
    for (int i = 0; i < n; i++) {
        const fastfnet_json *v = fastfnet_json_get(j, keys[i]);
        if (v && v->type == FASTFNET_JSON_STRING && strlen(v->str) != v->str_len) return keys[i];
    }
    return NULL;
}

/* One JSON line: {"text": ...} or {"text_a": ..., "text_b": ...}, and a "label". */
static int rec_parse_json(rec_reader *rd, const char *line, size_t got) {
    const char *path = rd->path;
    int lineno = rd->lineno, pair = rd->pair, rc = 0;
    char *err = rd->err;
    size_t errlen = rd->errlen;
    char jerr[200];
    fastfnet_json *j = fastfnet_json_parse(line, got, jerr, sizeof jerr);
    if (!j) return fastfnet_err(err, errlen, "%s:%d: not valid JSON (%s)", path, lineno, jerr);
    const char *a = fastfnet_json_get_str(j, pair ? "text_a" : "text");
    const char *b = pair ? fastfnet_json_get_str(j, "text_b") : NULL;
    char *label = json_label(j);
    static const char *const keys[] = {"text", "text_a", "text_b", "label"};
    const char *nul = json_nul_field(j, keys, 4);
    if (nul) {
        rc = fastfnet_err(err, errlen, "%s:%d: \"%s\" holds a NUL character (\\u0000), which would cut it short: remove it", path, lineno, nul);
    } else if (!a || (pair && !b)) {
        rc = fastfnet_err(err, errlen, "%s:%d: missing string field \"%s\"", path, lineno,
                     !a ? (pair ? "text_a" : "text") : "text_b");
    } else if (rd->need_label && (!label || !*label)) {
        rc = fastfnet_err(err, errlen, "%s:%d: missing or unusable \"label\" (a string or an integer)", path, lineno);
    } else {
        if (rec_push(rd->r, &rd->cap, dupn(a, strlen(a)), b ? dupn(b, strlen(b)) : NULL, pair, label, lineno))
            rc = fastfnet_err(err, errlen, "%s:%d: out of memory", path, lineno);
        label = NULL;
    }
    free(label);
    fastfnet_json_free(j);
    return rc;
}

/* One TSV line: label<TAB>text, or label<TAB>text_a<TAB>text_b. */
static int rec_parse_tsv(rec_reader *rd, const char *line) {
    const char *path = rd->path;
    int lineno = rd->lineno, pair = rd->pair;
    char *err = rd->err;
    size_t errlen = rd->errlen;
    const char *t1 = strchr(line, '\t');
    if (!t1)
        return fastfnet_err(err, errlen, "%s:%d: expected label<TAB>text%s (no tab found)", path, lineno, pair ? "_a<TAB>text_b" : "");
    const char *t2 = pair ? strchr(t1 + 1, '\t') : NULL;
    if (pair && !t2)
        return fastfnet_err(err, errlen, "%s:%d: expected label<TAB>text_a<TAB>text_b (one tab found)", path, lineno);
    if (rd->need_label && t1 == line) return fastfnet_err(err, errlen, "%s:%d: empty label", path, lineno);
    /* labels are stored as JSON with the model: refuse one that cannot be, before any training */
    if (!fastfnet_json_utf8_valid(line, (size_t)(t1 - line)))
        return fastfnet_err(err, errlen, "%s:%d: the label is not valid UTF-8 (save the file as UTF-8)", path, lineno);
    char *lab = dupn(line, (size_t)(t1 - line));
    char *a = pair ? dupn(t1 + 1, (size_t)(t2 - t1 - 1)) : dupn(t1 + 1, strlen(t1 + 1));
    char *b = pair ? dupn(t2 + 1, strlen(t2 + 1)) : NULL;
    if (!lab || rec_push(rd->r, &rd->cap, a, b, pair, lab, lineno)) {
        if (!lab) free(a), free(b);
        return fastfnet_err(err, errlen, "%s:%d: out of memory", path, lineno);
    }
    return 0;
}

long fastfnet_drop_bom(char *line, long len) {
    if (len < 3 || memcmp(line, "\xEF\xBB\xBF", 3)) return len;
    memmove(line, line + 3, (size_t)len - 2); /* with the NUL */
    return len - 3;
}

int fastfnet_records_format(const char *path) {
    size_t pl = strlen(path);
    if ((pl > 6 && !strcmp(path + pl - 6, ".jsonl")) || (pl > 5 && !strcmp(path + pl - 5, ".json"))) return 1;
    return pl > 4 && !strcmp(path + pl - 4, ".tsv") ? 0 : -1;
}

int fastfnet_records_read(fastfnet_records *r, const char *path, int pair, int need_label, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    FILE *f = fastfnet_open_input(path, err, errlen);
    if (!f) return -1;
    int jsonl = fastfnet_records_format(path) == 1;
    rec_reader rd = {.r = r, .path = path, .pair = pair, .need_label = need_label, .err = err, .errlen = errlen};
    char *line = NULL;
    size_t lsz = 0;
    long got;
    int rc = 0;
    while ((got = fastfnet_read_line(f, &line, &lsz, NULL)) >= 0) {
        if (++rd.lineno == 1) got = fastfnet_drop_bom(line, got);
        if (got == 0) continue; /* blank lines are allowed, e.g. a trailing one */
        if (memchr(line, 0, (size_t)got)) {
            rc = fastfnet_err(err, errlen, "%s:%d: a NUL byte in the line (text records are UTF-8 without NUL)", path, rd.lineno);
            break;
        }
        rc = jsonl ? rec_parse_json(&rd, line, (size_t)got) : rec_parse_tsv(&rd, line);
        if (rc) break;
    }
    if (!rc && got == -2) rc = fastfnet_err(err, errlen, "%s: reading failed after line %d (%s)", path, rd.lineno, strerror(errno));
    free(line);
    fclose(f);
    if (rc) {
        fastfnet_records_free(r);
        return -1;
    }
    if (r->n == 0) return fastfnet_err(err, errlen, "%s: no records", path);
    return 0;
}

void fastfnet_records_free(fastfnet_records *r) {
    /* b is NULL for single-text records (and label entries may be NULL: unlabelled text) */
    for (int i = 0; i < r->n; i++) free(r->a[i]), free(r->b ? r->b[i] : NULL), free(r->label[i]);
    free(r->a), free(r->b), free(r->label), free(r->line);
    memset(r, 0, sizeof *r);
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

int fastfnet_labels_build(fastfnet_labels *l, const fastfnet_records *r, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    char **all = malloc(sizeof(char *) * (size_t)r->n);
    l->names = malloc(sizeof(char *) * (size_t)r->n);
    int oom = !all || !l->names;
    for (int i = 0; !oom && i < r->n; i++) all[i] = r->label[i];
    if (!oom) qsort(all, (size_t)r->n, sizeof(char *), cmp_str);
    for (int i = 0; !oom && i < r->n; i++)
        if (i == 0 || strcmp(all[i], all[i - 1])) oom = !(l->names[l->n++] = dupn(all[i], strlen(all[i])));
    free(all);
    if (oom) {
        fastfnet_labels_free(l);
        return fastfnet_err(err, errlen, "out of memory building the label map");
    }
    if (l->n < 2) {
        fastfnet_labels_free(l);
        return fastfnet_err(err, errlen, "the training data has fewer than 2 distinct labels");
    }
    return 0;
}

int fastfnet_labels_find(const fastfnet_labels *l, const char *name) {
    /* label sets are small (classes), and a map keeps its stored order (Fashion-MNIST's is by class id) */
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], name)) return i;
    return -1;
}

void fastfnet_labels_free(fastfnet_labels *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

char *fastfnet_labels_to_json(const fastfnet_labels *l) {
    size_t cap = 16;
    for (int i = 0; i < l->n; i++) cap += strlen(l->names[i]) * 6 + 8;
    char *s = malloc(cap);
    size_t pos = 0;
    if (!s) return NULL;
    s[pos++] = '[';
    for (int i = 0; i < l->n; i++) {
        if (i) s[pos++] = ',';
        if (fastfnet_json_escape(s, cap, &pos, l->names[i])) return free(s), NULL; /* not UTF-8: refused when read */
    }
    s[pos++] = ']';
    s[pos] = 0;
    return s;
}

int fastfnet_labels_from_json(fastfnet_labels *l, const char *json, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    char jerr[200];
    fastfnet_json *j = fastfnet_json_parse(json, strlen(json), jerr, sizeof jerr);
    if (!j || j->type != FASTFNET_JSON_ARRAY) {
        fastfnet_json_free(j);
        return fastfnet_err(err, errlen, "label map is not a JSON list");
    }
    if (!(l->names = malloc(sizeof(char *) * (size_t)(j->n + 1)))) {
        fastfnet_json_free(j);
        return fastfnet_err(err, errlen, "out of memory reading the label map");
    }
    for (int i = 0; i < j->n; i++) {
        if (j->items[i].type != FASTFNET_JSON_STRING || fastfnet_labels_find(l, j->items[i].str) >= 0) {
            fastfnet_json_free(j);
            fastfnet_labels_free(l);
            return fastfnet_err(err, errlen, "label map must be a list of distinct strings");
        }
        if (!(l->names[l->n] = dupn(j->items[i].str, strlen(j->items[i].str)))) {
            fastfnet_json_free(j);
            fastfnet_labels_free(l);
            return fastfnet_err(err, errlen, "out of memory reading the label map");
        }
        l->n++;
    }
    fastfnet_json_free(j);
    return 0;
}

void fastfnet_dataset_free(fastfnet_dataset *d) {
    free(d->off), free(d->ids), free(d->seg), free(d->labels);
    memset(d, 0, sizeof *d);
}

/* A growing id array; oom sticks once a growth fails (later pushes are dropped), checked at the end. */
typedef struct {
    int32_t *ids;
    size_t n, cap;
    int oom;
} ivec;
static void iv_push(ivec *v, int32_t x) {
    if (v->n == v->cap && !v->oom) {
        size_t cap = v->cap ? v->cap * 2 : 4096;
        int32_t *p = realloc(v->ids, sizeof(int32_t) * cap);
        if (p) v->ids = p, v->cap = cap;
        else v->oom = 1;
    }
    if (v->n < v->cap) v->ids[v->n++] = x;
}

/* The ids of s into *buf (grown as needed); (size_t)-1 when out of memory. */
static size_t encode_all(fastfnet_tokenizer *tok, const char *s, int32_t **buf, size_t *cap) {
    size_t len = strlen(s);
    size_t n = fastfnet_tok_encode(tok, s, len, *buf, *cap);
    if (n == FASTFNET_TOK_ERROR) return n; /* out of memory, or the SentencePiece library failed */
    if (n > *cap) {
        int32_t *p = realloc(*buf, sizeof(int32_t) * (n + 1024));
        if (!p) return (size_t)-1;
        *buf = p, *cap = n + 1024;
        n = fastfnet_tok_encode(tok, s, len, *buf, *cap);
    }
    return n;
}

/* Trims *na + *nb to room tokens, the longer text first, as BERT's pair truncation; 1 when it trimmed. */
static int trim_to_room(size_t *na, size_t *nb, size_t room) {
    if (*na + *nb <= room) return 0;
    while (*na + *nb > room) {
        if (*na >= *nb) (*na)--;
        else (*nb)--;
    }
    return 1;
}

/* Example i of d appended to v: [CLS] a [SEP], then b [SEP] unless tb is NULL (segment 0 ends at the first [SEP]). */
static void push_example(fastfnet_dataset *d, ivec *v, int i, int32_t cls, int32_t sep, const int32_t *ta, size_t na,
                         const int32_t *tb, size_t nb) {
    d->off[i] = (int64_t)v->n;
    iv_push(v, cls);
    for (size_t k = 0; k < na; k++) iv_push(v, ta[k]);
    iv_push(v, sep);
    d->seg[i] = (int32_t)(v->n - (size_t)d->off[i]);
    if (tb) {
        for (size_t k = 0; k < nb; k++) iv_push(v, tb[k]);
        iv_push(v, sep);
    }
}

/* A label the model does not know, quoted as a JSON string: a newline or a control character in it keeps the
 * message on one line. */
static int unknown_label(const char *path, int line, const char *label, char *err, size_t errlen) {
    size_t cap = strlen(label) * 6 + 3, pos = 0;
    char *q = malloc(cap);
    int shown = q && fastfnet_json_escape(q, cap, &pos, label) == 0; /* labels are UTF-8: checked when read */
    fastfnet_err(err, errlen, "%s:%d: label %s is not one the model was trained with", path, line, shown ? q : "(not shown: out of memory)");
    free(q);
    return -1;
}

int fastfnet_dataset_from_records(fastfnet_dataset *d, const fastfnet_records *r, const char *path, fastfnet_tokenizer *tok,
                             const fastfnet_labels *labels, int max_len, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    int pair = r->b != NULL && r->n > 0 && r->b[0] != NULL;
    int specials = pair ? 3 : 2;
    int32_t cls = fastfnet_tok_special(tok, FASTFNET_TOK_CLS), sep = fastfnet_tok_special(tok, FASTFNET_TOK_SEP);
    if (max_len < specials + 2) return fastfnet_err(err, errlen, "max_len %d is too short", max_len);
    if (cls < 0 || sep < 0) return fastfnet_err(err, errlen, "the tokenizer has no %s piece to build [CLS] text [SEP] examples", cls < 0 ? "[CLS]" : "[SEP]");
    d->n = r->n;
    d->off = malloc(sizeof(int64_t) * (size_t)(r->n + 1));
    d->seg = malloc(sizeof(int32_t) * (size_t)r->n);
    if (labels) d->labels = malloc(sizeof(int32_t) * (size_t)r->n);
    ivec v = {0};
    size_t capa = 4096, capb = 4096;
    int32_t *ta = malloc(sizeof(int32_t) * capa), *tb = malloc(sizeof(int32_t) * capb);
    v.oom = !d->off || !d->seg || (labels && !d->labels) || !ta || !tb;
    for (int i = 0; i < r->n && !v.oom; i++) {
        if (labels) {
            int y = fastfnet_labels_find(labels, r->label[i]);
            if (y < 0) {
                free(ta), free(tb), free(v.ids);
                fastfnet_dataset_free(d);
                return unknown_label(path, r->line[i], r->label[i], err, errlen);
            }
            d->labels[i] = y;
        }
        size_t na = encode_all(tok, r->a[i], &ta, &capa), nb = pair ? encode_all(tok, r->b[i], &tb, &capb) : 0;
        if (na == (size_t)-1 || nb == (size_t)-1) {
            v.oom = 1;
            break;
        }
        if (trim_to_room(&na, &nb, (size_t)(max_len - specials))) d->truncated++;
        push_example(d, &v, i, cls, sep, ta, na, pair ? tb : NULL, nb);
    }
    free(ta), free(tb);
    d->ids = v.ids;
    if (v.oom) {
        fastfnet_dataset_free(d);
        return fastfnet_err(err, errlen, "%s: out of memory building the data set (%d examples)", path, r->n);
    }
    d->off[r->n] = (int64_t)v.n;
    return 0;
}

static int read_be32(FILE *f, uint32_t *v) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Bytes left in f after its current position (-1 if it cannot be told). */
static long long bytes_left(FILE *f) {
    long here = ftell(f);
    struct stat sb;
    if (here < 0 || fstat(fileno(f), &sb) != 0) return -1;
    return (long long)sb.st_size - here;
}

/* Reads both headers and checks them against each other and against the files' sizes; *count is the image
 * count and *px the pixels of one image. */
static int idx_read_headers(FILE *fi, FILE *fl, const char *images, const char *labels_path, int side, uint32_t *count, size_t *px,
                            char *err, size_t errlen) {
    uint32_t mi, ni, rows, cols, ml, nl;
    /* the product in 64 bits: two 32-bit sizes can wrap past the bound */
    if (read_be32(fi, &mi) || mi != 0x00000803 || read_be32(fi, &ni) || read_be32(fi, &rows) || read_be32(fi, &cols) ||
        rows == 0 || cols == 0 || (uint64_t)rows * cols > 65536)
        return fastfnet_err(err, errlen, "%s: not an IDX image file (magic 0x803, N x rows x cols ubyte)", images);
    if (side && (rows != (uint32_t)side || cols != (uint32_t)side))
        return fastfnet_err(err, errlen, "%s: images of %u x %u pixels, but this data set's are %d x %d", images, rows, cols, side, side);
    if (read_be32(fl, &ml) || ml != 0x00000801 || read_be32(fl, &nl))
        return fastfnet_err(err, errlen, "%s: not an IDX label file (magic 0x801)", labels_path);
    if (ni != nl) return fastfnet_err(err, errlen, "%s has %u images but %s has %u labels", images, ni, labels_path, nl);
    if (ni == 0) return fastfnet_err(err, errlen, "%s: holds no images", images);
    /* the count is untrusted: it must fit an int and the files must hold that many, before anything is sized by it */
    long long img_left = bytes_left(fi), lab_left = bytes_left(fl);
    if (ni > INT32_MAX - 1 || img_left < 0 || (uint64_t)img_left < (uint64_t)ni * rows * cols)
        return fastfnet_err(err, errlen, "%s: the header says %u images of %u x %u pixels, but the file holds %lld bytes of them", images,
                ni, rows, cols, img_left);
    if (lab_left < 0 || (uint64_t)lab_left < ni)
        return fastfnet_err(err, errlen, "%s: the header says %u labels, but the file holds %lld", labels_path, nl, lab_left);
    *count = ni;
    *px = (size_t)rows * cols;
    return 0;
}

/* d's arrays for n images of px pixels, and a buffer for one image (returned); NULL with everything freed. */
static unsigned char *idx_alloc(fastfnet_dataset *d, int n, size_t px) {
    size_t L = px + 1;
    d->n = n;
    d->off = malloc(sizeof(int64_t) * (size_t)(n + 1));
    d->seg = malloc(sizeof(int32_t) * (size_t)n);
    d->labels = malloc(sizeof(int32_t) * (size_t)n);
    d->ids = malloc(sizeof(int32_t) * L * (size_t)n);
    unsigned char *img = malloc(px);
    if (!d->off || !d->seg || !d->labels || !d->ids || !img) {
        free(img);
        fastfnet_dataset_free(d);
        return NULL;
    }
    return img;
}

/* The first d->n images and labels, each image an example [CLS] pixel... (ids shifted past the specials). */
static int idx_read_examples(fastfnet_dataset *d, FILE *fi, FILE *fl, unsigned char *img, size_t px, uint32_t ni, int classes,
                             const char *images, const char *labels_path, char *err, size_t errlen) {
    size_t L = px + 1;
    int n = d->n;
    for (int i = 0; i < n; i++) {
        unsigned char y;
        if (fread(img, 1, px, fi) != px || fread(&y, 1, 1, fl) != 1)
            return fastfnet_err(err, errlen, "%s: truncated at image %d of %u", images, i, ni);
        if (y >= classes) return fastfnet_err(err, errlen, "%s: label %u of image %d is outside 0..%d", labels_path, y, i, classes - 1);
        d->off[i] = (int64_t)(L * i);
        d->seg[i] = (int32_t)L;
        d->labels[i] = y;
        int32_t *o = d->ids + L * i;
        o[0] = FASTFNET_TOK_CLS;
        for (size_t k = 0; k < px; k++) o[k + 1] = FASTFNET_TOK_NUM_SPECIAL + img[k];
    }
    d->off[n] = (int64_t)(L * n);
    return 0;
}

int fastfnet_dataset_from_idx(fastfnet_dataset *d, const char *images, const char *labels_path, int side, int classes, int limit,
                              char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    FILE *fi = fopen(images, "rb"), *fl = fopen(labels_path, "rb");
    uint32_t ni = 0; /* set by idx_read_headers (zero only to quiet the compiler) */
    size_t px = 0;
    int rc = -1;
    if (!fi || !fl) {
        fastfnet_err(err, errlen, "%s: cannot open (%s)", !fi ? images : labels_path, strerror(errno));
        goto done;
    }
    if (idx_read_headers(fi, fl, images, labels_path, side, &ni, &px, err, errlen)) goto done;
    int n = limit > 0 && (uint32_t)limit < ni ? limit : (int)ni;
    unsigned char *img = idx_alloc(d, n, px);
    if (!img) {
        fastfnet_err(err, errlen, "%s: out of memory for %d images of %zu pixels", images, n, px);
        goto done;
    }
    rc = idx_read_examples(d, fi, fl, img, px, ni, classes, images, labels_path, err, errlen);
    free(img);
    if (rc) fastfnet_dataset_free(d);
done:
    if (fi) fclose(fi);
    if (fl) fclose(fl);
    return rc;
}

int fastfnet_dataset_pretrain(fastfnet_dataset *d, const int32_t *stream, size_t n, int max_len, int nsp, uint64_t seed, const fastfnet_mlm_ids *s,
                         char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    int room = max_len - (nsp ? 3 : 2);
    int half = nsp ? room / 2 : room;
    if (half < 2) return fastfnet_err(err, errlen, "max_len %d is too short for pre-training examples", max_len);
    size_t nchunks = n / (size_t)half;
    size_t nex = nsp ? nchunks / 2 : nchunks;
    if (nex < 2) return fastfnet_err(err, errlen, "the corpus (%zu tokens) is too small for examples of %d tokens", n, max_len);
    if (nex > INT32_MAX - 1) /* d->n is an int */
        return fastfnet_err(err, errlen, "the corpus makes %zu examples of %d tokens, more than %d: use a longer --max-len or a part of it", nex,
                            max_len, INT32_MAX - 1);
    fastfnet_rng rng;
    fastfnet_rng_seed(&rng, seed);
    d->n = (int)nex;
    d->off = malloc(sizeof(int64_t) * (nex + 1));
    d->seg = malloc(sizeof(int32_t) * nex);
    if (nsp) d->labels = malloc(sizeof(int32_t) * nex);
    ivec v = {0};
    v.oom = !d->off || !d->seg || (nsp && !d->labels);
    for (size_t i = 0; i < nex && !v.oom; i++) {
        d->off[i] = (int64_t)v.n;
        iv_push(&v, s->cls);
        size_t a = nsp ? 2 * i : i;
        for (int k = 0; k < half; k++) iv_push(&v, stream[a * half + k]);
        iv_push(&v, s->sep);
        d->seg[i] = (int32_t)(v.n - (size_t)d->off[i]);
        if (nsp) {
            size_t b = a + 1;
            int random = fastfnet_rng_uniform(&rng) < 0.5f;
            if (random) {
                /* a chunk from elsewhere in the corpus: never the true successor */
                do b = fastfnet_rng_u64(&rng) % nchunks;
                while (b == a + 1 || b == a);
            }
            d->labels[i] = random; /* HF NSP: 0 = B follows A, 1 = B is random */
            for (int k = 0; k < half; k++) iv_push(&v, stream[b * half + k]);
            iv_push(&v, s->sep);
        }
    }
    d->ids = v.ids;
    if (v.oom) {
        fastfnet_dataset_free(d);
        return fastfnet_err(err, errlen, "out of memory building %zu pre-training examples", nex);
    }
    d->off[nex] = (int64_t)v.n;
    return 0;
}

int fastfnet_dataset_slice(fastfnet_dataset *out, const fastfnet_dataset *d, int from, int to) {
    memset(out, 0, sizeof *out);
    int n = to - from;
    out->n = n;
    size_t base = (size_t)d->off[from], len = (size_t)(d->off[to] - d->off[from]);
    out->off = malloc(sizeof(int64_t) * (size_t)(n + 1));
    out->seg = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    out->ids = malloc(sizeof(int32_t) * (len ? len : 1));
    if (d->labels) out->labels = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!out->off || !out->seg || !out->ids || (d->labels && !out->labels)) {
        fastfnet_dataset_free(out);
        return -1;
    }
    memcpy(out->ids, d->ids + base, sizeof(int32_t) * len);
    memcpy(out->seg, d->seg + from, sizeof(int32_t) * (size_t)n);
    for (int i = 0; i <= n; i++) out->off[i] = d->off[from + i] - (int64_t)base;
    if (d->labels) memcpy(out->labels, d->labels + from, sizeof(int32_t) * (size_t)n);
    return 0;
}

void fastfnet_dataset_batch(const fastfnet_dataset *d, const int *idx, int B, int T, int pad, int32_t *ids, int32_t *tt,
                       int32_t *labels) {
    for (int b = 0; b < B; b++) {
        int e = idx[b];
        int len = (int)(d->off[e + 1] - d->off[e]);
        if (len > T) len = T;
        const int32_t *src = d->ids + d->off[e];
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = t < len ? src[t] : pad;
            tt[b * T + t] = t < len && t >= d->seg[e] ? 1 : 0;
        }
        if (labels) labels[b] = d->labels ? d->labels[e] : -100;
    }
}

int fastfnet_mlm_ids_of(fastfnet_mlm_ids *s, const fastfnet_tokenizer *tok, char *err, size_t errlen) {
    static const int roles[] = {FASTFNET_TOK_CLS, FASTFNET_TOK_SEP, FASTFNET_TOK_MASK, FASTFNET_TOK_PAD, FASTFNET_TOK_UNK};
    static const char *const names[] = {"[CLS]", "[SEP]", "[MASK]"};
    memset(s, 0, sizeof *s);
    s->vocab = fastfnet_tok_vocab_size(tok);
    s->cls = fastfnet_tok_special(tok, FASTFNET_TOK_CLS), s->sep = fastfnet_tok_special(tok, FASTFNET_TOK_SEP);
    s->mask = fastfnet_tok_special(tok, FASTFNET_TOK_MASK);
    for (int r = 0; r < 3; r++)
        if ((r == 0 ? s->cls : r == 1 ? s->sep : s->mask) < 0)
            return fastfnet_err(err, errlen, "the tokenizer has no %s piece, which MLM examples need", names[r]);
    int32_t sp[16];
    int ns = 0;
    for (int r = 0; r < 5; r++) sp[ns++] = fastfnet_tok_special(tok, roles[r]);
    if (fastfnet_tok_kind_of(tok) == FASTFNET_TOK_SPM) /* the model's control pieces, e.g. <s> and </s> */
        for (int id = 0; id < s->vocab && ns < 16; id++)
            if (fastfnet_tok_is_control(tok, id)) sp[ns++] = id;
    /* the leading run of special ids (0..4 for fastfnet's kinds), then any others one by one */
    for (int grew = 1; grew;) {
        grew = 0;
        for (int i = 0; i < ns; i++)
            if (sp[i] == s->first_regular) s->first_regular++, grew = 1;
    }
    for (int i = 0; i < ns && s->nother < 8; i++)
        if (sp[i] > s->first_regular) s->other[s->nother++] = sp[i];
    if (s->first_regular + s->nother >= s->vocab) return fastfnet_err(err, errlen, "the tokenizer has no regular token to mask");
    return 0;
}

static int mlm_special(const fastfnet_mlm_ids *s, int32_t id) {
    if (id < s->first_regular) return 1;
    for (int i = 0; i < s->nother; i++)
        if (id == s->other[i]) return 1;
    return 0;
}

void fastfnet_mlm_mask(int32_t *ids, int32_t *mlm_labels, size_t n, const fastfnet_mlm_ids *s, fastfnet_rng *rng) {
    uint64_t regular = (uint64_t)(s->vocab - s->first_regular);
    for (size_t i = 0; i < n; i++) {
        mlm_labels[i] = -100;
        if (mlm_special(s, ids[i])) continue;
        if (fastfnet_rng_uniform(rng) >= 0.15f) continue;
        mlm_labels[i] = ids[i];
        float r = fastfnet_rng_uniform(rng);
        if (r < 0.8f) {
            ids[i] = s->mask;
        } else if (r < 0.9f) {
            int32_t x;
            do x = s->first_regular + (int32_t)(fastfnet_rng_u64(rng) % regular);
            while (mlm_special(s, x));
            ids[i] = x;
        }
    }
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* DIR/data/file_list.json, the list of message files, read into p; NULL (err set) when it is missing or not a list. */
static fastfnet_json *spam_file_list(char *p, size_t psz, const char *dir, char *err, size_t errlen) {
    if (fastfnet_path(p, psz, err, errlen, "%s/data/file_list.json", dir)) return NULL;
    size_t len;
    char msg[512];
    char *text = fastfnet_read_file(p, &len, (size_t)1 << 30, msg, sizeof msg);
    if (!text) {
        fastfnet_err(err, errlen, "%s (run scripts/fetch_data.sh)", msg);
        return NULL;
    }
    char jerr[200];
    fastfnet_json *j = fastfnet_json_parse(text, len, jerr, sizeof jerr);
    free(text);
    if (!j || j->type != FASTFNET_JSON_ARRAY) {
        fastfnet_json_free(j);
        fastfnet_err(err, errlen, "%s: not a JSON list of message files", p);
        return NULL;
    }
    return j;
}

/* Where the body of msg starts: headers end at the first empty line. The Message-ID header, when there, names
 * the message: *mid_out (*midlen_out bytes) is its value, else NULL. */
static char *message_body(char *msg, size_t len, const char **mid_out, size_t *midlen_out) {
    char *body = NULL;
    const char *mid = NULL;
    size_t midlen = 0;
    for (char *line = msg; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        if (ll == 0 || (ll == 1 && line[0] == '\r')) {
            body = nl ? nl + 1 : line + ll;
            break;
        }
        if (ll > 11 && !strncasecmp(line, "Message-ID:", 11)) {
            mid = line + 11;
            midlen = ll - 11;
            while (midlen && (*mid == ' ' || *mid == '\t')) mid++, midlen--;
            while (midlen && (mid[midlen - 1] == '\r' || mid[midlen - 1] == ' ')) midlen--;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!body) body = msg + len; /* no empty line: headers only, empty body */
    *mid_out = mid, *midlen_out = midlen;
    return body;
}

/* Message number `index` (file rel, text msg of len bytes) as a record of the split its name's hash picks: out is
 * {test, valid, train}, one message in ten each for test and valid. */
static int spam_push_message(fastfnet_records *out[3], int cap[3], const char *rel, char *msg, size_t len, int index) {
    const char *mid;
    size_t midlen;
    char *body = message_body(msg, len, &mid, &midlen);
    uint64_t h = mid ? fnv1a(mid, midlen) : fnv1a(rel, strlen(rel));
    int bucket = (int)(h % 10);
    int k = bucket == 0 ? 0 : bucket == 1 ? 1 : 2;
    const char *label = !strncmp(rel, "spam", 4) ? "spam" : "ham";
    /* the body may hold NUL bytes in broken messages: they end the text, as for any C string */
    char *lab = dupn(label, strlen(label));
    return !lab || rec_push(out[k], &cap[k], dupn(body, strlen(body)), NULL, 0, lab, index);
}

int fastfnet_records_spam(fastfnet_records *train, fastfnet_records *valid, fastfnet_records *test, const char *dir, char *err, size_t errlen) {
    memset(train, 0, sizeof *train), memset(valid, 0, sizeof *valid), memset(test, 0, sizeof *test);
    char p[4200];
    fastfnet_json *j = spam_file_list(p, sizeof p, dir, err, errlen);
    if (!j) return -1;
    size_t len;
    int cap[3] = {0, 0, 0};
    fastfnet_records *out[3] = {test, valid, train};
    for (int i = 0; i < j->n; i++) {
        if (j->items[i].type != FASTFNET_JSON_STRING) continue;
        const char *rel = j->items[i].str;
        int too_long = fastfnet_path(p, sizeof p, err, errlen, "%s/data/%s", dir, rel);
        struct stat sb;
        char *msg = too_long ? NULL : fastfnet_read_file(p, &len, (size_t)1 << 30, err, errlen);
        int read = msg != NULL, bad = !read || spam_push_message(out, cap, rel, msg, len, i + 1);
        free(msg);
        if (bad) {
            fastfnet_json_free(j);
            fastfnet_records_free(train), fastfnet_records_free(valid), fastfnet_records_free(test);
            if (too_long) return -1;
            if (!read && stat(p, &sb) != 0)
                return fastfnet_err(err, errlen, "%s: missing (the corpus is incomplete: run scripts/fetch_data.sh)", p);
            if (read) fastfnet_err(err, errlen, "%s: out of memory reading message %d", dir, i + 1);
            return -1; /* otherwise err holds the read's own message (unreadable, too large, out of memory) */
        }
    }
    fastfnet_json_free(j);
    if (train->n == 0 || valid->n == 0 || test->n == 0) return fastfnet_err(err, errlen, "%s: the corpus is empty", dir);
    return 0;
}

typedef struct {
    char name[256];
    long key;
} doc_entry;

static int cmp_doc(const void *a, const void *b) {
    const doc_entry *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return strcmp(x->name, y->name);
}

#include <dirent.h>
/* The .txt files of dir in key order: -1 when it cannot be read, 0 (nothing to free) when it has none. */
static int list_txt(const char *dir, doc_entry **out, int numeric_chapter) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 256;
    doc_entry *e = malloc(sizeof(doc_entry) * cap);
    if (!e) return closedir(d), -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".txt") || l >= 256) continue;
        /* Moby Dick: the chapters only (data.txt repeats them; contents and extracts are not prose) */
        if (numeric_chapter && strncmp(de->d_name, "chapter_", 8)) continue;
        doc_entry *grown = n == cap ? realloc(e, sizeof(doc_entry) * (cap *= 2)) : e;
        if (!grown) return free(e), closedir(d), -1;
        e = grown;
        snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
        /* chapters sort by number (chapter_2 before chapter_10); addresses by their year prefix */
        const char *digits = numeric_chapter ? strpbrk(de->d_name, "0123456789") : de->d_name;
        e[n].key = digits ? strtol(digits, NULL, 10) : 0;
        n++;
    }
    closedir(d);
    if (n == 0) return free(e), 0;
    qsort(e, (size_t)n, sizeof(doc_entry), cmp_doc);
    *out = e;
    return n;
}

/* A growing text buffer; NUL-terminated after every append. */
typedef struct {
    char *p;
    size_t len, cap;
} text_buf;

static int text_append(text_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (b->len + n + 1 > cap) cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g) return -1;
        b->p = g, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

typedef struct {
    const char *p;
    size_t n;
} text_span;

/* One source's documents in order. Its last documents, whole, until they hold at least 1/20 of its bytes,
 * are validation text (at least one document stays for training); each document ends with an empty line. */
static int corpus_add_source(text_buf out[2], const text_span *doc, int n) {
    size_t total = 0, held = 0;
    for (int i = 0; i < n; i++) total += doc[i].n;
    int first_valid = n;
    while (first_valid > 1 && held * 20 < total) held += doc[--first_valid].n;
    for (int i = 0; i < n; i++) {
        text_buf *b = &out[i >= first_valid];
        if (text_append(b, doc[i].p, doc[i].n) || text_append(b, "\n\n", doc[i].n && doc[i].p[doc[i].n - 1] == '\n' ? 1 : 2)) return -1;
    }
    return 0;
}

/* A text from scripts/extract_corpus.py as one source: paragraph lines, documents between empty lines. */
static int corpus_add_text(text_buf out[2], const char *t, size_t len) {
    int n = 0, cap = 64;
    text_span *doc = malloc(sizeof *doc * (size_t)cap);
    for (size_t at = 0; doc && at < len;) {
        const char *end = memmem(t + at, len - at, "\n\n", 2);
        size_t m = end ? (size_t)(end - (t + at)) + 1 : len - at;
        text_span *g = n == cap ? realloc(doc, sizeof *doc * (size_t)(cap *= 2)) : doc;
        if (!g) free(doc);
        doc = g;
        if (doc) doc[n++] = (text_span){t + at, m};
        at += m + (end ? 1 : 0);
    }
    int rc = doc ? corpus_add_source(out, doc, n) : -1;
    free(doc);
    return rc;
}

/* The .txt files of data_dir/sub in order: Moby Dick's chapters, one source whose documents are the
 * chapters; or the corpus texts, each a source. */
static int corpus_add_dir(text_buf out[2], const char *data_dir, const char *sub, int moby, char *err, size_t errlen) {
    char dir[4200];
    if (fastfnet_path(dir, sizeof dir, err, errlen, "%s/%s", data_dir, sub)) return -1;
    doc_entry *e;
    int n = list_txt(dir, &e, moby);
    if (n <= 0)
        return fastfnet_err(err, errlen, "%s: no .txt %s (run scripts/fetch_data.sh --only %s)", dir, moby ? "chapters" : "texts",
                            moby ? "moby" : "corpus");
    text_span *doc = calloc((size_t)n, sizeof *doc);
    int rc = doc ? 0 : fastfnet_err(err, errlen, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        char p[4500], msg[512];
        size_t l;
        /* dir < 4200 and a name < 256 bytes always fit */
        char *t = fastfnet_path(p, sizeof p, NULL, 0, "%s/%s", dir, e[i].name) ? NULL : fastfnet_read_file(p, &l, (size_t)1 << 30, msg, sizeof msg);
        if (!t) rc = fastfnet_err(err, errlen, "%s", msg);
        else if (moby) doc[i] = (text_span){t, l};
        else {
            if (corpus_add_text(out, t, l)) rc = fastfnet_err(err, errlen, "out of memory reading %s", p);
            free(t);
        }
    }
    if (moby && !rc && corpus_add_source(out, doc, n)) rc = fastfnet_err(err, errlen, "out of memory reading %s", dir);
    for (int i = 0; moby && doc && i < n; i++) free((char *)doc[i].p);
    free(doc), free(e);
    return rc;
}

int fastfnet_text_corpus(const char *data_dir, char **train, size_t *train_len, char **valid, size_t *valid_len, char *err, size_t errlen) {
    text_buf out[2] = {{0}, {0}};
    if (corpus_add_dir(out, data_dir, "moby-dick/data", 1, err, errlen) || corpus_add_dir(out, data_dir, "corpus", 0, err, errlen)) {
        free(out[0].p), free(out[1].p);
        return -1;
    }
    *train = out[0].p, *train_len = out[0].len, *valid = out[1].p, *valid_len = out[1].len;
    return 0;
}

/* The eras of the sotu task: an address of year y has the first era whose last year is >= y. The
 * boundaries put about a quarter of the passages in each era (docs/DATA.md). */
static const int SOTU_ERA_LAST[FASTFNET_SOTU_ERAS - 1] = {1856, 1899, 1946}; /* the last era has no end */
const char *const fastfnet_sotu_eras[FASTFNET_SOTU_ERAS] = {"1790-1856", "1857-1899", "1900-1946", "1947-2021"};

int fastfnet_sotu_era(int year) {
    if (year < 1790) return -1;
    int k = 0;
    while (k < FASTFNET_SOTU_ERAS - 1 && year > SOTU_ERA_LAST[k]) k++;
    return k;
}

/* Where the passage starting at t[0] ends (at most max bytes): after the last paragraph break in its
 * second half, else after the last sentence end in its last three quarters, else at the last space, else
 * at max (backed off to a UTF-8 character boundary). */
static size_t sotu_cut(const char *t, size_t len, size_t max) {
    if (len <= max) return len;
    for (size_t i = max; i > max / 2; i--)
        if (t[i - 1] == '\n') return i;
    for (size_t i = max; i > max / 4; i--)
        if (t[i] == ' ' && (t[i - 1] == '.' || t[i - 1] == '?' || t[i - 1] == '!' || ((t[i - 1] == '"' || t[i - 1] == ')') && i > 1 && t[i - 2] == '.')))
            return i;
    for (size_t i = max; i > 1; i--)
        if (t[i] == ' ') return i;
    size_t i = max;
    while (i > 1 && ((unsigned char)t[i] & 0xC0) == 0x80) i--;
    return i;
}

/* One address cut into passages of consecutive paragraphs (the sentences of one, when it is longer than a
 * passage), each of at most FASTFNET_SOTU_PASSAGE_BYTES bytes; pieces under 32 bytes (a salutation) are dropped. */
static int sotu_passages(fastfnet_records *r, int *cap, const char *t, size_t len, int era, int doc) {
    for (size_t at = 0; at < len;) {
        while (at < len && (t[at] == ' ' || t[at] == '\n' || t[at] == '\r' || t[at] == '\t')) at++;
        if (at == len) break;
        size_t n = sotu_cut(t + at, len - at, FASTFNET_SOTU_PASSAGE_BYTES), m = n;
        while (m && (t[at + m - 1] == ' ' || t[at + m - 1] == '\n' || t[at + m - 1] == '\r')) m--;
        if (m >= 32) {
            const char *lab = fastfnet_sotu_eras[era];
            if (rec_push(r, cap, dupn(t + at, m), NULL, 0, dupn(lab, strlen(lab)), doc)) return -1;
        }
        at += n;
    }
    return 0;
}

int fastfnet_records_sotu(fastfnet_records *train, fastfnet_records *valid, fastfnet_records *test, const char *dir, char *err, size_t errlen) {
    memset(train, 0, sizeof *train), memset(valid, 0, sizeof *valid), memset(test, 0, sizeof *test);
    char dd[4200];
    if (fastfnet_path(dd, sizeof dd, err, errlen, "%s/data", dir)) return -1;
    doc_entry *e;
    int n = list_txt(dd, &e, 0);
    if (n <= 0) return fastfnet_err(err, errlen, "%s: no .txt addresses (run scripts/fetch_data.sh --only sotu)", dd);
    int cap[3] = {0, 0, 0}, rc = 0;
    fastfnet_records *out[3] = {test, valid, train};
    for (int i = 0; i < n && !rc; i++) {
        /* YEAR_PRESIDENT_PARTY.txt: the year gives the era; the name (year and president) picks the split */
        int era = e[i].key > 9999 ? -1 : fastfnet_sotu_era((int)e[i].key);
        size_t stem = strlen(e[i].name) - 4;
        if (era < 0 || e[i].name[4] != '_') {
            rc = fastfnet_err(err, errlen, "%s/%s: not an address (names are YEAR_PRESIDENT_PARTY.txt)", dd, e[i].name);
            break;
        }
        int bucket = (int)(fnv1a(e[i].name, stem) % 10);
        int k = bucket == 0 ? 0 : bucket == 1 ? 1 : 2;
        char p[4500], msg[512];
        size_t len;
        char *t = fastfnet_path(p, sizeof p, NULL, 0, "%s/%s", dd, e[i].name) ? NULL : fastfnet_read_file(p, &len, (size_t)1 << 30, msg, sizeof msg);
        if (!t) rc = fastfnet_err(err, errlen, "%s", msg);
        else if (sotu_passages(out[k], &cap[k], t, len, era, i + 1)) rc = fastfnet_err(err, errlen, "%s: out of memory", p);
        free(t);
    }
    free(e);
    if (!rc && (train->n == 0 || valid->n == 0 || test->n == 0))
        rc = fastfnet_err(err, errlen, "%s: too few addresses for a train, valid and test split (run scripts/fetch_data.sh --only sotu)", dd);
    if (rc) fastfnet_records_free(train), fastfnet_records_free(valid), fastfnet_records_free(test);
    return rc;
}
