/* test_data.c: the built-in text data sets of src/app/data.c: the sotu task (eras, passages, splits by
 * address, determinism, errors) and the pre-training corpus (documents held out per source, errors), on
 * small fake data folders (and the SpamAssassin reader's errors) and, when scripts/fetch_data.sh has fetched them, on the real ones (argv[1],
 * default data/; skipped with a printed reason otherwise). */
#include "check.h"
#include "data.h"
#include "util.h"
#include <sys/stat.h>

static int one_line(const char *s) { return s[0] && !strchr(s, '\n'); }

static int count_label(const fastfnet_records *r, const char *label) {
    int n = 0;
    for (int i = 0; i < r->n; i++) n += !strcmp(r->label[i], label);
    return n;
}

/* Whether no address (record line = address number) has passages in two of the splits. */
static int disjoint(const fastfnet_records *s[3], int naddr) {
    char *seen = calloc((size_t)naddr + 2, 1);
    int ok = seen != NULL;
    for (int k = 0; k < 3 && ok; k++)
        for (int i = 0; i < s[k]->n && ok; i++) {
            int a = s[k]->line[i];
            if (a < 1 || a > naddr || (seen[a] && seen[a] != k + 1)) ok = 0;
            else seen[a] = (char)(k + 1);
        }
    free(seen);
    return ok;
}

static int same_records(const fastfnet_records *a, const fastfnet_records *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->a[i], b->a[i]) || strcmp(a->label[i], b->label[i]) || a->line[i] != b->line[i]) return 0;
    return 1;
}

static void free3(fastfnet_records r[3]) {
    for (int k = 0; k < 3; k++) fastfnet_records_free(&r[k]);
}

static void test_eras(void) {
    check(fastfnet_sotu_era(1789) == -1 && fastfnet_sotu_era(1790) == 0 && fastfnet_sotu_era(1856) == 0 && fastfnet_sotu_era(1857) == 1 &&
              fastfnet_sotu_era(1899) == 1 && fastfnet_sotu_era(1900) == 2 && fastfnet_sotu_era(1946) == 2 && fastfnet_sotu_era(1947) == 3 &&
              fastfnet_sotu_era(2021) == 3 && fastfnet_sotu_era(1 << 30) == 3,
          "sotu eras: 1790-1856, 1857-1899, 1900-1946, 1947-2021 (boundaries inclusive)");
    int sorted = 1;
    for (int k = 1; k < FASTFNET_SOTU_ERAS; k++) sorted &= strcmp(fastfnet_sotu_eras[k - 1], fastfnet_sotu_eras[k]) < 0;
    check(sorted, "era names sort in time order (a label map built by name keeps it)");
}

/* The fake folder dir (tpath("sotu")): 60 addresses 1790..2021, each a long single-line speech and a few
 * paragraphs. */
static void make_fake_sotu(const char *dir) {
    mkdir(dir, 0755);
    mkdir(tpath("sotu/data"), 0755);
    char sentence[] = "The state of the Union is strong, and the Congress has done its work well this year. ";
    for (int i = 0; i < 60; i++) {
        int year = 1790 + i * 4;
        char name[64], *text = malloc(20000);
        snprintf(name, sizeof name, "sotu/data/%d_president_number_%d_x.txt", year, i);
        size_t n = 0;
        for (int s = 0; s < 30; s++) n += (size_t)sprintf(text + n, "%s", sentence); /* one paragraph of 2,580 bytes */
        n += (size_t)sprintf(text + n, "\nShort.\nA second paragraph, %d.\n", year);
        write_file(tpath(name), text, n);
        free(text);
    }
    write_text(tpath("sotu/data/1790_george_washington_n.json"), "{}"); /* not a .txt: ignored */
}

/* Splits by address, passage lengths and ends, and every passage's era label. */
static void check_fake_passages(const fastfnet_records r[3]) {
    const fastfnet_records *s[3] = {&r[0], &r[1], &r[2]};
    check(disjoint(s, 60), "no fake address is in two splits");
    int maxlen = 0, minlen = 1 << 30, ends_ok = 1;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < r[k].n; i++) {
            int l = (int)strlen(r[k].a[i]);
            if (l > maxlen) maxlen = l;
            if (l < minlen) minlen = l;
            /* a long paragraph is cut after a sentence, never inside a word */
            if (strlen(r[k].a[i]) > 100 && r[k].a[i][l - 1] != '.') ends_ok = 0;
        }
    check(maxlen <= FASTFNET_SOTU_PASSAGE_BYTES && minlen >= 32, "passages of 32..%d bytes (%d..%d)", FASTFNET_SOTU_PASSAGE_BYTES, minlen, maxlen);
    check(ends_ok, "a long paragraph is cut at sentence ends");
    int total = r[0].n + r[1].n + r[2].n, bad_label = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < r[k].n; i++) bad_label += strcmp(r[k].label[i], fastfnet_sotu_eras[fastfnet_sotu_era(1790 + (r[k].line[i] - 1) * 4)]) != 0;
    check(bad_label == 0 && total == 60 * 8, "every passage has its address's era (%d wrong of %d; 8 passages an address)", bad_label, total);
}

