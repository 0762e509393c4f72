#!/usr/bin/env bash
# test_train.sh: training end to end through the CLI: learning above chance on a Fashion-MNIST slice,
# kill -9 mid-run + --resume equals an uninterrupted run, Ctrl-C saves, eval/predict, fine-tuning from an
# MLM model, a run's lifecycle (the best model, resumes of finished runs, --resume DIR alone, shared metrics),
# tokenizer round trips, and every bad-input case (one line, non-zero exit, nothing damaged).
source "$(dirname "$0")/lib.sh"
expect_fail() { # NAME PATTERN CMD...: exit 1..127 and a last stderr line matching PATTERN
    local name=$1 pat=$2
    shift 2
    "$@" >out.txt 2>err.txt
    local rc=$?
    local last
    last=$(grep -v '^fastfnet train: options' err.txt | grep -v '^step \|^eval step' | tail -n 1)
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && echo "$last" | grep -qE "$pat"; then
        ok "$name: $last"
    else
        bad "$name: rc=$rc, stderr: $(tail -c 400 err.txt)"
    fi
}
json_field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
tensors_equal() { /usr/bin/python3 "$ROOT/tests/st_tool.py" equal "$1" "$2"; } # A B: every tensor bit-identical

COMMON=(--hidden 64 --layers 2 --intermediate 128 --dropout 0.1 --threads 2 --log-every 20)

# 1. learning: a Fashion-MNIST slice, FNet and Fast-FNet, clearly above the 10% of chance
ARCHS="fnet fast-fnet"
# under the sanitizers one architecture is enough to run the image path clean (the optimised build runs both)
case "$BUILD" in *san*) ARCHS="fast-fnet" ;; esac
if [ -f "$DATA/fashion-mnist/train-images-idx3-ubyte" ]; then
    for arch in $ARCHS; do
        "$FF" train --data image --data-dir "$DATA" --arch $arch --residual avgpool "${COMMON[@]}" --limit 3000 --eval-limit 1000 \
            --batch 32 --steps 150 --lr 2e-3 --out img-$arch >res-$arch.json 2>log-$arch.txt
        acc=$(json_field test_accuracy <res-$arch.json 2>/dev/null || echo 0)
        /usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.25 else 1)" &&
            ok "$arch on 2700 Fashion-MNIST images, 150 steps: test accuracy $acc >= 0.25 (chance 0.10)" ||
            bad "$arch Fashion-MNIST accuracy $acc < 0.25: $(tail -3 log-$arch.txt)"
    done
    "$FF" eval --model img-fast-fnet --data image --data-dir "$DATA" --eval-limit 500 >ev.json 2>ev.err &&
        ok "eval on the test split: accuracy $(json_field accuracy <ev.json)" || bad "eval: $(cat ev.err)"
    [ -s img-fast-fnet/metrics.jsonl ] && "$FF" plot img-*/metrics.jsonl --out curves.svg >/dev/null &&
        grep -q '</svg>' curves.svg && ok "plot of the runs' metrics" || bad "plot"
else
    bad "Fashion-MNIST is missing in $DATA: run scripts/fetch_data.sh"
fi

# a small text task made here: is the number word about a small or a large number (learnable from bytes)
/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(5)
words = ["zero one two three four", "five six seven eight nine"]
with open("t_train.jsonl", "w") as f, open("t_test.tsv", "w") as g:
    for i in range(600):
        y = r.randrange(2)
        text = " ".join(r.choice(words[y].split()) for _ in range(r.randrange(3, 12)))
        (f.write(json.dumps({"text": text, "label": ["small", "large"][y]}) + "\n") if i < 500
         else g.write(["small", "large"][y] + "\t" + text + "\n"))
PY
# 2. kill -9 at an arbitrary moment, resume, and get the same weights as a run never interrupted
TR=(--train t_train.jsonl --test t_test.tsv --max-len 48 "${COMMON[@]}" --threads 1 --batch 8 --steps 60 --save-every 5 --eval-every 20 --seed 3)
"$FF" train "${TR[@]}" --out full >/dev/null 2>full.log || bad "uninterrupted run failed: $(tail -2 full.log)"
"$FF" train "${TR[@]}" --out killed >/dev/null 2>killed.log &
pid=$!
for _ in $(seq 1 600); do
    grep -q 'step-0000000[2-9]\|step-00000001' killed/checkpoints/LATEST 2>/dev/null && break
    sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
