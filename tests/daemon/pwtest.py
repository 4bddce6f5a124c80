"""Helpers the daemon tests share: a free loopback port, a configuration
file whose API listens on one, an HTTP GET that returns (status, body) for
errors too, polling until a condition holds,
stopping a daemon with a signal while timing how long it takes, and the
"ok N: what" lines with their closing count."""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(tmp, body, database=None):
    """Writes tmp/pw.ini: a [portwatch] section whose API listens on a free
    loopback port and whose database is tmp/pw.db (or `database`), then
    body (more [portwatch] keys, then the checks). Returns (the file's
    path, the API's base URL)."""
    api = free_port()
    conf = os.path.join(tmp, "pw.ini")
    with open(conf, "w") as f:
        f.write(f"[portwatch]\nlisten = 127.0.0.1:{api}\n"
                f"database = {database or os.path.join(tmp, 'pw.db')}\n{body}")
    return conf, f"http://127.0.0.1:{api}"


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(pred, timeout, what, step=0.1):
    """Calls pred until it returns something true; exits the test with a
    failure naming `what` (and pred's last answer) after timeout seconds."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(step)
    raise SystemExit(f"FAIL: timed out waiting for {what}; last: {last}")


def stop(p, limit, sig=signal.SIGTERM):
    """Sends sig to the daemon process p and waits for it to exit; returns
    (exit code, seconds taken). Kills it and exits the test with a failure
    when it is still running after `limit` seconds."""
    t0 = time.monotonic()
    p.send_signal(sig)
    try:
        rc = p.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise SystemExit(f"FAIL: the daemon did not stop within {limit} s of {sig.name}")
    return rc, time.monotonic() - t0


_passed = 0


def ok(what):
    """Prints one passed check as "ok N: what"."""
    global _passed
    _passed += 1
    print(f"ok {_passed}: {what}", flush=True)


def summary(name):
    """Prints the closing line, "NAME: N passed, 0 failed" (a failure exits
    earlier, with its own message)."""
    print(f"{name}: {_passed} passed, 0 failed")
