/* die.c: the application's print-and-exit error reporting and the allocation that relies on it. */
#include "die.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fastfnet_die(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(msg, sizeof msg, "fastfnet: ");
    vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    fputs(msg, stderr); /* one write: processes of a parallel run do not interleave within a line */
    exit(1);
}

static void *out_of_memory(size_t bytes) {
    fastfnet_die("out of memory allocating %zu bytes (%.1f MiB); reduce batch size or model size", bytes,
                 bytes / 1048576.0);
}

void *fastfnet_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    return p ? p : out_of_memory(bytes);
}

void *fastfnet_xcalloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    return p ? p : out_of_memory(bytes);
}
