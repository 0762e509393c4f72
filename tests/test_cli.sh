#!/usr/bin/env bash
# test_cli.sh: the fastfnet command line end to end: init/info/embed work, and every kind of bad input
# gets one clear line on stderr and a non-zero exit, never a crash, and never damages an existing file.
source "$(dirname "$0")/lib.sh"

# expect_fail NAME PATTERN CMD...: non-zero exit (not a signal), a one-line message matching PATTERN
expect_fail() {
    local name=$1 pat=$2
    shift 2
    "$@" >out.txt 2>err.txt
    local rc=$?
    local lines
    lines=$(wc -l <err.txt)
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] && grep -qE -e "$pat" err.txt; then
        ok "$name: $(cat err.txt)"
    else
        bad "$name: rc=$rc, stderr: $(head -c 400 err.txt)"
    fi
}

"$FF" init --arch fnet --vocab 300 --hidden 32 --layers 2 --max-pos 64 --seed 1 --out f.safetensors >/dev/null && ok "init fnet" || bad "init fnet"
"$FF" init --arch fast-fnet-narrow --vocab 300 --hidden 32 --layers 3 --reduce 0,2 --residual avgpool --max-pos 64 --out ff.safetensors >/dev/null && ok "init fast-fnet-narrow" || bad "init fast-fnet-narrow"
"$FF" init --arch fast-fnet --vocab 300 --hidden 32 --layers 3 --pad centred --block-ffn halved --max-pos 64 --out fa.safetensors >/dev/null && ok "init fast-fnet (the authors' model)" || bad "init fast-fnet"
"$FF" init --arch hybrid --vocab 300 --hidden 32 --layers 3 --heads 4 --max-pos 64 --out h.safetensors >/dev/null && ok "init hybrid" || bad "init hybrid"
"$FF" init --arch bert --vocab 300 --hidden 32 --layers 2 --heads 4 --max-pos 64 --out b.safetensors >/dev/null && ok "init bert" || bad "init bert"
# inference memory counts the FFN weights packed for the matrix kernel: 2 layers of 128 x 32 and 32 x 128 floats
# (16 KiB each, in panels of 32 or 16 columns alike)
"$FF" info f.safetensors --batch 4 --seq 64 >info.txt &&
    grep -q '^  inference: parameters 126.8 KiB + packed FFN weights 64.0 KiB + activations .* = ' info.txt &&
    ok "info counts the packed FFN weights in inference memory" || bad "info's inference memory: $(grep inference info.txt)"
"$FF" info ff.safetensors --batch 4 --seq 64 >info.txt && grep -q '"fastfnet_mixing": \["fast_fourier", "fourier", "fast_fourier"\]' info.txt &&
    grep -q 'width 32 -> 16' info.txt && grep -q 'width 16 -> 8' info.txt && ok "info shows the reduction schedule" || bad "info"
"$FF" info fa.safetensors --batch 4 --seq 64 >info.txt && grep -q '"fastfnet_mixing": \["fast_fourier_pad", "fast_fourier_pad", "fast_fourier_pad"\]' info.txt &&
    grep -q '"fastfnet_pad": "centred"' info.txt && grep -q '"fastfnet_block_ffn": "halved"' info.txt &&
    grep -q 'width 32 -> 16 inside, FFN 64, padded back to 32' info.txt && ok "info shows the authors' blocks and their options" || bad "info fast-fnet: $(grep layer info.txt | head -3)"
"$FF" init --help | grep -q -- "--block-ffn" && "$FF" init --help | grep -q -- "--pad" && ok "--pad and --block-ffn in --help" || bad "--help lacks --pad/--block-ffn"
"$FF" embed --model fa.safetensors --ids <(printf '5 6 7\n') --out ea.safetensors >/dev/null &&
    [ "$(/usr/bin/python3 "$ROOT/tests/st_tool.py" shape ea.safetensors last_hidden_state)" = "[1, 64, 32]" ] &&
    ok "embed of the authors' model writes the padded width-32 state, padded to its 64 positions" || bad "embed fast-fnet"
for cmd in init info embed; do
    "$FF" $cmd --help | grep -q usage && ok "$cmd --help" || bad "$cmd --help"
