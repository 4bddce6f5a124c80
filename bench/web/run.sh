#!/bin/sh
# bench/web/run.sh: HTTP throughput and latency of portwatch's web layer
# while a 4,100-target farm is being probed, side by side with nginx
# serving static files of the same sizes, in the same run; and the probe
# sweep's timing with and without that load.
#
# The farm: 20 hosts 127.0.1.1-20 (all of 127/8 is loopback on Linux) x
# {1433, 135, 445, 1164, 50000-50200} = 4,100 targets; nginx (started here
# with its own prefix in a temp dir) also listens on 127.0.1.x:1433 so the
# SQL ports are open and the rest refuse. Traffic stays on loopback.
#
# Until `portwatch run` exists the farm runs in bench/web/webfarm (engine +
# store + web in one process, wired as the daemon does).
#
#   bench/web/run.sh            WEBFARM=path/to/webfarm DUR=10 INTERVAL=5s
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WEBFARM=${WEBFARM:-$ROOT/build/bench/web/webfarm}
DUR=${DUR:-10}
INTERVAL=${INTERVAL:-5s}
PORT=${PORT:-18470}
NGPORT=${NGPORT:-18471}

for t in wrk nginx curl; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t (apt-get install -y wrk nginx curl)"; exit 77; }
done
[ -x "$WEBFARM" ] || { echo "no webfarm binary at $WEBFARM (set WEBFARM=)"; exit 2; }

TMP=$(mktemp -d /tmp/pw-bench-web.XXXXXX)
FARM_PID= NGINX_STARTED=
cleanup() {
    [ -n "$FARM_PID" ] && kill "$FARM_PID" 2>/dev/null && wait "$FARM_PID" 2>/dev/null || true
    [ -n "$NGINX_STARTED" ] && nginx -p "$TMP/ng" -c "$TMP/ng/nginx.conf" -s stop 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

hosts=
listens=
i=1
while [ $i -le 20 ]; do
    hosts="$hosts${hosts:+, }127.0.1.$i"
    listens="$listens    listen 127.0.1.$i:1433;
"
    i=$((i + 1))
done

cat > "$TMP/farm.ini" <<EOF
[portwatch]
interval = $INTERVAL
timeout = 1s
[check sql]
hosts = $hosts
ports = 1433
expect = listening
reason = SQL Server
[check rpc-smb-iis]
hosts = $hosts
ports = 135, 445, 1164, 50000-50200
expect = reachable
reason = RPC, SMB and IIS paths through the firewall
EOF

mkdir -p "$TMP/ng/logs" "$TMP/ng/html"
cat > "$TMP/ng/nginx.conf" <<EOF
daemon on;
worker_processes 2;
pid $TMP/ng/nginx.pid;
error_log $TMP/ng/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    server {
        listen 127.0.0.1:$NGPORT;
$listens        root $TMP/ng/html;
        location / { add_header Cache-Control no-store; }
    }
}
EOF

now_ms() { date +%s%3N; }

# wrk -> "req_per_s p99_ms non2xx"
wrk_run() {
    if [ -n "${2:-}" ]; then
        wrk -t2 -c64 -d"${DUR}s" --latency -H "$2" "$1" > "$TMP/wrk.out" 2>&1 || true
    else
        wrk -t2 -c64 -d"${DUR}s" --latency "$1" > "$TMP/wrk.out" 2>&1 || true
    fi
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec:/ { rps = $2 }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx/ { non2xx = $NF }
        END { printf "%.0f %.2f %d\n", rps, p99, non2xx + 0 }' "$TMP/wrk.out"
}

# sweeps between two times -> "n mean_ms max_ms overruns_delta"
sweeps() {
    awk -v a="$1" -v b="$2" '
        $1 == "sweep" && $2 >= a && $2 < b { n++; s += $4; if ($4 > m) m = $4;
                                             if (first == "") first = $5; last = $5 }
        END { if (n) printf "%d %.0f %d %d\n", n, s / n, m, last - first;
              else print "0 0 0 0" }' "$TMP/farm.out"
}

nginx -p "$TMP/ng" -c "$TMP/ng/nginx.conf"
NGINX_STARTED=1

"$WEBFARM" "$TMP/farm.ini" "$TMP/farm.db" "127.0.0.1:$PORT" 3600 > "$TMP/farm.out" 2> "$TMP/farm.err" &
FARM_PID=$!

# wait for the first complete sweep
i=0
until grep -q '^sweep' "$TMP/farm.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 300 ] && { echo "the farm never completed a sweep"; cat "$TMP/farm.err"; exit 1; }
    sleep 0.1
done
targets=$(curl -s "http://127.0.0.1:$PORT/api/v1/status" | grep -o '"targets":[0-9]*' | head -1 | cut -d: -f2)
echo "farm: $targets targets, interval $INTERVAL; wrk -t2 -c64 -d${DUR}s; $(nproc) CPUs"

# responses of the same sizes for nginx
curl -s "http://127.0.0.1:$PORT/api/v1/health" > "$TMP/ng/html/health.json"
curl -s "http://127.0.0.1:$PORT/api/v1/status" > "$TMP/ng/html/status.json"
curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/api/v1/status" > "$TMP/ng/html/status.gz"
chmod -R a+rX "$TMP"   # nginx workers run as another user
hsize=$(wc -c < "$TMP/ng/html/health.json")
ssize=$(wc -c < "$TMP/ng/html/status.json")
zsize=$(wc -c < "$TMP/ng/html/status.gz")

t0=$(now_ms)
sleep $((2 * DUR))
t1=$(now_ms)
h=$(wrk_run "http://127.0.0.1:$PORT/api/v1/health")
s=$(wrk_run "http://127.0.0.1:$PORT/api/v1/status")
z=$(wrk_run "http://127.0.0.1:$PORT/api/v1/status" "Accept-Encoding: gzip")
t2=$(now_ms)
nh=$(wrk_run "http://127.0.0.1:$NGPORT/health.json")
ns=$(wrk_run "http://127.0.0.1:$NGPORT/status.json")
nz=$(wrk_run "http://127.0.0.1:$NGPORT/status.gz")
sleep 1

idle=$(sweeps "$t0" "$t1")
loaded=$(sweeps "$t1" "$t2")

echo
printf '%-16s %9s | %12s %9s %7s | %12s %9s %7s | %s\n' endpoint bytes "portwatch/s" "p99 ms" non2xx "nginx/s" "p99 ms" non2xx "portwatch/nginx"
for row in "/api/v1/health $hsize $h $nh" "/api/v1/status $ssize $s $ns" "status(gzip) $zsize $z $nz"; do
    set -- $row
    printf '%-16s %9s | %12s %9s %7s | %12s %9s %7s | %6.1f %%\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" \
        "$(awk -v a="$3" -v b="$6" 'BEGIN { print b ? 100 * a / b : 0 }')"
done
echo
set -- $idle
printf 'sweeps without load: %s, mean %s ms, max %s ms, overruns +%s\n' "$1" "$2" "$3" "$4"
set -- $loaded
printf 'sweeps under load:   %s, mean %s ms, max %s ms, overruns +%s\n' "$1" "$2" "$3" "$4"
echo "targets: health >= 50 % of nginx req/s; status p99 <= 25 ms; sweep timing unchanged"
