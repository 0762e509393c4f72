/* test_listops.c: the ListOps generator (src/app/listops.c) against its independent evaluator and against
 * hand-written expressions; lengths, depth, format, determinism, label distribution, the TSV writer. */
#include "check.h"
#include "listops.h"
#include "util.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* Format of a generated expression: single spaces, no leading/trailing space, known tokens only.
 * Returns 0 and the token count, the deepest bracket nesting and the operator counts; -1 on a bad format. */
static int scan(const char *s, int *ntok, int *maxdepth, int opcount[4]) {
    int n = 0, depth = 0, md = 0;
    if (!*s || *s == ' ') return -1;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ' ');
        size_t tl = e ? (size_t)(e - p) : strlen(p);
        if (tl == 0) return -1; /* a double or trailing space */
        if (tl == 1 && *p >= '0' && *p <= '9') {
        } else if (tl == 1 && *p == ']') {
            depth--;
        } else if ((tl == 4 && (!memcmp(p, "[MAX", 4) || !memcmp(p, "[MIN", 4) || !memcmp(p, "[MED", 4))) ||
                   (tl == 3 && !memcmp(p, "[SM", 3))) {
            if (opcount) opcount[p[2] == 'A' ? 0 : p[2] == 'I' ? 1 : p[2] == 'E' ? 2 : 3]++;
            depth++;
            if (depth > md) md = depth;
        } else {
            return -1;
        }
        n++;
        if (!e) break;
        p = e + 1;
    }
    if (depth != 0) return -1;
    *ntok = n;
    *maxdepth = md;
    return 0;
}

static void check_eval_hand_cases(void) {
    struct { const char *e; int v; } cs[] = {
        {"[MAX 2 9 [MIN 4 7 ] 0 ]", 9},
        {"[SM 5 6 ]", 1},
        {"[SM 9 9 9 ]", 7},
        {"[MIN 8 3 5 ]", 3},
        {"[MAX 0 0 ]", 0},
        {"[MED 3 1 2 ]", 2},          /* odd count */
        {"[MED 9 0 4 4 1 ]", 4},      /* odd count, repeats */
        {"[MED 1 2 ]", 1},            /* even: floor((1+2)/2) */
        {"[MED 4 9 1 7 ]", 5},        /* even: sorted 1 4 7 9, floor(5.5) */
        {"[MED 8 9 ]", 8},            /* even: floor(8.5) */
        {"[MED 2 6 ]", 4},            /* even: exact mean */
        {"[MED 0 9 9 0 ]", 4},        /* even: floor(4.5) */
        {"7", 7},
        {"[MAX 5 ]", 5},              /* one argument is accepted */
        {"[SM [MAX 1 2 ] [MIN 3 4 ] [MED 5 6 7 ] [SM 8 9 ] ]", 8}, /* 2+3+6+7 = 18 */
        {"  [MAX\t1  2 ]\n", 2},      /* lenient about separators */
        {"[MIN [MAX 1 [MED 3 7 ] ] [SM 4 4 [MIN 9 9 ] ] ]", 5}, /* MAX(1,5)=5, SM(4,4,9)=7 */
    };
    int bad = 0;
    char err[256];
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        int v = fastfnet_listops_eval(cs[i].e, err, sizeof err);
        if (v != cs[i].v) {
            if (!bad) printf("  eval(\"%s\") = %d, expected %d (%s)\n", cs[i].e, v, cs[i].v, v < 0 ? err : "");
            bad++;
        }
    }
    check(bad == 0, "eval_hand_cases (%zu cases, %d wrong)", sizeof cs / sizeof cs[0], bad);
}

