/*
 * Helpers shared by the store's test programs: a temporary directory, a
 * small hand-built plan (no config parsing needed), result makers and
 * direct SQLite reads of the file under test.
 */
#ifndef PW_TEST_STORE_UTIL_H
#define PW_TEST_STORE_UTIL_H

#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define DAY 86400000LL
#define T0 (19700LL * DAY) /* a day boundary */

static const char *roles_sql[] = {"management_database"};
static const char *roles_two[] = {"management_database", "sso"};
static struct pw_profile test_profiles[] = {
    {.expect = PW_EXPECT_LISTENING, .roles = roles_sql, .nroles = 1},
    {.expect = PW_EXPECT_LISTENING, .roles = roles_two, .nroles = 2},
};
static struct pw_host test_hosts[] = {
    {.name = "sql01", .first = 0, .n = 2},
    {.name = "web01", .first = 2, .n = 1},
};
static struct pw_target test_targets[] = {
    {.host = 0, .port = 1433, .profile = 0},
    {.host = 0, .port = 445, .profile = 1},
    {.host = 1, .port = 1164, .profile = 1},
};
static struct pw_plan test_plan = {
    .hosts = test_hosts, .nhosts = 2,
    .targets = test_targets, .ntargets = 3,
    .profiles = test_profiles, .nprofiles = 2,
};

static inline struct pw_result mkres(uint32_t t, enum pw_state s, enum pw_status status,
                                     int64_t at, int64_t lat)
{
    struct pw_result r;
    memset(&r, 0, sizeof r);
    r.target = t;
    r.state = s;
    r.ok = s == PW_STATE_OPEN;
    r.status = status;
    r.at_ms = at;
    r.latency_us = s == PW_STATE_OPEN ? lat : -1;
    if (s != PW_STATE_OPEN)
        snprintf(r.detail, sizeof r.detail, "%s", s == PW_STATE_FILTERED ? "ETIMEDOUT" : "x");
    return r;
}

/* A fresh directory under the OS's temporary directory (portable: the
 * unit suite also runs under Wine). */
static inline char *mktmpdir(void)
{
    char base[400];
    size_t len = sizeof base;
    if (uv_os_tmpdir(base, &len) != 0)
        return NULL;
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/pwstore-XXXXXX", base);
    uv_fs_t req;
    char *d = NULL;
    if (uv_fs_mkdtemp(NULL, &req, tmpl, NULL) == 0)
        d = strdup(req.path);
    uv_fs_req_cleanup(&req);
    return d;
}

static inline void rmtree(const char *dir)
{
    /* only files we made: the db, -wal, -shm, and fillers */
    static const char *const names[] = {"h.db", "h.db-wal", "h.db-shm", "h.db-journal",
                                        "h.db-lock", "copy.db", "copy.db-wal", "copy.db-shm",
                                        "copy.db-journal", "filler"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        remove(p);
    }
    uv_fs_t req;
    uv_fs_rmdir(NULL, &req, dir, NULL);
    uv_fs_req_cleanup(&req);
}

/* An integer from a query on a separate connection; -999 on error. */
static inline long long qint(const char *path, const char *sql)
{
    sqlite3 *db;
    long long v = -999;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_stmt *s;
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
            if (sqlite3_step(s) == SQLITE_ROW)
                v = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 0);
            sqlite3_finalize(s);
        }
    }
    sqlite3_close(db);
    return v;
}

static inline int qexec(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static inline int integrity_ok(const char *path)
{
    sqlite3 *db;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK) {
            ok = sqlite3_step(s) == SQLITE_ROW &&
                 strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
            sqlite3_finalize(s);
        }
    }
    sqlite3_close(db);
    return ok;
}

#endif
