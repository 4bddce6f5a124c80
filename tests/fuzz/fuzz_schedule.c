/*
 * libFuzzer target for maintenance schedules (config/maintenance.c) and the
 * POSIX zone rules a TZif file ends with (config/tz.c): the input is read
 * as a schedule and as a rule. Any input must parse or be refused with a
 * printable message, and a parsed schedule's next occurrences, in UTC and
 * in a daylight-saving rule, must end after they start and after the
 * instant asked; never a crash, a hang or a leak.
 */
#include "config/maintenance.h"
#include "config/tz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err)
{
    char again[PW_ERRBUF];
    if (pw_check_text(err, strlen(err), again) != 0)
        abort();
}

/* Occurrences from instants around the year 2027 and far ones. */
static void walk(const struct pw_schedule *s, const struct pw_tz *z)
{
    static const int64_t from[] = {0, 1805500800, 1822348800, 4102444800, -86400};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        int64_t t = from[i], st, en;
        for (int k = 0; k < 4 && pw_schedule_next(s, z, t, &st, &en) == 0; k++) {
            if (en <= st || en <= t || en - st > 25 * 3600)
                abort();
            t = en;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char text[257];
    memcpy(text, data, size);
    text[size] = '\0';
    char err[PW_ERRBUF];
    /* The loader hands on only text (UTF-8, no control characters). */
    if (strlen(text) != size || pw_check_text(text, size, err) != 0)
        return 0;
    struct pw_tz *rule = NULL, *utc = NULL;
    if (pw_tz_from_rule("CET-1CEST,M3.5.0,M10.5.0/3", &rule, err) != 0 ||
        pw_tz_load("UTC", &utc, err) != 0)
        abort();
    struct pw_schedule s;
    if (pw_schedule_parse(text, &s, err) == 0) {
        walk(&s, utc);
        walk(&s, rule);
    } else {
        check_message(err);
    }
    pw_tz_free(rule);
    struct pw_tz *z = NULL;
    if (pw_tz_from_rule(text, &z, err) == 0) {
        /* Offsets are within 25 hours: a wall time read back lands within
         * two of them of the instant it came from. */
        for (int64_t t = 1805500800; t < 1805500800 + 400 * 86400LL; t += 7 * 86400) {
            int64_t back = pw_tz_to_utc(z, t + pw_tz_offset(z, t));
            if (back > t + 3 * 86400 || back < t - 3 * 86400)
                abort();
        }
        pw_tz_free(z);
    } else {
        check_message(err);
    }
    pw_tz_free(utc);
    return 0;
}
