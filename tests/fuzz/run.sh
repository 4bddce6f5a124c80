#!/bin/sh
# Runs every libFuzzer target in BUILD for SECONDS each over its seed corpus
# (tests/fuzz/NAME without the fuzz_ prefix). Fails on any crash or leak.
# Usage: tests/fuzz/run.sh BUILD [SECONDS]
set -eu
build=$1
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
for exe in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=$(basename "$exe")
    seeds="$here/${name#fuzz_}"
    work=$(mktemp -d)
    cp "$seeds"/* "$work"/ 2>/dev/null || true
    dict=""
    [ -f "$here/${name#fuzz_}.dict" ] && dict="-dict=$here/${name#fuzz_}.dict"
    [ -f "$here/fuzz.dict" ] && [ "$name" = fuzz_ini ] && dict="-dict=$here/fuzz.dict"
    echo "== $name: ${secs}s"
    "$exe" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 $dict "$work" 2>&1 | tail -4
    rm -rf "$work"
done
