/* json.c: strict RFC 8259 parser into a fastfnet_json tree, and JSON string escaping.
 * Hostile input (safetensors headers are untrusted) must yield an error with a position, never a crash. */
#include "json.h"
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds recursion so that '[' repeated a million times cannot exhaust the stack. */
#define FASTFNET_JSON_MAX_DEPTH 64

/* The parser allocates with plain malloc rather than fastfnet_malloc: a huge hostile document must be
 * reported as an error, not terminate the process the way fastfnet_malloc does on exhaustion. */

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
} json_parser;

static int json_fail(json_parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int json_fail(json_parser *p, size_t at, const char *fmt, ...) {
    if (!p->err || !p->errlen) return -1;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n') line++, col = 1;
        else col++;
    }
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "line %zu, column %zu: %s", line, col, msg);
    return -1;
}

/* Renders a byte for a message without letting control bytes break the one-line error. */
static const char *json_show_byte(unsigned char c, char buf[8]) {
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 8, "'%c'", c);
    else snprintf(buf, 8, "0x%02x", c);
    return buf;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 if it is malformed. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xc2 || c > 0xf4) return 0; /* stray continuation, overlong 2-byte lead, or beyond U+10FFFF */
    size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong 3-byte */
    if (c == 0xed && s[1] >= 0xa0) return 0; /* UTF-16 surrogates are not scalar values */
    if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong 4-byte */
    if (c == 0xf4 && s[1] >= 0x90) return 0; /* above U+10FFFF */
    return n;
}

