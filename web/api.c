/*
 * The JSON endpoints of /api/v1 (README.md, "HTTP API", is their reference): status,
 * one target, its history, outages, uptime, and health, the endpoint
 * alerting systems poll. Snapshot endpoints read the request's view only;
 * history, outages and uptime run on the query pool and read the store.
 * Every document is built with jansson.
 */
#include "web/web_int.h"

#include "config/error.h"
#include "config/values.h"
#include "probes/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_TEXT_MAX_LISTED 10
#define HISTORY_MAX_POINTS 10000
#define HISTORY_MAX_RUNS 10000
#define OUTAGES_DEFAULT_LIMIT 1000
#define OUTAGES_MAX_LIMIT 100000
#define DAY 86400000LL

static const char *const storage_names[] = {[PW_STORE_OK] = "ok", [PW_STORE_DEGRADED] = "degraded"};

static json_t *jtime(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    pw_web_format_time(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *jlatency_ms(int64_t us)
{
    return us < 0 ? json_null() : json_real((double)us / 1000.0);
}

uint32_t pw_api_id(const struct pw_web_view *v, size_t i)
{
    return v->ids ? v->ids[i] : (uint32_t)(i + 1);
}

static const struct pw_host *host_of(const struct pw_plan *p, size_t i)
{
    return &p->hosts[p->targets[i].host];
}

static bool has_role(const struct pw_profile *pf, const char *role)
{
    for (size_t k = 0; k < pf->nroles; k++)
        if (strcmp(pf->roles[k], role) == 0)
            return true;
    return false;
}

static json_t *roles_json(const struct pw_profile *pf)
{
    json_t *a = json_array();
    for (size_t k = 0; k < pf->nroles; k++)
        json_array_append_new(a, json_string(pf->roles[k]));
    return a;
}

static json_t *reasons_json(const struct pw_profile *pf)
{
    json_t *a = json_array();
    for (size_t k = 0; k < pf->nreasons; k++) {
        const struct pw_reason *rs = &pf->reasons[k];
        json_t *o = json_object();
        json_object_set_new(o, "role", json_string(rs->role));
        json_object_set_new(o, "service", json_string(rs->service));
        json_object_set_new(o, "text", json_string(rs->text ? rs->text : ""));
        if (rs->row)
            json_object_set_new(o, "catalog_row", json_integer(rs->row));
        json_array_append_new(a, o);
    }
    return a;
}

/* Whether a target's last probe fails its expectation (status aside). */
static bool failing_now(const struct pw_target_state *t)
{
    return t->has_result && !t->ok;
}

static json_t *state_fields(json_t *o, const struct pw_target_state *t)
{
    json_object_set_new(o, "status", json_string(pw_status_name(t->status)));
    json_object_set_new(o, "state", t->has_result ? json_string(pw_state_name(t->state))
                                                  : json_null());
    json_object_set_new(o, "ok", t->has_result ? json_boolean(t->ok) : json_null());
    json_object_set_new(o, "latency_ms", t->has_result ? jlatency_ms(t->latency_us)
                                                       : json_null());
    json_object_set_new(o, "detail", json_string(t->detail));
    /* Protocol proof (issue 9): null until a probe connected. */
    json_object_set_new(o, "verify", t->has_result && t->verify != PW_VERIFY_NONE
                                         ? json_string(pw_verify_name(t->verify))
                                         : json_null());
    json_object_set_new(o, "verify_info", json_string(t->verify_info));
    json_object_set_new(o, "since", jtime(t->since_ms));
    json_object_set_new(o, "last_checked", jtime(t->last_ms));
    json_object_set_new(o, "consecutive_failures", json_integer(t->fails));
    return o;
}

/* One target of the view. Reasons (long texts) always in `full`, else only
 * where they matter: the target is down or its last probe failed. */
static json_t *target_json(const struct pw_web_view *v, size_t i, bool full)
{
    const struct pw_plan *p = v->snap->plan;
    const struct pw_profile *pf = pw_target_profile(p, &p->targets[i]);
    const struct pw_target_state *t = &v->snap->targets[i];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(pw_api_id(v, i)));
    json_object_set_new(o, "host", json_string(host_of(p, i)->name));
    json_object_set_new(o, "port", json_integer(p->targets[i].port));
    json_object_set_new(o, "roles", roles_json(pf));
    json_object_set_new(o, "expect", json_string(pw_expect_name(pf->expect)));
    state_fields(o, t);
    if (full || t->status == PW_STATUS_DOWN || failing_now(t))
        json_object_set_new(o, "reasons", reasons_json(pf));
    return o;
}

static json_t *storage_json(struct pw_store *st)
{
    json_t *o = json_object();
    if (!st) {
        json_object_set_new(o, "state", json_string("unavailable"));
        json_object_set_new(o, "since", json_null());
        json_object_set_new(o, "message", json_string("portwatch runs without a database"));
        return o;
    }
    struct pw_store_health h;
    pw_store_health(st, &h);
    json_object_set_new(o, "state", json_string((unsigned)h.state <= PW_STORE_DEGRADED
                                                    ? storage_names[h.state] : "unknown"));
    json_object_set_new(o, "since", jtime(h.since_ms));
    json_object_set_new(o, "message", json_string(h.message));
    return o;
}

/* The shortest probe interval in the plan: how often sweeps end, for a
 * client deciding whether the data went stale. null for an empty plan. */
static json_t *shortest_interval(const struct pw_plan *p)
{
    int64_t iv = INT64_MAX;
    for (size_t i = 0; i < p->nprofiles; i++)
        if (p->profiles[i].interval_ms > 0 && p->profiles[i].interval_ms < iv)
            iv = p->profiles[i].interval_ms;
    return p->ntargets && iv != INT64_MAX ? json_integer(iv) : json_null();
}

static json_t *sweep_json(const struct pw_engine_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "at", jtime(s->last_sweep_ms));
    json_object_set_new(o, "duration_ms", s->sweeps ? json_integer(s->last_sweep_duration_ms)
                                                    : json_null());
    json_object_set_new(o, "sweeps", json_integer((json_int_t)s->sweeps));
    json_object_set_new(o, "overruns", json_integer((json_int_t)s->overruns));
    return o;
}

