/* bench.c: times fastfnet's training step (forward + backward + AdamW) and inference for one model shape,
 * in this process, and reports median/min/max, tokens/s, model GFLOP/s, parameters and peak RSS as one JSON
 * line. `--sgemm-peak` instead measures sgemm's GFLOP/s at 2048^3, OpenBLAS's and fastfnet's own (src/engine/gemm.c)
 * interleaved, and reports the faster as the peak (the MFU denominator); `--sgemm-shape M,N,K,TA,TB` the same at one
 * product's shape (row-major, TA/TB 1 for a transposed operand); `--params` prints the
 * parameter count of the model with every head (no allocation); `--fourier` times the Fourier layer alone
 * (forward + backward) for FNet's map and the two transforms of the authors' Fast-FNet block, interleaved;
 * `--blas-core` prints the BLAS kernels in use (fastfnet_blas_core), for the harness to give PyTorch the same.
 * usage: bench [--arch A --hidden E --layers N --intermediate F --heads H --reduce L --residual R --pad P
 *               --block-ffn F --attention-layers K --vocab V] --seq T --batch B [--mode train|infer|both]
 *              [--repeats R] [--warmup W] [--threads N] [--gemm auto|openblas] | --sgemm-peak | --sgemm-shape M,N,K,TA,TB [--threads N] | --params | --fourier | --blas-core */
#include "blas.h"
#include "gemm.h"
#include "fft.h"
#include "model.h"
#include "simd.h"
#include "train.h"
#include "util.h"
#include "die.h"
#include "options.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* CPU seconds of this process: with one thread, the work of a step whatever else the machine runs */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Matrix-product FLOPs of one forward pass (multiply-adds x 2): every Linear, attention's two T x T
 * products and, for Fourier layers, the FFT's 2.5 N log2 N per real transform (an estimate; FFTW's count
 * differs a little). Backward is twice the forward. */
static double forward_flops(const fastfnet_config *c, int B, int T) {
    double BT = (double)B * T, f = 0;
    int E = c->hidden_size;
    f += 2 * BT * E * E; /* embedding projection */
    for (int l = 0; l < c->num_layers; l++) {
        int W = fastfnet_config_width(c, l), Wo = fastfnet_config_width(c, l + 1);
        int F = fastfnet_width_ffn(c, Wo);
        if (c->mixing[l] == FASTFNET_MIX_FAST_FOURIER_PAD) {
            /* the transform as computed (a padded input's sequence transform runs on its W/2 real columns) */
            int H = W / 2;
            F = fastfnet_config_block_ffn_width(c, W);
            if (fastfnet_padblock_narrow_in(c, l)) f += B * 2.5 * H * T * log2(T > 1 ? T : 2) + (B * (T / 2 + 1.0)) * 5.0 * W * log2(W);
            else f += BT * 2.5 * W * log2(W > 1 ? W : 2) + (double)B * H * 5.0 * T * log2(T > 1 ? T : 2);
            if (!fastfnet_padblock_narrow_in(c, l) && c->residual == FASTFNET_RES_DENSE) f += 2 * BT * W * H;
            f += 2 * 2 * BT * H * F;
            continue;
        }
        if (c->mixing[l] == FASTFNET_MIX_ATTENTION) f += 4 * 2 * BT * W * W + 2 * 2 * BT * T * W;
        else {
            f += BT * 2.5 * W * log2(W > 1 ? W : 2) + (double)B * (W / 2 + 1) * 5.0 * T * log2(T > 1 ? T : 2);
            if (W != Wo && c->residual == FASTFNET_RES_DENSE) f += 2 * BT * W * Wo;
        }
        f += 2 * 2 * BT * Wo * F;
    }
    int Df = fastfnet_config_width(c, c->num_layers);
    f += 2.0 * B * Df * Df + 2.0 * B * Df * c->num_labels;
    return f;
}

