#!/usr/bin/env bash
# bench/run.sh [quick|full]: the benchmark harness behind `make bench`. Runs, on this machine, in one go:
#   1. sgemm peak, the faster of OpenBLAS and fastfnet's own product (the MFU denominator);
#   2. efficiency of every model at one shape (training step, tokens/s, inference, peak RSS, GFLOP/s), each
#      in its own process, rounds interleaved across models, plus the PyTorch peer on the same shapes;
#   3. a sequence-length sweep (attention, FNet, Fast-FNet; batch 1) of training step time and peak RSS;
#   4. FNet-Base inference latency against PyTorch;
#   5. accuracy after a fixed budget on ListOps, Text (SpamAssassin bytes), Image (Fashion-MNIST pixels) and
#      MLM pre-training + fine-tuning, per model and seed.
#   6. data parallelism over MPI: tokens/s of 1 process x 2 threads against 2 processes x 1 thread (plain and
#      ZeRO-1), and the time in the gradient all-reduce.
#   7. the authors' Fast-FNet (--arch fast-fnet) with every option against FNet and the narrow design: parameters
#      at Base size, training step / inference tokens/s / peak RSS at 4 x 256 (T 512, B 8) and at Base size
#      (T 512, B 1), rounds interleaved, and the Fourier layer alone.
# Raw results: build/bench-PROFILE/results.jsonl, copied at the end to docs/results-bench-PROFILE.jsonl (committed
# beside the report it makes, so a later sitting on a fresh machine can re-measure one section and keep the rest);
# report: docs/RESULTS.md + docs/results-*.svg.
# BENCH_SECTIONS=LIST (comma-separated: speed = sections 1-4, accuracy = 5, mpi = 6, authors = 7; default all) runs only those;
# when the profile already has results, the listed sections' rows are replaced and the others kept, and the
# report names every command that contributed, with its commit and date.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-quick}
case "$PROFILE" in quick | full) ;; *) echo "bench: PROFILE must be quick or full" >&2; exit 2 ;; esac
scripts/deps.sh >/dev/null
make -s all build/bench
OUT=build/bench-$PROFILE
SECTIONS=${BENCH_SECTIONS:-all}
for s in ${SECTIONS//,/ }; do
    case "$s" in all | speed | accuracy | mpi | authors) ;; *) echo "bench: BENCH_SECTIONS: '$s' is not one of all, speed, accuracy, mpi, authors" >&2; exit 2 ;; esac
done
want() { [ "$SECTIONS" = all ] || [[ ",$SECTIONS," == *",$1,"* ]]; }
CMD="${BENCH_SECTIONS:+BENCH_SECTIONS=$SECTIONS }make bench PROFILE=$PROFILE"
RES=$OUT/results.jsonl
SAVED=docs/results-bench-$PROFILE.jsonl # the rows behind the committed report
if [ "$SECTIONS" != all ] && [ ! -f "$RES" ] && [ -s "$SAVED" ]; then
    mkdir -p "$OUT" && cp "$SAVED" "$RES"
    echo "bench: the sections not listed in BENCH_SECTIONS keep their rows from $SAVED" >&2
fi
FRESH=0
if [ "$SECTIONS" = all ] || [ ! -f "$RES" ]; then
    rm -rf "$OUT"
    FRESH=1
else # keep the other sections' rows
    want accuracy && rm -rf "$OUT/runs"
    want mpi && rm -rf "$OUT/mpi"
    # rows of the listed sections go, and so does a command whose sections are all being re-measured
    /usr/bin/python3 -c '
import json, sys
sys.path.insert(0, "bench")
from sections import GROUPS as groups
redo = set(sys.argv[2].split(","))
drop = set().union(*(groups[g] for g in redo))
keep = []
lines = [l for l in open(sys.argv[1]) if l.strip()]
if not any(json.loads(l).get("section") == "command" for l in lines):  # results of a run.sh before command rows
    m = next((json.loads(l) for l in lines if json.loads(l).get("section") == "machine"), None)
    if m:
        lines.append(json.dumps({"section": "command", "command": "make bench PROFILE=%s" % m["profile"], "sections": "all",
                                 "commit": m["commit"], "date": m["date"]}) + "\n")
