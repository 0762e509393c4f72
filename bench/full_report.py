#!/usr/bin/python3
"""bench/full_report.py RESULTS.jsonl --out FILE.md [--svg-prefix P] [--runs DIR] [--ff FASTFNET]: the accuracy
table of the campaign (bench/full.sh): per task and model the mean and sample standard deviation over seeds,
the difference to FNet and Welch's t-test across seeds (two-sided, t distribution with Welch-Satterthwaite
degrees of freedom; "same" unless p < 0.05, then "better" or "worse"); an accuracy-vs-parameters SVG; and,
with --runs and --ff, learning curves per task (seed 0, `fastfnet plot`). With --into RESULTS.md it also writes
the claims and a model x task summary into that file, between the two "campaign" comment lines (replacing them,
or appended at the end the first time); bench/report.py keeps that block when it regenerates the file."""
import argparse, json, math, os, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--out", required=True)
ap.add_argument("--svg-prefix")
ap.add_argument("--runs", action="append", help="a campaign runs folder (repeatable; the first that has a run wins)")
ap.add_argument("--ff", default="build/fastfnet")
ap.add_argument("--into", help="a RESULTS.md to write the claims and the summary table into")
a = ap.parse_args()

TASKS = ["listops", "text", "image", "pathfinder", "mlm", "mlm-finetune", "mlm-finetune-sotu"]


