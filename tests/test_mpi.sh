#!/usr/bin/env bash
# test_mpi.sh: data-parallel training on Open MPI (2 processes on this machine, --oversubscribe):
#   equivalence of 2 ranks x B/2 with 1 rank x B (FNet, Fast-FNet, MLM), ZeRO-1 = plain data parallelism,
#   checkpoints resumed with another process count, a killed rank ends the job quickly with its checkpoint
#   intact, and bad input. Skipped (with the reason) only when Open MPI is not installed.
source "$(dirname "$0")/lib.sh"
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: mpirun not found; scripts/deps.sh installs Open MPI (openmpi-bin, libopenmpi-dev)"
    finish
    exit
fi
if ! ldd "$FF" | grep -q libmpi; then
    bad "$FF was built without MPI although Open MPI is installed (make USE_MPI=1)"
    finish
    exit
fi
# Open MPI refuses root unless told; CI runs as root. Under the sanitizers, LeakSanitizer reports Open MPI's
# and OpenBLAS's allocations that are never freed (their stacks cannot be symbolised through the plugins), so
# MPI runs check memory errors and UB but not leaks; the single-process runs of the other suites keep leak checks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPI_ASAN="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # the last setting wins
mpi2() { ASAN_OPTIONS="$MPI_ASAN" mpirun --oversubscribe --bind-to none -np 2 "$@"; }
worst() { /usr/bin/python3 "$ROOT/tests/st_tool.py" worst "$@"; } # A B TOL: per-tensor max|a-b|/max|a|
# per-step loss and gradient norm from two metrics files: the largest relative difference
metrics_diff() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys
def steps(p):
    d = {}
    for line in open(p):
        r = json.loads(line)
        if "loss" in r and "grad_norm" in r: d[r["step"]] = (r["loss"], r["grad_norm"])
    return d
a, b = steps(sys.argv[1]), steps(sys.argv[2])
if not a or a.keys() != b.keys(): print("steps differ"); sys.exit(0)
print("%.1e" % max(abs(x - y) / abs(x) for s in a for x, y in zip(a[s], b[s]) if x))
EOF
}
end_job() { # PID OUT: wait up to 30 s for a background mpirun, then kill it and its ranks; its exit status
    for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$1" 2>/dev/null && { kill -9 "$1"; pkill -9 -f "fastfnet train.*$2"; }
    wait "$1"
}
below() { /usr/bin/python3 -c "import sys; sys.exit(0 if float('$1') < float('$2') else 1)" 2>/dev/null; }

"$FF" data listops --out lo-train.tsv --n 600 --seed 1 --min-len 20 --max-len 63 >/dev/null 2>&1
"$FF" data listops --out lo-valid.tsv --n 60 --seed 2 --min-len 20 --max-len 63 >/dev/null 2>&1
CLS=(--train lo-train.tsv --valid lo-valid.tsv --tokenizer word --max-len 64 --hidden 32 --layers 2 --intermediate 64
    --batch 8 --steps 8 --lr 3e-3 --dropout 0.1 --seed 5 --threads 1 --log-every 1 --eval-every 4)
# Tolerances. The two runs add the same float32 products in another order (two half-batch GEMMs summed instead
# of one), so gradients agree to ~1e-6; AdamW then divides each gradient by its own running magnitude, which
# turns the rounding of a near-zero gradient element into a visible weight difference (one element of the
# pooler moves by 2e-5 while the other 1023 agree to 1e-9). So: per-step loss and gradient norm within STEP_TOL
# (relative); AdamW's first moment (a running mean of the gradients, not amplified) and the weights within
# M_TOL and W_TOL (per tensor ||a-b|| / ||a||). For scale: only changing a 1-process run's thread count moves
# the weights by ~1e-5 here; a dropped half-batch or mis-keyed dropout masks move them by 1e-2 or more.
STEP_TOL=1e-5
M_TOL=1e-4
W_TOL=2e-4
adam_m() { # DIR: the state file of the run's last checkpoint
    echo "$1/checkpoints/$(cat "$1/checkpoints/LATEST")/state.safetensors"
}

