/*
 * `portwatch maintenance start|end|list`: one-off maintenance windows,
 * written to the history database the configuration names, where a
 * running daemon reads them within a second (store/store_maint.h). There
 * is no HTTP write endpoint: whoever may write the database may declare
 * planned work, and nobody else. `list` shows the configuration's windows
 * too (the one open now or the next of each).
 * Exit codes: 0 done; 2 usage, configuration or storage error.
 */
#include "base/text.h"
#include "daemon/cli.h"

#include "base/error.h"
#include "store/store_maint.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOR_MS (7 * 86400000LL)
#define MIN_FOR_MS 1000LL

/* The configuration; positionals are ours, so the loader sees none. */
static struct pw_config *config_of(const struct pw_command *cmd, const struct pw_args *a)
{
    struct pw_args conf = *a;
    conf.npos = 0;
    return pw_cli_config(cmd, &conf);
}

static int role_named(const struct pw_config *c, const char *role)
{
    for (size_t r = 0; pw_maint_role_names[r]; r++)
        if (strcmp(pw_maint_role_names[r], role) == 0 && c->roles[r].n)
            return 1;
    for (size_t i = 0; i < c->nchecks; i++)
        if (pw_strcasecmp(c->checks[i].name, role) == 0)
            return 1;
    return 0;
}

/* Each name of a comma-separated list must pass ok(); the first that does
 * not is named. */
static int check_list(const struct pw_config *c, const char *opt, const char *list,
                      int (*ok)(const struct pw_config *, const char *), const char *what)
{
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        p += len + (p[len] == ',');
        if (!*name || !ok(c, name)) {
            fprintf(stderr, "portwatch maintenance start: --%s '%s' is not %s in %s; name %s the "
                    "configuration has, separated by commas\n", opt, name, what,
                    c->path ? c->path : "the configuration",
                    strcmp(opt, "host") == 0 ? "hosts" : "roles or checks");
            return -1;
        }
    }
    return 0;
}

