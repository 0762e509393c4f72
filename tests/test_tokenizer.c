/* test_tokenizer.c: self-checking tests for the byte, word and BPE tokenizers: round trips, training
 * determinism and compression, tokenizer.json save/load, malformed files, and an encoding speed print. */
#include "check.h"
#include "tokenizer.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------------- */
/* inputs                                                                                                 */

static fastfnet_rng g_rng;
static uint32_t rnd(uint32_t n) { return (uint32_t)(fastfnet_rng_u64(&g_rng) % n); }

/* English-like text: common English words plus a lexicon of syllable-built words, drawn with Zipf
 * frequencies, in capitalised sentences with punctuation, contractions, numbers and paragraphs. This has
 * roughly the chunk statistics of real prose (many distinct words, a heavy head) without needing a file. */
static const char *const g_common[] = {
    "the", "of", "and", "to", "a", "in", "that", "is", "was", "he", "for", "it", "with", "as", "his", "on", "be",
    "at", "by", "I", "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you",
    "were", "her", "all", "she", "there", "would", "their", "we", "him", "been", "has", "when", "who", "will",
    "more", "no", "if", "out", "so", "said", "what", "up", "its", "about", "into", "than", "them", "can", "only",
    "other", "new", "some", "could", "time", "these", "two", "may", "then", "do", "first", "any", "my", "now",
    "such", "like", "our", "over", "man", "me", "even", "most", "made", "after", "also", "did", "many", "before",
    "must", "through", "back", "years", "where", "much", "your", "way", "well", "down", "should", "because",
    "each", "just", "those", "people", "how", "too", "little", "state", "good", "very", "make", "world", "still",
    "own", "see", "men", "work", "long", "get", "here", "between", "both", "life", "being", "under", "never",
    "day", "same", "another", "know", "while", "last", "might", "us", "great", "old", "year", "off", "come",
    "since", "against", "go", "came", "right", "used", "take", "three", "whale", "ship", "sea", "captain"};
static const char *const g_syll[] = {
    "ba", "be", "bi", "bo", "ca", "ce", "co", "da", "de", "di", "do", "fa", "fe", "fi", "ga", "ge", "go", "ha",
    "he", "hi", "ho", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "pa", "pe", "pi",
    "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va", "ve", "vi", "wa", "we",
    "ing", "ed", "er", "est", "ly", "tion", "ment", "ness", "able", "ous", "ful", "less", "th", "sh", "ch", "str",
    "an", "en", "in", "on", "un", "al", "el", "il", "ol", "ar", "or", "ur", "as", "es", "is", "os", "us", "at",
    "et", "it", "ot", "ut", "ight", "ough", "ound", "ain", "ean", "oor", "ea", "oo", "ee", "ai"};
#define NCOMMON (int)(sizeof g_common / sizeof *g_common)
#define NSYLL (int)(sizeof g_syll / sizeof *g_syll)
#define NLEX 20000

typedef struct {
    char *words[NCOMMON + NLEX];
    double cdf[NCOMMON + NLEX];
} lexicon;

static lexicon *lex_new(void) {
    lexicon *L = calloc(1, sizeof *L);
    fastfnet_rng_seed(&g_rng, 12345);
    for (int i = 0; i < NCOMMON; i++) L->words[i] = strdup(g_common[i]);
    for (int i = 0; i < NLEX; i++) {
        char w[64] = "";
        int ns = 2 + (int)rnd(3);
        for (int k = 0; k < ns; k++) strcat(w, g_syll[rnd(NSYLL)]);
        L->words[NCOMMON + i] = strdup(w);
    }
    double acc = 0;
    for (int i = 0; i < NCOMMON + NLEX; i++) L->cdf[i] = acc += 1.0 / (i + 2.7);
    for (int i = 0; i < NCOMMON + NLEX; i++) L->cdf[i] /= acc;
    return L;
}
static void lex_free(lexicon *L) {
    for (int i = 0; i < NCOMMON + NLEX; i++) free(L->words[i]);
    free(L);
}
static const char *lex_draw(const lexicon *L) {
    double u = (fastfnet_rng_u64(&g_rng) >> 11) * (1.0 / 9007199254740992.0);
    int lo = 0, hi = NCOMMON + NLEX - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (L->cdf[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return L->words[lo];
}

/* n bytes (exactly) of English-like text, NUL-terminated; seed picks the stream. */
static char *english(const lexicon *L, size_t n, uint64_t seed) {
    fastfnet_rng_seed(&g_rng, seed);
    char *s = malloc(n + 256);
    size_t o = 0;
    int start = 1;
    while (o < n) {
        const char *w = lex_draw(L);
        size_t k = strlen(w);
        memcpy(s + o, w, k);
        if (start) s[o] = (char)(s[o] >= 'a' && s[o] <= 'z' ? s[o] - 32 : s[o]);
        o += k;
        start = 0;
        uint32_t r = rnd(1000);
        if (r < 20) o += (size_t)sprintf(s + o, "'s");
        else if (r < 30) o += (size_t)sprintf(s + o, "n't");
        else if (r < 40) o += (size_t)sprintf(s + o, " %u", rnd(2000));
        if (r >= 900) {
            const char *end = r < 970 ? "." : r < 985 ? "?" : "!";
            o += (size_t)sprintf(s + o, "%s%s", end, rnd(8) == 0 ? "\n\n" : " ");
            start = 1;
        } else if (r >= 820) {
            o += (size_t)sprintf(s + o, ", ");
        } else {
            s[o++] = ' ';
        }
    }
    s[n] = 0;
    return s;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3f)), o[2] = (char)(0x80 | (cp & 0x3f)), 3;
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}
/* Random Unicode text: ASCII letters, digits, punctuation and every kind of ASCII space, Latin-1
 * (incl. U+00A0), Greek, CJK, U+2014, emoji, and runs of spaces. */
