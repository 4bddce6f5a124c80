#!/bin/sh
# Side by side (issue 21; root, not a test): the 4,100-target farm of
# bench/probe (bench/probe/farm.sh: 20 hosts x {135, 445, 1164, 1433,
# 50000-50200}; 14 ports a host listen, 3 hosts drop every SYN) watched for DUR
# seconds each at INTERVAL seconds by `portwatch run`, then by Prometheus
# scraping prometheus-blackbox-exporter (tcp_connect, 1 s timeout) for
# every target, in one run. Prints CPU seconds per interval and peak RSS of
# each side (Prometheus and the exporter summed), after a warm-up of one
# interval plus WARM seconds.
#
#   PORTWATCH=build-rel/daemon/portwatch bench/daemon/blackbox.sh [INTERVAL=10] [DUR=600]
# Needs ip, nft, python3, prometheus, prometheus-blackbox-exporter
# (packaging/packages.txt [bench]).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
pw=${PORTWATCH:-$root/build-rel/daemon/portwatch}
INTERVAL=${INTERVAL:-10} DUR=${DUR:-600} WARM=${WARM:-20}
[ "$(id -u)" = 0 ] || { echo "blackbox.sh: needs root (network namespace)"; exit 1; }
for t in ip nft python3 prometheus prometheus-blackbox-exporter; do
    command -v $t >/dev/null || { echo "blackbox.sh: needs $t (apt-get install -y $t)"; exit 1; }
done
[ -x "$pw" ] || { echo "blackbox.sh: no portwatch at $pw (set PORTWATCH=)"; exit 1; }

work=$(mktemp -d /tmp/pwblackbox.XXXXXX)
ns=pwblackbox-$$
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$root/bench/probe/farm.sh"
farm_up "$ns" "$work" --accept
pids="$pids $lpid"

cat >"$work/farm.ini" <<INI
[portwatch]
listen = 127.0.0.1:18491
database = $work/pw.db
interval = ${INTERVAL}s
timeout = 1s
[check farm]
hosts = $hosts
ports = $farm_ports
expect = reachable
INI
cat >"$work/blackbox.yml" <<'YML'
modules:
  tcp_connect:
    prober: tcp
    timeout: 1s
YML
python3 - "$work" "$INTERVAL" <<'PY'
import sys
work, interval = sys.argv[1], int(sys.argv[2])
ports = [135, 445, 1164, 1433] + list(range(50000, 50201))
targets = [f"127.0.1.{h}:{p}" for h in range(1, 21) for p in ports]
with open(f"{work}/prometheus.yml", "w") as f:
    f.write(f"""global:
  scrape_interval: {interval}s
  scrape_timeout: {min(interval, 5)}s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [tcp_connect]
    static_configs:
      - targets: [{", ".join(targets)}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:19115
""")
PY

# measure NAME PID...: CPU (utime+stime, clock ticks) of the PIDs over DUR
# seconds after the warm-up, and the sum of their peak RSS, into NAME.
measure() {
    name=$1; shift
    sleep $((INTERVAL + WARM))
    ip netns exec "$ns" python3 - "$DUR" "$@" >"$work/$name" <<'PY'
import os, sys, time
dur, pids = float(sys.argv[1]), [int(p) for p in sys.argv[2:]]
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    s = 0
    for p in pids:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        s += int(f[11]) + int(f[12])
    return s / tick
def hwm():
    s = 0
    for p in pids:
        for ln in open(f"/proc/{p}/status"):
            if ln.startswith("VmHWM"):
                s += int(ln.split()[1])
    return s
c0, t0 = cpu(), time.time()
time.sleep(dur)
print(cpu() - c0, time.time() - t0, hwm())
PY
}

ip netns exec "$ns" sh -c "ulimit -n $(ulimit -Hn); exec \"$pw\" run -c \"$work/farm.ini\"" \
    >"$work/pw.log" 2>&1 &
pwpid=$!
pids="$pids $pwpid"
measure pw "$pwpid"
kill "$pwpid"; wait "$pwpid" 2>/dev/null || true

ip netns exec "$ns" prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
    --web.listen-address=127.0.0.1:19115 >"$work/bb.log" 2>&1 &
bbpid=$!
pids="$pids $bbpid"
ip netns exec "$ns" prometheus --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/tsdb" --web.listen-address=127.0.0.1:19090 >"$work/prom.log" 2>&1 &
prompid=$!
pids="$pids $prompid"
measure pair "$prompid" "$bbpid"
up=$(ip netns exec "$ns" python3 -c '
import json, urllib.request
q = "http://127.0.0.1:19090/api/v1/query?query=count(probe_success==1)"
r = json.load(urllib.request.urlopen(q))["data"]["result"]
print(r[0]["value"][1] if r else 0)' 2>/dev/null || echo "?")

python3 - "$work/pw" "$work/pair" "$INTERVAL" "$up" <<'PY'
import sys
pw = [float(x) for x in open(sys.argv[1]).read().split()]
pair = [float(x) for x in open(sys.argv[2]).read().split()]
iv, up = int(sys.argv[3]), sys.argv[4]
per = lambda m: m[0] / (m[1] / iv)
a, b = per(pw), per(pair)
print(f"4,100 targets, {iv} s interval, {pw[1]:.0f} s each {'portwatch run':>16} {'Prometheus+blackbox':>20}")
print(f"  CPU per interval (s)              {a:16.3f} {b:20.3f}   portwatch at 1/{b / a if a else 0:.0f}")
print(f"  peak RSS (MB)                     {pw[2] / 1024:16.1f} {pair[2] / 1024:20.1f}")
print(f"  targets succeeding, Prometheus: {up} (238 listen; the rest refuse or drop)")
PY
