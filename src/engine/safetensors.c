/* safetensors.c: safetensors reader (mmap + full header validation) and atomic writer.
 * Checkpoints are untrusted input: every header field is checked before any tensor byte is touched. */
#include "safetensors.h"
#include "json.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Same cap as the reference implementation: a bigger header is a corrupt length, not a real model. */
#define FASTFNET_ST_MAX_HEADER 100000000ull
/* Integers in the header arrive as doubles; above 2^53 they may already be rounded. */
#define FASTFNET_ST_MAX_EXACT 9007199254740992.0

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [FASTFNET_DT_F32] = {"F32", 4}, [FASTFNET_DT_F16] = {"F16", 2}, [FASTFNET_DT_BF16] = {"BF16", 2}, [FASTFNET_DT_F64] = {"F64", 8},
    [FASTFNET_DT_I64] = {"I64", 8}, [FASTFNET_DT_I32] = {"I32", 4}, [FASTFNET_DT_I16] = {"I16", 2},  [FASTFNET_DT_I8] = {"I8", 1},
    [FASTFNET_DT_U8] = {"U8", 1},   [FASTFNET_DT_BOOL] = {"BOOL", 1},
};
#define FASTFNET_N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

size_t fastfnet_dtype_size(fastfnet_dtype t) { return (unsigned)t < (unsigned)FASTFNET_N_DTYPES ? dtype_info[t].size : 0; }
const char *fastfnet_dtype_name(fastfnet_dtype t) { return (unsigned)t < (unsigned)FASTFNET_N_DTYPES ? dtype_info[t].name : "?"; }

/* Names come from the file; control bytes or megabyte-long names must not wreck a one-line message. */
typedef struct {
    char s[80];
} fastfnet_shown;

static fastfnet_shown show(const char *name) {
    fastfnet_shown r;
    size_t k = 0, i = 0;
    for (; name[i] && k < 64; i++) {
        unsigned char c = (unsigned char)name[i];
        r.s[k++] = c >= 0x20 && c != 0x7f ? (char)c : '?';
    }
    if (name[i]) memcpy(r.s + k, "...", 3), k += 3;
    r.s[k] = 0;
    return r;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* Non-negative integral number that survived the trip through double exactly. */
static int json_uint(const fastfnet_json *v, uint64_t *out) {
    if (!v || v->type != FASTFNET_JSON_NUMBER) return -1;
    double d = v->number;
    if (!(d >= 0 && d <= FASTFNET_ST_MAX_EXACT)) return -1;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return -1;
    *out = u;
    return 0;
}

static int parse_dtype(fastfnet_st_tensor *t, const fastfnet_json *v, const char *path, const char *nm, char *err,
                       size_t errlen) {
    const fastfnet_json *dt = fastfnet_json_get(v, "dtype");
    if (!dt) return fastfnet_err(err, errlen, "%s: tensor '%s' has no \"dtype\"", path, nm);
    if (dt->type != FASTFNET_JSON_STRING) return fastfnet_err(err, errlen, "%s: tensor '%s' \"dtype\" is not a string", path, nm);
    int found = -1;
    for (int k = 0; k < FASTFNET_N_DTYPES; k++)
        if (strcmp(dt->str, dtype_info[k].name) == 0 && strlen(dt->str) == dt->str_len) found = k;
    if (found < 0)
        return fastfnet_err(err, errlen,
                       "%s: tensor '%s' has unknown dtype '%s' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, "
                       "U8, BOOL)",
                       path, nm, show(dt->str).s);
    t->dtype = (fastfnet_dtype)found;
    return 0;
}

/* The shape, its element count and its size in bytes (*bytes); shs receives the shape as text for messages. */
static int parse_shape(fastfnet_st_tensor *t, const fastfnet_json *v, const char *path, const char *nm, char *shs,
                       size_t shscap, size_t *bytes, char *err, size_t errlen) {
    const fastfnet_json *sh = fastfnet_json_get(v, "shape");
    if (!sh) return fastfnet_err(err, errlen, "%s: tensor '%s' has no \"shape\"", path, nm);
    if (sh->type != FASTFNET_JSON_ARRAY) return fastfnet_err(err, errlen, "%s: tensor '%s' \"shape\" is not a list", path, nm);
    if (sh->n > FASTFNET_ST_MAX_DIMS)
        return fastfnet_err(err, errlen, "%s: tensor '%s' has %d dimensions (at most %d supported)", path, nm, sh->n,
                       FASTFNET_ST_MAX_DIMS);
    t->ndim = sh->n;
    size_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < sh->n; d++) {
        uint64_t dim;
        if (json_uint(&sh->items[d], &dim) != 0)
            return fastfnet_err(err, errlen, "%s: tensor '%s' shape entry %d is not a non-negative integer", path, nm, d);
        t->shape[d] = (int64_t)dim;
        if (dim && numel > SIZE_MAX / dim) overflow = 1;
        else numel *= (size_t)dim;
    }
    shape_str(shs, shscap, t->ndim, t->shape);
    size_t esz = dtype_info[t->dtype].size;
    /* a zero dimension anywhere makes the tensor empty, whatever the other dimensions multiply to */
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0) overflow = 0, numel = 0;
    if (overflow || numel > SIZE_MAX / esz)
        return fastfnet_err(err, errlen, "%s: tensor '%s' shape %s is too large (element count overflows)", path, nm, shs);
    t->numel = numel;
    *bytes = numel * esz;
    return 0;
}

