#!/usr/bin/env bash
# Cross-builds portwatch for Windows x86-64 with mingw-w64 and checks the
# result under Wine: the unit test suite, portwatch.exe catalog (table and
# JSON), version and config-check; a smoke run of the daemon probing
# loopback and answering /api/v1/health to curl from Linux, over HTTP and
# over HTTPS (TLS 1.2 and 1.3, curl --cacert; plain HTTP refused); the Windows
# service (portwatch service install/start/reload/stop/uninstall, sc.exe
# query, its account, its Event Log source and the event IDs it reports);
# and the MSI (make-msi.sh, msiinfo, msiexec /i, an upgrade, /x, with the
# files and registry keys listed before and after). Ends with
# `windows: N passed, N failed` and exits non-zero on any failure.
#
# Used by CI and by hand from the top of a clone (any working directory
# works). Runs as root non-interactively; only the first run on a machine
# installs packages and builds the dependencies (packaging/windows/build-deps.sh).
#
# Environment:
#   PW_WIN_CACHE     dependency cache (default ~/.cache/portwatch-win)
#   PW_WIN_BUILDDIR  meson build directory (default build-win)
#   PW_JOBS          parallel compile jobs (default 2)
#   PW_WINEPREFIX    Wine prefix (default <build dir>/wineprefix; WINEPREFIX
#                    from the environment is ignored so ~/.wine is never used)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
export HOME
CACHE=${PW_WIN_CACHE:-$HOME/.cache/portwatch-win}
export PW_WIN_CACHE=$CACHE
PREFIX=$CACHE/prefix
BUILD=${PW_WIN_BUILDDIR:-build-win}
JOBS=${PW_JOBS:-2}
CROSS_FILES=("$HERE/x86_64-w64-mingw32.ini" "$PREFIX/deps.ini")
EXPECTED_ROWS=19

