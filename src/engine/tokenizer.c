/* tokenizer.c: byte, word and byte-level BPE tokenizers: training, encoding with a chunk cache, decoding,
 * and HF tokenizer.json save/load with full validation (the files may come from anywhere). */
#include "tokenizer.h"
#include "json.h"
#include "spm.h"
#include "util.h"
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const g_special[FASTFNET_TOK_NUM_SPECIAL] = {"[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"};

/* Byte b is token id FASTFNET_TOK_NUM_SPECIAL + b in the byte and BPE kinds. */
#define TOK_BYTE0 FASTFNET_TOK_NUM_SPECIAL
#define TOK_NBASE (FASTFNET_TOK_NUM_SPECIAL + 256)
/* Chunks longer than this are encoded but not cached: they are rare and would crowd out the useful entries. */
#define TOK_CACHE_MAX_CHUNK 64
/* The cache is emptied when it holds this many ids, which bounds its memory on endless unique input. */
#define TOK_CACHE_MAX_IDS (8u << 20)
/* Symbol positions inside a chunk are int32, so a chunk longer than this (2 GiB of letters) is cut. */
#define TOK_MAX_CHUNK ((size_t)INT32_MAX - 1)
#define TOK_MAX_FILE (1ull << 30)

/* ---------------------------------------------------------------------------------------------------- */
/* growable buffers and hash tables                                                                      */

/* A failed allocation (TOK_OOM), or a table past int32 ids (TOK_TOO_MANY), inside one call of the public
 * functions: the helper that met it records it here and leaves its structure valid and unchanged, the
 * loops stop, and the public function frees what it built and returns an error. Per thread, as the calls are. */
enum { TOK_OK = 0, TOK_OOM = 1, TOK_TOO_MANY = 2 };
static _Thread_local int tok_failed;
static int tok_fail(int why) {
    if (!tok_failed) tok_failed = why;
    return -1;
}
static const char *tok_fail_msg(void) {
    return tok_failed == TOK_TOO_MANY ? "more than 2^31 distinct strings or pairs" : "out of memory";
}

/* Grows *p (of *cap elements of size elem) to hold at least need elements, doubling so appends are O(1).
 * 0, or -1 (*p and *cap unchanged) when memory runs out. */
static int tok_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *np = nc > SIZE_MAX / elem ? NULL : fastfnet_malloc(nc * elem);
    if (!np) return tok_fail(TOK_OOM);
    if (*cap) memcpy(np, *p, *cap * elem);
    fastfnet_free(*p);
    *p = np;
    *cap = nc;
    return 0;
}
#define TOK_GROW(ptr, cap, need) tok_grow((void **)&(ptr), &(cap), (need), sizeof *(ptr))

typedef struct {
    char *p;
    size_t len, cap;
} tok_buf;

static void buf_add(tok_buf *b, const void *s, size_t n) {
    if (TOK_GROW(b->p, b->cap, b->len + n + 1)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void buf_puts(tok_buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_printf(tok_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(tok_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_add(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* Appends s as a JSON string; -1 if s is not valid UTF-8 (callers only pass strings they built as UTF-8). */
static int buf_json_str(tok_buf *b, const char *s) {
    if (TOK_GROW(b->p, b->cap, b->len + 6 * strlen(s) + 3)) return -1;
    return fastfnet_json_escape(b->p, b->cap, &b->len, s);
}

static uint64_t tok_mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}
static uint64_t tok_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        p += 8, n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    return tok_mix(h ^ w);
}

/* Byte string -> int64 map: open addressing over entry indices; the keys live in one arena. Entries keep
 * insertion order, so iterating them is deterministic whatever the hash. */
typedef struct {
    uint64_t hash, off;
    int64_t val;
    uint32_t len;
} smap_entry;
typedef struct {
    int32_t *slot; /* entry index, -1 when empty */
    size_t cap;    /* power of two */
    smap_entry *e;
    size_t n, ecap;
    uint8_t *arena;
    size_t alen, acap;
} str_map;

static int smap_rehash(str_map *m, size_t cap) {
    int32_t *slot = fastfnet_malloc(cap * sizeof *m->slot);
    if (!slot) return tok_fail(TOK_OOM);
    fastfnet_free(m->slot);
    m->slot = slot;
    memset(m->slot, 0xff, cap * sizeof *m->slot);
    m->cap = cap;
    for (size_t i = 0; i < m->n; i++) {
        size_t s = m->e[i].hash & (cap - 1);
        while (m->slot[s] >= 0) s = (s + 1) & (cap - 1);
        m->slot[s] = (int32_t)i;
    }
    return 0;
}
/* An empty map (cap 0 when memory ran out: it then finds nothing and takes nothing). */
static void smap_init(str_map *m) {
    memset(m, 0, sizeof *m);
    smap_rehash(m, 1024);
}
static void smap_free(str_map *m) {
    fastfnet_free(m->slot);
    fastfnet_free(m->e);
    fastfnet_free(m->arena);
    memset(m, 0, sizeof *m);
}
static void smap_clear(str_map *m) {
    if (m->slot) memset(m->slot, 0xff, m->cap * sizeof *m->slot);
    m->n = 0;
    m->alen = 0;
}
/* Entry index of key p[0..n) with hash h, or -1. */
static int64_t smap_find(const str_map *m, const uint8_t *p, size_t n, uint64_t h) {
    if (!m->cap) return -1;
    for (size_t s = h & (m->cap - 1);; s = (s + 1) & (m->cap - 1)) {
        int32_t i = m->slot[s];
        if (i < 0) return -1;
        const smap_entry *e = &m->e[i];
        if (e->hash == h && e->len == n && memcmp(m->arena + e->off, p, n) == 0) return i;
    }
}
/* Inserts a key known to be absent; 0, or -1 (nothing inserted) when memory or int32 indices run out. */
static int smap_insert(str_map *m, const uint8_t *p, size_t n, uint64_t h, int64_t val) {
    if (m->n >= INT32_MAX) return tok_fail(TOK_TOO_MANY);
    if (2 * (m->n + 1) > m->cap && smap_rehash(m, m->cap ? 2 * m->cap : 1024)) return -1;
    if (TOK_GROW(m->e, m->ecap, m->n + 1) || TOK_GROW(m->arena, m->acap, m->alen + n + 1)) return -1;
    if (n) memcpy(m->arena + m->alen, p, n);
    m->e[m->n] = (smap_entry){h, m->alen, val, (uint32_t)n};
    m->alen += n;
    size_t s = h & (m->cap - 1);
    while (m->slot[s] >= 0) s = (s + 1) & (m->cap - 1);
    m->slot[s] = (int32_t)m->n++;
    return 0;
}

/* Counts one occurrence of p[0..n): its value + 1, or a new entry of 1; -1 when the insert fails. */
static int smap_count(str_map *m, const uint8_t *p, size_t n) {
    uint64_t h = tok_hash(p, n);
    int64_t e = smap_find(m, p, n, h);
    if (e >= 0) {
        m->e[e].val++;
        return 0;
    }
    return smap_insert(m, p, n, h, 1);
}

/* Nonzero uint64 key -> int32 map (token pairs packed as a << 32 | b; ids >= 5 so a key is never 0). */
typedef struct {
    uint64_t *key;
    int32_t *val;
    size_t cap, n;
} u64_map;

static int u64_rehash(u64_map *m, size_t cap) {
    uint64_t *ok = m->key, *nk = fastfnet_calloc(cap * sizeof *m->key);
    int32_t *ov = m->val, *nv = fastfnet_malloc(cap * sizeof *m->val);
    size_t oc = m->cap;
    if (!nk || !nv) {
        fastfnet_free(nk);
        fastfnet_free(nv);
        return tok_fail(TOK_OOM);
    }
    m->key = nk, m->val = nv;
    m->cap = cap;
    for (size_t i = 0; i < oc; i++) {
        if (!ok[i]) continue;
        size_t s = tok_mix(ok[i]) & (cap - 1);
        while (m->key[s]) s = (s + 1) & (cap - 1);
        m->key[s] = ok[i];
        m->val[s] = ov[i];
    }
    fastfnet_free(ok);
    fastfnet_free(ov);
    return 0;
}
static void u64_init(u64_map *m) {
    memset(m, 0, sizeof *m);
    u64_rehash(m, 1024);
}
static void u64_free(u64_map *m) {
    fastfnet_free(m->key);
    fastfnet_free(m->val);
    memset(m, 0, sizeof *m);
}
static inline int32_t u64_get(const u64_map *m, uint64_t k) {
    if (!m->cap) return -1;
    for (size_t s = tok_mix(k) & (m->cap - 1);; s = (s + 1) & (m->cap - 1)) {
        if (m->key[s] == k) return m->val[s];
        if (!m->key[s]) return -1;
    }
}
static void u64_put(u64_map *m, uint64_t k, int32_t v) {
    if (2 * (m->n + 1) > m->cap && u64_rehash(m, m->cap ? 2 * m->cap : 1024)) return;
    size_t s = tok_mix(k) & (m->cap - 1);
    while (m->key[s] && m->key[s] != k) s = (s + 1) & (m->cap - 1);
    if (!m->key[s]) m->n++;
    m->key[s] = k;
    m->val[s] = v;
}
static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

/* ---------------------------------------------------------------------------------------------------- */
/* the tokenizer                                                                                          */

struct fastfnet_tokenizer {
    fastfnet_tok_kind kind;
    int n_vocab;
    /* what decode emits for each id (raw bytes for byte/BPE, the word for WORD); tok_off has n_vocab + 1 */
    uint64_t *tok_off;
    uint8_t *tok_bytes;
    /* the vocab-file string of each id, NUL-terminated (GPT-2 byte-to-unicode form for byte/BPE) */
    uint64_t *str_off;
    char *strs;
    /* BPE: merge rank r turns the pair (merge_a[r], merge_b[r]) into merge_r[r] */
    int n_merges;
    int32_t *merge_a, *merge_b, *merge_r;
    u64_map merge_rank;
    /* BPE encode cache: chunk bytes -> offset into cache_ids, where [count, ids...] are stored */
    str_map cache;
    int32_t *cache_ids;
    size_t cache_len, cache_cap;
    /* BPE encode scratch, grown to the longest uncached chunk */
    int32_t *sym, *nxt, *prv;
    uint64_t *heap;
    size_t scratch_cap, heap_cap;
    /* WORD: word -> id (specials included, as in HF's WordLevel vocab) */
    str_map words;
    /* SPM: the library's model, the file's bytes (saved as they are), special ids found among its pieces */
    fastfnet_spm *spm;
    char *spm_bytes;
    size_t spm_len;
    int32_t special[FASTFNET_TOK_NUM_SPECIAL];
};

/* SentencePiece models (the end of this file): everything goes through the library (spm.h). */
static fastfnet_tokenizer *tok_train_spm(const char *text, size_t len, int vocab_size, char *err, size_t errlen);
static fastfnet_tokenizer *tok_load_spm(const char *path, char *bytes, size_t n, char *err, size_t errlen);
static int tok_is_spm_file(const char *path, const char *bytes, size_t n);
static size_t tok_decode_spm(const fastfnet_tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap);

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes map to code
 * points 256.. in byte order, so every token is a printable string with no spaces. */
static int byte_printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }
static void byte_to_cp_table(uint32_t cp[256]) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) cp[b] = byte_printable(b) ? (uint32_t)b : next++;
}
static size_t utf8_encode(char *out, uint32_t cp) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2; /* the table's code points are all < 0x800 */
}

