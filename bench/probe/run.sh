#!/bin/sh
# Probe engine benchmark (root; not a test). In a network namespace of its
# own it builds a farm of 20 hosts (127.0.1.1-20 on the namespace's lo) x
# {135, 445, 1164, 1433, 50000-50200} = 4,100 targets: the four fixed ports
# and 10 RPC ports listen on every host, the rest refuse, and hosts 18-20
# drop every SYN (nftables). It sweeps the farm once with portwatch (1 s
# timeout, caps wide open) and once with `nmap -sT` tuned the same way, and
# prints both side by side: wall time, CPU (user+sys), peak RSS and counts
# per state. Then it scales portwatch alone from 500 to 100,000 targets.
#
# portwatch: $PORTWATCH (a binary with `check`) if set, else a small driver
# (bench/probe/sweep.c) built here from the sources that runs the same
# engine sweep. Needs nmap, /usr/bin/time, ip, nft, cc, python3.
# Usage: sudo bench/probe/run.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespace)"; exit 1; }
for t in ip nft nmap cc python3 pkg-config; do
    command -v $t >/dev/null || { echo "run.sh: needs $t (apt-get install -y nmap ...)"; exit 1; }
done
[ -x /usr/bin/time ] || { echo "run.sh: needs /usr/bin/time (apt-get install -y time)"; exit 1; }

work=$(mktemp -d /tmp/pwbench.XXXXXX)
ns=pwbench-$$
lpid=
cleanup() {
    [ -n "$lpid" ] && kill "$lpid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -n "${PORTWATCH:-}" ]; then
    pwname="portwatch check"
else
    cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root" \
        "$root"/base/*.c "$root"/config/*.c "$root"/probes/*.c "$root"/daemon/options.c \
        "$root"/bench/probe/sweep.c \
        $(pkg-config --cflags --libs libuv jansson) -o "$work/pwsweep"
    pwname="portwatch engine (bench/probe/sweep.c)"
fi
# pwrun NAME INI: one portwatch sweep, measured.
pwrun() {
    if [ -n "${PORTWATCH:-}" ]; then
        measure "$1" "$PORTWATCH" check -c "$2" --format json --timeout 1s || true
    else
        measure "$1" "$work/pwsweep" -c "$2"
    fi
}

. "$root/bench/probe/farm.sh"
farm_up "$ns" "$work"

cat >"$work/farm.ini" <<EOF
[portwatch]
timeout = 1s
max_in_flight = 8192
max_per_host = 4096
[check farm]
hosts = $hosts
ports = $farm_ports
expect = reachable
EOF

# measure NAME CMD... : runs CMD in the namespace; leaves output and
# "wall user sys maxrss_kb" in $work/NAME.{out,time}.
measure() {
    name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" \
        ip netns exec "$ns" "$@" >"$work/$name.out"
}

# Interleaved repetitions; the table shows medians (CPU times are counted
# in 10 ms ticks, so one run is noisy).
reps=${REPS:-5}
for i in $(seq 1 "$reps"); do
    pwrun pw$i "$work/farm.ini"
    measure nmap$i nmap -sT -Pn -n --max-retries 0 --initial-rtt-timeout 1000ms \
        --min-rtt-timeout 1000ms --max-rtt-timeout 1000ms --min-parallelism 1024 \
        --min-hostgroup 20 -p 135,445,1164,1433,50000-50200 127.0.1.1-20 \
        -oX "$work/nmap$i.xml" 2>/dev/null
done

python3 - "$work" "$pwname" "$reps" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
import statistics
work, pwname, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def tm1(name):
    w, u, s, m = open(f"{work}/{name}.time").read().split()[-4:]
    return float(w), float(u) + float(s), int(m) / 1024
def tm(name):
    runs = [tm1(f"{name}{i}") for i in range(1, reps + 1)]
    return tuple(statistics.median(r[k] for r in runs) for k in range(3))
def pw_counts():
    d = json.load(open(f"{work}/pw1.out"))
    if isinstance(d, dict) and "targets" in d and isinstance(d["targets"], list):
        d = d["targets"]
    if isinstance(d, list):
        c = {}
        for t in d:
            c[t["state"]] = c.get(t["state"], 0) + 1
        return c
    return {k: d.get(k, 0) for k in ("open", "closed", "filtered", "unreachable", "dns_error", "error")}
def nmap_counts():
    c = {}
    for port in ET.parse(f"{work}/nmap1.xml").getroot().iter("port"):
        s = port.find("state").get("state")
        c[s] = c.get(s, 0) + 1
    for ex in ET.parse(f"{work}/nmap1.xml").getroot().iter("extraports"):
        c[ex.get("state")] = c.get(ex.get("state"), 0) + int(ex.get("count"))
    return c
pc, nc = pw_counts(), nmap_counts()
pw, nm = tm("pw"), tm("nmap")
print(f"4,100-target farm, 1 s timeout, median of {reps} {'portwatch':>8} {'nmap -sT':>12}")
print(f"  wall time (s)                     {pw[0]:12.2f} {nm[0]:12.2f}")
print(f"  CPU user+sys (s)                  {pw[1]:12.2f} {nm[1]:12.2f}")
print(f"  peak RSS (MB)                     {pw[2]:12.1f} {nm[2]:12.1f}")
for s in ("open", "closed", "filtered", "unreachable", "dns_error", "error"):
    if pc.get(s, 0) or nc.get(s, 0):
        print(f"  {s:34s}{pc.get(s, 0):12d} {nc.get(s, 0):12d}")
same = all(pc.get(s, 0) == nc.get(s, 0) for s in ("open", "closed", "filtered"))
print(f"  identical classification: {'yes' if same else 'NO'}   ({pwname})")
print(f"  targets: wall <= 1.1 s: {'met' if pw[0] <= 1.1 else 'MISSED'}; "
      f"CPU <= nmap/2: {'met' if pw[1] <= nm[1] / 2 else 'MISSED'}; "
      f"RSS <= 10 MB: {'met' if pw[2] <= 10 else 'MISSED'}")
EOF

# Scaling: refusing hosts only (no listeners on 127.0.2.0/24+), portwatch alone.
echo
echo "scaling (portwatch alone, every port refusing)"
printf "  %9s %7s %9s %9s %10s %12s\n" targets hosts wall_s cpu_s rss_MB cpu_us/tgt
for spec in 5:100 10:200 50:200 100:500 200:500; do
    nh=${spec%%:*}; np=${spec##*:}
    hl=""
    for i in $(seq 1 "$nh"); do hl="$hl${hl:+, }127.0.$((2 + (i - 1) / 250)).$(( (i - 1) % 250 + 1 ))"; done
    cat >"$work/scale.ini" <<EOF
[portwatch]
timeout = 1s
max_in_flight = 8192
max_per_host = 4096
[check scale]
hosts = $hl
ports = 1-$np
expect = reachable
EOF
    pwrun scale "$work/scale.ini"
    read -r w u s m <"$work/scale.time"
    python3 -c "
w,u,s,m,n=$w,$u,$s,$m,$((nh * np))
print(f'  {n:9d} {$nh:7d} {w:9.2f} {u+s:9.2f} {m/1024:10.1f} {(u+s)*1e6/n:12.1f}')"
done