/* An address whose name does not start with a year is refused, naming the file. */
static void check_bad_address_names(const char *dir) {
    char err[512];
    fastfnet_records r[3];
    static const char *const bad[] = {"notes_x.txt", "99999999999_x.txt", "1700_too_early.txt"};
    for (int b = 0; b < 3; b++) {
        char name[64];
        snprintf(name, sizeof name, "sotu/data/%s", bad[b]);
        write_text(tpath(name), "not an address, but long enough to be a passage of its own");
        int rc = fastfnet_records_sotu(&r[0], &r[1], &r[2], dir, err, sizeof err);
        check(rc == -1 && strstr(err, bad[b]) && one_line(err), "a file not named YEAR_... (1790 or later) is one line: %s", err);
        remove(tpath(name));
    }
}

/* A fake sotu folder: loaded, checked, and loaded again to the same records. */
static void test_sotu_fake(void) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s", tpath("sotu"));
    make_fake_sotu(dir);
    fastfnet_records r[3], again[3];
    int rc = fastfnet_records_sotu(&r[0], &r[1], &r[2], dir, err, sizeof err);
    check(rc == 0, "fake sotu loads: %s", rc ? err : "ok");
    if (rc) return;
    check_fake_passages(r);
    rc = fastfnet_records_sotu(&again[0], &again[1], &again[2], dir, err, sizeof err);
    check(rc == 0 && same_records(&r[0], &again[0]) && same_records(&r[1], &again[1]) && same_records(&r[2], &again[2]),
          "a second load gives the same passages, labels and splits");
    free3(r);
    if (!rc) free3(again);
    check_bad_address_names(dir);
}

static void test_sotu_errors(void) {
    char err[512];
    fastfnet_records r[3];
    int rc = fastfnet_records_sotu(&r[0], &r[1], &r[2], tpath("nothing-here"), err, sizeof err);
    check(rc == -1 && strstr(err, "fetch_data.sh") && one_line(err), "missing sotu folder is one line naming the fetcher: %s", err);
    mkdir(tpath("one"), 0755);
    mkdir(tpath("one/data"), 0755);
    write_text(tpath("one/data/1790_george_washington_n.txt"), "Fellow-Citizens of the Senate and House of Representatives: a short address.");
    rc = fastfnet_records_sotu(&r[0], &r[1], &r[2], tpath("one"), err, sizeof err);
    check(rc == -1 && strstr(err, "too few addresses") && one_line(err), "one address cannot fill three splits: %s", err);
}

/* The real addresses: classes about equal, splits ~80/10/10 by address and disjoint, deterministic. */
static void test_sotu_real(const char *data_dir) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/sotu", data_dir);
    struct stat st;
    if (stat(dir, &st)) {
        printf("skip: %s is not there (scripts/fetch_data.sh --only sotu): the real sotu checks did not run\n", dir);
        return;
    }
    fastfnet_records r[3], again[3];
    int rc = fastfnet_records_sotu(&r[0], &r[1], &r[2], dir, err, sizeof err);
    check(rc == 0, "real sotu loads: %s", rc ? err : "ok");
    if (rc) return;
    static const char *split[3] = {"train", "valid", "test"};
    int total = 0, era_total[FASTFNET_SOTU_ERAS] = {0};
    for (int k = 0; k < 3; k++) {
        printf("sotu %s: %d passages:", split[k], r[k].n);
        for (int e = 0; e < FASTFNET_SOTU_ERAS; e++) {
            int c = count_label(&r[k], fastfnet_sotu_eras[e]);
            era_total[e] += c;
            printf(" %s %d", fastfnet_sotu_eras[e], c);
        }
        printf("\n");
        total += r[k].n;
    }
    int balanced = 1;
    for (int e = 0; e < FASTFNET_SOTU_ERAS; e++) balanced &= era_total[e] > total / 5 && era_total[e] < total * 3 / 10;
    check(balanced, "each era holds 20-30%% of the %d passages (%d %d %d %d)", total, era_total[0], era_total[1], era_total[2], era_total[3]);
    const fastfnet_records *s[3] = {&r[0], &r[1], &r[2]};
    check(disjoint(s, 233), "no address is in two splits");
    int addr[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < r[k].n; i++) addr[k] += i == 0 || r[k].line[i] != r[k].line[i - 1];
    printf("sotu addresses: train %d, valid %d, test %d\n", addr[0], addr[1], addr[2]);
    check(addr[0] + addr[1] + addr[2] == 233 && addr[1] >= 12 && addr[2] >= 12 && addr[0] >= 170,
          "the 233 addresses split about 80/10/10 (%d/%d/%d)", addr[0], addr[1], addr[2]);
    int ever_all = 1; /* every era is in every split, so valid and test measure all four classes */
    for (int k = 0; k < 3; k++)
        for (int e = 0; e < FASTFNET_SOTU_ERAS; e++) ever_all &= count_label(&r[k], fastfnet_sotu_eras[e]) > 0;
    check(ever_all, "every era has passages in every split");
    rc = fastfnet_records_sotu(&again[0], &again[1], &again[2], dir, err, sizeof err);
    check(rc == 0 && same_records(&r[0], &again[0]) && same_records(&r[1], &again[1]) && same_records(&r[2], &again[2]),
          "real sotu loads the same twice");
    free3(r);
    if (!rc) free3(again);
}

