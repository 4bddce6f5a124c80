#!/usr/bin/env python3
"""Issue 15, low fd limit: `portwatch run` under an open-file limit of 64,
and again of 256, with 4,100 targets keeps the HTTP API and the database
working.

The daemon runs with RLIMIT_NOFILE 64 (soft and hard, set in the child) on
4,100 loopback targets, every 10 s: 20 hosts 127.0.1.1-20 x 205 ports, where
every port of the first 3 hosts listens but never answers the HTTP request
the daemon sends (`protocol = http`), so each of those 615 probes holds its
socket for the whole 1 s timeout (as hosts that drop SYNs do), and every
port of the other 17 refuses.
Probing may hold at most 64 - PW_ENGINE_FD_RESERVE (48) = 16 sockets
(208 under 256, still short of max_in_flight 256), so the test asserts,
for each limit, that:
  - the log says so once, naming the limit to raise;
  - every target has a result within the time 16 sockets need for the
    silent hosts (615 x 1 s / 16 = 39 s) plus one interval and some slack;
  - /api/v1/health answers 200 throughout, each within a second;
  - the process (all threads) uses under 50 % of one core over a window
    (measured from /proc/PID/stat), i.e. nothing spins on EMFILE;
  - nothing ran out of descriptors, and SIGTERM ends it with exit 0.
Before the reserve, the API accepted nothing and the loop and the HTTP
workers spun at ~200 % CPU.
"""
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

from pwtest import free_port, get, stop, wait_for, write_config

PW = sys.argv[1]
LIMITS = (64, 256)
RESERVE = 48  # PW_ENGINE_FD_RESERVE in probes/probe.h
MAX_IN_FLIGHT = 256  # the configuration's default
HOSTS = [f"127.0.1.{i}" for i in range(1, 21)]
NPORTS = 205
NSILENT = 3  # hosts
INTERVAL_S = 10


def ports():
    """205 consecutive ports nothing on 127.0.1.1 answers on now."""
    for _ in range(50):
        base = free_port()
        if base + NPORTS > 65535:
            continue
        if all(connect_refused(p) for p in range(base, base + NPORTS, 17)):
            return base
    raise SystemExit("FAIL: found no free run of 205 loopback ports")


def connect_refused(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.1.1", port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(limit):
    """The whole scenario under open-file limit `limit`; the number of
    checks passed."""
    def limit_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    tmp = tempfile.mkdtemp(prefix="pw-fdlimit-")
    base = ports()
    # Never accepted: the kernel completes each handshake into the backlog,
    # and the daemon's request goes unanswered until its timeout.
    listeners = []
    for h in HOSTS[:NSILENT]:
        for port in range(base, base + NPORTS):
            s = socket.socket()
            s.bind((h, port))
            s.listen(64)
            listeners.append(s)
    conf, api = write_config(tmp, f"""interval = {INTERVAL_S}s
timeout = 1s

[check silent]
hosts = {", ".join(HOSTS[:NSILENT])}
ports = {base}-{base + NPORTS - 1}
protocol = http
expect = reachable

[check farm]
hosts = {", ".join(HOSTS[NSILENT:])}
ports = {base}-{base + NPORTS - 1}
expect = reachable
""")
    errlog = open(os.path.join(tmp, "stderr.log"), "w+")
    p = subprocess.Popen([PW, "run", "-c", conf], stderr=errlog, preexec_fn=limit_fds)
    passed = 0
    try:
        t0 = time.monotonic()
        # Once probing is under way (before the reserve, its sockets had
        # taken every descriptor by now and the API accepted nothing).
        time.sleep(3)
        wait_for(lambda: get(api + "/api/v1/health")[0] == 200, 10,
                 "/api/v1/health to answer while probing")

        def all_probed():
            code, body = get(api + "/api/v1/status")
            s = json.loads(body)["summary"] if code == 200 else None
            return s if s and s["targets"] == 20 * NPORTS and s["unknown"] == 0 else None

        # 16 sockets at a time for the 615 one-second probes of the silent
        # hosts; the refusals end at once.
        slots = limit - RESERVE
        budget = (NSILENT * NPORTS + slots - 1) // slots + INTERVAL_S + 10
        s = wait_for(all_probed, budget, "a result for every one of 4,100 targets",
                     step=0.5)
        took = time.monotonic() - t0
        print(f"ok - all {s['targets']} targets probed within {took:.1f} s "
              f"(allowed {budget} s) under ulimit -n {limit}")
        passed += 1

        # CPU over a window of the steady state, with the API polled.
        c0, w0 = cpu_seconds(p.pid), time.monotonic()
        worst = 0.0
        for _ in range(10):
            q0 = time.monotonic()
            code, _ = get(api + "/api/v1/health")
            worst = max(worst, time.monotonic() - q0)
            if code != 200:
                raise SystemExit(f"FAIL: /api/v1/health answered {code} under the fd limit")
            time.sleep(0.5)
        cpu = (cpu_seconds(p.pid) - c0) / (time.monotonic() - w0)
        if worst >= 1.0:
            raise SystemExit(f"FAIL: /api/v1/health took {worst * 1000:.0f} ms (limit 1000 ms): "
                             "the API waits for descriptors")
        if cpu >= 0.5:
            raise SystemExit(f"FAIL: {cpu:.0%} of a core over the window (limit 50%): "
                             "something spins")
        print(f"ok - CPU {cpu:.0%} of one core; /api/v1/health 200 x10, slowest {worst * 1000:.0f} ms")
        passed += 1

        fds = len(os.listdir(f"/proc/{p.pid}/fd"))
        if fds > limit - 8:
            raise SystemExit(f"FAIL: {fds} descriptors open of {limit}: the reserve is not kept")
        print(f"ok - {fds} descriptors open of {limit}")
        passed += 1
    finally:
        if p.poll() is None:
            rc, _ = stop(p, 10)
        else:
            rc = p.returncode
        for s in listeners:
            s.close()
    errlog.seek(0)
    err = errlog.read()
    if rc != 0:
        raise SystemExit(f"FAIL: the daemon exited {rc}\n{err}")
    want = (f"fd limit {limit} allows {limit - RESERVE} probes in flight "
            f"(max_in_flight {MAX_IN_FLIGHT}); raise LimitNOFILE / ulimit -n to at least "
            f"{MAX_IN_FLIGHT + RESERVE}")
    said = err.count(want)
    if said != 1:
        raise SystemExit(f"FAIL: the log said {said} times, not once: {want}\n{err}")
    for bad in ("out of file descriptors", "too many open files", "EMFILE"):
        if bad in err:
            raise SystemExit(f"FAIL: the log has '{bad}': the reserve did not hold\n{err}")
    print("ok - the limit to raise is logged once; nothing ran out of descriptors; exit 0")
    return passed + 1


def main():
    passed = sum(run(limit) for limit in LIMITS)
    print(f"fdlimit: {passed} passed, 0 failed")


if __name__ == "__main__":
    main()
