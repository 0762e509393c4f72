/* fuzz_idx.c: libFuzzer harness for the IDX image and label reader (fastfnet_dataset_from_idx in src/app/data.c).
 * Input: one byte `limit` (its low 4 bits, 0 = all images), two bytes big-endian: the length of the image
 * file, then the image file, then the label file (the rest). Each goes to its own scratch file. */
#include "data.h"
#include "fuzz.h"

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    int limit = data[0] & 15;
    size_t ilen = (size_t)data[1] << 8 | data[2];
    if (ilen > size - 3) ilen = size - 3;
    const uint8_t *img = data + 3, *lab = img + ilen;
    size_t llen = size - 3 - ilen;
    const char *ip = fuzz_write("images-idx3-ubyte", img, ilen), *lp = fuzz_write("labels-idx1-ubyte", lab, llen);
    fastfnet_dataset d;
    char err[512] = "";
    if (fastfnet_dataset_from_idx(&d, ip, lp, 0, 10, limit, err, sizeof err) != 0) {
        FUZZ_REQUIRE_MESSAGE(err);
        return 0;
    }
    uint64_t n = be32(img + 4), px = (uint64_t)be32(img + 8) * be32(img + 12);
    FUZZ_REQUIRE(d.n >= 0 && (uint64_t)d.n <= n && (limit == 0 ? (uint64_t)d.n == n : d.n <= limit));
    FUZZ_REQUIRE(ilen >= 16 + d.n * px && llen >= 8 + (size_t)d.n);
    for (int i = 0; i < d.n; i++) {
        FUZZ_REQUIRE(d.off[i] == (int64_t)((px + 1) * i) && d.seg[i] == (int32_t)(px + 1));
        FUZZ_REQUIRE(d.labels[i] >= 0 && d.labels[i] <= 9 && d.ids[d.off[i]] == FASTFNET_TOK_CLS);
        for (uint64_t k = 1; k <= px; k++) FUZZ_REQUIRE(d.ids[d.off[i] + k] == FASTFNET_TOK_NUM_SPECIAL + img[16 + i * px + k - 1]);
    }
    FUZZ_REQUIRE(d.off[d.n] == (int64_t)((px + 1) * d.n));
    fastfnet_dataset_free(&d);
    return 0;
}
