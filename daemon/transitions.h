/*
 * The daemon's log of status changes: one line per host, new status, cause
 * and broken tasks, gathered over at most one interval (see transitions.c).
 * Loop thread only.
 */
#ifndef PW_TRANSITIONS_H
#define PW_TRANSITIONS_H

#include "daemon/incident_log.h"
#include "probes/probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct pw_transition_group;

struct pw_transitions {
    uv_timer_t timer; /* runs while a group is pending */
    struct pw_transition_group *head;
    bool closing;     /* after close: changes are written at once */
    struct pw_incident_log incidents; /* open ones (incident_log.c) */
};

void pw_transitions_init(struct pw_transitions *tr, uv_loop_t *loop);
/* Gathers the status changes among r[0..n), whose targets index plan p;
 * writes the groups that are complete. p is not kept. */
void pw_transitions_add(struct pw_transitions *tr, const struct pw_plan *p,
                        const struct pw_result *r, size_t n);
/* Writes what is pending and closes the timer (tr must live until the
 * loop has run once more); changes added later are written at once. */
void pw_transitions_close(struct pw_transitions *tr);

/* Logs the monitoring gap since the database's previous run ended (at
 * start; nothing for a new database or a gap under a second). st may be
 * NULL (no database). */
struct pw_store;
void pw_transitions_log_gap(struct pw_store *st, int64_t now_ms);
/* The one form of a monitoring-gap line: "monitoring gap: from T to T (D)
 * WHY; that time counts as not monitored" (a pause, a stop). */
void pw_transitions_log_gap_line(int64_t from_ms, int64_t to_ms, const char *why);

#endif
