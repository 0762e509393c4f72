#!/usr/bin/env bash
# test_bench.sh: the benchmark tool (bench/bench.c) validates its flags, one line and a non-zero exit for a bad
# one, and its measurements are well-formed JSON lines with the fields bench/run.sh and speed_ab.sh read.
source "$(dirname "$0")/lib.sh"
BENCH="$ROOT/$BUILD/bench"

expect_fail() { # NAME PATTERN ARGS...: exit 1..127, one stderr line matching PATTERN
    local name=$1 pat=$2
    shift 2
    "$BENCH" "$@" >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -qE -e "$pat" err.txt; then
        ok "$name: $(cat err.txt)"
    else
        bad "$name: rc=$rc, stderr: $(head -c 300 err.txt)"
    fi
}

expect_fail "a word for a number" "--hidden: 'abc' is not an integer" --hidden abc --params
expect_fail "a negative --warmup (it indexed before the timings)" "--warmup: '-1'" --warmup -1 --repeats 2
expect_fail "an unknown --mode (it meant both)" "--mode 'fast' must be train, infer or both" --mode fast
expect_fail "--threads 0" "--threads: '0'" --threads 0 --params
expect_fail "--dropout out of range" "--dropout: '1.5'" --dropout 1.5 --params
expect_fail "--seq 0" "--seq: '0'" --seq 0
expect_fail "an unknown flag" "unknown or incomplete option '--bogus'" --bogus
expect_fail "a flag without its value" "unknown or incomplete option '--batch'" --batch
expect_fail "an architecture fastfnet refuses" "arch: 'gpt'" --arch gpt

fields() { # FILE KEY...: every line of FILE is a JSON object holding each KEY
    /usr/bin/python3 - "$@" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ok = len(lines) > 0
for line in lines:
    o = json.loads(line)
    ok = ok and all(k in o for k in sys.argv[2:])
sys.exit(0 if ok else 1)
PY
}
"$BENCH" --params --arch fast-fnet --hidden 32 --layers 2 >params.txt 2>err.txt && fields params.txt params encoder_params &&
    ok "--params: $(cat params.txt)" || bad "--params: $(cat params.txt err.txt)"
for arch in fnet bert fast-fnet; do
    "$BENCH" --arch $arch --hidden 32 --layers 2 --heads 2 --seq 16 --batch 2 --repeats 2 --warmup 1 --threads 1 >m.txt 2>err.txt &&
        fields m.txt params model_flops_forward peak_rss_mib estimate_mib train_tokens_per_s infer_tokens_per_s &&
        ok "$arch train + infer: one JSON line with its figures" || bad "$arch: $(head -c 400 m.txt) $(cat err.txt)"
done
"$BENCH" --sgemm-peak --repeats 1 --threads 1 >s.txt 2>err.txt && fields s.txt gflops_median &&
    ok "--sgemm-peak (its buffers freed: clean under LeakSanitizer in the sanitizer build)" || bad "--sgemm-peak: $(cat s.txt err.txt)"
"$BENCH" --sgemm-shape 33,17,9,1,1 --repeats 1 --threads 1 >s.txt 2>err.txt && fields s.txt gflops_median &&
    grep -q '"n": 17, "m": 33, "k": 9, "ta": 1, "tb": 1' s.txt && ok "--sgemm-shape M,N,K,TA,TB (transposed operands, odd sizes)" ||
    bad "--sgemm-shape: $(cat s.txt err.txt)"
expect_fail "--sgemm-shape with a transpose of 2" "transposes 0 or 1" --sgemm-shape 8,8,8,0,2
"$BENCH" --fourier --hidden 32 --seq 16 --batch 2 --repeats 1 >f.txt 2>err.txt && [ -s f.txt ] &&
    ok "--fourier" || bad "--fourier: $(cat f.txt err.txt)"
# bench/report.py names the machine of each section: a later `BENCH_SECTIONS=speed make bench` on another kind of CPU
# keeps the other sections' rows, and the report had named only the first machine (its ISA for the new figures too)
/usr/bin/python3 - "$ROOT/docs/results-bench-full.jsonl" <<'PY' >two.jsonl
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
m = next(r for r in rows if r["section"] == "machine")
m.update(cpu="Test CPU A (family 1 model 1)", isa="AVX-512", blas_core="SkylakeX", threads=2)
rows = [r for r in rows if r["section"] != "command"]
rows.append({"section": "command", "command": "make bench PROFILE=full", "sections": "all", "commit": "a", "date": "d"})
rows.append({"section": "command", "command": "BENCH_SECTIONS=speed make bench PROFILE=full", "sections": "speed",
             "commit": "b", "date": "d", "cpu": "Test CPU B (family 2 model 2)", "isa": "AVX2", "cores": 2,
             "threads": 1, "blas_core": "Zen"})
for r in rows: print(json.dumps(r))
PY
/usr/bin/python3 "$ROOT/bench/report.py" two.jsonl --out two.md --svg-prefix two >rep.log 2>&1 &&
    grep -q '^  - speed (`BENCH_SECTIONS=speed make bench PROFILE=full`): Test CPU B (family 2 model 2), 2 cores, vector ISA \*\*AVX2\*\* .*OpenBLAS kernels: Zen.*; 1 threads' two.md &&
    grep -q '^  - mpi, authors (`make bench PROFILE=full`): Test CPU A .*\*\*AVX-512\*\*.*SkylakeX' two.md &&
    grep -Eq 'sgemm peak \((OpenBLAS, )?2048\^3, 1 threads' two.md && ! grep -q '^- Machine:' two.md &&
    ok "report: sections re-measured on another CPU are named with that CPU and ISA, the others with theirs" ||
    bad "report with two machines: $(cat rep.log; sed -n 1,8p two.md)"
head -n 1 two.jsonl >one.jsonl && grep -v '"command"' two.jsonl | tail -n +2 >>one.jsonl
/usr/bin/python3 "$ROOT/bench/report.py" one.jsonl --out one.md --svg-prefix one >rep.log 2>&1 &&
    grep -q '^- Machine: Test CPU A (family 1 model 1), 2 cores, vector ISA \*\*AVX-512\*\*' one.md &&
    ok "report: one machine, one line" || bad "report with one machine: $(cat rep.log; sed -n 1,8p one.md)"
# --sgemm-peak measures OpenBLAS and fastfnet's own product and reports the faster: the report names both
/usr/bin/python3 - one.jsonl <<'PY' >peak.jsonl
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["section"] == "sgemm":
        r.update(gflops_median=201.5, openblas_gflops_median=187.25, fastfnet_gflops_median=201.5, repeats=7)
    print(json.dumps(r))
PY
/usr/bin/python3 "$ROOT/bench/report.py" peak.jsonl --out peak.md --svg-prefix peak >rep.log 2>&1 &&
    grep -q "sgemm peak (2048^3, [0-9]* threads, the faster of OpenBLAS's 187.2 and fastfnet's own 201.5, medians of 7): \*\*201.5 GFLOP/s\*\*" peak.md &&
    ok "report: the sgemm peak names OpenBLAS's and fastfnet's own figures, the faster as the peak" ||
    bad "report's sgemm peak: $(cat rep.log; grep -n 'sgemm peak' peak.md)"
finish