# Wine: a prefix of our own (never ~/.wine, never cached: it is ~700 MB and
# boots in seconds), no debug chatter, and no Mono/Gecko install prompts.
case $BUILD in /*) build_abs=$BUILD ;; *) build_abs=$ROOT/$BUILD ;; esac
export WINEPREFIX=${PW_WINEPREFIX:-$build_abs/wineprefix}
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64
# The environment's library/include paths belong to the Linux toolchain.
unset LIBRARY_PATH CPATH C_INCLUDE_PATH PKG_CONFIG_PATH

passed=0
failed=0
skipped=0
wineboot_pid=
finished=0

section() { printf '\n==== %s ====\n' "$*"; }
pass() { passed=$((passed + 1)); printf 'PASS: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }

summary() {
    [ "$finished" -eq 0 ] || return 0
    finished=1
    [ "$skipped" -eq 0 ] || printf 'windows: %d skipped\n' "$skipped"
    printf 'windows: %d passed, %d failed\n' "$passed" "$failed"
}

cleanup() {
    local rc=$?
    if [ -n "$wineboot_pid" ]; then kill "$wineboot_pid" 2>/dev/null || true; fi
    # Wine leaves wineserver and service processes behind otherwise.
    timeout 30 wineserver -k 2>/dev/null || true
    if [ "$finished" -eq 0 ]; then
        # Reached only when a step aborted the script.
        [ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))
        summary
    fi
    [ "$failed" -eq 0 ] || exit 1
    # In CI every step can run: a skipped one hides something missing.
    [ "${CI:-}" != true ] || [ "$skipped" -eq 0 ] || { echo "windows: a step was skipped (CI=true)"; exit 1; }
    exit "$rc"
}
trap cleanup EXIT

# A step that cannot go on: count it, print the summary, stop.
abort() { fail "$*"; exit 1; }

# ---------------------------------------------------------------------------
section "dependencies"
mkdir -p "$BUILD"
# The prefix boots while the dependencies and portwatch compile.
( timeout 180 wineboot -i >"$BUILD/wineboot.log" 2>&1 ) &
wineboot_pid=$!
t0=$(date +%s)
"$HERE/build-deps.sh" </dev/null || abort "build-deps.sh"
echo "dependencies ready in $(( $(date +%s) - t0 )) s: $PREFIX"
for f in "${CROSS_FILES[@]}"; do
    [ -f "$f" ] || abort "missing cross file $f"
done

# ---------------------------------------------------------------------------
section "configure ($BUILD)"
# Reconfigure an existing build only if it was made with these cross files;
# anything else (a native build dir, another cache) is wiped, keeping the
# Wine prefix.
want_cross="cross_file = ['${CROSS_FILES[0]}', '${CROSS_FILES[1]}']"
if [ -f "$BUILD/meson-private/coredata.dat" ]; then
    if grep -qxF "$want_cross" "$BUILD/meson-private/cmd_line.txt" 2>/dev/null; then
        setup_mode=(--reconfigure)
    else
        echo "$BUILD was configured differently; wiping it (keeping the Wine prefix)"
        find "$BUILD" -mindepth 1 -maxdepth 1 ! -name wineprefix ! -name wineboot.log \
             -exec rm -rf {} +
        setup_mode=()
    fi
else
    setup_mode=()
fi
meson setup "${setup_mode[@]}" "$BUILD" \
    --cross-file "${CROSS_FILES[0]}" --cross-file "${CROSS_FILES[1]}" \
    -Dwerror=true </dev/null || abort "meson setup"

# ---------------------------------------------------------------------------
section "build"
t0=$(date +%s)
ninja -C "$BUILD" -j "$JOBS" </dev/null || abort "build (ninja -C $BUILD)"
echo "built in $(( $(date +%s) - t0 )) s"

exe=$BUILD/daemon/portwatch.exe
[ -f "$exe" ] || abort "$exe was not built"
# Everything is linked statically: only Windows system DLLs may be imported.
dlls=$(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr '\n' ' ')
echo "portwatch.exe imports: $dlls"
if grep -qiE 'libwinpthread|libgcc|libuv|microhttpd|sqlite|jansson' <<<"$dlls"; then
    fail "portwatch.exe needs non-system DLLs: $dlls"
else
    pass "portwatch.exe is self-contained"
fi

# The Event Log's message table: every ID messages.mc defines is in the
# exe's RT_MESSAGETABLE resource, each worded by its insertion string.
x86_64-w64-mingw32-windres -i "$exe" -O rc >"$BUILD/portwatch-resources.rc" 2>&1 || true
if python3 - daemon/messages.mc "$BUILD/portwatch-resources.rc" <<'EOF'
import re, sys
mc = open(sys.argv[1], encoding='utf-8').read()
dump = open(sys.argv[2], encoding='utf-8', errors='replace').read()
want = {int(n) for n in re.findall(r'^MessageId=(\d+)', mc, re.M)}
assert 'RT_MESSAGETABLE' in dump, 'no RT_MESSAGETABLE resource'
have = {int(n, 16): t for n, t in re.findall(r'MessageId = 0x([0-9a-f]+)\n\s*(.*)', dump)}
assert want and set(have) == want, f'IDs in the exe {sorted(have)}, in messages.mc {sorted(want)}'
assert all(t.startswith('%1') for t in have.values()), f'texts {set(have.values())}'
print(f'message table: IDs {sorted(want)}')
EOF
then pass "portwatch.exe has the Event Log message table (RT_MESSAGETABLE, every ID of messages.mc)"
else fail "message table missing or incomplete in portwatch.exe (dump in $BUILD/portwatch-resources.rc)"
fi

# ---------------------------------------------------------------------------
section "wine prefix"
if wait "$wineboot_pid"; then
    echo "wine prefix ready: $WINEPREFIX"
else
    echo "wineboot -i failed (see $BUILD/wineboot.log); wine will try on first use"
fi
wineboot_pid=

# ---------------------------------------------------------------------------
section "unit tests under Wine (meson test --suite unit)"
rm -f "$BUILD/meson-logs/testlog.json"
t0=$(date +%s)
set +e
timeout 1800 meson test -C "$BUILD" --suite unit --print-errorlogs \
    --num-processes "$JOBS" </dev/null
test_rc=$?
set -e
echo "meson test exited $test_rc after $(( $(date +%s) - t0 )) s"
# Count from meson's own log (tests/testlog.py: a line per test, then totals).
# (Not through tee /dev/stderr: reopening a redirected stderr truncates the
# file it goes to.)
if [ -f "$BUILD/meson-logs/testlog.json" ]; then
    tl=$(python3 tests/testlog.py "$BUILD")
    printf '%s\n' "$tl"
    read -r t_ok t_fail t_skip < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' <<<"$tl")
fi
t_ok=${t_ok:-0} t_fail=${t_fail:-0} t_skip=${t_skip:-0}
passed=$((passed + t_ok))
failed=$((failed + t_fail))
skipped=$((skipped + t_skip))
echo "unit tests: $t_ok passed, $t_fail failed, $t_skip skipped"
if [ $((t_ok + t_fail + t_skip)) -eq 0 ]; then
    fail "no unit tests ran (meson test exited $test_rc)"
elif [ "$test_rc" -ne 0 ] && [ "$t_fail" -eq 0 ]; then
    # e.g. timeout killed meson itself: the log does not show the failure.
    fail "meson test exited $test_rc"
fi

# ---------------------------------------------------------------------------
section "portwatch.exe under Wine"
out=$BUILD/wine-out
mkdir -p "$out"
# Windows stdout ends lines with CRLF; the checks compare text.
run_exe() {  # name args...
    local name=$1; shift
    local rc=0
    timeout 60 wine "$exe" "$@" </dev/null >"$out/$name.raw" 2>"$out/$name.err" || rc=$?
    tr -d '\r' <"$out/$name.raw" >"$out/$name.txt"
    return "$rc"
}

if run_exe catalog-json catalog --format json; then
    if python3 - "$out/catalog-json.txt" "$EXPECTED_ROWS" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1], encoding='utf-8'))
rows = doc['vantages'][0]['rows']
want = int(sys.argv[2])
assert len(rows) == want, f'{len(rows)} rows, want {want}'
assert [r['row'] for r in rows] == list(range(1, want + 1)), 'rows not numbered 1..N'
for r in rows:
    assert 1 <= r['port_lo'] <= r['port_hi'] <= 65535, f'row {r["row"]}: bad port range'
EOF
    then pass "catalog --format json: $EXPECTED_ROWS rows"
    else fail "catalog --format json (output in $out/catalog-json.txt)"
    fi
else
    fail "catalog --format json exited non-zero: $(head -c 300 "$out/catalog-json.err")"
fi

# The table must show the same rows as the JSON, numbered 1..N, each with
# its destination and reason.
if run_exe catalog catalog; then
    cat "$out/catalog.txt"
    if python3 - "$out/catalog.txt" "$out/catalog-json.txt" "$EXPECTED_ROWS" <<'EOF'
import json, re, sys
text = open(sys.argv[1], encoding='utf-8').read().splitlines()
want = int(sys.argv[3])
numbered = {}
for line in text:
    m = re.match(r'\s*(\d+)\s{2,}\S', line)
    if m:
        numbered.setdefault(int(m.group(1)), line)
assert sorted(numbered) == list(range(1, want + 1)), f'table rows {sorted(numbered)}'
try:
    rows = json.load(open(sys.argv[2], encoding='utf-8'))['vantages'][0]['rows']
except Exception:
    rows = []
for r in rows:
    line = numbered[r['row']]
    for key in ('destination', 'reason'):
        assert r[key] in line, f'row {r["row"]}: {key} {r[key]!r} missing from table'
EOF
    then pass "catalog: $EXPECTED_ROWS table rows"
    else fail "catalog table (output in $out/catalog.txt)"
    fi
else
    fail "catalog exited non-zero: $(head -c 300 "$out/catalog.err")"
fi

project_version=$(meson introspect "$BUILD" --projectinfo |
                  python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
if run_exe version version; then
    cat "$out/version.txt"
    if grep -q "portwatch $project_version" "$out/version.txt"; then
        pass "version: portwatch $project_version"
    else
        fail "version output lacks 'portwatch $project_version'"
    fi
else
    fail "version exited non-zero: $(head -c 300 "$out/version.err")"
fi

# ---------------------------------------------------------------------------
section "config-check under Wine"
# The example configuration as the MSI installs it: database relative (the
# service runs in %ProgramData%\portwatch), CRLF line endings.
stage=$BUILD/msi
mkdir -p "$stage"
sed -e 's|^database = .*|database = portwatch.db|' \
    -e 's|^; History database (SQLite)\. The Quick start keeps it in \./state\.|; History database (SQLite); a relative path is in %ProgramData%\\portwatch.|' \
    -e 's/$/\r/' packaging/portwatch.ini >"$stage/portwatch.ini"
if run_exe config-check config-check -c "$(winepath -w "$stage/portwatch.ini" 2>/dev/null)" &&
   grep -q ': OK' "$out/config-check.txt"; then
    pass "config-check of the MSI's configuration: $(grep -m1 -o '[0-9]* targets[^,]*' "$out/config-check.txt" || true)"
else
    fail "config-check exited non-zero: $(head -c 300 "$out/config-check.err")"
fi

# Helpers for the runs below: a loopback listener, free ports, health.
free_ports() {  # n -> n free loopback ports
    python3 - "$1" <<'EOF2'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF2
}
bg_pids=()
start_listener() {  # port
    python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $1)); s.listen(64); time.sleep(900)" &
    bg_pids+=($!)
}
http_code() { curl -s -o "$out/http.body" -w '%{http_code}' --max-time 5 "$1" || true; }
wait_code() {  # url code seconds
    local i
    for i in $(seq $(( $3 * 5 ))); do [ "$(http_code "$1")" = "$2" ] && return 0; sleep 0.2; done
    return 1
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
write_conf() {  # file api_port port...
    local f=$1 api=$2; shift 2
    {
        printf '[portwatch]\r\nlisten = 127.0.0.1:%s\r\ninterval = 1s\r\ntimeout = 500ms\r\nfail_after = 1\r\n' "$api"
        printf 'database = portwatch-smoke.db\r\n'
        for p in "$@"; do printf '\r\n[check port-%s]\r\nhosts = 127.0.0.1\r\nports = %s\r\n' "$p" "$p"; done
    } >"$f"
}
stop_bg() { local p; for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done; bg_pids=(); }
trap 'rc=$?; stop_bg; (exit $rc); cleanup' EXIT

# ---------------------------------------------------------------------------
section "smoke run under Wine: portwatch.exe run, probed from Wine, polled from Linux"
read -r p_open p_api < <(free_ports 2)
start_listener "$p_open"
smoke_dir=$BUILD/wine-smoke
rm -rf "$smoke_dir"; mkdir -p "$smoke_dir"
write_conf "$smoke_dir/smoke.ini" "$p_api" "$p_open"
exe_abs=$(readlink -f "$exe")
( cd "$smoke_dir" && exec timeout 120 wine "$exe_abs" run -c smoke.ini ) >"$out/smoke.out" 2>"$out/smoke.err" &
smoke_pid=$!
t0=$(date +%s%N)
if wait_code "http://127.0.0.1:$p_api/api/v1/health" 200 30; then
    pass "run under Wine: /api/v1/health 200 from Linux curl after $(ms_since "$t0") ms (127.0.0.1:$p_open up)"
else
    fail "run under Wine: health $(http_code "http://127.0.0.1:$p_api/api/v1/health"); $(tail -c 400 "$out/smoke.err")"
fi
# Issue 18: a one-off maintenance window from the command line reaches the
# running daemon through the database, on Windows too.
has_window() { curl -s --max-time 5 "http://127.0.0.1:$p_api/api/v1/maintenance" | grep -q "\"window\":\"$1\""; }
if ( cd "$smoke_dir" && timeout 60 wine "$exe_abs" maintenance start -c smoke.ini --for 10m \
        --name wine-patch --reason "patching under Wine" ) >"$out/maint.out" 2>&1; then
    t0=$(date +%s%N)
    for i in $(seq 50); do has_window wine-patch && break; sleep 0.2; done
    if has_window wine-patch; then
        pass "maintenance start under Wine: the running daemon lists the window after $(ms_since "$t0") ms"
    else
        fail "maintenance start under Wine: /api/v1/maintenance lacks it: $(head -c 300 "$out/http.body")"
    fi
    ( cd "$smoke_dir" && timeout 60 wine "$exe_abs" maintenance end -c smoke.ini wine-patch ) \
        >>"$out/maint.out" 2>&1
    for i in $(seq 50); do has_window wine-patch || break; sleep 0.2; done
    if has_window wine-patch; then
        fail "maintenance end under Wine: the window is still listed"
    else
        pass "maintenance end under Wine: the daemon drops the window"
    fi
else
    fail "maintenance start under Wine: $(tail -c 400 "$out/maint.out")"
fi
kill "$smoke_pid" 2>/dev/null || true
wait "$smoke_pid" 2>/dev/null || true
timeout 30 wineserver -k 2>/dev/null || true

# ---------------------------------------------------------------------------
section "HTTPS under Wine: tls_certificate and tls_key, curl --cacert from Linux"
# A throwaway certificate for 127.0.0.1; the daemon serves only HTTPS then.
tls_dir=$BUILD/wine-tls
rm -rf "$tls_dir"; mkdir -p "$tls_dir"
read -r p_tls < <(free_ports 1)
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" \
        >"$out/openssl.log" 2>&1; then
    write_conf "$tls_dir/tls.ini" "$p_tls" "$p_open"
    printf 'tls_certificate = %s\r\ntls_key = %s\r\n' "$(winepath -w "$tls_dir/cert.pem")" \
        "$(winepath -w "$tls_dir/key.pem")" >"$tls_dir/tls-keys.txt"
    # The keys go in [portwatch], ahead of the first [check] section.
    sed -i "/^database = /r $tls_dir/tls-keys.txt" "$tls_dir/tls.ini"
    ( cd "$tls_dir" && exec timeout 120 wine "$exe_abs" run -c tls.ini ) >"$out/tls.out" 2>"$out/tls.err" &
    tls_pid=$!
    https=https://127.0.0.1:$p_tls/api/v1/health
    code=000
    for _ in $(seq 150); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$tls_dir/cert.pem" "$https" || true)
        [ "$code" = 200 ] && break; sleep 0.2
    done
    proto=$(curl -sv -o /dev/null --max-time 5 --cacert "$tls_dir/cert.pem" "$https" 2>&1 |
            sed -n 's/.*SSL connection using \(TLSv[0-9.]*\).*/\1/p' | head -1)
    if [ "$code" = 200 ] && [[ $proto =~ ^TLSv1\.[23]$ ]]; then
        pass "HTTPS under Wine: curl --cacert gets 200 over $proto"
    else
        fail "HTTPS under Wine: $code over '${proto:-?}'; $(tail -c 400 "$out/tls.err")"
    fi
    # Both TLS 1.2 and 1.3 are served; plain HTTP on the port gets no answer.
    v12=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$tls_dir/cert.pem" --tlsv1.2 --tls-max 1.2 "$https" || true)
    v13=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$tls_dir/cert.pem" --tlsv1.3 "$https" || true)
    plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$p_tls/api/v1/health" || true)
    if [ "$v12" = 200 ] && [ "$v13" = 200 ] && [ "$plain" = 000 ]; then
        pass "HTTPS under Wine: TLS 1.2 200, TLS 1.3 200, plain HTTP refused"
    else
        fail "HTTPS under Wine: TLS 1.2 got $v12, TLS 1.3 got $v13, plain HTTP got $plain (want 200, 200, no answer)"
    fi
    kill "$tls_pid" 2>/dev/null || true
    wait "$tls_pid" 2>/dev/null || true
