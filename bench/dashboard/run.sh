#!/bin/sh
# bench/dashboard/run.sh: the dashboard at 100,000 targets on 500 hosts in
# headless Chromium (issue 21). Root; not a test. In a network namespace of
# its own: 500 hosts 127.0.2.1-250 and 127.0.3.1-250 (all of 127/8 is
# loopback) x {1433, 135, 445, 50000-50196} = 100,000 targets; 1433
# listens on every host (measure.js accepts and closes), the rest refuse,
# and 10 hosts drop every SYN (nftables): a realistic mix of open, refused
# and filtered. `portwatch run` probes it every 30 s; measure.js then opens
# the dashboard and prints: first useful paint (the hosts x roles grid
# drawn after navigation), the longest main-thread task while loading, and
# the longest while live-updating for DURATION seconds (polls redrawing,
# the grid scrolled through, a host page opened).
#
#   sudo bench/dashboard/run.sh      PORTWATCH=build-rel/daemon/portwatch
#                                    BASELINE=other/portwatch (optional: the
#                                    same measurement of another build, side
#                                    by side)  DURATION=60
#
# Needs ip, nft, node, Debian's chromium and playwright-core (`npm ci` in
# tests/browser).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
PORTWATCH=${PORTWATCH:-$root/build-rel/daemon/portwatch}
DURATION=${DURATION:-60}
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespace)"; exit 1; }
for t in ip nft node; do
    command -v $t >/dev/null || { echo "run.sh: needs $t"; exit 1; }
done
[ -x /usr/bin/chromium ] || { echo "run.sh: needs /usr/bin/chromium (apt-get install chromium)"; exit 1; }
[ -f "$root/tests/browser/node_modules/playwright-core/package.json" ] ||
    { echo "run.sh: needs playwright-core: run 'npm ci' in tests/browser"; exit 1; }
[ -x "$PORTWATCH" ] || { echo "run.sh: no portwatch at $PORTWATCH (set PORTWATCH=)"; exit 1; }

work=$(mktemp -d /tmp/pwbench-dash.XXXXXX)
ns=pwdash-bench-$$
cleanup() {
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
# 10 hosts that drop every SYN
ip netns exec "$ns" nft -f - <<'NFT'
table inet pwdash {
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.3.241-127.0.3.250 tcp flags syn drop
    }
}
NFT

# one configuration line holds at most 4096 bytes: a check per /24, as
# two BizTalk groups would have
hosts_of() { # hosts_of NET: 127.0.NET.1-250
    i=1 list=
    while [ $i -le 250 ]; do
        list="$list${list:+, }127.0.$1.$i"
        i=$((i + 1))
    done
    echo "$list"
}

conf() { # conf DB LISTEN
    printf '[portwatch]\nlisten = %s\ndatabase = %s\ninterval = 30s\ntimeout = 1s\nfail_after = 2\n' "$2" "$1"
    for net in 2 3; do
        hosts=$(hosts_of $net)
        g=$((net - 1))
        cat <<INI
[check sql-$g]
hosts = $hosts
ports = 1433
reason = SQL Server of group $g
[check epm-$g]
hosts = $hosts
ports = 135
expect = reachable
[check smb-$g]
hosts = $hosts
ports = 445
expect = reachable
[check rpc-$g]
hosts = $hosts
ports = 50000-50196
expect = reachable
reason = the dynamic RPC range of group $g
INI
    done
}

run_one() { # run_one NAME BINARY
    conf "$work/$1.db" 127.0.0.1:8470 > "$work/$1.ini"
    HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache" \
        ip netns exec "$ns" node "$root/bench/dashboard/measure.js" "$1" "$2" "$work/$1.ini" "$DURATION" "$work"
}

echo "dashboard, 100,000 targets on 500 hosts, interval 30 s, Chromium $(chromium --version 2>/dev/null | awk '{print $2}')"
run_one portwatch "$PORTWATCH"
[ -n "${BASELINE:-}" ] && run_one baseline "$BASELINE"
echo "targets: first useful paint <= 2000 ms; no long task over 200 ms while live-updating"
