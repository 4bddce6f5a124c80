#!/usr/bin/env python3
"""A fleet on Prometheus: three portwatch instances, each in its own network
namespace as a BizTalk server of one vantage (administration, processing,
receive-send), probe a shared farm whose listeners live in a fourth
namespace (a SQL server, a processing server, an FTP server); one real
Prometheus there scrapes all three (bearer token, as the README shows) with
the shipped rules. Then nftables in the processing server's namespace
drops its SYNs to SQL Server (10.78.0.10:1433), a path only that server
uses: PortwatchTargetDown must fire for that server alone, naming it and
the destination, its roles must be unavailable there only, the destination
must not count as down everywhere, and the dashboard's queries must show
it. Removing the rule must resolve it.

The rules are a copy with every `for:` at 0s, so that the alert fires at
its first evaluation (Prometheus evaluates every second here);
portwatch.rules.test.yml proves the shipped `for:` durations with promtool.
Usage: test_fleet.py PORTWATCH. Exits 77 without root, ip, nft or
prometheus."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promlab  # noqa: E402

ROOT = os.environ.get("PW_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "fleet-test-token-0123456789"
SQL, APP, FTP = "10.78.0.10", "10.78.0.11", "10.78.0.12"
FARM_PORTS = {SQL: [1433, 135, 50000], APP: [135, 445, 50001], FTP: [21]}
# name, vantage, [biztalk] roles
SERVERS = [
    ("bts-adm", "administration", f"management_database = {SQL}\nprocessing_servers = {APP}\n"),
    ("bts-proc", "processing", f"management_database = {SQL}\nmessagebox_database = {SQL}\n"),
    ("bts-rs", "receive-send", f"messagebox_database = {SQL}\nftp_servers = {FTP}\n"),
]
# the farm's listeners: the benchmarks' peer (binds every ADDR:PORT given,
# prints "ready", holds them until stdin closes)
LISTENER = os.path.join(ROOT, "bench/probe/listen.py")


def sh(*cmd, ns=None):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(full)}: {r.stderr.strip()}"
    return r.stdout


class Fleet:
    """The namespaces, the farm's listeners, the three daemons."""

    def __init__(self, work):
        pid = os.getpid()
        self.farm = f"pwfarm-{pid}"
        self.ns = [f"pw{v[:4]}-{pid}" for _, v, _ in SERVERS]
        self.procs = []
        self.work = work

    def build(self):
        sh("ip", "netns", "add", self.farm)
        sh("ip", "-n", self.farm, "link", "set", "lo", "up")
        for addr in FARM_PORTS:
            sh("ip", "-n", self.farm, "addr", "add", f"{addr}/32", "dev", "lo")
        for i, ns in enumerate(self.ns, 1):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            a, b = f"pwf{i}-{os.getpid()}", f"pww{i}-{os.getpid()}"
            sh("ip", "link", "add", a, "netns", self.farm, "type", "veth", "peer", "name", b,
               "netns", ns)
            sh("ip", "-n", self.farm, "addr", "add", f"10.77.{i}.1/24", "dev", a)
            sh("ip", "-n", ns, "addr", "add", f"10.77.{i}.2/24", "dev", b)
            sh("ip", "-n", self.farm, "link", "set", a, "up")
            sh("ip", "-n", ns, "link", "set", b, "up")
            sh("ip", "-n", ns, "route", "add", "10.78.0.0/24", "via", f"10.77.{i}.1")
        specs = [f"{a}:{p}" for a, ports in FARM_PORTS.items() for p in ports]
        lst = subprocess.Popen(["ip", "netns", "exec", self.farm, sys.executable, LISTENER]
                               + specs, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(lst)
        assert lst.stdout.readline().strip() == "ready", "the farm's listeners did not start"

    def start_daemons(self, pw):
        for i, ((name, vantage, roles), ns) in enumerate(zip(SERVERS, self.ns), 1):
            ini = os.path.join(self.work, f"{name}.ini")
            with open(ini, "w") as f:
                f.write(f"[portwatch]\nlisten = 10.77.{i}.2:8470\napi_token = {TOKEN}\n"
                        f"database = {self.work}/{name}.db\ninterval = 1s\ntimeout = 500ms\n"
                        f"fail_after = 2\nvantage = {vantage}\ninstance_name = {name}\n"
                        f"labels = group=farm-a\n[biztalk]\n{roles}"
                        "secondary_rpc_ports = 50000-50003\nverify = no\n")
            log = open(os.path.join(self.work, f"{name}.log"), "w")
            self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, pw, "run", "-c", ini],
                                               stdout=log, stderr=subprocess.STDOUT))

    def teardown(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in [self.farm] + self.ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def firing(prom, alert):
    return [r["metric"] for r in prom.query(f'ALERTS{{alertname="{alert}",alertstate="firing"}}')]


def count(prom, expr):
    r = prom.query(expr)
    return int(float(r[0]["value"][1])) if r else 0


def main():
    pw = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        sys.exit(77)
    for tool in ("ip", "nft", "prometheus", "promtool", "curl"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is missing")
            sys.exit(77)
    work = tempfile.mkdtemp(prefix="pw-fleet-")
    fleet = Fleet(work)
    prom = None
    try:
        try:
            fleet.build()
        except AssertionError as e:
            print(f"SKIP: cannot build the namespaces: {e}")
            sys.exit(77)
        fleet.start_daemons(pw)
        rules = os.path.join(work, "portwatch.rules.yml")
        promlab.rules_for_zero(os.path.join(ROOT, "packaging/prometheus/portwatch.rules.yml"), rules)
        targets = [f"10.77.{i}.2:8470" for i in range(1, 4)]
        prom = promlab.Prometheus(work, promlab.prometheus_config(targets, [rules], token=TOKEN),
                                  "127.0.0.1:9090", prefix=["ip", "netns", "exec", fleet.farm])
        run(prom, fleet)
    finally:
        if prom:
            prom.stop()
        fleet.teardown()
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


def run(prom, fleet):
    # baseline: three servers scraped, every target probed and up
    prom.wait(lambda: count(prom, 'sum(up{job="portwatch"})') == 3, 30, "three scraped servers")
    prom.wait(lambda: count(prom, "count(portwatch_target_up == 1)") ==
              count(prom, "count(portwatch_target_up)") > 0, 30, "every target up")
    info = sorted((m["metric"]["instance_name"], m["metric"]["vantage"], m["metric"]["group"])
                  for m in prom.query("portwatch_build_info"))
    assert info == sorted((n, v, "farm-a") for n, v, _ in SERVERS), info
    sql_watchers = count(prom, f'count(portwatch_target_up{{host="{SQL}",port="1433"}})')
    assert sql_watchers == 3, f"{sql_watchers} servers watch SQL Server; all three should"
    time.sleep(2)  # evaluations over the healthy fleet
    for alert in ("PortwatchTargetDown", "PortwatchRoleUnavailable",
                  "PortwatchDestinationDownEverywhere"):
        assert firing(prom, alert) == [], f"{alert} fires on a healthy fleet: {firing(prom, alert)}"
    print("ok: a healthy fleet of 3, %d targets, no alert" % count(prom, "count(portwatch_target_up)"))

    # break the processing server's path to SQL Server
    proc_ns = fleet.ns[1]
    rule = (f"table inet pwfleet {{\n chain out {{\n  type filter hook output priority 0;\n"
            f"  ip daddr {SQL} tcp dport 1433 drop\n }}\n}}\n")
    r = subprocess.run(["ip", "netns", "exec", proc_ns, "nft", "-f", "-"], input=rule, text=True,
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    prom.wait(lambda: firing(prom, "PortwatchTargetDown"), 30, "PortwatchTargetDown")
    print(f"ok: PortwatchTargetDown fired {time.monotonic() - t0:.1f}s after the drop")
    time.sleep(3)  # later evaluations must not add other servers
    down = [(m["instance_name"], m["vantage"], m["group"], m["host"], m["port"])
            for m in firing(prom, "PortwatchTargetDown")]
    assert down == [("bts-proc", "processing", "farm-a", SQL, "1433")], down
    roles = sorted((m["instance_name"], m["role"]) for m in firing(prom, "PortwatchRoleUnavailable"))
    assert roles == [("bts-proc", "management_database"), ("bts-proc", "messagebox_database")], roles
    assert firing(prom, "PortwatchDestinationDownEverywhere") == []
    still = sorted(m["metric"]["instance_name"] for m in
                   prom.query(f'portwatch_target_up{{host="{SQL}",port="1433"}} == 1'))
    assert still == ["bts-adm", "bts-rs"], still
    print("ok: the alert names bts-proc (processing) -> %s:1433 alone" % SQL)

    check_dashboard(prom)

    sh("nft", "delete table inet pwfleet", ns=proc_ns)
    prom.wait(lambda: not firing(prom, "PortwatchTargetDown") and
              not firing(prom, "PortwatchRoleUnavailable"), 30, "the alerts to resolve")
    print("ok: resolved once the path is open again")


def check_dashboard(prom):
    dash = promlab.dashboard(os.path.join(ROOT, "packaging/grafana/portwatch.json"))
    rpc = promlab.variables(dash)["rpc_ports"]["current"]["value"]
    every = {"group": ".*", "instance_name": ".*", "vantage": ".*", "rpc_ports": rpc}
    empty = [t for t, r in promlab.run_panels(prom, dash, every).items() if not r]
    assert empty == [], f"panels without data over the fleet: {empty}"
    by_title = {p["title"]: p["targets"][0]["expr"] for p in promlab.panels(dash)}

    def rows(title, **sel):
        return prom.query(promlab.substitute(by_title[title], dict(every, **sel)))
    down = [(r["metric"]["instance_name"], r["metric"]["host"], r["metric"]["port"])
            for r in rows("Down now: which server cannot reach what")]
    assert down == [("bts-proc", SQL, "1433")], down
    assert rows("Down now: which server cannot reach what", vantage="administration") == []
    assert len(rows("Down now: which server cannot reach what", instance_name="bts-proc")) == 1
    share = {(r["metric"]["host"], r["metric"]["port"]): float(r["value"][1])
             for r in rows("Servers failing each destination")}
    assert abs(share[(SQL, "1433")] - 1 / 3) < 1e-9, share
    per_server = {r["metric"]["instance_name"]: float(r["value"][1])
                  for r in rows("Targets down per server")}
    assert per_server == {"bts-adm": 0, "bts-proc": 1, "bts-rs": 0}, per_server
    print("ok: the dashboard's %d queries return data; its tables show bts-proc -> %s:1433, "
          "1 of 3 servers" % (sum(len(p["targets"]) for p in promlab.panels(dash)), SQL))


if __name__ == "__main__":
    main()