krc=$?
at=$(cat killed/checkpoints/LATEST 2>/dev/null)
# the kill must land before the run's end, or the resume below proves nothing
[ "$krc" -eq 137 ] && [ -n "$at" ] && [ $((10#${at#step-})) -lt 60 ] && ! grep -q '"final"' killed/metrics.jsonl &&
    ok "kill -9 landed before the end of the run (status $krc, newest checkpoint $at of 60 steps)" ||
    bad "kill -9 did not interrupt the run: status $krc, newest checkpoint ${at:-none}"
# temporary files of writers that are gone (a kill -9 between writing and renaming) go at the next save; a live
# writer's, and a file that is no temporary of a run file, stay
dead=$(sh -c 'echo $$')
touch killed/checkpoints/LATEST.tmp.$dead killed/config.json.tmp.$dead.3 killed/notes.tmp.$dead killed/config.json.tmp.$$
"$FF" train "${TR[@]}" --resume killed >/dev/null 2>resume.log || bad "resume failed: $(tail -2 resume.log)"
[ ! -e killed/checkpoints/LATEST.tmp.$dead ] && [ ! -e killed/config.json.tmp.$dead.3 ] && [ -e killed/notes.tmp.$dead ] &&
    [ -e killed/config.json.tmp.$$ ] && ok "a dead writer's temporary files are removed by the next save; a live one's and the user's stay" ||
    bad "stale temporaries: $(ls killed killed/checkpoints | tr '\n' ' ')"
rm -f killed/config.json.tmp.$$ killed/notes.tmp.$dead
r=$(tensors_equal full/model.safetensors killed/model.safetensors)
[ "$r" = identical ] && ok "kill -9 after ${at:-?} then --resume: weights bit-identical to the uninterrupted run (1 thread)" ||
    bad "kill -9 + resume: $r"
ls killed/checkpoints | grep -q tmp && bad "a half-written checkpoint was left behind" || ok "no half-written checkpoint directories left"
n=$(ls -d killed/checkpoints/step-* | wc -l)
[ "$n" -le 3 ] && ok "only the last --keep 3 checkpoints are kept ($n)" || bad "$n checkpoints kept"

# 3. Ctrl-C: saves a checkpoint and exits cleanly; resume finishes the run
"$FF" train "${TR[@]}" --steps 100000 --out intr >/dev/null 2>intr.log &
pid=$!
for _ in $(seq 1 500); do [ -f intr/checkpoints/LATEST ] && break; sleep 0.02; done
kill -INT $pid
wait $pid
rc=$?
[ "$rc" -eq 130 ] && grep -q "interrupted at step" intr.log && grep -q "signal again to quit now" intr.log &&
    ok "SIGINT says it will stop, saves and exits (status 130): $(grep interrupted intr.log)" || bad "SIGINT: rc=$rc $(tail -2 intr.log)"

# a second signal of the other kind (SIGINT, then SIGTERM) ends the process at once, as a second SIGINT does
"$FF" train --train t_train.jsonl --valid t_train.jsonl --max-len 1024 --hidden 64 --layers 2 --threads 1 --batch 8 --steps 1000 \
    --eval-every 1 --log-every 1 --out sig2 >/dev/null 2>sig2.log &
pid=$!
for _ in $(seq 1 1500); do grep -q '^step 1/' sig2.log && break; sleep 0.02; done
kill -INT $pid; sleep 0.2; kill -TERM $pid
wait $pid
rc=$?
[ "$rc" -eq 143 ] && ! grep -q "interrupted at step" sig2.log && ok "SIGINT then SIGTERM: the second signal ends the process at once (status $rc)" ||
    bad "SIGINT then SIGTERM: status $rc $(tail -1 sig2.log)"

# 4. predict and eval on the small task
"$FF" predict --model full --input t_test.tsv >pred.jsonl 2>pred.err && [ "$(wc -l <pred.jsonl)" -eq 100 ] &&
    head -1 pred.jsonl | /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read()); assert d['label'] in ('small','large') and abs(sum(d['probs'].values())-1)<1e-4" &&
    ok "predict writes one JSON line per example with normalised probabilities" || bad "predict: $(cat pred.err)"
# plain text, one example per line, written through a pipe: every line comes out, and the exit status is 0
cut -f2 t_test.tsv >notes.txt
"$FF" predict --model full --input notes.txt 2>pred_txt.err | cat >pred_txt.jsonl
prc=${PIPESTATUS[0]}
[ "$prc" -eq 0 ] && [ "$(wc -l <pred_txt.jsonl)" -eq 100 ] && tail -1 pred_txt.jsonl | grep -q '"line": 100,' &&
    ok "predict on plain text through a pipe: 100 lines, status 0" || bad "predict on plain text: status $prc, $(wc -l <pred_txt.jsonl) lines, $(tail -c 300 pred_txt.err)"
acc=$("$FF" eval --model full --train t_test.tsv 2>/dev/null | json_field accuracy)
/usr/bin/python3 -c "import sys; sys.exit(0 if float('${acc:-0}') >= 0.9 else 1)" && ok "number-word task learned: eval accuracy $acc >= 0.9" || bad "number-word accuracy $acc"

# damaged or unusual models and inputs for eval and predict
edit_model() { # SRC DST what: a copy of SRC/ as DST/ with model.safetensors edited (labels8 | nan | maxlen=VALUE | nocls)
    rm -rf "$2" && cp -r "$1" "$2" && /usr/bin/python3 - "$ROOT/tests" "$2/model.safetensors" "$3" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import torch_twin as tt
t, meta = tt.st_read(sys.argv[2])
if sys.argv[3] == "labels8":
    meta["fastfnet_labels"] = json.dumps([f"l{i}" for i in range(8)])
elif sys.argv[3].startswith("maxlen="):
    meta["fastfnet_max_len"] = sys.argv[3][7:]
elif sys.argv[3] == "nocls":  # the config without its classifier head; task, labels and tensors kept
    cfg = json.loads(meta["config"]); cfg["fastfnet_heads"] = ["pooler"]; meta["config"] = json.dumps(cfg)
else:
    t["classifier.weight"] = t["classifier.weight"].copy(); t["classifier.weight"][0, 0] = float("nan")
tt.st_write(sys.argv[2], t, meta)
PY
}
edit_model full badlab labels8 && expect_fail "predict: a label list longer than the classifier (read past the logits)" \
    "names 8 labels but the classifier has 2" "$FF" predict --model badlab --input notes.txt
expect_fail "eval: a label list longer than the classifier" "names 8 labels but the classifier has 2" "$FF" eval --model badlab --input t_test.tsv
# a damaged length was silently replaced by max_position (a model of 48 tokens then read 64)
for v in abc 0 48x 99999; do
    edit_model full badlen "maxlen=$v" && expect_fail "predict: fastfnet_max_len '$v' is refused, naming the file" \
        "badlen/model.safetensors: fastfnet_max_len '$v' is not a length in 1\.\.[0-9]* \(max_position\)" "$FF" predict --model badlen --input notes.txt
done
expect_fail "eval: a damaged fastfnet_max_len" "fastfnet_max_len '99999' is not a length" "$FF" eval --model badlen --input t_test.tsv
expect_fail "eval: a --tokenizer-file that does not exist says so (it said: contradicts)" "tokenizer-file: nothere.json: cannot open" \
    "$FF" eval --model full --input t_test.tsv --tokenizer-file nothere.json
edit_model full nanw nan && cp pred.jsonl keep.jsonl
expect_fail "predict: a NaN weight" "line 1: the model's output is not finite .*damaged" "$FF" predict --model nanw --input notes.txt --out keep.jsonl
cmp -s pred.jsonl keep.jsonl && ok "predict: the refused run left --out as it was" || bad "predict on a NaN model changed --out"
expect_fail "eval: a NaN weight" "the loss on t_test.tsv is nan: the model's weights are damaged" "$FF" eval --model nanw --input t_test.tsv
expect_fail "eval: --input and --data together" "give --input FILE or --data NAME, not both" "$FF" eval --model full --input t_test.tsv --data text
"$FF" init --arch fnet --vocab 261 --hidden 16 --layers 1 --intermediate 32 --out untrained.safetensors >/dev/null
expect_fail "eval: a model never trained" "untrained.safetensors: not a trained model .*--init-from" "$FF" eval --model untrained.safetensors --input t_test.tsv
expect_fail "predict: a model never trained" "untrained.safetensors: not a trained model" "$FF" predict --model untrained.safetensors --input notes.txt
# .json is JSONL for predict as for train and eval (it was classified as plain text: the JSON line itself)
head -5 t_train.jsonl >five.jsonl && cp five.jsonl five.json
"$FF" predict --model full --input five.jsonl >p1.jsonl 2>/dev/null && "$FF" predict --model full --input five.json >p2.jsonl 2>/dev/null &&
    cmp -s p1.jsonl p2.jsonl && ok "predict reads .json as JSONL, like .jsonl" || bad "predict .json: $(head -c 200 p2.jsonl)"
printf 'three\0four\nfive\n' >nul.txt && printf 'small\tthree\0four\n' >nul.tsv
expect_fail "predict: a NUL byte in a line" "nul.txt:1: a NUL byte in the line" "$FF" predict --model full --input nul.txt
expect_fail "eval: a NUL byte in a TSV line" "nul.tsv:1: a NUL byte in the line" "$FF" eval --model full --input nul.tsv
expect_fail "eval: --data image with a model of 48 tokens" "full reads 48 tokens, --data image needs 785 .*evaluate a model trained on it" \
    "$FF" eval --model full --data image --data-dir "$DATA"
mkdir -p adir
expect_fail "eval: a directory as --input" "adir: is a directory; give a file" "$FF" eval --model full --input adir
expect_fail "predict: a directory as --input" "adir: is a directory; give a file" "$FF" predict --model full --input adir
expect_fail "train: a directory as --train" "adir: is a directory; give a file" "$FF" train --train adir --steps 1 --out adir-run
# a read error (EIO: /proc/self/mem at offset 0) was taken for the end of the file: "no records", or the records so far
expect_fail "train: a read error is not the end of the file" "/proc/self/mem: reading failed after line 0 \(Input/output error\)" \
    "$FF" train --train /proc/self/mem --steps 1 --out eio-run
expect_fail "predict: a read error on plain text" "/proc/self/mem: reading failed after line 0" "$FF" predict --model full --input /proc/self/mem
rm -rf badlab2 && cp -r full badlab2 && /usr/bin/python3 - "$ROOT/tests" badlab2/model.safetensors <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import torch_twin as tt
t, meta = tt.st_read(sys.argv[2])
meta["fastfnet_labels"] = '{"a": 1}'
tt.st_write(sys.argv[2], t, meta)
PY
expect_fail "predict: a label map that is not a list names the file and key" "badlab2/model.safetensors: fastfnet_labels: .*list" \
    "$FF" predict --model badlab2 --input notes.txt
printf 'tiny text\n' >short.txt
expect_fail "mlm: a corpus too short for one example names the file" "short.txt: the corpus \(10 tokens\) is too small for examples of 16 tokens" \
    "$FF" train --task mlm --train short.txt --max-len 16 --steps 1 --out short-run
# --out through a symbolic link writes its target (the link stays); a FIFO or device is written in place
echo old >ptarget.jsonl && ln -sf ptarget.jsonl plink.jsonl
"$FF" predict --model full --input five.jsonl --out plink.jsonl 2>/dev/null && [ -L plink.jsonl ] && cmp -s p1.jsonl ptarget.jsonl &&
    ok "predict --out a symbolic link: its target holds the predictions, the link stays a link" || bad "predict --out link: $(ls -l plink.jsonl)"
mkfifo pfifo && { timeout 60 cat pfifo >fifo.jsonl & } # a bounded reader: a predict that fails before opening it must not hang the suite
"$FF" predict --model full --input five.jsonl --out pfifo 2>/dev/null; frc=$?
wait
[ "$frc" -eq 0 ] && [ -p pfifo ] && cmp -s p1.jsonl fifo.jsonl && ok "predict --out a FIFO: written through it, the FIFO stays" ||
    bad "predict --out FIFO: rc $frc, $(ls -l pfifo fifo.jsonl 2>&1 | tr '\n' ' ')"
# a classify model whose config lost its classifier head: predict and eval read its (absent) logits (exit 139)
edit_model full nocls nocls && expect_fail "predict: a classify model without a classifier head" \
    "nocls/model.safetensors: this classify model has no classifier head" "$FF" predict --model nocls --input notes.txt
expect_fail "eval: a classify model without a classifier head" "nocls/model.safetensors: this classify model has no classifier head" \
    "$FF" eval --model nocls --input t_test.tsv
# long labels of control characters: predict's line held the winning label twice but was sized for it once
/usr/bin/python3 -c '
import json
with open("ctl.jsonl", "w") as f:
    for i in range(40): f.write(json.dumps({"text": "some text %d" % i, "label": ["\u0007", "\u0001"][i % 2] * 100}) + "\n")'
"$FF" train --train ctl.jsonl --valid ctl.jsonl --max-len 16 --hidden 16 --layers 1 --intermediate 32 --threads 1 --steps 2 --out ctlm >/dev/null 2>ctlm.err &&
    "$FF" predict --model ctlm --input ctl.jsonl >ctl_pred.jsonl 2>ctl_pred.err && /usr/bin/python3 -c '
import json, sys
names, n = {"\u0007" * 100, "\u0001" * 100}, 0
for n, l in enumerate(open("ctl_pred.jsonl"), 1):
    try:
        r = json.loads(l)
        assert r["label"] in names and set(r["probs"]) == names
    except (ValueError, AssertionError, KeyError) as e:
        sys.exit("line %d: %r: %s" % (n, l[:80], e))
sys.exit(0 if n == 40 else "%d lines" % n)' 2>ctl_check.err &&
    ok "predict: labels of 100 control characters give valid JSON lines" ||
    bad "predict with control-character labels: $(tail -1 ctl_check.err) $(tail -1 ctl_pred.err) $(tail -1 ctlm.err)"
# train's summary line printed --out unescaped into its JSON
"$FF" train --train ctl.jsonl --valid ctl.jsonl --max-len 16 --hidden 16 --layers 1 --intermediate 32 --threads 1 --steps 1 --out 'o"q\r' 2>/dev/null |
    tail -1 | /usr/bin/python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["model"] == "o\"q\\r" else 1)' &&
    ok "train: an --out with a quote and a backslash is escaped in the summary line" || bad "train summary with a quote in --out"
# eval printed the model's path unescaped into its JSON
cp -r full 'q"m\x'
"$FF" eval --model 'q"m\x' --input t_test.tsv 2>/dev/null | /usr/bin/python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["model"] == "q\"m\\x" else 1)' &&
    ok "eval: a model path with a quote and a backslash is escaped in the JSON result" || bad "eval with a quote in the path: $("$FF" eval --model 'q"m\x' --input t_test.tsv 2>&1)"