static double median_of(double *t, int n, double *mn, double *mx) {
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    *mn = t[0], *mx = t[n - 1];
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Median seconds of forward + backward of one Fourier plan on (B,T,in) -> (B,T,out). */
static double time_fourier(fastfnet_fourier *f, float *out, float *in, float *din, int B, int reps) {
    double t[32];
    if (reps > 32) reps = 32;
    fastfnet_fourier_forward(f, out, in, B);
    for (int r = 0; r < reps; r++) {
        double t0 = fastfnet_now();
        fastfnet_fourier_forward(f, out, in, B);
        fastfnet_fourier_backward(f, din, out, B);
        t[r] = fastfnet_now() - t0;
    }
    double mn, mx;
    return median_of(t, reps, &mn, &mx);
}

/* FNet's layer (W -> W), the authors' first block (W -> W/2 of a full input), a later block reading its W/2
 * values directly (values first, and centred), and that later block run on an explicitly zero-padded copy
 * of its input (the copy itself not timed). Rounds interleave the five. */
static void bench_fourier(int B, int T, int W, int reps, fastfnet_fourier_impl impl) {
    if (getenv("BENCH_MEASURE")) fastfnet_fft_set_measure(1); /* FFTW_MEASURE plans, as FASTFNET_WISDOM gives */
    size_t n = (size_t)B * T * W;
    float *in = fastfnet_calloc(sizeof(float) * n), *out = fastfnet_calloc(sizeof(float) * n), *din = fastfnet_calloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) in[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    fastfnet_fourier *f[5] = {fastfnet_fourier_init(B, T, W, W, impl), fastfnet_fourier_init(B, T, W, W / 2, impl),
                         fastfnet_fourier_init_padded(B, T, W, 0, impl), fastfnet_fourier_init_padded(B, T, W, W / 4, impl),
                         fastfnet_fourier_init(B, T, W, W / 2, impl)};
    static const char *name[5] = {"fnet", "authors_block1", "authors_narrow_first", "authors_narrow_centred", "authors_on_padded_copy"};
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 5; k++) {
            double t = time_fourier(f[k], out, in, din, B, reps);
            best[k] = t < best[k] ? t : best[k];
        }
    printf("{\"impl\": \"fastfnet-fourier\", \"batch\": %d, \"seq\": %d, \"width\": %d, \"fourier_impl\": \"%s\"", B, T, W,
           fastfnet_fourier_impl_name(fastfnet_fourier_impl_chosen(f[2])));
    for (int k = 0; k < 5; k++) printf(", \"%s_fwd_bwd_s\": %.6f", name[k], best[k]);
    printf("}\n");
    for (int k = 0; k < 5; k++) fastfnet_fourier_free(f[k]);
    fastfnet_free(in), fastfnet_free(out), fastfnet_free(din);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* The command line: the model's shape (as fastfnet's own flags), the batch, and what to measure. */
typedef struct {
    fastfnet_arch_opts a;
    int B, T, repeats, warmup, threads, sgemm, params, fourier;
    int shape[5]; /* --sgemm-shape: M, N, K, TA, TB */
    const char *mode, *gemm;
} bench_opts;

/* --dropout: a probability in [0, 1). */
static double dropout_arg(const char *v) {
    char *end;
    double p = strtod(v, &end);
    if (end == v || *end || !(p >= 0 && p < 1)) fastfnet_die("bench: --dropout: '%s' is not a number in [0, 1)", v);
    return p;
}

/* An integer flag's value in lo..hi, or a one-line error naming the flag. */
static int int_arg(const char *flag, const char *v, long lo, long hi) {
    char err[256];
    long x;
    if (fastfnet_opt_long(flag, v, lo, hi, &x, err, sizeof err)) fastfnet_die("bench: %s", err);
    return (int)x;
}

/* --sgemm-shape M,N,K,TA,TB: three sizes in 1..16384 and two transpose flags, 0 or 1 */
static void sgemm_shape_arg(const char *v, int *shape) {
    char tail;
    if (sscanf(v, "%d,%d,%d,%d,%d%c", &shape[0], &shape[1], &shape[2], &shape[3], &shape[4], &tail) != 5)
        fastfnet_die("bench: --sgemm-shape '%s' is not M,N,K,TA,TB (e.g. 4096,1024,256,0,1)", v);
    for (int i = 0; i < 5; i++)
        if (i < 3 ? shape[i] < 1 || shape[i] > 16384 : shape[i] != 0 && shape[i] != 1)
            fastfnet_die("bench: --sgemm-shape '%s': sizes are 1..16384 and transposes 0 or 1", v);
}

