# tests/lib.sh: shared by the shell test suites (source it): the build's fastfnet, a scratch directory
# removed at exit, PASS/FAIL lines and the closing "N passed, M failed" line.
set -u
BUILD=${1:-build}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FF="$ROOT/$BUILD/fastfnet"
DATA="$ROOT/data"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
cd "$SCRATCH" || exit 1
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
