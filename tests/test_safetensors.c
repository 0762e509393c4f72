/* test_safetensors.c: self-checking tests for the strict JSON parser and the safetensors reader/writer:
 * accept/reject tables, round trips, dtype conversion, atomic writes, malformed files and a seeded fuzz loop. */
#include "check.h"
#include "json.h"
#include "die.h"
#include "safetensors.h"
#include "util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A raw safetensors file whose length prefix matches the header text exactly. */
static void make_st(const char *path, const char *header, const void *data, size_t dlen) {
    size_t h = strlen(header);
    uint8_t *buf = malloc(8 + h + dlen + 1);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (dlen) memcpy(buf + 8 + h, data, dlen);
    write_file(path, buf, 8 + h + dlen);
    free(buf);
}

static int count_tmp_files(void) {
    DIR *d = opendir(g_check_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* ---- JSON ---- */

typedef struct {
    const char *text;
    size_t len; /* 0: strlen(text) */
} json_case;

/* Parses from an exact-size heap copy so ASan flags any read past len. */
static fastfnet_json *parse_exact(const char *text, size_t len, char *err, size_t errlen) {
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    fastfnet_json *j = fastfnet_json_parse(copy, len, err, errlen);
    free(copy);
    return j;
}

static void test_json_tables(void) {
    static const json_case accept[] = {
        {"0", 0}, {"-0", 0}, {"1.5e10", 0}, {"-1.0e-5", 0}, {"1E+2", 0}, {"123456789012345678901234567890", 0},
        {"1e-400", 0}, {"true", 0}, {"false", 0}, {"null", 0}, {"\"\"", 0}, {"[]", 0}, {"{}", 0},
        {" \t\r\n[ 1 , 2 ]\n", 0}, {"{\"a\" : [1, 2, {\"b\": null}], \"c\": {}}", 0}, {"\"\\u00e9\"", 0},
        {"\"\\ud83d\\ude00\"", 0}, {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0}, {"\"a/b\\/c\"", 0},
        {"[\"\\u0000\"]", 0}, {"{\"\":0}", 0}, {"{\"a\":1,\"A\":2,\"a \":3}", 0}, {"[[[[[]]]]]", 0},
        {"\"\x7f\"", 0},
    };
    static const json_case reject[] = {
        {"", 0}, {" ", 0}, {"[1,]", 0}, {"{\"a\":1,}", 0}, {"[1 2]", 0}, {"[,1]", 0}, {"01", 0}, {"-01", 0},
        {"1.", 0}, {".5", 0}, {"+1", 0}, {"-", 0}, {"1e", 0}, {"1e+", 0}, {"0x10", 0}, {"NaN", 0},
        {"Infinity", 0}, {"-Infinity", 0}, {"1e999", 0}, {"tru", 0}, {"nul", 0}, {"True", 0}, {"\"abc", 0},
        {"\"\\x\"", 0}, {"\"\\u12\"", 0}, {"\"\\u12g4\"", 0}, {"\"\\ud800\"", 0}, {"\"\\udc00\"", 0},
        {"\"\\ud800\\u0041\"", 0}, {"\"\\ud800x\"", 0}, {"\"a\tb\"", 0}, {"\"a\nb\"", 0},
        {"{\"a\":1,\"a\":2}", 0}, {"{\"b\":{\"x\":1},\"a\":0,\"b\":2}", 0}, {"[1] x", 0}, {"[1]]", 0},
        {"{a:1}", 0}, {"{\"a\" 1}", 0}, {"{\"a\":}", 0}, {"{1:2}", 0}, {"'a'", 0}, {"[", 0}, {"{", 0},
        {"[1", 0}, {"{\"a\":1", 0}, {"\"\\", 0}, {"\xff", 0}, {"\"\xff\"", 0}, {"\"\xc0\xaf\"", 0},
        {"\"\xed\xa0\x80\"", 0}, {"\"\xf4\x90\x80\x80\"", 0}, {"\"\xe2\x82\"", 0}, {"\xef\xbb\xbf{}", 0},
        {"[1]\0", 4}, {"\0", 1}, {"{\"a\":1}{}", 0}, {"[1,,2]", 0}, {"[-]", 0}, {"[1.e5]", 0},
    };
    char err[256];
    for (size_t i = 0; i < sizeof accept / sizeof accept[0]; i++) {
        size_t len = accept[i].len ? accept[i].len : strlen(accept[i].text);
        err[0] = 0;
        fastfnet_json *j = parse_exact(accept[i].text, len, err, sizeof err);
        char name[64];
        snprintf(name, sizeof name, "json accept #%zu", i);
        check_detail(j != NULL, name, "'%s' refused: %s", accept[i].text, err);
        fastfnet_json_free(j);
    }
    for (size_t i = 0; i < sizeof reject / sizeof reject[0]; i++) {
        size_t len = reject[i].len ? reject[i].len : strlen(reject[i].text);
        err[0] = 0;
        fastfnet_json *j = parse_exact(reject[i].text, len, err, sizeof err);
        char name[64];
        snprintf(name, sizeof name, "json reject #%zu", i);
        check_detail(j == NULL && strstr(err, "line ") && strstr(err, "column "), name, "'%s' -> %s (msg '%s')",
                     reject[i].text, j ? "accepted" : "refused", err);
        fastfnet_json_free(j);
    }
}

static char *repeat(const char *unit, int n, const char *tail_unit, int tail_n) {
    size_t a = strlen(unit), b = tail_unit ? strlen(tail_unit) : 0;
    char *s = malloc(a * (size_t)n + b * (size_t)tail_n + 1), *p = s;
    for (int i = 0; i < n; i++) memcpy(p, unit, a), p += a;
    for (int i = 0; i < tail_n; i++) memcpy(p, tail_unit, b), p += b;
    *p = 0;
    return s;
}

static void test_json_depth(void) {
    char err[256] = "";
    char *s = repeat("[", 100000, NULL, 0);
    fastfnet_json *j = parse_exact(s, strlen(s), err, sizeof err);
    check_detail(!j && strstr(err, "nesting"), "json 100000 '[' refused", "%s", j ? "accepted" : err);
    free(s);
    s = repeat("[", 100000, "]", 100000);
    j = parse_exact(s, strlen(s), err, sizeof err);
    check_detail(!j && strstr(err, "nesting"), "json 100000 balanced '[]' refused", "%s", j ? "accepted" : err);
    free(s);
    s = repeat("[", 64, "]", 64);
    j = parse_exact(s, strlen(s), err, sizeof err);
    check_detail(j != NULL, "json depth 64 accepted", "%s", err);
    fastfnet_json_free(j);
    free(s);
    s = repeat("[", 65, "]", 65);
    j = parse_exact(s, strlen(s), err, sizeof err);
    check_detail(!j, "json depth 65 refused", "accepted");
    fastfnet_json_free(j);
    free(s);
    s = repeat("{\"a\":", 64, "}", 64);
    size_t len = strlen(s);
    char *t = malloc(len + 2);
    memcpy(t, s, 64 * 5);
    memcpy(t + 64 * 5, "0", 1);
    memcpy(t + 64 * 5 + 1, s + 64 * 5, 64 + 1);
    j = parse_exact(t, strlen(t), err, sizeof err);
    check_detail(j != NULL, "json 64 nested objects accepted", "%s", err);
    fastfnet_json_free(j);
    free(t);
    free(s);
}

static void test_json_values(void) {
    char err[256] = "";
    const char *doc = "{\"s\":\"q\\\"b\\\\s\\/n\\bf\\fn\\nr\\rt\\tA\\u0041e\\u00e9E\\u20acG\\ud83d\\ude00\","
                      "\"z\":\"a\\u0000b\",\"i\":-42,\"f\":-12.5e-1,\"half\":3.5,\"big\":1e300,\"t\":true,"
                      "\"n\":null,\"arr\":[1,\"x\",[]],\"o\":{\"k\":\"v\"}}";
    fastfnet_json *j = parse_exact(doc, strlen(doc), err, sizeof err);
    check_detail(j && j->type == FASTFNET_JSON_OBJECT && j->n == 10, "json object parsed", "%s", j ? "wrong shape" : err);
    if (!j) return;
    const char *want = "q\"b\\s/n\bf\fn\nr\rt\tAAe\xc3\xa9" "E\xe2\x82\xac" "G\xf0\x9f\x98\x80";
    const char *s = fastfnet_json_get_str(j, "s");
    check_detail(s && strcmp(s, want) == 0, "json escapes decoded", "got '%s'", s ? s : "(null)");
    const fastfnet_json *z = fastfnet_json_get(j, "z");
    check_detail(z && z->type == FASTFNET_JSON_STRING && z->str_len == 3 && memcmp(z->str, "a\0b", 3) == 0,
                 "json \\u0000 kept with str_len", "len %zu", z ? z->str_len : 0);
    long long iv = 0;
    double dv = 0;
    check_detail(fastfnet_json_get_int(j, "i", &iv) == 0 && iv == -42, "json get_int", "iv=%lld", iv);
    check_detail(fastfnet_json_get_num(j, "f", &dv) == 0 && dv == -1.25, "json get_num", "dv=%g", dv);
    check_detail(fastfnet_json_get_int(j, "half", &iv) == -1, "json get_int non-integral -> -1", "wrong");
    check_detail(fastfnet_json_get_int(j, "big", &iv) == -1, "json get_int 1e300 -> -1", "wrong");
    { /* 2^53 + 1 reads as the double 2^53: refused, as the header promises (it was taken as 2^53) */
        fastfnet_json *k = fastfnet_json_parse("{\"a\": 9007199254740993, \"b\": 9007199254740991}", 46, NULL, 0);
        long long a = 0, b = 0;
        int ra = fastfnet_json_get_int(k, "a", &a), rb = fastfnet_json_get_int(k, "b", &b);
        check_detail(k && ra == -1 && rb == 0 && b == 9007199254740991LL, "json get_int: 2^53 + 1 -> -1, 2^53 - 1 kept", "ra %d rb %d b %lld",
                     ra, rb, b);
        fastfnet_json_free(k);
        char one[4], msg[128];
        check_detail(fastfnet_path(one, 0, msg, sizeof msg, "%s", "abc") == -1 && strstr(msg, "capacity 0"), "fastfnet_path with cap 0: an error, buf untouched",
                     "%s", msg);
    }
    check_detail(fastfnet_json_get_int(j, "s", &iv) == -1 && fastfnet_json_get_num(j, "s", &dv) == -1,
                 "json get_int/num on string -> -1", "wrong");
    check_detail(fastfnet_json_get_int(j, "missing", &iv) == 1 && fastfnet_json_get_num(j, "missing", &dv) == 1,
                 "json get absent -> 1", "wrong");
    check_detail(fastfnet_json_get_str(j, "i") == NULL && fastfnet_json_get_str(j, "missing") == NULL, "json get_str wrong type",
                 "not NULL");
    const fastfnet_json *t = fastfnet_json_get(j, "t"), *n = fastfnet_json_get(j, "n"), *a = fastfnet_json_get(j, "arr");
    check_detail(t && t->type == FASTFNET_JSON_BOOL && t->boolean == 1 && n && n->type == FASTFNET_JSON_NULL, "json literals",
                 "wrong");
    check_detail(a && a->type == FASTFNET_JSON_ARRAY && a->n == 3 && a->items[1].type == FASTFNET_JSON_STRING &&
                     a->items[2].type == FASTFNET_JSON_ARRAY && a->items[2].n == 0,
                 "json array items", "wrong");
    check_detail(fastfnet_json_get(a, "x") == NULL && fastfnet_json_get(NULL, "x") == NULL, "json get on non-object", "not NULL");
    check_detail(fastfnet_json_get_str(fastfnet_json_get(j, "o"), "k") &&
                     strcmp(fastfnet_json_get_str(fastfnet_json_get(j, "o"), "k"), "v") == 0,
                 "json nested get", "wrong");
    fastfnet_json_free(j);

    /* a position in the message must point at the offending byte */
    j = parse_exact("{\n  \"a\": 1,\n  \"b\": tru\n}", 24, err, sizeof err);
    check_detail(!j && strstr(err, "line 3, column 8"), "json error line:column", "msg '%s'", err);
    fastfnet_json_free(j);
}

static void test_json_escape(void) {
    char buf[128], err[256] = "";
    size_t pos = 0;
    const char *s = "a\"b\\c\nd\x01\x1f\t\xc3\xa9/";
    int rc = fastfnet_json_escape(buf, sizeof buf, &pos, s);
    check_detail(rc == 0 && pos == strlen(buf) && buf[0] == '"', "json escape writes", "rc %d buf %s", rc, buf);
    fastfnet_json *j = parse_exact(buf, pos, err, sizeof err);
    check_detail(j && j->type == FASTFNET_JSON_STRING && strcmp(j->str, s) == 0, "json escape round trip", "%s",
                 j ? "differs" : err);
    fastfnet_json_free(j);
    pos = 3;
    memset(buf, 'x', sizeof buf);
    rc = fastfnet_json_escape(buf, 10, &pos, "abcdefgh");
    check_detail(rc == -1 && pos == 3, "json escape too small -> -1", "rc %d pos %zu", rc, pos);
    pos = 0;
    rc = fastfnet_json_escape(buf, 10, &pos, "abcdefg"); /* 9 chars + NUL exactly fit */
    check_detail(rc == 0 && pos == 9 && strcmp(buf, "\"abcdefg\"") == 0, "json escape exact fit", "rc %d", rc);
    pos = 0;
    check_detail(fastfnet_json_escape(buf, sizeof buf, &pos, "a\xff") == -1 && pos == 0, "json escape invalid UTF-8 -> -1",
                 "accepted");
}

static void test_json_fuzz(void) {
    const char *base = "{\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\ud83d\\ude00\"],\"b\":{\"c\":\"d\"},\"e\":[]}";
    size_t len = strlen(base);
    char buf[128], err[256];
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 42);
    static const char alphabet[] = "{}[]\":,0123456789-+eE. \\utrfnl\x80\xff\x00";
    int accepted = 0, bad_msg = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, len);
        size_t n = len;
        int muts = 1 + (int)(fastfnet_rng_u64(&r) % 3);
        for (int m = 0; m < muts; m++) {
            size_t at = fastfnet_rng_u64(&r) % n;
            switch (fastfnet_rng_u64(&r) % 3) {
            case 0: buf[at] = alphabet[fastfnet_rng_u64(&r) % (sizeof alphabet - 1)]; break;
            case 1: buf[at] = (char)(fastfnet_rng_u64(&r) & 0xff); break;
            default: n = at + 1; break;
            }
        }
        err[0] = 0;
        fastfnet_json *j = parse_exact(buf, n, err, sizeof err);
        if (j) accepted++;
        else if (!err[0]) bad_msg++;
        fastfnet_json_free(j);
    }
    check_detail(bad_msg == 0, "json fuzz 20000 mutations", "%d refusals without a message (%d accepted)", bad_msg,
                 accepted);
}