static void parse_args(bench_opts *o, int argc, char **argv) {
    fastfnet_arch_opts *a = &o->a;
    fastfnet_arch_defaults(a);
    a->vocab = 261;
    a->hidden = 256;
    a->layers = 4;
    a->dropout = 0.1;
    o->B = 8, o->T = 512, o->repeats = 5, o->warmup = 2, o->threads = 2, o->sgemm = 0, o->params = 0, o->fourier = 0;
    for (int i = 0; i < 5; i++) o->shape[i] = i < 3 ? 2048 : 0;
    o->mode = "both";
    o->gemm = "auto";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(k, name) && v && ++i)
        if (OPT("--arch")) a->arch = v;
        else if (OPT("--hidden")) a->hidden = int_arg("--hidden", v, 1, 1L << 20);
        else if (OPT("--layers")) a->layers = int_arg("--layers", v, 1, 1L << 20);
        else if (OPT("--intermediate")) a->intermediate = int_arg("--intermediate", v, 0, 1L << 20);
        else if (OPT("--heads")) a->heads = int_arg("--heads", v, 0, 1L << 20);
        else if (OPT("--reduce")) a->reduce = v;
        else if (OPT("--residual")) a->residual = v;
        else if (OPT("--pad")) a->pad = v;
        else if (OPT("--block-ffn")) a->block_ffn = v;
        else if (OPT("--attention-layers")) a->attention_layers = int_arg("--attention-layers", v, 0, 1L << 20);
        else if (OPT("--mixing")) a->mixing = v;
        else if (OPT("--vocab")) a->vocab = int_arg("--vocab", v, 1, 1L << 20);
        else if (OPT("--dropout")) a->dropout = dropout_arg(v);
        else if (OPT("--fourier-impl")) a->fourier_impl = v;
        else if (OPT("--seq")) o->T = int_arg("--seq", v, 1, 1L << 20);
        else if (OPT("--batch")) o->B = int_arg("--batch", v, 1, 1L << 20);
        else if (OPT("--mode")) o->mode = v;
        else if (OPT("--repeats")) o->repeats = int_arg("--repeats", v, 1, 1L << 20);
        else if (OPT("--warmup")) o->warmup = int_arg("--warmup", v, 0, 1L << 20);
        else if (OPT("--threads")) o->threads = int_arg("--threads", v, 1, 1024);
        else if (OPT("--gemm")) o->gemm = v;
        else if (!strcmp(k, "--sgemm-peak")) o->sgemm = 1;
        else if (OPT("--sgemm-shape")) o->sgemm = 1, sgemm_shape_arg(v, o->shape);
        else if (!strcmp(k, "--params")) o->params = 1;
        else if (!strcmp(k, "--fourier")) o->fourier = 1;
        else fastfnet_die("bench: unknown or incomplete option '%s'", k);
    }
    if (strcmp(o->mode, "train") && strcmp(o->mode, "infer") && strcmp(o->mode, "both"))
        fastfnet_die("bench: --mode '%s' must be train, infer or both", o->mode);
    if (strcmp(o->gemm, "auto") && strcmp(o->gemm, "openblas") && strcmp(o->gemm, "ab"))
        fastfnet_die("bench: --gemm '%s' must be auto (fastfnet's own products where it has a kernel), openblas, or ab "
                     "(both, step by step)", o->gemm);
}

/* the median and the fastest of reps timed products, per backend (0: OpenBLAS, 1: fastfnet's own), interleaved */
static void time_sgemm(const int *sh, int reps, int nb, const float *A, const float *Bm, float *C, double *med, double *mn) {
    int M = sh[0], N = sh[1], K = sh[2], ta = sh[3], tb = sh[4], lda = ta ? M : K, ldb = tb ? K : N;
    double t[2][16], mx;
    for (int r = -1; r < reps; r++)
        for (int b = 0; b < nb; b++) {
            fastfnet_gemm_set_enabled(nb == 2 ? b : 1);
            double t0 = fastfnet_now();
            fastfnet_sgemm(ta, tb, M, N, K, 1, A, lda, Bm, ldb, 0, C, N);
            if (r >= 0) t[b][r] = fastfnet_now() - t0; /* r = -1: one untimed call each */
        }
    for (int b = 0; b < nb; b++) med[b] = median_of(t[b], reps, &mn[b], &mx);
}

