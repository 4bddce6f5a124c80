/*
 * Incidents as the API, the report and the text of a summary show them
 * (see incident_doc.h). Cause texts come from probes/cause.c, their one
 * home; this file only chooses which to show and counts.
 */
#include "web/incident_doc.h"

#include "base/error.h"
#include "config/values.h"
#include "probes/cause.h"
#include "web/api_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the plan by host and port ----------------------------------------- */

static int key_cmp(const void *a, const void *b)
{
    const struct pw_plan_key *x = a, *y = b;
    int c = pw_strcasecmp(x->host, y->host);
    return c ? c : (int)x->port - (int)y->port;
}

int pw_plan_index_init(struct pw_plan_index *ix, const struct pw_plan *p)
{
    memset(ix, 0, sizeof *ix);
    ix->plan = p;
    if (!p || !p->ntargets)
        return 0;
    ix->v = malloc(p->ntargets * sizeof *ix->v);
    if (!ix->v)
        return PW_ENOMEM;
    for (size_t i = 0; i < p->ntargets; i++) {
        const struct pw_target *t = &p->targets[i];
        ix->v[i] = (struct pw_plan_key){p->hosts[t->host].name, t->port, (uint32_t)i};
    }
    qsort(ix->v, p->ntargets, sizeof *ix->v, key_cmp);
    ix->n = p->ntargets;
    return 0;
}

long pw_plan_index_find(const struct pw_plan_index *ix, const char *host, uint16_t port)
{
    struct pw_plan_key k = {host, port, 0};
    const struct pw_plan_key *hit = ix->n ? bsearch(&k, ix->v, ix->n, sizeof *ix->v, key_cmp)
                                          : NULL;
    return hit ? (long)hit->target : -1;
}

void pw_plan_index_free(struct pw_plan_index *ix)
{
    free(ix->v);
    memset(ix, 0, sizeof *ix);
}

int64_t pw_incident_window(const struct pw_plan *p)
{
    int64_t w = 0;
    for (size_t i = 0; p && i < p->nprofiles; i++) {
        int64_t x = p->profiles[i].interval_ms + p->profiles[i].timeout_ms;
        w = x > w ? x : w;
    }
    return w;
}

/* ---- one incident --------------------------------------------------------- */

void pw_incident_cause(const struct pw_store_incident_target *x, const struct pw_plan_index *ix,
                       char *buf, size_t len)
{
    long t = ix->plan ? pw_plan_index_find(ix, x->host, x->port) : -1;
    const char *service = t >= 0 ? pw_target_service(ix->plan, (uint32_t)t) : NULL;
    pw_cause_format(x->state, x->verify, x->verify_info, x->detail, service, buf, len);
}

/* Adds s to the JSON array a unless it is there. */
static void add_unique(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (strcmp(json_string_value(v), s) == 0)
            return;
    }
    json_array_append_new(a, json_string(s));
}

/* Hosts, roles and broken tasks of the incident's outages, each once. */
static void members(const struct pw_store_incident_target *t, size_t n,
                    const struct pw_plan_index *ix, json_t *hosts, json_t *roles, json_t *tasks)
{
    for (size_t k = 0; k < n; k++) {
        add_unique(hosts, t[k].host);
        for (const char *p = t[k].roles; *p;) {
            size_t l = strcspn(p, ",");
            char role[sizeof t[k].roles];
            snprintf(role, sizeof role, "%.*s", (int)l, p);
            if (role[0])
                add_unique(roles, role);
            p += l + (p[l] == ',');
        }
        long pi = ix->plan ? pw_plan_index_find(ix, t[k].host, t[k].port) : -1;
        if (pi < 0)
            continue;
        const struct pw_profile *pr = &ix->plan->profiles[ix->plan->targets[pi].profile];
        for (size_t i = 0; i < pr->nreasons; i++)
            add_unique(tasks, pr->reasons[i].text);
    }
}