static char *random_unicode(size_t nchars, size_t *len) {
    char *s = malloc(nchars * 4 + 1);
    size_t o = 0;
    static const char ws[] = " \t\n\r\v\f";
    for (size_t i = 0; i < nchars; i++) {
        uint32_t r = rnd(100), cp;
        if (r < 40) cp = 'a' + rnd(26);
        else if (r < 50) cp = ' ';
        else if (r < 55) cp = (uint32_t)ws[rnd(6)];
        else if (r < 60) cp = '0' + rnd(10);
        else if (r < 68) cp = (uint32_t)"'.,;:!?\"()-[]"[rnd(13)];
        else if (r < 75) cp = 0xa0 + rnd(0x60);
        else if (r < 82) cp = 0x391 + rnd(0x30);
        else if (r < 90) cp = 0x4e00 + rnd(0x500);
        else if (r < 94) cp = 0x2014;
        else if (r < 98) cp = 0x1f600 + rnd(0x40);
        else cp = 0x20 + rnd(0x5f);
        o += put_utf8(s + o, cp);
    }
    s[o] = 0;
    *len = o;
    return s;
}

/* Encodes and decodes; 1 when the bytes come back exactly. */
static int round_trip(fastfnet_tokenizer *t, const char *s, size_t n, size_t *ntok) {
    size_t m = fastfnet_tok_encode(t, s, n, NULL, 0);
    int32_t *ids = malloc((m + 1) * sizeof *ids);
    size_t m2 = fastfnet_tok_encode(t, s, n, ids, m);
    size_t need = fastfnet_tok_decode(t, ids, m, NULL, 0);
    char *back = malloc(need + 1);
    size_t got = fastfnet_tok_decode(t, ids, m, back, need + 1);
    int ok = m2 == m && need == n && got == n && memcmp(back, s, n) == 0 && back[n] == 0;
    if (ntok) *ntok = m;
    free(ids);
    free(back);
    return ok;
}

static int32_t *encode_all(fastfnet_tokenizer *t, const char *s, size_t n, size_t *m) {
    *m = fastfnet_tok_encode(t, s, n, NULL, 0);
    int32_t *ids = malloc((*m + 1) * sizeof *ids);
    fastfnet_tok_encode(t, s, n, ids, *m);
    return ids;
}

/* ---------------------------------------------------------------------------------------------------- */
/* tests                                                                                                  */

static void test_specials(void) {
    int ok = FASTFNET_TOK_CLS == 0 && FASTFNET_TOK_SEP == 1 && FASTFNET_TOK_MASK == 2 && FASTFNET_TOK_PAD == 3 && FASTFNET_TOK_UNK == 4 &&
             FASTFNET_TOK_NUM_SPECIAL == 5;
    char err[256];
    static const char *names[] = {"[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"};
    const char *text = "a b c a b a";
    fastfnet_tokenizer *ts[3] = {fastfnet_tok_byte(), fastfnet_tok_train(FASTFNET_TOK_WORD, text, strlen(text), 100, 1, err, sizeof err),
                            fastfnet_tok_train(FASTFNET_TOK_BPE, text, strlen(text), 300, 2, err, sizeof err)};
    for (int k = 0; k < 3; k++) {
        ok &= ts[k] != NULL && (int)fastfnet_tok_kind_of(ts[k]) == k;
        for (int i = 0; ts[k] && i < 5; i++) ok &= strcmp(fastfnet_tok_token_str(ts[k], i), names[i]) == 0;
        /* decode skips specials */
        int32_t ids[] = {0, 1, 2, 3, 4};
        char out[8] = "x";
        ok &= ts[k] && fastfnet_tok_decode(ts[k], ids, 5, out, sizeof out) == 0 && out[0] == 0;
        ok &= ts[k] && fastfnet_tok_token_str(ts[k], -1) == NULL && fastfnet_tok_token_str(ts[k], fastfnet_tok_vocab_size(ts[k])) == NULL;
        fastfnet_tok_free(ts[k]);
    }
    ok &= strcmp(fastfnet_tok_kind_name(FASTFNET_TOK_BYTE), "byte") == 0 && strcmp(fastfnet_tok_kind_name(FASTFNET_TOK_WORD), "word") == 0 &&
          strcmp(fastfnet_tok_kind_name(FASTFNET_TOK_BPE), "bpe") == 0;
    check_detail(ok, "specials_fixed", "special ids, names, kinds or decode-skipping differ");
}

static void test_byte(void) {
    fastfnet_tokenizer *t = fastfnet_tok_byte();
    fastfnet_rng_seed(&g_rng, 7);
    size_t n = 100000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = (char)rnd(256);
    s[0] = 0, s[1] = (char)0xff, s[n - 1] = 0;
    size_t m;
    int32_t *ids = encode_all(t, s, n, &m);
    int ok = m == n && fastfnet_tok_vocab_size(t) == 261;
    for (size_t i = 0; ok && i < n; i++) ok = ids[i] == 5 + (uint8_t)s[i];
    check_detail(ok, "byte_ids", "byte b must be id 5 + b (vocab %d)", fastfnet_tok_vocab_size(t));
    check_detail(round_trip(t, s, n, NULL), "byte_round_trip", "random bytes incl. NUL and 0xFF did not come back");
    /* short buffers: counts are still the totals, nothing written past cap */
    int32_t few[4] = {-7, -7, -7, -7};
    char small[4] = {'z', 'z', 'z', 'z'};
    size_t c = fastfnet_tok_encode(t, "hello", 5, few, 3);
    size_t d = fastfnet_tok_decode(t, ids, 10, small, 3);
    check_detail(c == 5 && few[2] == 5 + 'l' && few[3] == -7 && d == 10 && small[2] == s[2] && small[3] == 'z',
                 "short_buffers", "encode returned %zu, decode %zu", c, d);
    char err[256];
    int sv = fastfnet_tok_save(t, tpath("byte.json"), err, sizeof err);
    fastfnet_tokenizer *u = sv == 0 ? fastfnet_tok_load(tpath("byte.json"), err, sizeof err) : NULL;
    size_t m2 = 0;
    int32_t *ids2 = u ? encode_all(u, s, n, &m2) : NULL;
    size_t flen = 0;
    char *file = read_file(tpath("byte.json"), &flen);
    check_detail(u && fastfnet_tok_kind_of(u) == FASTFNET_TOK_BYTE && m2 == m && memcmp(ids, ids2, m * sizeof *ids) == 0 &&
                     file && strstr(file, "\"type\": \"BPE\"") && strstr(file, "\"merges\": []") &&
                     strstr(file, "\"kind\": \"byte\""),
                 "byte_save_load", "%s", u ? "reloaded byte tokenizer differs" : err);
    free(file);
    free(ids2);
    fastfnet_tok_free(u);
    free(ids);
    free(s);
    fastfnet_tok_free(t);
}

