#!/usr/bin/env python3
"""The real `portwatch run` at start-up: each problem that stops it is
said with its cause and fix, and it creates nothing (no database file)
before every start-up check has passed.

- the listen address is held by another socket: the OS's error, exit 2,
  and the database's directory stays empty;
- the database's directory cannot be written (run as nobody): the
  directory, the OS error and the user, exit 2, nothing created;
- a relative database path: where it goes is said, and the daemon runs;
- `--interval 1s` without `--timeout` starts (the timeout fits itself).
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile

from pwtest import free_port, stop, wait_for

PW = os.path.abspath(sys.argv[1])
passed = 0


def ini(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def refused(args, want, cwd=None, preexec=None):
    """Runs `portwatch run ARGS`, which must exit 2 with each line of want
    in its output."""
    global passed
    p = subprocess.run([PW, "run"] + args, capture_output=True, text=True, timeout=30,
                       cwd=cwd, preexec_fn=preexec)
    out = p.stdout + p.stderr
    assert p.returncode == 2, f"exit {p.returncode}, expected 2:\n{out}"
    for w in want:
        assert w in out, f"output lacks {w!r}:\n{out}"
    passed += 1
    return out


def started(args, cwd):
    """Starts `portwatch run ARGS`, waits for "started", stops it; returns
    its log."""
    global passed
    log = os.path.join(cwd, f"run{passed}.log")  # each start its own log
    p = subprocess.Popen([PW, "run", "--log-file", log] + args, cwd=cwd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "started:" in open(log).read(), 15, "the daemon to start")
    finally:
        rc, _ = stop(p, 10, signal.SIGTERM)
    text = open(log).read()
    assert rc == 0, f"exit {rc}:\n{text}"
    passed += 1
    return text


def main():
    tmp = tempfile.mkdtemp(prefix="pw-startup-")
    os.chmod(tmp, 0o755)
    check = "[check a]\nhosts = 127.0.0.1\nports = 1\n"

    # listen address in use: the real error, and no database file
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    dbdir = os.path.join(tmp, "db")
    os.mkdir(dbdir)
    conf = ini(os.path.join(tmp, "busy.ini"),
               f"[portwatch]\nlisten = 127.0.0.1:{port}\ndatabase = {dbdir}/pw.db\n" + check)
    refused(["-c", conf], [
        f"error: cannot serve the HTTP API on 127.0.0.1:{port}: address already in use "
        "(EADDRINUSE); another program listens there: stop it, or give listen (or --listen) "
        "a free port",
        "not started: 1 problem (above); nothing was created"])
    assert os.listdir(dbdir) == [], os.listdir(dbdir)
    held.close()

    # a database directory this user cannot write: which, why, who
    if os.getuid() == 0:
        ro = os.path.join(tmp, "ro")
        os.mkdir(ro)
        os.chmod(ro, 0o555)
        conf = ini(os.path.join(tmp, "ro.ini"),
                   f"[portwatch]\nlisten = 127.0.0.1:{free_port()}\ndatabase = {ro}/pw.db\n"
                   + check)

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        refused(["-c", conf], [
            f"error: database {ro}/pw.db: cannot create files in its directory {ro}: "
            "permission denied (EACCES); portwatch runs as user 'nobody' (uid 65534) here: "
            f"give that user write access to {ro} (SQLite writes its journal beside the file), "
            "or set database to a file in a directory it can write",
            "not started: 1 problem (above); nothing was created"], cwd=tmp, preexec=as_nobody)
        assert os.listdir(ro) == [], os.listdir(ro)
    else:
        print("note: not root, the unwritable-directory case is left out")

    # a database directory that does not exist: run refuses, creates nothing
    conf = ini(os.path.join(tmp, "none.ini"),
               f"[portwatch]\nlisten = 127.0.0.1:{free_port()}\ndatabase = {tmp}/none/pw.db\n"
               + check)
    refused(["-c", conf], [
        f"error: database {tmp}/none/pw.db: its directory {tmp}/none cannot be used: no such "
        "file or directory (ENOENT); create it, writable by the user portwatch runs as"])
    assert not os.path.exists(os.path.join(tmp, "none"))

    # relative database: said with where it goes; --interval 1s alone starts
    cwd = os.path.join(tmp, "cwd")
    os.mkdir(cwd)
    text = started(["--listen", f"127.0.0.1:{free_port()}", "--database", "rel.db",
                    "--interval", "1s", "-p", "1", "127.0.0.1"], cwd)
    want = f"warn: database rel.db is relative to the working directory: the history goes to {cwd}/rel.db"
    assert want in text, text
    assert "started: watching 1 target on 1 host every 1s (timeout 500ms)" in text, text
    assert os.path.exists(os.path.join(cwd, "rel.db"))
    # a timeout from the file that fits the interval given stays
    conf = ini(os.path.join(tmp, "fits.ini"), "[portwatch]\ntimeout = 200ms\n" + check)
    text = started(["-c", conf, "--listen", f"127.0.0.1:{free_port()}", "--database",
                    os.path.join(cwd, "fits.db"), "--interval", "4s"], cwd)
    assert "every 4s (timeout 200ms)" in text, text
    print(f"startup: {passed} passed, 0 failed")


if __name__ == "__main__":
    main()
