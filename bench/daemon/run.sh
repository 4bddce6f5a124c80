#!/bin/sh
# Daemon benchmark (issue 21; root, not a test): `portwatch run` on a farm
# of HOSTS x PORTS targets in a network namespace of its own, beside
# `portwatch check` of the same targets (the median of CHECKS=3), in the
# same run. The farm: hosts
# 127.0.4.1... on the namespace's lo, ports 50001..50000+PORTS; the first 4
# ports of every host listen (a Python peer holds them), the last DROP hosts
# drop every SYN (nftables), the rest refuse. The daemon runs DUR seconds at
# INTERVAL seconds (bench/daemon/sample.py measures it; start-up, until
# the first sweep ends, is left out). Prints CPU per interval beside the
# check's, peak RSS, overruns and the store's queue (every QEVERY=60 s;
# QEVERY=0: RSS every 30 s, no /metrics scrapes). RELOAD=1: then one host
# more and a SIGHUP: the reload's log line and the targets left unknown.
#
#   PORTWATCH=build-rel/daemon/portwatch bench/daemon/run.sh \
#       [HOSTS=500] [PORTS=200] [DROP=10] [INTERVAL=30] [DUR=600] [TIMEOUT=1s] [MAX_IN_FLIGHT=] [CHECKS=3]
# (the configuration's defaults otherwise: max_in_flight 256, max_per_host 32).
# Needs ip, nft, python3, /usr/bin/time.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
pw=${PORTWATCH:-$root/build-rel/daemon/portwatch}
HOSTS=${HOSTS:-500} PORTS=${PORTS:-200} DROP=${DROP:-10}
INTERVAL=${INTERVAL:-30} DUR=${DUR:-600} API=${API:-18490}
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespace)"; exit 1; }
for t in ip nft python3; do
    command -v $t >/dev/null || { echo "run.sh: needs $t"; exit 1; }
done
[ -x "$pw" ] || { echo "run.sh: no portwatch at $pw (set PORTWATCH=)"; exit 1; }

work=$(mktemp -d /tmp/pwdaemon.XXXXXX)
ns=pwdaemon-$$
lpid= dpid=
cleanup() {
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
    [ -n "$lpid" ] && kill "$lpid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$root/bench/farm.sh"
ip netns add "$ns"
ip -n "$ns" link set lo up
first_drop=$((HOSTS - DROP + 1))
if [ "$DROP" -gt 0 ]; then
    ip netns exec "$ns" nft -f - <<NFT
table inet pwdaemon {
    chain in {
        type filter hook input priority 0; policy accept;
        ip daddr $(addr $first_drop)-$(addr $HOSTS) tcp flags & (syn | ack) == syn drop
    }
}
NFT
fi
checks=$(farm_checks "$HOSTS" "$PORTS") specs=
for i in $(seq 1 "$HOSTS"); do
    for p in 50001 50002 50003 50004; do specs="$specs $(addr "$i"):$p"; done
done
mkfifo "$work/hold"
ip netns exec "$ns" python3 -c '
import resource; h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' \
    "$root/bench/probe/listen.py" --accept $specs <"$work/hold" >"$work/ready" &
lpid=$!
exec 3>"$work/hold"
for _ in $(seq 300); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done

cat >"$work/farm.ini" <<INI
[portwatch]
listen = 127.0.0.1:$API
database = $work/pw.db
interval = ${INTERVAL}s
timeout = ${TIMEOUT:-1s}
${LOG_LEVEL:+log_level = $LOG_LEVEL}
${MAX_IN_FLIGHT:+max_in_flight = $MAX_IN_FLIGHT}
$checks
INI
ulimit -n "$(ulimit -Hn)"

# Checks of the same targets: the median of CHECKS (3) by CPU, so one
# check slowed by something else on the machine does not set the ratio.
for i in $(seq "${CHECKS:-3}"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/check.$i" \
        ip netns exec "$ns" "$pw" check -c "$work/farm.ini" --format json >/dev/null 2>&1 || true
    tail -1 "$work/check.$i"
done | awk '{ print $2 + $3, $0 }' | sort -n | cut -d' ' -f2- >"$work/checks"

ip netns exec "$ns" "$pw" run -c "$work/farm.ini" >"$work/run.log" 2>&1 &
dpid=$!
ip netns exec "$ns" python3 "$root/bench/daemon/sample.py" "$dpid" "$API" "$DUR" \
    "${QEVERY:-60}" >"$work/sample" || { tail -5 "$work/run.log"; exit 1; }
if [ -n "${RELOAD:-}" ]; then
    # A reload with one host added (of 200 ports, refusing): its log line
    # says how long the loop was held; then no kept target may be unknown.
    printf '[check added]\nhosts = 127.0.3.1\nports = 50001-%d\nexpect = reachable\n' \
        $((50000 + PORTS)) >>"$work/farm.ini"
    kill -HUP "$dpid"
    sleep 10
    grep -E 'reload' "$work/run.log" | tail -3
    ip netns exec "$ns" python3 -c '
import json, sys, urllib.request, urllib.error
try:
    d = json.load(urllib.request.urlopen(sys.argv[1]))
except urllib.error.HTTPError as e:
    d = json.load(e)
print("after the reload:", d["checked"], "targets,", d["unknown"], "unknown (the added host has",
      sys.argv[2], "ports)")' \
        "http://127.0.0.1:$API/api/v1/health" "$PORTS"
fi
kill "$dpid"; wait "$dpid" 2>/dev/null || true; dpid=

python3 - "$work/sample" "$work/checks" "$HOSTS" "$PORTS" "$DROP" "$INTERVAL" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
checks = [[float(x) for x in line.split()] for line in open(sys.argv[2]) if line.strip()]
cw, cu, cs, cm = checks[(len(checks) - 1) // 2]  # the median by CPU (sorted)
hosts, ports, drop, interval = (int(x) for x in sys.argv[3:7])
run = d["cpu"] / (d["wall"] / interval)
chk = cu + cs
print(f"{hosts * ports:,} targets ({hosts} hosts x {ports} ports; 4 listen on each, "
      f"{drop} hosts drop SYNs), {interval} s interval, {d['wall']:.0f} s after the first sweep")
print(f"  {'':28s}{'run':>10s} {'check':>10s}")
print(f"  {'CPU per interval (s)':28s}{run:10.2f} {chk:10.2f}   "
      f"run/check {run / chk if chk else 0:.2f}x (target <= 1.2x)")
print(f"  {'':28s}{'':10s} (median of {len(checks)} checks: "
      + ", ".join(f"{c[1] + c[2]:.2f}" for c in checks) + ")")
print(f"  {'peak RSS (MB)':28s}{d['hwm_kb'] / 1024:10.1f} {cm / 1024:10.1f}   (target <= 150 MB; "
      f"{d['hwm_first_kb'] / 1024:.1f} by the end of the first sweep)")
print(f"  RSS (MB) every {d['wall'] / max(1, len(d['rss_kb'])):.0f} s: "
      + " ".join(f"{k / 1024:.0f}" for k in d["rss_kb"]))
print(f"  {'sweep wall (s)':28s}{d['last_ms'] / 1000:10.2f} {cw:10.2f}")
print(f"  sweeps {d['sweeps']}, overruns {d['overruns']}, store queue "
      + (" ".join(str(q) for q in d["queue"]) if d["queue"][:1] != [None] else "not sampled"))
PY
