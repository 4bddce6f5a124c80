/*
 * The store-backed documents, answered on the query pool: a target's
 * history (GET /api/v1/targets/{id}/history), outages and uptime.
 */
#include "web/api.h"

#include "base/clock.h"
#include "base/error.h"
#include "config/values.h"
#include "web/api_doc.h"
#include "web/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX_POINTS 10000
#define HISTORY_MAX_RUNS 10000
#define OUTAGES_DEFAULT_LIMIT 1000
#define OUTAGES_MAX_LIMIT 100000

/* ---- /api/v1/targets/{id}/history ------------------------------------------------ */

static json_t *point_json(const struct pw_store_point *pt)
{
    json_t *o = json_object(), *res = json_object();
    json_object_set_new(o, "t", pw_jtime(pt->t_ms));
    for (int s = 0; s < PW_STATE_COUNT_; s++)
        json_object_set_new(res, pw_state_name((enum pw_state)s), json_integer(pt->n[s]));
    json_object_set_new(o, "results", res);
    json_object_set_new(o, "failed", json_integer(pt->n_fail));
    if (pt->lat_avg_us >= 0) {
        json_t *l = json_object();
        json_object_set_new(l, "min", pw_jlatency_ms(pt->lat_min_us));
        json_object_set_new(l, "avg", pw_jlatency_ms(pt->lat_avg_us));
        json_object_set_new(l, "max", pw_jlatency_ms(pt->lat_max_us));
        json_object_set_new(o, "latency_ms", l);
    } else {
        json_object_set_new(o, "latency_ms", json_null());
    }
    json_object_set_new(o, "monitored_ms", json_integer(pt->monitored_ms));
    json_object_set_new(o, "down_ms", json_integer(pt->down_ms));
    return o;
}

/* One state run. verify is null where nothing was verified: no connect,
 * or a run recorded before the store kept it (schema v3); verify_info is
 * null only for the latter. */
static json_t *run_json(const struct pw_store_state_run *sr)
{
    json_t *o = json_object();
    json_object_set_new(o, "start", pw_jtime(sr->first_ms));
    json_object_set_new(o, "last", pw_jtime(sr->last_ms));
    json_object_set_new(o, "results", json_integer(sr->count));
    json_object_set_new(o, "state", json_string(pw_state_name(sr->state)));
    json_object_set_new(o, "status", json_string(pw_status_name(sr->status)));
    json_object_set_new(o, "ok", json_boolean(sr->ok));
    json_object_set_new(o, "latency_ms", pw_jlatency_ms(sr->latency_us));
    json_object_set_new(o, "detail", json_string(sr->detail));
    json_object_set_new(o, "verify", sr->has_verify && sr->verify != PW_VERIFY_NONE
                                         ? json_string(pw_verify_name(sr->verify))
                                         : json_null());
    json_object_set_new(o, "verify_info", sr->has_verify ? json_string(sr->verify_info)
                                                         : json_null());
    return o;
}

