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

Then persistence: the daemon restarts on the same database with the mapper
made unreachable (an nftables rule in this namespace drops SYNs to
127.0.0.1:135; timeout 10s, so the live read hangs for 20 s) and must list,
before any live read, the registrations of the stored read: same endpoints,
same first_seen, looked_up the stored read's time, error null, and the
registered ports already targets of the first plan (no plan rebuild). Once
the rule goes, the live read replaces the stored one and first_seen still
holds.

Then cancellation: a listener on 127.0.0.2:135 that accepts and never
answers (timeout 10s: the read would hang 20 s); once the watch's bind has
reached it, SIGTERM must stop the daemon within 1 s, exit 0.
"""
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pwtest import free_port, get, stop, wait_for

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


def config(path, api_port, db, host, interval, timeout):
    with open(path, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api_port}
database = {db}
interval = {interval}
timeout = {timeout}
fail_after = 1
epm_every = 1
log_level = debug

[biztalk]
processing_servers = {host}
secondary_rpc_ports = 50000
""")


def read_log(log):
    try:
        with open(log) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def endpoints(base, p):
    """The single host of /api/v1/rpc/endpoints once it lists endpoints."""
    if p.poll() is not None:
        raise SystemExit(f"FAIL: the daemon exited {p.returncode}")
    code, body = get(base + "/api/v1/rpc/endpoints")
    if code != 200:
        return None
    hosts = json.loads(body)["hosts"]
    if len(hosts) == 1 and hosts[0]["looked_up"] and hosts[0]["endpoints"]:
        return hosts[0]
    return None


def keyed(h):
    """{(protocol, interface, version, port, endpoint): endpoint} of a host."""
    return {(e["protocol"], e["interface"], e["version"], e["port"], e["endpoint"]): e
            for e in h["endpoints"]}


def nft(*args):
    subprocess.run(["nft", *args], check=True)


def ms(t):
    """Milliseconds since the epoch of the API's "2024-05-01T10:00:00.123Z"."""
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


def restart_from_store(tmp, db, want, before, stopped_ms):
    """The second run: the stored read first, then the live one. `before`
    is the list shortly before the first run stopped (at stopped_ms)."""
    api_port = free_port()
    conf = os.path.join(tmp, "pw2.ini")
    log = os.path.join(tmp, "pw2.log")
    config(conf, api_port, db, "127.0.0.1", "20s", "10s")
    base = f"http://127.0.0.1:{api_port}"
    # Only in this test's namespace (proto.sh's): the mapper stops answering.
    nft("add", "table", "inet", "pwepmtest")
    nft("add", "chain", "inet", "pwepmtest", "out",
        "{ type filter hook output priority 0 ; }")
    nft("add", "rule", "inet", "pwepmtest", "out",
        "ip", "daddr", "127.0.0.1", "tcp", "dport", "135", "drop")
    dropped = True
    t_start = time.monotonic()
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    checks = 0
    try:
        h = wait_for(lambda: endpoints(base, p), 5, "the stored endpoint list")
        # No live read can have completed: its connect hangs for 20 s.
        assert time.monotonic() - t_start < 15
        assert h["error"] is None, h
        assert h["from_store"] is True, h
        stored = h["looked_up"]
        assert ms(before["looked_up"]) <= ms(stored) <= stopped_ms, (stored, before["looked_up"])
        have = {(e["interface"], e["port"], int(e["version"].split(".")[0]))
                for e in h["endpoints"] if e["protocol"] == "ncacn_ip_tcp"}
        assert have == want, f"stored {sorted(have)}\nrpcclient {sorted(want)}"
        old, now = keyed(before), keyed(h)
        assert set(now) == set(old), (sorted(set(now) ^ set(old)))
        for k, e in now.items():
            assert e["first_seen"] == old[k]["first_seen"], (k, e, old[k])
            assert e["last_seen"] == stored, (k, e, stored)  # seen in that read
        text = read_log(log)
        assert "from the stored read" in text, text[-2000:]
        for e in h["endpoints"]:
            if e["protocol"] == "ncacn_ip_tcp":
                assert e["outside_range"] == (e["port"] not in (135, 50000)), e
                if e["outside_range"]:
                    assert (f"TCP {e['port']}, outside the firewall range (secondary_rpc_ports) "
                            "at its stored read") in text, (e, text[-2000:])
        checks += 1

        # The registered ports are targets of the first plan, not of a
        # rebuild after a read.
        registered = {port for (_, port, _) in want} - {135}

        def targets():
            code, body = get(base + "/api/v1/status")
            if code != 200:
                return None
            ports = {t["port"] for t in json.loads(body)["targets"]}
            return ports if registered <= ports else None
        wait_for(targets, 5, f"registered ports {sorted(registered)} in the first plan")
        assert "plan rebuilt for the ports registered" not in read_log(log)
        code, body = get(base + "/api/v1/rpc/endpoints")
        assert json.loads(body)["hosts"][0]["looked_up"] == stored
        checks += 1

        # The mapper answers again: the live read (its SYN retransmitted)
        # replaces the stored one; first_seen holds.
        nft("delete", "table", "inet", "pwepmtest")
        dropped = False

        def live():
            h = endpoints(base, p)
            return h if h and h["looked_up"] != stored and not h["error"] else None
        h = wait_for(live, 25, "the first live read after the restart")
        assert h["from_store"] is False, h
        now = keyed(h)
        kept = set(now) & set(old)
        assert kept, "no registration of the stored read is still present"
        for k in kept:
            assert now[k]["first_seen"] == old[k]["first_seen"], (k, now[k], old[k])
            assert now[k]["last_seen"] == h["looked_up"], (k, now[k], h["looked_up"])
        checks += 1
    except BaseException:
        sys.stderr.write("second daemon's log (end):\n" + read_log(log)[-4000:])
        raise
    finally:
        if dropped:
            subprocess.run(["nft", "delete", "table", "inet", "pwepmtest"])
        rc, took = stop(p, 10)
    assert rc == 0, f"daemon exited {rc}"
    return checks + 1


