/* test_spm.c: SentencePiece tokenizers through the library (src/engine/spm.cpp) as fastfnet uses them: a unigram
 * model trained in process with FNet's specials, ids stable across save/load, decode(encode(x)) == x,
 * damaged .model files refused with one line naming the file, [CLS] a [SEP] b [SEP] examples with the
 * model's own ids, the pad check against config.json, and config.json with HF's classifier fields. Without
 * the library (USE_SPM=0) it checks that loading says how to get it. */
#include "check.h"
#include "data.h"
#include "json.h"
#include "model_dir.h"
#include "spm.h"
#include "tokenizer.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const WORDS[] = {"the", "whale", "ship", "sea", "captain", "harpoon", "deck", "sail", "wind",
                                    "ocean", "boat", "crew", "night", "storm", "island", "nation", "congress",
                                    "people", "union", "state", "law", "peace", "war", "trade", "year"};
#define NW (int)(sizeof WORDS / sizeof *WORDS)

/* Lines of lower-case words with some punctuation: a corpus whose every character the model then knows. */
static char *corpus(int lines, unsigned seed, size_t *len) {
    size_t cap = (size_t)lines * 200, n = 0;
    char *s = malloc(cap);
    srand(seed);
    for (int l = 0; l < lines; l++) {
        int k = 3 + rand() % 12;
        for (int w = 0; w < k; w++) n += (size_t)snprintf(s + n, cap - n, "%s%s", w ? " " : "", WORDS[rand() % NW]);
        n += (size_t)snprintf(s + n, cap - n, "%s\n", rand() % 3 ? "." : ", and so on.");
    }
    *len = n;
    return s;
}

static int one_line(const char *s) { return strchr(s, '\n') == NULL && s[0] != 0; }

static void test_without_library(void) {
    char err[512];
    write_text(tpath("x.model"), "whatever");
    fastfnet_tokenizer *t = fastfnet_tok_load(tpath("x.model"), err, sizeof err);
    check(!t && strstr(err, "apt-get install libsentencepiece-dev") && strstr(err, "x.model"),
          "without the library a .model file is refused saying how to get it: %s", err);
    t = fastfnet_tok_train(FASTFNET_TOK_SPM, "a b c\n", 6, 100, 1, err, sizeof err);
    check(!t && strstr(err, "libsentencepiece-dev"), "training a unigram model says how to get the library");
}

/* The steps below share main's error buffer: a message that prints it shows the last error any step set. */

/* a unigram model trained in process: FNet's specials and the pieces as token strings; NULL if training failed */
static fastfnet_tokenizer *test_train(const char *text, size_t len, char *err, size_t errlen) {
    double t0 = fastfnet_now();
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_SPM, text, len, 120, 1, err, errlen);
    check(t != NULL, "a unigram model trains through the library (%.2f s): %s", fastfnet_now() - t0, t ? "" : err);
    if (!t) return NULL;
    check(fastfnet_tok_kind_of(t) == FASTFNET_TOK_SPM && !strcmp(fastfnet_tok_kind_name(FASTFNET_TOK_SPM), "sentencepiece"), "kind sentencepiece");
    int V = fastfnet_tok_vocab_size(t);
    check(V > 20 && V <= 120, "vocabulary of %d pieces (asked for at most 120)", V);
    check(fastfnet_tok_special(t, FASTFNET_TOK_UNK) == 0 && fastfnet_tok_special(t, FASTFNET_TOK_PAD) == 3 && fastfnet_tok_special(t, FASTFNET_TOK_CLS) == 4 &&
              fastfnet_tok_special(t, FASTFNET_TOK_SEP) == 5 && fastfnet_tok_special(t, FASTFNET_TOK_MASK) == 6,
          "FNet's layout of specials, read from the model's pieces: unk 0, pad 3, [CLS] 4, [SEP] 5, [MASK] 6");
    check(!strcmp(fastfnet_tok_token_str(t, 4), "[CLS]") && !strcmp(fastfnet_tok_token_str(t, 3), "<pad>") && !fastfnet_tok_token_str(t, V),
          "token strings are the pieces; out of range is NULL");
    return t;
}

