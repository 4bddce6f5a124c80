"""Helpers the daemon tests share: a free loopback port, an HTTP GET that
returns (status, body) for errors too, and polling until a condition holds."""
import socket
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