/* Names as [maintenance NAME] takes them: they go into metrics labels. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static int cmd_start(const struct pw_command *cmd, const struct pw_args *a, struct pw_config *c)
{
    const char *wname = pw_arg(cmd, a, "name");
    if (wname && !valid_name(wname)) {
        fprintf(stderr, "portwatch maintenance start: --name '%.80s' is not allowed; use 1-64 "
                "letters, digits, '-', '_' or '.'\n", wname);
        return PW_EXIT_USAGE;
    }
    const char *dur = pw_arg(cmd, a, "for"), *reason = pw_arg(cmd, a, "reason");
    const char *host = pw_arg(cmd, a, "host"), *role = pw_arg(cmd, a, "role");
    int64_t for_ms = 0;
    char err[PW_STORE_MSG_MAX];
    if (!dur || pw_parse_duration(dur, &for_ms, err) != 0 || for_ms < MIN_FOR_MS ||
        for_ms > MAX_FOR_MS) {
        fprintf(stderr, "portwatch maintenance start: --for %s%s; give how long the work takes, "
                "from 1s to 7d, e.g. --for 2h\n", dur ? dur : "is needed",
                dur && for_ms ? " is out of range" : dur ? ": not a duration" : "");
        return PW_EXIT_USAGE;
    }
    if (!reason || !*reason) {
        fprintf(stderr, "portwatch maintenance start: --reason is needed; say what the work is, "
                "e.g. --reason \"SQL Server patching\"\n");
        return PW_EXIT_USAGE;
    }
    if (check_list(c, "host", host, pw_config_names_host, "a host of any role or check") != 0 ||
        check_list(c, "role", role, role_named, "a role with hosts, nor a check,") != 0)
        return PW_EXIT_USAGE;
    int64_t now = pw_wall_ms(), id = 0;
    struct pw_store_maint w = {
        .name = (char *)pw_arg(cmd, a, "name"), .start_ms = now, .end_ms = now + for_ms,
        .hosts = (char *)(host ? host : ""), .roles = (char *)(role ? role : ""),
        .reason = (char *)reason,
    };
    if (pw_store_maint_add(c->s.database, &w, &id, err) != 0) {
        fprintf(stderr, "portwatch maintenance start: %s\n", err);
        return PW_EXIT_USAGE;
    }
    char until[32];
    pw_format_rfc3339(w.end_ms, until, sizeof until);
    char name[80];
    snprintf(name, sizeof name, "%s", w.name && *w.name ? w.name : "");
    if (!*name)
        snprintf(name, sizeof name, "cli-%lld", (long long)id);
    printf("maintenance window %s open until %s over %s%s%s%s: %s\n", name, until,
           host ? "hosts " : "", host ? host : "", role ? (host ? ", roles " : "roles ") : "",
           role ? role : (host ? "" : "every target"), reason);
    return PW_EXIT_OK;
}

static int cmd_end(const struct pw_command *cmd, const struct pw_args *a, struct pw_config *c)
{
    int all = pw_arg(cmd, a, "all") != NULL;
    if ((a->npos == 2) == all || a->npos > 2) {
        fprintf(stderr, "portwatch maintenance end: name one window (as `portwatch maintenance "
                "list` shows it), or give --all\n");
        return PW_EXIT_USAGE;
    }
    char err[PW_STORE_MSG_MAX];
    int ended = 0;
    if (pw_store_maint_end(c->s.database, all ? NULL : a->pos[1], pw_wall_ms(), &ended,
                           err) != 0) {
        fprintf(stderr, "portwatch maintenance end: %s\n", err);
        return PW_EXIT_USAGE;
    }
    printf("ended %d window%s\n", ended, ended == 1 ? "" : "s");
    return PW_EXIT_OK;
}

static void print_row(const char *name, const char *source, int64_t start, int64_t end,
                      const char *targets, const char *reason)
{
    char s[32], e[32];
    pw_format_rfc3339(start, s, sizeof s);
    pw_format_rfc3339(end, e, sizeof e);
    printf("%-20s %-7s %-25s %-25s %-24s %s\n", name, source, s, e, *targets ? targets : "all",
           reason);
}

static int cmd_list(struct pw_config *c)
{
    int64_t now = pw_wall_ms();
    struct pw_store_maint *w;
    size_t n;
    char err[PW_STORE_MSG_MAX];
    if (pw_store_maint_list(c->s.database, now, &w, &n, err) != 0) {
        fprintf(stderr, "portwatch maintenance list: %s\n", err);
        return PW_EXIT_USAGE;
    }
    printf("%-20s %-7s %-25s %-25s %-24s %s\n", "NAME", "SOURCE", "START", "END", "TARGETS",
           "REASON");
    for (size_t i = 0; i < n; i++) {
        char targets[256];
        snprintf(targets, sizeof targets, "%s%s%s", w[i].hosts, *w[i].hosts && *w[i].roles ?
                 "; " : "", w[i].roles);
        print_row(w[i].name, "cli", w[i].start_ms, w[i].end_ms, targets, w[i].reason);
    }
    pw_store_maint_free(w, n);
    for (size_t i = 0; i < c->nmaints; i++) {
        const struct pw_maint *m = &c->maints[i];
        int64_t st, en;
        if (pw_schedule_next(&m->sched, pw_maint_zone(m), now / 1000, &st, &en) != 0)
            continue;
        char targets[256];
        size_t used = 0;
        targets[0] = '\0';
        for (size_t k = 0; k < m->hosts.n && used < sizeof targets; k++)
            used += (size_t)snprintf(targets + used, sizeof targets - used, "%s%s", k ? "," : "",
                                     m->hosts.names[k]);
        for (size_t r = 0; pw_maint_role_names[r] && used < sizeof targets; r++)
            if (m->roles & (1 << r))
                used += (size_t)snprintf(targets + used, sizeof targets - used, "%s%s",
                                         used ? "," : "", pw_maint_role_names[r]);
        if (m->checks && *m->checks && used < sizeof targets)
            snprintf(targets + used, sizeof targets - used, "%s%s", used ? "," : "", m->checks);
        print_row(m->name, "config", st * 1000, en * 1000, targets, m->reason ? m->reason : "");
    }
    return PW_EXIT_OK;
}

int pw_cmd_maintenance(const struct pw_command *cmd, const struct pw_args *a)
{
    const char *what = a->npos > 0 ? a->pos[0] : "";
    int start = strcmp(what, "start") == 0, end = strcmp(what, "end") == 0;
    int list = strcmp(what, "list") == 0;
    if (!start && !end && !list) {
        fprintf(stderr, "portwatch maintenance: %s%s%s; use start, end or list\n",
                what[0] ? "unknown action '" : "an action is needed", what, what[0] ? "'" : "");
        return PW_EXIT_USAGE;
    }
    if ((start || list) && a->npos != 1) {
        fprintf(stderr, "portwatch maintenance %s: unexpected '%s'; options go with --\n", what,
                a->pos[1]);
        return PW_EXIT_USAGE;
    }
    struct pw_config *c = config_of(cmd, a);
    if (!c)
        return PW_EXIT_USAGE;
    int rc = start ? cmd_start(cmd, a, c) : end ? cmd_end(cmd, a, c) : cmd_list(c);
    pw_config_free(c);
    return rc;
}