/* ---- scoping: host=, role=, status= ------------------------------------------- */

struct scope {
    const char *host, *role;
    unsigned status_mask; /* bit per enum pw_status; 0: any */
};

static bool in_scope(const struct pw_web_view *v, size_t i, const struct scope *sc)
{
    const struct pw_plan *p = v->snap->plan;
    if (sc->host && pw_strcasecmp(host_of(p, i)->name, sc->host) != 0)
        return false;
    if (sc->role && !has_role(pw_target_profile(p, &p->targets[i]), sc->role))
        return false;
    if (sc->status_mask && !(sc->status_mask & (1u << v->snap->targets[i].status)))
        return false;
    return true;
}

/* Reads host= and role= (and status= when allowed); a host or role that no
 * target has is a 404, so a typo in an alerting rule does not read as
 * "all healthy". */
static int scope_parse(struct pw_req *r, bool with_status, struct scope *sc,
                       struct pw_reply *out)
{
    memset(sc, 0, sizeof *sc);
    sc->host = pw_web_param(r, "host");
    sc->role = pw_web_param(r, "role");
    const struct pw_plan *p = r->view.snap->plan;
    if (sc->host) {
        bool found = false;
        for (size_t h = 0; h < p->nhosts && !found; h++)
            found = pw_strcasecmp(p->hosts[h].name, sc->host) == 0 && p->hosts[h].n > 0;
        if (!found) {
            pw_reply_error(out, 404, "not found", "host: no target is on host '%.100s'",
                           sc->host);
            return -1;
        }
    }
    if (sc->role) {
        bool found = false;
        for (size_t k = 0; k < p->nprofiles && !found; k++)
            found = has_role(&p->profiles[k], sc->role);
        if (!found) {
            char list[512] = "";
            size_t o = 0, nr;
            const struct pw_role *roles = pw_catalog_roles(&nr);
            for (size_t k = 0; k < nr; k++)
                o += (size_t)snprintf(list + o, o < sizeof list ? sizeof list - o : 0, "%s%s",
                                      k ? ", " : "", roles[k].key);
            pw_reply_error(out, 404, "not found",
                           "role: no target serves role '%.100s' (roles: %s, or a [check] "
                           "name)", sc->role, list);
            return -1;
        }
    }
    const char *st = with_status ? pw_web_param(r, "status") : NULL;
    if (st) {
        static const char *const names[] = {"unknown", "up", "down"};
        const char *s = st;
        while (*s) {
            size_t n = strcspn(s, ",");
            bool ok = false;
            for (unsigned k = 0; k < 3 && !ok; k++) {
                if (strlen(names[k]) == n && strncmp(names[k], s, n) == 0) {
                    sc->status_mask |= 1u << k;
                    ok = true;
                }
            }
            if (!ok) {
                pw_reply_error(out, 400, "bad parameter",
                               "status: '%.40s' is not a status; use up, down or unknown "
                               "(several separated by commas)", st);
                return -1;
            }
            s += n;
            if (*s == ',')
                s++;
        }
        if (!sc->status_mask) {
            pw_reply_error(out, 400, "bad parameter",
                           "status: empty; use up, down or unknown (several separated by "
                           "commas)");
            return -1;
        }
    }
    return 0;
}