static void check_eval_deep(void) {
    char err[256];
    /* depth 10: [SM 1 [SM 1 ... [SM 1 1 ] ... ] ]: innermost 2, each level adds 1 */
    char deep[512] = "";
    for (int i = 0; i < 10; i++) strcat(deep, "[SM 1 ");
    strcat(deep, "1");
    for (int i = 0; i < 10; i++) strcat(deep, " ]");
    int v = fastfnet_listops_eval(deep, err, sizeof err);
    check(v == 11 % 10, "eval_depth10_sm: %d (expected %d)", v, 11 % 10);
    /* depth 10 alternating MAX/MIN around a MED */
    char alt[512] = "";
    for (int i = 0; i < 9; i++) strcat(alt, i % 2 ? "[MIN 8 " : "[MAX 3 ");
    strcat(alt, "[MED 2 9 5 6 ]"); /* 5 */
    for (int i = 0; i < 9; i++) strcat(alt, " ]");
    /* from the inside: MAX(3,5)=5 at i=8, MIN(8,5)=5, ... stays 5 */
    v = fastfnet_listops_eval(alt, err, sizeof err);
    check(v == 5, "eval_depth10_mixed: %d (expected 5)", v);
    /* very deep nesting (no recursion in eval) */
    int depth = 20000;
    size_t blen = (size_t)depth * 9 + 16; /* "[MAX 1 " and " ]" per level */
    char *big = malloc(blen), *q = big;
    for (int i = 0; i < depth; i++) q += sprintf(q, "[MAX 1 ");
    q += sprintf(q, "4");
    for (int i = 0; i < depth; i++) q += sprintf(q, " ]");
    v = fastfnet_listops_eval(big, err, sizeof err);
    check(v == 4, "eval_depth20000: %d (expected 4)", v);
    free(big);
}

static void test_eval_cases(void) {
    check_eval_hand_cases();
    check_eval_deep();
}

static void test_eval_malformed(void) {
    struct { const char *e; const char *want; } cs[] = {
        {"", "empty"},
        {"   ", "empty"},
        {"[MAX ]", "token 2"},                 /* no arguments */
        {"[MAX 1 [MIN ] ]", "token 4"},        /* nested, no arguments */
        {"[MAX 1 2", "never closed"},
        {"[MAX 1 [SM 2 3 ]", "token 7"},       /* end of input is token 7 */
        {"[MAX 1 2 ] ]", "token 5"},           /* trailing */
        {"] 1", "token 1"},
        {"[MAX 1 2 ] 3", "token 5"},
        {"1 2", "token 2"},
        {"[FOO 1 2 ]", "token 1"},
        {"[MAX 10 ]", "token 2"},
        {"[max 1 2 ]", "token 1"},
        {"( [MAX 1 2 ] )", "token 1"},
        {"[MAX 1 2 ]]", "token 4"},            /* "]]" is one unknown token */
        {"[MAX1 2 ]", "token 1"},
        {"[ MAX 1 ]", "token 1"},
        {"[SM 1 2 ] x", "token 5"},            /* trailing unknown token is still refused */
        {"[MED -1 2 ]", "token 2"},
    };
    int bad = 0;
    char err[256];
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        err[0] = 0;
        int v = fastfnet_listops_eval(cs[i].e, err, sizeof err);
        if (v != -1 || !strstr(err, cs[i].want)) {
            printf("  eval(\"%s\") = %d, err \"%s\" (want -1 and \"%s\")\n", cs[i].e, v, err, cs[i].want);
            bad++;
        } else if (i < 4 || i == 8) {
            printf("  refused \"%s\": %s\n", cs[i].e, err);
        }
    }
    check(bad == 0, "eval_malformed_refused (%zu cases, %d wrong)", sizeof cs / sizeof cs[0], bad);
    check(fastfnet_listops_eval(NULL, NULL, 0) == -1 && fastfnet_listops_eval("[MAX", NULL, 0) == -1,
          "eval_null_input_and_null_err");
    char tiny[8];
    check(fastfnet_listops_eval("[MAX ]", tiny, sizeof tiny) == -1 && strlen(tiny) == 7, "eval_err_truncated");
}

