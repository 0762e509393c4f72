#!/usr/bin/env bash
# tests/test_fetch.sh: scripts/fetch_data.sh, offline and in seconds. The checksum, unpack and idempotence
# logic runs on a small fake npm tarball and a fake "Debian" gzip file in a temporary directory, through
# FETCH_PINS (a pin table naming the fakes) and FETCH_NPM_CACHE (tarballs taken from a directory, not
# `npm pack`). npm, apt-get and sudo are replaced by stubs that fail and record the call, so nothing here
# can reach the network. The last check runs `--verify-only` on the real data/ when it has been fetched.
# Prints PASS/FAIL lines and ends with "N passed, M failed"; exit status 1 if anything failed.
# shellcheck disable=SC2016 # the conditions passed to check are single-quoted on purpose: check evaluates them
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FETCH=$ROOT/scripts/fetch_data.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { # NAME DETAIL-IF-FAILED 'SHELL CONDITION' (evaluated here)
    if eval "$3"; then ok "$1"; else bad "$1: $2"; fi
}
sha() { sha256sum "$1" | cut -c1-64; }

# stubs: any call to npm, apt-get or sudo is recorded and fails
mkdir -p "$T/bin"
for c in npm apt-get sudo; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/called"\nexit 1\n' "$c" "$T" >"$T/bin/$c"
    chmod +x "$T/bin/$c"
done
export PATH="$T/bin:$PATH"
unset FETCH_PINS FETCH_NPM_CACHE

