/* test_plot.c: self-checking tests for the metrics plotter: SVG structure, point counts, legends, errors
 * with file:line, non-finite values, atomic output, XML escaping, big files; renders /tmp/plot_sample.svg. */
#define _XOPEN_SOURCE 700
#include "check.h"
#include "plot.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int count(const char *hay, const char *needle) {
    int n = 0;
    size_t k = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + k, needle)) n++;
    return n;
}

/* Points in the polyline of series `key` of run `run_idx`, or -1 if there is none. */
static int polyline_points(const char *svg, int run_idx, const char *key) {
    char tag[128];
    snprintf(tag, sizeof tag, "data-run=\"%d\" data-series=\"%s\"", run_idx, key);
    const char *p = strstr(svg, tag);
    if (!p) return -1;
    p = strstr(p, "points=\"");
    if (!p) return -1;
    p += 8;
    int n = 0;
    for (; *p && *p != '"'; p++)
        if (*p == ',') n++;
    return n;
}

/* Every tag closes in order (a minimal well-formedness check that needs no XML library). */
static int tags_balanced(const char *s, char *why, size_t whylen) {
    char stack[64][32];
    int depth = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        const char *e = strchr(p, '>');
        if (!e) return snprintf(why, whylen, "unterminated tag"), 0;
        if (p[1] == '?' || p[1] == '!') continue;
        int closing = p[1] == '/';
        const char *nm = p + 1 + closing;
        size_t nl = strcspn(nm, " \t\n/>");
        if (nl == 0 || nl >= 32) return snprintf(why, whylen, "bad tag name"), 0;
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], nm, nl) != 0 || stack[depth - 1][nl])
                return snprintf(why, whylen, "</%.*s> does not close the open tag", (int)nl, nm), 0;
            depth--;
        } else if (e[-1] != '/') {
            if (depth == 64) return snprintf(why, whylen, "too deep"), 0;
            memcpy(stack[depth], nm, nl);
            stack[depth++][nl] = 0;
        }
    }
    if (depth) return snprintf(why, whylen, "<%s> never closed", stack[depth - 1]), 0;
    return 1;
}

static int xmllint_ok(const char *path) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s' 2>/dev/null", path);
    return system(cmd) == 0;
}

static const char *basic_metrics =
    "{\"step\": 100, \"epoch\": 0.1, \"loss\": 3.0, \"lr\": 0.0005, \"tokens_per_s\": 12345, \"elapsed_s\": 1.0}\n"
    "{\"step\": 200, \"epoch\": 0.2, \"loss\": 2.5, \"lr\": 0.0005, \"tokens_per_s\": 12345, \"elapsed_s\": 2.0}\n"
    "{\"step\": 200, \"eval_loss\": 2.6, \"eval_accuracy\": 0.40, \"eval_perplexity\": 13.4, \"elapsed_s\": 2.5}\n"
    "{\"step\": 300, \"epoch\": 0.3, \"loss\": 2.2, \"lr\": 0.0005, \"tokens_per_s\": 12345, \"elapsed_s\": 3.0}\n"
    "\n"
    "{\"step\": 400, \"epoch\": 0.4, \"loss\": 2.0, \"lr\": 0.0004, \"tokens_per_s\": 12345, \"elapsed_s\": 4.0}\n"
    "{\"step\": 400, \"eval_loss\": 2.1, \"eval_accuracy\": 0.55, \"elapsed_s\": 4.5}\n"
    "{\"step\": 500, \"epoch\": 0.5, \"loss\": 1.9, \"lr\": 0.0003, \"tokens_per_s\": 12345, \"elapsed_s\": 5.0}\r\n";