/* ---- safetensors ---- */

static int near_eq(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0) return 0;
    return 1;
}

/* The data buffer must start on an 8-byte boundary, and a finished write leaves no temp file behind. */
static void check_round_trip_layout(const char *path) {
    size_t n;
    uint8_t *bytes = (uint8_t *)read_file(path, &n);
    uint64_t hlen = 0;
    for (int i = 0; bytes && i < 8; i++) hlen |= (uint64_t)bytes[i] << (8 * i);
    check_detail(bytes && (8 + hlen) % 8 == 0 && n == 8 + hlen + 24 + 16 + 4, "st write: data buffer 8-byte aligned",
                 "hlen %llu size %zu", (unsigned long long)hlen, n);
    free(bytes);
    check_detail(count_tmp_files() == 0, "st write leaves no temp file", "%d left", count_tmp_files());
}

static void check_round_trip_tensors(const fastfnet_st_file *f, const float *x, const int32_t *ids, char *err,
                                     size_t errlen) {
    check_detail(f->n == 4 && strcmp(f->tensors[0].name, "fnet.w") == 0 &&
                     strcmp(f->tensors[1].name, "ids \"quoted\"\n") == 0 && strcmp(f->tensors[2].name, "empty") == 0 &&
                     strcmp(f->tensors[3].name, "scalar") == 0,
                 "st tensors in file order", "n=%d", f->n);
    const fastfnet_st_tensor *tw = fastfnet_st_find(f, "fnet.w");
    check_detail(tw && tw->dtype == FASTFNET_DT_F32 && tw->ndim == 2 && tw->shape[0] == 2 && tw->shape[1] == 3 &&
                     tw->numel == 6,
                 "st shape/dtype", "wrong");
    float got[6] = {0};
    int rc = fastfnet_st_read_f32(f, tw, got, 6, err, errlen);
    check_detail(rc == 0 && near_eq(got, x, 6), "st F32 values bit-exact", "%s", err);
    const fastfnet_st_tensor *ti = fastfnet_st_find(f, "ids \"quoted\"\n");
    int32_t gi[4] = {0};
    rc = ti ? fastfnet_st_read_i32(f, ti, gi, 4, err, errlen) : -1;
    check_detail(rc == 0 && memcmp(gi, ids, sizeof gi) == 0, "st I32 values", "%s", err);
    const fastfnet_st_tensor *te = fastfnet_st_find(f, "empty"), *ts = fastfnet_st_find(f, "scalar");
    float gs = 0;
    check_detail(te && te->numel == 0 && fastfnet_st_read_f32(f, te, NULL, 0, err, errlen) == 0, "st empty tensor",
                 "%s", err);
    check_detail(ts && ts->ndim == 0 && ts->numel == 1 && fastfnet_st_read_f32(f, ts, &gs, 1, err, errlen) == 0 &&
                     gs == 7.f,
                 "st scalar tensor", "%s", err);
}

