#!/usr/bin/env bash
# bench/full.sh [quick|full]: the accuracy campaign (every model x task x seed at a frozen budget), resumable.
# One JSON line per finished run is appended to $BENCH_RESULTS (default build/campaign-PROFILE/results-full.jsonl):
# section "accuracy", task, model, seed, test/valid accuracy, the run's own figures, its flags (config), budget,
# commit and date. A (task, model, seed) whose row is already there is skipped; a run killed midway resumes from
# its last checkpoint (fastfnet train --resume), so the campaign can be stopped and restarted at will.
# Filters (comma-separated): BENCH_TASKS (listops,text,image,pathfinder,mlm,mlm-finetune,mlm-finetune-sotu),
# BENCH_MODELS (see MODELS below), BENCH_SEEDS (default 0,1,2; quick: 0). BENCH_THREADS (default 1).
# FF=path/to/fastfnet (default build/fastfnet) lets a campaign run from its own build folder.
# BENCH_JOBS=N (default 1) runs N runs at once: N workers walk the same list, each run claimed by a lock
# directory (RUN.lock, holding the worker's pid; a dead worker's lock is taken over), and each worker walks the
# list again until a walk finds nothing to start, so fine-tunes held back for their pre-training run later.
# The report: bench/full_report.py RESULTS --out docs/RESULTS-full.md (table, t-tests, SVGs).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PROFILE=${1:-quick}
case "$PROFILE" in quick | full) ;; *) echo "bench/full.sh: PROFILE must be quick or full" >&2; exit 2 ;; esac
FF=${FF:-build/fastfnet}
[ -x "$FF" ] || { echo "bench/full.sh: $FF is not an executable (make, or set FF=)" >&2; exit 2; }
OUT=${BENCH_OUT:-build/campaign-$PROFILE}
RES=${BENCH_RESULTS:-$OUT/results-full.jsonl}
DATA_DIR=${BENCH_DATA_DIR:-data}
TH=${BENCH_THREADS:-1} # one thread per run: two runs at once do more work than one with two threads (TRAINING.md)
PY=/usr/bin/python3
mkdir -p "$OUT/runs" "$OUT/listops"
touch "$RES"
COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
# where each row ran (the CPU, its vector ISA, and OPENBLAS_CORETYPE where a campaign sets it for a binary older than
# the library's own correction of OpenBLAS's kernel choice: docs/PERFORMANCE.md, round 5)
source bench/machine.sh
CPU=$(cpu_name)
ISA=$(vector_isa)

# The frozen budget (docs/RESULTS-full.md says how it was chosen). Everything but steps and batch is shared.
if [ "$PROFILE" = full ]; then
    HID=64 LAY=4 FFN=256 LR=1e-3 ELIMIT=1000 SEEDS_DEF=0,1,2 LLEN=1000 LMIN=500 NLO=20000
    declare -A STEPS=([listops]=800 [text]=500 [image]=500 [pathfinder]=1000 [mlm]=4000 [mlm-finetune]=500 [mlm-finetune-sotu]=2000)
    BATCH=32 LIMIT=0
else
    HID=32 LAY=2 FFN=64 LR=2e-3 ELIMIT=100 SEEDS_DEF=0 LLEN=200 LMIN=50 NLO=400
    declare -A STEPS=([listops]=6 [text]=6 [image]=6 [pathfinder]=6 [mlm]=6 [mlm-finetune]=6 [mlm-finetune-sotu]=6)
    BATCH=8 LIMIT=400
fi
TASKS=${BENCH_TASKS:-listops,text,image,pathfinder,mlm,mlm-finetune,mlm-finetune-sotu}
SEEDS=${BENCH_SEEDS:-$SEEDS_DEF}
# name | architecture flags. The authors' Fast-FNet (defaults) first after FNet; then the baselines; then its ablations.
MODELS=(
    "fnet|--arch fnet"
    "fast-fnet|--arch fast-fnet"
    "bert|--arch bert"
    "hybrid|--arch hybrid --attention-layers 1"
    "narrow|--arch fast-fnet-narrow --reduce 0 --residual dense"
    "fast-fnet-avgpool|--arch fast-fnet --residual avgpool"
    "fast-fnet-maxpool|--arch fast-fnet --residual maxpool"
    "fast-fnet-slice|--arch fast-fnet --residual slice"
    "fast-fnet-centred|--arch fast-fnet --pad centred"
    "fast-fnet-halved|--arch fast-fnet --block-ffn halved"
)
ABLATION_TASKS=",text,image,"
log() { echo "[full $(date +%H:%M:%S)${WORKER_TAG:+ $WORKER_TAG}] $*" >&2; }
wanted() { [[ ",$2," == *",$1,"* ]]; }

