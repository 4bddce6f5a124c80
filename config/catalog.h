/*
 * The built-in port catalog: what a BizTalk Server administration server
 * must reach, row for row from Microsoft's "Ports for the Administration
 * Server" table. It is data, read by config expansion (roles -> targets),
 * by `portwatch catalog`, and by the web layer to name the administrative
 * tasks a failing port breaks.
 */
#ifndef PW_CATALOG_H
#define PW_CATALOG_H

#include "config/values.h"

#include <stddef.h>
#include <stdint.h>

/* What a probe result must show for a target to count as healthy. */
enum pw_expect {
    PW_EXPECT_LISTENING, /* only "open" passes: something must accept */
    PW_EXPECT_REACHABLE, /* "open" or "closed" pass: the firewall lets it through */
};

const char *pw_expect_name(enum pw_expect e);
/* Returns 0 and sets *out, or PW_EINVAL for anything but the two names. */
int pw_expect_parse(const char *s, enum pw_expect *out);

/* A destination role: one kind of server the administration server talks to. */
struct pw_role {
    const char *key;   /* configuration key and API name: "management_database" */
    const char *title; /* the table's wording: "BizTalk Management database" */
};

struct pw_catalog_row {
    int number;           /* row number in the source table, 1-based */
    int role;             /* index into pw_catalog_roles() */
    const char *service;  /* "SQL Server", "DTC", "WMI/RPC", ... */
    uint16_t port_lo;     /* first port */
    uint16_t port_hi;     /* last port; equals port_lo for a single port */
    int rpc_range;        /* nonzero: the secondary RPC range, replaced by
                             the configured one */
    const char *protocol; /* "TCP" */
    enum pw_expect expect;
    const char *reason;   /* the table's reason, whole */
};

struct pw_catalog {
    const char *name;        /* "biztalk-admin" */
    const char *title;
    const struct pw_catalog_row *rows;
    size_t nrows;
};

const struct pw_role *pw_catalog_roles(size_t *count);
/* Index of the role with this key, or -1. */
int pw_catalog_role_find(const char *key);
const struct pw_catalog *pw_catalog_biztalk_admin(void);
/* What the catalog expects of a port named without a role (`check -p`,
 * `run -p`): the expectation of its rows that name the port, with
 * rpc_range (the configured secondary RPC range) standing for the range
 * rows; the stricter one when several do, as a plan merges them. A port
 * no row names is expected listening. */
enum pw_expect pw_catalog_port_expect(uint16_t port, const struct pw_portset *rpc_range);

#endif
