#!/usr/bin/env python3
"""Every status change is a log line (issue 16), against the real daemon:

  - at start, a listening port logs `up`, a refused one `down` with its
    cause and the task it breaks, each as it happens;
  - three refused ports of one check on one host make ONE line naming the
    range, however their probes are spread over the interval;
  - closing a listener logs `down` for that port, opening one `up`;
  - an HTTP server answering where SQL Server should be is a wrong-service
    cause ("..., not SQL Server"), not "open";
  - a group still gathering at SIGTERM is written before the exit;
  - changes that begin together are one incident: the first sweep's
    refusals on two hosts and the wrong service open ONE incident; a port
    closed later opens another, and its coming back closes it, naming its
    duration, port and cause.
"""
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pwtest import free_port, get, ok, stop, summary, wait_for

PW = sys.argv[1]


def listener(port=0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s, s.getsockname()[1]


class Http400(http.server.BaseHTTPRequestHandler):
    """Answers anything, TDS PRELOGIN bytes too, as an HTTP server would."""

    def handle(self):
        self.request.recv(4096)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: pwtest\r\n"
                             b"Content-Length: 0\r\n\r\n")


def free_run(addr, n):
    """n consecutive ports nothing can accept on at addr."""
    base = free_port()
    while True:
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind((addr, base + i))
            return base
        except OSError:
            base += n
        finally:
            for s in socks:
                s.close()


def lines(log, word):
    try:
        with open(log) as f:
            return [l for l in f if f" {word}: " in l]
    except FileNotFoundError:
        return []


def incident_lines(log):
    with open(log) as f:
        return [l for l in f if re.search(r" incident \d+ ", l)]


def pending_at_stop(tmp):
    """Two of three ports of one check refused, the third listening, at a
    30 s interval: the refused pair's line waits for the third (or the
    interval), so it is still gathering when SIGTERM comes."""
    base = free_run("127.0.0.1", 3)
    mid, _ = listener(base + 1)
    api = free_port()
    conf = os.path.join(tmp, "pending.ini")
    log = os.path.join(tmp, "pending.log")
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api}
database = {tmp}/pending.db
interval = 30s
timeout = 300ms
fail_after = 1

[check trio]
hosts = 127.0.0.1
ports = {base}-{base + 2}
reason = Trio must listen
""")
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    try:
        def probed():
            code, body = get(f"http://127.0.0.1:{api}/api/v1/status")
            return code == 200 and all(t["status"] != "unknown"
                                       for t in json.loads(body)["targets"])
        wait_for(probed, 40, "all three ports probed")
        assert not lines(log, "down"), f"written before it was complete: {lines(log, 'down')}"
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
        mid.close()
    assert rc == 0, rc
    want = f"down: 127.0.0.1 ports {base}, {base + 2} (2): refused"
    assert any(want in l for l in lines(log, "down")), f"{want} in {lines(log, 'down')}"
    assert any(f"up: 127.0.0.1 port {base + 1}: open" in l for l in lines(log, "up"))
    ok("a group still gathering at SIGTERM is written before the exit")


def main():
    tmp = tempfile.mkdtemp(prefix="pwtrans-")
    web, web_port = listener()
    gone = free_port()
    rng = free_run("127.0.0.3", 3)
    # An HTTP server where a check says SQL Server (TDS) must answer.
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Http400)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    wrong = httpd.server_address[1]
    conf = os.path.join(tmp, "pw.ini")
    log = os.path.join(tmp, "pw.log")
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{free_port()}
database = {tmp}/pw.db
interval = 2s
timeout = 300ms
fail_after = 1
recover_after = 1

[check web]
hosts = 127.0.0.1
ports = {web_port}
reason = Web answers

[check gone]
hosts = 127.0.0.1
ports = {gone}
reason = Nothing here yet

[check range]
hosts = 127.0.0.3
ports = {rng}-{rng + 2}
reason = Range must listen

[check sql]
hosts = 127.0.0.1
ports = {wrong}
protocol = tds
reason = SQL answers
""")
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    try:
        wait_for(lambda: any(f"port {web_port}: open" in l for l in lines(log, "up")), 10,
                 "the listening port's up line")
        ok("a listening port logs up at start")
        want = (f"down: 127.0.0.1 port {gone}: refused: nothing listens (the path is open); "
                f"breaks: Nothing here yet [gone]")
        wait_for(lambda: any(want in l for l in lines(log, "down")), 10, want)
        ok("a refused port logs down with its cause and the task it breaks")
        want = f"down: 127.0.0.3 ports {rng}-{rng + 2} (3): refused"
        wait_for(lambda: any(want in l for l in lines(log, "down")), 10, want)
        assert len([l for l in lines(log, "down") if "127.0.0.3" in l]) == 1, lines(log, "down")
        assert re.search(r"first at \d{4}-\d\d-\d\dT", "".join(lines(log, "down"))), \
            "a grouped line names the time of its first change"
        ok("three refused ports of one check make one line naming the range")
        wait_for(lambda: any(f"port {wrong}: wrong service: " in l and "[sql]" in l
                             for l in lines(log, "down")), 10, "the wrong-service line")
        line = [l for l in lines(log, "down") if f"port {wrong}: wrong service: " in l][0]
        assert "not SQL Server" in line and "the expected service" not in line, line
        ok("an HTTP server where TDS must answer is a wrong service, not SQL Server")

        time.sleep(3)  # past the first sweep's incident window (interval + timeout)
        web.close()
        wait_for(lambda: any(f"down: 127.0.0.1 port {web_port}: refused" in l
                             for l in lines(log, "down")), 10, "down after the listener closed")
        ok("closing a listener logs down")
        opened = wait_for(lambda: [l for l in incident_lines(log)
                                   if f" opened: 127.0.0.1 port {web_port}: refused" in l],
                          10, "the incident the closed listener opens")
        num = re.search(r"incident (\d+) opened", opened[0]).group(1)
        assert num != "1", incident_lines(log)
        # the first sweep: refusals on .1 and .3 and the wrong service on .1
        # began together: one incident (or ones that say they joined it)
        first = [l for l in incident_lines(log) if f"incident {num} " not in l]
        joined = [l for l in first if " joins incident 1:" in l]
        assert len([l for l in first if " opened: " in l]) == 1 + len(joined), first
        web, _ = listener(web_port)
        closed = wait_for(lambda: [l for l in incident_lines(log)
                                   if f"incident {num} closed after " in l],
                          10, f"incident {num} closed")
        assert f": 127.0.0.1 port {web_port}; was refused" in closed[0], closed
        ok("a port closed later is an incident of its own, closed when it is back")
        back, _ = listener(gone)
        wait_for(lambda: any(f"up: 127.0.0.1 port {gone}: open" in l for l in lines(log, "up")),
                 10, "up after a listener opened")
        ok("opening a listener logs up")
        back.close()
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
        httpd.shutdown()
    assert rc == 0, rc
    pending_at_stop(tmp)
    summary("transitions")


if __name__ == "__main__":
    main()
