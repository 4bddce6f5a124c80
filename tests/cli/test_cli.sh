#!/bin/sh
# Command-line behaviour of the real portwatch binary: exit codes (0 ok,
# 1 a check failed, 2 usage or configuration error) and what it prints.
# Usage: test_cli.sh PORTWATCH SOURCE_ROOT
set -u
pw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# expect CODE PATTERN -- CMD...: runs CMD, checks the exit code and that the
# combined output contains PATTERN (a fixed string; empty: anything).
expect() {
    code=$1 pattern=$2
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        echo "FAIL: $* -> exit $rc, expected $code"; echo "$out" | head -5; fail=$((fail + 1)); return
    fi
    if [ -n "$pattern" ] && ! printf '%s' "$out" | grep -qF -- "$pattern"; then
        echo "FAIL: $* -> output lacks '$pattern'"; echo "$out" | head -5; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}

expect 2 "usage: portwatch COMMAND" -- "$pw"
expect 0 "commands:" -- "$pw" --help
expect 2 "portwatch: unknown command 'frob'; the commands are run, check, config-check, catalog, rpc-endpoints, db, maintenance, report, version, service ('portwatch --help' says what each does)" -- "$pw" frob
expect 2 "portwatch: unknown command 'chek'; did you mean 'check'? The commands are run, check," -- "$pw" chek
expect 2 "did you mean 'rpc-endpoints'?" -- "$pw" rpc-endpoint
expect 0 "portwatch 0." -- "$pw" version
expect 0 "libuv" -- "$pw" --version
expect 0 "usage: portwatch check" -- "$pw" check --help
expect 0 "usage: portwatch run" -- "$pw" run -h
expect 2 "portwatch catalog: unknown option '--frob'; run 'portwatch catalog --help' for the options" -- "$pw" catalog --frob
expect 2 "portwatch check: unknown option '--expcet=reachable'; did you mean '--expect'? run 'portwatch check --help' for the options" -- "$pw" check --expcet=reachable
expect 2 "--format 'xml' is not allowed; use table or json" -- "$pw" catalog --format xml
expect 2 "option --format needs a value (FMT)" -- "$pw" catalog --format
expect 2 "option --keys takes no value" -- "$pw" config-check --keys=1
expect 2 "unexpected argument 'extra'" -- "$pw" version extra
expect 0 "Secondary RPC ports to deploy business rules" -- "$pw" catalog
expect 0 "" -- "$pw" config-check --keys

# catalog JSON: the default is administration, all 19 rows, reasons whole
"$pw" catalog --format json >"$tmp/cat.json"
if python3 - "$tmp/cat.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [v["vantage"] for v in d["vantages"]] == ["administration"], d["vantages"]
rows = d["vantages"][0]["rows"]
assert len(rows) == 19, len(rows)
assert [r["row"] for r in rows] == list(range(1, 20))
assert rows[18]["reason"] == "To enable BizTalk application deployment to pack HTTP or Web Service Ports hosted on the IIS Server into an MSI"
assert rows[2]["port"] == "50000-50200" and rows[2]["expect"] == "reachable"
assert rows[2]["port_key"] == "secondary_rpc_ports" and rows[0]["port_key"] is None
assert all(r["protocol"] == "TCP" for r in rows)
assert d["vantages"][0]["source"].startswith("https://learn.microsoft.com/")
PY
then pass=$((pass + 1)); else echo "FAIL: catalog json"; fail=$((fail + 1)); fi

# catalog --vantage: names separated by commas, all, or the configuration's
expect 0 "receive-send: Ports for the Receive and Send Servers" -- "$pw" catalog --vantage receive-send
expect 0 "[configuring] Set up the BizTalk Analysis database" -- "$pw" catalog --vantage processing
expect 0 "bam-portal: Ports for the BAM Portal Server" -- "$pw" catalog --vantage all
expect 2 "portwatch catalog: --vantage: 'admin' is not allowed; use one or more of, separated by commas: administration, processing, tracking, receive-send, sso, master-secret, bam-portal, or all" -- "$pw" catalog --vantage admin
printf '[portwatch]\nvantage = sso, tracking\n[biztalk]\nsso_database = sql01\n' >"$tmp/sso.ini"
"$pw" catalog -c "$tmp/sso.ini" --format json >"$tmp/sso.json"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [v["vantage"] for v in d["vantages"]] == ["tracking", "sso"], d' "$tmp/sso.json"
then pass=$((pass + 1)); else echo "FAIL: catalog -c takes the configuration's vantages"; fail=$((fail + 1)); fi
# config-check notes the roles the vantages need and the file leaves unset
expect 0 "note: [biztalk] master_secret_server is not set, so the rows of Master secret server (master_secret_server) are not watched: tracking rows 16-17; sso rows 2-3;" -- "$pw" config-check -c "$tmp/sso.ini"

# config-check: the shipped example is valid and its plan is printed
expect 0 "total: 1 host, 206 targets (1 range), 6 distinct port profiles" -- "$pw" config-check -c "$src/packaging/portwatch.ini"
expect 0 "50000-50200  reachable" -- "$pw" config-check -c "$src/packaging/portwatch.ini"

