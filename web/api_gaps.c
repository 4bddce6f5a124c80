/*
 * GET /api/v1/gaps: the stretches portwatch did not monitor in a range,
 * each with its cause (stopped, crashed, paused, suspended, overloaded,
 * storage, stalled), answered on the query pool. The same stretches are
 * the not_monitored_ms of /api/v1/uptime; this says when and why.
 */
#include "web/api.h"

#include "base/error.h"
#include "web/api_doc.h"
#include "web/params.h"

#include <stdlib.h>

void pw_api_gaps(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_req_need_store(r, out);
    int64_t from, to;
    if (!st || pw_web_param_range(r, PW_DAY_MS, &from, &to, out) != 0)
        return;
    struct pw_store_gap *v;
    size_t n;
    int rc = pw_store_query_gaps(st, from, to, &v, &n);
    if (rc != 0) {
        pw_reply_error(out, 503, "unavailable", "history query failed: %s", pw_strerror(rc));
        return;
    }
    json_t *doc = json_object(), *arr = json_array();
    json_object_set_new(doc, "from", pw_jtime(from));
    json_object_set_new(doc, "to", pw_jtime(to));
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "from", pw_jtime(v[i].from_ms));
        json_object_set_new(j, "to", v[i].ongoing ? json_null() : pw_jtime(v[i].to_ms));
        json_object_set_new(j, "duration_ms", json_integer(v[i].to_ms - v[i].from_ms));
        json_object_set_new(j, "cause", json_string(pw_store_run_end_name(v[i].cause)));
        json_object_set_new(j, "why", json_string(pw_store_run_end_text(v[i].cause)));
        json_array_append_new(arr, j);
        total += v[i].to_ms - v[i].from_ms;
    }
    free(v);
    json_object_set_new(doc, "not_monitored_ms", json_integer(total));
    json_object_set_new(doc, "gaps", arr);
    pw_reply_json(out, 200, doc);
}