/* MLM masking takes the model's ids: specials (unk, <s>, </s>, pad, [CLS], [SEP], [MASK]) are never
 * targets nor random replacements; targets become [MASK] (6) or a regular piece */
static void test_mlm_masking(fastfnet_tokenizer *t, int V, char *err, size_t errlen) {
    fastfnet_mlm_ids mi;
    int mrc = fastfnet_mlm_ids_of(&mi, t, err, errlen);
    check(mrc == 0 && mi.cls == 4 && mi.sep == 5 && mi.mask == 6 && mi.first_regular == 7 && mi.nother == 0,
          "MLM ids from the model: [CLS] %d, [SEP] %d, [MASK] %d, regular from %d (%s)", mi.cls, mi.sep, mi.mask,
          mi.first_regular, mrc ? err : "");
    enum { NM = 20000 };
    int32_t *mids = malloc(sizeof(int32_t) * NM), *mlab = malloc(sizeof(int32_t) * NM);
    for (int i = 0; i < NM; i++) mids[i] = i % V;
    fastfnet_rng rng;
    fastfnet_rng_seed(&rng, 5);
    fastfnet_mlm_mask(mids, mlab, NM, &mi, &rng);
    int targets = 0, bad_target = 0, bad_id = 0, masked = 0;
    for (int i = 0; i < NM; i++) {
        int orig = i % V;
        if (mlab[i] != -100) targets++, bad_target |= orig < 7 || mlab[i] != orig, masked += mids[i] == 6;
        else bad_id |= mids[i] != orig;
        if (mlab[i] != -100 && mids[i] != 6) bad_id |= mids[i] < 7 || mids[i] >= V;
    }
    check(!bad_target && !bad_id && targets > NM / 10 && targets < NM / 5 && masked > targets * 7 / 10,
          "masking: %d targets of %d (none special), %d of them [MASK], replacements regular", targets, NM, masked);
    free(mids), free(mlab);
}

/* held-out text (another seed): decode(encode(x)) == x */
static void test_round_trip(fastfnet_tokenizer *t, const char *held) {
    const char *line_end = strchr(held, '\n');
    size_t l0 = (size_t)(line_end - held);
    int32_t ids[4096];
    size_t n = fastfnet_tok_encode(t, held, l0, ids, 4096);
    char back[8192];
    size_t bn = fastfnet_tok_decode(t, ids, n, back, sizeof back);
    check(n > 0 && n < l0 && bn == l0 && !memcmp(back, held, l0), "decode(encode(x)) == x on a held-out line (%zu bytes -> %zu ids)", l0, n);
    size_t need = fastfnet_tok_encode(t, held, l0, ids, 2);
    check(need == n, "encode with a short buffer reports the full count (%zu)", need);
}

/* the ids survive save + load; the saved file's bytes (in *file, *file_len) are recognised by content and a
 * loaded model saves them back; returns the loaded model */
static fastfnet_tokenizer *test_save_load(fastfnet_tokenizer *t, const char *held, size_t hl, char **file,
                                          size_t *file_len, char *err, size_t errlen) {
    int32_t ids[4096];
    check(fastfnet_tok_save(t, tpath("u.model"), err, errlen) == 0, "save as .model");
    fastfnet_tokenizer *t2 = fastfnet_tok_load(tpath("u.model"), err, errlen);
    int32_t ids2[4096];
    size_t n2 = t2 ? fastfnet_tok_encode(t2, held, hl, ids2, 4096) : 0, n1 = fastfnet_tok_encode(t, held, hl, ids, 4096);
    check(t2 && n1 == n2 && n1 < 4096 && !memcmp(ids, ids2, n1 * sizeof *ids), "the saved model gives the same %zu ids", n1);
    size_t fl = 0;
    char *a = read_file(tpath("u.model"), &fl);
    check(a && (unsigned char)a[0] == 0x0a, "the file is a serialized ModelProto (%zu bytes)", fl);
    /* the same bytes under another name are recognised by content */
    if (a) write_file(tpath("spiece"), a, fl);
    fastfnet_tokenizer *t3 = fastfnet_tok_load(tpath("spiece"), err, errlen);
    check(t3 && fastfnet_tok_kind_of(t3) == FASTFNET_TOK_SPM, "a model file without the .model suffix is recognised by its bytes");
    fastfnet_tok_free(t3);
    /* a loaded model saves the bytes it was loaded from (as beside a fine-tuned model) */
    check(t2 && fastfnet_tok_save(t2, tpath("again.model"), err, errlen) == 0, "a loaded model saves: %s", t2 ? "" : err);
    size_t gl = 0;
    char *g = read_file(tpath("again.model"), &gl);
    check(a && g && gl == fl && !memcmp(a, g, fl), "a loaded model saves exactly the bytes it was loaded from (%zu of %zu)", gl, fl);
    free(g);
    *file = a, *file_len = fl;
    return t2;
}