# --out - is standard output, as --input - is standard input (it wrote a file named -)
"$FF" predict --model full --input five.jsonl --out - >pdash.jsonl 2>/dev/null && cmp -s pdash.jsonl p1.jsonl && [ ! -e ./- ] &&
    ok "predict --out - writes standard output" || bad "predict --out -: $(wc -l <pdash.jsonl) lines on stdout, $(ls -- - 2>&1)"
# an --out that is one of the inputs destroyed it (the examples, or the model's weights)
cp five.jsonl five_keep.jsonl && cp full/model.safetensors full_keep.safetensors
expect_fail "predict --out over its --input" "is one of the inputs" "$FF" predict --model full --input five.jsonl --out five.jsonl
expect_fail "predict --out over the model's weights" "is one of the inputs" "$FF" predict --model full --input five.jsonl --out full/model.safetensors
cmp -s five.jsonl five_keep.jsonl && cmp -s full/model.safetensors full_keep.safetensors && ok "... and both inputs are intact" ||
    bad "predict --out destroyed an input"
# an interrupted predict --out left FILE.tmp.PID behind; the old file or none is promised (SIGINT is reset to the
# default first: a background job of a script may start with it ignored)
for _ in $(seq 1 200); do cat notes.txt; done >big.txt
for sig in INT TERM; do
    echo old >big.jsonl && rm -f big.jsonl.tmp.*
    /usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
        "$FF" predict --model full --input big.txt --out big.jsonl 2>/dev/null &
    pid=$!
    for _ in $(seq 1 3000); do ls big.jsonl.tmp.* >/dev/null 2>&1 && break; sleep 0.01; done
    kill -$sig $pid
    wait $pid
    rc=$?
    left=$(ls big.jsonl.tmp.* 2>/dev/null)
    [ "$rc" -eq $((128 + $(kill -l $sig))) ] && [ -z "$left" ] && [ "$(cat big.jsonl)" = old ] &&
        ok "predict --out interrupted by SIG$sig (status $rc): its temporary file is removed, the old file stays" ||
        bad "predict --out and SIG$sig: status $rc, left: ${left:-nothing}, big.jsonl: $(head -c 60 big.jsonl)"
done
# a label with a newline made a two-line error
printf '{"text": "one two", "label": "foo\\nbar"}\n' >nl.jsonl
"$FF" eval --model full --input nl.jsonl >/dev/null 2>nl.err
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <nl.err)" -eq 1 ] && grep -q 'nl.jsonl:1: label "foo\\nbar" is not one the model was trained with' nl.err &&
    ok "eval: an unknown label with a newline is shown escaped, on one line: $(cat nl.err)" || bad "eval, newline in a label: rc $rc, $(cat nl.err)"