/* Generate `n` examples; check label == eval, the format, the length window and the depth bound. */
static void generated_batch(const char *name, const fastfnet_listops_config *c, uint64_t seed, int n, int *hist,
                            int need_full_depth) {
    size_t cap = fastfnet_listops_buf_size(c);
    char *buf = malloc(cap), err[256];
    fastfnet_rng rng;
    fastfnet_rng_seed(&rng, seed);
    int mism = 0, badfmt = 0, badlen = 0, baddepth = 0, fails = 0, deepest = 0, minlen = 1 << 30, maxlen = 0;
    int ops[4] = {0};
    long long tot = 0;
    for (int i = 0; i < n; i++) {
        int ntok = -7;
        int label = fastfnet_listops_generate(c, &rng, buf, cap, &ntok);
        if (label < 0 || label > 9) {
            fails++;
            continue;
        }
        int v = fastfnet_listops_eval(buf, err, sizeof err);
        if (v != label) {
            if (!mism) printf("  %s: example %d: label %d, eval %d %s\n", name, i, label, v, v < 0 ? err : "");
            mism++;
        }
        int cnt, md;
        if (scan(buf, &cnt, &md, ops) != 0 || cnt != ntok) {
            if (!badfmt) printf("  %s: example %d: bad format or count (%d vs %d)\n", name, i, cnt, ntok);
            badfmt++;
            continue;
        }
        if (ntok < c->min_len || ntok > c->max_len) badlen++;
        if (md > c->max_depth - 1) baddepth++;
        if (md > deepest) deepest = md;
        if (ntok < minlen) minlen = ntok;
        if (ntok > maxlen) maxlen = ntok;
        tot += ntok;
        if (hist) hist[label]++;
    }
    check(fails == 0 && mism == 0, "%s_label_equals_eval (%d examples, %d generate failures, %d mismatches)",
          name, n, fails, mism);
    check(badfmt == 0, "%s_format (single spaces, known tokens, balanced, ntokens exact): %d bad", name, badfmt);
    check(badlen == 0, "%s_length_window [%d,%d]: observed %d..%d, mean %.1f, %d outside", name, c->min_len,
          c->max_len, minlen, maxlen, n ? (double)tot / n : 0.0, badlen);
    check(baddepth == 0 && (!need_full_depth || deepest == c->max_depth - 1),
          "%s_depth: deepest bracket nesting %d, bound max_depth-1 = %d (%d over)%s", name, deepest,
          c->max_depth - 1, baddepth, need_full_depth ? ", bound reached" : "");
    check(ops[0] && ops[1] && ops[2] && ops[3], "%s_all_operators: MAX %d MIN %d MED %d SM %d", name, ops[0],
          ops[1], ops[2], ops[3]);
    free(buf);
}

static void print_hist(const char *name, const int *hist, int n) {
    printf("  %s label distribution over %d:", name, n);
    for (int k = 0; k < 10; k++) printf(" %d:%.1f%%", k, 100.0 * hist[k] / n);
    printf("\n");
}

static void test_generate(void) {
    fastfnet_listops_config c;
    fastfnet_listops_default(&c);
    check(c.max_depth == 10 && c.max_args == 10 && c.min_len == 500 && c.max_len == 2000 && c.leaf_prob == 0.75f,
          "defaults (10, 10, 500, 2000, 0.75)");
    int hist[10] = {0};
    generated_batch("lra_default", &c, 1, 2000, hist, 1);
    print_hist("lra_default", hist, 2000);

    /* small lengths, many examples: every class must appear */
    fastfnet_listops_config s = c;
    s.min_len = 10, s.max_len = 60;
    int sh[10] = {0};
    generated_batch("small", &s, 2, 5000, sh, 0);
    print_hist("small", sh, 5000);
    int missing = 0;
    for (int k = 0; k < 10; k++) missing += sh[k] == 0;
    check(missing == 0, "small_every_class_appears (%d missing)", missing);

    /* even arities are common with max_args 4 (MED of 2 and 4 arguments), shallow trees */
    fastfnet_listops_config e = {.max_depth = 4, .max_args = 4, .min_len = 4, .max_len = 80, .leaf_prob = 0.5f};
    generated_batch("shallow_even", &e, 3, 3000, NULL, 1);
    /* no leaves above the last level: every tree is full to the depth */
    fastfnet_listops_config f = {.max_depth = 3, .max_args = 3, .min_len = 1, .max_len = 100, .leaf_prob = 0.0f};
    generated_batch("full_trees", &f, 4, 500, NULL, 1);
    /* exact length: root operator with 2 digits */
    fastfnet_listops_config x = {.max_depth = 10, .max_args = 10, .min_len = 4, .max_len = 4, .leaf_prob = 0.75f};
    generated_batch("exact_len4", &x, 5, 500, NULL, 0);
    /* depth 1: single digits */
    fastfnet_listops_config d1 = {.max_depth = 1, .max_args = 5, .min_len = 1, .max_len = 1, .leaf_prob = 0.5f};
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 6);
    char b[16];
    int nt = 0, ok = 1, dh[10] = {0};
    for (int i = 0; i < 200; i++) {
        int v = fastfnet_listops_generate(&d1, &r, b, sizeof b, &nt);
        ok &= v >= 0 && nt == 1 && strlen(b) == 1 && b[0] - '0' == v;
        if (v >= 0) dh[v]++;
    }
    for (int k = 0; k < 10; k++) ok &= dh[k] > 0;
    check(ok, "depth1_single_digits (all 10 appear)");
}

