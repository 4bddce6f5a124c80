/*
 * Copies of the history database, for `portwatch db backup` and
 * `portwatch db recover` (daemon/cmd_db.c).
 *
 * A backup is SQLite's online backup API in one step: one read transaction
 * on the source, so the copy is one consistent moment even while the daemon
 * writes (WAL lets it go on writing meanwhile), and nothing in the source
 * changes. The copy is then checked with integrity_check.
 *
 * Recovery does not use SQLite's recovery extension: Debian 12's
 * libsqlite3 (3.40) does not export sqlite3_recover_*. Instead every table
 * of the schema is read in key order until the first unreadable page, then
 * in reverse order from the end back to it, and every row read is written
 * into a new database built with the current schema. Rows between the two
 * (under the damaged pages) are lost; so are rows left pointing at a lost
 * target. Each table's outcome is reported as a line.
 */
#include "store/store_int.h"

#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SAY_MAX 320

#if defined(__GNUC__)
PW_PRINTF(3, 4)
#endif
static void say(pw_store_say_cb cb, void *ud, const char *fmt, ...)
{
    char line[SAY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (cb)
        cb(ud, line);
}

static bool exists(const char *path)
{
    uv_fs_t req;
    int rc = uv_fs_stat(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
    return rc == 0;
}

/* A new database file at path: refused when something is there already,
 * so a backup never overwrites (a previous backup, or the database). */
static int open_new(const char *path, sqlite3 **db, char err[PW_STORE_MSG_MAX])
{
    if (exists(path)) {
        snprintf(err, PW_STORE_MSG_MAX, "%.200s already exists: name a new file (portwatch never"
                 " overwrites one)", path);
        return PW_EINVAL;
    }
    return pw_store_open_file(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, db, err);
}

/* The source, read-only, without the one-daemon lock: a daemon may run. */
static int open_source(const char *path, sqlite3 **db, char err[PW_STORE_MSG_MAX])
{
    if (!exists(path)) {
        snprintf(err, PW_STORE_MSG_MAX, "the database %.200s does not exist: give the"
                 " configuration (-c FILE) or --database of the one to copy", path);
        return PW_EINVAL;
    }
    int rc = pw_store_open_file(path, SQLITE_OPEN_READONLY, db, err);
    if (!rc)
        sqlite3_busy_timeout(*db, 10000);
    return rc;
}

/* integrity_check of db: 0, or PW_ESTORAGE with its first problem. */
static int integrity(sqlite3 *db, const char *path, char err[PW_STORE_MSG_MAX])
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &s, NULL);
    char first[200] = "";
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        pw_store_check_text((const char *)sqlite3_column_text(s, 0), first, sizeof first);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW && strcmp(first, "ok") == 0)
        return 0;
    if (rc == SQLITE_ROW)
        snprintf(err, PW_STORE_MSG_MAX, "%.200s fails integrity_check: %.150s", path, first);
    else
        pw_store_failed(db, rc, path, "cannot check", err);
    return PW_ESTORAGE;
}

int pw_store_backup(const char *from, const char *to, pw_store_say_cb cb, void *ud,
                    char err[PW_STORE_MSG_MAX])
{
    sqlite3 *src = NULL, *dst = NULL;
    int rc = open_source(from, &src, err);
    if (!rc)
        rc = open_new(to, &dst, err);
    if (!rc) {
        uint64_t t0 = uv_hrtime();
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        int brc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(dst);
        int pages = b ? sqlite3_backup_pagecount(b) : 0;
        int frc = b ? sqlite3_backup_finish(b) : SQLITE_OK;
        if (brc != SQLITE_DONE) {
            pw_store_failed(brc == SQLITE_BUSY || brc == SQLITE_LOCKED ? src : dst,
                            brc, brc == SQLITE_BUSY ? from : to, "cannot copy", err);
            rc = PW_ESTORAGE;
        } else if (frc != SQLITE_OK) {
            pw_store_failed(dst, frc, to, "cannot write", err);
            rc = PW_ESTORAGE;
        } else {
            int64_t psize = 0;
            sqlite3_stmt *s;
            if (sqlite3_prepare_v2(dst, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK) {
                if (sqlite3_step(s) == SQLITE_ROW)
                    psize = sqlite3_column_int64(s, 0);
                sqlite3_finalize(s);
            }
            say(cb, ud, "copied %s to %s: %d pages, %.1f MB, in %.0f ms", from, to, pages,
                (double)pages * (double)psize / 1e6, (double)(uv_hrtime() - t0) / 1e6);
        }
    }
    if (!rc && (rc = integrity(dst, to, err)) != 0) {
        char why[PW_STORE_MSG_MAX];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, PW_STORE_MSG_MAX, "%.300s: the source is damaged the same way; use"
                 " `portwatch db recover` instead", why);
    } else if (!rc) {
        say(cb, ud, "%s passes integrity_check", to);
    }
    sqlite3_close(src);
    sqlite3_close(dst);
    if (rc && dst)
        remove(to); /* never leave a copy that looks good but is not */
    return rc;
}

