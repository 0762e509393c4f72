#!/usr/bin/env bash
# test_python.sh: the Python package: `pip install --target` of ./python (offline, Debian's pip), then
# tests/test_python.py with only that folder on PYTHONPATH, from a scratch directory, against the build's CLI.
source "$(dirname "$0")/lib.sh"
SITE="$SCRATCH/site"
if /usr/bin/python3 -m pip install --no-index --disable-pip-version-check -q --target "$SITE" "$ROOT/python" >pip.log 2>&1 &&
    [ -f "$SITE/fastfnet/libfastfnet.so.0" ]; then
    ok "pip install --no-index --target DIR ./python: $(cd "$SITE" && ls fastfnet/*.so.* | tr '\n' ' ')"
else
    bad "pip install --target: $(grep -v WARNING pip.log | tail -5)"
fi
mkdir -p run && cd run || exit 1
PYTHONPATH="$SITE" /usr/bin/python3 "$ROOT/tests/test_python.py" "$FF" "$ROOT" >py.log 2>&1
rc=$?
grep -v '^[0-9]* passed, [0-9]* failed$' py.log
pass=$((pass + $(grep -c '^PASS' py.log)))
fail=$((fail + $(grep -c '^FAIL' py.log)))
[ "$rc" -ne 0 ] && ! grep -q '^FAIL' py.log && bad "test_python.py exited with status $rc: $(tail -3 py.log)"
finish
