#!/usr/bin/env python3
"""The figure that matters (issue 16): a scenario with known ground truth,
against the real daemon, in a network namespace this test creates (the
host's firewall and addresses are never touched):

  - two hosts, one role each: db (127.0.0.2: 1433, 4022) and app
    (127.0.0.3: 8080, 8081), probed every second;
  - 1433 is closed for D_SQL seconds, then listens again;
  - nft drops the SYNs to 127.0.0.3 for D_SYN seconds;
  - portwatch is stopped for D_STOP seconds, then started again;
  - a second daemon on the same database is refused.

Asserted against what the test did (its own clock): each host's and role's
down time and availability within one probe interval (plus the timeout
a filtered probe waits) of the truth; the time not monitored within one
interval (plus the restart); two incidents, grouped as the events were
(1433 alone; both app ports as one); the log's down, up, incident and
monitoring-gap lines; the report's rows in JSON and CSV; the refusal's
exit code and message.
"""
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from pwtest import free_port, get, ok, stop, summary, wait_for, write_config  # noqa: E402

PW = os.path.abspath(sys.argv[1])
INTERVAL, TIMEOUT = 1.0, 0.3
D_SQL, D_SYN, D_STOP = 6.0, 6.0, 5.0
TOL = INTERVAL + TIMEOUT  # one probe interval, and the timeout a filtered probe waits
DB, APP = "127.0.0.2", "127.0.0.3"


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def outer():
    """Creates the namespace and runs this script inside it."""
    if os.geteuid() != 0:
        skip("needs root (a network namespace and nft rules in it)")
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            skip(f"{tool} is missing (apt-get install -y iproute2 nftables)")
    ns = f"pwtruth{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns]).returncode != 0:
        skip("cannot create a network namespace here")
    try:
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, PW,
                             "--inner"]).returncode
    finally:
        subprocess.run(["ip", "netns", "delete", ns])
    sys.exit(rc)


def listen(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def nft(*args):
    subprocess.run(["nft", *args], check=True)


def ms(t):
    return int(t * 1000)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms(t) % 1000:03d}Z"


class Daemon:
    def __init__(self, conf, log, api):
        self.conf, self.log, self.api = conf, log, api  # api: its base URL
        self.p = None

    def start(self):
        self.p = subprocess.Popen([PW, "run", "-c", self.conf, "--log-file", self.log])

        def all_up():
            code, body = get(f"{self.api}/api/v1/status")
            return code == 200 and all(t["status"] == "up" for t in json.loads(body)["targets"])
        wait_for(all_up, 15, "every target up")

    def stop(self):
        rc, _ = stop(self.p, 10, signal.SIGTERM)
        assert rc == 0, rc

    def status(self, host, port):
        code, body = get(f"{self.api}/api/v1/status")
        return [t["status"] for t in json.loads(body)["targets"]
                if t["host"] == host and t["port"] == port][0]


def scenario(d):
    """Runs the three events; returns the truth (seconds since the epoch)."""
    truth = {}
    socks = {(h, p): listen(h, p) for h, p in ((DB, 1433), (DB, 4022), (APP, 8080), (APP, 8081))}
    t0 = time.time()
    d.start()
    truth["start"] = t0
    time.sleep(2)

    socks[(DB, 1433)].close()
    truth["sql"] = (time.time(), None)
    wait_for(lambda: d.status(DB, 1433) == "down", 5, "1433 down")
    time.sleep(D_SQL - (time.time() - truth["sql"][0]))
    socks[(DB, 1433)] = listen(DB, 1433)
    truth["sql"] = (truth["sql"][0], time.time())
    wait_for(lambda: d.status(DB, 1433) == "up", 5, "1433 up again")
    time.sleep(3)  # past the window of "began together"

    nft("add", "table", "inet", "pwtruth")
    nft("add", "chain", "inet", "pwtruth", "in", "{ type filter hook input priority 0; }")
    nft("add", "rule", "inet", "pwtruth", "in", "ip", "daddr", APP, "tcp", "flags", "&",
        "(syn|ack)", "==", "syn", "drop")
    truth["syn"] = (time.time(), None)
    time.sleep(D_SYN)
    nft("delete", "table", "inet", "pwtruth")
    truth["syn"] = (truth["syn"][0], time.time())
    wait_for(lambda: d.status(APP, 8080) == "up" and d.status(APP, 8081) == "up", 5,
             "the app ports up again")
    time.sleep(3)

    t = time.time()
    d.stop()
    time.sleep(D_STOP - (time.time() - t))
    truth["gap"] = (t, time.time())
    d.start()
    time.sleep(3)
    truth["end"] = time.time()
    return truth, socks


def check_second_daemon(conf, tmp):
    r = subprocess.run([PW, "run", "-c", conf, "--listen", f"127.0.0.1:{free_port()}",
                        "--log-file", f"{tmp}/second.log"],
                       capture_output=True, text=True, timeout=20)
    with open(f"{tmp}/second.log") as f:
        said = f.read() + r.stderr
    assert r.returncode == 2, (r.returncode, said)
    assert "is in use by portwatch (PID " in said, said
    ok("a second daemon on the same database is refused (exit 2, naming the PID)")


def near(what, got_ms, want_s, tol_s):
    want = ms(want_s)
    assert abs(got_ms - want) <= ms(tol_s), f"{what}: {got_ms} ms, truth {want} ms ± {ms(tol_s)}"


