/* json.h: a small strict (RFC 8259) JSON DOM parser, plus string escaping for writers.
 * Used for safetensors headers and model configs, both of which may come from untrusted files. */
#ifndef FASTFNET_JSON_H
#define FASTFNET_JSON_H
#include <stddef.h>

typedef enum { FASTFNET_JSON_NULL, FASTFNET_JSON_BOOL, FASTFNET_JSON_NUMBER, FASTFNET_JSON_STRING, FASTFNET_JSON_ARRAY, FASTFNET_JSON_OBJECT } fastfnet_json_type;

typedef struct fastfnet_json {
    fastfnet_json_type type;
    int boolean;
    double number;
    char *str;               /* STRING: NUL-terminated UTF-8, escapes decoded; may contain NUL (see str_len) */
    size_t str_len;
    int n;                   /* ARRAY/OBJECT: number of items */
    struct fastfnet_json *items;  /* ARRAY/OBJECT values */
    char **keys;             /* OBJECT keys (NUL-terminated), in document order */
} fastfnet_json;

/* Parse exactly len bytes (no NUL needed). Returns NULL and a message with line and column on error.
 * Also refused: nesting deeper than 64 levels, numbers outside the double range, containers of 2^30+ items. */
fastfnet_json *fastfnet_json_parse(const char *text, size_t len, char *err, size_t errlen);
void fastfnet_json_free(fastfnet_json *j);

/* NULL if absent or obj is not an object. */
const fastfnet_json *fastfnet_json_get(const fastfnet_json *obj, const char *key);
/* 0 and *out set when key exists with the right type, 1 if absent, -1 if wrong type.
 * get_int also returns -1 for a number that is not integral or whose magnitude exceeds 2^53
 * (beyond that a double may already have rounded the literal). */
int fastfnet_json_get_int(const fastfnet_json *obj, const char *key, long long *out);
int fastfnet_json_get_num(const fastfnet_json *obj, const char *key, double *out);
/* NULL if absent or not a string. */
const char *fastfnet_json_get_str(const fastfnet_json *obj, const char *key);

/* Append s as a quoted JSON string to buf (capacity cap) at *pos, then NUL-terminate.
 * Returns 0 and advances *pos past the closing quote, or -1 with *pos unchanged (bytes from *pos on may
 * have been overwritten) if it does not fit including the NUL, or if s is not valid UTF-8. */
int fastfnet_json_escape(char *buf, size_t cap, size_t *pos, const char *s);
/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
int fastfnet_json_utf8_valid(const char *s, size_t len);
#endif
