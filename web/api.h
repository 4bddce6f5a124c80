/*
 * The API documents (the README's "HTTP API" section is their reference),
 * one endpoint per function, each filling a reply from its request's view
 * or the store: api_status.c (status, the targets, one target),
 * api_history.c (history, outages, uptime), api_health.c, api_live.c,
 * api_epm.c (RPC endpoints), api_openapi.c (the description) and
 * metrics.c (Prometheus). routes.c maps paths to them; status_cache.c builds the
 * unfiltered status document through pw_api_status_doc.
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

/* The unfiltered status document of a view (NULL: out of memory). */
json_t *pw_api_status_doc(const struct pw_web_view *v, struct pw_store *st);

#endif
