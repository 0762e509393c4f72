/* fft.c: FNet Fourier mixing (FFTW, DFT-matrix GEMM and double-precision naive paths) and its adjoint. */
/*
 * AUTO rule. Per sequence, with H = min(keep, D/2+1) computed hidden columns (the rest come from the
 * mirror rule Y[t,k] = Y[-t,-k] when keep == D):
 *   matrix_flops = 4 T D H + 4 T^2 H                      (two GEMMs, each batched over all B)
 *   fft_flops    = 2.5 T D log2 D + 5 T H log2 T          (5 N log2 N per complex FFT, halved for r2c)
 * MATRIX iff matrix_flops < 4.5 * fft_flops. The factor is what GEMM's higher flop rate and FFTW's per-call
 * overhead on tiny transforms are worth; the measured crossover sits at a model ratio of 4.3..6.5 with one
 * thread and about 4 with two. Forward+backward, B=8, ms, FFT / MATRIX, FFTW_ESTIMATE, OpenBLAS 0.3.21
 * pthreads, FFTW 3.3.10, 2-core AMD EPYC (AVX-512) VM; "model" is matrix_flops / fft_flops:
 *   1 thread: T=8 D=16 0.006/0.003 (model 2.9)  T=8 D=64 0.018/0.016 (6.5)  T=16 D=32 0.015/0.013 (4.4)
 *             T=16 D=64 0.033/0.034 (6.5)  T=32 D=16 0.015/0.015 (4.5)  T=32 D=32 0.026/0.032 (5.3)
 *             T=64 D=128 0.25/0.52  T=128 D=768 4.2/34  T=512 D=256 4.9/37  T=512 D=768 17/169
 *   2 threads: T=8 D=16 0.007/0.003  T=8 D=64 0.013/0.028  T=16 D=32 0.012/0.013  T=512 D=256 2.4/21
 * So in practice MATRIX only wins when T*D is at most a few hundred; everything model-sized goes to FFT.
 */
#include "fft.h"
#include <pthread.h>
#include "blas.h"
#include "util.h"
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define AUTO_FACTOR 4.5

struct fastfnet_fourier {
    int max_b, T, D, keep;
    int nin, off; /* input columns and the hidden position of the first: D and 0, or D/2 and off (padded) */
    int nc;      /* hidden columns actually computed: min(keep, D/2+1); the rest are mirrored */
    int hb;      /* D/2+1 complex bins of the r2c transform */
    fastfnet_fourier_impl impl;
    int nthreads;
    size_t bytes;
    /* FFT: one in-place buffer per thread, rows of hb complex (2*hb floats, so the r2c can be in place) */
    fftwf_plan rows;     /* r2c along hidden, T rows */
    fftwf_plan cols_fwd; /* c2c along seq over the nc columns forward needs */
    fftwf_plan cols_all; /* c2c along seq over all hb columns, for the adjoint of keep < D */
    fftwf_complex **buf;
    /* MATRIX */
    float *w_hid; /* (D, 2 nc)  = [C_D | S_D] restricted to the computed columns */
    float *w_seq; /* (T, 2 T)   = [C_T | -S_T] */
    float *mat_p, *mat_q; /* (max_b T 2 nc) each */
    /* NAIVE: cos/sin(2 pi j / N) tables and one sequence of double scratch */
    double *cos_t, *sin_t, *cos_d, *sin_d, *nv_c, *nv_s;
};

static int g_measure = 0;
static pthread_once_t g_fftw_once = PTHREAD_ONCE_INIT;
static int g_fftw_ok = 0;

void fastfnet_fft_set_measure(int on) { g_measure = on != 0; }

/* FFTW asks for fftwf_init_threads before any other call, once; planning is made thread-safe (FFTW serialises
 * it), so models may be created and reserved from several threads. We plan single-threaded transforms because
 * we parallelize over sequences ourselves, which scales better than splitting one small transform. */
static void fftw_init_once(void) {
    if (!fftwf_init_threads()) return;
    fftwf_make_planner_thread_safe();
    g_fftw_ok = 1;
}
static int fftw_setup(void) {
    pthread_once(&g_fftw_once, fftw_init_once);
    if (!g_fftw_ok) return -1;
    fftwf_plan_with_nthreads(1);
    return 0;
}

