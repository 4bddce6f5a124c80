#!/usr/bin/env python3
"""The history database as the real `portwatch run` and `portwatch db` see it.

one daemon per database: a second `portwatch run` on the database of a
running one (or on a symbolic link to it) exits 2 at once naming the first
one's PID, writes nothing (the
first one's coverage run stays the only one, open, and ends clean) and does
not claim an unclean stop; `portwatch db backup` run meanwhile makes a copy
that passes integrity_check and holds the rows. After kill -9 the next start
works (the lock dies with the process).

refusals at start, each exit 2 with the exact message: a corrupt page in
the middle of the file, a file that is not a database, a missing directory,
an immutable file and an immutable directory (EPERM; root, skipped where
chattr cannot).
`portwatch db recover` of the corrupt file exits 1, says what was lost, and
the daemon starts on what it wrote.

Traffic goes to 127.0.0.1 only.
"""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

from pwtest import free_port, get, ok, stop, summary, wait_for

PW = sys.argv[1]


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")


def write_conf(tmp, db, api_port, port):
    conf = os.path.join(tmp, f"pw-{api_port}.ini")
    with open(conf, "w") as f:
        f.write(f"""[portwatch]
listen = 127.0.0.1:{api_port}
database = {db}
interval = 1s
timeout = 500ms

[check up]
hosts = 127.0.0.1
ports = {port}
reason = something listens here
""")
    return conf


started = []


