/* plot.h: `fastfnet plot`'s engine: training metrics (JSON lines) to a self-contained two-panel SVG. */
#ifndef FASTFNET_PLOT_H
#define FASTFNET_PLOT_H
#include <stddef.h>

/* What a plot read, for the CLI to report (skipped values are also noted in the SVG itself). */
typedef struct {
    long lines;           /* non-blank lines read, all files */
    long points;          /* points drawn before thinning (one per metric value) */
    long skipped;         /* values (or whole lines, for a non-finite step) dropped as NaN/Inf/null */
    long partial;         /* unterminated, unparsable last lines ignored (a run still writing) */
} fastfnet_plot_stats;

/* Draw loss (train "loss" and "eval_loss") and accuracy ("eval_accuracy", and "eval_mlm_accuracy" if present)
 * against step as an SVG with two panels, for one or more metrics files. 0 ok; -1 with a one-line message
 * naming the file and line for a malformed line (bad JSON, not an object, missing or non-numeric "step",
 * a metric that is neither a number nor null). Non-finite values (NaN, Infinity as Python or printf write
 * them, or null) are skipped with a count rather than failing. A file with nothing to draw is an error
 * ("no data"). Legend label: the file's first "run" string, else its basename without extension (for a file
 * named metrics.jsonl, the trainer's name in every run folder, the folder's name).
 * title may be NULL (a default is used). Writes atomically (temp + rename): on failure out_svg is untouched. */
int fastfnet_plot_svg(const char *const *metrics_paths, int npaths, const char *out_svg, const char *title, char *err,
                 size_t errlen);
/* The same, also filling *stats (may be NULL). */
int fastfnet_plot_svg_stats(const char *const *metrics_paths, int npaths, const char *out_svg, const char *title,
                       fastfnet_plot_stats *stats, char *err, size_t errlen);
#endif
