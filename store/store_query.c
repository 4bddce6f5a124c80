/*
 * The read side of the history store: what the web layer (and the daemon's
 * start-up seeding) asks of it. Every query runs on the store's read
 * connection, which sees committed transactions only and never blocks the
 * writer (WAL). Interval arithmetic against coverage lives here so that
 * "not monitored" time is never counted as up or down.
 */
#include "store/store_int.h"

#include "config/error.h"

#include <stdlib.h>
#include <string.h>

struct span {
    int64_t a, b; /* [a, b) */
};

struct spans {
    struct span *v;
    size_t n;
};


/* Room for element n of an array of `cap` elements, doubling it (from
 * `first`) when full. Returns the array, or NULL with v untouched. */
static void *grow(void *v, size_t *cap, size_t n, size_t elem, size_t first)
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
static int prepare3(sqlite3 *db, const char *sql, sqlite3_stmt **s, int64_t a, int64_t b,
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
static void *list_end(struct pw_store *st, sqlite3_stmt *s, int rc, void *v, size_t *n)
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

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* |[a,b) ∩ union(cov)|; cov sorted and disjoint. */
static int64_t covered(const struct spans *cov, int64_t a, int64_t b)
{
    int64_t sum = 0;
    for (size_t i = 0; i < cov->n && cov->v[i].a < b; i++) {
        int64_t lo = max64(a, cov->v[i].a), hi = min64(b, cov->v[i].b);
        if (hi > lo)
            sum += hi - lo;
    }
    return sum;
}

/* Coverage runs overlapping [from, to), merged; an open run reaches its
 * last heartbeat. */
static int load_coverage(sqlite3 *db, int64_t from, int64_t to, struct spans *out)
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
        struct span *nv = grow(out->v, &cap, out->n, sizeof *nv, 16);
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
        struct pw_store_target *nv = grow(v, &cap, *n, sizeof *nv, 256);
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
    *out = list_end(st, s, rc, v, n);
    return rc;
}

int pw_store_load_states(struct pw_store *st, const struct pw_plan *plan,
                         struct pw_target_state *states)
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
    int rc = 0;
    for (size_t i = 0; i < plan->ntargets; i++) {
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
    pw_store_reader_unlock(st);
    return rc;
}

/* ---- history ------------------------------------------------------------ */

struct runrow {
    int64_t first, last;
    uint32_t count;
};

static void point_add_lat(struct pw_store_point *p, int64_t *lat_sum, int64_t *lat_n,
                          int64_t n, int64_t mn, int64_t sum, int64_t mx)
{
    if (n <= 0)
        return;
    if (p->lat_min_us < 0 || mn < p->lat_min_us)
        p->lat_min_us = mn;
    if (mx > p->lat_max_us)
        p->lat_max_us = mx;
    *lat_sum += sum;
    *lat_n += n;
}

/* Results of a regular run that fall in [a, b): the run's results are
 * first + k*(last-first)/(count-1), k = 0..count-1. */
static int64_t run_results_in(const struct runrow *r, int64_t a, int64_t b)
{
    if (r->count == 0 || r->last < a || r->first >= b)
        return 0;
    if (r->count == 1 || r->last == r->first)
        return r->first >= a && r->first < b ? r->count : 0;
    double iv = (double)(r->last - r->first) / (double)(r->count - 1);
    double klo = (double)(a - r->first) / iv, khi = (double)(b - r->first) / iv;
    int64_t lo = klo <= 0 ? 0 : (int64_t)klo + ((double)(int64_t)klo < klo);
    int64_t hi = (int64_t)khi - ((double)(int64_t)khi == khi); /* last k < b */
    if (hi > (int64_t)r->count - 1)
        hi = (int64_t)r->count - 1;
    return hi >= lo ? hi - lo + 1 : 0;
}