for line in lines:
    if not line.strip(): continue
    r = json.loads(line)
    if r.get("section") in drop: continue
    if r.get("section") == "command":
        had = set(groups) if r.get("sections", "all") == "all" else set(r["sections"].split(","))
        if had <= redo: continue
    keep.append(line)
open(sys.argv[1], "w").writelines(keep)' "$RES" "$SECTIONS"
fi
mkdir -p "$OUT"
FF=build/fastfnet
BENCH=build/bench
PY=/usr/bin/python3
# PyTorch's OpenBLAS gets the kernels ours uses: where OpenBLAS does not know the CPU it falls back to SSE3 kernels,
# which fastfnet corrects when it is loaded (docs/PERFORMANCE.md, round 5) and PyTorch does not.
BLAS_CORE=$($BENCH --blas-core)
[ "$BLAS_CORE" = cblas ] || export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$BLAS_CORE}
TH=${BENCH_THREADS:-2} # BENCH_THREADS=1: one thread per program, steadier on a machine shared with other work
LR=2e-3
export OMP_NUM_THREADS=$TH

if [ "$PROFILE" = full ]; then
    MPI_ROUNDS=3 MPI_STEPS=20 MPI_BATCH=16
    SEQ=512 BATCH=8 ROUNDS=3 REP=5 SWEEP="128 256 512 1024 2048 4096 8192" SEEDS="1 2"
    AHID=64 ALAY=4 AFFN=256 STEPS=250 ABATCH=16 LLEN=512 TLEN=512 MLEN=128 MLMSTEPS=500 BASE_REP=5 LIMIT=0 ELIMIT=1000
else
    MPI_ROUNDS=1 MPI_STEPS=4 MPI_BATCH=8
    SEQ=256 BATCH=4 ROUNDS=1 REP=3 SWEEP="128 256 512 1024" SEEDS="1"
    AHID=64 ALAY=2 AFFN=256 STEPS=30 ABATCH=8 LLEN=512 TLEN=256 MLEN=128 MLMSTEPS=30 BASE_REP=1 LIMIT=2000 ELIMIT=300
fi
# BENCH_ROUNDS / BENCH_REPEATS / BENCH_BASE_REPEATS (and BENCH_THREADS above) override the profile's rounds and repeats (a busy machine)
ROUNDS=${BENCH_ROUNDS:-$ROUNDS} REP=${BENCH_REPEATS:-$REP} BASE_REP=${BENCH_BASE_REPEATS:-$BASE_REP}
MID=$((ALAY / 2))
# name | fastfnet architecture flags (all: 4 layers x 256, FFN 1024 in the efficiency section). fast-fnet is the
# authors' model; the fast-*-0 rows are the narrow design (reduce at layer 0 and stay narrow), named as before.
MODELS=(
    "bert|--arch bert"
    "fnet|--arch fnet"
    "hybrid|--arch hybrid --attention-layers 2"
    "fast-fnet|--arch fast-fnet"
    "fast-dense-0|--arch fast-fnet-narrow --reduce 0 --residual dense"
    "fast-maxpool-0|--arch fast-fnet-narrow --reduce 0 --residual maxpool"
    "fast-avgpool-0|--arch fast-fnet-narrow --reduce 0 --residual avgpool"
    "fast-slice-0|--arch fast-fnet-narrow --reduce 0 --residual slice"
    "fast-avgpool-0,mid|--arch fast-fnet-narrow --reduce 0,MID --residual avgpool"
)
# section 7: the authors' model with every option (defaults: dense, first, FFN unchanged), FNet, the narrow design
AUTHORS=(
    "fnet|--arch fnet"
    "fast-fnet|--arch fast-fnet"
    "fast-fnet-maxpool|--arch fast-fnet --residual maxpool"
    "fast-fnet-avgpool|--arch fast-fnet --residual avgpool"
    "fast-fnet-slice|--arch fast-fnet --residual slice"
    "fast-fnet-centred|--arch fast-fnet --pad centred"
    "fast-fnet-halved|--arch fast-fnet --block-ffn halved"
    "narrow|--arch fast-fnet-narrow --reduce 0 --residual dense"
)
log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
add() { # KEY=VALUE... then a JSON line from stdin: merged into one results line
    local extra="$*"
    $PY -c '
import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
for kv in sys.argv[1:]:
    k, v = kv.split("=", 1)
    d[k] = v
print(json.dumps(d))' $extra >>"$RES"
}

COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo -dirty)"
source bench/machine.sh
# where this command ran: a later command that re-measures some sections may run on another kind of CPU, and the
# report names the machine of each section
WHERE="\"cpu\": \"$(cpu_name)\", \"isa\": \"$(vector_isa)\", \"cores\": $(nproc), \"threads\": $TH, \"blas_core\": \"$BLAS_CORE\""
header() { # machine facts, once per results file
    {
    echo "{\"section\": \"machine\", \"profile\": \"$PROFILE\", $WHERE, \"mem_gib\": $(free -g | awk '/Mem:/{print $2}'), \"commit\": \"$COMMIT\", \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\", \"torch\": \"$($PY -c 'import torch; print(torch.__version__)')\", \"openblas\": \"$(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || dpkg-query -W -f='${Version}' libopenblas-dev)\", \"fftw\": \"$(dpkg-query -W -f='${Version}' libfftw3-dev)\"}"
    } >>"$RES"
}
[ $FRESH = 1 ] && header
echo "{\"section\": \"command\", \"command\": \"$CMD\", \"sections\": \"$SECTIONS\", \"commit\": \"$COMMIT\", \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\", $WHERE}" >>"$RES"
report() {
    log "report"
    local runs=()
    [ -d "$OUT/runs" ] && runs=(--runs "$OUT/runs")
    $PY bench/report.py "$RES" --out docs/RESULTS.md --svg-prefix docs/results "${runs[@]}" --budget "$BUDGET"
    cp "$RES" "$SAVED.tmp" && mv "$SAVED.tmp" "$SAVED"
    log "wrote docs/RESULTS.md and its rows, $SAVED"
}
BUDGET="hidden $AHID, $ALAY layers, FFN $AFFN, 4 heads, batch $ABATCH, $STEPS steps (MLM $MLMSTEPS), lr $LR (warmup 6%, linear decay), dropout 0.1; \
ListOps $LLEN tokens, Text $TLEN bytes, Image 785 tokens, MLM and fine-tuning $MLEN BPE tokens; test sets: seeded random subsets of at most $ELIMIT examples"