/* The default buffer size is exact: need bytes suffice, and need - 1 is refused before anything is drawn from r. */
static void check_cap(const fastfnet_listops_config *c, fastfnet_rng *r, char *buf, size_t need) {
    int nt = 123;
    int v = fastfnet_listops_generate(c, r, buf, need - 1, &nt);
    check(v == -1 && nt == 0, "cap_too_small_refused (%d)", v);
    fastfnet_rng r2;
    fastfnet_rng_seed(&r2, 9);
    check(r->s == r2.s, "cap_too_small_draws_nothing");
    v = fastfnet_listops_generate(c, r, buf, need, &nt);
    check(v >= 0 && nt >= 500 && strlen(buf) < need, "cap_exact_ok (%d tokens, %zu bytes)", nt, strlen(buf));
}

static void check_invalid_configs(fastfnet_rng *r, char *buf, size_t need) {
    struct { fastfnet_listops_config c; const char *want; } bad[] = {
        {{0, 10, 500, 2000, 0.75f}, "max_depth"},
        {{65, 10, 500, 2000, 0.75f}, "max_depth"},
        {{10, 1, 500, 2000, 0.75f}, "max_args"},
        {{10, 10, 0, 2000, 0.75f}, "min_len"},
        {{10, 10, 600, 500, 0.75f}, "min_len"},
        {{10, 10, 500, 2000, 1.5f}, "leaf_prob"},
        {{10, 10, 500, 2000, -0.1f}, "leaf_prob"},
        {{10, 10, 500, 2000, 0.0f / 0.0f}, "leaf_prob"},
        {{3, 2, 20, 100, 0.5f}, "largest has 10"},      /* 2 + 2*(2 + 2*1) = 10 */
        {{10, 10, 20, 2000, 1.0f}, "largest has 12"},   /* root with 10 digits */
        {{4, 2, 1, 5, 0.0f}, "smallest has 22"},        /* full binary, 3 operator levels: 7 ops, 8 digits */
        {{1, 5, 2, 10, 0.5f}, "largest has 1"},
    };
    char err[256];
    int nbad = 0, nt;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = fastfnet_listops_check_config(&bad[i].c, err, sizeof err);
        int g = fastfnet_listops_generate(&bad[i].c, r, buf, need, &nt);
        if (rc != -1 || g != -1 || fastfnet_listops_buf_size(&bad[i].c) != 0 || !strstr(err, bad[i].want)) {
            printf("  config %zu: rc %d gen %d err \"%s\" (want \"%s\")\n", i, rc, g, err, bad[i].want);
            nbad++;
        }
    }
    printf("  e.g. %s\n", err);
    check(nbad == 0, "invalid_configs_refused (%zu cases, %d wrong)", sizeof bad / sizeof bad[0], nbad);
}

/* Feasible bounds but unreachable lengths: with max_args 2 every tree has 3k+1 tokens. */
static void check_unreachable_window(fastfnet_rng *r, char *buf, size_t need) {
    fastfnet_listops_config un = {.max_depth = 4, .max_args = 2, .min_len = 5, .max_len = 6, .leaf_prob = 0.5f};
    check(fastfnet_listops_check_config(&un, NULL, 0) == 0, "unreachable_window_passes_bounds_check");
    double t0 = fastfnet_now();
    int nt;
    int v = fastfnet_listops_generate(&un, r, buf, need, &nt);
    check(v == -1 && nt == 0, "unreachable_window_gives_up (%d, %.2fs)", v, fastfnet_now() - t0);
}

static void test_config_and_cap(void) {
    fastfnet_listops_config c;
    fastfnet_listops_default(&c);
    size_t need = fastfnet_listops_buf_size(&c);
    check(need == 5 * 2000 + 1, "buf_size_default %zu", need);
    char *buf = malloc(need);
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 9);
    check_cap(&c, &r, buf, need);
    check_invalid_configs(&r, buf, need);
    check_unreachable_window(&r, buf, need);
    free(buf);
}

