/*
 * Pieces of JSON the API documents share (api_doc.c): times, latencies, a
 * target of the view with its state, storage and sweep summaries, and the
 * host=/role=/status= scope several endpoints take. For the api_*.c files.
 */
#ifndef PW_WEB_API_DOC_H
#define PW_WEB_API_DOC_H

#include "web/req.h"

/* RFC 3339, or null for ms <= 0. */
json_t *pw_jtime(int64_t ms);
/* Microseconds as milliseconds, or null when negative. */
json_t *pw_jlatency_ms(int64_t us);
/* Target id of plan index i. */
uint32_t pw_api_id(const struct pw_web_view *v, size_t i);
const struct pw_host *pw_api_host_of(const struct pw_plan *p, size_t i);
/* Whether a target's last probe fails its expectation (status aside). */
bool pw_api_failing_now(const struct pw_target_state *t);
/* Whether a target is in trouble: down, or up but its last probe failed. */
bool pw_api_in_trouble(const struct pw_target_state *t);
/* Adds a target state's fields (status, state, ok, latency, ...) to o. */
json_t *pw_api_state_fields(json_t *o, const struct pw_target_state *t);
/* One target of the view; reasons always when full, else only where they
 * matter (down, or the last probe failed). */
json_t *pw_api_target_json(const struct pw_web_view *v, size_t i, bool full);
json_t *pw_api_storage_json(struct pw_store *st);
json_t *pw_api_sweep_json(const struct pw_engine_stats *s);
/* The shortest probe interval of the plan (null for an empty plan). */
json_t *pw_api_shortest_interval(const struct pw_plan *p);

/* host=, role= and status= */
struct pw_scope {
    const char *host, *role;
    unsigned status_mask; /* bit per enum pw_status; 0: any */
};
bool pw_scope_has(const struct pw_web_view *v, size_t i, const struct pw_scope *sc);
/* Reads host= and role= (and status= when with_status); a host or role no
 * target has is a 404. Returns 0, or -1 with out filled. */
int pw_scope_parse(struct pw_req *r, bool with_status, struct pw_scope *sc,
                   struct pw_reply *out);

#endif
