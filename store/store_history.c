/*
 * History queries: a target's points over a range (from the buckets, with
 * coverage so unmonitored time is not counted) and its state runs.
 */
#include "store/query_int.h"

#include "base/clock.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* One history query's state, shared by its steps (each returns 0 or a
 * pw_err): the grid of points, which tier buckets were stored, and per
 * point the latency sums and the open results of quiet buckets. */
struct hq {
    sqlite3 *db;
    uint32_t target_id;
    struct pw_store_history *h;
    int tier;
    int64_t T, from, to, step, npts, nb;
    int64_t first_ms, retired_ms, newest;
    struct spans cov;
    uint8_t *stored;
    int64_t *lsum, *ln, *qopen;
};

/* The target's first and retired times and the newest time known, for
 * the tier's retention. */
static int hq_target(struct hq *q)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(q->db, "SELECT coalesce(first_ms,0), coalesce(retired_ms,0),"
                                  " (SELECT max(last_alive_ms) FROM runs)"
                                  " FROM targets WHERE id=?", -1, &s, NULL) != SQLITE_OK)
        return PW_ESTORAGE;
    sqlite3_bind_int64(s, 1, q->target_id);
    int rc = PW_ENOT_FOUND;
    if (sqlite3_step(s) == SQLITE_ROW) {
        q->first_ms = sqlite3_column_int64(s, 0);
        q->retired_ms = sqlite3_column_int64(s, 1);
        q->newest = sqlite3_column_int64(s, 2);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* The tier, the step rounded to it and the points of [from_ms, to_ms). */
static int hq_grid(struct hq *q, const struct pw_store_options *o, int64_t from_ms,
                   int64_t to_ms, int64_t step_ms)
{
    q->tier = step_ms >= PW_DAY_MS ? TIER_DAY : step_ms >= PW_HOUR_MS ? TIER_HOUR : TIER_FINE;
    if (q->tier == TIER_FINE && from_ms < q->newest - o->keep_raw_ms)
        q->tier = TIER_HOUR;
    int64_t T = q->T = tier_ms[q->tier];
    q->step = (step_ms + T - 1) / T * T;
    q->from = from_ms >= 0 ? from_ms / T * T : -((-from_ms + T - 1) / T) * T;
    q->npts = (to_ms - q->from + q->step - 1) / q->step;
    if (q->npts > 100000)
        return PW_ERANGE;
    q->to = q->from + q->npts * q->step;
    q->nb = (q->to - q->from) / T;
    struct pw_store_history *h = q->h;
    h->tier_ms = (int)T;
    h->step_ms = q->step;
    h->n = (size_t)q->npts;
    h->points = calloc((size_t)q->npts, sizeof *h->points);
    q->stored = calloc((size_t)q->nb, 1);
    q->lsum = calloc((size_t)q->npts, sizeof *q->lsum);
    q->ln = calloc((size_t)q->npts, sizeof *q->ln);
    q->qopen = calloc((size_t)q->npts, sizeof *q->qopen);
    if (!h->points || !q->stored || !q->lsum || !q->ln || !q->qopen)
        return PW_ENOMEM;
    for (int64_t i = 0; i < q->npts; i++) {
        h->points[i].t_ms = q->from + i * q->step;
        h->points[i].lat_min_us = h->points[i].lat_max_us = h->points[i].lat_avg_us = -1;
    }
    return 0;
}

/* Monitored time per point: coverage runs within [first seen, retired),
 * less the times the target was due and not probed. */
static int hq_coverage(struct hq *q)
{
    int rc = sq_load_coverage(q->db, q->from, q->to, &q->cov);
    if (!rc)
        rc = sq_target_coverage(q->db, q->target_id, q->from, q->to, &q->cov);
    if (rc)
        return rc;
    int64_t act_a = q->first_ms ? q->first_ms : INT64_MAX;
    int64_t act_b = q->retired_ms ? q->retired_ms : INT64_MAX;
    for (size_t i = 0; i < q->cov.n; i++) {
        q->cov.v[i].a = max64(q->cov.v[i].a, act_a);
        q->cov.v[i].b = min64(q->cov.v[i].b, act_b);
        if (q->cov.v[i].b < q->cov.v[i].a)
            q->cov.v[i].b = q->cov.v[i].a;
    }
    for (int64_t i = 0; i < q->npts; i++) {
        struct pw_store_point *p = &q->h->points[i];
        p->monitored_ms = sq_covered(&q->cov, p->t_ms, p->t_ms + q->step);
    }
    return 0;
}

/* Down time per point: outages within the coverage. */
static int hq_down(struct hq *q)
{
    sqlite3_stmt *s = NULL;
    int rc = sq_prepare3(q->db, "SELECT start_ms, coalesce(end_ms, ?3) FROM outages"
                                " WHERE target_id=?1 AND start_ms<?3 AND (end_ms IS NULL OR end_ms>?2)",
                         &s, q->target_id, q->from, q->to);
    if (rc)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t a = max64(sqlite3_column_int64(s, 0), q->from);
        int64_t b = min64(sqlite3_column_int64(s, 1), q->to);
        for (int64_t i = (a - q->from) / q->step; i < q->npts && q->h->points[i].t_ms < b; i++) {
            struct pw_store_point *p = &q->h->points[i];
            p->down_ms += sq_covered(&q->cov, max64(a, p->t_ms), min64(b, p->t_ms + q->step));
        }
    }
    sqlite3_finalize(s);
    return 0;
}