static void check_round_trip_meta(const fastfnet_st_file *f, const char *config) {
    const char *cfg = fastfnet_st_meta(f, "config");
    check_detail(f->nmeta == 2 && cfg && strcmp(cfg, config) == 0 && fastfnet_st_meta(f, "format") &&
                     strcmp(fastfnet_st_meta(f, "format"), "pt") == 0,
                 "st metadata round trip", "cfg %s", cfg ? cfg : "(null)");
    check_detail(fastfnet_st_find(f, "nope") == NULL && fastfnet_st_meta(f, "nope") == NULL, "st find/meta absent", "not NULL");
}

/* The readers refuse a wrong count and a dtype they do not convert, before writing anything. */
static void check_read_refusals(const fastfnet_st_file *f, char *err, size_t errlen) {
    const fastfnet_st_tensor *tw = fastfnet_st_find(f, "fnet.w"), *ti = fastfnet_st_find(f, "ids \"quoted\"\n");
    float got[6] = {0};
    int32_t gi[6] = {0}; /* room for all 6, so a reader that wrote before refusing would not overflow */
    err[0] = 0;
    check_detail(fastfnet_st_read_f32(f, tw, got, 5, err, errlen) == -1 && err[0], "st read_f32 wrong n refused", "ok");
    err[0] = 0;
    check_detail(fastfnet_st_read_f32(f, ti, got, 4, err, errlen) == -1 && strstr(err, "I32"),
                 "st read_f32 on I32 refused", "%s", err);
    err[0] = 0;
    check_detail(fastfnet_st_read_i32(f, tw, gi, 6, err, errlen) == -1 && strstr(err, "F32"),
                 "st read_i32 on F32 refused", "%s", err);
    int untouched = 1;
    for (int i = 0; i < 6; i++) untouched &= got[i] == 0 && gi[i] == 0;
    check(untouched, "a refused read writes nothing into its buffer");
}

