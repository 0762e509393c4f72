/* test_fourier.c: every Fourier-mixing implementation against an independent double-precision direct DFT. */
#include "check.h"
#include "fft.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOL_REL 1e-5 /* float32 FFT/GEMM error relative to max|ref|; measured ~1e-7 .. 1e-6 */
#define TOL_FD 1e-2  /* central differences of float outputs: cancellation, not truncation (map is linear) */
#define FD_EPS 1e-2f

/* Worst errors seen per implementation, reported at the end. */
enum { E_FWD, E_BWD, E_ADJ, E_ACC, E_FD, E_SYM, E_N };
static const char *err_names[E_N] = {"forward", "backward", "adjoint", "accumulate", "fd", "symmetry"};
static double g_err[4][E_N];

static void note(int impl, int kind, double e) {
    if (e > g_err[impl][kind]) g_err[impl][kind] = e;
}

/* Direct 2-D sum with one combined phase: Re exp(-2 pi i (ts/T + dk/D)) = cos(2 pi j / (T D)),
 * j = (ts mod T) D + (dk mod D) T mod T D, so this shares no code path with the separable library code. */
static double *phase_table(int T, int D) {
    int n = T * D;
    double *c = calloc((size_t)n, sizeof(double)); /* calloc: gcc cannot see that n > 0 */
    for (int j = 0; j < n; j++) c[j] = cos(6.283185307179586476925 * j / n);
    return c;
}

static int phase(int T, int D, int t, int s, int d, int k) {
    return (int)(((long)(t * s % T) * D + (long)(d * k % D) * T) % ((long)T * D));
}

static void ref_forward(double *y, const float *x, int B, int T, int D, int keep, const double *c) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int k = 0; k < keep; k++) {
                double acc = 0.0;
                for (int s = 0; s < T; s++)
                    for (int d = 0; d < D; d++)
                        acc += x[((size_t)b * T + s) * D + d] * c[phase(T, D, t, s, d, k)];
                y[((size_t)b * T + t) * keep + k] = acc;
            }
}

static void ref_adjoint(double *dx, const float *g, int B, int T, int D, int keep, const double *c) {
    for (int b = 0; b < B; b++)
        for (int s = 0; s < T; s++)
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int t = 0; t < T; t++)
                    for (int k = 0; k < keep; k++)
                        acc += g[((size_t)b * T + t) * keep + k] * c[phase(T, D, t, s, d, k)];
                dx[((size_t)b * T + s) * D + d] = acc;
            }
}

