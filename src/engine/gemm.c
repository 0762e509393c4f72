/* gemm.c: fastfnet's own single-precision matrix product, beside OpenBLAS behind blas.h.
 *
 * GotoBLAS's structure, kept small: K is cut into blocks of at most GEMM_KC; for each block, B (kc x N) is packed
 * once into panels of NR columns (Bp[p][k][j]), shared by the threads; each thread owns a range of C's rows and,
 * GEMM_MC rows at a time, runs the register-tile kernel (gemm_kern.h) over every (panel, group of MR rows). A
 * row-major A with alpha 1 is read where it lies; otherwise (A transposed, or alpha applied) the chunk's rows are
 * packed into groups (Ap[g][k][r]) first. beta is 0 (the first K block stores, adding a linear layer's bias if
 * there is one) or 1 (every block adds). Products the kernel does not take return nonzero and go to OpenBLAS.
 *
 * Why: packing and threading are then ours. A weight can be packed once for inference (fastfnet_gemm_wpack), and
 * a narrow product (Fast-FNet's 128 columns) loses less. On AMD Zen 4 at FNet-Base's FFN shapes OpenBLAS 0.3.21
 * gives 172-183 GFLOP/s, this 176-189 packing both operands and 188-202 from a packed weight (docs/PERFORMANCE.md,
 * round 9). The tile's sums run in k order, so results differ from OpenBLAS's in rounding only. */
#include "gemm.h"
#include "simd.h"
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GEMM_HAVE 1
#else
#define GEMM_HAVE 0
#endif

#define GEMM_KC 768 /* K block: a B panel (kc x NR) stays in L1/L2 while every row group of a chunk passes */
#define GEMM_MC 96  /* rows of A a thread takes at a time (packed, where it is): 96 x 768 floats, 288 KiB, in L2 */

typedef void (*gemm_tile_fn)(int kc, const float *Ap, const float *Bp, float *C, long ldc, int mr, int nr, int acc,
                             const float *bias, float *cs);
typedef void (*gemm_tiled_fn)(int kc, const float *A, long lda, const float *Bp, float *C, long ldc, int nr, int acc,
                              const float *bias, float *cs);
typedef struct {
    const char *name;
    int mr, nr;
    gemm_tile_fn tile;   /* from packed A */
    gemm_tiled_fn tiled; /* from A as it lies: full row groups */
} gemm_isa;

typedef struct {
    const float *bias; /* N floats added to every row of C by the first K block (beta 0 only), or NULL */
    int mul;           /* C holds a factor per element: C = op(A) op(B) C (one K block, the threads split the panels) */
    float *colsum;     /* with mul: N floats, each += its column of the new C, rows in order; or NULL */
} gemm_epi;

typedef struct {
    const gemm_isa *g;
    int ta, tb, M, N, K, P, nkb, kcmax, acc0, nsplit; /* nsplit: the threads split the panels, not the rows */
    float alpha;
    const float *A, *B;
    long lda, ldb, ldc;
    float *C, *Bp, *Ap; /* Bp: P panels of kcmax x NR; Ap: GEMM_MC x kcmax per thread */
    const float *pre;   /* B packed beforehand (a fastfnet_gemm_wpack): K block b at b P kcmax NR, nothing to pack */
    gemm_epi e;         /* what is done to each tile as it is stored */
} gemm_job;

static inline long lmin(long a, long b) { return a < b ? a : b; }

/* floats of one K block's packed B: P panels of kcmax x NR */
static inline size_t panels_floats(const gemm_job *j) { return (size_t)j->P * j->kcmax * j->g->nr; }

