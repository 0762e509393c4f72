/* gemm_kern.h: the register-tile kernel of gemm.c, written once over a vector type. gemm.c includes it once per
 * instruction set with GV (the vector type), GW (floats per vector), GMR (tile rows), GNV (vectors per tile row),
 * the operations GLOAD, GBCAST, GFMA, GADD, GMUL, GZERO, GSTORE, and GSUF naming the copy.
 *
 * One call computes a GMR x (GNV GW) tile of C from kc columns of packed A (Ap[k][r]: GMR floats per k) and kc
 * rows of packed B (Bp[k][j]: GNV GW floats per k, 64-byte aligned): C = tile (acc = 0; plus a bias per column where
 * bias is not NULL), C += tile (acc = 1) or C = tile C elementwise (acc = 2, with column sums of the result where
 * cs is not NULL), of which only mr rows and nr columns are written. The tile lives in registers (GMR GNV
 * accumulators) for the whole kc loop; each k loads GNV vectors of B and broadcasts GMR floats of A. */
#define GCAT_(a, b) a##b
#define GCAT(a, b) GCAT_(a, b)
#define GNR (GNV * GW)

/* writes the tile c (GMR x GNR) into tmp, row after row, so a partial tile's rows can be copied out */
#define GSPILL(tmp, c)                                                                                            \
    _Pragma("GCC unroll 16") for (int r = 0; r < GMR; r++)                                                         \
        _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) GSTORE((tmp) + r * GNR + v * GW, (c)[r][v])

/* C = c C elementwise and cs[j] += the new C's column j, row after row (cs NULL: no sums); rows < mr, columns < nr */
static inline __attribute__((always_inline)) void GCAT(gemm_tile_mul_, GSUF)(GV c[GMR][GNV], float *C, long ldc, int mr,
                                                                             int nr, float *cs) {
    if (mr == GMR && nr == GNR) {
        GV s[GNV];
        _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) s[v] = cs ? GLOADU(cs + v * GW) : GZERO();
        _Pragma("GCC unroll 16") for (int r = 0; r < GMR; r++)
            _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) {
                float *p = C + r * ldc + v * GW;
                GV x = GMUL(c[r][v], GLOADU(p));
                GSTORE(p, x);
                s[v] = GADD(s[v], x);
            }
        if (cs) _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) GSTORE(cs + v * GW, s[v]);
        return;
    }
    float tmp[GMR * GNR] __attribute__((aligned(64)));
    GSPILL(tmp, c);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) {
            float x = tmp[r * GNR + j] * C[r * ldc + j];
            C[r * ldc + j] = x;
            if (cs) cs[j] += x;
        }
}

/* C = c (acc 0), c + bias (acc 0, bias: nr floats, one per column), C += c (acc 1) or C = c C elementwise (acc 2,
 * and cs[j] += the new C's column j, rows in order, where cs is not NULL), rows < mr and columns < nr of it */
static inline __attribute__((always_inline)) void GCAT(gemm_tile_out_, GSUF)(GV c[GMR][GNV], float *C, long ldc, int mr,
                                                                             int nr, int acc, const float *bias,
                                                                             float *cs) {
    if (acc == 2) {
        GCAT(gemm_tile_mul_, GSUF)(c, C, ldc, mr, nr, cs);
        return;
    }
    if (mr == GMR && nr == GNR) {
        _Pragma("GCC unroll 16") for (int r = 0; r < GMR; r++)
            _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) {
                float *p = C + r * ldc + v * GW;
                GSTORE(p, acc ? GADD(GLOADU(p), c[r][v]) : bias ? GADD(c[r][v], GLOADU(bias + v * GW)) : c[r][v]);
            }
        return;
    }
    /* a partial tile: through memory, with constant indices so c stays in registers above */
    float tmp[GMR * GNR] __attribute__((aligned(64)));
    GSPILL(tmp, c);
    for (int r = 0; r < mr; r++) {
        float *p = C + r * ldc;
        const float *t = tmp + r * GNR;
        if (acc)
            for (int j = 0; j < nr; j++) p[j] += t[j];
        else if (bias)
            for (int j = 0; j < nr; j++) p[j] = t[j] + bias[j];
        else
            memcpy(p, t, sizeof(float) * (size_t)nr);
    }
}

/* c = the tile's sums over kc: A's row r at k read at A + r rs + k ks (packed: rs 1, ks GMR; in place: rs lda, ks
 * 1), rows in threes from GMR / 3 pointers (row 3q + s at a[q] + s rs, an indexed address where rs is a variable), so
 * the loop needs few registers */
static inline __attribute__((always_inline)) void GCAT(gemm_tile_sums_, GSUF)(int kc, const float *A, long rs, long ks,
                                                                              const float *Bp, GV c[GMR][GNV]) {
    const float *a[GMR / 3];
    _Pragma("GCC unroll 16") for (int q = 0; q < GMR / 3; q++) a[q] = A + 3 * q * rs;
    _Pragma("GCC unroll 16") for (int r = 0; r < GMR; r++)
        _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) c[r][v] = GZERO();
    _Pragma("GCC unroll 2") for (int k = 0; k < kc; k++) {
        GV b[GNV];
        _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) b[v] = GLOAD(Bp + (size_t)k * GNR + v * GW);
        _Pragma("GCC unroll 16") for (int r = 0; r < GMR; r++) {
            GV x = GBCAST(a[r / 3] + k * ks + (r % 3) * rs);
            _Pragma("GCC unroll 4") for (int v = 0; v < GNV; v++) c[r][v] = GFMA(x, b[v], c[r][v]);
        }
    }
}

static void GCAT(gemm_tile_, GSUF)(int kc, const float *Ap, const float *Bp, float *C, long ldc, int mr, int nr,
                                  int acc, const float *bias, float *cs) {
    GV c[GMR][GNV];
    GCAT(gemm_tile_sums_, GSUF)(kc, Ap, 1, GMR, Bp, c);
    GCAT(gemm_tile_out_, GSUF)(c, C, ldc, mr, nr, acc, bias, cs);
}

/* The same tile reading A where it lies (row-major, lda floats a row) instead of packed: GMR full rows from A, no
 * partial tile */
static void GCAT(gemm_tiled_, GSUF)(int kc, const float *A, long lda, const float *Bp, float *C, long ldc, int nr,
                                   int acc, const float *bias, float *cs) {
    GV c[GMR][GNV];
    GCAT(gemm_tile_sums_, GSUF)(kc, A, lda, 1, Bp, c);
    GCAT(gemm_tile_out_, GSUF)(c, C, ldc, GMR, nr, acc, bias, cs);
}

#undef GSPILL
#undef GNR
