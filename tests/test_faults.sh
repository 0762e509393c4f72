#!/usr/bin/env bash
# test_faults.sh: faults around checkpoints, provoked rather than reasoned about: SIGKILL at random moments of
# the saves, a full disk while a checkpoint is written, a corrupted newest checkpoint, a directory fsync that
# fails, a top-level copy that fails; after each, --resume continues from a completed checkpoint and ends where
# an unbroken run ends. A checkpoint whose state holds damaged numbers is refused, naming the file.
source "$(dirname "$0")/lib.sh"
tensors_equal() { /usr/bin/python3 "$ROOT/tests/st_tool.py" equal "$1" "$2"; } # A B: every tensor bit-identical
json_acc() { /usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['valid_accuracy'])" "$1" 2>/dev/null; }
# steps of the train-loss lines (or of the eval lines with "eval_loss") of a metrics file, strictly increasing?
steps_increase() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
steps = [d["step"] for d in map(json.loads, open(sys.argv[1])) if sys.argv[2] in d]
bad = [b for a, b in zip(steps, steps[1:]) if b <= a]
print("ok %d lines" % len(steps) if steps and not bad else "steps repeat or go back: %s" % bad[:5])
PY
}

/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(5)
words = ["zero one two three four", "five six seven eight nine"]
with open("t_train.jsonl", "w") as f:
    for i in range(300):
        y = r.randrange(2)
        text = " ".join(r.choice(words[y].split()) for _ in range(r.randrange(3, 12)))
        f.write(json.dumps({"text": text, "label": ["small", "large"][y]}) + "\n")
PY
# a tiny model: a step takes far less time than a save, so most kills land inside a save
TR=(--train t_train.jsonl --max-len 24 --hidden 16 --layers 1 --intermediate 32 --dropout 0.1 --threads 1 --batch 8
    --seed 3 --log-every 1 --eval-every 10 --steps 60)
t0=$(date +%s.%N)
"$FF" train "${TR[@]}" --save-every 1 --keep 1000 --out ref >/dev/null 2>ref.log || bad "reference run: $(tail -2 ref.log)"
# kill moments are drawn over the reference run's own duration, so they land inside the run on any machine
REF_S=$(/usr/bin/python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(date +%s.%N)")

# 1. SIGKILL at random moments: the newest checkpoint is always one the reference run completed (its weights
# and AdamW moments bit-identical), --resume ends at the reference's final weights, metrics never repeat a step
TRIALS=12
case "$BUILD" in *san*) TRIALS=5 ;; esac
# A trial whose run ended before its kill moment (the machine got faster than during the reference run) is
# not counted: its moments are redrawn over half the span, and TRIALS runs must still be killed.
good=0 mid=0 why="" span=$REF_S killed=0 attempts=0
while [ $killed -lt $TRIALS ] && [ $attempts -lt $((3 * TRIALS)) ]; do
    attempts=$((attempts + 1))
    rm -rf k
    "$FF" train "${TR[@]}" --save-every 1 --keep 2 --out k >/dev/null 2>k.log &
    pid=$!
    sleep "$(/usr/bin/python3 -c "import random, sys; d = float(sys.argv[1]); print(round(random.uniform(0.1, 0.8) * d, 3))" "$span")"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    rc=$?
    if [ "$rc" -ne 137 ]; then
        [ "$rc" -eq 0 ] && { span=$(/usr/bin/python3 -c "import sys; print(float(sys.argv[1]) / 2)" "$span"); continue; }
        why="attempt $attempts: the run failed before its kill (status $rc): $(tail -1 k.log)"; continue
    fi
    killed=$((killed + 1)) i=$attempts
    ls k/checkpoints 2>/dev/null | grep -q tmp && mid=$((mid + 1))
    at=$(cat k/checkpoints/LATEST 2>/dev/null)
    if [ -n "$at" ]; then
        e1=$(tensors_equal "k/checkpoints/$at/model.safetensors" "ref/checkpoints/$at/model.safetensors")
        e2=$(tensors_equal "k/checkpoints/$at/state.safetensors" "ref/checkpoints/$at/state.safetensors")
        [ "$e1" = identical ] && [ "$e2" = identical ] || { why="trial $i: $at is not the reference's $at ($e1 / $e2)"; continue; }
    fi
    "$FF" train "${TR[@]}" --save-every 1 --keep 2 ${at:+--resume k} --out k >/dev/null 2>k2.log ||
        { why="trial $i: resume after $at failed: $(tail -1 k2.log)"; continue; }
    e=$(tensors_equal k/model.safetensors ref/model.safetensors)
    [ "$e" = identical ] || { why="trial $i: resumed after $at, final weights differ ($e)"; continue; }
    s1=$(steps_increase k/metrics.jsonl loss) s2=$(steps_increase k/metrics.jsonl eval_loss)
    case "$s1 $s2" in "ok "*" ok "*) ;; *) why="trial $i: metrics after resuming at $at: $s1 / $s2"; continue ;; esac
    good=$((good + 1))