/* Fills tok_off/tok_bytes from toks (n_vocab byte strings concatenated, offsets in off) and derives the
 * display strings and lookup maps. Stops early when an allocation fails (tok_failed says so). */
static void tok_finish(fastfnet_tokenizer *t, const tok_buf *bytes, const uint64_t *off) {
    int V = t->n_vocab;
    t->tok_off = fastfnet_malloc((size_t)(V + 1) * sizeof *t->tok_off);
    t->tok_bytes = fastfnet_malloc(bytes->len + 1);
    t->str_off = fastfnet_malloc((size_t)(V + 1) * sizeof *t->str_off);
    if (!t->tok_off || !t->tok_bytes || !t->str_off || tok_failed) {
        tok_fail(TOK_OOM);
        return;
    }
    memcpy(t->tok_off, off, (size_t)(V + 1) * sizeof *off);
    if (bytes->len) memcpy(t->tok_bytes, bytes->p, bytes->len);
    uint32_t cp[256];
    byte_to_cp_table(cp);
    tok_buf s = {0};
    for (int id = 0; id < V; id++) {
        t->str_off[id] = s.len;
        const uint8_t *p = t->tok_bytes + off[id];
        size_t n = off[id + 1] - off[id];
        if (id < FASTFNET_TOK_NUM_SPECIAL || t->kind == FASTFNET_TOK_WORD) {
            buf_add(&s, p, n);
        } else {
            for (size_t i = 0; i < n; i++) {
                char u[4];
                buf_add(&s, u, utf8_encode(u, cp[p[i]]));
            }
        }
        buf_add(&s, "", 1);
    }
    t->str_off[V] = s.len;
    t->strs = s.p;
    if (tok_failed) return;
    if (t->kind == FASTFNET_TOK_WORD) {
        smap_init(&t->words);
        for (int id = 0; id < V; id++) {
            const uint8_t *p = t->tok_bytes + off[id];
            size_t n = off[id + 1] - off[id];
            smap_insert(&t->words, p, n, tok_hash(p, n), id);
        }
    } else {
        u64_init(&t->merge_rank);
        for (int r = 0; r < t->n_merges; r++) u64_put(&t->merge_rank, pair_key(t->merge_a[r], t->merge_b[r]), r);
        smap_init(&t->cache);
    }
}

/* Starts a token table with the 5 specials (and the 256 bytes unless WORD). */
static void tok_base(fastfnet_tok_kind kind, tok_buf *bytes, uint64_t **off, size_t *off_cap, int *n) {
    *n = 0;
    if (TOK_GROW(*off, *off_cap, (size_t)TOK_NBASE + 1)) return;
    for (int i = 0; i < FASTFNET_TOK_NUM_SPECIAL; i++) {
        (*off)[(*n)++] = bytes->len;
        buf_puts(bytes, g_special[i]);
    }
    for (int b = 0; kind != FASTFNET_TOK_WORD && b < 256; b++) {
        (*off)[(*n)++] = bytes->len;
        uint8_t c = (uint8_t)b;
        buf_add(bytes, &c, 1);
    }
    (*off)[*n] = bytes->len;
}

static fastfnet_tokenizer *tok_alloc(fastfnet_tok_kind kind) {
    fastfnet_tokenizer *t = fastfnet_calloc(sizeof *t);
    if (!t) return tok_fail(TOK_OOM), NULL;
    t->kind = kind;
    return t;
}

/* The end of a public function that builds t: t, or NULL (t freed) with the message of what failed. */
static fastfnet_tokenizer *tok_built(fastfnet_tokenizer *t, char *err, size_t errlen) {
    if (!tok_failed && t) return t;
    fastfnet_err(err, errlen, "tokenizer: %s", tok_failed ? tok_fail_msg() : "out of memory");
    fastfnet_tok_free(t);
    tok_failed = TOK_OK;
    return NULL;
}

/* The byte tokenizer's table, or NULL when memory runs out. */
static fastfnet_tokenizer *tok_byte_build(void) {
    fastfnet_tokenizer *t = tok_alloc(FASTFNET_TOK_BYTE);
    if (!t) return NULL;
    tok_buf bytes = {0};
    uint64_t *off = NULL;
    size_t off_cap = 0;
    tok_base(FASTFNET_TOK_BYTE, &bytes, &off, &off_cap, &t->n_vocab);
    tok_finish(t, &bytes, off);
    fastfnet_free(bytes.p);
    fastfnet_free(off);
    return t;
}

fastfnet_tokenizer *fastfnet_tok_byte(void) {
    tok_failed = TOK_OK;
    return tok_built(tok_byte_build(), NULL, 0);
}

void fastfnet_tok_free(fastfnet_tokenizer *t) {
    if (!t) return;
    fastfnet_free(t->tok_off);
    fastfnet_free(t->tok_bytes);
    fastfnet_free(t->str_off);
    fastfnet_free(t->strs);
    fastfnet_free(t->merge_a);
    fastfnet_free(t->merge_b);
    fastfnet_free(t->merge_r);
    if (t->merge_rank.key) u64_free(&t->merge_rank);
    if (t->cache.slot) smap_free(&t->cache);
    fastfnet_free(t->cache_ids);
    fastfnet_free(t->sym);
    fastfnet_free(t->nxt);
    fastfnet_free(t->prv);
    fastfnet_free(t->heap);
    if (t->words.slot) smap_free(&t->words);
    fastfnet_spm_free(t->spm);
    free(t->spm_bytes);
    fastfnet_free(t);
}

fastfnet_tok_kind fastfnet_tok_kind_of(const fastfnet_tokenizer *t) { return t->kind; }
int fastfnet_tok_vocab_size(const fastfnet_tokenizer *t) { return t->n_vocab; }
const char *fastfnet_tok_kind_name(fastfnet_tok_kind k) {
    switch (k) {
    case FASTFNET_TOK_BYTE: return "byte";
    case FASTFNET_TOK_WORD: return "word";
    case FASTFNET_TOK_BPE: return "bpe";
    case FASTFNET_TOK_SPM: return "sentencepiece";
    }
    return "?";
}
const char *fastfnet_tok_token_str(const fastfnet_tokenizer *t, int id) {
    if (!t || id < 0 || id >= t->n_vocab) return NULL;
    if (t->kind == FASTFNET_TOK_SPM) return fastfnet_spm_piece(t->spm, id);
    return t->strs + t->str_off[id];
}

/* ---------------------------------------------------------------------------------------------------- */
/* pre-tokenization                                                                                       */

/* Byte classes for the GPT-2 pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+.
 * Deviation from HF, which classifies Unicode characters: every byte >= 0x80 counts as a letter, so
 * non-ASCII punctuation, digits and spaces (e.g. U+2014, U+00A0) join letter runs. For ASCII text the chunks
 * are HF's exactly; elsewhere they can be longer than HF's, so merges learned across such a boundary are
 * never applied by HF (its encoding is still valid, only less compressed). Invalid UTF-8 is fine here. */
enum { TC_LETTER, TC_DIGIT, TC_SPACE, TC_OTHER };
static inline int tok_class(uint8_t c) {
    if (c >= 0x80 || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return TC_LETTER;
    if (c >= '0' && c <= '9') return TC_DIGIT;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return TC_SPACE; /* \t \n \v \f \r: Unicode White_Space in ASCII */
    return TC_OTHER;
}

/* End of the chunk that starts at s[i] (i < n). */
static size_t tok_chunk_end(const uint8_t *s, size_t n, size_t i) {
    if (s[i] == '\'' && i + 1 < n) {
        uint8_t a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    size_t j = i;
    if (s[j] == ' ' && j + 1 < n && tok_class(s[j + 1]) != TC_SPACE) j++; /* the optional leading space */
    int c = tok_class(s[j]);
    if (c != TC_SPACE) {
        while (j < n && tok_class(s[j]) == c) j++;
        return j;
    }
    size_t k = i;
    while (k < n && tok_class(s[k]) == TC_SPACE) k++;
    if (k == n) return n;          /* trailing whitespace: \s+(?!\S) takes all of it */
    if (k - i >= 2) return k - 1;  /* leave the last space for the next word (or for \s+ alone) */
    return k;                      /* one non-' ' whitespace byte before a non-space: \s+ */
}

/* ---------------------------------------------------------------------------------------------------- */
/* BPE encoding                                                                                           */

static void heap_push_u64(uint64_t *h, size_t *n, uint64_t k) {
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p] <= k) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = k;
}
static uint64_t heap_pop_u64(uint64_t *h, size_t *n) {
    uint64_t top = h[0], k = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1] < h[c]) c++;
        if (k <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = k;
    return top;
}