def betacf(x, p, q):  # continued fraction of the regularised incomplete beta (Numerical Recipes' form)
    qab, qap, qam, c, d = p + q, p + 1, p - 1, 1.0, 1 - (p + q) * x / (p + 1)
    d = 1 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (q - m) * x / ((qam + m2) * (p + m2)), -(p + m) * (qab + m) * x / ((p + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1 + aa / c
            c = c if abs(c) > 1e-300 else 1e-300
            h *= d * c
        if abs(d * c - 1) < 1e-12:
            break
    return h


def betainc(x, p, q):
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    lb = math.lgamma(p + q) - math.lgamma(p) - math.lgamma(q) + p * math.log(x) + q * math.log(1 - x)
    if x < (p + 1) / (p + q + 2):
        return math.exp(lb) * betacf(x, p, q) / p
    return 1 - math.exp(lb) * betacf(1 - x, q, p) / q


def t_two_sided_p(t, df):
    return betainc(df / (df + t * t), df / 2, 0.5)


def mean_sd(v):
    m = sum(v) / len(v)
    return m, (math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan"))


def welch(x, y):
    """(t, df, p) of Welch's test of mean(x) - mean(y); None when either has fewer than 2 values."""
    if len(x) < 2 or len(y) < 2:
        return None
    (mx, sx), (my, sy) = mean_sd(x), mean_sd(y)
    vx, vy = sx * sx / len(x), sy * sy / len(y)
    if vx + vy == 0:
        return (0.0, float("inf"), 1.0) if mx == my else (math.copysign(float("inf"), mx - my), float("inf"), 0.0)
    t = (mx - my) / math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx * vx / (len(x) - 1) + vy * vy / (len(y) - 1))
    return t, df, t_two_sided_p(t, df)


def metric(r):  # MLM rows report the masked-token accuracy on the validation text (no test split)
    return r.get("test_accuracy", r.get("valid_accuracy"))


rows = []
try:
    lines = open(a.results).read().splitlines()
except OSError as e:
    sys.exit(f"full_report.py: cannot read {a.results}: {e.strerror}")
for no, line in enumerate(lines, 1):
    line = line.strip()
    if line:
        try:
            r = json.loads(line)
        except ValueError as e:
            sys.exit(f"full_report.py: {a.results} line {no} is not a JSON object ({e.msg}): one JSON object per line, as bench/full.sh appends")
        if r.get("section") == "accuracy" and "error" not in r and metric(r) is not None:
            rows.append(r)
acc, params, secs, ppl, tps, rss, cpus = {}, {}, {}, {}, {}, {}, {}
for r in rows:
    k = (r["task"], r["model"])
    acc.setdefault(k, []).append(float(metric(r)))
    params[k] = r.get("parameters")
    # the whole run's training time as steps x its mean timed step: a resumed run times only the steps after its
    # resume (first_step), so its train_seconds would count only that part
    ts, st = r.get("timed_steps"), r.get("step_seconds")
    secs.setdefault(k, []).append(float(st) / ts * r.get("steps", ts) if ts and st else float(r.get("train_seconds", 0)))
    # timings depend on the CPU: rows before 2026-12-02 name none (AMD EPYC machines); tokens/s is compared per CPU
    tps.setdefault(k, {}).setdefault(r.get("cpu") or "earlier", []).append(float(r.get("tokens_per_s", "nan")))
    cpus.setdefault(k, set()).add(r.get("cpu") or "earlier")
    rss.setdefault(k, []).append(float(r.get("peak_rss_mib", "nan")))
    if "valid_perplexity" in r:
        ppl.setdefault(k, []).append(float(r["valid_perplexity"]))
models = []
for r in rows:
    if r["model"] not in models:
        models.append(r["model"])
tasks = [t for t in TASKS if any(k[0] == t for k in acc)] + sorted({k[0] for k in acc} - set(TASKS))


def verdict(task, model):
    if model == "fnet" or (task, "fnet") not in acc:
        return ""
    w = welch(acc[(task, model)], acc[(task, "fnet")])
    d = mean_sd(acc[(task, model)])[0] - mean_sd(acc[(task, "fnet")])[0]
    if w is None:
        return f"{d:+.4f} (too few seeds)"
    word = "same" if w[2] >= 0.05 else ("better" if d > 0 else "worse")
    return f"{d:+.4f}, p {w[2]:.3f}: **{word}**"


out = ["# The accuracy campaign (bench/full.sh)", "",
       f"Generated by bench/full_report.py from `{os.path.basename(a.results)}` ({len(rows)} runs; commits: "
       f"{', '.join(sorted(set(str(r.get('commit')) for r in rows)))}).", "",
       "Each cell: mean ± sample standard deviation of the test accuracy over the seeds (n); MLM: masked-token accuracy "
       "on the validation text. Below it, the difference to FNet and Welch's two-sided t-test across seeds (t distribution, "
       "Welch-Satterthwaite degrees of freedom): **same** unless p < 0.05. Cost columns are ratios of means to FNet's on the "
       "same task: training tokens/s and peak RSS as the runs measured them, one after another on a machine shared with other "
       "work (orientation only; docs/RESULTS.md sections 1 and 6 have the controlled timings). Timings depend on the CPU: "
       "rows from 2026-12-02 on record theirs (`cpu`, `isa`); the tokens/s ratio compares rows of one CPU, and a train-seconds "
       "mean marked * mixes CPUs.", "",
       "Evaluation sets (`--eval-limit 1000`): a seeded random 1000 of each validation and test split, except image rows "
       "made before cb82175 (all of this campaign's, binary fee12cf), which took the first 1000 of Fashion-MNIST's "
       "10,000 test images and every one of the 6,000 held-out validation images (docs/TRAINING.md).", ""]
def sign_test(both, model):
    """Across independent tasks (a fine-tune shares its pre-trained models with mlm, so it does not count apart):
    how many tasks the model's mean is below / above FNet's, and the two-sided sign test's p."""
    ind = [t for t in both if not t.startswith("mlm-finetune")]
    d = [mean_sd(acc[(t, model)])[0] - mean_sd(acc[(t, "fnet")])[0] for t in ind]
    lo, hi = sum(x < 0 for x in d), sum(x > 0 for x in d)
    n = lo + hi
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(min(lo, hi) + 1)) / 2 ** n) if n else 1.0
    word = "same" if p >= 0.05 else ("better" if hi > lo else "worse")
    return (f"across the {len(ind)} independent tasks ({', '.join(ind)}; a fine-tune counts with its pre-training): "
            f"below FNet on {lo}, above on {hi}, mean difference {sum(d) / len(d):+.4f}; two-sided sign test p {p:.3f}: {word}")


def tps_gm(both, model):
    r = [tps_ratio((t, model), (t, "fnet")) for t in both]
    r = [x for x in r if x]
    return f"{math.exp(sum(map(math.log, r)) / len(r)):.2f}x" if r else "n/a (no CPU with rows of both)"


