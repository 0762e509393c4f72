/* plot.c: `fastfnet plot`'s engine: reads metrics JSON lines, draws loss and accuracy panels as one SVG. */
#define _POSIX_C_SOURCE 200809L
#include "plot.h"
#include "fastfnet_util.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- the series we draw ---- */

enum { S_LOSS, S_EVAL_LOSS, S_ACC, S_MLM_ACC, S_N };
static const char *const series_key[S_N] = {"loss", "eval_loss", "eval_accuracy", "eval_mlm_accuracy"};
static const char *const series_name[S_N] = {"train loss", "eval loss", "eval accuracy", "eval MLM accuracy"};
static const int series_panel[S_N] = {0, 0, 1, 1};
/* train solid, eval dashed; MLM accuracy dotted so it stays apart from eval accuracy in the same colour */
static const char *const series_dash[S_N] = {NULL, "7,4", "7,4", "2,3"};
/* one run: a colour per series; several runs: a colour per run and the dash tells the series apart */
static const char *const series_colour[S_N] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
static const char *const run_colour[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_RUN_COLOURS ((int)(sizeof run_colour / sizeof run_colour[0]))

typedef struct {
    double *x, *y;
    size_t n, cap;
} series;

typedef struct {
    char *label;
    series s[S_N];
} run;

static int series_push(series *s, double x, double y) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) return -1;
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return -1;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 0;
}

static void run_free(run *r) {
    free(r->label);
    for (int k = 0; k < S_N; k++) {
        free(r->s[k].x);
        free(r->s[k].y);
    }
}

/* ---- reading ---- */

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int word_is(const char *w, size_t n, const char *lit) {
    if (strlen(lit) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((w[i] | 0x20) != lit[i]) return 0;
    return 1;
}

/* Python's json writes NaN/Infinity and printf writes nan/inf; strict JSON has neither. Rewrite those bare
 * words (outside strings) as null so the line parses and the value is skipped. NULL if nothing changed. */
static char *nonfinite_to_null(const char *s, size_t n, size_t *outn) {
    char *o = malloc(2 * n + 8);
    if (!o) return NULL;
    size_t m = 0;
    int in_str = 0, changed = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            o[m++] = c;
            if (c == '\\' && i + 1 < n) o[m++] = s[++i];
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            o[m++] = c;
            continue;
        }
        int sign = (c == '-' || c == '+') && i + 1 < n && is_alpha((unsigned char)s[i + 1]);
        if (sign || is_alpha((unsigned char)c)) {
            size_t j = i + (size_t)sign, k = j;
            while (k < n && is_alpha((unsigned char)s[k])) k++;
            if (word_is(s + j, k - j, "nan") || word_is(s + j, k - j, "inf") || word_is(s + j, k - j, "infinity")) {
                memcpy(o + m, "null", 4);
                m += 4;
                changed = 1;
            } else {
                memcpy(o + m, s + i, k - i);
                m += k - i;
            }
            i = k - 1;
            continue;
        }
        o[m++] = c;
    }
    if (!changed) {
        free(o);
        return NULL;
    }
    *outn = m;
    return o;
}

/* A file's legend label: its basename without extension; for the trainer's own metrics.jsonl, which every run
 * folder holds (so several runs' RUN/metrics.jsonl would all be "metrics"), its folder's name. */
static char *label_from_path(const char *path) {
    const char *b = strrchr(path, '/');
    if (b && strcmp(b + 1, "metrics.jsonl") == 0) {
        const char *e = b;
        while (e > path && e[-1] == '/') e--;
        const char *d = e;
        while (d > path && d[-1] != '/') d--;
        if (e > d && !(e - d == 1 && *d == '.')) return strndup(d, (size_t)(e - d));
    }
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    if (n == 0) return strdup(path);
    return strndup(b, n);
}

