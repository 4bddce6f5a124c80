#!/usr/bin/env python3
"""End to end: the real `portwatch run` daemon against real loopback sockets.

Starts listeners on loopback, writes a configuration naming them plus a port
nothing listens on, runs the daemon, and checks through its HTTP API that the
open port is up and the closed one is down with the state `closed`; then
stops it with SIGTERM and checks it exits 0 within 5 s, leaving a database
that passes integrity_check and holds the results. Then starts it again on
the same database and checks the history is still there.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import urllib.error

from pwtest import free_port, get, wait_for

PW = sys.argv[1]


def main():
    tmp = tempfile.mkdtemp(prefix="pw-run-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    open_port = listener.getsockname()[1]
    closed_port = free_port()
    api_port = free_port()
    db = os.path.join(tmp, "pw.db")
    conf = os.path.join(tmp, "pw.ini")
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api_port}
database = {db}
interval = 1s
timeout = 500ms
fail_after = 1

[check up]
hosts = 127.0.0.1
ports = {open_port}
reason = something must listen here

[check down]
hosts = 127.0.0.1
ports = {closed_port}
reason = nothing listens here
""")
    base = f"http://127.0.0.1:{api_port}"
    passed = 0

    def start():
        return subprocess.Popen([PW, "run", "-c", conf], stderr=subprocess.PIPE, text=True)

    def stop(p):
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            raise SystemExit("FAIL: daemon did not stop within 5 s of SIGTERM")
        err = p.stderr.read()
        if rc != 0:
            raise SystemExit(f"FAIL: daemon exited {rc}\n{err}")
        return time.time() - t0, err

    p = start()
    try:
        def status():
            code, body = get(base + "/api/v1/status")
            if code != 200:
                return None
            doc = json.loads(body)
            ts = {t["port"]: t for t in doc["targets"]}
            if ts[open_port]["status"] == "up" and ts[closed_port]["status"] == "down":
                return ts
            return None
        ts = wait_for(status, 15, "both targets to get a status")
        assert ts[closed_port]["state"] == "closed", ts[closed_port]
        assert ts[open_port]["state"] == "open", ts[open_port]
        passed += 1
        code, body = get(base + "/api/v1/health")
        assert code == 503, code
        assert str(closed_port).encode() in body, body
        passed += 1
    finally:
        took, err = stop(p)
    print(f"stopped in {took:.2f}s")
    passed += 1

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = con.execute("SELECT count(*) FROM targets").fetchone()[0]
    assert n == 2, n
    con.close()
    passed += 1

    # restart on the same database: the outage is still known
    p = start()
    try:
        def outages():
            code, body = get(base + "/api/v1/outages")
            if code != 200:
                return None
            doc = json.loads(body)
            items = doc.get("outages", doc if isinstance(doc, list) else [])
            return items or None
        items = wait_for(outages, 15, "the outage from the first run")
        assert any(o["port"] == closed_port for o in items), items
        passed += 1
    finally:
        stop(p)
    listener.close()
    print(f"run: {passed} passed, 0 failed")


if __name__ == "__main__":
    main()