/* An empty data buffer: metadata only, and no tensors at all. */
static void check_tensorless_files(char *err, size_t errlen) {
    fastfnet_st_file f;
    const char *m2[] = {"k", "v", NULL};
    int rc = fastfnet_st_write(tpath("meta_only.safetensors"), NULL, 0, m2, err, errlen);
    rc |= fastfnet_st_open(&f, tpath("meta_only.safetensors"), err, errlen);
    check_detail(rc == 0 && f.n == 0 && f.data_len == 0 && f.nmeta == 1, "st metadata-only file", "%s", err);
    fastfnet_st_close(&f);
    rc = fastfnet_st_write(tpath("nothing.safetensors"), NULL, 0, NULL, err, errlen);
    rc |= fastfnet_st_open(&f, tpath("nothing.safetensors"), err, errlen);
    check_detail(rc == 0 && f.n == 0 && f.nmeta == 0, "st empty file (no tensors, no metadata)", "%s", err);
    fastfnet_st_close(&f);
}

static void test_round_trip(void) {
    char err[512] = "";
    float x[6] = {1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 42.f};
    int32_t ids[4] = {0, -1, 2147483647, -2147483647 - 1};
    float scalar = 7.f;
    fastfnet_st_out out[4] = {
        {.name = "fnet.w", .dtype = FASTFNET_DT_F32, .ndim = 2, .shape = {2, 3}, .data = x},
        {.name = "ids \"quoted\"\n", .dtype = FASTFNET_DT_I32, .ndim = 1, .shape = {4}, .data = ids},
        {.name = "empty", .dtype = FASTFNET_DT_F32, .ndim = 2, .shape = {0, 5}, .data = NULL},
        {.name = "scalar", .dtype = FASTFNET_DT_F32, .ndim = 0, .data = &scalar},
    };
    const char *meta[] = {"config", "{\"hidden_size\": 8, \"name\": \"caf\xc3\xa9\"}", "format", "pt", NULL};
    const char *path = tpath("rt.safetensors");
    int rc = fastfnet_st_write(path, out, 4, meta, err, sizeof err);
    check_detail(rc == 0, "st write", "%s", err);
    check_round_trip_layout(path);

    fastfnet_st_file f;
    rc = fastfnet_st_open(&f, path, err, sizeof err);
    check_detail(rc == 0, "st open written file", "%s", err);
    if (rc) return;
    check_round_trip_tensors(&f, x, ids, err, sizeof err);
    check_round_trip_meta(&f, meta[1]);
    check_read_refusals(&f, err, sizeof err);
    fastfnet_st_close(&f);
    fastfnet_st_close(&f); /* double close must be harmless */
    check_detail(f.map == NULL && f.tensors == NULL, "st close zeroes", "not zeroed");
    check_tensorless_files(err, sizeof err);
}

/* F16, BF16 and F64 widen or narrow to F32 exactly as the expected values say (NaN only as NaN). */
static void check_float_conversions(const fastfnet_st_file *f, const float *hw, const float *bw, const float *dw,
                                    char *err, size_t errlen) {
    float g[11];
    int rc = fastfnet_st_read_f32(f, fastfnet_st_find(f, "h"), g, 11, err, errlen);
    int ok = rc == 0;
    for (int i = 0; ok && i < 11; i++)
        ok = isnan(hw[i]) ? isnan(g[i]) : (memcmp(&g[i], &hw[i], 4) == 0);
    check_detail(ok, "st F16 -> F32 exact (normal, subnormal, inf, NaN, -0)", "rc %d %s", rc, err);
    rc = fastfnet_st_read_f32(f, fastfnet_st_find(f, "b"), g, 7, err, errlen);
    ok = rc == 0;
    for (int i = 0; ok && i < 7; i++)
        ok = isnan(bw[i]) ? isnan(g[i]) : (memcmp(&g[i], &bw[i], 4) == 0);
    check_detail(ok, "st BF16 -> F32 exact", "rc %d %s", rc, err);
    rc = fastfnet_st_read_f32(f, fastfnet_st_find(f, "d"), g, 4, err, errlen);
    check_detail(rc == 0 && near_eq(g, dw, 4), "st F64 -> F32", "rc %d %s", rc, err);
}