def tps_ratio(k, f):
    """training tokens/s of k over FNet's (f), from the rows of one CPU: the one with most of FNet's rows that k shares"""
    common = sorted(set(tps.get(k, {})) & set(tps.get(f, {})), key=lambda c: -len(tps[f][c]))
    return mean_sd(tps[k][common[0]])[0] / mean_sd(tps[f][common[0]])[0] if common else None


def claims(model="fast-fnet"):
    """The paper's four claims for one model against FNet, from the rows (tasks where both have runs)."""
    both = [t for t in tasks if (t, model) in acc and (t, "fnet") in acc]
    if not both:
        return []
    gm = lambda d: math.exp(sum(math.log(mean_sd(d[(t, model)])[0] / mean_sd(d[(t, "fnet")])[0]) for t in both) / len(both))
    v = [f"{t} {verdict(t, model).replace('**', '')}" for t in both]
    return [f"## The paper's claims here: {model} against FNet", "",
            f"Over {', '.join(both)} (geometric means of the per-task ratios of means; seeds per task as in the tables):", "",
            f"- fewer parameters: {gm({k: [params[k]] for k in params}):.2f}x FNet's",
            f"- shorter training: training tokens/s {tps_gm(both, model)} FNet's (shared machine: orientation only)",
            f"- less memory: peak RSS {gm(rss):.2f}x FNet's",
            f"- comparable accuracy: " + "; ".join(v),
            f"- comparable accuracy overall, {sign_test(both, model)}", ""]


out += claims()
for task in tasks:
    out += [f"## {task}", "", "| model | accuracy (n) | vs FNet | parameters | params / FNet | train tok/s / FNet | peak RSS / FNet | "
            "train s (steps x mean step) |" + (" perplexity |" if task == "mlm" else ""),
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if task == "mlm" else "")]
    f = (task, "fnet")
    for m in models:
        k = (task, m)
        if k not in acc:
            continue
        mu, sd = mean_sd(acc[k])
        sds = "" if math.isnan(sd) else f" ± {sd:.4f}"
        ratio = lambda d, x=None: f"{mean_sd(d[k])[0] / mean_sd(d[f])[0]:.2f}" if f in d else "n/a"
        pr = f"{params[k] / params[f]:.2f}" if f in params and params[k] and params[f] else "n/a"
        tr = tps_ratio(k, f)
        mixed = "*" if len(cpus[k]) > 1 else ""
        line = (f"| {m} | {mu:.4f}{sds} ({len(acc[k])}) | {verdict(task, m)} | {params[k]} | {pr} | "
                f"{'n/a' if tr is None else f'{tr:.2f}'} | {ratio(rss)} | {sum(secs[k]) / len(secs[k]):.0f}{mixed} |")
        if task == "mlm":
            line += f" {mean_sd(ppl.get(k, [float('nan')]))[0]:.1f} |"
        out.append(line)
    out.append("")


def svg_tradeoff(path):
    """Mean accuracy over the classification tasks every listed model has, against parameters relative to FNet."""
    cls = [t for t in tasks if t != "mlm"]
    pts = []
    for m in models:
        if all((t, m) in acc and (t, "fnet") in acc for t in cls) and cls:
            y = sum(mean_sd(acc[(t, m)])[0] for t in cls) / len(cls)
            x = sum(params[(t, m)] / params[(t, "fnet")] for t in cls) / len(cls)
            pts.append((m, x, y))
    if not pts:
        return False
    W, H, L, B = 560, 380, 60, 50
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    x0, x1, y0, y1 = 0, max(xs) * 1.1, min(ys) - 0.02, max(ys) + 0.02
    X = lambda v: L + (v - x0) / (x1 - x0) * (W - L - 20)
    Y = lambda v: H - B - (v - y0) / (y1 - y0) * (H - B - 20)
    g = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>']
    for m, x, y in pts:
        g.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="4" fill="steelblue"/><text x="{X(x)+6:.1f}" y="{Y(y)-6:.1f}">{m}</text>')
    for v in (y0, (y0 + y1) / 2, y1):
        g.append(f'<text x="{L-6}" y="{Y(v)+4:.1f}" text-anchor="end">{v:.3f}</text>')
    for v in (0, x1 / 2, x1):
        g.append(f'<text x="{X(v):.1f}" y="{H-B+16}" text-anchor="middle">{v:.2f}</text>')
    g.append(f'<text x="{W/2}" y="{H-12}" text-anchor="middle">parameters / FNet (mean over {", ".join(cls)})</text>')
    g.append(f'<text x="14" y="{H/2}" transform="rotate(-90 14 {H/2})" text-anchor="middle">mean test accuracy</text></svg>')
    open(path, "w").write("\n".join(g) + "\n")
    return True


