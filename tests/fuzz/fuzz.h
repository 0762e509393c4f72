/* fuzz.h: shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): a scratch directory for the parsers that
 * read a path, and FUZZ_REQUIRE for the properties a harness checks beyond "no crash". */
#ifndef FASTFNET_FUZZ_H
#define FASTFNET_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A broken property is a finding: abort, so libFuzzer saves the input like any crash. */
#define FUZZ_REQUIRE(cond)                                                                    \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);        \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* An error message: non-empty and one line, as every reader promises. */
#define FUZZ_REQUIRE_MESSAGE(err) FUZZ_REQUIRE((err)[0] != 0 && strchr((err), '\n') == NULL)

static char g_fuzz_dir[96];
static char g_fuzz_files[4][160];
static int g_fuzz_nfiles;

static inline void fuzz_cleanup(void) {
    for (int i = 0; i < g_fuzz_nfiles; i++) unlink(g_fuzz_files[i]);
    if (g_fuzz_dir[0]) rmdir(g_fuzz_dir);
}

/* The path of `name` in this process's scratch directory (tmpfs when /dev/shm is writable, so the
 * write-then-parse round trip costs no disk I/O). */
static inline const char *fuzz_path(const char *name) {
    if (!g_fuzz_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(g_fuzz_dir, sizeof g_fuzz_dir, "%s/fastfnet_fuzz_XXXXXX", base);
        if (!mkdtemp(g_fuzz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    for (int i = 0; i < g_fuzz_nfiles; i++) {
        const char *slash = strrchr(g_fuzz_files[i], '/');
        if (strcmp(slash + 1, name) == 0) return g_fuzz_files[i];
    }
    if (g_fuzz_nfiles == 4) abort();
    snprintf(g_fuzz_files[g_fuzz_nfiles], sizeof g_fuzz_files[0], "%s/%s", g_fuzz_dir, name);
    return g_fuzz_files[g_fuzz_nfiles++];
}

/* Writes data[0..n) to the scratch file `name` and returns its path. */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t n) {
    const char *path = fuzz_path(name);
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) {
        perror(path);
        abort();
    }
    return path;
}
#endif