/* ---- /api/v1/status ------------------------------------------------------------ */

struct ranked {
    int rank;
    uint32_t i;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Failing first: down, then a failing last probe not yet down (flap
 * control still counting), then not yet probed, then up. */
static int rank_of(const struct pw_target_state *t)
{
    if (t->status == PW_STATUS_DOWN)
        return 0;
    if (failing_now(t))
        return 1;
    return t->status == PW_STATUS_UNKNOWN ? 2 : 3;
}

static json_t *status_doc(const struct pw_web_view *v, struct pw_store *st,
                          const struct scope *sc)
{
    const struct pw_snapshot *s = v->snap;
    struct ranked *order = malloc((s->ntargets ? s->ntargets : 1) * sizeof *order);
    json_t *doc = json_object(), *targets = json_array(), *sum = json_object();
    if (!order || !doc || !targets || !sum) {
        free(order);
        json_decref(doc);
        json_decref(targets);
        json_decref(sum);
        return NULL;
    }
    size_t n = 0, counts[3] = {0}, failing = 0;
    for (size_t i = 0; i < s->ntargets; i++) {
        if (sc && !in_scope(v, i, sc))
            continue;
        const struct pw_target_state *t = &s->targets[i];
        if ((unsigned)t->status < 3)
            counts[t->status]++;
        failing += failing_now(t);
        order[n++] = (struct ranked){rank_of(t), (uint32_t)i};
    }
    qsort(order, n, sizeof *order, cmp_ranked);
    for (size_t k = 0; k < n; k++)
        json_array_append_new(targets, target_json(v, order[k].i, false));
    free(order);
    json_object_set_new(sum, "targets", json_integer((json_int_t)n));
    json_object_set_new(sum, "up", json_integer((json_int_t)counts[PW_STATUS_UP]));
    json_object_set_new(sum, "down", json_integer((json_int_t)counts[PW_STATUS_DOWN]));
    json_object_set_new(sum, "unknown", json_integer((json_int_t)counts[PW_STATUS_UNKNOWN]));
    json_object_set_new(sum, "failing_last_probe", json_integer((json_int_t)failing));
    json_object_set_new(sum, "hosts", json_integer((json_int_t)s->plan->nhosts));
    json_object_set_new(sum, "interval_ms", shortest_interval(s->plan));
    json_object_set_new(sum, "storage", storage_json(st));
    json_object_set_new(sum, "last_sweep", sweep_json(&s->stats));
    json_object_set_new(doc, "snapshot_at", jtime(s->taken_ms));
    json_object_set_new(doc, "summary", sum);
    json_object_set_new(doc, "targets", targets);
    return doc;
}

json_t *pw_api_status_doc(const struct pw_web_view *v, struct pw_store *st, int64_t now_ms)
{
    return status_doc(v, st, NULL);
}

void pw_api_status(struct pw_req *r, struct pw_reply *out)
{
    if (r->nparams == 0) {
        if (pw_web_cached_status(r)) {
            out->shared = r->w;
            return;
        }
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    struct scope sc;
    if (scope_parse(r, true, &sc, out) != 0)
        return;
    pw_reply_json(out, 200, status_doc(&r->view, pw_web_store_of(r), &sc));
}

/* ---- /api/v1/targets/{id} ------------------------------------------------------- */

static void retired_target(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_web_store(r, out);
    if (!st)
        return;
    struct pw_store_target *v = NULL;
    size_t n = 0;
    int rc = pw_store_query_status(st, true, &v, &n);
    if (rc != 0) {
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].id != r->id)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(v[i].id));
        json_object_set_new(o, "host", json_string(v[i].host));
        json_object_set_new(o, "port", json_integer(v[i].port));
        json_t *roles = json_array();
        for (const char *p = v[i].roles; *p;) {
            size_t k = strcspn(p, ",");
            if (k)
                json_array_append_new(roles, json_stringn(p, k));
            p += k + (p[k] == ',');
        }
        json_object_set_new(o, "roles", roles);
        state_fields(o, &v[i].st);
        json_object_set_new(o, "in_plan", json_false());
        json_object_set_new(o, "retired", jtime(v[i].retired_ms));
        free(v);
        pw_reply_json(out, 200, o);
        return;
    }
    free(v);
    pw_reply_error(out, 404, "not found", "no target has id %u", r->id);
}