# a fake npm package @fake/ds 1.0.0, packed as npm does (every path under package/)
mkdir -p "$T/src/package/data/sub" "$T/cache" "$T/debsrc"
echo '{"name":"@fake/ds","version":"1.0.0"}' >"$T/src/package/package.json"
printf 'From a@b\nSubject: hi\n\nbody line\n' >"$T/src/package/data/sub/00001.msg.txt"
head -c 3000 /dev/urandom | od -An -tx1 >"$T/src/package/data/noise.txt"
tar -czf "$T/good.tgz" -C "$T/src" package
TGZ=fake-ds-1.0.0.tgz
GOOD_SHA=$(sha "$T/good.tgz")
BYTES=$(stat -c %s "$T/good.tgz")
# npm's integrity string, built here with coreutils only: "sha512-" + base64 of the raw digest
INTEG="sha512-$(printf '%b' "$(sha512sum "$T/good.tgz" | cut -d' ' -f1 | sed 's/../\\x&/g')" | base64 -w0)"
# the unpacked tree's digest, as docs/DATA.md defines it
TREE=$(cd "$T/src/package" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
# a fake Debian file: gzip of a small IDX-like blob
head -c 4000 /dev/urandom >"$T/raw.bin"
gzip -c "$T/raw.bin" >"$T/good.gz"
cp "$T/good.gz" "$T/debsrc/x-idx1-ubyte.gz"
GZ_SHA=$(sha "$T/good.gz")
RAW_SHA=$(sha "$T/raw.bin")
cat >"$T/pins" <<EOF
# test pins
npm fake @fake/ds 1.0.0 fake-ds $GOOD_SHA $BYTES $INTEG $TREE
deb fakedeb fake-deb-package 9.9 fake-idx $T/debsrc/x-idx1-ubyte.gz $GZ_SHA x-idx1-ubyte $RAW_SHA
EOF
export FETCH_PINS=$T/pins FETCH_NPM_CACHE=$T/cache
D=$T/data

# run ARGS...: runs the fetcher, stdout in $T/out, stderr in $T/err, exit status in $rc
run() {
    "$FETCH" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
leftovers() { find "$D" -maxdepth 2 \( -name '.unpack-*' -o -name '.listing.*' -o -name '.MANIFEST.*' -o -name '*.tgz' \) | head -n 3; }

# 1. a correct tarball verifies and unpacks
cp "$T/good.tgz" "$T/cache/$TGZ"
run --data-dir "$D" --only fake
check "good tarball: fetch succeeds" "rc=$rc $(cat "$T/err")" '[ "$rc" -eq 0 ]'
check "good tarball: files unpacked without the package/ prefix" "$(find "$D" 2>&1 | head -c 300)" \
    'cmp -s "$D/fake-ds/data/sub/00001.msg.txt" "$T/src/package/data/sub/00001.msg.txt"'
check "good tarball: download and temporaries removed" "$(leftovers)" '[ -z "$(leftovers)" ] && [ ! -e "$D/.download" ]'
check "MANIFEST lists every file with version and sha256" "$(head -c 400 "$D/MANIFEST.txt" 2>&1)" \
    'grep -q "^file  fake  @fake/ds@1.0.0  $(sha "$T/src/package/data/noise.txt")  $(stat -c %s "$T/src/package/data/noise.txt")  fake-ds/data/noise.txt$" "$D/MANIFEST.txt"'
check "MANIFEST names the source tarball and its sha256" "$(grep '^source' "$D/MANIFEST.txt" 2>&1)" \
    'grep -q "^source  fake  @fake/ds  1.0.0  $GOOD_SHA  $BYTES  npm:$TGZ" "$D/MANIFEST.txt"'

# 2. idempotent: a second run needs no download at all (the cache is emptied) and changes nothing
rm -f "$T/cache/$TGZ"
# shellcheck disable=SC2034 # read by check
before=$(find "$D" -type f -printf '%p %T@\n' | sort | sha256sum)
run --data-dir "$D" --only fake
# shellcheck disable=SC2034
after=$(find "$D" -type f -printf '%p %T@\n' | sort | sha256sum)
check "second run: nothing fetched, nothing changed" "rc=$rc out: $(cat "$T/out" "$T/err")" \
    '[ "$rc" -eq 0 ] && [ "$before" = "$after" ]'
check "second run: says already verified" "$(cat "$T/out")" 'grep -q "fake: ok (already present and verified)" "$T/out"'
run --data-dir "$D" --only fake --verify-only
check "--verify-only passes on good data" "rc=$rc $(cat "$T/out" "$T/err")" '[ "$rc" -eq 0 ]'

# 3. an unpacked file changed after the fact: --verify-only names it, a normal run repairs it
printf 'X' | dd of="$D/fake-ds/data/noise.txt" bs=1 seek=5 conv=notrunc 2>/dev/null
run --data-dir "$D" --only fake --verify-only
check "--verify-only detects a changed unpacked file and names it" "rc=$rc $(cat "$T/out" "$T/err")" \
    '[ "$rc" -ne 0 ] && grep -q data/noise.txt "$T/out"'
cp "$T/good.tgz" "$T/cache/$TGZ"
run --data-dir "$D" --only fake
check "a normal run repairs the changed file" "rc=$rc $(cat "$T/err")" \
    '[ "$rc" -eq 0 ] && cmp -s "$D/fake-ds/data/noise.txt" "$T/src/package/data/noise.txt"'

# expect_bad NAME: the last run failed with exactly one line on stderr naming the package, version, the
# expected and actual sha256, and left no download, temporary or unpacked data set behind
expect_bad() {
    local name=$1 actual=$2
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] && grep -q '@fake/ds' "$T/err" &&
        grep -q '1\.0\.0' "$T/err" && grep -q "expected sha256 $GOOD_SHA" "$T/err" && grep -q "actual $actual" "$T/err"; then
        ok "$name: $(cat "$T/err")"
    else
        bad "$name: rc=$rc, stderr ($lines lines): $(head -c 400 "$T/err")"
    fi
    check "$name: no download left, nothing unpacked" "$(leftovers; ls -a "$D")" \
        '[ ! -e "$D/.download/$TGZ" ] && [ ! -e "$D/fake-ds" ] && [ -z "$(leftovers)" ]'
}

# 4. a corrupted download: one byte flipped
rm -rf "$D"
cp "$T/good.tgz" "$T/cache/$TGZ"
printf '\x00' | dd of="$T/cache/$TGZ" bs=1 seek=$((BYTES / 2)) conv=notrunc 2>/dev/null
cmp -s "$T/cache/$TGZ" "$T/good.tgz" && printf '\x01' | dd of="$T/cache/$TGZ" bs=1 seek=$((BYTES / 2)) conv=notrunc 2>/dev/null
run --data-dir "$D" --only fake
expect_bad "flipped byte detected" "$(sha "$T/cache/$TGZ")"

# 5. a truncated download
head -c $((BYTES - 7)) "$T/good.tgz" >"$T/cache/$TGZ"
run --data-dir "$D" --only fake
expect_bad "truncated download detected" "$(sha "$T/cache/$TGZ")"

# 6. a missing download
rm -f "$T/cache/$TGZ"
run --data-dir "$D" --only fake
expect_bad "missing download detected" "none"

# 7. a pin table whose sha512 integrity disagrees with its sha256 is refused
cp "$T/good.tgz" "$T/cache/$TGZ"
sed "s|$INTEG|sha512-$(printf 'x%.0s' $(seq 64) | base64 -w0)|" "$T/pins" >"$T/pins.badinteg"
FETCH_PINS=$T/pins.badinteg run --data-dir "$D" --only fake
check "integrity mismatch refused" "rc=$rc $(cat "$T/err")" '[ "$rc" -ne 0 ] && grep -q "integrity mismatch" "$T/err"'
check "integrity mismatch: download deleted" "$(leftovers)" '[ ! -e "$D/.download/$TGZ" ] && [ ! -e "$D/fake-ds" ]'

# 8. a failed `npm pack` (no cache: the npm stub fails as a network error would)
rm -rf "$D"
: >"$T/called"
FETCH_NPM_CACHE='' run --data-dir "$D" --only fake
check "npm pack failure: one line, non-zero, nothing left" "rc=$rc $(cat "$T/err")" \
    '[ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && [ ! -e "$D/fake-ds" ] && grep -q "npm pack failed" "$T/err" &&
    grep -q "npm pack @fake/ds@1.0.0" "$T/called"'

# 9. the Debian-package path: copy, gunzip, check both
run --data-dir "$D" --only fakedeb
check "deb file: copied as .gz and gunzipped" "rc=$rc $(cat "$T/err")" \
    '[ "$rc" -eq 0 ] && cmp -s "$D/fake-idx/x-idx1-ubyte" "$T/raw.bin" && cmp -s "$D/fake-idx/x-idx1-ubyte.gz" "$T/good.gz"'
run --data-dir "$D" --only fakedeb
check "deb file: second run changes nothing" "$(cat "$T/out")" 'grep -q "fakedeb: ok (already present and verified)" "$T/out"'
rm -rf "$D/fake-idx"
printf '\xff' | dd of="$T/debsrc/x-idx1-ubyte.gz" bs=1 seek=20 conv=notrunc 2>/dev/null
run --data-dir "$D" --only fakedeb
check "deb file: corrupted source detected, one line naming package, version, both sha256" "rc=$rc $(cat "$T/err")" \
    '[ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "fake-deb-package 9.9" "$T/err" &&
    grep -q "expected sha256 $GZ_SHA, actual $(sha "$T/debsrc/x-idx1-ubyte.gz")" "$T/err"'
check "deb file: bad copy deleted, source file left alone" "$(ls -a "$D")" \
    '[ ! -e "$D/fake-idx" ] && [ -z "$(leftovers)" ] && [ -f "$T/debsrc/x-idx1-ubyte.gz" ]'
rm -f "$T/debsrc/x-idx1-ubyte.gz"
: >"$T/called"
run --data-dir "$D" --only fakedeb
check "deb file: missing package is installed with apt-get at the pinned version (stub fails cleanly)" \
    "rc=$rc $(cat "$T/err") called: $(cat "$T/called")" '[ "$rc" -ne 0 ] && grep -q "install .*fake-deb-package=9.9" "$T/called"'

# 10. bad arguments
run --data-dir "$D" --only nosuch
check "--only with an unknown name is refused" "rc=$rc $(cat "$T/err")" '[ "$rc" -eq 2 ] && grep -q "unknown data set .nosuch." "$T/err"'

# 11. the real pin table parses, and --verify-only on an empty directory fails for all five without fetching
unset FETCH_PINS FETCH_NPM_CACHE
: >"$T/called"
run --data-dir "$T/empty" --verify-only
check "real pins: --verify-only on an empty dir fails, names all five, fetches nothing" "rc=$rc $(cat "$T/out")" \
    '[ "$rc" -eq 1 ] && [ "$(grep -c "is missing" "$T/out")" -eq 5 ] && [ ! -s "$T/called" ] && [ ! -e "$T/empty" ]'

# 11b. the pre-training corpus with the real pins, its .deb files from FETCH_DEB_CACHE: a corrupt or missing
# download is one stderr line with package, version and both hashes, and leaves nothing behind
# shellcheck disable=SC2034 # KJV_SHA and BAD_SHA are read by the checks' conditions
KJV_SHA=9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57
mkdir -p "$T/debcache" "$T/nodebs"
head -c 5000 /dev/urandom >"$T/debcache/sword-text-kjv_14.3-1_all.deb"
# shellcheck disable=SC2034
BAD_SHA=$(sha "$T/debcache/sword-text-kjv_14.3-1_all.deb")
: >"$T/called"
FETCH_DEB_CACHE=$T/debcache run --data-dir "$T/c1" --only corpus
check "corpus: corrupt .deb is one stderr line with package, version, both hashes" "rc=$rc $(cat "$T/err")" \
    '[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "sword-text-kjv 14.3-1: checksum mismatch .*expected sha256 $KJV_SHA, actual $BAD_SHA" "$T/err"'
check "corpus: corrupt .deb leaves nothing behind, calls nothing" "$(find "$T/c1" -mindepth 1 | head -3) $(cat "$T/called")" \
    '[ ! -e "$T/c1/corpus" ] && [ -z "$(find "$T/c1" -mindepth 1 ! -name MANIFEST.txt)" ] && [ ! -s "$T/called" ]'
FETCH_DEB_CACHE=$T/nodebs run --data-dir "$T/c1" --only corpus
check "corpus: missing .deb is one line, 'actual none'" "rc=$rc $(cat "$T/err")" \
    '[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "sword-text-kjv 14.3-1: download .*expected sha256 $KJV_SHA, actual none" "$T/err"'
mkdir -p "$T/c2/corpus"
echo stray >"$T/c2/corpus/extra.txt"
run --data-dir "$T/c2" --only corpus --verify-only
check "corpus: --verify-only names a missing text and an unpinned one" "rc=$rc $(cat "$T/out")" \
    '[ "$rc" -eq 1 ] && grep -q "corpus/kjv.txt is missing" "$T/out" && grep -q "not pinned: extra.txt" "$T/out"'

# 12. the real data/, when it has been fetched
if [ -d "$ROOT/data/spam-assassin" ] || [ -d "$ROOT/data/moby-dick" ] || [ -d "$ROOT/data/sotu" ] || [ -d "$ROOT/data/fashion-mnist" ] ||
    [ -d "$ROOT/data/corpus" ]; then
    t0=$SECONDS
    run --verify-only
    check "real data/: --verify-only passes ($((SECONDS - t0))s)" "rc=$rc $(cat "$T/out" "$T/err")" '[ "$rc" -eq 0 ]'
    check "real data/: no npm/apt/sudo call" "$(cat "$T/called")" '[ ! -s "$T/called" ]'
else
    echo "SKIP real data/: --verify-only (data/ has not been fetched; run scripts/fetch_data.sh)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
