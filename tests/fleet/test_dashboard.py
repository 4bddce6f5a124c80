#!/usr/bin/env python3
"""The shipped Grafana dashboard's queries are true: a real portwatch probes
real listeners on 127.x.y.10 (a SQL server: 1433, 135, two RPC ports) and
127.x.y.11 (a processing server: 135 only, so its SMB port 445 is down),
a real Prometheus from Debian scrapes it with the shipped rules, and every
panel's PromQL (variables substituted: All, and each value the variable
queries offer) must return data. The down-targets table must name exactly
the one target down, and a selection of no server must empty it (so the
selectors are applied). Usage: test_dashboard.py PORTWATCH. Exits 77
without prometheus or promtool."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promlab  # noqa: E402

ROOT = os.environ.get("PW_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def main():
    pw = os.path.abspath(sys.argv[1])
    for tool in ("prometheus", "promtool", "curl"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is missing (apt-get install -y prometheus curl)")
            sys.exit(77)
    net = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}"
    sql, app = f"{net}.10", f"{net}.11"
    socks = [listen(sql, p) for p in (1433, 135, 50000, 50001)] + [listen(app, 135)]
    work = tempfile.mkdtemp(prefix="pw-dash-")
    pw_port, prom_port = free_port(), free_port()
    ini = os.path.join(work, "portwatch.ini")
    with open(ini, "w") as f:
        f.write(f"[portwatch]\nlisten = 127.0.0.1:{pw_port}\ndatabase = {work}/pw.db\n"
                "interval = 1s\ntimeout = 500ms\nfail_after = 1\n"
                "instance_name = bts-dash\nlabels = group=farm-a, site=lab\n"
                "[biztalk]\nmanagement_database = " + sql + "\nprocessing_servers = " + app +
                "\nsecondary_rpc_ports = 50000-50003\nverify = no\n")
    daemon = subprocess.Popen([pw, "run", "-c", ini], stdout=open(f"{work}/pw.log", "w"),
                              stderr=subprocess.STDOUT)
    prom = None
    try:
        rules = os.path.join(ROOT, "packaging/prometheus/portwatch.rules.yml")
        prom = promlab.Prometheus(work, promlab.prometheus_config([f"127.0.0.1:{pw_port}"], [rules]),
                                  f"127.0.0.1:{prom_port}")
        check(prom, sql, app)
    finally:
        if prom:
            prom.stop()
        daemon.terminate()
        daemon.wait(20)
        for s in socks:
            s.close()
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


def check(prom, sql, app):
    # every target probed, and the recording rules evaluated over it
    prom.wait(lambda: prom.query('count(portwatch_target_up{instance_name="bts-dash"} >= 0)') and
              int(prom.query('count(portwatch_target_up{instance_name="bts-dash"} >= 0)')[0]["value"][1])
              == int(prom.query('count(portwatch_target_up{instance_name="bts-dash"})')[0]["value"][1]),
              30, "every target probed")
    prom.wait(lambda: prom.query("role:portwatch_role_up:avg_over_time_1h") and
              prom.query("group_role:portwatch_role_up:min"), 30, "recording rules")
    time.sleep(3)  # a few samples for range panels

    dash = promlab.dashboard(os.path.join(ROOT, "packaging/grafana/portwatch.json"))
    vars_ = promlab.variables(dash)
    rpc = vars_["rpc_ports"]["current"]["value"]
    everything = {"group": ".*", "instance_name": ".*", "vantage": ".*", "rpc_ports": rpc}
    # the variable queries offer what portwatch labels its series with
    offered = {}
    for name in ("group", "instance_name", "vantage"):
        offered[name] = promlab.label_values(prom, vars_[name]["definition"], everything)
    want = {"group": ["farm-a"], "instance_name": ["bts-dash"], "vantage": ["administration"]}
    assert offered == want, f"variables offer {offered}, expected {want}"

    failures = 0
    selections = [everything] + [dict(everything, **{k: v[0]}) for k, v in offered.items()]
    for values in selections:
        for title, result in promlab.run_panels(prom, dash, values).items():
            if not result:
                print(f"FAIL: panel {title!r} returned no data with {values}")
                failures += 1
    n = sum(len(p["targets"]) for p in promlab.panels(dash))
    print(f"{n} panel queries x {len(selections)} selections: {failures} without data")

    # the down table names exactly who cannot reach what
    down = [q for q in promlab.panels(dash) if q["title"].startswith("Down now")][0]["targets"][0]
    rows = prom.query(promlab.substitute(down["expr"], everything))
    got = sorted((r["metric"]["instance_name"], r["metric"]["vantage"], r["metric"]["group"],
                  r["metric"]["host"], r["metric"]["port"]) for r in rows)
    assert got == [("bts-dash", "administration", "farm-a", app, "445")], got
    none = prom.query(promlab.substitute(down["expr"], dict(everything, instance_name="no-such")))
    assert none == [], f"a selection of no server still shows {none}"
    # the heatmap rows are the RPC range's ports, from both hosts
    heat = [q for q in promlab.panels(dash) if q["type"] == "heatmap"][0]["targets"][0]
    ports = sorted(r["metric"]["port"] for r in prom.query(promlab.substitute(heat["expr"], everything)))
    assert ports == ["50000", "50001", "50002", "50003"], ports
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