else
    fail "openssl could not make a test certificate: $(tail -3 "$out/openssl.log")"
fi
timeout 30 wineserver -k 2>/dev/null || true

# ---------------------------------------------------------------------------
section "Windows service under Wine: portwatch service install/start/reload/stop/uninstall, sc.exe"
# Wine's service manager lives only while some Wine program runs: keep one.
# The service inherits its debug settings and stderr: Wine's ReportEventW
# prints each Event Log entry's type and ID (advapi fixme) and its text
# (eventlog channel) there, the only trace of the Event Log under Wine.
( sleep 300 | WINEDEBUG=-all,fixme+advapi,trace+eventlog,warn+eventlog,err+eventlog \
    timeout 310 wine cmd.exe >/dev/null 2>"$out/eventlog.txt" ) &
keep_pid=$!
sleep 1
pd=$WINEPREFIX/drive_c/ProgramData/portwatch
mkdir -p "$pd"
rm -f "$pd"/portwatch-smoke.db* "$pd/portwatch.log"
read -r p_a p_b p_closed p_api < <(free_ports 4)
start_listener "$p_a"
start_listener "$p_b"
write_conf "$pd/service.ini" "$p_api" "$p_a" "$p_closed"
svc() { timeout 60 wine "$exe" service "$@" </dev/null 2>&1 | tr -d '\r'; return "${PIPESTATUS[0]}"; }
api=http://127.0.0.1:$p_api
if svc install -c 'C:\ProgramData\portwatch\service.ini' >"$out/svc-install.txt"; then
    pass "service install: $(grep -m1 "^installed" "$out/svc-install.txt")"
