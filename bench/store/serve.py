#!/usr/bin/env python3
"""The one-year database served (issue 21; run by bench/store/run.sh).

Starts `portwatch run -c CONFIG` on the database bench_store built, times
exec to the first answer of /api/v1/health (any status: it is serving),
waits WAIT seconds (the first sweep), then times every history, outage,
incident and availability query of the HTTP API in its heaviest realistic
forms (farm-wide, per host and per role; a day, 30 days, the year), the
down list and the full status document (gzip), REPS times each in turn,
and prints median and max beside the issue's target. Then stops the
daemon and prints the CPU it spent.

usage: serve.py PORTWATCH CONFIG PORT HOST ROLE [REPS] [WAIT]
(HOST and ROLE: the ones the per-host and per-role forms ask for.)
"""
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time


def get(conn, path, gzip=False):
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip else {})
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def start(pw, config, port):
    t0 = time.monotonic()
    proc = subprocess.Popen([pw, "run", "-c", config], stdout=subprocess.DEVNULL,
                            stderr=open(config + ".log", "w"))
    while True:
        if proc.poll() is not None:
            sys.exit(f"serve.py: portwatch exited ({proc.returncode}); see {config}.log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            get(conn, "/api/v1/health")
            return proc, time.monotonic() - t0, conn
        except OSError:
            time.sleep(0.005)


def target_ids(conn, host):
    """Ids of one listening port and one port of host (any target)."""
    st, body = get(conn, "/api/v1/status?host=" + host)
    doc = json.loads(body)
    ids = [t["id"] for t in doc["targets"]]
    return ids[0], ids[-1]


def queries(conn, host, role):
    t_first, t_last = target_ids(conn, host)
    q = [("/api/v1/status?status=down", False, 50),
         ("/api/v1/status", True, 1000)]
    for span in ("24h", "30d", "365d"):
        q.append((f"/api/v1/targets/{t_first}/history?from=-{span}", False, 100))
    for span in ("24h", "30d", "365d"):
        q.append((f"/api/v1/outages?from=-{span}", False, 100))
    q.append(("/api/v1/outages?from=-365d&limit=100000", False, 100))
    q.append((f"/api/v1/outages?from=-365d&host={host}", False, 100))
    q.append((f"/api/v1/outages?from=-365d&role={role}", False, 100))
    for span in ("24h", "30d", "365d"):
        for by in ("farm", "host", "role", "target"):
            q.append((f"/api/v1/uptime?from=-{span}&by={by}", False, 100))
    for span in ("24h", "30d", "365d"):
        q.append((f"/api/v1/incidents?from=-{span}", False, 100))
    q.append(("/api/v1/incidents?from=-365d&limit=1000", False, 100))
    q.append((f"/api/v1/incidents?from=-365d&host={host}", False, 100))
    q.append((f"/api/v1/incidents?from=-365d&role={role}", False, 100))
    return q


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def main():
    pw, config, port, host, role = sys.argv[1:6]
    reps = int(sys.argv[6]) if len(sys.argv) > 6 else 7
    wait = float(sys.argv[7]) if len(sys.argv) > 7 else 10
    proc, startup, conn = start(pw, config, int(port))
    try:
        measure(proc, startup, conn, host, role, reps, wait)
    finally:  # never leave the daemon running
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def measure(proc, startup, conn, host, role, reps, wait):
    print(f"startup to serving (exec to the first /api/v1/health answer): {startup:.2f} s"
          " (target <= 3 s)")
    time.sleep(wait)
    cpu0, wall0 = cpu_s(proc.pid), time.monotonic()
    q = queries(conn, host, role)
    times = {p: [] for p, _, _ in q}
    info = {}
    for _ in range(reps):
        for path, gz, _ in q:
            print("  ", path, file=sys.stderr, flush=True)
            t = time.monotonic()
            st, body = get(conn, path, gz)
            times[path].append((time.monotonic() - t) * 1e3)
            info[path] = (st, len(body))
    cpu = cpu_s(proc.pid) - cpu0
    wall = time.monotonic() - wall0
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    print(f"daemon CPU while queried: {cpu:.1f} s over {wall:.1f} s (its sweeps included)")
    print(f"{'query (' + str(reps) + ' runs each)':58s} {'median':>8s} {'max':>8s} {'target':>7s}"
          f" {'status':>6s} {'bytes':>9s}")
    missed = 0
    for path, gz, target in q:
        v = times[path]
        med, mx = statistics.median(v), max(v)
        missed += mx > target
        st, n = info[path]
        print(f"{path + (' (gzip)' if gz else ''):58s} {med:8.1f} {mx:8.1f} {target:7d}"
              f" {st:6d} {n:9d}{'  MISSED' if mx > target else ''}")
    print(f"{missed} of {len(q)} over their target (max of {reps})")


if __name__ == "__main__":
    main()
