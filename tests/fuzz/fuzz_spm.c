/* fuzz_spm.c: libFuzzer harness for SentencePiece .model files read through fastfnet_tok_load (src/engine/tokenizer.c,
 * which hands the bytes to libsentencepiece via src/engine/spm.cpp), through a scratch file named *.model. A loaded
 * tokenizer is then used: every id has a string, encoding stays inside the vocabulary, decoding fits. */
#include "fuzz.h"
#include "tokenizer.h"

static const char SAMPLE[] = "Call me Ishmael.  Some years ago \xe2\x80\x94 na\xc3\xafve [CLS] caf\xc3\xa9 \xff\x80 [MASK] end";

static void use(fastfnet_tokenizer *t) {
    int V = fastfnet_tok_vocab_size(t);
    FUZZ_REQUIRE(V >= 1);
    for (int id = 0; id < V; id++) FUZZ_REQUIRE(fastfnet_tok_token_str(t, id) != NULL);
    FUZZ_REQUIRE(fastfnet_tok_token_str(t, V) == NULL && fastfnet_tok_token_str(t, -1) == NULL);
    int32_t ids[4 * sizeof SAMPLE];
    size_t cap = sizeof ids / sizeof ids[0], k = fastfnet_tok_encode(t, SAMPLE, sizeof SAMPLE - 1, ids, cap);
    if (k == FASTFNET_TOK_ERROR) return; /* the library refused to encode with this model: an error, not ids */
    if (k > cap) k = cap; /* the count may exceed cap; only cap ids were written */
    for (size_t i = 0; i < k; i++) FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < V);
    char out[64];
    /* a short buffer: decoding must stop inside it and end it with a NUL (ASan catches a write past it) */
    size_t m = fastfnet_tok_decode(t, ids, k, out, sizeof out);
    FUZZ_REQUIRE(out[m < sizeof out ? m : sizeof out - 1] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("spiece.model", data, size);
    char err[512] = "";
    fastfnet_tokenizer *t = fastfnet_tok_load(path, err, sizeof err);
    if (!t) {
        FUZZ_REQUIRE_MESSAGE(err);
        return 0;
    }
    use(t);
    fastfnet_tok_free(t);
    return 0;
}
