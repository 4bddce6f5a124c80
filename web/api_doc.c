/*
 * JSON pieces shared by the API documents (web/api_doc.h).
 */
#include "web/api_doc.h"

#include "web/api.h"

#include "base/clock.h"
#include "base/text.h"
#include "config/values.h"
#include "probes/report.h"
#include "web/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const storage_names[] = {[PW_STORE_OK] = "ok", [PW_STORE_DEGRADED] = "degraded"};

json_t *pw_jtime(int64_t ms)
{
    return pw_report_time(ms);
}

json_t *pw_jlatency_ms(int64_t us)
{
    return pw_report_latency_ms(us);
}

json_t *pw_jround(double v, int decimals)
{
    double f = 1;
    while (decimals-- > 0)
        f *= 10;
    return json_real(round(v * f) / f);
}

uint32_t pw_api_id(const struct pw_web_view *v, size_t i)
{
    return v->ids ? v->ids[i] : (uint32_t)(i + 1);
}

const struct pw_host *pw_api_host_of(const struct pw_plan *p, size_t i)
{
    return &p->hosts[p->targets[i].host];
}

/* Whether a target's last probe fails its expectation (status aside). */
bool pw_api_failing_now(const struct pw_target_state *t)
{
    return t->has_result && !t->ok;
}

bool pw_api_in_trouble(const struct pw_target_state *t)
{
    /* an unknown status counts as not yet probed, whatever result a
     * seeded state carries: each target is counted once */
    return t->status == PW_STATUS_DOWN || (t->status == PW_STATUS_UP && pw_api_failing_now(t));
}

/* One target of the view: probes/report.c's rendering, shared with
 * `portwatch check --format json`, with the view's id. Reasons (long
 * texts) always in `full`, else only where they matter: the target is
 * down or its last probe failed. */
json_t *pw_api_target_json(const struct pw_web_view *v, size_t i, bool full)
{
    const struct pw_target_state *t = &v->snap->targets[i];
    json_t *o = pw_report_target(v->snap->plan, v->snap, i, pw_api_id(v, i),
                                 full || t->status == PW_STATUS_DOWN || pw_api_failing_now(t));
    pw_api_maint_fields(o, v, i);
    return o;
}

json_t *pw_api_storage_json(struct pw_store *st)
{
    json_t *o = json_object();
    if (!st) {
        json_object_set_new(o, "state", json_string("unavailable"));
        json_object_set_new(o, "since", pw_jtime(pw_web_started_ms()));
        json_object_set_new(o, "message", json_string("portwatch runs without a database"));
        return o;
    }
    struct pw_store_health h;
    pw_store_health(st, &h);
    json_object_set_new(o, "state", json_string((unsigned)h.state <= PW_STORE_DEGRADED
                                                    ? storage_names[h.state] : "unknown"));
    /* a store ok since it opened never changed state: since then, and it
     * opened before this server started */
    json_object_set_new(o, "since", pw_jtime(h.since_ms ? h.since_ms : pw_web_started_ms()));
    json_object_set_new(o, "message", json_string(h.message));
    return o;
}

/* The shortest probe interval in the plan: how often sweeps end, for a
 * client deciding whether the data went stale. null for an empty plan. */
json_t *pw_api_shortest_interval(const struct pw_plan *p)
{
    int64_t iv = INT64_MAX;
    for (size_t i = 0; i < p->nprofiles; i++)
        if (p->profiles[i].interval_ms > 0 && p->profiles[i].interval_ms < iv)
            iv = p->profiles[i].interval_ms;
    return p->ntargets && iv != INT64_MAX ? json_integer(iv) : json_null();
}

json_t *pw_api_sweep_json(const struct pw_engine_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "at", pw_jtime(s->last_sweep_ms));
    json_object_set_new(o, "duration_ms", s->sweeps ? json_integer(s->last_sweep_duration_ms)
                                                    : json_null());
    json_object_set_new(o, "sweeps", json_integer((json_int_t)s->sweeps));
    json_object_set_new(o, "overruns", json_integer((json_int_t)s->overruns));
    return o;
}

json_t *pw_api_identity_json(const struct pw_plan *p)
{
    const struct pw_plan_identity *id = pw_plan_identity(p);
    json_t *o = json_object(), *vs = json_array(), *labels = json_object();
    for (int v = 0; v < PW_NVANTAGES; v++)
        if (id->vantage & PW_VANTAGE_BIT(v))
            json_array_append_new(vs, json_string(pw_vantage_name((enum pw_vantage)v)));
    /* "group=prod-a,site=ams": the canonical form config/values.c made */
    for (const char *l = id->labels; *l;) {
        size_t len = strcspn(l, ","), name = strcspn(l, "=");
        json_object_setn_new(labels, l, name, json_stringn(l + name + 1, len - name - 1));
        l += len + (l[len] == ',');
    }
    json_object_set_new(o, "instance_name", json_string(id->instance_name));
    json_object_set_new(o, "vantages", vs);
    json_object_set_new(o, "labels", labels);
    return o;
}
