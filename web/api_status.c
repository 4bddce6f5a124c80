/*
 * GET /api/v1/status (every target of the view, failing first, with a
 * summary), GET /api/v1/targets (the targets by id, a page at a time) and
 * GET /api/v1/targets/{id} (one target, or a retired one the store still
 * knows).
 */
#include "web/api.h"

#include "base/error.h"
#include "config/values.h"
#include "probes/report.h"
#include "web/api_doc.h"
#include "web/maintenance.h"
#include "web/params.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (pw_api_failing_now(t))
        return 1;
    return t->status == PW_STATUS_UNKNOWN ? 2 : 3;
}

/* The summary and the rest of the document but the targets. */
static json_t *status_head(const struct pw_web_view *v, struct pw_store *st, size_t n,
                           const size_t counts[3], size_t maint, size_t failing, size_t hosts)
{
    const struct pw_snapshot *s = v->snap;
    json_t *doc = json_object(), *sum = json_object();
    json_object_set_new(sum, "targets", json_integer((json_int_t)n));
    json_object_set_new(sum, "up", json_integer((json_int_t)counts[PW_STATUS_UP]));
    json_object_set_new(sum, "down", json_integer((json_int_t)counts[PW_STATUS_DOWN]));
    json_object_set_new(sum, "unknown", json_integer((json_int_t)counts[PW_STATUS_UNKNOWN]));
    json_object_set_new(sum, "maintenance", json_integer((json_int_t)maint));
    json_object_set_new(sum, "failing_last_probe", json_integer((json_int_t)failing));
    json_object_set_new(sum, "hosts", json_integer((json_int_t)hosts));
    json_object_set_new(sum, "interval_ms", pw_api_shortest_interval(s->plan));
    json_object_set_new(sum, "storage", pw_api_storage_json(st));
    json_object_set_new(sum, "last_sweep", pw_api_sweep_json(&s->stats));
    json_object_set_new(doc, "version", json_string(PW_VERSION));
    json_object_set_new(doc, "instance", pw_api_identity_json(s->plan));
    json_object_set_new(doc, "snapshot_at", pw_jtime(s->taken_ms));
    json_object_set_new(doc, "summary", sum);
    return doc;
}

/* The document, its targets written one at a time (at 100,000 targets a
 * tree of all of them took most of a second to build and free). */
static void status_list(const struct pw_web_view *v, struct pw_store *st,
                        const struct pw_scope *sc, struct pw_jlist *l)
{
    const struct pw_snapshot *s = v->snap;
    struct ranked *order = malloc((s->ntargets ? s->ntargets : 1) * sizeof *order);
    if (!order) {
        *l = (struct pw_jlist){.b.oom = true};
        return;
    }
    size_t n = 0, counts[3] = {0}, failing = 0, hosts = 0, maint = 0;
    size_t last_host = SIZE_MAX; /* the plan keeps each host's targets together */
    for (size_t i = 0; i < s->ntargets; i++) {
        if (sc && !pw_scope_has(v, i, sc))
            continue;
        const struct pw_target_state *t = &s->targets[i];
        hosts += s->plan->targets[i].host != last_host;
        last_host = s->plan->targets[i].host;
        if (pw_web_in_maintenance(v, i))
            maint++;
        else if ((unsigned)t->status < 3)
            counts[t->status]++;
        failing += pw_api_failing_now(t);
        order[n++] = (struct ranked){rank_of(t), (uint32_t)i};
    }
    qsort(order, n, sizeof *order, cmp_ranked);
    pw_jlist_begin(l, status_head(v, st, n, counts, maint, failing, hosts), "targets");
    for (size_t k = 0; k < n && !l->b.oom; k++)
        pw_jlist_add(l, pw_api_target_json(v, order[k].i, false));
    free(order);
}

char *pw_api_status_text(const struct pw_web_view *v, struct pw_store *st, size_t *len)
{
    struct pw_jlist l;
    status_list(v, st, NULL, &l);
    return pw_jlist_end(&l, len);
}

