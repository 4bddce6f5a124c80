#!/bin/sh
# History store benchmark (issue 21; not a test): the one-year database of
# the daemon benchmark's farm, HOSTS x PORTS targets every 30 s (default
# 500 x 200 = 100,000; the same configuration as bench/daemon/run.sh).
# bench_store simulates DAYS (default 1) through the store's own API and
# completes the year from them (bench_store.c says what and how), printing
# the size beside the naive row-per-probe design. Then, as root with
# PORTWATCH built, `portwatch run` on that database in a network namespace
# of its own (the farm's 127.0.x.y addresses refuse there, the DROP hosts
# drop; traffic stays in it): startup to serving, and every history, outage, incident and
# availability query, the down list and the gzip status document through
# the HTTP API (bench/store/serve.py; REPS runs each, median and max).
# Needs cc, pkg-config, libuv and sqlite3 -dev packages; ip, nft, python3.
#
#   PORTWATCH=build-rel/daemon/portwatch bench/store/run.sh \
#       [DAYS=1] [HOSTS=500] [PORTS=200] [DROP=10] [REPS=7] [KEEP=dir]
# KEEP=dir: build the database there and keep it (and reuse it when it is
# there already: only the daemon's part runs).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
pw=${PORTWATCH:-$root/build-rel/daemon/portwatch}
DAYS=${DAYS:-${1:-1}} HOSTS=${HOSTS:-500} PORTS=${PORTS:-200} DROP=${DROP:-10}
REPS=${REPS:-7} API=${API:-18491}
work=$(mktemp -d /tmp/pwstorebench.XXXXXX)
dir=${KEEP:-$work}
mkdir -p "$dir"
ns=pwstore-$$
cleanup() {
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The farm of bench/daemon/run.sh.
. "$root/bench/farm.sh"
checks=$(farm_checks "$HOSTS" "$PORTS")
cat >"$work/farm.ini" <<INI
[portwatch]
listen = 127.0.0.1:$API
database = $dir/bench.db
interval = 30s
timeout = 1s
$checks
INI

if [ -z "${KEEP:-}" ] || [ ! -s "$dir/bench.db" ]; then
    cc -O2 -DNDEBUG -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root" \
        "$root"/base/*.c "$root"/config/*.c "$root"/store/*.c "$root"/bench/store/bench_store.c \
        $(pkg-config --cflags --libs libuv sqlite3) -lpthread -lm -o "$work/bench_store"
    "$work/bench_store" "$dir" "$work/farm.ini" "$DAYS" "$DROP"
fi

if [ "$(id -u)" != 0 ] || [ ! -x "$pw" ]; then
    echo "run.sh: the daemon's part needs root and PORTWATCH (not run)"
    exit 0
fi
ip netns add "$ns"
ip -n "$ns" link set lo up
# The simulated farm's dropping hosts drop here too (the down list).
if [ "$DROP" -gt 0 ] && command -v nft >/dev/null; then
    ip netns exec "$ns" nft -f - <<NFT
table inet pwstore {
    chain in {
        type filter hook input priority 0; policy accept;
        ip daddr $(addr $((HOSTS - DROP + 1)))-$(addr "$HOSTS") tcp flags & (syn | ack) == syn drop
    }
}
NFT
fi
ulimit -n "$(ulimit -Hn)"
# The copy serve.py serves: a run appends to it; the built one stays as it is.
cp "$dir/bench.db" "$work/served.db"
# Written out first: start-up read while the kernel wrote back the 2 GB
# copy took 0.5 s longer (an operator's restart follows no such copy).
sync
sed -i "s|^database = .*|database = $work/served.db|" "$work/farm.ini"
ip netns exec "$ns" python3 "$root/bench/store/serve.py" "$pw" "$work/farm.ini" "$API" \
    "$(addr 1)" farm100 "$REPS"
