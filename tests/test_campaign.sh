#!/usr/bin/env bash
# test_campaign.sh: the accuracy campaign's harness (bench/full.sh quick, bench/full_report.py) on a few tasks
# and models: one row per (task, model, seed) with the fields the report needs; a rerun skips what is done; the
# task/model/seed filters select exactly their runs; a missing row is run again; the report gives each model's
# verdict against FNet and refuses a results file that is not JSON lines.
source "$(dirname "$0")/lib.sh"
export FASTFNET_THREADS=1
RES=$SCRATCH/r.jsonl
campaign() { # ENV... : bench/full.sh quick into $SCRATCH/c, results in $RES
    env FF="$FF" BENCH_OUT="$SCRATCH/c" BENCH_RESULTS="$RES" BENCH_DATA_DIR="$DATA" BENCH_THREADS=1 "$@" \
        "$ROOT/bench/full.sh" quick >>campaign.log 2>&1
}
rows() { grep -c '"section": "accuracy"' "$RES"; }

campaign BENCH_TASKS=text,listops BENCH_MODELS=fnet,fast-fnet BENCH_SEEDS=0,1 && ok "2 tasks x 2 models x 2 seeds ran" ||
    bad "the campaign failed: $(tail -3 campaign.log)"
[ "$(rows)" -eq 8 ] && ok "8 rows" || bad "$(rows) rows, expected 8"
/usr/bin/python3 - "$RES" <<'EOF' && ok "every row has task, model, seed, test_accuracy, config, commit, threads, cpu (with its family and model), isa" || bad "a row lacks a field"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
need = ("section", "task", "model", "seed", "test_accuracy", "config", "commit", "threads", "parameters", "steps", "cpu", "isa")
got = {(r["task"], r["model"], r["seed"]) for r in rows}
assert got == {(t, m, s) for t in ("text", "listops") for m in ("fnet", "fast-fnet") for s in (0, 1)}, got
assert all(all(k in r for k in need) and 0 <= r["test_accuracy"] <= 1 and r["threads"] == 1 and r["isa"] in ("AVX-512", "AVX2", "no AVX2") and " (family " in r["cpu"] for r in rows)
EOF

t0=$SECONDS
before=$(grep -c '] run ' campaign.log)
campaign BENCH_TASKS=text,listops BENCH_MODELS=fnet,fast-fnet BENCH_SEEDS=0,1 && [ "$(rows)" -eq 8 ] &&
    [ "$(grep -c '] run ' campaign.log)" -eq "$before" ] && ok "a rerun adds nothing and runs nothing ($((SECONDS - t0)) s)" ||
    bad "a rerun changed the results ($(rows) rows)"

campaign BENCH_TASKS=text BENCH_MODELS=bert BENCH_SEEDS=1 && [ "$(rows)" -eq 9 ] &&
    grep -q '"model": "bert", "task": "text"' "$RES" && ok "a filter runs exactly its run" || bad "filter: $(rows) rows"

grep -v '"model": "fast-fnet", "task": "text".*"seed": 1' "$RES" >r2 && mv r2 "$RES"
campaign BENCH_TASKS=text BENCH_MODELS=fast-fnet BENCH_SEEDS=0,1 && [ "$(rows)" -eq 9 ] &&
    [ "$(grep -c '"model": "fast-fnet", "task": "text"' "$RES")" -eq 2 ] && ok "a removed row is run again" ||
    bad "rerun of a removed row: $(rows) rows"

campaign BENCH_TASKS=mlm-finetune,mlm-finetune-sotu BENCH_MODELS=fnet BENCH_SEEDS=0 && [ "$(rows)" -eq 9 ] &&
    grep -q 'skip mlm-finetune fnet s0: its pre-training (mlm fnet s0) has not finished yet' campaign.log &&
    ok "a fine-tune waits for its pre-training's row" || bad "fine-tune without pre-training: $(rows) rows, $(tail -2 campaign.log)"

# BENCH_JOBS: two workers share one list; each run once, fine-tunes after their pre-training, no lock left. Two
# seeds, so the list outlasts the 2 s by which the second worker starts: with one, the first worker could finish
# every run of this toy budget before the second began
RES2=$SCRATCH/r2.jsonl
env FF="$FF" BENCH_OUT="$SCRATCH/c2" BENCH_RESULTS="$RES2" BENCH_DATA_DIR="$DATA" BENCH_THREADS=1 BENCH_JOBS=2 \
    BENCH_TASKS=text,mlm,mlm-finetune BENCH_MODELS=fnet,fast-fnet BENCH_SEEDS=0,1 "$ROOT/bench/full.sh" quick >jobs.log 2>&1
