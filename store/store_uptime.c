/*
 * Availability: uptime per target or per group (role, host, port) over a
 * range, with down time merged into spans and unmonitored time left out,
 * and the list of coverage runs.
 */
#include "store/query_int.h"

#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- uptime ------------------------------------------------------------- */

/* A target over the range: active in [a, b), its down spans dn[0..ndn)
 * (outages clipped to [a, b)). */
struct utarget {
    uint32_t id;
    char host[256];
    uint16_t port;
    char roles[256];
    int64_t a, b;
    struct span *dn;
    size_t ndn, capdn;
};

static struct pw_store_uptime *group_row(struct pw_store_uptime **v, size_t *n,
                                         size_t *cap, const char *key, bool *oom)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].key, key) == 0)
            return &(*v)[i];
    struct pw_store_uptime *nv = sq_grow(*v, cap, *n, sizeof *nv, 64);
    if (!nv) {
        *oom = true;
        return NULL;
    }
    *v = nv;
    struct pw_store_uptime *u = &(*v)[(*n)++];
    memset(u, 0, sizeof *u);
    snprintf(u->key, sizeof u->key, "%s", key);
    return u;
}

/* The targets in the plan at some point of [from, to), sorted by id. */
static int load_utargets(sqlite3 *db, int64_t from, int64_t to, struct utarget **out,
                         size_t *nt)
{
    sqlite3_stmt *s;
    size_t cap = 0;
    int rc = sq_prepare3(db, "SELECT id, host, port, roles, first_ms, coalesce(retired_ms,?2)"
                             " FROM targets WHERE first_ms IS NOT NULL AND first_ms<?2"
                             " AND (retired_ms IS NULL OR retired_ms>?1) ORDER BY id",
                         &s, from, to, 0);
    if (rc)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct utarget *nv = sq_grow(*out, &cap, *nt, sizeof *nv, 256);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        *out = nv;
        struct utarget *t = &nv[(*nt)++];
        memset(t, 0, sizeof *t);
        t->id = (uint32_t)sqlite3_column_int64(s, 0);
        snprintf(t->host, sizeof t->host, "%s", (const char *)sqlite3_column_text(s, 1));
        t->port = (uint16_t)sqlite3_column_int(s, 2);
        snprintf(t->roles, sizeof t->roles, "%s", (const char *)sqlite3_column_text(s, 3));
        t->a = max64(from, sqlite3_column_int64(s, 4));
        t->b = min64(to, sqlite3_column_int64(s, 5));
    }
    sqlite3_finalize(s);
    return rc;
}

/* Each target's outages within [from, to), clipped to its active span. */
static int load_down(sqlite3 *db, int64_t from, int64_t to, struct utarget *ts, size_t nt)
{
    sqlite3_stmt *s;
    int rc = sq_prepare3(db, "SELECT target_id, start_ms, coalesce(end_ms,?2) FROM outages"
                             " WHERE start_ms<?2 AND (end_ms IS NULL OR end_ms>?1)",
                         &s, from, to, 0);
    if (rc)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        uint32_t id = (uint32_t)sqlite3_column_int64(s, 0);
        size_t lo = 0, hi = nt; /* ts sorted by id */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ts[mid].id < id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == nt || ts[lo].id != id)
            continue;
        struct utarget *t = &ts[lo];
        int64_t a = max64(t->a, sqlite3_column_int64(s, 1));
        int64_t b = min64(t->b, sqlite3_column_int64(s, 2));
        if (b <= a)
            continue;
        struct span *nv = sq_grow(t->dn, &t->capdn, t->ndn, sizeof *nv, 4);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        t->dn = nv;
        nv[t->ndn++] = (struct span){a, b};
    }
    sqlite3_finalize(s);
    return rc;
}

static int span_cmp(const void *x, const void *y)
{
    const struct span *a = x, *b = y;
    return a->a < b->a ? -1 : a->a > b->a;
}

/* Sorts and merges v[0..n) in place; returns the merged count and, in
 * *len, their total length and, in *cov_len, what of it cov covers. */
static size_t span_union(struct span *v, size_t n, const struct spans *cov, int64_t *len,
                         int64_t *cov_len)
{
    qsort(v, n, sizeof *v, span_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v[i].a <= v[m - 1].b)
            v[m - 1].b = max64(v[m - 1].b, v[i].b);
        else
            v[m++] = v[i];
    }
    *len = *cov_len = 0;
    for (size_t i = 0; i < m; i++) {
        *len += v[i].b - v[i].a;
        *cov_len += sq_covered(cov, v[i].a, v[i].b);
    }
    return m;
}

/* The keys target t counts under: "host:port", its host, each of its
 * roles, or "farm". */