void pw_api_history(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_req_need_store(r, out);
    int64_t from, to, step = 0;
    if (!st || pw_web_param_range(r, PW_DAY_MS, &from, &to, out) != 0 ||
        pw_web_param_duration(r, "step", PW_MINUTE_MS, 366 * PW_DAY_MS, &step, out) != 0)
        return;
    if (!step) { /* about 300 points, in whole 5-minute buckets */
        step = (to - from + 299) / 300;
        step = (step + PW_STORE_FINE_MS - 1) / PW_STORE_FINE_MS * PW_STORE_FINE_MS;
    }
    int64_t points = (to - from + step - 1) / step;
    if (points > HISTORY_MAX_POINTS) {
        pw_reply_error(out, 400, "bad parameter",
                       "step: %lld points from 'from' to 'to'; at most %d, use a larger step",
                       (long long)points, HISTORY_MAX_POINTS);
        return;
    }
    struct pw_store_history h;
    int rc = pw_store_query_history(st, r->id, from, to, step, &h);
    if (rc == PW_ENOT_FOUND) {
        pw_reply_error(out, 404, "not found", "no target has id %u", r->id);
        return;
    }
    if (rc == PW_ERANGE || rc == PW_EINVAL) {
        pw_reply_error(out, 400, "bad parameter", "step: the range and step give too many "
                                                  "points; use a larger step or a shorter range");
        return;
    }
    if (rc != 0) {
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return;
    }
    /* The runs of consecutive results with the same state, status and
     * verification: where a change happened, to the result. */
    struct pw_store_state_run *runs = NULL;
    size_t nruns = 0;
    bool cut = false;
    rc = pw_store_query_state_runs(st, r->id, from, to, HISTORY_MAX_RUNS, &runs, &nruns, &cut);
    if (rc != 0) {
        pw_store_history_free(&h);
        pw_reply_error(out, rc == PW_ENOT_FOUND ? 404 : 503,
                       rc == PW_ENOT_FOUND ? "not found" : "unavailable",
                       "history query failed: %s", pw_strerror(rc));
        return;
    }
    json_t *doc = json_object(), *pts = json_array(), *jr = json_array();
    json_object_set_new(doc, "id", json_integer(r->id));
    json_object_set_new(doc, "from", pw_jtime(from));
    json_object_set_new(doc, "to", pw_jtime(to));
    json_object_set_new(doc, "monitored_since", h.since_ms ? pw_jtime(h.since_ms) : json_null());
    json_object_set_new(doc, "step_ms", json_integer(h.step_ms));
    json_object_set_new(doc, "tier_ms", json_integer(h.tier_ms));
    for (size_t i = 0; i < h.n; i++)
        json_array_append_new(pts, point_json(&h.points[i]));
    json_object_set_new(doc, "points", pts);
    for (size_t i = 0; i < nruns; i++)
        json_array_append_new(jr, run_json(&runs[i]));
    json_object_set_new(doc, "runs", jr);
    json_object_set_new(doc, "runs_truncated", json_boolean(cut));
    free(runs);
    pw_store_history_free(&h);
    pw_reply_json(out, 200, doc);
}

/* ---- /api/v1/outages ------------------------------------------------------------- */

/* Reads from, to, open and limit into f, *open (-1: any) and *limit.
 * Returns 0, or -1 with a 400 in out. */
static int outage_filter(struct pw_req *r, struct pw_store_outage_filter *f, int *open,
                         long long *limit, struct pw_reply *out)
{
    char err[PW_WEB_ERR_MAX];
    const char *fs = pw_web_param(r, "from"), *ts = pw_web_param(r, "to");
    if (fs || ts) {
        f->to_ms = r->now_ms;
        if (ts && pw_web_parse_time(ts, r->now_ms, &f->to_ms, err) != 0) {
            pw_reply_error(out, 400, "bad parameter", "to: %s", err);
            return -1;
        }
        if (fs && pw_web_parse_time(fs, r->now_ms, &f->from_ms, err) != 0) {
            pw_reply_error(out, 400, "bad parameter", "from: %s", err);
            return -1;
        }
        if (f->from_ms >= f->to_ms) {
            pw_reply_error(out, 400, "bad parameter", "from: must be earlier than to");
            return -1;
        }
    }
    *open = -1;
    const char *os = pw_web_param(r, "open");
    char perr[PW_ERRBUF];
    if (os && pw_parse_bool(os, open, perr) != 0) {
        char shown[32];
        pw_reply_error(out, 400, "bad parameter",
                       "open: '%s' is not yes/no; use true (only open outages) or "
                       "false (only ended ones)", pw_shown(os, shown, sizeof shown));
        return -1;
    }
    if (pw_web_param_limit(r, OUTAGES_DEFAULT_LIMIT, OUTAGES_MAX_LIMIT, limit, out) != 0)
        return -1;
    f->open_only = *open == 1;
    f->limit = (size_t)*limit + 1; /* one more: says "truncated" */
    return 0;
}

/* One outage as /api/v1/outages and the report show it; an open one's
 * duration runs to now_ms. */
json_t *pw_api_outage_json(const struct pw_store_outage *o, int64_t now_ms)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer(o->id));
    json_object_set_new(j, "target_id", json_integer(o->target_id));
    json_object_set_new(j, "host", json_string(o->host));
    json_object_set_new(j, "port", json_integer(o->port));
    json_object_set_new(j, "start", pw_jtime(o->start_ms));
    json_object_set_new(j, "end", o->end_ms < 0 ? json_null() : pw_jtime(o->end_ms));
    json_object_set_new(j, "open", json_boolean(o->end_ms < 0));
    int64_t end = o->end_ms < 0 ? now_ms : o->end_ms;
    json_object_set_new(j, "duration_ms",
                        json_integer(end > o->start_ms ? end - o->start_ms : 0));
    json_object_set_new(j, "last_failure", pw_jtime(o->last_ms));
    json_object_set_new(j, "state", json_string(pw_state_name(o->state)));
    json_object_set_new(j, "failed_probes", json_integer(o->fails));
    json_object_set_new(j, "detail", json_string(o->detail));
    json_object_set_new(j, "planned", json_boolean(o->planned));
    return j;
}