static double max_abs_d(const double *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double max_abs_f(const float *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* max |got - ref| / max |ref| (absolute when ref is all zero) */
static double rel_err(const float *got, const double *ref, size_t n) {
    double e = 0.0, m = max_abs_d(ref, n);
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(got[i] - ref[i]));
    return m > 0.0 ? e / m : e;
}

static double dot_f(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void fill_normal(float *a, size_t n, fastfnet_rng *r) {
    for (size_t i = 0; i < n; i++) a[i] = fastfnet_rng_normal(r);
}

static const fastfnet_fourier_impl all_impls[4] = {FASTFNET_FOURIER_FFT, FASTFNET_FOURIER_MATRIX, FASTFNET_FOURIER_NAIVE,
                                              FASTFNET_FOURIER_AUTO};

/* One shape's inputs and direct-DFT references (shared by every implementation), and output buffers. */
typedef struct {
    int T, D, keep, B;
    size_t nx, ny;
    float *x, *g, *r, *y, *y2, *dx, *acc;
    double *yref, *dref, *acc_ref; /* F x, F^T g, r + 2 F^T g */
} shape_case;

static void shape_case_init(shape_case *sc, int T, int D, int keep, int B, fastfnet_rng *rng) {
    size_t nx = (size_t)B * T * D, ny = (size_t)B * T * keep;
    *sc = (shape_case){.T = T, .D = D, .keep = keep, .B = B, .nx = nx, .ny = ny};
    sc->x = malloc(sizeof(float) * nx), sc->g = malloc(sizeof(float) * ny), sc->r = malloc(sizeof(float) * nx);
    sc->y = malloc(sizeof(float) * ny), sc->y2 = malloc(sizeof(float) * ny);
    sc->dx = malloc(sizeof(float) * nx), sc->acc = malloc(sizeof(float) * nx);
    sc->yref = malloc(sizeof(double) * ny), sc->dref = malloc(sizeof(double) * nx);
    sc->acc_ref = malloc(sizeof(double) * nx);
    fill_normal(sc->x, nx, rng);
    fill_normal(sc->g, ny, rng);
    fill_normal(sc->r, nx, rng);
    double *c = phase_table(T, D);
    ref_forward(sc->yref, sc->x, B, T, D, keep, c);
    ref_adjoint(sc->dref, sc->g, B, T, D, keep, c);
    for (size_t i = 0; i < nx; i++) sc->acc_ref[i] = sc->r[i] + 2.0 * sc->dref[i];
    free(c);
}

static void shape_case_free(shape_case *sc) {
    free(sc->x);
    free(sc->g);
    free(sc->r);
    free(sc->y);
    free(sc->y2);
    free(sc->dx);
    free(sc->acc);
    free(sc->yref);
    free(sc->dref);
    free(sc->acc_ref);
}

/* Forward, backward, their adjointness and accumulation against the references; leaves F x in y, F^T g in dx. */
static void check_forward_backward(shape_case *sc, int ii, fastfnet_fourier *f, const char *tag) {
    size_t nx = sc->nx, ny = sc->ny;
    int B = sc->B;
    char name[160];
    /* forward; out is pre-poisoned so a missed element shows up */
    for (size_t i = 0; i < ny; i++) sc->y[i] = NAN;
    fastfnet_fourier_forward(f, sc->y, sc->x, B);
    double e = rel_err(sc->y, sc->yref, ny);
    note(ii, E_FWD, e);
    snprintf(name, sizeof(name), "forward %s", tag);
    check_detail(e <= TOL_REL, name, "max rel err %.3g > %.1g", e, TOL_REL);

    /* backward from zero vs the reference adjoint */
    memset(sc->dx, 0, sizeof(float) * nx);
    fastfnet_fourier_backward(f, sc->dx, sc->g, B);
    e = rel_err(sc->dx, sc->dref, nx);
    note(ii, E_BWD, e);
    snprintf(name, sizeof(name), "backward %s", tag);
    check_detail(e <= TOL_REL, name, "max rel err %.3g > %.1g", e, TOL_REL);

    /* <F x, g> == <x, F^T g>, scaled by the Cauchy-Schwarz bound so it is scale free */
    double lhs = dot_f(sc->y, sc->g, ny), rhs = dot_f(sc->x, sc->dx, nx);
    double scale = sqrt(dot_f(sc->y, sc->y, ny) * dot_f(sc->g, sc->g, ny)) + 1e-300;
    e = fabs(lhs - rhs) / scale;
    note(ii, E_ADJ, e);
    snprintf(name, sizeof(name), "adjoint %s", tag);
    check_detail(e <= TOL_REL, name, "<Fx,g>=%.9g <x,F'g>=%.9g rel %.3g", lhs, rhs, e);

    /* backward accumulates: twice onto r gives r + 2 F^T g */
    memcpy(sc->acc, sc->r, sizeof(float) * nx);
    fastfnet_fourier_backward(f, sc->acc, sc->g, B);
    fastfnet_fourier_backward(f, sc->acc, sc->g, B);
    e = rel_err(sc->acc, sc->acc_ref, nx);
    note(ii, E_ACC, e);
    snprintf(name, sizeof(name), "accumulate %s", tag);
    check_detail(e <= TOL_REL, name, "max rel err %.3g", e);
}

/* Central differences of L(x) = sum g * F(x) at a few coordinates; dL/dx = F^T g = dx. */
static void check_finite_diff(shape_case *sc, int ii, fastfnet_fourier *f, const char *tag, fastfnet_rng *rng) {
    size_t nx = sc->nx, ny = sc->ny;
    float *x = sc->x;
    double dmax = max_abs_f(sc->dx, nx), fd_err = 0.0;
    for (int trial = 0; trial < 4; trial++) {
        size_t i = (size_t)(fastfnet_rng_u64(rng) % nx);
        float x0 = x[i];
        x[i] = x0 + FD_EPS;
        fastfnet_fourier_forward(f, sc->y2, x, sc->B);
        double lp = dot_f(sc->y2, sc->g, ny);
        x[i] = x0 - FD_EPS;
        fastfnet_fourier_forward(f, sc->y2, x, sc->B);
        double lm = dot_f(sc->y2, sc->g, ny);
        x[i] = x0;
        /* divide by the step actually taken, which float rounding makes differ slightly from 2 eps */
        double fd = (lp - lm) / ((double)(x0 + FD_EPS) - (double)(x0 - FD_EPS));
        fd_err = fmax(fd_err, fabs(fd - sc->dx[i]) / (dmax > 0.0 ? dmax : 1.0));
    }
    note(ii, E_FD, fd_err);
    char name[160];
    snprintf(name, sizeof(name), "finite_diff %s", tag);
    check_detail(fd_err <= TOL_FD, name, "rel err %.3g > %.1g", fd_err, TOL_FD);
}

/* Real input => Y[t,k] == Y[-t mod T, -k mod D]; the FFT and matrix paths lean on it for k > D/2. */
static void check_symmetry(const shape_case *sc, int ii, const char *tag) {
    int T = sc->T, D = sc->D;
    const float *y = sc->y;
    double m = max_abs_f(y, sc->ny), se = 0.0;
    for (int b = 0; b < sc->B; b++)
        for (int t = 0; t < T; t++)
            for (int k = 0; k < D; k++) {
                float a = y[((size_t)b * T + t) * D + k];
                float bb = y[((size_t)b * T + (T - t) % T) * D + (D - k) % D];
                se = fmax(se, fabs((double)a - bb));
            }
    se = m > 0.0 ? se / m : se;
    note(ii, E_SYM, se);
    char name[160];
    snprintf(name, sizeof(name), "symmetry %s", tag);
    check_detail(se <= TOL_REL, name, "max rel asymmetry %.3g", se);
}

static void test_shape(int T, int D, int keep, int B, fastfnet_rng *rng) {
    shape_case sc;
    shape_case_init(&sc, T, D, keep, B, rng);
    for (int ii = 0; ii < 4; ii++) {
        fastfnet_fourier_impl impl = all_impls[ii];
        char name[160], tag[96];
        snprintf(tag, sizeof(tag), "%s T=%d D=%d keep=%d B=%d", fastfnet_fourier_impl_name(impl), T, D, keep, B);
        /* max_B larger than B: calls with fewer sequences than planned for must work */
        fastfnet_fourier *f = fastfnet_fourier_init(3, T, D, keep, impl);
        snprintf(name, sizeof(name), "init %s", tag);
        check_detail(f != NULL, name, "returned NULL");
        if (!f) continue;
        fastfnet_fourier_impl got = fastfnet_fourier_impl_chosen(f);
        snprintf(name, sizeof(name), "impl_chosen %s", tag);
        check_detail(impl == FASTFNET_FOURIER_AUTO ? (got == FASTFNET_FOURIER_FFT || got == FASTFNET_FOURIER_MATRIX) : got == impl,
                     name, "got %s", fastfnet_fourier_impl_name(got));
        check_forward_backward(&sc, ii, f, tag);
        check_finite_diff(&sc, ii, f, tag, rng);
        if (keep == D) check_symmetry(&sc, ii, tag);
        fastfnet_fourier_free(f);
    }
    shape_case_free(&sc);
}

/* Bigger shapes where the direct O(T^2 D^2) reference is slow: FFT and MATRIX against the naive path. */
static void test_cross(int T, int D, int keep, int B, fastfnet_rng *rng) {
    size_t nx = (size_t)B * T * D, ny = (size_t)B * T * keep;
    float *x = malloc(sizeof(float) * nx), *g = malloc(sizeof(float) * ny);
    float *y[3], *dx[3];
    fastfnet_fourier_impl impls[3] = {FASTFNET_FOURIER_NAIVE, FASTFNET_FOURIER_FFT, FASTFNET_FOURIER_MATRIX};
    fill_normal(x, nx, rng);
    fill_normal(g, ny, rng);
    for (int i = 0; i < 3; i++) {
        y[i] = malloc(sizeof(float) * ny);
        dx[i] = calloc(nx, sizeof(float));
        fastfnet_fourier *f = fastfnet_fourier_init(B, T, D, keep, impls[i]);
        fastfnet_fourier_forward(f, y[i], x, B);
        fastfnet_fourier_backward(f, dx[i], g, B);
        fastfnet_fourier_free(f);
    }
    double *yr = malloc(sizeof(double) * ny), *dr = malloc(sizeof(double) * nx);
    for (size_t i = 0; i < ny; i++) yr[i] = y[0][i];
    for (size_t i = 0; i < nx; i++) dr[i] = dx[0][i];
    for (int i = 1; i < 3; i++) {
        char name[128];
        double ef = rel_err(y[i], yr, ny), eb = rel_err(dx[i], dr, nx);
        note(i - 1, E_FWD, ef);
        note(i - 1, E_BWD, eb);
        snprintf(name, sizeof(name), "cross_vs_naive %s T=%d D=%d keep=%d B=%d", fastfnet_fourier_impl_name(impls[i]),
                 T, D, keep, B);
        check_detail(ef <= TOL_REL && eb <= TOL_REL, name, "forward %.3g backward %.3g", ef, eb);
    }
    for (int i = 0; i < 3; i++) {
        free(y[i]);
        free(dx[i]);
    }
    free(x);
    free(g);
    free(yr);
    free(dr);
}

static void test_api(void) {
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        fastfnet_fourier_impl p;
        ok &= fastfnet_fourier_impl_parse(fastfnet_fourier_impl_name(i), &p) == 0 && p == (fastfnet_fourier_impl)i;
    }
    fastfnet_fourier_impl p = FASTFNET_FOURIER_FFT;
    ok &= fastfnet_fourier_impl_parse("bogus", &p) == -1 && p == FASTFNET_FOURIER_FFT;
    check_detail(ok, "impl_name_parse_roundtrip", "mismatch");

    /* keep must be D, or D/2 with D even */
    int bad[][4] = {{1, 5, 7, 3}, {1, 4, 6, 2}, {1, 4, 6, 0}, {1, 0, 6, 6}, {1, 4, 0, 0}, {0, 4, 6, 6}, {1, 4, 6, 7}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[96];
        snprintf(name, sizeof(name), "init_rejects B=%d T=%d D=%d keep=%d", bad[i][0], bad[i][1], bad[i][2],
                 bad[i][3]);
        fastfnet_fourier *f = fastfnet_fourier_init(bad[i][0], bad[i][1], bad[i][2], bad[i][3], FASTFNET_FOURIER_FFT);
        check_detail(f == NULL, name, "accepted");
        fastfnet_fourier_free(f);
    }

    fastfnet_fourier *f = fastfnet_fourier_init(4, 64, 64, 64, FASTFNET_FOURIER_MATRIX);
    size_t want = sizeof(float) * (64 * 2 * 33 + 64 * 2 * 64 + 2 * 4 * 64 * 2 * 33);
    check_detail(fastfnet_fourier_bytes(f) == want, "bytes_matrix", "%zu != %zu", fastfnet_fourier_bytes(f), want);
    fastfnet_fourier_free(f);
    f = fastfnet_fourier_init(4, 64, 64, 64, FASTFNET_FOURIER_FFT);
    check_detail(fastfnet_fourier_bytes(f) > 0, "bytes_fft", "0");
    fastfnet_fourier_free(f);
}

/* FFTW_MEASURE plans, then wisdom save / load / reuse through a temp file. */
static void test_measure_wisdom(fastfnet_rng *rng) {
    int T = 12, D = 20, B = 2;
    size_t nx = (size_t)B * T * D;
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * nx);
    double *yref = malloc(sizeof(double) * nx), *c = phase_table(T, D);
    fill_normal(x, nx, rng);
    ref_forward(yref, x, B, T, D, D, c);
    free(c);

    fastfnet_fft_set_measure(1);
    fastfnet_fourier *f = fastfnet_fourier_init(B, T, D, D, FASTFNET_FOURIER_FFT);
    fastfnet_fft_set_measure(0);
    fastfnet_fourier_forward(f, y, x, B);
    fastfnet_fourier_free(f);
    double e = rel_err(y, yref, nx);
    check_detail(e <= TOL_REL, "fftw_measure_forward", "max rel err %.3g", e);

    char path[] = "/tmp/fastfnet_wisdom_XXXXXX";
    int fd = mkstemp(path);
    check_detail(fd >= 0, "wisdom_tempfile", "mkstemp failed");
    if (fd < 0) goto out;
    close(fd);
    check_detail(fastfnet_fft_save_wisdom(path) == 0, "wisdom_save", "save to %s failed", path);
    FILE *fp = fopen(path, "r");
    long size = 0;
    if (fp) {
        fseek(fp, 0, SEEK_END);
        size = ftell(fp);
        fclose(fp);
    }
    check_detail(size > 0, "wisdom_nonempty", "file size %ld", size);
    check_detail(fastfnet_fft_load_wisdom(path) == 0, "wisdom_load", "load from %s failed", path);
    /* a measured plan made after loading must come from wisdom and still be right */
    fastfnet_fft_set_measure(1);
    f = fastfnet_fourier_init(B, T, D, D, FASTFNET_FOURIER_FFT);
    fastfnet_fft_set_measure(0);
    fastfnet_fourier_forward(f, y, x, B);
    fastfnet_fourier_free(f);
    e = rel_err(y, yref, nx);
    check_detail(e <= TOL_REL, "wisdom_reuse_forward", "max rel err %.3g", e);
    unlink(path);
    check_detail(fastfnet_fft_load_wisdom("/nonexistent/fastfnet_wisdom") == -1, "wisdom_load_missing", "returned 0");
    check_detail(fastfnet_fft_save_wisdom("/nonexistent/dir/fastfnet_wisdom") == -1, "wisdom_save_unwritable", "returned 0");
out:
    free(x);
    free(y);
    free(yref);
}