int pw_store_query_history(struct pw_store *st, uint32_t target_id, int64_t from_ms,
                           int64_t to_ms, int64_t step_ms, struct pw_store_history *h)
{
    memset(h, 0, sizeof *h);
    if (to_ms <= from_ms || step_ms <= 0)
        return PW_EINVAL;
    const struct pw_store_options *o = pw_store_opts(st);
    sqlite3 *db = pw_store_reader_lock(st);
    int rc = 0;
    sqlite3_stmt *s = NULL;
    struct spans cov = {0};
    struct runrow *runs = NULL;
    size_t nruns = 0, capr = 0;
    uint8_t *stored = NULL;
    int64_t *lsum = NULL, *ln = NULL, *qopen = NULL;
    int64_t first_ms = 0, retired_ms = 0, newest = 0;

    /* the target and the newest time known, for tier retention */
    if (sqlite3_prepare_v2(db, "SELECT coalesce(first_ms,0), coalesce(retired_ms,0),"
                               " (SELECT max(last_alive_ms) FROM runs)"
                               " FROM targets WHERE id=?", -1, &s, NULL) != SQLITE_OK) {
        rc = PW_ESTORAGE;
        goto out;
    }
    sqlite3_bind_int64(s, 1, target_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = PW_ENOT_FOUND;
        goto out;
    }
    first_ms = sqlite3_column_int64(s, 0);
    retired_ms = sqlite3_column_int64(s, 1);
    newest = sqlite3_column_int64(s, 2);
    sqlite3_finalize(s);
    s = NULL;
    h->since_ms = first_ms;

    int tier = step_ms >= DAY_MS ? 2 : step_ms >= HOUR_MS ? 1 : 0;
    if (tier == 0 && from_ms < newest - o->keep_raw_ms)
        tier = 1;
    static const int64_t tms[3] = {FINE_MS, HOUR_MS, DAY_MS};
    static const char *const tbl[3] = {"bucket_fine", "bucket_hour", "bucket_day"};
    int64_t T = tms[tier];
    int64_t step = (step_ms + T - 1) / T * T;
    int64_t from = from_ms >= 0 ? from_ms / T * T : -((-from_ms + T - 1) / T) * T;
    int64_t npts = (to_ms - from + step - 1) / step;
    if (npts > 100000) {
        rc = PW_ERANGE;
        goto out;
    }
    int64_t to = from + npts * step;
    int64_t nb = (to - from) / T;
    h->tier_ms = (int)T;
    h->step_ms = step;
    h->n = (size_t)npts;
    h->points = calloc((size_t)npts, sizeof *h->points);
    stored = calloc((size_t)nb, 1);
    lsum = calloc((size_t)npts, sizeof *lsum);
    ln = calloc((size_t)npts, sizeof *ln);
    qopen = calloc((size_t)npts, sizeof *qopen);
    if (!h->points || !stored || !lsum || !ln || !qopen) {
        rc = PW_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i < npts; i++) {
        h->points[i].t_ms = from + i * step;
        h->points[i].lat_min_us = h->points[i].lat_max_us = h->points[i].lat_avg_us = -1;
    }

    /* coverage of this target: runs ∩ [first seen, retired) */
    if ((rc = load_coverage(db, from, to, &cov)))
        goto out;
    int64_t act_a = first_ms ? first_ms : INT64_MAX, act_b = retired_ms ? retired_ms : INT64_MAX;
    for (size_t i = 0; i < cov.n; i++) {
        cov.v[i].a = max64(cov.v[i].a, act_a);
        cov.v[i].b = min64(cov.v[i].b, act_b);
        if (cov.v[i].b < cov.v[i].a)
            cov.v[i].b = cov.v[i].a;
    }
    for (int64_t i = 0; i < npts; i++) {
        struct pw_store_point *p = &h->points[i];
        p->monitored_ms = covered(&cov, p->t_ms, p->t_ms + step);
    }

    /* down time: outages ∩ coverage */
    rc = prepare3(db, "SELECT start_ms, coalesce(end_ms, ?3) FROM outages"
                      " WHERE target_id=?1 AND start_ms<?3 AND (end_ms IS NULL OR end_ms>?2)",
                  &s, target_id, from, to);
    if (rc)
        goto out;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t a = max64(sqlite3_column_int64(s, 0), from);
        int64_t b = min64(sqlite3_column_int64(s, 1), to);
        for (int64_t i = (a - from) / step; i < npts && h->points[i].t_ms < b; i++) {
            struct pw_store_point *p = &h->points[i];
            p->down_ms += covered(&cov, max64(a, p->t_ms), min64(b, p->t_ms + step));
        }
    }
    sqlite3_finalize(s);
    s = NULL;

    /* stored buckets of the tier: exact */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT b, n0,n1,n2,n3,n4,n5, nfail, lat_n, lat_min, lat_sum, lat_max"
             " FROM %s WHERE target_id=?1 AND b>=?2 AND b<?3", tbl[tier]);
    if ((rc = prepare3(db, sql, &s, target_id, from / T, to / T)) != 0)
        goto out;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(s, 0);
        int64_t i = (b * T - from) / step;
        struct pw_store_point *p = &h->points[i];
        stored[b - from / T] = 1;
        for (int k = 0; k < PW_STATE_COUNT_; k++)
            p->n[k] += (uint32_t)sqlite3_column_int64(s, 1 + k);
        p->n_fail += (uint32_t)sqlite3_column_int64(s, 7);
        point_add_lat(p, &lsum[i], &ln[i], sqlite3_column_int64(s, 8),
                      sqlite3_column_int64(s, 9), sqlite3_column_int64(s, 10),
                      sqlite3_column_int64(s, 11));
    }
    sqlite3_finalize(s);
    s = NULL;

    if (tier < 2) {
        /* Quiet buckets were not stored: every result in one ok state. Count
         * them from the state run they lie in; latency is the day's. */
        rc = prepare3(db, "SELECT first_ms, last_ms, count, state FROM state_runs"
                          " WHERE target_id=?1 AND first_ms<?3 AND last_ms>=?2 ORDER BY first_ms",
                      &s, target_id, from, to);
        if (rc)
            goto out;
        int *rstate = NULL;
        size_t capst = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            struct runrow *nv = grow(runs, &capr, nruns, sizeof *nv, 64);
            int *ns = nv ? grow(rstate, &capst, nruns, sizeof *ns, 64) : NULL;
            if (nv)
                runs = nv;
            if (ns)
                rstate = ns;
            if (!nv || !ns) {
                rc = PW_ENOMEM;
                break;
            }
            runs[nruns].first = sqlite3_column_int64(s, 0);
            runs[nruns].last = sqlite3_column_int64(s, 1);
            runs[nruns].count = (uint32_t)sqlite3_column_int64(s, 2);
            rstate[nruns] = sqlite3_column_int(s, 3);
            nruns++;
        }
        sqlite3_finalize(s);
        s = NULL;
        size_t r0 = 0;
        for (int64_t b = 0; b < nb && !rc && nruns; b++) {
            if (stored[b])
                continue;
            int64_t a = from + b * T, e = a + T;
            if (covered(&cov, a, e) == 0)
                continue;
            while (r0 < nruns && runs[r0].last < a)
                r0++;
            int64_t i = b * T / step;
            for (size_t r = r0; r < nruns && runs[r].first < e; r++) {
                int64_t c = run_results_in(&runs[r], a, e);
                if ((unsigned)rstate[r] < PW_STATE_COUNT_)
                    h->points[i].n[rstate[r]] += (uint32_t)c;
                if (rstate[r] == PW_STATE_OPEN)
                    qopen[i] += c;
            }
        }
        free(rstate);
        /* latency of quiet buckets: the day tier's */
        if (!rc)
            rc = prepare3(db, "SELECT b, lat_n, lat_min, lat_sum, lat_max, n0+n1+n2+n3+n4+n5"
                              " FROM bucket_day WHERE target_id=?1 AND b>=?2 AND b<?3 AND lat_n>0",
                          &s, target_id, from / DAY_MS, (to + DAY_MS - 1) / DAY_MS);
        if (!rc) {
            while (sqlite3_step(s) == SQLITE_ROW) {
                int64_t da = sqlite3_column_int64(s, 0) * DAY_MS, de = da + DAY_MS;
                int64_t dn = sqlite3_column_int64(s, 1);
                int64_t avg = sqlite3_column_int64(s, 3) / dn;
                for (int64_t i = max64(0, (da - from) / step); i < npts && h->points[i].t_ms < de; i++) {
                    /* only connected (open) results have a latency */
                    int64_t quiet = qopen[i];
                    if (quiet > 0)
                        point_add_lat(&h->points[i], &lsum[i], &ln[i], quiet,
                                      sqlite3_column_int64(s, 2), avg * quiet,
                                      sqlite3_column_int64(s, 4));
                    qopen[i] = 0; /* a point straddling two days takes one */
                }
            }
            sqlite3_finalize(s);
            s = NULL;
        }
    }
    for (int64_t i = 0; i < npts; i++)
        if (ln[i] > 0)
            h->points[i].lat_avg_us = lsum[i] / ln[i];