/* data_offsets: inside the data buffer and exactly as long as dtype and shape say (bytes). */
static int parse_offsets(const fastfnet_st_file *f, fastfnet_st_tensor *t, const fastfnet_json *v, const char *path,
                         const char *nm, const char *shs, size_t bytes, char *err, size_t errlen) {
    const fastfnet_json *off = fastfnet_json_get(v, "data_offsets");
    if (!off) return fastfnet_err(err, errlen, "%s: tensor '%s' has no \"data_offsets\"", path, nm);
    uint64_t b, e;
    if (off->type != FASTFNET_JSON_ARRAY || off->n != 2 || json_uint(&off->items[0], &b) != 0 ||
        json_uint(&off->items[1], &e) != 0)
        return fastfnet_err(err, errlen, "%s: tensor '%s' \"data_offsets\" is not a list of two non-negative integers",
                       path, nm);
    if (b > e)
        return fastfnet_err(err, errlen, "%s: tensor '%s' data_offsets [%llu, %llu] have begin > end", path, nm,
                       (unsigned long long)b, (unsigned long long)e);
    if (e > f->data_len)
        return fastfnet_err(err, errlen,
                       "%s: tensor '%s' data_offsets [%llu, %llu] exceed the data buffer (%zu bytes); the file is "
                       "truncated or corrupt",
                       path, nm, (unsigned long long)b, (unsigned long long)e, f->data_len);
    if (e - b != bytes)
        return fastfnet_err(err, errlen,
                       "%s: tensor '%s' data_offsets [%llu, %llu] span %llu bytes but %s %s needs %zu bytes", path,
                       nm, (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b),
                       dtype_info[t->dtype].name, shs, bytes);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    return 0;
}

static int parse_tensor(fastfnet_st_file *f, const char *path, fastfnet_st_tensor *t, const fastfnet_json *v, char *err,
                        size_t errlen) {
    fastfnet_shown sn = show(t->name);
    const char *nm = sn.s;
    if (v->type != FASTFNET_JSON_OBJECT)
        return fastfnet_err(err, errlen, "%s: tensor '%s' entry is not a JSON object", path, nm);
    for (int i = 0; i < v->n; i++) {
        const char *k = v->keys[i];
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return fastfnet_err(err, errlen, "%s: tensor '%s' has unexpected field '%s'", path, nm, show(k).s);
    }
    char shs[200];
    size_t bytes = 0;
    if (parse_dtype(t, v, path, nm, err, errlen) || parse_shape(t, v, path, nm, shs, sizeof shs, &bytes, err, errlen))
        return -1;
    return parse_offsets(f, t, v, path, nm, shs, bytes, err, errlen);
}