static void test_determinism(void) {
    fastfnet_listops_config c;
    fastfnet_listops_default(&c);
    size_t cap = fastfnet_listops_buf_size(&c);
    char *a = malloc(cap), *b = malloc(cap);
    fastfnet_rng ra, rb, rc;
    fastfnet_rng_seed(&ra, 42);
    fastfnet_rng_seed(&rb, 42);
    fastfnet_rng_seed(&rc, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < 50; i++) {
        int na, nb;
        int la = fastfnet_listops_generate(&c, &ra, a, cap, &na);
        int lb = fastfnet_listops_generate(&c, &rb, b, cap, &nb);
        same &= la == lb && na == nb && !strcmp(a, b);
        int lc = fastfnet_listops_generate(&c, &rc, b, cap, &nb);
        differ += lc != la || strcmp(a, b) != 0;
    }
    check(same && ra.s == rb.s, "same_seed_same_bytes (50 examples)");
    check(differ == 50, "different_seed_differs (%d/50 differ)", differ);
    free(a);
    free(b);
}

/* A TSV line "<label>\t<expression>": a one-digit label equal to the expression's value, a well-formed
 * expression of c's length window. */
static int tsv_line_ok(const char *line, const fastfnet_listops_config *c) {
    char err[512];
    const char *tab = strchr(line, '\t');
    int cnt, md;
    int bad = !tab || tab - line != 1 || line[0] < '0' || line[0] > '9' ||
              fastfnet_listops_eval(tab + 1, err, sizeof err) != line[0] - '0' || scan(tab + 1, &cnt, &md, NULL) ||
              cnt < c->min_len || cnt > c->max_len;
    return !bad;
}

static void check_tsv_round_trip(const char *path, const fastfnet_listops_config *c, int n) {
    char err[512];
    int rc = fastfnet_listops_write_tsv(path, c, 7, n, err, sizeof err);
    check(rc == 0, "tsv_write (%s)", rc ? err : "ok");
    size_t len = 0;
    char *s = read_file(path, &len);
    int lines = 0, bad = 0;
    if (s) {
        char *line = s;
        while (*line) {
            char *nl = strchr(line, '\n');
            if (!nl) {
                bad++;
                break;
            }
            *nl = 0;
            if (!tsv_line_ok(line, c)) {
                if (!bad) printf("  line %d bad: %.60s\n", lines + 1, line);
                bad++;
            }
            lines++;
            line = nl + 1;
        }
    }
    check(s && lines == n && bad == 0, "tsv_round_trip (%d lines of %d, %d bad, %zu bytes)", lines, n, bad, len);
    free(s);
}

/* Same seed: same bytes; the first k lines of a longer file are the k-example file. path already holds the
 * n-example file of seed 7; *l2 gets the length of the copy written to path2. */
static void check_tsv_deterministic(const char *path, const char *path2, const char *path3,
                                    const fastfnet_listops_config *c, int n, size_t *l2) {
    char err[512];
    int rc = fastfnet_listops_write_tsv(path2, c, 7, n, err, sizeof err);
    rc |= fastfnet_listops_write_tsv(path3, c, 7, 100, err, sizeof err);
    size_t l1, l3;
    char *s1 = read_file(path, &l1), *s2 = read_file(path2, l2), *s3 = read_file(path3, &l3);
    check(rc == 0 && s1 && s2 && s3 && l1 == *l2 && !memcmp(s1, s2, l1) && l3 < l1 && !memcmp(s1, s3, l3),
          "tsv_deterministic_and_prefix_stable");
    /* generate() from the same seed gives the same first line */
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 7);
    char *b = malloc(fastfnet_listops_buf_size(c));
    int lab = fastfnet_listops_generate(c, &r, b, fastfnet_listops_buf_size(c), NULL);
    check(s1 && s1[0] - '0' == lab && !strncmp(s1 + 2, b, strlen(b)) && s1[2 + strlen(b)] == '\n',
          "tsv_first_line_equals_generate");
    free(b);
    free(s1);
    free(s2);
    free(s3);
}