/* Filtered requests; the unfiltered document is routes.c's, from the
 * status cache. */
void pw_api_status(struct pw_req *r, struct pw_reply *out)
{
    struct pw_scope sc;
    if (pw_scope_parse(r, true, &sc, out) != 0)
        return;
    struct pw_jlist l;
    status_list(&r->view, pw_req_store(r), &sc, &l);
    pw_reply_jlist(out, &l);
}

/* ---- /api/v1/targets ------------------------------------------------------------ */

#define TARGETS_DEFAULT_LIMIT 500
#define TARGETS_MAX_LIMIT 10000

struct by_id {
    uint32_t id, i;
};

static int cmp_id(const void *a, const void *b)
{
    const struct by_id *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* limit= and cursor= (the id the previous page ended with: this page
 * starts after it, so a target added or retired between pages shifts
 * nothing). Returns 0, or -1 with a 400 in out. */
static int page_params(struct pw_req *r, long long *limit, long long *after,
                       struct pw_reply *out)
{
    char err[PW_ERRBUF];
    const char *cs = pw_web_param(r, "cursor");
    *after = 0;
    if (pw_web_param_limit(r, TARGETS_DEFAULT_LIMIT, TARGETS_MAX_LIMIT, limit, out) != 0)
        return -1;
    if (cs && pw_parse_int(cs, 1, UINT32_MAX, after, err) != 0) {
        pw_reply_error(out, 400, "bad parameter",
                       "cursor: %s; pass the next_cursor of the previous page unchanged", err);
        return -1;
    }
    return 0;
}

void pw_api_targets(struct pw_req *r, struct pw_reply *out)
{
    struct pw_scope sc;
    long long limit, after;
    if (pw_scope_parse(r, true, &sc, out) != 0 || page_params(r, &limit, &after, out) != 0)
        return;
    const struct pw_web_view *v = &r->view;
    struct by_id *sel = malloc((v->snap->ntargets ? v->snap->ntargets : 1) * sizeof *sel);
    json_t *doc = json_object(), *arr = json_array();
    if (!sel || !doc || !arr) {
        free(sel);
        json_decref(doc);
        json_decref(arr);
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < v->snap->ntargets; i++)
        if (pw_scope_has(v, i, &sc))
            sel[n++] = (struct by_id){pw_api_id(v, i), (uint32_t)i};
    qsort(sel, n, sizeof *sel, cmp_id);
    size_t k = 0, shown = 0;
    while (k < n && sel[k].id <= (uint64_t)after)
        k++;
    for (; k < n && shown < (size_t)limit; k++, shown++)
        json_array_append_new(arr, pw_api_target_json(v, sel[k].i, false));
    char next[16];
    snprintf(next, sizeof next, "%u", shown ? sel[k - 1].id : 0);
    json_object_set_new(doc, "snapshot_at", pw_jtime(v->snap->taken_ms));
    json_object_set_new(doc, "total", json_integer((json_int_t)n));
    json_object_set_new(doc, "count", json_integer((json_int_t)shown));
    json_object_set_new(doc, "next_cursor", k < n ? json_string(next) : json_null());
    json_object_set_new(doc, "targets", arr);
    free(sel);
    pw_reply_json(out, 200, doc);
}

/* ---- /api/v1/targets/{id} ------------------------------------------------------- */

static void retired_target(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_req_need_store(r, out);
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
        pw_report_state_fields(o, &v[i].st);
        json_object_set_new(o, "in_plan", json_false());
        json_object_set_new(o, "retired", pw_jtime(v[i].retired_ms));
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
        json_t *o = pw_api_target_json(v, i, true);
        json_object_set_new(o, "in_plan", json_true());
        pw_reply_json(out, 200, o);
        return;
    }
    /* Not in the current plan: the store may know it as a retired target. */
    if (!pw_req_store(r)) {
        pw_reply_error(out, 404, "not found", "no target has id %u", r->id);
        return;
    }
    pw_req_defer(r, retired_target);
}
