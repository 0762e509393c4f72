/* dist.c: the parts of the process-group seam that do not depend on the backend. */
#include <stdlib.h>
#include "dist.h"

void fastfnet_dist_block(size_t n, int rank, int size, size_t *lo, size_t *hi) {
    *lo = n * (size_t)rank / (size_t)size;
    *hi = n * (size_t)(rank + 1) / (size_t)size;
}

/* The number of processes a launcher started, from its environment: 0 when not launched by one,
 * -1 when launched but the count is not in the environment. */
int fastfnet_dist_launched_size(void) {
    const char *s;
    if ((s = getenv("OMPI_COMM_WORLD_SIZE")) || (s = getenv("PMI_SIZE"))) return atoi(s);
    if (getenv("SLURM_PROCID") && (s = getenv("SLURM_NTASKS"))) return atoi(s);
    if (getenv("PMIX_RANK") || getenv("PMI_RANK")) return -1;
    return 0;
}