/* The padded transform (input: D/2 columns at hidden positions off.., zeros elsewhere) against the direct
 * sums on the explicitly padded signal, forward and adjoint (which must accumulate), every implementation. */
static void test_padded(int T, int D, int off, int B, fastfnet_rng *rng) {
    int n = D / 2;
    size_t nx = (size_t)B * T * D, nn = (size_t)B * T * n;
    float *xn = malloc(sizeof(float) * nn), *xp = calloc(nx, sizeof(float)), *g = malloc(sizeof(float) * nn);
    float *y = malloc(sizeof(float) * nn), *dx = malloc(sizeof(float) * nn), *r = malloc(sizeof(float) * nn);
    double *yref = malloc(sizeof(double) * nn), *dfull = malloc(sizeof(double) * nx), *dref = malloc(sizeof(double) * nn);
    fill_normal(xn, nn, rng);
    fill_normal(g, nn, rng);
    fill_normal(r, nn, rng);
    for (size_t i = 0; i < (size_t)B * T; i++) memcpy(xp + i * D + off, xn + i * n, sizeof(float) * n);
    double *c = phase_table(T, D);
    ref_forward(yref, xp, B, T, D, n, c);
    ref_adjoint(dfull, g, B, T, D, n, c);
    free(c);
    for (size_t i = 0; i < (size_t)B * T; i++)
        for (int j = 0; j < n; j++) dref[i * n + j] = r[i * n + j] + dfull[i * D + off + j];
    for (int ii = 0; ii < 4; ii++) {
        fastfnet_fourier_impl impl = all_impls[ii];
        char name[160];
        fastfnet_fourier *f = fastfnet_fourier_init_padded(3, T, D, off, impl);
        snprintf(name, sizeof(name), "padded %s T=%d D=%d off=%d B=%d", fastfnet_fourier_impl_name(impl), T, D, off, B);
        check_detail(f != NULL, name, "init returned NULL");
        if (!f) continue;
        for (size_t i = 0; i < nn; i++) y[i] = NAN;
        fastfnet_fourier_forward(f, y, xn, B);
        memcpy(dx, r, sizeof(float) * nn);
        fastfnet_fourier_backward(f, dx, g, B);
        double ef = rel_err(y, yref, nn), eb = rel_err(dx, dref, nn);
        note(ii, E_FWD, ef);
        note(ii, E_ACC, eb);
        check_detail(ef <= TOL_REL && eb <= TOL_REL, name, "forward %.3g, accumulated adjoint %.3g > %.1g", ef, eb, TOL_REL);
        fastfnet_fourier_free(f);
    }
    check(fastfnet_fourier_init_padded(1, T, D, D - n + 1, FASTFNET_FOURIER_FFT) == NULL && fastfnet_fourier_init_padded(1, T, D + 1, 0, FASTFNET_FOURIER_FFT) == NULL,
          "padded: an offset past D/2 or an odd width is refused (T=%d D=%d)", T, D);
    free(xn), free(xp), free(g), free(y), free(dx), free(r), free(yref), free(dfull), free(dref);
}

