/*
 * One-off maintenance windows (store_maint.h): short transactions on the
 * maintenance table from the command line beside a running daemon (WAL
 * lets them in between the writer's batches; the busy timeout covers a
 * commit under way), and the read of open windows the daemon polls.
 */
#include "store/store_maint.h"

#include "store/query_int.h"

#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_MS 5000

static int64_t user_version(sqlite3 *db)
{
    sqlite3_stmt *s;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

/* The database for a short write. Without a daemon (the lock is free) it is
 * created or migrated like the daemon would; with one, it must be at a
 * schema that has the table. */
static int open_rw(const char *path, sqlite3 **db, char err[PW_STORE_MSG_MAX])
{
    sqlite3 *lock = NULL;
    int lrc = pw_store_lock(path, &lock, err);
    if (lrc != 0 && lrc != PW_EBUSY)
        return lrc;
    int flags = SQLITE_OPEN_READWRITE | (lrc == 0 ? SQLITE_OPEN_CREATE : 0);
    int rc = pw_store_open_file(path, flags, db, err);
    if (!rc)
        rc = pw_store_pragmas(*db, path, BUSY_MS, err);
    if (!rc && lrc == 0)
        rc = pw_store_migrate(*db, PW_STORE_SCHEMA_VERSION, err);
    int64_t v = rc ? 0 : user_version(*db);
    if (!rc && (v < 5 || v > PW_STORE_SCHEMA_VERSION)) {
        snprintf(err, PW_STORE_MSG_MAX, "database %.200s has schema version %lld, and the daemon "
                 "that holds it is %s; maintenance windows need version 5 to %d: %s", path,
                 (long long)v, v < 5 ? "older" : "newer", PW_STORE_SCHEMA_VERSION,
                 v < 5 ? "restart the daemon with this portwatch" : "use the daemon's portwatch");
        rc = PW_ESTORAGE;
    }
    sqlite3_close(lock);
    if (rc) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

static char *dup_col(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return strdup(t ? (const char *)t : "");
}

#define SELECT_OPEN                                                                         \
    "SELECT id, COALESCE(name, 'cli-' || id), start_ms, end_ms, hosts, roles, reason,"       \
    " ended_early FROM maintenance WHERE end_ms > ?1 ORDER BY start_ms, id"

/* The windows ending after now_ms on db. */
static int read_open(sqlite3 *db, int64_t now_ms, struct pw_store_maint **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sq_prepare3(db, SELECT_OPEN, &s, now_ms, 0, 0), src = SQLITE_DONE;
    size_t cap = 0;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct pw_store_maint *nw = sq_grow(*out, &cap, *n, sizeof *nw, 8);
        if (!nw) {
            rc = PW_ENOMEM;
            break;
        }
        *out = nw;
        struct pw_store_maint *w = &(*out)[(*n)++];
        w->id = sqlite3_column_int64(s, 0);
        w->name = dup_col(s, 1);
        w->start_ms = sqlite3_column_int64(s, 2);
        w->end_ms = sqlite3_column_int64(s, 3);
        w->hosts = dup_col(s, 4);
        w->roles = dup_col(s, 5);
        w->reason = dup_col(s, 6);
        w->ended_early = sqlite3_column_int(s, 7);
        if (!w->name || !w->hosts || !w->roles || !w->reason)
            rc = PW_ENOMEM;
    }
    if (!rc && src != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    if (rc) {
        pw_store_maint_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void pw_store_maint_free(struct pw_store_maint *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++) {
        free(w[i].name);
        free(w[i].hosts);
        free(w[i].roles);
        free(w[i].reason);
    }
    free(w);
}

static int name_open(sqlite3 *db, const char *name, int64_t now_ms)
{
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM maintenance WHERE end_ms > ?1 AND"
                           " COALESCE(name, 'cli-' || id) = ?2 COLLATE NOCASE", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    return found;
}

static int insert(sqlite3 *db, const char *path, const struct pw_store_maint *w, int64_t *id,
                  char err[PW_STORE_MSG_MAX])
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO maintenance(name, start_ms, end_ms, hosts, roles,"
                                " reason) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        if (w->name && *w->name)
            sqlite3_bind_text(s, 1, w->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, w->start_ms);
        sqlite3_bind_int64(s, 3, w->end_ms);
        sqlite3_bind_text(s, 4, w->hosts ? w->hosts : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, w->roles ? w->roles : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, w->reason ? w->reason : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
    }
    if (rc != SQLITE_DONE) {
        pw_store_failed(db, rc, path, "cannot write", err);
        return PW_ESTORAGE;
    }
    *id = sqlite3_last_insert_rowid(db);
    return 0;
}

int pw_store_maint_add(const char *path, const struct pw_store_maint *w, int64_t *id,
                       char err[PW_STORE_MSG_MAX])
{
    sqlite3 *db;
    int rc = open_rw(path, &db, err);
    if (rc)
        return rc;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        pw_store_failed(db, SQLITE_BUSY, path, "cannot write", err);
        sqlite3_close(db);
        return PW_ESTORAGE;
    }
    if (w->name && *w->name && name_open(db, w->name, w->start_ms)) {
        snprintf(err, PW_STORE_MSG_MAX, "a window named '%.64s' is open already; choose another "
                 "name, or end it first (portwatch maintenance end %.64s)", w->name, w->name);
        rc = PW_EDUPLICATE;
    }
    if (!rc)
        rc = insert(db, path, w, id, err);
    sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* err = "no open window named NAME; open: a, b" (or "none is open"). */
static void say_not_found(sqlite3 *db, const char *name, int64_t now_ms,
                          char err[PW_STORE_MSG_MAX])
{
    struct pw_store_maint *w;
    size_t n, used;
    if (name)
        used = (size_t)snprintf(err, PW_STORE_MSG_MAX, "no open window named '%.64s'", name);
    else
        used = (size_t)snprintf(err, PW_STORE_MSG_MAX, "no window is open");
    if (read_open(db, now_ms, &w, &n) != 0 || n == 0) {
        snprintf(err + used, PW_STORE_MSG_MAX - used, "%s", name ? "; none is open" : "");
        return;
    }
    used += (size_t)snprintf(err + used, PW_STORE_MSG_MAX - used, "; open:");
    for (size_t i = 0; i < n && used < PW_STORE_MSG_MAX; i++)
        used += (size_t)snprintf(err + used, PW_STORE_MSG_MAX - used, "%s %s", i ? "," : "",
                                 w[i].name);
    pw_store_maint_free(w, n);
}

/* Runs one statement with ?1 now_ms and ?2 name (NULL: every window);
 * its changes, or -1 with the SQLite code in *src. */
static int run_end(sqlite3 *db, const char *sql, int64_t now_ms, const char *name, int *src)
{
    sqlite3_stmt *s;
    *src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (*src != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, now_ms);
    if (name)
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    *src = sqlite3_step(s);
    sqlite3_finalize(s);
    return *src == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

#define OPEN_NAMED                                                                                " end_ms > ?1 AND (?2 IS NULL OR COALESCE(name, 'cli-' || id) = ?2 COLLATE NOCASE)"

int pw_store_maint_end(const char *path, const char *name, int64_t now_ms, int *ended,
                       char err[PW_STORE_MSG_MAX])
{
    sqlite3 *db;
    *ended = 0;
    int rc = open_rw(path, &db, err), src = SQLITE_OK;
    if (rc)
        return rc;
    /* The windows' planned time ends with them, in the same transaction. */
    int n = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (n == 0)
        n = run_end(db, "UPDATE maintenance_spans SET end_ms = ?1 WHERE end_ms > ?1 AND window IN"
                        " (SELECT COALESCE(name, 'cli-' || id) FROM maintenance WHERE" OPEN_NAMED
                        ")", now_ms, name, &src);
    if (n >= 0)
        n = run_end(db, "UPDATE maintenance SET end_ms = ?1, ended_early = 1 WHERE" OPEN_NAMED,
                    now_ms, name, &src);
    if (n < 0) {
        pw_store_failed(db, src == SQLITE_OK ? SQLITE_BUSY : src, path, "cannot write", err);
        rc = PW_ESTORAGE;
    } else if ((*ended = n) == 0) {
        say_not_found(db, name, now_ms, err);
        rc = PW_ENOT_FOUND;
    }
    sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

int pw_store_maint_list(const char *path, int64_t now_ms, struct pw_store_maint **out,
                        size_t *n, char err[PW_STORE_MSG_MAX])
{
    sqlite3 *db;
    int rc = open_rw(path, &db, err);
    if (rc)
        return rc;
    rc = read_open(db, now_ms, out, n);
    if (rc)
        pw_store_failed(db, SQLITE_ERROR, path, "cannot read", err);
    sqlite3_close(db);
    return rc;
}

int pw_store_maint_open_windows(struct pw_store *st, int64_t now_ms, struct pw_store_maint **out,
                                size_t *n)
{
    sqlite3 *db = pw_store_reader_lock(st);
    int rc = read_open(db, now_ms, out, n);
    pw_store_reader_unlock(st);
    return rc;
}

/* ---- planned time -------------------------------------------------------- */

int pw_store_maint_record(const char *path, const char *window, int64_t start_ms, int64_t end_ms,
                          const uint32_t *ids, size_t n, char err[PW_STORE_MSG_MAX])
{
    sqlite3 *db;
    int rc = open_rw(path, &db, err), src = SQLITE_OK;
    if (rc)
        return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        (src = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO maintenance_spans(target_id, window,"
                                  " start_ms, end_ms) VALUES(?1, ?2, ?3, ?4)", -1, &s, NULL)) !=
            SQLITE_OK)
        rc = PW_ESTORAGE;
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_bind_int64(s, 1, ids[i]);
        sqlite3_bind_text(s, 2, window, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, start_ms);
        sqlite3_bind_int64(s, 4, end_ms);
        if ((src = sqlite3_step(s)) != SQLITE_DONE)
            rc = PW_ESTORAGE;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    if (rc)
        pw_store_failed(db, src == SQLITE_OK ? SQLITE_BUSY : src, path, "cannot write", err);
    sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

int pw_store_query_planned(sqlite3 *db, int64_t from, int64_t to, struct pw_store_planned **out,
                           size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sq_prepare3(db, "SELECT target_id, start_ms, end_ms FROM maintenance_spans"
                             " WHERE start_ms < ?2 AND end_ms > ?1 ORDER BY target_id, start_ms",
                         &s, from, to, 0), src = SQLITE_DONE;
    size_t cap = 0;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        struct pw_store_planned *nv = sq_grow(*out, &cap, *n, sizeof *nv, 64);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        *out = nv;
        (*out)[(*n)++] = (struct pw_store_planned){(uint32_t)sqlite3_column_int64(s, 0),
                                                   sqlite3_column_int64(s, 1),
                                                   sqlite3_column_int64(s, 2)};
    }
    if (!rc && src != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

bool pw_store_planned_at(const struct pw_store_planned *v, size_t n, uint32_t id, int64_t t)
{
    size_t lo = 0, hi = n; /* the first span of id */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].target_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && v[lo].target_id == id && v[lo].start_ms <= t; lo++)
        if (t < v[lo].end_ms)
            return true;
    return false;
}