# 1. equivalence: 1 process x batch 8 == 2 processes x 4, for FNet and Fast-FNet (dropout on)
for arch in fnet fast-fnet; do
    "$FF" train "${CLS[@]}" --arch $arch --out one-$arch >one-$arch.json 2>one-$arch.err
    mpi2 "$FF" train "${CLS[@]}" --arch $arch --out two-$arch >two-$arch.json 2>two-$arch.err
    w=$(worst one-$arch/model.safetensors two-$arch/model.safetensors $W_TOL)
    m=$(worst "$(adam_m one-$arch)" "$(adam_m two-$arch)" $M_TOL)
    s=$(metrics_diff one-$arch/metrics.jsonl two-$arch/metrics.jsonl)
    if [[ $w == ok* ]] && [[ $m == ok* ]] && below "$s" $STEP_TOL; then
        ok "$arch: 2 processes x 4 == 1 x 8, 8 AdamW steps: loss/grad norm per step $s < $STEP_TOL, AdamW moments $m < $M_TOL, weights $w < $W_TOL"
    else
        bad "$arch: 2 x 4 vs 1 x 8: per-step $s, moments $m, weights $w: $(tail -2 two-$arch.err)"
    fi
done
n_json=$(grep -c '^{' two-fnet.json)
n_eval=$(grep -c '^eval step' two-fnet.err)
[ "$n_json" -eq 1 ] && [ "$n_eval" -eq 2 ] && [ "$(grep -c '"processes": 2' two-fnet.json)" -eq 1 ] &&
    ok "only rank 0 prints: one result line, 2 evaluation lines for 2 evaluations" ||
    bad "output of a 2-process run: $n_json result lines, $n_eval eval lines"

# MLM: the loss is a mean over the masked tokens of the whole batch, however they fall between the processes. The
# text is twin_replay's seeded corpus, not the README (whose edits would change the runs)
/usr/bin/python3 -c 'import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import twin_replay as t; t.write_corpus("corpus.txt", np.random.default_rng(9))' "$ROOT/tests"
MLM=(--task mlm --train corpus.txt --max-len 48 --hidden 32 --layers 2 --intermediate 64 --batch 6 --steps 6
    --lr 3e-3 --seed 9 --threads 1 --log-every 1 --eval-every 6)
"$FF" train "${MLM[@]}" --out one-mlm --record one-mlm.rec >/dev/null 2>one-mlm.err
mpi2 "$FF" train "${MLM[@]}" --out two-mlm --record two-mlm.rec >/dev/null 2>two-mlm.err
# --record under MPI: rank 0 writes the whole global batch, the same sequences and masks as one process
same=$(/usr/bin/python3 - one-mlm.rec/steps.bin two-mlm.rec/steps.bin <<'EOF'
import sys, numpy as np
a, b = (np.fromfile(p, "<i4") for p in sys.argv[1:3])
keep = np.ones(len(a), bool)
if len(a) == len(b):
    keep[[i + k for i in range(0, len(a), 12 + 3 * 6 * 48 + 6) for k in (9, 10, 11)]] = False  # lr, loss, grad norm
print("same" if len(a) == len(b) and len(a) and (a[keep] == b[keep]).all() else f"differ ({len(a)} and {len(b)} words)")
EOF
)
[ "$same" = same ] && ok "--record under 2 processes: the same $(($(stat -c %s one-mlm.rec/steps.bin) / 4)) words of batches as 1 process" ||
    bad "--record under 2 processes: $same"
