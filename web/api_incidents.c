/*
 * GET /api/v1/incidents (issue 16): the incidents of a range, grouped by
 * the store (store_incidents.c), as incident_doc.c writes them. Runs on the
 * query pool with the view acquired first: the plan names the services and
 * the broken tasks, and its intervals say what "began together" means.
 *   from, to   the range (default: the last 24 hours)
 *   host, role incidents covering them (404 when the database never had
 *              such a target)
 *   state      open or ended
 *   limit      the newest this many (default 100): older ones cost time
 *              and are read by paging back with `to`
 */
#include "web/api.h"

#include "base/error.h"
#include "web/api_doc.h"
#include "web/incident_doc.h"
#include "web/params.h"

#include <string.h>

#define INCIDENTS_DEFAULT_LIMIT 100
#define INCIDENTS_MAX_LIMIT 10000

/* Reads the parameters into f. Returns 0, or -1 with a 400 in out. */
static int incident_filter(struct pw_req *r, struct pw_store_incident_filter *f,
                           struct pw_reply *out)
{
    if (pw_web_param_range(r, PW_DAY_MS, &f->from_ms, &f->to_ms, out) != 0)
        return -1;
    f->host = pw_web_param(r, "host");
    f->role = pw_web_param(r, "role");
    f->open = -1;
    const char *s = pw_web_param(r, "state");
    if (s && strcmp(s, "open") == 0) {
        f->open = 1;
    } else if (s && strcmp(s, "ended") == 0) {
        f->open = 0;
    } else if (s) {
        pw_reply_error(out, 400, "bad parameter",
                       "state: '%.20s' is not a state of an incident; use open or ended", s);
        return -1;
    }
    long long limit;
    if (pw_web_param_limit(r, INCIDENTS_DEFAULT_LIMIT, INCIDENTS_MAX_LIMIT, &limit, out) != 0)
        return -1;
    f->limit = (size_t)limit;
    f->window_ms = pw_incident_window(r->view.snap->plan);
    return 0;
}

void pw_api_incidents_error(const char *host, const char *role, int rc,
                            struct pw_reply *out)
{
    if (rc == PW_ENOT_FOUND && host && role)
        pw_reply_error(out, 404, "not found",
                       "host '%.200s' or role '%.100s': no such target was ever monitored; "
                       "see /api/v1/status for the hosts and roles", host, role);
    else if (rc == PW_ENOT_FOUND)
        pw_reply_error(out, 404, "not found",
                       "%s '%.200s': no such target was ever monitored; see /api/v1/status "
                       "for the hosts and roles", host ? "host" : "role",
                       host ? host : role);
    else
        pw_reply_error(out, 503, "unavailable", "incidents query failed: %s",
                       pw_strerror(rc));
}

void pw_api_incidents(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_req_need_store(r, out);
    struct pw_store_incident_filter f = {0};
    if (!st || incident_filter(r, &f, out) != 0)
        return;
    struct pw_store_incident_list l;
    int rc = pw_store_query_incidents(st, &f, &l);
    struct pw_plan_index ix;
    if (!rc)
        rc = pw_plan_index_init(&ix, r->view.snap->plan);
    if (rc) {
        pw_store_incident_list_free(&l);
        pw_api_incidents_error(f.host, f.role, rc, out);
        return;
    }
    json_t *doc = json_object(), *arr = json_array();
    json_object_set_new(doc, "from", pw_jtime(f.from_ms));
    json_object_set_new(doc, "to", pw_jtime(f.to_ms));
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, pw_incident_json(&l, i, &ix, r->now_ms));
    json_object_set_new(doc, "count", json_integer((json_int_t)l.n));
    json_object_set_new(doc, "truncated", json_boolean(l.truncated));
    json_object_set_new(doc, "incidents", arr);
    pw_plan_index_free(&ix);
    pw_store_incident_list_free(&l);
    pw_reply_json(out, 200, doc);
}
