#!/usr/bin/env python3
"""Issue 15, a full disk for a minute, for real: `portwatch run` with its
database on a small tmpfs that the test fills to the last byte for 60 s,
then frees.

4,100 loopback targets (20 hosts 127.0.2.1-20 x 205 refusing ports) every
2 s make 2,050 results a second. The first host's ports flap (the test
listens on them for 3 s, then not for 3 s), so history keeps needing new
pages: a steady farm rewrites pages it already has, and SQLite can go on
committing on a full disk (which is right, and no test of a full disk).
While nothing can be written, results wait in
the store's queue (65,536 results: 32 s of this farm); after that they are
dropped, and the stretch they covered must count as not monitored. The
test asserts that:
  - health says storage is degraded while the disk is full, and ok after;
  - the log says "results are dropped from now on" once when the queue
    fills and "results are written again" once when space returns (no
    line per failed write, no line per second), with the history store
    degraded/recovered pair;
  - the daemon keeps probing and answering the whole time;
  - not-monitored time over the run (GET /api/v1/uptime?by=farm) equals,
    within 3 s, the stretch between the first dropped result and the
    first written again, and that stretch is the time until writing
    resumed (the minute and the writer's retry backoff of up to 5 s) less
    the queue's 32 s, within 6 s;
  - the database keeps the gap's cause: storage (runs.end_reason 7).
Needs root (mount); exits 77 without it.
"""
import json
import os
import re
import subprocess
import sys
import socket
import sqlite3
import tempfile
import threading
import time

from pwtest import get, stop, wait_for, write_config

PW = sys.argv[1]
HOSTS = [f"127.0.2.{i}" for i in range(1, 21)]
NPORTS = 205
INTERVAL_S = 2
QUEUE = 65536  # pw_store_options.queue_max's default
FULL_S = 60
RATE = len(HOSTS) * NPORTS / INTERVAL_S


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def health(api):
    code, body = get(api + "/api/v1/health")
    return json.loads(body) if body else {}, code


def storage_state(api):
    return health(api)[0].get("storage", {}).get("state")


