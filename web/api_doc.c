/*
 * JSON pieces shared by the API documents (web/api_doc.h).
 */
#include "web/api_doc.h"

#include "base/clock.h"
#include "base/text.h"
#include "config/values.h"
#include "web/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const storage_names[] = {[PW_STORE_OK] = "ok", [PW_STORE_DEGRADED] = "degraded"};

json_t *pw_jtime(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    pw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *pw_jlatency_ms(int64_t us)
{
    return us < 0 ? json_null() : json_real((double)us / 1000.0);
}

uint32_t pw_api_id(const struct pw_web_view *v, size_t i)
{
    return v->ids ? v->ids[i] : (uint32_t)(i + 1);
}

const struct pw_host *pw_api_host_of(const struct pw_plan *p, size_t i)
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

json_t *pw_api_state_fields(json_t *o, const struct pw_target_state *t)
{
    json_object_set_new(o, "status", json_string(pw_status_name(t->status)));
    json_object_set_new(o, "state", t->has_result ? json_string(pw_state_name(t->state))
                                                  : json_null());
    json_object_set_new(o, "ok", t->has_result ? json_boolean(t->ok) : json_null());
    json_object_set_new(o, "latency_ms", t->has_result ? pw_jlatency_ms(t->latency_us)
                                                       : json_null());
    json_object_set_new(o, "detail", json_string(t->detail));
    /* Protocol proof (issue 9): null until a probe connected. */
    json_object_set_new(o, "verify", t->has_result && t->verify != PW_VERIFY_NONE
                                         ? json_string(pw_verify_name(t->verify))
                                         : json_null());
    json_object_set_new(o, "verify_info", json_string(t->verify_info));
    json_object_set_new(o, "since", pw_jtime(t->since_ms));
    json_object_set_new(o, "last_checked", pw_jtime(t->last_ms));
    json_object_set_new(o, "consecutive_failures", json_integer(t->fails));
    return o;
}

/* One target of the view. Reasons (long texts) always in `full`, else only
 * where they matter: the target is down or its last probe failed. */
json_t *pw_api_target_json(const struct pw_web_view *v, size_t i, bool full)
{
    const struct pw_plan *p = v->snap->plan;
    const struct pw_profile *pf = pw_target_profile(p, &p->targets[i]);
    const struct pw_target_state *t = &v->snap->targets[i];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(pw_api_id(v, i)));
    json_object_set_new(o, "host", json_string(pw_api_host_of(p, i)->name));
    json_object_set_new(o, "port", json_integer(p->targets[i].port));
    json_object_set_new(o, "roles", roles_json(pf));
    json_object_set_new(o, "expect", json_string(pw_expect_name(pf->expect)));
    pw_api_state_fields(o, t);
    if (full || t->status == PW_STATUS_DOWN || pw_api_failing_now(t))
        json_object_set_new(o, "reasons", reasons_json(pf));
    return o;
}

json_t *pw_api_storage_json(struct pw_store *st)
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
    json_object_set_new(o, "since", pw_jtime(h.since_ms));
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

/* ---- scoping: host=, role=, status= ------------------------------------------- */

bool pw_scope_has(const struct pw_web_view *v, size_t i, const struct pw_scope *sc)
{
    const struct pw_plan *p = v->snap->plan;
    if (sc->host && pw_strcasecmp(pw_api_host_of(p, i)->name, sc->host) != 0)
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
int pw_scope_parse(struct pw_req *r, bool with_status, struct pw_scope *sc,
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
