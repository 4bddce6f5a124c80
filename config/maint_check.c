/*
 * The rules of [maintenance NAME] sections that need the whole file: each
 * window's schedule and zone parsed at the lines that set them, the checks
 * and hosts it names found elsewhere in the file, and no two windows over
 * one target at one time. The loader (config.c) calls cf_maint_validate
 * after reading every section.
 */
#include "base/text.h"
#include "config/config_int.h"

#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PW_PRINTF(5, 6)
static void say(const struct cf_report *r, int line, const struct pw_maint *w, const char *key,
                const char *fmt, ...)
{
    char sec[96], msg[640];
    snprintf(sec, sizeof sec, "maintenance %s", w->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->problem(r->ud, line, sec, key, msg);
}

/* The line key was set on in window i, or the section's line. */
static int line_or_section(const struct pw_config *c, const struct cf_report *r, size_t i,
                           const char *key)
{
    int ln = r->line_of(r->ud, i, key);
    return ln ? ln : c->maints[i].line;
}

static int parse_schedule_and_zone(struct pw_config *c, const struct cf_report *r, size_t i)
{
    struct pw_maint *w = &c->maints[i];
    char err[PW_ERRBUF];
    int ok = 1;
    if (!w->schedule || !*w->schedule) {
        say(r, w->line, w, "schedule", "missing; a window needs schedule = e.g. Sun 02:00-04:00 or "
                                       "second Tuesday 22:00-02:00");
        ok = 0;
    } else if (pw_schedule_parse(w->schedule, &w->sched, err) != 0) {
        say(r, line_or_section(c, r, i, "schedule"), w, "schedule", "%s", err);
        ok = 0;
    }
    if (w->timezone && *w->timezone && pw_tz_load(w->timezone, &w->tz, err) != 0) {
        say(r, line_or_section(c, r, i, "timezone"), w, "timezone", "%s", err);
        ok = 0;
    }
    return ok;
}

static int check_named(const struct pw_config *c, const char *name)
{
    for (size_t i = 0; i < c->nchecks; i++)
        if (pw_strcasecmp(c->checks[i].name, name) == 0)
            return 1;
    return 0;
}

/* Each name in checks must be a [check NAME] of this file. */
static void check_checks(const struct pw_config *c, const struct cf_report *r, size_t i)
{
    const struct pw_maint *w = &c->maints[i];
    for (const char *p = w->checks; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        p += strcspn(p, ",");
        if (!*name || check_named(c, name))
            continue;
        const char **cands = malloc((c->nchecks + 1) * sizeof *cands);
        for (size_t k = 0; cands && k < c->nchecks; k++)
            cands[k] = c->checks[k].name;
        const char *near = cands ? cf_nearest(name, cands, c->nchecks) : NULL;
        say(r, line_or_section(c, r, i, "checks"), w, "checks",
            "no [check %s] in this file%s%s%s; name checks defined here, separated by commas", name,
            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        free(cands);
    }
}

int pw_config_names_host(const struct pw_config *c, const char *host)
{
    for (size_t i = 0; i < PW_MAX_ROLES; i++)
        for (size_t k = 0; k < c->roles[i].n; k++)
            if (pw_strcasecmp(c->roles[i].names[k], host) == 0)
                return 1;
    for (size_t i = 0; i < c->nchecks; i++)
        for (size_t k = 0; k < c->checks[i].hosts.n; k++)
            if (pw_strcasecmp(c->checks[i].hosts.names[k], host) == 0)
                return 1;
    return 0;
}

/* A host nobody probes is a typo: the window would cover nothing there. */
static void check_hosts(const struct pw_config *c, const struct cf_report *r, size_t i)
{
    const struct pw_maint *w = &c->maints[i];
    for (size_t k = 0; k < w->hosts.n; k++)
        if (!pw_config_names_host(c, w->hosts.names[k]))
            say(r, line_or_section(c, r, i, "hosts"), w, "hosts",
                "'%s' is not a host of any [biztalk] role or [check]; name hosts this file probes",
                w->hosts.names[k]);
}

static int host_in(const struct pw_host_list *l, const char *host)
{
    for (size_t i = 0; i < l->n; i++)
        if (pw_strcasecmp(l->names[i], host) == 0)
            return 1;
    return 0;
}

/* Whether w may cover targets on host: it names the host or none, and
 * a role or check it names has the host (or it names none). */
static int covers_host(const struct pw_config *c, const struct pw_maint *w, const char *host)
{
    if (w->hosts.n && !host_in(&w->hosts, host))
        return 0;
    if (!w->roles && !(w->checks && *w->checks))
        return 1;
    for (int r = 0; r < PW_MAX_ROLES && pw_maint_role_names[r]; r++)
        if ((w->roles & (1 << r)) && host_in(&c->roles[r], host))
            return 1;
    struct pw_maint by_name = *w; /* roles and checks only */
    by_name.hosts.n = 0;
    by_name.ports.n = 0;
    const char *name[1];
    for (size_t i = 0; i < c->nchecks; i++) {
        name[0] = c->checks[i].name;
        if (host_in(&c->checks[i].hosts, host) && pw_maint_covers(&by_name, host, 0, name, 1))
            return 1;
    }
    return 0;
}

static int ports_meet(const struct pw_maint *a, const struct pw_maint *b)
{
    if (!a->ports.n || !b->ports.n)
        return 1;
    for (size_t i = 0; i < a->ports.n; i++)
        for (unsigned p = a->ports.r[i].lo; p <= a->ports.r[i].hi; p++)
            if (pw_portset_contains(&b->ports, (uint16_t)p))
                return 1;
    return 0;
}

/* Whether two windows may cover one target: a host both may cover, and
 * ports that meet (roles and checks are compared by host). */
static int may_share_targets(const struct pw_config *c, const struct pw_maint *a,
                             const struct pw_maint *b)
{
    if (!ports_meet(a, b))
        return 0;
    for (size_t i = 0; i < PW_MAX_ROLES; i++)
        for (size_t k = 0; k < c->roles[i].n; k++)
            if (covers_host(c, a, c->roles[i].names[k]) && covers_host(c, b, c->roles[i].names[k]))
                return 1;
    for (size_t i = 0; i < c->nchecks; i++)
        for (size_t k = 0; k < c->checks[i].hosts.n; k++)
            if (covers_host(c, a, c->checks[i].hosts.names[k]) &&
                covers_host(c, b, c->checks[i].hosts.names[k]))
                return 1;
    return 0;
}

static void format_utc(int64_t t, char *buf, size_t len)
{
    int64_t y;
    int m, d;
    int64_t days = t / 86400 - (t % 86400 < 0), secs = t - days * 86400;
    pw_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d UTC", (long long)y, m, d, (int)(secs / 3600),
             (int)(secs % 3600 / 60));
}

/* The first time in the year from now that both windows are open, or 0. */
static int64_t first_overlap(const struct pw_maint *a, const struct pw_maint *b, int64_t now)
{
    int64_t as, ae, bs, be, t = now;
    int64_t until = now + 366 * 86400LL;
    while (t < until && pw_schedule_next(&a->sched, pw_maint_zone(a), t, &as, &ae) == 0 &&
           pw_schedule_next(&b->sched, pw_maint_zone(b), t, &bs, &be) == 0) {
        if (as < be && bs < ae)
            return as > bs ? as : bs;
        t = ae < be ? ae : be; /* past the one that ends first */
    }
    return 0;
}

static void check_overlaps(const struct pw_config *c, const struct cf_report *r,
                           const char *parsed, int64_t now)
{
    for (size_t j = 1; j < c->nmaints; j++)
        for (size_t i = 0; i < j; i++) {
            const struct pw_maint *a = &c->maints[i], *b = &c->maints[j];
            if (!parsed[i] || !parsed[j] || !may_share_targets(c, a, b))
                continue;
            int64_t at = first_overlap(a, b, now);
            if (!at)
                continue;
            char when[40];
            format_utc(at, when, sizeof when);
            say(r, line_or_section(c, r, j, "schedule"), b, "schedule",
                "overlaps window '%s' (line %d) for the same targets at %s; merge the two "
                "windows, or move one, or give them targets apart", a->name, a->line, when);
            break;
        }
}

void cf_maint_validate(struct pw_config *c, int64_t now, const struct cf_report *r)
{
    if (!c->nmaints)
        return;
    char *parsed = calloc(c->nmaints, 1);
    if (!parsed)
        return;
    for (size_t i = 0; i < c->nmaints; i++) {
        parsed[i] = (char)parse_schedule_and_zone(c, r, i);
        check_checks(c, r, i);
        check_hosts(c, r, i);
    }
    check_overlaps(c, r, parsed, now);
    free(parsed);
}
