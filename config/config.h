/*
 * The configuration: global settings, the hosts that hold each catalog role,
 * the RPC range, and operators' own checks; and the target plan expanded
 * from it. One table of keys (config.c) drives parsing, validation,
 * `config-check` and the README's reference.
 *
 * Flow: pw_config_load() -> pw_plan_build() -> probes/. Both collect every
 * problem into a pw_diag rather than stopping at the first.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include "config/catalog.h"
#include "base/error.h"
#include "config/maintenance.h"
#include "config/protocol.h"
#include "config/values.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Collected diagnostics, each one line: "FILE:LINE: [section] key: what".
 * Only the first PW_DIAG_KEEP are kept (a file of garbage must not cost a
 * message a line); the rest are counted in `more`, and pw_diag_print ends
 * with "... and N more". */
#define PW_DIAG_KEEP 100
struct pw_diag {
    char **msgs;
    size_t n;
    size_t more;
};
void pw_diag_add(struct pw_diag *d, const char *fmt, ...)
PW_PRINTF(2, 3)
    ;
/* Every problem added: kept and counted. */
size_t pw_diag_count(const struct pw_diag *d);
void pw_diag_print(const struct pw_diag *d, FILE *f);
void pw_diag_free(struct pw_diag *d);
/* FNV-1a of a name in lower case: the hash of hash sets that find check
 * and host names ignoring case. */
uint32_t pw_name_hash(const char *s);
/* The name in names[0..n) a mistyped word most likely meant, for "did you
 * mean" (the keys' messages use it, and the commands'), or NULL. */
const char *pw_nearest_name(const char *word, const char *const *names, size_t n);

enum pw_family {
    PW_FAMILY_ANY,  /* use the resolver's first answer */
    PW_FAMILY_IPV4, /* IPv4 only */
    PW_FAMILY_IPV6, /* IPv6 only */
    PW_FAMILY_PREFER_IPV4,
    PW_FAMILY_PREFER_IPV6,
    PW_FAMILY_COUNT_
};

/* The [portwatch] section. Later issues add fields here and rows to the key
 * table; nothing else needs to change. */
struct pw_settings {
    int vantage;       /* PW_VANTAGE_BIT() of each BizTalk role this server
                          holds; pw_vantage_name() names them */
    char *listen;      /* "127.0.0.1:8470" */
    char *database;    /* SQLite path */
    char *api_token;   /* NULL or "" when none */
    int allow_anonymous;
    int64_t interval_ms;
    int64_t timeout_ms;
    long long max_in_flight;
    long long max_per_host;
    long long fail_after;
    long long recover_after;
    int family;        /* enum pw_family */
    int log_level;     /* 0 error, 1 warn, 2 info, 3 debug */
    int64_t keep_raw_ms;      /* fine-tier retention */
    int64_t keep_hourly_ms;   /* coarse-tier retention */
    int64_t keep_events_ms;   /* state changes and outages */
    char *tls_certificate;    /* PEM file; with tls_key, the API speaks HTTPS */
    char *tls_key;
    char *tls_priorities;     /* GnuTLS priority string; NULL: web's default */
    long long http_max_connections;
    long long http_max_per_ip;
    int64_t http_timeout_ms;
    long long epm_every;      /* endpoint-mapper reads, in intervals */
    char *instance_name;      /* /metrics' instance_name; NULL: the host name */
    char *labels;             /* canonical "name=value,..." (pw_parse_labels) */
};

#define PW_MAX_ROLES 32

/* An operator's own check: a [check NAME] section. */
struct pw_check {
    char *name;
    int line;
    struct pw_host_list hosts;
    int hosts_line;      /* where hosts was set; 0 when not from a file */
    struct pw_portset ports;
    enum pw_expect expect;
    int64_t interval_ms; /* 0: the global interval */
    int64_t timeout_ms;  /* 0: the global timeout */
    char *reason;        /* what breaks when it fails */
    int protocol;        /* exchange after connecting: an enum pw_proto,
                            or PW_PROTO_AUTO (by port, as for catalog rows) */
};

struct pw_config {
    char *path;                              /* NULL when built ad hoc */
    struct pw_settings s;
    struct pw_host_list roles[PW_MAX_ROLES]; /* indexed like pw_catalog_roles() */
    int role_lines[PW_MAX_ROLES];            /* where each was set; 0: not set */
    struct pw_portset rpc_range;             /* replaces the catalog's 50000-50200 */
    int verify;                              /* prove the catalog's services answer */
    long long analysis_port;                 /* replaces the catalog's OLAP 2383/2393 */
    long long portal_port;                   /* replaces the BAM portal's "80 or 443" */
    int configuring;                         /* also rows needed only while BizTalk
                                                Configuration Manager runs */
    int64_t rpc_sweep_ms;                    /* 0: the range every interval; else
                                                covered once per this period */
    long long rpc_sweep_rate;                /* most range probes a second to one
                                                host; may stretch the period */
    struct pw_check *checks;
    size_t nchecks;
    struct pw_maint *maints;                 /* [maintenance NAME] sections */
    size_t nmaints;
};

