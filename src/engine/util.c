/* util.c: aligned allocation, errors, clock, the seeded RNG and atomic file replacement. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

long fastfnet_alloc_fail_countdown = -1;

void *fastfnet_malloc(size_t bytes) {
    if (fastfnet_alloc_fail_countdown >= 0 && fastfnet_alloc_fail_countdown-- == 0) return NULL;
    void *p = NULL;
    /* rounding up to the alignment must not wrap a huge request around to a small block */
    size_t n = bytes > SIZE_MAX - 63 ? 0 : (bytes + 63) & ~(size_t)63;
    if (bytes == 0) n = 64;
    if (n == 0 || posix_memalign(&p, 64, n) != 0) return NULL;
    return p;
}

void *fastfnet_calloc(size_t bytes) {
    void *p = fastfnet_malloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void fastfnet_free(void *p) { free(p); }

FILE *fastfnet_open_input(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f) fastfnet_err(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
    else if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f), f = NULL;
        fastfnet_err(err, errlen, "%s: is a directory; give a file", path);
    }
    return f;
}

char *fastfnet_read_file(const char *path, size_t *len, size_t max_bytes, char *err, size_t errlen) {
    FILE *f = fastfnet_open_input(path, err, errlen);
    if (!f) return NULL;
    char *buf = fastfnet_read_stream(f, path, len, max_bytes, err, errlen);
    fclose(f);
    return buf;
}

long fastfnet_read_line(FILE *f, char **line, size_t *cap, int *newline) {
    errno = 0;
    ssize_t got = getline(line, cap, f);
    if (got < 0) return ferror(f) || errno ? -2 : -1; /* getline sets errno (ENOMEM, EIO) only when it fails */
    if (newline) *newline = got > 0 && (*line)[got - 1] == '\n';
    while (got > 0 && ((*line)[got - 1] == '\n' || (*line)[got - 1] == '\r')) (*line)[--got] = 0;
    return (long)got;
}