/* "sql01:1433: refused: ...", "sql01: the name does not resolve (203
 * ports)", "bts01, bts02: filtered: ... (3 ports)"; causes that differ:
 * the first outage's, "and other causes". */
static void summary(const struct pw_store_incident_target *t, size_t n, json_t *hosts,
                    bool mixed, const struct pw_plan_index *ix, char *buf, size_t len)
{
    char cause[300];
    pw_incident_cause(&t[0], ix, cause, sizeof cause);
    size_t used = 0, nh = json_array_size(hosts);
    for (size_t h = 0; h < nh && used < len; h++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", h ? ", " : "",
                                 json_string_value(json_array_get(hosts, h)));
    if (used >= len)
        return;
    if (n == 1)
        snprintf(buf + used, len - used, ":%u: %s", t[0].port, cause);
    else
        snprintf(buf + used, len - used, ": %s%s (%zu ports)", cause,
                 mixed ? ", and other causes" : "", n);
}

static json_t *target_json(const struct pw_store_incident_target *x,
                           const struct pw_plan_index *ix)
{
    char cause[300];
    pw_incident_cause(x, ix, cause, sizeof cause);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(x->target_id));
    json_object_set_new(o, "host", json_string(x->host));
    json_object_set_new(o, "port", json_integer(x->port));
    json_object_set_new(o, "state", json_string(pw_state_name(x->state)));
    json_object_set_new(o, "cause_key", json_string(pw_cause_key(x->state, x->verify)));
    json_object_set_new(o, "cause", json_string(cause));
    json_object_set_new(o, "started_at", pw_jtime(x->start_ms));
    json_object_set_new(o, "ended_at", x->end_ms < 0 ? json_null() : pw_jtime(x->end_ms));
    return o;
}

json_t *pw_incident_json(const struct pw_store_incident_list *l, size_t i,
                         const struct pw_plan_index *ix, int64_t now_ms)
{
    const struct pw_store_incident *in = &l->v[i];
    const struct pw_store_incident_target *t = &l->t[in->first];
    json_t *o = json_object(), *hosts = json_array(), *roles = json_array(),
           *tasks = json_array(), *targets = json_array();
    if (!o || !hosts || !roles || !tasks || !targets) {
        json_decref(o), json_decref(hosts), json_decref(roles), json_decref(tasks);
        json_decref(targets);
        return NULL;
    }
    const char *key = pw_cause_key(t[0].state, t[0].verify);
    bool mixed = false, planned = true;
    for (size_t k = 0; k < in->n; k++) {
        mixed |= strcmp(pw_cause_key(t[k].state, t[k].verify), key) != 0;
        planned &= t[k].planned;
        json_array_append_new(targets, target_json(&t[k], ix));
    }
    members(t, in->n, ix, hosts, roles, tasks);
    char sum[1024];
    summary(t, in->n, hosts, mixed, ix, sum, sizeof sum);
    int64_t end = in->end_ms < 0 ? now_ms : in->end_ms;
    json_object_set_new(o, "id", json_string(in->id));
    json_object_set_new(o, "started_at", pw_jtime(in->start_ms));
    json_object_set_new(o, "ended_at", in->end_ms < 0 ? json_null() : pw_jtime(in->end_ms));
    json_object_set_new(o, "open", json_boolean(in->end_ms < 0));
    json_object_set_new(o, "duration_ms", json_integer(end > in->start_ms ? end - in->start_ms
                                                                          : 0));
    json_object_set_new(o, "summary", json_string(sum));
    json_object_set_new(o, "cause", json_string(mixed ? "mixed" : key));
    json_object_set_new(o, "hosts", hosts);
    json_object_set_new(o, "roles", roles);
    json_object_set_new(o, "tasks", tasks);
    json_object_set_new(o, "target_count", json_integer((json_int_t)in->n));
    json_object_set_new(o, "targets", targets);
    /* planned: every outage in it began inside a maintenance window */
    json_object_set_new(o, "planned", json_boolean(planned));
    return o;
}
