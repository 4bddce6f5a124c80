/*
 * The built-in port catalog: for each vantage (the BizTalk server role
 * portwatch runs on), what that server must reach, row for row from
 * Microsoft's "Ports for ..." tables. It is data, read by config expansion
 * (vantages -> rows -> roles -> targets), by `portwatch catalog`, and by
 * the web layer to name the tasks a failing port breaks.
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
    PW_EXPECT_COUNT_
};
/* "listening", "reachable", then NULL: [check] expect's choices too. */
extern const char *const pw_expect_names[PW_EXPECT_COUNT_ + 1];

const char *pw_expect_name(enum pw_expect e);
/* Returns 0 and sets *out, or PW_EINVAL for anything but the two names. */
int pw_expect_parse(const char *s, enum pw_expect *out);

/* The destination roles, one line each: enum name, [biztalk] key (also the
 * API's name), the tables' title, and what the key's help says the hosts
 * hold. The catalog's roles and the configuration's role keys both expand
 * this list, so a role has one home. New roles go at the end: a role's
 * index is its place in pw_config's roles[]. */
#define PW_ROLES(X)                                                                          \
    X(PW_ROLE_MANAGEMENT_DB, "management_database", "BizTalk Management database",          \
      "BizTalk Management database")                                                         \
    X(PW_ROLE_BAM_PRIMARY_IMPORT_DB, "bam_primary_import_database",                          \
      "BAM Primary Import database", "BAM Primary Import database")                          \
    X(PW_ROLE_MESSAGEBOX_DB, "messagebox_database", "MessageBox database",                   \
      "MessageBox database")                                                                 \
    X(PW_ROLE_PROCESSING, "processing_servers", "Processing server",                         \
      "BizTalk processing servers (WMI, SMB and Message Queuing; the SSO service for the "   \
      "master secret server)")                                                               \
    X(PW_ROLE_RULE_ENGINE_DB, "rule_engine_database", "Business Rule Engine database",       \
      "Business Rule Engine database")                                                       \
    X(PW_ROLE_TRACKING_DB, "tracking_database", "Tracking database", "Tracking database")   \
    X(PW_ROLE_IIS, "iis_servers", "IIS Server",                                              \
      "IIS servers hosting BizTalk HTTP and Web Service ports")                              \
    X(PW_ROLE_SSO_DB, "sso_database", "SSO database", "Enterprise SSO database")             \
    X(PW_ROLE_MASTER_SECRET, "master_secret_server", "Master secret server",                 \
      "Enterprise SSO master secret server")                                                 \
    X(PW_ROLE_BAM_STAR_SCHEMA_DB, "bam_star_schema_database", "BAM Star Schema database",    \
      "BAM Star Schema database")                                                            \
    X(PW_ROLE_BAM_ARCHIVE_DB, "bam_archive_database", "BAM Archive database",                \
      "BAM Archive database")                                                                \
    X(PW_ROLE_BAM_ANALYSIS_DB, "bam_analysis_database", "BAM Analysis database",             \
      "BAM Analysis database (SQL Server Analysis Services)")                                \
    X(PW_ROLE_BIZTALK_ANALYSIS_DB, "biztalk_analysis_database", "BizTalk Analysis database", \
      "BizTalk Analysis database (SQL Server Analysis Services)")                            \
    X(PW_ROLE_BAM_NOTIFICATION_DB, "bam_notification_services_database",                     \
      "BAM Notification Services", "BAM Notification Services database")                    \
    X(PW_ROLE_FILE_SHARES, "file_shares", "File share / EDI documents home share",           \
      "file shares the File adapter reads and writes (and the EDI documents home share)")    \
    X(PW_ROLE_FTP, "ftp_servers", "FTP Server", "FTP servers the FTP adapter reaches")       \
    X(PW_ROLE_POP3, "pop3_servers", "POP3 Server", "POP3 servers the POP3 adapter reaches")  \
    X(PW_ROLE_SMTP, "smtp_servers", "SMTP/Exchange",                                         \
      "SMTP or Exchange servers the SMTP adapter reaches")                                   \
    X(PW_ROLE_SQL_ADAPTER, "sql_adapter_targets", "SQL adapter target",                      \
      "SQL Servers the SQL adapter reads and writes")                                        \
    X(PW_ROLE_BAM_PORTAL_SITE, "bam_portal_site", "Inbound clients",                         \
      "BAM portal site, probed on bam_portal_port (this BAM Portal server's own name: "      \
      "clients connect to it)")