/* ---- recover ------------------------------------------------------------ */

/* How one table is read: its key (rowid, or a WITHOUT ROWID table's primary
 * key columns) and the columns both databases have. */
struct plan {
    char name[64];
    char key[128], key_desc[160], key_params[64];
    int nkey;
    char cols[512], params[256];
    int ncols;
};

struct outcome {
    uint64_t copied;
    bool damaged;
    char lost_from[96], lost_to[96]; /* last key read forward, first backward */
};

static bool has_column(sqlite3 *db, const char *table, const char *col)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name='%s'", table, col);
    sqlite3_stmt *s;
    bool yes = false;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        yes = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    return yes;
}

static void append(char *buf, size_t len, const char *sep, const char *s)
{
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%s", n ? sep : "", s);
}

/* Fills p for table name from dst's schema and what src has of it. Returns
 * 0, or 1 when src lacks the table (an older schema). */
static int plan_table(sqlite3 *src, sqlite3 *dst, const char *name, struct plan *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    char sql[160];
    sqlite3_stmt *s;
    snprintf(sql, sizeof sql, "SELECT rowid FROM \"%s\"", name);
    bool rowid = sqlite3_prepare_v2(dst, sql, -1, &s, NULL) == SQLITE_OK;
    sqlite3_finalize(s);
    snprintf(sql, sizeof sql, "SELECT name, pk FROM pragma_table_info('%s') ORDER BY pk", name);
    if (sqlite3_prepare_v2(dst, sql, -1, &s, NULL) != SQLITE_OK)
        return 1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(s, 0);
        if (!rowid && sqlite3_column_int(s, 1) > 0) {
            append(p->key, sizeof p->key, ", ", col);
            char d[80];
            snprintf(d, sizeof d, "%s DESC", col);
            append(p->key_desc, sizeof p->key_desc, ", ", d);
            append(p->key_params, sizeof p->key_params, ", ", "?");
            p->nkey++;
        }
        if (has_column(src, name, col)) {
            append(p->cols, sizeof p->cols, ", ", col);
            append(p->params, sizeof p->params, ", ", "?");
            p->ncols++;
        }
    }
    sqlite3_finalize(s);
    if (rowid) {
        snprintf(p->key, sizeof p->key, "rowid");
        snprintf(p->key_desc, sizeof p->key_desc, "rowid DESC");
        snprintf(p->key_params, sizeof p->key_params, "?");
        p->nkey = 1;
    }
    return p->ncols ? 0 : 1;
}

#define KEY_MAX 4

/* Where a read stopped: the key of the last row read, as values (to bind)
 * and as text (to report). */
struct mark {
    sqlite3_value *v[KEY_MAX];
    char text[96];
    bool set;
};

static void mark_set(struct mark *m, sqlite3_stmt *s, int nkey)
{
    m->text[0] = 0;
    for (int k = 0; k < nkey && k < KEY_MAX; k++) {
        sqlite3_value_free(m->v[k]);
        m->v[k] = sqlite3_value_dup(sqlite3_column_value(s, k));
        const char *t = (const char *)sqlite3_column_text(s, k);
        append(m->text, sizeof m->text, "/", t ? t : "NULL");
    }
    m->set = true;
}

static void mark_free(struct mark *m)
{
    for (int k = 0; k < KEY_MAX; k++)
        sqlite3_value_free(m->v[k]);
}

/* Reads rows with sel (key columns first) into ins until the end or an
 * unreadable page, marking each row's key in m. Returns the code of the
 * read that ended it (SQLITE_DONE at the end), or *wrc the failed write. */