/* One line: 0 used (or skipped), -1 error (err set). */
static int take_line(const char *path, long lineno, const fastfnet_json *j, run *r, fastfnet_plot_stats *st, char *err,
                     size_t errlen) {
    if (j->type != FASTFNET_JSON_OBJECT) return fastfnet_err(err, errlen, "%s:%ld: not a JSON object", path, lineno);
    const fastfnet_json *sv = fastfnet_json_get(j, "step");
    if (!sv) return fastfnet_err(err, errlen, "%s:%ld: no \"step\"", path, lineno);
    if (sv->type == FASTFNET_JSON_NULL) { /* a non-finite step: nothing on the line can be placed */
        st->skipped++;
        return 0;
    }
    if (sv->type != FASTFNET_JSON_NUMBER) return fastfnet_err(err, errlen, "%s:%ld: \"step\" is not a number", path, lineno);
    if (!r->label) {
        const char *rn = fastfnet_json_get_str(j, "run");
        if (rn && *rn && !(r->label = strdup(rn))) return fastfnet_err(err, errlen, "%s: out of memory", path);
    }
    for (int k = 0; k < S_N; k++) {
        const fastfnet_json *v = fastfnet_json_get(j, series_key[k]);
        if (!v) continue;
        if (v->type == FASTFNET_JSON_NULL || (v->type == FASTFNET_JSON_NUMBER && !isfinite(v->number))) {
            st->skipped++;
            continue;
        }
        if (v->type != FASTFNET_JSON_NUMBER)
            return fastfnet_err(err, errlen, "%s:%ld: \"%s\" is not a number", path, lineno, series_key[k]);
        if (series_push(&r->s[k], sv->number, v->number) != 0)
            return fastfnet_err(err, errlen, "%s: out of memory", path);
        st->points++;
    }
    return 0;
}

static int read_run(const char *path, run *r, fastfnet_plot_stats *st, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return fastfnet_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long len, lineno = 0;
    int rc = 0, terminated;
    while ((len = fastfnet_read_line(fp, &line, &cap, &terminated)) >= 0) {
        lineno++;
        size_t n = (size_t)len, b = 0;
        while (b < n && (line[b] == ' ' || line[b] == '\t' || line[b] == '\r')) b++;
        if (b == n) continue;
        st->lines++;
        char perr[200];
        fastfnet_json *j = fastfnet_json_parse(line, n, perr, sizeof perr);
        if (!j) {
            size_t m = 0;
            char *fixed = nonfinite_to_null(line, n, &m);
            if (fixed) j = fastfnet_json_parse(fixed, m, NULL, 0);
            free(fixed);
        }
        if (!j) {
            /* an unfinished last line is a run still writing, not a broken file */
            if (!terminated) {
                st->partial++;
                break;
            }
            const char *msg = strncmp(perr, "line 1, ", 8) == 0 ? perr + 8 : perr;
            rc = fastfnet_err(err, errlen, "%s:%ld: bad JSON (%s)", path, lineno, msg);
            break;
        }
        rc = take_line(path, lineno, j, r, st, err, errlen);
        fastfnet_json_free(j);
        if (rc) break;
    }
    if (!rc && len == -2) rc = fastfnet_err(err, errlen, "%s: reading failed after line %ld (%s)", path, lineno, strerror(errno));
    free(line);
    fclose(fp);
    if (!rc && !r->label && !(r->label = label_from_path(path)))
        rc = fastfnet_err(err, errlen, "%s: out of memory", path);
    return rc;
}

/* ---- output buffer ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
    if (b->oom || b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) {
        sb_put(b, tmp, (size_t)k);
        return;
    }
    sb_reserve(b, (size_t)k);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1; }

/* Text as XML character data: escaped, at most maxchars characters (then an ellipsis). Bytes that are not
 * UTF-8 or characters XML forbids (controls, U+FFFE/F) become '?', so any file name or run name is safe. */
static void sb_xml(sbuf *b, const char *s, size_t maxchars) {
    size_t chars = 0;
    for (size_t i = 0; s[i];) {
        if (chars == maxchars) {
            sb_put(b, "\xe2\x80\xa6", 3);
            return;
        }
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_len(c);
        size_t avail = strnlen(s + i, k);
        chars++;
        if (k > 1) {
            int ok = avail == k && fastfnet_json_utf8_valid(s + i, k) &&
                     !(k == 3 && c == 0xEF && (unsigned char)s[i + 1] == 0xBF && (unsigned char)s[i + 2] >= 0xBE);
            if (ok) sb_put(b, s + i, k);
            else sb_put(b, "?", 1);
            i += ok ? k : 1;
            continue;
        }
        i++;
        switch (c) {
        case '&': sb_put(b, "&amp;", 5); break;
        case '<': sb_put(b, "&lt;", 4); break;
        case '>': sb_put(b, "&gt;", 4); break;
        case '"': sb_put(b, "&quot;", 6); break;
        case '\'': sb_put(b, "&#39;", 5); break;
        default:
            if (c < 0x20 || c >= 0x7F) sb_put(b, "?", 1);
            else sb_put(b, (const char *)&c, 1);
        }
    }
}

