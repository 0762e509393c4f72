/* test_oom.c: every allocation in the engine is checked. Each operation is run with its first, second, ...
 * allocation failing (fastfnet_alloc_fail_countdown) until it succeeds: each failure must be a NULL or -1
 * with a message (or FASTFNET_TOK_ERROR), never a crash, an exit or (under the sanitizer build) a leak, and
 * the objects must work afterwards. */
#include "check.h"
#include "fastfnet.h"
#include "util.h"

static const char *g_tok_path, *g_model_path;
static char g_err[512];

/* Runs op with allocation k failing for k = 0, 1, ... until op succeeds (returns 1); op returns 1 on
 * success, 0 on a clean failure, -1 on a wrong one (a failure without a message). strict: every allocation
 * is needed (not so for encode, which caches only when it can). Returns the number of
 * failing allocations met, or -1 when some failure was wrong or it never succeeded. */
static long each_failure(int (*op)(void *), void *arg, long limit, int strict) {
    for (long k = 0; k < limit; k++) {
        fastfnet_alloc_fail_countdown = k;
        int r = op(arg);
        int failed_here = fastfnet_alloc_fail_countdown == -1; /* the countdown reached the failing allocation */
        fastfnet_alloc_fail_countdown = -1;
        /* a success must not have swallowed a failed allocation (strict: no allocation is optional) */
        if (r < 0 || (r == 1 && failed_here && strict)) {
            printf("allocation %ld failing: %s (%s)\n", k, r < 0 ? "a wrong failure" : "success regardless", g_err);
            return -1;
        }
        if (r == 1) return k;
    }
    return -1;
}


static int op_tok_load(void *arg) {
    g_err[0] = 0;
    fastfnet_tokenizer *t = fastfnet_tok_load(g_tok_path, g_err, sizeof g_err);
    if (!t) return strstr(g_err, "out of memory") && strstr(g_err, g_tok_path) ? 0 : -1;
    /* the loaded tokenizer works (with allocations succeeding: encode's own failures are tested below) */
    long left = fastfnet_alloc_fail_countdown;
    fastfnet_alloc_fail_countdown = -1;
    int32_t ids[64];
    size_t n = fastfnet_tok_encode(t, "hello world", 11, ids, 64);
    fastfnet_tok_free(t);
    fastfnet_alloc_fail_countdown = left;
    return n > 0 && n != FASTFNET_TOK_ERROR ? 1 : -1;
}

static int op_tok_train(void *arg) {
    const char *text = arg;
    g_err[0] = 0;
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_BPE, text, strlen(text), 300, 2, g_err, sizeof g_err);
    if (!t) return strstr(g_err, "out of memory") ? 0 : -1;
    int ok = fastfnet_tok_vocab_size(t) > 261;
    fastfnet_tok_free(t);
    return ok ? 1 : -1;
}

static int op_tok_encode(void *arg) {
    fastfnet_tokenizer *t = arg;
    int32_t ids[256];
    const char *s = "a longer line of text, with words the cache has not seen: zebra quagga okapi";
    size_t n = fastfnet_tok_encode(t, s, strlen(s), ids, 256);
    return n == FASTFNET_TOK_ERROR ? 0 : n > 0 ? 1 : -1;
}

static int op_model(void *arg) {
    g_err[0] = 0;
    fastfnet_model *m = fastfnet_model_load(g_model_path, g_err, sizeof g_err);
    if (!m) return g_err[0] ? 0 : -1;
    int rc = fastfnet_model_reserve(m, 2, 16, 1, g_err, sizeof g_err);
    if (rc) {
        fastfnet_model_free(m);
        return g_err[0] ? 0 : -1;
    }
    int ids[32];
    for (int i = 0; i < 32; i++) ids[i] = 5 + i;
    fastfnet_batch b = {.B = 2, .T = 16, .input_ids = ids, .mlm_labels = ids};
    float loss = fastfnet_model_forward(m, &b, 1);
    int r = isfinite(loss) && fastfnet_model_backward(m) == 0 ? 1 : -1;
    fastfnet_model_free(m);
    return r;
}

int main(void) {
    if (!check_tmpdir("fastfnet_oom_")) return 1;
    char text[8192];
    size_t o = 0;
    for (int i = 0; i < 60; i++) o += (size_t)snprintf(text + o, sizeof text - o, "the quick brown fox %d jumps over the lazy dog %d\n", i, i * 7);
    long k = each_failure(op_tok_train, text, 100000, 1);
    check(k > 0, "BPE training: each of its first %ld allocations failing is a clean \"out of memory\" error", k);
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_BPE, text, strlen(text), 300, 2, g_err, sizeof g_err);
    g_tok_path = tpath("tok.json");
    check(t && fastfnet_tok_save(t, g_tok_path, g_err, sizeof g_err) == 0, "a tokenizer to load: %s", t ? "saved" : g_err);
    k = each_failure(op_tok_load, NULL, 100000, 1);
    check(k > 0, "tokenizer load: each of its first %ld allocations failing is a clean error naming the file", k);
    fastfnet_tokenizer *fresh = fastfnet_tok_load(g_tok_path, g_err, sizeof g_err);
    k = fresh ? each_failure(op_tok_encode, fresh, 1000, 0) : -1;
    check(k > 0, "encode: %ld failing allocations give FASTFNET_TOK_ERROR, then it encodes", k);
    fastfnet_tok_free(fresh);
    fastfnet_tok_free(t);

    fastfnet_config c;
    fastfnet_config_default(&c, "fast-fnet");
    c.vocab_size = 300, c.hidden_size = 16, c.num_layers = 2, c.intermediate_size = 32, c.max_position = 32;
    fastfnet_model *m = fastfnet_model_create(&c, 1, g_err, sizeof g_err);
    g_model_path = tpath("m.safetensors");
    check(m && fastfnet_model_save(m, g_model_path, g_err, sizeof g_err) == 0, "a model to load: %s", m ? "saved" : g_err);
    fastfnet_model_free(m);
    k = each_failure(op_model, NULL, 10000, 1);
    check(k > 0, "model load + training reserve: each of the first %ld allocations failing is a clean error, then it trains", k);
    check_tmpdir_remove();
    return check_summary();
}
