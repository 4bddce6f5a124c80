#!/usr/bin/env python3
"""A storm of SIGHUPs is coalesced (issue 15), against the real daemon:

  - 100 SIGHUPs 20 ms apart make a handful of reloads, not 100: at most one
    runs at a time and they come at least a second apart, the requests in
    between waiting as one, which says how many it stands for;
  - the reload that ends the storm reads the configuration as it is then:
    a port added during the storm is probed after it;
  - the daemon answers its API throughout and stops cleanly;
  - reloads a little over a second apart for 10 s at a 4 s interval leave
    no target unprobed: each new engine goes on with the sweep where the
    last one was, instead of starting it again from its first target.
(What the storm did to memory is measured by bench/reload/run.sh, on a
release build: ASan's quarantine makes RSS meaningless here.)
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from pwtest import free_port, get, ok, stop, summary, wait_for

PW = sys.argv[1]


def conf_text(api, tmp, ports):
    return f"""[portwatch]
listen = 127.0.0.1:{api}
database = {tmp}/pw.db
interval = 1s
timeout = 200ms

[check storm]
hosts = 127.0.0.1
ports = {ports}
expect = reachable
reason = Storm test
"""


def age_s(stamp):
    t = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()


def pace_kept(tmp):
    api = free_port()
    base = free_port()
    conf = os.path.join(tmp, "pace.ini")
    with open(conf, "w") as f:
        f.write(conf_text(api, tmp + "/pace", f"{base}-{base + 39}").replace(
            "interval = 1s", "interval = 4s"))
    os.makedirs(tmp + "/pace", exist_ok=True)
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", os.path.join(tmp, "pace.log")])
    url = f"http://127.0.0.1:{api}/api/v1/status"

    def targets():
        code, body = get(url)
        return json.loads(body)["targets"] if code == 200 else None
    try:
        wait_for(lambda: targets() and all(t["status"] != "unknown" for t in targets()), 10,
                 "every target probed once")
        for _ in range(8):
            p.send_signal(signal.SIGHUP)
            time.sleep(1.3)
        stale = [(t["port"], round(age_s(t["last_checked"]), 1)) for t in targets()
                 if age_s(t["last_checked"]) > 4 + 1.5]
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
    assert rc == 0, rc
    assert not stale, f"not probed for over an interval during the reloads: {stale}"
    ok("reloads every 1.3 s at a 4 s interval left no target unprobed")


def main():
    tmp = tempfile.mkdtemp(prefix="pwstorm-")
    api = free_port()
    base = free_port()
    conf = os.path.join(tmp, "pw.ini")
    log = os.path.join(tmp, "pw.log")
    with open(conf, "w") as f:
        f.write(conf_text(api, tmp, f"{base}-{base + 19}"))
    p = subprocess.Popen([PW, "run", "-c", conf, "--log-file", log])
    url = f"http://127.0.0.1:{api}/api/v1/status"
    try:
        wait_for(lambda: get(url)[0] == 200, 10, "the API")
        t0 = time.monotonic()
        for i in range(100):
            if i == 50:  # the configuration changes in the middle of the storm
                with open(conf + ".new", "w") as f:
                    f.write(conf_text(api, tmp, f"{base}-{base + 20}"))
                os.replace(conf + ".new", conf)
            p.send_signal(signal.SIGHUP)
            time.sleep(0.02)
            if i % 25 == 0:
                assert get(url)[0] == 200, "the API answers during the storm"
        storm = time.monotonic() - t0

        def ports():
            code, body = get(url)
            return code == 200 and len(json.loads(body)["targets"]) == 21
        wait_for(ports, 5, "the port added during the storm")
        time.sleep(1.5)  # any reload still queued has run
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
    assert rc == 0, rc
    with open(log) as f:
        text = f.read()
    reloads = text.count("configuration reloaded")
    # One at once, then at most one per second of storm, plus the queued one.
    assert 2 <= reloads <= int(storm) + 3, f"{reloads} reloads for a {storm:.1f} s storm:\n{text}"
    assert "requests coalesced into this one" in text, text
    ok(f"100 SIGHUPs in {storm:.1f} s made {reloads} reloads")
    ok("the reload after the storm took the configuration as it was then")
    pace_kept(tmp)
    summary("reload storm")


if __name__ == "__main__":
    main()
