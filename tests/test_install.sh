#!/usr/bin/env bash
# test_install.sh BUILD: make install into a scratch PREFIX (and a DESTDIR stage), then build
# examples/embed.c against the installed library the way a user does (cc ... $(pkg-config --cflags --libs
# fastfnet)), check it links libfastfnet.so.0 dynamically, and that its pooled embedding of a text equals
# `fastfnet embed` of the same ids digit for digit; make uninstall then leaves nothing behind.
source "$(dirname "$0")/lib.sh"
P="$SCRATCH/prefix"
# the install must not rebuild BUILD with other options: name the build's own (SAN=1 for a sanitizer build)
SAN=0
grep -q -- '-fsanitize' "$ROOT/$BUILD/flags" 2>/dev/null && SAN=1
mk() { make -s -C "$ROOT" BUILD="$BUILD" SAN=$SAN "$@" >make.log 2>&1; }

mk install PREFIX="$P" && ok "make install PREFIX=DIR" || bad "make install: $(tail -3 make.log)"
missing=""
for f in bin/fastfnet include/fastfnet.h lib/pkgconfig/fastfnet.pc lib/pkgconfig/fastfnet_train.pc \
    lib/libfastfnet.a lib/libfastfnet.so.0.1.0 lib/libfastfnet_train.a lib/libfastfnet_train.so.0.1.0; do
    [ -f "$P/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "installed the tool, headers, both libraries (.a, .so.0.1.0) and both .pc files" || bad "not installed:$missing"
[ "$(readlink "$P/lib/libfastfnet.so.0")" = libfastfnet.so.0.1.0 ] && [ "$(readlink "$P/lib/libfastfnet.so")" = libfastfnet.so.0 ] &&
    ok "links libfastfnet.so -> .so.0 -> .so.0.1.0" || bad "links: $(ls -l "$P/lib" | grep libfastfnet.so)"
for h in "$ROOT"/include/*.h; do
    cmp -s "$h" "$P/include/$(basename "$h")" || bad "header $(basename "$h") not installed"
done

export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs fastfnet) && ok "pkg-config --cflags --libs fastfnet: $flags" || bad "pkg-config fastfnet"
pkg-config --static --libs fastfnet | grep -q 'openblas-openmp' && ok "the static link line names the OpenMP build of OpenBLAS" ||
    bad "Libs.private: $(pkg-config --static --libs fastfnet)"
EXTRA=""
[ "$SAN" = 1 ] && EXTRA="-fsanitize=address,undefined" # the library is instrumented: so is its user
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror $EXTRA "$ROOT/examples/embed.c" $flags -o embed 2>cc.err && ok "examples/embed.c builds against the installed library" ||
    bad "cc examples/embed.c: $(head -5 cc.err)"
readelf -d embed 2>/dev/null | grep -q 'NEEDED.*\[libfastfnet\.so\.0\]' && ok "the example needs libfastfnet.so.0 (dynamic)" ||
    bad "NEEDED: $(readelf -d embed 2>&1 | grep NEEDED)"
ldd embed | grep -q "libfastfnet.so.0 => $P/lib/libfastfnet.so.0" && ok "ldd resolves it to the installed copy" ||
    bad "ldd: $(ldd embed | grep fastfnet)"
ldd embed | grep -qE 'libmpi|libfastfnet_train' && bad "the engine drags in MPI or the trainer: $(ldd embed | grep -E 'mpi|train')" ||
    ok "no MPI and no trainer library behind the engine"

# a small model and tokenizer from the installed tool; the example against `fastfnet embed`
FFI="$P/bin/fastfnet"
for i in $(seq 1 40); do echo "the quick brown fox $i jumps over the lazy dog $((i * 7)) times"; done >corpus.txt
"$FFI" tokenizer train --kind bpe --input corpus.txt --vocab-size 300 --out tok.json >/dev/null 2>&1 &&
    "$FFI" init --arch fnet --vocab 300 --hidden 32 --layers 2 --max-pos 64 --seed 3 --out m.safetensors >/dev/null &&
    ok "installed fastfnet made a tokenizer and a model" || bad "fastfnet tokenizer train / init"
TEXT="the lazy fox jumps 42 times"
./embed m.safetensors tok.json "$TEXT" >ex.txt 2>ex.err && [ "$(wc -w <ex.txt)" -eq 32 ] && ok "the example prints a 32-wide pooled embedding" ||
    bad "embed example: $(head -c 300 ex.err)"
ids=$(printf '%s' "$TEXT" | "$FFI" tokenizer encode --tokenizer tok.json)
echo "0 $ids 1" >ids.txt
"$FFI" embed --model m.safetensors --ids ids.txt --pad longest --out e.safetensors >/dev/null &&
    /usr/bin/python3 - e.safetensors >cli.txt <<'PY'
import array, json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
t = json.loads(raw[8:8 + n])["pooler_output"]
a = array.array("f")
a.frombytes(raw[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]])
print(" ".join("%.9g" % v for v in a[:t["shape"][1]]))
PY
cmp -s ex.txt cli.txt && ok "the example's embedding equals fastfnet embed's, every digit ($(cut -d' ' -f1-3 ex.txt) ...)" ||
    bad "example vs fastfnet embed: $(head -c 120 ex.txt) | $(head -c 120 cli.txt)"
# the .pc's static recipe (the archive named first): the same embedding, and no libfastfnet.so behind it (under
# ASan the ODR indicators also make the linker load the .so, so that part is for the release build)
# shellcheck disable=SC2086
cc -std=c11 $EXTRA "$ROOT/examples/embed.c" $(pkg-config --cflags fastfnet) "$P/lib/libfastfnet.a" $(pkg-config --static --libs fastfnet) \
    -o embed_static 2>cc3.err && ./embed_static m.safetensors tok.json "$TEXT" >exs.txt 2>&1 && cmp -s ex.txt exs.txt &&
    { [ "$SAN" = 1 ] || ! readelf -d embed_static | grep -q 'NEEDED.*libfastfnet'; } &&
    ok "the .pc's static recipe links libfastfnet.a: the same embedding$([ "$SAN" = 1 ] || echo ', no libfastfnet.so needed')" ||
    bad "static link: $(head -c 300 cc3.err) $(head -c 200 exs.txt) $(readelf -d embed_static 2>&1 | grep 'NEEDED.*fastfnet')"
./embed missing.safetensors tok.json "x" >/dev/null 2>err.txt
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q missing.safetensors err.txt && ok "a missing model: one line naming it ($(cat err.txt))" ||
    bad "missing model: rc $rc, $(cat err.txt)"

# a program of the trainer alone (docs/API.md's example): it starts without LD_LIBRARY_PATH (libfastfnet_train.so.0
# finds libfastfnet.so.0 beside it; before, "libfastfnet.so.0: cannot open shared object file", status 127)
cat >trainer.c <<'C'
#include "fastfnet_train.h"
#include <stdio.h>
static int on_step(const fastfnet_train_progress *p, void *user) {
    (void)user;
    if (p->logged) printf("step %ld/%ld loss %.4f\n", p->step, p->steps, p->mean_loss);
    return 0;
}
int main(void) {
    const char *argv[] = {"--train", "corpus.tsv", "--steps", "2", "--hidden", "16", "--layers", "1", "--max-len", "16", "--log-every", "1",
                          "--out", "runs/a"};
    char err[1024];
    fastfnet_trainer *t = fastfnet_trainer_create(14, argv, err, sizeof err);
    int rc = !t || fastfnet_trainer_run(t, on_step, NULL, err, sizeof err) < 0;
    if (rc) fprintf(stderr, "%s\n", err);
    fastfnet_trainer_free(t);
    return rc;
}
C
awk '{print (NR % 2 ? "a" : "b") "\t" $0}' corpus.txt >corpus.tsv
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror $EXTRA trainer.c $(pkg-config --cflags --libs fastfnet_train) -o trainer 2>cc2.err &&
    env -u LD_LIBRARY_PATH ./trainer >trainer.out 2>trainer.err && grep -q 'step 2/2' trainer.out &&
    ok "a program of the trainer alone runs without LD_LIBRARY_PATH ($(ldd trainer | grep -c fastfnet) fastfnet libraries resolved)" ||
    bad "trainer-only program: $(head -c 300 cc2.err) $(head -c 300 trainer.err)"

mk uninstall PREFIX="$P" && left=$(find "$P" -type f -o -type l) && [ -z "$left" ] && ok "make uninstall removes everything it installed" ||
    bad "left after uninstall: $left"
mk install PREFIX=/opt/ffn DESTDIR="$SCRATCH/stage" && [ -x "$SCRATCH/stage/opt/ffn/bin/fastfnet" ] &&
    grep -qx 'prefix=/opt/ffn' "$SCRATCH/stage/opt/ffn/lib/pkgconfig/fastfnet.pc" && ok "DESTDIR stages the install; the .pc names the real PREFIX" ||
    bad "DESTDIR install: $(tail -3 make.log)"
finish