/* ---- axes ---- */

typedef struct {
    double lo, hi, step; /* step 0: no nice ticks could be found (extreme range); ticks at lo and hi */
    int nticks;
} axis;

/* Ticks at 1, 2 or 5 times a power of ten, about 5 of them, the axis widened to whole ticks.
 * integral: the values are whole numbers (steps), so ticks are too. */
static axis nice_axis(double lo, double hi, int integral) {
    axis a;
    double scale = fmax(fabs(lo), fabs(hi));
    if (integral && hi - lo < 2) { /* a single step: 6, 7, 8 rather than 6.2 .. 7.8 */
        lo -= 1;
        hi += 1;
    } else if (!(hi - lo > 1e-12 * scale)) { /* constant series or a single point: give it room to be seen */
        double d = scale > 0 ? 0.1 * scale : 1;
        lo -= d;
        hi += d;
    }
    double rough = (hi * 0.5 - lo * 0.5) * 0.4; /* halves: hi - lo may overflow */
    double mag = pow(10, floor(log10(rough)));
    double norm = rough / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    if (integral && step < 1) step = 1;
    a.lo = floor(lo / step) * step;
    a.hi = ceil(hi / step) * step;
    a.step = step;
    double nt = (a.hi - a.lo) / step;
    if (!isfinite(step) || step <= 0 || !isfinite(a.lo) || !isfinite(a.hi) || !isfinite(nt) || nt > 40 || nt < 1) {
        a.lo = lo;
        a.hi = hi;
        a.step = 0;
        a.nticks = 2;
        return a;
    }
    a.nticks = (int)llround(nt) + 1;
    return a;
}

static double axis_tick(const axis *a, int i) {
    if (a->step == 0) return i == 0 ? a->lo : a->hi;
    /* integer multiples of step, so zero is exactly zero */
    return (floor(a->lo / a->step + 0.5) + i) * a->step;
}

/* Fraction 0..1 of v along the axis; in halves so extreme ranges do not overflow. */
static double axis_frac(const axis *a, double v) { return (v * 0.5 - a->lo * 0.5) / (a->hi * 0.5 - a->lo * 0.5); }

static void fmt_tick(char *buf, size_t n, double v, double step) {
    if (step > 0 && fabs(v) < step * 1e-6) v = 0; /* no "-0" */
    if (step >= 1 && fabs(v) < 1e9) snprintf(buf, n, "%.0f", v);
    else if (step >= 1e-6 && fabs(v) < 1e9) {
        int dec = (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, n, "%.*f", dec < 0 ? 0 : dec, v);
    } else snprintf(buf, n, "%.3g", v);
}

/* ---- drawing ---- */

enum { W = 900, H = 720, PL = 78, PR = 718, LEGEND_X = 740 };
static const int panel_top[2] = {64, 396}, panel_bot[2] = {320, 652};
static const char *const panel_ylabel[2] = {"loss", "accuracy"};
static const char *const panel_empty[2] = {"no loss data", "no accuracy data"};

typedef struct {
    axis x, y;
    int top, bot;
} frame;

static double fx(const frame *f, double v) { return PL + axis_frac(&f->x, v) * (PR - PL); }
static double fy(const frame *f, double v) { return f->bot - axis_frac(&f->y, v) * (f->bot - f->top); }

static void put_point(sbuf *b, const frame *f, const series *s, size_t i, int *first) {
    sb_printf(b, *first ? "%.1f,%.1f" : " %.1f,%.1f", fx(f, s->x[i]), fy(f, s->y[i]));
    *first = 0;
}

/* Long series are thinned per pixel column to first, min, max and last (in order): what a 1-px column can
 * show is kept exactly, and 100k points become a few thousand. */
