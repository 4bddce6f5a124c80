#!/usr/bin/env python3
"""Drives bench/reload/run.sh: starts portwatch on a 4,100-target loopback
farm, sends N SIGHUPs GAP seconds apart, and prints the reloads made and
the resident memory before and after. Usage: storm.py PORTWATCH WORK N GAP"""
import os
import signal
import socket
import subprocess
import sys
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    pw, work, n, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    api = s.getsockname()[1]
    s.close()
    hosts = ", ".join(f"127.0.9.{i + 2}" for i in range(20))
    conf, log = os.path.join(work, "farm.ini"), os.path.join(work, "pw.log")
    with open(conf, "w") as f:
        f.write(f"[portwatch]\nlisten = 127.0.0.1:{api}\ndatabase = {work}/pw.db\n"
                f"interval = 10s\ntimeout = 1s\n\n[biztalk]\nmanagement_database = {hosts}\n"
                f"processing_servers = {hosts}\niis_servers = {hosts}\nrpc_sweep_rate = 21/s\n")
    p = subprocess.Popen([pw, "run", "-c", conf, "--log-file", log])
    try:
        time.sleep(25)
        before = rss_mb(p.pid)
        t0 = time.monotonic()
        for _ in range(n):
            p.send_signal(signal.SIGHUP)
            time.sleep(gap)
        took = time.monotonic() - t0
        time.sleep(25)
        after = rss_mb(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    with open(log) as f:
        reloads = f.read().count("configuration reloaded")
    print(f"{n} SIGHUPs {gap * 1000:.0f} ms apart ({took:.1f} s): {reloads} reloads; "
          f"RSS {before:.1f} MB before, {after:.1f} MB 25 s after")


if __name__ == "__main__":
    main()
