/* listops.c: LRA ListOps expressions: a generator that labels as it draws, an independent evaluator, and an
 * atomic TSV writer. The rules (tokens, MED of an even count, the drawing process) are in listops.h. */
#include "listops.h"
#include "fastfnet_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LO_MAX_DEPTH 64      /* the generator recurses once per level */
#define LO_MAX_ARGS 1000
#define LO_MAX_LEN (1 << 24) /* keeps 5 * max_len + 1 and every token count far inside int */
#define LO_MAX_ATTEMPTS (1 << 22)

enum { OP_MAX, OP_MIN, OP_MED, OP_SM, OP_COUNT };
static const char *const op_tok[OP_COUNT] = {"[MAX ", "[MIN ", "[MED ", "[SM "};
static const size_t op_len[OP_COUNT] = {5, 5, 5, 4};

void fastfnet_listops_default(fastfnet_listops_config *c) {
    c->max_depth = 10;
    c->max_args = 10;
    c->min_len = 500;
    c->max_len = 2000;
    c->leaf_prob = 0.75f; /* LRA: VALUE_P = 0.25 is the operator probability */
}

/* The smallest and largest token counts a tree can have, given how the root is drawn (see generate).
 * Called only with fields already range-checked; counts saturate at `sat` (far above any max_len). */
static void length_bounds(const fastfnet_listops_config *c, long long *lo, long long *hi) {
    const long long sat = (long long)LO_MAX_LEN * 16;
    long long smin[LO_MAX_DEPTH + 2], smax[LO_MAX_DEPTH + 2]; /* subtree bounds by level */
    smin[c->max_depth] = smax[c->max_depth] = 1;              /* the last level is one digit */
    long long op_min = 0, op_max = 0;
    for (int level = c->max_depth - 1; level >= 1; level--) {
        op_min = 2 + 2 * smin[level + 1];
        if (op_min > sat) op_min = sat;
        op_max = smax[level + 1] >= sat / c->max_args ? sat : 2 + (long long)c->max_args * smax[level + 1];
        smin[level] = c->leaf_prob > 0.0f ? 1 : op_min;
        smax[level] = c->leaf_prob < 1.0f ? op_max : 1;
    }
    if (c->min_len > 1 && c->max_depth >= 2) { /* the root is always an operator (op_* are level 1's) */
        *lo = op_min;
        *hi = op_max;
    } else {
        *lo = smin[1];
        *hi = smax[1];
    }
}

int fastfnet_listops_check_config(const fastfnet_listops_config *c, char *err, size_t errlen) {
    if (!c) return fastfnet_err(err, errlen, "listops: no config");
    if (c->max_depth < 1 || c->max_depth > LO_MAX_DEPTH)
        return fastfnet_err(err, errlen, "listops: max_depth %d is outside 1..%d", c->max_depth, LO_MAX_DEPTH);
    if (c->max_args < 2 || c->max_args > LO_MAX_ARGS)
        return fastfnet_err(err, errlen, "listops: max_args %d is outside 2..%d", c->max_args, LO_MAX_ARGS);
    if (c->min_len < 1 || c->max_len > LO_MAX_LEN || c->min_len > c->max_len)
        return fastfnet_err(err, errlen, "listops: need 1 <= min_len <= max_len <= %d, got min_len %d, max_len %d",
                       LO_MAX_LEN, c->min_len, c->max_len);
    if (!(c->leaf_prob >= 0.0f && c->leaf_prob <= 1.0f)) /* also refuses NaN */
        return fastfnet_err(err, errlen, "listops: leaf_prob %g is outside [0,1]", (double)c->leaf_prob);
    long long lo, hi;
    length_bounds(c, &lo, &hi);
    if (c->min_len > hi)
        return fastfnet_err(err, errlen,
                       "listops: no tree reaches min_len %d tokens: with max_depth %d, max_args %d and "
                       "leaf_prob %g the largest has %lld",
                       c->min_len, c->max_depth, c->max_args, (double)c->leaf_prob, hi);
    if (c->max_len < lo)
        return fastfnet_err(err, errlen,
                       "listops: no tree fits max_len %d tokens: with max_depth %d and leaf_prob %g the "
                       "smallest has %lld",
                       c->max_len, c->max_depth, (double)c->leaf_prob, lo);
    return 0;
}

