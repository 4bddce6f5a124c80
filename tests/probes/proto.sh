#!/bin/sh
# Starts real servers inside a network namespace of its own and runs a
# protocol-proof test binary there: Samba (samba-dcerpcd as the RPC
# endpoint mapper on 135 with dynamic ports 50000-50200, smbd on 445),
# FreeTDS's tdspool (answers a TDS PRELOGIN on 1433 with no database
# behind it), python3's http.server on 1164, and nginx on 8081 when
# installed (an HTTP server for the "something else answered" case).
# Everything lives under the build folder and is killed at the end.
# Exits 77 (skip) without root, `ip netns` or a server binary.
# Usage: proto.sh TEST-BINARY [ARGS...]
set -u
bin=$1
shift
if [ "$(id -u)" != 0 ]; then echo "skip: needs root"; exit 77; fi
find_bin() {
    for d in /usr/libexec/samba /usr/lib/samba /usr/sbin /usr/bin /sbin /bin; do
        [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    command -v "$1" 2>/dev/null
}
dcerpcd=$(find_bin samba-dcerpcd)
smbd=$(find_bin smbd)
tdspool=$(find_bin tdspool)
py=$(command -v python3)
nginx=$(find_bin nginx || true)
rpcclient=$(find_bin rpcclient || true)
for need in ip "$dcerpcd" "$smbd" "$tdspool" "$py"; do
    if [ -z "$need" ] || ! command -v "$need" >/dev/null 2>&1; then
        echo "skip: needs ip, samba-dcerpcd and smbd (samba), tdspool (freetds-bin), python3"
        exit 77
    fi
done

ns=pwproto-$$
work=${PW_BUILD_ROOT:-/tmp}/tests/probes/proto-$$
ip netns add "$ns" 2>/dev/null || { echo "skip: cannot create a network namespace"; exit 77; }
cleanup() {
    # Only what runs inside our namespace: every one of them we started.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    sleep 0.3
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
    [ -n "${PW_PROTO_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "/etc/netns/$ns" && echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
ip -n "$ns" link set lo up || exit 1
mkdir -p "$work"/s/lock "$work"/s/state "$work"/s/cache "$work"/s/pid "$work"/s/private \
         "$work"/s/log "$work"/s/ncalrpc "$work"/s/share "$work"/www "$work"/nginx

cat > "$work/s/smb.conf" <<CONF
[global]
	workgroup = PWTEST
	netbios name = PWTEST
	server role = standalone server
	interfaces = 127.0.0.1
	bind interfaces only = yes
	disable netbios = yes
	smb ports = 445
	rpc start on demand helpers = no
	rpc server dynamic port range = 50000-50200
	lock directory = $work/s/lock
	state directory = $work/s/state
	cache directory = $work/s/cache
	pid directory = $work/s/pid
	private dir = $work/s/private
	ncalrpc dir = $work/s/ncalrpc
	log file = $work/s/log/%m.log
	passdb backend = tdbsam:$work/s/private/passdb.tdb
	load printers = no
	printcap name = /dev/null
	map to guest = bad user
[share]
	path = $work/s/share
	guest ok = yes
CONF
cat > "$work/pool.conf" <<CONF
[global]
	min pool conn = 0
	max pool conn = 2
[pwpool]
	user = portwatch
	password = unused
	server = nothing
	port = 1433
CONF
# The pool's backend: a closed port; tdspool answers PRELOGIN itself.
cat > "$work/freetds.conf" <<CONF
[nothing]
	host = 127.0.0.1
	port = 1
	tds version = 7.4
CONF

run() { ip netns exec "$ns" "$@"; }
run "$dcerpcd" --libexec-rpcds -D -s "$work/s/smb.conf" -l "$work/s/log" || exit 1
run "$smbd" -D -s "$work/s/smb.conf" -l "$work/s/log" || exit 1
FREETDSCONF="$work/freetds.conf" run "$tdspool" -c "$work/pool.conf" -l "$work/pool.log" pwpool \
    >"$work/tdspool.out" 2>&1 &
run "$py" -m http.server 1164 --bind 127.0.0.1 --directory "$work/www" >"$work/http.log" 2>&1 &
ports="135 445 1164 1433"
nginx_port=""
if [ -n "$nginx" ]; then
    cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server { listen 127.0.0.1:8081; root $work/www; }
}
CONF
    run "$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx/out" 2>&1 &
    ports="$ports 8081"
    nginx_port=8081
fi
# Wait until every server listens (Samba takes a moment to start helpers).
for i in $(seq 1 100); do
    missing=""
    for p in $ports; do
        run ss -ltn "sport = :$p" | grep -q LISTEN || missing="$missing $p"
    done
    [ -z "$missing" ] && break
    sleep 0.1
done
if [ -n "$missing" ]; then
    echo "servers did not start (not listening:$missing); logs in $work"
    PW_PROTO_KEEP=1
    exit 1
fi
# Samba's own client's view of the endpoint mapper, for the EPM test to
# compare with (which interface gets which port changes between starts).
if [ -n "$rpcclient" ]; then
    run "$rpcclient" -U% -N 'ncacn_ip_tcp:127.0.0.1[135]' -c epmlookup \
        >"$work/rpcclient-epm.txt" 2>&1
fi
PW_NETNS="$ns" PW_PROTO_NGINX="$nginx_port" PW_PROTO_RPCCLIENT="$rpcclient" \
    PW_PROTO_WORK="$work" run "$bin" "$@"
