/* dist_stub.c: the process group of a build without MPI: one process, every collective the identity. */
#include <stdio.h>
#include "dist.h"

int fastfnet_dist_init(int *argc, char ***argv, char *err, size_t errlen) {
    int n = fastfnet_dist_launched_size();
    if (n > 1 || n < 0) {
        snprintf(err, errlen, "this fastfnet was built without MPI but was started as one of several processes; "
                              "install libopenmpi-dev and rebuild with `make USE_MPI=1`, or run it without mpirun");
        return -1;
    }
    return 0;
}
void fastfnet_dist_finalize(void) {}
int fastfnet_dist_check_size(size_t n, char *err, size_t errlen) { return 0; }
int fastfnet_dist_rank(void) { return 0; }
int fastfnet_dist_size(void) { return 1; }
void fastfnet_dist_barrier(void) {}
void fastfnet_dist_bcast(void *buf, size_t bytes, int root) {}
void fastfnet_dist_sum_f64(double *v, int n) {}
void fastfnet_dist_allreduce_f32(float *buf, size_t n, float *scratch) {}
void fastfnet_dist_reduce_scatter_f32(float *buf, size_t n, float *scratch) {}
void fastfnet_dist_allgather_f32(float *buf, size_t n) {}
void fastfnet_dist_gather_f32(const float *block, float *full, size_t n) {
    if (full != block)
        for (size_t i = 0; i < n; i++) full[i] = block[i];
}
double fastfnet_dist_comm_seconds(void) { return 0.0; }
double fastfnet_dist_wait_seconds(void) { return 0.0; }
void fastfnet_dist_comm_reset(void) {}
