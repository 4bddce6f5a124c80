/*
 * The configuration's one table of keys: which sections and keys exist,
 * their types, defaults, limits, whether a reload applies them, and their
 * help. Everything else (the loader in config.c, apply.c, diag.c,
 * reference.c, daemon/options.c) reads it from here.
 */
#include "config/config_int.h"

#include "config/catalog.h"

#include <stddef.h>
#include <string.h>

/* ---- the key table ----------------------------------------------------- */

static const char *const family_choices[] = {
    [PW_FAMILY_ANY] = "any",
    [PW_FAMILY_IPV4] = "ipv4",
    [PW_FAMILY_IPV6] = "ipv6",
    [PW_FAMILY_PREFER_IPV4] = "prefer-ipv4",
    [PW_FAMILY_PREFER_IPV6] = "prefer-ipv6",
    [PW_FAMILY_COUNT_] = NULL,
};
_Static_assert(sizeof family_choices / sizeof family_choices[0] == PW_FAMILY_COUNT_ + 1,
               "a choice per enum pw_family, then NULL");
/* The daemon's log levels (daemon/log.h): 0 error .. 3 debug. */
static const char *const log_choices[] = {"error", "warn", "info", "debug", NULL};

#define S(f) offsetof(struct pw_settings, f)
#define B(f) offsetof(struct pw_config, f)
#define C(f) offsetof(struct pw_check, f)
#define M(f) offsetof(struct pw_maint, f)
/* Whether a reload applies the key or the running one stays (pw_key.restart). */
#define LIVE false
#define RESTART true

#define ROLE_KEY(id, key, title, what)                                             \
    {"biztalk", key, PW_KEY_HOSTS, NULL, 0, 0, NULL, B(roles[id]), LIVE,           \
     "Hosts holding the " what ", separated by commas (names, IPv4 or IPv6 "        \
     "addresses). One host may appear under several roles."},

