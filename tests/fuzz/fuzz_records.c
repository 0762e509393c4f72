/* fuzz_records.c: libFuzzer harness for the JSONL/TSV record reader (fastfnet_records_read in src/app/data.c) and
 * what training does next with the records: the label map, its JSON form, and tokenized examples.
 * Input: one mode byte, then the file. Mode bit 0: JSON lines (else TSV); bit 1: text pairs; bit 2: labels
 * required. The format follows the extension, so the scratch file is named r.jsonl or r.tsv. */
#include "data.h"
#include "fuzz.h"
#include "json.h"

static fastfnet_tokenizer *g_tok;

static void check_dataset(const fastfnet_dataset *d, const fastfnet_records *r, int max_len) {
    FUZZ_REQUIRE(d->n == r->n && d->off[0] == 0);
    for (int i = 0; i < d->n; i++) {
        int64_t len = d->off[i + 1] - d->off[i];
        FUZZ_REQUIRE(len >= 2 && len <= max_len && d->seg[i] >= 2 && d->seg[i] <= len);
        FUZZ_REQUIRE(d->ids[d->off[i]] == FASTFNET_TOK_CLS && d->ids[d->off[i + 1] - 1] == FASTFNET_TOK_SEP);
        for (int64_t k = d->off[i]; k < d->off[i + 1]; k++) FUZZ_REQUIRE(d->ids[k] >= 0 && d->ids[k] < 261);
    }
}

static void use(const fastfnet_records *r, int pair, int need_label, int max_len) {
    FUZZ_REQUIRE(r->n > 0);
    int all_labelled = 1;
    for (int i = 0; i < r->n; i++) {
        FUZZ_REQUIRE(r->a[i] && (pair ? r->b[i] != NULL : r->b[i] == NULL) && r->line[i] >= 1);
        if (need_label) FUZZ_REQUIRE(r->label[i] && r->label[i][0]);
        if (!r->label[i]) all_labelled = 0;
    }
    if (!all_labelled) return;
    fastfnet_labels l;
    char err[512] = "";
    if (fastfnet_labels_build(&l, r, err, sizeof err) != 0) {
        FUZZ_REQUIRE_MESSAGE(err);
        return;
    }
    for (int i = 0; i < r->n; i++) FUZZ_REQUIRE(fastfnet_labels_find(&l, r->label[i]) >= 0);
    /* labels that are not UTF-8 cannot be stored as JSON: skip the round trip for those */
    int utf8 = 1;
    for (int i = 0; i < l.n; i++) utf8 &= fastfnet_json_utf8_valid(l.names[i], strlen(l.names[i]));
    if (utf8) {
        char *json = fastfnet_labels_to_json(&l);
        fastfnet_labels back;
        FUZZ_REQUIRE(fastfnet_labels_from_json(&back, json, err, sizeof err) == 0 && back.n == l.n);
        for (int i = 0; i < l.n; i++) FUZZ_REQUIRE(strcmp(back.names[i], l.names[i]) == 0);
        fastfnet_labels_free(&back);
        free(json);
    }
    fastfnet_dataset d;
    FUZZ_REQUIRE(fastfnet_dataset_from_records(&d, r, "r", g_tok, &l, max_len, err, sizeof err) == 0);
    check_dataset(&d, r, max_len);
    fastfnet_dataset_free(&d);
    fastfnet_labels_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (!g_tok) g_tok = fastfnet_tok_byte();
    int mode = data[0], jsonl = mode & 1, pair = mode >> 1 & 1, need_label = mode >> 2 & 1;
    int max_len = 5 + (mode >> 3); /* 5..36: truncation is exercised */
    const char *path = fuzz_write(jsonl ? "r.jsonl" : "r.tsv", data + 1, size - 1);
    fastfnet_records r;
    char err[512] = "";
    if (fastfnet_records_read(&r, path, pair, need_label, err, sizeof err) != 0) {
        FUZZ_REQUIRE_MESSAGE(err);
        return 0;
    }
    use(&r, pair, need_label, max_len);
    fastfnet_records_free(&r);
    return 0;
}