done
[ $killed -eq $TRIALS ] || why="only $killed of $attempts runs were killed before they ended: $why"
[ "$good" -eq "$TRIALS" ] &&
    ok "SIGKILL at $TRIALS random moments ($mid inside a save): the newest checkpoint is a completed one, resume ends bit-identical, metrics never repeat a step" ||
    bad "SIGKILL trials: $good of $TRIALS good; $why"

# 2. disk full while a checkpoint is written: a small tmpfs when this user may mount one, otherwise a file-size
# limit (the same failing write, EFBIG instead of ENOSPC); either way one clear line, the previous checkpoint
# intact, and --resume (with room again) continues from it to the weights of the same run never short of room
DF=(--train t_train.jsonl --max-len 24 --hidden 16 --layers 1 --intermediate 32 --dropout 0.1 --threads 1 --batch 8
    --seed 3 --save-every 5 --eval-every 5)
"$FF" train "${DF[@]}" --steps 10 --out dfref >/dev/null 2>/dev/null
"$FF" train "${DF[@]}" --steps 20 --resume dfref >/dev/null 2>/dev/null
mkdir -p mnt
if mount -t tmpfs -o size=2m tmpfs mnt 2>/dev/null; then
    trap 'umount "$SCRATCH/mnt" 2>/dev/null; rm -rf "$SCRATCH"' EXIT
    how="a full tmpfs"
    "$FF" train "${DF[@]}" --steps 10 --out mnt/df >/dev/null 2>/dev/null
    sed -i '/"final": true/d' mnt/df/metrics.jsonl # as if stopped at step 10: no line for the resume to drop, so no rewrite
    cp -r mnt/df/checkpoints/step-000000010 saved10
    dd if=/dev/zero of=mnt/fill bs=4k 2>/dev/null # until the disk is full (ENOSPC)
    "$FF" train "${DF[@]}" --steps 20 --resume mnt/df >/dev/null 2>df.err
    rc=$?
    rm -f mnt/fill
else
    how="a file-size limit"
    "$FF" train "${DF[@]}" --steps 10 --out mnt/df >/dev/null 2>/dev/null
    cp -r mnt/df/checkpoints/step-000000010 saved10
    (trap '' XFSZ; ulimit -f 40; exec "$FF" train "${DF[@]}" --steps 20 --resume mnt/df >/dev/null 2>df.err)
    rc=$?
fi
last=$(grep -v '^fastfnet train: options\|^step \|^eval step\|^fastfnet: resuming' df.err | tail -1)
[ "$rc" -eq 1 ] && [ "$(grep -c . <<<"$last")" -eq 1 ] && grep -qE "step-000000015.*(No space left|File too large)" <<<"$last" &&
    ok "a save that does not fit ($how) fails with one line: $last" || bad "disk full: rc=$rc, $(tail -c 400 df.err)"
[ "$(cat mnt/df/checkpoints/LATEST)" = step-000000010 ] &&
    [ "$(tensors_equal mnt/df/checkpoints/step-000000010/model.safetensors saved10/model.safetensors)" = identical ] &&
    [ "$(tensors_equal mnt/df/checkpoints/step-000000010/state.safetensors saved10/state.safetensors)" = identical ] &&
    ok "the previous checkpoint (step 10) is intact and still the newest" || bad "after the full disk: LATEST $(cat mnt/df/checkpoints/LATEST)"
ls mnt/df/checkpoints | grep -q tmp && bad "the failed save left $(ls mnt/df/checkpoints | grep tmp)" || ok "the failed save left no partial checkpoint"
"$FF" train "${DF[@]}" --steps 20 --resume mnt/df >/dev/null 2>df2.err && grep -q "resuming .*step-000000010" df2.err &&
    [ "$(tensors_equal mnt/df/model.safetensors dfref/model.safetensors)" = identical ] &&
    ok "with room again, --resume continues from step 10 to the unbroken run's weights" || bad "resume after disk full: $(tail -2 df2.err)"

# 3. a corrupted newest checkpoint: --resume says so and continues from the one before it (and says so); with
# every checkpoint unreadable it refuses, naming them
"$FF" train "${DF[@]}" --steps 20 --keep 3 --out cor >/dev/null 2>/dev/null
cp cor/model.safetensors cor_final.safetensors
for corrupt in truncate header; do
    rm -rf c && cp -r cor c
    case $corrupt in
    truncate) truncate -s 100 c/checkpoints/step-000000020/state.safetensors ;;
    header) printf 'garbage!' | dd of=c/checkpoints/step-000000020/model.safetensors conv=notrunc 2>/dev/null ;;
    esac
    "$FF" train "${DF[@]}" --steps 20 --resume c >/dev/null 2>c.err
    rc=$?
    [ "$rc" -eq 0 ] && grep -q "step-000000020.*unreadable" c.err && grep -q "resuming .*step-000000015" c.err &&
        [ "$(tensors_equal c/model.safetensors cor_final.safetensors)" = identical ] &&
        ok "corrupted newest checkpoint ($corrupt): $(grep unreadable c.err | head -1)" ||
        bad "corrupted newest checkpoint ($corrupt): rc=$rc $(tail -c 400 c.err)"
