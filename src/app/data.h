/* data.h: examples for training and evaluation: reading JSONL/TSV records and IDX images, label maps,
 * tokenized datasets ([CLS] a [SEP] (b [SEP])), padded batches, MLM masking and NSP pairs. */
#ifndef FASTFNET_DATA_H
#define FASTFNET_DATA_H
#include "fastfnet_util.h"
#include <stddef.h>
#include <stdint.h>

/* Raw text records as read from a file (labels as strings; b is NULL for single-text tasks). */
typedef struct {
    int n;
    char **a, **b, **label;
    int *line; /* source line of each record, for messages */
} fastfnet_records;

/* Read JSON lines ({"text": ..., "label": ...} or {"text_a", "text_b", "label"}) or TSV (label<TAB>text or
 * label<TAB>text_a<TAB>text_b); the format is chosen by the extension (.jsonl/.json vs anything else).
 * need_label: a record without a label is an error. Errors name the file and line. */
int fastfnet_records_read(fastfnet_records *r, const char *path, int pair, int need_label, char *err, size_t errlen);
/* How fastfnet_records_read reads path, by its name: 1 JSONL (.jsonl, .json), 0 TSV (.tsv), -1 neither. */
int fastfnet_records_format(const char *path);
/* A file's first line without the UTF-8 byte-order mark some editors write (it would become part of the first
 * label or text); the new length. */
long fastfnet_drop_bom(char *line, long len);
void fastfnet_records_free(fastfnet_records *r);

/* Label names <-> ids. Built from training records sorted by name, so the map does not depend on file
 * order; a stored map keeps its order (ids are positions). */
typedef struct {
    int n;
    char **names;
} fastfnet_labels;
int fastfnet_labels_build(fastfnet_labels *l, const fastfnet_records *r, char *err, size_t errlen);
int fastfnet_labels_find(const fastfnet_labels *l, const char *name); /* -1 if unknown */
void fastfnet_labels_free(fastfnet_labels *l);
/* As a JSON list of strings (for checkpoint metadata) and back. */
char *fastfnet_labels_to_json(const fastfnet_labels *l);
int fastfnet_labels_from_json(fastfnet_labels *l, const char *json, char *err, size_t errlen);

/* Tokenized examples. Example i is ids[off[i] .. off[i+1]); token type 1 starts at seg[i]. */
typedef struct {
    int n;
    int64_t *off;
    int32_t *ids;
    int32_t *seg;
    int32_t *labels; /* n class ids, or NULL */
    int64_t truncated;
} fastfnet_dataset;
void fastfnet_dataset_free(fastfnet_dataset *d);
/* Encode records with tok into [CLS] a [SEP] (b [SEP]), at most max_len tokens (the longer text is
 * truncated first; truncations are counted). Labels mapped with `labels` (unknown -> error naming the line);
 * labels == NULL leaves d->labels NULL. */
int fastfnet_dataset_from_records(fastfnet_dataset *d, const fastfnet_records *r, const char *path, fastfnet_tokenizer *tok,
                             const fastfnet_labels *labels, int max_len, char *err, size_t errlen);
/* IDX images (ubyte, N x rows x cols, N >= 1; .gz is not read: pass the uncompressed file) and labels: each
 * image becomes [CLS] followed by one token per pixel (byte tokenizer ids: 5 + value). The set's shape: images of
 * side x side pixels (side 0: any shape) and labels in 0..classes-1; others are refused naming the file. The
 * first limit images (limit <= 0: all). */
int fastfnet_dataset_from_idx(fastfnet_dataset *d, const char *images, const char *labels_path, int side, int classes, int limit,
                              char *err, size_t errlen);
/* The ids MLM examples are built from, taken from the tokenizer: [CLS], [SEP], [MASK], and which ids are
 * special (never masked, never drawn as a random replacement): those below first_regular and other[]. For
 * fastfnet's own kinds that is ids 0..4; a SentencePiece model names its own (unk, bos, eos, pad, ...). */
