/*
 * Maintenance windows (maintenance.h): the schedule's parser, its next
 * occurrences in a time zone, which targets a window covers, and the
 * checks that span a [maintenance NAME] section's keys once the file is
 * read (the loader in config.c calls cf_maint_validate).
 */
#include "base/text.h"
#include "config/config_int.h"

#include "base/error.h"
#include "config/maintenance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_NAME_(id, key, title, what) key,
const char *const pw_maint_role_names[] = {PW_ROLES(ROLE_NAME_) NULL};
#undef ROLE_NAME_

static const char *const day_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
static const char *const nth_names[] = {"first", "second", "third", "fourth", "last"};
static const char *const month_names[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};

#define EXAMPLES                                                                              \
    "write e.g. 'Sun 02:00-04:00' (weekly), 'second Tuesday 22:00-02:00' (monthly), "         \
    "'daily 01:00-01:30' or '2026-12-24 20:00-23:00' (once)"

/* ---- parsing ------------------------------------------------------------- */

/* A day's name, whole or its first three letters; -1 if none. */
static int day_of(const char *w)
{
    size_t n = strlen(w);
    for (int i = 0; i < 7; i++) {
        char abbr[4];
        snprintf(abbr, sizeof abbr, "%.3s", day_names[i]);
        if (pw_strcasecmp(w, day_names[i]) == 0 || (n == 3 && pw_strcasecmp(w, abbr) == 0))
            return i;
    }
    return -1;
}

static int nth_of(const char *w)
{
    static const char *const digits[] = {"1st", "2nd", "3rd", "4th"};
    for (int i = 0; i < 5; i++)
        if (pw_strcasecmp(w, nth_names[i]) == 0 || (i < 4 && pw_strcasecmp(w, digits[i]) == 0))
            return i + 1;
    return 0;
}

/* "HH:MM" into minutes; 24:00 only where allow_24. */
static int parse_clock(const char *s, size_t n, int allow_24, int *out)
{
    if (n != 5 || s[2] != ':')
        return -1;
    for (size_t i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (!allow_24 || m != 0)))
        return -1;
    *out = h * 60 + m;
    return 0;
}

/* "HH:MM-HH:MM", spaces around the dash allowed. */
static int parse_range(const char *s, struct pw_schedule *out, char err[PW_ERRBUF])
{
    char buf[32];
    size_t n = 0;
    for (const char *p = s; *p && n < sizeof buf - 1; p++)
        if (*p != ' ' && *p != '\t')
            buf[n++] = *p;
    buf[n] = '\0';
    pw_utf8_trim_cut(buf);
    if (!*buf)
        return snprintf(err, PW_ERRBUF, "no times; %s", EXAMPLES), PW_EINVAL;
    const char *dash = strchr(buf, '-');
    if (!dash)
        return snprintf(err, PW_ERRBUF, "'%s' has no end; write START-END in 24-hour time, e.g. "
                        "02:00-04:00", buf), PW_EINVAL;
    size_t a = (size_t)(dash - buf);
    if (parse_clock(buf, a, 0, &out->start_min) != 0 ||
        parse_clock(dash + 1, strlen(dash + 1), 1, &out->end_min) != 0)
        return snprintf(err, PW_ERRBUF, "'%s' is not a time range; write START-END in 24-hour time "
                        "from 00:00 to 23:59 (24:00 as an end), e.g. 02:00-04:00", buf), PW_EINVAL;
    if (out->end_min == out->start_min || (out->start_min == 0 && out->end_min == 1440))
        return snprintf(err, PW_ERRBUF, "'%s' never ends (its end is its start); a window ends "
                        "less than 24 hours after it starts", buf), PW_EINVAL;
    return 0;
}

/* "YYYY-MM-DD" into days; the month must have that day. */
static int parse_date(const char *w, int64_t *days, char err[PW_ERRBUF])
{
    int y, m, d, used = 0;
    if (strlen(w) != 10 || sscanf(w, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10 ||
        y < 1970 || y > 9999)
        return snprintf(err, PW_ERRBUF, "'%s' is not a date; write YYYY-MM-DD from 1970 on", w),
               PW_EINVAL;
    if (m < 1 || m > 12)
        return snprintf(err, PW_ERRBUF, "'%s': there is no month %d; months are 01 to 12", w, m),
               PW_EINVAL;
    if (d < 1 || d > pw_month_days(y, m))
        return snprintf(err, PW_ERRBUF, "'%s': %s %d has %d days", w, month_names[m - 1], y,
                        pw_month_days(y, m)), PW_EINVAL;
    *days = pw_days_from_civil(y, m, d);
    return 0;
}

/* The next word of s into w (at most n-1 bytes); returns what follows. */
static const char *word(const char *s, char *w, size_t n)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strcspn(s, " \t");
    snprintf(w, n, "%.*s", (int)(len < n ? len : n - 1), s);
    pw_utf8_trim_cut(w); /* a long word quoted in a message stays UTF-8 */
    return s + len;
}