# eval reserved room for --batch sequences however few the examples (10000 x 48 tokens: about 2 GiB)
/usr/bin/python3 - "$FF" <<'PY' && ok "eval --batch 10000 on 100 examples reserves room for 100 (the loss of --batch 100)" || bad "eval --batch 10000"
import json, resource, subprocess, sys
run = lambda b: subprocess.run([sys.argv[1], "eval", "--model", "full", "--input", "t_test.tsv", "--batch", b], capture_output=True, text=True)
small = run("100")
before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
big = run("10000")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("peak RSS %.0f MiB (before %.0f), status %d: %s" % (rss, before / 1024, big.returncode, big.stderr.strip()[-200:]))
same = big.returncode == 0 and json.loads(big.stdout)["loss"] == json.loads(small.stdout)["loss"]
sys.exit(0 if same and rss < 1024 else 1)
PY
# eval read and tokenized its --input twice (the truncation line came twice)
"$FF" eval --model full --input t_test.tsv >/dev/null 2>tr.err
[ "$(grep -c 'truncated to 48 tokens' tr.err)" -eq 1 ] && ok "eval reads --input once: $(cat tr.err)" || bad "eval --input read more than once: $(cat tr.err)"

# 5. MLM pre-training on raw text, then fine-tuning a classifier from it
cut -f2 t_test.tsv >corpus.txt
for _ in 1 2 3 4 5 6; do cat corpus.txt corpus.txt >>corpus2.txt; done
"$FF" train --task mlm --train corpus2.txt --tokenizer bpe --vocab-size 300 --max-len 32 "${COMMON[@]}" --batch 16 --steps 40 --nsp --out mlm >mlm.json 2>mlm.log &&
    grep -q valid_perplexity mlm.json && [ -s mlm/tokenizer.json ] && ok "mlm+nsp pre-training with a BPE tokenizer: $(cat mlm.json)" || bad "mlm: $(tail -3 mlm.log)"
# MLM eval_loss is the mean over the masked targets, so it is log(perplexity), in the metrics and from eval
/usr/bin/python3 - mlm/metrics.jsonl <<'PY' && ok "mlm metrics: eval_loss == log(eval_perplexity) at every evaluation" || bad "mlm eval_loss is not log(perplexity)"
import json, math, sys
ev = [d for d in map(json.loads, open(sys.argv[1])) if "eval_perplexity" in d]
sys.exit(0 if ev and all(abs(d["eval_loss"] - math.log(d["eval_perplexity"])) <= 1e-5 * max(1, d["eval_loss"]) for d in ev) else 1)
PY
"$FF" eval --model mlm --train corpus2.txt >mev.json 2>mev.err
/usr/bin/python3 -c "import json,math,sys; d=json.load(open('mev.json')); sys.exit(0 if abs(d['loss']-math.log(d['perplexity'])) <= 1e-5*max(1,d['loss']) else 1)" &&
    ok "mlm eval: loss == log(perplexity) ($(cut -c1-100 mev.json))" || bad "mlm eval loss vs perplexity: $(cat mev.json mev.err)"
# MLM with accumulation: the loss is normalised by the targets of the whole step, so batch 8 == 4 x accum 2
MACC=(--task mlm --train corpus2.txt --max-len 32 --hidden 32 --layers 1 --intermediate 64 --threads 1 --steps 6 --seed 4 --dropout 0 --clip 0)
"$FF" train "${MACC[@]}" --batch 8 --out macc1 >/dev/null 2>macc1.err
"$FF" train "${MACC[@]}" --batch 4 --accum 2 --out macc2 >/dev/null 2>macc2.err
macc=$(/usr/bin/python3 "$ROOT/tests/st_tool.py" close macc1/model.safetensors macc2/model.safetensors 1e-4)
case "$macc" in ok*) ok "mlm: 6 steps of batch 8 == 6 steps of 2 accumulated batches of 4 (max rel diff ${macc#ok })" ;; *) bad "mlm accumulation: $macc $(tail -1 macc2.err)" ;; esac
# --record: the initial weights, the options and every micro-batch (format: src/app/record.h); its file sizes follow
# from the shape, a second run does not overwrite it without --force, and it cannot continue a run
"$FF" train "${MACC[@]}" --batch 4 --accum 2 --out mrec --record mrec.rec >/dev/null 2>mrec.err
words=$(( $(stat -c %s mrec.rec/steps.bin 2>/dev/null || echo 0) / 4 ))
[ "$words" -eq $((6 * 2 * (12 + 3 * 4 * 32 + 4))) ] && [ -s mrec.rec/init.safetensors ] && grep -q '"accum": 2' mrec.rec/options.json &&
    tensors_equal macc2/model.safetensors mrec/model.safetensors >/dev/null &&
    ok "--record: 12 micro-batch records of $((12 + 3 * 4 * 32 + 4)) words, and the same model as without it" ||
    bad "--record: $words words, $(ls mrec.rec 2>&1 | tr '\n' ' ') $(tail -1 mrec.err)"
sum0=$(md5sum mrec.rec/steps.bin)
expect_fail "--record into a directory that holds a record" "mrec.rec already holds a record; .*--force" \
    "$FF" train "${MACC[@]}" --out mrec2 --record mrec.rec
[ "$(md5sum mrec.rec/steps.bin)" = "$sum0" ] && [ ! -e mrec2 ] && ok "--record: the refused run left the record as it was, and made no --out" ||
    bad "--record: the record changed, or the refused run made $(ls -d mrec2 2>&1)"
expect_fail "--record with --resume" "record cannot continue a run" "$FF" train "${MACC[@]}" --resume mrec --record mrec3.rec
touch rec-file
expect_fail "--record where a file is" "record rec-file: not a directory$" "$FF" train "${MACC[@]}" --out mrec4 --record rec-file
# --eval-limit caps MLM's validation chunks too (it was ignored: every evaluation ran on the whole held-out text)
"$FF" train "${MACC[@]}" --batch 8 --eval-limit 5 --out macc3 >/dev/null 2>macc3.err &&
    grep -qE "^fastfnet: [0-9]+ train / 5 valid examples" macc3.err && ok "mlm --eval-limit 5: $(grep ' valid examples' macc3.err)" ||
    bad "mlm --eval-limit: $(grep -E 'valid examples|fastfnet:' macc3.err | tail -2)"
"$FF" train --init-from mlm --train t_train.jsonl --max-len 32 --threads 2 --batch 16 --steps 40 --out ft >ft.json 2>ft.log &&
    grep -q "initialised" ft.log && ok "fine-tuning from the MLM model: $(grep initialised ft.log)" || bad "fine-tune: $(tail -3 ft.log)"
# an FNet MLM model into the authors' Fast-FNet: embeddings, pooler and the FFN biases (F wide in both) fit by name
# and shape; the rest of the blocks (H/2 wide) does not
"$FF" train --init-from mlm --arch fast-fnet --hidden 64 --layers 2 --intermediate 128 --train t_train.jsonl --max-len 32 --threads 2 \
    --batch 16 --steps 10 --out ft-fast >ft-fast.json 2>ft-fast.log &&
    grep -q "initialised 11 of 29 tensors" ft-fast.log && grep -q "freshly initialised: fnet.encoder.layer.0.fourier.residual.dense.weight" ft-fast.log &&
    ! grep -q "freshly initialised: fnet.embeddings" ft-fast.log &&
    ok "FNet -> Fast-FNet fine-tuning copies what fits and names the rest: $(grep initialised ft-fast.log | tr '\n' ' ' | head -c 300)" ||
    bad "FNet -> Fast-FNet init: $(tail -5 ft-fast.log)"

