#!/usr/bin/env python3
"""The daemon's lifecycle, end to end, with the real `portwatch run`:

reload (SIGHUP): a configuration watching A (listening) and B (closed) is
replaced by one watching A and C: A keeps its id, status and since; B leaves
the status list but is still found by id (in_plan false); C is probed. A
configuration with an error is then rejected, the error is logged and the
running targets stay. A reload that changes `listen` says it needs a restart.

systemd notify: the daemon is given NOTIFY_SOCKET (a datagram socket this
test binds) and WATCHDOG_USEC; it must send READY=1 with a STATUS= summary,
WATCHDOG=1 at about half the watchdog period, RELOADING=1 then READY=1
around a reload, and STOPPING=1 on SIGTERM.

graceful stop: SIGTERM and SIGINT with 2,020 targets (some connects hanging) being probed end the
process with exit 0 within 5 s, and the database passes integrity_check.

Prints the measured reload and stop times. Traffic goes to 127.0.0.1 only.
"""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from pwtest import free_port, get, ok, summary, wait_for

PW = sys.argv[1]


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s, s.getsockname()[1]


class Daemon:
    def __init__(self, tmp, conf, env=None):
        self.log = os.path.join(tmp, "pw.log")
        self.p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", self.log],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=env)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        t0 = time.time()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise SystemExit(f"FAIL: daemon did not stop within 5 s of {sig.name}\n{self.log_text()}")
        took = time.time() - t0
        if rc != 0:
            raise SystemExit(f"FAIL: daemon exited {rc} after {sig.name}\n{self.p.stderr.read()}\n{self.log_text()}")
        return took


def write_conf(path, api_port, db, checks, extra=""):
    text = f"""[portwatch]
listen = 127.0.0.1:{api_port}
database = {db}
interval = 1s
timeout = 500ms
fail_after = 1
{extra}
"""
    for name, port in checks:
        text += f"\n[check {name}]\nhosts = 127.0.0.1\nports = {port}\nreason = {name} test\n"
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def status(base):
    code, body = get(base + "/api/v1/status")
    if code != 200:
        return None
    return {t["port"]: t for t in json.loads(body)["targets"]}


class Notify:
    """A stand-in for systemd's notify socket: collects the datagrams."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.setblocking(False)
        self.msgs = []  # (time, text)

    def poll(self):
        while True:
            try:
                self.msgs.append((time.time(), self.s.recv(4096).decode()))
            except BlockingIOError:
                return self.msgs

    def find(self, pred, after=0.0):
        return [m for m in self.poll() if m[0] >= after and pred(m[1])]


def counters(base):
    """The engine's Prometheus counters (name and labels -> value)."""
    code, body = get(base + "/metrics")
    assert code == 200, code
    body = body.decode() if isinstance(body, bytes) else body
    out = {}
    for name in ("portwatch_probes_total", "portwatch_sweeps_total", "portwatch_outages_total"):
        for m in re.finditer(r"^(" + name + r"(?:\{[^}]*\})?) (\S+)$", body, re.M):
            out[m.group(1)] = float(m.group(2))
    return out


