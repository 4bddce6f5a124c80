#!/usr/bin/env python3
"""Maintenance windows end to end: the real daemon against real loopback
sockets, windows opened by the real CLI.

Ground truth: hosts 127.0.0.1 and 127.0.0.2 each have a listening port. A
one-off window over 127.0.0.1 (4 s) is taken by the running daemon within
a second; then 127.0.0.1's listener closes, so its port goes down inside
the window: health stays 200 and its text names the window, the target's
status reads "maintenance" with the window's reason and end, /metrics
carries portwatch_target_maintenance. The port stays down beyond the
window's end: health is 503 at once, with the real cause (closed); the
outage is planned (it began inside the window), and availability leaves
the window's time out (planned_ms) and counts as down only the time after
it. A second window is ended early with
`maintenance end` and disappears within a second. A recurring window of
the configuration (daily, over the listening host, in UTC) is listed by
GET /api/v1/maintenance as open, with its next occurrence as upcoming.
"""
import datetime
import json
import re
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from pwtest import free_port, get, ok, stop, summary, wait_for  # noqa: E402

PW = sys.argv[1]


def cli(conf, *args):
    r = subprocess.run([PW, "maintenance", *args, "-c", conf], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: maintenance {' '.join(args)}: {r.stderr}")
    return r.stdout


def jget(base, path):
    code, body = get(base + path)
    return code, json.loads(body) if body.startswith(b"{") else body.decode()


def target(base, port):
    _, doc = jget(base, "/api/v1/status")
    return next(t for t in doc["targets"] if t["port"] == port)


def write_conf(tmp, api_port, closed_port, open_port):
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(minutes=1)).strftime("%H:%M")
    end = (now + datetime.timedelta(minutes=30)).strftime("%H:%M")
    conf = os.path.join(tmp, "pw.ini")
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api_port}
database = {tmp}/pw.db
interval = 1s
timeout = 300ms
fail_after = 1

[check sql]
hosts = 127.0.0.1
ports = {closed_port}

[check web]
hosts = 127.0.0.2
ports = {open_port}