# a file saved by Notepad: BOM and CRLF
printf '\357\273\277[biztalk]\r\nmanagement_database = sql01\r\n' >"$tmp/notepad.ini"
expect 0 "sql01  (203 ports)" -- "$pw" config-check -c "$tmp/notepad.ini"

# every problem, with file:line, exit 2
printf '[portwatch]\nintervl = 30s\ntimeout = 9\n[biztalk]\nmessagebox_database = a, A\n' >"$tmp/bad.ini"
expect 2 "bad.ini:2: [portwatch] intervl: unknown key; did you mean 'interval'?" -- "$pw" config-check -c "$tmp/bad.ini"
expect 2 "bad.ini:3: [portwatch] timeout: '9' has a number without a unit" -- "$pw" config-check -c "$tmp/bad.ini"
expect 2 "bad.ini:5: [biztalk] messagebox_database: host 'A' is listed twice" -- "$pw" config-check -c "$tmp/bad.ini"
expect 2 "3 problems in" -- "$pw" config-check -c "$tmp/bad.ini"
expect 2 "cannot open" -- "$pw" config-check -c "$tmp/missing.ini"
printf '[portwatch]\n' >"$tmp/empty.ini"
expect 2 "nothing to watch" -- "$pw" config-check -c "$tmp/empty.ini"

# ad hoc targets: argument errors are usage errors
expect 2 "-p needs at least one HOST argument" -- "$pw" check -p 135
expect 2 "hosts given without -p PORTS" -- "$pw" check 127.0.0.1
expect 2 "port 0 is not a usable port" -- "$pw" check -p 0 127.0.0.1
expect 2 "--expect 'open' is not allowed; use listening or reachable" -- "$pw" check -p 1 --expect open 127.0.0.1
expect 2 "--timeout: '1' has a number without a unit" -- "$pw" check -p 1 --timeout 1 127.0.0.1

# ad hoc: --protocol goes with -p and takes [check NAME] protocol's choices
expect 2 "portwatch check: --protocol 'frob' is not allowed; use one of auto, none, tds, rpc, smb, http" -- "$pw" check -p 1 --protocol frob 127.0.0.1
expect 2 "portwatch check: --protocol goes with -p PORTS HOST..." -- "$pw" check --protocol tds
expect 2 "portwatch check: --expect goes with -p PORTS HOST..." -- "$pw" check --expect reachable
# --interval alone fits the timeout to it; both given must fit
expect 2 "portwatch run: the timeout (2s) must be shorter than the interval (1s); give a shorter --timeout or a longer --interval" -- "$pw" run --interval 1s --timeout 2s -p 1 127.0.0.1

# no -c and no system-wide file: say so, and what to give
if [ ! -e /etc/portwatch/portwatch.ini ]; then
    expect 2 "portwatch check: no configuration: -c was not given and /etc/portwatch/portwatch.ini does not exist; give one with -c FILE (start from the example, packaging/portwatch.ini in the source tree), or probe ports without one: -p PORTS HOST..." -- "$pw" check
else
    expect 0 "/etc/portwatch/portwatch.ini: OK" -- "$pw" config-check
fi

# config-check: where a relative database goes; a directory it cannot write
mkdir "$tmp/ro" "$tmp/cwd"
chmod 755 "$tmp"
chmod 555 "$tmp/ro"
printf '[portwatch]\ndatabase = %s/ro/x.db\n[check a]\nhosts = 127.0.0.1\nports = 1\n' "$tmp" >"$tmp/ro.ini"
printf '[portwatch]\ndatabase = rel.db\n[check a]\nhosts = 127.0.0.1\nports = 1\n' >"$tmp/rel.ini"
chmod 644 "$tmp/ro.ini"
expect 0 "note: database rel.db is relative to the working directory: the history goes to $tmp/cwd/rel.db" -- \
    sh -c 'cd "$1/cwd" && exec "$2" config-check -c ../rel.ini' sh "$tmp" "$pw"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    expect 2 "portwatch config-check: database $tmp/ro/x.db: cannot create files in its directory $tmp/ro: permission denied (EACCES); portwatch runs as user 'nobody' (uid 65534) here: give that user write access to $tmp/ro (SQLite writes its journal beside the file), or set database to a file in a directory it can write" -- \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$pw" config-check -c "$tmp/ro.ini"
    expect 0 "$tmp/ro.ini: OK" -- "$pw" config-check -c "$tmp/ro.ini" # root may write there
fi
printf '[portwatch]\ndatabase = %s/none/x.db\n[check a]\nhosts = 127.0.0.1\nports = 1\n' "$tmp" >"$tmp/none.ini"
expect 0 "note: database $tmp/none/x.db: its directory $tmp/none does not exist (yet); \`portwatch run\` fails unless it is created first" -- "$pw" config-check -c "$tmp/none.ini"

