/*
 * Reports of one sweep's results for `portwatch check`: a table for
 * people and a JSON array for scripts. Both read a snapshot taken after
 * pw_engine_sweep_once() and the plan it was taken from; neither touches
 * the engine.
 */
#ifndef PW_REPORT_H
#define PW_REPORT_H

#include "probes/probe.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Per host: runs of consecutive ports sharing a profile as one line
 * ("50000-50200  reachable  OK    12 open, 189 closed"), single ports with
 * their state and latency ("1433  listening  OK    open  0.3 ms"); every
 * failing port on a line of its own followed by the roles it serves and
 * what breaks (the profile's reasons); a totals line at the end. */
void pw_report_table(const struct pw_plan *p, const struct pw_snapshot *s, FILE *f);

/* One target as JSON, the rendering `portwatch check --format json` and
 * the HTTP API share (web/ adds what only it knows): id, host, port,
 * roles [names], expect, then the state fields below, then with_reasons
 * reasons [{role, service, text, catalog_row (absent for a [check])}].
 * NULL on allocation failure. */
json_t *pw_report_target(const struct pw_plan *p, const struct pw_snapshot *s, size_t i,
                         uint32_t id, bool with_reasons);
/* A target state's fields added to o: status, state (null before a
 * result), ok (null before a result), latency_ms (three decimals; null
 * unless connected), detail, verify ("off", "verified", "mismatch",
 * "no_reply"; null when it did not connect), verify_info (version,
 * dialect, Server header), since, last_checked (RFC 3339 or null),
 * consecutive_failures. Returns o. */
json_t *pw_report_state_fields(json_t *o, const struct pw_target_state *t);
/* RFC 3339 UTC, or null for ms <= 0. */
json_t *pw_report_time(int64_t ms);
/* Microseconds as milliseconds, or null when negative. */
json_t *pw_report_latency_ms(int64_t us);

/* A JSON array of pw_report_target (with reasons), in plan order, ids
 * 1..n (`check` has no store to number targets). Written to f one element
 * at a time, so memory does not grow with the number of targets. Returns
 * 0, or -1 on a write or allocation failure. */
int pw_report_json_write(const struct pw_plan *p, const struct pw_snapshot *s, FILE *f);

/* One endpoint-mapper registration (probes/epm.h) as `portwatch
 * rpc-endpoints --format json` and GET /api/v1/rpc/endpoints both show it:
 * interface and version (null without one), its well-known name (or null),
 * annotation, protocol, endpoint and port (null when none). Callers add
 * what only they know. NULL on allocation failure. */
struct pw_epm_entry;
json_t *pw_report_epm_entry(const struct pw_epm_entry *e);

/* Whether every target has a result that meets its expectation. */
bool pw_report_all_ok(const struct pw_snapshot *s);

#endif