static int drain(sqlite3_stmt *sel, sqlite3_stmt *ins, const struct plan *p, struct mark *m,
                 uint64_t *copied, int *wrc)
{
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        for (int i = 0; i < p->ncols; i++)
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, p->nkey + i));
        *wrc = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (*wrc != SQLITE_DONE)
            return rc;
        *wrc = SQLITE_OK;
        (*copied)++;
        mark_set(m, sel, p->nkey);
    }
    return rc;
}

/* Copies table p: forward in key order until the first read that fails,
 * then backward from the end down to the last key read forward. Returns 0
 * or the SQLite error writing dst. */
static int copy_table(sqlite3 *src, sqlite3 *dst, const struct plan *p, struct outcome *o)
{
    char sql[1400];
    sqlite3_stmt *ins = NULL, *fwd = NULL, *bwd = NULL;
    struct mark a = {0}, b = {0};
    memset(o, 0, sizeof *o);
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO \"%s\"(%s) VALUES(%s)", p->name, p->cols,
             p->params);
    int wrc = sqlite3_prepare_v2(dst, sql, -1, &ins, NULL);
    if (wrc != SQLITE_OK)
        return wrc;
    snprintf(sql, sizeof sql, "SELECT %s, %s FROM \"%s\" ORDER BY %s", p->key, p->cols, p->name,
             p->key);
    int rc = sqlite3_prepare_v2(src, sql, -1, &fwd, NULL);
    if (rc == SQLITE_OK)
        rc = drain(fwd, ins, p, &a, &o->copied, &wrc);
    if (rc != SQLITE_DONE && wrc == SQLITE_OK) {
        o->damaged = true;
        if (a.set)
            snprintf(sql, sizeof sql, "SELECT %s, %s FROM \"%s\" WHERE (%s) > (%s) ORDER BY %s",
                     p->key, p->cols, p->name, p->key, p->key_params, p->key_desc);
        else
            snprintf(sql, sizeof sql, "SELECT %s, %s FROM \"%s\" ORDER BY %s", p->key, p->cols,
                     p->name, p->key_desc);
        if (sqlite3_prepare_v2(src, sql, -1, &bwd, NULL) == SQLITE_OK) {
            for (int k = 0; a.set && k < p->nkey; k++)
                sqlite3_bind_value(bwd, k + 1, a.v[k]);
            (void)drain(bwd, ins, p, &b, &o->copied, &wrc);
        }
        snprintf(o->lost_from, sizeof o->lost_from, "%s", a.set ? a.text : "the start");
        snprintf(o->lost_to, sizeof o->lost_to, "%s", b.set ? b.text : "the end");
    }
    mark_free(&a);
    mark_free(&b);
    sqlite3_finalize(fwd);
    sqlite3_finalize(bwd);
    sqlite3_finalize(ins);
    return wrc == SQLITE_OK || wrc == SQLITE_DONE ? 0 : wrc;
}

/* Rows left pointing at a row that was lost are dropped (a state run of an
 * unknown target means nothing); each table's foreign keys say which.
 * Returns the rows deleted, or -1 on a write error. */
static int64_t drop_orphans(sqlite3 *dst, const char *table)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT \"table\", \"from\", \"to\" FROM"
             " pragma_foreign_key_list('%s')", table);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(dst, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    int64_t n = 0;
    while (n >= 0 && sqlite3_step(s) == SQLITE_ROW) {
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE \"%s\" IS NOT NULL AND \"%s\" NOT IN"
                 " (SELECT \"%s\" FROM \"%s\")", table, sqlite3_column_text(s, 1),
                 sqlite3_column_text(s, 1), sqlite3_column_text(s, 2), sqlite3_column_text(s, 0));
        if (sqlite3_exec(dst, sql, NULL, NULL, NULL) != SQLITE_OK)
            n = -1;
        else
            n += sqlite3_changes(dst);
    }
    sqlite3_finalize(s);
    return n;
}

