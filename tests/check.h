/* check.h: the tiny test harness: PASS/FAIL lines, a summary line "N passed, M failed", and helpers for
 * comparing arrays and drawing random inputs. */
#ifndef FFN_CHECK_H
#define FFN_CHECK_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int g_pass, g_fail;

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
#endif
