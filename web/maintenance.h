/*
 * Maintenance windows as the web layer sees them (issue 18): the windows
 * open now and the next ones, and for each target of one plan the open
 * window that covers it. The daemon builds one each second from the
 * configuration's [maintenance] sections and the database's one-off
 * windows (daemon/run_maint.c) and hands it out with each view; it is
 * immutable while a view holds it. api_maintenance.c answers
 * GET /api/v1/maintenance from it and gives status, health and metrics
 * the window of a target.
 */
#ifndef PW_WEB_MAINTENANCE_H
#define PW_WEB_MAINTENANCE_H

#include "web/web.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pw_web_window {
    char *name;
    char *reason;
    char *hosts;        /* separated by commas; "" for every host */
    char *roles;        /* role keys and check names; "" for every one */
    int64_t start_ms, end_ms;
    bool cli;           /* from `portwatch maintenance start`, else the configuration */
};

struct pw_web_maint {
    struct pw_web_window *active;   /* open now */
    size_t nactive;
    struct pw_web_window *upcoming; /* the next occurrence of each recurring window */
    size_t nupcoming;
    const void *plan;    /* the plan whose targets of_target indexes (compared, never read) */
    size_t ntargets;
    int32_t *of_target;  /* [ntargets]: index into active, or -1 */
    int refs;            /* the daemon's, under its lock */
};

/* The open window covering target i of v, or NULL (none, or the view's
 * plan is not the one the windows were matched against). */
const struct pw_web_window *pw_web_maint_of(const struct pw_web_view *v, size_t i);
/* Whether target i of v is failing inside an open window: its status then
 * reads "maintenance", and health does not count it. */
bool pw_web_in_maintenance(const struct pw_web_view *v, size_t i);
void pw_web_maint_free(struct pw_web_maint *m);

#endif
