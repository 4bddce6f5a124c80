#!/bin/sh
# The dashboard's browser test (suite "browser"): creates a network
# namespace with its own loopback, so the test farm can listen on the real
# BizTalk ports (135, 445, 1433, 1164, 50000-50200) on 127.0.1.x, drops a
# slice of one host's RPC range with nftables (filtered ports), and runs
# dashboard.test.js there: the daemon, the listeners and Chromium all live
# in the namespace; nothing reaches another network.
#
#   run.sh PORTWATCH OUTDIR
#
# Exits 77 (skipped) without root, ip/nft, node, Debian's chromium, or
# node_modules (run `npm ci` in tests/browser).
set -u
here=$(cd "$(dirname "$0")" && pwd)
pw=$1
out=${2:-.}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace)"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) not installed"
command -v nft >/dev/null 2>&1 || skip "nft (nftables) not installed"
command -v node >/dev/null 2>&1 || skip "node not installed (apt-get install nodejs)"
[ -x /usr/bin/chromium ] || skip "/usr/bin/chromium not installed (apt-get install chromium)"
[ -f "$here/node_modules/playwright-core/package.json" ] || skip "playwright-core missing: run 'npm ci' in tests/browser"
[ -x "$pw" ] || { echo "FAIL: portwatch binary '$pw' not found"; exit 1; }
mkdir -p "$out"

ns="pwdash$$"
ip netns add "$ns" || skip "cannot create a network namespace"
trap 'ip netns del "$ns" 2>/dev/null' EXIT INT TERM
ip -n "$ns" link set lo up || exit 1
ip netns exec "$ns" nft -f - <<'NFT' || exit 1
table inet pwdash {
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.1.2 tcp dport 50100-50119 drop
    }
}
NFT

# Chromium writes caches and crash reports under HOME and XDG folders:
# keep them in a throw-away directory.
scratch=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$scratch"' EXIT INT TERM
HOME="$scratch" XDG_CONFIG_HOME="$scratch/config" XDG_CACHE_HOME="$scratch/cache" \
    ip netns exec "$ns" node "$here/dashboard.test.js" "$pw" "$out"