static void test_basic(void) {
    const char *in = tpath("basic.jsonl"), *out = tpath("basic.svg");
    write_text(in, basic_metrics);
    char err[512] = "";
    fastfnet_plot_stats st;
    int rc = fastfnet_plot_svg_stats(&in, 1, out, "basic run", &st, err, sizeof err);
    check_detail(rc == 0, "basic: renders", "rc %d: %s", rc, err);
    char *svg = read_file(out, NULL);
    if (!svg) {
        check_detail(0, "basic: output exists", "%s missing", out);
        return;
    }
    size_t n = strlen(svg);
    while (n && svg[n - 1] == '\n') n--;
    check_detail(strncmp(svg, "<svg", 4) == 0, "basic: starts with <svg", "starts with %.20s", svg);
    check_detail(n >= 6 && strncmp(svg + n - 6, "</svg>", 6) == 0, "basic: ends with </svg>", "ends with %.20s",
                 n >= 20 ? svg + n - 20 : svg);
    int gopen = count(svg, "<g ") + count(svg, "<g>"), gclose = count(svg, "</g>");
    check_detail(gopen == gclose && gopen > 0, "basic: <g> balanced", "%d open, %d close", gopen, gclose);
    check_detail(count(svg, "<text") == count(svg, "</text>"), "basic: <text> balanced", "%d vs %d",
                 count(svg, "<text"), count(svg, "</text>"));
    char why[128] = "";
    check_detail(tags_balanced(svg, why, sizeof why), "basic: all tags nest", "%s", why);
    if (system("command -v xmllint >/dev/null 2>&1") == 0)
        check_detail(xmllint_ok(out), "basic: xmllint accepts", "xmllint --noout %s failed", out);
    int np = polyline_points(svg, 0, "loss"), ne = polyline_points(svg, 0, "eval_loss"),
        na = polyline_points(svg, 0, "eval_accuracy"), nm = polyline_points(svg, 0, "eval_mlm_accuracy");
    check_detail(np == 5 && ne == 2 && na == 2 && nm == -1, "basic: polyline point counts",
                 "loss %d (5), eval_loss %d (2), eval_accuracy %d (2), mlm %d (none)", np, ne, na, nm);
    check_detail(count(svg, "<polyline") == 3, "basic: three polylines", "%d", count(svg, "<polyline"));
    check_detail(count(svg, "stroke-dasharray=\"7,4\"") >= 2, "basic: eval lines dashed", "dashed count %d",
                 count(svg, "stroke-dasharray=\"7,4\""));
    check_detail(count(svg, "class=\"legend-run\"") == 1 && strstr(svg, ">basic</text>"),
                 "basic: legend names the file", "legend-run %d", count(svg, "class=\"legend-run\""));
    check_detail(strstr(svg, ">basic run</text>") != NULL, "basic: title drawn", "no title");
    check_detail(!strstr(svg, "no accuracy data") && !strstr(svg, "no loss data"), "basic: no empty-panel message",
                 "found");
    /* steps 100..500: 1-2-5 ticks of 100 from 100 to 500 */
    check_detail(strstr(svg, ">100</text>") && strstr(svg, ">300</text>") && strstr(svg, ">500</text>") &&
                     !strstr(svg, ">600</text>") && !strstr(svg, ">150</text>"),
                 "basic: nice x ticks", "x tick labels not 100,200,..,500");
    /* loss 1.9..3.0: ticks of 0.2 from 1.8 to 3.0 */
    check_detail(strstr(svg, ">1.8</text>") && strstr(svg, ">3.0</text>") && strstr(svg, ">2.4</text>"),
                 "basic: nice y ticks", "loss tick labels not 1.8..3.0 by 0.2");
    check_detail(!strstr(svg, "nan") && !strstr(svg, "inf"), "basic: no non-finite coordinates", "nan/inf in SVG");
    check_detail(st.lines == 7 && st.points == 9 && st.skipped == 0 && st.partial == 0, "basic: stats",
                 "lines %ld points %ld skipped %ld partial %ld", st.lines, st.points, st.skipped, st.partial);
    free(svg);
}