static void test_corpus_fake(void) {
    char err[512];
    mkdir(tpath("c"), 0755);
    mkdir(tpath("c/moby-dick"), 0755);
    mkdir(tpath("c/moby-dick/data"), 0755);
    mkdir(tpath("c/corpus"), 0755);
    for (int i = 1; i <= 40; i++) {
        char name[64], text[64];
        snprintf(name, sizeof name, "c/moby-dick/data/chapter_%d.txt", i);
        snprintf(text, sizeof text, "CHAPTER %d.\nMoby paragraph %d.\n", i, i);
        write_text(tpath(name), text);
    }
    write_text(tpath("c/moby-dick/data/data.txt"), "ALL CHAPTERS AGAIN (never read)\n");
    /* a source of 40 documents, one of 3 (the last documents holding 1/20 of a source's bytes are held out) */
    char big[4096];
    size_t n = 0;
    for (int i = 1; i <= 40; i++) n += (size_t)sprintf(big + n, "%sbook %d line one\nbook %d line two\n", i > 1 ? "\n" : "", i, i);
    write_file(tpath("c/corpus/a.txt"), big, n);
    write_text(tpath("c/corpus/b.txt"), "small one\n\nsmall two\n\nsmall three\n");
    char *tr, *va;
    size_t tl, vl;
    int rc = fastfnet_text_corpus(tpath("c"), &tr, &tl, &va, &vl, err, sizeof err);
    check(rc == 0, "fake corpus loads: %s", rc ? err : "ok");
    if (rc) return;
    check(tl == strlen(tr) && vl == strlen(va), "lengths match the texts");
    check(strstr(va, "Moby paragraph 39.") && strstr(va, "Moby paragraph 40.") && !strstr(va, "Moby paragraph 38.") && !strstr(tr, "Moby paragraph 39.") &&
              strstr(tr, "Moby paragraph 1.") && strstr(tr, "Moby paragraph 38.") && !strstr(tr, "ALL CHAPTERS"),
          "Moby Dick: its last chapters holding 5%% of it (39 and 40 of 40) are held out, data.txt is not read");
    check(strstr(va, "book 39 line one\nbook 39 line two\n\nbook 40 line one") && !strstr(tr, "book 39 line") && !strstr(va, "book 38") &&
              strstr(tr, "book 1 line one\nbook 1 line two\n\nbook 2 line one") && strstr(tr, "book 37 line two\n\nbook 38 line one"),
          "a corpus text: its last documents holding 5%% of it are held out whole, the others stay in order");
    check(strstr(tr, "small one\n\nsmall two\n\n") && strstr(va, "small three\n\n") && !strstr(tr, "small three"),
          "a source of 3 documents keeps 2 for training");
    write_text(tpath("c/corpus/b.txt"), "one document only\n");
    free(tr), free(va);
    rc = fastfnet_text_corpus(tpath("c"), &tr, &tl, &va, &vl, err, sizeof err);
    check(rc == 0 && strstr(tr, "one document only\n\n") && !strstr(va, "one document"), "a source of one document is all training text");
    free(tr), free(va);
    remove(tpath("c/corpus/a.txt")), remove(tpath("c/corpus/b.txt"));
    rc = fastfnet_text_corpus(tpath("c"), &tr, &tl, &va, &vl, err, sizeof err);
    check(rc == -1 && strstr(err, "fetch_data.sh --only corpus") && one_line(err), "an empty corpus folder is one line naming the fetcher: %s", err);
    rc = fastfnet_text_corpus(tpath("nowhere"), &tr, &tl, &va, &vl, err, sizeof err);
    check(rc == -1 && strstr(err, "fetch_data.sh --only moby") && one_line(err), "a missing data folder is one line: %s", err);
}