static void check_int_conversions(const fastfnet_st_file *f, char *err, size_t errlen) {
    int32_t gi[3];
    float g[11];
    int rc = fastfnet_st_read_i32(f, fastfnet_st_find(f, "i64"), gi, 3, err, errlen);
    check_detail(rc == 0 && gi[0] == -5 && gi[1] == 2147483647 && gi[2] == INT32_MIN, "st I64 -> I32", "%s", err);
    err[0] = 0;
    rc = fastfnet_st_read_i32(f, fastfnet_st_find(f, "i64bad"), gi, 2, err, errlen);
    check_detail(rc == -1 && strstr(err, "2147483648"), "st I64 out of int32 range refused", "%s", err);
    rc = fastfnet_st_read_i32(f, fastfnet_st_find(f, "i16"), gi, 3, err, errlen);
    check_detail(rc == 0 && gi[0] == -32768 && gi[1] == 32767 && gi[2] == -1, "st I16 -> I32", "%s", err);
    rc = fastfnet_st_read_i32(f, fastfnet_st_find(f, "i8"), gi, 3, err, errlen);
    check_detail(rc == 0 && gi[0] == -128 && gi[1] == 127 && gi[2] == -1, "st I8 -> I32", "%s", err);
    rc = fastfnet_st_read_i32(f, fastfnet_st_find(f, "u8"), gi, 3, err, errlen);
    check_detail(rc == 0 && gi[0] == 0 && gi[1] == 255 && gi[2] == 128, "st U8 -> I32", "%s", err);
    err[0] = 0;
    check_detail(fastfnet_st_read_i32(f, fastfnet_st_find(f, "bool"), gi, 2, err, errlen) == -1 && err[0] &&
                     fastfnet_st_read_f32(f, fastfnet_st_find(f, "bool"), g, 2, err, errlen) == -1,
                 "st BOOL refused by both readers", "accepted");
    check_detail(fastfnet_st_find(f, "bool")->dtype == FASTFNET_DT_BOOL && fastfnet_dtype_size(FASTFNET_DT_BF16) == 2 &&
                     strcmp(fastfnet_dtype_name(FASTFNET_DT_BF16), "BF16") == 0 && fastfnet_dtype_size((fastfnet_dtype)99) == 0,
                 "st dtype size/name", "wrong");
}

static void test_conversions(void) {
    char err[512] = "";
    /* F16: 1, -2, max, min subnormal, min normal, inf, -inf, NaN, -0, 1/3 (rounded), max subnormal */
    uint16_t h[11] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555, 0x03ff};
    float hw[11] = {1.f, -2.f, 65504.f, 5.9604644775390625e-8f, 6.103515625e-5f, INFINITY, -INFINITY, NAN, -0.f,
                    0.333251953125f, 6.09755516052246094e-5f};
    uint16_t b[7] = {0x3f80, 0xc040, 0x7f80, 0x0001, 0x7fc0, 0x8000, 0x4049};
    float bw[7] = {1.f, -3.f, INFINITY, 9.18354961579912115e-41f, NAN, -0.f, 3.140625f};
    double d[4] = {0.1, -1e300, 1e-50, 123.25};
    float dw[4] = {0.1f, -INFINITY, 0.f, 123.25f};
    int64_t i64[3] = {-5, 2147483647, -2147483648LL};
    int64_t i64bad[2] = {1, 2147483648LL};
    int16_t i16[3] = {-32768, 32767, -1};
    int8_t i8[3] = {-128, 127, -1};
    uint8_t u8[3] = {0, 255, 128};
    uint8_t bo[2] = {0, 1};
    fastfnet_st_out out[] = {
        {.name = "h", .dtype = FASTFNET_DT_F16, .ndim = 1, .shape = {11}, .data = h},
        {.name = "b", .dtype = FASTFNET_DT_BF16, .ndim = 1, .shape = {7}, .data = b},
        {.name = "d", .dtype = FASTFNET_DT_F64, .ndim = 1, .shape = {4}, .data = d},
        {.name = "i64", .dtype = FASTFNET_DT_I64, .ndim = 1, .shape = {3}, .data = i64},
        {.name = "i64bad", .dtype = FASTFNET_DT_I64, .ndim = 1, .shape = {2}, .data = i64bad},
        {.name = "i16", .dtype = FASTFNET_DT_I16, .ndim = 1, .shape = {3}, .data = i16},
        {.name = "i8", .dtype = FASTFNET_DT_I8, .ndim = 1, .shape = {3}, .data = i8},
        {.name = "u8", .dtype = FASTFNET_DT_U8, .ndim = 1, .shape = {3}, .data = u8},
        {.name = "bool", .dtype = FASTFNET_DT_BOOL, .ndim = 1, .shape = {2}, .data = bo},
    };
    const char *path = tpath("conv.safetensors");
    fastfnet_st_file f;
    int rc = fastfnet_st_write(path, out, (int)(sizeof out / sizeof out[0]), NULL, err, sizeof err);
    if (rc == 0) rc = fastfnet_st_open(&f, path, err, sizeof err);
    check_detail(rc == 0, "st conversions file", "%s", err);
    if (rc) return;
    check_float_conversions(&f, hw, bw, dw, err, sizeof err);
    check_int_conversions(&f, err, sizeof err);
    fastfnet_st_close(&f);
}

static int file_has_x12(const char *path) {
    fastfnet_st_file f;
    char err[512];
    if (fastfnet_st_open(&f, path, err, sizeof err) != 0) return 0;
    float g[2] = {0};
    const fastfnet_st_tensor *t = fastfnet_st_find(&f, "x");
    int ok = f.n == 1 && t && fastfnet_st_read_f32(&f, t, g, 2, err, sizeof err) == 0 && g[0] == 1.f && g[1] == 2.f;
    fastfnet_st_close(&f);
    return ok;
}

static void check_atomic_bad_targets(const fastfnet_st_out *o1, char *err, size_t errlen) {
    /* path is a directory: rename fails after the temp file was written */
    const char *dpath = tpath("adir");
    mkdir(dpath, 0755);
    err[0] = 0;
    int rc = fastfnet_st_write(dpath, o1, 1, NULL, err, errlen);
    struct stat st;
    check_detail(rc == -1 && err[0] && stat(dpath, &st) == 0 && S_ISDIR(st.st_mode) && count_tmp_files() == 0,
                 "atomic: path is a directory refused, no temp left", "rc %d msg '%s' tmp %d", rc, err,
                 count_tmp_files());

    err[0] = 0;
    rc = fastfnet_st_write(tpath("no/such/dir.safetensors"), o1, 1, NULL, err, errlen);
    check_detail(rc == -1 && strstr(err, "cannot create"), "atomic: missing directory refused", "rc %d msg '%s'", rc,
                 err);
}