done

printf '5 6 7 8 9\n10 11 12\n' >ids.txt
"$FF" embed --model ff.safetensors --ids ids.txt --out e.safetensors >/dev/null && ok "embed" || bad "embed"
# the saved tensors: names, shapes, and the padded row's tokens (pad id 3) embedded like the rest
python_check="$(/usr/bin/python3 "$ROOT/tests/st_tool.py" shape e.safetensors last_hidden_state) $(/usr/bin/python3 "$ROOT/tests/st_tool.py" shape e.safetensors pooler_output)"
[ "$python_check" = "[2, 64, 8] [2, 8]" ] && ok "embed output has last_hidden_state [2,64,8] (Fourier mixing: the model's 64 positions) and pooler_output [2,8]" || bad "embed output: $python_check"
"$FF" embed --model ff.safetensors --ids ids.txt --out e2.safetensors --batch 1 >/dev/null
cmp_out=$(/usr/bin/python3 "$ROOT/tests/st_tool.py" close e.safetensors e2.safetensors 1e-5)
case "$cmp_out" in ok*) ok "embed in batches of 1 matches batches of 2 (rel diff ${cmp_out#ok })" ;; *) bad "embed batching: $cmp_out" ;; esac

# a Fourier model's embedding of a sequence does not depend on the other lines (each is padded to the model's
# length); an attention model pads to the longest line only (padding is masked). Equal to rounding, not to the
# bit: OpenBLAS's AVX2 kernels (Haswell, Zen) round a row differently as the number of rows changes (on a Zen 5,
# 7e-7 in last_hidden_state between 64 and 128 rows, one thread; its AVX-512 kernels give the same bits), while
# padding the line to the longest instead moves it by O(1)
printf '5 6 7\n' >one.txt
printf '5 6 7\n5 6 7 8 9 10 11 12 13 14 15 16\n' >two.txt
"$FF" embed --model f.safetensors --ids one.txt --out e1.safetensors >/dev/null && "$FF" embed --model f.safetensors --ids two.txt --out e12.safetensors >/dev/null &&
    /usr/bin/python3 - e1.safetensors e12.safetensors <<'PY' && ok "embed (FNet): a sequence's pooler_output alone equals it beside a longer line (to 1e-5)" || bad "embed depends on the other lines"
import array, json, struct, sys
def t(p, k):
    raw = open(p, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n])[k]
    a = array.array("f"); a.frombytes(raw[8 + n + h["data_offsets"][0]:8 + n + h["data_offsets"][1]]); return list(a), h["shape"]
(a, sa), (b, sb) = t(sys.argv[1], "pooler_output"), t(sys.argv[2], "pooler_output")
sys.exit(0 if max(abs(x - y) for x, y in zip(a, b[:sa[1]])) <= 1e-5 and sa == [1, 32] and sb == [2, 32] else 1)
PY
"$FF" embed --model b.safetensors --ids two.txt --out eb.safetensors >/dev/null &&
    [ "$(/usr/bin/python3 "$ROOT/tests/st_tool.py" shape eb.safetensors last_hidden_state)" = "[2, 12, 32]" ] &&
    ok "embed (attention): padded to the longest line" || bad "embed bert shape: $(/usr/bin/python3 "$ROOT/tests/st_tool.py" shape eb.safetensors last_hidden_state)"
"$FF" embed --model f.safetensors --ids two.txt --pad longest --out el.safetensors >/dev/null &&
    [ "$(/usr/bin/python3 "$ROOT/tests/st_tool.py" shape el.safetensors last_hidden_state)" = "[2, 12, 32]" ] &&
    ok "embed --pad longest (FNet): padded to the longest line" || bad "embed --pad longest"