int fastfnet_fft_load_wisdom(const char *path) {
    if (fftw_setup() != 0) return -1;
    return fftwf_import_wisdom_from_filename(path) ? 0 : -1;
}

/* written atomically: a failed or interrupted save leaves the file as it was */
int fastfnet_fft_save_wisdom(const char *path) {
    if (fftw_setup() != 0) return -1;
    char *w = fftwf_export_wisdom_to_string(), err[256];
    if (!w) return -1;
    int rc = fastfnet_write_file_atomic(path, w, strlen(w), err, sizeof err);
    free(w);
    return rc;
}

const char *fastfnet_fourier_impl_name(fastfnet_fourier_impl i) {
    switch (i) {
    case FASTFNET_FOURIER_AUTO: return "auto";
    case FASTFNET_FOURIER_FFT: return "fft";
    case FASTFNET_FOURIER_MATRIX: return "matrix";
    case FASTFNET_FOURIER_NAIVE: return "naive";
    }
    return "?";
}

int fastfnet_fourier_impl_parse(const char *s, fastfnet_fourier_impl *out) {
    static const fastfnet_fourier_impl all[] = {FASTFNET_FOURIER_AUTO, FASTFNET_FOURIER_FFT, FASTFNET_FOURIER_MATRIX,
                                           FASTFNET_FOURIER_NAIVE};
    for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(s, fastfnet_fourier_impl_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

static fastfnet_fourier_impl auto_choose(int T, int D, int nc) {
    double t = T, d = D, h = nc;
    double mat = 4.0 * t * d * h + 4.0 * t * t * h;
    double fft = 2.5 * t * d * log2(d > 1 ? d : 2) + 5.0 * t * h * log2(t > 1 ? t : 2);
    return mat < AUTO_FACTOR * fft ? FASTFNET_FOURIER_MATRIX : FASTFNET_FOURIER_FFT;
}

/* cos/sin(2 pi j / n) for j < n; callers reduce n*m mod n in integers so large products keep full accuracy */
static void trig_table(double *c, double *s, int n) {
    for (int j = 0; j < n; j++) {
        double a = 6.283185307179586476925 * j / n;
        c[j] = cos(a);
        s[j] = sin(a);
    }
}

static int fft_init(fastfnet_fourier *f) {
    int T = f->T, D = f->D, hb = f->hb;
    if (fftw_setup() != 0) return -1;
    f->buf = fastfnet_calloc(sizeof(fftwf_complex *) * f->nthreads);
    if (!f->buf) return -1;
    for (int i = 0; i < f->nthreads; i++) {
        /* all from fftwf_malloc so every thread's buffer has the alignment the plans were made with,
         * which is what makes new-array execute legal */
        f->buf[i] = fftwf_alloc_complex((size_t)T * hb);
        if (!f->buf[i]) return -1;
    }
    f->bytes += sizeof(fftwf_complex) * (size_t)T * hb * f->nthreads;
    /* our inputs are always private copies, so FFTW may clobber them */
    unsigned flags = (g_measure ? FFTW_MEASURE : FFTW_ESTIMATE) | FFTW_DESTROY_INPUT;
    fftwf_complex *b = f->buf[0];
    int n_d[1] = {D}, n_t[1] = {T}, emb_r[1] = {2 * hb}, emb_c[1] = {hb};
    f->rows = fftwf_plan_many_dft_r2c(1, n_d, T, (float *)b, emb_r, 1, 2 * hb, b, emb_c, 1, hb, flags);
    f->cols_fwd = fftwf_plan_many_dft(1, n_t, f->nc, b, NULL, hb, 1, b, NULL, hb, 1, FFTW_FORWARD, flags);
    f->cols_all = f->nc == hb ? f->cols_fwd
                              : fftwf_plan_many_dft(1, n_t, hb, b, NULL, hb, 1, b, NULL, hb, 1, FFTW_FORWARD, flags);
    return f->rows && f->cols_fwd && f->cols_all ? 0 : -1;
}

static int matrix_init(fastfnet_fourier *f) {
    int T = f->T, D = f->D, nc = f->nc;
    size_t scratch = (size_t)f->max_b * T * 2 * nc;
    double *c = fastfnet_malloc(sizeof(double) * (T > D ? T : D)), *s = fastfnet_malloc(sizeof(double) * (T > D ? T : D));
    f->w_hid = fastfnet_malloc(sizeof(float) * (size_t)D * 2 * nc);
    f->w_seq = fastfnet_malloc(sizeof(float) * (size_t)T * 2 * T);
    f->mat_p = fastfnet_malloc(sizeof(float) * scratch);
    f->mat_q = fastfnet_malloc(sizeof(float) * scratch);
    if (!c || !s || !f->w_hid || !f->w_seq || !f->mat_p || !f->mat_q) {
        fastfnet_free(c);
        fastfnet_free(s);
        return -1;
    }
    trig_table(c, s, D);
    for (int d = 0; d < D; d++)
        for (int k = 0; k < nc; k++) {
            int j = (int)((long)d * k % D);
            f->w_hid[(size_t)d * 2 * nc + k] = (float)c[j];
            f->w_hid[(size_t)d * 2 * nc + nc + k] = (float)s[j];
        }
    trig_table(c, s, T);
    for (int t = 0; t < T; t++)
        for (int u = 0; u < T; u++) {
            int j = (int)((long)t * u % T);
            f->w_seq[(size_t)t * 2 * T + u] = (float)c[j];
            f->w_seq[(size_t)t * 2 * T + T + u] = (float)-s[j];
        }
    fastfnet_free(c);
    fastfnet_free(s);
    f->bytes += sizeof(float) * ((size_t)D * 2 * nc + (size_t)T * 2 * T + 2 * scratch);
    return 0;
}

static int naive_init(fastfnet_fourier *f) {
    int T = f->T, D = f->D;
    f->cos_t = fastfnet_malloc(sizeof(double) * T);
    f->sin_t = fastfnet_malloc(sizeof(double) * T);
    f->cos_d = fastfnet_malloc(sizeof(double) * D);
    f->sin_d = fastfnet_malloc(sizeof(double) * D);
    f->nv_c = fastfnet_malloc(sizeof(double) * (size_t)T * f->keep);
    f->nv_s = fastfnet_malloc(sizeof(double) * (size_t)T * f->keep);
    if (!f->cos_t || !f->sin_t || !f->cos_d || !f->sin_d || !f->nv_c || !f->nv_s) return -1;
    trig_table(f->cos_t, f->sin_t, T);
    trig_table(f->cos_d, f->sin_d, D);
    f->bytes += sizeof(double) * (2 * (size_t)T + 2 * (size_t)D + 2 * (size_t)T * f->keep);
    return 0;
}

/* Sizes, then the chosen implementation's tables and scratch; nin/off say where the input columns sit.
 * NULL when memory or FFTW planning fails. */
static fastfnet_fourier *fourier_new(int max_B, int T, int D, int keep, int nin, int off, fastfnet_fourier_impl impl) {
    fastfnet_fourier *f = fastfnet_calloc(sizeof(*f));
    if (!f) return NULL;
    f->max_b = max_B;
    f->T = T;
    f->D = D;
    f->keep = keep;
    f->nin = nin;
    f->off = off;
    f->hb = D / 2 + 1;
    f->nc = keep < f->hb ? keep : f->hb;
    f->nthreads = omp_get_max_threads();
    if (f->nthreads < 1) f->nthreads = 1;
    f->impl = impl == FASTFNET_FOURIER_AUTO ? auto_choose(T, D, f->nc) : impl;
    int rc;
    switch (f->impl) {
    case FASTFNET_FOURIER_FFT: rc = fft_init(f); break;
    case FASTFNET_FOURIER_MATRIX: rc = matrix_init(f); break;
    default: rc = naive_init(f); break;
    }
    if (rc == 0) return f;
    fastfnet_fourier_free(f);
    return NULL;
}

fastfnet_fourier *fastfnet_fourier_init(int max_B, int T, int D, int keep, fastfnet_fourier_impl impl) {
    if (max_B < 1 || T < 1 || D < 1) return NULL;
    if (keep != D && !(D % 2 == 0 && keep == D / 2)) return NULL;
    if (impl < FASTFNET_FOURIER_AUTO || impl > FASTFNET_FOURIER_NAIVE) return NULL;
    return fourier_new(max_B, T, D, keep, D, 0, impl);
}

fastfnet_fourier *fastfnet_fourier_init_padded(int max_B, int T, int D, int off, fastfnet_fourier_impl impl) {
    if (max_B < 1 || T < 1 || D < 2 || D % 2 || off < 0 || off > D - D / 2) return NULL;
    if (impl < FASTFNET_FOURIER_AUTO || impl > FASTFNET_FOURIER_NAIVE) return NULL;
    return fourier_new(max_B, T, D, D / 2, D / 2, off, impl);
}

void fastfnet_fourier_free(fastfnet_fourier *f) {
    if (!f) return;
    if (f->cols_all && f->cols_all != f->cols_fwd) fftwf_destroy_plan(f->cols_all);
    if (f->cols_fwd) fftwf_destroy_plan(f->cols_fwd);
    if (f->rows) fftwf_destroy_plan(f->rows);
    if (f->buf) {
        for (int i = 0; i < f->nthreads; i++) fftwf_free(f->buf[i]);
        fastfnet_free(f->buf);
    }
    fastfnet_free(f->w_hid);
    fastfnet_free(f->w_seq);
    fastfnet_free(f->mat_p);
    fastfnet_free(f->mat_q);
    fastfnet_free(f->cos_t);
    fastfnet_free(f->sin_t);
    fastfnet_free(f->cos_d);
    fastfnet_free(f->sin_d);
    fastfnet_free(f->nv_c);
    fastfnet_free(f->nv_s);
    fastfnet_free(f);
}

fastfnet_fourier_impl fastfnet_fourier_impl_chosen(const fastfnet_fourier *f) { return f->impl; }
size_t fastfnet_fourier_bytes(const fastfnet_fourier *f) { return f->bytes; }

/* ---- FFT ---- */

/* Loads x (T, xcols) into columns xoff.. of a width-D signal, zeros elsewhere, into buf and transforms it in
 * place: after this buf[t*hb + k] = (DFT_T X DFT_D)[t, k] for the columns k that cols covers. A narrow input is
 * read as is, never stored padded; its zero columns cost the hidden r2c only, and the sequence transform runs
 * over the columns that cols covers (the kept bins, for the forward of keep < D). */
static void fft_seq(const fastfnet_fourier *f, fftwf_complex *buf, fftwf_plan cols, const float *x, int xcols, int xoff) {
    int T = f->T, D = f->D, hb = f->hb;
    float *r = (float *)buf;
    for (int t = 0; t < T; t++) {
        float *row = r + (size_t)t * 2 * hb;
        memset(row, 0, sizeof(float) * xoff);
        memcpy(row + xoff, x + (size_t)t * xcols, sizeof(float) * xcols);
        memset(row + xoff + xcols, 0, sizeof(float) * (D - xoff - xcols));
    }
    fftwf_execute_dft_r2c(f->rows, r, buf);
    fftwf_execute_dft(cols, buf, buf);
}

static void fft_forward(fastfnet_fourier *f, float *out, const float *inp, int B) {
    int T = f->T, D = f->D, keep = f->keep, hb = f->hb, nc = f->nc;
#pragma omp parallel for num_threads(f->nthreads) schedule(static)
    for (int b = 0; b < B; b++) {
        fftwf_complex *buf = f->buf[omp_get_thread_num()];
        fft_seq(f, buf, f->cols_fwd, inp + (size_t)b * T * f->nin, f->nin, f->off);
        float *o = out + (size_t)b * T * keep;
        for (int t = 0; t < T; t++) {
            fftwf_complex *row = buf + (size_t)t * hb, *mir = buf + (size_t)((T - t) % T) * hb;
            float *ot = o + (size_t)t * keep;
            for (int k = 0; k < nc; k++) ot[k] = row[k][0];
            /* real input: spectrum is Hermitian, so columns past D/2 are the mirror of computed ones */
            for (int k = nc; k < keep; k++) ot[k] = mir[D - k][0];
        }
    }
}

/* The full map is self-adjoint (C and S are symmetric) and the adjoint of dropping columns is padding
 * them with zeros, so the adjoint is the full forward map of the zero-padded gradient. */
static void fft_backward(fastfnet_fourier *f, float *dinp, const float *dout, int B) {
    int T = f->T, D = f->D, keep = f->keep, hb = f->hb;
#pragma omp parallel for num_threads(f->nthreads) schedule(static)
    for (int b = 0; b < B; b++) {
        fftwf_complex *buf = f->buf[omp_get_thread_num()];
        fft_seq(f, buf, f->cols_all, dout + (size_t)b * T * keep, keep, 0);
        /* only the input's nin positions off.. are needed (a padded input's other columns are constant zeros) */
        int n = f->nin, off = f->off, lo = hb < off ? off : hb, mid = hb < off + n ? hb : off + n;
        float *o = dinp + (size_t)b * T * n;
        for (int t = 0; t < T; t++) {
            fftwf_complex *row = buf + (size_t)t * hb, *mir = buf + (size_t)((T - t) % T) * hb;
            float *ot = o + (size_t)t * n; /* ot[j] is hidden position off + j */
            for (int k = off; k < mid; k++) ot[k - off] += row[k][0];
            for (int k = lo; k < off + n; k++) ot[k - off] += mir[D - k][0];
        }
    }
}

/* ---- MATRIX ---- */

/* dst (B,T,D or keep) (+)= the forward map of src (B,T,D), computing nc columns and mirroring the rest.
 * Layouts are shuffled so each stage is one GEMM over the whole batch instead of B small ones. */
static void matrix_apply(fastfnet_fourier *f, float *dst, int dcols, const float *src, int B, int accumulate) {
    int T = f->T, D = f->D, nc = f->nc, n2 = 2 * nc, bn = B * nc;
    float *p = f->mat_p, *q = f->mat_q;
    /* p (B*T, 2nc) = X [C_D | S_D], only the rows of the input's nin columns (padding contributes nothing) */
    fastfnet_sgemm(0, 0, B * T, n2, f->nin, 1.0f, src, f->nin, f->w_hid + (size_t)f->off * n2, n2, 0.0f, p, n2);
    /* q (2, T, B, nc): stacking the C and S halves turns C_T Pc - S_T Ps into one GEMM with K = 2T */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *pr = p + ((size_t)b * T + t) * n2;
            memcpy(q + ((size_t)t * B + b) * nc, pr, sizeof(float) * nc);
            memcpy(q + ((size_t)(T + t) * B + b) * nc, pr + nc, sizeof(float) * nc);
        }
    /* p (T, B*nc) = [C_T | -S_T] q */
    fastfnet_sgemm(0, 0, T, bn, 2 * T, 1.0f, f->w_seq, 2 * T, q, bn, 0.0f, p, bn);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *row = p + ((size_t)t * B + b) * nc, *mir = p + ((size_t)((T - t) % T) * B + b) * nc;
            float *o = dst + ((size_t)b * T + t) * dcols;
            if (accumulate) {
                for (int k = 0; k < nc; k++) o[k] += row[k];
                for (int k = nc; k < dcols; k++) o[k] += mir[D - k];
            } else {
                for (int k = 0; k < nc; k++) o[k] = row[k];
                for (int k = nc; k < dcols; k++) o[k] = mir[D - k];
            }
        }
}