/* The tier's stored buckets: exact counts and latencies. */
static int hq_buckets(struct hq *q)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT b, n0,n1,n2,n3,n4,n5, nfail, lat_n, lat_min, lat_sum, lat_max"
             " FROM %s WHERE target_id=?1 AND b>=?2 AND b<?3", tier_table[q->tier]);
    sqlite3_stmt *s = NULL;
    int rc = sq_prepare3(q->db, sql, &s, q->target_id, q->from / q->T, q->to / q->T);
    if (rc)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(s, 0);
        int64_t i = (b * q->T - q->from) / q->step;
        struct pw_store_point *p = &q->h->points[i];
        q->stored[b - q->from / q->T] = 1;
        for (int k = 0; k < PW_STATE_COUNT_; k++)
            p->n[k] += (uint32_t)sqlite3_column_int64(s, 1 + k);
        p->n_fail += (uint32_t)sqlite3_column_int64(s, 7);
        point_add_lat(p, &q->lsum[i], &q->ln[i], sqlite3_column_int64(s, 8),
                      sqlite3_column_int64(s, 9), sqlite3_column_int64(s, 10),
                      sqlite3_column_int64(s, 11));
    }
    sqlite3_finalize(s);
    return 0;
}

/* The state runs that overlap the range, with each run's state. */
static int hq_load_runs(struct hq *q, struct runrow **runs, int **rstate, size_t *nruns)
{
    sqlite3_stmt *s = NULL;
    int rc = sq_prepare3(q->db, "SELECT first_ms, last_ms, count, state FROM state_runs"
                                " WHERE target_id=?1 AND first_ms<?3 AND last_ms>=?2 ORDER BY first_ms",
                         &s, q->target_id, q->from, q->to);
    if (rc)
        return rc;
    size_t capr = 0, capst = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct runrow *nv = sq_grow(*runs, &capr, *nruns, sizeof *nv, 64);
        int *ns = nv ? sq_grow(*rstate, &capst, *nruns, sizeof *ns, 64) : NULL;
        if (nv)
            *runs = nv;
        if (ns)
            *rstate = ns;
        if (!nv || !ns) {
            rc = PW_ENOMEM;
            break;
        }
        (*runs)[*nruns].first = sqlite3_column_int64(s, 0);
        (*runs)[*nruns].last = sqlite3_column_int64(s, 1);
        (*runs)[*nruns].count = (uint32_t)sqlite3_column_int64(s, 2);
        (*rstate)[*nruns] = sqlite3_column_int(s, 3);
        (*nruns)++;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Quiet buckets were not stored: every result in one ok state. Counts them
 * from the state run they lie in, and their open results for latency. */
static int hq_quiet_counts(struct hq *q)
{
    struct runrow *runs = NULL;
    int *rstate = NULL;
    size_t nruns = 0, r0 = 0;
    int rc = hq_load_runs(q, &runs, &rstate, &nruns);
    for (int64_t b = 0; b < q->nb && !rc && nruns; b++) {
        if (q->stored[b])
            continue;
        int64_t a = q->from + b * q->T, e = a + q->T;
        if (sq_covered(&q->cov, a, e) == 0)
            continue;
        while (r0 < nruns && runs[r0].last < a)
            r0++;
        int64_t i = b * q->T / q->step;
        for (size_t r = r0; r < nruns && runs[r].first < e; r++) {
            int64_t c = run_results_in(&runs[r], a, e);
            if ((unsigned)rstate[r] < PW_STATE_COUNT_)
                q->h->points[i].n[rstate[r]] += (uint32_t)c;
            if (rstate[r] == PW_STATE_OPEN)
                q->qopen[i] += c;
        }
    }
    free(rstate);
    free(runs);
    return rc;
}

/* The latency of quiet buckets: the day tier's average. */
static int hq_quiet_latency(struct hq *q)
{
    sqlite3_stmt *s = NULL;
    int rc = sq_prepare3(q->db, "SELECT b, lat_n, lat_min, lat_sum, lat_max, n0+n1+n2+n3+n4+n5"
                                " FROM bucket_day WHERE target_id=?1 AND b>=?2 AND b<?3 AND lat_n>0",
                         &s, q->target_id, q->from / PW_DAY_MS, (q->to + PW_DAY_MS - 1) / PW_DAY_MS);
    if (rc)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t da = sqlite3_column_int64(s, 0) * PW_DAY_MS, de = da + PW_DAY_MS;
        int64_t dn = sqlite3_column_int64(s, 1);
        int64_t avg = sqlite3_column_int64(s, 3) / dn;
        for (int64_t i = max64(0, (da - q->from) / q->step);
             i < q->npts && q->h->points[i].t_ms < de; i++) {
            /* only connected (open) results have a latency */
            int64_t quiet = q->qopen[i];
            if (quiet > 0)
                point_add_lat(&q->h->points[i], &q->lsum[i], &q->ln[i], quiet,
                              sqlite3_column_int64(s, 2), avg * quiet,
                              sqlite3_column_int64(s, 4));
            q->qopen[i] = 0; /* a point straddling two days takes one */
        }
    }
    sqlite3_finalize(s);
    return 0;
}

