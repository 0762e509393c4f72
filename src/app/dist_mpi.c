/* dist_mpi.c: the process group on MPI (MPI_COMM_WORLD). Gradients are summed with a reduce-scatter into
 * contiguous rank blocks and an all-gather of the blocks (the volume of a ring all-reduce), so each element is
 * reduced exactly once and every rank holds the same bits. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include "dist.h"
#include "fastfnet_util.h"
#include <stdlib.h>

static int g_rank = 0, g_size = 1, g_inited = 0, g_finalized = 0;
static double g_comm = 0.0, g_wait = 0.0;
static int *g_counts, *g_displs; /* per-rank block counts and offsets of the last buffer size */
static double *g_sums;            /* 64 doubles per rank: fastfnet_dist_sum_f64's gather */
static size_t g_counts_n = (size_t)-1;

int fastfnet_dist_init(int *argc, char ***argv, char *err, size_t errlen) {
    if (!fastfnet_dist_launched_size()) return 0; /* not under a launcher: one process, no MPI */
    int provided;
    if (g_inited) return 0;
    if (g_finalized) /* MPI allows one initialisation per process; MPI_Init after MPI_Finalize aborts the job */
        return fastfnet_err(err, errlen, "MPI: this process has run a trainer under mpirun already and MPI cannot be started twice; "
                            "run each training in its own process");
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Init failed");
        return -1;
    }
    g_inited = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_counts = malloc(sizeof(int) * (size_t)g_size);
    g_displs = malloc(sizeof(int) * (size_t)g_size);
    g_sums = malloc(sizeof(double) * 64 * (size_t)g_size);
    if (!g_counts || !g_displs || !g_sums) return fastfnet_err(err, errlen, "MPI: out of memory for %d processes", g_size);
    return 0;
}

void fastfnet_dist_finalize(void) {
    if (!g_inited) return;
    MPI_Finalize();
    free(g_counts);
    free(g_displs);
    free(g_sums);
    g_counts = g_displs = NULL, g_sums = NULL;
    g_inited = 0, g_finalized = 1;
}

int fastfnet_dist_rank(void) { return g_rank; }
int fastfnet_dist_size(void) { return g_size; }

void fastfnet_dist_barrier(void) {
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void fastfnet_dist_bcast(void *buf, size_t bytes, int root) {
    if (g_size < 2) return;
    for (size_t off = 0; off < bytes; off += (size_t)INT_MAX) {
        size_t k = bytes - off < (size_t)INT_MAX ? bytes - off : (size_t)INT_MAX;
        MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void fastfnet_dist_sum_f64(double *v, int n) {
    if (g_size < 2) return;
    double *a = g_sums; /* n <= 64 */
    MPI_Allgather(v, n, MPI_DOUBLE, a, n, MPI_DOUBLE, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int r = 0; r < g_size; r++) s += a[(size_t)r * n + i];
        v[i] = s;
    }
}

int fastfnet_dist_check_size(size_t n, char *err, size_t errlen) {
    size_t lo, hi;
    fastfnet_dist_block(n, g_size - 1, g_size, &lo, &hi);
    if (g_size > 1 && hi > (size_t)INT_MAX) return fastfnet_err(err, errlen, "MPI: blocks of %zu floats are too large for MPI's counts; use more processes", n / (size_t)g_size);
    return 0;
}

static void counts_for(size_t n) {
    if (n == g_counts_n) return;
    for (int r = 0; r < g_size; r++) {
        size_t lo, hi;
        fastfnet_dist_block(n, r, g_size, &lo, &hi);
        if (hi - lo > (size_t)INT_MAX || lo > (size_t)INT_MAX) MPI_Abort(MPI_COMM_WORLD, 1); /* refused by fastfnet_dist_check_size */
        g_counts[r] = (int)(hi - lo);
        g_displs[r] = (int)lo;
    }
    g_counts_n = n;
}

void fastfnet_dist_reduce_scatter_f32(float *buf, size_t n, float *scratch) {
    if (g_size < 2) return;
    /* a barrier first, timed apart: waiting for the slowest rank is load imbalance, not communication */
    double t = fastfnet_now();
    MPI_Barrier(MPI_COMM_WORLD);
    g_wait += fastfnet_now() - t;
    t = fastfnet_now();
    counts_for(n);
    MPI_Reduce_scatter(buf, scratch, g_counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    memcpy(buf + g_displs[g_rank], scratch, sizeof(float) * (size_t)g_counts[g_rank]);
    g_comm += fastfnet_now() - t;
}

void fastfnet_dist_allgather_f32(float *buf, size_t n) {
    if (g_size < 2) return;
    double t = fastfnet_now();
    counts_for(n);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, g_counts, g_displs, MPI_FLOAT, MPI_COMM_WORLD);
    g_comm += fastfnet_now() - t;
}

void fastfnet_dist_allreduce_f32(float *buf, size_t n, float *scratch) {
    fastfnet_dist_reduce_scatter_f32(buf, n, scratch);
    fastfnet_dist_allgather_f32(buf, n);
}

void fastfnet_dist_gather_f32(const float *block, float *full, size_t n) {
    if (g_size < 2) {
        if (full != block) memcpy(full, block, sizeof(float) * n);
        return;
    }
    counts_for(n);
    MPI_Gatherv(block, g_counts[g_rank], MPI_FLOAT, full, g_counts, g_displs, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

double fastfnet_dist_comm_seconds(void) { return g_comm; }
double fastfnet_dist_wait_seconds(void) { return g_wait; }
void fastfnet_dist_comm_reset(void) { g_comm = g_wait = 0.0; }
