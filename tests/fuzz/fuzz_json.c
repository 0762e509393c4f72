/* fuzz_json.c: libFuzzer harness for the JSON parser (src/engine/json.c) and the label-map reader built on it.
 * Beyond "no crash": every string the parser returns is well-formed UTF-8 of the stated length, and a
 * string without NUL survives fastfnet_json_escape and a second parse byte for byte. */
#include "data.h"
#include "fuzz.h"
#include "json.h"

static void check_string(const char *s, size_t n) {
    FUZZ_REQUIRE(s && s[n] == 0);
    FUZZ_REQUIRE(fastfnet_json_utf8_valid(s, n));
    if (strlen(s) != n) return; /* an escaped NUL: C strings cannot carry it through the escaper */
    size_t cap = 6 * n + 3, pos = 0;
    char *buf = malloc(cap);
    FUZZ_REQUIRE(buf);
    FUZZ_REQUIRE(fastfnet_json_escape(buf, cap, &pos, s) == 0);
    char err[256] = "";
    fastfnet_json *back = fastfnet_json_parse(buf, pos, err, sizeof err);
    FUZZ_REQUIRE(back && back->type == FASTFNET_JSON_STRING && back->str_len == n && memcmp(back->str, s, n) == 0);
    fastfnet_json_free(back);
    /* without room for the NUL it must fail, leaving pos alone and writing nothing past cap */
    size_t need = pos;
    pos = 0;
    FUZZ_REQUIRE(fastfnet_json_escape(buf, need, &pos, s) == -1 && pos == 0);
    free(buf);
}

static void walk(const fastfnet_json *j, int depth) {
    FUZZ_REQUIRE(depth <= 64);
    switch (j->type) {
    case FASTFNET_JSON_STRING: check_string(j->str, j->str_len); break;
    case FASTFNET_JSON_NUMBER: FUZZ_REQUIRE(j->number == j->number); break; /* never NaN */
    case FASTFNET_JSON_ARRAY:
    case FASTFNET_JSON_OBJECT:
        FUZZ_REQUIRE(j->n >= 0 && (j->n == 0 || j->items));
        for (int i = 0; i < j->n; i++) {
            if (j->type == FASTFNET_JSON_OBJECT) {
                FUZZ_REQUIRE(j->keys && j->keys[i]);
                FUZZ_REQUIRE(fastfnet_json_get(j, j->keys[i]) != NULL);
                long long v;
                double d;
                int ri = fastfnet_json_get_int(j, j->keys[i], &v), rn = fastfnet_json_get_num(j, j->keys[i], &d);
                FUZZ_REQUIRE(ri <= 0 && rn <= 0 && (ri < 0 || rn == 0));
                if (ri == 0) FUZZ_REQUIRE((double)v == d);
            }
            walk(&j->items[i], depth + 1);
        }
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256] = "";
    fastfnet_json *j = fastfnet_json_parse((const char *)data, size, err, sizeof err);
    if (!j) FUZZ_REQUIRE_MESSAGE(err);
    else walk(j, 0);
    fastfnet_json_free(j);

    /* the label map of a checkpoint's metadata: a NUL-terminated JSON list of distinct strings */
    char *text = malloc(size + 1);
    FUZZ_REQUIRE(text);
    memcpy(text, data, size);
    text[size] = 0;
    fastfnet_labels l;
    err[0] = 0;
    if (fastfnet_labels_from_json(&l, text, err, sizeof err) == 0) {
        for (int i = 0; i < l.n; i++)
            for (int k = 0; k < i; k++) FUZZ_REQUIRE(strcmp(l.names[i], l.names[k]) != 0);
        fastfnet_labels_free(&l);
    } else {
        FUZZ_REQUIRE_MESSAGE(err);
    }
    free(text);
    return 0;
}
