/*
 * Time zones (tz.h): the machine's through the C library, named ones from
 * the IANA database's TZif files (RFC 8536) and their footer rule. Used by
 * the maintenance schedules (maintenance.c) to turn "Sun 02:00" into an
 * instant, daylight saving included.
 */
#include "base/text.h"
#include "config/tz.h"

#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A POSIX rule's change date: month, week (5 = last) and weekday, and the
 * local time of day it happens at (seconds; may be negative or past 24h). */
struct rule_date {
    int mon, week, wday;
    int32_t secs;
};

struct pw_tz {
    char *name;           /* NULL: the machine's zone */
    int64_t *trans;       /* transition instants, ascending */
    int32_t *trans_off;   /* offset from each transition on */
    size_t ntrans;
    int32_t first_off;    /* before the first transition */
    int has_rule;         /* the footer applies after the last transition */
    int32_t std_off, dst_off;
    int has_dst;
    struct rule_date start, end;
};

static struct pw_tz local_zone;

const struct pw_tz *pw_tz_local(void)
{
    return &local_zone;
}

void pw_tz_free(struct pw_tz *z)
{
    if (!z || z == &local_zone)
        return;
    free(z->name);
    free(z->trans);
    free(z->trans_off);
    free(z);
}

const char *pw_tz_name(const struct pw_tz *z)
{
    return z->name ? z->name : "local";
}

/* ---- the civil calendar (days since 1970-01-01) -------------------------- */

int64_t pw_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void pw_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int pw_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

int pw_month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- offsets ------------------------------------------------------------- */

/* The machine's offset: the C library's broken-down local time read back
 * as if it were UTC. */
static int32_t local_offset(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((int64_t)tt != t || !localtime_r(&tt, &tm))
        return 0;
    int64_t wall = pw_days_from_civil(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday) * 86400 +
                   tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return (int32_t)(wall - t);
}

/* The instant (UTC) a rule's date falls on in year y, its time read with
 * offset off. */
static int64_t rule_instant(const struct rule_date *r, int64_t y, int32_t off)
{
    int64_t first = pw_days_from_civil(y, r->mon, 1);
    int day = 1 + (r->wday - pw_weekday(first) + 7) % 7 + (r->week - 1) * 7;
    while (day > pw_month_days(y, r->mon))
        day -= 7;
    return (first + day - 1) * 86400 + r->secs - off;
}

static int32_t rule_offset(const struct pw_tz *z, int64_t t)
{
    if (!z->has_dst)
        return z->std_off;
    int64_t y;
    int m, d;
    pw_civil_from_days(floor_div(t + z->std_off, 86400), &y, &m, &d);
    int64_t on = rule_instant(&z->start, y, z->std_off);
    int64_t off = rule_instant(&z->end, y, z->dst_off);
    int dst = on < off ? (t >= on && t < off) : !(t >= off && t < on);
    return dst ? z->dst_off : z->std_off;
}

int32_t pw_tz_offset(const struct pw_tz *z, int64_t t)
{
    if (z == &local_zone)
        return local_offset(t);
    if (z->ntrans == 0 || t < z->trans[0])
        return z->ntrans == 0 && z->has_rule ? rule_offset(z, t) : z->first_off;
    if (t >= z->trans[z->ntrans - 1] && z->has_rule)
        return rule_offset(z, t);
    size_t lo = 0, hi = z->ntrans; /* the last transition at or before t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->trans_off[lo];
}

int64_t pw_tz_to_utc(const struct pw_tz *z, int64_t local)
{
    /* Real zones change at most once within two days: the offsets a day
     * either side are the only candidates. */
    int32_t before = pw_tz_offset(z, local - 86400), after = pw_tz_offset(z, local + 86400);
    int64_t a = local - before, b = local - after;
    int a_ok = pw_tz_offset(z, a) == before, b_ok = pw_tz_offset(z, b) == after;
    if (a_ok && b_ok)
        return a < b ? a : b;
    if (b_ok && !a_ok)
        return b;
    return a; /* valid, or skipped: read with the offset before the change */
}

