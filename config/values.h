/*
 * Parsers for the value types of the configuration file and the command
 * line: durations, port lists, host lists, listen addresses, booleans. Each
 * returns 0, or a negative pw_err and a static or caller-buffered message
 * that says what was wrong and what is allowed.
 */
#ifndef PW_VALUES_H
#define PW_VALUES_H

#include "base/clock.h"
#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

#define PW_ERRBUF 256

/* "500ms", "30s", "5m", "1h", "7d"; a bare number is refused (say the
 * unit). Sets *ms. */
int pw_parse_duration(const char *s, int64_t *ms, char err[PW_ERRBUF]);
/* Formats ms the way pw_parse_duration reads it back ("1h30m", "500ms"). */
void pw_format_duration(int64_t ms, char *buf, size_t len);

struct pw_port_range {
    uint16_t lo, hi;
};

/* Sorted, non-overlapping port ranges. */
struct pw_portset {
    struct pw_port_range *r;
    size_t n;
};

/* "135, 445, 50000-50200": ports 1-65535, ranges lo-hi with lo <= hi; a port
 * given twice or ranges that overlap are errors (they are almost always a
 * typo). On success *out owns its array. */
int pw_parse_ports(const char *s, struct pw_portset *out, char err[PW_ERRBUF]);
size_t pw_portset_count(const struct pw_portset *ps);
int pw_portset_contains(const struct pw_portset *ps, uint16_t port);
/* "135, 445, 50000-50200" */
void pw_portset_format(const struct pw_portset *ps, char *buf, size_t len);
void pw_portset_free(struct pw_portset *ps);

struct pw_host_list {
    char **names;
    size_t n;
};

/* "sql01, sql01.corp.example, 10.1.2.3, ::1, [fe80::1]": hosts separated
 * by commas (spaces around them are ignored; a space inside one is an
 * error). Each is a host name (RFC 1123 labels of 1-63 letters, digits, '-'
 * and '_', at most 253 characters), an IPv4 address (dotted quad), or an
 * IPv6 address in its own syntax, bare or in brackets, which are removed
 * ("sql01:1433" is refused: ports go elsewhere). The same host twice
 * (ignoring case) is an error. */
int pw_parse_hosts(const char *s, struct pw_host_list *out, char err[PW_ERRBUF]);
void pw_host_list_free(struct pw_host_list *hl);

/* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:80"; *host is malloc'd. */
int pw_parse_listen(const char *s, char **host, uint16_t *port, char err[PW_ERRBUF]);
/* Whether an address string is in 127.0.0.0/8 or ::1 ("localhost" too). */
int pw_is_loopback(const char *host);

/* Checks n bytes of text read from a file: UTF-8 (RFC 3629), no control
 * characters except tab (C0, DEL, C1), no byte order mark. The message
 * names the first offending byte by its 1-based position. */
int pw_check_text(const char *s, size_t n, char err[PW_ERRBUF]);

/* yes/no, true/false, on/off, 1/0. */
int pw_parse_bool(const char *s, int *out, char err[PW_ERRBUF]);
/* A decimal integer within [min, max]. */
int pw_parse_int(const char *s, long long min, long long max, long long *out,
                 char err[PW_ERRBUF]);
/* A rate a second: "10" or "10/s", a whole number within [min, max]. Only
 * "/s" is read as a unit, so "10/m" is refused rather than misread. */
int pw_parse_rate(const char *s, long long min, long long max, long long *out,
                  char err[PW_ERRBUF]);

/* [portwatch] labels: static Prometheus labels, "name=value" pairs
 * separated by commas ("group=prod-a, site=ams"). A name is a Prometheus
 * label name ([a-zA-Z_][a-zA-Z0-9_]*), not reserved ("__" first) and none
 * of PW_METRIC_OWN_LABELS; a value is non-empty text without commas; each
 * name at most once, at most PW_LABELS_MAX. *out (malloc'd) is the
 * canonical form "group=prod-a,site=ams", in the order written ("" for
 * none), which /metrics splits at ',' and at each pair's first '='. */
#define PW_LABELS_MAX 16
/* The label names /metrics sets itself (web/metrics.c), and Prometheus'
 * own target labels: a static label may not take them. */
#define PW_METRIC_OWN_LABELS                                                     \
    "instance_name", "vantage", "host", "port", "roles", "role", "state", "result", \
        "interface", "status", "reason", "version", "instance", "job"
int pw_parse_labels(const char *s, char **out, char err[PW_ERRBUF]);


#endif