# 5b. options from a JSON config file equal the same flags; classify-pair; accumulation; early stop
cat >cfg.json <<'JSON'
{"train": "t_train.jsonl", "max_len": 48, "hidden": 64, "layers": 2, "intermediate": 128, "threads": 1, "batch": 8, "steps": 10, "seed": 3, "dropout": 0.0}
JSON
"$FF" train --config cfg.json --out viacfg >/dev/null 2>cfg.log
"$FF" train --train t_train.jsonl --max-len 48 --hidden 64 --layers 2 --intermediate 128 --threads 1 --batch 8 --steps 10 --seed 3 --dropout 0 --out viaflags >/dev/null 2>/dev/null
r=$(tensors_equal viacfg/model.safetensors viaflags/model.safetensors)
[ "$r" = identical ] && ok "--config FILE.json gives the same model as the same flags" || bad "--config: $r $(tail -2 cfg.log)"
"$FF" train --config cfg.json --steps 3 --out viacfg2 --hidden 32 >/dev/null 2>/dev/null
grep -q '"hidden_size": 32' viacfg2/config.json && ok "a flag overrides the config file" || bad "flag did not override --config"
/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(9)
with open("pairs.jsonl", "w") as f:
    for i in range(300):
        a = " ".join(r.choice("red green blue".split()) for _ in range(4))
        same = r.randrange(2)
        b = a if same else " ".join(r.choice("red green blue".split()) for _ in range(4))
        f.write(json.dumps({"text_a": a, "text_b": b, "label": "same" if a == b else "different"}) + "\n")
PY
"$FF" train --task classify-pair --train pairs.jsonl --max-len 32 "${COMMON[@]}" --batch 16 --steps 20 --out pair >pair.json 2>pair.log &&
    grep -q valid_accuracy pair.json && ok "classify-pair trains: $(cut -c1-120 pair.json)" || bad "classify-pair: $(tail -2 pair.log)"
