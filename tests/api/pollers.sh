#!/bin/sh
# The README's "Generic pollers" section, kept true (suite "api"): the
# curl + jq lines between its `pollers: begin/end` markers run as written
# against a real `portwatch run` (a listener it probes and a port that
# refuses), each checked for its exit status and output; every Zabbix
# JSONPath of the section's table is read from a real health document
# (with jq); and If-None-Match gets 304.
#
#   pollers.sh PORTWATCH README
#
# Exits 77 (skipped) without curl, jq or python3.
set -u
pw=$1
readme=$2
skip() { echo "SKIP: $*"; exit 77; }
for t in curl jq python3; do
    command -v $t >/dev/null 2>&1 || skip "$t not installed (apt-get install $t)"
done
[ -x "$pw" ] || { echo "FAIL: portwatch binary '$pw' not found"; exit 1; }

tmp=$(mktemp -d)
dpid=""
cleanup() { [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# Two free loopback ports: the API's (which is also the target that
# listens) and one nothing listens on.
set -- $(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
port=$1
closed=$2
TOKEN=poller-t0ken-0123456789
PW=http://127.0.0.1:$port
export PW TOKEN
cat >"$tmp/pw.ini" <<INI
[portwatch]
listen = 127.0.0.1:$port
database = $tmp/pw.db
interval = 1s
timeout = 300ms
fail_after = 1
api_token = $TOKEN
[check api]
hosts = 127.0.0.1
ports = $port
[check nothing]
hosts = 127.0.0.1
ports = $closed
INI
"$pw" run -c "$tmp/pw.ini" >"$tmp/log" 2>&1 &
dpid=$!
i=0
until [ "$(curl -sS -H "Authorization: Bearer $TOKEN" "$PW/api/v1/health" 2>/dev/null |
           jq -r .status 2>/dev/null)" = critical ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "FAIL: the daemon never reported the refused port down"; cat "$tmp/log"; exit 1
    fi
    sleep 0.2
done

# and the history has it (the uptime line reads the store)
i=0
until curl -sS -H "Authorization: Bearer $TOKEN" "$PW/api/v1/uptime?by=role&from=-7d" |
      jq -e '.groups[] | select(.key == "nothing") | .uptime_pct != null' >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 50 ] || { echo "FAIL: the history never had the refused port"; exit 1; }
    sleep 0.2
done

# The README's lines, in order, with what each must print here.
sed -n '/<!-- pollers: begin -->/,/<!-- pollers: end -->/p' "$readme" |
    grep -v '^#\|^```\|^<!--' >"$tmp/lines"
n=$(wc -l <"$tmp/lines")
[ "$n" -eq 6 ] && ok "the README has 6 poller lines" || bad "the README has $n poller lines, the test knows 6"
want() { # line number, a grep -x pattern the output must have ('' for none)
    cmd=$(sed -n "$1p" "$tmp/lines")
    if ! out=$(sh -c "$cmd" 2>&1); then bad "line $1 exits non-zero: $cmd: $out"; return; fi
    if [ -z "$2" ]; then
        [ -z "$out" ] && ok "line $1" || bad "line $1 printed '$out'"
    elif printf '%s\n' "$out" | grep -qx -- "$2"; then
        ok "line $1 prints '$2'"
    else
        bad "line $1: '$cmd' printed '$out', not '$2'"
    fi
}
want 1 'critical'
want 2 "127.0.0.1:$closed closed"
want 3 '1'
want 4 '127.0.0.1 1'
want 5 ''
want 6 'nothing [0-9.]*'

# Zabbix: every JSONPath of the table, on the real health document.
curl -sS -H "Authorization: Bearer $TOKEN" "$PW/api/v1/health" >"$tmp/health.json"
curl -sS -H "Authorization: Bearer $TOKEN" "$PW/api/v1/live" >"$tmp/live.json"
paths=$(sed -n '/^## Generic pollers/,/^## Dashboard/p' "$readme" | grep -o 'JSONPath `\$[a-z_.]*`' |
        sed 's/.*`\$\(.*\)`/\1/')
[ -n "$paths" ] || bad "no JSONPath in the README's Zabbix table"
for p in $paths; do
    doc=$tmp/health.json
    [ "$p" = .alive ] && doc=$tmp/live.json
    v=$(jq -c "$p" "$doc")
    [ "$v" != null ] && ok "JSONPath \$$p = $v" || bad "JSONPath \$$p is not in the document"
done
[ "$(jq -r .down "$tmp/health.json")" = 1 ] && ok "\$.down is 1" || bad "\$.down is not 1"

# If-None-Match with the answer's own ETag: 304 (a document that does not
# change between the two requests).
tag=$(curl -sS -D - -o /dev/null -H "Authorization: Bearer $TOKEN" "$PW/api/v1/openapi.json" |
      tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
       -H "If-None-Match: $tag" "$PW/api/v1/openapi.json")
[ -n "$tag" ] && [ "$code" = 304 ] && ok "If-None-Match $tag: 304" || bad "If-None-Match '$tag': $code"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
