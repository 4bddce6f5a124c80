/*
 * The read side of the history store: what the web layer (and the daemon's
 * start-up seeding) asks of it. Every query runs on the store's read
 * connection, which sees committed transactions only and never blocks the
 * writer (WAL). Interval arithmetic against coverage lives here so that
 * "not monitored" time is never counted as up or down.
 */
#include "store/query_int.h"

#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for element n of an array of `cap` elements, doubling it (from
 * `first`) when full. Returns the array, or NULL with v untouched. */
void *sq_grow(void *v, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return v;
    size_t nc = *cap ? *cap * 2 : first;
    void *nv = realloc(v, nc * elem);
    if (nv)
        *cap = nc;
    return nv;
}

/* Prepares sql and binds ?1..?3 (a target and a time range: the shape of
 * most queries here; more parameters are bound after). Returns 0, or
 * PW_ESTORAGE. */
/* Prepares sql and binds a, b, c to those of ?1..?3 it has. */
int sq_prepare3(sqlite3 *db, const char *sql, sqlite3_stmt **s, int64_t a, int64_t b,
                int64_t c)
{
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
        return PW_ESTORAGE;
    const int64_t v[3] = {a, b, c};
    int n = sqlite3_bind_parameter_count(*s);
    for (int i = 0; i < n && i < 3; i++)
        sqlite3_bind_int64(*s, i + 1, v[i]);
    return 0;
}

/* The end of a query that filled the array v with *n rows: the statement
 * and the reader go; returns v, or, when rc says the query failed, frees it
 * and returns NULL with *n 0. */
void *sq_list_end(struct pw_store *st, sqlite3_stmt *s, int rc, void *v, size_t *n)
{
    sqlite3_finalize(s);
    pw_store_reader_unlock(st);
    if (rc) {
        free(v);
        *n = 0;
        return NULL;
    }
    return v;
}

/* |[a,b) ∩ union(cov)|; cov sorted and disjoint. */
int64_t sq_covered(const struct spans *cov, int64_t a, int64_t b)
{
    /* From the first span ending after a, found by bisection: a group's
     * coverage less its members' gaps holds thousands of spans, and a
     * year's availability asks this for each of 700,000 outages. */
    size_t first = 0, end = cov->n;
    while (first < end) {
        size_t mid = first + (end - first) / 2;
        if (cov->v[mid].b <= a)
            first = mid + 1;
        else
            end = mid;
    }
    int64_t sum = 0;
    for (size_t i = first; i < cov->n && cov->v[i].a < b; i++) {
        int64_t lo = max64(a, cov->v[i].a), hi = min64(b, cov->v[i].b);
        if (hi > lo)
            sum += hi - lo;
    }
    return sum;
}

/* Coverage runs overlapping [from, to), merged; an open run reaches its
 * last heartbeat. */
size_t sq_subtract(const struct span *d, size_t nd, const struct span *p, size_t np,
                   struct span *out)
{
    size_t m = 0, k = 0;
    for (size_t i = 0; i < nd; i++) {
        int64_t a = d[i].a;
        while (k < np && p[k].b <= a)
            k++;
        for (size_t j = k; j < np && p[j].a < d[i].b && a < d[i].b; j++) {
            if (p[j].a > a)
                out[m++] = (struct span){a, p[j].a};
            a = max64(a, p[j].b);
        }
        if (a < d[i].b)
            out[m++] = (struct span){a, d[i].b};
    }
    return m;
}

int sq_target_coverage(sqlite3 *db, int64_t target_id, int64_t from, int64_t to,
                       struct spans *cov)
{
    sqlite3_stmt *s;
    int rc = sq_prepare3(db, "SELECT from_ms, to_ms FROM target_gaps WHERE target_id=?1"
                             " AND from_ms<?3 AND to_ms>?2 ORDER BY from_ms",
                         &s, target_id, from, to);
    if (rc)
        return rc;
    struct span *g = NULL;
    size_t ng = 0, cap = 0;
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        struct span sp = {sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1)};
        if (ng && sp.a <= g[ng - 1].b) { /* rows of one target may touch */
            g[ng - 1].b = max64(g[ng - 1].b, sp.b);
            continue;
        }
        struct span *nv = sq_grow(g, &cap, ng, sizeof *nv, 8);
        if (!nv)
            rc = PW_ENOMEM;
        else
            (g = nv)[ng++] = sp;
    }
    sqlite3_finalize(s);
    struct span *out = rc || !ng ? NULL : malloc((cov->n + ng) * sizeof *out);
    if (!rc && ng && !out)
        rc = PW_ENOMEM;
    if (out) {
        cov->n = sq_subtract(cov->v, cov->n, g, ng, out);
        free(cov->v);
        cov->v = out;
    }
    free(g);
    return rc;
}

int sq_load_coverage(sqlite3 *db, int64_t from, int64_t to, struct spans *out)
{
    out->v = NULL;
    out->n = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT started_ms, coalesce(ended_ms, last_alive_ms) FROM runs"
                           " WHERE started_ms < ?2 AND coalesce(ended_ms, last_alive_ms) > ?1"
                           " ORDER BY started_ms",
                           -1, &s, NULL) != SQLITE_OK)
        return PW_ESTORAGE;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    size_t cap = 0;
    int rc = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct span sp = {sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1)};
        if (out->n && sp.a <= out->v[out->n - 1].b) {
            out->v[out->n - 1].b = max64(out->v[out->n - 1].b, sp.b);
            continue;
        }
        struct span *nv = sq_grow(out->v, &cap, out->n, sizeof *nv, 16);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        out->v = nv;
        out->v[out->n++] = sp;
    }
    sqlite3_finalize(s);
    return rc;
}