else
    fail "service install: $(cat "$out/svc-install.txt")"
fi
evkey='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\portwatch'
# The Event Log source names this exe as its message file.
check_event_source() {  # exe-windows-path what
    local q
    q=$(timeout 30 wine reg query "$evkey" 2>/dev/null | tr -d '\r' | sed 's/^ *//; s/   */ /g')
    if grep -qixF -e "EventMessageFile REG_SZ $1" -e "EventMessageFile REG_EXPAND_SZ $1" <<<"$q" &&
       grep -qxF 'TypesSupported REG_DWORD 0x7' <<<"$q"; then
        pass "$2: Event Log source registered (EventMessageFile $1, TypesSupported 7)"
    else
        fail "$2: Event Log source: $(tr '\n' ' ' <<<"$q")"
    fi
}
check_event_source "$(winepath -w "$exe" 2>/dev/null)" "service install"
# The account the service runs as, as the SCM keeps it (what `sc qc` shows;
# Wine's sc.exe has no qc).
svckey='HKLM\SYSTEM\CurrentControlSet\Services\portwatch'
check_account() {  # what
    local q
    q=$(timeout 30 wine reg query "$svckey" /v ObjectName 2>/dev/null | tr -d '\r' | sed 's/^ *//; s/   */ /g')
    if grep -qxF 'ObjectName REG_SZ NT SERVICE\portwatch' <<<"$q"; then
        pass "$1: the service's account is NT SERVICE\\portwatch"
    else
        fail "$1: the service's account: $(tr '\n' ' ' <<<"$q")"
    fi
}
check_account "service install"
# The data folder's access list names the service's SID: SHA-1 of its
# upper-case name, as Windows derives it.
want_sid=$(python3 -c 'import hashlib, struct
d = hashlib.sha1("PORTWATCH".encode("utf-16-le")).digest()
print("S-1-5-80-" + "-".join(str(x) for x in struct.unpack("<5I", d)))')
if grep -qF "modify for NT SERVICE\portwatch ($want_sid)" "$out/svc-install.txt"; then
    pass "service install: %ProgramData%\\portwatch modifiable by $want_sid alone (besides SYSTEM, Administrators)"
else
    fail "service install: access list for $want_sid not reported: $(cat "$out/svc-install.txt")"
fi
# What Wine cannot show (said, not counted): it maps a folder's access list
# to Unix mode bits (no icacls, no xattr), and ChangeServiceConfig2 has no
# required-privileges level there (error 87, a warning of install's).
echo "NOTE: not testable under Wine: the folder's access list as Windows enforces it; the service token's privileges"
grep -F 'privileges' "$out/svc-install.txt" || true
t0=$(date +%s%N)
if svc start >"$out/svc-start.txt" && wait_code "$api/api/v1/status" 200 30; then
    pass "service start: running, status 200 after $(ms_since "$t0") ms"
else
    fail "service start: $(cat "$out/svc-start.txt"); $(tail -5 "$pd/portwatch.log" 2>/dev/null)"
fi
if timeout 30 wine sc.exe query portwatch 2>/dev/null | tr -d '\r' | grep -q 'RUNNING'; then
    pass "sc.exe query: RUNNING"
else
    fail "sc.exe query does not say RUNNING"
fi
write_conf "$pd/service.ini" "$p_api" "$p_a" "$p_closed" "$p_b"
t0=$(date +%s%N)
svc reload >/dev/null || true
ok=0
for _ in $(seq 50); do
    [ "$(http_code "$api/api/v1/status")" = 200 ] &&
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['summary']['targets']==3 and d['summary']['up']==2 else 1)" "$out/http.body" &&
        { ok=1; break; }
    sleep 0.2