def check_report(conf, truth):
    frm, to = rfc3339(truth["start"] - 1), rfc3339(truth["end"])
    r = subprocess.run([PW, "report", "-c", conf, "--from", frm, "--to", to, "--format", "json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    av = doc["availability"]
    hosts = {h["name"]: h for h in av["hosts"]}
    roles = {x["name"]: x for x in av["roles"]}
    assert set(hosts) == {DB, APP} and set(roles) == {"db", "app"}, (hosts, roles)
    sql_down = truth["sql"][1] - truth["sql"][0]
    syn_down = truth["syn"][1] - truth["syn"][0]
    gap = truth["gap"][1] - truth["gap"][0]
    for name, down, row in ((DB, sql_down, hosts[DB]), (APP, syn_down, hosts[APP]),
                            ("db", sql_down, roles["db"]), ("app", syn_down, roles["app"])):
        got_down = row["monitored_ms"] - row["available_ms"]
        print(f"# {name}: down {got_down} ms (truth {ms(down)}), not monitored "
              f"{row['unmonitored_ms']} ms (truth {ms(gap)}), availability "
              f"{row['availability']:.3f} %", flush=True)
        near(f"{name} down", got_down, down, TOL)
        # the restart adds its start-up to the gap; the first probe, up to
        # one interval
        near(f"{name} not monitored", row["unmonitored_ms"], gap, INTERVAL + 1.0)
        span = truth["end"] - truth["start"]
        want = 100.0 * (span - gap - down) / (span - gap)
        tol = 100.0 * (TOL + INTERVAL + 1.0) / (span - gap)
        assert abs(row["availability"] - want) <= tol, (name, row, want, tol)
    ok(f"availability per host and role within {TOL} s of the truth "
       f"(1433 down {sql_down:.1f} s, SYNs dropped {syn_down:.1f} s, stopped {gap:.1f} s)")

    inc = doc["incidents"]
    assert len(inc) == 2, json.dumps(inc, indent=1)
    syn, sql = inc  # newest first
    assert sql["hosts"] == [DB] and sql["target_count"] == 1 and sql["cause"] == "refused", sql
    assert sql["targets"][0]["port"] == 1433 and not sql["open"], sql
    near("the 1433 incident", sql["duration_ms"], sql_down, TOL)
    assert syn["hosts"] == [APP] and syn["target_count"] == 2 and syn["cause"] == "filtered", syn
    assert sorted(t["port"] for t in syn["targets"]) == [8080, 8081], syn
    near("the SYN-drop incident", syn["duration_ms"], syn_down, TOL)
    assert syn["summary"].startswith(f"{APP}: filtered: ") and "(2 ports)" in syn["summary"], syn
    assert "Application answers" in syn["tasks"] and syn["roles"] == ["app"], syn
    ok("two incidents, grouped as the events were: 1433 alone, both app ports as one")

    r = subprocess.run([PW, "report", "-c", conf, "--from", frm, "--to", to, "--format", "csv"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    kinds = [row[0] for row in rows[1:]]
    assert (kinds.count("host"), kinds.count("role"), kinds.count("incident"),
            kinds.count("outage")) == (2, 2, 2, 3), rows
    outages = sorted((row[5], row[6], row[7]) for row in rows if row[0] == "outage")
    assert outages == [(DB, "1433", "refused"), (APP, "8080", "filtered"),
                       (APP, "8081", "filtered")], outages
    ok("the report's rows: 2 hosts, 2 roles, 2 incidents, 3 outages")


def check_log(log, truth):
    with open(log) as f:
        text = f.read()
    want = [f"down: {DB} port 1433: refused: nothing listens",
            f"incident 1 opened: {DB} port 1433: refused",
            f"up: {DB} port 1433: open",
            f"incident 1 closed after ",
            f"down: {APP} ports 8080-8081 (2): filtered: no answer",
            f"incident 2 opened: {APP} ports 8080-8081 (2): filtered",
            f"incident 2 closed after ",
            "monitoring gap: from ",
            "s) portwatch was stopped; that time counts as not monitored"]
    at = 0
    for w in want:
        i = text.find(w, at)
        assert i >= 0, f"'{w}' not in the log after offset {at}:\n{text}"
        at = i
    assert "breaks: Database answers [db]" in text and "breaks: Application answers [app]" in text
    assert text.count("incident 1 opened") == 1 and text.count("incident 3 ") == 0, text
    ok("the log: down, up, incident opened and closed, and the monitoring gap, in order")


def inner():
    tmp = tempfile.mkdtemp(prefix="pwtruth-")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    log = os.path.join(tmp, "pw.log")
    conf, api = write_config(tmp, f"""interval = 1s
timeout = 300ms
fail_after = 1
recover_after = 1

[check db]
hosts = {DB}
ports = 1433, 4022
protocol = none
reason = Database answers

[check app]
hosts = {APP}
ports = 8080, 8081
reason = Application answers
""")
    d = Daemon(conf, log, api)
    socks = {}
    try:
        truth, socks = scenario(d)
        check_second_daemon(conf, tmp)
    finally:
        if d.p and d.p.poll() is None:
            d.stop()
        for s in socks.values():
            s.close()
    check_report(conf, truth)
    check_log(log, truth)
    summary("truth")


if __name__ == "__main__":
    inner() if "--inner" in sys.argv else outer()