int pw_schedule_parse(const char *text, struct pw_schedule *out, char err[PW_ERRBUF])
{
    memset(out, 0, sizeof *out);
    char w[24];
    const char *rest = word(text, w, sizeof w);
    if (!*w)
        return snprintf(err, PW_ERRBUF, "empty; %s", EXAMPLES), PW_EINVAL;
    int nth = nth_of(w), rc;
    if (nth) {
        const char *after = word(rest, w, sizeof w);
        if ((out->wday = day_of(w)) < 0)
            return snprintf(err, PW_ERRBUF, "'%s' is not a day; after '%s' name one: Mon..Sun or "
                            "Monday..Sunday", w, nth_names[nth - 1]), PW_EINVAL;
        out->kind = PW_SCHED_MONTHLY;
        out->nth = nth;
        rest = after;
    } else if ((out->wday = day_of(w)) >= 0) {
        out->kind = PW_SCHED_WEEKLY;
    } else if (pw_strcasecmp(w, "daily") == 0) {
        out->kind = PW_SCHED_DAILY;
    } else if (*w >= '0' && *w <= '9' && strchr(w, '-') && !strchr(w, ':')) {
        if ((rc = parse_date(w, &out->day, err)) != 0)
            return rc;
        out->kind = PW_SCHED_DATE;
    } else if (strchr(w, ':')) {
        return snprintf(err, PW_ERRBUF, "no day before the times; %s", EXAMPLES), PW_EINVAL;
    } else {
        return snprintf(err, PW_ERRBUF, "'%s' is not a day, an ordinal (first, second, third, "
                        "fourth, last), 'daily' or a date; %s", w, EXAMPLES), PW_EINVAL;
    }
    return parse_range(rest, out, err);
}

/* ---- occurrences --------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int day_matches(const struct pw_schedule *s, int64_t day)
{
    int64_t y;
    int m, d;
    switch (s->kind) {
    case PW_SCHED_DAILY:
        return 1;
    case PW_SCHED_WEEKLY:
        return pw_weekday(day) == s->wday;
    case PW_SCHED_MONTHLY:
        if (pw_weekday(day) != s->wday)
            return 0;
        pw_civil_from_days(day, &y, &m, &d);
        return s->nth == 5 ? d + 7 > pw_month_days(y, m) : (d - 1) / 7 + 1 == s->nth;
    case PW_SCHED_DATE:
        return day == s->day;
    }
    return 0;
}

int pw_schedule_next(const struct pw_schedule *s, const struct pw_tz *z, int64_t after,
                     int64_t *start, int64_t *end)
{
    int64_t first = floor_div(after + pw_tz_offset(z, after), 86400) - 1;
    if (s->kind == PW_SCHED_DATE)
        first = s->day > first ? s->day : first;
    /* A monthly rule recurs within 35 days; a clock change can skip at most
     * one occurrence. */
    for (int64_t day = first; day < first + 80; day++) {
        if (!day_matches(s, day))
            continue;
        int64_t st = pw_tz_to_utc(z, day * 86400 + s->start_min * 60LL);
        int64_t next_day = s->end_min <= s->start_min;
        int64_t en = pw_tz_to_utc(z, (day + next_day) * 86400 + s->end_min * 60LL);
        if (en > st && en > after) {
            *start = st;
            *end = en;
            return 0;
        }
    }
    return PW_ENOT_FOUND;
}

/* ---- targets ------------------------------------------------------------- */

const struct pw_tz *pw_maint_zone(const struct pw_maint *w)
{
    return w->tz ? w->tz : pw_tz_local();
}

int pw_name_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ","), t = len;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        char word[256];
        if (t == n && t < sizeof word) {
            memcpy(word, p, t);
            word[t] = '\0';
            if (pw_strcasecmp(word, name) == 0)
                return 1;
        }
        p += len;
    }
    return 0;
}

int pw_maint_covers(const struct pw_maint *w, const char *host, uint16_t port,
                    const char *const *roles, size_t nroles)
{
    if (w->hosts.n) {
        size_t i = 0;
        while (i < w->hosts.n && pw_strcasecmp(w->hosts.names[i], host) != 0)
            i++;
        if (i == w->hosts.n)
            return 0;
    }
    if (w->ports.n && !pw_portset_contains(&w->ports, port))
        return 0;
    if (!w->roles && !(w->checks && *w->checks))
        return 1;
    for (size_t i = 0; i < nroles; i++) {
        for (int r = 0; pw_maint_role_names[r]; r++)
            if ((w->roles & (1 << r)) && strcmp(roles[i], pw_maint_role_names[r]) == 0)
                return 1;
        if (w->checks && pw_name_in_list(w->checks, roles[i]))
            return 1;
    }
    return 0;
}

void pw_maint_free(struct pw_maint *w)
{
    free(w->name);
    pw_host_list_free(&w->hosts);
    free(w->checks);
    pw_portset_free(&w->ports);
    free(w->schedule);
    free(w->timezone);
    free(w->reason);
    pw_tz_free(w->tz);
}