/* keep < D only: dX += C_T G C_Dk^T - S_T G S_Dk^T directly, so the final GEMM has K = keep rather than
 * running the full map on a half-zero padded gradient. */
static void matrix_backward_half(fastfnet_fourier *f, float *dinp, const float *dout, int B) {
    int T = f->T, nc = f->nc, n2 = 2 * nc, bn = B * nc;
    float *p = f->mat_p, *q = f->mat_q;
    /* q (T, B*nc) */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(q + ((size_t)t * B + b) * nc, dout + ((size_t)b * T + t) * nc, sizeof(float) * nc);
    /* p (2T, B*nc) = [C_T ; -S_T] q, the transpose of w_seq since C_T and S_T are symmetric */
    fastfnet_sgemm(1, 0, 2 * T, bn, T, 1.0f, f->w_seq, 2 * T, q, bn, 0.0f, p, bn);
    /* q (B*T, 2nc) */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *qr = q + ((size_t)b * T + t) * n2;
            memcpy(qr, p + ((size_t)t * B + b) * nc, sizeof(float) * nc);
            memcpy(qr + nc, p + ((size_t)(T + t) * B + b) * nc, sizeof(float) * nc);
        }
    /* dX += q [C_Dk | S_Dk]^T, at the input's nin columns only */
    fastfnet_sgemm(0, 1, B * T, f->nin, n2, 1.0f, q, n2, f->w_hid + (size_t)f->off * n2, n2, 1.0f, dinp, f->nin);
}