/* A config holding only defaults: no roles, no checks. */
struct pw_config *pw_config_new(void);
/* Reads and validates a file. Returns 0 and *out, or a negative pw_err with
 * every problem in diag (and *out NULL). */
int pw_config_load(const char *path, struct pw_config **out, struct pw_diag *diag);
/* The same for a buffer; name is used in messages. */
int pw_config_load_buffer(const char *name, const char *buf, size_t len,
                          struct pw_config **out, struct pw_diag *diag);
/* Applies one "key = value" of the [portwatch] section, as from the command
 * line; problems go to diag with `origin` in place of file:line. */
int pw_config_set(struct pw_config *c, const char *key, const char *value,
                  const char *origin, struct pw_diag *diag);
/* Adds an ad hoc check (command line `-p PORTS HOST...`). Takes the
 * strings by copy. */
int pw_config_add_check(struct pw_config *c, const char *name,
                        const char *hosts, const char *ports,
                        enum pw_expect expect, struct pw_diag *diag);
/* Warnings for `config-check` about the hosts as the resolver answers now:
 * a name that does not resolve, and two names for one address (localhost
 * and 127.0.0.1). One line each, "FILE:LINE: warning: [section] key: what",
 * added to out; never errors, since DNS may differ where the file is
 * checked. Resolves every distinct name once (blocking, in parallel). */
void pw_config_host_warnings(const struct pw_config *c, struct pw_diag *out);
void pw_config_free(struct pw_config *c);
/* Whether a [biztalk] role or a [check] names host (ignoring case). */
int pw_config_names_host(const struct pw_config *c, const char *host);

/* [biztalk] rpc_sweep_rate's limits, probes a second per host. */
#define PW_RPC_SWEEP_RATE_MIN 1
#define PW_RPC_SWEEP_RATE_MAX 1000

/* The key table, for `config-check --keys` and the README reference. */
enum pw_key_type {
    PW_KEY_STRING,
    PW_KEY_DURATION,
    PW_KEY_INT,
    PW_KEY_BOOL,
    PW_KEY_ENUM,
    PW_KEY_HOSTS,
    PW_KEY_PORTS,
    PW_KEY_LISTEN,
    PW_KEY_RATE,    /* "10" or "10/s": a whole number a second */
    PW_KEY_SET,     /* some of the choices, separated by commas: a bit each */
    PW_KEY_PROTOCOL, /* "auto" or a protocol's name (config/protocol.h) */
    PW_KEY_LABELS,  /* name=value pairs (pw_parse_labels), kept as a string */
    PW_KEY_TYPE_COUNT_
};

struct pw_key {
    const char *section; /* "portwatch", "biztalk", "check", "maintenance" */
    const char *name;
    enum pw_key_type type;
    const char *def;     /* default as written in the file, or NULL */
    long long min, max;  /* INT, RATE and DURATION (ms) limits; 0,0 = none.
                            STRING: min 1 refuses an empty value */
    const char *const *choices; /* ENUM and SET: NULL-terminated */
    size_t offset;       /* into the struct the section fills */
    bool restart;        /* held by the running HTTP server or store: a
                            reload that changes it keeps the running value
                            and says the key waits for a restart */
    const char *help;
};
const struct pw_key *pw_config_keys(size_t *count);
/* The key table's entry for [section] name ("check" for [check NAME]),
 * or NULL: defaults and choices have their one home there. */
const struct pw_key *pw_config_key(const char *section, const char *name);
/* Whether a and b hold different values of k, a [portwatch] or [biztalk]
 * key of a scalar type (string, listen, duration, int, rate, bool, enum,
 * set); 0 for any other key. */
int pw_config_key_differs(const struct pw_key *k, const struct pw_config *a,
                          const struct pw_config *b);
/* Writes the configuration reference as Markdown (README section). */
void pw_config_write_reference(FILE *f);

/* ---- The target plan ---------------------------------------------------- */

/* One reason a target must work: a catalog row's or a check's. */
struct pw_reason {
    const char *role;    /* role key or check name */
    const char *service; /* "SQL Server", "DTC", or the check's name */
    const char *text;    /* what breaks when it fails */
    int row;             /* catalog row number, 0 for an operator's check */
    const char *vantage; /* the row's table ("processing"), NULL for a check */
};