/* Every regular token must respect the pre-tokenizer's chunking: a space can only open a token (" word")
 * or be part of a whitespace-only token; no token mixes a letter with a following space. */
static int chunking_respected(const fastfnet_tokenizer *t, char *bad, size_t badlen) {
    int V = fastfnet_tok_vocab_size(t);
    char buf[256];
    for (int id = 5; id < V; id++) {
        int32_t one = id;
        size_t n = fastfnet_tok_decode(t, &one, 1, buf, sizeof buf);
        if (n >= sizeof buf) continue;
        int all_space = 1;
        for (size_t i = 0; i < n; i++) all_space &= buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r';
        if (all_space) continue;
        for (size_t i = 1; i < n; i++)
            if (buf[i] == ' ' || buf[i] == '\n') {
                snprintf(bad, badlen, "token %d \"%s\" crosses a chunk boundary", id, fastfnet_tok_token_str(t, id));
                return 0;
            }
    }
    return 1;
}

/* The 4000-token vocabulary on ~2 MB: the training speed target. */
static void check_bpe_big_vocab(const char *corpus, size_t n) {
    char err[256];
    double t0 = fastfnet_now();
    fastfnet_tokenizer *big = fastfnet_tok_train(FASTFNET_TOK_BPE, corpus, n, 4000, 2, err, sizeof err);
    double dt = fastfnet_now() - t0;
    printf("bpe: trained a %d-token vocabulary on %.1f MB in %.2f s\n", big ? fastfnet_tok_vocab_size(big) : -1, n / 1e6, dt);
    check_detail(big && fastfnet_tok_vocab_size(big) == 4000, "bpe_train_4000", "%s", big ? "vocab size differs" : err);
    char bad[256] = "";
    check_detail(big && chunking_respected(big, bad, sizeof bad), "bpe_chunking", "%s", bad);
    fastfnet_tok_free(big);
}

static void check_bpe_compression(fastfnet_tokenizer *t, const char *held, size_t hn) {
    size_t ntok = 0;
    int rt = t && round_trip(t, held, hn, &ntok);
    double ratio = ntok ? (double)hn / ntok : 0;
    printf("bpe: 1000 merges: %.2f bytes/token on held-out English-like text (byte tokenizer: 1.00)\n", ratio);
    check_detail(t && rt && ratio > 2, "bpe_compression", "round trip %d, ratio %.2f", rt, ratio);
}

/* Edge cases: empty, single bytes, whitespace runs, contractions; then a 1 MB chunk with no space. */
static void check_bpe_edges_and_long_chunk(fastfnet_tokenizer *t) {
    static const char *edge[] = {"", " ", "  ", "a", "\n", " \n ", "a  b", "x \t\n y", "don't", "'s'''s", "A's  ",
                                 "  trailing   ", "1234567 89", "\xff\xfe\x00\x01", "[CLS] [MASK]", "the the the"};
    int eok = 1;
    for (size_t i = 0; t && i < sizeof edge / sizeof *edge; i++) {
        size_t el = strlen(edge[i]);
        if (i == 13) el = 4;
        eok &= round_trip(t, edge[i], el, NULL);
    }
    check_detail(t && eok, "bpe_round_trip_edges", "an edge-case string did not come back");
    size_t ln = 1 << 20;
    char *lng = malloc(ln);
    for (size_t i = 0; i < ln; i++) lng[i] = "theandwhale"[rnd(11)];
    double t0 = fastfnet_now();
    size_t lt = 0;
    int lok = t && round_trip(t, lng, ln, &lt);
    double ldt = fastfnet_now() - t0;
    check_detail(lok && ldt < 20, "bpe_long_chunk", "1 MB without spaces: round trip %d, %.2f s", lok, ldt);
    free(lng);
}

/* Determinism: a second training on the same input saves the same file bytes. Returns the status of saving t
 * to bpe1.json, whose bytes land in *f1 (NULL when unsaved), *f1n long. */
static int check_bpe_deterministic(const fastfnet_tokenizer *t, const char *corpus, size_t n, char **f1, size_t *f1n,
                                   char *err, size_t errlen) {
    fastfnet_tokenizer *t2 = fastfnet_tok_train(FASTFNET_TOK_BPE, corpus, n, 261 + 1000, 2, err, errlen);
    int s1 = t ? fastfnet_tok_save(t, tpath("bpe1.json"), err, errlen) : -1;
    int s2 = t2 ? fastfnet_tok_save(t2, tpath("bpe2.json"), err, errlen) : -1;
    size_t f2n = 0;
    *f1 = s1 == 0 ? read_file(tpath("bpe1.json"), f1n) : NULL;
    char *f2 = s2 == 0 ? read_file(tpath("bpe2.json"), &f2n) : NULL;
    check_detail(*f1 && f2 && *f1n == f2n && memcmp(*f1, f2, *f1n) == 0, "bpe_deterministic",
                 "two trainings gave different files");
    free(f2);
    fastfnet_tok_free(t2);
    return s1;
}