int fastfnet_json_utf8_valid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(u + i, len - i);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static void skip_ws(json_parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* Decodes the escape at the backslash s[*ip] into buf + *o and advances both; -1 with the message (buf stays
 * the caller's). A surrogate pair is one escape of 12 bytes. */
static int decode_escape(json_parser *p, size_t end, char *buf, size_t *o, size_t *ip) {
    const unsigned char *s = p->s;
    size_t i = *ip;
    /* parse_string's scan guarantees a backslash is never the last byte before the closing quote */
    unsigned char e = s[i + 1];
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e && simple) {
        static const char map[] = "\"\\/\b\f\n\r\t";
        buf[(*o)++] = map[simple - "\"\\/bfnrt"];
        *ip = i + 2;
        return 0;
    }
    uint32_t cp, lo;
    if (e != 'u' || end - i < 6 || hex4(s + i + 2, &cp) != 0) {
        char b[8];
        if (e == 'u') return json_fail(p, i, "invalid \\u escape (needs 4 hex digits)");
        return json_fail(p, i, "invalid escape '\\' followed by %s", json_show_byte(e, b));
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) return json_fail(p, i, "lone low surrogate \\u%04X", (unsigned)cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' || hex4(s + i + 8, &lo) != 0 ||
            lo < 0xdc00 || lo > 0xdfff)
            return json_fail(p, i, "lone high surrogate \\u%04X (must be followed by a low surrogate)",
                             (unsigned)cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i += 6;
    }
    *o += utf8_put(buf + *o, cp);
    *ip = i + 6;
    return 0;
}

/* Decodes the string starting at the opening quote at p->pos. */
static int parse_string(json_parser *p, char **out, size_t *out_len) {
    const unsigned char *s = p->s;
    size_t open = p->pos, i = open + 1, end;
    /* First find the closing quote, so the output can be sized from the raw span (escapes only shrink). */
    for (end = i; end < p->len && s[end] != '"'; end += s[end] == '\\' ? 2 : 1) {}
    if (end >= p->len) return json_fail(p, open, "unterminated string");
    char *buf = malloc(end - i + 1);
    if (!buf) return json_fail(p, open, "out of memory for a %zu-byte string", end - i);
    size_t o = 0;
    while (i < end) {
        unsigned char c = s[i];
        if (c < 0x20) {
            free(buf);
            return json_fail(p, i, "unescaped control character 0x%02x in string", c);
        }
        if (c >= 0x80) {
            size_t n = utf8_seq_len(s + i, end - i);
            if (!n) {
                free(buf);
                return json_fail(p, i, "invalid UTF-8 byte 0x%02x in string", c);
            }
            memcpy(buf + o, s + i, n);
            o += n, i += n;
            continue;
        }
        if (c != '\\') {
            buf[o++] = (char)c;
            i++;
            continue;
        }
        if (decode_escape(p, end, buf, &o, &i) != 0) {
            free(buf);
            return -1;
        }
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    p->pos = end + 1;
    return 0;
}

/* strtod obeys LC_NUMERIC, which a host program may have changed; JSON always uses '.'. */
static locale_t json_c_locale;
static pthread_once_t json_c_locale_once = PTHREAD_ONCE_INIT;
static void json_c_locale_init(void) { json_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static int is_digit(const json_parser *p, size_t i) { return i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; }

static int parse_number(json_parser *p, double *out) {
    size_t start = p->pos, i = start;
    if (i < p->len && p->s[i] == '-') i++;
    if (!is_digit(p, i)) return json_fail(p, start, "invalid number (expected a digit)");
    if (p->s[i] == '0') {
        i++;
        if (is_digit(p, i)) return json_fail(p, start, "invalid number (leading zeros are not allowed)");
    } else {
        while (is_digit(p, i)) i++;
    }
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (!is_digit(p, i)) return json_fail(p, i, "invalid number (expected a digit after '.')");
        while (is_digit(p, i)) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (!is_digit(p, i)) return json_fail(p, i, "invalid number (expected a digit in the exponent)");
        while (is_digit(p, i)) i++;
    }
    size_t n = i - start;
    char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return json_fail(p, start, "out of memory for a %zu-digit number", n);
    memcpy(buf, p->s + start, n);
    buf[n] = 0;
    pthread_once(&json_c_locale_once, json_c_locale_init);
    double v = json_c_locale ? strtod_l(buf, NULL, json_c_locale) : strtod(buf, NULL);
    if (buf != small) free(buf);
    if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
        return json_fail(p, start, "number out of the double range");
    *out = v;
    p->pos = i;
    return 0;
}

static int parse_value(json_parser *p, fastfnet_json *out, int depth);

static void free_node(fastfnet_json *j) {
    if (j->type == FASTFNET_JSON_STRING) free(j->str);
    if (j->type == FASTFNET_JSON_ARRAY || j->type == FASTFNET_JSON_OBJECT) {
        for (int i = 0; i < j->n; i++) {
            free_node(&j->items[i]);
            if (j->keys) free(j->keys[i]);
        }
        free(j->items);
        free(j->keys);
    }
    memset(j, 0, sizeof *j);
}

/* Makes room for one more item in out->items (and out->keys for objects). */
static int reserve_item(json_parser *p, fastfnet_json *out, int *cap, int with_keys) {
    if (out->n < *cap) return 0;
    if (*cap >= INT_MAX / 2) return json_fail(p, p->pos, "too many items in one array or object");
    int nc = *cap ? *cap * 2 : 4;
    fastfnet_json *items = realloc(out->items, (size_t)nc * sizeof *items);
    if (!items) return json_fail(p, p->pos, "out of memory");
    out->items = items;
    if (with_keys) {
        char **keys = realloc(out->keys, (size_t)nc * sizeof *keys);
        if (!keys) return json_fail(p, p->pos, "out of memory");
        out->keys = keys;
    }
    *cap = nc;
    return 0;
}

static int parse_array(json_parser *p, fastfnet_json *out, int depth) {
    out->type = FASTFNET_JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return 0;
    }
    int cap = 0;
    for (;;) {
        if (reserve_item(p, out, &cap, 0) != 0 || parse_value(p, &out->items[out->n], depth + 1) != 0) {
            free_node(out);
            return -1;
        }
        out->n++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ']') {
                free_node(out);
                return json_fail(p, p->pos, "trailing comma in array");
            }
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            return 0;
        }
        free_node(out);
        if (p->pos >= p->len) return json_fail(p, p->pos, "unexpected end of input inside an array");
        return json_fail(p, p->pos, "expected ',' or ']' in array");
    }
}

