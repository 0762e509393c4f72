/* fsync_shim.c: an LD_PRELOAD library for tests/test_faults.sh: the first fsync of a directory whose path
 * ends in $FASTFNET_FAIL_FIRST_FSYNC_OF fails with EIO, as on a failing disk; every other fsync is the real one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd) {
    static int (*real)(int);
    static int failed;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *want = getenv("FASTFNET_FAIL_FIRST_FSYNC_OF");
    struct stat sb;
    if (!failed && want && *want && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        size_t w = strlen(want);
        if (n >= (ssize_t)w && !memcmp(path + n - w, want, w)) {
            failed = 1;
            errno = EIO;
            return -1;
        }
    }
    return real(fd);
}
