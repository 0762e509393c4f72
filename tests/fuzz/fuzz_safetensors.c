/* fuzz_safetensors.c: libFuzzer harness for the safetensors reader (src/engine/safetensors.c). The reader maps a
 * path, so each input goes through a scratch file on tmpfs. An accepted file must describe tensors that
 * lie inside the data buffer, are found by name, and read back (F32 byte for byte) without error. */
#include "fuzz.h"
#include "safetensors.h"

static void check_tensor(const fastfnet_st_file *f, const fastfnet_st_tensor *t) {
    size_t esz = fastfnet_dtype_size(t->dtype);
    FUZZ_REQUIRE(esz > 0 && t->ndim >= 0 && t->ndim <= FASTFNET_ST_MAX_DIMS);
    FUZZ_REQUIRE(t->begin <= t->end && t->end <= f->data_len && t->end - t->begin == t->numel * esz);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        FUZZ_REQUIRE(t->shape[d] >= 0);
        numel *= (size_t)t->shape[d]; /* cannot wrap: numel * esz bytes lie inside the file */
    }
    FUZZ_REQUIRE(numel == t->numel);
    FUZZ_REQUIRE(fastfnet_st_find(f, t->name) == t);

    char err[256] = "";
    int is_float = t->dtype == FASTFNET_DT_F32 || t->dtype == FASTFNET_DT_F16 || t->dtype == FASTFNET_DT_BF16 || t->dtype == FASTFNET_DT_F64;
    if (is_float) {
        float *dst = malloc((t->numel ? t->numel : 1) * sizeof *dst);
        FUZZ_REQUIRE(dst);
        FUZZ_REQUIRE(fastfnet_st_read_f32(f, t, dst, t->numel, err, sizeof err) == 0);
        if (t->dtype == FASTFNET_DT_F32 && t->numel) FUZZ_REQUIRE(memcmp(dst, f->data + t->begin, t->numel * 4) == 0);
        free(dst);
    } else {
        int32_t *dst = malloc((t->numel ? t->numel : 1) * sizeof *dst);
        FUZZ_REQUIRE(dst);
        int rc = fastfnet_st_read_i32(f, t, dst, t->numel, err, sizeof err);
        /* only I64 can hold values outside int32; BOOL is neither kind */
        if (t->dtype == FASTFNET_DT_BOOL || (rc != 0 && t->dtype == FASTFNET_DT_I64)) {
            FUZZ_REQUIRE(rc == -1);
            FUZZ_REQUIRE_MESSAGE(err);
        } else {
            FUZZ_REQUIRE(rc == 0);
        }
        free(dst);
    }
    /* a destination of the wrong size is refused, not overrun */
    float one;
    FUZZ_REQUIRE(fastfnet_st_read_f32(f, t, &one, t->numel + 1, err, sizeof err) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("model.safetensors", data, size);
    fastfnet_st_file f;
    char err[512] = "";
    if (fastfnet_st_open(&f, path, err, sizeof err) != 0) {
        FUZZ_REQUIRE_MESSAGE(err);
        FUZZ_REQUIRE(f.n == 0 && f.map == NULL && f.tensors == NULL);
        fastfnet_st_close(&f);
        return 0;
    }
    FUZZ_REQUIRE(f.data_len <= size && f.data + f.data_len == (const uint8_t *)f.map + size);
    for (int i = 0; i < f.n; i++) check_tensor(&f, &f.tensors[i]);
    for (int i = 0; i < f.nmeta; i++) FUZZ_REQUIRE(fastfnet_st_meta(&f, f.meta_keys[i]) != NULL);
    fastfnet_st_close(&f);
    return 0;
}