/* damaged files (truncations of the model file a, fl bytes): refused with one line that names the file,
 * never a crash */
static void test_damaged(const char *a, size_t fl, const char *held, size_t hl, char *err, size_t errlen) {
    int32_t ids2[4096];
    int refused = 0, lines_ok = 1, tried = 0;
    for (size_t cut = 1; a && cut < fl; cut += fl / 23 + 1, tried++) {
        write_file(tpath("bad.model"), a, cut);
        fastfnet_tokenizer *b = fastfnet_tok_load(tpath("bad.model"), err, errlen);
        if (!b) refused++, lines_ok &= one_line(err) && strstr(err, "bad.model") != NULL;
        else fastfnet_tok_encode(b, held, hl, ids2, 4096), fastfnet_tok_free(b);
    }
    check(tried > 0 && refused == tried && lines_ok, "%d of %d truncations refused with one line naming the file: %s", refused, tried, err);
    write_text(tpath("junk.model"), "{\"version\": \"1.0\"}");
    fastfnet_tokenizer *b = fastfnet_tok_load(tpath("junk.model"), err, errlen);
    check(!b && one_line(err) && strstr(err, "junk.model") && strstr(err, "SentencePiece"), "a JSON file named .model: %s", err);
    write_file(tpath("empty.model"), "", 0);
    b = fastfnet_tok_load(tpath("empty.model"), err, errlen);
    check(!b && one_line(err), "an empty .model file: %s", err);
}

/* examples: [CLS] a [SEP] b [SEP] with the model's ids, token type 1 from b */
static void test_pair_example(fastfnet_tokenizer *t, char *err, size_t errlen) {
    fastfnet_records r = {0};
    r.n = 1;
    r.a = malloc(sizeof(char *)), r.b = malloc(sizeof(char *)), r.label = malloc(sizeof(char *)), r.line = malloc(sizeof(int));
    r.a[0] = strdup("the whale and the ship."), r.b[0] = strdup("the people of the union."), r.label[0] = strdup("x"), r.line[0] = 1;
    fastfnet_dataset ds;
    int rc = fastfnet_dataset_from_records(&ds, &r, "pairs", t, NULL, 64, err, errlen);
    int32_t ea[64], eb[64];
    size_t na = fastfnet_tok_encode(t, r.a[0], strlen(r.a[0]), ea, 64), nb = fastfnet_tok_encode(t, r.b[0], strlen(r.b[0]), eb, 64);
    int ok = rc == 0 && ds.off[1] == (int64_t)(na + nb + 3) && ds.ids[0] == 4 && ds.ids[na + 1] == 5 && ds.ids[na + nb + 2] == 5 &&
             !memcmp(ds.ids + 1, ea, na * 4) && !memcmp(ds.ids + na + 2, eb, nb * 4) && ds.seg[0] == (int32_t)(na + 2);
    check(ok, "pair example: [CLS]=4 a [SEP]=5 b [SEP]=5 with token type 1 from b (%zu + %zu ids)", na, nb);
    if (rc == 0) fastfnet_dataset_free(&ds);
    fastfnet_records_free(&r);
}