have_row() { # task model seed: is there a finished row?
    $PY -c '
import json, sys
t, m, s = sys.argv[2:5]
for line in open(sys.argv[1]):
    try: r = json.loads(line)
    except ValueError: continue
    if r.get("section") == "accuracy" and r.get("task") == t and r.get("model") == m and str(r.get("seed")) == s and "error" not in r:
        sys.exit(0)
sys.exit(1)' "$RES" "$1" "$2" "$3"
}

task_flags() { # task model-name: the data flags of a task
    case $1 in
        listops) echo "--train $OUT/listops/train.tsv --valid $OUT/listops/valid.tsv --test $OUT/listops/test.tsv --tokenizer word --max-len $LLEN" ;;
        text) echo "--data text --max-len 512" ;;
        image) echo "--data image" ;;
        pathfinder) echo "--data pathfinder --difficulty hard" ;;
        mlm) echo "--task mlm --data pretrain --tokenizer bpe --vocab-size 4000 --max-len 128" ;;
        mlm-finetune) echo "--data text --max-len 128 --init-from $OUT/runs/mlm-$2-s$3" ;;
        mlm-finetune-sotu) echo "--data sotu --max-len 128 --init-from $OUT/runs/mlm-$2-s$3" ;;
    esac
}

claim() { # run dir: 0 if this worker now holds DIR.lock (taken over from a worker that is gone)
    local lock=$1.lock holder
    mkdir "$lock" 2>/dev/null && echo "$WORKER_PID" >"$lock/pid" && return 0
    holder=$(cat "$lock/pid" 2>/dev/null)
    [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null && return 1
    sleep 1 # a worker between mkdir and writing its pid looks like a dead one for a moment
    holder=$(cat "$lock/pid" 2>/dev/null)
    [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null && return 1
    rm -rf "$lock" && mkdir "$lock" 2>/dev/null && echo "$WORKER_PID" >"$lock/pid"
}

one_run() { # task name seed arch-flags: 0 done or skipped, 1 failed; STARTED=1 when it ran
    local task=$1 name=$2 seed=$3 arch=$4 dir=$OUT/runs/$1-$2-s$3
    have_row "$task" "$name" "$seed" && return 0
    [ -n "${FAILED[$dir]:-}" ] && return 0 # failed once in this worker: counted, not retried
    claim "$dir" || return 0
    one_run_held "$@"
    local rc=$?
    rm -rf "$dir.lock"
    [ "$rc" = 0 ] || FAILED[$dir]=1
    return $rc
}

one_run_held() { # one_run's work, with the run's lock held
    local task=$1 name=$2 seed=$3 arch=$4 dir=$OUT/runs/$1-$2-s$3
    have_row "$task" "$name" "$seed" && return 0 # another worker finished it before this one took the lock
    local finetune=0
    [[ $task == mlm-finetune* ]] && finetune=1 # fine-tuned from the same pre-trained model (mlm-NAME-sSEED)
    # the pre-training must have finished (its row): a killed one leaves a model.safetensors of its last evaluation
    if [ "$finetune" = 1 ] && ! have_row mlm "$name" "$seed"; then
        log "skip $task $name s$seed: its pre-training (mlm $name s$seed) has not finished yet"
        return 0
    fi
    [ "$finetune" = 1 ] && arch="" # the architecture comes from the pre-trained model
    local flags
    flags="$(task_flags "$task" "$name" "$seed") $arch --hidden $HID --layers $LAY --intermediate $FFN --heads 4 --batch $BATCH \
--lr $LR --seed $seed --steps ${STEPS[$task]} --limit $LIMIT --eval-limit $ELIMIT --data-dir $DATA_DIR --log-every 50"
    [ "$finetune" = 1 ] && flags=${flags/--hidden $HID --layers $LAY --intermediate $FFN --heads 4 /}
    local how=(--force --out "$dir")
    [ -f "$dir/checkpoints/LATEST" ] && [ ! -f "$dir.done" ] && how=(--resume "$dir") && log "resume $task $name s$seed"
    [ "${how[0]}" = --force ] && rm -f "$dir.done" # a rerun of a finished run (its row removed) is not finished until it ends
    log "run $task $name s$seed: $flags"
    STARTED=1
    local t0=$SECONDS
    # shellcheck disable=SC2086
    if nice -n 19 "$FF" train $flags --threads "$TH" "${how[@]}" >"$dir.json" 2>>"$dir.log"; then
        touch "$dir.done"
        $PY -c '
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
if d.get("valid_loss") == 0 and d.get("valid_accuracy") == 0:  # binaries before the lifecycle fixes (fee12cf) report 0s when
    sys.exit("no row: the run had finished training before this resume, so its final figures were not measured")  # resuming a finished run
d.update(section="accuracy", task=sys.argv[2], model=sys.argv[3], seed=int(sys.argv[4]), config=sys.argv[5], profile=sys.argv[6],
         commit=sys.argv[7], wall_seconds=int(sys.argv[8]), date=sys.argv[9], threads=int(sys.argv[10]), cpu=sys.argv[11], isa=sys.argv[12])
if sys.argv[13]: d["openblas_coretype"] = sys.argv[13]
print(json.dumps(d))' "$dir.json" "$task" "$name" "$seed" "$flags" "$PROFILE" "$COMMIT" $((SECONDS - t0)) "$(date -u +%Y-%m-%dT%H:%MZ)" "$TH" \
            "$CPU" "$ISA" "${OPENBLAS_CORETYPE:-}" >"$dir.row" 2>>"$dir.log" ||
            { log "FAILED $task $name s$seed: $(tail -1 "$dir.log"); see $dir.json"; rm -f "$dir.done" "$dir.row"; return 1; }
        cat "$dir.row" >>"$RES" && rm -f "$dir.row"
        log "done $task $name s$seed: $(grep -o '"test_accuracy": [0-9.]*' "$dir.json") in $((SECONDS - t0)) s"
    else
        log "FAILED $task $name s$seed (kept for --resume): $(tail -1 "$dir.log")"
        return 1
    fi
}

make_listops() { # LRA rules, lengths LMIN..LLEN-2 ([CLS] and [SEP] make LLEN); train/valid/test from disjoint seeds
    local s
    for s in train:$NLO:11 valid:1000:12 test:1000:13; do
        IFS=: read -r n c sd <<<"$s"
        [ -s "$OUT/listops/$n.tsv" ] || "$FF" data listops --out "$OUT/listops/$n.tsv" --n "$c" --seed "$sd" --min-len $LMIN --max-len $((LLEN - 2)) >&2
    done
}

walk() { # one pass over the list: FAILS += failed runs, STARTED=1 if it started any
    local spec name seed task
    # FNet and the authors' model first on every task and seed, then the others; ablations on text and image only
    for spec in "${MODELS[@]}"; do
        name=${spec%%|*}
        [ -n "${BENCH_MODELS:-}" ] && ! wanted "$name" "$BENCH_MODELS" && continue
        for seed in ${SEEDS//,/ }; do
            for task in ${TASKS//,/ }; do
                [[ $name == fast-fnet-* ]] && [[ $ABLATION_TASKS != *",$task,"* ]] && continue
                one_run "$task" "$name" "$seed" "${spec#*|}" || FAILS=$((FAILS + 1))
            done
        done
    done
}

declare -A FAILED=()
worker() { # worker NUMBER: walks until a walk starts nothing; exits with its failed-run count (at most 125)
    WORKER_PID=$BASHPID FAILS=0
    [ "$JOBS" -gt 1 ] && WORKER_TAG=w$1
    STARTED=1
    while [ "$STARTED" = 1 ]; do
        STARTED=0
        walk
        [ "$JOBS" = 1 ] && break # one worker: the fine-tunes it skipped have logged why; a rerun runs them
    done
    exit $((FAILS > 125 ? 125 : FAILS))
}

JOBS=${BENCH_JOBS:-1}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "bench/full.sh: BENCH_JOBS must be a positive integer, not '$JOBS'" >&2; exit 2; }
wanted listops "$TASKS" && make_listops
pids=()
for j in $(seq 1 "$JOBS"); do
    (worker "$j") &
    pids+=($!)
    [ "$j" -lt "$JOBS" ] && sleep 2 # workers start apart, so they claim different runs
done
fails=0
for p in "${pids[@]}"; do
    wait "$p"
    fails=$((fails + $?))
done
log "finished: $(grep -c '"section": "accuracy"' "$RES") rows in $RES, $fails failed runs ($JOBS workers)"
[ "$fails" -eq 0 ]