expect_fail "embed --pad of an unknown kind" "pad is model or longest" "$FF" embed --model f.safetensors --ids two.txt --pad some --out el.safetensors
# an output that is one of the inputs is refused, and the input survives
cp f.safetensors fcopy.safetensors
expect_fail "embed --out over the model" "is one of the inputs" "$FF" embed --model fcopy.safetensors --ids one.txt --out fcopy.safetensors
cmp -s f.safetensors fcopy.safetensors && ok "... and the model is intact" || bad "embed --out destroyed the model"
expect_fail "embed --out over the ids" "is one of the inputs" "$FF" embed --model f.safetensors --ids one.txt --out one.txt
# a model with an Inf weight gives NaN embeddings: refused, not written
/usr/bin/python3 - f.safetensors finf.safetensors <<'PY'
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read()); n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])["fnet.encoder.layer.0.output.dense.weight"]
raw[8 + n + h["data_offsets"][0]:8 + n + h["data_offsets"][0] + 4] = struct.pack("<f", float("inf"))
open(sys.argv[2], "wb").write(raw)
PY
expect_fail "embed with an Inf weight" "not finite.*damaged" "$FF" embed --model finf.safetensors --ids one.txt --out einf.safetensors
[ ! -e einf.safetensors ] && ok "... and nothing is written" || bad "embed wrote NaN embeddings"
# FASTFNET_WISDOM naming a file that is not FFTW wisdom: warned, left as it is
echo notes >notes.txt
FASTFNET_WISDOM=notes.txt "$FF" embed --model f.safetensors --ids one.txt --out ew.safetensors >/dev/null 2>wis.err
[ "$(cat notes.txt)" = notes ] && grep -q 'not FFTW wisdom' wis.err && ok "FASTFNET_WISDOM over a file that is not wisdom: left as it is ($(cat wis.err))" ||
    bad "FASTFNET_WISDOM overwrote notes.txt: $(head -c 100 notes.txt)"
FASTFNET_WISDOM=w.wis "$FF" embed --model f.safetensors --ids one.txt --out ew.safetensors >/dev/null 2>&1
FASTFNET_WISDOM=w.wis "$FF" embed --model f.safetensors --ids one.txt --out ew.safetensors >/dev/null 2>wis2.err
tmps=$(find . -maxdepth 1 -name 'w.wis.tmp.*' | wc -l)
grep -q fftw w.wis && [ ! -s wis2.err ] && [ "$tmps" -eq 0 ] &&
    ok "FASTFNET_WISDOM: written, read back the next time, no temporary file left" || bad "wisdom round trip ($tmps temporary files): $(head -c 200 wis2.err)"
# --help whose output cannot be written fails
for cmd in predict eval init info embed; do
    "$FF" $cmd --help >/dev/full 2>/dev/null
    rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && ok "$cmd --help to a full disk exits $rc" || bad "$cmd --help >/dev/full exits $rc"
done

