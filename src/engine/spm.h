/* spm.h: the SentencePiece seam: a small C API over Debian's libsentencepiece (spm.cpp, C++), or, in a
 * build without it, spm_stub.c, whose every call fails saying how to get the library. Never prints or exits. */
#ifndef FASTFNET_SPM_H
#define FASTFNET_SPM_H
#include "fastfnet.h" /* fastfnet_spm_available and fastfnet_spm_version are public */
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct fastfnet_spm fastfnet_spm;

/* A model from a serialized ModelProto (the bytes of a .model file). NULL and a one-line message (which does
 * not name a file: the caller adds it) when the bytes are not a valid model. */
fastfnet_spm *fastfnet_spm_load(const void *data, size_t len, char *err, size_t errlen);
void fastfnet_spm_free(fastfnet_spm *s);
int fastfnet_spm_size(const fastfnet_spm *s);
/* Id of a piece, or -1 when the model has no such piece (the library would answer unk). */
int fastfnet_spm_piece_id(const fastfnet_spm *s, const char *piece);
/* The piece of an id (0 <= id < size), valid while s lives. */
const char *fastfnet_spm_piece(const fastfnet_spm *s, int id);
/* The model's own special ids (-1 when disabled). */
int fastfnet_spm_unk_id(const fastfnet_spm *s);
int fastfnet_spm_pad_id(const fastfnet_spm *s);
/* 1 for a control piece (<s>, </s>, ...) or the unknown piece: never produced from text as a normal token */
int fastfnet_spm_is_control(const fastfnet_spm *s, int id);
/* Ids of text[0..len), as spm_encode --output_format=id. Writes up to cap ids, returns the count (may exceed
 * cap); (size_t)-1 when the library reports an error. */
size_t fastfnet_spm_encode(const fastfnet_spm *s, const char *text, size_t len, int32_t *out, size_t cap);
/* Text of ids (each in 0..size-1), as spm_decode; NUL-terminated if room; returns the byte count needed. */
size_t fastfnet_spm_decode(const fastfnet_spm *s, const int32_t *ids, size_t n, char *out, size_t cap);
/* Train on the lines of text[0..len) with spm_train's options given as "--name=value" words in args
 * (e.g. "--model_type=unigram --vocab_size=8000"). On success *model is a malloc'd serialized ModelProto. */
int fastfnet_spm_train(const char *args, const char *text, size_t len, char **model, size_t *model_len, char *err,
                  size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