/* Applies the merges to one chunk the way HF's BPE does: always the lowest-ranked adjacent pair, leftmost
 * first. A min-heap of candidates keyed (rank, position) with lazy invalidation over a linked list of
 * symbols keeps a chunk of n bytes at O(n log n), so a megabyte with no spaces is not quadratic.
 * Returns the number of ids, left in t->sym (read in list order via t->nxt from 0). */
static size_t bpe_chunk(fastfnet_tokenizer *t, const uint8_t *s, size_t n) {
    if (n > t->scratch_cap) {
        size_t c0 = t->scratch_cap, c1 = t->scratch_cap, c2 = t->scratch_cap;
        if (TOK_GROW(t->sym, c0, n) || TOK_GROW(t->nxt, c1, n) || TOK_GROW(t->prv, c2, n)) return SIZE_MAX;
        t->scratch_cap = c0; /* all three grew to the same capacity */
    }
    /* n - 1 initial candidates, at most 2 more per merge */
    if (TOK_GROW(t->heap, t->heap_cap, 2 * n + 2)) return SIZE_MAX;
    int32_t *sym = t->sym, *nxt = t->nxt, *prv = t->prv;
    uint64_t *heap = t->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        sym[i] = TOK_BYTE0 + s[i];
        nxt[i] = (int32_t)(i + 1);
        prv[i] = (int32_t)i - 1;
    }
    if (t->n_merges == 0 || n < 2) return n;
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = u64_get(&t->merge_rank, pair_key(sym[i], sym[i + 1]));
        if (r >= 0) heap_push_u64(heap, &hn, (uint64_t)r << 32 | i);
    }
    size_t count = n;
    int32_t end = (int32_t)n;
    while (hn) {
        uint64_t k = heap_pop_u64(heap, &hn);
        int32_t r = (int32_t)(k >> 32), i = (int32_t)(uint32_t)k, j = nxt[i];
        /* stale candidates: i was absorbed, or a neighbour changed since the push */
        if (sym[i] < 0 || j >= end || sym[i] != t->merge_a[r] || sym[j] != t->merge_b[r]) continue;
        sym[i] = t->merge_r[r];
        sym[j] = -1;
        nxt[i] = nxt[j];
        if (nxt[i] < end) prv[nxt[i]] = i;
        count--;
        if (prv[i] >= 0) {
            int32_t q = u64_get(&t->merge_rank, pair_key(sym[prv[i]], sym[i]));
            if (q >= 0) heap_push_u64(heap, &hn, (uint64_t)q << 32 | (uint32_t)prv[i]);
        }
        if (nxt[i] < end) {
            int32_t q = u64_get(&t->merge_rank, pair_key(sym[i], sym[nxt[i]]));
            if (q >= 0) heap_push_u64(heap, &hn, (uint64_t)q << 32 | (uint32_t)i);
        }
    }
    return count;
}

/* Remembers the ids of a short chunk just encoded (left in t->sym); without memory for it, it is not cached. */
static void bpe_cache_put(fastfnet_tokenizer *t, const uint8_t *s, size_t n, uint64_t h, size_t m) {
    if (t->cache_len + m + 1 > TOK_CACHE_MAX_IDS) {
        smap_clear(&t->cache);
        t->cache_len = 0;
    }
    int failed = tok_failed;
    if (TOK_GROW(t->cache_ids, t->cache_cap, t->cache_len + m + 1) == 0) {
        int32_t *c = t->cache_ids + t->cache_len;
        c[0] = (int32_t)m;
        size_t k = 0;
        for (int32_t i = 0; i < (int32_t)n; i = t->nxt[i]) c[1 + k++] = t->sym[i];
        if (smap_insert(&t->cache, s, n, h, (int64_t)t->cache_len) == 0) t->cache_len += m + 1;
    }
    tok_failed = failed; /* a chunk left out of the cache is no error */
}

/* Emits the ids of one chunk at out[*total..], through the cache for short chunks. -1 without memory. */
static int bpe_encode_chunk(fastfnet_tokenizer *t, const uint8_t *s, size_t n, int32_t *out, size_t cap, size_t *total) {
    uint64_t h = 0;
    if (n <= TOK_CACHE_MAX_CHUNK) {
        h = tok_hash(s, n);
        int64_t e = smap_find(&t->cache, s, n, h);
        if (e >= 0) {
            const int32_t *c = t->cache_ids + t->cache.e[e].val;
            for (int32_t k = 0; k < c[0]; k++, (*total)++)
                if (*total < cap) out[*total] = c[1 + k];
            return 0;
        }
    }
    size_t m = bpe_chunk(t, s, n);
    if (m == SIZE_MAX) return -1;
    for (int32_t i = 0; i < (int32_t)n; i = t->nxt[i], (*total)++)
        if (*total < cap) out[*total] = t->sym[i];
    if (n <= TOK_CACHE_MAX_CHUNK) bpe_cache_put(t, s, n, h, m);
    return 0;
}

size_t fastfnet_tok_encode(fastfnet_tokenizer *t, const char *text, size_t len, int32_t *out, size_t cap) {
    const uint8_t *s = (const uint8_t *)text;
    size_t total = 0;
    if (!out) cap = 0;
    if (t->kind == FASTFNET_TOK_SPM) {
        return fastfnet_spm_encode(t->spm, text, len, out, cap); /* FASTFNET_TOK_ERROR when the library fails */
    }
    if (t->kind == FASTFNET_TOK_BYTE) {
        for (size_t i = 0; i < len && i < cap; i++) out[i] = TOK_BYTE0 + s[i];
        return len;
    }
    if (t->kind == FASTFNET_TOK_WORD) {
        for (size_t i = 0; i < len;) {
            if (tok_class(s[i]) == TC_SPACE) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < len && tok_class(s[j]) != TC_SPACE) j++;
            int64_t e = smap_find(&t->words, s + i, j - i, tok_hash(s + i, j - i));
            if (total < cap) out[total] = e >= 0 ? (int32_t)t->words.e[e].val : FASTFNET_TOK_UNK;
            total++;
            i = j;
        }
        return total;
    }
    for (size_t i = 0; i < len;) {
        size_t j = tok_chunk_end(s, len, i);
        if (j - i > TOK_MAX_CHUNK) j = i + TOK_MAX_CHUNK;
        if (bpe_encode_chunk(t, s + i, j - i, out, cap, &total)) {
            tok_failed = TOK_OK;
            return FASTFNET_TOK_ERROR;
        }
        i = j;
    }
    return total;
}

size_t fastfnet_tok_decode(const fastfnet_tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap) {
    size_t o = 0;
    int first = 1;
    if (!out) cap = 0;
    if (t->kind == FASTFNET_TOK_SPM) return tok_decode_spm(t, ids, n, out, cap);
    for (size_t k = 0; k < n; k++) {
        int32_t id = ids[k];
        if (id < FASTFNET_TOK_NUM_SPECIAL || id >= t->n_vocab) continue;
        if (t->kind == FASTFNET_TOK_WORD && !first) {
            if (o < cap) out[o] = ' ';
            o++;
        }
        first = 0;
        const uint8_t *p = t->tok_bytes + t->tok_off[id];
        size_t m = t->tok_off[id + 1] - t->tok_off[id];
        if (o < cap) memcpy(out + o, p, m < cap - o ? m : cap - o);
        o += m;
    }
    if (o < cap) out[o] = 0;
    return o;
}

/* ---------------------------------------------------------------------------------------------------- */
/* training                                                                                               */

/* Most frequent first; equal counts in byte order, so the vocabulary does not depend on the hash.
 * qsort_r (glibc, via _GNU_SOURCE) carries the map without a global, so training stays reentrant. */