void pw_api_target(struct pw_req *r, struct pw_reply *out)
{
    const struct pw_web_view *v = &r->view;
    for (size_t i = 0; i < v->snap->ntargets; i++) {
        if (pw_api_id(v, i) != r->id)
            continue;
        json_t *o = target_json(v, i, true);
        json_object_set_new(o, "in_plan", json_true());
        pw_reply_json(out, 200, o);
        return;
    }
    /* Not in the current plan: the store may know it as a retired target. */
    if (!pw_web_store_of(r)) {
        pw_reply_error(out, 404, "not found", "no target has id %u", r->id);
        return;
    }
    pw_web_defer(r, retired_target);
}

/* ---- /api/v1/targets/{id}/history ------------------------------------------------ */

static json_t *point_json(const struct pw_store_point *pt)
{
    json_t *o = json_object(), *res = json_object();
    json_object_set_new(o, "t", jtime(pt->t_ms));
    for (int s = 0; s < PW_STATE_COUNT_; s++)
        json_object_set_new(res, pw_state_name((enum pw_state)s), json_integer(pt->n[s]));
    json_object_set_new(o, "results", res);
    json_object_set_new(o, "failed", json_integer(pt->n_fail));
    if (pt->lat_avg_us >= 0) {
        json_t *l = json_object();
        json_object_set_new(l, "min", jlatency_ms(pt->lat_min_us));
        json_object_set_new(l, "avg", jlatency_ms(pt->lat_avg_us));
        json_object_set_new(l, "max", jlatency_ms(pt->lat_max_us));
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
    json_object_set_new(o, "start", jtime(sr->first_ms));
    json_object_set_new(o, "last", jtime(sr->last_ms));
    json_object_set_new(o, "results", json_integer(sr->count));
    json_object_set_new(o, "state", json_string(pw_state_name(sr->state)));
    json_object_set_new(o, "status", json_string(pw_status_name(sr->status)));
    json_object_set_new(o, "ok", json_boolean(sr->ok));
    json_object_set_new(o, "latency_ms", jlatency_ms(sr->latency_us));
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
    struct pw_store *st = pw_web_store(r, out);
    int64_t from, to, step = 0;
    if (!st || pw_web_param_range(r, DAY, &from, &to, out) != 0 ||
        pw_web_param_duration(r, "step", 60000, 366 * DAY, &step, out) != 0)
        return;
    if (!step) { /* about 300 points, in whole 5-minute buckets */
        step = (to - from + 299) / 300;
        step = (step + 299999) / 300000 * 300000;
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
    json_object_set_new(doc, "from", jtime(from));
    json_object_set_new(doc, "to", jtime(to));
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

void pw_api_outages(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_web_store(r, out);
    if (!st)
        return;
    struct pw_store_outage_filter f = {0};
    char err[PW_WEB_ERR_MAX];
    const char *fs = pw_web_param(r, "from"), *ts = pw_web_param(r, "to");
    if (fs || ts) {
        f.to_ms = r->now_ms;
        if (ts && pw_web_parse_time(ts, r->now_ms, &f.to_ms, err) != 0) {
            pw_reply_error(out, 400, "bad parameter", "to: %s", err);
            return;
        }
        if (fs && pw_web_parse_time(fs, r->now_ms, &f.from_ms, err) != 0) {
            pw_reply_error(out, 400, "bad parameter", "from: %s", err);
            return;
        }
        if (f.from_ms >= f.to_ms) {
            pw_reply_error(out, 400, "bad parameter", "from: must be earlier than to");
            return;
        }
    }
    f.host = pw_web_param(r, "host");
    f.role = pw_web_param(r, "role");
    int open = -1;
    const char *os = pw_web_param(r, "open");
    if (os) {
        char perr[PW_ERRBUF];
        if (pw_parse_bool(os, &open, perr) != 0) {
            pw_reply_error(out, 400, "bad parameter",
                           "open: '%.20s' is not yes/no; use true (only open outages) or "
                           "false (only ended ones)", os);
            return;
        }
    }
    long long limit = OUTAGES_DEFAULT_LIMIT;
    const char *ls = pw_web_param(r, "limit");
    if (ls) {
        char perr[PW_ERRBUF];
        if (pw_parse_int(ls, 1, OUTAGES_MAX_LIMIT, &limit, perr) != 0) {
            pw_reply_error(out, 400, "bad parameter", "limit: %s (1 to %d)", perr,
                           OUTAGES_MAX_LIMIT);
            return;
        }
    }
    f.open_only = open == 1;
    f.limit = open == 0 ? 0 : (size_t)limit + 1; /* one more: says "truncated" */
    struct pw_store_outage_list list = {0};
    int rc = pw_store_query_outages(st, &f, &list);
    const struct pw_store_outage *v = list.v;
    size_t n = list.n;
    if (rc != 0) {
        pw_store_outage_list_free(&list);
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return;
    }
    json_t *doc = json_object(), *arr = json_array();
    size_t shown = 0;
    bool truncated = false;
    for (size_t i = 0; i < n; i++) {
        const struct pw_store_outage *o = &v[i];
        if (open == 0 && o->end_ms < 0)
            continue;
        if (shown == (size_t)limit) {
            truncated = true;
            break;
        }
        json_t *j = json_object();
        json_object_set_new(j, "id", json_integer(o->id));
        json_object_set_new(j, "target_id", json_integer(o->target_id));
        json_object_set_new(j, "host", json_string(o->host));
        json_object_set_new(j, "port", json_integer(o->port));
        json_object_set_new(j, "start", jtime(o->start_ms));
        json_object_set_new(j, "end", o->end_ms < 0 ? json_null() : jtime(o->end_ms));
        json_object_set_new(j, "open", json_boolean(o->end_ms < 0));
        int64_t end = o->end_ms < 0 ? r->now_ms : o->end_ms;
        json_object_set_new(j, "duration_ms", json_integer(end > o->start_ms ? end - o->start_ms
                                                                             : 0));
        json_object_set_new(j, "last_failure", jtime(o->last_ms));
        json_object_set_new(j, "state", json_string(pw_state_name(o->state)));
        json_object_set_new(j, "failed_probes", json_integer(o->fails));
        json_object_set_new(j, "detail", json_string(o->detail));
        json_array_append_new(arr, j);
        shown++;
    }
    pw_store_outage_list_free(&list);
    json_object_set_new(doc, "count", json_integer((json_int_t)shown));
    json_object_set_new(doc, "truncated", json_boolean(truncated));
    json_object_set_new(doc, "outages", arr);
    pw_reply_json(out, 200, doc);
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
    struct pw_store *st = pw_web_store(r, out);
    int64_t from, to;
    if (!st || pw_web_param_range(r, DAY, &from, &to, out) != 0)
        return;
    const char *by = pw_web_param(r, "by");
    size_t g = 0;
    if (by) {
        for (g = 0; g < sizeof groups / sizeof groups[0]; g++)
            if (strcmp(groups[g].name, by) == 0)
                break;
        if (g == sizeof groups / sizeof groups[0]) {
            pw_reply_error(out, 400, "bad parameter",
                           "by: '%.20s' is not a grouping; use target, host, role or farm", by);
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
    json_t *doc = json_object(), *arr = json_array();
    json_object_set_new(doc, "from", jtime(from));
    json_object_set_new(doc, "to", jtime(to));
    json_object_set_new(doc, "by", json_string(groups[g].name));
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "key", json_string(v[i].key));
        if (groups[g].g == PW_GROUP_TARGET)
            json_object_set_new(j, "target_id", json_integer(v[i].target_id));
        json_object_set_new(j, "targets", json_integer(v[i].ntargets));
        json_object_set_new(j, "monitored_ms", json_integer(v[i].monitored_ms));
        json_object_set_new(j, "down_ms", json_integer(v[i].down_ms));
        json_object_set_new(j, "not_monitored_ms", json_integer(v[i].not_monitored_ms));
        json_object_set_new(j, "uptime_pct", v[i].uptime_pct < 0 ? json_null()
                                                                 : json_real(v[i].uptime_pct));
        json_array_append_new(arr, j);
    }
    free(v);
    json_object_set_new(doc, "groups", arr);
    pw_reply_json(out, 200, doc);
}

/* ---- /api/v1/health -------------------------------------------------------------- */

/* Health rule: a target fails when its status is down (flap control has
 * seen fail_after consecutive failures) for at least min_duration. A
 * target not yet probed (unknown) does not fail: right after a start every
 * target is unknown, and an alert then would be noise; /api/v1/status
 * lists them. Storage fails when it is degraded or missing. */
void pw_api_health(struct pw_req *r, struct pw_reply *out)
{
    struct scope sc;
    int64_t min_ms = 0;
    if (scope_parse(r, false, &sc, out) != 0 ||
        pw_web_param_duration(r, "min_duration", 0, 366 * DAY, &min_ms, out) != 0)
        return;
    const char *fmt = pw_web_param(r, "format");
    bool text = false;
    if (fmt) {
        if (strcmp(fmt, "text") == 0)
            text = true;
        else if (strcmp(fmt, "json") != 0) {
            pw_reply_error(out, 400, "bad parameter",
                           "format: '%.20s' is not a format; use json or text", fmt);
            return;
        }
    }
    const struct pw_web_view *v = &r->view;
    const struct pw_snapshot *s = v->snap;
    const struct pw_plan *p = s->plan;
    json_t *doc = json_object(), *fails = json_array();
    size_t checked = 0, nfail = 0, young = 0, unknown = 0;
    struct pw_buf line = {0};
    /* Unscoped (the usual poll): the shared scan of this snapshot. */
    uint32_t *down = NULL;
    size_t ndown = 0;
    bool shared = !sc.host && !sc.role &&
                  pw_web_down_list(r, &down, &ndown, &unknown) == 0;
    if (shared)
        checked = s->ntargets;
    size_t nscan = shared ? ndown : s->ntargets;
    for (size_t k = 0; k < nscan; k++) {
        size_t i = shared ? down[k] : k;
        const struct pw_target_state *t = &s->targets[i];
        if (!shared) {
            if (!in_scope(v, i, &sc))
                continue;
            checked++;
            if (t->status == PW_STATUS_UNKNOWN)
                unknown++;
        }
        if (t->status != PW_STATUS_DOWN)
            continue;
        int64_t age = r->now_ms - t->since_ms;
        if (age < min_ms) {
            young++;
            continue;
        }
        nfail++;
        json_t *j = target_json(v, i, true);
        json_object_set_new(j, "down_for_s", json_integer(age > 0 ? age / 1000 : 0));
        json_array_append_new(fails, j);
        if (text && nfail <= HEALTH_TEXT_MAX_LISTED) {
            char d[32];
            pw_format_duration(age >= 1000 ? age / 1000 * 1000 : 1000, d, sizeof d);
            pw_buf_printf(&line, "%s%s:%u %s (%s)", nfail > 1 ? ", " : "", host_of(p, i)->name,
                          p->targets[i].port,
                          t->has_result ? pw_state_name(t->state) : "down", d);
        }
    }
    free(down);
    if (text && nfail > HEALTH_TEXT_MAX_LISTED)
        pw_buf_printf(&line, ", and %zu more", nfail - HEALTH_TEXT_MAX_LISTED);
    struct pw_store *st = pw_web_store_of(r);
    struct pw_store_health h = {0};
    bool storage_fails = true;
    if (st) {
        pw_store_health(st, &h);
        storage_fails = h.state != PW_STORE_OK && r->now_ms - h.since_ms >= min_ms;
    }
    bool ok = nfail == 0 && !storage_fails;
    if (text) {
        struct pw_buf b = {0};
        if (ok) {
            pw_buf_printf(&b, "PORTWATCH OK - %zu/%zu targets pass", checked - unknown, checked);
            if (unknown)
                pw_buf_printf(&b, ", %zu not yet probed", unknown);
        } else {
            pw_buf_printf(&b, "PORTWATCH CRITICAL - %zu/%zu failing", nfail, checked);
            if (nfail)
                pw_buf_printf(&b, ": %.*s", (int)line.len, line.p ? line.p : "");
        }
        if (storage_fails) {
            if (!st) {
                pw_buf_printf(&b, "; storage unavailable");
            } else {
                char d[32];
                int64_t age = r->now_ms - h.since_ms;
                pw_format_duration(age >= 1000 ? age / 1000 * 1000 : 1000, d, sizeof d);
                pw_buf_printf(&b, "; storage degraded (%s): %s", d, h.message);
            }
        }
        if (young)
            pw_buf_printf(&b, " (%zu down for less than min_duration)", young);
        pw_buf_add(&b, "\n", 1);
        free(line.p);
        json_decref(doc);
        json_decref(fails);
        if (b.oom) {
            free(b.p);
            pw_reply_error(out, 503, "unavailable", "out of memory");
            return;
        }
        pw_reply_text(out, ok ? 200 : 503, "text/plain; charset=utf-8", b.p, b.len);
        return;
    }
    free(line.p);
    json_object_set_new(doc, "status", json_string(ok ? "ok" : "failing"));
    json_object_set_new(doc, "checked", json_integer((json_int_t)checked));
    json_object_set_new(doc, "failing", json_integer((json_int_t)nfail));
    json_object_set_new(doc, "down_below_min_duration", json_integer((json_int_t)young));
    json_object_set_new(doc, "unknown", json_integer((json_int_t)unknown));
    json_t *sj = storage_json(st);
    json_object_set_new(sj, "failing", json_boolean(storage_fails));
    json_object_set_new(doc, "storage", sj);
    json_object_set_new(doc, "last_sweep", sweep_json(&s->stats));
    json_object_set_new(doc, "snapshot_at", jtime(s->taken_ms));
    json_object_set_new(doc, "failures", fails);
    pw_reply_json(out, ok ? 200 : 503, doc);
}

/* ---- text buffer ------------------------------------------------------------------ */

void pw_buf_add(struct pw_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        pw_buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    pw_buf_add(b, big, (size_t)n);
    free(big);
}

/* ---- /api/v1/rpc/endpoints ------------------------------------------------------- */

/* The plan index of (host, port) in the view, or -1. Targets are sorted by
 * port within their host. */
static long find_target(const struct pw_plan *p, const char *host, uint16_t port)
{
    for (size_t h = 0; h < p->nhosts; h++) {
        if (strcmp(p->hosts[h].name, host) != 0)
            continue;
        for (uint32_t i = p->hosts[h].first; i < p->hosts[h].first + p->hosts[h].n; i++)
            if (p->targets[i].port == port)
                return (long)i;
        return -1;
    }
    return -1;
}

static json_t *epm_endpoint_json(const struct pw_web_view *v, const char *host,
                                 const struct pw_web_epm_endpoint *x)
{
    const struct pw_epm_entry *e = &x->e;
    json_t *o = pw_report_epm_entry(e);
    if (!o)
        return NULL;
    json_object_set_new(o, "first_seen", jtime(x->first_seen_ms));
    json_object_set_new(o, "last_seen", jtime(x->last_seen_ms));
    json_object_set_new(o, "outside_range", json_boolean(x->outside_range));
    long t = e->protseq == PW_EPM_NCACN_IP_TCP && e->port
                 ? find_target(v->snap->plan, host, e->port) : -1;
    json_object_set_new(o, "target_id", t >= 0 ? json_integer(pw_api_id(v, (size_t)t)) : json_null());
    json_object_set_new(o, "status", t >= 0 ? json_string(pw_status_name(v->snap->targets[t].status))
                                            : json_null());
    return o;
}

void pw_api_rpc_endpoints(struct pw_req *r, struct pw_reply *out)
{
    const struct pw_web_sources *src = pw_web_sources_of(r);
    const struct pw_web_epm *ep = src->epm_acquire ? src->epm_acquire(src->ud) : NULL;
    if (!ep) {
        pw_reply_error(out, 404, "not found", "this server watches no RPC endpoint mapper "
                       "(only `portwatch run` does, for hosts probed on port 135)");
        return;
    }
    const char *want = pw_web_param(r, "host");
    json_t *hosts = json_array();
    for (size_t h = 0; h < ep->nhosts; h++) {
        const struct pw_web_epm_host *x = &ep->hosts[h];
        if (want && pw_strcasecmp(want, x->host) != 0)
            continue;
        json_t *o = json_object(), *arr = json_array();
        json_object_set_new(o, "host", json_string(x->host));
        json_object_set_new(o, "looked_up", jtime(x->looked_up_ms));
        json_object_set_new(o, "from_store", json_boolean(x->from_store));
        json_object_set_new(o, "error", x->error ? json_string(x->error) : json_null());
        for (size_t i = 0; i < x->n; i++)
            json_array_append_new(arr, epm_endpoint_json(&r->view, x->host, &x->v[i]));
        json_object_set_new(o, "endpoints", arr);
        json_array_append_new(hosts, o);
    }
    src->epm_release(src->ud, ep);
    if (want && json_array_size(hosts) == 0) {
        json_decref(hosts);
        pw_reply_error(out, 404, "not found", "host '%s' is not watched: only hosts probed on "
                       "port 135 are (see /api/v1/status)", want);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "hosts", hosts);
    pw_reply_json(out, 200, doc);
}