static void put_points(sbuf *b, const frame *f, const series *s) {
    int first = 1;
    if (s->n <= 4 * (size_t)(PR - PL)) {
        for (size_t i = 0; i < s->n; i++) put_point(b, f, s, i, &first);
        return;
    }
    size_t start = 0;
    while (start < s->n) {
        double col = floor(fx(f, s->x[start]));
        size_t imin = start, imax = start, end = start + 1;
        while (end < s->n && floor(fx(f, s->x[end])) == col) {
            if (s->y[end] < s->y[imin]) imin = end;
            if (s->y[end] > s->y[imax]) imax = end;
            end++;
        }
        size_t idx[4] = {start, imin, imax, end - 1};
        for (int a = 1; a < 4; a++) /* sort 4 indices to keep file order */
            for (int c = a; c > 0 && idx[c] < idx[c - 1]; c--) {
                size_t t = idx[c];
                idx[c] = idx[c - 1];
                idx[c - 1] = t;
            }
        for (int a = 0; a < 4; a++)
            if (a == 0 || idx[a] != idx[a - 1]) put_point(b, f, s, idx[a], &first);
        start = end;
    }
}

static const char *colour_of(int nruns, int r, int k) {
    return nruns == 1 ? series_colour[k] : run_colour[r % N_RUN_COLOURS];
}

static void draw_grid(sbuf *b, const frame *f) {
    sb_printf(b, "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    for (int i = 0; i < f->x.nticks; i++) {
        double x = fx(f, axis_tick(&f->x, i));
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x, f->top, x, f->bot);
    }
    for (int i = 0; i < f->y.nticks; i++) {
        double y = fy(f, axis_tick(&f->y, i));
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", PL, y, PR, y);
    }
    sb_printf(b, "</g>\n");
}

static void draw_tick_labels(sbuf *b, const frame *f) {
    char lab[64];
    sb_printf(b, "<g class=\"ticks\" font-size=\"11\" fill=\"#333333\">\n");
    for (int i = 0; i < f->x.nticks; i++) {
        double v = axis_tick(&f->x, i);
        fmt_tick(lab, sizeof lab, v, f->x.step);
        sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", fx(f, v), f->bot + 15, lab);
    }
    for (int i = 0; i < f->y.nticks; i++) {
        double v = axis_tick(&f->y, i);
        fmt_tick(lab, sizeof lab, v, f->y.step);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", PL - 6, fy(f, v) + 4, lab);
    }
    sb_printf(b, "</g>\n");
}

/* Series k of run r as one polyline. */
static void draw_series(sbuf *b, const frame *f, const series *s, int r, int k, const char *col) {
    sb_printf(b, "<polyline class=\"series\" data-run=\"%d\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
              "stroke-width=\"1.6\" stroke-linejoin=\"round\"", r, series_key[k], col);
    if (series_dash[k]) sb_printf(b, " stroke-dasharray=\"%s\"", series_dash[k]);
    sb_printf(b, " points=\"");
    put_points(b, f, s);
    sb_printf(b, "\"/>\n");
    /* sparse series (evals, a single point) get markers so each value is visible */
    if (s->n <= 40)
        for (size_t i = 0; i < s->n; i++)
            sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>\n", fx(f, s->x[i]),
                      fy(f, s->y[i]), col);
}

/* Panel p's series of every run, in run order. */
static void draw_panel_series(sbuf *b, int p, const frame *f, const run *runs, int nruns) {
    /* clip a little outside the frame so points on the edge keep their full stroke */
    sb_printf(b, "<g clip-path=\"url(#clip%d)\">\n", p);
    for (int r = 0; r < nruns; r++)
        for (int k = 0; k < S_N; k++) {
            const series *s = &runs[r].s[k];
            if (series_panel[k] != p || s->n == 0) continue;
            draw_series(b, f, s, r, k, colour_of(nruns, r, k));
        }
    sb_printf(b, "</g>\n");
}

/* The frame drawn last, over the series, with the axis labels. */
static void draw_frame(sbuf *b, int p, const frame *f) {
    int t = f->top, bt = f->bot;
    sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444444\"/>\n", PL, t,
              PR - PL, bt - t);
    sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333333\">step</text>\n",
              (PL + PR) / 2, bt + 32);
    sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" fill=\"#333333\" "
              "transform=\"rotate(-90 %d %d)\">%s</text>\n", 24, (t + bt) / 2, 24, (t + bt) / 2, panel_ylabel[p]);
}