typedef struct {
    const char *key;
    size_t len, pos;
} json_keyref;

static int keyref_cmp(const void *a, const void *b) {
    const json_keyref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorting keeps duplicate detection O(n log n); a quadratic scan would let a big header stall the loader. */
static int check_duplicate_keys(json_parser *p, json_keyref *refs, int n) {
    if (n < 2) return 0;
    qsort(refs, (size_t)n, sizeof *refs, keyref_cmp);
    for (int i = 1; i < n; i++) {
        if (refs[i].len == refs[i - 1].len && memcmp(refs[i].key, refs[i - 1].key, refs[i].len) == 0) {
            char shown[48];
            size_t k = 0;
            for (size_t j = 0; j < refs[i].len && k < 40; j++) {
                unsigned char c = (unsigned char)refs[i].key[j];
                shown[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
            }
            shown[k] = 0;
            return json_fail(p, refs[i].pos, "duplicate object key \"%s%s\"", shown,
                             refs[i].len > 40 ? "..." : "");
        }
    }
    return 0;
}

/* Keeps one key reference per item (cap of them), for check_duplicate_keys once the object is read. */
static int reserve_keyref(json_parser *p, json_keyref **refs, int *rcap, int cap, int n) {
    if (n < *rcap) return 0;
    json_keyref *r = realloc(*refs, (size_t)cap * sizeof *r);
    if (!r) return json_fail(p, p->pos, "out of memory");
    *refs = r;
    *rcap = cap;
    return 0;
}

/* One "key": value member, the key's quote at p->pos, stored as item out->n with its key reference. */
static int parse_member(json_parser *p, fastfnet_json *out, json_keyref *refs, int depth) {
    size_t kpos = p->pos;
    char *key;
    size_t klen;
    if (parse_string(p, &key, &klen) != 0) return -1;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') {
        free(key);
        return json_fail(p, p->pos, "expected ':' after object key");
    }
    p->pos++;
    if (parse_value(p, &out->items[out->n], depth + 1) != 0) {
        free(key);
        return -1;
    }
    out->keys[out->n] = key;
    refs[out->n] = (json_keyref){key, klen, kpos};
    out->n++;
    return 0;
}

static int parse_object(json_parser *p, fastfnet_json *out, int depth) {
    out->type = FASTFNET_JSON_OBJECT;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return 0;
    }
    int cap = 0, rcap = 0;
    json_keyref *refs = NULL;
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            if (p->pos >= p->len) json_fail(p, p->pos, "unexpected end of input inside an object");
            else json_fail(p, p->pos, "expected a string key in object");
            goto fail;
        }
        if (reserve_item(p, out, &cap, 1) != 0 || reserve_keyref(p, &refs, &rcap, cap, out->n) != 0 ||
            parse_member(p, out, refs, depth) != 0)
            goto fail;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == '}') {
                json_fail(p, p->pos, "trailing comma in object");
                goto fail;
            }
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            break;
        }
        if (p->pos >= p->len) json_fail(p, p->pos, "unexpected end of input inside an object");
        else json_fail(p, p->pos, "expected ',' or '}' in object");
        goto fail;
    }
    if (check_duplicate_keys(p, refs, out->n) != 0) goto fail;
    free(refs);
    return 0;
fail:
    free(refs);
    free_node(out);
    return -1;
}

static int parse_literal(json_parser *p, fastfnet_json *out) {
    static const struct { const char *word; fastfnet_json_type type; int value; } lits[] = {
        {"true", FASTFNET_JSON_BOOL, 1}, {"false", FASTFNET_JSON_BOOL, 0}, {"null", FASTFNET_JSON_NULL, 0}};
    for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
        size_t n = strlen(lits[k].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, lits[k].word, n) == 0) {
            out->type = lits[k].type;
            out->boolean = lits[k].value;
            p->pos += n;
            return 0;
        }
    }
    return json_fail(p, p->pos, "invalid literal (expected true, false or null)");
}

