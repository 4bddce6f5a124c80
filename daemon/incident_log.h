/*
 * Incidents in the daemon's log (issue 16): status changes that begin
 * together (within one interval and timeout, on a shared host or with a
 * shared cause) are one incident, opened with the first down line written
 * and closed when its last port's up line is written:
 *
 *   incident 3 opened: bts01 ports 50000-50200 (201): filtered: ...; breaks: ...
 *   incident 3 closed after 12m4s: bts01 ports 50000-50200 (201), bts02 port
 *     50000; was filtered: ...; began at 2026-12-02T14:02:03.120Z
 *
 * The same rule as the incidents the API reads from the history
 * (store/store_incidents.c), applied as the changes come. transitions.c
 * feeds it; loop thread only.
 */
#ifndef PW_INCIDENT_LOG_H
#define PW_INCIDENT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pw_live_incident;

struct pw_incident_log {
    struct pw_live_incident *head;
    uint64_t seq; /* numbers incidents since start */
};

/* A port of host went down at at_ms with cause (and breaks, the tasks
 * text): joins the incident it began with, or opens one. Its down line is
 * pending: call pw_incident_written when it is written. NULL when out of
 * memory (nothing is tracked). */
struct pw_live_incident *pw_incident_down(struct pw_incident_log *l, const char *host,
                                          uint16_t port, const char *cause, const char *breaks,
                                          int64_t at_ms, int64_t window_ms);
/* A port came back up at at_ms: the incident holding it (NULL: none), its
 * up line pending. */
struct pw_live_incident *pw_incident_up(struct pw_incident_log *l, const char *host,
                                        uint16_t port, int64_t at_ms);
/* A pending line of inc (NULL: no-op) was written: the first writes the
 * "opened" line; the last, once every port is up, the "closed" line, and
 * inc is freed. */
void pw_incident_written(struct pw_incident_log *l, struct pw_live_incident *inc);
/* The number of the incident inc belongs to (after merges) when it has
 * been announced already, else 0: a later line of it names it. */
uint64_t pw_incident_number(const struct pw_live_incident *inc);
/* Forgets every incident (at stop: they stay open in the history). */
void pw_incident_log_free(struct pw_incident_log *l);

/* "port 1433" or "ports 135, 445, 50000-50200 (203)" (transitions.c). */
void pw_transitions_ports_text(uint16_t *ports, size_t n, char *buf, size_t len);

#endif