static void test_two_runs(void) {
    const char *in[2] = {tpath("fnet_base.metrics.jsonl"), tpath("other.jsonl")};
    const char *out = tpath("two.svg");
    write_text(in[0], basic_metrics);
    write_text(in[1], "{\"step\": 10, \"loss\": 4.0, \"run\": \"fast-fnet\"}\n"
                      "{\"step\": 20, \"loss\": 3.0, \"run\": \"fast-fnet\"}\n"
                      "{\"step\": 20, \"eval_loss\": 3.1, \"eval_mlm_accuracy\": 0.2}\n");
    char err[512] = "";
    int rc = fastfnet_plot_svg(in, 2, out, NULL, err, sizeof err);
    check_detail(rc == 0, "two runs: renders", "rc %d: %s", rc, err);
    char *svg = read_file(out, NULL);
    if (!svg) return;
    check_detail(count(svg, "class=\"legend-run\"") == 2, "two runs: two legend entries", "%d",
                 count(svg, "class=\"legend-run\""));
    check_detail(strstr(svg, ">fnet_base.metrics</text>") && strstr(svg, ">fast-fnet</text>"),
                 "two runs: legend labels", "basename-without-extension or run key label missing");
    check_detail(polyline_points(svg, 1, "loss") == 2 && polyline_points(svg, 1, "eval_mlm_accuracy") == 1 &&
                     polyline_points(svg, 0, "loss") == 5,
                 "two runs: per-run polylines", "run1 loss %d, run1 mlm %d, run0 loss %d",
                 polyline_points(svg, 1, "loss"), polyline_points(svg, 1, "eval_mlm_accuracy"),
                 polyline_points(svg, 0, "loss"));
    /* run colours differ */
    const char *a = strstr(svg, "data-run=\"0\" data-series=\"loss\"");
    const char *b = strstr(svg, "data-run=\"1\" data-series=\"loss\"");
    check_detail(a && b && strncmp(strstr(a, "stroke="), strstr(b, "stroke="), 16) != 0, "two runs: distinct colours",
                 "same stroke");
    check_detail(strstr(svg, ">eval MLM accuracy</text>") != NULL, "two runs: mlm accuracy in legend", "missing");
    char why[128] = "";
    check_detail(tags_balanced(svg, why, sizeof why), "two runs: all tags nest", "%s", why);
    free(svg);
}

/* The trainer writes RUN/metrics.jsonl: such files are named by their run folders, not all "metrics". */
static void test_run_folders(void) {
    char d1[300], d2[300], f1[320], f2[320];
    snprintf(d1, sizeof d1, "%s", tpath("text-fnet-s0"));
    snprintf(d2, sizeof d2, "%s", tpath("text-fast-fnet-s0"));
    mkdir(d1, 0700), mkdir(d2, 0700);
    snprintf(f1, sizeof f1, "%s/metrics.jsonl", d1);
    snprintf(f2, sizeof f2, "%s//metrics.jsonl", d2);
    write_text(f1, basic_metrics);
    write_text(f2, basic_metrics);
    /* and a bare metrics.jsonl (no folder in its path) keeps its own name: written in the test folder */
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || chdir(g_check_dir) != 0) return;
    write_text("metrics.jsonl", basic_metrics);
    const char *in[3] = {f1, f2, "metrics.jsonl"};
    const char *out = tpath("folders.svg");
    char err[512] = "";
    int rc = fastfnet_plot_svg(in, 3, out, NULL, err, sizeof err);
    if (chdir(cwd) != 0) return;
    check_detail(rc == 0, "run folders: renders", "rc %d: %s", rc, err);
    char *svg = read_file(out, NULL);
    if (!svg) return;
    check_detail(strstr(svg, ">text-fnet-s0</text>") && strstr(svg, ">text-fast-fnet-s0</text>") &&
                     count(svg, ">metrics</text>") == 1,
                 "run folders: RUN/metrics.jsonl is labelled RUN (a bare metrics.jsonl keeps its name)",
                 "labels: fnet %d, fast-fnet %d, metrics %d", strstr(svg, ">text-fnet-s0</text>") != NULL,
                 strstr(svg, ">text-fast-fnet-s0</text>") != NULL, count(svg, ">metrics</text>"));
    free(svg);
}

static void expect_error(const char *name, const char *file, const char *content, const char *want1,
                         const char *want2) {
    const char *in = tpath(file), *out = tpath("err.svg");
    write_text(in, content);
    char err[512] = "";
    int rc = fastfnet_plot_svg(&in, 1, out, NULL, err, sizeof err);
    check_detail(rc == -1 && strstr(err, want1) && (!want2 || strstr(err, want2)) && !strchr(err, '\n'), name,
                 "rc %d, err '%s' (want '%s'%s%s)", rc, err, want1, want2 ? " and " : "", want2 ? want2 : "");
}