/* ---- NAIVE (double precision, separable direct sums; a reference, not a fast path) ---- */

static void naive_forward(fastfnet_fourier *f, float *out, const float *inp, int B) {
    int T = f->T, D = f->D, keep = f->keep;
    double *ac = f->nv_c, *as = f->nv_s;
    int nin = f->nin, off = f->off;
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * T * nin;
        for (int s = 0; s < T; s++)
            for (int k = 0; k < keep; k++) {
                double c = 0.0, sn = 0.0;
                for (int d = 0; d < nin; d++) {
                    int j = (int)((long)(d + off) * k % D);
                    c += x[(size_t)s * nin + d] * f->cos_d[j];
                    sn += x[(size_t)s * nin + d] * f->sin_d[j];
                }
                ac[(size_t)s * keep + k] = c;
                as[(size_t)s * keep + k] = sn;
            }
        for (int t = 0; t < T; t++)
            for (int k = 0; k < keep; k++) {
                double y = 0.0;
                for (int s = 0; s < T; s++) {
                    int j = (int)((long)t * s % T);
                    y += f->cos_t[j] * ac[(size_t)s * keep + k] - f->sin_t[j] * as[(size_t)s * keep + k];
                }
                out[((size_t)b * T + t) * keep + k] = (float)y;
            }
    }
}

