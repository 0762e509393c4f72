/* fuzz_tokenizer.c: libFuzzer harness for the tokenizer.json reader (fastfnet_tok_load in src/engine/tokenizer.c),
 * through a scratch file. A loaded tokenizer is then used: every id has a string, encoding stays inside
 * the vocabulary, and byte/BPE decoding gives back the text exactly (the promise in tokenizer.h). */
#include "fuzz.h"
#include "tokenizer.h"

static const char SAMPLE[] = "The whale's 3 ships sailed, didn't they?  \t\n na\xc3\xafve \xe2\x80\x94 caf\xc3\xa9 \xff\x80 [MASK] end";

static void use(fastfnet_tokenizer *t, const uint8_t *extra, size_t extra_len) {
    int V = fastfnet_tok_vocab_size(t);
    FUZZ_REQUIRE(V >= FASTFNET_TOK_NUM_SPECIAL);
    for (int id = 0; id < V; id++) FUZZ_REQUIRE(fastfnet_tok_token_str(t, id) != NULL);
    FUZZ_REQUIRE(fastfnet_tok_token_str(t, V) == NULL && fastfnet_tok_token_str(t, -1) == NULL);

    size_t n = sizeof SAMPLE - 1 + extra_len;
    char *text = malloc(n + 1);
    FUZZ_REQUIRE(text);
    memcpy(text, SAMPLE, sizeof SAMPLE - 1);
    if (extra_len) memcpy(text + sizeof SAMPLE - 1, extra, extra_len);
    text[n] = 0;
    size_t cap = n + 1;
    int32_t *ids = malloc(cap * sizeof *ids);
    FUZZ_REQUIRE(ids);
    size_t k = fastfnet_tok_encode(t, text, n, ids, cap);
    FUZZ_REQUIRE(k <= cap); /* at most one id per byte */
    for (size_t i = 0; i < k; i++) FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < V);
    if (fastfnet_tok_kind_of(t) != FASTFNET_TOK_WORD) {
        for (size_t i = 0; i < k; i++) FUZZ_REQUIRE(ids[i] >= FASTFNET_TOK_NUM_SPECIAL);
        char *out = malloc(n + 1);
        FUZZ_REQUIRE(out);
        size_t m = fastfnet_tok_decode(t, ids, k, out, n + 1);
        FUZZ_REQUIRE(m == n && memcmp(out, text, n) == 0);
        free(out);
    }
    free(ids);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("tokenizer.json", data, size);
    char err[512] = "";
    fastfnet_tokenizer *t = fastfnet_tok_load(path, err, sizeof err);
    if (!t) {
        FUZZ_REQUIRE_MESSAGE(err);
        return 0;
    }
    use(t, data, size < 64 ? size : 64);
    fastfnet_tok_free(t);
    return 0;
}
