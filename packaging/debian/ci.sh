#!/usr/bin/env bash
# CI for the Debian package: builds the .deb with dpkg-buildpackage from a
# copy of the tree (packaging/debian becomes debian/), runs lintian (no
# errors allowed), installs it, starts the daemon from it and gets 200 from
# its health endpoint, reloads it, stops it, then purges the package.
#
# Starting: with systemd running (systemctl is-system-running), through the
# installed unit with a drop-in that points it at the CI configuration.
# Without systemd (containers), the unit's own ExecStart command line is run
# the way the unit runs it, as far as that goes without systemd: as an
# unprivileged user (nobody) with no capabilities and no_new_privs, in the
# StateDirectory as working directory, and with a NOTIFY_SOCKET this script
# listens on, so Type=notify's READY=1 and the watchdog pings are checked.
#
# The installed example watches 127.0.0.1 ports nothing may listen on (its
# health would be 503); the CI configuration watches a port this script
# opens, so health must be 200.
#
# Ends with `debian: N passed, N failed`; exits non-zero on any failure.
# Runs as root. Traffic: 127.0.0.1 only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }
WORK=$(mktemp -d /tmp/pw-deb.XXXXXX)
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if dpkg-query -W -f='${Status}' portwatch 2>/dev/null | grep -q installed; then
        [ "$sysd" = 1 ] && systemctl stop portwatch 2>/dev/null || true
        rm -rf /etc/systemd/system/portwatch.service.d
        dpkg -P portwatch >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK" /var/lib/portwatch
    printf 'debian: %d passed, %d failed\n' "$passed" "$failed"
    [ "$failed" -eq 0 ] && [ "$rc" -eq 0 ] || exit 1
}
sysd=0
trap cleanup EXIT

# --- packages ----------------------------------------------------------------
need=(dpkg-dev debhelper lintian meson ninja-build pkg-config python3 curl
      libuv1-dev libmicrohttpd-dev libsqlite3-dev libjansson-dev zlib1g-dev)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

# --- build -------------------------------------------------------------------
echo "== dpkg-buildpackage in $WORK"
SRC=$WORK/portwatch-0.1.0
mkdir -p "$SRC"
tar -C "$ROOT" --exclude=./.git --exclude='./build*' --exclude='./obj-*' --exclude=./state \
    --exclude=node_modules --exclude=./debian -cf - . | tar -C "$SRC" -xf -
cp -r "$HERE" "$SRC/debian"
rm -f "$SRC/debian/ci.sh"
t0=$(date +%s)
if (cd "$SRC" && DEB_BUILD_OPTIONS="parallel=${PW_JOBS:-2}" dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
    pass "dpkg-buildpackage -b ($(( $(date +%s) - t0 )) s)"
else
    tail -40 "$WORK/build.log"
    fail "dpkg-buildpackage"; exit 1
fi
deb=$(ls "$WORK"/portwatch_*.deb)
changes=$(ls "$WORK"/portwatch_*.changes)
dpkg-deb -c "$deb" | awk '{print $6}'

if lintian --fail-on error --tag-display-limit 0 "$changes" >"$WORK/lintian.log" 2>&1; then
    pass "lintian: no errors ($(grep -c '^W:' "$WORK/lintian.log" || true) warnings)"
else
    fail "lintian reports errors"
fi
cat "$WORK/lintian.log"

# --- install -----------------------------------------------------------------
apt-get install -y -q "$deb" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "install"; exit 1; }
pass "installed $(basename "$deb")"
unit=$(dpkg -L portwatch | grep '/portwatch.service$')
conf=$(dpkg-query -W -f='${Conffiles}' portwatch)
if grep -q '/etc/portwatch/portwatch.ini' <<<"$conf" &&
   grep -qx 'database = /var/lib/portwatch/portwatch.db' /etc/portwatch/portwatch.ini &&
   [ -x /usr/bin/portwatch ] && [ -n "$unit" ]; then
    pass "binary, conffile /etc/portwatch/portwatch.ini (system database path), unit $unit"
else
    fail "package contents (conffiles: $conf)"
fi
if man -w portwatch >/dev/null 2>&1 && man -w 5 portwatch.ini >/dev/null 2>&1 &&
   zcat "$(man -w 5 portwatch.ini)" | grep -q '^\.BR max_in_flight'; then
    pass "man pages portwatch(1) and portwatch.ini(5) (key table generated)"
elif zcat /usr/share/man/man5/portwatch.ini.5.gz | grep -q '^\.BR max_in_flight' &&
     [ -f /usr/share/man/man1/portwatch.1.gz ]; then
    pass "man pages installed (man-db not configured to find them here)"
else
    fail "man pages"
fi
if /usr/bin/portwatch config-check -c /etc/portwatch/portwatch.ini >/dev/null; then
    pass "the installed configuration is valid"
else
    fail "config-check of the installed configuration"
fi