/* Save -> load -> identical encodings of the three inputs, and an identical file when saved again. */
static void check_bpe_save_load(fastfnet_tokenizer *t, fastfnet_tokenizer *u, const char *f1, size_t f1n,
                                const char *const inputs[3], const size_t lens[3], char *err, size_t errlen) {
    int same = u && fastfnet_tok_kind_of(u) == FASTFNET_TOK_BPE && fastfnet_tok_vocab_size(u) == fastfnet_tok_vocab_size(t);
    for (int k = 0; same && k < 3; k++) {
        size_t ma, mb;
        int32_t *a = encode_all(t, inputs[k], lens[k], &ma), *b = encode_all(u, inputs[k], lens[k], &mb);
        same = ma == mb && memcmp(a, b, ma * sizeof *a) == 0;
        free(a);
        free(b);
    }
    int s3 = u ? fastfnet_tok_save(u, tpath("bpe3.json"), err, errlen) : -1;
    size_t f3n = 0;
    char *f3 = s3 == 0 ? read_file(tpath("bpe3.json"), &f3n) : NULL;
    check_detail(same && f3 && f1 && f3n == f1n && memcmp(f1, f3, f1n) == 0, "bpe_save_load", "%s",
                 u ? "the reloaded tokenizer encodes differently or saves different bytes" : err);
    free(f3);
}

/* HF layout essentials of the saved file, and merged tokens that decode to what they were built from. */
static void check_bpe_file_and_merges(const char *f1, const fastfnet_tokenizer *u) {
    check_detail(f1 && strstr(f1, "\"version\": \"1.0\"") && strstr(f1, "\"type\": \"ByteLevel\"") &&
                     strstr(f1, "\"\\u0120\": ") == NULL && strstr(f1, "\"\xc4\xa0\": 37") &&
                     strstr(f1, "\"[PAD]\": 3") && strstr(f1, "\"kind\": \"bpe\"") &&
                     strstr(f1, "\"byte_fallback\": false"),
                 "bpe_hf_layout", "the saved file lacks an expected HF field");
    int mok = u != NULL;
    for (int id = 261; mok && id < fastfnet_tok_vocab_size(u); id++) {
        int32_t one = id;
        mok = fastfnet_tok_decode(u, &one, 1, NULL, 0) >= 2;
    }
    check_detail(mok, "bpe_merged_tokens", "a merged token decodes to fewer than 2 bytes");
}

static void test_bpe(const lexicon *L) {
    char err[256];
    size_t n = 2 << 20;
    char *corpus = english(L, n, 1);
    check_bpe_big_vocab(corpus, n);
    /* 1000 merges, compression on held-out text of the same kind */
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_BPE, corpus, n, 261 + 1000, 2, err, sizeof err);
    size_t hn = 1 << 20;
    char *held = english(L, hn, 2);
    check_bpe_compression(t, held, hn);

    /* round trips on text unlike the corpus */
    fastfnet_rng_seed(&g_rng, 99);
    size_t ulen;
    char *uni = random_unicode(200000, &ulen);
    check_detail(t && round_trip(t, uni, ulen, NULL), "bpe_round_trip_unicode",
                 "random Unicode text did not come back");
    char *rb = malloc(200000);
    for (int i = 0; i < 200000; i++) rb[i] = (char)rnd(256);
    rb[5] = 0, rb[6] = (char)0xff;
    check_detail(t && round_trip(t, rb, 200000, NULL), "bpe_round_trip_bytes", "random bytes did not come back");
    check_bpe_edges_and_long_chunk(t);

    char *f1;
    size_t f1n = 0;
    int s1 = check_bpe_deterministic(t, corpus, n, &f1, &f1n, err, sizeof err);
    fastfnet_tokenizer *u = s1 == 0 ? fastfnet_tok_load(tpath("bpe1.json"), err, sizeof err) : NULL;
    const char *inputs[3] = {held, uni, rb};
    size_t lens[3] = {hn, ulen, 200000};
    check_bpe_save_load(t, u, f1, f1n, inputs, lens, err, sizeof err);
    check_bpe_file_and_merges(f1, u);

    free(f1);
    fastfnet_tok_free(u);
    free(rb);
    free(uni);
    free(held);
    fastfnet_tok_free(t);
    free(corpus);
}

/* At least cap bytes of lowercase lexicon words separated by single spaces; its length in *n. */
static char *lowercase_text(const lexicon *L, size_t cap, size_t *n) {
    char *text = malloc(cap + 64);
    *n = 0;
    while (*n < cap) {
        const char *w = lex_draw(L);
        if (w[0] < 'a') continue; /* keep lowercase words only */
        if (*n) text[(*n)++] = ' ';
        *n += (size_t)sprintf(text + *n, "%s", w);
    }
    return text;
}

/* The naive trainer's state: every chunk occurrence as an id sequence (merged in place), the token strings
 * of ids 5..nv-1, the merges done so far, and a V x V table of pair counts. */
typedef struct {
    int32_t *seq;
    size_t *cstart, *clen, nc;
    int V, nv;
    char **tok;
    int32_t (*done)[2];
    int ndone;
    int64_t *cnt;
} naive_bpe;