done
rm -rf c && cp -r cor c
for s in 10 15 20; do truncate -s 10 c/checkpoints/step-0000000$s/model.safetensors; done
"$FF" train "${DF[@]}" --steps 20 --resume c >/dev/null 2>c.err
rc=$?
[ "$rc" -eq 1 ] && tail -1 c.err | grep -q "no readable checkpoint" && ok "every checkpoint unreadable: $(tail -1 c.err)" ||
    bad "all checkpoints corrupt: rc=$rc $(tail -c 300 c.err)"

# 4. a failing fsync of the checkpoints directory after a checkpoint was renamed into it (an LD_PRELOAD shim
# fails the first fsync of that directory) stops the run with a message; the checkpoint before it stays the newest
cc -shared -fPIC -O1 -o fsync_shim.so "$ROOT/tests/fsync_shim.c" -ldl 2>shim.err || bad "building the fsync shim: $(cat shim.err)"
"$FF" train "${DF[@]}" --steps 10 --out fs >/dev/null 2>/dev/null
ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 LD_PRELOAD=$PWD/fsync_shim.so FASTFNET_FAIL_FIRST_FSYNC_OF=fs/checkpoints \
    "$FF" train "${DF[@]}" --steps 20 --resume fs >/dev/null 2>fs.err
rc=$?
last=$(tail -1 fs.err)
[ "$rc" -eq 1 ] && grep -q "checkpoints.*sync" <<<"$last" && [ "$(cat fs/checkpoints/LATEST)" = step-000000010 ] &&
    ok "a failed directory fsync is an error: $last" || bad "directory fsync failure: rc=$rc $(tail -c 300 fs.err)"

# 5. a damaged number in a checkpoint's state is refused naming the file (a negative "pos" indexed before the data
# order: SIGSEGV, or a heap overflow under ASan); with no older checkpoint to fall back to the resume stops
"$FF" train "${DF[@]}" --steps 10 --keep 1 --out em >/dev/null 2>/dev/null
for kv in pos=-100000000 pos=-1 pos=99999 epoch=-5 bad_evals=-2 best_step=50 data_rng=0 elapsed=nan; do
    rm -rf em2 && cp -r em em2
    /usr/bin/python3 - "$ROOT/tests" em2/checkpoints/step-000000010/state.safetensors "${kv%%=*}" "${kv#*=}" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import torch_twin as tt
t, meta = tt.st_read(sys.argv[2])
meta[sys.argv[3]] = sys.argv[4]
tt.st_write(sys.argv[2], t, meta)
PY
    "$FF" train "${DF[@]}" --steps 20 --resume em2 >/dev/null 2>em2.err
    rc=$?
    [ "$rc" -eq 1 ] && tail -1 em2.err | grep -q "em2/checkpoints/step-000000010/state.safetensors: training state .*${kv%%=*}.*damaged" &&
        ok "a damaged state ($kv) is refused naming the file" || bad "damaged state $kv: rc=$rc $(tail -c 300 em2.err)"
done

# 6. a top-level copy that fails after the checkpoint directory is written (the shim fails the second fsync of
# the top-level model): LATEST stays where it was, so a resume retraces the step and reports the run's own best
# model, never the stale one left at the top level (--patience keeps the best; it improved at steps 5 and 10)
PT=("${DF[@]}" --steps 60 --patience 4 --lr 1e-3)
"$FF" train "${PT[@]}" --out ptref >ptref.json 2>/dev/null
ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 LD_PRELOAD=$PWD/fsync_shim.so FASTFNET_FAIL_FSYNC_OF=topfail/model.safetensors.tmp \
    FASTFNET_FAIL_FSYNC_NTH=2 "$FF" train "${PT[@]}" --out topfail >/dev/null 2>topfail.err
rc=$?
[ "$rc" -eq 1 ] && tail -1 topfail.err | grep -q "topfail/model.safetensors.*No space left" && [ "$(cat topfail/checkpoints/LATEST)" = step-000000005 ] &&
    ok "a failed top-level copy stops the run with one line and leaves LATEST as it was: $(tail -1 topfail.err)" ||
    bad "failed top-level copy: rc=$rc, LATEST $(cat topfail/checkpoints/LATEST), $(tail -1 topfail.err)"
"$FF" train "${PT[@]}" --resume topfail >topfail.json 2>topfail2.err
[ "$(tensors_equal topfail/model.safetensors ptref/model.safetensors)" = identical ] &&
    [ "$(json_acc topfail.json)" = "$(json_acc ptref.json)" ] &&
    ok "resumed after the failed copy: the best model and its figures are the unbroken run's (valid accuracy $(json_acc ptref.json))" ||
    bad "resumed after the failed copy: valid accuracy $(json_acc topfail.json) against $(json_acc ptref.json); $(tail -1 topfail2.err)"

finish