# --- start it ----------------------------------------------------------------
read -r port_ok port_api < <(python3 -c '
import socket
a = socket.socket(); a.bind(("127.0.0.1", 0)); b = socket.socket(); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port_ok)); s.listen(64); time.sleep(600)" &
pids+=($!)
ciconf=/etc/portwatch/ci.ini
cat >"$ciconf" <<INI
[portwatch]
listen = 127.0.0.1:$port_api
database = /var/lib/portwatch/portwatch.db
interval = 1s
timeout = 500ms

[check ci]
hosts = 127.0.0.1
ports = $port_ok
reason = CI listener
INI
chmod 644 "$ciconf"
health() { curl -s -o "$WORK/health.json" -w '%{http_code}' "http://127.0.0.1:$port_api/api/v1/health" || true; }
wait_health() {
    for _ in $(seq 100); do [ "$(health)" = 200 ] && return 0; sleep 0.1; done
    return 1
}

state=$(systemctl is-system-running 2>/dev/null || true)
case $state in running|degraded|starting) sysd=1 ;; esac
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
echo "== systemd: ${state:-absent}; unit ExecStart: $exec_start"
if [ "$sysd" = 1 ]; then
    mkdir -p /etc/systemd/system/portwatch.service.d
    printf '[Service]\nExecStart=\nExecStart=%s\n' "${exec_start/\/etc\/portwatch\/portwatch.ini/$ciconf}" \
        >/etc/systemd/system/portwatch.service.d/ci.conf
    systemctl daemon-reload
    systemctl restart portwatch
    if wait_health; then pass "systemd: portwatch.service answers /api/v1/health 200"; else
        systemctl status portwatch --no-pager || true; fail "health under systemd: $(health)"; fi
    systemctl reload portwatch && sleep 1 && [ "$(health)" = 200 ] && pass "systemctl reload" || fail "systemctl reload"
    t0=$(date +%s%N); systemctl stop portwatch; t1=$(date +%s%N)
    [ "$(systemctl show -p Result --value portwatch)" = success ] &&
        pass "systemctl stop: $(( (t1 - t0) / 1000000 )) ms, result success" || fail "systemctl stop"
    exit 0
fi

# No systemd: the unit's command line, run as the unit would run it.
cmd=${exec_start/\/etc\/portwatch\/portwatch.ini/$ciconf}
mkdir -p /var/lib/portwatch
chown nobody:nogroup /var/lib/portwatch
chmod 750 /var/lib/portwatch
nsock=$WORK/notify.sock
python3 - "$nsock" >"$WORK/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o777)
s.settimeout(600)
t0 = time.time()
while True:
    msg = s.recv(4096).decode()
    print(f"{time.time() - t0:.3f} {msg!r}", flush=True)
PY
pids+=($!)
for _ in $(seq 50); do [ -S "$nsock" ] && break; sleep 0.1; done
chmod 755 "$WORK"
# shellcheck disable=SC2086
(cd /var/lib/portwatch && exec env -i PATH=/usr/bin:/bin NOTIFY_SOCKET="$nsock" WATCHDOG_USEC=2000000 \
    JOURNAL_STREAM=0:0 setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
    --inh-caps=-all --bounding-set=-all --ambient-caps=-all $cmd) 2>"$WORK/daemon.log" &
dpid=$!
pids+=($dpid)
t0=$(date +%s%N)
if wait_health; then
    pass "daemon from the unit's ExecStart (as nobody, no capabilities) answers /api/v1/health 200 after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
    cat "$WORK/daemon.log"; fail "health: $(health)"
fi
sleep 1.5
grep -q "READY=1" "$WORK/notify.log" && grep -q "WATCHDOG=1" "$WORK/notify.log" &&
    pass "sd_notify: READY=1 and WATCHDOG=1 received" || { cat "$WORK/notify.log"; fail "sd_notify"; }
kill -HUP "$dpid"   # the unit's ExecReload
sleep 1
if grep -q "configuration reloaded" "$WORK/daemon.log" && [ "$(health)" = 200 ]; then
    pass "ExecReload (kill -HUP): reloaded, health still 200"
else
    cat "$WORK/daemon.log"; fail "reload"
fi
t0=$(date +%s%N)
kill -TERM "$dpid"
rc=0; wait "$dpid" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 0 ] && [ "$ms" -lt 5000 ]; then pass "SIGTERM: exit 0 in $ms ms"; else fail "SIGTERM: exit $rc after $ms ms"; fi
grep -q "STOPPING=1" "$WORK/notify.log" && pass "sd_notify: STOPPING=1" || fail "no STOPPING=1"
echo "== daemon log (journal format: no timestamps, <N> priorities)"
cat "$WORK/daemon.log"
[ "$(stat -c %U /var/lib/portwatch/portwatch.db)" = nobody ] && pass "database written by the service user in the StateDirectory" || fail "database owner"

# --- remove ------------------------------------------------------------------
dpkg -r portwatch >/dev/null && [ -f /etc/portwatch/portwatch.ini ] && [ ! -e /usr/bin/portwatch ] &&
    pass "dpkg -r keeps the conffile" || fail "dpkg -r"
rm -f "$ciconf"
dpkg -P portwatch >/dev/null && [ ! -e /etc/portwatch/portwatch.ini ] && pass "dpkg -P removes it" || fail "dpkg -P"