printf 'same\tred red\n' >pair1.tsv
expect_fail "a single text where a pair model needs two" "pair1.tsv:1" "$FF" eval --model pair --task classify-pair --train pair1.tsv
ACC=(--train t_train.jsonl --max-len 48 --hidden 64 --layers 2 --intermediate 128 --threads 1 --steps 8 --seed 4 --dropout 0 --clip 0)
"$FF" train "${ACC[@]}" --batch 8 --out acc1 >/dev/null 2>/dev/null
"$FF" train "${ACC[@]}" --batch 4 --accum 2 --out acc2 >/dev/null 2>/dev/null
acc_cmp=$(/usr/bin/python3 "$ROOT/tests/st_tool.py" close acc1/model.safetensors acc2/model.safetensors 1e-4)
case "$acc_cmp" in ok*) ok "8 steps of batch 8 == 8 steps of 2 accumulated batches of 4 (max rel diff ${acc_cmp#ok })" ;; *) bad "accumulation: $acc_cmp" ;; esac
"$FF" train --train t_train.jsonl --max-len 48 "${COMMON[@]}" --threads 1 --batch 8 --steps 200 --eval-every 1 --patience 2 --lr 1e-5 --keep 1000 --out early >early.json 2>early.log
grep -q "stopping early" early.log && [ "$(json_field steps <early.json)" -lt 200 ] && ok "early stop: $(grep 'stopping early' early.log) at step $(json_field steps <early.json)" || bad "early stop did not trigger"
best=$(/usr/bin/python3 -c "
import json; ev = [d for d in map(json.loads, open('early/metrics.jsonl')) if 'eval_accuracy' in d]
print(max(ev, key=lambda d: (d['eval_accuracy'], -d['step']))['step'])")
r=$(tensors_equal early/model.safetensors "early/checkpoints/$(printf 'step-%09d' "$best")/model.safetensors")
[ "$r" = identical ] && ok "with --patience the top-level model is the best one (step $best), not the last" || bad "--patience top-level model is not the best (step $best): $r"

# 5c. a run's lifecycle: an --out holding an unfinished run is not mixed with a new one, option values that make
# no run are refused, the best model is the run's own, a finished or early-stopped run resumed ends as it ended, a
# shared --metrics file keeps other runs' lines, metrics that cannot be written stop the run, and --resume DIR alone
# continues the run (its options are the checkpoint's)
LC=(--train t_train.jsonl --max-len 32 --hidden 16 --layers 1 --intermediate 32 --threads 1 --batch 8 --seed 3 --log-every 5)
# an --out holding an unfinished run (a checkpoint, or metrics) is not mixed with a new one
"$FF" train "${LC[@]}" --steps 10 --save-every 5 --out part >/dev/null 2>&1 && rm part/model.safetensors
expect_fail "an --out with an unfinished run's checkpoint" "part holds a run that did not finish .*--resume part to continue it or --force" \
    "$FF" train "${LC[@]}" --steps 5 --out part
mkdir -p part2 && cp part/metrics.jsonl part2/
expect_fail "an --out with an earlier run's metrics" "part2 holds the metrics.jsonl of an earlier run but no checkpoint; pass --force" \
    "$FF" train "${LC[@]}" --steps 5 --out part2
for v in "log-every 0" "epochs 0"; do
    expect_fail "--$v is refused" "train: --${v% *} must be >= " "$FF" train "${LC[@]}" --${v% *} ${v#* } --out badv
done
for v in epochs steps; do # -1 means nothing for a count: the option parser refuses it with the range it takes
    expect_fail "--$v -1 is refused" "$v: '-1' is not an integer in 0\.\." "$FF" train "${LC[@]}" --$v -1 --out badv
done
PB=("${LC[@]}" --steps 20 --lr 1e-5 --patience 5 --eval-every 5)
"$FF" train "${PB[@]}" --save-every 5 --keep 10 --out pbref >pbref.json 2>/dev/null
best=$(/usr/bin/python3 -c "
import json; ev = [d for d in map(json.loads, open('pbref/metrics.jsonl')) if 'eval_accuracy' in d]
print(max(ev, key=lambda d: (d['eval_accuracy'], -d['step']))['step'])")
"$FF" train "${PB[@]}" --save-every 7 --out pb >pb.json 2>pb.err
r=$(tensors_equal pb/model.safetensors "pbref/checkpoints/$(printf 'step-%09d' "$best")/model.safetensors" 2>&1)
[ "$r" = identical ] && [ "$(json_field valid_accuracy <pb.json)" = "$(json_field valid_accuracy <pbref.json)" ] &&
    ok "--patience with evaluations between saves: the model kept is the best one (step $best)" || bad "--patience, saves apart from evaluations: $r $(tail -1 pb.err)"
"$FF" train "${LC[@]}" --steps 20 --lr 1e-2 --out pf >/dev/null 2>&1
"$FF" train "${PB[@]}" --save-every 7 --force --out pf >pf.json 2>pf.err
r=$(tensors_equal pf/model.safetensors pb/model.safetensors 2>&1)
[ "$r" = identical ] && ok "--force --patience over an older run: the model kept is the new run's best, not the older run's" ||
    bad "--force --patience: the older run's model was kept ($r)"
# a finished run, resumed: its own final figures (evaluated again), the timing of its steps, one final line
"$FF" train "${LC[@]}" --steps 20 --out fin >fin.json 2>/dev/null
"$FF" train "${LC[@]}" --steps 20 --resume fin >fin2.json 2>fin2.err
fin_same=$(/usr/bin/python3 - fin.json fin2.json <<'PY'
import json, sys
a, b = (json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:3])
print(" ".join(k for k in ("steps", "valid_accuracy", "valid_loss", "timed_steps") if a[k] != b[k]) or "same")
PY
)
nfinal=$(grep -c '"final": true' fin/metrics.jsonl)
[ "$fin_same" = same ] && [ "$nfinal" -eq 1 ] && ok "a finished run resumed reports its own figures ($(json_field valid_accuracy <fin2.json)) and has one final line" ||
    bad "a finished run resumed: differs in ${fin_same:-?}, $nfinal final lines, $(tail -1 fin2.err)"
# an early-stopped run, resumed, stays stopped
"$FF" train "${LC[@]}" --steps 200 --eval-every 1 --patience 2 --lr 1e-5 --out es >es.json 2>/dev/null
"$FF" train "${LC[@]}" --steps 200 --eval-every 1 --patience 2 --lr 1e-5 --resume es >es2.json 2>es2.err
[ "$(json_field steps <es.json)" -lt 200 ] && [ "$(json_field steps <es2.json)" = "$(json_field steps <es.json)" ] &&
    ok "an early-stopped run resumed ends where it stopped (step $(json_field steps <es.json))" ||
    bad "early stop + resume: stopped at $(json_field steps <es.json), resumed to $(json_field steps <es2.json 2>&1) $(tail -1 es2.err)"
# a shared --metrics file: a resume drops only its own run's lines (each names its run)
"$FF" train "${LC[@]}" --steps 10 --metrics shared.jsonl --out sa >/dev/null 2>&1
na=$(wc -l <shared.jsonl)
"$FF" train "${LC[@]}" --steps 20 --metrics shared.jsonl --out sb >/dev/null 2>&1
tail -n +$((na + 1)) shared.jsonl >sb_lines.txt
"$FF" train "${LC[@]}" --steps 20 --metrics shared.jsonl --resume sa >/dev/null 2>sa2.err
kept=$(grep -cFxf sb_lines.txt shared.jsonl)
nfa=$(grep -F "\"run\": \"$(realpath sa)\"" shared.jsonl | grep -c '"final"')
[ -s sb_lines.txt ] && [ "$kept" -eq "$(wc -l <sb_lines.txt)" ] && [ "$nfa" -eq 1 ] &&
    ok "resuming into a shared --metrics file keeps the other run's $kept lines; the resumed run's lines name it, one final line" ||
    bad "shared --metrics: $kept of the other run's $(wc -l <sb_lines.txt) lines kept; $nfa final lines of the resumed run; $(tail -1 sa2.err)"
# metrics that cannot be written stop the run with one line, after a checkpoint of that step
expect_fail "--metrics /dev/full stops the run" "/dev/full: writing the metrics failed .*checkpoint of step 5 is saved" \
    "$FF" train "${LC[@]}" --steps 20 --eval-every 10 --save-every 100 --metrics /dev/full --out mfull
[ "$(cat mfull/checkpoints/LATEST 2>/dev/null)" = step-000000005 ] &&
    "$FF" train "${LC[@]}" --steps 20 --eval-every 10 --save-every 100 --metrics mfull.jsonl --resume mfull >/dev/null 2>mfull.err &&
    ok "the run stopped by its metrics kept step 5's checkpoint, and resumes with another --metrics" ||
    bad "after /dev/full: LATEST $(cat mfull/checkpoints/LATEST 2>&1), $(tail -1 mfull.err 2>/dev/null)"
# --resume DIR alone takes the run's options from its checkpoint: back from step 10 to the same weights
"$FF" train "${LC[@]}" --steps 20 --save-every 5 --dropout 0.1 --out r5full >/dev/null 2>&1
rm -rf r5 && cp -r r5full r5 && echo step-000000010 >r5/checkpoints/LATEST && rm -rf r5/checkpoints/step-0000000{15,20}
"$FF" train --resume r5 >r5.json 2>r5.err
r=$(tensors_equal r5/model.safetensors r5full/model.safetensors 2>&1)
[ "$r" = identical ] && grep -q "resuming .*step-000000010" r5.err && ok "--resume DIR alone continues the run as it was (bit-identical)" ||
    bad "--resume DIR alone: $r $(tail -1 r5.err)"
expect_fail "--resume with another --batch names the flag" "batch 4: the run in r5 was trained with --batch 8; omit --batch" \
    "$FF" train "${LC[@]}" --steps 20 --batch 4 --resume r5
expect_fail "--resume with another --seed names the flag" "seed 9: the run in r5 was trained with --seed 3" "$FF" train "${LC[@]}" --seed 9 --steps 20 --resume r5
expect_fail "--resume with another --max-len names the flag" "max-len 24: the run in r5 has length 32" "$FF" train "${LC[@]}" --steps 20 --max-len 24 --resume r5
"$FF" train --resume r5 --steps 30 --threads 2 --log-every 3 >r5b.json 2>r5b.err && [ "$(json_field steps <r5b.json)" = 30 ] &&
    ok "--resume may extend --steps and change --threads and --log-every" || bad "--resume --steps 30: $(tail -1 r5b.err)"
# an --init-from run resumed keeps the pre-trained model's length (the resume read 512 for its 32)
"$FF" train --init-from mlm --train t_train.jsonl --threads 1 --batch 8 --steps 4 --save-every 2 --out ftl >/dev/null 2>ftl.err
"$FF" train --init-from mlm --train t_train.jsonl --threads 1 --batch 8 --steps 6 --resume ftl >ftl2.json 2>ftl2.err &&
    grep -q "examples of 32 tokens" ftl2.err && ok "an --init-from run resumed keeps the pre-trained length (32)" || bad "--init-from + --resume: $(tail -1 ftl2.err)"

# 6. tokenizers: round trips through the CLI
printf 'Hello, w\xc3\xb6rld!\n\ttabs and \x01 bytes\n' >rt.txt
"$FF" tokenizer encode --tokenizer byte --input rt.txt >ids.txt && "$FF" tokenizer decode --tokenizer byte --input ids.txt >back.txt &&
    cmp -s rt.txt back.txt && ok "byte tokenizer: decode(encode(x)) == x" || bad "byte round trip"
"$FF" tokenizer train --kind bpe --input corpus2.txt --vocab-size 300 --out bpe.json 2>/dev/null &&
    "$FF" tokenizer encode --tokenizer bpe.json --input rt.txt >ids2.txt && "$FF" tokenizer decode --tokenizer bpe.json --input ids2.txt >back2.txt &&
    cmp -s rt.txt back2.txt && ok "BPE tokenizer: decode(encode(x)) == x ($(wc -w <ids2.txt) tokens for $(wc -c <rt.txt) bytes)" || bad "bpe round trip"

# 7. bad input
expect_fail "missing data file" "nothere.jsonl" "$FF" train --train nothere.jsonl --out x1
printf '{"text": "a", "label": "x"}\n{"text": "b", "label": \n' >broken.jsonl
expect_fail "malformed JSON line names the line" "broken.jsonl:2" "$FF" train --train broken.jsonl --out x2
printf '{"text": "a b", "label": 1}\n{"text": "b c", "label": 1e300}\n' >hugelabel.jsonl
expect_fail "a label number beyond the integers is refused, naming the line" "hugelabel.jsonl:2: .*label" "$FF" train --train hugelabel.jsonl --out x2b
printf 'small\tone two\nhuge\tnine\n' >unk.tsv
expect_fail "unknown label at eval time" "unk.tsv:2.*huge" "$FF" eval --model full --train unk.tsv
printf 'no tab here\n' >notab.tsv
expect_fail "TSV line without a tab" "notab.tsv:1" "$FF" train --train notab.tsv --out x3
expect_fail "unknown option" "unknown option" "$FF" train --bogus 1 --out x4
expect_fail "bad number" "not an integer" "$FF" train --batch 8x --out x5
expect_fail "resume without a checkpoint" "no checkpoint" "$FF" train --train t_train.jsonl --resume emptydir
expect_fail "checkpoint of another task" "task classify: the run in mlm was trained with --task mlm" "$FF" train --task classify --train t_train.jsonl --resume mlm
cp full/model.safetensors keep.safetensors
expect_fail "existing trained model is not overwritten" "already holds" "$FF" train "${TR[@]}" --out full
tensors_equal full/model.safetensors keep.safetensors >/dev/null && ok "the trained model is untouched" || bad "the trained model changed"
# (a resume cannot change --lr: the run diverges on its own, at step 2 after a save at step 1)
expect_fail "a non-finite loss stops the run" "became" "$FF" train "${TR[@]}" --steps 30 --save-every 1 --lr 1e30 --clip 0 --out nan
[ "$(cat nan/checkpoints/LATEST)" = step-000000001 ] && [ ! -e nan/checkpoints/step-000000002 ] &&
    ok "the last good checkpoint is kept (step 1); the step that diverged saved nothing" || bad "checkpoint changed after NaN: $(ls nan/checkpoints)"
printf 'sm\xffall\tone two\nlarge\tnine\n' >badutf.tsv
expect_fail "a label that is not UTF-8 is refused when read" "badutf.tsv:1.*UTF-8" "$FF" train --train badutf.tsv --max-len 16 --hidden 16 --layers 1 --steps 2 --out x6
# IDX headers: a count of 0xFFFFFFFF, and rows x cols that wraps 32 bits past the bound
mkdir -p fake/fashion-mnist
/usr/bin/python3 - <<'PY'
import struct
def write(name, n, rows, cols, images=2):
    with open("fake/fashion-mnist/%s-images-idx3-ubyte" % name, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, rows, cols) + bytes(images * 784))
    with open("fake/fashion-mnist/%s-labels-idx1-ubyte" % name, "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(images))
write("train", 0xFFFFFFFF, 28, 28)
write("t10k", 2, 65536, 65537)
PY
expect_fail "IDX image count 0xFFFFFFFF" "train-images-idx3-ubyte" "$FF" train --data image --data-dir fake --steps 1 --out x7
cp fake/fashion-mnist/t10k-images-idx3-ubyte fake/fashion-mnist/train-images-idx3-ubyte
cp fake/fashion-mnist/t10k-labels-idx1-ubyte fake/fashion-mnist/train-labels-idx1-ubyte
expect_fail "IDX rows x cols past 32 bits" "train-images-idx3-ubyte" "$FF" train --data image --data-dir fake --steps 1 --out x7
# IDX files of the wrong shape, an empty one, and labels outside the set's classes (they were cut, padded or taken)
idx() { # DIR PREFIX N SIDE LABEL_MOD: N images of SIDE x SIDE pixels, labels i % LABEL_MOD
    /usr/bin/python3 -c "
import struct, sys
d, p, n, s, m = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
open(f'{d}/{p}-images-idx3-ubyte', 'wb').write(struct.pack('>IIII', 0x803, n, s, s) + bytes(n * s * s))
open(f'{d}/{p}-labels-idx1-ubyte', 'wb').write(struct.pack('>II', 0x801, n) + bytes(i % m for i in range(n)))" "$@"
}
mkdir -p shape/fashion-mnist shape/pathfinder-easy
idx shape/fashion-mnist train 50 32 10 && idx shape/fashion-mnist t10k 20 28 10
expect_fail "image: 32 x 32 pixels in Fashion-MNIST's place are refused (they were cut to 784)" \
    "train-images-idx3-ubyte: images of 32 x 32 pixels, but this data set's are 28 x 28" "$FF" train --data image --data-dir shape --steps 1 --force --out x7
idx shape/fashion-mnist train 0 28 10
expect_fail "image: an IDX file of 0 images" "train-images-idx3-ubyte: holds no images" "$FF" train --data image --data-dir shape --steps 1 --force --out x7
for sp in train valid test; do idx shape/pathfinder-easy $sp 20 28 2; done
expect_fail "pathfinder: 28 x 28 images are refused" "pathfinder-easy/train-images-idx3-ubyte: images of 28 x 28 pixels, but this data set's are 32 x 32" \
    "$FF" train --data pathfinder --data-dir shape --steps 1 --force --out x7
for sp in train valid test; do idx shape/pathfinder-easy $sp 20 32 10; done
expect_fail "pathfinder: a label 2..9 names its file" "pathfinder-easy/train-labels-idx1-ubyte: label 2 of image 2 is outside 0..1" \
    "$FF" train --data pathfinder --data-dir shape --steps 1 --force --out x7
idx shape/pathfinder-easy train 20 32 2 && idx shape/pathfinder-easy valid 20 32 2 && idx shape/pathfinder-easy test 0 32 2
expect_fail "pathfinder: an empty test split (it evaluated 0 examples: accuracy 0)" "test-images-idx3-ubyte: holds no images" \
    "$FF" train --data pathfinder --data-dir shape --steps 1 --force --out x7
# --eval-limit with --data image: a seeded subset of validation and of test, as documented (it cut test to its
# first N and left validation whole)
idx shape/fashion-mnist train 200 28 10 && idx shape/fashion-mnist t10k 100 28 10
"$FF" train --data image --data-dir shape --eval-limit 5 --hidden 16 --layers 1 --intermediate 32 --threads 1 --batch 4 --steps 1 \
    --out evl >/dev/null 2>evl.log && grep -q '180 train / 5 valid' evl.log && ok "image --eval-limit 5 limits validation too: $(grep -o '[0-9]* train / [0-9]* valid[^,]*' evl.log)" ||
    bad "image --eval-limit: $(grep -o '[0-9]* train / [0-9]* valid.*' evl.log)"
# --valid-frac is a fraction, and a held-out split needs two examples (1.5 read past the examples)
for v in 1.5 0 -0.5 1; do
    expect_fail "--valid-frac $v is refused" "valid-frac: $v must be above 0 and below 1" "$FF" train --train t_train.jsonl --valid-frac "$v" --steps 1 --force --out x7
done
idx shape/fashion-mnist train 1 28 10
expect_fail "one training image: too few to hold out a validation split" "train-images-idx3-ubyte: 1 example, too few to hold out a validation split" \
    "$FF" train --data image --data-dir shape --steps 1 --force --out x7
# --test that does not exist is an error (the run went on without test figures); MLM refuses --test (it was ignored)
expect_fail "a --test file that does not exist" "nothere.tsv: cannot open" "$FF" train --train t_train.jsonl --test nothere.tsv --max-len 8 --steps 1 --force --out x7
expect_fail "MLM with --test" "test: MLM is measured on the validation text" "$FF" train --task mlm --train notes.txt --test notes.txt --steps 1 --force --out x7
expect_fail "--task mlm --data listops" "data listops is a classify task" "$FF" train --task mlm --data listops --data-dir shape --steps 1 --force --out x7
[ -d shape/listops ] && bad "--task mlm --data listops generated ListOps" || ok "--task mlm --data listops generated nothing"
# a JSON \u0000 cut a label or text: "spam\u0000x" became "spam"
printf '{"label": "ham", "text": "a"}\n{"label": "spam\\u0000x", "text": "b"}\n' >nul.jsonl
expect_fail "a \\u0000 in a JSON label" 'nul.jsonl:2: "label" holds a NUL character' "$FF" train --train nul.jsonl --steps 1 --force --out x7
printf '{"label": "ham", "text": "a\\u0000b"}\n' >nul2.jsonl
expect_fail "a \\u0000 in a JSON text" 'nul2.jsonl:1: "text" holds a NUL character' "$FF" predict --model full --input nul2.jsonl
# a UTF-8 byte-order mark made the first label a class of its own ("\ufeffpos")
printf '\xef\xbb\xbfpos\tgood movie\nneg\tbad movie\npos\tgreat\nneg\tawful\n' >bom.tsv
"$FF" train --train bom.tsv --max-len 16 --hidden 16 --layers 1 --intermediate 32 --threads 1 --steps 1 --out bomrun >/dev/null 2>&1 &&
    grep -q '"id2label": {"0": "neg", "1": "pos"}' bomrun/config.json && ok "a byte-order mark is not part of the first label" ||
    bad "BOM: $(grep -o '"id2label[^}]*}' bomrun/config.json)"
