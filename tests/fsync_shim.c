/* fsync_shim.c: an LD_PRELOAD library for tests/test_faults.sh, failing one fsync as a failing disk would:
 * the first fsync of a directory whose path ends in $FASTFNET_FAIL_FIRST_FSYNC_OF (EIO), or the Nth
 * ($FASTFNET_FAIL_FSYNC_NTH, default 1) fsync of a file whose path contains $FASTFNET_FAIL_FSYNC_OF (ENOSPC).
 * Every other fsync is the real one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The path of fd into path[cap]; 0 when unknown. */
static size_t fd_path(int fd, char *path, size_t cap) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, cap - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return (size_t)n;
}

int fsync(int fd) {
    static int (*real)(int);
    static int failed_dir, seen;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *dir = getenv("FASTFNET_FAIL_FIRST_FSYNC_OF"), *file = getenv("FASTFNET_FAIL_FSYNC_OF"), *nth = getenv("FASTFNET_FAIL_FSYNC_NTH");
    struct stat sb;
    char path[4096];
    size_t n = (dir && *dir) || (file && *file) ? fd_path(fd, path, sizeof path) : 0;
    int is_dir = n && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_dir && !failed_dir && dir && *dir && n >= strlen(dir) && !strcmp(path + n - strlen(dir), dir)) {
        failed_dir = 1;
        errno = EIO;
        return -1;
    }
    if (n && !is_dir && file && *file && strstr(path, file) && ++seen == (nth ? atoi(nth) : 1)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd);
}