done
if [ "$ok" = 1 ] && grep -q 'configuration reloaded' "$pd/portwatch.log"; then
    pass "service reload (SCM paramchange): 3 targets, 2 up after $(ms_since "$t0") ms"
else
    fail "service reload: $(tail -3 "$pd/portwatch.log")"
fi
# A broken configuration is rejected (an Event Log entry of its own).
printf 'this is not a key\r\n' >>"$pd/service.ini"
svc reload >/dev/null || true
for _ in $(seq 50); do grep -q 'reload rejected' "$pd/portwatch.log" && break; sleep 0.2; done
if grep -q 'reload rejected' "$pd/portwatch.log"; then
    pass "service reload of a broken configuration: rejected, still running"
else
    fail "service reload of a broken configuration: $(tail -3 "$pd/portwatch.log")"
fi
t0=$(date +%s%N)
if svc stop >"$out/svc-stop.txt" && grep -q stopped "$out/svc-stop.txt"; then
    pass "service stop: stopped in $(ms_since "$t0") ms; log: $(grep -o 'stopping (service stop)' "$pd/portwatch.log" | head -1)"
else
    fail "service stop: $(cat "$out/svc-stop.txt")"
fi
if svc uninstall >/dev/null && ! timeout 30 wine sc.exe query portwatch 2>/dev/null | grep -q portwatch; then
    pass "service uninstall: gone from the service manager"
