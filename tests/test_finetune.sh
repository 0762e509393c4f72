#!/usr/bin/env bash
# test_finetune.sh: pre-trained FNet models end to end through the CLI: SentencePiece ids equal spm_encode's
# (one line of ids per line), decode inverts them, damaged .model files are refused; an HF-layout FNet directory
# (config.json, model.safetensors, spiece.model; random weights of a small FNet) fine-tunes with --init-from,
# stays in HF's layout and labels raw text from standard input; eval/predict take what the model fixes and
# refuse contradicting options; attention models pad per batch; --version.
source "$(dirname "$0")/lib.sh"
export FASTFNET_THREADS=1 # small models: one thread is fastest, and a busy machine does not stall it at barriers
expect_fail() { # NAME PATTERN CMD...: exit 1..127 and exactly one stderr line matching PATTERN
    local name=$1 pat=$2
    shift 2
    "$@" >out.txt 2>err.txt </dev/null
    local rc=$?
    local lines
    lines=$(grep -v '^fastfnet train: options' err.txt | wc -l)
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" err.txt; then
        ok "$name: $(grep -v '^fastfnet train: options' err.txt)"
    else
        bad "$name: rc=$rc, stderr: $(tail -c 400 err.txt)"
    fi
}
json_field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

"$FF" --version >ver.txt && grep -q '^fastfnet [0-9]' ver.txt && grep -qE '; blas [A-Za-z]+$' ver.txt && ok "--version: $(cat ver.txt)" || bad "--version"
if ! grep -q 'sentencepiece [0-9]' ver.txt; then
    expect_fail "a build without SentencePiece says how to get it" "apt-get install libsentencepiece-dev" \
        "$FF" tokenizer encode --tokenizer x.model --input ver.txt
    finish
    exit
fi
if ! command -v spm_train >/dev/null; then
    bad "spm_train/spm_encode are missing: apt-get install sentencepiece (scripts/deps.sh)"
    finish
    exit
fi

# 1. a model trained by spm_train on Moby Dick; held-out text from another chapter and a State of the Union
MD="$DATA/moby-dick/data" SO="$DATA/sotu/data"
cat "$MD"/chapter_{1,2,3,4,5,6,7,8}.txt >corpus.txt
{ cat "$MD/chapter_11.txt"; echo; printf '  odd   spacing\t\tand tabs  \n\n'; head -c 3000 "$SO/1950_harry_s_truman_d.txt"; printf 'caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 [CLS] x [SEP]'; } >held.txt
spm_train --input=corpus.txt --model_prefix=sp --vocab_size=500 --model_type=unigram --unk_id=0 --bos_id=1 --eos_id=2 \
    --pad_id=3 --user_defined_symbols='[CLS],[SEP],[MASK]' --character_coverage=1.0 --minloglevel=2 >/dev/null 2>&1 || bad "spm_train failed"
spm_encode --model=sp.model --output_format=id <held.txt >ref.ids
"$FF" tokenizer encode --tokenizer sp.model --input held.txt >our.ids
cmp -s ref.ids our.ids && [ "$(wc -l <our.ids)" -eq "$(wc -l <ref.ids)" ] &&
    ok "ids equal spm_encode --output_format=id on held-out text ($(wc -w <our.ids) ids, $(wc -l <our.ids) lines, one per input line)" ||
    bad "ids differ from spm_encode: $(diff ref.ids our.ids | head -c 300)"
"$FF" tokenizer encode --tokenizer sp.model <held.txt | cmp -s - ref.ids && ok "encode reads standard input" || bad "encode from stdin"
spm_decode --model=sp.model --input_format=id <ref.ids >ref.txt
"$FF" tokenizer decode --tokenizer sp.model --input our.ids >back.txt
cmp -s ref.txt back.txt && ok "decode equals spm_decode, line by line" || bad "decode differs from spm_decode"
grep -v '^$' "$MD/chapter_3.txt" | head -5 | tr -s ' ' >known.txt
"$FF" tokenizer encode --tokenizer sp.model --input known.txt | "$FF" tokenizer decode --tokenizer sp.model | cmp -s - known.txt &&
    ok "decode(encode(x)) == x for text the model covers" || bad "round trip of covered text"