rc=$?
/usr/bin/python3 - "$RES2" <<'EOF2' && [ $rc -eq 0 ] && grep -q 'w1] run ' jobs.log && grep -q 'w2\] run ' jobs.log &&
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = [(r["task"], r["model"], r["seed"]) for r in rows]
assert sorted(keys) == sorted((t, m, s) for t in ("text", "mlm", "mlm-finetune") for m in ("fnet", "fast-fnet") for s in (0, 1)), keys
EOF2
    [ -z "$(find "$SCRATCH/c2/runs" -name '*.lock')" ] && ok "BENCH_JOBS=2: both workers ran, 12 runs once each, fine-tunes included, no lock left" ||
    bad "BENCH_JOBS=2 (rc $rc): $(grep -c . "$RES2") rows; $(tail -3 jobs.log)"
# a lock held by a live worker is left alone; one whose worker is gone is taken over
mkdir -p "$SCRATCH/c2/runs/text-bert-s0.lock" "$SCRATCH/c2/runs/text-narrow-s0.lock"
echo $$ >"$SCRATCH/c2/runs/text-bert-s0.lock/pid"
sh -c 'echo $$' >"$SCRATCH/c2/runs/text-narrow-s0.lock/pid"
env FF="$FF" BENCH_OUT="$SCRATCH/c2" BENCH_RESULTS="$RES2" BENCH_DATA_DIR="$DATA" BENCH_THREADS=1 \
    BENCH_TASKS=text BENCH_MODELS=bert,narrow BENCH_SEEDS=0 "$ROOT/bench/full.sh" quick >locks.log 2>&1
grep -q '"model": "narrow", "task": "text"' "$RES2" && ! grep -q '"model": "bert", "task": "text"' "$RES2" &&
    [ -d "$SCRATCH/c2/runs/text-bert-s0.lock" ] && [ ! -d "$SCRATCH/c2/runs/text-narrow-s0.lock" ] &&
    ok "a live worker's lock is respected, a dead worker's lock is taken over" || bad "locks: $(tail -3 locks.log)"
rm -rf "$SCRATCH/c2/runs/text-bert-s0.lock"
env BENCH_JOBS=0 "$ROOT/bench/full.sh" quick >jobs0.log 2>&1
[ $? -eq 2 ] && grep -q 'BENCH_JOBS must be a positive integer' jobs0.log && ok "BENCH_JOBS=0 is refused: $(cat jobs0.log)" ||
    bad "BENCH_JOBS=0: $(cat jobs0.log)"

# a resumed run that had already finished (old binaries report valid 0 / 0 then) makes no row and is not marked done
printf '#!/bin/sh\n[ "$1" = train ] || exec "%s" "$@"\necho %s\n' "$FF" \
    "'{\"steps\": 20, \"valid_accuracy\": 0.0000, \"valid_loss\": 0.0000, \"test_accuracy\": 0.5000, \"timed_steps\": 0}'" >zero_ff.sh
chmod +x zero_ff.sh
n0=$(rows)
env FF="$SCRATCH/zero_ff.sh" BENCH_OUT="$SCRATCH/c" BENCH_RESULTS="$RES" BENCH_DATA_DIR="$DATA" BENCH_THREADS=1 BENCH_TASKS=text \
    BENCH_MODELS=fnet BENCH_SEEDS=7 "$ROOT/bench/full.sh" quick >zero.log 2>&1
[ "$(rows)" -eq "$n0" ] && [ ! -e "$SCRATCH/c/runs/text-fnet-s7.done" ] && grep -q 'FAILED text fnet s7' zero.log &&
    grep -q 'no row: the run had finished training before this resume' "$SCRATCH/c/runs/text-fnet-s7.log" &&
    ok "a result with valid loss and accuracy 0 (a finished run resumed) makes no row" || bad "zero result: $(rows) rows (had $n0); $(tail -2 zero.log)"