else
    fail "service uninstall"
fi
echo "--- portwatch.log"; tr -d '\r' <"$pd/portwatch.log" || true
rm -f "$pd/service.ini"
# Each kind of event reached the Event Log with its own ID and type
# (daemon/messages.mc; type 4 information, 2 warning, 1 error).
if python3 - "$out/eventlog.txt" <<'EOF'
import re, sys
entries, cur = [], None
for line in open(sys.argv[1], encoding='utf-8', errors='replace'):
    m = re.search(r'ReportEventW \(\w+,0x(\w+),0x\w+,0x(\w+),', line)
    if m:
        cur = [int(m.group(1), 16), int(m.group(2), 16), None]
        entries.append(cur)
        continue
    m = re.search(r'eventlog:ReportEventW L"(.*)"', line)
    if m and cur and cur[2] is None:
        cur[2] = m.group(1)
want = [('started:', 100, 4), ('down:', 200, 2), ('up:', 201, 4),
        ('configuration reloaded', 102, 4), ('reload rejected', 103, 1), ('stopped', 101, 4)]
for prefix, eid, etype in want:
    got = [(t, i) for t, i, text in entries if text and text.startswith(prefix)]
    assert got, f'no Event Log entry for "{prefix}" (entries: {entries[:12]})'
    assert all(g == (etype, eid) for g in got), f'"{prefix}": type/ID {got}, want {(etype, eid)}'
