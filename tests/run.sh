#!/usr/bin/env bash
# tests/run.sh [BUILD...]: runs every test suite against each build directory (default: build; `make test`
# passes build and build-san, the AddressSanitizer + UBSan build) and ends with "N passed, M failed"
# summed over all suites and builds. With FUZZ_BUILD set (`make test` sets it) the fuzz harnesses there run
# once too, FUZZ_TEST_SECONDS (default 4) each. Exit status 1 if anything failed or a suite crashed.
set -u
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
run_suite() { # name, command...
    local name=$1
    shift
    local log
    log=$(mktemp)
    local t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # a crash or an error outside a check still counts as a failure
        echo "  $name exited with status $rc without reporting a failed check"
    fi
    grep -E '^(FAIL|ERROR)|Sanitizer|runtime error' "$log" | head -n 40
    printf '%-24s %4d passed, %d failed  (%ds)\n' "${BUILD:+$BUILD/}$name" "$p" "$f" $((SECONDS - t0))
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    rm -f "$log"
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
BUILD=""
# the fetcher's own checks (checksums, corrupt downloads) do not depend on the build: run them once
run_suite fetch tests/test_fetch.sh
# the libFuzzer harnesses (`make test` builds them and names the directory): a few seconds each from the
# seed corpora alone, so every harness keeps building and running; `make fuzz` runs them for longer
if [ -n "${FUZZ_BUILD:-}" ]; then
    FUZZ_CORPUS=$(mktemp -d)
    export FUZZ_CORPUS
    run_suite fuzz tests/fuzz/run.sh "$FUZZ_BUILD" "${FUZZ_TEST_SECONDS:-4}"
    rm -rf "$FUZZ_CORPUS"
    unset FUZZ_CORPUS
fi
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(build)
for BUILD in "${builds[@]}"; do
    echo "== $BUILD"
    run_suite ops "$BUILD/test_ops"
    run_suite fourier "$BUILD/test_fourier"
    run_suite model "$BUILD/test_model"
    run_suite safetensors "$BUILD/test_safetensors"
    run_suite listops "$BUILD/test_listops"
    run_suite pathfinder "$BUILD/test_pathfinder"
    run_suite data "$BUILD/test_data"
    run_suite plot "$BUILD/test_plot"
    run_suite tokenizer "$BUILD/test_tokenizer"
    run_suite spm "$BUILD/test_spm"
    run_suite oom "$BUILD/test_oom"
    run_suite lib tests/test_lib.sh "$BUILD"
    run_suite install tests/test_install.sh "$BUILD"
    run_suite trainer "$BUILD/test_trainer" "$BUILD/fastfnet"
    run_suite cli tests/test_cli.sh "$BUILD"
    run_suite bench tests/test_bench.sh "$BUILD"
    run_suite train tests/test_train.sh "$BUILD"
    run_suite faults tests/test_faults.sh "$BUILD"
    run_suite finetune tests/test_finetune.sh "$BUILD"
    run_suite mpi tests/test_mpi.sh "$BUILD"
    # the Python package always carries optimised libraries (a sanitized one cannot be loaded into python3
    # without preloading the ASan runtime), so it is compared bit for bit with the optimised build's CLI
    case "$BUILD" in *san*) ;; *) run_suite python tests/test_python.sh "$BUILD" ;; esac
    # the accuracy campaign's harness at its toy budget: it runs the tool as a user would, so once is enough
    case "$BUILD" in *san*) ;; *) run_suite campaign tests/test_campaign.sh "$BUILD" ;; esac
    run_suite torch-twin /usr/bin/python3 tests/torch_twin.py --fastfnet "$BUILD/fastfnet" --dump "$BUILD/twin_dump"
    # whole training runs (schedule, clipping, accumulation, AdamW over 30 steps) replayed in the twin from --record
    run_suite twin-replay /usr/bin/python3 tests/twin_replay.py --selftest --fastfnet "$BUILD/fastfnet"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