def start(conf, *extra):
    p = subprocess.Popen([PW, "run", "-c", conf, *extra], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    started.append(p)
    return p


def kill_left():
    """A failed check leaves no daemon behind."""
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


def refused(conf, *extra):
    """Runs a daemon expected to refuse at start: (exit code, its stderr)."""
    p = start(conf, *extra)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise SystemExit("FAIL: a daemon that should be refused is still running after 10 s")
    return p.returncode, p.stderr.read()


def running(tmp, name, port):
    """A daemon on tmp/name answering its API: (db, conf, process, API base)."""
    db = os.path.join(tmp, name)
    api = free_port()
    conf = write_conf(tmp, db, api, port)
    p = start(conf)
    base = f"http://127.0.0.1:{api}"
    wait_for(lambda: get(base + "/api/v1/status")[0] == 200, 10, f"the API of the daemon on {name}")
    return db, conf, p, base


def query(db, sql):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def error_line(err):
    """The message of the first error line, without time and level."""
    for line in err.splitlines():
        if " error: " in line:
            return line.split(" error: ", 1)[1]
    return None


def one_daemon(tmp, port):
    db, conf, first, base = running(tmp, "pw.db", port)
    wait_for(lambda: query(db, "SELECT count(*) FROM state_runs")[0][0] > 0, 10,
             "the first daemon's results in the database")
    runs_before = query(db, "SELECT id, ended_ms FROM runs")

    rc, err = refused(conf, "--listen", f"127.0.0.1:{free_port()}")
    want = (f"not started: database {db} is in use by portwatch (PID {first.pid}): stop that one"
            " first, or give this one another `database`")
    check(rc == 2, f"the second daemon exited {rc}, not 2\n{err}")
    check(error_line(err) == want, f"the second daemon said\n{err}\nnot\n{want}")
    check("did not stop cleanly" not in err, f"the second daemon claimed an unclean stop\n{err}")
    ok("a second daemon on the same database exits 2 naming the first one's PID")

    link = os.path.join(tmp, "link.db")
    os.symlink(db, link)
    rc, err = refused(conf, "--listen", f"127.0.0.1:{free_port()}", "--database", link)
    check(rc == 2 and f"database {link} is in use by portwatch (PID {first.pid})" in err,
          f"a daemon on a symbolic link to the database: exit {rc}\n{err}")
    ok("the same through a symbolic link to it")

    check(first.poll() is None, "the first daemon stopped")
    runs_now = query(db, "SELECT id, ended_ms FROM runs")
    check(runs_now == runs_before and len(runs_now) == 1 and runs_now[0][1] is None,
          f"the second daemon wrote coverage: {runs_before} -> {runs_now}")
    n0 = query(db, "SELECT sum(count) FROM state_runs")[0][0]
    wait_for(lambda: query(db, "SELECT sum(count) FROM state_runs")[0][0] > n0, 10,
             "the first daemon to go on writing")
    ok("the second wrote nothing; the first goes on writing")

    copy = os.path.join(tmp, "backup.db")
    b = subprocess.run([PW, "db", "backup", "-c", conf, copy], capture_output=True, text=True,
                       timeout=60)
    check(b.returncode == 0, f"db backup exited {b.returncode}\n{b.stdout}{b.stderr}")
    check(query(copy, "PRAGMA integrity_check") == [("ok",)], "the backup fails integrity_check")
    check(query(copy, "SELECT count(*) FROM targets")[0][0] == 1, "the backup lacks the target")
    check(query(copy, "SELECT sum(count) FROM state_runs")[0][0] >= n0,
          "the backup lacks the results")
    check(b.stdout.endswith(f"{copy} passes integrity_check\n"), f"db backup said {b.stdout}")
    ok("db backup while the daemon runs: a checked copy holding the rows")

    rc, t = stop(first, 5)
    err = first.stderr.read()
    check(rc == 0, f"the first daemon exited {rc}\n{err}")
    check(query(db, "SELECT count(*), min(end_reason) FROM runs") == [(1, 1)],
          "the first daemon's run did not end clean")
    check(query(db, "SELECT count(*) FROM daemon")[0][0] == 0, "a holder is left after a stop")
    ok("the first one stops clean, with the only coverage run")

    p = start(conf)
    wait_for(lambda: get(base + "/api/v1/status")[0] == 200, 10, "the restarted daemon's API")
    wait_for(lambda: query(db, "SELECT count(*) FROM runs WHERE ended_ms IS NULL")[0][0] == 1,
             10, "the restarted daemon's coverage run")
    p.send_signal(signal.SIGKILL)
    p.wait()
    p = start(conf)
    wait_for(lambda: get(base + "/api/v1/status")[0] == 200, 10, "a start after kill -9")
    rc, t = stop(p, 5)
    err = p.stderr.read()
    check(rc == 0, f"the daemon started after kill -9 exited {rc}\n{err}")
    check("the previous run did not stop cleanly" in err, f"no unclean-stop warning\n{err}")
    ok("kill -9 leaves no lock behind: the next start works")


def corrupt_middle_page(db):
    """Garbage over a page in the middle that holds state_runs rows."""
    c = sqlite3.connect(db)
    pages = c.execute("PRAGMA page_count").fetchone()[0]
    psize = c.execute("PRAGMA page_size").fetchone()[0]
    leaves = [r[0] for r in c.execute("SELECT pageno FROM dbstat WHERE name='state_runs'"
                                      " AND pagetype='leaf' ORDER BY pageno")]
    c.close()
    page = leaves[len(leaves) // 2]
    check(1 < page < pages, f"page {page} of {pages}")
    with open(db, "r+b") as f:
        f.seek((page - 1) * psize)
        f.write(bytes((i * 7919 + 13) & 0xFF for i in range(psize)))
    return page


def refusals(tmp, port):
    db, conf, p, base = running(tmp, "big.db", port)
    stop(p, 5)
    c = sqlite3.connect(db)
    tid = c.execute("SELECT id FROM targets").fetchone()[0]
    c.executemany("INSERT INTO state_runs(target_id,state,status,ok,first_ms,last_ms,count,"
                  "status_since_ms,fails_before,detail) VALUES(?,0,1,1,?,?,1,0,0,'x')",
                  [(tid, i, i) for i in range(20000)])
    c.commit()
    c.close()
    n_all = query(db, "SELECT count(*) FROM state_runs")[0][0]
    page = corrupt_middle_page(db)
    before = open(db, "rb").read()
    rc, err = refused(conf)
    msg = error_line(err) or ""
    want = f"not started: database {db} is corrupt (quick_check: "
    check(rc == 2 and msg.startswith(want) and msg.endswith(
        "): move it aside (portwatch then starts a new one) or recover what is readable with"
        " `portwatch db recover NEW.db`"), f"exit {rc}, said\n{err}")
    check(open(db, "rb").read() == before, "the refused start changed the file")
    ok(f"a corrupt page ({page}) is refused at start, exit 2, nothing written")

    rec = os.path.join(tmp, "recovered.db")
    r = subprocess.run([PW, "db", "recover", "-c", conf, rec], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 1, f"db recover exited {r.returncode}\n{r.stdout}{r.stderr}")
    check("state_runs" in r.stdout and "are lost" in r.stdout, f"db recover said {r.stdout}")
    got = query(rec, "SELECT count(*) FROM state_runs")[0][0]
    check(n_all - 300 < got < n_all, f"recovered {got} of {n_all} state runs")
    _, _, p, _ = running(tmp, "recovered.db", port)
    rc, t = stop(p, 5)
    check(rc == 0, f"the daemon on the recovered file exited {rc}")
    ok(f"db recover kept {got} of {n_all} state runs (exit 1); the daemon runs on it")

    bad = os.path.join(tmp, "bad.db")
    with open(bad, "wb") as f:
        f.write(b"not a database\n" * 1000)
    rc, err = refused(write_conf(tmp, bad, free_port(), port))
    want = (f"not started: cannot open the database {bad}: file is not a database: it is not a"
            " SQLite database; move it aside or set `database` to another file")
    check(rc == 2 and error_line(err) == want, f"exit {rc}, said\n{err}\nnot\n{want}")
    ok("a file that is not a database: exit 2, named")

    missing = os.path.join(tmp, "no-such-dir", "pw.db")
    rc, err = refused(write_conf(tmp, missing, free_port(), port))
    # The start-up checks (daemon/startup.c) find it before the store opens.
    want = (f"database {missing}: its directory {os.path.dirname(missing)} cannot be used: no"
            " such file or directory (ENOENT); create it, writable by the user portwatch runs as"
            " (here 'root' (uid 0)), or set database to a file in a directory that exists")
    check(rc == 2 and error_line(err) == want and not os.path.exists(os.path.dirname(missing)),
          f"exit {rc}, said\n{err}\nnot\n{want}")
    ok("a missing directory: exit 2, named, nothing created")

    if subprocess.run(["chattr", "+i", rec], capture_output=True).returncode != 0:
        print("# skipped: chattr +i is not possible here (needs root on ext4/xfs)")
        return
    try:
        rc, err = refused(write_conf(tmp, rec, free_port(), port))
    finally:
        subprocess.run(["chattr", "-i", rec], check=True)
    # The start-up checks (daemon/startup.c) find it before the store opens.
    want = (f"database {rec}: cannot write it: operation not permitted (EPERM); portwatch runs"
            " as user 'root' (uid 0) here: give that user write access to the file, or set"
            " database to another file")
    check(rc == 2 and error_line(err) == want, f"exit {rc}, said\n{err}\nnot\n{want}")
    ok("an immutable file (EPERM): exit 2, named")

    # the file may be written, its directory not: no -wal and -shm
    d = os.path.join(tmp, "fixed")
    os.mkdir(d)
    db = os.path.join(d, "pw.db")
    _, conf, p, _ = running(d, "pw.db", port)
    stop(p, 5)
    subprocess.run(["chattr", "+i", d], check=True)
    try:
        rc, err = refused(conf)
    finally:
        subprocess.run(["chattr", "-i", d], check=True)
    # The start-up checks (daemon/startup.c) find it before the store opens.
    want = (f"database {db}: cannot create files in its directory {d}: operation not permitted"
            " (EPERM); portwatch runs as user 'root' (uid 0) here: give that user write access to"
            f" {d} (SQLite writes its journal beside the file), or set database to a file in a"
            " directory it can write")
    check(rc == 2 and error_line(err) == want, f"exit {rc}, said\n{err}\nnot\n{want}")
    ok("an immutable directory (EPERM): exit 2, named")


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="pw-store-daemon-")
    t0 = time.time()
    try:
        one_daemon(tmp, port)
        refusals(tmp, port)
    finally:
        kill_left()
    print(f"# checks took {time.time() - t0:.1f} s")
    summary("store daemon")
    shutil.rmtree(tmp)


main()