# --limit keeps the whole training file's label set (a small subset missed classes that validation has)
printf 'a\tone\na\ttwo\nb\tthree\nc\tfour\na\tfive\nb\tsix\nc\tseven\na\teight\n' >lim.tsv
"$FF" train --train lim.tsv --valid lim.tsv --limit 2 --max-len 16 --hidden 16 --layers 1 --intermediate 32 --threads 1 --steps 1 --out limrun >/dev/null 2>lim.err &&
    grep -q '"2": "c"' limrun/config.json && ok "--limit 2 keeps the labels a, b, c" || bad "--limit labels: $(tail -1 lim.err)"
# a model evaluated or trained on data whose token ids or labels do not fit it: one line, nothing run
"$FF" train --train t_train.jsonl --tokenizer word --max-len 785 --hidden 16 --layers 1 --intermediate 32 --threads 1 --batch 4 --steps 2 --out wordm >/dev/null 2>wordm.err || bad "word model: $(tail -1 wordm.err)"
expect_fail "eval of a word model on images" "token id .*vocabulary" "$FF" eval --model wordm --data image --data-dir "$DATA" --eval-limit 20
expect_fail "training from a word model on images" "token id .*vocabulary" "$FF" train --init-from wordm --data image --data-dir "$DATA" --limit 50 --eval-limit 20 --steps 1 --out x8
# the sotu task (its loader is tests/test_data.c's): no data is one line naming the fetcher; it is a classify task
expect_fail "--data sotu without the addresses" "sotu/data: no .txt addresses .*fetch_data.sh --only sotu" "$FF" train --data sotu --data-dir fake --steps 1 --out x8
expect_fail "--task mlm --data sotu" "data sotu is a classify task" "$FF" train --task mlm --data sotu --data-dir fake --steps 1 --out x8
# --force into a directory with an older run's checkpoints: the new run's checkpoints are the ones kept and
# resumed, and a forced run that dies before its first save leaves nothing of the old run to resume
cp -r full forced
"$FF" train "${TR[@]}" --steps 10 --force --out forced >/dev/null 2>forced.log
[ "$(cat forced/checkpoints/LATEST)" = step-000000010 ] && [ "$(ls -d forced/checkpoints/step-* | xargs -n1 basename | tr '\n' ' ')" = "step-000000005 step-000000010 " ] &&
    "$FF" train "${TR[@]}" --steps 10 --resume forced >/dev/null 2>forced2.log &&
    ok "--force over an older run: only the new run's checkpoints are left, and --resume works" ||
    bad "--force over an older run: LATEST $(cat forced/checkpoints/LATEST), $(ls forced/checkpoints | tr '\n' ' '), $(tail -1 forced2.log)"