[maintenance web-deploy]
hosts = 127.0.0.2
schedule = daily {start}-{end}
timezone = UTC
reason = web deploys
""")
    return conf


def during(base, conf, closed_port, sql_listener):
    t0 = time.monotonic()
    cli(conf, "start", "--for", "4s", "--host", "127.0.0.1", "--reason", "SQL patching",
        "--name", "patch")
    wait_for(lambda: any(w["window"] == "patch" for w in jget(base, "/api/v1/maintenance")[1]
                         ["active"]), 3, "the daemon to take the window", step=0.02)
    took = time.monotonic() - t0
    if took > 1.5:
        raise SystemExit(f"FAIL: the daemon took the window after {took:.2f} s (a second allowed)")
    ok(f"a window from the CLI is taken by the running daemon in {took:.2f} s")
    sql_listener.close()
    wait_for(lambda: target(base, closed_port)["state"] == "closed", 5, "the port to go down")
    code, text = jget(base, "/api/v1/health?format=text")
    if code != 200 or "maintenance patch until" not in text or "SQL patching" not in text or \
            "1/2 targets pass, 1 failing in maintenance" not in text:
        raise SystemExit(f"FAIL: health during the window: {code} {text}")
    ok("health is 200 during the window and its text names the window")
    t = target(base, closed_port)
    m = t.get("maintenance") or {}
    if t["status"] != "maintenance" or m.get("window") != "patch" or \
            m.get("reason") != "SQL patching" or not m.get("ends_at"):
        raise SystemExit(f"FAIL: status during the window: {t}")
    ok("the failing target's status is maintenance, with the window's name, reason and end")
    _, doc = jget(base, "/api/v1/status")
    sm = doc["summary"]
    if sm["maintenance"] != 1 or sm["down"] != 0 or \
            sm["up"] + sm["down"] + sm["unknown"] + sm["maintenance"] != sm["targets"]:
        raise SystemExit(f"FAIL: the status summary during the window: {sm}")
    _, doc = jget(base, "/api/v1/hosts")
    if doc["summary"]["maintenance"] != 1 or doc["summary"]["down"] != 0:
        raise SystemExit(f"FAIL: the hosts summary during the window: {doc['summary']}")
    ok("the summaries count it in maintenance, not down, and add up")
    _, metrics = get(base + "/metrics")
    # Who watches (instance_name, vantage) comes between the target's
    # labels and the window.
    line = re.compile(rf'^portwatch_target_maintenance{{host="127.0.0.1",port="{closed_port}",'
                      rf'roles="sql",[^}}]*window="patch"}} 1$', re.M)
    if not line.search(metrics.decode()):
        raise SystemExit(f"FAIL: /metrics lacks {line.pattern}")
    ok("/metrics carries portwatch_target_maintenance for it")
    _, doc = jget(base, "/api/v1/maintenance")
    w = next(w for w in doc["active"] if w["window"] == "patch")
    if w["hosts"] != ["127.0.0.1"] or w["source"] != "cli" or w["roles"] != []:
        raise SystemExit(f"FAIL: /api/v1/maintenance: {doc}")
    ok("GET /api/v1/maintenance lists it as active, from the CLI, over its host")


def after(base, closed_port):
    wait_for(lambda: jget(base, "/api/v1/health")[0] == 503, 8,
             "health to turn 503 when the window ends", step=0.05)
    ended = time.time()
    t = target(base, closed_port)
    if t["status"] != "down" or t["state"] != "closed" or "maintenance" in t:
        raise SystemExit(f"FAIL: status after the window: {t}")
    _, metrics = get(base + "/metrics")
    if b'window="patch"' in metrics:
        raise SystemExit("FAIL: /metrics still says maintenance after the window")
    ok("the port still down when the window ends is down at once, with its real cause")
    time.sleep(2)
    _, doc = jget(base, "/api/v1/outages?from=-5m")
    o = [o for o in doc["outages"] if o["port"] == closed_port]
    if len(o) != 1 or not o[0]["planned"] or not o[0]["open"]:
        raise SystemExit(f"FAIL: the outage that began inside the window: {o}")
    ok("the outage that began inside the window is planned")
    _, doc = jget(base, "/api/v1/incidents?from=-5m")
    inc = [i for i in doc["incidents"] if any(t["port"] == closed_port for t in i["targets"])]
    if len(inc) != 1 or not inc[0]["planned"]:
        raise SystemExit(f"FAIL: the incident of that outage: {inc}")
    ok("its incident is planned too")
    _, doc = jget(base, "/api/v1/uptime?from=-5m&by=target")
    u = next(u for u in doc["groups"] if u["key"] == f"127.0.0.1:{closed_port}") \
        if "groups" in doc else None
    if u is None:
        raise SystemExit(f"FAIL: no uptime row for the target: {doc}")
    since_end = (time.time() - ended) * 1000
    if not 2500 <= u["planned_ms"] <= 4600 or not 0 < u["down_ms"] <= since_end + 2000 or \
            u["uptime_pct"] is None or u["uptime_pct"] >= 100:
        raise SystemExit(f"FAIL: availability with planned time: {u} ({since_end:.0f} ms "
                         "since the window ended)")
    ok(f"availability leaves the window's {u['planned_ms']} ms out and counts "
       f"{u['down_ms']} ms down after it")


def ended_early(base, conf):
    cli(conf, "start", "--for", "1h", "--reason", "cluster failover", "--name", "early")
    wait_for(lambda: any(w["window"] == "early" for w in jget(base, "/api/v1/maintenance")[1]
                         ["active"]), 3, "the second window")
    if jget(base, "/api/v1/health")[0] != 200:
        raise SystemExit("FAIL: health during a window over every target")
    t0 = time.monotonic()
    out = cli(conf, "end", "early")
    wait_for(lambda: not any(w["window"] == "early" for w in jget(base, "/api/v1/maintenance")[1]
                             ["active"]), 3, "the window ended early to go", step=0.02)
    took = time.monotonic() - t0
    if "ended 1 window" not in out or took > 1.5 or jget(base, "/api/v1/health")[0] != 503:
        raise SystemExit(f"FAIL: ending early: {out!r} after {took:.2f} s")
    ok(f"a window ended early is gone in {took:.2f} s and health is 503 again")


def refusals(conf):
    """Bad input to the command: each refused with what was wrong and what to do."""
    cases = [
        (["start", "--reason", "x"], "--for is needed; give how long the work takes, from 1s to 7d"),
        (["start", "--for", "9d", "--reason", "x"], "--for 9d is out of range"),
        (["start", "--for", "1h"], "--reason is needed"),
        (["start", "--for", "1h", "--reason", "x", "--host", "sql99"],
         "--host 'sql99' is not a host of any role or check"),
        (["start", "--for", "1h", "--reason", "x", "--name", "a b"],
         "--name 'a b' is not allowed; use 1-64 letters"),
        (["end", "nosuch"], "no open window named 'nosuch'"),
        (["end"], "name one window"),
    ]
    for args, msg in cases:
        r = subprocess.run([PW, "maintenance", *args, "-c", conf], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 2 or msg not in r.stderr:
            raise SystemExit(f"FAIL: maintenance {args}: exit {r.returncode}, {r.stderr!r}")
    ok(f"{len(cases)} bad commands are refused, each saying what to do")


def reloaded(base, conf, p):
    """A window added to the file is taken by a reload (SIGHUP)."""
    with open(conf, "a") as f:
        f.write("\n[maintenance nightly]\nschedule = daily 03:00-03:30\ntimezone = "
                "Europe/Amsterdam\nreason = backups\n")
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: any(w["window"] == "nightly" for w in jget(base, "/api/v1/maintenance")[1]
                         ["upcoming"]), 10, "the reloaded window")
    ok("a window added to the configuration is listed after a reload")


def recurring(base):
    _, doc = jget(base, "/api/v1/maintenance")
    act = [w for w in doc["active"] if w["window"] == "web-deploy"]
    up = [w for w in doc["upcoming"] if w["window"] == "web-deploy"]
    if len(act) != 1 or act[0]["source"] != "config" or act[0]["hosts"] != ["127.0.0.2"] or \
            len(up) != 1:
        raise SystemExit(f"FAIL: the configuration's window: {doc}")
    start = datetime.datetime.fromisoformat(act[0]["started_at"].replace("Z", "+00:00"))
    nxt = datetime.datetime.fromisoformat(up[0]["started_at"].replace("Z", "+00:00"))
    if nxt - start != datetime.timedelta(days=1):
        raise SystemExit(f"FAIL: the next occurrence of a daily window: {start} then {nxt}")
    ok("a recurring window of the configuration is active, its next occurrence upcoming")


def main():
    tmp = tempfile.mkdtemp(prefix="pw-maint-")
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(64)
    open_port = listener.getsockname()[1]
    sql_listener = socket.socket()
    sql_listener.bind(("127.0.0.1", 0))
    sql_listener.listen(64)
    closed_port = sql_listener.getsockname()[1]
    api_port = free_port()
    conf = write_conf(tmp, api_port, closed_port, open_port)
    base = f"http://127.0.0.1:{api_port}"
    p = subprocess.Popen([PW, "run", "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "log"), "w"))
    try:
        wait_for(lambda: target(base, closed_port)["status"] == "up", 10, "the port up")
        if jget(base, "/api/v1/health")[0] != 200:
            raise SystemExit("FAIL: health before any window is not 200")
        ok("before the window both ports are up and health is 200")
        recurring(base)
        refusals(conf)
        during(base, conf, closed_port, sql_listener)
        after(base, closed_port)
        ended_early(base, conf)
        reloaded(base, conf, p)
    finally:
        if p.poll() is None:
            rc, _ = stop(p, 10)
            if rc != 0:
                raise SystemExit(f"FAIL: the daemon exited {rc}")
    with open(os.path.join(tmp, "log")) as f:
        log = f.read()
    if "maintenance window patch opened" not in log or "maintenance window patch closed" not in log:
        raise SystemExit(f"FAIL: the log does not say the window opened and closed:\n{log}")
    ok("the log says when each window opened and closed")
    summary("maint-daemon")


main()