static size_t group_keys(enum pw_store_group group, const struct utarget *t, char *buf,
                         size_t len, const char **keys)
{
    if (group == PW_GROUP_TARGET) {
        snprintf(buf, len, "%s:%u", t->host, t->port);
        keys[0] = buf;
        return 1;
    }
    if (group != PW_GROUP_ROLE) {
        keys[0] = group == PW_GROUP_HOST ? t->host : "farm";
        return 1;
    }
    size_t nk = 0;
    snprintf(buf, len, "%s", t->roles);
    for (char *p = buf; *p && nk < PW_MAX_ROLES;) {
        keys[nk++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return nk;
}

/* One group's figures from its members' active and down spans (scratch
 * space for both given): monitored = the union of the members' active
 * time that coverage covers; down = the union of their down time, i.e.
 * when at least one member was down (the group unavailable). */
static void group_figures(struct pw_store_uptime *u, const struct utarget *const *mem, size_t nm,
                          const struct spans *cov, struct span *act, struct span *dn)
{
    size_t na = 0, nd = 0;
    for (size_t i = 0; i < nm; i++) {
        if (mem[i]->b > mem[i]->a)
            act[na++] = (struct span){mem[i]->a, mem[i]->b};
        for (size_t k = 0; k < mem[i]->ndn; k++)
            dn[nd++] = mem[i]->dn[k];
    }
    int64_t span, mon, dlen, down;
    span_union(act, na, cov, &span, &mon);
    span_union(dn, nd, cov, &dlen, &down);
    u->ntargets = (uint32_t)nm;
    u->monitored_ms = mon;
    u->down_ms = down;
    u->not_monitored_ms = span - mon;
    u->uptime_pct = mon > 0 ? 100.0 * (double)(mon - down) / (double)mon : -1;
}

struct member {
    size_t group;
    const struct utarget *t;
};

static int member_cmp(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    return a->group < b->group ? -1 : a->group > b->group;
}

/* Every (group, target) pair, the groups made as met. */
static int memberships(enum pw_store_group group, const struct utarget *ts, size_t nt,
                       struct pw_store_uptime **v, size_t *n, struct member **out, size_t *nm)
{
    size_t cap = 0, capm = 0;
    bool oom = false;
    for (size_t i = 0; i < nt; i++) {
        char buf[300];
        const char *keys[PW_MAX_ROLES + 1];
        size_t nk = group_keys(group, &ts[i], buf, sizeof buf, keys);
        for (size_t k = 0; k < nk; k++) {
            struct pw_store_uptime *u = group_row(v, n, &cap, keys[k], &oom);
            struct member *nv = u ? sq_grow(*out, &capm, *nm, sizeof *nv, 256) : NULL;
            if (!nv)
                return PW_ENOMEM;
            *out = nv;
            if (group == PW_GROUP_TARGET)
                u->target_id = ts[i].id;
            nv[(*nm)++] = (struct member){(size_t)(u - *v), &ts[i]};
        }
    }
    qsort(*out, *nm, sizeof **out, member_cmp);
    return 0;
}

static int compute_groups(enum pw_store_group group, const struct utarget *ts, size_t nt,
                          const struct spans *cov, struct pw_store_uptime **v, size_t *n)
{
    struct member *ms = NULL;
    size_t nm = 0, ndn = 0;
    int rc = memberships(group, ts, nt, v, n, &ms, &nm);
    for (size_t i = 0; i < nt; i++)
        ndn += ts[i].ndn;
    /* scratch for one group: at most every target and every down span */
    const struct utarget **mem = malloc((nt ? nt : 1) * sizeof *mem);
    struct span *act = malloc((nt ? nt : 1) * sizeof *act);
    struct span *dn = malloc((ndn ? ndn : 1) * sizeof *dn);
    if (!rc && (!mem || !act || !dn))
        rc = PW_ENOMEM;
    for (size_t i = 0; !rc && i < nm;) {
        size_t j = i, k = 0;
        for (; j < nm && ms[j].group == ms[i].group; j++)
            mem[k++] = ms[j].t;
        group_figures(&(*v)[ms[i].group], mem, k, cov, act, dn);
        i = j;
    }
    free(ms);
    free(mem);
    free(act);
    free(dn);
    return rc;
}

int pw_store_query_uptime(struct pw_store *st, int64_t from, int64_t to,
                          enum pw_store_group group, struct pw_store_uptime **out,
                          size_t *n)
{
    *out = NULL;
    *n = 0;
    if (to <= from || (unsigned)group > PW_GROUP_FARM)
        return PW_EINVAL;
    sqlite3 *db = pw_store_reader_lock(st);
    struct spans cov = {0};
    struct utarget *ts = NULL;
    size_t nt = 0;
    struct pw_store_uptime *v = NULL;
    int rc = sq_load_coverage(db, from, to, &cov);
    if (!rc)
        rc = load_utargets(db, from, to, &ts, &nt);
    if (!rc)
        rc = load_down(db, from, to, ts, nt);
    pw_store_reader_unlock(st);
    if (!rc)
        rc = compute_groups(group, ts, nt, &cov, &v, n);
    for (size_t i = 0; i < nt; i++)
        free(ts[i].dn);
    free(cov.v);
    free(ts);
    if (rc) {
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

int pw_store_query_runs(struct pw_store *st, int64_t from, int64_t to,
                        struct pw_store_run **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = pw_store_reader_lock(st);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT id, started_ms, last_alive_ms, coalesce(ended_ms,-1),"
                               " end_reason FROM runs WHERE started_ms<?2"
                               " AND coalesce(ended_ms,last_alive_ms)>=?1 ORDER BY started_ms",
                           -1, &s, NULL) != SQLITE_OK) {
        pw_store_reader_unlock(st);
        return PW_ESTORAGE;
    }
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    int rc = 0;
    size_t cap = 0;
    struct pw_store_run *v = NULL;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct pw_store_run *nv = sq_grow(v, &cap, *n, sizeof *nv, 16);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        v = nv;
        struct pw_store_run *r = &v[(*n)++];
        r->id = sqlite3_column_int64(s, 0);
        r->started_ms = sqlite3_column_int64(s, 1);
        r->last_alive_ms = sqlite3_column_int64(s, 2);
        r->ended_ms = sqlite3_column_int64(s, 3);
        r->end = (enum pw_store_run_end)sqlite3_column_int(s, 4);
    }
    *out = sq_list_end(st, s, rc, v, n);
    return rc;
}
