/*
 * The API documents (the README's "HTTP API" section is their reference),
 * one endpoint per function, each filling a reply from its request's view
 * or the store: api_status.c (status, the targets, one target),
 * api_history.c (history, outages, uptime), api_gaps.c, api_hosts.c,
 * api_health.c, api_live.c, api_epm.c (RPC endpoints), api_incidents.c,
 * api_report.c (the outage report, written by report.c),
 * api_maintenance.c, api_openapi.c (the description) and
 * metrics.c (Prometheus). routes.c maps paths to them; status_cache.c builds the
 * unfiltered status document through pw_api_status_text.
 */
#ifndef PW_WEB_API_H
#define PW_WEB_API_H

#include "web/req.h"

void pw_api_status(struct pw_req *r, struct pw_reply *out);
void pw_api_targets(struct pw_req *r, struct pw_reply *out);
void pw_api_target(struct pw_req *r, struct pw_reply *out);
void pw_api_history(struct pw_req *r, struct pw_reply *out);
void pw_api_outages(struct pw_req *r, struct pw_reply *out);
void pw_api_uptime(struct pw_req *r, struct pw_reply *out);
void pw_api_gaps(struct pw_req *r, struct pw_reply *out);
void pw_api_health(struct pw_req *r, struct pw_reply *out);
void pw_api_live(struct pw_req *r, struct pw_reply *out);
void pw_api_openapi(struct pw_req *r, struct pw_reply *out);
void pw_api_rpc_endpoints(struct pw_req *r, struct pw_reply *out);
void pw_api_metrics(struct pw_req *r, struct pw_reply *out);
/* GET /api/v1/maintenance and the maintenance pieces of status and health
 * (api_maintenance.c). */
void pw_api_maintenance(struct pw_req *r, struct pw_reply *out);
/* Target i's "maintenance" object, and status "maintenance" while it fails
 * inside the window. */
void pw_api_maint_fields(json_t *o, const struct pw_web_view *v, size_t i);
/* Drops from ids[0..*n) the targets failing inside a window; how many. */
size_t pw_api_maint_drop(const struct pw_web_view *v, uint32_t *ids, size_t *n);
struct pw_scope;
struct pw_buf;
/* A line per open window over failing targets in scope, for text health. */
void pw_api_maint_text(const struct pw_web_view *v, const struct pw_scope *sc, struct pw_buf *b);

void pw_api_incidents(struct pw_req *r, struct pw_reply *out);
void pw_api_report(struct pw_req *r, struct pw_reply *out);
/* A failed incidents (or report) query as a reply: 404 naming the unknown
 * host or role (PW_ENOT_FOUND), else 503. */
void pw_api_incidents_error(const char *host, const char *role, int rc,
                            struct pw_reply *out);

/* One outage row of /api/v1/outages (also the report's). */
json_t *pw_api_outage_json(const struct pw_store_outage *o, int64_t now_ms);

/* The unfiltered status document of a view as JSON text, its length in
 * *len (NULL: out of memory). */
char *pw_api_status_text(const struct pw_web_view *v, struct pw_store *st, size_t *len);

#endif