print('Event Log entries (type, ID, text):')
for t, i, text in entries:
    print(f'  {t} {i:4} {text}')
EOF
then pass "Event Log IDs under Wine: start 100, stop 101, reload 102, reload rejected 103, down 200, up 201"
else fail "Event Log IDs (Wine's trace in $out/eventlog.txt)"
fi

# ---------------------------------------------------------------------------
section "MSI (wixl): install, upgrade, uninstall"
if ! command -v wixl >/dev/null || ! command -v msiinfo >/dev/null || ! command -v msibuild >/dev/null; then
    apt-get install -y -q wixl msitools </dev/null >/dev/null 2>&1 || true
fi
cp "$exe" "$stage/"
msi=$stage/portwatch-$project_version-x64.msi
if "$HERE/make-msi.sh" "$stage" "$project_version" "$(basename "$msi")" >"$out/wixl.log" 2>&1; then
    pass "make-msi.sh: $msi ($(du -k "$msi" | cut -f1) KB)"
    echo "tables: $(msiinfo tables "$msi" | tr '\n' ' ')"
    msiinfo export "$msi" ServiceInstall | tail -1
    msiinfo export "$msi" CustomAction | tail -2
    if msiinfo export "$msi" ServiceInstall | grep -q 'service run.*Program' &&
       msiinfo export "$msi" ServiceInstall | grep -qF 'NT SERVICE\portwatch' &&
       msiinfo export "$msi" ServiceControl | grep -q portwatch; then
        pass "MSI registers the service as NT SERVICE\\portwatch (ServiceInstall, ServiceControl)"
    else
        fail "MSI ServiceInstall/ServiceControl tables"
    fi
    # The configuration's component: NeverOverwrite (128) and Permanent (16).
    attrs=$(msiinfo export "$msi" Component | awk -F'\t' '$1 == "Configuration" { print $4 }')
    if [ -n "$attrs" ] && [ $(( attrs & 144 )) -eq 144 ]; then
        pass "MSI keeps the configuration: component attributes $attrs (NeverOverwrite, Permanent)"
    else
        fail "MSI configuration component attributes '$attrs' lack NeverOverwrite (128) and Permanent (16)"
    fi
else
    fail "make-msi.sh: $(cat "$out/wixl.log")"
fi