# check: a real listener passes, a port nothing listens on fails with its cause
# (the closed port stays out of the catalog's RPC range, 50000-50200, where
# ad hoc ports are expected only reachable)
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
c = socket.socket(); c.bind(("127.0.0.1", 0))
while 50000 <= c.getsockname()[1] <= 50200:
    c.close(); c = socket.socket(); c.bind(("127.0.0.1", 0))
print(s.getsockname()[1], c.getsockname()[1], flush=True); time.sleep(60)' >"$tmp/ports" &
lpid=$!
i=0; while [ ! -s "$tmp/ports" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
read -r open_port closed_port <"$tmp/ports"
expect 0 "listening  OK    open" -- "$pw" check -p "$open_port" 127.0.0.1
expect 1 "listening  FAIL  closed" -- "$pw" check -p "$open_port,$closed_port" 127.0.0.1
expect 0 "reachable  OK    closed" -- "$pw" check -p "$closed_port" --expect reachable 127.0.0.1
expect 1 '"state": "closed"' -- "$pw" check -p "$closed_port" --format json 127.0.0.1
expect 1 "dns_error" -- "$pw" check -p 80 --timeout 300ms no-such-host.invalid
printf '[check a]\nhosts = 127.0.0.1\nports = %s\n[check b]\nhosts = localhost\nports = %s\n' \
    "$open_port" "$closed_port" >"$tmp/two.ini"
expect 0 "1 target: 1 ok" -- "$pw" check -c "$tmp/two.ini" --role a
expect 1 "1 target: 0 ok, 1 failing" -- "$pw" check -c "$tmp/two.ini" --host LOCALHOST
expect 2 "no target matches --host nohost" -- "$pw" check -c "$tmp/two.ini" --host nohost
# ad hoc ports are expected as the catalog expects them: the RPC range
# reachable (a refusal passes), any other port listening
expect 0 "50000-50001  reachable  OK" -- "$pw" check -p 50000-50001 127.0.0.1
expect 0 "$open_port        listening  OK    open" -- "$pw" check -p "$open_port" 127.0.0.1
# a failure is said once per host or group, not on each of 201 ports
"$pw" check -p "$closed_port,50000-50200" --expect listening 127.0.0.1 >"$tmp/many.txt" 2>&1
if [ "$(grep -c 'breaks:' "$tmp/many.txt")" = 1 ] && [ "$(wc -l <"$tmp/many.txt")" -le 8 ] &&
   grep -qx "127.0.0.1  (202 ports, all failing: closed)" "$tmp/many.txt" &&
   grep -qx "  50000-50200  listening  FAIL  201 closed" "$tmp/many.txt"; then
    pass=$((pass + 1)); else echo "FAIL: failure said once per host"; cat "$tmp/many.txt"; fail=$((fail + 1)); fi
expect 1 "no-such-host.invalid  (2 ports, all failing: dns_error" -- "$pw" check -p 80,81 --timeout 300ms no-such-host.invalid
kill "$lpid" 2>/dev/null

# the rate cap stretches a rolling sweep that would scan a server, and says so
printf '[biztalk]\nmanagement_database = sql01\nsecondary_rpc_ports = 49152-65535\nrpc_sweep_period = 1m\n' >"$tmp/wide.ini"
expect 0 "warning: [biztalk] rpc_sweep_period: 1m asked, 27m19s used" -- "$pw" config-check -c "$tmp/wide.ini"
expect 2 "rpc_sweep_rate: 0/s is out of range; use 1/s to 1000/s" -- "$pw" config-check -c /dev/stdin <<EOF2
[biztalk]
rpc_sweep_rate = 0
EOF2

# the README's configuration reference is the key table's own output
"$pw" config-check --keys >"$tmp/keys.md"
sed -n '/<!-- BEGIN KEYS -->/,/<!-- END KEYS -->/p' "$src/README.md" | sed '1d;$d' >"$tmp/readme-keys.md"
if cmp -s "$tmp/keys.md" "$tmp/readme-keys.md"; then pass=$((pass + 1)); else
    echo "FAIL: README reference differs from 'portwatch config-check --keys' (regenerate it)"
    diff "$tmp/readme-keys.md" "$tmp/keys.md" | head -10; fail=$((fail + 1)); fi

# each command's usage line names every option its --help lists
for cmd in run check config-check catalog rpc-endpoints version service; do
    "$pw" "$cmd" --help >"$tmp/help.txt"
    usage=$(head -1 "$tmp/help.txt")
    # the short form when there is one: "  -c, --config FILE" -> -c
    for opt in $(sed -n '/^options:/,$s/^  \(-[a-z]\)\{0,1\}[, ]*\(--[a-z-]*\).*/\1 \2/p' "$tmp/help.txt" |
                 awk '$2 != "--help" { print $1 }'); do
        case "$usage" in
        *"$opt "* | *"$opt]"* | *"$opt" | *"$opt|"*) pass=$((pass + 1)) ;;
        *) echo "FAIL: 'portwatch $cmd' usage line lacks $opt: $usage"; fail=$((fail + 1)) ;;
        esac
    done
done

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
