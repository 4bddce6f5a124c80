#!/usr/bin/env python3
"""End to end: the daemon's RPC endpoint watch against a real Samba.

Run by tests/probes/proto.sh inside the network namespace it creates, with
samba-dcerpcd answering the endpoint mapper on 127.0.0.1:135 and handing
out dynamic ports from 50000-50200, and rpcclient's own `epmlookup` of it in
$PW_PROTO_WORK/rpcclient-epm.txt. Runs the real `portwatch run` with
127.0.0.1 as a processing server (so 135 is in the plan), epm_every = 1,
interval 1s, and a firewall range (secondary_rpc_ports) of the single port
50000, narrower than Samba's. Then, through the HTTP API:
  - /api/v1/rpc/endpoints lists exactly the TCP endpoints rpcclient saw;
  - every registered TCP port is a target in /api/v1/status, expected
    listening and up, and the endpoints point at it (target_id, status);
  - registered ports other than 50000 and 135 are flagged outside_range,
    50000 is not, and the log warns about them;
  - /metrics has a portwatch_rpc_endpoint_outside_range series per flagged port;
  - SIGHUP (a reload from the file) keeps the registered ports as targets;
  - ?host= filters, an unknown host is 404;
and SIGTERM stops the daemon with exit 0.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from pwtest import free_port, get, wait_for

PW = sys.argv[1]


def rpcclient_tcp():
    """{(uuid, port, major)} of rpcclient's ncacn_ip_tcp lines."""
    path = os.path.join(os.environ["PW_PROTO_WORK"], "rpcclient-epm.txt")
    out = set()
    with open(path) as f:
        for line in f:
            m = re.search(r"ncacn_ip_tcp:[^\[]*\[(\d+),abstract_syntax=([0-9a-f-]{36})/0x([0-9a-f]+)",
                          line)
            if m:
                out.add((m.group(2), int(m.group(1)), int(m.group(3), 16)))
    return out


def main():
    if not os.environ.get("PW_PROTO_RPCCLIENT"):
        print("skip: needs rpcclient (smbclient) to compare with")
        return 77
    want = rpcclient_tcp()
    assert len(want) >= 3, f"rpcclient saw too few TCP endpoints: {want}"
    tmp = tempfile.mkdtemp(prefix="pw-epm-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    api_port = s.getsockname()[1]
    s.close()
    conf = os.path.join(tmp, "pw.ini")
    log = os.path.join(tmp, "pw.log")
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api_port}
database = {tmp}/pw.db
interval = 1s
timeout = 500ms
fail_after = 1
epm_every = 1
log_level = debug

[biztalk]
processing_servers = 127.0.0.1
secondary_rpc_ports = 50000
""")
    base = f"http://127.0.0.1:{api_port}"
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    passed = 0
    try:
        def read():
            if p.poll() is not None:
                raise SystemExit(f"FAIL: the daemon exited {p.returncode}")
            code, body = get(base + "/api/v1/rpc/endpoints")
            if code != 200:
                return None
            hosts = json.loads(body)["hosts"]
            if len(hosts) == 1 and hosts[0]["looked_up"] and hosts[0]["endpoints"]:
                return hosts[0]
            return None
        h = wait_for(read, 20, "the endpoint mapper to be read")
        assert h["host"] == "127.0.0.1", h
        assert h["error"] is None, h["error"]
        have = {(e["interface"], e["port"], int(e["version"].split(".")[0]))
                for e in h["endpoints"] if e["protocol"] == "ncacn_ip_tcp"}
        assert have == want, f"daemon {sorted(have)}\nrpcclient {sorted(want)}"
        for e in h["endpoints"]:
            assert e["first_seen"] and e["last_seen"], e
        passed += 1

        registered = {port for (_, port, _) in want}
        dynamic = registered - {135}

        def targets_up():
            code, body = get(base + "/api/v1/status")
            if code != 200:
                return None
            ts = {t["port"]: t for t in json.loads(body)["targets"]}
            if all(port in ts and ts[port]["status"] == "up" for port in registered):
                return ts
            return None
        ts = wait_for(targets_up, 30, f"registered ports {sorted(registered)} to be targets and up")
        for port in dynamic:
            assert ts[port]["expect"] == "listening", ts[port]
            if port != 50000:
                assert "rpc-registered" in ts[port]["roles"], ts[port]
        passed += 1

        # The endpoints now point at those targets, as the status does.
        def linked():
            code, body = get(base + "/api/v1/rpc/endpoints?host=127.0.0.1")
            eps = [e for e in json.loads(body)["hosts"][0]["endpoints"]
                   if e["protocol"] == "ncacn_ip_tcp"]
            if all(e["target_id"] is not None and e["status"] == "up" for e in eps):
                return eps
            return None
        eps = wait_for(linked, 15, "endpoints to carry their target's id and status")
        for e in eps:
            assert e["target_id"] == ts[e["port"]]["id"], (e, ts[e["port"]])
            assert e["outside_range"] == (e["port"] not in (135, 50000)), e
        outside = {e["port"] for e in eps if e["outside_range"]}
        assert outside, f"no registered port outside 50000 among {sorted(registered)}"
        for port in outside:
            code, body = get(base + f"/api/v1/targets/{ts[port]['id']}")
            assert code == 200 and b"registered with the endpoint mapper: " in body, body
        passed += 1

        with open(log) as f:
            text = f.read()
        for port in outside:
            assert f"TCP {port}, outside the firewall range" in text, (port, text[-2000:])
        assert "plan rebuilt for the ports registered" in text, text[-2000:]
        passed += 1

        code, body = get(base + "/metrics")
        assert code == 200, code
        series = set(re.findall(r'^portwatch_rpc_endpoint_outside_range\{host="127\.0\.0\.1",'
                                r'port="(\d+)",interface="[^"]+"\} 1$', body.decode(), re.M))
        assert {int(x) for x in series} == outside, (series, outside)
        passed += 1

        # A reload from the file keeps the registered ports (and their ids).
        p.send_signal(signal.SIGHUP)

        def reloaded():
            with open(log) as f:
                return "configuration reloaded" in f.read()
        wait_for(reloaded, 10, "the reload")
        code, body = get(base + "/api/v1/status")
        after = {t["port"]: t["id"] for t in json.loads(body)["targets"]}
        for port in registered:
            assert after.get(port) == ts[port]["id"], (port, after, ts[port])
        passed += 1

        code, _ = get(base + "/api/v1/rpc/endpoints?host=nosuchhost")
        assert code == 404, code
        code, _ = get(base + "/api/v1/rpc/endpoints?colour=red")
        assert code == 400, code
        passed += 1
    except BaseException:
        with open(log) as f:
            sys.stderr.write("daemon log (end):\n" + f.read()[-4000:])
        raise
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            raise SystemExit("FAIL: daemon did not stop within 10 s of SIGTERM")
    assert rc == 0, f"daemon exited {rc}"
    passed += 1
    print(f"{passed} checks passed; registered TCP ports {sorted(registered)}, outside the range {sorted(outside)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