/* sgemm's GFLOP/s on one product shape (sh: M, N, K, TA, TB; 2048^3 is the MFU denominator): OpenBLAS's and,
 * unless --gemm openblas or it has no kernel here, fastfnet's own, the faster of the two reported as the figure */
static void bench_sgemm(int threads, int repeats, const int *sh, const char *gemm) {
    int M = sh[0], N = sh[1], K = sh[2];
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *A = fastfnet_xmalloc(sizeof(float) * na), *Bm = fastfnet_xmalloc(sizeof(float) * nb), *C = fastfnet_xmalloc(sizeof(float) * nc);
    for (size_t i = 0; i < na; i++) A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < nb; i++) Bm[i] = (float)(i % 5) * 0.1f;
    int reps = repeats > 16 ? 16 : repeats, both = strcmp(gemm, "openblas") && strcmp(fastfnet_gemm_name(), "openblas");
    double med[2] = {0, 0}, mn[2] = {0, 0}, fl = 2.0 * M * N * K;
    time_sgemm(sh, reps, both ? 2 : 1, A, Bm, C, med, mn);
    int w = both && med[1] < med[0];
    printf("{\"impl\": \"sgemm\", \"n\": %d, \"m\": %d, \"k\": %d, \"ta\": %d, \"tb\": %d, \"threads\": %d, "
           "\"gflops_median\": %.2f, \"gflops_max\": %.2f, \"gemm\": \"%s\", \"openblas_gflops_median\": %.2f, "
           "\"fastfnet_gflops_median\": %.2f, \"repeats\": %d, \"blas_core\": \"%s\"}\n",
           N, M, K, sh[3], sh[4], threads, fl / med[w] / 1e9, fl / mn[w] / 1e9, w ? fastfnet_gemm_name() : "openblas",
           fl / med[0] / 1e9, both ? fl / med[1] / 1e9 : 0.0, reps, fastfnet_blas_core());
    fastfnet_gemm_set_enabled(strcmp(gemm, "openblas") != 0);
    free(A), free(Bm), free(C);
}

static void print_params(const fastfnet_arch_opts *a, const fastfnet_config *c) {
    size_t enc, total = fastfnet_config_num_params(c, &enc); /* every head: mlm, nsp, classifier, pooler */
    printf("{\"impl\": \"fastfnet-params\", \"arch\": \"%s\", \"residual\": \"%s\", \"pad\": \"%s\", \"block_ffn\": \"%s\", "
           "\"hidden\": %d, \"layers\": %d, \"intermediate\": %d, \"vocab\": %d, \"positions\": %d, \"params\": %zu, \"encoder_params\": %zu}\n",
           a->arch, fastfnet_residual_name(c->residual), fastfnet_pad_name(c->pad), fastfnet_block_ffn_name(c->block_ffn), c->hidden_size,
           c->num_layers, c->intermediate_size, c->vocab_size, c->max_position, total, enc);
}

/* The opening of the model's JSON line (its shape and the run's settings); the timings follow on it. */
static void print_model_header(const bench_opts *o, const fastfnet_config *c, const fastfnet_model *m) {
    const fastfnet_arch_opts *a = &o->a;
    printf("{\"impl\": \"fastfnet\", \"arch\": \"%s\", \"reduce\": \"%s\", \"residual\": \"%s\", \"pad\": \"%s\", \"block_ffn\": \"%s\", "
           "\"hidden\": %d, \"layers\": %d, \"intermediate\": %d, \"seq\": %d, \"batch\": %d, \"threads\": %d, \"params\": %zu, \"repeats\": %d, "
           "\"kernels\": \"%s\", \"gemm\": \"%s\", \"blas_core\": \"%s\"",
           a->arch, a->reduce ? a->reduce : "", a->residual ? a->residual : "", fastfnet_pad_name(c->pad), fastfnet_block_ffn_name(c->block_ffn),
           c->hidden_size, c->num_layers, c->intermediate_size, o->T, o->B, o->threads, fastfnet_model_num_params(m), o->repeats, fastfnet_kern()->name, fastfnet_gemm_name(), fastfnet_blas_core());
}

/* warmup + repeats training steps (forward + backward + AdamW), wall-clock in t and CPU time in tc; the
 * warmup steps are left out of the statistics. */