/* Every table of the current schema, copied as far as it reads. */
static int recover_tables(sqlite3 *src, sqlite3 *dst, const char *to, pw_store_say_cb cb,
                          void *ud, uint64_t *lost_tables, char err[PW_STORE_MSG_MAX])
{
    sqlite3_stmt *t;
    int rc = sqlite3_prepare_v2(dst, "SELECT name FROM sqlite_master WHERE type='table' AND"
                                " name NOT LIKE 'sqlite_%' AND name<>'daemon' ORDER BY rowid",
                                -1, &t, NULL);
    while (rc == SQLITE_OK && sqlite3_step(t) == SQLITE_ROW) {
        struct plan p;
        struct outcome o;
        const char *name = (const char *)sqlite3_column_text(t, 0);
        if (plan_table(src, dst, name, &p) != 0) {
            say(cb, ud, "%-13s not in the source (an older schema): empty", name);
            continue;
        }
        if ((rc = copy_table(src, dst, &p, &o)) != 0)
            break;
        if (o.damaged) {
            (*lost_tables)++;
            say(cb, ud, "%-13s %llu row%s; unreadable pages: rows after key %s and before %s"
                " are lost", name, (unsigned long long)o.copied, o.copied == 1 ? "" : "s",
                o.lost_from, o.lost_to);
        } else {
            say(cb, ud, "%-13s %llu row%s, all read", name, (unsigned long long)o.copied,
                o.copied == 1 ? "" : "s");
        }
    }
    sqlite3_finalize(t);
    if (rc)
        pw_store_failed(dst, rc, to, "cannot write", err);
    return rc ? PW_ESTORAGE : 0;
}

static int tidy(sqlite3 *dst, pw_store_say_cb cb, void *ud)
{
    sqlite3_stmt *t;
    if (sqlite3_prepare_v2(dst, "SELECT name FROM sqlite_master WHERE type='table' AND"
                           " name NOT LIKE 'sqlite_%'", -1, &t, NULL) != SQLITE_OK)
        return -1;
    int rc = 0;
    while (!rc && sqlite3_step(t) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(t, 0);
        int64_t n = drop_orphans(dst, name);
        if (n < 0)
            rc = -1;
        else if (n > 0)
            say(cb, ud, "%-13s %lld row%s dropped: what they belonged to was lost", name,
                (long long)n, n == 1 ? "" : "s");
    }
    sqlite3_finalize(t);
    /* A target's current run, if lost, is its latest run still there. */
    if (!rc && sqlite3_exec(dst, "UPDATE targets SET cur_run=(SELECT max(id) FROM state_runs"
                            " WHERE target_id=targets.id) WHERE cur_run NOT IN"
                            " (SELECT id FROM state_runs)", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    return rc;
}

int pw_store_recover(const char *from, const char *to, pw_store_say_cb cb, void *ud,
                     uint64_t *damaged_tables, char err[PW_STORE_MSG_MAX])
{
    sqlite3 *src = NULL, *dst = NULL;
    char why[PW_STORE_MSG_MAX];
    *damaged_tables = 0;
    int rc = open_source(from, &src, err);
    if (!rc && sqlite3_exec(src, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL)) {
        pw_store_failed(src, sqlite3_errcode(src), from, "cannot read the schema of", err);
        rc = PW_ESTORAGE; /* nothing can be found without it */
    }
    if (!rc)
        rc = open_new(to, &dst, err);
    if (!rc) /* WAL from the start, like every database the daemon made */
        rc = pw_store_pragmas(dst, to, 5000, err);
    if (!rc && (rc = pw_store_migrate(dst, PW_STORE_SCHEMA_VERSION, why)) != 0)
        snprintf(err, PW_STORE_MSG_MAX, "%.200s: %.300s", to, why);
    if (!rc && sqlite3_exec(dst, "PRAGMA foreign_keys=OFF; BEGIN", NULL, NULL, NULL)) {
        pw_store_failed(dst, sqlite3_errcode(dst), to, "cannot write", err);
        rc = PW_ESTORAGE;
    }
    /* one read transaction: one moment of the source, even while a daemon
     * writes it (a failed read ends only its statement) */
    (void)sqlite3_exec(src, "BEGIN", NULL, NULL, NULL);
    if (!rc)
        rc = recover_tables(src, dst, to, cb, ud, damaged_tables, err);
    (void)sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    if (!rc && (tidy(dst, cb, ud) != 0 || sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL))) {
        pw_store_failed(dst, sqlite3_errcode(dst), to, "cannot write", err);
        rc = PW_ESTORAGE;
    }
    if (!rc && (rc = integrity(dst, to, err)) == 0)
        say(cb, ud, "%s passes integrity_check", to);
    sqlite3_close(src);
    sqlite3_close(dst);
    if (rc && dst)
        remove(to);
    return rc;
}