/* The real corpus, read (not tokenized): at least 30 MB, no SOTU address in it, ~5% held out. */
static void test_corpus_real(const char *data_dir) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/corpus", data_dir);
    struct stat st;
    if (stat(dir, &st)) {
        printf("skip: %s is not there (scripts/fetch_data.sh --only corpus): the real corpus checks did not run\n", dir);
        return;
    }
    char *tr, *va;
    size_t tl, vl;
    int rc = fastfnet_text_corpus(data_dir, &tr, &tl, &va, &vl, err, sizeof err);
    check(rc == 0, "real corpus loads: %s", rc ? err : "ok");
    if (rc) return;
    printf("corpus: %zu train bytes, %zu valid bytes\n", tl, vl);
    check(tl + vl >= 30000000, "the corpus holds >= 30 MB (%zu bytes)", tl + vl);
    check(vl >= (tl + vl) / 20 && vl < (tl + vl) / 15, "5-6.7%% of it is held out (%.1f%%)", 100.0 * (double)vl / (double)(tl + vl));
    check(!strstr(tr, "Fellow-Citizens of the Senate and House of Representatives") && !strstr(va, "Fellow-Citizens of the Senate and House"),
          "no State of the Union address is in the corpus");
    free(tr), free(va);
}

/* The SpamAssassin reader on a fake corpus: a missing message names the fetcher; one that exists but cannot be
 * read says so (it used to be called missing too); a complete corpus splits about 80/10/10. */
static void test_spam_fake(void) {
    char err[512], name[64];
    fastfnet_records r[3];
    mkdir(tpath("sp"), 0755);
    mkdir(tpath("sp/data"), 0755);
    mkdir(tpath("sp/data/ham"), 0755);
    char list[8192];
    size_t k = (size_t)snprintf(list, sizeof list, "[");
    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof name, "sp/data/ham/%02d.txt", i);
        char msg[128];
        snprintf(msg, sizeof msg, "Message-ID: <%d@x>\nSubject: s\n\nbody %d", i, i);
        write_text(tpath(name), msg);
        k += (size_t)snprintf(list + k, sizeof list - k, "%s\"ham/%02d.txt\"", i ? ", " : "", i);
    }
    snprintf(list + k, sizeof list - k, "]");
    write_text(tpath("sp/data/file_list.json"), list);
    int rc = fastfnet_records_spam(&r[0], &r[1], &r[2], tpath("sp"), err, sizeof err);
    check(rc == 0 && r[0].n + r[1].n + r[2].n == 60 && r[1].n > 0 && r[2].n > 0 && !strcmp(r[0].label[0], "ham"),
          "a fake corpus of 60 messages is read: %d / %d / %d (%s)", r[0].n, r[1].n, r[2].n, rc ? err : "ok");
    if (rc == 0) free3(r);
    write_text(tpath("sp/data/file_list.json"), "[\"ham/00.txt\", \"ham/gone.txt\"]");
    rc = fastfnet_records_spam(&r[0], &r[1], &r[2], tpath("sp"), err, sizeof err);
    check(rc == -1 && strstr(err, "gone.txt: missing") && strstr(err, "fetch_data.sh") && one_line(err),
          "a missing message names itself and the fetcher: %s", err);
    mkdir(tpath("sp/data/ham/dir.txt"), 0755);
    write_text(tpath("sp/data/file_list.json"), "[\"ham/00.txt\", \"ham/dir.txt\"]");
    rc = fastfnet_records_spam(&r[0], &r[1], &r[2], tpath("sp"), err, sizeof err);
    check(rc == -1 && strstr(err, "dir.txt: is a directory") && !strstr(err, "missing") && one_line(err),
          "a message that cannot be read is not called missing: %s", err);
}

int main(int argc, char **argv) {
    const char *data_dir = argc > 1 ? argv[1] : "data";
    check(check_tmpdir("fastfnet_data_") != NULL, "scratch directory");
    test_eras();
    test_sotu_fake();
    test_sotu_errors();
    test_corpus_fake();
    test_spam_fake();
    test_sotu_real(data_dir);
    test_corpus_real(data_dir);
    check_tmpdir_remove();
    return check_summary();
}
