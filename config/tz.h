/*
 * Time zones for maintenance windows: a window's wall-clock times mean a
 * zone's local time, daylight saving included. Two kinds of zone:
 *
 * - the machine's own (no name): the C library's localtime, which follows
 *   TZ and /etc/localtime on POSIX and the system's zone on Windows;
 * - a named one: "UTC" anywhere, or an IANA name (Europe/Amsterdam) read
 *   from the zone database's TZif file ($TZDIR, else /usr/share/zoneinfo),
 *   its transitions and then its footer's POSIX rule for later years. Where
 *   there is no database (Windows), a name other than UTC is refused with a
 *   message that says so, rather than guessed.
 *
 * Times are seconds since the epoch (UTC); local times are seconds since
 * the epoch as if the wall clock were UTC.
 */
#ifndef PW_TZ_H
#define PW_TZ_H

#include "config/values.h"

#include <stdint.h>

struct pw_tz;

/* The machine's zone: never fails, never NULL. Freeing it is a no-op. */
const struct pw_tz *pw_tz_local(void);
/* Loads a named zone. Returns 0 and *out (free with pw_tz_free), or an
 * error with err naming what was wrong and what is allowed. */
int pw_tz_load(const char *name, struct pw_tz **out, char err[PW_ERRBUF]);
void pw_tz_free(struct pw_tz *z);
/* "local" for the machine's zone, else the name loaded. */
const char *pw_tz_name(const struct pw_tz *z);
/* The zone's offset from UTC (seconds east) at instant t. */
int32_t pw_tz_offset(const struct pw_tz *z, int64_t t);
/* The instant a local wall time falls on. A time skipped by a forward
 * change (02:30 when clocks jump from 02:00 to 03:00) is read with the
 * offset before the change, so it lands as far after the jump as it was
 * after 02:00 (03:30); a time that happens twice (a backward change)
 * means the first. */
int64_t pw_tz_to_utc(const struct pw_tz *z, int64_t local);

/* Civil calendar helpers (proleptic Gregorian, any year). */
int64_t pw_days_from_civil(int64_t y, int m, int d);
void pw_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 Sunday .. 6 Saturday. */
int pw_weekday(int64_t days);
int pw_month_days(int64_t y, int m);

/* Parses a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3" (the form a
 * TZif file ends with) into a zone; for tests and the fuzzer. */
int pw_tz_from_rule(const char *rule, struct pw_tz **out, char err[PW_ERRBUF]);

#endif