static void test_errors(void) {
    char want[300];
    snprintf(want, sizeof want, "%s:3:", tpath("bad.jsonl"));
    expect_error("malformed: bad JSON names file:line", "bad.jsonl",
                 "{\"step\": 1, \"loss\": 2}\n\n{\"step\": 2, \"loss\": }\n{\"step\": 3, \"loss\": 1}\n", want,
                 "bad JSON");
    expect_error("malformed: missing step", "nostep.jsonl", "{\"step\": 1, \"loss\": 2}\n{\"loss\": 1.5}\n",
                 "nostep.jsonl:2:", "step");
    expect_error("malformed: step not a number", "strstep.jsonl", "{\"step\": \"1\", \"loss\": 2}\n",
                 "strstep.jsonl:1:", "step");
    expect_error("malformed: metric not a number", "strloss.jsonl",
                 "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": \"low\"}\n", "strloss.jsonl:2:", "loss");
    expect_error("malformed: not an object", "arr.jsonl", "[1, 2]\n", "arr.jsonl:1:", "object");
    expect_error("malformed: trailing garbage", "trail.jsonl", "{\"step\": 1, \"loss\": 2} x\n",
                 "trail.jsonl:1:", NULL);
    expect_error("empty file: no data", "empty.jsonl", "", "empty.jsonl", "no data");
    expect_error("blank lines only: no data", "blank.jsonl", "\n  \n\r\n", "blank.jsonl", "no data");
    expect_error("no plotted metric: no data", "lronly.jsonl", "{\"step\": 1, \"lr\": 0.1}\n", "lronly.jsonl",
                 "no data");

    const char *missing = tpath("does_not_exist.jsonl"), *out = tpath("err.svg");
    char err[512] = "";
    int rc = fastfnet_plot_svg(&missing, 1, out, NULL, err, sizeof err);
    check_detail(rc == -1 && strstr(err, "does_not_exist.jsonl") && strstr(err, "cannot open"), "missing file",
                 "rc %d err '%s'", rc, err);

    /* one good file and one missing: still an error */
    const char *two[2] = {tpath("basic.jsonl"), tpath("nope.jsonl")};
    rc = fastfnet_plot_svg(two, 2, out, NULL, err, sizeof err);
    check_detail(rc == -1 && strstr(err, "nope.jsonl"), "missing second file", "rc %d err '%s'", rc, err);

    rc = fastfnet_plot_svg(two, 0, out, NULL, err, sizeof err);
    check_detail(rc == -1, "no files given", "rc %d", rc);
    rc = fastfnet_plot_svg(two, 1, tpath("no_such_dir/x.svg"), NULL, err, sizeof err);
    check_detail(rc == -1 && strstr(err, "no_such_dir"), "unwritable output", "rc %d err '%s'", rc, err);
    check_detail(access(out, F_OK) != 0, "errors: no output written", "%s exists", out);
}

static void test_untouched(void) {
    const char *in = tpath("bad2.jsonl"), *out = tpath("keep.svg");
    write_text(out, "KEEP");
    write_text(in, "{\"step\": 1, \"loss\": 2}\n{oops}\n");
    char err[512] = "";
    int rc = fastfnet_plot_svg(&in, 1, out, "t", err, sizeof err);
    char *s = read_file(out, NULL);
    check_detail(rc == -1 && s && strcmp(s, "KEEP") == 0, "failure leaves existing output untouched",
                 "rc %d content '%s'", rc, s ? s : "(missing)");
    free(s);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    check_detail(access(tmp, F_OK) != 0, "failure leaves no temp file", "%s exists", tmp);
    /* success replaces it, and leaves no temp file either */
    const char *good = tpath("basic.jsonl");
    rc = fastfnet_plot_svg(&good, 1, out, "t", err, sizeof err);
    s = read_file(out, NULL);
    check_detail(rc == 0 && s && strncmp(s, "<svg", 4) == 0 && access(tmp, F_OK) != 0, "success replaces output",
                 "rc %d", rc);
    free(s);
}

static void test_nonfinite(void) {
    const char *in = tpath("nonfinite.jsonl"), *out = tpath("nonfinite.svg");
    write_text(in, "{\"step\": 1, \"loss\": 2.0}\n"
                   "{\"step\": 2, \"loss\": NaN}\n"
                   "{\"step\": 3, \"loss\": Infinity, \"note\": \"NaN stays a string\"}\n"
                   "{\"step\": 4, \"loss\": -Infinity}\n"
                   "{\"step\": 5, \"loss\": nan, \"eval_accuracy\": -inf}\n"
                   "{\"step\": 6, \"loss\": null}\n"
                   "{\"step\": NaN, \"loss\": 1.0}\n"
                   "{\"step\": 8, \"loss\": 1.5, \"eval_accuracy\": 0.5}\n");
    char err[512] = "";
    fastfnet_plot_stats st;
    int rc = fastfnet_plot_svg_stats(&in, 1, out, NULL, &st, err, sizeof err);
    check_detail(rc == 0, "NaN: renders", "rc %d: %s", rc, err);
    check_detail(st.skipped == 7 && st.points == 3, "NaN: skipped with a count", "skipped %ld (7), points %ld (3)",
                 st.skipped, st.points);
    char *svg = read_file(out, NULL);
    if (!svg) return;
    check_detail(polyline_points(svg, 0, "loss") == 2 && polyline_points(svg, 0, "eval_accuracy") == 1,
                 "NaN: points left out", "loss %d (2), eval_accuracy %d (1)", polyline_points(svg, 0, "loss"),
                 polyline_points(svg, 0, "eval_accuracy"));
    check_detail(strstr(svg, "skipped 7 non-finite values") != NULL, "NaN: count noted in SVG", "no note");
    check_detail(!strstr(svg, "nan") && !strstr(svg, "inf\""), "NaN: no non-finite coordinates", "found");
    free(svg);
}