void sq_text_col(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int sq_cmp_id(const void *key, const void *elem)
{
    /* a pointer to a struct converts to one to its first member */
    uint32_t a = *(const uint32_t *)key, b = *(const uint32_t *)elem;
    return (a > b) - (a < b);
}

static void fill_state(sqlite3_stmt *s, int col, struct pw_target_state *ts)
{
    /* columns: state, status, ok, last_ms, count, status_since_ms,
     * fails_before, latency_us, detail, verify, verify_info */
    memset(ts, 0, sizeof *ts);
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return;
    ts->has_result = true;
    ts->state = (enum pw_state)sqlite3_column_int(s, col);
    ts->status = (enum pw_status)sqlite3_column_int(s, col + 1);
    ts->ok = sqlite3_column_int(s, col + 2);
    ts->last_ms = sqlite3_column_int64(s, col + 3);
    uint32_t count = (uint32_t)sqlite3_column_int64(s, col + 4);
    ts->since_ms = sqlite3_column_int64(s, col + 5);
    ts->fails = ts->ok ? 0 : (uint32_t)sqlite3_column_int64(s, col + 6) + count;
    ts->latency_us = sqlite3_column_type(s, col + 7) == SQLITE_NULL
                         ? -1 : sqlite3_column_int64(s, col + 7);
    const unsigned char *d = sqlite3_column_text(s, col + 8);
    snprintf(ts->detail, sizeof ts->detail, "%s", d ? (const char *)d : "");
    /* NULL before schema v3: not recorded, reported as not attempted */
    int v = sqlite3_column_int(s, col + 9);
    ts->verify = v >= 0 && v < PW_VERIFY_COUNT_ ? (enum pw_verify)v : PW_VERIFY_NONE;
    const unsigned char *vi = sqlite3_column_text(s, col + 10);
    snprintf(ts->verify_info, sizeof ts->verify_info, "%s", vi ? (const char *)vi : "");
}

#define STATE_COLS                                                          \
    "r.state, r.status, r.ok, r.last_ms, r.count, r.status_since_ms,"      \
    " r.fails_before, r.latency_us, r.detail, r.verify, r.verify_info"

int pw_store_query_status(struct pw_store *st, bool include_retired,
                          struct pw_store_target **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = pw_store_reader_lock(st);
    sqlite3_stmt *s;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT t.id, t.host, t.port, t.roles, t.retired_ms, " STATE_COLS
                           " FROM targets t LEFT JOIN state_runs r ON r.id=t.cur_run"
                           " WHERE ?1 OR t.retired_ms IS NULL ORDER BY t.id",
                           -1, &s, NULL) != SQLITE_OK) {
        pw_store_reader_unlock(st);
        return PW_ESTORAGE;
    }
    sqlite3_bind_int(s, 1, include_retired);
    size_t cap = 0;
    struct pw_store_target *v = NULL;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct pw_store_target *nv = sq_grow(v, &cap, *n, sizeof *nv, 256);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        v = nv;
        struct pw_store_target *t = &v[(*n)++];
        memset(t, 0, sizeof *t);
        t->id = (uint32_t)sqlite3_column_int64(s, 0);
        snprintf(t->host, sizeof t->host, "%s", (const char *)sqlite3_column_text(s, 1));
        t->port = (uint16_t)sqlite3_column_int(s, 2);
        snprintf(t->roles, sizeof t->roles, "%s", (const char *)sqlite3_column_text(s, 3));
        t->retired_ms = sqlite3_column_int64(s, 4);
        fill_state(s, 5, &t->st);
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    *out = sq_list_end(st, s, rc, v, n);
    return rc;
}

static int exists(sqlite3 *db, const char *sql, const char *what, bool *yes)
{
    *yes = true;
    if (!what)
        return 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return PW_ESTORAGE;
    sqlite3_bind_text(s, 1, what, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    *yes = step == SQLITE_ROW;
    sqlite3_finalize(s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : PW_ESTORAGE;
}

int sq_known(sqlite3 *db, const char *host, const char *role, bool *host_ok, bool *role_ok)
{
    int rc = exists(db, "SELECT 1 FROM targets WHERE host=?1 LIMIT 1", host, host_ok);
    return rc ? rc : exists(db, "SELECT 1 FROM target_roles WHERE role=?1 LIMIT 1", role,
                            role_ok);
}

int pw_store_known(struct pw_store *st, const char *host, const char *role, bool *host_ok,
                   bool *role_ok)
{
    sqlite3 *db = pw_store_reader_lock(st);
    int rc = sq_known(db, host, role, host_ok, role_ok);
    pw_store_reader_unlock(st);
    return rc;
}

int pw_store_load_states(struct pw_store *st, const struct pw_plan *plan,
                         struct pw_target_state *states, const bool *skip)
{
    sqlite3 *db = pw_store_reader_lock(st);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT " STATE_COLS " FROM targets t"
                           " LEFT JOIN state_runs r ON r.id=t.cur_run"
                           " WHERE t.host=? AND t.port=?",
                           -1, &s, NULL) != SQLITE_OK) {
        pw_store_reader_unlock(st);
        return PW_ESTORAGE;
    }
    /* one read transaction for all: per statement, beginning and ending
     * one took a third of 100,000 lookups */
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : PW_ESTORAGE;
    for (size_t i = 0; !rc && i < plan->ntargets; i++) {
        if (skip && skip[i])
            continue;
        const struct pw_target *t = &plan->targets[i];
        sqlite3_bind_text(s, 1, plan->hosts[t->host].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, t->port);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            fill_state(s, 0, &states[i]);
        else if (step == SQLITE_DONE)
            memset(&states[i], 0, sizeof states[i]);
        else
            rc = PW_ESTORAGE;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    (void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    pw_store_reader_unlock(st);
    return rc;
}