/* Chunks as id sequences, one per occurrence (the naive way: no counting of distinct chunks). */
static void naive_bpe_init(naive_bpe *nb, const char *text, size_t n, int V) {
    nb->seq = malloc(n * sizeof *nb->seq);
    nb->cstart = malloc((n + 1) * sizeof *nb->cstart);
    nb->clen = malloc((n + 1) * sizeof *nb->clen);
    nb->nc = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && text[j] != ' ') j++;
        nb->cstart[nb->nc] = i, nb->clen[nb->nc++] = j - i;
        for (size_t k = i; k < j; k++) nb->seq[k] = 5 + (uint8_t)text[k];
        i = j;
    }
    nb->V = V, nb->nv = 261;
    nb->tok = calloc((size_t)V, sizeof *nb->tok);
    for (int b = 0; b < 256; b++) nb->tok[5 + b] = calloc(2, 1), nb->tok[5 + b][0] = (char)b;
    nb->done = calloc((size_t)V * 4, sizeof *nb->done);
    nb->ndone = 0;
    nb->cnt = malloc((size_t)V * V * sizeof *nb->cnt);
}

/* Recounts every pair and takes the highest count above 1 not merged before (ties: lowest left id, then
 * lowest right id). 0 when there is none. */
static int naive_bpe_best(naive_bpe *nb, int *ba, int *bb) {
    int V = nb->V;
    memset(nb->cnt, 0, (size_t)V * V * sizeof *nb->cnt);
    for (size_t c = 0; c < nb->nc; c++)
        for (size_t k = 0; k + 1 < nb->clen[c]; k++)
            nb->cnt[(size_t)nb->seq[nb->cstart[c] + k] * V + nb->seq[nb->cstart[c] + k + 1]]++;
    int64_t best = 1;
    *ba = -1, *bb = -1;
    for (int a = 5; a < nb->nv; a++)
        for (int b = 5; b < nb->nv; b++) {
            int skip = 0;
            for (int d = 0; d < nb->ndone; d++) skip |= nb->done[d][0] == a && nb->done[d][1] == b;
            if (!skip && nb->cnt[(size_t)a * V + b] > best) best = nb->cnt[(size_t)a * V + b], *ba = a, *bb = b;
        }
    return *ba >= 0;
}

/* Merges (ba, bb) into the token of their concatenation (a new one unless it exists) in every chunk. */
static void naive_bpe_merge(naive_bpe *nb, int ba, int bb) {
    char cat[512];
    snprintf(cat, sizeof cat, "%s%s", nb->tok[ba], nb->tok[bb]);
    int r = -1;
    for (int id = 5; id < nb->nv; id++)
        if (strcmp(nb->tok[id], cat) == 0) r = id;
    if (r < 0) r = nb->nv, nb->tok[nb->nv++] = strdup(cat);
    nb->done[nb->ndone][0] = ba, nb->done[nb->ndone++][1] = bb;
    for (size_t c = 0; c < nb->nc; c++) {
        size_t o = 0, L0 = nb->clen[c];
        int32_t *q = nb->seq + nb->cstart[c];
        for (size_t k = 0; k < L0; k++) {
            if (k + 1 < L0 && q[k] == ba && q[k + 1] == bb) q[o++] = r, k++;
            else q[o++] = q[k];
        }
        nb->clen[c] = o;
    }
}

static void naive_bpe_free(naive_bpe *nb) {
    for (int id = 0; id < nb->V; id++) free(nb->tok[id]);
    free(nb->tok), free(nb->done), free(nb->cnt), free(nb->seq), free(nb->cstart), free(nb->clen);
}

/* An independent, deliberately naive BPE trainer: recount every pair of every chunk occurrence after each
 * merge, take the highest count (ties: lowest left id, then lowest right id), stop below count 2. On text of
 * lowercase words separated by single spaces the chunks are simply "word" and " word". The fast trainer
 * must build the same tokens in the same order. */
static void test_bpe_reference(const lexicon *L) {
    fastfnet_rng_seed(&g_rng, 21);
    size_t n = 0;
    char *text = lowercase_text(L, 40000, &n);
    naive_bpe nb;
    naive_bpe_init(&nb, text, n, 261 + 300);
    int ba, bb;
    while (nb.nv < nb.V && naive_bpe_best(&nb, &ba, &bb)) naive_bpe_merge(&nb, ba, bb);
    int V = nb.V, nv = nb.nv;
    char err[256];
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_BPE, text, n, V, 2, err, sizeof err);
    int ok = t && fastfnet_tok_vocab_size(t) == nv, first_bad = -1;
    for (int id = 261; ok && id < nv; id++) {
        char buf[512];
        int32_t one = id;
        size_t m = fastfnet_tok_decode(t, &one, 1, buf, sizeof buf);
        ok = m == strlen(nb.tok[id]) && memcmp(buf, nb.tok[id], m) == 0;
        if (!ok) first_bad = id;
    }
    printf("bpe: naive reference trainer made %d tokens from %zu bytes\n", nv - 261, n);
    check_detail(ok, "bpe_matches_naive_trainer", "vocab %d vs %d, first differing token id %d",
                 t ? fastfnet_tok_vocab_size(t) : -1, nv, first_bad);
    fastfnet_tok_free(t);
    naive_bpe_free(&nb);
    free(text);
}

/* A ListOps-like stream of at least cap bytes (digits, operators, brackets; single, double and newline
 * separators); its length in *o. */
static char *listops_like_text(size_t cap, size_t *o) {
    char *s = malloc(cap + 64);
    static const char *ops[] = {"[MAX", "[MIN", "[MED", "[SM", "]", "(", ")"};
    *o = 0;
    while (*o < cap) {
        uint32_t r = rnd(10);
        *o += (size_t)sprintf(s + *o, "%s%s", r < 6 ? (char[]){(char)('0' + rnd(10)), 0} : ops[rnd(7)],
                              rnd(20) == 0 ? "\n" : rnd(10) == 0 ? "  " : " ");
    }
    s[*o] = 0;
    return s;
}

