/*
 * GET /api/v1/report (issue 16): the outage report of a period as JSON,
 * CSV or Markdown, written by report.c (the renderer `portwatch report`
 * uses too). Runs on the query pool with the view acquired first, for the
 * plan's services, tasks and intervals.
 *   from, to   the period (default: the last 24 hours)
 *   host, role its scope (404 when the database never had such a target)
 *   format     json (default), csv or markdown
 */
#include "web/api.h"

#include "base/error.h"
#include "web/api_doc.h"
#include "web/params.h"
#include "web/report.h"

#include <stdlib.h>

void pw_api_report(struct pw_req *r, struct pw_reply *out)
{
    struct pw_store *st = pw_req_need_store(r, out);
    struct pw_report_query q = {.host = pw_web_param(r, "host"),
                                .role = pw_web_param(r, "role"),
                                .plan = r->view.snap->plan,
                                .now_ms = r->now_ms};
    if (!st || pw_web_param_range(r, PW_DAY_MS, &q.from_ms, &q.to_ms, out) != 0)
        return;
    enum pw_report_format f = PW_REPORT_JSON;
    const char *fs = pw_web_param(r, "format");
    if (fs && pw_report_format_parse(fs, &f) != 0) {
        pw_reply_error(out, 400, "bad parameter",
                       "format: '%.20s' is not a report format; use json, csv or markdown", fs);
        return;
    }
    json_t *doc;
    int rc = pw_report_build(st, &q, &doc);
    if (rc) {
        pw_api_incidents_error(q.host, q.role, rc, out);
        return;
    }
    if (f == PW_REPORT_JSON) {
        pw_reply_json(out, 200, doc);
        return;
    }
    struct pw_buf b = {0};
    pw_report_render(doc, f, &b);
    json_decref(doc);
    if (b.oom) {
        free(b.p);
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    pw_reply_text(out, 200, pw_report_content_type(f), b.p, b.len);
}
