#!/bin/sh
# Runs every libFuzzer target in BUILD (BUILD/tests/fuzz/fuzz_*) for SECONDS
# each over its seed corpus (CORPORA/NAME without the fuzz_ prefix; CORPORA
# is this folder unless PW_FUZZ_CORPORA names another). Every target runs;
# the script then fails, naming them, if any found a crash, a leak or a
# timeout: libFuzzer's exit status is kept (no pipe hides it), its whole
# log is printed for a failing target (its last lines for a passing one),
# and the input that failed is kept in BUILD/fuzz-artifacts/.
# Usage: tests/fuzz/run.sh BUILD [SECONDS]
set -eu
build=$1
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
corpora=${PW_FUZZ_CORPORA:-$here}
failed=""
ran=0
for exe in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=$(basename "$exe")
    work=$(mktemp -d)
    cp "$corpora/${name#fuzz_}"/* "$work"/ 2>/dev/null || true
    dict=""
    [ -f "$here/${name#fuzz_}.dict" ] && dict="-dict=$here/${name#fuzz_}.dict"
    [ -f "$here/fuzz.dict" ] && [ "$name" = fuzz_ini ] && dict="-dict=$here/fuzz.dict"
    echo "== $name: ${secs}s"
    rc=0
    mkdir -p "$build/fuzz-artifacts"
    "$exe" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
        -artifact_prefix="$build/fuzz-artifacts/$name-" $dict "$work" >"$work/log" 2>&1 || rc=$?
    ran=$((ran + 1))
    if [ "$rc" -eq 0 ]; then
        tail -4 "$work/log"
    else
        cat "$work/log"
        echo "== $name FAILED (exit $rc); the input is in $build/fuzz-artifacts/"
        failed="$failed $name"
    fi
    rm -rf "$work"
done
if [ "$ran" -eq 0 ]; then
    echo "fuzz: no target in $build/tests/fuzz (configure with -Dfuzzers=true)" >&2
    exit 1
fi
if [ -n "$failed" ]; then
    echo "fuzz: $ran ran, failed:$failed" >&2
    exit 1
fi
echo "fuzz: $ran targets, no crash, leak or timeout"