/usr/bin/python3 "$ROOT/bench/full_report.py" "$RES" --out report.md --svg-prefix rep >rep.log 2>&1 &&
    grep -q '^## text' report.md && grep -q '^## listops' report.md && grep -qE '\| fast-fnet \| [0-9.]+ ± [0-9.]+ \(2\) \| [-+][0-9.]+, p [0-9.]+: \*\*(same|better|worse)\*\*' report.md &&
    grep -qE '^- comparable accuracy overall, across the 2 independent tasks \(listops, text; .*sign test p [0-9.]+: (same|better|worse)$' report.md &&
    ok "the report gives fast-fnet's verdict against FNet over 2 seeds, and the sign test across tasks" || bad "report: $(head -c 300 rep.log) $(grep fast-fnet report.md | head -2)"
printf '# results\n\nbefore\n' >R.md
for i in 1 2; do /usr/bin/python3 "$ROOT/bench/full_report.py" "$RES" --out r2.md --into R.md >>rep.log 2>&1; done
[ "$(grep -c '^<!-- campaign: generated' R.md)" -eq 1 ] && [ "$(grep -c '^<!-- campaign: end' R.md)" -eq 1 ] && grep -q '^before$' R.md &&
    grep -qE '^\| fast-fnet \| [0-9.]+ ± [0-9.]+ \(2\) (same|better|worse) \|' R.md && ok "--into writes one summary block into RESULTS.md, replaced on a rerun" ||
    bad "--into: $(cat R.md | head -c 600)"
# tokens/s is compared between rows of one CPU: FNet's rows on CPU A, the other model's on A and on a 3x faster B
/usr/bin/python3 - cpu.jsonl <<'EOF'
import json, sys
row = lambda m, s, cpu, tps: dict(section="accuracy", task="text", model=m, seed=s, test_accuracy=0.9, parameters=100,
                                  steps=10, timed_steps=9, step_seconds=9.0, tokens_per_s=tps, peak_rss_mib=100, **cpu)
rows = [row("fnet", 0, {}, 100.0), row("fnet", 1, {}, 100.0), row("fast-fnet", 0, {}, 150.0), row("fast-fnet", 1, {"cpu": "B"}, 450.0)]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in rows))
EOF
/usr/bin/python3 "$ROOT/bench/full_report.py" cpu.jsonl --out cpu.md --svg-prefix cpu >cpu.log 2>&1 &&
    grep -qE '^\| fast-fnet \| .* \| 1\.50 \| 1\.00 \| [0-9]+\* \|$' cpu.md && grep -q 'training tokens/s 1.50x FNet' cpu.md &&
    ok "tokens/s against FNet uses rows of one CPU (1.50x, not 3x), and a train-seconds mean of two CPUs is marked" ||
    bad "per-CPU tokens/s: $(cat cpu.log) $(grep fast-fnet cpu.md | head -3)"
# learning curves: drawn from the seed-0 runs on disk; on a machine without them (the rows committed, the runs gone)
# an SVG already drawn is kept and still linked, not redrawn from fewer runs
/usr/bin/python3 "$ROOT/bench/full_report.py" "$RES" --out cur.md --svg-prefix cur --runs "$SCRATCH/c/runs" --ff "$FF" >cur.log 2>&1 &&
    grep -q '(cur-curves-text.svg)' cur.md && grep -q 'fast-fnet' cur-curves-text.svg && cp cur-curves-text.svg text0.svg && mkdir -p none &&
    /usr/bin/python3 "$ROOT/bench/full_report.py" "$RES" --out cur2.md --svg-prefix cur --runs none --ff "$FF" >cur2.log 2>&1 &&
    grep -q '(cur-curves-text.svg)' cur2.md && cmp -s cur-curves-text.svg text0.svg && grep -qE 'text: 0 of [1-9][0-9]* seed-0 runs on disk; kept cur-curves-text.svg as it is' cur2.log &&
    ok "learning curves come from the runs on disk, and a drawn SVG is kept (and linked) where they are gone" ||
    bad "curves: $(cat cur.log cur2.log | head -c 400)"
echo 'not json' >bad.jsonl
/usr/bin/python3 "$ROOT/bench/full_report.py" bad.jsonl --out bad.md --svg-prefix bad >bad.log 2>&1
[ $? -ne 0 ] && [ ! -s bad.md ] && ok "a results file that is not JSON lines is refused: $(tail -1 bad.log)" ||
    bad "bad results file: $(tail -2 bad.log)"
finish
