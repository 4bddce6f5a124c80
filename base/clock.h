/*
 * Wall time for every module: the one clock (ms since the Unix epoch, UTC),
 * the units of time in ms, and RFC 3339 text both ways. Civil dates are
 * computed here, not with gmtime: portable and thread-safe. Intervals and
 * deadlines use the loop's monotonic clock (uv_now), not this.
 */
#ifndef PW_BASE_CLOCK_H
#define PW_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define PW_SECOND_MS 1000LL
#define PW_MINUTE_MS (60 * PW_SECOND_MS)
#define PW_HOUR_MS (60 * PW_MINUTE_MS)
#define PW_DAY_MS (24 * PW_HOUR_MS)

/* ms since the epoch, or 0 when the system clock cannot be read. */
int64_t pw_wall_ms(void);

/* Enough for any pw_format_rfc3339 text, with its NUL. */
#define PW_RFC3339_MAX 32
/* ms since the epoch as RFC 3339 UTC with milliseconds:
 * "2025-11-25T20:36:00.000Z". */
void pw_format_rfc3339(int64_t ms, char *buf, size_t len);
/* Parses "2025-11-25T20:36:00Z" (fractions of a second and offsets such as
 * "+01:00" too; years 1970-9999) into ms since the epoch. Returns 0, or -1
 * when s is not such a time; the caller says what is allowed. */
int pw_parse_rfc3339(const char *s, int64_t *out);

#endif
