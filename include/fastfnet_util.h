/* fastfnet_util.h: the general helpers of libfastfnet that applications built on it use too: a strict JSON
 * parser and string escaping, a validating safetensors reader and an atomic writer, atomic file replacement,
 * whole-file reading, error messages, a deterministic RNG and a monotonic clock. Functions that can fail
 * return 0 / -1 (or NULL) with a one-line message in err[errlen] (err may be NULL). */
#ifndef FASTFNET_UTIL_API_H
#define FASTFNET_UTIL_API_H
#include "fastfnet.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------- JSON (RFC 8259): for safetensors headers and model configs, which may come from untrusted files ---------- */
typedef enum { FASTFNET_JSON_NULL, FASTFNET_JSON_BOOL, FASTFNET_JSON_NUMBER, FASTFNET_JSON_STRING, FASTFNET_JSON_ARRAY, FASTFNET_JSON_OBJECT } fastfnet_json_type;

typedef struct fastfnet_json {
    fastfnet_json_type type;
    int boolean;
    double number;
    char *str;               /* STRING: NUL-terminated UTF-8, escapes decoded; may contain NUL (see str_len) */
    size_t str_len;
    int n;                   /* ARRAY/OBJECT: number of items */
    struct fastfnet_json *items;  /* ARRAY/OBJECT values */
    char **keys;             /* OBJECT keys (NUL-terminated), in document order */
} fastfnet_json;

/* Parse exactly len bytes (no NUL needed). Returns NULL and a message with line and column on error.
 * Also refused: nesting deeper than 64 levels, numbers outside the double range, containers of 2^30+ items. */
FASTFNET_API fastfnet_json *fastfnet_json_parse(const char *text, size_t len, char *err, size_t errlen);
FASTFNET_API void fastfnet_json_free(fastfnet_json *j);

/* NULL if absent or obj is not an object. */
FASTFNET_API const fastfnet_json *fastfnet_json_get(const fastfnet_json *obj, const char *key);
/* 0 and *out set when key exists with the right type, 1 if absent, -1 if wrong type.
 * get_int also returns -1 for a number that is not integral or whose magnitude is 2^53 or more
 * (from there on a double may already have rounded the literal: 2^53 + 1 reads as 2^53). */
FASTFNET_API int fastfnet_json_get_int(const fastfnet_json *obj, const char *key, long long *out);
FASTFNET_API int fastfnet_json_get_num(const fastfnet_json *obj, const char *key, double *out);
/* NULL if absent or not a string. */
FASTFNET_API const char *fastfnet_json_get_str(const fastfnet_json *obj, const char *key);

/* Append s as a quoted JSON string to buf (capacity cap) at *pos, then NUL-terminate.
 * Returns 0 and advances *pos past the closing quote, or -1 with *pos unchanged (bytes from *pos on may
 * have been overwritten) if it does not fit including the NUL, or if s is not valid UTF-8. */
FASTFNET_API int fastfnet_json_escape(char *buf, size_t cap, size_t *pos, const char *s);
/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
FASTFNET_API int fastfnet_json_utf8_valid(const char *s, size_t len);

/* ---------- safetensors: u64 little-endian header length N, N bytes of JSON header, then the data ---------- */
typedef enum { FASTFNET_DT_F32, FASTFNET_DT_F16, FASTFNET_DT_BF16, FASTFNET_DT_F64, FASTFNET_DT_I64, FASTFNET_DT_I32, FASTFNET_DT_I16, FASTFNET_DT_I8, FASTFNET_DT_U8, FASTFNET_DT_BOOL } fastfnet_dtype;
FASTFNET_API size_t fastfnet_dtype_size(fastfnet_dtype t);     /* 0 for a value outside the enum */
FASTFNET_API const char *fastfnet_dtype_name(fastfnet_dtype t); /* "F32", ...; "?" for a value outside the enum */

#define FASTFNET_ST_MAX_DIMS 8
typedef struct {
    char *name;
    fastfnet_dtype dtype;
    int ndim;
    int64_t shape[FASTFNET_ST_MAX_DIMS];
    size_t numel;      /* 1 for a scalar (ndim 0) */
    size_t begin, end; /* byte range within the data buffer */
} fastfnet_st_tensor;

typedef struct {
    int n;
    fastfnet_st_tensor *tensors; /* in file order */
    int nmeta;
    char **meta_keys;
    char **meta_vals;
    const uint8_t *data; /* points into the mapping */
    size_t data_len;
    void *map; /* mmap of the whole file (read-only) */
    size_t map_len;
} fastfnet_st_file;

/* 0 ok, -1 and a one-line message naming the file and the problem. On failure *f is zeroed, so
 * fastfnet_st_close is always safe to call. The whole header is validated here, including that the tensors
 * tile the data buffer exactly (no overlaps, holes or trailing bytes). */
FASTFNET_API int fastfnet_st_open(fastfnet_st_file *f, const char *path, char *err, size_t errlen);
FASTFNET_API void fastfnet_st_close(fastfnet_st_file *f);
FASTFNET_API const fastfnet_st_tensor *fastfnet_st_find(const fastfnet_st_file *f, const char *name);
FASTFNET_API const char *fastfnet_st_meta(const fastfnet_st_file *f, const char *key);
/* Copy a tensor into dst (n floats, n must equal numel), converting F32/F16/BF16/F64; other dtypes fail. */
FASTFNET_API int fastfnet_st_read_f32(const fastfnet_st_file *f, const fastfnet_st_tensor *t, float *dst, size_t n, char *err, size_t errlen);
/* Copy an I32/I64/I16/I8/U8 tensor into dst (n must equal numel); fails if a value does not fit in int32. */
FASTFNET_API int fastfnet_st_read_i32(const fastfnet_st_file *f, const fastfnet_st_tensor *t, int32_t *dst, size_t n, char *err, size_t errlen);