/* Whether o passes what the store could not filter: open=false and ports. */
static bool listed(const struct pw_store_outage *o, int open, const struct pw_scope *sc)
{
    return (open != 0 || o->end_ms >= 0) && pw_scope_port(sc, o->port);
}

void pw_api_outages(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_req_need_store(r, out);
    struct pw_store_outage_filter f = {0};
    struct pw_scope sc;
    int open;
    long long limit;
    if (!st || outage_filter(r, &f, &open, &limit, out) != 0 ||
        pw_scope_parse_store(r, st, &sc, out) != 0)
        return;
    f.host = sc.host;
    f.role = sc.role;
    if (open == 0 || sc.port_lo)
        f.limit = 0; /* filtered here: the store's limit would cut early */
    struct pw_store_outage_list list = {0};
    int rc = pw_store_query_outages(st, &f, &list);
    const struct pw_store_outage *v = list.v;
    size_t n = list.n;
    if (rc != 0) {
        pw_store_outage_list_free(&list);
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return;
    }
    /* which are shown, first: count and truncated come before them */
    size_t shown = 0, end = 0;
    for (; end < n; end++) {
        if (!listed(&v[end], open, &sc))
            continue;
        if (shown == (size_t)limit)
            break;
        shown++;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "count", json_integer((json_int_t)shown));
    json_object_set_new(doc, "truncated", json_boolean(end < n));
    struct pw_jlist l; /* limit=100000: 28 MB */
    pw_jlist_begin(&l, doc, "outages");
    for (size_t i = 0; i < end; i++) {
        if (listed(&v[i], open, &sc))
            pw_jlist_add(&l, pw_api_outage_json(&v[i], r->now_ms));
    }
    pw_store_outage_list_free(&list);
    pw_reply_jlist(out, &l);
}

/* ---- /api/v1/uptime -------------------------------------------------------------- */

void pw_api_uptime(struct pw_req *r, struct pw_reply *out)
{
    static const struct {
        const char *name;
        enum pw_store_group g;
    } groups[] = {
        {"target", PW_GROUP_TARGET},
        {"host", PW_GROUP_HOST},
        {"role", PW_GROUP_ROLE},
        {"farm", PW_GROUP_FARM},
    };
    struct pw_store *st = pw_req_need_store(r, out);
    int64_t from, to;
    if (!st || pw_web_param_range(r, PW_DAY_MS, &from, &to, out) != 0)
        return;
    const char *by = pw_web_param(r, "by");
    size_t g = 0;
    if (by) {
        for (g = 0; g < sizeof groups / sizeof groups[0]; g++)
            if (strcmp(groups[g].name, by) == 0)
                break;
        if (g == sizeof groups / sizeof groups[0]) {
            char shown[32];
            pw_reply_error(out, 400, "bad parameter",
                           "by: '%s' is not a grouping; use target, host, role or farm",
                           pw_shown(by, shown, sizeof shown));
            return;
        }
    }
    struct pw_store_uptime *v = NULL;
    size_t n = 0;
    int rc = pw_store_query_uptime(st, from, to, groups[g].g, &v, &n);
    if (rc != 0) {
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "from", pw_jtime(from));
    json_object_set_new(doc, "to", pw_jtime(to));
    json_object_set_new(doc, "by", json_string(groups[g].name));
    struct pw_jlist l; /* by target: 100,000 of them */
    pw_jlist_begin(&l, doc, "groups");
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "key", json_string(v[i].key));
        if (groups[g].g == PW_GROUP_TARGET)
            json_object_set_new(j, "target_id", json_integer(v[i].target_id));
        json_object_set_new(j, "targets", json_integer(v[i].ntargets));
        json_object_set_new(j, "monitored_ms", json_integer(v[i].monitored_ms));
        json_object_set_new(j, "down_ms", json_integer(v[i].down_ms));
        json_object_set_new(j, "not_monitored_ms", json_integer(v[i].not_monitored_ms));
        json_object_set_new(j, "planned_ms", json_integer(v[i].planned_ms));
        json_object_set_new(j, "uptime_pct", v[i].uptime_pct < 0 ? json_null()
                                                                 : pw_jround(v[i].uptime_pct, 3));
        pw_jlist_add(&l, j);
    }
    free(v);
    pw_reply_jlist(out, &l);
}