/* ---- POSIX rules (the TZif footer) --------------------------------------- */

static int rule_fail(char err[PW_ERRBUF], const char *rule, const char *what)
{
    char quoted[84];
    snprintf(quoted, sizeof quoted, "%.80s", rule);
    pw_utf8_trim_cut(quoted);
    snprintf(err, PW_ERRBUF, "time zone rule '%s': %s", quoted, what);
    return PW_EINVAL;
}

/* A zone abbreviation: letters, or anything but '>' inside <...>. */
static const char *skip_abbrev(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q && q - p >= 4 ? q + 1 : NULL;
    }
    const char *q = p;
    while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
        q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]], hours at most max; seconds into *out. */
static const char *parse_hms(const char *p, int max, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *p != ':')
            break;
        if (i)
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        int n = 0, digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3)
            n = n * 10 + (*p++ - '0'), digits++;
        if ((i == 0 && n > max) || (i > 0 && n > 59))
            return NULL;
        v[i] = n;
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

/* ",Mm.w.d[/time]"; Julian forms (Jn, n) are not used by the database's
 * zones and are refused. */
static const char *parse_rule_date(const char *p, struct rule_date *r)
{
    if (*p++ != ',' || *p++ != 'M')
        return NULL;
    int v[3];
    for (int i = 0; i < 3; i++) {
        if (i && *p++ != '.')
            return NULL;
        if (*p < '0' || *p > '9')
            return NULL;
        v[i] = 0;
        for (int k = 0; *p >= '0' && *p <= '9' && k < 2; k++)
            v[i] = v[i] * 10 + (*p++ - '0');
    }
    if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] > 6)
        return NULL;
    r->mon = v[0], r->week = v[1], r->wday = v[2], r->secs = 7200;
    if (*p == '/' && !(p = parse_hms(p + 1, 167, &r->secs)))
        return NULL;
    return p;
}

/* Fills z's rule from a POSIX TZ string. */
static int parse_rule(struct pw_tz *z, const char *rule, char err[PW_ERRBUF])
{
    const char *p = skip_abbrev(rule);
    int32_t west;
    if (!p || !(p = parse_hms(p, 24, &west)))
        return rule_fail(err, rule, "expected a name and an offset, e.g. CET-1");
    z->std_off = -west;
    z->has_rule = 1;
    if (*p == '\0')
        return 0;
    if (!(p = skip_abbrev(p)))
        return rule_fail(err, rule, "expected a daylight-saving name after the offset");
    z->dst_off = z->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!(p = parse_hms(p, 24, &west)))
            return rule_fail(err, rule, "bad daylight-saving offset");
        z->dst_off = -west;
    }
    if (!(p = parse_rule_date(p, &z->start)) || !(p = parse_rule_date(p, &z->end)) || *p)
        return rule_fail(err, rule, "expected ,Mm.w.d[/time],Mm.w.d[/time] (Julian-day rules are "
                                    "not supported)");
    z->has_dst = 1;
    return 0;
}

