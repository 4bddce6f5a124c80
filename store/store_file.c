/*
 * The database file as pw_store_open() and the `portwatch db` commands find
 * it: opening it with a message that names the path, SQLite's reason, the
 * operating system's error and what to do; the lock that keeps a second
 * daemon off a database in use; and the start-up check that refuses a
 * corrupt file.
 *
 * The lock is SQLite's own: a dedicated connection to a small file beside
 * the database (PATH-lock) in exclusive locking mode. SQLite takes it with
 * fcntl() on POSIX and LockFileEx() on Windows, so the operating system
 * drops it when the process ends however it ends (kill -9 included), and no
 * code here depends on the OS. The database itself is not locked: readers
 * (the web layer, `portwatch db backup`, reports) open it as usual. The PID
 * of the holder is written in the database (table daemon) for the refusal
 * message; the lock, not that row, decides.
 */
#include "store/store_int.h"

#include "base/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

void pw_store_os_error(int sys_errno, char *out, size_t len)
{
    if (sys_errno == 0) {
        out[0] = 0;
        return;
    }
    /* libuv maps errno on POSIX and GetLastError() codes on Windows. */
    int e = uv_translate_sys_error(sys_errno);
    snprintf(out, len, "%s (%s)", uv_strerror(e), uv_err_name(e));
}

void pw_store_why(sqlite3 *db, int rc, char *out, size_t len)
{
    char os[96];
    pw_store_os_error(db ? sqlite3_system_errno(db) : 0, os, sizeof os);
    const char *msg = db && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db)
                                                              : sqlite3_errstr(rc);
    snprintf(out, len, "%s%s%s", msg, os[0] ? ": " : "", os);
}

/* The directory part of path ("" when path names none). */
static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    const char *bs = strrchr(path, '\\');
    if (bs && (!slash || bs > slash))
        slash = bs;
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0)
        n = 1; /* "/x.db": the root */
    if (n >= len)
        n = len - 1;
    memcpy(dir, path, n);
    dir[n] = 0;
}

/* Why sqlite3_open_v2() could not open file (the database at path, or its
 * lock beside it): the missing directory when that is the cause, else the
 * operating system's error SQLite saw. */
static void open_failed(sqlite3 *db, int rc, const char *path, const char *file,
                        char err[PW_STORE_MSG_MAX])
{
    char dir[PW_STORE_MSG_MAX], why[192];
    dir_of(file, dir, sizeof dir);
    uv_fs_t req;
    int st = dir[0] ? uv_fs_stat(NULL, &req, dir, NULL) : 0;
    uv_fs_req_cleanup(&req);
    if (st == UV_ENOENT || st == UV_ENOTDIR) {
        snprintf(err, PW_STORE_MSG_MAX,
                 "cannot open the database %.180s: the directory %.150s does not exist: create"
                 " it, or set `database` to a file in an existing directory", path, dir);
        return;
    }
    pw_store_why(db, rc, why, sizeof why);
    snprintf(err, PW_STORE_MSG_MAX, "cannot open %.180s%s: %.120s: portwatch needs to read and"
             " write it and to create files in %.80s", file,
             file == path ? "" : " (beside the database)",
             why, dir[0] ? dir : "the working directory");
}

/* SQLite opens a file it may not write read-only, without an error: ask the
 * operating system why, so the message names EACCES, EPERM or EROFS. */
static void readonly_failed(const char *path, char err[PW_STORE_MSG_MAX])
{
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, path, UV_FS_O_RDWR, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (fd >= 0) {
        uv_fs_close(NULL, &req, fd, NULL);
        uv_fs_req_cleanup(&req);
    }
    snprintf(err, PW_STORE_MSG_MAX, "cannot write the database %.200s: %s (%s): make it writable"
             " for the user portwatch runs as, or set `database` to another file", path,
             fd >= 0 ? "opened read-only" : uv_strerror(fd), fd >= 0 ? "SQLITE_READONLY"
             : uv_err_name(fd));
}

int pw_store_open_file(const char *path, int flags, sqlite3 **db, char err[PW_STORE_MSG_MAX])
{
    int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        open_failed(*db, rc, path, path, err);
    } else if ((flags & SQLITE_OPEN_READWRITE) && sqlite3_db_readonly(*db, "main") == 1) {
        readonly_failed(path, err);
        rc = SQLITE_READONLY;
    }
    if (rc != SQLITE_OK) {
        sqlite3_close(*db);
        *db = NULL;
        return PW_ESTORAGE;
    }
    return 0;
}