static void test_escaping(void) {
    const char *in = tpath("esc.jsonl"), *out = tpath("esc.svg");
    write_text(in, "{\"step\": 1, \"loss\": 2, \"run\": \"a<b>&\\\"c\\u0001\"}\n");
    char err[512] = "";
    int rc = fastfnet_plot_svg(&in, 1, out, "loss <&> \"quoted\" 'x' \xff", err, sizeof err);
    char *svg = read_file(out, NULL);
    check_detail(rc == 0 && svg, "escaping: renders", "rc %d: %s", rc, err);
    if (!svg) return;
    check_detail(strstr(svg, "loss &lt;&amp;&gt; &quot;quoted&quot; &#39;x&#39; ?") != NULL && !strstr(svg, "<&>"),
                 "escaping: title", "title not escaped");
    check_detail(strstr(svg, ">a&lt;b&gt;&amp;&quot;c?</text>") != NULL, "escaping: run label", "label not escaped");
    char why[128] = "";
    check_detail(tags_balanced(svg, why, sizeof why), "escaping: all tags nest", "%s", why);
    if (system("command -v xmllint >/dev/null 2>&1") == 0)
        check_detail(xmllint_ok(out), "escaping: xmllint accepts", "xmllint --noout %s failed", out);
    free(svg);
}

static void test_degenerate(void) {
    const char *in = tpath("one.jsonl"), *out = tpath("one.svg");
    write_text(in, "{\"step\": 7, \"loss\": 2.5}\n");
    char err[512] = "";
    int rc = fastfnet_plot_svg(&in, 1, out, NULL, err, sizeof err);
    char *svg = read_file(out, NULL);
    check_detail(rc == 0 && svg && polyline_points(svg, 0, "loss") == 1 && count(svg, "<circle") == 1,
                 "single point: polyline and marker", "rc %d: %s", rc, err);
    check_detail(svg && strstr(svg, "no accuracy data") != NULL, "single point: empty accuracy panel message",
                 "missing");
    check_detail(svg && !strstr(svg, "nan") && !strstr(svg, "inf"), "single point: finite coordinates", "nan/inf");
    check_detail(svg && strstr(svg, ">6</text>") && strstr(svg, ">8</text>") && !strstr(svg, ">6.5</text>"),
                 "single point: whole-step x ticks", "x ticks not 6, 7, 8");
    free(svg);

    in = tpath("const.jsonl");
    write_text(in, "{\"step\": 0, \"eval_accuracy\": 0.5}\n{\"step\": 100, \"eval_accuracy\": 0.5}\n"
                   "{\"step\": 200, \"eval_accuracy\": 0.5}\n");
    rc = fastfnet_plot_svg(&in, 1, out, NULL, err, sizeof err);
    svg = read_file(out, NULL);
    check_detail(rc == 0 && svg && polyline_points(svg, 0, "eval_accuracy") == 3 && strstr(svg, "no loss data") &&
                     !strstr(svg, "nan") && !strstr(svg, "inf"),
                 "constant series", "rc %d: %s", rc, err);
    free(svg);

    in = tpath("huge_vals.jsonl");
    write_text(in, "{\"step\": -1e300, \"loss\": -1.7e308}\n{\"step\": 1e300, \"loss\": 1.7e308}\n");
    rc = fastfnet_plot_svg(&in, 1, out, NULL, err, sizeof err);
    svg = read_file(out, NULL);
    check_detail(rc == 0 && svg && polyline_points(svg, 0, "loss") == 2 && !strstr(svg, "nan") && !strstr(svg, "inf"),
                 "extreme values", "rc %d: %s", rc, err);
    free(svg);

    in = tpath("partial.jsonl");
    write_text(in, "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": 1}\n{\"step\": 3, \"lo");
    fastfnet_plot_stats st;
    rc = fastfnet_plot_svg_stats(&in, 1, out, NULL, &st, err, sizeof err);
    check_detail(rc == 0 && st.partial == 1 && st.points == 2, "unfinished last line ignored", "rc %d partial %ld: %s",
                 rc, st.partial, err);
}

