/*
 * Maintenance windows: planned work during which a target's failures are
 * reported as maintenance rather than failing. A [maintenance NAME] section
 * names the targets it covers and a schedule read in a time zone (tz.h);
 * this header has the schedule's parser and its next occurrences, and the
 * test of whether a window covers a target. The loader (config.c) fills
 * struct pw_maint from the key table and calls pw_maint_validate() once the
 * whole file is read.
 *
 * Schedules, one per window (case does not matter):
 *   Sun 02:00-04:00              weekly (Mon..Sun or Monday..Sunday)
 *   second Tuesday 22:00-02:00   monthly: first..fourth or last weekday
 *   daily 01:00-01:30            every day
 *   2026-12-24 20:00-23:00       once, on that date
 * An end at or before the start is the next day's; a window is shorter
 * than 24 hours and never ends where it starts.
 */
#ifndef PW_MAINTENANCE_H
#define PW_MAINTENANCE_H

#include "config/tz.h"
#include "config/values.h"

#include <stddef.h>
#include <stdint.h>

enum pw_sched_kind { PW_SCHED_DAILY, PW_SCHED_WEEKLY, PW_SCHED_MONTHLY, PW_SCHED_DATE };

struct pw_schedule {
    enum pw_sched_kind kind;
    int wday;          /* WEEKLY, MONTHLY: 0 Sunday .. 6 Saturday */
    int nth;           /* MONTHLY: 1..4, or 5 for the last */
    int64_t day;       /* DATE: days since 1970-01-01 */
    int start_min;     /* minutes after local midnight */
    int end_min;       /* 1..1440; at or before start_min: the next day */
};

/* Parses a schedule. Returns 0, or an error with err naming what was wrong
 * and what is allowed. */
int pw_schedule_parse(const char *text, struct pw_schedule *out, char err[PW_ERRBUF]);
/* The first occurrence in zone z that ends after `after` (seconds since
 * the epoch): an active one, or the next. An occurrence wholly skipped by
 * a clock change is passed over. Returns 0 with *start and *end, or
 * PW_ENOT_FOUND (a date in the past). */
int pw_schedule_next(const struct pw_schedule *s, const struct pw_tz *z, int64_t after,
                     int64_t *start, int64_t *end);

/* A [maintenance NAME] section. Targets: every one when hosts, roles,
 * checks and ports are all unset; else a target must be on one of hosts
 * (if set), on one of ports (if set), and serve one of roles or checks (if
 * either is set). */
struct pw_maint {
    char *name;
    int line;
    struct pw_host_list hosts;
    int roles;          /* a bit per catalog role (enum pw_role_id) */
    char *checks;       /* check names separated by commas, as written */
    struct pw_portset ports;
    char *schedule;     /* as written; parsed into sched */
    char *timezone;     /* NULL or "": the machine's zone */
    char *reason;
    struct pw_schedule sched;
    struct pw_tz *tz;   /* NULL: pw_tz_local() */
};

/* The catalog's role keys, NULL-terminated: the choices of roles. */
extern const char *const pw_maint_role_names[];

const struct pw_tz *pw_maint_zone(const struct pw_maint *w);
/* Whether w covers a target on host:port that serves `roles` (role keys and
 * check names, as in struct pw_profile). */
int pw_maint_covers(const struct pw_maint *w, const char *host, uint16_t port,
                    const char *const *roles, size_t nroles);
void pw_maint_free(struct pw_maint *w);
/* Whether a list of names separated by commas has name (ignoring case and
 * the spaces around each). */
int pw_name_in_list(const char *list, const char *name);

#endif