static void bench_train(fastfnet_model *m, fastfnet_optimizer *opt, float lr, const fastfnet_batch *bt, int warmup,
                        int repeats, double fl, double *t, double *tc) {
    int B = bt->B, T = bt->T;
    for (int i = 0; i < warmup + repeats; i++) {
        double t0 = fastfnet_now(), c0 = cpu_now();
        fastfnet_model_zero_grad(m);
        fastfnet_model_forward(m, bt, 1);
        fastfnet_model_backward(m);
        fastfnet_optimizer_step(opt, lr, i + 1);
        t[i] = fastfnet_now() - t0;
        tc[i] = cpu_now() - c0;
    }
    double mn, mx, med = median_of(t + warmup, repeats, &mn, &mx), cmn, cmx, cmed = median_of(tc + warmup, repeats, &cmn, &cmx);
    printf(", \"train_step_s_median\": %.5f, \"train_step_s_min\": %.5f, \"train_step_s_max\": %.5f, \"train_tokens_per_s\": %.1f, "
           "\"train_gflops\": %.2f, \"train_step_cpu_s_median\": %.5f", med, mn, mx, B * T / med, 3 * fl / med / 1e9, cmed);
}

/* --gemm ab: training steps (train = 1) or inference passes alternating between OpenBLAS's products and
 * fastfnet's own, so a busy machine slows both alike; the two medians and their ratio */
static void bench_gemm_ab(fastfnet_model *m, fastfnet_optimizer *opt, float lr, const fastfnet_batch *bt, int train,
                          int warmup, int repeats, double *t) {
    double *u = t + warmup + repeats, mn, mx;
    for (int i = 0; i < warmup + repeats; i++)
        for (int b = 0; b < 2; b++) {
            fastfnet_gemm_set_enabled(b);
            double t0 = fastfnet_now();
            if (train) fastfnet_model_zero_grad(m);
            fastfnet_model_forward(m, bt, train);
            if (train) fastfnet_model_backward(m), fastfnet_optimizer_step(opt, lr, i + 1);
            (b ? u : t)[i] = fastfnet_now() - t0;
        }
    double a = median_of(t + warmup, repeats, &mn, &mx), f = median_of(u + warmup, repeats, &mn, &mx);
    const char *w = train ? "train" : "infer";
    printf(", \"%s_openblas_s_median\": %.5f, \"%s_fastfnet_s_median\": %.5f, \"%s_fastfnet_speedup\": %.4f", w, a, w, f, w, a / f);
}

/* Inference over every row, then classification inference ([CLS] only in the last layer), timed as above. */
static void bench_infer(fastfnet_model *m, const fastfnet_batch *bt, int warmup, int repeats, double fl, double *t,
                        double *tc) {
    int B = bt->B, T = bt->T;
    for (int i = 0; i < warmup + repeats; i++) {
        double t0 = fastfnet_now(), c0 = cpu_now();
        fastfnet_model_forward(m, bt, 0);
        t[i] = fastfnet_now() - t0;
        tc[i] = cpu_now() - c0;
    }
    double mn, mx, med = median_of(t + warmup, repeats, &mn, &mx), cmn, cmx, cmed = median_of(tc + warmup, repeats, &cmn, &cmx);
    printf(", \"infer_step_s_median\": %.5f, \"infer_step_s_min\": %.5f, \"infer_step_s_max\": %.5f, \"infer_tokens_per_s\": %.1f, "
           "\"infer_gflops\": %.2f, \"infer_cpu_tokens_per_s\": %.1f", med, mn, mx, B * T / med, fl / med / 1e9, B * T / cmed);
    /* classification inference: the last layer's per-token work for [CLS] only (same logits) */
    fastfnet_batch bcls = *bt;
    bcls.pooled_only = 1;
    for (int i = 0; i < warmup + repeats; i++) {
        double t0 = fastfnet_now();
        fastfnet_model_forward(m, &bcls, 0);
        t[i] = fastfnet_now() - t0;
    }
    med = median_of(t + warmup, repeats, &mn, &mx);
    printf(", \"infer_cls_step_s_median\": %.5f, \"infer_cls_tokens_per_s\": %.1f", med, B * T / med);
}