/* SQLite could open the database but not create a file beside it (its
 * -wal and -shm): what SQLite saw last is often another call's error, so
 * ask the operating system whether the directory may be written.
 * Returns false when it may (nothing said). */
static bool dir_refused(const char *path, const char *doing, char err[PW_STORE_MSG_MAX])
{
    char dir[PW_STORE_MSG_MAX];
    dir_of(path, dir, sizeof dir);
    uv_fs_t req;
    int rc = uv_fs_access(NULL, &req, dir[0] ? dir : ".", 2 /* W_OK */, NULL);
    uv_fs_req_cleanup(&req);
    if (rc == 0)
        return false;
    snprintf(err, PW_STORE_MSG_MAX, "%s %.180s: SQLite cannot create its -wal and -shm files"
             " in %.150s: %s (%s): let the user portwatch runs as create files there", doing,
             path, dir[0] ? dir : ".", uv_strerror(rc), uv_err_name(rc));
    return true;
}

void pw_store_failed(sqlite3 *db, int rc, const char *path, const char *doing,
                     char err[PW_STORE_MSG_MAX])
{
    char why[192];
    pw_store_why(db, rc, why, sizeof why);
    int code = db ? sqlite3_errcode(db) & 0xff : rc & 0xff;
    if (code == SQLITE_OK)
        code = rc & 0xff;
    const char *todo = "";
    if (code == SQLITE_NOTADB)
        todo = ": it is not a SQLite database; move it aside or set `database` to another file";
    else if (code == SQLITE_CORRUPT)
        todo = ": move it aside (portwatch then starts a new one) or recover what is readable"
               " with `portwatch db recover NEW.db`";
    else if (code == SQLITE_FULL)
        todo = ": free space on its disk";
    else if (code == SQLITE_READONLY || code == SQLITE_PERM)
        todo = ": make it writable for the user portwatch runs as";
    else if (code == SQLITE_CANTOPEN && dir_refused(path, doing, err))
        return;
    else if (code == SQLITE_CANTOPEN)
        todo = ": SQLite keeps its -wal and -shm files beside it; let the user portwatch runs"
               " as create and write files in its directory";
    snprintf(err, PW_STORE_MSG_MAX, "%s %.200s: %.120s%s", doing, path, why, todo);
}

/* ---- one daemon per database ------------------------------------------ */

/* The PID recorded by the daemon holding path, or 0 when unknown (it is
 * between taking the lock and writing it, or an older portwatch). */
static long holder_pid(const char *path)
{
    sqlite3 *db = NULL;
    long pid = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, "SELECT pid FROM daemon", -1, &s, NULL) == SQLITE_OK) {
            if (sqlite3_step(s) == SQLITE_ROW)
                pid = (long)sqlite3_column_int64(s, 0);
            sqlite3_finalize(s);
        }
    }
    sqlite3_close(db);
    return pid;
}

int pw_store_lock(const char *path, sqlite3 **lock, char err[PW_STORE_MSG_MAX])
{
    /* Beside the file itself: two names of one database (a symbolic link)
     * share one lock. A database not created yet has no other name. */
    uv_fs_t req;
    const char *real = uv_fs_realpath(NULL, &req, path, NULL) == 0 ? req.ptr : path;
    char file[PW_STORE_MSG_MAX];
    size_t len = (size_t)snprintf(file, sizeof file, "%s-lock", real);
    uv_fs_req_cleanup(&req);
    if (len >= sizeof file) {
        snprintf(err, PW_STORE_MSG_MAX, "the database path is too long (%zu bytes; at most %d)",
                 strlen(path), PW_STORE_MSG_MAX - 6);
        return PW_EINVAL;
    }
    int rc = sqlite3_open_v2(file, lock, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        open_failed(*lock, rc, path, file, err);
        sqlite3_close(*lock);
        *lock = NULL;
        return PW_ESTORAGE;
    }
    /* In exclusive locking mode the first write transaction's lock is kept
     * until the connection closes. No busy timeout: a holder is refused at
     * once. Nothing is journaled: the file holds no data. */
    rc = sqlite3_exec(*lock, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=OFF;"
                             "BEGIN EXCLUSIVE; COMMIT;", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        long pid = holder_pid(path);
        /* a row left by a daemon killed before the holder wrote its own */
        if (pid > 0 && uv_kill((int)pid, 0) == UV_ESRCH)
            pid = 0;
        char who[48] = "";
        if (pid > 0)
            snprintf(who, sizeof who, " (PID %ld)", pid);
        snprintf(err, PW_STORE_MSG_MAX, "database %.200s is in use by portwatch%s: stop that one"
                 " first, or give this one another `database`", path, who);
        rc = PW_EBUSY;
    } else {
        pw_store_failed(*lock, rc, file, "cannot lock", err);
        rc = PW_ESTORAGE;
    }
    sqlite3_close(*lock);
    *lock = NULL;
    return rc;
}

