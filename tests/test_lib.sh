#!/usr/bin/env bash
# test_lib.sh BUILD: the libraries as others link them: the shared libraries' SONAMEs, that libfastfnet.so
# exports only fastfnet_ names and reaches no exit/abort/printing/signal function (the library reports errors,
# the tool decides), and that libfastfnet is an engine apart (no MPI, no application code in it).
source "$(dirname "$0")/lib.sh"
LIB="$ROOT/$BUILD/libfastfnet.so"
TLIB="$ROOT/$BUILD/libfastfnet_train.so"

[ -f "$LIB" ] && [ -f "$TLIB" ] && ok "both shared libraries built" || bad "missing $LIB or $TLIB (make shared)"
readelf -d "$LIB" | grep -q 'SONAME.*\[libfastfnet\.so\.0\]' && ok "libfastfnet.so has SONAME libfastfnet.so.0" || bad "SONAME: $(readelf -d "$LIB" | grep SONAME)"
readelf -d "$TLIB" | grep -q 'SONAME.*\[libfastfnet_train\.so\.0\]' && ok "libfastfnet_train.so has SONAME libfastfnet_train.so.0" || bad "train SONAME"
readelf -d "$TLIB" | grep -q 'NEEDED.*\[libfastfnet\.so\.0\]' && ok "libfastfnet_train.so links libfastfnet.so.0" || bad "train NEEDED: $(readelf -d "$TLIB" | grep NEEDED)"

# nothing in the engine may end the process, print, or take signals
forbidden=$(nm -D --undefined-only "$LIB" | awk '{print $2}' | sed 's/@.*//' |
    grep -xE 'exit|_exit|_Exit|abort|quick_exit|printf|fprintf|vprintf|vfprintf|puts|fputs|putchar|perror|signal|sigaction|raise|MPI_.*')
[ -z "$forbidden" ] && ok "libfastfnet.so references no exit, abort, print, signal or MPI function" || bad "libfastfnet.so references: $forbidden"
exported=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -vE '^(fastfnet_|_init$|_fini$)')
[ -z "$exported" ] && ok "libfastfnet.so exports only fastfnet_ symbols ($(nm -D --defined-only "$LIB" | grep -c ' T fastfnet_') functions)" ||
    bad "libfastfnet.so exports: $(echo $exported | head -c 300)"
nm -D --defined-only "$LIB" | grep -qw fastfnet_model_load && ok "fastfnet_model_load is exported" || bad "fastfnet_model_load not exported"
nm -D --defined-only "$LIB" | grep -qw fastfnet_model_alloc && bad "internal fastfnet_model_alloc is exported" || ok "internal fastfnet_model_alloc is hidden"
nm "$ROOT/$BUILD/libfastfnet.a" 2>/dev/null | grep -qE ' T fastfnet_(die|train_run|trainer_)' && bad "application code in libfastfnet.a" ||
    ok "libfastfnet.a holds no application code (die, trainer)"
# a static link puts every global of the archives beside the user's own: all of them are fastfnet_ (opt_parse
# and six more of the trainer's clashed with a program's own; C++'s weak typeinfo aside)
strays=$(nm "$ROOT/$BUILD/libfastfnet.a" "$ROOT/$BUILD/libfastfnet_train.a" 2>/dev/null | awk '$2 ~ /^[TDBRC]$/ {print $3}' | grep -vE '^(fastfnet_|__odr_asan\.fastfnet_)' | sort -u)
[ -z "$strays" ] && ok "the static archives define only fastfnet_ globals" || bad "unprefixed globals in the archives: $(echo $strays | head -c 300)"
# the run-time dispatch (src/engine/simd.c): the AVX-512 copy of the kernels really is AVX-512 code (zmm
# registers), the baseline copy is not (it must run on AVX2-only machines). The sanitizer build is at -O1 and
# vectorises nothing, so this is a property of the optimised build. (Clang ignored `#pragma GCC target`, so a
# clang build's "avx512" kernels were baseline code until simd.c said it in clang's terms too.)
case "$BUILD" in *san*) ;; *)
    zmm=$(objdump -d "$ROOT/$BUILD/obj/engine/simd.o" | awk '/^[0-9a-f]+ <.*>:$/ {fn = $2; if (fn ~ /avx512>:$/) na++; else if (fn ~ /base>:$/) nb++}
        /zmm/ {if (fn ~ /avx512>:$/) a[fn] = 1; else if (fn ~ /base>:$/) b[fn] = 1}
        END {print length(a) + 0, na + 0, length(b) + 0, nb + 0}')
    read -r za na zb nb <<<"$zmm"
    [ "$na" -ge 10 ] && [ "$za" -ge $((na - 1)) ] && [ "$zb" -eq 0 ] && [ "$nb" -eq "$na" ] &&
        ok "simd.o: $za of $na AVX-512 kernels use zmm registers, $zb of $nb baseline kernels do" ||
        bad "simd.o: AVX-512 kernels with zmm: $za of $na; baseline kernels with zmm: $zb of $nb"
    ;;
esac
finish