static void naive_backward(fastfnet_fourier *f, float *dinp, const float *dout, int B) {
    int T = f->T, D = f->D, keep = f->keep;
    double *hc = f->nv_c, *hs = f->nv_s;
    for (int b = 0; b < B; b++) {
        const float *g = dout + (size_t)b * T * keep;
        for (int s = 0; s < T; s++)
            for (int k = 0; k < keep; k++) {
                double c = 0.0, sn = 0.0;
                for (int t = 0; t < T; t++) {
                    int j = (int)((long)t * s % T);
                    c += f->cos_t[j] * g[(size_t)t * keep + k];
                    sn += f->sin_t[j] * g[(size_t)t * keep + k];
                }
                hc[(size_t)s * keep + k] = c;
                hs[(size_t)s * keep + k] = sn;
            }
        for (int s = 0; s < T; s++)
            for (int d = 0; d < f->nin; d++) {
                double v = 0.0;
                for (int k = 0; k < keep; k++) {
                    int j = (int)((long)(d + f->off) * k % D);
                    v += hc[(size_t)s * keep + k] * f->cos_d[j] - hs[(size_t)s * keep + k] * f->sin_d[j];
                }
                dinp[((size_t)b * T + s) * f->nin + d] += (float)v;
            }
    }
}

/* ---- dispatch ---- */

int fastfnet_fourier_forward(fastfnet_fourier *f, float *out, const float *inp, int B) {
    if (B < 0 || B > f->max_b) return -1;
    if (B == 0) return 0;
    switch (f->impl) {
    case FASTFNET_FOURIER_FFT: fft_forward(f, out, inp, B); break;
    case FASTFNET_FOURIER_MATRIX: matrix_apply(f, out, f->keep, inp, B, 0); break;
    default: naive_forward(f, out, inp, B); break;
    }
    return 0;
}

int fastfnet_fourier_backward(fastfnet_fourier *f, float *dinp, const float *dout, int B) {
    if (B < 0 || B > f->max_b) return -1;
    if (B == 0) return 0;
    switch (f->impl) {
    case FASTFNET_FOURIER_FFT: fft_backward(f, dinp, dout, B); break;
    case FASTFNET_FOURIER_MATRIX:
        /* keep == D: the map is self-adjoint, so reuse the half-column forward */
        if (f->keep == f->D) matrix_apply(f, dinp, f->D, dout, B, 1);
        else matrix_backward_half(f, dinp, dout, B);
        break;
    default: naive_backward(f, dinp, dout, B); break;
    }
    return 0;
}