static int parse_value(json_parser *p, fastfnet_json *out, int depth) {
    memset(out, 0, sizeof *out);
    skip_ws(p);
    if (p->pos >= p->len) return json_fail(p, p->pos, "unexpected end of input (expected a value)");
    unsigned char c = p->s[p->pos];
    if ((c == '[' || c == '{') && depth >= FASTFNET_JSON_MAX_DEPTH)
        return json_fail(p, p->pos, "nesting deeper than %d levels", FASTFNET_JSON_MAX_DEPTH);
    switch (c) {
    case '[': return parse_array(p, out, depth);
    case '{': return parse_object(p, out, depth);
    case '"':
        out->type = FASTFNET_JSON_STRING;
        if (parse_string(p, &out->str, &out->str_len) != 0) {
            out->type = FASTFNET_JSON_NULL;
            return -1;
        }
        return 0;
    case 't': case 'f': case 'n': return parse_literal(p, out);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            out->type = FASTFNET_JSON_NUMBER;
            return parse_number(p, &out->number);
        }
        char b[8];
        return json_fail(p, p->pos, "unexpected character %s (expected a value)", json_show_byte(c, b));
    }
}

fastfnet_json *fastfnet_json_parse(const char *text, size_t len, char *err, size_t errlen) {
    json_parser p = {(const unsigned char *)text, len, 0, err, errlen};
    if (!text && len) {
        json_fail(&p, 0, "no input");
        return NULL;
    }
    fastfnet_json *root = calloc(1, sizeof *root);
    if (!root) {
        json_fail(&p, 0, "out of memory");
        return NULL;
    }
    if (parse_value(&p, root, 0) != 0) {
        free(root);
        return NULL;
    }
    skip_ws(&p);
    if (p.pos != p.len) {
        char b[8];
        json_fail(&p, p.pos, "unexpected %s after the JSON value", json_show_byte(p.s[p.pos], b));
        fastfnet_json_free(root);
        return NULL;
    }
    return root;
}

void fastfnet_json_free(fastfnet_json *j) {
    if (!j) return;
    free_node(j);
    free(j);
}

const fastfnet_json *fastfnet_json_get(const fastfnet_json *obj, const char *key) {
    if (!obj || obj->type != FASTFNET_JSON_OBJECT || !key) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

int fastfnet_json_get_int(const fastfnet_json *obj, const char *key, long long *out) {
    const fastfnet_json *v = fastfnet_json_get(obj, key);
    if (!v) return 1;
    if (v->type != FASTFNET_JSON_NUMBER) return -1;
    double d = v->number;
    if (!(d > -9007199254740992.0 && d < 9007199254740992.0)) return -1; /* 2^53 itself may be 2^53 + 1 rounded */
    long long i = (long long)d;
    if ((double)i != d) return -1;
    *out = i;
    return 0;
}

int fastfnet_json_get_num(const fastfnet_json *obj, const char *key, double *out) {
    const fastfnet_json *v = fastfnet_json_get(obj, key);
    if (!v) return 1;
    if (v->type != FASTFNET_JSON_NUMBER) return -1;
    *out = v->number;
    return 0;
}

const char *fastfnet_json_get_str(const fastfnet_json *obj, const char *key) {
    const fastfnet_json *v = fastfnet_json_get(obj, key);
    return v && v->type == FASTFNET_JSON_STRING ? v->str : NULL;
}

int fastfnet_json_escape(char *buf, size_t cap, size_t *pos, const char *s) {
    if (!buf || !pos || !s) return -1;
    if (!fastfnet_json_utf8_valid(s, strlen(s))) return -1;
    size_t o = *pos;
#define PUT(ch)                      \
    do {                             \
        if (o >= cap) return -1;     \
        buf[o++] = (char)(ch);       \
    } while (0)
    PUT('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = NULL;
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            PUT(esc[0]);
            PUT(esc[1]);
        } else if (*c < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", *c);
            for (int k = 0; k < 6; k++) PUT(u[k]);
        } else {
            PUT(*c);
        }
    }
    PUT('"');
#undef PUT
    if (o >= cap) return -1;
    buf[o] = 0;
    *pos = o;
    return 0;
}
