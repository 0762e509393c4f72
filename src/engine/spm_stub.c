/* spm_stub.c: the SentencePiece seam of a build without libsentencepiece: every call fails and says how to
 * get it (Debian: apt-get install libsentencepiece-dev, then rebuild). */
#include "spm.h"
#include "util.h"

#define SPM_MISSING "this fastfnet was built without SentencePiece: apt-get install libsentencepiece-dev, then rebuild (make)"

int fastfnet_spm_available(void) { return 0; }
const char *fastfnet_spm_version(void) { return NULL; }
fastfnet_spm *fastfnet_spm_load(const void *data, size_t len, char *err, size_t errlen) {
    (void)data, (void)len;
    fastfnet_err(err, errlen, "%s", SPM_MISSING);
    return NULL;
}
void fastfnet_spm_free(fastfnet_spm *s) { (void)s; }
int fastfnet_spm_size(const fastfnet_spm *s) { return (void)s, 0; }
int fastfnet_spm_piece_id(const fastfnet_spm *s, const char *piece) { return (void)s, (void)piece, -1; }
const char *fastfnet_spm_piece(const fastfnet_spm *s, int id) { return (void)s, (void)id, NULL; }
int fastfnet_spm_unk_id(const fastfnet_spm *s) { return (void)s, -1; }
int fastfnet_spm_pad_id(const fastfnet_spm *s) { return (void)s, -1; }
int fastfnet_spm_is_control(const fastfnet_spm *s, int id) { return (void)s, (void)id, 0; }
size_t fastfnet_spm_encode(const fastfnet_spm *s, const char *text, size_t len, int32_t *out, size_t cap) {
    (void)s, (void)text, (void)len, (void)out, (void)cap;
    return (size_t)-1;
}
size_t fastfnet_spm_decode(const fastfnet_spm *s, const int32_t *ids, size_t n, char *out, size_t cap) {
    (void)s, (void)ids, (void)n;
    if (cap) out[0] = 0;
    return 0;
}
int fastfnet_spm_train(const char *args, const char *text, size_t len, char **model, size_t *model_len, char *err,
                  size_t errlen) {
    (void)args, (void)text, (void)len;
    *model = NULL, *model_len = 0;
    return fastfnet_err(err, errlen, "%s", SPM_MISSING);
}
