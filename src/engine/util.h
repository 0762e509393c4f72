/* util.h: checked allocation, error reporting and small helpers shared by all of fastfnet. */
#ifndef FASTFNET_UTIL_H
#define FASTFNET_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fastfnet_util.h" /* the helpers applications use too: public */

/* Print "fastfnet: <message>" to stderr and exit(1). Used by the CLI and for impossible states. */
void fastfnet_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Allocation that never returns NULL: on failure it names the size and exits. 64-byte aligned. */
void *fastfnet_malloc(size_t bytes);
void *fastfnet_calloc(size_t bytes);
void fastfnet_free(void *p);
#endif
