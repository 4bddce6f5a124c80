/*
 * The outage list query, filtered and paged, with each outage's host and
 * port.
 */
#include "store/query_int.h"

#include "base/error.h"
#include "store/store_maint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- outages ------------------------------------------------------------ */

/* Host and port by target id, loaded once per query: joining targets row
 * by row costs more than the outage rows themselves. */
struct tname {
    uint32_t id;
    uint16_t port;
    char *host;
};

static int load_names(sqlite3 *db, struct tname **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT id, port, host FROM targets ORDER BY id", -1, &s,
                           NULL) != SQLITE_OK)
        return PW_ESTORAGE;
    size_t cap = 0;
    int rc = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct tname *nv = sq_grow(*out, &cap, *n, sizeof *nv, 256);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        *out = nv;
        struct tname *t = &(*out)[*n];
        t->id = (uint32_t)sqlite3_column_int64(s, 0);
        t->port = (uint16_t)sqlite3_column_int(s, 1);
        t->host = strdup((const char *)sqlite3_column_text(s, 2));
        if (!t->host) {
            rc = PW_ENOMEM;
            break;
        }
        (*n)++;
    }
    sqlite3_finalize(s);
    return rc;
}

static void free_names(struct tname *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].host);
    free(v);
}

/* An outage that began inside a maintenance window over its target is
 * planned (store_maint.c keeps the windows' spans). */
static int mark_planned(sqlite3 *db, struct pw_store_outage *v, size_t n)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        lo = v[i].start_ms < lo ? v[i].start_ms : lo;
        hi = v[i].start_ms > hi ? v[i].start_ms : hi;
    }
    struct pw_store_planned *p = NULL;
    size_t np = 0;
    int rc = n ? pw_store_query_planned(db, lo, hi + 1, &p, &np) : 0;
    for (size_t i = 0; !rc && i < n; i++)
        v[i].planned = pw_store_planned_at(p, np, v[i].target_id, v[i].start_ms);
    free(p);
    return rc;
}

int pw_store_query_outages(struct pw_store *st, const struct pw_store_outage_filter *f,
                           struct pw_store_outage_list *list)
{
    memset(list, 0, sizeof *list);
    size_t nv = 0, *n = &nv;
    struct pw_store_outage_filter none = {0};
    if (!f)
        f = &none;
    /* Only the conditions asked for: a generic "?x IS NULL OR ..." keeps
     * SQLite from using the indexes. */
    char sql[1024];
    size_t len = (size_t)snprintf(sql, sizeof sql,
                                  "SELECT id, target_id, start_ms, coalesce(end_ms,-1), last_ms,"
                                  " state, fails, detail FROM outages WHERE 1");
#define ADD(cond) len += (size_t)snprintf(sql + len, sizeof sql - len, "%s", cond)
    if (f->to_ms > f->from_ms)
        ADD(" AND start_ms<?2 AND (end_ms IS NULL OR end_ms>?1)");
    if (f->host)
        ADD(" AND target_id IN (SELECT id FROM targets WHERE host=?3)");
    if (f->role)
        ADD(" AND target_id IN (SELECT target_id FROM target_roles WHERE role=?4)");
    if (f->target_id)
        ADD(" AND target_id=?5");
    if (f->open_only)
        ADD(" AND end_ms IS NULL");
    ADD(" ORDER BY start_ms DESC, id DESC LIMIT ?6");
#undef ADD
    sqlite3 *db = pw_store_reader_lock(st);
    struct tname *names;
    size_t nnames;
    int rc = load_names(db, &names, &nnames);
    sqlite3_stmt *s = NULL;
    if (!rc && sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        rc = PW_ESTORAGE;
    if (rc) {
        free_names(names, nnames);
        pw_store_reader_unlock(st);
        return rc;
    }
    sqlite3_bind_int64(s, 1, f->from_ms);
    sqlite3_bind_int64(s, 2, f->to_ms);
    if (f->host)
        sqlite3_bind_text(s, 3, f->host, -1, SQLITE_STATIC);
    if (f->role)
        sqlite3_bind_text(s, 4, f->role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, f->target_id);
    sqlite3_bind_int64(s, 6, f->limit ? (int64_t)f->limit : -1);
    int step;
    size_t cap = 0;
    struct pw_store_outage *v = NULL;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct pw_store_outage *grown = sq_grow(v, &cap, *n, sizeof *grown, 64);
        if (!grown) {
            rc = PW_ENOMEM;
            break;
        }
        v = grown;
        struct pw_store_outage *o = &v[(*n)++];
        o->id = sqlite3_column_int64(s, 0);
        o->target_id = (uint32_t)sqlite3_column_int64(s, 1);
        const struct tname *tn = bsearch(&o->target_id, names, nnames, sizeof *names, sq_cmp_id);
        o->host = tn ? tn->host : "";
        o->port = tn ? tn->port : 0;
        o->start_ms = sqlite3_column_int64(s, 2);
        o->end_ms = sqlite3_column_int64(s, 3);
        o->last_ms = sqlite3_column_int64(s, 4);
        o->state = (enum pw_state)sqlite3_column_int(s, 5);
        o->fails = (uint32_t)sqlite3_column_int64(s, 6);
        snprintf(o->detail, sizeof o->detail, "%s", (const char *)sqlite3_column_text(s, 7));
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    if (!rc)
        rc = mark_planned(db, v, nv);
    pw_store_reader_unlock(st);
    /* the list keeps the host strings its rows point to */
    list->names_ = malloc((nnames ? nnames : 1) * sizeof *list->names_);
    if (!list->names_ && !rc)
        rc = PW_ENOMEM;
    for (size_t i = 0; i < nnames; i++) {
        if (list->names_)
            list->names_[i] = names[i].host;
        else
            free(names[i].host);
    }
    list->nnames_ = list->names_ ? nnames : 0;
    free(names);
    list->v = v;
    list->n = nv;
    if (rc) {
        pw_store_outage_list_free(list);
        return rc;
    }
    return 0;
}

void pw_store_outage_list_free(struct pw_store_outage_list *l)
{
    for (size_t i = 0; i < l->nnames_; i++)
        free(l->names_[i]);
    free(l->names_);
    free(l->v);
    memset(l, 0, sizeof *l);
}
