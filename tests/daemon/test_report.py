#!/usr/bin/env python3
"""`portwatch report` against the real daemon's database (issue 16), read
while the daemon runs:

  - JSON: the refused ports and the HTTP server where SQL Server should be,
    all found in the first sweep, are one incident (same sweep, shared
    host or cause) whose wrong-service target names SQL Server; the
    outages and the hosts' availability are there;
  - CSV and Markdown say the same rows; an outage row says its cause (the
    wrong service too, which the outage's state alone calls "open");
  - an unknown host or a bad format exits 2 naming it, and writes nothing
    to standard output;
  - the same report from GET /api/v1/report.
"""
import csv
import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from pwtest import free_port, get, ok, stop, summary, wait_for, write_config

PW = sys.argv[1]


class Http400(http.server.BaseHTTPRequestHandler):
    """Answers anything, TDS PRELOGIN bytes too, as an HTTP server would."""

    def handle(self):
        self.request.recv(4096)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def report(conf, *args):
    return subprocess.run([PW, "report", "-c", conf, *args], capture_output=True, text=True,
                          timeout=30)


def main():
    tmp = tempfile.mkdtemp(prefix="pwreport-")
    web = socket.socket()
    web.bind(("127.0.0.1", 0))
    web.listen(16)
    gone = free_port()
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Http400)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    conf, api = write_config(tmp, f"""interval = 1s
timeout = 300ms
fail_after = 1

[check web]
hosts = 127.0.0.1
ports = {web.getsockname()[1]}
reason = Web answers

[check gone]
hosts = 127.0.0.1, 127.0.0.3
ports = {gone}
reason = Nothing here yet

[check sql]
hosts = 127.0.0.1
ports = {httpd.server_address[1]}
protocol = tds
reason = SQL answers
""")
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", f"{tmp}/pw.log"])
    try:
        def three_outages():
            r = report(conf, "--format", "json")
            return r.returncode == 0 and len(json.loads(r.stdout)["outages"]) == 3 and r
        r = wait_for(three_outages, 20, "three outages in the report")
        doc = json.loads(r.stdout)
        assert len(doc["incidents"]) == 1, doc["incidents"]
        inc = doc["incidents"][0]
        assert inc["target_count"] == 3 and inc["open"] and inc["cause"] == "mixed", inc
        assert sorted(inc["hosts"]) == ["127.0.0.1", "127.0.0.3"], inc
        assert "Nothing here yet" in inc["tasks"] and "SQL answers" in inc["tasks"], inc
        wrong = [t for t in inc["targets"] if t["cause_key"] == "mismatch"]
        assert len(wrong) == 1 and "not SQL Server" in wrong[0]["cause"], inc["targets"]
        row = [o for o in doc["outages"] if o["port"] == wrong[0]["port"]][0]
        assert row["cause_key"] == "mismatch" and row["cause"] == wrong[0]["cause"], row
        hosts = {h["name"]: h for h in doc["availability"]["hosts"]}
        assert set(hosts) == {"127.0.0.1", "127.0.0.3"}, hosts
        assert hosts["127.0.0.3"]["available_ms"] == 0 and hosts["127.0.0.3"]["monitored_ms"] > 0
        ok("the report reads the running daemon's database: one incident of three outages, "
           "the wrong service named")

        r = report(conf, "--format", "csv", "--host", "127.0.0.3")
        assert r.returncode == 0, r.stderr
        rows = list(csv.reader(io.StringIO(r.stdout)))
        assert rows[0][:3] == ["record", "key", "start"], rows[0]
        kinds = [row[0] for row in rows[1:]]
        assert kinds.count("host") == 1 and kinds.count("incident") == 1, rows
        assert kinds.count("outage") == 1, rows
        out = [row for row in rows if row[0] == "outage"][0]
        assert out[5] == "127.0.0.3" and out[6] == str(gone) and out[7] == "refused", out
        assert out[8] == "refused: nothing listens (the path is open)", out
        r = report(conf)
        assert r.returncode == 0 and "## Incidents (1)" in r.stdout, r.stdout
        assert "## Outages (3)" in r.stdout and "| 127.0.0.3 | 0.000 % |" in r.stdout, r.stdout
        ok("CSV (scoped to a host) and Markdown say the same rows")

        r = report(conf, "--host", "nosuch.example")
        assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout)
        assert "host 'nosuch.example'" in r.stderr, r.stderr
        r = report(conf, "--format", "pdf")
        assert r.returncode == 2 and "markdown, csv or json" in r.stderr, r.stderr
        r = report(conf, "--from", "now", "--to", "-1h")
        assert r.returncode == 2 and "--from must be earlier" in r.stderr, r.stderr
        r = report(conf, "--database", f"{tmp}/none.db")
        assert r.returncode == 2 and f"no history database at {tmp}/none.db" in r.stderr, r.stderr
        assert not os.path.exists(f"{tmp}/none.db"), "the report created a database"
        ok("an unknown host, a bad format, an empty period or a missing database exits 2 "
           "naming it")

        code, body = get(f"{api}/api/v1/report?format=json")
        assert code == 200, body
        api_doc = json.loads(body)
        assert [i["id"] for i in api_doc["incidents"]] == [inc["id"]], api_doc["incidents"]
        ok("GET /api/v1/report shows the same incident")
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
        httpd.shutdown()
        web.close()
    assert rc == 0, rc
    summary("report")


if __name__ == "__main__":
    main()