typedef struct {
    int32_t cls, sep, mask, first_regular, vocab;
    int nother;
    int32_t other[8];
} fastfnet_mlm_ids;
/* Pre-training: tokenized text cut into [CLS] chunk [SEP] examples of max_len tokens (nsp == 0), or into
 * [CLS] A [SEP] B [SEP] pairs where B follows A (label 0) or, half the time, is a random chunk (label 1). */
int fastfnet_dataset_pretrain(fastfnet_dataset *d, const int32_t *stream, size_t n, int max_len, int nsp, uint64_t seed, const fastfnet_mlm_ids *s,
                         char *err, size_t errlen);
/* Keep examples [from, to) of d (a split), in a new dataset. */
int fastfnet_dataset_slice(fastfnet_dataset *out, const fastfnet_dataset *d, int from, int to); /* -1: out of memory */

/* Fill a (B,T) batch from examples idx[0..B): ids padded with pad, token types, labels (class ids). */
void fastfnet_dataset_batch(const fastfnet_dataset *d, const int *idx, int B, int T, int pad, int32_t *ids, int32_t *tt,
                       int32_t *labels);
/* 0, or -1 with a message when the tokenizer has no [CLS], [SEP] or [MASK] piece or no regular token. */
int fastfnet_mlm_ids_of(fastfnet_mlm_ids *s, const fastfnet_tokenizer *tok, char *err, size_t errlen);
/* BERT masking in place over a (B,T) batch: 15% of regular tokens become targets; of those 80% -> [MASK],
 * 10% -> a random regular token, 10% unchanged. mlm_labels gets the original ids at targets and -100
 * elsewhere. */
void fastfnet_mlm_mask(int32_t *ids, int32_t *mlm_labels, size_t n, const fastfnet_mlm_ids *s, fastfnet_rng *rng);
#endif

/* The SpamAssassin corpus as unpacked by scripts/fetch_data.sh (dir/data/file_list.json and the raw
 * messages): label "spam" or "ham" by folder, text = the message body (everything after the first empty
 * line, RFC 5322), split by a hash of the Message-ID: bucket 0 of 10 is test, 1 valid, the rest train. */
int fastfnet_records_spam(fastfnet_records *train, fastfnet_records *valid, fastfnet_records *test, const char *dir, char *err, size_t errlen);
/* The sotu task: the State of the Union addresses as unpacked by scripts/fetch_data.sh (dir/data/YEAR_*.txt),
 * cut into passages of at most FASTFNET_SOTU_PASSAGE_BYTES bytes (consecutive paragraphs), labelled with the
 * era of the address (fastfnet_sotu_eras), split by a hash of the file name (year and president): bucket 0
 * of 10 is test, 1 valid, the rest train, so no address is in two splits. Record line = the address's
 * number in year order. */
#define FASTFNET_SOTU_ERAS 4
#define FASTFNET_SOTU_PASSAGE_BYTES 400
extern const char *const fastfnet_sotu_eras[FASTFNET_SOTU_ERAS];
int fastfnet_sotu_era(int year); /* 0..3, or -1 before 1790 */
int fastfnet_records_sotu(fastfnet_records *train, fastfnet_records *valid, fastfnet_records *test, const char *dir, char *err, size_t errlen);
/* Pre-training text (docs/DATA.md, "corpus"): Moby Dick's chapters in order, then the texts of data_dir/corpus/
 * by name (each a list of documents between empty lines), documents ending in an empty line. Each source's
 * last documents, whole, holding at least 1/20 of its bytes are the validation text. The State of the Union
 * addresses are not in it (they are the sotu fine-tune task). Caller frees both. */
int fastfnet_text_corpus(const char *data_dir, char **train, size_t *train_len, char **valid, size_t *valid_len, char *err, size_t errlen);
