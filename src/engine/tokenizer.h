/* tokenizer.h: byte, word and byte-level BPE tokenizers, trained from a corpus and saved/loaded as
 * HF `tokenizers` tokenizer.json files (ids 0..4 are always the specials below; regular tokens follow), and
 * SentencePiece models (.model files, through libsentencepiece: spm.h), whose specials are their own. */
#ifndef FASTFNET_TOKENIZER_H
#define FASTFNET_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

/* Fixed special ids of the byte, word and BPE kinds (3 is FNet's pad id); they also name the roles asked of
 * fastfnet_tok_special, which gives a SentencePiece model's own ids. */
#define FASTFNET_TOK_CLS 0
#define FASTFNET_TOK_SEP 1
#define FASTFNET_TOK_MASK 2
#define FASTFNET_TOK_PAD 3
#define FASTFNET_TOK_UNK 4
#define FASTFNET_TOK_NUM_SPECIAL 5

/* Where this differs from HF `tokenizers` loading the same file:
 * - BPE pre-tokenization is a hand-written scanner for GPT-2's pattern that treats every byte >= 0x80 as a
 *   letter (HF classifies Unicode characters). ASCII text gives HF's ids exactly; elsewhere chunks may be
 *   longer, so ids can differ (both decode to the same text).
 * - Byte/BPE encoding never produces special ids: the text "[MASK]" is encoded as bytes, so that
 *   decode(encode(x)) == x for every x (HF would extract it as the added token). WORD maps a word equal to a
 *   special's content to that id, as HF's WordLevel vocab does.
 * - WORD splits on ASCII whitespace only (HF's WhitespaceSplit also splits on Unicode spaces). */
typedef enum { FASTFNET_TOK_BYTE = 0, FASTFNET_TOK_WORD = 1, FASTFNET_TOK_BPE = 2, FASTFNET_TOK_SPM = 3 } fastfnet_tok_kind;
typedef struct fastfnet_tokenizer fastfnet_tokenizer;

/* byte b -> id 5 + b; vocab 261. Stored as a BPE model with the 256 byte tokens and no merges. */
fastfnet_tokenizer *fastfnet_tok_byte(void);
/* Train on text[0..len). SPM: a unigram model through the library, on the lines of text, with FNet's layout
 * (<unk> 0, <s> 1, </s> 2, <pad> 3, [CLS] 4, [SEP] 5, [MASK] 6). vocab_size counts everything (the 5 specials included); the result may be
 * smaller when the corpus runs out of words or pairs. min_freq: WORD keeps words seen >= min_freq times
 * (at least 1); BPE stops when the best pair occurs < max(min_freq, 2) times. BYTE ignores the corpus.
 * Returns NULL and a one-line message on bad arguments. */
fastfnet_tokenizer *fastfnet_tok_train(fastfnet_tok_kind kind, const char *text, size_t len, int vocab_size, int min_freq,
                             char *err, size_t errlen);
/* HF tokenizer.json layout (SPM: the .model bytes as loaded or trained). Atomic: written to PATH.tmp.PID, fsynced, renamed over PATH. */
int fastfnet_tok_save(const fastfnet_tokenizer *t, const char *path, char *err, size_t errlen);
/* Validates everything and refuses a bad file with a one-line message that starts with the path. A file whose
 * name ends in .model or whose bytes start like a serialized ModelProto is read as a SentencePiece model. */
fastfnet_tokenizer *fastfnet_tok_load(const char *path, char *err, size_t errlen);
void fastfnet_tok_free(fastfnet_tokenizer *t);
fastfnet_tok_kind fastfnet_tok_kind_of(const fastfnet_tokenizer *t);
const char *fastfnet_tok_kind_name(fastfnet_tok_kind k); /* "byte", "word", "bpe", "sentencepiece" */
/* The id of a special role (FASTFNET_TOK_CLS, _SEP, _MASK, _PAD, _UNK): the fixed id for byte/word/BPE, the
 * model's piece for SPM ([CLS] or <cls>, [SEP] or <sep>, [MASK] or <mask>, its pad_id or <pad>, its unk_id);
 * -1 when the model has none. */
int32_t fastfnet_tok_special(const fastfnet_tokenizer *t, int role);
/* 1 when id is a special of the tokenizer that text never encodes to (fixed kinds: 0..4; SPM: control and unknown pieces). */
int fastfnet_tok_is_control(const fastfnet_tokenizer *t, int32_t id);
int fastfnet_tok_vocab_size(const fastfnet_tokenizer *t);
/* Encode len bytes (no specials added; SPM: the ids spm_encode --output_format=id gives). Writes up to cap ids; returns the total count (may exceed cap:
 * call again with a larger buffer). Not thread-safe (uses the tokenizer's cache). */
size_t fastfnet_tok_encode(fastfnet_tokenizer *t, const char *text, size_t len, int32_t *out, size_t cap);
/* Decode ids (specials and out-of-range ids skipped; SPM: as spm_decode, out-of-range ids skipped) into out (cap bytes, NUL-terminated if room);
 * returns the byte count needed, not counting the NUL. */
size_t fastfnet_tok_decode(const fastfnet_tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap);
/* Readable form, for debugging: the vocab-file string (GPT-2 byte-to-unicode form for BPE/byte tokens,
 * the word itself for WORD, "[CLS]" etc. for specials). NULL for an id out of range. */
const char *fastfnet_tok_token_str(const fastfnet_tokenizer *t, int id);
#endif
