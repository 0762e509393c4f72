/* check.h: the tiny test harness: PASS/FAIL lines, a summary line "N passed, M failed", helpers for
 * comparing arrays and drawing random inputs, a scratch directory, and reading/writing whole files.
 * Needs _GNU_SOURCE (the Makefile defines it) for mkdtemp and nftw. */
#ifndef FASTFNET_CHECK_H
#define FASTFNET_CHECK_H
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_pass, g_fail;

/* "PASS <message>" or "FAIL <message>", the message printf-style. */
static inline void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) g_pass++;
    else g_fail++;
    fflush(stdout);
}

/* A named check whose failure says why: "PASS <name>", or "FAIL <name>: <detail>" with the detail
 * printf-style and formatted only on failure (so its arguments may be meaningless when ok). */
static inline void check_detail(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void check_detail(int ok, const char *name, const char *fmt, ...) {
    if (ok) {
        printf("PASS %s\n", name);
        g_pass++;
    } else {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL %s: ", name);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        g_fail++;
    }
    fflush(stdout);
}

static inline int check_summary(void) {
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}

/* normwise relative error: max|a-b| / max(max|b|, tiny) */
static inline double rel_err_fd(const float *a, const double *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d; /* NaN propagates as a failure */
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-30 ? mb : 1e-30);
}

static unsigned long long g_rs = 88172645463325252ull;
static inline double urand(void) {
    g_rs ^= g_rs << 13;
    g_rs ^= g_rs >> 7;
    g_rs ^= g_rs << 17;
    return (g_rs >> 11) * (1.0 / 9007199254740992.0);
}
static inline float nrand(void) { return (float)(sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand())); }
static inline void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * nrand();
}

/* The scratch directory of a test program: check_tmpdir("fastfnet_plot_") makes a fresh /tmp/fastfnet_plot_XXXXXX and
 * returns its path (NULL, errno set, when it cannot); tpath(name) is name inside it, in four rotating buffers
 * so a few paths can be live in one expression; check_tmpdir_remove() deletes it and everything in it. */
static char g_check_dir[64];

static inline const char *check_tmpdir(const char *prefix) {
    int n = snprintf(g_check_dir, sizeof g_check_dir, "/tmp/%sXXXXXX", prefix);
    if (n < 0 || (size_t)n >= sizeof g_check_dir) errno = ENAMETOOLONG;
    else if (mkdtemp(g_check_dir)) return g_check_dir;
    g_check_dir[0] = 0;
    return NULL;
}

static inline const char *tpath(const char *name) {
    static char bufs[4][256];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 256, "%s/%s", g_check_dir, name);
    return b;
}

static inline int check_rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb, (void)type, (void)ftw;
    return remove(p);
}

static inline void check_tmpdir_remove(void) {
    if (g_check_dir[0]) nftw(g_check_dir, check_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_check_dir[0] = 0;
}

/* The whole file at path, NUL-terminated so text can be used as a string; its length in *n unless n is NULL.
 * NULL when it cannot be opened. Free with free(). */
static inline char *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    long sz = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    char *p = sz >= 0 && fseek(fp, 0, SEEK_SET) == 0 ? malloc((size_t)sz + 1) : NULL;
    size_t got = p ? fread(p, 1, (size_t)sz, fp) : 0;
    fclose(fp);
    if (!p) return NULL;
    p[got] = 0;
    if (n) *n = got;
    return p;
}

/* Writes n bytes to path, replacing it. A fixture that cannot be written ends the program with status 1. */
static inline void write_file(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    int bad = !fp || (n && fwrite(p, 1, n, fp) != n);
    if (fp && fclose(fp) != 0) bad = 1;
    if (bad) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}
static inline void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }
#endif
