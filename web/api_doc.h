/*
 * Pieces of JSON the API documents share (api_doc.c): times, latencies, a
 * target of the view with its state, storage and sweep summaries; and the
 * target filters (web/scope.h). For the api_*.c files.
 */
#ifndef PW_WEB_API_DOC_H
#define PW_WEB_API_DOC_H

#include "web/req.h"
#include "web/scope.h"

/* RFC 3339, or null for ms <= 0 (probes/report.h's, as in a target). */
json_t *pw_jtime(int64_t ms);
/* Microseconds as milliseconds (three decimals), or null when negative. */
json_t *pw_jlatency_ms(int64_t us);
/* v rounded to a number of decimals (what the figure means: a percentage
 * of time to 0.001). */
json_t *pw_jround(double v, int decimals);
/* Target id of plan index i. */
uint32_t pw_api_id(const struct pw_web_view *v, size_t i);
const struct pw_host *pw_api_host_of(const struct pw_plan *p, size_t i);
/* Whether a target's last probe fails its expectation (status aside). */
bool pw_api_failing_now(const struct pw_target_state *t);
/* Whether a target is in trouble: down, or up but its last probe failed. */
bool pw_api_in_trouble(const struct pw_target_state *t);
/* One target of the view; reasons always when full, else only where they
 * matter (down, or the last probe failed). */
json_t *pw_api_target_json(const struct pw_web_view *v, size_t i, bool full);
json_t *pw_api_storage_json(struct pw_store *st);
/* Who watches, as /metrics labels them: {"instance_name", "vantages":
 * [...], "labels": {name: value}} ([portwatch] instance_name, vantage,
 * labels). */
json_t *pw_api_identity_json(const struct pw_plan *p);
json_t *pw_api_sweep_json(const struct pw_engine_stats *s);
/* The shortest probe interval of the plan (null for an empty plan). */
json_t *pw_api_shortest_interval(const struct pw_plan *p);

#endif