def plot_curves(task, svg):
    """Learning curves of a task's seed-0 runs, from the first --runs folder holding each. An SVG drawn from more
    runs than are on disk now (a fresh machine keeps the rows, not the runs) is kept as it is."""
    want = [m for m in models if any(r["task"] == task and r["model"] == m and str(r.get("seed")) == "0" for r in rows)]
    found = []
    for m in want:
        cand = [os.path.join(d, f"{task}-{m}-s0", "metrics.jsonl") for d in (a.runs or [])]
        found += [f for f in cand if os.path.exists(f)][:1]
    if len(found) < len(want) and os.path.exists(svg):
        print(f"full_report: {task}: {len(found)} of {len(want)} seed-0 runs on disk; kept {svg} as it is", file=sys.stderr)
        return True
    if not found:
        return False
    rc = subprocess.run([a.ff, "plot", *found, "--out", svg, "--title", f"{task}, seed 0"], capture_output=True)
    if rc.returncode != 0:
        print(f"full_report: plot of {task} failed: {rc.stderr.decode().strip()}", file=sys.stderr)
    return rc.returncode == 0


if a.svg_prefix:
    p = a.svg_prefix + "-accuracy-cost.svg"
    if svg_tradeoff(p):
        out += [f"![accuracy vs parameters]({os.path.basename(p)})", ""]
    for task in tasks:
        svg = f"{a.svg_prefix}-curves-{task}.svg"
        if plot_curves(task, svg):
            out += [f"![{task} learning curves]({os.path.basename(svg)})", ""]
open(a.out, "w").write("\n".join(out) + "\n")
print(f"wrote {a.out}")

BEGIN = "<!-- campaign: generated by bench/full_report.py from the campaign's results; do not edit by hand -->"
END = "<!-- campaign: end -->"


def summary_block():
    """The claims and one model x task table (mean ± sd (n), verdict against FNet) for RESULTS.md."""
    b = [BEGIN, "## 7. The accuracy campaign: the paper's accuracy claim, with seeds", "",
         f"From `{os.path.basename(a.results)}` ({len(rows)} runs; commits {', '.join(sorted(set(str(r.get('commit')) for r in rows)))}); "
         "the budget, the tables per task and the learning curves are in [RESULTS-full.md](RESULTS-full.md). Each cell: mean ± "
         "sample sd of the test accuracy (MLM: masked-token accuracy on the validation text) over n seeds, and Welch's t-test "
         "against FNet: **same** unless p < 0.05.", ""]
    for m in ("fast-fnet", "narrow"):
        b += [ln.replace("## ", "### ", 1) for ln in claims(m)]
    b += ["| model | " + " | ".join(tasks) + " |", "| --- |" + " ---: |" * len(tasks)]
    for m in models:
        cells = []
        for t in tasks:
            if (t, m) not in acc:
                cells.append("")
                continue
            mu, sd = mean_sd(acc[(t, m)])
            v = verdict(t, m)
            word = v.split("**")[1] if "**" in v else ""
            cells.append(f"{mu:.4f}" + ("" if math.isnan(sd) else f" ± {sd:.4f}") + f" ({len(acc[(t, m)])})" + (f" {word}" if word else ""))
        b.append(f"| {m} | " + " | ".join(cells) + " |")
    return b + ["", END]


if a.into:
    try:
        text = open(a.into).read()
    except OSError as e:
        sys.exit(f"full_report.py: cannot read --into {a.into}: {e.strerror}")
    block = "\n".join(summary_block())
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    open(a.into, "w").write(text)
    print(f"wrote the campaign's block into {a.into}")