static void draw_panel(sbuf *b, int p, const frame *f, int has_data, const run *runs, int nruns) {
    int t = f->top, bt = f->bot;
    sb_printf(b, "<g class=\"panel\" id=\"panel-%s\">\n", p == 0 ? "loss" : "accuracy");
    sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#ffffff\" stroke=\"none\"/>\n", PL, t,
              PR - PL, bt - t);
    if (!has_data) {
        sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#888888\" font-size=\"15\">%s</text>\n",
                  (PL + PR) / 2, (t + bt) / 2, panel_empty[p]);
    } else {
        draw_grid(b, f);
        draw_tick_labels(b, f);
        draw_panel_series(b, p, f, runs, nruns);
    }
    draw_frame(b, p, f);
    sb_printf(b, "</g>\n");
}

static void legend_swatch(sbuf *b, int y, const char *col, const char *dash) {
    sb_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.2\"", LEGEND_X, y - 4,
              LEGEND_X + 26, y - 4, col);
    if (dash) sb_printf(b, " stroke-dasharray=\"%s\"", dash);
    sb_printf(b, "/>\n");
}

static void draw_legend(sbuf *b, const run *runs, int nruns, const int present[S_N]) {
    int y = panel_top[0] + 8, step = 19, ymax = H - 40;
    sb_printf(b, "<g class=\"legend\" font-size=\"12\" fill=\"#222222\">\n");
    if (nruns == 1) { /* the run's name, then its series in their colours */
        sb_printf(b, "<text class=\"legend-run\" x=\"%d\" y=\"%d\" font-weight=\"bold\">", LEGEND_X, y);
        sb_xml(b, runs[0].label, 22);
        sb_printf(b, "</text>\n");
        y += step + 2;
        for (int k = 0; k < S_N; k++) {
            if (!present[k]) continue;
            legend_swatch(b, y, series_colour[k], series_dash[k]);
            sb_printf(b, "<text class=\"legend-series\" x=\"%d\" y=\"%d\">%s</text>\n", LEGEND_X + 32, y,
                      series_name[k]);
            y += step;
        }
    } else { /* runs by colour, then series by line style */
        int nkinds = 0;
        for (int k = 0; k < S_N; k++) nkinds += present[k];
        int room = (ymax - y - (nkinds + 2) * step) / step;
        sb_printf(b, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">runs</text>\n", LEGEND_X, y);
        y += step + 2;
        for (int r = 0; r < nruns; r++) {
            if (r == room - 1 && nruns > room) {
                sb_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"#666666\">+%d more</text>\n", LEGEND_X + 32, y,
                          nruns - r);
                y += step;
                break;
            }
            legend_swatch(b, y, run_colour[r % N_RUN_COLOURS], NULL);
            sb_printf(b, "<text class=\"legend-run\" x=\"%d\" y=\"%d\">", LEGEND_X + 32, y);
            sb_xml(b, runs[r].label, 17);
            sb_printf(b, "</text>\n");
            y += step;
        }
        y += 8;
        sb_printf(b, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">lines</text>\n", LEGEND_X, y);
        y += step + 2;
        for (int k = 0; k < S_N; k++) {
            if (!present[k]) continue;
            legend_swatch(b, y, "#555555", series_dash[k]);
            sb_printf(b, "<text class=\"legend-series\" x=\"%d\" y=\"%d\">%s</text>\n", LEGEND_X + 32, y,
                      series_name[k]);
            y += step;
        }
    }
    sb_printf(b, "</g>\n");
}

