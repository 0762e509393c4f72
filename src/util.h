/* util.h: checked allocation, error reporting and small helpers shared by all of fastfnet. */
#ifndef FFN_UTIL_H
#define FFN_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Print "fastfnet: <message>" to stderr and exit(1). Used by the CLI and for impossible states. */
void ffn_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Allocation that never returns NULL: on failure it names the size and exits. 64-byte aligned. */
void *ffn_malloc(size_t bytes);
void *ffn_calloc(size_t bytes);
void ffn_free(void *p);
/* Read a whole file into a NUL-terminated buffer (free with free()); NULL with a message naming the file
 * when it cannot be read or is larger than max_bytes. */
char *ffn_read_file(const char *path, size_t *len, size_t max_bytes, char *err, size_t errlen);
/* Format a path into buf[cap]; a path that does not fit is an error naming its start, never silently cut.
 * 0 ok, -1 with a message. */
int ffn_path(char *buf, size_t cap, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Wall clock in seconds (monotonic). */
double ffn_now(void);
/* Write an error message into err (may be NULL); always returns -1 so callers can `return ffn_err(...)`. */
int ffn_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Deterministic RNG (xorshift64*), seeded; the same seed gives the same stream on every machine. */
typedef struct { uint64_t s; } ffn_rng;
void ffn_rng_seed(ffn_rng *r, uint64_t seed);
uint64_t ffn_rng_u64(ffn_rng *r);
float ffn_rng_uniform(ffn_rng *r);  /* [0,1) */
float ffn_rng_normal(ffn_rng *r);   /* N(0,1), Box-Muller */

/* Atomic replacement of a file: write through a->f (a temporary file beside path, created exclusively), then
 * ffn_atomic_commit flushes, fsyncs, renames it over path and fsyncs the directory. Until the commit succeeds
 * the file at path is untouched; on any failure the temporary file is removed.
 * The temporary file is "<path>.tmp.<pid>" (or "<path>.tmp.<pid>.<i>" when that name is taken), created with
 * O_EXCL | O_NOFOLLOW and mode 0666 & ~umask. A write error on a->f (ferror) makes the commit fail. After
 * ffn_atomic_commit, whatever it returns, a is released (a->f closed, names freed) and ffn_atomic_abort on it is
 * a no-op; ffn_atomic_abort is also safe on a zeroed struct or after a failed ffn_atomic_open. If the rename
 * succeeded but syncing the directory failed, path already holds the new content and the commit returns -1
 * with "written, but syncing its directory failed". Messages name path and say why (strerror). */
typedef struct { FILE *f; char *path; char *tmp; } ffn_atomic_file;
int ffn_atomic_open(ffn_atomic_file *a, const char *path, char *err, size_t errlen);   /* 0 ok, -1 + message naming path */
int ffn_atomic_commit(ffn_atomic_file *a, char *err, size_t errlen);                   /* closes a->f in every case */
void ffn_atomic_abort(ffn_atomic_file *a);                                              /* close + remove the temp file */
/* The whole of data[0..len) as the new content of path, by the protocol above. 0 ok, -1 + message. */
int ffn_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);
#endif
