#!/bin/sh
# `check -p` against real servers, run by tests/probes/proto.sh inside its
# network namespace (Samba's endpoint mapper on 135 with its dynamic RPC
# ports in 50000-50200, smbd on 445, tdspool on 1433, http.server on 1164,
# nginx on $PW_PROTO_NGINX): ad hoc ports are expected and proven as the
# catalog does, and --expect / --protocol override that.
# Usage: proto.sh test_adhoc_proto.sh PORTWATCH
set -u
pw=$1
out=${PW_PROTO_WORK:-/tmp}/adhoc.out
pass=0
fail=0

# run CODE CMD...: runs CMD into $out and checks its exit code.
run() {
    code=$1
    shift
    "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        echo "FAIL: $* -> exit $rc, expected $code"; cat "$out"; fail=$((fail + 1)); return 1
    fi
    pass=$((pass + 1))
}
# has PATTERN: the last output holds PATTERN (an extended regular expression).
has() {
    if grep -qE -- "$1" "$out"; then pass=$((pass + 1)); else
        echo "FAIL: output lacks /$1/"; cat "$out"; fail=$((fail + 1)); fi
}

# The README's example: 135 and 445 proven, the refused RPC range passes.
run 0 "$pw" check -p 135,445,1433,50000-50200 127.0.0.1
has '^  135 +listening  OK    open .*verified'
has '^  445 +listening  OK    open .*verified: SMB '
has '^  1433 +listening  OK    open .*verified'
has '^  50000-50200  reachable  OK    [0-9]+ open, [0-9]+ closed$'
has '^Total: 1 host, 204 targets: 204 ok, 0 failing'

# Every port's expectation and proof, as a script reads them.
run 0 "$pw" check -p 135,445,1164,1433,50000-50200 --format json 127.0.0.1
if python3 - "$out" <<'PY'
import json, sys
by_port = {t["port"]: t for t in json.load(open(sys.argv[1]))}
for p in (135, 445, 1164, 1433):
    assert by_port[p]["expect"] == "listening", by_port[p]
    assert by_port[p]["verify"] == "verified", by_port[p]
rng = [by_port[p] for p in range(50000, 50201)]
assert all(t["expect"] == "reachable" and t["ok"] for t in rng)
assert any(t["state"] == "open" for t in rng) and any(t["state"] == "closed" for t in rng)
assert all(t["verify"] in (None, "off") for t in rng), [t["verify"] for t in rng]
PY
then pass=$((pass + 1)); else echo "FAIL: check -p json"; fail=$((fail + 1)); fi

# --expect overrides the catalog: the range must listen now, and fails.
run 1 "$pw" check -p 50000-50200 --expect listening 127.0.0.1
has '^  50000-50200  listening  FAIL  [0-9]+ open, [0-9]+ closed$'
# --protocol overrides the proof.
run 0 "$pw" check -p 1164 --protocol none 127.0.0.1
has '^  1164 +listening  OK    open  [0-9.]+ ms$'
# A port the catalog does not know: listening, proven only when asked.
if [ -n "${PW_PROTO_NGINX:-}" ]; then
    run 0 "$pw" check -p "$PW_PROTO_NGINX" 127.0.0.1
    has "^  $PW_PROTO_NGINX +listening  OK    open  [0-9.]+ ms$"
    run 0 "$pw" check -p "$PW_PROTO_NGINX" --protocol http 127.0.0.1
    has "^  $PW_PROTO_NGINX +listening  OK    open .*verified: .*nginx"
    # TDS asked of an HTTP server: it answers 400, a mismatch, which fails.
    run 1 "$pw" check -p "$PW_PROTO_NGINX" --protocol tds 127.0.0.1
    has "^  $PW_PROTO_NGINX +listening  FAIL  open .*mismatch"
fi

echo "cli-adhoc-proto: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