# What is on disk and in the registry, to compare before install, after
# install and after uninstall.
pf_dir="$WINEPREFIX/drive_c/Program Files/portwatch"
svckey='HKLM\SYSTEM\CurrentControlSet\Services\portwatch'
snapshot() {  # (find fails on a missing folder: not an error here)
    { find "$pf_dir" "$pd" -type f 2>/dev/null || true; } | sed "s|^$WINEPREFIX/drive_c/||" | sort
    timeout 30 wine reg query "$svckey" >/dev/null 2>&1 && echo "registry: $svckey"
    timeout 30 wine reg query "$evkey" >/dev/null 2>&1 && echo "registry: $evkey"
    return 0
}
wait_http() {  # url seconds -> the first HTTP answer's code, or 000
    local code i
    for i in $(seq $(( $2 * 5 ))); do
        code=$(http_code "$1"); [ "$code" != 000 ] && break; sleep 0.2
    done
    echo "$code"
}
msi_log() { tr -d '\r' <"$WINEPREFIX/drive_c/$1"; }
# Whether msiexec's log $1 has a line matching $2, waiting up to 10 s:
# Wine's msiexec can return before its log is all written (a CI run read
# it without the ConfigureService line that was there moments later).
msi_log_has() {
    for _ in $(seq 50); do
        msi_log "$1" 2>/dev/null | grep -q "$2" && return 0
        sleep 0.2
    done
    return 1
}
rm -f "$pd/portwatch.ini" "$pd"/portwatch.db*
snapshot >"$out/files-before.txt"
inst="$pf_dir/portwatch.exe"
if [ -f "$msi" ] && timeout 120 wine msiexec /i "$msi" /qn /l*v 'C:\msi-install.log' </dev/null; then
    snapshot >"$out/files-installed.txt"
    if [ -f "$inst" ] && [ -f "$pd/portwatch.ini" ] &&
       timeout 30 wine "$inst" service status </dev/null 2>/dev/null | grep -q running; then
        pass "msiexec /i: exe in Program Files, configuration in ProgramData, service running"
    else
        fail "msiexec /i: files or service missing"
    fi
    check_event_source 'C:\Program Files\portwatch\portwatch.exe' "msiexec /i"
    check_account "msiexec /i"
    if msi_log_has msi-install.log 'Action ended .*: ConfigureService. Return value 1'; then
        pass "msiexec /i ran 'portwatch.exe service configure' (access list, privileges)"
    else
        fail "msiexec /i: ConfigureService did not succeed (C:\\msi-install.log)"
    fi
    # The example watches closed 127.0.0.1 ports: any HTTP answer will do.
    code=$(wait_http http://127.0.0.1:8470/api/v1/health 5)
    [ "$code" != 000 ] && pass "installed service answers /api/v1/health ($code)" || fail "installed service: no HTTP answer"

    # Upgrade: a newer MSI keeps the operator's configuration and history.
    next_version=$(python3 -c 'import sys; v = sys.argv[1].split("."); v[-1] = str(int(v[-1]) + 1); print(".".join(v))' "$project_version")
    msi2=$stage/portwatch-$next_version-x64.msi
    printf '; edited by the operator\r\n' >>"$pd/portwatch.ini"
    conf_sum=$(sha256sum <"$pd/portwatch.ini")
    "$HERE/make-msi.sh" "$stage" "$next_version" "$(basename "$msi2")" >>"$out/wixl.log" 2>&1 || true
    if [ -f "$msi2" ] && timeout 180 wine msiexec /i "$msi2" /qn /l*v 'C:\msi-upgrade.log' </dev/null &&
       [ "$(sha256sum <"$pd/portwatch.ini")" = "$conf_sum" ] && [ -f "$pd/portwatch.db" ] && [ -f "$inst" ] &&
       msi_log_has msi-upgrade.log 'Action ended .*: StopAndWait. Return value 1' &&
       [ "$(wait_http http://127.0.0.1:8470/api/v1/health 10)" != 000 ]; then
        pass "upgrade $project_version -> $next_version: configuration (edited) and history kept, service answers"
    else
        fail "upgrade to $next_version: $(msi_log msi-upgrade.log | grep -E 'StopAndWait|Return value 3' | head -3)"
        msi2=$msi
    fi

    if timeout 120 wine msiexec /x "$msi2" /qn </dev/null; then
        snapshot >"$out/files-removed.txt"
        for f in before installed removed; do echo "--- files and registry, $f:"; cat "$out/files-$f.txt"; done
        # Gone: everything the MSI installed but the configuration; left:
        # what was there before, and the configuration, history and log.
        if python3 - "$out/files-before.txt" "$out/files-installed.txt" "$out/files-removed.txt" <<'EOF'
import sys
before, installed, removed = (set(open(p).read().split('\n')) - {''} for p in sys.argv[1:])
users = {'ProgramData/portwatch/' + f for f in
         ('portwatch.ini', 'portwatch.db', 'portwatch.db-wal', 'portwatch.db-shm',
          'portwatch.db-lock', 'portwatch.log')}  # -lock: one daemon per database
assert 'Program Files/portwatch/portwatch.exe' in installed, installed
assert 'ProgramData/portwatch/portwatch.ini' in removed, 'the configuration was removed'
left = removed - before - users
assert not left, f'left behind: {sorted(left)}'
lost = before - removed
assert not lost, f'removed what was there before: {sorted(lost)}'
EOF
        then
            pass "msiexec /x: exe, service and registry values removed; configuration, history and log kept"
        else
            fail "msiexec /x left or removed the wrong files (lists above)"
        fi
        [ -d "$pf_dir" ] && fail "msiexec /x left the folder $pf_dir"
        code=$(http_code http://127.0.0.1:8470/api/v1/health)
        [ "$code" = 000 ] && pass "after msiexec /x nothing answers on 127.0.0.1:8470" ||
            fail "after msiexec /x the service still answers ($code): its process outlived the uninstall"
    else
        fail "msiexec /x"
    fi

    # Uninstall while the service is still starting: it accepts no stop
    # then; the exe must go all the same.
    if timeout 120 wine msiexec /i "$msi" /qn </dev/null && timeout 120 wine msiexec /x "$msi" /qn </dev/null &&
       [ ! -e "$inst" ]; then
        pass "msiexec /x right after /i (service starting): exe removed"
    else
        fail "msiexec /x right after /i: $(ls "$pf_dir" 2>&1)"
    fi
else
    fail "msiexec /i"
fi
kill "$keep_pid" 2>/dev/null || true
stop_bg

# ---------------------------------------------------------------------------
section "summary"
summary