# bad input
expect_fail "init refuses to overwrite" "already exists" "$FF" init --out f.safetensors
expect_fail "init unknown arch" "arch: .gpt" "$FF" init --arch gpt --out x.safetensors
expect_fail "init odd width for fast-fnet-narrow" "even" "$FF" init --arch fast-fnet-narrow --hidden 30 --layers 2 --reduce 0,1 --out x.safetensors
expect_fail "init odd width for fast-fnet" "even" "$FF" init --arch fast-fnet --hidden 31 --layers 2 --out x.safetensors
expect_fail "--reduce with the authors' model" "fast-fnet-narrow" "$FF" init --arch fast-fnet --reduce 0 --out x.safetensors
expect_fail "bad --pad" "pad: .middle" "$FF" init --arch fast-fnet --pad middle --out x.safetensors
expect_fail "bad --block-ffn" "block-ffn: .third" "$FF" init --arch fast-fnet --block-ffn third --out x.safetensors
expect_fail "negative --attention-layers" "--attention-layers: '-1' is not an integer in 0\\.\\." "$FF" init --arch hybrid --layers 2 --attention-layers -1 --out x.safetensors
longmix=$(printf 'fourier,%.0s' $(seq 1 300))fourier
expect_fail "an over-long --mixing is refused, not cut" "mixing: the list is 2407 characters" "$FF" init --layers 2 --mixing "$longmix" --out x.safetensors
expect_fail "an over-long --outputs is refused, not cut" "outputs: the list is" "$FF" init --outputs "$(printf 'mlm,%.0s' $(seq 1 80))mlm" --out x.safetensors
expect_fail "init heads not dividing" "divisible" "$FF" init --arch bert --hidden 30 --heads 4 --layers 1 --out x.safetensors
expect_fail "init bad number" "not an integer" "$FF" init --hidden 12x --out x.safetensors
expect_fail "unknown option" "unknown option" "$FF" info --bogus f.safetensors
expect_fail "missing model" "No such file" "$FF" info nothere.safetensors
head -c 1000 f.safetensors >trunc.safetensors
expect_fail "truncated checkpoint" "trunc.safetensors" "$FF" info trunc.safetensors
printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' >huge.safetensors
expect_fail "huge header length" "huge.safetensors" "$FF" info huge.safetensors
printf '5 6 7\n1 2 300\n' >oov.txt
expect_fail "token id out of range" "oov.txt:2.*300" "$FF" embed --model f.safetensors --ids oov.txt --out o.safetensors
printf '5 6 x7\n' >junk.txt
expect_fail "malformed ids line" "junk.txt:1" "$FF" embed --model f.safetensors --ids junk.txt --out o.safetensors
seq -s ' ' 1 65 >long.txt
expect_fail "sequence longer than max_position" "max_position" "$FF" embed --model f.safetensors --ids long.txt --out o.safetensors
# untrusted sizes: a config with absurd sizes is refused by the field's name, and a config that claims more
# than the file holds is refused by a tensor's shape before anything is allocated (in the optimised build under
# a 2 GiB address-space limit: a 4 GiB allocation first would fail as "out of memory")
expect_fail "init with an absurd vocabulary" "vocab_size" "$FF" init --vocab 1000000000 --hidden 4096 --layers 1 --out x.safetensors
set_config() { # IN OUT KEY=VALUE...: a copy of IN whose __metadata__ config has those fields changed
    /usr/bin/python3 - "$@" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
cfg = json.loads(head["__metadata__"]["config"])
for kv in sys.argv[3:]:
    k, v = kv.split("=")
    cfg[k] = int(v)
head["__metadata__"]["config"] = json.dumps(cfg)
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + raw[8 + n:])
PY
}
set_config f.safetensors bigpos.safetensors max_position_embeddings=1000000000
expect_fail "a config with an absurd max_position_embeddings" "max_position_embeddings" "$FF" info bigpos.safetensors
set_config f.safetensors bigvocab.safetensors vocab_size=1000000 hidden_size=1024 intermediate_size=1024
limit_as() { case "$BUILD" in *san*) "$@" ;; *) (ulimit -v 2000000; exec "$@") ;; esac; }
expect_fail "a config claiming 1e9 parameters over a small file" "word_embeddings.weight' has shape \[300, 32\]" limit_as "$FF" info bigvocab.safetensors
cp e.safetensors keep.safetensors
expect_fail "failed embed keeps the old output" "oov.txt" "$FF" embed --model f.safetensors --ids oov.txt --out e.safetensors
cmp -s e.safetensors keep.safetensors && ok "existing output untouched after a failed run" || bad "existing output was modified"
[ -z "$(ls | grep '\.tmp\.')" ] && ok "no temporary files left behind" || bad "temporary files left: $(ls | grep '\.tmp\.')"

# results on standard output that a full disk refuses are a failure (exit 1, one line), not a silent loss
printf 'hello world\n' >hello.txt
for what in "info f.safetensors" "tokenizer encode --input hello.txt"; do
    # shellcheck disable=SC2086
    "$FF" $what >/dev/full 2>full.err
    frc=$?
    [ "$frc" -eq 1 ] && [ "$(wc -l <full.err)" -eq 1 ] && grep -q "writing to standard output failed (No space left on device)" full.err &&
        ok "$what >/dev/full: $(cat full.err)" || bad "$what >/dev/full: rc $frc, $(head -c 300 full.err)"
done

# tokenizer: train's options on encode/decode (and --tokenizer on train) are refused, not ignored; the options and
# the tokenizer are checked before the input is read (standard input may be a terminal, or a pipe that never ends)
expect_fail "tokenizer encode --out" "encode: --kind, --vocab-size, --min-freq and --out are train's options" \
    "$FF" tokenizer encode --input hello.txt --out enc-out.txt