def test_reload_and_notify(tmp):
    a_sock, port_a = listener()
    c_sock, port_c = listener()
    port_b = free_port()
    api = free_port()
    db = os.path.join(tmp, "pw.db")
    conf = os.path.join(tmp, "pw.ini")
    base = f"http://127.0.0.1:{api}"
    write_conf(conf, api, db, [("a", port_a), ("b", port_b)])

    nsock = os.path.join(tmp, "notify.sock")
    notify = Notify(nsock)
    env = dict(os.environ, NOTIFY_SOCKET=nsock, WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    d = Daemon(tmp, conf, env)
    try:
        ts = wait_for(lambda: (lambda t: t if t and t[port_a]["status"] == "up"
                               and t[port_b]["status"] == "down" else None)(status(base)),
                      15, "A up and B down")
        a0, b0 = ts[port_a], ts[port_b]

        ready = wait_for(lambda: notify.find(lambda m: "READY=1" in m), 5, "READY=1")
        assert re.search(r"STATUS=2 targets on 1 host: \d+ up", ready[0][1]), ready[0][1]
        ok("notify: READY=1 with a STATUS= summary")
        t_w = time.time()
        while time.time() < t_w + 2:
            notify.poll()
            time.sleep(0.01)
        pings = [t for t, m in notify.find(lambda m: m == "WATCHDOG=1", t_w)]
        assert len(pings) >= 8, f"{len(pings)} watchdog pings in 2 s"
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 0.4, gaps
        ok(f"notify: WATCHDOG=1 every {sum(gaps) / len(gaps) * 1000:.0f} ms (WATCHDOG_USEC 400 ms)")

        # -- reload: keep A, drop B, add C
        time.sleep(1.1)  # A's since must not move: let it age a little
        before = counters(base)
        write_conf(conf, api, db, [("a", port_a), ("c", port_c)])
        t0 = time.time()
        d.p.send_signal(signal.SIGHUP)
        ts = wait_for(lambda: (lambda t: t if t and port_c in t and port_b not in t else None)(status(base)),
                      10, "the new plan in /api/v1/status")
        seen = time.time() - t0
        a1 = ts[port_a]
        assert a1["id"] == a0["id"], (a0, a1)
        assert a1["since"] == a0["since"], (a0, a1)
        assert a1["status"] == "up", a1
        assert a1["last_checked"] is not None
        ok(f"reload: kept target keeps id {a1['id']}, status up, since {a1['since']}")
        ts = wait_for(lambda: (lambda t: t if t and t[port_c]["status"] == "up" else None)(status(base)),
                      10, "C probed after the reload")
        ok("reload: added target probed (up)")
        code, body = get(f"{base}/api/v1/targets/{b0['id']}")
        assert code == 200, code
        doc = json.loads(body)
        assert doc["in_plan"] is False and doc["port"] == port_b, doc
        ok("reload: removed target left the plan, still found by id (in_plan false)")
        code, body = get(base + "/api/v1/outages")
        assert code == 200 and any(o["port"] == port_b for o in json.loads(body)["outages"]), body
        ok("reload: removed target's outage history kept")
        after = counters(base)
        back = {k: (before[k], after.get(k, 0)) for k in before if after.get(k, 0) < before[k]}
        assert before and not back, f"counters stepped back at the reload: {back}"
        ok(f"reload: {len(before)} engine counters go on from the old engine's (no counter reset)")
        m = wait_for(lambda: re.search(r"configuration reloaded in (\d+) ms: 2 targets on 1 host "
                                       r"\(1 kept, 1 new, 1 removed\)", d.log_text()), 5, "reload log line")
        print(f"reload: {m.group(1)} ms inside the daemon; new plan visible over HTTP after {seen * 1000:.0f} ms")
        rl = notify.find(lambda m: m.startswith("RELOADING=1"), t0)
        rd = notify.find(lambda m: m.startswith("READY=1"), t0)
        assert rl and rd and rl[0][0] <= rd[0][0], (rl, rd)
        ok("notify: RELOADING=1 then READY=1 around the reload")

        # -- a broken configuration is rejected; the running one stays
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("interval = 1s", "interval = soon"))
        d.p.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload rejected" in d.log_text(), 10, "the rejected reload in the log")
        log = d.log_text()
        assert "interval" in log and "soon" in log, log[-2000:]
        time.sleep(1.2)
        ts = status(base)
        assert set(ts) == {port_a, port_c}, ts
        assert ts[port_a]["since"] == a0["since"] and ts[port_a]["status"] == "up", ts[port_a]
        assert d.p.poll() is None
        ok("reload: a configuration with errors is rejected, the error logged, the old plan kept")

        # -- listen changes need a restart
        write_conf(conf, free_port(), db, [("a", port_a), ("c", port_c)])
        d.p.send_signal(signal.SIGHUP)
        wait_for(lambda: "listen changed" in d.log_text(), 10, "the restart warning")
        assert status(base) is not None, "the API moved"
        ok("reload: a changed listen address is reported as needing a restart")

        # -- reloads while clients read: old plans must outlive their views
        # (ASan catches a plan freed under a reader)
        import threading
        done = threading.Event()
        errors = []

        def reader():
            while not done.is_set():
                for path in ("/api/v1/status", "/api/v1/health", "/metrics",
                             f"/api/v1/targets/{a0['id']}"):
                    code, _ = get(base + path)
                    if code not in (200, 503):
                        errors.append((path, code))
        readers = [threading.Thread(target=reader) for _ in range(3)]
        for r in readers:
            r.start()
        for i in range(30):
            write_conf(conf, api, db, [("a", port_a)] + ([("c", port_c)] if i % 2 else [("b", port_b)]))
            d.p.send_signal(signal.SIGHUP)
            time.sleep(0.05)
        done.set()
        for r in readers:
            r.join()
        assert not errors, errors[:5]
        assert d.p.poll() is None, "the daemon died during reloads"
        write_conf(conf, api, db, [("a", port_a), ("c", port_c)])
        d.p.send_signal(signal.SIGHUP)
        wait_for(lambda: (lambda t: t if t and set(t) == {port_a, port_c} else None)(status(base)),
                 10, "the last reload")
        ok("reload: 30 reloads while 3 clients read status, health, metrics")

        notify.poll()  # drain: the daemon drops, never waits on, a full socket
        t_stop = time.time()
        took = d.stop()
        st = notify.find(lambda m: m.startswith("STOPPING=1"), t_stop)
        assert st, notify.poll()[-3:]
        ok(f"stop: SIGTERM -> exit 0 in {took:.2f} s, STOPPING=1 sent")
    finally:
        if d.p.poll() is None:
            d.p.kill()
            d.p.wait()
        a_sock.close()
        c_sock.close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = dict(con.execute("SELECT port, retired_ms IS NOT NULL AND retired_ms > 0 FROM targets"))
    con.close()
    assert rows == {port_a: 0, port_b: 1, port_c: 0}, rows
    ok("database: intact, B retired, A and C in the plan")


