/* fuzz_config.c: libFuzzer harness for the model config reader (fastfnet_config_from_json in src/engine/config.c).
 * An accepted config is valid, and the JSON it is saved as (in every checkpoint) reads back as the same
 * config, every float bit for bit. */
#include "fastfnet.h"
#include "fuzz.h"

static void same_config(const fastfnet_config *a, const fastfnet_config *b) {
    FUZZ_REQUIRE(a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size && a->num_layers == b->num_layers);
    FUZZ_REQUIRE(a->intermediate_size == b->intermediate_size && a->max_position == b->max_position);
    FUZZ_REQUIRE(a->type_vocab_size == b->type_vocab_size && a->num_heads == b->num_heads);
    FUZZ_REQUIRE(a->num_labels == b->num_labels && a->pad_token_id == b->pad_token_id);
    FUZZ_REQUIRE(memcmp(&a->hidden_dropout, &b->hidden_dropout, sizeof(float)) == 0);
    FUZZ_REQUIRE(memcmp(&a->attn_dropout, &b->attn_dropout, sizeof(float)) == 0);
    FUZZ_REQUIRE(memcmp(&a->initializer_range, &b->initializer_range, sizeof(float)) == 0);
    FUZZ_REQUIRE(memcmp(&a->layer_norm_eps, &b->layer_norm_eps, sizeof(float)) == 0);
    FUZZ_REQUIRE(a->heads == b->heads && a->residual == b->residual && a->fourier_impl == b->fourier_impl);
    for (int i = 0; i < a->num_layers; i++) FUZZ_REQUIRE(a->mixing[i] == b->mixing[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fastfnet_config c, back;
    char err[512] = "";
    if (fastfnet_config_from_json(&c, (const char *)data, size, err, sizeof err) != 0) {
        FUZZ_REQUIRE_MESSAGE(err);
        return 0;
    }
    FUZZ_REQUIRE(fastfnet_config_validate(&c, err, sizeof err) == 0);
    char json[8192];
    int n = fastfnet_config_to_json(&c, json, sizeof json);
    FUZZ_REQUIRE(n > 0 && (size_t)n < sizeof json);
    if (fastfnet_config_from_json(&back, json, (size_t)n, err, sizeof err) != 0) {
        fprintf(stderr, "saved config does not read back: %s\n%s", err, json);
        abort();
    }
    same_config(&c, &back);
    return 0;
}