typedef struct {
    const char *name;
    fastfnet_dtype dtype;
    int ndim;
    int64_t shape[FASTFNET_ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes, host (little-endian) order; may be NULL if empty */
} fastfnet_st_out;

/* Write atomically: to "<path>.tmp.<pid>", fwrite, fflush, fsync, rename over path, fsync the directory.
 * On any failure before the rename the temp file is removed and an existing file at path is untouched.
 * meta: NULL or a NULL-terminated list key0, val0, key1, val1, ..., NULL (UTF-8 strings).
 * The header is padded with spaces so the data buffer starts at an 8-byte aligned offset; tensors are
 * laid out in the order given. Names must be unique, valid UTF-8, and not "__metadata__". */
FASTFNET_API int fastfnet_st_write(const char *path, const fastfnet_st_out *t, int n, const char *const *meta, char *err, size_t errlen);

/* ---------- files, errors, RNG, clock ---------- */
/* Read a whole file into a NUL-terminated buffer (free with free()); NULL with a message naming the file
 * when it cannot be read or is larger than max_bytes. */
/* fopen(path, "rb") for reading input, refusing a directory (which opens, then fails to read); NULL with a
 * message naming path. */
FASTFNET_API FILE *fastfnet_open_input(const char *path, char *err, size_t errlen);
FASTFNET_API char *fastfnet_read_file(const char *path, size_t *len, size_t max_bytes, char *err, size_t errlen);
/* The same from an open stream (standard input, a pipe); path names it in messages. f stays open. */
FASTFNET_API char *fastfnet_read_stream(FILE *f, const char *path, size_t *len, size_t max_bytes, char *err, size_t errlen);
/* The next line of f into *line (grown as needed, free() it), without its "\n", "\r\n" or any trailing
 * "\r"s; its length, -1 at the end of the file, or -2 when reading failed (an I/O error, or out of memory for a
 * huge line; errno says which), so that a failure is not taken for the end. newline (may be NULL): whether the
 * line ended in "\n" (0 for a last line cut short). The one line reader of data files, metrics and plain-text input. */
FASTFNET_API long fastfnet_read_line(FILE *f, char **line, size_t *cap, int *newline);
/* Format a path into buf[cap]; a path that does not fit is an error naming its start, never silently cut.
 * 0 ok, -1 with a message. */
FASTFNET_API int fastfnet_path(char *buf, size_t cap, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Wall clock in seconds (monotonic). */
FASTFNET_API double fastfnet_now(void);
/* Write an error message into err (may be NULL); always returns -1 so callers can `return fastfnet_err(...)`. */
FASTFNET_API int fastfnet_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Deterministic RNG (xorshift64*), seeded; the same seed gives the same stream on every machine. */
typedef struct { uint64_t s; } fastfnet_rng;
FASTFNET_API void fastfnet_rng_seed(fastfnet_rng *r, uint64_t seed);
FASTFNET_API uint64_t fastfnet_rng_u64(fastfnet_rng *r);
FASTFNET_API float fastfnet_rng_uniform(fastfnet_rng *r);  /* [0,1) */
FASTFNET_API float fastfnet_rng_normal(fastfnet_rng *r);   /* N(0,1), Box-Muller */

/* Atomic replacement of a file: write through a->f (a temporary file beside path, created exclusively), then
 * fastfnet_atomic_commit flushes, fsyncs, renames it over path and fsyncs the directory. Until the commit succeeds
 * the file at path is untouched; on any failure the temporary file is removed.
 * The temporary file is "<path>.tmp.<pid>" (or "<path>.tmp.<pid>.<i>" when that name is taken), created with
 * O_EXCL | O_NOFOLLOW and mode 0666 & ~umask. A write error on a->f (ferror) makes the commit fail. After
 * fastfnet_atomic_commit, whatever it returns, a is released (a->f closed, names freed) and fastfnet_atomic_abort on it is
 * a no-op; fastfnet_atomic_abort is also safe on a zeroed struct or after a failed fastfnet_atomic_open. If the rename
 * succeeded but syncing the directory failed, path already holds the new content and the commit returns -1
 * with "written, but syncing its directory failed". Messages name path and say why (strerror). */
/* Atomic replacement of path (a symbolic link: of its target). An existing FIFO or device is written in place
 * instead (tmp NULL), since a rename would replace it by a plain file. */
typedef struct { FILE *f; char *path; char *tmp; } fastfnet_atomic_file;
FASTFNET_API int fastfnet_atomic_open(fastfnet_atomic_file *a, const char *path, char *err, size_t errlen);   /* 0 ok, -1 + message naming path */
FASTFNET_API int fastfnet_atomic_commit(fastfnet_atomic_file *a, char *err, size_t errlen);                   /* closes a->f in every case */
FASTFNET_API void fastfnet_atomic_abort(fastfnet_atomic_file *a);                                              /* close + remove the temp file */
/* The whole of data[0..len) as the new content of path, by the protocol above. 0 ok, -1 + message. */
FASTFNET_API int fastfnet_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