# 6. data parallelism: the same training run (FNet and Fast-FNet at the efficiency shape, Text data) as 1 process
# x 2 threads and as 2 processes x 1 thread (each bound to a core), plain and ZeRO-1; rounds interleaved.
section_mpi() {
    if ! command -v mpirun >/dev/null || ! ldd $FF | grep -q libmpi; then
        log "6. data parallelism skipped: no MPI build (install libopenmpi-dev openmpi-bin, rebuild)"
        return
    fi
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    log "6. data parallelism: $MPI_ROUNDS rounds of $MPI_STEPS steps, batch $MPI_BATCH x $SEQ tokens"
    mkdir -p "$OUT/mpi"
    local spec name flags cfg dir
    for round in $(seq 1 "$MPI_ROUNDS"); do
        for spec in "fnet|--arch fnet" "fast-avgpool-0|--arch fast-fnet-narrow --reduce 0 --residual avgpool"; do
            name=${spec%%|*}
            flags=${spec#*|}
            for cfg in 1x2 2x1 2x1-zero; do
                dir=$OUT/mpi/$name-$cfg-r$round
                local launch=() extra=()
                case $cfg in
                    1x2) extra=(--threads 2) ;;
                    2x1) launch=(mpirun -np 2 --bind-to core) extra=(--threads 1) ;;
                    2x1-zero) launch=(mpirun -np 2 --bind-to core) extra=(--threads 1 --zero) ;;
                esac
                # shellcheck disable=SC2086
                if "${launch[@]}" $FF train --data text --max-len $SEQ $flags --hidden 256 --layers 4 --intermediate 1024 \
                    --heads 4 --batch $MPI_BATCH --steps $MPI_STEPS --eval-every $MPI_STEPS --eval-limit 64 --limit 4000 \
                    --log-every $MPI_STEPS --seed 1 "${extra[@]}" --force --out "$dir" >"$dir.json" 2>"$dir.log"; then
                    add section=mpi model="$name" config="$cfg" round="$round" batch="$MPI_BATCH" seq="$SEQ" <"$dir.json"
                else
                    log "FAILED: mpi $name $cfg: $(tail -1 "$dir.log")"
                fi
            done
        done
    done
}
if want speed; then
    log "1. sgemm peak"
    $BENCH --sgemm-peak --threads $TH --repeats 7 | add section=sgemm

    log "2. efficiency at seq $SEQ, batch $BATCH ($ROUNDS rounds x $REP repeats), with the PyTorch peer"
    for round in $(seq 1 "$ROUNDS"); do
        for spec in "${MODELS[@]}"; do
            name=${spec%%|*}
            flags=${spec#*|}
            flags=${flags//MID/2}
            # shellcheck disable=SC2086
            $BENCH $flags --hidden 256 --layers 4 --intermediate 1024 --heads 4 --vocab 261 --seq $SEQ --batch $BATCH \
                --repeats $REP --warmup 2 --threads $TH | add section=efficiency model="$name" round="$round"
            if [ "$name" = bert ] || [ "$name" = fnet ]; then
                $PY bench/torch_peer.py --arch "$name" --vocab 261 --hidden 256 --layers 4 --intermediate 1024 --heads 4 \
                    --seq $SEQ --batch $BATCH --threads $TH --repeats $REP --warmup 2 --mode both --json |
                    add section=efficiency model="pytorch-$name" round="$round"
            fi
        done
    done

    log "3. sequence-length sweep: $SWEEP"
    for T in $SWEEP; do
        for spec in "bert|--arch bert" "fnet|--arch fnet" "fast-avgpool-0|--arch fast-fnet-narrow --reduce 0 --residual avgpool"; do
            name=${spec%%|*}
            # shellcheck disable=SC2086
            $BENCH ${spec#*|} --hidden 256 --layers 4 --intermediate 1024 --heads 4 --vocab 261 --seq "$T" --batch 1 \
                --mode train --repeats 3 --warmup 1 --threads $TH | add section=sweep model="$name"
        done
    done

    log "4. FNet-Base inference latency (12 x 768, seq 512, batch 1) against PyTorch"
    for round in $(seq 1 "$ROUNDS"); do
        $BENCH --arch fnet --hidden 768 --layers 12 --intermediate 3072 --vocab 32000 --seq 512 --batch 1 --mode infer \
            --repeats $BASE_REP --warmup 1 --threads $TH | add section=base model=fnet-base round="$round"
        $PY bench/torch_peer.py --arch fnet --vocab 32000 --hidden 768 --layers 12 --intermediate 3072 --heads 12 --seq 512 \
            --batch 1 --threads $TH --repeats $BASE_REP --warmup 1 --mode infer --json | add section=base model=pytorch-fnet-base round="$round"
    done

fi # speed

if want accuracy; then
    log "5. accuracy: $BUDGET; seeds $SEEDS"
    acc_run() { # task-name model-name seed flags...
        local task=$1 name=$2 seed=$3
        shift 3
        local dir=$OUT/runs/$task-$name-s$seed
        if $FF train "$@" --hidden $AHID --layers $ALAY --intermediate $AFFN --heads 4 --batch $ABATCH --lr $LR --seed "$seed" \
            --limit $LIMIT --eval-limit $ELIMIT --eval-every $STEPS --threads $TH --log-every 50 --force --out "$dir" \
            >"$dir.json" 2>"$dir.log"; then
            add section=accuracy task="$task" model="$name" seed="$seed" <"$dir.json"
        else
            log "FAILED: $task $name seed $seed: $(tail -1 "$dir.log")"
            echo "{\"error\": \"$(tail -1 "$dir.log" | tr -d '"')\"}" | add section=accuracy task="$task" model="$name" seed="$seed"
        fi
    }
    mkdir -p "$OUT/runs" "$OUT/listops"
    # ListOps with the LRA rules (MAX/MIN/MED/SM, depth <= 10) but 100..$LLEN tokens instead of LRA's 500..2000, so
    # that attention fits the budget on 2 cores (docs/RESULTS.md says so); train/valid/test from disjoint seeds.
    $FF data listops --out "$OUT/listops/train.tsv" --n 20000 --seed 11 --min-len 100 --max-len $((LLEN - 1))
    $FF data listops --out "$OUT/listops/valid.tsv" --n 1000 --seed 12 --min-len 100 --max-len $((LLEN - 1))
    $FF data listops --out "$OUT/listops/test.tsv" --n 1000 --seed 13 --min-len 100 --max-len $((LLEN - 1))
    for seed in $SEEDS; do
        for spec in "${MODELS[@]}"; do
            name=${spec%%|*}
            flags=${spec#*|}
            flags=${flags//MID/$MID}
            # shellcheck disable=SC2086
            {
                acc_run listops "$name" "$seed" --train "$OUT/listops/train.tsv" --valid "$OUT/listops/valid.tsv" \
                    --test "$OUT/listops/test.tsv" --tokenizer word --max-len $LLEN --steps $STEPS $flags
                acc_run text "$name" "$seed" --data text --max-len $TLEN --steps $STEPS $flags
                acc_run image "$name" "$seed" --data image --steps $STEPS $flags
                # MLM pre-training on Moby Dick + SOTU (BPE), then fine-tuning on the Text task with that tokenizer
                acc_run mlm "$name" "$seed" --task mlm --data pretrain --tokenizer bpe --vocab-size 4000 --max-len $MLEN --steps $MLMSTEPS $flags
                acc_run mlm-finetune "$name" "$seed" --data text --max-len $MLEN --steps $STEPS --init-from "$OUT/runs/mlm-$name-s$seed"
            }
        done
    done

fi # accuracy

want mpi && section_mpi

# 7. the authors' Fast-FNet against FNet and the narrow design. Parameters at Base size with every head; speed and
# peak RSS at the efficiency shape and at Base size (each model in its own process, rounds interleaved); the Fourier
# layer alone (forward + backward) in one process, its variants interleaved.
section_authors() {
    local spec name flags round
    log "7. the authors' Fast-FNet: parameters at Base size"
    for spec in "${AUTHORS[@]}"; do
        # shellcheck disable=SC2086
        $BENCH ${spec#*|} --hidden 768 --layers 12 --intermediate 3072 --vocab 32000 --seq 512 --params | add section=authors-params model="${spec%%|*}"
    done
    log "7. the Fourier layer alone"
    $BENCH --fourier --hidden 256 --seq $SEQ --batch $BATCH --repeats 11 --threads $TH | add section=authors-fourier shape=small
    $BENCH --fourier --hidden 768 --seq 512 --batch 1 --repeats 11 --threads $TH | add section=authors-fourier shape=base
    log "7. speed and memory, $ROUNDS rounds: 4 x 256 (seq $SEQ, batch $BATCH) and 12 x 768 (seq 512, batch 1)"
    for round in $(seq 1 "$ROUNDS"); do
        for spec in "${AUTHORS[@]}"; do
            name=${spec%%|*}
            flags=${spec#*|}
            # shellcheck disable=SC2086
            $BENCH $flags --hidden 256 --layers 4 --intermediate 1024 --heads 4 --vocab 261 --seq $SEQ --batch $BATCH \
                --repeats $REP --warmup 2 --threads $TH | add section=authors-speed shape=small model="$name" round="$round"
        done
        for spec in "${AUTHORS[@]}"; do
            name=${spec%%|*}
            flags=${spec#*|}
            # shellcheck disable=SC2086
            $BENCH $flags --hidden 768 --layers 12 --intermediate 3072 --heads 12 --vocab 32000 --seq 512 --batch 1 \
                --repeats $BASE_REP --warmup 1 --threads $TH | add section=authors-speed shape=base model="$name" round="$round"
        done
    done
}
want authors && section_authors
report
