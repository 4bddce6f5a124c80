#!/bin/sh
# Command-line behaviour of the real portwatch binary: exit codes (0 ok,
# 1 a check failed, 2 usage or configuration error) and what it prints.
# Usage: test_cli.sh PORTWATCH SOURCE_ROOT
set -u
pw=$1
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
expect 2 "unknown command 'frob'" -- "$pw" frob
expect 0 "portwatch 0." -- "$pw" version
expect 0 "libuv" -- "$pw" --version
expect 0 "usage: portwatch check" -- "$pw" check --help
expect 0 "usage: portwatch run" -- "$pw" run -h
expect 2 "unknown option '--frob'" -- "$pw" catalog --frob
expect 2 "--format 'xml' is not allowed; use table or json" -- "$pw" catalog --format xml
expect 2 "option --format needs a value (FMT)" -- "$pw" catalog --format
expect 2 "option --keys takes no value" -- "$pw" config-check --keys=1
expect 2 "unexpected argument 'extra'" -- "$pw" version extra
expect 0 "Secondary RPC ports to deploy business rules" -- "$pw" catalog
expect 0 "" -- "$pw" config-check --keys

# catalog JSON: all 19 rows, reasons whole
"$pw" catalog --format json >"$tmp/cat.json"
if python3 - "$tmp/cat.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["rows"]
assert len(rows) == 19, len(rows)
assert [r["row"] for r in rows] == list(range(1, 20))
assert rows[18]["reason"] == "To enable BizTalk application deployment to pack HTTP or Web Service Ports hosted on the IIS Server into an MSI"
assert rows[2]["port"] == "50000-50200" and rows[2]["expect"] == "reachable"
assert all(r["protocol"] == "TCP" for r in rows)
PY
then pass=$((pass + 1)); else echo "FAIL: catalog json"; fail=$((fail + 1)); fi

# config-check: the shipped example is valid and its plan is printed
expect 0 "total: 1 hosts, 206 targets (1 ranges)" -- "$pw" config-check -c "$src/packaging/portwatch.ini"
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

# check: a real listener passes, a port nothing listens on fails with its cause
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
c = socket.socket(); c.bind(("127.0.0.1", 0))
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

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
