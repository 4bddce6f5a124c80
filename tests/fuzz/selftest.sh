#!/bin/sh
# Proves that tests/fuzz/run.sh fails on a fuzz target that crashes or
# leaks, and passes on one that does not: it plants an input that crashes
# (then one that leaks) in a corpus for BUILD's selftest_crash target and
# checks run.sh's exit status and report. Usage: tests/fuzz/selftest.sh BUILD
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
exe=$build/tests/fuzz/selftest_crash
[ -x "$exe" ] || { echo "selftest: $exe is not built (configure with -Dfuzzers=true)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/build/tests/fuzz" "$tmp/corpora/planted"
ln -s "$exe" "$tmp/build/tests/fuzz/fuzz_planted"
failures=0

# expect SEED PLANTED WANT_RC WORD: run run.sh on one planted seed
expect() {
    printf '%s' "$1" >"$tmp/corpora/planted/seed"
    rc=0
    PW_FUZZ_PLANTED=$2 PW_FUZZ_CORPORA="$tmp/corpora" \
        "$here/run.sh" "$tmp/build" 2 >"$tmp/out" 2>&1 || rc=$?
    if [ "$rc" -ne "$3" ] || ! grep -q "$4" "$tmp/out"; then
        echo "selftest FAIL: seed '$1' (planted=$2) gave exit $rc, wanted $3 and '$4':"
        cat "$tmp/out"
        failures=$((failures + 1))
    else
        echo "selftest ok: seed '$1' (planted=$2): exit $rc, '$4'"
    fi
}
expect crash 1 1 "heap-buffer-overflow"
expect crash 1 1 "failed: fuzz_planted"
expect leak 1 1 "LeakSanitizer: detected memory leaks"
expect crash 0 0 "no crash, leak or timeout"
[ "$failures" -eq 0 ] || exit 1
echo "fuzz selftest: 4 passed, 0 failed"