printf 'a\n\nb' | "$FF" tokenizer encode --tokenizer byte >lines.ids
[ "$(wc -l <lines.ids)" -eq 3 ] && [ "$(sed -n 2p lines.ids)" = "" ] && ok "the same line rule for the byte kind (an empty line stays an empty line)" || bad "byte line rule: $(cat lines.ids)"
head -c 700 sp.model >trunc.model
expect_fail "a truncated .model is refused" "trunc.model: not a SentencePiece model" "$FF" tokenizer encode --tokenizer trunc.model --input held.txt
head -c 5000 /dev/urandom >rand.model
expect_fail "random bytes as .model are refused" "rand.model" "$FF" tokenizer encode --tokenizer rand.model --input held.txt
printf '5 6 x\n' >badids.txt
expect_fail "decode names the file and line of a bad id" "badids.txt:1.*'x'" "$FF" tokenizer decode --tokenizer sp.model --input badids.txt
# 2. fastfnet trains one through the library; spm_encode reads it
"$FF" tokenizer train --kind unigram --input corpus.txt --vocab-size 400 --out uni.model 2>train.err &&
    spm_encode --model=uni.model --output_format=id <held.txt >uref.ids && "$FF" tokenizer encode --tokenizer uni.model --input held.txt | cmp -s - uref.ids &&
    [ "$(spm_export_vocab --model=uni.model | head -7 | cut -f1 | tr '\n' ' ')" = "<unk> <s> </s> <pad> [CLS] [SEP] [MASK] " ] &&
    ok "tokenizer train --kind unigram: spm_encode reads the model and agrees; FNet's specials ([CLS] 4, [SEP] 5, [MASK] 6, <pad> 3): $(cat train.err)" ||
    bad "unigram training: $(cat train.err)"