/* The model with a classifier on a fixed random batch: training and/or inference per --mode, one JSON line. */
static void bench_model(const bench_opts *o, const fastfnet_config *cfg) {
    fastfnet_config c = *cfg;
    int B = o->B, T = o->T, repeats = o->repeats, warmup = o->warmup;
    char err[512];
    c.heads = FASTFNET_HEAD_CLS | FASTFNET_HEAD_POOLER;
    int train = strcmp(o->mode, "infer") != 0, infer = strcmp(o->mode, "train") != 0;
    fastfnet_model *m = fastfnet_model_create(&c, 1, err, sizeof err);
    if (!m) fastfnet_die("%s", err);
    if (fastfnet_model_reserve(m, B, T, train, err, sizeof err)) fastfnet_die("%s", err);
    int *ids = fastfnet_xmalloc(sizeof(int) * (size_t)B * T), *lab = fastfnet_xmalloc(sizeof(int) * B);
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 7);
    for (int i = 0; i < B * T; i++) ids[i] = 5 + (int)(fastfnet_rng_u64(&r) % (uint64_t)(c.vocab_size - 5));
    for (int i = 0; i < B; i++) lab[i] = i % 2;
    fastfnet_batch bt = {.B = B, .T = T, .input_ids = ids, .cls_labels = lab};
    double fl = forward_flops(&c, B, T);
    double *t = fastfnet_xmalloc(sizeof(double) * 2 * (repeats + warmup)), *tc = fastfnet_xmalloc(sizeof(double) * (repeats + warmup));
    print_model_header(o, &c, m);
    fastfnet_adamw hp = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f};
    fastfnet_optimizer *opt = train ? fastfnet_optimizer_create(m, &hp, 0, 0, err, sizeof err) : NULL;
    if (train && !opt) fastfnet_die("%s", err);
    int ab = !strcmp(o->gemm, "ab");
    if (train) (ab ? bench_gemm_ab(m, opt, hp.lr, &bt, 1, warmup, repeats, t) : bench_train(m, opt, hp.lr, &bt, warmup, repeats, fl, t, tc));
    /* inference as the CLI runs it: the FFN weights packed once (the training steps' optimizer dropped any packing) */
    int packed = infer && strcmp(o->gemm, "openblas") && fastfnet_model_pack_weights(m) == 0;
    if (infer) (ab ? bench_gemm_ab(m, opt, hp.lr, &bt, 0, warmup, repeats, t) : bench_infer(m, &bt, warmup, repeats, fl, t, tc));
    if (infer) printf(", \"packed_weights\": %d", packed);
    /* what the process holds at its peak: the parameters (x4 with gradients and AdamW moments), the arena, and the
     * packed FFN weights of the inference that follows */
    double est = (double)fastfnet_model_num_params(m) * 4 * (train ? 4 : 1) + (double)fastfnet_model_activation_bytes(&c, B, T, train) +
                 (packed ? (double)fastfnet_model_pack_bytes(m) : 0.0);
    printf(", \"model_flops_forward\": %.4g, \"peak_rss_mib\": %.1f, \"estimate_mib\": %.1f}\n", fl, peak_rss_mib(), est / 1048576.0);
    free(ids), free(lab), free(t), free(tc);
    fastfnet_optimizer_free(opt);
    fastfnet_model_free(m);
}

int main(int argc, char **argv) {
    bench_opts o;
    if (argc == 2 && !strcmp(argv[1], "--blas-core")) {
        printf("%s\n", fastfnet_blas_core());
        return 0;
    }
    parse_args(&o, argc, argv);
    fastfnet_set_threads(o.threads);
    fastfnet_gemm_set_enabled(strcmp(o.gemm, "openblas") != 0);
    if (o.sgemm) {
        bench_sgemm(o.threads, o.repeats, o.shape, o.gemm);
        return 0;
    }
    if (o.fourier) {
        fastfnet_fourier_impl fi = FASTFNET_FOURIER_AUTO;
        if (o.a.fourier_impl && fastfnet_fourier_impl_parse(o.a.fourier_impl, &fi))
            fastfnet_die("bench: --fourier-impl '%s'", o.a.fourier_impl);
        bench_fourier(o.B, o.T, o.a.hidden, o.repeats, fi);
        return 0;
    }
    fastfnet_config c;
    char err[512];
    o.a.max_pos = o.T;
    if (fastfnet_arch_build(&c, &o.a, err, sizeof err)) fastfnet_die("%s", err);
    if (o.params) {
        print_params(&o.a, &c);
        return 0;
    }
    bench_model(&o, &c);
    return 0;
}