char *fastfnet_read_stream(FILE *f, const char *path, size_t *len, size_t max_bytes, char *err, size_t errlen) {
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n > max_bytes) {
            free(buf);
            fastfnet_err(err, errlen, "%s: larger than %zu bytes", path, max_bytes);
            return NULL;
        }
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    int bad = ferror(f);
    if (!buf || bad) {
        free(buf);
        fastfnet_err(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int fastfnet_path(char *buf, size_t cap, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < cap) return 0;
    if (!cap) return fastfnet_err(err, errlen, "a path: no room for it (capacity 0)"); /* buf was never written */
    return fastfnet_err(err, errlen, "%.60s...: path too long (%d bytes; at most %zu): use a shorter one", buf, k, cap - 1);
}

double fastfnet_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int fastfnet_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void fastfnet_rng_seed(fastfnet_rng *r, uint64_t seed) {
    /* splitmix64 scrambles small seeds so seed 0 and 1 give unrelated streams */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    r->s = (z ^ (z >> 31)) | 1;
}

uint64_t fastfnet_rng_u64(fastfnet_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

float fastfnet_rng_uniform(fastfnet_rng *r) { return (fastfnet_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float fastfnet_rng_normal(fastfnet_rng *r) {
    double u1 = ((fastfnet_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (fastfnet_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Atomic file replacement: temporary file beside the target, fsync, rename, fsync of the directory. */

static void atomic_release(fastfnet_atomic_file *a) {
    free(a->path);
    free(a->tmp);
    a->f = NULL;
    a->path = a->tmp = NULL;
}

/* What the name stands for: a symbolic link's target (a rename over the link would replace the link by a plain
 * file); *direct set for an existing FIFO, device or other non-regular file, which is written in place (a
 * rename would replace /dev/null or a reader's FIFO). A malloc'd path, or NULL with a message. */
static char *output_target(const char *path, int *direct, char *err, size_t errlen) {
    struct stat sb;
    *direct = 0;
    if (lstat(path, &sb) != 0) {
        char *p = strdup(path);
        if (!p) fastfnet_err(err, errlen, "%s: out of memory", path);
        return p;
    }
    char *p = S_ISLNK(sb.st_mode) ? realpath(path, NULL) : strdup(path);
    if (!p) {
        fastfnet_err(err, errlen, "%s: %s", path, errno == ENOENT ? "a symbolic link to a missing file" : strerror(errno));
        return NULL;
    }
    *direct = stat(p, &sb) == 0 && !S_ISREG(sb.st_mode);
    return p;
}

/* A non-regular target: opened for writing as it is, with no temporary file (a->tmp stays NULL). */
static int open_direct(fastfnet_atomic_file *a, char *err, size_t errlen) {
    if (!(a->f = fopen(a->path, "wb"))) {
        fastfnet_err(err, errlen, "%s: cannot write (%s)", a->path, strerror(errno));
        atomic_release(a);
        return -1;
    }
    return 0;
}

int fastfnet_atomic_open(fastfnet_atomic_file *a, const char *path, char *err, size_t errlen) {
    a->f = NULL;
    a->path = a->tmp = NULL;
    if (!path || !*path) return fastfnet_err(err, errlen, "no output path given");
    int direct;
    if (!(a->path = output_target(path, &direct, err, errlen))) return -1;
    if (direct) return open_direct(a, err, errlen);
    path = a->path;
    size_t tlen = strlen(path) + 48;
    a->tmp = malloc(tlen);
    if (!a->tmp) {
        fastfnet_err(err, errlen, "%s: out of memory", path);
        atomic_release(a);
        return -1;
    }
    /* O_EXCL | O_NOFOLLOW: never write through a planted file or symlink at the temporary name; a name taken
     * (a stale file of an earlier process with this pid, or another writer of ours) moves on to the next one */
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        if (i == 0) snprintf(a->tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(a->tmp, tlen, "%s.tmp.%ld.%d", path, (long)getpid(), i);
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        fastfnet_err(err, errlen, "%s: cannot create temporary file %s: %s", path, a->tmp, strerror(errno));
        atomic_release(a);
        return -1;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        atomic_release(a);
        return fastfnet_err(err, errlen, "%s: fdopen failed: %s", path, strerror(e));
    }
    return 0;
}

void fastfnet_atomic_abort(fastfnet_atomic_file *a) {
    if (!a) return;
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    atomic_release(a);
}

/* fsync the directory holding path (path is our own copy, cut at its last slash and restored). */
static int sync_parent_dir(char *path) {
    char *slash = strrchr(path, '/');
    const char *dir = ".";
    char saved = 0, *cut = NULL;
    if (slash) {
        cut = slash == path ? slash + 1 : slash; /* "/x" -> "/" */
        saved = *cut;
        *cut = 0;
        dir = path;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd >= 0 ? fsync(dfd) : -1;
    int e = errno;
    if (dfd >= 0) close(dfd);
    if (cut) *cut = saved;
    /* EINVAL: the filesystem cannot sync directories at all, so there is nothing more to do */
    if (rc != 0 && e == EINVAL) rc = 0;
    errno = e;
    return rc;
}

int fastfnet_atomic_commit(fastfnet_atomic_file *a, char *err, size_t errlen) {
    if (!a->f) { /* never opened, or already committed/aborted */
        fastfnet_err(err, errlen, "%s: no open atomic write to commit", a->path ? a->path : "(no path)");
        fastfnet_atomic_abort(a);
        return -1;
    }
    int bad = 0, e = 0;
    /* a write that failed earlier leaves the stream's error flag set; its errno is usually still current */
    if (ferror(a->f)) bad = 1, e = errno ? errno : EIO;
    if (!a->tmp) { /* written in place (a FIFO or device): nothing to sync or rename */
        if (!bad && fflush(a->f) != 0) bad = 1, e = errno;
        if (fclose(a->f) != 0 && !bad) bad = 1, e = errno;
        a->f = NULL;
        if (bad) fastfnet_err(err, errlen, "%s: writing failed: %s", a->path, strerror(e));
        atomic_release(a);
        return bad ? -1 : 0;
    }
    /* fsync before rename: otherwise a crash can leave the new name pointing at an empty file */
    if (!bad && (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0)) bad = 1, e = errno;
    if (fclose(a->f) != 0 && !bad) bad = 1, e = errno;
    a->f = NULL;
    int rc = -1;
    if (bad) {
        unlink(a->tmp);
        fastfnet_err(err, errlen, "%s: writing %s failed: %s", a->path, a->tmp, strerror(e));
    } else if (rename(a->tmp, a->path) != 0) {
        e = errno;
        unlink(a->tmp);
        fastfnet_err(err, errlen, "%s: cannot rename %s over it: %s", a->path, a->tmp, strerror(e));
    } else if (sync_parent_dir(a->path) != 0) {
        /* the rename itself is only durable once the directory entry is synced */
        fastfnet_err(err, errlen, "%s: written, but syncing its directory failed: %s", a->path, strerror(errno));
    } else {
        rc = 0;
    }
    atomic_release(a);
    return rc;
}

int fastfnet_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    fastfnet_atomic_file a;
    if (fastfnet_atomic_open(&a, path, err, errlen) != 0) return -1;
    if (len > 0 && fwrite(data, 1, len, a.f) != len) {
        int e = errno ? errno : EIO;
        fastfnet_err(err, errlen, "%s: writing %s failed: %s", path, a.tmp ? a.tmp : path, strerror(e));
        fastfnet_atomic_abort(&a);
        return -1;
    }
    return fastfnet_atomic_commit(&a, err, errlen);
}