/* A write that dies half way (file size limit) must not disturb the old file. */
static void check_atomic_mid_write_failure(const char *path, char *err, size_t errlen) {
    static float big[1 << 18];
    fastfnet_st_out ob = {.name = "x", .dtype = FASTFNET_DT_F32, .ndim = 1, .shape = {1 << 18}, .data = big};
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    err[0] = 0;
    int rc = fastfnet_st_write(path, &ob, 1, NULL, err, errlen);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    check_detail(rc == -1 && err[0] && file_has_x12(path) && count_tmp_files() == 0,
                 "atomic: failed mid-write keeps old file, no temp left", "rc %d msg '%s'", rc, err);
}

/* Invalid input is refused before anything touches the disk. */
static void check_atomic_invalid_input(const char *path, const fastfnet_st_out *o1, char *err, size_t errlen) {
    fastfnet_st_out dup[2] = {*o1, *o1};
    err[0] = 0;
    int rc = fastfnet_st_write(path, dup, 2, NULL, err, errlen);
    check_detail(rc == -1 && strstr(err, "duplicate") && file_has_x12(path),
                 "atomic: duplicate names refused, old intact", "rc %d msg '%s'", rc, err);
    const char *bad_meta[] = {"k", NULL};
    rc = fastfnet_st_write(path, o1, 1, bad_meta, err, errlen);
    check_detail(rc == -1 && file_has_x12(path), "atomic: odd metadata list refused", "rc %d", rc);
    const char *dup_meta[] = {"k", "a", "k", "b", NULL};
    rc = fastfnet_st_write(path, o1, 1, dup_meta, err, errlen);
    check_detail(rc == -1 && strstr(err, "duplicate metadata"), "atomic: duplicate metadata key refused", "%s", err);
    fastfnet_st_out bad = *o1;
    bad.shape[0] = -1;
    rc = fastfnet_st_write(path, &bad, 1, NULL, err, errlen);
    check_detail(rc == -1 && strstr(err, "negative"), "atomic: negative shape refused", "%s", err);
    bad = *o1;
    bad.name = "__metadata__";
    rc = fastfnet_st_write(path, &bad, 1, NULL, err, errlen);
    check_detail(rc == -1 && file_has_x12(path), "atomic: tensor named __metadata__ refused", "%s", err);
    bad = *o1;
    bad.name = "bad\xff";
    rc = fastfnet_st_write(path, &bad, 1, NULL, err, errlen);
    check_detail(rc == -1 && strstr(err, "UTF-8"), "atomic: non-UTF-8 name refused", "%s", err);
}

/* Root ignores directory permissions, so the caller runs this only unprivileged. */
static void check_atomic_read_only_dir(const fastfnet_st_out *o1, char *err, size_t errlen) {
    const char *rodir = tpath("ro");
    char rofile[300];
    mkdir(rodir, 0755);
    snprintf(rofile, sizeof rofile, "%s/m.safetensors", rodir);
    int rc = fastfnet_st_write(rofile, o1, 1, NULL, err, errlen);
    chmod(rodir, 0555);
    float v2[2] = {9.f, 9.f};
    fastfnet_st_out o2 = *o1;
    o2.data = v2;
    int rc2 = fastfnet_st_write(rofile, &o2, 1, NULL, err, errlen);
    chmod(rodir, 0755);
    check_detail(rc == 0 && rc2 == -1 && file_has_x12(rofile), "atomic: read-only directory refused, old intact",
                 "rc %d rc2 %d %s", rc, rc2, err);
}

static void test_atomic(void) {
    char err[512] = "";
    float v1[2] = {1.f, 2.f};
    fastfnet_st_out o1 = {.name = "x", .dtype = FASTFNET_DT_F32, .ndim = 1, .shape = {2}, .data = v1};
    const char *path = tpath("atomic.safetensors");
    int rc = fastfnet_st_write(path, &o1, 1, NULL, err, sizeof err);
    check_detail(rc == 0 && file_has_x12(path), "atomic: initial write", "%s", err);
    check_atomic_bad_targets(&o1, err, sizeof err);
    check_atomic_mid_write_failure(path, err, sizeof err);
    check_atomic_invalid_input(path, &o1, err, sizeof err);
    if (geteuid() != 0) check_atomic_read_only_dir(&o1, err, sizeof err);

    /* and a successful overwrite replaces the content */
    float v3[3] = {5.f, 6.f, 7.f};
    fastfnet_st_out o3 = {.name = "y", .dtype = FASTFNET_DT_F32, .ndim = 1, .shape = {3}, .data = v3};
    rc = fastfnet_st_write(path, &o3, 1, NULL, err, sizeof err);
    fastfnet_st_file f;
    int ok = rc == 0 && fastfnet_st_open(&f, path, err, sizeof err) == 0;
    check_detail(ok && f.n == 1 && fastfnet_st_find(&f, "y") && count_tmp_files() == 0, "atomic: overwrite replaces file",
                 "%s", err);
    if (ok) fastfnet_st_close(&f);
}

typedef struct {
    const char *name;
    const char *header;
    size_t dlen;
    const char *expect; /* substring of the message */
} bad_case;

static void expect_refused(const char *name, const char *path, const char *expect) {
    char err[512] = "";
    fastfnet_st_file f;
    int rc = fastfnet_st_open(&f, path, err, sizeof err);
    int one_line = strchr(err, '\n') == NULL;
    check_detail(rc == -1 && err[0] && one_line && (!expect || strstr(err, expect)) && f.map == NULL && f.n == 0, name,
                 "rc %d msg '%s'", rc, err);
    if (rc == 0) fastfnet_st_close(&f);
}

