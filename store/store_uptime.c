/*
 * Availability: uptime per target or per group (role, host, port) over a
 * range, with down time merged into spans and unmonitored time left out,
 * and the list of coverage runs.
 */
#include "store/query_int.h"

#include "base/error.h"
#include "store/store_maint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- uptime ------------------------------------------------------------- */

/* A target over the range: active in [a, b), its down spans dn[0..ndn)
 * (outages clipped to [a, b)). */
struct utarget {
    uint32_t id;
    char *host;         /* owned; small: 100,000 of them are loaded */
    uint16_t port;
    char *roles;        /* owned */
    int64_t a, b;
    struct span *dn;
    size_t ndn, capdn;
    struct span *pl;    /* inside maintenance windows, clipped likewise */
    size_t npl, cappl;
    struct span *gp;    /* due and not probed (target_gaps), clipped likewise */
    size_t ngp, capgp;
};

/* The groups met so far, found by key: an open-addressing table of
 * indices into the rows (+1; 0 is empty), at most half full. A linear
 * search made by=target quadratic: 100,000 targets took minutes. */
struct group_index {
    uint32_t *slot;
    size_t cap; /* a power of two */
};

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 16777619u;
    return h;
}

static uint32_t *index_slot(const struct group_index *gi, const struct pw_store_uptime *v,
                            const char *key)
{
    size_t i = key_hash(key) & (gi->cap - 1);
    while (gi->slot[i] && strcmp(v[gi->slot[i] - 1].key, key) != 0)
        i = (i + 1) & (gi->cap - 1);
    return &gi->slot[i];
}

/* Room for one group more: the table doubled and refilled when half full. */
static bool index_room(struct group_index *gi, const struct pw_store_uptime *v, size_t n)
{
    if (2 * (n + 1) <= gi->cap)
        return true;
    struct group_index ng = {calloc(gi->cap ? 2 * gi->cap : 256, sizeof *ng.slot),
                             gi->cap ? 2 * gi->cap : 256};
    if (!ng.slot)
        return false;
    for (size_t i = 0; i < n; i++)
        *index_slot(&ng, v, v[i].key) = (uint32_t)(i + 1);
    free(gi->slot);
    *gi = ng;
    return true;
}

static struct pw_store_uptime *group_row(struct pw_store_uptime **v, size_t *n, size_t *cap,
                                         struct group_index *gi, const char *key, bool *oom)
{
    uint32_t *at = gi->cap ? index_slot(gi, *v, key) : NULL;
    if (at && *at)
        return &(*v)[*at - 1];
    struct pw_store_uptime *nv = index_room(gi, *v, *n) ? sq_grow(*v, cap, *n, sizeof *nv, 64)
                                                        : NULL;
    if (!nv) {
        *oom = true;
        return NULL;
    }
    *v = nv;
    struct pw_store_uptime *u = &(*v)[(*n)++];
    memset(u, 0, sizeof *u);
    snprintf(u->key, sizeof u->key, "%s", key);
    *index_slot(gi, *v, u->key) = (uint32_t)*n;
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
        t->host = strdup((const char *)sqlite3_column_text(s, 1));
        t->port = (uint16_t)sqlite3_column_int(s, 2);
        t->roles = strdup((const char *)sqlite3_column_text(s, 3));
        if (!t->host || !t->roles) {
            rc = PW_ENOMEM;
            break;
        }
        t->a = max64(from, sqlite3_column_int64(s, 4));
        t->b = min64(to, sqlite3_column_int64(s, 5));
    }
    sqlite3_finalize(s);
    return rc;
}

/* Target id in ts (sorted by id), or NULL. */
static struct utarget *find_target(struct utarget *ts, size_t nt, uint32_t id)
{
    return bsearch(&id, ts, nt, sizeof *ts, sq_cmp_id);
}

/* Adds [a, b) clipped to t's active span to *v. */
static int add_span(const struct utarget *t, struct span **v, size_t *n, size_t *cap, int64_t a,
                    int64_t b)
{
    a = max64(t->a, a);
    b = min64(t->b, b);
    if (b <= a)
        return 0;
    struct span *nv = sq_grow(*v, cap, *n, sizeof *nv, 4);
    if (!nv)
        return PW_ENOMEM;
    *v = nv;
    nv[(*n)++] = (struct span){a, b};
    return 0;
}

/* Each target's time inside maintenance windows within [from, to). */
static int load_planned(sqlite3 *db, int64_t from, int64_t to, struct utarget *ts, size_t nt)
{
    struct pw_store_planned *p;
    size_t np;
    int rc = pw_store_query_planned(db, from, to, &p, &np);
    for (size_t i = 0; !rc && i < np; i++) {
        struct utarget *t = find_target(ts, nt, p[i].target_id);
        if (t)
            rc = add_span(t, &t->pl, &t->npl, &t->cappl, p[i].start_ms, p[i].end_ms);
    }
    free(p);
    return rc;
}

