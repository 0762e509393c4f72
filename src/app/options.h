/* options.h: option tables (name, type, where the value goes, help) parsed from argv strings or a JSON
 * config file; `fastfnet train`'s table, shared by the CLI and fastfnet_trainer_create. */
#ifndef FASTFNET_OPTIONS_H
#define FASTFNET_OPTIONS_H
#include "train.h"
#include <stddef.h>

/* OPT_INT takes 0..2^30; OPT_INT_AUTO also -1, where the help says what -1 chooses */
typedef enum { OPT_INT, OPT_INT_AUTO, OPT_LONG, OPT_DOUBLE, OPT_STR, OPT_BOOL } opt_type;
/* A table ends with a NULL name; an option without help is accepted but not listed (an old spelling). */
typedef struct {
    const char *name;
    opt_type type;
    void *ptr;
    const char *help;
} opt_def;

/* Strings the parsed options point into (copies of argv and of a --config file's values). */
typedef struct {
    char **s;
    int n, cap;
} opt_strings;
void fastfnet_opt_strings_free(opt_strings *k);

/* Parse argv[0..argc) (options only, no command name) against t; --config FILE is applied first so flags
 * override it. Positional arguments go to pos (at most npos), their count to *npos_out. Returns 0, 1 when
 * --help/-h was given (nothing else is parsed), or -1 with a message naming the flag or file; cmd names the
 * command in messages. String values are copied into keep. */
int fastfnet_opt_parse(const opt_def *t, int argc, const char *const *argv, const char *cmd, const char **pos, int npos, int *npos_out,
              opt_strings *keep, char *err, size_t errlen);
/* Apply a JSON object of options (text[0..len), keys as in fastfnet_opt_to_json); src names it in messages. */
int fastfnet_opt_apply_json_text(const opt_def *t, const char *text, size_t len, const char *src, opt_strings *k, char *err, size_t errlen);
/* The value of o as help and messages show it ("-" for no string). */
void fastfnet_opt_value(const opt_def *o, char *buf, size_t n);
/* Whether two entries of the same table (over two option structs) hold the same value (doubles at JSON's precision). */
int fastfnet_opt_same(const opt_def *a, const opt_def *b);
/* The table's help text, one line per listed option with its current value as the default (malloc'd). */
char *fastfnet_opt_help(const opt_def *t);
/* The current values as a JSON object keyed by option name (dashes as underscores), valid --config input
 * (malloc'd; NULL when out of memory). */
char *fastfnet_opt_to_json(const opt_def *t);
/* Integer parsing for flags: 0 ok, -1 with a message naming the flag. */
int fastfnet_opt_long(const char *flag, const char *s, long lo, long hi, long *v, char *err, size_t errlen);

/* `fastfnet train`'s options into o (after fastfnet_train_defaults); threads receives --threads. The
 * table ends with a NULL name; cap must be at least OPT_TRAIN_MAX. */
#define OPT_TRAIN_MAX 64
void fastfnet_opt_train_table(opt_def *t, fastfnet_train_opts *o, int *threads);
/* The architecture flags of init and train, into t (OPT_ARCH_COUNT entries, no terminator). */
#define OPT_ARCH_COUNT 13
void fastfnet_opt_arch_entries(opt_def *t, fastfnet_arch_opts *a);
#endif