w=$(worst one-mlm/model.safetensors two-mlm/model.safetensors $W_TOL)
m=$(worst "$(adam_m one-mlm)" "$(adam_m two-mlm)" $M_TOL)
s=$(metrics_diff one-mlm/metrics.jsonl two-mlm/metrics.jsonl)
[[ $w == ok* ]] && [[ $m == ok* ]] && below "$s" $STEP_TOL && ok "mlm: 2 x 3 == 1 x 6: per-step loss/grad norm $s, moments $m, weights $w" ||
    bad "mlm 2 x 3 vs 1 x 6: per-step $s, moments $m, weights $w: $(tail -2 two-mlm.err)"

# 2. ZeRO-1 (AdamW moments sharded) == plain data parallelism; its checkpoint holds the whole moments
mpi2 "$FF" train "${CLS[@]}" --arch fnet --zero --out zero >zero.json 2>zero.err
w=$(worst two-fnet/model.safetensors zero/model.safetensors 1e-6)
last=$(cat zero/checkpoints/LATEST)
wm=$(worst two-fnet/checkpoints/$last/state.safetensors zero/checkpoints/$last/state.safetensors 1e-6)
# rank 0's share of the moments: half of plain data parallelism's (to rounding of the block boundary)
mz=$(grep -o 'AdamW moments [0-9.]* MiB' zero.err | grep -o '[0-9.]*')
mp=$(grep -o 'AdamW moments [0-9.]* MiB' two-fnet.err | grep -o '[0-9.]*')
half=$(/usr/bin/python3 -c "print(abs(2 * float('${mz:-0}') - float('${mp:-0}')) <= 0.002 and float('${mp:-0}') > 0)" 2>/dev/null)
[[ $w == ok* ]] && [[ $wm == ok* ]] && grep -q '"zero": 1' zero.json && [ "$half" = True ] &&
    ok "ZeRO-1 == plain data parallelism: weights $w, AdamW moments in the checkpoint $wm; moments per process $mz MiB vs $mp MiB" ||
    bad "ZeRO-1 vs plain: weights $w, moments $wm, moments per process $mz vs $mp MiB: $(tail -2 zero.err)"

# 3. a checkpoint of a 2-process run resumes on 1 process (and the other way), and matches
cut_at_4() { # DIR: make the run look interrupted after step 4 (its complete checkpoint step 4 stays)
    rm -rf "$1/checkpoints/step-000000008" "$1/model.safetensors"
    echo step-000000004 >"$1/checkpoints/LATEST"
}
mpi2 "$FF" train "${CLS[@]}" --arch fnet --save-every 4 --keep 5 --out r21 >/dev/null 2>r21.err && cut_at_4 r21 &&
    "$FF" train "${CLS[@]}" --arch fnet --save-every 4 --keep 5 --resume r21 >/dev/null 2>r21b.err
w=$(worst one-fnet/model.safetensors r21/model.safetensors $W_TOL)
[[ $w == ok* ]] && grep -q "resuming" r21b.err && ok "2 processes to step 4, resumed on 1 to step 8 == 1 process throughout: $w" ||
    bad "2 -> 1 resume: $w: $(tail -n 3 r21.err r21b.err 2>&1)"
"$FF" train "${CLS[@]}" --arch fnet --save-every 4 --keep 5 --out r12 >/dev/null 2>r12.err && cut_at_4 r12 &&
    mpi2 "$FF" train "${CLS[@]}" --arch fnet --zero --save-every 4 --keep 5 --resume r12 >/dev/null 2>r12b.err
w=$(worst one-fnet/model.safetensors r12/model.safetensors $W_TOL)
[[ $w == ok* ]] && ok "1 process to step 4, resumed on 2 with ZeRO-1 to step 8 == 1 process throughout: $w" ||
    bad "1 -> 2 (ZeRO) resume: $w: $(tail -n 3 r12.err r12b.err 2>&1)"