int main(void) {
    fastfnet_rng rng;
    fastfnet_rng_seed(&rng, 1234);
    static const int shapes[][3] = {
        {1, 2, 2},   {1, 2, 1},   {7, 6, 6},   {7, 6, 3},  {13, 30, 30}, {13, 30, 15}, {8, 16, 8},
        {5, 7, 7},   {16, 10, 5}, {64, 64, 32}, {64, 64, 64}, {3, 1, 1},  {1, 1, 1},   {2, 4, 2},
        {12, 8, 8},  {7, 3, 3},   {1, 9, 9},    {11, 1, 1},
    };
    test_api();
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        for (int B = 1; B <= 3; B += 2) test_shape(shapes[i][0], shapes[i][1], shapes[i][2], B, &rng);
    /* padded: values first (off 0) and centred (off D/4), odd and even T and D/2 */
    static const int pshapes[][3] = {{7, 6, 0}, {7, 6, 1}, {8, 16, 0}, {8, 16, 4}, {13, 30, 7}, {12, 8, 2}, {1, 2, 0}, {2, 4, 1}, {32, 64, 16}};
    for (size_t i = 0; i < sizeof(pshapes) / sizeof(pshapes[0]); i++)
        for (int B = 1; B <= 3; B += 2) test_padded(pshapes[i][0], pshapes[i][1], pshapes[i][2], B, &rng);
    test_cross(128, 96, 96, 2, &rng);
    test_cross(128, 96, 48, 2, &rng);
    test_cross(97, 50, 25, 3, &rng);
    test_measure_wisdom(&rng);

    for (int i = 0; i < 4; i++) {
        printf("max rel err %-6s:", fastfnet_fourier_impl_name(all_impls[i]));
        for (int k = 0; k < E_N; k++) printf(" %s %.2e", err_names[k], g_err[i][k]);
        printf("\n");
    }
    return check_summary();
}