def silent_stop(tmp):
    """The third run: a mapper that accepts and never answers; the stop
    cancels the read instead of waiting out its 20 s."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.2", 135))
    srv.listen(16)
    got = []  # bytes received per accepted connection
    closed = []
    lock = threading.Lock()

    def serve_one(c, i):
        while True:
            try:
                b = c.recv(4096)
            except OSError:
                break
            if not b:
                break
            with lock:
                got[i] += len(b)
        with lock:
            closed.append(i)
        c.close()

    def accept():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with lock:
                got.append(0)
                i = len(got) - 1
            threading.Thread(target=serve_one, args=(c, i), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()

    api_port = free_port()
    conf = os.path.join(tmp, "pw3.ini")
    log = os.path.join(tmp, "pw3.log")
    config(conf, api_port, os.path.join(tmp, "pw3.db"), "127.0.0.2", "20s", "10s")
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    try:
        def bound():
            if p.poll() is not None:
                raise SystemExit(f"FAIL: the daemon exited {p.returncode}")
            with lock:
                return [i for i, n in enumerate(got) if n > 0]
        conns = wait_for(bound, 10, "the watch's bind to reach the silent mapper")
        time.sleep(0.3)  # the read is now waiting for a bind_ack
        with lock:
            assert not set(conns) & set(closed), "the silent mapper's connection closed early"
    except BaseException:
        p.kill()
        p.wait()
        sys.stderr.write("third daemon's log (end):\n" + read_log(log)[-4000:])
        raise
    rc, took = stop(p, 10)
    srv.close()
    if took >= 1.0:
        sys.stderr.write(read_log(log)[-3000:])
    assert took < 1.0, f"the daemon took {took:.2f} s to stop with a mapper read in flight"
    assert rc == 0, f"daemon exited {rc}"
    with lock:
        assert set(conns) <= set(closed), "the mapper read's connection was left open"
    print(f"stopped in {took * 1000:.0f} ms with a mapper read hanging (timeout 20 s)")
    return 1


def main():
    if not os.environ.get("PW_PROTO_RPCCLIENT"):
        print("skip: needs rpcclient (smbclient) to compare with")
        return 77
    if not shutil.which("nft"):
        print("skip: needs nft (nftables) to make the mapper unreachable")
        return 77
    want = rpcclient_tcp()
    assert len(want) >= 3, f"rpcclient saw too few TCP endpoints: {want}"
    tmp = tempfile.mkdtemp(prefix="pw-epm-")
    api_port = free_port()
    conf = os.path.join(tmp, "pw.ini")
    log = os.path.join(tmp, "pw.log")
    db = os.path.join(tmp, "pw.db")
    config(conf, api_port, db, "127.0.0.1", "1s", "500ms")
    base = f"http://127.0.0.1:{api_port}"
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    passed = 0
    try:
        h = wait_for(lambda: endpoints(base, p), 20, "the endpoint mapper to be read")
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
                                r'port="(\d+)",interface="[^"]+",instance_name="[^"]+",'
                                r'vantage="[^"]+"\} 1$', body.decode(), re.M))
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
        sys.stderr.write("daemon log (end):\n" + read_log(log)[-4000:])
        raise
    finally:
        # The list shortly before the stop. A read may still complete before
        # the stop (they are 1 s apart): the stored one is this or later.
        try:
            before = endpoints(base, p)
        finally:
            rc, _ = stop(p, 10)
            stopped_ms = time.time() * 1000
    assert rc == 0, f"daemon exited {rc}"
    passed += 1
    passed += restart_from_store(tmp, db, want, before, stopped_ms)
    passed += silent_stop(tmp)
    print(f"{passed} checks passed; registered TCP ports {sorted(registered)}, outside the range {sorted(outside)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
