/* util.c: checked allocation, errors, clock and the seeded RNG. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ffn_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fastfnet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *ffn_malloc(size_t bytes) {
    void *p = NULL;
    size_t n = (bytes + 63) & ~(size_t)63;
    if (n == 0) n = 64;
    if (posix_memalign(&p, 64, n) != 0 || !p)
        ffn_die("out of memory allocating %zu bytes (%.1f MiB); reduce batch size or model size",
                bytes, bytes / 1048576.0);
    return p;
}

void *ffn_calloc(size_t bytes) {
    void *p = ffn_malloc(bytes);
    memset(p, 0, bytes);
    return p;
}

void ffn_free(void *p) { free(p); }

double ffn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int ffn_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void ffn_rng_seed(ffn_rng *r, uint64_t seed) {
    /* splitmix64 scrambles small seeds so seed 0 and 1 give unrelated streams */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    r->s = (z ^ (z >> 31)) | 1;
}

uint64_t ffn_rng_u64(ffn_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

float ffn_rng_uniform(ffn_rng *r) { return (ffn_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float ffn_rng_normal(ffn_rng *r) {
    double u1 = ((ffn_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (ffn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