/* Overwrite in place, with no temporary left behind in dir; n = 0 gives an empty file. */
static void check_tsv_overwrite(const char *dir, const char *path, const char *path3,
                                const fastfnet_listops_config *c) {
    char err[512];
    size_t len = 0;
    int rc = fastfnet_listops_write_tsv(path, c, 8, 5, err, sizeof err);
    char *s = read_file(path, &len);
    int nl = 0;
    for (size_t i = 0; s && i < len; i++) nl += s[i] == '\n';
    free(s);
    DIR *dp = opendir(dir);
    int entries = 0, tmps = 0;
    struct dirent *de;
    while (dp && (de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        entries++;
        tmps += strstr(de->d_name, ".tmp.") != NULL;
    }
    if (dp) closedir(dp);
    check(rc == 0 && nl == 5 && entries == 3 && tmps == 0, "tsv_overwrite_no_temp_left (%d lines, %d files)", nl,
          entries);
    rc = fastfnet_listops_write_tsv(path3, c, 1, 0, err, sizeof err);
    s = read_file(path3, &len);
    check(rc == 0 && s && len == 0, "tsv_zero_examples_empty_file");
    free(s);
}

/* Failures leave the target (path2, l2 bytes) untouched and say why. */
static void check_tsv_failures(const char *dir, const char *path2, size_t l2, const fastfnet_listops_config *c) {
    char err[512], missing[300];
    size_t len = 0;
    snprintf(missing, sizeof missing, "%s/no/such/dir.tsv", dir);
    err[0] = 0;
    int rc = fastfnet_listops_write_tsv(missing, c, 1, 3, err, sizeof err);
    check(rc == -1 && strstr(err, "no/such/dir.tsv"), "tsv_bad_dir_refused: %s", err);
    fastfnet_listops_config bc = *c;
    bc.max_args = 0;
    err[0] = 0;
    rc = fastfnet_listops_write_tsv(path2, &bc, 1, 3, err, sizeof err);
    char *s = read_file(path2, &len);
    check(rc == -1 && strstr(err, "max_args") && s && len == l2, "tsv_bad_config_refused_target_kept: %s", err);
    free(s);
    err[0] = 0;
    rc = fastfnet_listops_write_tsv(path2, c, 1, -1, err, sizeof err);
    check(rc == -1 && strstr(err, "negative"), "tsv_negative_n_refused: %s", err);
}

static void test_tsv(void) {
    const char *dir = check_tmpdir("test_listops.");
    if (!dir) {
        check(0, "tsv_mkdtemp");
        return;
    }
    char path[256], path2[256], path3[256];
    snprintf(path, sizeof path, "%s/listops.tsv", dir);
    snprintf(path2, sizeof path2, "%s/again.tsv", dir);
    snprintf(path3, sizeof path3, "%s/prefix.tsv", dir);
    fastfnet_listops_config c;
    fastfnet_listops_default(&c);
    int n = 300;
    size_t l2 = 0;
    check_tsv_round_trip(path, &c, n);
    check_tsv_deterministic(path, path2, path3, &c, n, &l2);
    check_tsv_overwrite(dir, path, path3, &c);
    check_tsv_failures(dir, path2, l2, &c);
    check_tmpdir_remove();
}

static void test_timing(void) {
    fastfnet_listops_config c;
    fastfnet_listops_default(&c);
    size_t cap = fastfnet_listops_buf_size(&c);
    char *buf = malloc(cap);
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 12345);
    long long tok = 0;
    int fails = 0, n = 10000;
    double t0 = fastfnet_now();
    for (int i = 0; i < n; i++) {
        int nt;
        fails += fastfnet_listops_generate(&c, &r, buf, cap, &nt) < 0;
        tok += nt;
    }
    double t1 = fastfnet_now();
    printf("  timing: %d examples (LRA defaults), %lld tokens (mean %.0f) in %.3f s: %.0f examples/s, %.1f M "
           "tokens/s\n", n, tok, (double)tok / n, t1 - t0, n / (t1 - t0), tok / (t1 - t0) / 1e6);
    check(fails == 0, "timing_10000_generated (%.3f s, no assertion on speed)", t1 - t0);
    free(buf);
}

int main(void) {
    test_eval_cases();
    test_eval_malformed();
    test_generate();
    test_config_and_cap();
    test_determinism();
    test_tsv();
    test_timing();
    return check_summary();
}