#if GEMM_HAVE
/* Everything from here to the AVX-512 tile is compiled for AVX2 + FMA whatever the build's baseline (the
 * sanitizer build has none), and runs only where gemm_pick found them. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#define GV __m256
#define GW 8
#define GMR 6
#define GNV 2
#define GSUF avx2
#define GLOAD _mm256_load_ps
#define GLOADU _mm256_loadu_ps
#define GBCAST _mm256_broadcast_ss
#define GFMA _mm256_fmadd_ps
#define GADD _mm256_add_ps
#define GMUL _mm256_mul_ps
#define GZERO _mm256_setzero_ps
#define GSTORE _mm256_storeu_ps
#include "gemm_kern.h"
#undef GV
#undef GW
#undef GMR
#undef GNV
#undef GSUF
#undef GLOAD
#undef GLOADU
#undef GBCAST
#undef GFMA
#undef GADD
#undef GMUL
#undef GZERO
#undef GSTORE


/* v[0..7] (8 x 8 floats) transposed in place */
static inline void transpose8(__m256 v[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]), t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            u[i + h] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], 0x44);
            u[i + h + 2] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], 0xEE);
        }
    /* u[0..3]: columns 0,1,2,3 (in u[0], u[2], u[1], u[3] order) of rows 0-3 | 4-7 lanes; u[4..7] of rows 4-7 */
    static const int col[4] = {0, 2, 1, 3};
    for (int c = 0; c < 4; c++) {
        v[c] = _mm256_permute2f128_ps(u[col[c]], u[4 + col[c]], 0x20);
        v[c + 4] = _mm256_permute2f128_ps(u[col[c]], u[4 + col[c]], 0x31);
    }
}

