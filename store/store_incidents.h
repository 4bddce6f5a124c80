/*
 * Incidents (issue 16): outages that began together, read from the outages
 * table at query time (no schema change). Outages belong to one incident
 * when they began within one window of the incident's first outage (about
 * one sweep: the caller passes the plan's longest interval plus timeout)
 * and are linked by shared hosts or causes, so a firewall change that
 * drops 201 RPC ports on three servers at 14:02 is one incident, and a
 * dead SQL Server on one host beside an unrelated refusal elsewhere are
 * two. Used by the incidents API, the report (web/report.c) and
 * `portwatch report`.
 */
#ifndef PW_STORE_INCIDENTS_H
#define PW_STORE_INCIDENTS_H

#include "store/store.h"

/* One outage of an incident, with what the state run it began in said. */
struct pw_store_incident_target {
    int64_t outage_id;
    uint32_t target_id;
    char host[256];
    uint16_t port;
    char roles[256];          /* role keys, comma-separated */
    int64_t start_ms, end_ms; /* end -1 while open */
    enum pw_state state;      /* the failing state that opened it */
    enum pw_verify verify;    /* of the state run it began in (NONE: no
                                 connect, or not recorded before v3) */
    char verify_info[PW_VERIFY_INFO_MAX];
    char detail[PW_DETAIL_MAX];
    bool planned;             /* it began inside a maintenance window */
};

struct pw_store_incident {
    char id[48];              /* "<first start ms>-<first outage id>": stable */
    int64_t start_ms, end_ms; /* end -1 while any outage is open */
    size_t first, n;          /* its outages: list->t[first .. first+n),
                                 oldest first */
};

struct pw_store_incident_list {
    struct pw_store_incident *v; /* newest start first */
    size_t n;
    struct pw_store_incident_target *t;
    size_t nt;
    bool truncated;              /* the filter's limit left older ones out */
};

struct pw_store_incident_filter {
    int64_t from_ms, to_ms;   /* incidents overlapping [from, to) (required) */
    const char *host;         /* NULL: any; else incidents covering it */
    const char *role;         /* NULL: any; else incidents covering it */
    int open;                 /* -1 any, 1 only open, 0 only ended */
    int64_t window_ms;        /* "began together" (0: 60000) */
    size_t limit;             /* 0: all; else the newest `limit` only */
};

/* The incidents matching f, newest first. PW_ENOT_FOUND when f->host or
 * f->role names no target the database ever had; PW_EINVAL for an empty
 * range. Free with pw_store_incident_list_free (also after an error). */
int pw_store_query_incidents(struct pw_store *st, const struct pw_store_incident_filter *f,
                             struct pw_store_incident_list *out);
void pw_store_incident_list_free(struct pw_store_incident_list *l);

/* Whether the comma-separated role list `roles` (a target's, as the store
 * keeps it) has `role`. */
bool pw_store_roles_have(const char *roles, const char *role);

#endif
