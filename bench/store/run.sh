#!/bin/sh
# History store benchmark (not a test): simulates a 4,100-target farm
# probed every 30 s through the store's own API (default 90 days; most
# targets stable, 2% flapping daily, one host down 6 h each week), then
# completes a one-year database from the simulated period's aggregates,
# times the web layer's queries on it, and prints the size beside the
# naive row-per-probe design measured in the same run. No peer is named
# by the issue; the naive design is the comparison.
# Needs cc, pkg-config, libuv and sqlite3 -dev packages.
# Usage: bench/store/run.sh [DAYS]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
days=${1:-90}
work=$(mktemp -d /tmp/pwstorebench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
cc -O2 -DNDEBUG -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root" \
    "$root"/config/*.c "$root"/store/*.c "$root"/bench/store/bench_store.c \
    $(pkg-config --cflags --libs libuv sqlite3) -lpthread -o "$work/bench_store"
"$work/bench_store" "$work" "$days"