int pw_store_query_history(struct pw_store *st, uint32_t target_id, int64_t from_ms,
                           int64_t to_ms, int64_t step_ms, struct pw_store_history *h)
{
    memset(h, 0, sizeof *h);
    if (to_ms <= from_ms || step_ms <= 0)
        return PW_EINVAL;
    struct hq q = {.db = pw_store_reader_lock(st), .target_id = target_id, .h = h};
    int rc = hq_target(&q);
    if (!rc) {
        h->since_ms = q.first_ms;
        rc = hq_grid(&q, pw_store_opts(st), from_ms, to_ms, step_ms);
    }
    if (!rc)
        rc = hq_coverage(&q);
    if (!rc)
        rc = hq_down(&q);
    if (!rc)
        rc = hq_buckets(&q);
    if (!rc && q.tier != TIER_DAY)
        rc = hq_quiet_counts(&q);
    if (!rc && q.tier != TIER_DAY)
        rc = hq_quiet_latency(&q);
    for (int64_t i = 0; !rc && i < q.npts; i++)
        if (q.ln[i] > 0)
            h->points[i].lat_avg_us = q.lsum[i] / q.ln[i];
    pw_store_reader_unlock(st);
    free(q.cov.v);
    free(q.stored);
    free(q.lsum);
    free(q.ln);
    free(q.qopen);
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
    rc = sq_prepare3(db, "SELECT id, state, status, ok, first_ms, last_ms, count, latency_us,"
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
        struct pw_store_state_run *nv = sq_grow(v, &cap, *n, sizeof *nv, 64);
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
        sq_text_col(s, 8, r->detail, sizeof r->detail);
        r->has_verify = sqlite3_column_type(s, 9) != SQLITE_NULL;
        int vv = sqlite3_column_int(s, 9);
        r->verify = vv >= 0 && vv < PW_VERIFY_COUNT_ ? (enum pw_verify)vv : PW_VERIFY_NONE;
        sq_text_col(s, 10, r->verify_info, sizeof r->verify_info);
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
