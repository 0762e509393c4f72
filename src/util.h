/* util.h: checked allocation, error reporting and small helpers shared by all of fastfnet. */
#ifndef FFN_UTIL_H
#define FFN_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Print "fastfnet: <message>" to stderr and exit(1). Used by the CLI and for impossible states. */
void ffn_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Allocation that never returns NULL: on failure it names the size and exits. 64-byte aligned. */
void *ffn_malloc(size_t bytes);
void *ffn_calloc(size_t bytes);
void ffn_free(void *p);
/* Wall clock in seconds (monotonic). */
double ffn_now(void);
/* Write an error message into err (may be NULL); always returns -1 so callers can `return ffn_err(...)`. */
int ffn_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Deterministic RNG (xorshift64*), seeded; the same seed gives the same stream on every machine. */
typedef struct { uint64_t s; } ffn_rng;
void ffn_rng_seed(ffn_rng *r, uint64_t seed);
uint64_t ffn_rng_u64(ffn_rng *r);
float ffn_rng_uniform(ffn_rng *r);  /* [0,1) */
float ffn_rng_normal(ffn_rng *r);   /* N(0,1), Box-Muller */
#endif