/* Each target's own gaps (due and not probed) within [from, to). */
static int load_gaps(sqlite3 *db, int64_t from, int64_t to, struct utarget *ts, size_t nt)
{
    sqlite3_stmt *s = NULL;
    int rc = sq_prepare3(db, "SELECT target_id, from_ms, to_ms FROM target_gaps"
                             " WHERE from_ms<?2 AND to_ms>?1",
                         &s, from, to, 0);
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        struct utarget *t = find_target(ts, nt, (uint32_t)sqlite3_column_int64(s, 0));
        if (t)
            rc = add_span(t, &t->gp, &t->ngp, &t->capgp, sqlite3_column_int64(s, 1),
                          sqlite3_column_int64(s, 2));
    }
    if (s)
        sqlite3_finalize(s);
    return rc;
}

/* Each target's outages within [from, to), clipped to its active span. */
static int load_down(sqlite3 *db, int64_t from, int64_t to, struct utarget *ts, size_t nt)
{
    sqlite3_stmt *s;
    /* ended and open ones apart, each through its own index (v7) */
    int rc = sq_prepare3(db, "SELECT target_id, start_ms, end_ms FROM outages"
                             " WHERE end_ms>?1 AND start_ms<?2"
                             " UNION ALL SELECT target_id, start_ms, ?2 FROM outages"
                             " INDEXED BY outages_open WHERE end_ms IS NULL AND start_ms<?2",
                         &s, from, to, 0);
    if (rc)
        return rc;
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        struct utarget *t = find_target(ts, nt, (uint32_t)sqlite3_column_int64(s, 0));
        if (t)
            rc = add_span(t, &t->dn, &t->ndn, &t->capdn, sqlite3_column_int64(s, 1),
                          sqlite3_column_int64(s, 2));
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

/* Scratch space for one group's spans, each big enough for every member. */
struct scratch {
    struct span *act, *dn, *pl, *rest, *gp, *cov;
};

/* One group's figures from its members' active, down and planned spans:
 * planned = the union of their time inside maintenance windows; monitored
 * = the union of their active time that coverage covers, less planned;
 * down = the union of their down time outside planned time, i.e. when at
 * least one member was down unplanned (the group unavailable). */
static void group_figures(struct pw_store_uptime *u, const struct utarget *const *mem, size_t nm,
                          const struct spans *cov, const struct scratch *sc)
{
    size_t na = 0, nd = 0, np = 0, ng = 0;
    for (size_t i = 0; i < nm; i++) {
        if (mem[i]->b > mem[i]->a)
            sc->act[na++] = (struct span){mem[i]->a, mem[i]->b};
        for (size_t k = 0; k < mem[i]->ndn; k++)
            sc->dn[nd++] = mem[i]->dn[k];
        for (size_t k = 0; k < mem[i]->npl; k++)
            sc->pl[np++] = mem[i]->pl[k];
        for (size_t k = 0; k < mem[i]->ngp; k++)
            sc->gp[ng++] = mem[i]->gp[k];
    }
    int64_t span, mon, dlen, all_down, plen, planned, rlen, down, glen, gcovered;
    /* While some member was due and not probed, the group's state was not
     * known: that time is taken out of the coverage. */
    struct spans gcov = *cov;
    if (ng) {
        ng = span_union(sc->gp, ng, cov, &glen, &gcovered);
        gcov = (struct spans){sc->cov, sq_subtract(cov->v, cov->n, sc->gp, ng, sc->cov)};
        cov = &gcov;
    }
    span_union(sc->act, na, cov, &span, &mon);
    nd = span_union(sc->dn, nd, cov, &dlen, &all_down);
    np = span_union(sc->pl, np, cov, &plen, &planned);
    size_t nr = sq_subtract(sc->dn, nd, sc->pl, np, sc->rest);
    span_union(sc->rest, nr, cov, &rlen, &down);
    mon -= planned;
    u->ntargets = (uint32_t)nm;
    u->monitored_ms = mon;
    u->down_ms = down;
    u->not_monitored_ms = span - mon - planned;
    u->planned_ms = planned;
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
    struct group_index gi = {NULL, 0};
    int rc = 0;
    for (size_t i = 0; !rc && i < nt; i++) {
        char buf[300];
        const char *keys[PW_MAX_ROLES + 1];
        size_t nk = group_keys(group, &ts[i], buf, sizeof buf, keys);
        for (size_t k = 0; k < nk; k++) {
            struct pw_store_uptime *u = group_row(v, n, &cap, &gi, keys[k], &oom);
            struct member *nv = u ? sq_grow(*out, &capm, *nm, sizeof *nv, 256) : NULL;
            if (!nv) {
                rc = PW_ENOMEM;
                break;
            }
            *out = nv;
            if (group == PW_GROUP_TARGET)
                u->target_id = ts[i].id;
            nv[(*nm)++] = (struct member){(size_t)(u - *v), &ts[i]};
        }
    }
    free(gi.slot);
    if (!rc && *nm) /* qsort(NULL, 0) is undefined */
        qsort(*out, *nm, sizeof **out, member_cmp);
    return rc;
}

static int compute_groups(enum pw_store_group group, const struct utarget *ts, size_t nt,
                          const struct spans *cov, struct pw_store_uptime **v, size_t *n)
{
    struct member *ms = NULL;
    size_t nm = 0, ndn = 0, npl = 0, ngp = 0;
    int rc = memberships(group, ts, nt, v, n, &ms, &nm);
    for (size_t i = 0; i < nt; i++)
        ndn += ts[i].ndn, npl += ts[i].npl, ngp += ts[i].ngp;
    /* scratch for one group: at most every target and every span */
    const struct utarget **mem = malloc((nt ? nt : 1) * sizeof *mem);
    struct scratch sc = {malloc((nt ? nt : 1) * sizeof *sc.act),
                         malloc((ndn ? ndn : 1) * sizeof *sc.dn),
                         malloc((npl ? npl : 1) * sizeof *sc.pl),
                         malloc((ndn + npl ? ndn + npl : 1) * sizeof *sc.rest),
                         malloc((ngp ? ngp : 1) * sizeof *sc.gp),
                         malloc((cov->n + ngp + 1) * sizeof *sc.cov)};
    if (!rc && (!mem || !sc.act || !sc.dn || !sc.pl || !sc.rest || !sc.gp || !sc.cov))
        rc = PW_ENOMEM;
    for (size_t i = 0; !rc && i < nm;) {
        size_t j = i, k = 0;
        for (; j < nm && ms[j].group == ms[i].group; j++)
            mem[k++] = ms[j].t;
        group_figures(&(*v)[ms[i].group], mem, k, cov, &sc);
        i = j;
    }
    free(ms);
    free(mem);
    free(sc.act);
    free(sc.dn);
    free(sc.pl);
    free(sc.rest);
    free(sc.gp);
    free(sc.cov);
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
    if (!rc)
        rc = load_planned(db, from, to, ts, nt);
    if (!rc)
        rc = load_gaps(db, from, to, ts, nt);
    pw_store_reader_unlock(st);
    if (!rc)
        rc = compute_groups(group, ts, nt, &cov, &v, n);
    for (size_t i = 0; i < nt; i++) {
        free(ts[i].host);
        free(ts[i].roles);
        free(ts[i].dn);
        free(ts[i].pl);
        free(ts[i].gp);
    }
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

static const char *const run_end_names[PW_RUN_END_COUNT_] = {
    [PW_RUN_OPEN] = "open", [PW_RUN_CLEAN] = "stopped", [PW_RUN_CRASH] = "crashed",
    [PW_RUN_STALL] = "stalled", [PW_RUN_PAUSED] = "paused", [PW_RUN_SUSPENDED] = "suspended",
    [PW_RUN_OVERLOADED] = "overloaded", [PW_RUN_STORAGE] = "storage",
};
static const char *const run_end_texts[PW_RUN_END_COUNT_] = {
    [PW_RUN_OPEN] = "portwatch is monitoring",
    [PW_RUN_CLEAN] = "portwatch was stopped",
    [PW_RUN_CRASH] = "portwatch ended without stopping (a crash, kill -9 or power loss)",
    [PW_RUN_STALL] = "nothing was probed or heard for more than the gap limit, cause not known",
    [PW_RUN_PAUSED] = "portwatch did not run: paused (SIGSTOP, a VM snapshot) or starved of "
                      "CPU by other processes",
    [PW_RUN_SUSPENDED] = "the machine was asleep (or its clock jumped forward)",
    [PW_RUN_OVERLOADED] = "portwatch was busy: its loop ran late (CPU-bound)",
    [PW_RUN_STORAGE] = "results were dropped: the database could not be written (disk full, "
                       "locked, read-only)",
};

const char *pw_store_run_end_name(enum pw_store_run_end end)
{
    return (unsigned)end < PW_RUN_END_COUNT_ ? run_end_names[end] : "unknown";
}

const char *pw_store_run_end_text(enum pw_store_run_end end)
{
    return (unsigned)end < PW_RUN_END_COUNT_ ? run_end_texts[end] : "cause not known";
}

int pw_store_query_gaps(struct pw_store *st, int64_t from, int64_t to,
                        struct pw_store_gap **out, size_t *n)
{
    struct pw_store_run *r;
    size_t nr, cap = 0;
    *out = NULL;
    *n = 0;
    /* Every run from the first: the one before a gap that began before
     * from ended before it too. Runs are few (a restart, a gap). */
    int rc = pw_store_query_runs(st, 0, to, &r, &nr);
    if (rc)
        return rc;
    struct pw_store_gap *v = NULL;
    for (size_t i = 0; i < nr && r[i].ended_ms >= 0; i++) {
        bool last = i + 1 == nr;
        int64_t a = r[i].ended_ms, b = last ? to : r[i + 1].started_ms;
        if (b <= from || a >= to || b <= a)
            continue;
        struct pw_store_gap *nv = sq_grow(v, &cap, *n, sizeof *nv, 8);
        if (!nv) {
            free(v);
            free(r);
            *n = 0;
            return PW_ENOMEM;
        }
        v = nv;
        v[(*n)++] = (struct pw_store_gap){max64(a, from), min64(b, to), last, r[i].end};
    }
    free(r);
    *out = v;
    return 0;
}