/* the tokenizer against an FNet config (c, left with this model's pad id): vocabulary and pad id */
static void test_check_tokenizer(fastfnet_config *c, fastfnet_tokenizer *t, int V, char *err, size_t errlen) {
    fastfnet_config_default(c, "fnet");
    c->vocab_size = V;
    c->pad_token_id = 3;
    check(fastfnet_dir_check_tokenizer(t, "dir/spiece.model", c, "dir", err, errlen) == 0, "config pad 3 == the model's <pad>");
    c->pad_token_id = 0;
    int rc = fastfnet_dir_check_tokenizer(t, "dir/spiece.model", c, "dir", err, errlen);
    check(rc && strstr(err, "dir/config.json") && strstr(err, "pad_token_id is 0") && strstr(err, "id 3"), "pad mismatch: %s", err);
    c->pad_token_id = 3, c->vocab_size = V + 1;
    rc = fastfnet_dir_check_tokenizer(t, "dir/spiece.model", c, "dir", err, errlen);
    check(rc && strstr(err, "dir/spiece.model"), "vocabulary mismatch: %s", err);
}

/* config.json (of c, with a classifier) with HF's classifier fields, still read back by fastfnet */
static void test_config_json(fastfnet_config *c, int V, char *err, size_t errlen) {
    c->vocab_size = V, c->heads = FASTFNET_HEAD_CLS | FASTFNET_HEAD_POOLER, c->num_labels = 2;
    char *names[2] = {"ham", "sp\"am"};
    fastfnet_labels lab = {2, names};
    char cfg[16384];
    int cn = fastfnet_dir_config_json(c, &lab, cfg, sizeof cfg);
    fastfnet_json *j = cn > 0 ? fastfnet_json_parse(cfg, (size_t)cn, err, errlen) : NULL;
    const fastfnet_json *arch = j ? fastfnet_json_get(j, "architectures") : NULL, *i2l = j ? fastfnet_json_get(j, "id2label") : NULL;
    const fastfnet_json *l2i = j ? fastfnet_json_get(j, "label2id") : NULL;
    long long id = -1;
    check(arch && arch->n == 1 && !strcmp(arch->items[0].str, "FNetForSequenceClassification") && i2l &&
              !strcmp(fastfnet_json_get_str(i2l, "1"), "sp\"am") && l2i && fastfnet_json_get_int(l2i, "ham", &id) == 0 && id == 0,
          "config.json has architectures, id2label and label2id (valid JSON, escaped)");
    fastfnet_config back_cfg;
    check(j && fastfnet_config_from_json(&back_cfg, cfg, (size_t)cn, err, errlen) == 0 && back_cfg.num_labels == 2,
          "fastfnet reads that config.json back");
    check(fastfnet_dir_config_json(c, &lab, cfg, 64) < 0, "a buffer too small is reported, not overrun");
    fastfnet_json_free(j);
}

int main(void) {
    check_tmpdir("spm");
    char err[1024];
    if (!fastfnet_spm_available()) {
        test_without_library();
        check_tmpdir_remove();
        return check_summary();
    }
    size_t len;
    char *text = corpus(3000, 7, &len);
    fastfnet_tokenizer *t = test_train(text, len, err, sizeof err);
    if (!t) {
        free(text);
        check_tmpdir_remove();
        return check_summary();
    }
    int V = fastfnet_tok_vocab_size(t);
    test_mlm_masking(t, V, err, sizeof err);
    size_t hl, fl;
    char *held = corpus(50, 99, &hl), *a;
    test_round_trip(t, held);
    fastfnet_tokenizer *t2 = test_save_load(t, held, hl, &a, &fl, err, sizeof err);
    test_damaged(a, fl, held, hl, err, sizeof err);
    free(a);
    test_pair_example(t, err, sizeof err);
    fastfnet_config c;
    test_check_tokenizer(&c, t, V, err, sizeof err);
    test_config_json(&c, V, err, sizeof err);
    fastfnet_tok_free(t), fastfnet_tok_free(t2);
    free(text), free(held);
    check_tmpdir_remove();
    return check_summary();
}
