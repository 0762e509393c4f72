/* die.h: what only the application may do on an error it cannot return: print it and exit. The libraries
 * return errors instead (include/fastfnet.h); these are for the tool and the code paths only it reaches. */
#ifndef FASTFNET_DIE_H
#define FASTFNET_DIE_H
#include <stddef.h>

/* Print "fastfnet: <message>" to stderr and exit(1). */
void fastfnet_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* fastfnet_malloc / fastfnet_calloc that never return NULL: on failure they name the size and exit. */
void *fastfnet_xmalloc(size_t bytes);
void *fastfnet_xcalloc(size_t bytes);
#endif
