#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD SECONDS [NAME...]: runs each libFuzzer harness BUILD/fuzz_NAME (default: all of them)
# for SECONDS, one after another, on the corpus CORPUS/NAME (CORPUS: $FUZZ_CORPUS, default BUILD/corpus) seeded
# from tests/fuzz/NAME/, which it only reads. A finding is saved as BUILD/findings/NAME-crash-* (or leak-,
# timeout-, oom-) and its log stays in BUILD/logs/NAME.log. $FUZZ_FLAGS adds libFuzzer options (-runs=N).
# One PASS/FAIL line per harness with its executions and final coverage, then "N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:?usage: tests/fuzz/run.sh BUILD SECONDS [NAME...]}
SECONDS_EACH=${2:?usage: tests/fuzz/run.sh BUILD SECONDS [NAME...]}
shift 2
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for src in tests/fuzz/fuzz_*.c; do
        n=${src#tests/fuzz/fuzz_}
        names+=("${n%.c}")
    done
fi
CORPUS=${FUZZ_CORPUS:-$BUILD/corpus}
mkdir -p "$BUILD/findings" "$BUILD/logs"
# UBSan findings must stop the run (the build also sets -fno-sanitize-recover); leaks are findings too
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
pass=0
fail=0
for name in "${names[@]}"; do
    bin=$BUILD/fuzz_$name
    log=$BUILD/logs/$name.log
    if [ ! -x "$bin" ] || [ ! -d "tests/fuzz/$name" ]; then
        echo "FAIL $name: $bin or tests/fuzz/$name/ is missing (make fuzz-build)"
        fail=$((fail + 1))
        continue
    fi
    mkdir -p "$CORPUS/$name"
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of options
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$BUILD/findings/$name-" ${FUZZ_FLAGS:-} "$CORPUS/$name" "tests/fuzz/$name" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    summary="${execs:-?} execs (${secs:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    if [ "$rc" -eq 0 ] && [ -n "$execs" ] && [ "$execs" -gt 0 ]; then
        echo "PASS $name: $summary"
        pass=$((pass + 1))
    else
        echo "FAIL $name: exit status $rc, $summary; log $log"
        grep -E 'ERROR|SUMMARY|runtime error|property failed|Test unit written|artifact_prefix' "$log" | head -n 12
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