/* Whitespace-normalised text round-trips. Returns the encoding of s (NULL without t), *m ids long. */
static int32_t *check_word_round_trip(fastfnet_tokenizer *t, const char *s, size_t o, size_t *m) {
    char *norm = malloc(o + 1);
    size_t k = 0;
    for (size_t i = 0; i < o; i++) {
        int sp = s[i] == ' ' || s[i] == '\n';
        if (sp && (k == 0 || norm[k - 1] == ' ')) continue;
        norm[k++] = sp ? ' ' : s[i];
    }
    while (k && norm[k - 1] == ' ') k--;
    norm[k] = 0;
    int32_t *ids = t ? encode_all(t, s, o, m) : NULL;
    char *back = t ? malloc(k + 1) : NULL;
    size_t need = t ? fastfnet_tok_decode(t, ids, *m, back, k + 1) : 0;
    check_detail(t && need == k && memcmp(back, norm, k) == 0, "word_round_trip", "decode(encode(x)) != normalised x");
    free(back);
    free(norm);
    return ids;
}

/* Unseen words -> [UNK]; a word equal to a special maps to it (as HF's WordLevel vocab does). */
static void check_word_unk(fastfnet_tokenizer *t) {
    int32_t u[8];
    size_t un = t ? fastfnet_tok_encode(t, "  7 banana\t[MAX  [UNK] zz ", strlen("  7 banana\t[MAX  [UNK] zz "), u, 8) : 0;
    check_detail(t && un == 5 && u[0] >= 5 && u[1] == FASTFNET_TOK_UNK && u[2] >= 5 && u[3] == FASTFNET_TOK_UNK &&
                     u[4] == FASTFNET_TOK_UNK && strcmp(fastfnet_tok_token_str(t, u[0]), "7") == 0,
                 "word_unk", "unknown words must map to [UNK] (%zu ids)", un);
}

/* Frequency order, vocab cap, min_freq. */
static void check_word_order(const char *z, char *err, size_t errlen) {
    fastfnet_tokenizer *w = fastfnet_tok_train(FASTFNET_TOK_WORD, z, strlen(z), 5 + 3, 2, err, errlen);
    check_detail(w && fastfnet_tok_vocab_size(w) == 8 && strcmp(fastfnet_tok_token_str(w, 5), "e") == 0 &&
                     strcmp(fastfnet_tok_token_str(w, 6), "c") == 0 && strcmp(fastfnet_tok_token_str(w, 7), "a") == 0,
                 "word_order", "expected e, c, a (ties in byte order, cap respected)");
    fastfnet_tokenizer *w2 = fastfnet_tok_train(FASTFNET_TOK_WORD, z, strlen(z), 100, 3, err, errlen);
    check_detail(w2 && fastfnet_tok_vocab_size(w2) == 7, "word_min_freq", "min_freq 3 must keep only c and e");
    fastfnet_tok_free(w2);
    fastfnet_tok_free(w);
}

/* Save -> load: the reloaded tokenizer encodes s to the same m ids, and the file has the HF WordLevel layout. */
static void check_word_save_load(fastfnet_tokenizer *t, const char *s, size_t o, const int32_t *ids, size_t m,
                                 char *err, size_t errlen) {
    int sv = t ? fastfnet_tok_save(t, tpath("word.json"), err, errlen) : -1;
    fastfnet_tokenizer *l = sv == 0 ? fastfnet_tok_load(tpath("word.json"), err, errlen) : NULL;
    size_t m2 = 0;
    int32_t *ids2 = l ? encode_all(l, s, o, &m2) : NULL;
    size_t flen = 0;
    char *file = read_file(tpath("word.json"), &flen);
    check_detail(l && fastfnet_tok_kind_of(l) == FASTFNET_TOK_WORD && m2 == m && memcmp(ids, ids2, m * sizeof *ids) == 0 &&
                     file && strstr(file, "\"type\": \"WordLevel\"") && strstr(file, "\"WhitespaceSplit\""),
                 "word_save_load", "%s", l ? "reloaded word tokenizer differs" : err);
    free(file);
    free(ids2);
    fastfnet_tok_free(l);
}

static void test_word(void) {
    char err[256];
    fastfnet_rng_seed(&g_rng, 5);
    size_t o;
    char *s = listops_like_text(1 << 20, &o);
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_WORD, s, o, 100, 1, err, sizeof err);
    check_detail(t && fastfnet_tok_vocab_size(t) == 5 + 17, "word_vocab", "%s", t ? "expected 5 specials + 17 words" : err);
    size_t m;
    int32_t *ids = check_word_round_trip(t, s, o, &m);
    check_word_unk(t);
    const char *z = "c c c b b a a d e e e e";
    check_word_order(z, err, sizeof err);
    check_word_save_load(t, s, o, ids, m, err, sizeof err);
    /* bad arguments */
    check_detail(!fastfnet_tok_train(FASTFNET_TOK_WORD, z, strlen(z), 5, 1, err, sizeof err) && strstr(err, "vocab size") &&
                     !fastfnet_tok_train(FASTFNET_TOK_BPE, z, strlen(z), 260, 1, err, sizeof err) && strstr(err, "261"),
                 "train_bad_args", "too small vocab sizes must be refused");
    free(ids);
    free(s);
    fastfnet_tok_free(t);
}

/* Replaces the first `from` in src by `to`; NULL when absent. */
static char *replace1(const char *src, const char *from, const char *to) {
    const char *p = strstr(src, from);
    if (!p) return NULL;
    size_t a = (size_t)(p - src), fl = strlen(from), tl = strlen(to), n = strlen(src);
    char *r = malloc(n - fl + tl + 1);
    memcpy(r, src, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, p + fl, n - a - fl + 1);
    return r;
}

