/*
 * The outage report (see report.h): one JSON document built from the
 * store's availability, incidents and outages queries, and the CSV and
 * Markdown writers that read only that document, so the three formats say
 * the same thing.
 */
#include "web/report.h"

#include "base/error.h"
#include "config/values.h"
#include "probes/cause.h"
#include "store/store_incidents.h"
#include "web/api.h"
#include "web/api_doc.h"
#include "web/incident_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pw_report_format_parse(const char *s, enum pw_report_format *f)
{
    if (strcmp(s, "json") == 0)
        *f = PW_REPORT_JSON;
    else if (strcmp(s, "csv") == 0)
        *f = PW_REPORT_CSV;
    else if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
        *f = PW_REPORT_MARKDOWN;
    else
        return -1;
    return 0;
}

const char *pw_report_content_type(enum pw_report_format f)
{
    return f == PW_REPORT_JSON  ? "application/json"
           : f == PW_REPORT_CSV ? "text/csv; charset=utf-8; header=present"
                                : "text/markdown; charset=utf-8";
}

/* ---- building ------------------------------------------------------------ */

/* Whether some target (ever) is on host and has role (NULL: any). */
static bool related(const struct pw_store_target *t, size_t n, const char *host,
                    const char *role)
{
    for (size_t i = 0; i < n; i++)
        if ((!host || pw_strcasecmp(t[i].host, host) == 0) &&
            (!role || pw_store_roles_have(t[i].roles, role)))
            return true;
    return false;
}

static json_t *avail_json(const struct pw_store_uptime *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(u->key));
    json_object_set_new(o, "available_ms", json_integer(u->monitored_ms - u->down_ms));
    json_object_set_new(o, "monitored_ms", json_integer(u->monitored_ms));
    json_object_set_new(o, "unmonitored_ms", json_integer(u->not_monitored_ms));
    json_object_set_new(o, "planned_ms", json_integer(u->planned_ms));
    json_object_set_new(o, "availability",
                        u->uptime_pct < 0 ? json_null() : json_real(u->uptime_pct));
    return o;
}

/* The hosts' (or roles') availability rows in scope: a host row when the
 * host is the one asked for (or none was) and has a target of the role
 * asked for; a role row likewise. */
static int avail_rows(struct pw_store *st, const struct pw_report_query *q,
                      enum pw_store_group g, const struct pw_store_target *t, size_t nt,
                      json_t *arr)
{
    struct pw_store_uptime *u;
    size_t n;
    int rc = pw_store_query_uptime(st, q->from_ms, q->to_ms, g, &u, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        bool in = g == PW_GROUP_HOST ? related(t, nt, u[i].key, q->role) &&
                                           (!q->host || pw_strcasecmp(u[i].key, q->host) == 0)
                                     : related(t, nt, q->host, u[i].key) &&
                                           (!q->role || strcmp(u[i].key, q->role) == 0);
        if (in)
            json_array_append_new(arr, avail_json(&u[i]));
    }
    free(u);
    return 0;
}

static int availability(struct pw_store *st, const struct pw_report_query *q, json_t *doc)
{
    struct pw_store_target *t;
    size_t nt;
    int rc = pw_store_query_status(st, true, &t, &nt);
    if (rc)
        return rc;
    json_t *a = json_object(), *hosts = json_array(), *roles = json_array();
    json_object_set_new(a, "hosts", hosts);
    json_object_set_new(a, "roles", roles);
    json_object_set_new(doc, "availability", a);
    rc = avail_rows(st, q, PW_GROUP_HOST, t, nt, hosts);
    if (!rc)
        rc = avail_rows(st, q, PW_GROUP_ROLE, t, nt, roles);
    free(t);
    return rc;
}

static int incidents(struct pw_store *st, const struct pw_report_query *q,
                     const struct pw_plan_index *ix, struct pw_store_incident_list *l,
                     json_t *doc)
{
    struct pw_store_incident_filter f = {.from_ms = q->from_ms, .to_ms = q->to_ms,
                                         .host = q->host, .role = q->role, .open = -1,
                                         .window_ms = pw_incident_window(q->plan)};
    int rc = pw_store_query_incidents(st, &f, l);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(arr, pw_incident_json(l, i, ix, q->now_ms));
    json_object_set_new(doc, "incidents", arr);
    return 0;
}

static int by_outage(const void *a, const void *b)
{
    const struct pw_store_incident_target *x = *(const struct pw_store_incident_target *const *)a;
    const struct pw_store_incident_target *y = *(const struct pw_store_incident_target *const *)b;
    return x->outage_id < y->outage_id ? -1 : x->outage_id > y->outage_id;
}

/* Adds "cause_key" and "cause" to each outage row from the incident that
 * holds it (the outages table keeps the failing state only; a wrong
 * service is in the state run it began in, which the incidents read). */
static void outage_causes(json_t *rows, const struct pw_store_incident_list *l,
                          const struct pw_plan_index *ix)
{
    const struct pw_store_incident_target **v = malloc((l->nt ? l->nt : 1) * sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < l->nt; i++)
        v[i] = &l->t[i];
    qsort(v, l->nt, sizeof *v, by_outage);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        struct pw_store_incident_target k = {.outage_id = json_integer_value(
                                                 json_object_get(row, "id"))};
        const struct pw_store_incident_target *kp = &k, **hit =
            l->nt ? bsearch(&kp, v, l->nt, sizeof *v, by_outage) : NULL;
        if (!hit)
            continue;
        char cause[300];
        pw_incident_cause(*hit, ix, cause, sizeof cause);
        json_object_set_new(row, "cause_key", json_string(pw_cause_key((*hit)->state,
                                                                       (*hit)->verify)));
        json_object_set_new(row, "cause", json_string(cause));
    }
    free(v);
}

static int outages(struct pw_store *st, const struct pw_report_query *q,
                   const struct pw_plan_index *ix, const struct pw_store_incident_list *inc,
                   json_t *doc)
{
    struct pw_store_outage_filter f = {.from_ms = q->from_ms, .to_ms = q->to_ms,
                                       .host = q->host, .role = q->role};
    struct pw_store_outage_list l;
    int rc = pw_store_query_outages(st, &f, &l);
    if (rc) {
        pw_store_outage_list_free(&l);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, pw_api_outage_json(&l.v[i], q->now_ms));
    outage_causes(arr, inc, ix);
    json_object_set_new(doc, "outages", arr);
    pw_store_outage_list_free(&l);
    return 0;
}

int pw_report_build(struct pw_store *st, const struct pw_report_query *q, json_t **out)
{
    *out = NULL;
    if (q->to_ms <= q->from_ms)
        return PW_EINVAL;
    json_t *doc = json_object();
    if (!doc)
        return PW_ENOMEM;
    json_object_set_new(doc, "from", pw_jtime(q->from_ms));
    json_object_set_new(doc, "to", pw_jtime(q->to_ms));
    struct pw_plan_index ix;
    struct pw_store_incident_list l = {0};
    int rc = pw_plan_index_init(&ix, q->plan);
    /* incidents first: they say whether host and role exist */
    if (!rc)
        rc = incidents(st, q, &ix, &l, doc);
    if (!rc)
        rc = availability(st, q, doc);
    if (!rc)
        rc = outages(st, q, &ix, &l, doc);
    pw_store_incident_list_free(&l);
    pw_plan_index_free(&ix);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}