int pw_store_lock_record(sqlite3 *db, const char *path, char err[PW_STORE_MSG_MAX])
{
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM daemon; INSERT INTO daemon(pid) VALUES(%lld);",
             (long long)uv_os_getpid());
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        pw_store_failed(db, rc, path, "cannot write", err);
        return PW_ESTORAGE;
    }
    return 0;
}

/* ---- start-up check ----------------------------------------------------- */

void pw_store_check_text(const char *row, char *out, size_t len)
{
    /* "*** in database main ***\nPage 524: ...": the first line says
     * nothing for a single database; the rest goes on one line. */
    static const char head[] = "*** in database main ***";
    if (row && strncmp(row, head, sizeof head - 1) == 0)
        row += sizeof head - 1;
    while (row && (*row == '\n' || *row == ' '))
        row++;
    snprintf(out, len, "%s", row ? row : "?");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* The check's deadline, kept two ways: a progress handler, between VM
 * steps, and a thread that interrupts it then, within one. quick_check
 * walks a whole table in one step: with the handler alone a 1.3 GB table
 * (a year of 100,000 targets) ran 3 s past a 1 ms budget. */
struct watchdog {
    sqlite3 *db;
    uint64_t end; /* uv_hrtime() */
    bool done;
    uv_mutex_t lock;
    uv_cond_t wake;
};

static int past_deadline(void *ud)
{
    return uv_hrtime() > *(const uint64_t *)ud;
}

static void watchdog_main(void *ud)
{
    struct watchdog *w = ud;
    uv_mutex_lock(&w->lock);
    for (uint64_t now; !w->done && (now = uv_hrtime()) < w->end;)
        (void)uv_cond_timedwait(&w->wake, &w->lock, w->end - now);
    if (!w->done)
        sqlite3_interrupt(w->db);
    uv_mutex_unlock(&w->lock);
}

int pw_store_check(sqlite3 *db, const char *path, int64_t budget_ms, bool *unfinished,
                   char err[PW_STORE_MSG_MAX])
{
    /* Bounded: a slow disk or a large file (a year of 100,000 targets is
     * 2.2 GB: 18 s) must not keep the monitor from starting. */
    *unfinished = false;
    struct watchdog w = {.db = db, .end = uv_hrtime() + (uint64_t)budget_ms * 1000000u};
    uv_thread_t th;
    bool watched = uv_mutex_init(&w.lock) == 0;
    if (watched && uv_cond_init(&w.wake) != 0) {
        uv_mutex_destroy(&w.lock);
        watched = false;
    }
    if (watched && uv_thread_create(&th, watchdog_main, &w) != 0) {
        uv_cond_destroy(&w.wake);
        uv_mutex_destroy(&w.lock);
        watched = false;
    }
    sqlite3_progress_handler(db, 10000, past_deadline, &w.end);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL);
    const char *first = NULL;
    char problem[160] = "";
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        first = (const char *)sqlite3_column_text(s, 0);
        pw_store_check_text(first, problem, sizeof problem);
    }
    sqlite3_finalize(s);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    if (watched) {
        uv_mutex_lock(&w.lock);
        w.done = true;
        uv_cond_signal(&w.wake);
        uv_mutex_unlock(&w.lock);
        uv_thread_join(&th);
        uv_cond_destroy(&w.wake);
        uv_mutex_destroy(&w.lock);
    }
    if (rc == SQLITE_INTERRUPT) {
        *unfinished = true;
        return 0;
    }
    if (rc == SQLITE_ROW && strcmp(problem, "ok") == 0)
        return 0;
    if (rc == SQLITE_ROW) {
        snprintf(err, PW_STORE_MSG_MAX, "database %.200s is corrupt (quick_check: %.100s): move it"
                 " aside (portwatch then starts a new one) or recover what is readable with"
                 " `portwatch db recover NEW.db`", path, problem);
        return PW_ESTORAGE;
    }
    pw_store_failed(db, rc, path, "cannot open the database", err);
    return PW_ESTORAGE;
}
