"""A real Prometheus for tests: start it on a configuration of scrape
targets and the shipped rules, ask its HTTP API, and run every query of
the shipped Grafana dashboard against it. Used by test_dashboard.py (one
portwatch on loopback) and test_fleet.py (three in network namespaces);
both run Prometheus and curl through `prefix` (e.g. ["ip", "netns", "exec",
NS]) when it must live elsewhere than the test."""
import json
import os
import re
import subprocess
import time
import urllib.parse


def prometheus_config(targets, rules, token=None, interval="1s"):
    """A scrape configuration: job "portwatch" on targets (host:port), the
    rule files given, scrape and evaluation every interval."""
    auth = f"    authorization:\n      credentials: {token}\n" if token else ""
    return (f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
            f"rule_files:\n" + "".join(f"  - {r}\n" for r in rules) +
            "scrape_configs:\n  - job_name: portwatch\n" + auth +
            "    static_configs:\n      - targets: [" + ", ".join(f'"{t}"' for t in targets) +
            "]\n")


def rules_for_zero(src, dst):
    """A copy of the rules file src with every `for:` at 0s, so that a test
    sees an alert fire at its first evaluation. promtool's test cases
    (packaging/prometheus/portwatch.rules.test.yml) prove the real `for:`."""
    with open(src, encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(r"^(\s+)for: \S+$", r"\1for: 0s", text, flags=re.M)
    assert n >= 5, f"{src}: {n} 'for:' lines; the rules changed shape"
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)


class Prometheus:
    def __init__(self, workdir, config_text, listen, prefix=()):
        self.prefix = list(prefix)
        self.base = f"http://{listen}"
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(config_text)
        check = subprocess.run(["promtool", "check", "config", cfg], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.log = open(os.path.join(workdir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            self.prefix + ["prometheus", f"--config.file={cfg}",
                           f"--storage.tsdb.path={os.path.join(workdir, 'tsdb')}",
                           f"--web.listen-address={listen}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.get("/-/ready") is not None, 30, "Prometheus ready")

    def get(self, path):
        """GET path; the body, or None when Prometheus does not answer 2xx."""
        r = subprocess.run(self.prefix + ["curl", "-sf", "--noproxy", "*", "-m", "10",
                                          self.base + path], capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def api(self, path, **params):
        body = self.get(f"/api/v1/{path}?{urllib.parse.urlencode(params)}")
        assert body is not None, f"Prometheus refused {path} {params}"
        doc = json.loads(body)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr):
        """The instant vector (list of {metric, value}) of expr now."""
        data = self.api("query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {},
                                                                       "value": data["result"]}]

    def wait(self, pred, timeout, what, step=0.5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"Prometheus exited ({self.proc.returncode}) waiting for {what}")
            if pred():
                return
            time.sleep(step)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---- the dashboard ---------------------------------------------------------

def dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def panels(dash):
    """Every panel with queries, rows' nested panels too."""
    for p in dash["panels"]:
        yield from (q for q in p.get("panels", []) if q.get("targets"))
        if p.get("targets"):
            yield p


def variables(dash):
    return {v["name"]: v for v in dash["templating"]["list"]}


def substitute(expr, values):
    """expr with each $name / ${name} replaced by values[name]; every
    variable it uses must be given."""
    def one(m):
        name = m.group(1) or m.group(2)
        assert name in values, f"{expr!r} uses ${name}, which the test does not set"
        return values[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)


def label_values(prom, definition, values):
    """A Grafana variable query label_values(SELECTOR, LABEL) answered as
    Grafana asks Prometheus: the values of LABEL over the series."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition)
    assert m, f"unexpected variable query {definition!r}"
    sel = substitute(m.group(1), values)
    series = prom.api("series", **{"match[]": sel})
    return sorted({s[m.group(2)] for s in series if m.group(2) in s})


def run_panels(prom, dash, values):
    """Runs every panel's queries with values; returns {title: result}."""
    out = {}
    for p in panels(dash):
        for t in p["targets"]:
            out[f'{p["title"]} [{t["refId"]}]'] = prom.query(substitute(t["expr"], values))
    return out
