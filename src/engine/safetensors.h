/* safetensors.h: a validating, mmap-based safetensors reader and an atomic writer.
 * Format: u64 little-endian header length N, N bytes of JSON header, then the data buffer. */
#ifndef FASTFNET_SAFETENSORS_H
#define FASTFNET_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum { FASTFNET_DT_F32, FASTFNET_DT_F16, FASTFNET_DT_BF16, FASTFNET_DT_F64, FASTFNET_DT_I64, FASTFNET_DT_I32, FASTFNET_DT_I16, FASTFNET_DT_I8, FASTFNET_DT_U8, FASTFNET_DT_BOOL } fastfnet_dtype;
size_t fastfnet_dtype_size(fastfnet_dtype t);     /* 0 for a value outside the enum */
const char *fastfnet_dtype_name(fastfnet_dtype t); /* "F32", ...; "?" for a value outside the enum */

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
int fastfnet_st_open(fastfnet_st_file *f, const char *path, char *err, size_t errlen);
void fastfnet_st_close(fastfnet_st_file *f);
const fastfnet_st_tensor *fastfnet_st_find(const fastfnet_st_file *f, const char *name);
const char *fastfnet_st_meta(const fastfnet_st_file *f, const char *key);
/* Copy a tensor into dst (n floats, n must equal numel), converting F32/F16/BF16/F64; other dtypes fail. */
int fastfnet_st_read_f32(const fastfnet_st_file *f, const fastfnet_st_tensor *t, float *dst, size_t n, char *err, size_t errlen);
/* Copy an I32/I64/I16/I8/U8 tensor into dst (n must equal numel); fails if a value does not fit in int32. */
int fastfnet_st_read_i32(const fastfnet_st_file *f, const fastfnet_st_tensor *t, int32_t *dst, size_t n, char *err, size_t errlen);

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
int fastfnet_st_write(const char *path, const fastfnet_st_out *t, int n, const char *const *meta, char *err, size_t errlen);
#endif