int pw_tz_from_rule(const char *rule, struct pw_tz **out, char err[PW_ERRBUF])
{
    struct pw_tz *z = calloc(1, sizeof *z);
    if (!z || !(z->name = strdup(rule))) {
        free(z);
        return snprintf(err, PW_ERRBUF, "out of memory"), PW_ENOMEM;
    }
    int rc = parse_rule(z, rule, err);
    if (rc != 0) {
        pw_tz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

/* ---- TZif files ---------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Reads the version 2+ part of a TZif file (64-bit times) and its footer. */
static int parse_tzif(struct pw_tz *z, const unsigned char *b, size_t n, char err[PW_ERRBUF])
{
    const char *bad = "is not a TZif file of version 2 or later";
    if (n < 44 || memcmp(b, "TZif", 4) != 0 || b[4] < '2')
        goto fail;
    size_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(b + 20 + 4 * i); /* isut, isstd, leap, time, type, char */
    size_t v1 = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (c[3] > 100000 || c[4] > 256 || c[5] > 1000 || c[2] > 1000 || v1 + 44 > n)
        goto fail;
    const unsigned char *h = b + v1;
    if (memcmp(h, "TZif", 4) != 0)
        goto fail;
    for (int i = 0; i < 6; i++)
        c[i] = be32(h + 20 + 4 * i);
    size_t nt = c[3], ntypes = c[4];
    size_t need = 44 + nt * 9 + ntypes * 6 + c[5] + c[2] * 12 + c[1] + c[0];
    if (nt > 100000 || ntypes == 0 || ntypes > 256 || c[5] > 1000 || c[2] > 1000 || v1 + need > n)
        goto fail;
    const unsigned char *times = h + 44, *idx = times + nt * 8, *types = idx + nt;
    z->trans = malloc((nt ? nt : 1) * sizeof *z->trans);
    z->trans_off = malloc((nt ? nt : 1) * sizeof *z->trans_off);
    if (!z->trans || !z->trans_off)
        return snprintf(err, PW_ERRBUF, "out of memory"), PW_ENOMEM;
    for (size_t i = 0; i < nt; i++) {
        if (idx[i] >= ntypes || (i && be64(times + 8 * i) <= z->trans[i - 1]))
            goto fail;
        z->trans[i] = be64(times + 8 * i);
        z->trans_off[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    z->ntrans = nt;
    z->first_off = (int32_t)be32(types);
    const char *foot = (const char *)b + v1 + need;
    size_t left = n - v1 - need;
    if (left >= 2 && foot[0] == '\n' && foot[left - 1] == '\n' && left > 2) {
        char rule[128];
        if (left - 2 >= sizeof rule)
            goto fail;
        memcpy(rule, foot + 1, left - 2);
        rule[left - 2] = '\0';
        return parse_rule(z, rule, err);
    }
    return 0;
fail:
    snprintf(err, PW_ERRBUF, "time zone '%s': its database file %s", z->name, bad);
    return PW_EINVAL;
}

/* An IANA name: letters, digits and - _ + / in parts that never climb. */
static int valid_zone_name(const char *s)
{
    if (!*s || strlen(s) > 64 || *s == '/' || strstr(s, ".."))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '/' || *s == '_' || *s == '-' || *s == '+'))
            return 0;
    return 1;
}

static int read_zone_file(struct pw_tz *z, char err[PW_ERRBUF])
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, z->name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        char probe[520];
        snprintf(probe, sizeof probe, "%s/UTC", dir);
        FILE *db = fopen(probe, "rb");
        if (db)
            fclose(db);
        if (!db)
            return snprintf(err, PW_ERRBUF, "time zone '%s': this machine has no time zone database "
                            "(no %.100s); use UTC, or leave timezone unset for the machine's own zone",
                            z->name, dir), PW_ENOT_FOUND;
        return snprintf(err, PW_ERRBUF, "unknown time zone '%s' (no %s); use an IANA name such as "
                        "Europe/Amsterdam, UTC, or leave timezone unset for the machine's own zone",
                        z->name, path + (strlen(path) > 120 ? strlen(path) - 120 : 0)), PW_ENOT_FOUND;
    }
    unsigned char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return parse_tzif(z, buf, n, err);
}

int pw_tz_load(const char *name, struct pw_tz **out, char err[PW_ERRBUF])
{
    *out = NULL;
    if (!valid_zone_name(name)) {
        char quoted[84];
        snprintf(quoted, sizeof quoted, "%.80s", name);
        pw_utf8_trim_cut(quoted);
        return snprintf(err, PW_ERRBUF, "'%s' is not a time zone name; use an IANA name such as "
                        "Europe/Amsterdam, UTC, or leave timezone unset for the machine's own zone",
                        quoted), PW_EINVAL;
    }
    struct pw_tz *z = calloc(1, sizeof *z);
    if (!z || !(z->name = strdup(name))) {
        free(z);
        return snprintf(err, PW_ERRBUF, "out of memory"), PW_ENOMEM;
    }
    int rc = 0;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
        z->has_rule = 1; /* offset 0 everywhere, database or not */
    else
        rc = read_zone_file(z, err);
    if (rc != 0) {
        pw_tz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}