out:
    sqlite3_finalize(s);
    pw_store_reader_unlock(st);
    free(cov.v);
    free(runs);
    free(stored);
    free(lsum);
    free(ln);
    free(qopen);
    if (rc)
        pw_store_history_free(h);
    return rc;
}

void pw_store_history_free(struct pw_store_history *h)
{
    free(h->points);
    memset(h, 0, sizeof *h);
}

/* ---- state runs --------------------------------------------------------- */

static void text_col(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int pw_store_query_state_runs(struct pw_store *st, uint32_t target_id, int64_t from_ms,
                              int64_t to_ms, size_t limit, struct pw_store_state_run **out,
                              size_t *n, bool *truncated)
{
    *out = NULL;
    *n = 0;
    *truncated = false;
    if (to_ms <= from_ms)
        return PW_EINVAL;
    sqlite3 *db = pw_store_reader_lock(st);
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM targets WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK) {
        rc = PW_ESTORAGE;
        goto out;
    }
    sqlite3_bind_int64(s, 1, target_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = PW_ESTORAGE;
        goto out;
    }
    if (sqlite3_column_int(s, 0) == 0) {
        rc = PW_ENOT_FOUND;
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    /* Newest first so that a limit keeps the latest; reversed below. The
     * (target_id, first_ms) index bounds the scan from above. */
    rc = prepare3(db, "SELECT id, state, status, ok, first_ms, last_ms, count, latency_us,"
                      " detail, verify, verify_info FROM state_runs"
                      " WHERE target_id=?1 AND first_ms<?3 AND last_ms>=?2"
                      " ORDER BY first_ms DESC, id DESC LIMIT ?4",
                  &s, target_id, from_ms, to_ms);
    if (rc)
        goto out;
    sqlite3_bind_int64(s, 4, limit ? (int64_t)limit + 1 : -1);
    size_t cap = 0;
    struct pw_store_state_run *v = NULL;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (limit && *n == limit) {
            *truncated = true;
            continue;
        }
        struct pw_store_state_run *nv = grow(v, &cap, *n, sizeof *nv, 64);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        v = nv;
        struct pw_store_state_run *r = &v[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(s, 0);
        r->state = (enum pw_state)sqlite3_column_int(s, 1);
        r->status = (enum pw_status)sqlite3_column_int(s, 2);
        r->ok = sqlite3_column_int(s, 3);
        r->first_ms = sqlite3_column_int64(s, 4);
        r->last_ms = sqlite3_column_int64(s, 5);
        r->count = (uint32_t)sqlite3_column_int64(s, 6);
        r->latency_us = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1
                                                                 : sqlite3_column_int64(s, 7);
        text_col(s, 8, r->detail, sizeof r->detail);
        r->has_verify = sqlite3_column_type(s, 9) != SQLITE_NULL;
        int vv = sqlite3_column_int(s, 9);
        r->verify = vv >= 0 && vv < PW_VERIFY_COUNT_ ? (enum pw_verify)vv : PW_VERIFY_NONE;
        text_col(s, 10, r->verify_info, sizeof r->verify_info);
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    if (rc) {
        free(v);
        *n = 0;
        *truncated = false;
        goto out;
    }
    for (size_t i = 0; i < *n / 2; i++) {
        struct pw_store_state_run t = v[i];
        v[i] = v[*n - 1 - i];
        v[*n - 1 - i] = t;
    }
    *out = v;
out:
    sqlite3_finalize(s);
    pw_store_reader_unlock(st);
    return rc;
}

/* ---- RPC endpoint mapper registrations ------------------------------------ */

static void uuid_col(sqlite3_stmt *s, int col, struct pw_uuid *u, bool *has)
{
    const void *b = sqlite3_column_blob(s, col);
    bool ok = b && sqlite3_column_bytes(s, col) == 16;
    if (ok)
        pw_store_uuid_unpack(b, u);
    else
        memset(u, 0, sizeof *u);
    if (has)
        *has = ok;
}

int pw_store_epm_load(struct pw_store *st, struct pw_store_epm_host **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = pw_store_reader_lock(st);
    sqlite3_stmt *s = NULL;
    /* The latest read's registrations are those last seen at its time. */
    if (sqlite3_prepare_v2(db, "SELECT h.id, h.host, h.looked_up_ms, e.id, e.object, e.iface,"
                               " e.vmajor, e.vminor, e.protseq, e.address, e.endpoint,"
                               " e.port, e.annotation, e.first_seen_ms, e.last_seen_ms"
                               " FROM epm_hosts h LEFT JOIN epm_entries e"
                               " ON e.host_id=h.id AND e.last_seen_ms=h.looked_up_ms"
                               " ORDER BY h.host, h.id, e.id",
                           -1, &s, NULL) != SQLITE_OK) {
        pw_store_reader_unlock(st);
        return PW_ESTORAGE;
    }
    struct pw_store_epm_host *v = NULL;
    size_t cap = 0, capr = 0, nh = 0;
    int64_t cur = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t hid = sqlite3_column_int64(s, 0);
        if (!nh || hid != cur) {
            struct pw_store_epm_host *nv = grow(v, &cap, nh, sizeof *nv, 8);
            if (!nv) {
                rc = PW_ENOMEM;
                break;
            }
            v = nv;
            struct pw_store_epm_host *h = &v[nh++];
            memset(h, 0, sizeof *h);
            const unsigned char *name = sqlite3_column_text(s, 1);
            h->host = strdup(name ? (const char *)name : "");
            if (!h->host) {
                rc = PW_ENOMEM;
                break;
            }
            h->looked_up_ms = sqlite3_column_int64(s, 2);
            cur = hid;
            capr = 0;
        }
        if (sqlite3_column_type(s, 3) == SQLITE_NULL)
            continue; /* a read that found nothing registered */
        struct pw_store_epm_host *h = &v[nh - 1];
        struct pw_store_epm_row *nr = grow(h->v, &capr, h->n, sizeof *nr, 32);
        if (!nr) {
            rc = PW_ENOMEM;
            break;
        }
        h->v = nr;
        struct pw_store_epm_row *r = &h->v[h->n++];
        memset(r, 0, sizeof *r);
        uuid_col(s, 4, &r->e.object, NULL);
        uuid_col(s, 5, &r->e.iface, &r->e.has_iface);
        r->e.vmajor = (uint16_t)sqlite3_column_int(s, 6);
        r->e.vminor = (uint16_t)sqlite3_column_int(s, 7);
        int ps = sqlite3_column_int(s, 8);
        r->e.protseq = ps >= 0 && ps < PW_EPM_PROTSEQ_COUNT_ ? (enum pw_epm_protseq)ps
                                                             : PW_EPM_UNKNOWN;
        text_col(s, 9, r->e.address, sizeof r->e.address);
        text_col(s, 10, r->e.endpoint, sizeof r->e.endpoint);
        r->e.port = (uint16_t)sqlite3_column_int(s, 11);
        text_col(s, 12, r->e.annotation, sizeof r->e.annotation);
        r->first_seen_ms = sqlite3_column_int64(s, 13);
        r->last_seen_ms = sqlite3_column_int64(s, 14);
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    pw_store_reader_unlock(st);
    if (rc) {
        pw_store_epm_free(v, nh);
        return rc;
    }
    *out = v;
    *n = nh;
    return 0;
}

void pw_store_epm_free(struct pw_store_epm_host *h, size_t n)
{
    if (!h)
        return;
    for (size_t i = 0; i < n; i++) {
        free(h[i].host);
        free(h[i].v);
    }
    free(h);
}

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
        struct tname *nv = grow(*out, &cap, *n, sizeof *nv, 256);
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

static const struct tname *find_name(const struct tname *v, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].id == id ? &v[lo] : NULL;
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
        struct pw_store_outage *grown = grow(v, &cap, *n, sizeof *grown, 64);
        if (!grown) {
            rc = PW_ENOMEM;
            break;
        }
        v = grown;
        struct pw_store_outage *o = &v[(*n)++];
        o->id = sqlite3_column_int64(s, 0);
        o->target_id = (uint32_t)sqlite3_column_int64(s, 1);
        const struct tname *tn = find_name(names, nnames, o->target_id);
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
    struct pw_store_uptime *nv = grow(*v, cap, *n, sizeof *nv, 64);
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
    int rc = prepare3(db, "SELECT id, host, port, roles, first_ms, coalesce(retired_ms,?2)"
                          " FROM targets WHERE first_ms IS NOT NULL AND first_ms<?2"
                          " AND (retired_ms IS NULL OR retired_ms>?1) ORDER BY id",
                      &s, from, to, 0);
    if (rc)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct utarget *nv = grow(*out, &cap, *nt, sizeof *nv, 256);
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
    int rc = prepare3(db, "SELECT target_id, start_ms, coalesce(end_ms,?2) FROM outages"
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
        struct span *nv = grow(t->dn, &t->capdn, t->ndn, sizeof *nv, 4);
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
        *cov_len += covered(cov, v[i].a, v[i].b);
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
            struct member *nv = u ? grow(*out, &capm, *nm, sizeof *nv, 256) : NULL;
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
    int rc = load_coverage(db, from, to, &cov);
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
        struct pw_store_run *nv = grow(v, &cap, *n, sizeof *nv, 16);
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
    *out = list_end(st, s, rc, v, n);
    return rc;
}