size_t fastfnet_listops_buf_size(const fastfnet_listops_config *c) {
    if (fastfnet_listops_check_config(c, NULL, 0) != 0) return 0;
    return 5 * (size_t)c->max_len + 1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Generator. Every node is written straight into buf as it is drawn; its value is computed from its
 * arguments' values as they return (a histogram for MED, so no argument list is kept). */

typedef struct {
    fastfnet_rng *rng;
    char *buf;
    size_t pos;
    int ntok;    /* tokens written */
    int open;    /* operators written but not closed: each still owes a `]` */
    int max_depth, max_args, max_len;
    float leaf_prob;
} lo_gen;

/* uniform in 0..n-1 (multiply-shift on the high 32 bits; the bias is below n / 2^32) */
static inline unsigned below(fastfnet_rng *r, unsigned n) {
    return (unsigned)(((fastfnet_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

#define LO_ABANDON (-2)

/* MED of the nargs digits counted in hist: the values at sorted positions (n-1)/2 and n/2, floor of their mean */
static int hist_median(const int hist[10], int nargs) {
    int lo_rank = (nargs - 1) / 2, hi_rank = nargs / 2, lo_v = -1, hi_v = -1, seen = 0;
    for (int d = 0; d < 10 && hi_v < 0; d++) {
        seen += hist[d];
        if (lo_v < 0 && seen > lo_rank) lo_v = d;
        if (seen > hi_rank) hi_v = d;
    }
    return (lo_v + hi_v) / 2;
}

/* Draw the subtree at `level` (root = 1). Returns its value, or LO_ABANDON once the tree can no longer fit
 * in max_len tokens (the tokens written plus the `]` every open operator still needs). */
static int gen_node(lo_gen *g, int level, int force_op) {
    int leaf = level >= g->max_depth ? 1 : force_op ? 0 : fastfnet_rng_uniform(g->rng) < g->leaf_prob;
    if (leaf) {
        if (g->ntok + g->open + 1 > g->max_len) return LO_ABANDON;
        int d = (int)below(g->rng, 10);
        g->buf[g->pos++] = (char)('0' + d);
        g->buf[g->pos++] = ' ';
        g->ntok++;
        return d;
    }
    if (g->ntok + g->open + 2 > g->max_len) return LO_ABANDON;
    int op = (int)below(g->rng, OP_COUNT);
    int nargs = 2 + (int)below(g->rng, (unsigned)(g->max_args - 1));
    memcpy(g->buf + g->pos, op_tok[op], op_len[op]);
    g->pos += op_len[op];
    g->ntok++;
    g->open++;
    int hist[10] = {0};
    int mx = 0, mn = 9, sum = 0;
    for (int i = 0; i < nargs; i++) {
        int v = gen_node(g, level + 1, 0);
        if (v < 0) return v;
        hist[v]++;
        if (v > mx) mx = v;
        if (v < mn) mn = v;
        sum += v;
    }
    g->buf[g->pos++] = ']';
    g->buf[g->pos++] = ' ';
    g->ntok++;
    g->open--;
    switch (op) {
    case OP_MAX: return mx;
    case OP_MIN: return mn;
    case OP_SM: return sum % 10;
    default: return hist_median(hist, nargs);
    }
}

int fastfnet_listops_generate(const fastfnet_listops_config *c, fastfnet_rng *rng, char *buf, size_t cap, int *ntokens) {
    if (ntokens) *ntokens = 0;
    size_t need = fastfnet_listops_buf_size(c);
    if (need == 0 || !rng || !buf || cap < need) return -1;
    lo_gen g = {.rng = rng, .buf = buf, .max_depth = c->max_depth, .max_args = c->max_args,
                .max_len = c->max_len, .leaf_prob = c->leaf_prob};
    /* A digit root is one token: when min_len > 1 it would always be rejected, so the root is drawn as an
     * operator directly. Conditioned on acceptance this is the same distribution. */
    int force_root = c->min_len > 1 && c->max_depth >= 2;
    for (long attempt = 0; attempt < LO_MAX_ATTEMPTS; attempt++) {
        g.pos = 0, g.ntok = 0, g.open = 0;
        int v = gen_node(&g, 1, force_root);
        if (v < 0 || g.ntok < c->min_len) continue;
        buf[g.pos - 1] = '\0'; /* the last separator becomes the terminator */
        if (ntokens) *ntokens = g.ntok;
        return v;
    }
    buf[0] = '\0';
    return -1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Evaluator: a shift-reduce pass with an explicit stack of argument values and a stack of open operators.
 * Deliberately unlike the generator: it keeps every argument and sorts them for MED. */

static int is_sep(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    int op;
    size_t start;  /* index of its first argument in the value stack */
    size_t tokpos; /* 1-based position of the operator token */
} lo_frame;

/* One pass's state: both stacks, and where the expression stands. */
typedef struct {
    int *vals;      /* the value stack */
    lo_frame *fr;   /* the open operators */
    size_t nv, nf;  /* their depths */
    size_t tokpos;  /* tokens read */
    size_t done_at; /* the token that completed the expression (0: not complete yet) */
    int result;     /* its value, once complete */
} lo_eval;

/* The token s[0..tl): 0..9 digit, 10 + op operator, 20 close, -1 unknown. */
static int token_kind(const char *s, size_t tl) {
    if (tl == 1 && *s >= '0' && *s <= '9') return *s - '0';
    if (tl == 1 && *s == ']') return 20;
    if (tl == 4 && !memcmp(s, "[MAX", 4)) return 10 + OP_MAX;
    if (tl == 4 && !memcmp(s, "[MIN", 4)) return 10 + OP_MIN;
    if (tl == 4 && !memcmp(s, "[MED", 4)) return 10 + OP_MED;
    if (tl == 3 && !memcmp(s, "[SM", 3)) return 10 + OP_SM;
    return -1;
}

/* The value of op over its n >= 1 arguments a (sorted in place for MED). */
static int apply_op(int op, int *a, size_t n) {
    int v;
    if (op == OP_MAX) {
        v = a[0];
        for (size_t i = 1; i < n; i++) v = a[i] > v ? a[i] : v;
    } else if (op == OP_MIN) {
        v = a[0];
        for (size_t i = 1; i < n; i++) v = a[i] < v ? a[i] : v;
    } else if (op == OP_SM) {
        long long sum = 0;
        for (size_t i = 0; i < n; i++) sum += a[i];
        v = (int)(sum % 10);
    } else {
        qsort(a, n, sizeof *a, cmp_int);
        v = n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
    }
    return v;
}

/* A `]`: the innermost open operator's arguments reduce to its value. */
static int eval_close(lo_eval *e, char *err, size_t errlen) {
    if (e->nf == 0) return fastfnet_err(err, errlen, "listops: token %zu (']'): closes no open operator", e->tokpos);
    lo_frame f = e->fr[--e->nf];
    size_t n = e->nv - f.start;
    if (n == 0)
        return fastfnet_err(err, errlen, "listops: token %zu (']'): operator %.*s at token %zu has no arguments",
                        e->tokpos, (int)op_len[f.op] - 1, op_tok[f.op], f.tokpos);
    int v = apply_op(f.op, e->vals + f.start, n);
    e->nv = f.start;
    e->vals[e->nv++] = v;
    if (e->nf == 0) e->done_at = e->tokpos, e->result = v;
    return 0;
}

/* One token s[0..tl), shifted or reduced. */
static int eval_token(lo_eval *e, const char *s, size_t tl, char *err, size_t errlen) {
    e->tokpos++;
    int shown = tl > 24 ? 24 : (int)tl;
    const char *more = tl > 24 ? "..." : "";
    int kind = token_kind(s, tl);
    if (kind < 0)
        return fastfnet_err(err, errlen,
                    "listops: token %zu ('%.*s%s'): unknown token (expected [MAX [MIN [MED [SM ] or a digit 0-9)",
                    e->tokpos, shown, s, more);
    if (e->done_at)
        return fastfnet_err(err, errlen, "listops: token %zu ('%.*s%s'): trailing token after the complete expression "
                    "that ended at token %zu", e->tokpos, shown, s, more, e->done_at);
    if (kind < 10) {
        e->vals[e->nv++] = kind;
        if (e->nf == 0) e->done_at = e->tokpos, e->result = kind;
    } else if (kind < 20) {
        e->fr[e->nf++] = (lo_frame){.op = kind - 10, .start = e->nv, .tokpos = e->tokpos};
    } else {
        return eval_close(e, err, errlen);
    }
    return 0;
}

/* After the last token: there was one, and every operator was closed. */
static int eval_finish(const lo_eval *e, char *err, size_t errlen) {
    if (e->tokpos == 0) return fastfnet_err(err, errlen, "listops: empty expression (token 1 missing)");
    if (e->nf > 0) {
        const lo_frame *f = &e->fr[e->nf - 1];
        return fastfnet_err(err, errlen, "listops: token %zu (end of input): operator %.*s at token %zu is never closed "
                       "(%zu open)", e->tokpos + 1, (int)op_len[f->op] - 1, op_tok[f->op], f->tokpos, e->nf);
    }
    return 0;
}

int fastfnet_listops_eval(const char *expr, char *err, size_t errlen) {
    if (!expr) return fastfnet_err(err, errlen, "listops: no expression");
    size_t len = strlen(expr);
    size_t maxtok = len / 2 + 1; /* tokens are separated, so at most ceil(len/2) of them */
    lo_eval e = {.result = -1};
    e.vals = malloc(maxtok * sizeof *e.vals);
    e.fr = malloc(maxtok * sizeof *e.fr);
    if (!e.vals || !e.fr) {
        free(e.vals), free(e.fr);
        return fastfnet_err(err, errlen, "listops: out of memory for an expression of %zu bytes", len);
    }
    int rc = -1;
    const char *p = expr;
    for (;;) {
        while (is_sep(*p)) p++;
        if (!*p) break;
        const char *s = p;
        while (*p && !is_sep(*p)) p++;
        if (eval_token(&e, s, (size_t)(p - s), err, errlen)) goto out;
    }
    if (eval_finish(&e, err, errlen) == 0) rc = e.result;
out:
    free(e.vals);
    free(e.fr);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* TSV writer */

int fastfnet_listops_write_tsv(const char *path, const fastfnet_listops_config *c, uint64_t seed, int n, char *err,
                          size_t errlen) {
    if (!path || !*path) return fastfnet_err(err, errlen, "listops: no output path");
    if (n < 0) return fastfnet_err(err, errlen, "%s: negative example count %d", path, n);
    if (fastfnet_listops_check_config(c, err, errlen) != 0) return -1;
    fastfnet_atomic_file a;
    if (fastfnet_atomic_open(&a, path, err, errlen) != 0) return -1;
    size_t cap = fastfnet_listops_buf_size(c);
    char *buf = malloc(cap);
    if (!buf) {
        fastfnet_atomic_abort(&a);
        return fastfnet_err(err, errlen, "%s: out of memory for an example of %zu bytes", path, cap);
    }
    fastfnet_rng rng;
    fastfnet_rng_seed(&rng, seed);
    int bad = 0, gen_fail = -1;
    for (int i = 0; i < n && !bad; i++) {
        int ntok;
        int label = fastfnet_listops_generate(c, &rng, buf, cap, &ntok);
        if (label < 0) {
            gen_fail = i;
            break;
        }
        bad = fprintf(a.f, "%d\t", label) < 0 || fputs(buf, a.f) == EOF || fputc('\n', a.f) == EOF;
    }
    free(buf);
    if (gen_fail >= 0) {
        fastfnet_atomic_abort(&a);
        return fastfnet_err(err, errlen, "%s: example %d: %d trees in a row missed the length window %d..%d", path,
                       gen_fail, LO_MAX_ATTEMPTS, c->min_len, c->max_len);
    }
    /* a failed write leaves the stream's error flag set: the commit reports it and removes the temp file */
    return fastfnet_atomic_commit(&a, err, errlen);
}