def test_stop_under_load(tmp, sig):
    """2,020 targets being probed when the signal arrives: 2,000 refused
    ports, and 20 listeners (127.0.0.1-20) with a backlog of 0 that never
    accept, so most connection attempts to them hang until the timeout and
    are in flight at any moment."""
    first, port_hang = listener()
    first.close()
    hang = []
    for k in range(1, 21):
        s = socket.socket()
        s.bind((f"127.0.0.{k}", port_hang))
        s.listen(0)
        hang.append(s)
    api = free_port()
    db = os.path.join(tmp, f"load-{sig.name}.db")
    conf = os.path.join(tmp, f"load-{sig.name}.ini")
    hosts = ", ".join(f"127.0.0.{k}" for k in range(1, 21))
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api}
database = {db}
interval = 1s
timeout = 900ms

[check many]
hosts = 127.0.0.1, 127.0.0.2
ports = 20000-20999
expect = reachable

[check hang]
hosts = {hosts}
ports = {port_hang}
""")
    d = Daemon(tmp, conf)
    try:
        base = f"http://127.0.0.1:{api}"

        def swept():
            code, body = get(base + "/api/v1/status")
            doc = json.loads(body) if code == 200 else None
            return doc and doc["summary"]["last_sweep"]["sweeps"] >= 2
        wait_for(swept, 20, "two sweeps")
        code, body = get(base + "/metrics")
        m = re.search(r"^portwatch_probes_in_flight (\d+)", body.decode(), re.M)
        inflight = int(m.group(1)) if m else -1
        took = d.stop(sig)
    finally:
        if d.p.poll() is None:
            d.p.kill()
            d.p.wait()
        for h in hang:
            h.close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    ok(f"stop under load: {sig.name} with 2020 targets ({inflight} probes in flight just before) "
       f"-> exit 0 in {took:.2f} s (limit 5 s)")
    return took


def main():
    tmp = tempfile.mkdtemp(prefix="pw-life-")
    test_reload_and_notify(tmp)
    test_stop_under_load(tmp, signal.SIGTERM)
    test_stop_under_load(tmp, signal.SIGINT)
    summary("lifecycle")


if __name__ == "__main__":
    main()