# 4. a rank killed mid-run: the job ends within seconds, non-zero, naming the rank; the last checkpoint loads
ASAN_OPTIONS="$MPI_ASAN" mpirun --oversubscribe --bind-to none -np 2 "$FF" train "${CLS[@]}" --arch fnet --steps 1000000 \
    --save-every 20 --eval-every 1000000 --log-every 1000 --out killed >/dev/null 2>killed.err &
job=$!
for _ in $(seq 1 600); do [ -f killed/checkpoints/LATEST ] && break; sleep 0.1; done
victim=""
for p in $(pgrep -f "fastfnet train"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
done
t0=$(date +%s.%N)
[ -n "$victim" ] && kill -9 "$victim"
end_job $job killed
rc=$?
dt=$(/usr/bin/python3 -c "import time; print('%.1f' % (time.time() - $t0))")
ck=killed/checkpoints/$(cat killed/checkpoints/LATEST 2>/dev/null)
if [ -n "$victim" ] && [ "$rc" -ne 0 ] && below "$dt" 15 && grep -q "rank 1" killed.err &&
    "$FF" eval --model "$ck" --train lo-valid.tsv >ev.json 2>ev.err; then
    ok "kill -9 of rank 1: job ended in ${dt}s with status $rc ($(grep -m1 -o 'process rank 1[^.]*' killed.err)); $ck evaluates"
else
    bad "killed rank: victim '$victim', rc $rc after ${dt}s; $(tail -3 killed.err); eval: $(tail -1 ev.err 2>/dev/null)"
fi

# 5. Ctrl-C on mpirun: every process stops after the same step, rank 0 saves it
# (mpirun itself in the background, not a shell function: $! must be mpirun's pid)
ASAN_OPTIONS="$MPI_ASAN" mpirun --oversubscribe --bind-to none -np 2 "$FF" train "${CLS[@]}" --arch fnet --steps 1000000 \
    --save-every 1000000 --eval-every 1000000 --log-every 1000 --out intr >/dev/null 2>intr.err &
job=$!
for _ in $(seq 1 600); do grep -q "^fastfnet: 2 processes" intr.err 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -INT $job
end_job $job intr
rc=$?
saved=$(cat intr/checkpoints/LATEST 2>/dev/null)
[ "$rc" -ne 0 ] && [ -n "$saved" ] && grep -q "interrupted at step" intr.err &&
    "$FF" eval --model "intr/checkpoints/$saved" --train lo-valid.tsv >/dev/null 2>&1 &&
    ok "Ctrl-C on mpirun: $(grep -o 'interrupted at step [0-9]*' intr.err), $saved saved and loads, status $rc" ||
    bad "Ctrl-C on mpirun: rc $rc, LATEST '$saved': $(tail -n 3 intr.err)"

# 6. bad input: a global batch smaller than the process count
mpi2 "$FF" train "${CLS[@]}" --batch 1 --out tiny >/dev/null 2>tiny.err
rc=$?
[ "$rc" -ne 0 ] && grep -q "smaller than the 2 processes" tiny.err && [ ! -e tiny/model.safetensors ] &&
    ok "--batch 1 on 2 processes: $(grep -m1 'smaller than' tiny.err)" || bad "--batch 1 on 2 processes: rc $rc, $(tail -2 tiny.err)"
# the library under mpirun: a second trainer in one process is refused with a message (MPI cannot start twice; it
# aborted the job with "MPI_Init_thread called after MPI_FINALIZE")
mpi2 "$ROOT/$BUILD/test_trainer" "$FF" --mpi-twice >twice.log 2>&1
trc=$?
[ "$trc" -eq 0 ] && [ "$(grep -c '^PASS a second trainer in the process is refused: MPI: .*started twice' twice.log)" -eq 2 ] &&
    ok "a second trainer in one mpirun process is refused on both ranks: $(grep -m1 '^PASS a second' twice.log | cut -d: -f2-)" ||
    bad "a second trainer under mpirun: rc $trc, $(grep -E '^(PASS|FAIL)|MPI_' twice.log | head -4)"

finish
