#!/usr/bin/env bash
# bench/speed_ab.sh [ROUNDS] [BEFORE_BENCH]: the speed targets side by side in one run, rounds interleaved, so
# a busy machine slows every contender alike: sgemm peak (the faster of OpenBLAS and fastfnet's own), FNet (4 x 256, FFN 1024, T 512, B 8) training
# and inference against the PyTorch peer, FNet-Base latency (12 x 768, T 512, B 1) against PyTorch, and, given
# another build's bench binary, the same FNet shape with it (before/after); the authors' Fast-FNet's MFU as a
# ratio to FNet's at that shape. 2 threads throughout. Prints one
# line per round and the median and min-max of each ratio; raw rows go to build/speed_ab.jsonl. BUILD=DIR builds
# and measures there instead of build/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BEFORE=${2:-}
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" all "$BUILD/bench"
PY=/usr/bin/python3
# PyTorch's OpenBLAS gets the kernels ours uses: where OpenBLAS does not know the CPU it falls back to SSE3 kernels,
# which fastfnet corrects when it is loaded (docs/PERFORMANCE.md, round 5) and PyTorch does not.
core=$("$BUILD/bench" --blas-core)
[ "$core" = cblas ] || export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$core}
TH=2
export OMP_NUM_THREADS=$TH
OUT=build/speed_ab.jsonl
: >"$OUT"
SHAPE="--hidden 256 --layers 4 --intermediate 1024 --heads 4 --vocab 261 --seq 512 --batch 8"
BASE="--hidden 768 --layers 12 --intermediate 3072 --vocab 32000 --seq 512 --batch 1"
row() { # tag, then a command printing a JSON line
    local tag=$1
    shift
    "$@" | tail -1 | $PY -c 'import json, sys; d = json.loads(sys.stdin.read()); d["tag"] = sys.argv[1]; d["round"] = sys.argv[2]; print(json.dumps(d))' "$tag" "$round" >>"$OUT"
}
source bench/machine.sh
echo "machine: $(cpu_name), $(nproc) cores, ISA $(vector_isa), OpenBLAS kernels $core, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    row sgemm "$BUILD/bench" --sgemm-peak --threads $TH --repeats 5
    # shellcheck disable=SC2086
    row fnet "$BUILD/bench" --arch fnet $SHAPE --repeats 3 --warmup 1 --threads $TH
    # shellcheck disable=SC2086
    row fast "$BUILD/bench" --arch fast-fnet $SHAPE --repeats 3 --warmup 1 --threads $TH
    # shellcheck disable=SC2086
    [ -n "$BEFORE" ] && row before "$BEFORE" --arch fnet $SHAPE --repeats 3 --warmup 1 --threads $TH
    # shellcheck disable=SC2086
    row torch $PY bench/torch_peer.py --arch fnet $SHAPE --threads $TH --repeats 3 --warmup 1 --mode both --json
    # shellcheck disable=SC2086
    row base "$BUILD/bench" --arch fnet $BASE --mode infer --repeats 3 --warmup 1 --threads $TH
    # shellcheck disable=SC2086
    row torch-base $PY bench/torch_peer.py --arch fnet $BASE --heads 12 --threads $TH --repeats 3 --warmup 1 --mode infer --json
done
$PY - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
R = {}
for r in rows: R.setdefault(r["round"], {})[r["tag"]] = r
fig = {}
for k, rr in sorted(R.items()):
    peak, f, t = rr["sgemm"]["gflops_median"], rr["fnet"], rr["torch"]
    v = {"train x PyTorch": f["train_tokens_per_s"] / t["train_tokens_per_s"],
         "infer x PyTorch": f["infer_tokens_per_s"] / t["infer_tokens_per_s"],
         "train MFU": f["train_gflops"] / peak, "infer MFU": f["infer_gflops"] / peak,
         "Base latency / PyTorch": rr["base"]["infer_step_s_median"] / rr["torch-base"]["infer_step_s_median"]}
    if "fast" in rr:  # the authors' Fast-FNet's MFU against FNet's, same shape, same round
        v["Fast-FNet train MFU / FNet"] = rr["fast"]["train_gflops"] / f["train_gflops"]
        v["Fast-FNet infer MFU / FNet"] = rr["fast"]["infer_gflops"] / f["infer_gflops"]
    if "before" in rr:
        v["train x before"] = f["train_tokens_per_s"] / rr["before"]["train_tokens_per_s"]
        v["infer x before"] = f["infer_tokens_per_s"] / rr["before"]["infer_tokens_per_s"]
    print(f"round {k}: sgemm {peak:.1f} GFLOP/s, kernels {f.get('kernels', '?')}; " + ", ".join(f"{n} {x:.2f}" for n, x in v.items()))
    for n, x in v.items(): fig.setdefault(n, []).append(x)
for n, xs in fig.items():
    print(f"{n}: median {statistics.median(xs):.2f} (min {min(xs):.2f}, max {max(xs):.2f}, {len(xs)} rounds)")
EOF
