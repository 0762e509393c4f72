/* listops.h: the ListOps data set of the Long Range Arena (Tay et al. 2020; the task is from Nangia &
 * Bowman 2018), generated and evaluated in C.
 *
 * An expression is a tree over the digits 0..9 and four operators, written in prefix form with brackets as
 * space-separated tokens, e.g. `[MAX 2 9 [MIN 4 7 ] 0 ]` (value 9). The tokens are exactly
 *     [MAX  [MIN  [MED  [SM  ]  0 1 2 3 4 5 6 7 8 9
 * separated by single spaces, no leading or trailing space, no parentheses (LRA's TSV wraps every pair of its
 * internal binary tuples in `( ... )`; those carry no information and are not written here).
 * Operators: MAX, MIN, MED (median), SM (sum modulo 10). MED of an even count is the floor of the mean of the
 * two middle values (`[MED 1 2 ]` = 1, `[MED 1 4 7 9 ]` = 5): LRA labels MED with int(numpy.median(args)),
 * and int() truncates the .5 of a non-negative mean. The label of an expression is its value (10 classes).
 *
 * Generation follows LRA's lra_benchmarks/data/listops.py generate_tree(depth=1, max_depth, max_args):
 *   - at levels 1 .. max_depth-1 a node is a digit with probability leaf_prob, else an operator; at level
 *     max_depth it is always a digit (so brackets nest at most max_depth-1 deep: 9 for the default 10);
 *   - a digit is uniform over 0..9; an operator is uniform over the four and takes a uniform number of
 *     arguments in 2..max_args (inclusive, like random.randint(2, max_args));
 *   - a whole tree is redrawn until min_len <= tokens <= max_len (a token is a digit, an operator or `]`).
 * LRA's constant VALUE_P = 0.25 is the probability of an *operator* (its code takes a digit when
 * random() > VALUE_P), so LRA's leaf probability is 0.75: that is our default leaf_prob.
 * Differences from LRA, all without effect on the distribution of a single example:
 *   - the bounds are inclusive (LRA keeps 500 < length < 2000, i.e. min_len 501, max_len 1999);
 *   - when min_len > 1 the root is always an operator (a digit root has 1 token and would be rejected);
 *   - a tree is abandoned as soon as it must exceed max_len tokens instead of being finished and rejected;
 *   - the operator is drawn before its arguments; our RNG is fastfnet_rng, not Python's, so the streams differ;
 *   - LRA removes duplicate trees (a Python set); we do not (at 500+ tokens a repeat is vanishingly rare).
 * Label distribution: skewed as in LRA (MAX pushes values up, MIN down; SM and MED spread them). */
#ifndef FASTFNET_LISTOPS_H
#define FASTFNET_LISTOPS_H
#include "fastfnet_util.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int max_depth;   /* tree levels counting the digits, as LRA's --max_depth (1..64); default 10 */
    int max_args;    /* arguments per operator are uniform in 2..max_args (2..1000); default 10 (LRA) */
    int min_len;     /* tokens per expression, inclusive: 1 <= min_len <= max_len <= 1<<24; */
    int max_len;     /*   defaults 500 and 2000 (LRA: 500 < length < 2000) */
    float leaf_prob; /* probability that a node above the last level is a digit, in [0,1]; default 0.75 */
} fastfnet_listops_config;

void fastfnet_listops_default(fastfnet_listops_config *c);
/* 0 if c is usable, else -1 and a message: a field out of its range above, or a length window that no tree
 * can meet (min_len above the largest tree the depth and arity allow, or max_len below the smallest). */
int fastfnet_listops_check_config(const fastfnet_listops_config *c, char *err, size_t errlen);
/* Bytes that fastfnet_listops_generate needs in buf: 5 * max_len + 1 (each token is at most 4 characters and a
 * separator; the last separator is the terminating NUL). 0 for an invalid config. */
size_t fastfnet_listops_buf_size(const fastfnet_listops_config *c);

/* Generate one expression into buf (NUL-terminated) and return its value 0..9, computed while generating;
 * *ntokens (may be NULL) receives its token count, min_len <= *ntokens <= max_len. Deterministic given the
 * rng state, which it advances. Returns -1 if cap < fastfnet_listops_buf_size(c) (checked before any draw, so
 * whether it fails never depends on the draw), if the config is invalid, or if 1<<22 trees in a row all
 * missed the length window (one the config allows in principle but practically never hits); buf is then
 * unspecified and *ntokens is 0. */
int fastfnet_listops_generate(const fastfnet_listops_config *c, fastfnet_rng *rng, char *buf, size_t cap, int *ntokens);

/* Evaluate a ListOps expression: tokens separated by spaces (tabs, CR and LF are accepted as separators
 * too). Returns 0..9, or -1 with a message in err (may be NULL) that names the 1-based token position:
 * empty input, unknown token, `]` with no open operator, an operator with no arguments, an operator never
 * closed, or tokens after a complete expression. An operator with one argument is accepted (its value is
 * that argument). Independent of the generator: it keeps every argument and sorts for MED. */
int fastfnet_listops_eval(const char *expr, char *err, size_t errlen);

/* Write n (>= 0) examples as lines "label<TAB>expression\n" (no header line) to path, drawing them in order
 * from one fastfnet_rng seeded with seed: the same (config, seed, n) always gives the same bytes, and the first k
 * lines of n >= k examples are the k-example file. Atomic: a temporary file next to path, fsync, rename over
 * path, fsync of the directory. 0 ok, -1 and a message naming path on failure (path is then untouched). */
int fastfnet_listops_write_tsv(const char *path, const fastfnet_listops_config *c, uint64_t seed, int n, char *err,
                          size_t errlen);
#endif