static int word_cmp(const void *x, const void *y, void *arg) {
    const str_map *m = arg;
    const smap_entry *a = &m->e[*(const int32_t *)x], *b = &m->e[*(const int32_t *)y];
    if (a->val != b->val) return a->val > b->val ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(m->arena + a->off, m->arena + b->off, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Counts each whitespace-separated word of s; stops early when memory runs out (tok_failed says so). */
static void count_words(str_map *counts, const uint8_t *s, size_t len) {
    for (size_t i = 0; i < len;) {
        if (tok_class(s[i]) == TC_SPACE) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && tok_class(s[j]) != TC_SPACE) j++;
        if (smap_count(counts, s + i, j - i)) break;
        i = j;
    }
}

/* A word must be storable as a JSON key (valid UTF-8, no NUL) and must not shadow a special. */
static int word_fits_vocab(const uint8_t *p, size_t n) {
    if (memchr(p, 0, n) || !fastfnet_json_utf8_valid((const char *)p, n)) return 0;
    int special = 0;
    for (int k = 0; k < FASTFNET_TOK_NUM_SPECIAL; k++)
        special |= strlen(g_special[k]) == n && memcmp(g_special[k], p, n) == 0;
    return !special;
}

static fastfnet_tokenizer *train_word(const uint8_t *s, size_t len, int vocab_size, int min_freq) {
    str_map counts;
    smap_init(&counts);
    count_words(&counts, s, len);
    int32_t *keep = fastfnet_malloc((counts.n + 1) * sizeof *keep);
    fastfnet_tokenizer *t = keep && !tok_failed ? tok_alloc(FASTFNET_TOK_WORD) : NULL;
    if (!t) {
        tok_fail(TOK_OOM);
        fastfnet_free(keep);
        smap_free(&counts);
        return NULL;
    }
    size_t nk = 0;
    for (size_t e = 0; e < counts.n; e++) {
        const uint8_t *p = counts.arena + counts.e[e].off;
        size_t n = counts.e[e].len;
        if (counts.e[e].val < (min_freq < 1 ? 1 : min_freq)) continue;
        if (word_fits_vocab(p, n)) keep[nk++] = (int32_t)e;
    }
    qsort_r(keep, nk, sizeof *keep, word_cmp, &counts);
    if (nk > (size_t)(vocab_size - FASTFNET_TOK_NUM_SPECIAL)) nk = (size_t)(vocab_size - FASTFNET_TOK_NUM_SPECIAL);
    tok_buf bytes = {0};
    uint64_t *off = NULL;
    size_t off_cap = 0;
    tok_base(FASTFNET_TOK_WORD, &bytes, &off, &off_cap, &t->n_vocab);
    for (size_t k = 0; k < nk && !tok_failed; k++) {
        const smap_entry *e = &counts.e[keep[k]];
        if (TOK_GROW(off, off_cap, (size_t)t->n_vocab + 2)) break;
        buf_add(&bytes, counts.arena + e->off, e->len);
        off[++t->n_vocab] = bytes.len;
    }
    tok_finish(t, &bytes, off);
    fastfnet_free(bytes.p);
    fastfnet_free(off);
    fastfnet_free(keep);
    smap_free(&counts);
    return t;
}

/* BPE training state. Each distinct chunk ("word") is a symbol sequence with a count; each pair has its
 * weighted count and a list of words it may occur in (appended to, never pruned: stale entries are cheap to
 * skip). A max-heap of (count, pair) with lazy invalidation picks the best pair. */
typedef struct {
    int32_t *v;
    int32_t n, cap;
} ivec;
typedef struct {
    int64_t cnt;
    int32_t a, b, p;
} pair_entry;
typedef struct {
    /* words */
    int32_t *sym;      /* all words' symbols; word w is sym[woff[w] .. woff[w] + wlen[w]) */
    size_t *woff;
    int32_t *wlen;
    int64_t *wfreq;
    int32_t *wstamp;   /* last merge step that visited the word, to skip duplicates in a pair's list */
    size_t nw;
    /* pairs */
    u64_map pmap;      /* pair_key -> pair index */
    int32_t *pa, *pb;
    int64_t *pcnt, *porig;
    int32_t *pstamp;
    uint8_t *pbanned;
    ivec *plist;
    size_t np, pcap;
    int32_t *touched;
    size_t ntouched, touched_cap;
    pair_entry *heap;
    size_t hn, hcap;
    int32_t step;
} bpe_state;

/* Heap order: higher count first; ties go to the lowest (a, b), which makes training deterministic. */
static inline int pair_better(const pair_entry *x, const pair_entry *y) {
    if (x->cnt != y->cnt) return x->cnt > y->cnt;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}
static void pheap_push(bpe_state *st, int32_t p) {
    if (TOK_GROW(st->heap, st->hcap, st->hn + 1)) return;
    pair_entry k = {st->pcnt[p], st->pa[p], st->pb[p], p};
    size_t i = st->hn++;
    while (i) {
        size_t q = (i - 1) / 2;
        if (!pair_better(&k, &st->heap[q])) break;
        st->heap[i] = st->heap[q];
        i = q;
    }
    st->heap[i] = k;
}
static pair_entry pheap_pop(bpe_state *st) {
    pair_entry top = st->heap[0], k = st->heap[--st->hn];
    size_t i = 0, m = st->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && pair_better(&st->heap[c + 1], &st->heap[c])) c++;
        if (!pair_better(&st->heap[c], &k)) break;
        st->heap[i] = st->heap[c];
        i = c;
    }
    if (m) st->heap[i] = k;
    return top;
}

static void ivec_push(ivec *v, int32_t x) {
    if (v->n > 0 && v->v[v->n - 1] == x) return; /* the common duplicate: same word, consecutive appends */
    if (v->n == v->cap) {
        size_t cap = (size_t)v->cap;
        if (v->cap == INT32_MAX) return (void)tok_fail(TOK_TOO_MANY);
        if (TOK_GROW(v->v, cap, (size_t)v->n + 1)) return;
        v->cap = cap > INT32_MAX ? INT32_MAX : (int32_t)cap;
    }
    v->v[v->n++] = x;
}

/* Grows the per-pair arrays to hold pair np; -1 (nothing changed that matters) when memory runs out. */
static int pairs_grow(bpe_state *st) {
    if (st->np >= INT32_MAX) return tok_fail(TOK_TOO_MANY);
    if (st->np < st->pcap) return 0;
    size_t c = st->pcap, c1 = c, c2 = c, c3 = c, c4 = c, c5 = c, c6 = c, need = st->np + 1;
    /* each array keeps its old contents until it grows, so a failure part way leaves all of them usable */
    if (TOK_GROW(st->pa, c, need) || TOK_GROW(st->pb, c1, need) || TOK_GROW(st->pcnt, c2, need) || TOK_GROW(st->porig, c3, need) ||
        TOK_GROW(st->pstamp, c4, need) || TOK_GROW(st->pbanned, c5, need) || TOK_GROW(st->plist, c6, need))
        return -1;
    st->pcap = c;
    return 0;
}

/* Adds delta to the pair's count (creating the pair if new) and remembers its count before this step.
 * The pair's index, or -1 when memory runs out. */
static int32_t pair_delta(bpe_state *st, int32_t a, int32_t b, int64_t delta) {
    uint64_t key = pair_key(a, b);
    int32_t p = u64_get(&st->pmap, key);
    if (p < 0) {
        if (pairs_grow(st)) return -1;
        p = (int32_t)st->np++;
        st->pa[p] = a, st->pb[p] = b, st->pcnt[p] = 0, st->porig[p] = 0, st->pstamp[p] = -1, st->pbanned[p] = 0;
        st->plist[p] = (ivec){0};
        u64_put(&st->pmap, key, p);
    }
    if (st->pstamp[p] != st->step) {
        if (TOK_GROW(st->touched, st->touched_cap, st->ntouched + 1)) return -1;
        st->pstamp[p] = st->step;
        st->porig[p] = st->pcnt[p];
        st->touched[st->ntouched++] = p;
    }
    st->pcnt[p] += delta;
    return p;
}

/* Replaces every non-overlapping (a, b) in word w, left to right, by r, and updates the pair counts:
 * all of the word's old pairs are taken out and its new pairs put back (words are short, so this is
 * cheaper to get right than patching neighbours); only pairs that contain r can be new to the word. */
static void merge_word(bpe_state *st, int32_t w, int32_t a, int32_t b, int32_t r, int32_t *tmp) {
    int32_t *s = st->sym + st->woff[w];
    int32_t n = st->wlen[w], m = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) tmp[m++] = r, i++;
        else tmp[m++] = s[i];
    }
    if (m == n) return; /* a stale list entry: the pair is no longer in this word */
    int64_t f = st->wfreq[w];
    for (int32_t i = 0; i + 1 < n; i++) pair_delta(st, s[i], s[i + 1], -f);
    memcpy(s, tmp, (size_t)m * sizeof *s);
    st->wlen[w] = m;
    for (int32_t i = 0; i + 1 < m; i++) {
        int32_t p = pair_delta(st, s[i], s[i + 1], f);
        if (p >= 0 && (s[i] == r || s[i + 1] == r)) ivec_push(&st->plist[p], w);
    }
}

static void bpe_state_free(bpe_state *st) {
    for (size_t p = 0; st->plist && p < st->np; p++) fastfnet_free(st->plist[p].v);
    fastfnet_free(st->sym);
    fastfnet_free(st->woff);
    fastfnet_free(st->wlen);
    fastfnet_free(st->wfreq);
    fastfnet_free(st->wstamp);
    u64_free(&st->pmap);
    fastfnet_free(st->pa);
    fastfnet_free(st->pb);
    fastfnet_free(st->pcnt);
    fastfnet_free(st->porig);
    fastfnet_free(st->pstamp);
    fastfnet_free(st->pbanned);
    fastfnet_free(st->plist);
    fastfnet_free(st->touched);
    fastfnet_free(st->heap);
}

/* Room for merge rank t->n_merges in the three merge arrays (*mcap of them held); -1 when memory runs out. */
static int merges_grow(fastfnet_tokenizer *t, size_t *mcap) {
    if ((size_t)t->n_merges < *mcap) return 0;
    size_t c0 = *mcap, c1 = *mcap, c2 = *mcap;
    if (TOK_GROW(t->merge_a, c0, *mcap + 1) || TOK_GROW(t->merge_b, c1, *mcap + 1) || TOK_GROW(t->merge_r, c2, *mcap + 1)) return -1;
    *mcap = c0;
    return 0;
}

/* Step 1 of BPE training: counts each distinct chunk of s into chunks, and returns the longest chunk's length
 * (at least 1). Stops early when memory runs out (tok_failed says so). */
static size_t count_chunks(str_map *chunks, const uint8_t *s, size_t len) {
    size_t maxlen = 1;
    for (size_t i = 0; i < len;) {
        size_t j = tok_chunk_end(s, len, i);
        if (j - i > INT32_MAX) j = i + INT32_MAX;
        if (smap_count(chunks, s + i, j - i)) break;
        if (j - i > maxlen) maxlen = j - i;
        i = j;
    }
    return maxlen;
}

/* One word of byte symbols per chunk, and *tmp, merge_word's scratch for the longest word (maxlen symbols).
 * When an allocation fails, tok_failed says so and st is only fit to be freed. */
static void bpe_words_init(bpe_state *st, const str_map *chunks, size_t maxlen, int32_t **tmp) {
    memset(st, 0, sizeof *st);
    st->nw = chunks->n;
    st->sym = fastfnet_malloc((chunks->alen + 1) * sizeof *st->sym);
    st->woff = fastfnet_malloc((st->nw + 1) * sizeof *st->woff);
    st->wlen = fastfnet_malloc((st->nw + 1) * sizeof *st->wlen);
    st->wfreq = fastfnet_malloc((st->nw + 1) * sizeof *st->wfreq);
    st->wstamp = fastfnet_malloc((st->nw + 1) * sizeof *st->wstamp);
    *tmp = fastfnet_malloc(maxlen * sizeof **tmp);
    if (!st->sym || !st->woff || !st->wlen || !st->wfreq || !st->wstamp || !*tmp) tok_fail(TOK_OOM);
    for (size_t w = 0; w < st->nw && !tok_failed; w++) {
        const smap_entry *e = &chunks->e[w];
        st->woff[w] = e->off; /* chunks are stored back to back, so symbol offsets equal byte offsets */
        st->wlen[w] = (int32_t)e->len;
        st->wfreq[w] = e->val;
        st->wstamp[w] = -1;
        for (uint32_t i = 0; i < e->len; i++) st->sym[e->off + i] = TOK_BYTE0 + chunks->arena[e->off + i];
    }
}