/* What a set of targets serves. Targets whose (expectation, roles, reasons,
 * timing) are equal share one profile, so a 201-port range costs one. */
struct pw_profile {
    enum pw_expect expect;
    int64_t interval_ms;
    int64_t timeout_ms;
    const char **roles;  /* role keys / check names, sorted, unique */
    size_t nroles;
    struct pw_reason *reasons; /* in catalog order, then checks */
    size_t nreasons;
    int rpc_range;       /* nonzero if any reason is the secondary RPC range */
    /* The exchange after a successful connect: an enum pw_proto
     * (config/protocol.h), or PW_PROTO_AUTO to choose by port as for the
     * catalog (probes/verify.c's port column). An operator's check that
     * names a protocol wins over the catalog. */
    int verify_proto;
};

struct pw_target {
    uint32_t host;    /* index into plan->hosts */
    uint16_t port;
    uint16_t profile; /* index into plan->profiles */
};

struct pw_host {
    char *name;          /* as first written in the configuration */
    uint32_t first;      /* its targets are plan->targets[first .. first+n) */
    uint32_t n;
};

/* Targets sorted by host (in order of first appearance) then port; a
 * (host, port) named by several rows, roles or checks is one target. A
 * target's index is its id for the life of the plan. */
struct pw_plan {
    struct pw_host *hosts;
    size_t nhosts;
    struct pw_target *targets;
    size_t ntargets;
    struct pw_profile *profiles;
    size_t nprofiles;
    void *arena_;        /* owns the strings */
};

int pw_plan_build(const struct pw_config *c, struct pw_plan **out, struct pw_diag *diag);

/* TCP ports a host's RPC endpoint mapper registered, as the daemon's
 * endpoint watch last read them: an input of plan building next to the
 * configuration, never added to it. Each is planned as the check
 * "rpc-registered" on that host: the ports expected listening (a connect,
 * no exchange), `reason` what breaks. Borrowed for the call only. */
struct pw_plan_registered {
    const char *host;     /* as a plan names it */
    const uint16_t *ports;
    size_t nports;
    const char *reason;   /* "registered with the endpoint mapper: ..." */
};
#define PW_PLAN_REGISTERED_NAME "rpc-registered"
/* pw_plan_build with registered ports too (reg may be NULL when nreg is 0). */
int pw_plan_build_with(const struct pw_config *c, const struct pw_plan_registered *reg,
                       size_t nreg, struct pw_plan **out, struct pw_diag *diag);
/* How long one pass over secondary_rpc_ports takes on each host: what the
 * configuration asks (rpc_sweep_period, and never less than the interval),
 * stretched when needed so that no host gets more than rpc_sweep_rate range
 * probes a second. A stretched period is whole seconds. When asked_ms is
 * not NULL it receives the period asked. */
int64_t pw_plan_rpc_sweep_ms(const struct pw_config *c, int64_t *asked_ms);
/* What the plan does otherwise than the configuration asks (a sweep
 * stretched by rpc_sweep_rate), one line each, "[section] key: what"; the
 * plan owns them. Not errors: config-check prints them after the plan and
 * the daemon logs them as warnings. Never NULL. */
const struct pw_diag *pw_plan_warnings(const struct pw_plan *p);
/* Who watches, as /metrics labels its series: [portwatch] instance_name
 * (the machine's host name when unset), the vantage bits, and the static
 * labels in canonical form ("group=prod-a,site=ams", "" for none). A plan
 * not built by pw_plan_build (a test's) has "", 0, "". Owned by the plan. */
struct pw_plan_identity {
    const char *instance_name;
    int vantage;
    const char *labels;
};
const struct pw_plan_identity *pw_plan_identity(const struct pw_plan *p);
/* A note for each destination role that rows of the configured vantages
 * need but [biztalk] does not name hosts for, with the rows it leaves
 * unwatched ("processing rows 7-9, 26"). Not errors: a server may not use
 * every part of BizTalk; config-check prints them as "note: ...". */
void pw_plan_role_notes(const struct pw_config *c, struct pw_diag *out);
/* A plan restricted to targets on host `host` and/or serving role `role`
 * (NULL: no restriction). Returns PW_ENOT_FOUND when nothing matches. */
int pw_plan_filter(const struct pw_plan *p, const char *host, const char *role,
                   struct pw_plan **out);
void pw_plan_free(struct pw_plan *p);

static inline const struct pw_profile *
pw_target_profile(const struct pw_plan *p, const struct pw_target *t)
{
    return &p->profiles[t->profile];
}

/* Prints the plan as `config-check` shows it: per host its ports (ranges
 * summarized), roles and expectations; then totals, then each of
 * pw_plan_warnings() as "warning: ...". */
void pw_plan_print(const struct pw_plan *p, FILE *f);

#endif