/* Loads text from a file; 1 when refused with a one-line message naming the file (and containing want). */
static int refused(const char *text, size_t n, const char *want, char *msg, size_t msglen) {
    const char *path = tpath("bad.json");
    if (!text) {
        snprintf(msg, msglen, "could not build the bad file");
        return 0;
    }
    write_file(path, text, n);
    char err[512] = "";
    fastfnet_tokenizer *t = fastfnet_tok_load(path, err, sizeof err);
    snprintf(msg, msglen, "%s", t ? "accepted" : err);
    int ok = !t && strncmp(err, path, strlen(path)) == 0 && !strchr(err, '\n') && (!want || strstr(err, want));
    fastfnet_tok_free(t);
    return ok;
}

/* One-place edits of a valid BPE tokenizer.json, each refused with a message containing want. */
static const struct {
    const char *name, *from, *to, *want;
} tok_edit_cases[] = {
    {"bad_json", "\"version\": \"1.0\",", "\"version\": \"1.0\",,", "JSON"},
    {"missing_model", "\"model\":", "\"modelx\":", "model"},
    {"duplicate_ids", "\"[SEP]\": 1", "\"[SEP]\": 0", "id 0"},
    {"id_out_of_range", "\"[SEP]\": 1", "\"[SEP]\": 400", "id"},
    {"id_not_integer", "\"[SEP]\": 1", "\"[SEP]\": 1.5", "id"},
    {"merge_unknown_token", "\"merges\": [\n      \"", "\"merges\": [\n      \"qqqqqqqq x\",\n      \"", "qqqqqqqq"},
    {"merge_result_missing", "\"merges\": [\n      \"", "\"merges\": [\n      \"\\u0100 \\u0100\",\n      \"", "merged"},
    {"merge_not_pair", "\"merges\": [\n      \"", "\"merges\": [\n      \"abc\",\n      \"", "merges[0]"},
    {"merge_of_special", "\"merges\": [\n      \"", "\"merges\": [\n      \"[CLS] a\",\n      \"", "special"},
    {"special_vocab_content", "\"[MASK]\": 2", "\"[MSK]\": 2", "[MASK]"},
    {"special_added_content", "\"content\": \"[PAD]\"", "\"content\": \"[PAD2]\"", "[PAD]"},
    {"special_not_special", "\"content\": \"[UNK]\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true",
     "\"content\": \"[UNK]\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": false", "special"},
    {"missing_added_tokens", "\"added_tokens\"", "\"added_tokenz\"", "added_tokens"},
    {"bad_byte_token", "\"!\": 38", "\"\\u00ad\": 38", "alphabet"},
    {"normalizer", "\"normalizer\": null", "\"normalizer\": {\"type\": \"Lowercase\"}", "normalizer"},
    {"wrong_pretokenizer", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"", "\"pre_tokenizer\": {\"type\": \"Whitespace\"", "pre_tokenizer"},
    {"wrong_model_type", "\"type\": \"BPE\"", "\"type\": \"Unigram\"", "model.type"},
    {"kind_mismatch", "\"kind\": \"bpe\"", "\"kind\": \"word\"", "kind"},
    {"kind_unknown", "\"kind\": \"bpe\"", "\"kind\": \"sentencepiece\"", "kind"},
    {"wrong_version", "\"version\": \"1.0\"", "\"version\": \"2.0\"", "version"},
    {"byte_fallback", "\"byte_fallback\": false", "\"byte_fallback\": true", "byte_fallback"},
};

static void check_malformed_edits(const char *good) {
    char msg[600];
    for (size_t i = 0; i < sizeof tok_edit_cases / sizeof *tok_edit_cases; i++) {
        char *bad = replace1(good, tok_edit_cases[i].from, tok_edit_cases[i].to);
        char name[64];
        snprintf(name, sizeof name, "malformed_%s", tok_edit_cases[i].name);
        check_detail(refused(bad, bad ? strlen(bad) : 0, tok_edit_cases[i].want, msg, sizeof msg), name, "%s", msg);
        free(bad);
    }
}

/* A merged token no merge produces: drop the first merge. */
static void check_unproduced_token(const char *good, size_t flen) {
    char msg[600];
    const char *p = strstr(good, "\"merges\": [\n      \"");
    char *bad = NULL;
    if (p) {
        const char *q = strchr(p + 20, '\n'); /* end of the first merge's line */
        size_t a = (size_t)(p - good) + 18; /* just past `"merges": [\n` and the indent */
        bad = malloc(flen + 1);
        memcpy(bad, good, a);
        strcpy(bad + a, q + 7);
    }
    check_detail(refused(bad, bad ? strlen(bad) : 0, "not produced", msg, sizeof msg), "malformed_unproduced_token",
                 "%s", msg);
    free(bad);
}

/* Every truncation of the file (stepped to keep the sanitizer build quick) is refused. */
static void check_truncations(const char *good, size_t flen) {
    char msg[600];
    int all = 1;
    size_t step = flen / 3000 + 1;
    size_t last = (size_t)(strrchr(good, '}') - good); /* cutting only the final newline leaves valid JSON */

    for (size_t cut = 0; cut <= last && all; cut += step) all = refused(good, cut, NULL, msg, sizeof msg);
    for (size_t cut = last > 64 ? last - 64 : 0; cut <= last && all; cut++) all = refused(good, cut, NULL, msg, sizeof msg);
    check_detail(all, "malformed_truncated", "%s", msg);
}

/* Not a file, and empty. */
static void check_missing_and_empty(void) {
    char msg[600], err2[512];
    fastfnet_tokenizer *x = fastfnet_tok_load(tpath("does-not-exist.json"), err2, sizeof err2);
    check_detail(!x && strstr(err2, "does-not-exist.json"), "malformed_missing_file", "%s", err2);
    check_detail(refused("", 0, NULL, msg, sizeof msg) && refused("[]", 2, NULL, msg, sizeof msg), "malformed_empty",
                 "%s", msg);
}

/* A word file with whitespace inside a word, a duplicate word via the JSON parser, another unk_token. */
static void check_malformed_word_files(void) {
    char err[256], msg[600];
    const char *wtext = "x y z x y x";
    fastfnet_tokenizer *w = fastfnet_tok_train(FASTFNET_TOK_WORD, wtext, strlen(wtext), 50, 1, err, sizeof err);
    size_t wlen = 0;
    char *wgood = w && fastfnet_tok_save(w, tpath("w.json"), err, sizeof err) == 0 ? read_file(tpath("w.json"), &wlen) : NULL;
    fastfnet_tok_free(w);
    char *wb = wgood ? replace1(wgood, "\"y\": 6", "\"y q\": 6") : NULL;
    check_detail(refused(wb, wb ? strlen(wb) : 0, "whitespace", msg, sizeof msg), "malformed_word_space", "%s", msg);
    free(wb);
    wb = wgood ? replace1(wgood, "\"y\": 6", "\"x\": 6") : NULL;
    check_detail(refused(wb, wb ? strlen(wb) : 0, "duplicate", msg, sizeof msg), "malformed_word_duplicate", "%s", msg);
    free(wb);
    wb = wgood ? replace1(wgood, "\"unk_token\": \"[UNK]\"", "\"unk_token\": \"<unk>\"") : NULL;
    check_detail(refused(wb, wb ? strlen(wb) : 0, "unk_token", msg, sizeof msg), "malformed_word_unk", "%s", msg);
    free(wb);
    free(wgood);
}

static void test_malformed(const lexicon *L) {
    char err[256];
    size_t n = 300000;
    char *corpus = english(L, n, 3);
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_BPE, corpus, n, 400, 2, err, sizeof err);
    size_t flen = 0;
    char *good = t && fastfnet_tok_save(t, tpath("good.json"), err, sizeof err) == 0 ? read_file(tpath("good.json"), &flen) : NULL;
    fastfnet_tok_free(t);
    free(corpus);
    if (!good) {
        check_detail(0, "malformed_setup", "%s", err);
        return;
    }
    fastfnet_tokenizer *ok = fastfnet_tok_load(tpath("good.json"), err, sizeof err);
    check_detail(ok != NULL, "malformed_baseline", "%s", err);
    fastfnet_tok_free(ok);
    check_malformed_edits(good);
    check_unproduced_token(good, flen);
    check_truncations(good, flen);
    check_missing_and_empty();
    check_malformed_word_files();
    free(good);
}