static const bad_case malformed_cases[] = {
    {"bad JSON", "{\"a\": {\"dtype\": \"F32\", ", 0, "not valid JSON (line 1"},
    {"header not an object", "[1, 2]", 0, "not a JSON object"},
    {"empty header", "", 0, "not valid JSON"},
    {"overlapping offsets",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "overlap"},
    {"identical offsets",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     4, "overlap"},
    {"out-of-range offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
     "exceed the data buffer (4 bytes)"},
    {"begin > end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin > end"},
    {"size mismatch vs shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12"},
    {"size mismatch vs dtype", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs 4"},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "unknown dtype"},
    {"lowercase dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype"},
    {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not a string"},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no \"dtype\""},
    {"negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
    {"fractional shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape entry"},
    {"string shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape entry"},
    {"shape not a list", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, "not a list"},
    {"too many dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     "9 dimensions"},
    {"numel overflow",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", 4, "too large"},
    {"bytes overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[9007199254740992,256],\"data_offsets\":[0,8]}}", 8,
     "too large"},
    {"dimension beyond 2^53", "{\"a\":{\"dtype\":\"U8\",\"shape\":[18014398509481984],\"data_offsets\":[0,8]}}",
     8, "shape entry"},
    {"offsets not integers", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4,
     "data_offsets"},
    {"offsets three items", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4,
     "data_offsets"},
    {"offsets negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "data_offsets"},
    {"offsets huge", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,0]}}", 4,
     "data_offsets"},
    {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "no \"data_offsets\""},
    {"entry not an object", "{\"a\":[1]}", 0, "not a JSON object"},
    {"unexpected field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
     "unexpected field 'x'"},
    {"hole in buffer",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     12, "hole"},
    {"hole at start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "[0, 4)"},
    {"trailing bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "4 trailing bytes"},
    {"trailing bytes, no tensors", "{}", 3, "trailing"},
    {"metadata value not a string", "{\"__metadata__\":{\"a\":1}}", 0, "not a string"},
    {"metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, "__metadata__"},
    {"duplicate tensor names",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, "duplicate"},
    {"duplicate names via embedded NUL",
     "{\"a\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\\u0000y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, "duplicate tensor name"},
    {"duplicate metadata keys", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "duplicate"},
    {"invalid UTF-8 name", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "UTF-8"},
    {"trailing garbage after header", "{} x", 0, "not valid JSON"},
};

static void check_malformed_headers(void) {
    uint8_t zeros[64] = {0};
    for (size_t i = 0; i < sizeof malformed_cases / sizeof malformed_cases[0]; i++) {
        const char *p = tpath("bad.safetensors");
        make_st(p, malformed_cases[i].header, zeros, malformed_cases[i].dlen);
        char name[96];
        snprintf(name, sizeof name, "malformed: %s", malformed_cases[i].name);
        expect_refused(name, p, malformed_cases[i].expect);
    }
}

/* One lenient case for contrast: zero-size tensors may share an offset, whitespace-padded header. */
static void check_lenient_header(void) {
    uint8_t zeros[64] = {0};
    char err[512] = "";
    fastfnet_st_file f;
    make_st(tpath("ok.safetensors"),
            " {\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}, \"a\":{\"dtype\":\"U8\",\"shape\":[4],"
            "\"data_offsets\":[0,4]},\"e2\":{\"shape\":[3,0],\"data_offsets\":[4,4],\"dtype\":\"BOOL\"}}   ",
            zeros, 4);
    int rc = fastfnet_st_open(&f, tpath("ok.safetensors"), err, sizeof err);
    check_detail(rc == 0 && f.n == 3 && f.data_len == 4, "valid: zero-size tensors and padding accepted", "%s", err);
    if (rc == 0) fastfnet_st_close(&f);
}

/* Files too short to hold the length prefix, and paths that are not a readable regular file. */
static void check_short_and_missing_files(void) {
    write_file(tpath("short"), "", 0);
    expect_refused("malformed: empty file", tpath("short"), "shorter than the 8-byte");
    write_file(tpath("short"), "\x02\0\0\0\0\0\0", 7);
    expect_refused("malformed: 7-byte file", tpath("short"), "shorter than the 8-byte");
    expect_refused("malformed: missing file", tpath("does-not-exist"), "cannot open");
    expect_refused("malformed: directory", g_check_dir, "not a regular file");
}

/* Header length u64 max, and just beyond the file. */
static void check_header_length_past_file(void) {
    uint8_t raw[16];
    memset(raw, 0xff, 8);
    memcpy(raw + 8, "{}      ", 8);
    write_file(tpath("huge"), raw, 16);
    expect_refused("malformed: header length u64 max", tpath("huge"), "18446744073709551615 exceeds the file size");
    memset(raw, 0, 8);
    raw[0] = 9;
    write_file(tpath("huge"), raw, 16);
    expect_refused("malformed: header length > file size", tpath("huge"), "header length 9 exceeds the file size");
}

/* A header length over 100 MB in a (sparse) file that really is that long. */
static void check_header_length_over_limit(void) {
    uint8_t raw[8];
    int fd = open(tpath("sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint64_t hl = 200000000ull;
    for (int i = 0; i < 8; i++) raw[i] = (uint8_t)(hl >> (8 * i));
    int wok = fd >= 0 && write(fd, raw, 8) == 8 && ftruncate(fd, (off_t)(8 + hl)) == 0;
    if (fd >= 0) close(fd);
    if (wok) expect_refused("malformed: header length > 100 MB", tpath("sparse"), "limit");
    else
        check_detail(0, "malformed: header length > 100 MB", "could not create the sparse file");
    unlink(tpath("sparse"));
}

static void test_malformed(void) {
    check_malformed_headers();
    check_lenient_header();
    check_short_and_missing_files();
    check_header_length_past_file();
    check_header_length_over_limit();
}

/* A valid file with several dtypes and metadata, used for truncation and fuzzing. */
static uint8_t *valid_file(size_t *n) {
    float a[3] = {1.f, 2.f, 3.f};
    uint16_t h[2] = {0x3c00, 0x4000};
    int32_t i[2] = {7, -7};
    int64_t l[1] = {99};
    fastfnet_st_out out[4] = {
        {.name = "a", .dtype = FASTFNET_DT_F32, .ndim = 1, .shape = {3}, .data = a},
        {.name = "h", .dtype = FASTFNET_DT_BF16, .ndim = 2, .shape = {1, 2}, .data = h},
        {.name = "i", .dtype = FASTFNET_DT_I32, .ndim = 1, .shape = {2}, .data = i},
        {.name = "l", .dtype = FASTFNET_DT_I64, .ndim = 0, .data = l},
    };
    const char *meta[] = {"config", "{\"vocab_size\": 4}", NULL};
    char err[512];
    if (fastfnet_st_write(tpath("valid.safetensors"), out, 4, meta, err, sizeof err) != 0) return NULL;
    return (uint8_t *)read_file(tpath("valid.safetensors"), n);
}

static void test_truncation(void) {
    size_t n = 0;
    uint8_t *v = valid_file(&n);
    check_detail(v != NULL, "truncate: base file written", "no file");
    if (!v) return;
    char err[512];
    fastfnet_st_file f;
    int rc = fastfnet_st_open(&f, tpath("valid.safetensors"), err, sizeof err);
    check_detail(rc == 0 && f.n == 4, "truncate: base file opens", "%s", err);
    if (rc == 0) fastfnet_st_close(&f);
    int bad = 0;
    size_t first_bad = 0;
    for (size_t len = 0; len < n; len++) {
        write_file(tpath("trunc.safetensors"), v, len);
        err[0] = 0;
        rc = fastfnet_st_open(&f, tpath("trunc.safetensors"), err, sizeof err);
        if (rc == 0) fastfnet_st_close(&f);
        if (rc == 0 || !err[0]) {
            if (!bad) first_bad = len;
            bad++;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "truncate: all %zu shorter lengths refused", n);
    check_detail(bad == 0, name, "%d accepted or silent, first at length %zu", bad, first_bad);
    free(v);
}

/* One to four random mutations of buf (a copy of the n-byte valid file whose header is hlen bytes): a byte, a
 * bit flip, a JSON character in the header, the length prefix, a truncation, trailing junk. Returns the length. */
static size_t mutate_st(uint8_t *buf, size_t n, uint64_t hlen, fastfnet_rng *r) {
    static const char alphabet[] = "{}[]\":,0123456789-eE. \\u";
    size_t len = n;
    int muts = 1 + (int)(fastfnet_rng_u64(r) % 4);
    for (int m = 0; m < muts; m++) {
        uint64_t kind = fastfnet_rng_u64(r) % 6;
        size_t at = fastfnet_rng_u64(r) % len;
        if (kind == 0) buf[at] = (uint8_t)fastfnet_rng_u64(r);
        else if (kind == 1) buf[at] ^= (uint8_t)(1u << (fastfnet_rng_u64(r) % 8));
        else if (kind == 2) buf[8 + fastfnet_rng_u64(r) % hlen] = (uint8_t)alphabet[fastfnet_rng_u64(r) % (sizeof alphabet - 1)];
        else if (kind == 3) buf[fastfnet_rng_u64(r) % 8] = (uint8_t)fastfnet_rng_u64(r); /* the length prefix */
        else if (kind == 4) len = 1 + fastfnet_rng_u64(r) % len;
        else {
            size_t extra = fastfnet_rng_u64(r) % 16;
            for (size_t k = 0; k < extra; k++) buf[len + k] = (uint8_t)fastfnet_rng_u64(r);
            len += extra;
            if (len > n + 48) len = n + 48;
        }
        if (len == 0) len = 1;
    }
    return len;
}

/* 1 when the file opens, and then every tensor is read and every metadata value looked up (none may crash);
 * 0 when it is refused, counting a refusal without a message in *silent. */
static int open_fuzzed(const char *path, int *silent, int *read_ok) {
    char err[512];
    err[0] = 0;
    fastfnet_st_file f;
    if (fastfnet_st_open(&f, path, err, sizeof err) != 0) {
        if (!err[0]) (*silent)++;
        return 0;
    }
    for (int t = 0; t < f.n; t++) {
        const fastfnet_st_tensor *ts = &f.tensors[t];
        size_t cnt = ts->numel ? ts->numel : 1;
        void *dst = malloc(cnt * 4);
        if (fastfnet_st_read_f32(&f, ts, dst, ts->numel, err, sizeof err) == 0) (*read_ok)++;
        else if (fastfnet_st_read_i32(&f, ts, dst, ts->numel, err, sizeof err) == 0) (*read_ok)++;
        free(dst);
    }
    for (int k = 0; k < f.nmeta; k++) (void)fastfnet_st_meta(&f, f.meta_keys[k]);
    fastfnet_st_close(&f);
    return 1;
}

static void test_fuzz(void) {
    size_t n = 0;
    uint8_t *v = valid_file(&n);
    if (!v) {
        check_detail(0, "fuzz", "no base file");
        return;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)v[i] << (8 * i);
    uint8_t *buf = malloc(n + 64);
    fastfnet_rng r;
    fastfnet_rng_seed(&r, 1234);
    int opened = 0, refused = 0, silent = 0, read_ok = 0;
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, v, n);
        size_t len = mutate_st(buf, n, hlen, &r);
        write_file(tpath("fuzz.safetensors"), buf, len);
        if (open_fuzzed(tpath("fuzz.safetensors"), &silent, &read_ok)) opened++;
        else refused++;
    }
    char name[160];
    snprintf(name, sizeof name,
             "fuzz: 2000 mutated files (%d opened, %d refused, %d tensor reads), no crash, every refusal has a message",
             opened, refused, read_ok);
    check_detail(silent == 0 && opened + refused == 2000, name, "%d silent refusals", silent);
    free(buf);
    free(v);
}

/* fastfnet_malloc rounds sizes up to 64 bytes: a huge request must not wrap around to a small block. It exits
 * (the documented failure), so it runs in a child process. */
static void test_malloc_wrap(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        void *p = fastfnet_xmalloc(SIZE_MAX - 10);
        _exit(p ? 0 : 2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 1, "fastfnet_xmalloc(SIZE_MAX - 10) fails with a message (exit 1), never returns a small block (status %d)",
          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void) {
    if (!check_tmpdir("fastfnet_st_")) {
        perror("mkdtemp");
        return 1;
    }
    test_malloc_wrap();
    test_json_tables();
    test_json_depth();
    test_json_values();
    test_json_escape();
    test_json_fuzz();
    test_round_trip();
    test_conversions();
    test_atomic();
    test_malformed();
    test_truncation();
    test_fuzz();
    check_tmpdir_remove();
    return check_summary();
}