# 3. an HF-layout FNet directory: random weights of a small FNet + the SentencePiece model, as google/fnet-base lays it out
"$FF" init --arch fnet --vocab 500 --hidden 32 --layers 2 --intermediate 64 --max-pos 64 --outputs mlm,nsp,pooler --seed 1 --out init.safetensors >/dev/null
/usr/bin/python3 - "$MD" "$SO" <<'PY'
import glob, json, os, random, re, shutil, struct, sys
raw = open("init.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
cfg = json.loads(head["__metadata__"]["config"])
os.makedirs("fnet-hf")
json.dump({"architectures": ["FNetForPreTraining"], "model_type": "fnet", "vocab_size": cfg["vocab_size"],
           "hidden_size": cfg["hidden_size"], "num_hidden_layers": cfg["num_hidden_layers"],
           "intermediate_size": cfg["intermediate_size"], "hidden_act": "gelu_new", "hidden_dropout_prob": 0.1,
           "max_position_embeddings": cfg["max_position_embeddings"], "type_vocab_size": 4, "initializer_range": 0.02,
           "layer_norm_eps": 1e-12, "use_tpu_fourier_optimizations": False, "tpu_short_seq_length": 512,
           "pad_token_id": 3, "bos_token_id": 1, "eos_token_id": 2, "transformers_version": "4.11.0.dev0"},
          open("fnet-hf/config.json", "w"), indent=2)
t = {k: (v, data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in head.items() if k != "__metadata__"}
t["cls.predictions.decoder.weight"] = t["fnet.embeddings.word_embeddings.weight"]  # HF's tied copies
t["cls.predictions.decoder.bias"] = t["cls.predictions.bias"]
out, blob = {"__metadata__": {"format": "pt"}}, b""
for k, (v, b) in sorted(t.items()):
    out[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [len(blob), len(blob) + len(b)]}
    blob += b
h = json.dumps(out).encode()
h += b" " * (-len(h) % 8)
open("fnet-hf/model.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + blob)
shutil.copy("sp.model", "fnet-hf/spiece.model")
# a labelled task: is a sentence from Moby Dick or from a State of the Union address
def sents(files):
    for f in files:
        for s in re.split(r"(?<=[.!?])\s+", open(f).read()):
            s = " ".join(s.split())
            if 20 <= len(s) <= 120: yield s
r = random.Random(1)
moby = list(sents(sorted(glob.glob(sys.argv[1] + "/chapter_1[0-9].txt"))))
sotu = list(sents(sorted(glob.glob(sys.argv[2] + "/19[0-9]*.txt"))[:6]))
r.shuffle(moby), r.shuffle(sotu)
ex = [("moby", s) for s in moby[:200]] + [("sotu", s) for s in sotu[:200]]
r.shuffle(ex)
open("train.tsv", "w").write("".join(f"{y}\t{s}\n" for y, s in ex[:320]))
open("test.tsv", "w").write("".join(f"{y}\t{s}\n" for y, s in ex[320:]))
open("raw.txt", "w").write("".join(f"{s}\n" for y, s in ex[320:]))
PY
FT=(--train train.tsv --batch 8 --steps 20 --lr 3e-3 --threads 1 --seed 2)
"$FF" train --init-from fnet-hf "${FT[@]}" --out ft >ft.json 2>ft.log &&
    grep -q "initialised 25 of 27 tensors from fnet-hf" ft.log && ok "train --init-from an HF FNet directory with spiece.model: $(grep initialised ft.log)" ||
    bad "fine-tuning from the HF directory: $(tail -3 ft.log)"
cmp -s ft/spiece.model sp.model && ok "the fine-tuned directory holds the same spiece.model" || bad "spiece.model not saved"
/usr/bin/python3 - <<'PY' && ok "the fine-tuned directory is in HF's layout: config.json (FNetForSequenceClassification, id2label, pad 3) + model.safetensors (fnet.* and classifier.* names)" || bad "HF layout of the fine-tuned directory"
import json, struct
c = json.load(open("ft/config.json"))
raw = open("ft/model.safetensors", "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
names = [k for k in h if k != "__metadata__"]
assert c["model_type"] == "fnet" and c["architectures"] == ["FNetForSequenceClassification"] and c["pad_token_id"] == 3
assert c["id2label"] == {"0": "moby", "1": "sotu"} and c["label2id"] == {"moby": 0, "sotu": 1} and c["num_labels"] == 2
assert all(k.startswith("fnet.") or k.startswith("classifier.") for k in names) and h["classifier.weight"]["shape"] == [2, 32]
PY
"$FF" predict --model ft <raw.txt >pred.jsonl 2>pred.err && [ "$(wc -l <pred.jsonl)" -eq "$(wc -l <raw.txt)" ] &&
    head -1 pred.jsonl | /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read()); assert d['line']==1 and d['label'] in ('moby','sotu')" &&
    ok "predict labels raw text from standard input: $(head -1 pred.jsonl)" || bad "predict from stdin: $(cat pred.err)"
"$FF" predict --model ft --input - <raw.txt | cmp -s - pred.jsonl && ok "predict --input - is standard input too" || bad "predict --input -"
"$FF" eval --model ft --input test.tsv >ev.json 2>ev.err && [ "$(json_field examples <ev.json)" -eq 80 ] &&
    ok "eval --input FILE evaluates every example of the file: $(cat ev.json)" || bad "eval --input: $(cat ev.err)"
[ "$("$FF" eval --model ft --train test.tsv 2>/dev/null | json_field loss)" = "$(json_field loss <ev.json)" ] && ok "eval --train FILE still works (deprecated spelling)" || bad "eval --train alias"
cp ft/spiece.model copy.model
"$FF" eval --model ft --input test.tsv --max-len 64 --tokenizer sentencepiece --tokenizer-file copy.model >/dev/null 2>&1 &&
    ok "eval accepts options that agree with the model" || bad "eval refused options that agree"
expect_fail "eval refuses a contradicting --max-len" "--max-len 32 contradicts the model's length 64" "$FF" eval --model ft --input test.tsv --max-len 32
expect_fail "predict refuses a contradicting --tokenizer-file" "tokenizer-file uni.model contradicts" "$FF" predict --model ft --tokenizer-file uni.model
expect_fail "eval without a file names the flags" "--input FILE or --data NAME" "$FF" eval --model ft
"$FF" eval --help >evh.txt && grep -q -- '--input' evh.txt && ! grep -qE -- '--(lr|vocab-size|valid|limit|train|steps) ' evh.txt &&
    ok "eval --help lists only what eval uses" || bad "eval --help: $(grep -E -- '--(lr|vocab-size|valid|limit|train|steps) ' evh.txt)"
# the directory's pad id must agree with its tokenizer; a directory without a tokenizer says what to do
cp -r fnet-hf badpad && sed -i 's/"pad_token_id": 3/"pad_token_id": 0/' badpad/config.json
expect_fail "config.json's pad id is checked against spiece.model's" "badpad/config.json: pad_token_id is 0 but the pad piece .* is id 3" \
    "$FF" train --init-from badpad "${FT[@]}" --out x1
cp -r fnet-hf notok && rm notok/spiece.model
expect_fail "an HF directory without a tokenizer file" "notok holds no spiece.model or tokenizer.json" "$FF" train --init-from notok "${FT[@]}" --out x2
# MLM pre-training with the SentencePiece model: its own [CLS]/[SEP]/[MASK] and pad ids build and mask the examples
"$FF" train --task mlm --train corpus.txt --tokenizer-file sp.model --max-len 32 --hidden 32 --layers 1 --intermediate 64 \
    --batch 16 --steps 40 --lr 3e-3 --threads 1 --seed 2 --log-every 1 --out mlmsp >mlmsp.json 2>mlmsp.log
/usr/bin/python3 - mlmsp/metrics.jsonl mlmsp.json <<'PY' && ok "MLM pre-training with a SentencePiece tokenizer learns (its own [CLS], [SEP], [MASK] and pad ids)" || bad "MLM with sp.model: $(tail -2 mlmsp.log)"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
loss = [r["loss"] for r in rows if "loss" in r and "eval_loss" not in r]
final = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
ev = final.get("eval_loss", final.get("valid_loss"))
print("first", loss[0], "last", loss[-1], "eval", ev)
sys.exit(0 if len(loss) >= 30 and sum(loss[-5:]) / 5 < sum(loss[:5]) / 5 - 0.5 and ev is not None and math.isfinite(ev) else 1)
PY
spm_train --input=corpus.txt --model_prefix=plain --vocab_size=300 --minloglevel=2 >/dev/null 2>&1
"$FF" train --task mlm --train corpus.txt --tokenizer-file plain.model --out x3 >/dev/null 2>x3.err
rc=$?
[ "$rc" -ge 1 ] && [ "$rc" -le 127 ] && [ "$(grep -c '^fastfnet: plain.model has no \[CLS\] piece' x3.err)" = 1 ] &&
    ok "MLM with a model without the special pieces is refused in one line (rc $rc)" || bad "MLM with plain.model: rc $rc, $(tail -1 x3.err)"
expect_fail "a model without [CLS] cannot build classification examples" "plain.model has no \[CLS\] piece" \
    "$FF" train --train train.tsv --tokenizer-file plain.model --out x4

# 4. --max-len padding: attention pads each batch to its longest example (and says so), Fourier keeps one length
AT=(--train train.tsv --tokenizer-file sp.model --max-len 64 --hidden 32 --layers 2 --intermediate 64 --threads 1 --steps 4 --batch 8)
"$FF" train "${AT[@]}" --arch bert --heads 2 --out att >/dev/null 2>att.log && grep -q "each batch is padded to its longest example" att.log &&
    ok "an attention model says it pads per batch: $(grep 'padded to' att.log)" || bad "attention padding message: $(tail -2 att.log)"
grep -q "every example is padded to --max-len" ft.log && ok "a Fourier model says it keeps one fixed length" || bad "Fourier padding message"
l1=$("$FF" eval --model att --input test.tsv --batch 1 | json_field loss)
l7=$("$FF" eval --model att --input test.tsv --batch 7 | json_field loss)
/usr/bin/python3 -c "import sys; a,b=float('$l1'),float('$l7'); sys.exit(0 if abs(a-b) <= 1e-5*max(1,abs(a)) else 1)" &&
    ok "attention eval loss is the same padded per batch of 1 or of 7 ($l1, $l7): padding is inert" || bad "attention loss depends on batching: $l1 vs $l7"

finish