static void test_huge(void) {
    const char *in = tpath("huge.jsonl"), *out = tpath("huge.svg");
    FILE *fp = fopen(in, "wb");
    for (int i = 1; i <= 100000; i++) {
        fprintf(fp, "{\"step\": %d, \"epoch\": %.4f, \"loss\": %.6f, \"lr\": 0.0005, \"tokens_per_s\": 12345, "
                    "\"elapsed_s\": %.2f}\n", i, i / 1000.0, 2.0 + 8.0 / (1 + i / 500.0) + 0.1 * sin(i * 0.37), i * 0.1);
        if (i % 1000 == 0)
            fprintf(fp, "{\"step\": %d, \"eval_loss\": %.4f, \"eval_accuracy\": %.4f}\n", i, 2.0 + 8.0 / (1 + i / 500.0),
                    0.7 - 0.6 / (1 + i / 2000.0));
    }
    fclose(fp);
    char err[512] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fastfnet_plot_stats st;
    int rc = fastfnet_plot_svg_stats(&in, 1, out, NULL, &st, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    struct stat sb;
    int sz = stat(out, &sb) == 0 ? (int)sb.st_size : -1;
    char *svg = read_file(out, NULL);
    int np = svg ? polyline_points(svg, 0, "loss") : -1;
    check_detail(rc == 0 && st.points == 100200, "100k lines: renders", "rc %d points %ld: %s", rc, st.points, err);
    check_detail(np > 640 && np <= 4 * 641 && sz > 0 && sz < 400000, "100k lines: thinned output",
                 "%d loss points, %d bytes", np, sz);
    check_detail(polyline_points(svg, 0, "eval_loss") == 100, "100k lines: evals kept", "%d",
                 polyline_points(svg, 0, "eval_loss"));
    printf("  100k lines: %.2f s, %d bytes, %d loss points drawn\n", sec, sz, np);
    check_detail(sec < 20, "100k lines: fast", "%.1f s", sec);
    free(svg);
}

/* Two realistic runs, for looking at: FNet and Fast-FNet, train loss, evals, MLM accuracy on one. */
static void render_sample(void) {
    const char *in[2] = {tpath("fnet-base.jsonl"), tpath("fast-fnet.jsonl")};
    for (int r = 0; r < 2; r++) {
        FILE *fp = fopen(in[r], "wb");
        for (int i = 50; i <= 5000; i += 50) {
            double base = 2.2 + r * 0.25 + 7.5 / (1 + i / (300.0 + 150 * r));
            fprintf(fp, "{\"step\": %d, \"loss\": %.4f, \"lr\": 0.0005}\n", i, base + 0.08 * sin(i * 0.013 + r));
            if (i % 500 == 0) {
                fprintf(fp, "{\"step\": %d, \"eval_loss\": %.4f, \"eval_accuracy\": %.4f", i, base + 0.15,
                        0.82 - r * 0.05 - 0.5 / (1 + i / 800.0));
                if (r == 0) fprintf(fp, ", \"eval_mlm_accuracy\": %.4f", 0.55 - 0.45 / (1 + i / 900.0));
                fprintf(fp, "}\n");
            }
        }
        fclose(fp);
    }
    char err[512] = "";
    int rc = fastfnet_plot_svg(in, 2, "/tmp/plot_sample.svg", "FNet vs Fast-FNet <base>", err, sizeof err);
    check_detail(rc == 0, "sample: /tmp/plot_sample.svg", "rc %d: %s", rc, err);
    rc = fastfnet_plot_svg(in, 1, "/tmp/plot_sample_one.svg", NULL, err, sizeof err);
    check_detail(rc == 0, "sample: /tmp/plot_sample_one.svg", "rc %d: %s", rc, err);
}

int main(void) {
    if (!check_tmpdir("fastfnet_plot_")) {
        perror("mkdtemp");
        return 1;
    }
    test_basic();
    test_two_runs();
    test_run_folders();
    test_errors();
    test_untouched();
    test_nonfinite();
    test_escaping();
    test_degenerate();
    test_huge();
    render_sample();
    check_tmpdir_remove();
    return check_summary();
}