def fill(path):
    """Writes path until the file system has no byte left."""
    with open(path, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
        for size in (4096, 512, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError:
                    break


def flap(host, stop_flag):
    """Listens on host's NPORTS ports for 3 s, then not for 3 s, until
    stop_flag is set."""
    while not stop_flag.is_set():
        socks = []
        for port in range(20000, 20000 + NPORTS):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(16)
            socks.append(s)
        stop_flag.wait(3)
        for s in socks:
            s.close()
        stop_flag.wait(3)


def main():
    if os.geteuid() != 0:
        skip("mounting a tmpfs needs root")
    tmp = tempfile.mkdtemp(prefix="pw-diskfull-")
    mnt = os.path.join(tmp, "disk")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt]).returncode:
        skip("cannot mount a tmpfs here")
    p = None
    try:
        conf, api = write_config(tmp, f"""interval = {INTERVAL_S}s
timeout = 1s

[check farm]
hosts = {", ".join(HOSTS)}
ports = 20000-{20000 + NPORTS - 1}
""", database=os.path.join(mnt, "pw.db"))
        errlog = open(os.path.join(tmp, "stderr.log"), "w+")
        flapping = threading.Event()
        threading.Thread(target=flap, args=(HOSTS[0], flapping), daemon=True).start()
        p = subprocess.Popen([PW, "run", "-c", conf], stderr=errlog)
        started = time.time()
        wait_for(lambda: storage_state(api) == "ok", 20, "storage to be ok at start")
        time.sleep(6)  # a few sweeps written

        filler = os.path.join(mnt, "filler")
        full_at = time.time()
        fill(filler)
        wait_for(lambda: storage_state(api) == "degraded", 55,
                 "health to say storage degraded on the full disk")
        print(f"ok - storage degraded {time.time() - full_at:.1f} s after the disk filled")
        while time.time() < full_at + FULL_S:
            code = health(api)[1]
            if code == 0 or p.poll() is not None:
                raise SystemExit("FAIL: the daemon stopped answering while the disk was full")
            time.sleep(1)
        os.unlink(filler)
        freed_at = time.time()
        wait_for(lambda: storage_state(api) == "ok", 20,
                 "health to say storage ok once space returned")
        recovered_at = time.time()
        print(f"ok - storage ok {recovered_at - freed_at:.1f} s after space returned")
        time.sleep(2 * INTERVAL_S)

        span = int(time.time() - started) + 5
        code, body = get(f"{api}/api/v1/uptime?by=farm&from=-{span}s")
        if code != 200:
            raise SystemExit(f"FAIL: /api/v1/uptime answered {code}: {body!r}")
        farm = json.loads(body)["groups"][0]
        rc, _ = stop(p, 10)
        p = None
        db = sqlite3.connect(f"file:{mnt}/pw.db?mode=ro", uri=True)
        ends = [e for (e,) in db.execute("SELECT end_reason FROM runs ORDER BY id")]
        db.close()
    finally:
        flapping.set()
        if p is not None and p.poll() is None:
            stop(p, 10)
        subprocess.run(["umount", "-l", mnt])

    errlog.seek(0)
    err = errlog.read()
    if rc != 0:
        raise SystemExit(f"FAIL: the daemon exited {rc}\n{err}")
    counts = {what: err.count(what) for what in (
        "results are dropped from now on", "results are written again",
        "history store degraded", "history store recovered")}
    lines = [l for l in err.splitlines()
             if not any(w in l for w in (" up: ", " down: ", " incident "))]
    if any(n != 1 for n in counts.values()):
        raise SystemExit(f"FAIL: each line once, got {counts}\n{err}")
    if len(lines) > 12:
        raise SystemExit(f"FAIL: {len(lines)} log lines (the flapping host's transitions and incidents aside) "
                         f"for one minute of full disk\n{err}")
    print(f"ok - the log said each of drops start, drops end, degraded, recovered once "
          f"({len(lines)} lines in all, the flapping host's transitions aside)")

    m = re.search(r"results are written again: (\d+) were dropped, and the (\S+) of", err)
    dropped, said = int(m.group(1)), m.group(2)
    hole = parse_duration(said)
    queue_s = QUEUE / RATE
    want = recovered_at - full_at - queue_s
    if abs(hole - want) > 6:
        raise SystemExit(f"FAIL: the dropped stretch was {hole:.0f} s, expected the time until "
                         f"writes resumed less the queue's {queue_s:.0f} s = {want:.0f} s (+-6 s)"
                         f"\n{err}")
    nm = farm["not_monitored_ms"] / 1000
    if abs(nm - hole) > 3:
        raise SystemExit(f"FAIL: /api/v1/uptime says {nm:.1f} s not monitored; the log's dropped "
                         f"stretch was {hole:.1f} s")
    print(f"ok - {dropped} results dropped; {nm:.1f} s not monitored (the log: {said}; expected "
          f"{want:.0f} s: {recovered_at - full_at:.0f} s unwritable less {queue_s:.0f} s of queue); "
          f"monitored {farm['monitored_ms'] / 1000:.1f} s")
    if ends != [7, 1]:  # PW_RUN_STORAGE, then PW_RUN_CLEAN at the stop
        raise SystemExit(f"FAIL: runs.end_reason {ends}, expected [7, 1]: the gap's cause "
                         "(storage) is not kept")
    print("ok - the database keeps the gap's cause: storage")
    print("diskfull: 5 passed, 0 failed")


def parse_duration(text):
    """'28s', '1m2s', '1m' as seconds."""
    total = 0
    for n, unit in re.findall(r"(\d+)(ms|[smh])", text):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


if __name__ == "__main__":
    main()
