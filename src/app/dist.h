/* dist.h: the seam to the process group of a data-parallel run. Two backends: dist_mpi.c (Open MPI, built
 * with `make USE_MPI=1`, the default when mpicc is found) and dist_stub.c (one process; every collective is
 * the identity). Callers never test which one they have: with one process the calls below cost nothing.
 *
 * Every collective here gives every rank the same bits (sums are reduced once per element, then gathered;
 * scalars are gathered and summed in rank order), so replicas that apply the same update stay identical. */
#ifndef FASTFNET_DIST_H
#define FASTFNET_DIST_H
#include <stddef.h>

/* Join the process group when launched by mpirun/srun (detected from the launcher's environment); a plain
 * `fastfnet train` stays one process and never touches MPI. Returns 0, or -1 with a message in err. */
int fastfnet_dist_init(int *argc, char ***argv, char *err, size_t errlen);
void fastfnet_dist_finalize(void);
int fastfnet_dist_rank(void);
int fastfnet_dist_size(void);
/* Nonzero when a launcher started several processes (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE...). */
int fastfnet_dist_launched_size(void);

/* 0 when buffers of n floats can go through the collectives below (MPI counts are ints), else -1 with a
 * message; the trainer asks before its first step. */
int fastfnet_dist_check_size(size_t n, char *err, size_t errlen);
/* [lo, hi) of n items owned by `rank` of `size`: balanced contiguous blocks. */
void fastfnet_dist_block(size_t n, int rank, int size, size_t *lo, size_t *hi);

void fastfnet_dist_barrier(void);
void fastfnet_dist_bcast(void *buf, size_t bytes, int root);
/* v[i] = sum over ranks of v[i], the same bits everywhere (gathered, summed in rank order). n <= 64. */
void fastfnet_dist_sum_f64(double *v, int n);
/* buf = sum over ranks of buf (n floats): reduce-scatter into rank blocks, then all-gather. scratch holds at
 * least one block (fastfnet_dist_block of n). */
void fastfnet_dist_allreduce_f32(float *buf, size_t n, float *scratch);
/* Reduce-scatter: afterwards buf[lo, hi) of this rank's block holds the sum over ranks (the rest is stale). */
void fastfnet_dist_reduce_scatter_f32(float *buf, size_t n, float *scratch);
/* All-gather: every rank's block of buf goes to every rank. */
void fastfnet_dist_allgather_f32(float *buf, size_t n);
/* Rank 0 receives every rank's block [lo, hi) of a buffer of n floats into full (n floats, rank 0 only);
 * each rank passes its own block. */
void fastfnet_dist_gather_f32(const float *block, float *full, size_t n);

/* Seconds spent inside the gradient/parameter collectives above since the last reset, and (apart from it)
 * waiting at the barrier before the gradient reduction for the slowest rank to finish its backward. */
double fastfnet_dist_comm_seconds(void);
double fastfnet_dist_wait_seconds(void);
void fastfnet_dist_comm_reset(void);
#endif
