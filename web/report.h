/*
 * The outage report of a period (issue 16): its availability per host and
 * role, its incidents and its outages, built once as a JSON document and
 * written as JSON, CSV or Markdown from that document. The one renderer of
 * GET /api/v1/report (api_report.c) and `portwatch report`
 * (daemon/cmd_report.c, on a reader connection while the daemon runs).
 */
#ifndef PW_WEB_REPORT_H
#define PW_WEB_REPORT_H

#include "store/store.h"
#include "base/text.h"

#include <jansson.h>

enum pw_report_format { PW_REPORT_JSON, PW_REPORT_CSV, PW_REPORT_MARKDOWN };

/* "json", "csv" or "markdown" (also "md"). Returns 0, or -1. */
int pw_report_format_parse(const char *s, enum pw_report_format *f);
/* The Content-Type of a format. */
const char *pw_report_content_type(enum pw_report_format f);

struct pw_report_query {
    int64_t from_ms, to_ms;
    const char *host, *role;      /* NULL: every one */
    const struct pw_plan *plan;   /* NULL: causes and tasks without it */
    int64_t now_ms;               /* open outages' durations run to it */
};

/* The report's document (shape in the README): "from", "to",
 * "availability" {"hosts": [...], "roles": [...]}, "incidents",
 * "outages". Returns 0 and *out, PW_ENOT_FOUND (q->host or q->role names
 * no target the database ever had), PW_EINVAL (empty range) or another
 * negative error. */
int pw_report_build(struct pw_store *st, const struct pw_report_query *q, json_t **out);
/* Writes doc (from pw_report_build) in format f into b. */
void pw_report_render(const json_t *doc, enum pw_report_format f, struct pw_buf *b);

#endif