const struct pw_key cf_keys[] = {
    {"portwatch", "listen", PW_KEY_LISTEN, "127.0.0.1:8470", 0, 0, NULL, S(listen), RESTART,
     "Address and port of the HTTP API and dashboard. Loopback by default; any other "
     "address needs api_token, or allow_anonymous = yes."},
    {"portwatch", "database", PW_KEY_STRING, "portwatch.db", 1, 0, NULL, S(database), RESTART,
     "SQLite file that keeps the history; relative paths start at the working directory."},
    {"portwatch", "interval", PW_KEY_DURATION, "30s", 1 * PW_SECOND_MS, PW_DAY_MS, NULL, S(interval_ms),
     LIVE, "How often every target is probed; starts are spread evenly over it."},
    {"portwatch", "timeout", PW_KEY_DURATION, "3s", 10, 60 * PW_SECOND_MS, NULL, S(timeout_ms), LIVE,
     "How long a connection attempt may take before the port counts as filtered."},
    {"portwatch", "max_in_flight", PW_KEY_INT, "256", 1, 65536, NULL, S(max_in_flight), LIVE,
     "Most connection attempts under way at once, over all hosts."},
    {"portwatch", "max_per_host", PW_KEY_INT, "32", 1, 4096, NULL, S(max_per_host), LIVE,
     "Most connection attempts under way at once to one host that answers. A host whose last "
     "2 x max_per_host attempts all timed out (it drops every SYN) is held by max_in_flight "
     "alone until it answers again."},
    {"portwatch", "fail_after", PW_KEY_INT, "2", 1, 100, NULL, S(fail_after), LIVE,
     "Consecutive failed probes before a target is reported down."},
    {"portwatch", "recover_after", PW_KEY_INT, "1", 1, 100, NULL, S(recover_after), LIVE,
     "Consecutive passing probes before a down target is reported up again."},
    {"portwatch", "address_family", PW_KEY_ENUM, "any", 0, 0, family_choices, S(family), LIVE,
     "Which addresses of a host name to probe: any, ipv4, ipv6, prefer-ipv4 or prefer-ipv6."},
    {"portwatch", "api_token", PW_KEY_STRING, NULL, 0, 0, NULL, S(api_token), RESTART,
     "Bearer token the HTTP API requires (Authorization: Bearer TOKEN). Required when "
     "listen is not a loopback address."},
    {"portwatch", "allow_anonymous", PW_KEY_BOOL, "no", 0, 0, NULL, S(allow_anonymous), RESTART,
     "Serve a non-loopback listen address without api_token. Only for trusted networks."},
    {"portwatch", "log_level", PW_KEY_ENUM, "info", 0, 0, log_choices, S(log_level), LIVE,
     "Least severe log messages written: error, warn, info or debug."},
    {"portwatch", "tls_certificate", PW_KEY_STRING, NULL, 0, 0, NULL, S(tls_certificate), RESTART,
     "PEM certificate file; with tls_key set too, the API is served over HTTPS."},
    {"portwatch", "tls_key", PW_KEY_STRING, NULL, 0, 0, NULL, S(tls_key), RESTART,
     "PEM private key file for tls_certificate."},
    {"portwatch", "tls_priorities", PW_KEY_STRING, NULL, 0, 0, NULL, S(tls_priorities), RESTART,
     "GnuTLS priority string for HTTPS; empty: TLS 1.3 and 1.2 only, with GnuTLS's NORMAL "
     "ciphers."},
    {"portwatch", "http_max_connections", PW_KEY_INT, "512", 1, 65536, NULL,
     S(http_max_connections), RESTART, "Most HTTP connections open at once."},
    {"portwatch", "http_max_per_ip", PW_KEY_INT, "128", 1, 65536, NULL, S(http_max_per_ip), RESTART,
     "Most HTTP connections open at once from one client address."},
    {"portwatch", "http_timeout", PW_KEY_DURATION, "30s", PW_SECOND_MS, PW_HOUR_MS, NULL, S(http_timeout_ms),
     RESTART, "An idle HTTP connection is closed after this long."},
    {"portwatch", "keep_detail", PW_KEY_DURATION, "14d", PW_DAY_MS, 3660 * PW_DAY_MS, NULL,
     S(keep_raw_ms), RESTART, "How long the fine-grained (5-minute) history is kept."},
    {"portwatch", "keep_hourly", PW_KEY_DURATION, "400d", PW_DAY_MS, 3660 * PW_DAY_MS, NULL,
     S(keep_hourly_ms), RESTART, "How long the hourly history is kept."},
    {"portwatch", "keep_events", PW_KEY_DURATION, "400d", PW_DAY_MS, 3660 * PW_DAY_MS, NULL,
     S(keep_events_ms), RESTART, "How long state changes and outages are kept."},
    {"portwatch", "epm_every", PW_KEY_INT, "10", 1, 1000, NULL, S(epm_every), LIVE,
     "The daemon reads the endpoint mapper of every host probed on 135 once every this many "
     "intervals (one host at a time); each TCP port registered there is then probed as "
     "expected listening, and one outside secondary_rpc_ports is flagged."},
    {"portwatch", "vantage", PW_KEY_SET, "administration", 0, 0, pw_vantage_names, S(vantage), LIVE,
     "The BizTalk server roles this server holds, separated by commas: administration, "
     "processing, tracking, receive-send, sso, master-secret or bam-portal. Each brings "
     "Microsoft's table of the ports that role must reach ('portwatch catalog --vantage all'); "
     "the tables of several merge, each host and port probed once with every reason kept."},
    {"portwatch", "instance_name", PW_KEY_STRING, NULL, 1, 0, NULL, S(instance_name), LIVE,
     "This server's name in /metrics, the instance_name label (beside vantage) of "
     "portwatch_build_info and of every target, role and endpoint series, so that one "
     "Prometheus tells a fleet's servers apart and an alert names the server that cannot "
     "reach. Unset: the machine's host name."},
    {"portwatch", "labels", PW_KEY_LABELS, NULL, 0, 0, NULL, S(labels), LIVE,
     "Static labels /metrics adds wherever it puts instance_name, as name=value pairs "
     "separated by commas, e.g. group=prod-a, site=ams: what a fleet's dashboards and alerts "
     "group by (the BizTalk group, a site). Names are Prometheus label names other than "
     "portwatch's own; at most 16."},

    PW_ROLES(ROLE_KEY)
    {"biztalk", "secondary_rpc_ports", PW_KEY_PORTS, "50000-50200", 0, 0, NULL, B(rpc_range), LIVE,
     "The range Windows' dynamic RPC ports are restricted to (registry "
     "HKLM\\Software\\Microsoft\\Rpc\\Internet, Ports). Widen it if your servers use more."},
    {"biztalk", "rpc_sweep_period", PW_KEY_DURATION, "0s", 0, 7 * PW_DAY_MS, NULL, B(rpc_sweep_ms), LIVE,
     "How long one pass over secondary_rpc_ports may take: 0s probes the whole range every "
     "interval; 1h covers it once an hour, its ports spread evenly over the hour (Windows' "
     "default 49152-65535 is then 4.6 connections a second per server); rpc_sweep_rate may "
     "make a pass longer. Ports registered with the endpoint mapper are still probed every "
     "interval."},
    {"biztalk", "rpc_sweep_rate", PW_KEY_RATE, "10/s", PW_RPC_SWEEP_RATE_MIN,
     PW_RPC_SWEEP_RATE_MAX, NULL, B(rpc_sweep_rate), LIVE,
     "Most probes a second the sweep of secondary_rpc_ports sends one server, so that a wide "
     "range never becomes a port scan: a pass takes at least the range's ports divided by "
     "this, longer than rpc_sweep_period asks if need be (with 0s too, a pass every interval); "
     "config-check and the daemon's log say when. The default leaves 50000-50200 every 30s "
     "(6.7 a second) as it is and sweeps 49152-65535 in no less than 27m19s. Ports registered "
     "with the endpoint mapper are not held back by it."},

    {"biztalk", "analysis_services_port", PW_KEY_INT, "2383", 1, 65535, NULL, B(analysis_port), LIVE,
     "The port the catalog's Analysis Services (OLAP) rows are probed on, where the pages give "
     "2383 or 2393: 2383 is a default SQL Server Analysis Services instance's since SQL Server "
     "2005; set a named instance's fixed port here."},
    {"biztalk", "bam_portal_port", PW_KEY_INT, "443", 1, 65535, NULL, B(portal_port), LIVE,
     "The port the BAM portal site listens on (the bam-portal table says 80 or 443): 443 for "
     "HTTPS, 80 for HTTP."},
    {"biztalk", "configuring", PW_KEY_BOOL, "no", 0, 0, NULL, B(configuring), LIVE,
     "Also probe the rows Microsoft marks as needed only while BizTalk Configuration Manager "
     "runs (the BizTalk Analysis database, and on the tracking server the BAM Star Schema, "
     "Archive and Analysis databases); yes while configuring, no for everyday watching."},
    {"biztalk", "verify", PW_KEY_BOOL, "yes", 0, 0, NULL, B(verify), LIVE,
     "Prove each catalog service answers after connecting, without credentials: TDS "
     "PRELOGIN on 1433, an endpoint-mapper bind on 135, SMB2 NEGOTIATE on 445, HTTP HEAD on "
     "1164. no: connect only."},

    {"check", "hosts", PW_KEY_HOSTS, NULL, 0, 0, NULL, C(hosts), LIVE,
     "Required. Hosts this check probes, separated by commas."},
    {"check", "ports", PW_KEY_PORTS, NULL, 0, 0, NULL, C(ports), LIVE,
     "Required. Ports and ranges, e.g. 135, 445, 50000-50200."},
    {"check", "expect", PW_KEY_ENUM, "listening", 0, 0, pw_expect_names, C(expect), LIVE,
     "listening: something must accept the connection. reachable: a refusal passes too "
     "(the firewall lets it through); only silence fails."},
    {"check", "interval", PW_KEY_DURATION, NULL, 1 * PW_SECOND_MS, PW_DAY_MS, NULL, C(interval_ms), LIVE,
     "Probe interval for this check; the global interval when unset."},
    {"check", "timeout", PW_KEY_DURATION, NULL, 10, 60 * PW_SECOND_MS, NULL, C(timeout_ms), LIVE,
     "Connection timeout for this check; the global timeout when unset."},
    {"check", "reason", PW_KEY_STRING, NULL, 0, 0, NULL, C(reason), LIVE,
     "What breaks when this check fails; shown beside failures."},
    {"check", "protocol", PW_KEY_PROTOCOL, "auto", 0, 0, NULL, C(protocol), LIVE,
     "Exchange after connecting, to prove the service answers: tds (SQL Server), rpc "
     "(endpoint mapper), smb, http, none, or auto: by port as for the catalog (1433 tds, "
     "135 rpc, 445 smb, 1164 http; other ports none). A mismatch fails a listening check. "
     "Set to anything but auto, it replaces the catalog's choice for its ports."},

    {"maintenance", "schedule", PW_KEY_STRING, NULL, 0, 0, NULL, M(schedule), LIVE,
     "Required. When the window is open, in 24-hour local time: weekly 'Sun 02:00-04:00', "
     "monthly 'second Tuesday 22:00-02:00' (first..fourth or last), 'daily 01:00-01:30', or "
     "once '2026-12-24 20:00-23:00'. An end at or before the start is the next day's; a window "
     "is shorter than 24 hours."},
    {"maintenance", "timezone", PW_KEY_STRING, NULL, 0, 0, NULL, M(timezone), LIVE,
     "Zone the schedule's times are in, daylight saving included: an IANA name "
     "(Europe/Amsterdam) from the system's zone database, or UTC; unset: the machine's own "
     "zone. Windows has no zone database: leave it unset there, or use UTC."},
    {"maintenance", "hosts", PW_KEY_HOSTS, NULL, 0, 0, NULL, M(hosts), LIVE,
     "Hosts the window covers, separated by commas; unset: every host."},
    {"maintenance", "roles", PW_KEY_SET, NULL, 0, 0, pw_maint_role_names, M(roles), LIVE,
     "[biztalk] roles whose targets the window covers, separated by commas."},
    {"maintenance", "checks", PW_KEY_STRING, NULL, 0, 0, NULL, M(checks), LIVE,
     "Names of [check NAME] sections whose targets the window covers, separated by commas. "
     "With roles, a target serving either is covered; with neither, every target."},
    {"maintenance", "ports", PW_KEY_PORTS, NULL, 0, 0, NULL, M(ports), LIVE,
     "Ports the window covers; unset: every port."},
    {"maintenance", "reason", PW_KEY_STRING, NULL, 0, 0, NULL, M(reason), LIVE,
     "What the planned work is; shown with the targets it covers."},
};

#define NKEYS (sizeof cf_keys / sizeof cf_keys[0])
_Static_assert(NKEYS == CF_NKEYS, "CF_NKEYS (config_int.h) is the number of rows in keys[]: "
               "adjust it with the table");

/* Role keys are the catalog's roles, in its order. */
_Static_assert(PW_MAX_ROLES >= PW_NROLES, "room for the catalog's roles");

const struct pw_key *pw_config_keys(size_t *count)
{
    *count = CF_NKEYS;
    return cf_keys;
}

const struct pw_key *pw_config_key(const char *section, const char *name)
{
    for (size_t i = 0; i < CF_NKEYS; i++)
        if (strcmp(cf_keys[i].section, section) == 0 && strcmp(cf_keys[i].name, name) == 0)
            return &cf_keys[i];
    return NULL;
}