static void test_atomic_save(void) {
    char err[256];
    fastfnet_tokenizer *t = fastfnet_tok_byte();
    const char *p = tpath("atomic.json");
    write_text(p, "old");
    int rc = fastfnet_tok_save(t, p, err, sizeof err);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    struct stat sb;
    int no_tmp = stat(tmp, &sb) != 0;
    fastfnet_tokenizer *u = fastfnet_tok_load(p, err, sizeof err);
    check_detail(rc == 0 && no_tmp && u, "save_atomic_replace", "%s", err);
    fastfnet_tok_free(u);
    { /* a tokenizer.json that starts with a newline (byte 0x0a, a ModelProto's first byte) is JSON by its name */
        size_t n = 0;
        char *body = fastfnet_read_file(p, &n, 1 << 20, err, sizeof err), *nl = body ? malloc(n + 2) : NULL;
        if (nl) nl[0] = '\n', memcpy(nl + 1, body, n), nl[n + 1] = 0;
        if (nl) write_text(tpath("newline.json"), nl);
        fastfnet_tokenizer *v = nl ? fastfnet_tok_load(tpath("newline.json"), err, sizeof err) : NULL;
        check_detail(v != NULL, "load_json_leading_newline", "%s", err);
        fastfnet_tok_free(v);
        free(body), free(nl);
    }
    rc = fastfnet_tok_save(t, tpath("no/such/dir/t.json"), err, sizeof err);
    check_detail(rc != 0 && strstr(err, "no/such/dir/t.json") && !strchr(err, '\n'), "save_bad_dir", "%s", err);
    fastfnet_tok_free(t);
}

static void test_speed(const lexicon *L) {
    char err[256];
    size_t n = 2 << 20;
    char *corpus = english(L, n, 11);
    fastfnet_tokenizer *t = fastfnet_tok_train(FASTFNET_TOK_BPE, corpus, n, 4000, 2, err, sizeof err);
    free(corpus);
    size_t big = 20 << 20;
    char *text = english(L, big, 12);
    int32_t *ids = malloc(big * sizeof *ids);
    double t0 = fastfnet_now();
    size_t m = t ? fastfnet_tok_encode(t, text, big, ids, big) : 0;
    double dt = fastfnet_now() - t0;
    printf("bpe: encoded %.1f MB into %zu tokens in %.2f s: %.1f MB/s (%.2f bytes/token, 4000-token vocab)\n",
           big / 1e6, m, dt, big / 1e6 / dt, m ? (double)big / m : 0.0);
    size_t d = t ? fastfnet_tok_decode(t, ids, m, NULL, 0) : 0;
    char *back = malloc(big + 1);
    t0 = fastfnet_now();
    if (t) fastfnet_tok_decode(t, ids, m, back, big + 1);
    double ddt = fastfnet_now() - t0;
    printf("bpe: decoded at %.1f MB/s\n", big / 1e6 / ddt);
    check_detail(t && m > 0 && d == big && memcmp(back, text, big) == 0, "bpe_speed_round_trip",
                 "20 MB did not round-trip");
    free(back);
    free(ids);
    free(text);
    fastfnet_tok_free(t);
}

int main(void) {
    if (!check_tmpdir("fastfnet_tok_test.")) {
        perror("mkdtemp");
        return 1;
    }
    lexicon *L = lex_new();
    test_specials();
    test_byte();
    test_bpe(L);
    test_bpe_reference(L);
    test_word();
    test_malformed(L);
    test_atomic_save();
    test_speed(L);
    lex_free(L);
    check_tmpdir_remove();
    return check_summary();
}