/* the first w (1..8) floats of v to p (no masked stores: AMD runs those slowly) */
static inline void store_n(float *p, __m256 v, int w) {
    if (w >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 h = _mm256_castps256_ps128(v);
    if (w >= 4) _mm_storeu_ps(p, h), h = _mm256_extractf128_ps(v, 1), p += 4, w -= 4;
    if (w >= 2) _mm_storel_pi((__m64 *)p, h), h = _mm_movehl_ps(h, h), p += 2, w -= 2;
    if (w >= 1) _mm_store_ss(p, h);
}

/* P[k][r] = alpha X[r0 + r][k0 + k] for r < n, 0 for n <= r < W (W floats per k): X's rows become P's columns, 8 x 8
 * floats at a time through registers */
static void pack_t(float *P, int W, const float *X, long ld, long r0, int n, long k0, int kc, float alpha) {
    __m256 va = _mm256_set1_ps(alpha);
    int k = 0;
    for (; k + 8 <= kc; k += 8)
        for (int rb = 0; rb < W; rb += 8) {
            __m256 v[8];
            for (int i = 0; i < 8; i++)
                v[i] = rb + i < n ? _mm256_mul_ps(va, _mm256_loadu_ps(X + (r0 + rb + i) * ld + k0 + k)) : _mm256_setzero_ps();
            transpose8(v);
            for (int i = 0; i < 8; i++) store_n(P + (size_t)(k + i) * W + rb, v[i], W - rb);
        }
    for (; k < kc; k++)
        for (int r = 0; r < W; r++) P[(size_t)k * W + r] = r < n ? alpha * X[(r0 + r) * ld + k0 + k] : 0.0f;
}

/* p[r] = alpha x[r] for r < n, 0 for n <= r < W: 8 and 4 floats at a time */
static inline void copy_n(float *p, const float *x, int n, int W, __m256 va) {
    int r = 0;
    for (; r + 8 <= n; r += 8) _mm256_storeu_ps(p + r, _mm256_mul_ps(va, _mm256_loadu_ps(x + r)));
    if (r + 4 <= n) _mm_storeu_ps(p + r, _mm_mul_ps(_mm256_castps256_ps128(va), _mm_loadu_ps(x + r))), r += 4;
    for (; r < n; r++) p[r] = _mm256_cvtss_f32(va) * x[r];
    for (; r < W; r++) p[r] = 0.0f;
}

/* nb blocks of W: block b holds P[b][k][r] = alpha X'[r0 + b W + r][k0 + k] for b W + r < n (0 past n), where X' is X
 * transposed (trans: X's rows become the blocks' columns, 8 x 8 at a time) or X itself read by rows (k outer, so
 * each of X's rows is read once, contiguously, for every block) */
static void pack_blocks(float *P, int W, int nb, int trans, const float *X, long ld, long r0, long n, long k0, int kc,
                        float alpha) {
    if (trans) {
        for (int b = 0; b < nb; b++)
            pack_t(P + (size_t)b * kc * W, W, X, ld, r0 + (long)b * W, (int)lmin(W, n - (long)b * W), k0, kc, alpha);
        return;
    }
    __m256 va = _mm256_set1_ps(alpha);
    for (int k = 0; k < kc; k++) {
        const float *x = X + (k0 + k) * ld + r0;
        /* the row 8 ahead: rows are read in short pieces (a chunk's or a thread's columns) a row apart, which the
         * hardware prefetcher does not follow; without this, packing took 28% of A^T B at 1024 x 256 x 4096
         * (AMD Zen 5), 1.11-1.19x OpenBLAS's time, with it 0.97-1.03x */
        if (k + 8 < kc)
            for (long c = 0; c < n; c += 16) _mm_prefetch((const char *)(x + 8 * ld + c), _MM_HINT_T0);
        for (int b = 0; b < nb; b++)
            copy_n(P + ((size_t)b * kc + k) * W, x + (long)b * W, (int)lmin(W, n - (long)b * W), W, va);
    }
}

/* one thread's rows [r0, r1) against panels [p0, p1) of one K block, GEMM_MC rows at a time. A row-major A (with
 * alpha 1) is read where it lies, and only a chunk's last, partial row group is packed; a transposed A is packed. */
static void gemm_rows(const gemm_job *j, const float *Bb, float *Ap, long r0, long r1, int p0, int p1, long k0, int kc,
                      int acc) {
    int MR = j->g->mr, NR = j->g->nr, direct = !j->ta && j->alpha == 1.0f;
    for (long i0 = r0; i0 < r1; i0 += GEMM_MC) {
        long i1 = lmin(i0 + GEMM_MC, r1);
        int G = (int)((i1 - i0 + MR - 1) / MR), part = (int)((i1 - i0) % MR);
        if (!direct)
            pack_blocks(Ap, MR, G, !j->ta, j->A, j->lda, i0, i1 - i0, k0, kc, j->alpha);
        else if (part)
            pack_blocks(Ap, MR, 1, 1, j->A, j->lda, i1 - part, part, k0, kc, 1.0f);
        for (int p = p0; p < p1; p++) {
            const float *Bp = Bb + (size_t)p * kc * NR;
            int nr = (int)lmin(NR, j->N - (long)p * NR);
            for (int g = 0; g < G; g++) {
                long i = i0 + (long)g * MR;
                int mr = (int)lmin(MR, i1 - i);
                /* the next tile's C into L1 while this one is computed. A row of C is 4 KiB after the last at FNet's
                 * widths, which the hardware prefetcher does not follow: without this, C += A B at 4096 x 1024 x 256
                 * took 1.14-1.23x OpenBLAS's time on AMD Zen 5, with it 1.00-1.06x (docs/PERFORMANCE.md, round 10).
                 * Inline: GCC deletes a call to a function that only prefetches, as one without effects. */
                int gn = g + 1 < G ? g + 1 : 0, pn = gn ? p : p + 1;
                long in = i0 + (long)gn * MR;
                for (long r = 0; pn < p1 && r < lmin(MR, i1 - in); r++) {
                    const float *cn = j->C + (in + r) * j->ldc + (long)pn * NR;
                    _mm_prefetch((const char *)cn, _MM_HINT_T0);
                    _mm_prefetch((const char *)(cn + NR - 1), _MM_HINT_T0);
                }
                float *C = j->C + i * j->ldc + (long)p * NR, *cs = j->e.colsum ? j->e.colsum + (long)p * NR : NULL;
                const float *bias = !acc && j->e.bias ? j->e.bias + (long)p * NR : NULL;
                if (direct && mr == MR)
                    j->g->tiled(kc, j->A + i * j->lda + k0, j->lda, Bp, C, j->ldc, nr, acc, bias, cs);
                else
                    j->g->tile(kc, direct ? Ap : Ap + (size_t)g * kc * MR, Bp, C, j->ldc, mr, nr, acc, bias, cs);
            }
        }
    }
}

/* panels [p0, p1) of one K block */
static void gemm_pack_panels(const gemm_job *j, int p0, int p1, long k0, int kc) {
    int NR = j->g->nr;
    if (p1 > p0)
        pack_blocks(j->Bp + (size_t)p0 * kc * NR, NR, p1 - p0, j->tb, j->B, j->ldb, (long)p0 * NR,
                    lmin((long)(p1 - p0) * NR, j->N - (long)p0 * NR), k0, kc, 1.0f);
}

/* The threads split C's rows in whole groups of MR, packing each K block's panels together (a barrier before and
 * after they are used), or, where C is wider than tall (nsplit), its panels: each packs its own panels and all of
 * A's rows, and none waits for another. */
static void gemm_run(const gemm_job *j, int nt) {
    long groups = (j->M + j->g->mr - 1) / j->g->mr;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads(), ns = j->nsplit;
        long r0 = ns ? 0 : groups * t / n * j->g->mr, r1 = ns ? j->M : lmin(j->M, groups * (t + 1) / n * j->g->mr);
        int p0 = ns ? j->P * t / n : 0, p1 = ns ? j->P * (t + 1) / n : j->P;
        float *Ap = j->Ap + (size_t)t * GEMM_MC * j->kcmax;
        for (int b = 0; b < j->nkb; b++) {
            long k0 = (long)b * j->kcmax;
            int kc = (int)lmin(j->kcmax, j->K - k0);
            const float *Bb = j->pre ? j->pre + (size_t)b * panels_floats(j) : j->Bp;
            if (j->pre) {
                /* packed beforehand: no thread waits for another */
            } else if (ns) {
                gemm_pack_panels(j, p0, p1, k0, kc);
            } else {
                gemm_pack_panels(j, j->P * t / n, j->P * (t + 1) / n, k0, kc);
#pragma omp barrier
            }
            gemm_rows(j, Bb, Ap, r0, r1, p0, p1, k0, kc, j->e.mul ? 2 : b > 0 || j->acc0);
            if (!j->pre && !ns && b + 1 < j->nkb) {
#pragma omp barrier
            }
        }
    }
}