static int parse_meta(fastfnet_st_file *f, const char *path, const fastfnet_json *v, char *err, size_t errlen) {
    if (v->type != FASTFNET_JSON_OBJECT)
        return fastfnet_err(err, errlen, "%s: \"__metadata__\" is not an object of strings", path);
    f->meta_keys = calloc((size_t)v->n + 1, sizeof *f->meta_keys);
    f->meta_vals = calloc((size_t)v->n + 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals) return fastfnet_err(err, errlen, "%s: out of memory reading metadata", path);
    for (int i = 0; i < v->n; i++) {
        if (v->items[i].type != FASTFNET_JSON_STRING)
            return fastfnet_err(err, errlen, "%s: \"__metadata__\" value for '%s' is not a string", path,
                           show(v->keys[i]).s);
        f->meta_keys[i] = strdup(v->keys[i]);
        f->meta_vals[i] = strdup(v->items[i].str);
        f->nmeta = i + 1;
        if (!f->meta_keys[i] || !f->meta_vals[i])
            return fastfnet_err(err, errlen, "%s: out of memory reading metadata", path);
    }
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const fastfnet_st_tensor *x = *(const fastfnet_st_tensor *const *)a, *y = *(const fastfnet_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y; /* file order, so messages are deterministic */
}

static int cmp_by_name(const void *a, const void *b) {
    const fastfnet_st_tensor *x = *(const fastfnet_st_tensor *const *)a, *y = *(const fastfnet_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* The format requires the tensors to tile the data buffer exactly; anything else means a corrupt or
 * hand-edited file, and a hole could hide data no tensor accounts for. */
static int check_layout(const fastfnet_st_file *f, const char *path, char *err, size_t errlen) {
    if (f->n == 0) {
        if (f->data_len)
            return fastfnet_err(err, errlen,
                           "%s: %zu trailing bytes in the data buffer but no tensors; the file is corrupt", path,
                           f->data_len);
        return 0;
    }
    const fastfnet_st_tensor **ord = malloc((size_t)f->n * sizeof *ord);
    if (!ord) return fastfnet_err(err, errlen, "%s: out of memory checking the layout", path);
    for (int i = 0; i < f->n; i++) ord[i] = &f->tensors[i];
    int rc = 0;

    /* JSON already refused duplicate keys byte for byte; names with an embedded NUL can still collide */
    qsort(ord, (size_t)f->n, sizeof *ord, cmp_by_name);
    for (int i = 1; i < f->n && !rc; i++)
        if (strcmp(ord[i]->name, ord[i - 1]->name) == 0)
            rc = fastfnet_err(err, errlen, "%s: duplicate tensor name '%s'", path, show(ord[i]->name).s);

    qsort(ord, (size_t)f->n, sizeof *ord, cmp_by_offset);
    size_t at = 0;
    const fastfnet_st_tensor *last = NULL;
    for (int i = 0; i < f->n && !rc; i++) {
        const fastfnet_st_tensor *t = ord[i];
        if (t->begin < at) {
            rc = fastfnet_err(err, errlen, "%s: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap in the data buffer",
                         path, show(last->name).s, last->begin, last->end, show(t->name).s, t->begin, t->end);
        } else if (t->begin > at) {
            rc = fastfnet_err(err, errlen,
                         "%s: data buffer bytes [%zu, %zu) belong to no tensor (a hole before '%s'); the file is "
                         "corrupt",
                         path, at, t->begin, show(t->name).s);
        } else if (t->end > t->begin) {
            at = t->end;
            last = t;
        }
    }
    if (!rc && at != f->data_len)
        rc = fastfnet_err(err, errlen,
                     "%s: %zu trailing bytes after the last tensor (data buffer %zu bytes, tensors cover %zu); the "
                     "file is corrupt",
                     path, f->data_len - at, f->data_len, at);
    free(ord);
    return rc;
}

static int parse_header(fastfnet_st_file *f, const char *path, const char *h, size_t hlen, char *err, size_t errlen) {
    char jerr[256];
    fastfnet_json *root = fastfnet_json_parse(h, hlen, jerr, sizeof jerr);
    if (!root) return fastfnet_err(err, errlen, "%s: header is not valid JSON (%s)", path, jerr);
    int rc = 0;
    if (root->type != FASTFNET_JSON_OBJECT) {
        rc = fastfnet_err(err, errlen, "%s: header is not a JSON object", path);
        goto done;
    }
    f->tensors = calloc((size_t)root->n + 1, sizeof *f->tensors);
    if (!f->tensors) {
        rc = fastfnet_err(err, errlen, "%s: out of memory for %d tensor entries", path, root->n);
        goto done;
    }
    for (int i = 0; i < root->n && !rc; i++) {
        if (strcmp(root->keys[i], "__metadata__") == 0) {
            rc = parse_meta(f, path, &root->items[i], err, errlen);
            continue;
        }
        fastfnet_st_tensor *t = &f->tensors[f->n];
        t->name = strdup(root->keys[i]);
        if (!t->name) {
            rc = fastfnet_err(err, errlen, "%s: out of memory", path);
            break;
        }
        f->n++; /* counted before validation so that close frees the name on failure */
        rc = parse_tensor(f, path, t, &root->items[i], err, errlen);
    }
    if (!rc) rc = check_layout(f, path, err, errlen);
done:
    fastfnet_json_free(root);
    return rc;
}

/* A regular file at least as long as the 8-byte header length, open read-only in *fd_out (closed on failure). */
static int open_regular(const char *path, int *fd_out, size_t *size, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fastfnet_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fastfnet_err(err, errlen, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fastfnet_err(err, errlen, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return fastfnet_err(err, errlen,
                       "%s: file is %lld bytes, shorter than the 8-byte header length; it is truncated or not a "
                       "safetensors file",
                       path, (long long)st.st_size);
    }
    if ((unsigned long long)st.st_size > SIZE_MAX) {
        close(fd);
        return fastfnet_err(err, errlen, "%s: file too large to map", path);
    }
    *fd_out = fd;
    *size = (size_t)st.st_size;
    return 0;
}

/* The whole file, mapped read-only into f->map; the descriptor is not needed once mapped. */
static int map_file(fastfnet_st_file *f, const char *path, char *err, size_t errlen) {
    int fd = -1;
    size_t size = 0;
    if (open_regular(path, &fd, &size, err, errlen)) return -1;
    /* MAP_PRIVATE keeps our view stable against writers of the page cache; a concurrent truncation can
     * still raise SIGBUS, which no user-space check can prevent. */
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) return fastfnet_err(err, errlen, "%s: mmap failed: %s", path, strerror(map_errno));
    f->map = map;
    f->map_len = size;
    return 0;
}

/* The header length (8 bytes, little-endian) checked against the file and the cap; the data buffer follows
 * the header. */
static int split_header(fastfnet_st_file *f, const char *path, uint64_t *hlen_out, char *err, size_t errlen) {
    const uint8_t *b = f->map;
    size_t size = f->map_len;
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)b[i] << (8 * i);
    if (hlen > size - 8)
        return fastfnet_err(err, errlen,
                       "%s: header length %llu exceeds the file size (%zu bytes); the file is truncated or not a "
                       "safetensors file",
                       path, (unsigned long long)hlen, size);
    if (hlen > FASTFNET_ST_MAX_HEADER)
        return fastfnet_err(err, errlen, "%s: header length %llu exceeds the %llu-byte limit; the file is corrupt",
                       path, (unsigned long long)hlen, FASTFNET_ST_MAX_HEADER);
    f->data = b + 8 + hlen;
    f->data_len = size - 8 - (size_t)hlen;
    *hlen_out = hlen;
    return 0;
}

int fastfnet_st_open(fastfnet_st_file *f, const char *path, char *err, size_t errlen) {
    if (!f) return fastfnet_err(err, errlen, "fastfnet_st_open: no file struct");
    memset(f, 0, sizeof *f);
    if (!path) return fastfnet_err(err, errlen, "fastfnet_st_open: no path");
    if (map_file(f, path, err, errlen)) return -1;
    uint64_t hlen = 0;
    if (split_header(f, path, &hlen, err, errlen) != 0 ||
        parse_header(f, path, (const char *)f->map + 8, (size_t)hlen, err, errlen) != 0) {
        fastfnet_st_close(f);
        return -1;
    }
    return 0;
}

void fastfnet_st_close(fastfnet_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    if (f->map) munmap(f->map, f->map_len);
    memset(f, 0, sizeof *f);
}

const fastfnet_st_tensor *fastfnet_st_find(const fastfnet_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *fastfnet_st_meta(const fastfnet_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32; }

static float f32_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | man << 13); /* inf, NaN keeps its payload */
    if (exp) return f32_from_bits(sign | (exp + 112) << 23 | man << 13);  /* rebias 15 -> 127 */
    float v = (float)man * 5.9604644775390625e-8f;                        /* subnormal: man * 2^-24, exact */
    return sign ? -v : v;
}

/* Guards against a tensor pointer that did not come from this (validated) file. */
static int check_read(const fastfnet_st_file *f, const fastfnet_st_tensor *t, const void *dst, size_t n, char *err,
                      size_t errlen) {
    if (!f || !t || (!dst && n)) return fastfnet_err(err, errlen, "safetensors read: NULL argument");
    size_t esz = fastfnet_dtype_size(t->dtype);
    if (!esz || t->begin > t->end || t->end > f->data_len || (t->numel && esz > SIZE_MAX / t->numel) ||
        t->end - t->begin != t->numel * esz)
        return fastfnet_err(err, errlen, "tensor '%s' does not describe a valid range of this file",
                       t->name ? show(t->name).s : "?");
    if (n != t->numel)
        return fastfnet_err(err, errlen, "tensor '%s': destination holds %zu values but the tensor has %zu",
                       show(t->name).s, n, t->numel);
    return 0;
}

int fastfnet_st_read_f32(const fastfnet_st_file *f, const fastfnet_st_tensor *t, float *dst, size_t n, char *err, size_t errlen) {
    if (check_read(f, t, dst, n, err, errlen) != 0) return -1;
    const uint8_t *p = f->data + t->begin;
    switch (t->dtype) {
    case FASTFNET_DT_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (n) memcpy(dst, p, n * 4);
#else
        for (size_t i = 0; i < n; i++) dst[i] = f32_from_bits(ld32(p + 4 * i));
#endif
        return 0;
    case FASTFNET_DT_F16:
        for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(ld16(p + 2 * i));
        return 0;
    case FASTFNET_DT_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = f32_from_bits((uint32_t)ld16(p + 2 * i) << 16);
        return 0;
    case FASTFNET_DT_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t u = ld64(p + 8 * i);
            double d;
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return fastfnet_err(err, errlen, "tensor '%s' has dtype %s; expected a float tensor (F32, F16, BF16 or F64)",
                       show(t->name).s, fastfnet_dtype_name(t->dtype));
    }
}

int fastfnet_st_read_i32(const fastfnet_st_file *f, const fastfnet_st_tensor *t, int32_t *dst, size_t n, char *err, size_t errlen) {
    if (check_read(f, t, dst, n, err, errlen) != 0) return -1;
    const uint8_t *p = f->data + t->begin;
    switch (t->dtype) {
    case FASTFNET_DT_I32:
        for (size_t i = 0; i < n; i++) {
            uint32_t u = ld32(p + 4 * i);
            memcpy(&dst[i], &u, 4);
        }
        return 0;
    case FASTFNET_DT_I64:
        for (size_t i = 0; i < n; i++) {
            uint64_t u = ld64(p + 8 * i);
            int64_t v;
            memcpy(&v, &u, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return fastfnet_err(err, errlen, "tensor '%s' element %zu = %lld does not fit in int32", show(t->name).s,
                               i, (long long)v);
            dst[i] = (int32_t)v;
        }
        return 0;
    case FASTFNET_DT_I16:
        for (size_t i = 0; i < n; i++) {
            uint16_t u = ld16(p + 2 * i);
            int16_t v;
            memcpy(&v, &u, 2);
            dst[i] = v;
        }
        return 0;
    case FASTFNET_DT_I8:
        for (size_t i = 0; i < n; i++) dst[i] = (int32_t)p[i] - (p[i] >= 0x80 ? 256 : 0);
        return 0;
    case FASTFNET_DT_U8:
        for (size_t i = 0; i < n; i++) dst[i] = p[i];
        return 0;
    default:
        return fastfnet_err(err, errlen, "tensor '%s' has dtype %s; expected an integer tensor (I32, I64, I16, I8 or U8)",
                       show(t->name).s, fastfnet_dtype_name(t->dtype));
    }
}

/* ---- writer ---- */

static int put(char *buf, size_t cap, size_t *pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *pos, const char *fmt, ...) {
    if (*pos >= cap) return -1;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *pos) return -1;
    *pos += (size_t)k;
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the header (NUL-terminated, padded) and its length, with each tensor's byte size in sizes[]. */
static char *build_header(const char *path, const fastfnet_st_out *t, int n, const char *const *meta, int nmeta,
                          const size_t *sizes, size_t *hlen, char *err, size_t errlen) {
    /* an escaped byte takes at most 6 output bytes (\u00XX); numbers at most 20 digits */
    size_t cap = 64;
    for (int i = 0; i < nmeta; i++) cap += 6 * (strlen(meta[2 * i]) + strlen(meta[2 * i + 1])) + 8;
    for (int i = 0; i < n; i++) cap += 6 * strlen(t[i].name) + 96 + 22 * (size_t)(t[i].ndim + 2);
    cap += 16;
    char *buf = malloc(cap);
    if (!buf) {
        fastfnet_err(err, errlen, "%s: out of memory for a %zu-byte header", path, cap);
        return NULL;
    }
    size_t pos = 0, off = 0;
    int bad = put(buf, cap, &pos, "{");
    if (nmeta) {
        bad |= put(buf, cap, &pos, "\"__metadata__\":{");
        for (int i = 0; i < nmeta && !bad; i++) {
            if (i) bad |= put(buf, cap, &pos, ",");
            bad |= fastfnet_json_escape(buf, cap, &pos, meta[2 * i]);
            bad |= put(buf, cap, &pos, ":");
            bad |= fastfnet_json_escape(buf, cap, &pos, meta[2 * i + 1]);
        }
        bad |= put(buf, cap, &pos, "}");
    }
    for (int i = 0; i < n && !bad; i++) {
        if (i || nmeta) bad |= put(buf, cap, &pos, ",");
        bad |= fastfnet_json_escape(buf, cap, &pos, t[i].name);
        bad |= put(buf, cap, &pos, ":{\"dtype\":\"%s\",\"shape\":[", fastfnet_dtype_name(t[i].dtype));
        for (int d = 0; d < t[i].ndim; d++) bad |= put(buf, cap, &pos, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        bad |= put(buf, cap, &pos, "],\"data_offsets\":[%zu,%zu]}", off, off + sizes[i]);
        off += sizes[i];
    }
    bad |= put(buf, cap, &pos, "}");
    /* readers may then map tensors in place without misaligned loads */
    while (!bad && (8 + pos) % 8) bad |= put(buf, cap, &pos, " ");
    if (bad) {
        free(buf);
        fastfnet_err(err, errlen, "%s: internal error: header buffer too small", path);
        return NULL;
    }
    *hlen = pos;
    return buf;
}

/* One tensor to write: named (UTF-8, not the reserved key), a known dtype, a shape whose size fits; its size in
 * *size, added to *total so that the whole data buffer fits too. */
static int check_out_tensor(const char *path, const fastfnet_st_out *o, int i, size_t *total, size_t *size, char *err,
                            size_t errlen) {
    if (!o->name) return fastfnet_err(err, errlen, "%s: tensor %d has no name", path, i);
    fastfnet_shown sn = show(o->name);
    if (!fastfnet_json_utf8_valid(o->name, strlen(o->name)))
        return fastfnet_err(err, errlen, "%s: tensor name '%s' is not valid UTF-8", path, sn.s);
    if (strcmp(o->name, "__metadata__") == 0)
        return fastfnet_err(err, errlen, "%s: '__metadata__' is reserved and cannot name a tensor", path);
    if (!fastfnet_dtype_size(o->dtype)) return fastfnet_err(err, errlen, "%s: tensor '%s' has an invalid dtype", path, sn.s);
    if (o->ndim < 0 || o->ndim > FASTFNET_ST_MAX_DIMS)
        return fastfnet_err(err, errlen, "%s: tensor '%s' has ndim %d (0..%d allowed)", path, sn.s, o->ndim,
                       FASTFNET_ST_MAX_DIMS);
    size_t numel = 1;
    int overflow = 0, empty = 0;
    for (int d = 0; d < o->ndim; d++) {
        if (o->shape[d] < 0)
            return fastfnet_err(err, errlen, "%s: tensor '%s' has negative dimension %lld", path, sn.s,
                           (long long)o->shape[d]);
        uint64_t dim = (uint64_t)o->shape[d];
        if (dim == 0) empty = 1;
        else if (dim > SIZE_MAX || numel > SIZE_MAX / dim) overflow = 1;
        else numel *= (size_t)dim;
    }
    if (empty) numel = 0, overflow = 0;
    size_t esz = fastfnet_dtype_size(o->dtype);
    if (overflow || numel > SIZE_MAX / esz || numel * esz > SIZE_MAX - *total)
        return fastfnet_err(err, errlen, "%s: tensor '%s' is too large", path, sn.s);
    *size = numel * esz;
    *total += *size;
    if (*size && !o->data) return fastfnet_err(err, errlen, "%s: tensor '%s' has no data", path, sn.s);
    return 0;
}

/* Metadata pairs until a NULL key, each with a value, in UTF-8; how many in *nmeta_out. */
static int count_meta(const char *path, const char *const *meta, int *nmeta_out, char *err, size_t errlen) {
    int nmeta = 0;
    if (meta) {
        for (; meta[2 * nmeta]; nmeta++) {
            const char *k = meta[2 * nmeta], *v = meta[2 * nmeta + 1];
            if (!v) return fastfnet_err(err, errlen, "%s: metadata key '%s' has no value", path, show(k).s);
            if (!fastfnet_json_utf8_valid(k, strlen(k)) || !fastfnet_json_utf8_valid(v, strlen(v)))
                return fastfnet_err(err, errlen, "%s: metadata '%s' is not valid UTF-8", path, show(k).s);
            if (nmeta >= INT32_MAX / 2 - 1) return fastfnet_err(err, errlen, "%s: too many metadata entries", path);
        }
    }
    *nmeta_out = nmeta;
    return 0;
}

/* A file with duplicate keys could not be read back, so refuse to write one. */
static int check_unique_names(const char *path, const fastfnet_st_out *t, int n, const char *const *meta, int nmeta,
                              char *err, size_t errlen) {
    int m = n > nmeta ? n : nmeta, rc = 0;
    const char **names = malloc(((size_t)m + 1) * sizeof *names);
    if (!names) return fastfnet_err(err, errlen, "%s: out of memory", path);
    for (int pass = 0; pass < 2 && !rc; pass++) {
        int k = pass ? nmeta : n;
        for (int i = 0; i < k; i++) names[i] = pass ? meta[2 * i] : t[i].name;
        qsort(names, (size_t)k, sizeof *names, cmp_str_ptr);
        for (int i = 1; i < k && !rc; i++)
            if (strcmp(names[i], names[i - 1]) == 0)
                rc = fastfnet_err(err, errlen, "%s: duplicate %s '%s'", path, pass ? "metadata key" : "tensor name",
                             show(names[i]).s);
    }
    free(names);
    return rc;
}

static int validate_out(const char *path, const fastfnet_st_out *t, int n, const char *const *meta, int *nmeta_out,
                        size_t *sizes, char *err, size_t errlen) {
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (check_out_tensor(path, &t[i], i, &total, &sizes[i], err, errlen)) return -1;
    if (count_meta(path, meta, nmeta_out, err, errlen)) return -1;
    return check_unique_names(path, t, n, meta, *nmeta_out, err, errlen);
}

static int write_all(FILE *fp, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : -1; }

int fastfnet_st_write(const char *path, const fastfnet_st_out *t, int n, const char *const *meta, char *err, size_t errlen) {
    if (!path || !*path) return fastfnet_err(err, errlen, "fastfnet_st_write: no path");
    if (n < 0 || (n > 0 && !t)) return fastfnet_err(err, errlen, "%s: invalid tensor list", path);
    size_t *sizes = malloc(((size_t)n + 1) * sizeof *sizes);
    if (!sizes) return fastfnet_err(err, errlen, "%s: out of memory", path);
    int nmeta = 0;
    size_t hlen = 0;
    char *header = NULL;
    int rc = -1;
    if (validate_out(path, t, n, meta, &nmeta, sizes, err, errlen) != 0) goto out;
    header = build_header(path, t, n, meta, nmeta, sizes, &hlen, err, errlen);
    if (!header) goto out;

    fastfnet_atomic_file a;
    if (fastfnet_atomic_open(&a, path, err, errlen) != 0) goto out;
    uint8_t lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int bad = write_all(a.f, lenb, 8) || write_all(a.f, header, hlen);
    for (int i = 0; i < n && !bad; i++) bad = write_all(a.f, t[i].data, sizes[i]);
    /* a short write leaves the stream's error flag set, so the commit reports it and removes the temp file */
    rc = fastfnet_atomic_commit(&a, err, errlen);
out:
    free(sizes);
    free(header);
    return rc;
}