/* Step 2: the initial pair counts, the words each pair occurs in, and every pair on the heap. */
static void bpe_count_pairs(bpe_state *st) {
    u64_init(&st->pmap);
    for (size_t w = 0; w < st->nw && !tok_failed; w++) {
        const int32_t *q = st->sym + st->woff[w];
        for (int32_t i = 0; i + 1 < st->wlen[w]; i++) {
            int32_t p = pair_delta(st, q[i], q[i + 1], st->wfreq[w]);
            if (p >= 0) ivec_push(&st->plist[p], (int32_t)w);
        }
    }
    for (size_t p = 0; p < st->np; p++) pheap_push(st, (int32_t)p);
}

/* The vocabulary training builds: every token's bytes (bytes, off), a bytes -> id map to notice a merge that
 * rebuilds an existing token, and the pairs merged so far. */
typedef struct {
    tok_buf bytes, cat; /* cat: the concatenation of the pair being merged */
    uint64_t *off;
    size_t off_cap, mcap;
    str_map tokmap;
    u64_map merged;
} bpe_vocab;

/* Step 3: t's first tokens (the specials, then the 256 bytes), the bytes in tokmap, no merges yet. */
static void bpe_vocab_init(bpe_vocab *v, fastfnet_tokenizer *t) {
    tok_base(FASTFNET_TOK_BPE, &v->bytes, &v->off, &v->off_cap, &t->n_vocab);
    smap_init(&v->tokmap);
    for (int id = TOK_BYTE0; id < t->n_vocab && !tok_failed; id++) {
        const uint8_t *p = (const uint8_t *)v->bytes.p + v->off[id];
        smap_insert(&v->tokmap, p, 1, tok_hash(p, 1), id);
    }
    u64_init(&v->merged);
}

static void bpe_vocab_free(bpe_vocab *v) {
    fastfnet_free(v->cat.p);
    u64_free(&v->merged);
    smap_free(&v->tokmap);
    fastfnet_free(v->bytes.p);
    fastfnet_free(v->off);
}

/* Pops the best pair worth merging into *best: 1, or 0 when none is left, the best is below min_pair, or
 * memory ran out. Stale heap entries are requeued at their true count or dropped on the way. */
static int bpe_best_pair(bpe_state *st, int64_t min_pair, const u64_map *merged, pair_entry *best) {
    while (!tok_failed && st->hn) {
        pair_entry top = pheap_pop(st);
        int32_t p = top.p;
        if (st->pbanned[p] || st->pcnt[p] <= 0) continue;
        if (st->pcnt[p] != top.cnt) { /* stale: its count fell since the push; requeue at the true count */
            pheap_push(st, p);
            continue;
        }
        if (top.cnt < min_pair) return 0;
        /* With a reused id (bpe_merged_token) a pair can come back after it was merged; a second identical
         * merge would be a duplicate rank, so such a pair is left alone (the encoder applies the first one). */
        if (u64_get(merged, pair_key(top.a, top.b)) >= 0) {
            st->pbanned[p] = 1;
            continue;
        }
        *best = top;
        return 1;
    }
    return 0;
}

/* The id of the token a's bytes then b's: an existing token's, or a new token's; -1 when memory runs out. */
static int32_t bpe_merged_token(bpe_vocab *v, fastfnet_tokenizer *t, int32_t a, int32_t b) {
    v->cat.len = 0;
    buf_add(&v->cat, v->bytes.p + v->off[a], v->off[a + 1] - v->off[a]);
    buf_add(&v->cat, v->bytes.p + v->off[b], v->off[b + 1] - v->off[b]);
    uint64_t h = tok_hash((const uint8_t *)v->cat.p, v->cat.len);
    int64_t e = smap_find(&v->tokmap, (const uint8_t *)v->cat.p, v->cat.len, h);
    /* e.g. ("ab","c") after ("a","bc"): HF's trainer reuses the id too */
    if (e >= 0) return (int32_t)v->tokmap.e[e].val;
    if (tok_failed || TOK_GROW(v->off, v->off_cap, (size_t)t->n_vocab + 2)) return -1;
    int32_t r = t->n_vocab++;
    buf_add(&v->bytes, v->cat.p, v->cat.len);
    v->off[t->n_vocab] = v->bytes.len;
    smap_insert(&v->tokmap, (const uint8_t *)v->cat.p, v->cat.len, h, r);
    return r;
}

/* Records (a, b) -> r as merge rank t->n_merges; -1 when memory runs out. */
static int bpe_add_merge(bpe_vocab *v, fastfnet_tokenizer *t, int32_t a, int32_t b, int32_t r) {
    if (merges_grow(t, &v->mcap)) return -1;
    t->merge_a[t->n_merges] = a, t->merge_b[t->n_merges] = b, t->merge_r[t->n_merges] = r;
    u64_put(&v->merged, pair_key(a, b), t->n_merges++);
    return 0;
}

/* Replaces pair p = (a, b) by r in every word on its list, then requeues the pairs whose counts went up. */
static void bpe_apply_merge(bpe_state *st, int32_t p, int32_t a, int32_t b, int32_t r, int32_t *tmp) {
    st->step++;
    st->ntouched = 0;
    ivec list = st->plist[p];
    st->plist[p] = (ivec){0}; /* the merge empties this pair; r differs from a and b, so nothing re-adds it */
    for (int32_t k = 0; k < list.n; k++) {
        int32_t w = list.v[k];
        if (st->wstamp[w] == st->step) continue;
        st->wstamp[w] = st->step;
        merge_word(st, w, a, b, r, tmp);
    }
    fastfnet_free(list.v);
    /* a count that went up needs a fresh heap entry; one that went down is fixed when popped */
    for (size_t k = 0; k < st->ntouched; k++) {
        int32_t q = st->touched[k];
        if (st->pcnt[q] > st->porig[q]) pheap_push(st, q);
    }
}

static fastfnet_tokenizer *train_bpe(const uint8_t *s, size_t len, int vocab_size, int min_freq) {
    int64_t min_pair = min_freq < 2 ? 2 : min_freq;
    /* 1. distinct chunks and their counts, as words of byte symbols */
    str_map chunks;
    smap_init(&chunks);
    size_t maxlen = count_chunks(&chunks, s, len);
    bpe_state st;
    int32_t *tmp;
    bpe_words_init(&st, &chunks, maxlen, &tmp);
    fastfnet_tokenizer *t = NULL;
    bpe_vocab v = {0};
    smap_free(&chunks);
    /* 2. initial pair counts */
    if (tok_failed) goto done;
    bpe_count_pairs(&st);
    /* 3. the token table */
    t = tok_alloc(FASTFNET_TOK_BPE);
    if (!t || tok_failed) goto done;
    bpe_vocab_init(&v, t);
    /* 4. merge the best pair until the vocabulary is full or no pair is frequent enough */
    pair_entry top;
    while (!tok_failed && t->n_vocab < vocab_size && bpe_best_pair(&st, min_pair, &v.merged, &top)) {
        int32_t r = bpe_merged_token(&v, t, top.a, top.b);
        if (r < 0 || bpe_add_merge(&v, t, top.a, top.b, r)) break;
        bpe_apply_merge(&st, top.p, top.a, top.b, r, tmp);
    }
    if (!tok_failed) tok_finish(t, &v.bytes, v.off);
done:
    bpe_vocab_free(&v);
    fastfnet_free(tmp);
    bpe_state_free(&st);
    return t;
}