#define PW_ROLE_ENUM_(id, key, title, what) id,
enum pw_role_id { PW_ROLES(PW_ROLE_ENUM_) PW_NROLES };
#undef PW_ROLE_ENUM_

/* A destination role: one kind of server a vantage talks to. */
struct pw_role {
    const char *key;   /* configuration key and API name: "management_database" */
    const char *title; /* the tables' wording: "BizTalk Management database" */
};

/* The vantages: the server roles Microsoft gives a table for. */
enum pw_vantage {
    PW_VANTAGE_ADMINISTRATION,
    PW_VANTAGE_PROCESSING,
    PW_VANTAGE_TRACKING,
    PW_VANTAGE_RECEIVE_SEND,
    PW_VANTAGE_SSO,
    PW_VANTAGE_MASTER_SECRET,
    PW_VANTAGE_BAM_PORTAL,
    PW_NVANTAGES
};
/* [portwatch] vantage holds one bit per vantage: 1 << enum pw_vantage. */
#define PW_VANTAGE_BIT(v) (1 << (v))

/* Where a row's port comes from: the page, or a key that replaces it. */
enum pw_port_key {
    PW_PORT_AS_LISTED,
    PW_PORT_RPC_RANGE, /* [biztalk] secondary_rpc_ports */
    PW_PORT_ANALYSIS,  /* [biztalk] analysis_services_port */
    PW_PORT_PORTAL,    /* [biztalk] bam_portal_port */
};
/* The key's name ("secondary_rpc_ports"), or NULL for PW_PORT_AS_LISTED. */
const char *pw_port_key_name(enum pw_port_key k);

struct pw_catalog_row {
    int number;           /* row number in the source table, 1-based */
    int role;             /* enum pw_role_id, index into pw_catalog_roles() */
    const char *context;  /* "Service or application context", NULL where the
                             page has no such column */
    const char *service;  /* "SQL Server", "DTC", "WMI/RPC", ... as the page has it */
    uint16_t port_lo;     /* first port, as the page gives it */
    uint16_t port_hi;     /* last port; equals port_lo for a single port */
    uint16_t port_or;     /* nonzero: the page says "port_lo or port_or" */
    enum pw_port_key port_key;
    const char *protocol; /* as the page has it: "TCP", or on the tracking
                             page "" and "TCO"; every row is probed over TCP */
    enum pw_expect expect;
    int configuring;      /* only while BizTalk Configuration Manager runs */
    const char *reason;
};

struct pw_catalog {
    const char *title;       /* the page's title */
    const char *source;      /* the page's address */
    const char *version;     /* which revision of the page, and what changed */
    const char *const *notes; /* NULL-terminated: choices made where the pages
                                 are silent, ambiguous or disagree */
    const struct pw_catalog_row *rows;
    size_t nrows;
};

/* Most rows any set of vantages can select. */
#define PW_CATALOG_MAX_ROWS 160

const struct pw_role *pw_catalog_roles(size_t *count);
/* Index of the role with this key, or -1. */
int pw_catalog_role_find(const char *key);
/* The table of one vantage; NULL out of range. */
const struct pw_catalog *pw_catalog_vantage(enum pw_vantage v);
/* The vantages' names in enum pw_vantage's order, NULL-terminated: the
 * choices of [portwatch] vantage and `catalog --vantage`. */
extern const char *const pw_vantage_names[PW_NVANTAGES + 1];
/* The vantage's name ("receive-send"), or "?". */
const char *pw_vantage_name(enum pw_vantage v);
/* What the catalog expects of a port named without a role (`check -p`,
 * `run -p`): the expectation of the rows of every vantage that name the
 * port, with rpc_range (the configured secondary RPC range) standing for
 * the range rows; the stricter one when several do, as a plan merges them.
 * A port no row names is expected listening. */
enum pw_expect pw_catalog_port_expect(uint16_t port, const struct pw_portset *rpc_range);

#endif