cp -r full forced2
"$FF" train "${TR[@]}" --force --lr 1e30 --clip 0 --out forced2 >/dev/null 2>/dev/null
expect_fail "--resume after a --force run died before its first save" "no checkpoint" "$FF" train "${TR[@]}" --resume forced2
# paths that do not fit a buffer are errors naming them, never silently cut
long=$(printf 'd%.0s' $(seq 1 200))
longp=$(for _ in $(seq 1 21); do printf '%s/' "$long"; done)out
expect_fail "an --out path too long" "too long" "$FF" train --train t_train.jsonl --max-len 16 --steps 1 --out "$longp"
[ -e "${longp:0:4000}" ] && bad "a truncated directory was created" || ok "no truncated directory was created"
echo '{"text": "x", "label": "small"}' >one.jsonl
"$FF" train --train t_train.jsonl --max-len 8 --threads 1 --steps 2 --out trunc >/dev/null 2>trunc.log
grep -q "truncated to 8 tokens" trunc.log && ok "over-long sequences are truncated and counted: $(grep truncated trunc.log | head -1)" || bad "truncation not reported"

# Pathfinder (--data pathfinder): small splits written by `fastfnet data pathfinder` are used as they are (not
# regenerated), a short run trains on [CLS] + 1024 pixel tokens with two labels; bad levels are one line
mkdir -p pf/pathfinder-hard
for sp in train:200:1 valid:40:2 test:40:3; do
    IFS=: read -r name count seed <<<"$sp"
    "$FF" data pathfinder --out pf/pathfinder-hard/$name --n "$count" --seed "$seed" --difficulty hard >/dev/null
done
"$FF" train --data pathfinder --data-dir pf --difficulty hard --hidden 16 --layers 1 --intermediate 32 --batch 8 --steps 3 \
    --threads 1 --out pfrun >pf.json 2>pf.log &&
    grep -q '"test_accuracy"' pf.json && grep -q '"connected"' pfrun/config.json && grep -q '200 train / 40 valid' pf.log &&
    [ "$(stat -c %s pf/pathfinder-hard/train-images-idx3-ubyte)" = $((16 + 200 * 1024)) ] &&
    ok "pathfinder: trains on the generated 32 x 32 images, labels connected / disconnected" ||
    bad "pathfinder run: $(tail -2 pf.log) $(head -c 300 pfrun/config.json 2>/dev/null)"
expect_fail "pathfinder: an unknown difficulty" "difficulty: 'extreme' must be easy, medium or hard" \
    "$FF" train --data pathfinder --data-dir pf --difficulty extreme --steps 1 --out x9
expect_fail "pathfinder: --max-len below the image" "needs --max-len >= 1025" \
    "$FF" train --data pathfinder --data-dir pf --difficulty hard --max-len 512 --steps 1 --out x9
expect_fail "data pathfinder: an unknown difficulty" "must be easy, medium or hard" "$FF" data pathfinder --out pfx --difficulty 7
expect_fail "data pathfinder: no --out" "out PREFIX is required" "$FF" data pathfinder --n 3

finish
