#!/usr/bin/env python3
"""A pause of the daemon is a monitoring gap whatever its length (issue 15):
SIGSTOP for 8 s, then SIGCONT, against the real daemon:

  - /api/v1/uptime counts those 8 s as not monitored (to within the 1 s
    heartbeat and the 5 s gap rule), not as up;
  - the log says, once, from when to when the daemon did not run, and
    why: paused (it used no CPU while its clocks moved on);
  - the database keeps that cause with the gap (runs.end_reason 4, paused),
    and /api/v1/gaps lists the gap with it.
"""
import datetime
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

from pwtest import get, ok, stop, summary, wait_for, write_config

PW = sys.argv[1]


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main():
    tmp = tempfile.mkdtemp(prefix="pwgap-")
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(64)
    log = os.path.join(tmp, "pw.log")
    conf, base = write_config(tmp, f"""interval = 1s
timeout = 200ms

[check web]
hosts = 127.0.0.1
ports = {lsn.getsockname()[1]}
reason = Gap test
""")
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    try:
        wait_for(lambda: get(base + "/api/v1/status")[0] == 200, 10, "the API")
        started = time.time()
        time.sleep(3)
        p.send_signal(signal.SIGSTOP)
        time.sleep(8)
        p.send_signal(signal.SIGCONT)
        time.sleep(4)

        def uptime():
            code, body = get(f"{base}/api/v1/uptime?by=farm&from={rfc3339(started)}&to=now")
            g = json.loads(body)["groups"][0] if code == 200 else None
            return g if g and g["not_monitored_ms"] > 0 else None
        g = wait_for(uptime, 5, "not monitored time in /api/v1/uptime")
        code, body = get(f"{base}/api/v1/gaps?from={rfc3339(started)}")
        gaps_doc = json.loads(body)
        assert code == 200, (code, body)
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
        lsn.close()
    assert rc == 0, rc
    assert 7000 <= g["not_monitored_ms"] <= 10500, g  # 8 s, give or take a beat
    assert g["down_ms"] == 0, g
    ok(f"an 8 s SIGSTOP is {g['not_monitored_ms']} ms not monitored, not up")
    gl = gaps_doc["gaps"]
    assert len(gl) == 1 and gl[0]["cause"] == "paused" and gl[0]["to"], gaps_doc
    # The daemon's gap runs from its last beat to its first after; the
    # target's own time not monitored (what uptime counts) can run on until
    # its first probe after the pause: at most one interval and its timeout
    # more (1 s + 200 ms).
    lag = g["not_monitored_ms"] - gl[0]["duration_ms"]
    assert -1000 <= lag <= 1200, (lag, gaps_doc, g)
    assert gaps_doc["not_monitored_ms"] == gl[0]["duration_ms"], gaps_doc
    ok(f"/api/v1/gaps lists it: {gl[0]['duration_ms']} ms, cause paused")
    with open(log) as f:
        gaps = [l for l in f if "monitoring gap: from " in l]
    assert len(gaps) == 1 and "paused: portwatch did not run" in gaps[0], gaps
    ok("the log says once when the daemon did not run, and that it was paused")
    db = sqlite3.connect(f"file:{tmp}/pw.db?mode=ro", uri=True)
    ends = db.execute("SELECT end_reason FROM runs ORDER BY id").fetchall()
    assert ends == [(4,), (1,)], ends  # PW_RUN_PAUSED, then PW_RUN_CLEAN at the stop
    ok("the database keeps the gap's cause: paused")
    summary("gap")


if __name__ == "__main__":
    main()