fastfnet_tokenizer *fastfnet_tok_train(fastfnet_tok_kind kind, const char *text, size_t len, int vocab_size, int min_freq,
                             char *err, size_t errlen) {
    if (!text && len) return fastfnet_err(err, errlen, "tokenizer training: no text"), NULL;
    tok_failed = TOK_OK;
    switch (kind) {
    case FASTFNET_TOK_BYTE: return tok_built(tok_byte_build(), err, errlen);
    case FASTFNET_TOK_WORD:
        if (vocab_size <= FASTFNET_TOK_NUM_SPECIAL)
            return fastfnet_err(err, errlen, "word tokenizer: vocab size %d leaves no room after the %d specials",
                           vocab_size, FASTFNET_TOK_NUM_SPECIAL), NULL;
        return tok_built(train_word((const uint8_t *)text, len, vocab_size, min_freq), err, errlen);
    case FASTFNET_TOK_BPE:
        if (vocab_size < TOK_NBASE)
            return fastfnet_err(err, errlen, "bpe tokenizer: vocab size %d is below %d (5 specials + 256 bytes)",
                           vocab_size, TOK_NBASE), NULL;
        return tok_built(train_bpe((const uint8_t *)text, len, vocab_size, min_freq), err, errlen);
    case FASTFNET_TOK_SPM: return tok_train_spm(text, len, vocab_size, err, errlen);
    }
    return fastfnet_err(err, errlen, "tokenizer training: unknown kind %d", (int)kind), NULL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* tokenizer.json                                                                                         */

/* The HF layout. Specials are both added_tokens and the first 5 model.vocab entries (HF then keeps their
 * ids). The byte kind is a BPE model with no merges; "fastfnet": {"kind": ...} records which kind wrote the
 * file (HF's loader skips top-level keys it does not know). Merges use the classic "a b" string form, which
 * is unambiguous because no byte-level token contains a space (space is written as U+0120). */
static int tok_to_json(const fastfnet_tokenizer *t, tok_buf *b) {
    int bpe = t->kind != FASTFNET_TOK_WORD;
    buf_puts(b, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n");
    for (int i = 0; i < FASTFNET_TOK_NUM_SPECIAL; i++)
        buf_printf(b, "    {\"id\": %d, \"content\": \"%s\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                      "\"normalized\": false, \"special\": true}%s\n", i, g_special[i], i + 1 < FASTFNET_TOK_NUM_SPECIAL ? "," : "");
    buf_puts(b, "  ],\n  \"normalizer\": null,\n");
    if (bpe) {
        buf_puts(b, "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
                    "\"use_regex\": true},\n  \"post_processor\": null,\n"
                    "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
                    "\"use_regex\": true},\n  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
                    "    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
                    "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"vocab\": {\n");
    } else {
        buf_puts(b, "  \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"},\n  \"post_processor\": null,\n"
                    "  \"decoder\": null,\n  \"model\": {\n    \"type\": \"WordLevel\",\n    \"vocab\": {\n");
    }
    for (int id = 0; id < t->n_vocab; id++) {
        buf_puts(b, "      ");
        /* every string here is UTF-8 by construction (training and loading both guarantee it) */
        if (buf_json_str(b, fastfnet_tok_token_str(t, id)) != 0) return -1; /* a token not UTF-8: none is built so */
        buf_printf(b, ": %d%s\n", id, id + 1 < t->n_vocab ? "," : "");
    }
    if (bpe) {
        buf_puts(b, "    },\n    \"merges\": [");
        for (int r = 0; r < t->n_merges; r++) {
            const char *x = fastfnet_tok_token_str(t, t->merge_a[r]), *y = fastfnet_tok_token_str(t, t->merge_b[r]);
            tok_buf m = {0};
            buf_puts(&m, x);
            buf_puts(&m, " ");
            buf_puts(&m, y);
            buf_puts(b, r ? ",\n      " : "\n      ");
            if (buf_json_str(b, m.p ? m.p : "") != 0) {
                fastfnet_free(m.p);
                return -1;
            }
            fastfnet_free(m.p);
        }
        buf_puts(b, t->n_merges ? "\n    ]\n  },\n" : "]\n  },\n");
    } else {
        buf_puts(b, "    },\n    \"unk_token\": \"[UNK]\"\n  },\n");
    }
    buf_printf(b, "  \"fastfnet\": {\"kind\": \"%s\"}\n}\n", fastfnet_tok_kind_name(t->kind));
    return tok_failed ? -1 : 0;
}

/* tmp + fsync + rename + directory fsync (fastfnet_write_file_atomic): a crash leaves the old file or the new one. */
int fastfnet_tok_save(const fastfnet_tokenizer *t, const char *path, char *err, size_t errlen) {
    if (t->kind == FASTFNET_TOK_SPM) return fastfnet_write_file_atomic(path, t->spm_bytes, t->spm_len, err, errlen);
    tok_buf b = {0};
    tok_failed = TOK_OK;
    int rc = tok_to_json(t, &b) == 0 ? fastfnet_write_file_atomic(path, b.p, b.len, err, errlen)
                                     : fastfnet_err(err, errlen, "%s: %s", path, tok_failed ? tok_fail_msg() : "a token is not valid UTF-8");
    tok_failed = TOK_OK;
    fastfnet_free(b.p);
    return rc;
}

/* 1 when v is absent, null, or (for strings) empty: HF's spellings of "off". */
static int json_off(const fastfnet_json *v) {
    return !v || v->type == FASTFNET_JSON_NULL || (v->type == FASTFNET_JSON_STRING && v->str_len == 0) ||
           (v->type == FASTFNET_JSON_BOOL && !v->boolean) || (v->type == FASTFNET_JSON_NUMBER && v->number == 0);
}
static int json_is_str(const fastfnet_json *v, const char *s) { return v && v->type == FASTFNET_JSON_STRING && strcmp(v->str, s) == 0; }

/* The vocab entries hold arbitrary file text, so messages show at most 40 bytes of a token. */
static const char *show_tok(const char *s, char out[48]) {
    size_t n = strlen(s);
    snprintf(out, 48, "%.40s%s", s, n > 40 ? "..." : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
    return out;
}

/* What the steps of fastfnet_tok_load share: the parsed file, what each step found, what they build. */
typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    fastfnet_json *root;
    const fastfnet_json *model, *merges, *vocab;
    int is_bpe, is_word, V;
    fastfnet_tok_kind kind;
    int32_t *owner;     /* (V) id -> index of its entry in model.vocab */
    uint8_t *produced;  /* (V) 1 when some merge yields the id */
    tok_buf bytes, cat; /* every token's bytes, back to back; a merge's concatenation */
    uint64_t *off;      /* (V + 1) token id -> offset in bytes */
    size_t off_cap, mcap;
    str_map keymap, bytemap; /* vocab-file string -> id; token bytes -> id */
    fastfnet_tokenizer *t;
} tok_loader;

/* -1, with "<path>: <message>" as the error (the caller frees what was built). */
static int load_fail(tok_loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int load_fail(tok_loader *L, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fastfnet_err(L->err, L->errlen, "%s: %s", L->path, msg);
}
/* An allocation that failed inside a step (tok_failed) becomes the load's error. */
static int load_oom(tok_loader *L) { return tok_failed ? load_fail(L, "%s", tok_fail_msg()) : 0; }

/* The BPE model's pre-tokenizer, decoder and options: only byte-level BPE as GPT-2 does it. */
static int load_check_bpe(tok_loader *L) {
    const fastfnet_json *root = L->root, *model = L->model, *pre = fastfnet_json_get(root, "pre_tokenizer");
    if (!pre || !json_is_str(fastfnet_json_get(pre, "type"), "ByteLevel")) return load_fail(L, "a BPE model needs a ByteLevel pre_tokenizer");
    if (!json_off(fastfnet_json_get(pre, "add_prefix_space"))) return load_fail(L, "pre_tokenizer.add_prefix_space must be false");
    const fastfnet_json *ur = fastfnet_json_get(pre, "use_regex");
    if (ur && !(ur->type == FASTFNET_JSON_BOOL && ur->boolean)) return load_fail(L, "pre_tokenizer.use_regex must be true");
    const fastfnet_json *dec = fastfnet_json_get(root, "decoder");
    if (!dec || !json_is_str(fastfnet_json_get(dec, "type"), "ByteLevel")) return load_fail(L, "a BPE model needs a ByteLevel decoder");
    if (!json_off(fastfnet_json_get(model, "dropout"))) return load_fail(L, "model.dropout is not supported");
    if (!json_off(fastfnet_json_get(model, "unk_token"))) return load_fail(L, "model.unk_token must be null for byte-level BPE");
    if (!json_off(fastfnet_json_get(model, "continuing_subword_prefix")) || !json_off(fastfnet_json_get(model, "end_of_word_suffix")))
        return load_fail(L, "subword prefixes/suffixes are not supported");
    if (!json_off(fastfnet_json_get(model, "byte_fallback"))) return load_fail(L, "model.byte_fallback is not supported");
    if (!json_off(fastfnet_json_get(model, "ignore_merges"))) return load_fail(L, "model.ignore_merges is not supported");
    return 0;
}

/* The top level: version, the model's type, and nothing that would change the text before the model sees it
 * (truncation, padding and post_processor concern batching and are left to the caller). */
static int load_header(tok_loader *L) {
    const fastfnet_json *root = L->root;
    if (root->type != FASTFNET_JSON_OBJECT) return load_fail(L, "the top level is not a JSON object");
    if (!json_is_str(fastfnet_json_get(root, "version"), "1.0")) return load_fail(L, "\"version\" is not \"1.0\"");
    L->model = fastfnet_json_get(root, "model");
    if (!L->model || L->model->type != FASTFNET_JSON_OBJECT) return load_fail(L, "no \"model\" object");
    const fastfnet_json *mtype = fastfnet_json_get(L->model, "type");
    L->is_bpe = json_is_str(mtype, "BPE"), L->is_word = json_is_str(mtype, "WordLevel");
    if (!L->is_bpe && !L->is_word) return load_fail(L, "model.type must be \"BPE\" or \"WordLevel\"");
    if (!json_off(fastfnet_json_get(root, "normalizer"))) return load_fail(L, "a normalizer is not supported (must be null)");
    if (L->is_bpe) return load_check_bpe(L);
    const fastfnet_json *pre = fastfnet_json_get(root, "pre_tokenizer");
    if (!pre || !json_is_str(fastfnet_json_get(pre, "type"), "WhitespaceSplit"))
        return load_fail(L, "a WordLevel model needs a WhitespaceSplit pre_tokenizer");
    if (!json_is_str(fastfnet_json_get(L->model, "unk_token"), "[UNK]")) return load_fail(L, "model.unk_token must be \"[UNK]\"");
    return 0;
}

/* The kind: recorded by fastfnet ("fastfnet": {"kind": ...}), or inferred from the model for files written elsewhere. */
static int load_kind(tok_loader *L) {
    char sh[48];
    L->kind = L->is_word ? FASTFNET_TOK_WORD : FASTFNET_TOK_BPE;
    const fastfnet_json *merges = L->merges = fastfnet_json_get(L->model, "merges");
    if (L->is_bpe && (!merges || merges->type != FASTFNET_JSON_ARRAY)) return load_fail(L, "model.merges is not an array");
    if (L->is_bpe && merges->n == 0) L->kind = FASTFNET_TOK_BYTE;
    const fastfnet_json *ff = fastfnet_json_get(L->root, "fastfnet");
    if (!ff) return 0;
    const char *k = fastfnet_json_get_str(ff, "kind");
    if (!k) return load_fail(L, "fastfnet.kind is missing");
    if (strcmp(k, "byte") == 0) {
        if (!L->is_bpe || merges->n != 0) return load_fail(L, "fastfnet.kind \"byte\" needs a BPE model with no merges");
        L->kind = FASTFNET_TOK_BYTE;
    } else if (strcmp(k, "bpe") == 0) {
        if (!L->is_bpe) return load_fail(L, "fastfnet.kind \"bpe\" needs a BPE model");
        L->kind = FASTFNET_TOK_BPE;
    } else if (strcmp(k, "word") == 0) {
        if (!L->is_word) return load_fail(L, "fastfnet.kind \"word\" needs a WordLevel model");
    } else {
        return load_fail(L, "fastfnet.kind \"%s\" is not byte, word or bpe", show_tok(k, sh));
    }
    return 0;
}

/* added_tokens: exactly the 5 fixed specials. */
static int load_added(tok_loader *L) {
    char sh[48];
    const fastfnet_json *added = fastfnet_json_get(L->root, "added_tokens");
    if (!added || added->type != FASTFNET_JSON_ARRAY) return load_fail(L, "\"added_tokens\" is not an array");
    if (added->n != FASTFNET_TOK_NUM_SPECIAL)
        return load_fail(L, "added_tokens has %d entries; expected the %d specials", added->n, FASTFNET_TOK_NUM_SPECIAL);
    int seen_special = 0;
    for (int i = 0; i < added->n; i++) {
        const fastfnet_json *a = &added->items[i];
        long long id;
        if (a->type != FASTFNET_JSON_OBJECT || fastfnet_json_get_int(a, "id", &id) != 0 || id < 0 || id >= FASTFNET_TOK_NUM_SPECIAL)
            return load_fail(L, "added_tokens[%d] has no id in 0..%d", i, FASTFNET_TOK_NUM_SPECIAL - 1);
        if (seen_special >> id & 1) return load_fail(L, "added_tokens: id %lld appears twice", id);
        seen_special |= 1 << id;
        const char *c = fastfnet_json_get_str(a, "content");
        if (!c || strcmp(c, g_special[id]) != 0)
            return load_fail(L, "added_tokens: id %lld must be \"%s\", not \"%s\"", id, g_special[id], c ? show_tok(c, sh) : "(none)");
        const fastfnet_json *sp = fastfnet_json_get(a, "special");
        if (!sp || sp->type != FASTFNET_JSON_BOOL || !sp->boolean)
            return load_fail(L, "added_tokens: %s must have \"special\": true", g_special[id]);
    }
    return 0;
}

/* model.vocab: ids dense 0..V-1, each once, specials at 0..4; fills owner. */
static int load_vocab_ids(tok_loader *L) {
    char sh[48], sh2[48];
    const fastfnet_json *vocab = L->vocab = fastfnet_json_get(L->model, "vocab");
    if (!vocab || vocab->type != FASTFNET_JSON_OBJECT) return load_fail(L, "model.vocab is not an object");
    int V = L->V = vocab->n;
    if (V < FASTFNET_TOK_NUM_SPECIAL) return load_fail(L, "model.vocab has %d entries; the specials alone need %d", V, FASTFNET_TOK_NUM_SPECIAL);
    if (L->kind == FASTFNET_TOK_BYTE && V != TOK_NBASE) return load_fail(L, "model.vocab has %d entries; a byte tokenizer has %d", V, TOK_NBASE);
    if (L->kind != FASTFNET_TOK_WORD && V < TOK_NBASE)
        return load_fail(L, "model.vocab has %d entries; byte-level BPE needs at least %d", V, TOK_NBASE);
    int32_t *owner = L->owner = fastfnet_malloc((size_t)V * sizeof *owner);
    if (!owner) return load_fail(L, "out of memory for %d vocab entries", V);
    for (int i = 0; i < V; i++) owner[i] = -1;
    for (int i = 0; i < V; i++) {
        const fastfnet_json *v = &vocab->items[i];
        double d = v->type == FASTFNET_JSON_NUMBER ? v->number : -1;
        if (!(d >= 0 && d < V) || d != (double)(int)d)
            return load_fail(L, "model.vocab[\"%s\"]: id is not an integer in 0..%d", show_tok(vocab->keys[i], sh), V - 1);
        int id = (int)d;
        if (owner[id] >= 0)
            return load_fail(L, "model.vocab: id %d is used by both \"%s\" and \"%s\"", id, show_tok(vocab->keys[owner[id]], sh),
                             show_tok(vocab->keys[i], sh2));
        owner[id] = i;
    }
    /* every id in 0..V-1 is now owned: V distinct ids in [0, V) */
    for (int id = 0; id < FASTFNET_TOK_NUM_SPECIAL; id++)
        if (strcmp(vocab->keys[owner[id]], g_special[id]) != 0)
            return load_fail(L, "model.vocab: id %d must be \"%s\", not \"%s\"", id, g_special[id], show_tok(vocab->keys[owner[id]], sh));
    return 0;
}

/* The bytes of a byte-level token: its vocab string in GPT-2's byte-to-unicode alphabet, decoded; the fixed
 * layout (byte b at id 5 + b, merged tokens of 2+ bytes after) checked. */
static int load_bpe_token(tok_loader *L, int id, const char *key, const uint32_t *cp2byte) {
    char sh[48];
    size_t start = L->bytes.len;
    for (const uint8_t *p = (const uint8_t *)key; *p;) { /* the parser guarantees well-formed UTF-8 */
        uint32_t c;
        if (p[0] < 0x80) c = p[0], p += 1;
        else if (p[0] < 0xe0) c = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f), p += 2;
        else c = 0x800, p += (p[0] < 0xf0 ? 3 : 4);
        if (c >= 0x800 || cp2byte[c] > 255)
            return load_fail(L, "model.vocab: token %d \"%s\" is not in GPT-2's byte-to-unicode alphabet", id, show_tok(key, sh));
        uint8_t byte = (uint8_t)cp2byte[c];
        buf_add(&L->bytes, &byte, 1);
    }
    if (tok_failed) return load_oom(L);
    size_t n = L->bytes.len - start;
    if (id < TOK_NBASE && (n != 1 || (uint8_t)L->bytes.p[start] != id - TOK_BYTE0))
        return load_fail(L, "model.vocab: id %d must be the single byte 0x%02x", id, id - TOK_BYTE0);
    if (id >= TOK_NBASE && n < 2) return load_fail(L, "model.vocab: token %d \"%s\" repeats a byte token", id, show_tok(key, sh));
    return 0;
}

/* The bytes of a word: no whitespace, not empty. */
static int load_word_token(tok_loader *L, int id, const char *key) {
    size_t n = strlen(key);
    if (!n) return load_fail(L, "model.vocab: id %d is the empty string", id);
    for (size_t k = 0; k < n; k++)
        if (tok_class((uint8_t)key[k]) == TC_SPACE) return load_fail(L, "model.vocab: word %d contains whitespace", id);
    buf_add(&L->bytes, key, n);
    return load_oom(L);
}

/* Each token's bytes (bytes, off), checked for what the kind allows, each distinct (bytemap). */
static int load_token_bytes(tok_loader *L) {
    char sh[48];
    uint32_t cp2byte[0x800], cp[256];
    byte_to_cp_table(cp);
    memset(cp2byte, 0xff, sizeof cp2byte);
    for (int b = 0; b < 256; b++) cp2byte[cp[b]] = (uint32_t)b;
    smap_init(&L->bytemap);
    if (TOK_GROW(L->off, L->off_cap, (size_t)L->V + 1)) return load_oom(L);
    for (int id = 0; id < L->V; id++) {
        const char *key = L->vocab->keys[L->owner[id]];
        L->off[id] = L->bytes.len;
        if (id < FASTFNET_TOK_NUM_SPECIAL) {
            buf_puts(&L->bytes, key);
            continue;
        }
        int rc = L->kind == FASTFNET_TOK_WORD ? load_word_token(L, id, key) : load_bpe_token(L, id, key, cp2byte);
        if (rc) return rc;
        const uint8_t *p = (const uint8_t *)L->bytes.p + L->off[id];
        size_t n = L->bytes.len - L->off[id];
        uint64_t h = tok_hash(p, n);
        if (smap_find(&L->bytemap, p, n, h) >= 0) return load_fail(L, "model.vocab: token %d \"%s\" appears twice", id, show_tok(key, sh));
        if (smap_insert(&L->bytemap, p, n, h, id)) return load_oom(L);
    }
    L->off[L->V] = L->bytes.len;
    return load_oom(L);
}

/* The two parts of merge r (the "left right" string form or [left, right]) as token ids. */
static int load_merge_parts(tok_loader *L, int r, int32_t *a, int32_t *b) {
    char sh[48];
    const fastfnet_json *m = &L->merges->items[r];
    const char *x, *y;
    size_t xn, yn;
    if (m->type == FASTFNET_JSON_STRING) {
        const char *sp = strchr(m->str, ' ');
        if (!sp || strchr(sp + 1, ' ') || m->str_len != strlen(m->str)) return load_fail(L, "model.merges[%d] is not \"left right\"", r);
        x = m->str, xn = (size_t)(sp - m->str), y = sp + 1, yn = strlen(y);
    } else if (m->type == FASTFNET_JSON_ARRAY && m->n == 2 && m->items[0].type == FASTFNET_JSON_STRING &&
               m->items[1].type == FASTFNET_JSON_STRING) {
        x = m->items[0].str, xn = m->items[0].str_len, y = m->items[1].str, yn = m->items[1].str_len;
    } else {
        return load_fail(L, "model.merges[%d] is neither \"left right\" nor [left, right]", r);
    }
    int64_t ea = smap_find(&L->keymap, (const uint8_t *)x, xn, tok_hash((const uint8_t *)x, xn));
    int64_t eb = smap_find(&L->keymap, (const uint8_t *)y, yn, tok_hash((const uint8_t *)y, yn));
    if (ea < 0 || eb < 0) {
        char part[48];
        snprintf(part, sizeof part, "%.*s", (int)(ea < 0 ? (xn < 40 ? xn : 40) : (yn < 40 ? yn : 40)), ea < 0 ? x : y);
        return load_fail(L, "model.merges[%d] references \"%s\", which is not in the vocab", r, show_tok(part, sh));
    }
    *a = (int32_t)L->keymap.e[ea].val, *b = (int32_t)L->keymap.e[eb].val;
    if (*a < FASTFNET_TOK_NUM_SPECIAL || *b < FASTFNET_TOK_NUM_SPECIAL) return load_fail(L, "model.merges[%d] merges a special token", r);
    return 0;
}

/* Merge r: both parts regular tokens, their concatenation in the vocab, no pair twice. */
static int load_merge(tok_loader *L, int r) {
    fastfnet_tokenizer *t = L->t;
    int32_t a = 0, b = 0;
    if (load_merge_parts(L, r, &a, &b)) return -1;
    L->cat.len = 0;
    buf_add(&L->cat, L->bytes.p + L->off[a], L->off[a + 1] - L->off[a]);
    buf_add(&L->cat, L->bytes.p + L->off[b], L->off[b + 1] - L->off[b]);
    if (tok_failed) return load_oom(L);
    int64_t er = smap_find(&L->bytemap, (const uint8_t *)L->cat.p, L->cat.len, tok_hash((const uint8_t *)L->cat.p, L->cat.len));
    if (er < 0 || L->bytemap.e[er].val < TOK_NBASE) return load_fail(L, "model.merges[%d]: the merged token is not in the vocab", r);
    if (u64_get(&t->merge_rank, pair_key(a, b)) >= 0) return load_fail(L, "model.merges[%d] repeats an earlier merge", r);
    u64_put(&t->merge_rank, pair_key(a, b), r);
    if (tok_failed || merges_grow(t, &L->mcap)) return load_oom(L);
    int32_t res = (int32_t)L->bytemap.e[er].val;
    t->merge_a[t->n_merges] = a, t->merge_b[t->n_merges] = b, t->merge_r[t->n_merges++] = res;
    L->produced[res] = 1;
    return 0;
}

/* The merges, in rank order; every token past the bytes must be some merge's result (else it could never be
 * produced). */
static int load_merges(tok_loader *L) {
    char sh[48];
    fastfnet_tokenizer *t = L->t;
    smap_init(&L->keymap);
    for (int id = 0; id < L->V && !tok_failed; id++) {
        const char *k = L->vocab->keys[L->owner[id]];
        smap_insert(&L->keymap, (const uint8_t *)k, strlen(k), tok_hash((const uint8_t *)k, strlen(k)), id);
    }
    L->produced = fastfnet_calloc((size_t)L->V);
    if (!L->produced) tok_fail(TOK_OOM);
    u64_init(&t->merge_rank);
    if (tok_failed) return load_oom(L);
    for (int r = 0; r < L->merges->n; r++)
        if (load_merge(L, r)) return -1;
    for (int id = TOK_NBASE; id < L->V; id++)
        if (!L->produced[id])
            return load_fail(L, "model.vocab: token %d \"%s\" is not produced by any merge", id, show_tok(L->vocab->keys[L->owner[id]], sh));
    u64_free(&t->merge_rank); /* tok_finish rebuilds it */
    return 0;
}

static void tok_loader_free(tok_loader *L) {
    fastfnet_json_free(L->root);
    fastfnet_free(L->owner);
    fastfnet_free(L->produced);
    fastfnet_free(L->bytes.p);
    fastfnet_free(L->cat.p);
    fastfnet_free(L->off);
    smap_free(&L->keymap);
    smap_free(&L->bytemap);
}

/* The steps of loading a tokenizer.json; 0, or -1 with the message. */
static int tok_load_json(tok_loader *L) {
    if (load_header(L) || load_kind(L) || load_added(L) || load_vocab_ids(L) || load_token_bytes(L)) return -1;
    L->t = tok_alloc(L->kind);
    if (!L->t) return load_oom(L);
    L->t->n_vocab = L->V;
    if (L->kind != FASTFNET_TOK_WORD && load_merges(L)) return -1;
    tok_finish(L->t, &L->bytes, L->off);
    return load_oom(L);
}

fastfnet_tokenizer *fastfnet_tok_load(const char *path, char *err, size_t errlen) {
    size_t flen = 0;
    tok_failed = TOK_OK;
    char *text = fastfnet_read_file(path, &flen, TOK_MAX_FILE, err, errlen);
    if (!text) return NULL;
    if (tok_is_spm_file(path, text, flen)) return tok_load_spm(path, text, flen, err, errlen);
    char jerr[256];
    tok_loader L = {.path = path, .err = err, .errlen = errlen};
    L.root = fastfnet_json_parse(text, flen, jerr, sizeof jerr);
    fastfnet_free(text);
    if (!L.root) return fastfnet_err(err, errlen, "%s: not valid JSON: %s", path, jerr), NULL;
    fastfnet_tokenizer *t = NULL;
    if (tok_load_json(&L) == 0) t = L.t;
    else fastfnet_tok_free(L.t);
    tok_loader_free(&L);
    tok_failed = TOK_OK;
    return t;
}

/* ---------------------------------------------------------------------------------------------------- */
/* SentencePiece                                                                                          */

int32_t fastfnet_tok_special(const fastfnet_tokenizer *t, int role) {
    if (role < 0 || role >= FASTFNET_TOK_NUM_SPECIAL) return -1;
    return t->kind == FASTFNET_TOK_SPM ? t->special[role] : role;
}

int fastfnet_tok_is_control(const fastfnet_tokenizer *t, int32_t id) {
    return t->kind == FASTFNET_TOK_SPM ? fastfnet_spm_is_control(t->spm, id) : id >= 0 && id < FASTFNET_TOK_NUM_SPECIAL;
}

/* The name decides first: X.model is SentencePiece (a damaged one is reported as such, not as bad JSON) and
 * X.json is JSON (one may start with a newline, byte 0x0a). Otherwise the content: a serialized ModelProto starts
 * with its first `pieces` entry (field 1, length-delimited: byte 0x0a), a tokenizer.json with '{'. */
static int tok_is_spm_file(const char *path, const char *bytes, size_t n) {
    size_t pl = strlen(path);
    if (pl > 6 && !strcmp(path + pl - 6, ".model")) return 1;
    if (pl > 5 && !strcmp(path + pl - 5, ".json")) return 0;
    return n > 0 && (unsigned char)bytes[0] == 0x0a;
}

/* The first of the candidate pieces the model has (FNet's files use [CLS] [SEP] [MASK] <pad> <unk>). */
static int32_t spm_find(const fastfnet_spm *s, const char *const *names) {
    for (; *names; names++) {
        int id = fastfnet_spm_piece_id(s, *names);
        if (id >= 0) return id;
    }
    return -1;
}

static fastfnet_tokenizer *tok_from_spm(fastfnet_spm *s, char *bytes, size_t n) {
    static const char *const cls[] = {"[CLS]", "<cls>", NULL}, *const sep[] = {"[SEP]", "<sep>", NULL};
    static const char *const mask[] = {"[MASK]", "<mask>", NULL}, *const pad[] = {"<pad>", "[PAD]", NULL};
    fastfnet_tokenizer *t = tok_alloc(FASTFNET_TOK_SPM);
    if (!t) return NULL;
    t->spm = s;
    t->spm_bytes = bytes;
    t->spm_len = n;
    t->n_vocab = fastfnet_spm_size(s);
    t->special[FASTFNET_TOK_CLS] = spm_find(s, cls);
    t->special[FASTFNET_TOK_SEP] = spm_find(s, sep);
    t->special[FASTFNET_TOK_MASK] = spm_find(s, mask);
    t->special[FASTFNET_TOK_PAD] = fastfnet_spm_pad_id(s) >= 0 ? fastfnet_spm_pad_id(s) : spm_find(s, pad);
    t->special[FASTFNET_TOK_UNK] = fastfnet_spm_unk_id(s);
    return t;
}

/* Takes bytes (read by tok_read_file); the tokenizer keeps them, to save the model exactly as it was. */
static fastfnet_tokenizer *tok_load_spm(const char *path, char *bytes, size_t n, char *err, size_t errlen) {
    char msg[512];
    fastfnet_spm *s = fastfnet_spm_load(bytes, n, msg, sizeof msg);
    if (!s) {
        fastfnet_free(bytes);
        return fastfnet_err(err, errlen, "%s: %s", path, msg), NULL;
    }
    char *copy = malloc(n ? n : 1);
    if (copy) memcpy(copy, bytes, n);
    fastfnet_tokenizer *t = copy ? tok_from_spm(s, copy, n) : NULL;
    fastfnet_free(bytes);
    if (!t) {
        free(copy);
        fastfnet_spm_free(s);
        return fastfnet_err(err, errlen, "%s: out of memory", path), NULL;
    }
    return t;
}

/* Unigram, with FNet's layout of specials: <unk> 0, <s> 1, </s> 2, <pad> 3, [CLS] 4, [SEP] 5, [MASK] 6. */
static fastfnet_tokenizer *tok_train_spm(const char *text, size_t len, int vocab_size, char *err, size_t errlen) {
    if (vocab_size < 8) return fastfnet_err(err, errlen, "unigram tokenizer: vocab size %d is below 8 (7 specials + 1)", vocab_size), NULL;
    char args[512], msg[512], *model;
    size_t mlen;
    snprintf(args, sizeof args,
             "--model_type=unigram --vocab_size=%d --hard_vocab_limit=false --unk_id=0 --bos_id=1 --eos_id=2 "
             "--pad_id=3 --user_defined_symbols=[CLS],[SEP],[MASK]", vocab_size);
    if (fastfnet_spm_train(args, text, len, &model, &mlen, msg, sizeof msg)) return fastfnet_err(err, errlen, "%s", msg), NULL;
    fastfnet_spm *s = fastfnet_spm_load(model, mlen, msg, sizeof msg);
    if (!s) {
        free(model);
        return fastfnet_err(err, errlen, "the trained model does not load: %s", msg), NULL;
    }
    fastfnet_tokenizer *t = tok_from_spm(s, model, mlen);
    if (!t) {
        free(model);
        fastfnet_spm_free(s);
        tok_failed = TOK_OK;
        return fastfnet_err(err, errlen, "unigram tokenizer: out of memory"), NULL;
    }
    return t;
}

static size_t tok_decode_spm(const fastfnet_tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap) {
    int32_t *v = fastfnet_malloc((n ? n : 1) * sizeof *v);
    if (!v) return FASTFNET_TOK_ERROR;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < t->n_vocab) v[k++] = ids[i];
    size_t r = fastfnet_spm_decode(t->spm, v, k, out, cap);
    fastfnet_free(v);
    return r;
}
