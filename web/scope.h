/*
 * The one parser of the target filters every endpoint over targets takes
 * (scope.c): host=, role=, port=, state= and status=. The route table's
 * parameter lists say which of them an endpoint accepts; this file reads
 * whichever were given, refuses malformed ones with a 400 naming what is
 * allowed, and a host or role that no target has with a 404, so that a
 * typo in a poller's URL never reads as "all healthy" or "no outage".
 * Endpoints on the snapshot check against the plan (pw_scope_parse);
 * endpoints on the history (outages, incidents) against every target the
 * store knows, retired ones too (pw_scope_parse_store).
 */
#ifndef PW_WEB_SCOPE_H
#define PW_WEB_SCOPE_H

#include "web/req.h"

struct pw_scope {
    const char *host, *role;  /* NULL: any (host case-insensitive) */
    uint16_t port_lo, port_hi; /* 0, 0: any port */
    unsigned state_mask;      /* bit per enum pw_state of the last result;
                                 0: any (a target without a result matches
                                 no state) */
    unsigned status_mask;     /* bit per enum pw_status; 0: any */
};

/* Reads the filters given (no lookups): 0, or -1 with a 400 in out.
 * with_status: status=, state= and port= too (the per-target filters;
 * the health endpoint takes host= and role= only). */
int pw_scope_read(struct pw_req *r, bool with_status, struct pw_scope *sc,
                  struct pw_reply *out);
/* pw_scope_read, then host and role checked against r's view (a 404 when
 * no target of the plan has them). */
int pw_scope_parse(struct pw_req *r, bool with_status, struct pw_scope *sc,
                   struct pw_reply *out);
/* pw_scope_read, then host and role checked against the store's targets,
 * retired ones too (for the history endpoints, on the query pool). */
int pw_scope_parse_store(struct pw_req *r, struct pw_store *st, struct pw_scope *sc,
                         struct pw_reply *out);
/* Whether target i of v passes every filter of sc. */
bool pw_scope_has(const struct pw_web_view *v, size_t i, const struct pw_scope *sc);
/* Whether a port passes sc's port filter. */
bool pw_scope_port(const struct pw_scope *sc, uint16_t port);

#endif