[ ! -e enc-out.txt ] && ok "tokenizer encode --out: no file written" || bad "tokenizer encode --out wrote enc-out.txt"
expect_fail "tokenizer decode --vocab-size" "decode: --kind, --vocab-size" "$FF" tokenizer decode --input hello.txt --vocab-size 9
expect_fail "tokenizer train --tokenizer" "tokenizer is for encode and decode" "$FF" tokenizer train --input hello.txt --tokenizer byte --out t.json
for what in "encode --tokenizer nothere.json" "train --kind bogus --out t.json"; do
    # shellcheck disable=SC2086
    timeout 20 "$FF" tokenizer $what < <(sleep 60) >/dev/null 2>early.err
    erc=$?
    [ "$erc" -eq 1 ] && [ "$(wc -l <early.err)" -eq 1 ] && ok "tokenizer $what: refused before reading standard input: $(cat early.err)" ||
        bad "tokenizer $what with a standard input that never ends: rc $erc, $(head -c 200 early.err)"
done

expect_fail "info with two models" "info: one model at a time \('f.safetensors' and 'b.safetensors' given\)" "$FF" info f.safetensors b.safetensors
"$FF" info --model f.safetensors | head -1 | grep -qx "model: f.safetensors" && "$FF" info --help | grep -q -- "--threads N" &&
    ok "info --model MODEL, and --help lists --threads" || bad "info --model / --help"

# a NUL byte in a line of text input is an error naming the line (it cut the line there: "7 x" was never read)
printf '5 6\0 7 x\n' >nul.txt
expect_fail "embed: a NUL byte in the ids" "nul.txt:1: a NUL byte in the line" "$FF" embed --model f.safetensors --ids nul.txt --out nul.safetensors
expect_fail "tokenizer decode: a NUL byte" "nul.txt:1: a NUL byte in the line" "$FF" tokenizer decode --input nul.txt

mkdir -p adir
expect_fail "embed: a directory as --ids" "adir: is a directory; give a file" "$FF" embed --model f.safetensors --ids adir --out adir.safetensors
expect_fail "tokenizer encode: a directory as --input" "adir: is a directory; give a file" "$FF" tokenizer encode --input adir
expect_fail "tokenizer: a stray argument points to tokenizer --help" "unexpected argument 'hello.txt' \(see tokenizer --help\)" "$FF" tokenizer encode hello.txt

# integer flags: a count takes 0 and up, and only the flags whose help gives -1 a meaning take -1
expect_fail "train --eval-limit -1" "--eval-limit: '-1' is not an integer in 0\.\.1073741824" "$FF" train --eval-limit -1 --out neg
expect_fail "train --steps -5" "--steps: '-5' is not an integer in 0\.\." "$FF" train --steps -5 --out neg
expect_fail "train --warmup -2" "--warmup: '-2' is not an integer in -1\.\." "$FF" train --warmup -2 --out neg
"$FF" init --arch fnet --vocab 300 --hidden 32 --layers 1 --intermediate -1 --heads -1 --max-pos 64 --out neg1.safetensors >/dev/null &&
    ok "init takes -1 (4 x hidden, hidden/64 heads) for --intermediate and --heads" || bad "init --intermediate -1 --heads -1"
[ ! -e neg ] && ok "a refused integer flag leaves no output directory" || bad "train with a bad integer flag made neg/"

# info and embed take --flag=VALUE as train, eval and predict do
"$FF" embed --model=f.safetensors --ids=one.txt --out=eq.safetensors --batch=4 >/dev/null && cmp -s <(tail -c 8192 eq.safetensors) <(tail -c 8192 e1.safetensors) &&
    ok "embed --model=F --ids=F --out=F: the same file as with spaces" || bad "embed with --flag=VALUE"
"$FF" info --model=f.safetensors --batch=2 --seq=8 | grep -q '^model: f.safetensors' && ok "info --model=F --batch=N --seq=N" || bad "info with --flag=VALUE"
expect_fail "embed --batch= (empty)" "'' is not an integer" "$FF" embed --model f.safetensors --ids one.txt --out eq2.safetensors --batch=

finish
