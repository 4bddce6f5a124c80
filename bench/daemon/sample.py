#!/usr/bin/env python3
"""bench/daemon/run.sh's sampler (run in the farm's namespace): waits for
the daemon's first sweep (start-up is counted apart), reads its CPU from
/proc then; every QEVERY s (30 if 0) RSS and, unless QEVERY is 0, the
store's queue from /metrics (the cost of a Prometheus scrape, counted in);
at the end CPU, peak RSS and the sweep counters, as one JSON line.  Usage: sample.py PID API_PORT DUR QEVERY"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

pid, api = int(sys.argv[1]), sys.argv[2]
dur, qevery = float(sys.argv[3]), float(sys.argv[4])
tick = os.sysconf("SC_CLK_TCK")


def get(path):
    """The body, also of a 503 (health is critical while hosts drop)."""
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{api}{path}", timeout=60).read()
    except urllib.error.HTTPError as e:
        return e.read()


def sweep():
    try:
        return json.loads(get("/api/v1/health"))["last_sweep"]
    except Exception:
        return None


def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick


def queue():
    for line in get("/metrics").decode().splitlines():
        if line.startswith("portwatch_storage_queue_length "):
            return int(line.split()[1])
    return None


deadline = time.time() + 900
while time.time() < deadline:
    if not os.path.exists(f"/proc/{pid}"):
        sys.exit("sample.py: the daemon exited before its first sweep (see its log)")
    s = sweep()
    if s and s["sweeps"] >= 1:
        break
    time.sleep(0.5)
else:
    sys.exit("sample.py: no sweep ended within 900 s")
def status(key):
    """VmHWM or VmRSS, kB."""
    for ln in open(f"/proc/{pid}/status"):
        if ln.startswith(key):
            return int(ln.split()[1])
    return 0


c0, t0, s0 = cpu(), time.time(), sweep()
hwm0 = status("VmHWM")
rss = []
qs = []
while time.time() - t0 < dur:
    time.sleep(max(0.0, min(qevery or 30, dur - (time.time() - t0))))
    rss.append(status("VmRSS"))
    qs.append(queue() if qevery > 0 else None)
c1, t1, s1 = cpu(), time.time(), sweep()
print(json.dumps({"cpu": c1 - c0, "wall": t1 - t0, "sweeps": s1["sweeps"] - s0["sweeps"],
                  "overruns": s1["overruns"], "last_ms": s1["duration_ms"],
                  "hwm_kb": status("VmHWM"), "hwm_first_kb": hwm0,
                  "rss_kb": rss, "queue": qs}))
