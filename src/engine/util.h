/* util.h: aligned allocation, error messages and small helpers shared by all of fastfnet. */
#ifndef FASTFNET_UTIL_H
#define FASTFNET_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fastfnet_util.h" /* the helpers applications use too: public */

/* 64-byte aligned allocation; NULL when memory runs out (or the size overflows): callers return an error.
 * (The application's fastfnet_xmalloc, src/app/die.h, exits instead.) */
void *fastfnet_malloc(size_t bytes);
/* For tests: when >= 0, fastfnet_malloc lets this many more allocations succeed and fails the next one
 * (then it is -1 again), so a test can reach every out-of-memory path. -1 (never) by default. */
extern long fastfnet_alloc_fail_countdown;
void *fastfnet_calloc(size_t bytes);
void fastfnet_free(void *p);
#endif