static void render(sbuf *b, const run *runs, int nruns, const char *title, const fastfnet_plot_stats *st) {
    int present[S_N] = {0}, has[2] = {0, 0}, integral = 1;
    double xmin = INFINITY, xmax = -INFINITY, ymin[2] = {INFINITY, INFINITY}, ymax[2] = {-INFINITY, -INFINITY};
    for (int r = 0; r < nruns; r++)
        for (int k = 0; k < S_N; k++) {
            const series *s = &runs[r].s[k];
            int p = series_panel[k];
            for (size_t i = 0; i < s->n; i++) {
                xmin = fmin(xmin, s->x[i]);
                integral &= s->x[i] == floor(s->x[i]) && fabs(s->x[i]) < 1e15;
                xmax = fmax(xmax, s->x[i]);
                ymin[p] = fmin(ymin[p], s->y[i]);
                ymax[p] = fmax(ymax[p], s->y[i]);
            }
            if (s->n) present[k] = has[p] = 1;
        }
    frame f[2];
    axis xa = nice_axis(xmin, xmax, integral); /* the caller guarantees at least one point */
    for (int p = 0; p < 2; p++) {
        f[p].x = xa;
        f[p].y = has[p] ? nice_axis(ymin[p], ymax[p], 0) : nice_axis(0, 1, 0);
        f[p].top = panel_top[p];
        f[p].bot = panel_bot[p];
    }

    sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n", W, H, W, H);
    sb_printf(b, "<title>");
    sb_xml(b, title, 200);
    sb_printf(b, "</title>\n<defs>\n");
    for (int p = 0; p < 2; p++)
        sb_printf(b, "<clipPath id=\"clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", p,
                  PL - 4, panel_top[p] - 4, PR - PL + 8, panel_bot[p] - panel_top[p] + 8);
    sb_printf(b, "</defs>\n<rect width=\"%d\" height=\"%d\" fill=\"#fafafa\"/>\n", W, H);
    sb_printf(b, "<text class=\"title\" x=\"%d\" y=\"36\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\" "
              "fill=\"#111111\">", W / 2);
    sb_xml(b, title, 80);
    sb_printf(b, "</text>\n");
    for (int p = 0; p < 2; p++) draw_panel(b, p, &f[p], has[p], runs, nruns);
    draw_legend(b, runs, nruns, present);
    if (st->skipped || st->partial) {
        sb_printf(b, "<text class=\"note\" x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#996600\">", PL, H - 10);
        if (st->skipped) sb_printf(b, "skipped %ld non-finite value%s", st->skipped, st->skipped == 1 ? "" : "s");
        if (st->skipped && st->partial) sb_printf(b, "; ");
        if (st->partial) sb_printf(b, "ignored %ld unfinished last line%s", st->partial, st->partial == 1 ? "" : "s");
        sb_printf(b, "</text>\n");
    }
    sb_printf(b, "</svg>\n");
}

/* ---- entry points ---- */

int fastfnet_plot_svg_stats(const char *const *metrics_paths, int npaths, const char *out_svg, const char *title,
                       fastfnet_plot_stats *stats, char *err, size_t errlen) {
    fastfnet_plot_stats st = {0, 0, 0, 0};
    if (stats) *stats = st;
    if (!metrics_paths || npaths < 1) return fastfnet_err(err, errlen, "plot: no metrics files given");
    if (!out_svg || !*out_svg) return fastfnet_err(err, errlen, "plot: no output path");
    for (int i = 0; i < npaths; i++)
        if (!metrics_paths[i]) return fastfnet_err(err, errlen, "plot: metrics path %d is NULL", i);
    run *runs = calloc((size_t)npaths, sizeof *runs);
    if (!runs) return fastfnet_err(err, errlen, "plot: out of memory");
    int rc = 0;
    for (int i = 0; i < npaths && !rc; i++) {
        long before = st.points;
        rc = read_run(metrics_paths[i], &runs[i], &st, err, errlen);
        if (!rc && st.points == before)
            rc = fastfnet_err(err, errlen, "%s: no data (no line with \"step\" and a finite loss or accuracy)",
                         metrics_paths[i]);
    }
    if (!rc) {
        sbuf b = {NULL, 0, 0, 0};
        render(&b, runs, npaths, title && *title ? title : "Training metrics", &st);
        if (b.oom) rc = fastfnet_err(err, errlen, "%s: out of memory building the SVG", out_svg);
        else rc = fastfnet_write_file_atomic(out_svg, b.p, b.n, err, errlen);
        free(b.p);
    }
    for (int i = 0; i < npaths; i++) run_free(&runs[i]);
    free(runs);
    if (stats) *stats = st;
    return rc;
}

int fastfnet_plot_svg(const char *const *metrics_paths, int npaths, const char *out_svg, const char *title, char *err,
                 size_t errlen) {
    return fastfnet_plot_svg_stats(metrics_paths, npaths, out_svg, title, NULL, err, errlen);
}
