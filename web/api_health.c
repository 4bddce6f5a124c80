/*
 * GET /api/v1/health: the endpoint alerting systems poll, as JSON or as a
 * one-line text for Nagios-style checks. 200 when nothing in scope fails,
 * 503 otherwise.
 *
 * Health rule: a target fails when its status is down (flap control has
 * seen fail_after consecutive failures) for at least min_duration. A
 * target not yet probed (unknown) does not fail: right after a start every
 * target is unknown, and an alert then would be noise; /api/v1/status
 * lists them. Storage fails when it is degraded or missing.
 */
#include "web/api.h"

#include "config/values.h"
#include "web/api_doc.h"
#include "web/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_TEXT_MAX_LISTED 10

/* What one health request found. */
struct verdict {
    bool text;
    int64_t min_ms;
    size_t checked, nfail, young, unknown;
    json_t *fails;         /* the failing targets, in full */
    struct pw_buf line;    /* text: the first few failing targets */
    struct pw_store *st;
    struct pw_store_health h;
    bool storage_fails;
};

/* A failing target: into the JSON list, and the text line's first few. */
static void add_failure(struct pw_req *r, struct verdict *vd, size_t i, int64_t age)
{
    const struct pw_plan *p = r->view.snap->plan;
    const struct pw_target_state *t = &r->view.snap->targets[i];
    vd->nfail++;
    json_t *j = pw_api_target_json(&r->view, i, true);
    json_object_set_new(j, "down_for_s", json_integer(age > 0 ? age / 1000 : 0));
    json_array_append_new(vd->fails, j);
    if (vd->text && vd->nfail <= HEALTH_TEXT_MAX_LISTED) {
        char d[32];
        pw_format_duration(age >= 1000 ? age / 1000 * 1000 : 1000, d, sizeof d);
        pw_buf_printf(&vd->line, "%s%s:%u %s (%s)", vd->nfail > 1 ? ", " : "",
                      pw_api_host_of(p, i)->name, p->targets[i].port,
                      t->has_result ? pw_state_name(t->state) : "down", d);
    }
}

/* Scans the targets in scope; unscoped (the usual poll), only the down
 * ones from the shared scan of this snapshot. */
static void scan_targets(struct pw_req *r, const struct pw_scope *sc, struct verdict *vd)
{
    const struct pw_snapshot *s = r->view.snap;
    uint32_t *down = NULL;
    size_t ndown = 0;
    bool shared = !sc->host && !sc->role &&
                  pw_req_down_list(r, &down, &ndown, &vd->unknown) == 0;
    if (shared)
        vd->checked = s->ntargets;
    size_t nscan = shared ? ndown : s->ntargets;
    for (size_t k = 0; k < nscan; k++) {
        size_t i = shared ? down[k] : k;
        const struct pw_target_state *t = &s->targets[i];
        if (!shared) {
            if (!pw_scope_has(&r->view, i, sc))
                continue;
            vd->checked++;
            if (t->status == PW_STATUS_UNKNOWN)
                vd->unknown++;
        }
        if (t->status != PW_STATUS_DOWN)
            continue;
        int64_t age = r->now_ms - t->since_ms;
        if (age < vd->min_ms)
            vd->young++;
        else
            add_failure(r, vd, i, age);
    }
    free(down);
    if (vd->text && vd->nfail > HEALTH_TEXT_MAX_LISTED)
        pw_buf_printf(&vd->line, ", and %zu more", vd->nfail - HEALTH_TEXT_MAX_LISTED);
}

static void reply_text(struct pw_req *r, struct verdict *vd, bool ok, struct pw_reply *out)
{
    struct pw_buf b = {0};
    if (ok) {
        pw_buf_printf(&b, "PORTWATCH OK - %zu/%zu targets pass", vd->checked - vd->unknown,
                      vd->checked);
        if (vd->unknown)
            pw_buf_printf(&b, ", %zu not yet probed", vd->unknown);
    } else {
        pw_buf_printf(&b, "PORTWATCH CRITICAL - %zu/%zu failing", vd->nfail, vd->checked);
        if (vd->nfail)
            pw_buf_printf(&b, ": %.*s", (int)vd->line.len, vd->line.p ? vd->line.p : "");
    }
    if (vd->storage_fails) {
        if (!vd->st) {
            pw_buf_printf(&b, "; storage unavailable");
        } else {
            char d[32];
            int64_t age = r->now_ms - vd->h.since_ms;
            pw_format_duration(age >= 1000 ? age / 1000 * 1000 : 1000, d, sizeof d);
            pw_buf_printf(&b, "; storage degraded (%s): %s", d, vd->h.message);
        }
    }
    if (vd->young)
        pw_buf_printf(&b, " (%zu down for less than min_duration)", vd->young);
    pw_buf_add(&b, "\n", 1);
    if (b.oom) {
        free(b.p);
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    pw_reply_text(out, ok ? 200 : 503, "text/plain; charset=utf-8", b.p, b.len);
}

static void reply_json(struct pw_req *r, struct verdict *vd, bool ok, struct pw_reply *out)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "status", json_string(ok ? "ok" : "failing"));
    json_object_set_new(doc, "checked", json_integer((json_int_t)vd->checked));
    json_object_set_new(doc, "failing", json_integer((json_int_t)vd->nfail));
    json_object_set_new(doc, "down_below_min_duration", json_integer((json_int_t)vd->young));
    json_object_set_new(doc, "unknown", json_integer((json_int_t)vd->unknown));
    json_t *sj = pw_api_storage_json(vd->st);
    json_object_set_new(sj, "failing", json_boolean(vd->storage_fails));
    json_object_set_new(doc, "storage", sj);
    json_object_set_new(doc, "last_sweep", pw_api_sweep_json(&r->view.snap->stats));
    json_object_set_new(doc, "snapshot_at", pw_jtime(r->view.snap->taken_ms));
    json_object_set_new(doc, "failures", vd->fails);
    vd->fails = NULL;
    pw_reply_json(out, ok ? 200 : 503, doc);
}

void pw_api_health(struct pw_req *r, struct pw_reply *out)
{
    struct pw_scope sc;
    struct verdict vd = {0};
    if (pw_scope_parse(r, false, &sc, out) != 0 ||
        pw_web_param_duration(r, "min_duration", 0, 366 * PW_API_DAY_MS, &vd.min_ms, out) != 0)
        return;
    const char *fmt = pw_web_param(r, "format");
    if (fmt) {
        if (strcmp(fmt, "text") == 0) {
            vd.text = true;
        } else if (strcmp(fmt, "json") != 0) {
            pw_reply_error(out, 400, "bad parameter",
                           "format: '%.20s' is not a format; use json or text", fmt);
            return;
        }
    }
    vd.fails = json_array();
    scan_targets(r, &sc, &vd);
    vd.st = pw_req_store(r);
    vd.storage_fails = true;
    if (vd.st) {
        pw_store_health(vd.st, &vd.h);
        vd.storage_fails = vd.h.state != PW_STORE_OK && r->now_ms - vd.h.since_ms >= vd.min_ms;
    }
    bool ok = vd.nfail == 0 && !vd.storage_fails;
    if (vd.text)
        reply_text(r, &vd, ok, out);
    else
        reply_json(r, &vd, ok, out);
    free(vd.line.p);
    json_decref(vd.fails);
}
