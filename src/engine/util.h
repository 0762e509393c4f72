/* util.h: aligned allocation, error messages and small helpers shared by all of fastfnet. */
#ifndef FASTFNET_UTIL_H
#define FASTFNET_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 64-byte aligned allocation; NULL when memory runs out (or the size overflows): callers return an error.
 * (The application's fastfnet_xmalloc, src/app/die.h, exits instead.) */
void *fastfnet_malloc(size_t bytes);
/* For tests: when >= 0, fastfnet_malloc lets this many more allocations succeed and fails the next one
 * (then it is -1 again), so a test can reach every out-of-memory path. -1 (never) by default. */
extern long fastfnet_alloc_fail_countdown;
void *fastfnet_calloc(size_t bytes);
void fastfnet_free(void *p);
/* Read a whole file into a NUL-terminated buffer (free with free()); NULL with a message naming the file
 * when it cannot be read or is larger than max_bytes. */
char *fastfnet_read_file(const char *path, size_t *len, size_t max_bytes, char *err, size_t errlen);
/* Format a path into buf[cap]; a path that does not fit is an error naming its start, never silently cut.
 * 0 ok, -1 with a message. */
int fastfnet_path(char *buf, size_t cap, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Wall clock in seconds (monotonic). */
double fastfnet_now(void);
/* Write an error message into err (may be NULL); always returns -1 so callers can `return fastfnet_err(...)`. */
int fastfnet_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Deterministic RNG (xorshift64*), seeded; the same seed gives the same stream on every machine. */
typedef struct { uint64_t s; } fastfnet_rng;
void fastfnet_rng_seed(fastfnet_rng *r, uint64_t seed);
uint64_t fastfnet_rng_u64(fastfnet_rng *r);
float fastfnet_rng_uniform(fastfnet_rng *r);  /* [0,1) */
float fastfnet_rng_normal(fastfnet_rng *r);   /* N(0,1), Box-Muller */

/* Atomic replacement of a file: write through a->f (a temporary file beside path, created exclusively), then
 * fastfnet_atomic_commit flushes, fsyncs, renames it over path and fsyncs the directory. Until the commit succeeds
 * the file at path is untouched; on any failure the temporary file is removed.
 * The temporary file is "<path>.tmp.<pid>" (or "<path>.tmp.<pid>.<i>" when that name is taken), created with
 * O_EXCL | O_NOFOLLOW and mode 0666 & ~umask. A write error on a->f (ferror) makes the commit fail. After
 * fastfnet_atomic_commit, whatever it returns, a is released (a->f closed, names freed) and fastfnet_atomic_abort on it is
 * a no-op; fastfnet_atomic_abort is also safe on a zeroed struct or after a failed fastfnet_atomic_open. If the rename
 * succeeded but syncing the directory failed, path already holds the new content and the commit returns -1
 * with "written, but syncing its directory failed". Messages name path and say why (strerror). */
typedef struct { FILE *f; char *path; char *tmp; } fastfnet_atomic_file;
int fastfnet_atomic_open(fastfnet_atomic_file *a, const char *path, char *err, size_t errlen);   /* 0 ok, -1 + message naming path */
int fastfnet_atomic_commit(fastfnet_atomic_file *a, char *err, size_t errlen);                   /* closes a->f in every case */
void fastfnet_atomic_abort(fastfnet_atomic_file *a);                                              /* close + remove the temp file */
/* The whole of data[0..len) as the new content of path, by the protocol above. 0 ok, -1 + message. */
int fastfnet_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);
#endif