/* every K block's panels of W (N x K, used as op(B) = W^T) into p: block b at b P kcmax NR, as gemm_run reads them */
static void wpack_fill(const gemm_job *j, float *p, const float *W) {
    int NR = j->g->nr;
    size_t block = panels_floats(j);
#pragma omp parallel for schedule(static)
    for (int q = 0; q < j->nkb * j->P; q++) {
        int b = q / j->P, pn = q % j->P, kc = (int)lmin(j->kcmax, j->K - (long)b * j->kcmax);
        pack_blocks(p + b * block + (size_t)pn * kc * NR, NR, 1, 1, W, j->K, (long)pn * NR, lmin(NR, j->N - (long)pn * NR),
                    (long)b * j->kcmax, kc, 1.0f);
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
#define GV __m512
#define GW 16
#define GMR 12
#define GNV 2
#define GSUF avx512
#define GLOAD _mm512_load_ps
#define GLOADU _mm512_loadu_ps
#define GBCAST(p) _mm512_set1_ps(*(p))
#define GFMA _mm512_fmadd_ps
#define GADD _mm512_add_ps
#define GMUL _mm512_mul_ps
#define GZERO _mm512_setzero_ps
#define GSTORE _mm512_storeu_ps
#include "gemm_kern.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#else
static void gemm_run(const gemm_job *j, int nt) {}
static void wpack_fill(const gemm_job *j, float *p, const float *W) {}
#endif

static int g_gemm_off = 0;
void fastfnet_gemm_set_enabled(int on) { g_gemm_off = !on; }

/* the kernel for the SIMD set in use (simd.h: the CPU's widest, or FASTFNET_SIMD's): AVX-512's with the avx512 set,
 * else AVX2's where the CPU has AVX2 and FMA (a build for an older baseline still has it); NULL where neither */
static const gemm_isa *gemm_pick(void) {
#if GEMM_HAVE
    static const gemm_isa k512 = {"avx512 12x32", 12, 32, gemm_tile_avx512, gemm_tiled_avx512};
    static const gemm_isa k256 = {"avx2 6x16", 6, 16, gemm_tile_avx2, gemm_tiled_avx2};
    static _Atomic int avx2 = -1; /* every thread that races here stores the same answer */
    if (g_gemm_off) return NULL;
    if (!strcmp(fastfnet_kern()->name, "avx512")) return &k512;
    if (avx2 < 0) {
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return avx2 ? &k256 : NULL;
#else
    return NULL;
#endif
}

const char *fastfnet_gemm_name(void) {
    const gemm_isa *g = gemm_pick();
    return g ? g->name : "openblas";
}

/* Whether kernel g takes a product of this shape. The AVX-512 one takes every product of at least 4 x 8 x 8. The AVX2
 * one only narrow ones (N or K at most 256, K at most 1024), where it beats OpenBLAS's Haswell kernels by 1.1-1.4x;
 * at wide shapes it runs at 0.89-0.98 of them (AMD Zen 4 running AVX2 code, docs/PERFORMANCE.md, round 9). */
static int gemm_takes(const gemm_isa *g, int M, int N, int K) {
    if (!g || M < 4 || N < 8 || K < 8) return 0;
    return g->mr == 12 || ((N <= 256 || K <= 256) && K <= 1024);
}

/* The calling thread's packing buffer, grown (never shrunk) to n floats; NULL when memory runs out. A thread's
 * buffer is freed when the thread exits (a key's destructor: a thread the caller made and joined leaks nothing). */
static _Thread_local float *tl_buf;
static _Thread_local size_t tl_cap;
static pthread_key_t g_buf_key;
static pthread_once_t g_buf_once = PTHREAD_ONCE_INIT;
static int g_buf_key_ok;

static void gemm_buffer_exit(void *unused) {
    free(tl_buf);
    tl_buf = NULL, tl_cap = 0;
}

static void gemm_buffer_key(void) { g_buf_key_ok = pthread_key_create(&g_buf_key, gemm_buffer_exit) == 0; }

static float *gemm_buffer(size_t n) {
    if (n <= tl_cap) return tl_buf;
    pthread_once(&g_buf_once, gemm_buffer_key);
    if (!g_buf_key_ok || pthread_setspecific(g_buf_key, &tl_cap) != 0) return NULL;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) return NULL;
    free(tl_buf);
    tl_buf = p, tl_cap = bytes / sizeof(float);
    return tl_buf;
}

/* the job's blocking and threads (nt), the threads splitting the panels where by_panels; its buffers are the
 * caller's */
static gemm_job gemm_plan(const gemm_isa *g, int M, int N, int K, int by_panels, int *nt) {
    gemm_job j = {.g = g, .M = M, .N = N, .K = K, .P = (N + g->nr - 1) / g->nr, .alpha = 1.0f};
    j.nkb = (K + GEMM_KC - 1) / GEMM_KC;
    j.kcmax = (K + j.nkb - 1) / j.nkb;
    long groups = (M + g->mr - 1) / g->mr;
    *nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    j.nsplit = by_panels || (N > M && j.P >= 2 * *nt);
    if (*nt > (j.nsplit ? j.P : groups)) *nt = (int)(j.nsplit ? j.P : groups);
    return j;
}

static int gemm_do(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc, gemm_epi e) {
    const gemm_isa *g = gemm_pick();
    if (!gemm_takes(g, M, N, K) || (beta != 0.0f && beta != 1.0f) || (e.mul && K > GEMM_KC)) return -1;
    int nt;
    /* a product with column sums splits the panels: each column is one thread's, summed over the rows in order */
    gemm_job j = gemm_plan(g, M, N, K, e.mul, &nt);
    j.ta = ta, j.tb = tb, j.alpha = alpha, j.acc0 = beta != 0.0f, j.e = e;
    j.A = A, j.B = B, j.C = C, j.lda = lda, j.ldb = ldb, j.ldc = ldc;
    size_t bsz = panels_floats(&j), asz = (size_t)GEMM_MC * j.kcmax;
    float *buf = gemm_buffer(bsz + asz * (size_t)nt);
    if (!buf) return -1;
    j.Bp = buf, j.Ap = buf + bsz;
    gemm_run(&j, nt);
    return 0;
}

int fastfnet_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc) {
    return gemm_do(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, (gemm_epi){0});
}

int fastfnet_gemm_linear(int M, int N, int K, const float *A, int lda, const float *W, int ldw, const float *bias, float *C,
                         int ldc) {
    return gemm_do(0, 1, M, N, K, 1.0f, A, lda, W, ldw, 0.0f, C, ldc, (gemm_epi){.bias = bias});
}

int fastfnet_gemm_mul(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                      float *colsum) {
    return gemm_do(0, 0, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc, (gemm_epi){.mul = 1, .colsum = colsum});
}

struct fastfnet_gemm_wpack {
    const gemm_isa *g; /* the kernel it was packed for: another (a SIMD switch) cannot use it */
    int N, K;
    float *p;
};

/* the job of a packed W (N x K) and the bytes of its copy (every K block's panels), or 0 where the kernel does not
 * take such products */
static size_t wpack_plan(int N, int K, gemm_job *j) {
    const gemm_isa *g = gemm_pick();
    if (!gemm_takes(g, 4, N, K)) return 0;
    int nt;
    *j = gemm_plan(g, 4096, N, K, 0, &nt); /* the rows do not change the layout */
    return (panels_floats(j) * j->nkb * sizeof(float) + 63) / 64 * 64;
}

size_t fastfnet_gemm_wpack_bytes(int N, int K) {
    gemm_job j;
    return wpack_plan(N, K, &j);
}

fastfnet_gemm_wpack *fastfnet_gemm_wpack_create(const float *W, int N, int K) {
    gemm_job j;
    size_t bytes = wpack_plan(N, K, &j);
    if (!bytes) return NULL;
    fastfnet_gemm_wpack *w = malloc(sizeof *w);
    float *p = aligned_alloc(64, bytes);
    if (!w || !p) {
        free(w), free(p);
        return NULL;
    }
    *w = (fastfnet_gemm_wpack){j.g, N, K, p};
    wpack_fill(&j, p, W);
    return w;
}

void fastfnet_gemm_wpack_free(fastfnet_gemm_wpack *w) {
    if (w) free(w->p);
    free(w);
}

int fastfnet_gemm_wpacked(const fastfnet_gemm_wpack *w, int M, const float *A, int lda, float beta, const float *bias,
                          float *C, int ldc) {
    if (!w || w->g != gemm_pick() || (beta != 0.0f && beta != 1.0f) || (bias && beta != 0.0f) || M < 4) return -1;
    int nt;
    gemm_job j = gemm_plan(w->g, M, w->N, w->K, 0, &nt);
    j.acc0 = beta != 0.0f, j.A = A, j.C = C, j.lda = lda, j.ldc = ldc, j.pre = w->p, j.e.bias = bias;
    float *buf = gemm_buffer((size_t)GEMM_MC * j.kcmax * (size_t)nt);
    if (!buf) return -1;
    j.Ap = buf;
    gemm_run(&j, nt);
    return 0;
}
