/*
 * Tests for config/: the INI reader, value parsers, the configuration
 * loader's messages (an error corpus, each message asserted), and the
 * expansion of roles into deduplicated targets against the catalog.
 */
#include "config/catalog.h"
#include "config/config.h"
#include "base/error.h"
#include "config/ini.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifndef PW_SOURCE_ROOT_FALLBACK
#define PW_SOURCE_ROOT_FALLBACK "."
#endif

/* ---- durations ---------------------------------------------------------- */

START_TEST(durations_valid)
{
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"500ms", 500},   {"30s", 30000},    {"5m", 300000},  {"1h", 3600000},
        {"7d", 604800000}, {"1h30m", 5400000}, {" 2s ", 2000},  {"0s", 0},
    };
    char err[PW_ERRBUF];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        ck_assert_msg(pw_parse_duration(ok[i].in, &ms, err) == 0, "%s: %s", ok[i].in, err);
        ck_assert_int_eq(ms, ok[i].ms);
    }
}
END_TEST

START_TEST(durations_invalid)
{
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"30", "'30' has a number without a unit; use a number with a unit: ms, s, m, h or d"},
        {"", "empty duration"},
        {"5x", "'5x' has an unknown unit 'x'"},
        {"-5s", "'-5s' is not a duration"},
        {"5 s", "'5 s' has a number without a unit"},
        {"99999999999999999999d", "is too large"},
        {"9999999999999999d", "is too large"},
    };
    char err[PW_ERRBUF];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        ck_assert_msg(pw_parse_duration(bad[i].in, &ms, err) < 0, "%s accepted", bad[i].in);
        ck_assert_msg(strstr(err, bad[i].msg), "%s: got '%s'", bad[i].in, err);
    }
}
END_TEST

START_TEST(duration_format_roundtrip)
{
    char buf[32], err[PW_ERRBUF];
    int64_t vals[] = {500, 1000, 90000, 3600000, 5400000, 604800000, 1500};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int64_t back;
        pw_format_duration(vals[i], buf, sizeof buf);
        ck_assert_int_eq(pw_parse_duration(buf, &back, err), 0);
        ck_assert_int_eq(back, vals[i]);
    }
    pw_format_duration(5400000, buf, sizeof buf);
    ck_assert_str_eq(buf, "1h30m");
}
END_TEST

/* ---- ports -------------------------------------------------------------- */

START_TEST(ports_valid)
{
    struct pw_portset ps;
    char err[PW_ERRBUF], out[128];
    ck_assert_int_eq(pw_parse_ports("445, 135,50000-50200 , 1", &ps, err), 0);
    ck_assert_uint_eq(ps.n, 4);
    ck_assert_uint_eq(pw_portset_count(&ps), 204);
    ck_assert(pw_portset_contains(&ps, 50100));
    ck_assert(!pw_portset_contains(&ps, 50201));
    pw_portset_format(&ps, out, sizeof out);
    ck_assert_str_eq(out, "1, 135, 445, 50000-50200");
    pw_portset_free(&ps);
    ck_assert_int_eq(pw_parse_ports("65535", &ps, err), 0);
    ck_assert_uint_eq(ps.r[0].lo, 65535);
    pw_portset_free(&ps);
    ck_assert_int_eq(pw_parse_ports("1-65535", &ps, err), 0);
    ck_assert_uint_eq(pw_portset_count(&ps), 65535);
    pw_portset_free(&ps);
}
END_TEST

START_TEST(ports_invalid)
{
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"0", "port 0 is not a usable port; ports are 1-65535"},
        {"65536", "port 65536 is out of range; ports are 1-65535"},
        {"99999999999", "out of range; ports are 1-65535"},
        {"50200-50000", "range 50200-50000 is reversed; write it low-high: 50000-50200"},
        {"135, 135", "port 135 is listed twice; list each port once"},
        {"50000-50200, 50100", "50000-50200 overlaps 50100; list each port once"},
        {"100-200, 150-300", "100-200 overlaps 150-300"},
        {"", "empty port list"},
        {"135;445", "unexpected ';' in port list '135;445'; separate ports and ranges with commas"},
        {"abc", "'abc' is not a port list"},
        {"135,", "'135,' is not a port list"},
        {"-5", "is not a port list"},
    };
    char err[PW_ERRBUF];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pw_portset ps = {0};
        ck_assert_msg(pw_parse_ports(bad[i].in, &ps, err) < 0, "%s accepted", bad[i].in);
        ck_assert_msg(strstr(err, bad[i].msg), "%s: got '%s'", bad[i].in, err);
        ck_assert_ptr_null(ps.r);
    }
}
END_TEST

/* ---- hosts and listen ---------------------------------------------------- */

#define LABEL63 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

START_TEST(hosts_lists)
{
    struct pw_host_list hl;
    char err[PW_ERRBUF];
    ck_assert_int_eq(pw_parse_hosts("sql01, sql02.corp.local,10.1.2.3, ::1 ,[fe80::1%eth0]", &hl, err), 0);
    ck_assert_uint_eq(hl.n, 5);
    ck_assert_str_eq(hl.names[3], "::1");
    ck_assert_str_eq(hl.names[4], "fe80::1%eth0");
    pw_host_list_free(&hl);
    /* what is allowed: Windows names with '_', a trailing dot, 63-character
     * labels, 253 characters, IPv6 in its own forms */
    char longname[300];
    snprintf(longname, sizeof longname, "%.63s.%.63s.%.63s.%.61s", LABEL63, LABEL63, LABEL63, LABEL63);
    ck_assert_uint_eq(strlen(longname), 253);
    char list[600];
    snprintf(list, sizeof list, "WEB_01, sql01.corp.example., %s.x, %s, ::ffff:10.1.2.3, "
             "[2001:db8::10], 1:2:3:4:5:6:7:8, ::, 0.0.0.0, 255.255.255.255", LABEL63, longname);
    ck_assert_msg(pw_parse_hosts(list, &hl, err) == 0, "%s", err);
    ck_assert_uint_eq(hl.n, 10);
    ck_assert_str_eq(hl.names[5], "2001:db8::10");
    pw_host_list_free(&hl);
    snprintf(list, sizeof list, "%sx", longname);
    ck_assert_int_lt(pw_parse_hosts(list, &hl, err), 0);
    ck_assert_msg(strstr(err, "has 254 characters; at most 253 are allowed"), "%s", err);
    static const char *const bad[] = {"1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::1", ":1", "1:",
                                      "::1%", "::1.2.3", "1.2.3.4.5", "sql01 .corp", "caf\xC3\xA9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pw_parse_hosts(bad[i], &hl, err) < 0, "%s accepted", bad[i]);

    ck_assert_int_lt(pw_parse_hosts("sql01, SQL01", &hl, err), 0);
    ck_assert_str_eq(err, "host 'SQL01' is listed twice");
    ck_assert_int_lt(pw_parse_hosts("sql01;x", &hl, err), 0);
    ck_assert_msg(strstr(err, "host 'sql01;x' has ';', which a host name cannot have; use a host name"), "%s", err);
    ck_assert_int_lt(pw_parse_hosts(" , ", &hl, err), 0);
    ck_assert_msg(strstr(err, "empty host list"), "%s", err);
    ck_assert_int_lt(pw_parse_hosts("[::1", &hl, err), 0);
    ck_assert_msg(strstr(err, "without a closing ']'"), "%s", err);
}
END_TEST

START_TEST(listen_addresses)
{
    char *host, err[PW_ERRBUF];
    uint16_t port;
    ck_assert_int_eq(pw_parse_listen("127.0.0.1:8470", &host, &port, err), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 8470);
    ck_assert(pw_is_loopback(host));
    free(host);
    ck_assert_int_eq(pw_parse_listen("[::1]:9000", &host, &port, err), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert(pw_is_loopback(host));
    free(host);
    ck_assert_int_eq(pw_parse_listen("0.0.0.0:80", &host, &port, err), 0);
    ck_assert(!pw_is_loopback(host));
    free(host);
    ck_assert(!pw_is_loopback("127.evil.example"));
    ck_assert_int_lt(pw_parse_listen("::1:80", &host, &port, err), 0);
    ck_assert_int_lt(pw_parse_listen("127.0.0.1:0", &host, &port, err), 0);
    ck_assert_msg(strstr(err, "bad port"), "%s", err);
    ck_assert_int_lt(pw_parse_listen("127.0.0.1", &host, &port, err), 0);
}
END_TEST

/* ---- rates --------------------------------------------------------------- */

START_TEST(rates)
{
    static const struct {
        const char *in;
        long long v;
    } ok[] = {{"10", 10}, {"10/s", 10}, {" 7 / S ", 7}, {"1", 1}, {"1000/s", 1000}, {"+3", 3}};
    char err[PW_ERRBUF];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        long long v = -1;
        ck_assert_msg(pw_parse_rate(ok[i].in, 1, 1000, &v, err) == 0, "%s: %s", ok[i].in, err);
        ck_assert_int_eq(v, ok[i].v);
    }
    static const struct {
        const char *in;
        int rc;
        const char *msg;
    } bad[] = {
        {"0", PW_ERANGE, "0/s is out of range; use 1/s to 1000/s"},
        {"0/s", PW_ERANGE, "0/s is out of range; use 1/s to 1000/s"},
        {"-5", PW_ERANGE, "-5/s is out of range; use 1/s to 1000/s"},
        {"1001", PW_ERANGE, "1001/s is out of range; use 1/s to 1000/s"},
        {"99999999999999999999999", PW_ERANGE, "is out of range; use 1/s to 1000/s"},
        {"fast", PW_EINVAL, "'fast' is not a rate; use a whole number a second from 1 to 1000, e.g. 10 or 10/s"},
        {"", PW_EINVAL, "'' is not a rate"},
        {"/s", PW_EINVAL, "'/s' is not a rate"},
        {"2.5", PW_EINVAL, "'2.5' is not a whole number a second; use a whole number a second from 1 to 1000"},
        {"10/m", PW_EINVAL, "'10/m' has an unknown unit '/m'; only /s is allowed"},
        {"10/", PW_EINVAL, "'10/' has an unknown unit '/'"},
        {"10/s x", PW_EINVAL, "'10/s x' is not a whole number a second"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long v = 42;
        err[0] = '\0';
        ck_assert_msg(pw_parse_rate(bad[i].in, 1, 1000, &v, err) == bad[i].rc, "%s: %s", bad[i].in, err);
        ck_assert_msg(strstr(err, bad[i].msg), "%s: expected '%s', got '%s'", bad[i].in, bad[i].msg, err);
        ck_assert_int_eq(v, 42); /* untouched on failure */
    }
}
END_TEST

/* ---- the INI reader ------------------------------------------------------ */

struct seen {
    char log[2048];
};

static int record(void *ud, enum pw_ini_event ev, int line, const char *section,
                  const char *key, const char *value)
{
    struct seen *s = ud;
    size_t n = strlen(s->log);
    if (ev == PW_INI_SECTION)
        snprintf(s->log + n, sizeof s->log - n, "%d[%s]", line, section);
    else if (ev == PW_INI_KEY)
        snprintf(s->log + n, sizeof s->log - n, "%d{%s.%s=%s}", line, section, key, value);
    else
        snprintf(s->log + n, sizeof s->log - n, "%d!%s!", line, value);
    return 0;
}

START_TEST(ini_bom_crlf_comments)
{
    static const char text[] = "\xEF\xBB\xBF; comment\r\n# other\r\n[a]\r\n  k = v  \r\n"
                               "q = \" spaced ; not a comment \"\r\n\r\n[ b ]\r\nempty =\r\nlast=1";
    struct seen s = {{0}};
    ck_assert_int_eq(pw_ini_parse(text, sizeof text - 1, record, &s), 0);
    ck_assert_str_eq(s.log, "3[a]4{a.k=v}5{a.q= spaced ; not a comment }7[b]8{b.empty=}9{b.last=1}");
}
END_TEST

START_TEST(ini_errors)
{
    static const char text[] = "k=v\n[a\n[]\n[x] y\nnovalue\n=v\nbad key=1\nq=\"open\n";
    struct seen s = {{0}};
    ck_assert_int_eq(pw_ini_parse(text, sizeof text - 1, record, &s), 8);
    ck_assert_msg(strstr(s.log, "1!key outside any section"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "2!section header '[a' is missing its closing ']'!"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "3!section header '[]' has an empty name;"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "4!section header '[x] y' has text after its ']'; only a comment"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "5!expected 'key = value'"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "6!missing key before '='!"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "7!key names use letters"), "%s", s.log);
    ck_assert_msg(strstr(s.log, "8!unterminated quoted value"), "%s", s.log);
}
END_TEST

START_TEST(ini_utf16_nul_and_long_lines)
{
    struct seen s = {{0}};
    ck_assert_int_eq(pw_ini_parse("\xFF\xFE[\0a\0]\0", 8, record, &s), 1);
    ck_assert_msg(strstr(s.log, "file is UTF-16; save it as UTF-8"), "%s", s.log);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(pw_ini_parse("[a]\nk=\0v\n", 9, record, &s), 1);
    ck_assert_msg(strstr(s.log, "2!line contains a NUL byte"), "%s", s.log);
    size_t big = 10000;
    char *buf = malloc(big);
    memset(buf, 'x', big);
    memcpy(buf, "[a]\nk=", 6);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(pw_ini_parse(buf, big, record, &s), 1);
    ck_assert_msg(strstr(s.log, "2!line is too long (at most 4096 bytes)!"), "%s", s.log);
    free(buf);
}
END_TEST

/* ---- the loader ---------------------------------------------------------- */

static struct pw_config *load_ok(const char *text)
{
    struct pw_diag d = {0};
    struct pw_config *c;
    int rc = pw_config_load_buffer("t.ini", text, strlen(text), &c, &d);
    if (rc != 0) {
        pw_diag_print(&d, stderr);
        ck_abort_msg("config failed to load");
    }
    pw_diag_free(&d);
    return c;
}

/* Loads text that must fail and returns the joined messages. */
static char *load_bad(const char *text, size_t *count)
{
    struct pw_diag d = {0};
    struct pw_config *c = (struct pw_config *)1;
    int rc = pw_config_load_buffer("t.ini", text, strlen(text), &c, &d);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(c);
    size_t len = 1;
    for (size_t i = 0; i < d.n; i++)
        len += strlen(d.msgs[i]) + 1;
    char *all = calloc(1, len);
    for (size_t i = 0; i < d.n; i++) {
        strcat(all, d.msgs[i]);
        strcat(all, "\n");
    }
    *count = d.n;
    pw_diag_free(&d);
    return all;
}

START_TEST(config_defaults_and_values)
{
    struct pw_config *c = load_ok("[portwatch]\ninterval = 1m\ntimeout=750ms\nmax_in_flight = 64\n"
                                  "address_family = prefer-ipv6\nallow_anonymous = YES\n"
                                  "[biztalk]\nmanagement_database = sql01\nsecondary_rpc_ports = 49152-65535\n");
    ck_assert_int_eq(c->s.interval_ms, 60000);
    ck_assert_int_eq(c->s.timeout_ms, 750);
    ck_assert_int_eq(c->s.max_in_flight, 64);
    ck_assert_int_eq(c->s.max_per_host, 32);
    ck_assert_int_eq(c->s.fail_after, 2);
    ck_assert_int_eq(c->s.family, PW_FAMILY_PREFER_IPV6);
    ck_assert_int_eq(c->s.allow_anonymous, 1);
    ck_assert_str_eq(c->s.listen, "127.0.0.1:8470");
    ck_assert_uint_eq(pw_portset_count(&c->rpc_range), 16384);
    ck_assert_uint_eq(c->roles[pw_catalog_role_find("management_database")].n, 1);
    ck_assert_int_eq(c->rpc_sweep_ms, 0);
    ck_assert_int_eq(c->rpc_sweep_rate, 10);
    pw_config_free(c);
    c = load_ok("[biztalk]\nrpc_sweep_rate = 50/s\n");
    ck_assert_int_eq(c->rpc_sweep_rate, 50);
    pw_config_free(c);
    c = load_ok("[biztalk]\nrpc_sweep_rate = 1000\n");
    ck_assert_int_eq(c->rpc_sweep_rate, 1000);
    pw_config_free(c);
}
END_TEST

static const struct pw_key *key_named(const char *section, const char *name)
{
    const struct pw_key *k = pw_config_key(section, name);
    ck_assert_msg(k != NULL, "no key [%s] %s", section, name);
    return k;
}

/* The key table says which keys a reload cannot apply, and which of them
 * two configurations set differently; the daemon's reload reads only that. */
START_TEST(config_restart_keys_differ)
{
    struct pw_config *a = load_ok("[portwatch]\nlisten = 127.0.0.1:9000\nkeep_detail = 3d\n");
    struct pw_config *b = load_ok("[portwatch]\nlisten = 127.0.0.1:9001\nkeep_detail = 3d\n"
                                  "interval = 1m\napi_token = 0123456789abcdef\n[biztalk]\nconfiguring = yes\n");
    const char *restart[] = {"listen", "database", "api_token", "keep_detail", "http_timeout"};
    for (size_t i = 0; i < sizeof restart / sizeof restart[0]; i++)
        ck_assert_msg(key_named("portwatch", restart[i])->restart, "%s", restart[i]);
    ck_assert(!key_named("portwatch", "interval")->restart);
    ck_assert(!key_named("biztalk", "secondary_rpc_ports")->restart);
    ck_assert_ptr_null(pw_config_key("portwatch", "no_such_key"));
    ck_assert(pw_config_key_differs(key_named("portwatch", "listen"), a, b));
    ck_assert(pw_config_key_differs(key_named("portwatch", "api_token"), a, b)); /* NULL vs set */
    ck_assert(pw_config_key_differs(key_named("portwatch", "interval"), a, b));
    ck_assert(pw_config_key_differs(key_named("biztalk", "configuring"), a, b));
    ck_assert(!pw_config_key_differs(key_named("portwatch", "keep_detail"), a, b));
    ck_assert(!pw_config_key_differs(key_named("portwatch", "database"), a, b));
    ck_assert(!pw_config_key_differs(key_named("portwatch", "max_in_flight"), a, b));
    ck_assert(!pw_config_key_differs(key_named("check", "ports"), a, b));
    pw_config_free(a);
    pw_config_free(b);
}
END_TEST

/* The error corpus: each file and the exact problems it must report. */
static const struct {
    const char *text;
    size_t count;
    const char *msgs[4];
} corpus[] = {
    {"[portwatch]\nintervall = 30s\n", 1,
     {"t.ini:2: [portwatch] intervall: unknown key; did you mean 'interval'? Allowed here: listen, database, interval"}},
    {"[portwatch]\nfrobnicate = 1\n", 1, {"t.ini:2: [portwatch] frobnicate: unknown key; allowed here: listen,"}},
    {"[portwatch]\nvantage = administration, admin\n", 1,
     {"t.ini:2: [portwatch] vantage: 'admin' is not allowed; use one or more of, separated by "
      "commas: administration, processing, tracking, receive-send, sso, master-secret, bam-portal"}},
    {"[portwatch]\nvantage = processing,,sso\n", 1,
     {"t.ini:2: [portwatch] vantage: an empty name in 'processing,,sso'; name one or more, "
      "separated by commas, e.g. administration"}},
    {"[portwatch]\nvantage = sso, SSO\n", 1,
     {"t.ini:2: [portwatch] vantage: 'SSO' is named twice; name it once"}},
    {"[portwatch]\nlabels = group=prod-a, host=sql01\ninstance_name =\n", 2,
     {"t.ini:2: [portwatch] labels: 'host' is a label portwatch or Prometheus sets itself; "
      "choose another name, e.g. site or group",
      "t.ini:3: [portwatch] instance_name: empty; give a value, or remove the line"}},
    {"[portwatch]\nlabels = 1site=ams\n", 1,
     {"t.ini:2: [portwatch] labels: '1site' is not a label name; use a letter or '_', then "
      "letters, digits or '_' (Prometheus' label names), e.g. site"}},
    {"[portwatch]\nlabels = __name__=x\n", 1,
     {"t.ini:2: [portwatch] labels: '__name__': names starting with __ are Prometheus' own"}},
    {"[portwatch]\nlabels = site=ams, site=fra\n", 1,
     {"t.ini:2: [portwatch] labels: label 'site' is named twice; name it once"}},
    {"[portwatch]\nlabels = site=, group=a\n", 1,
     {"t.ini:2: [portwatch] labels: label 'site' has no value (Prometheus drops an empty label)"}},
    {"[portwatch]\nlabels = site=ams,,group=a\n", 1,
     {"t.ini:2: [portwatch] labels: an empty pair in 'site=ams,,group=a'; write name=value "
      "pairs separated by commas, e.g. group=prod-a, site=ams"}},
    {"[portwatch]\nlabels = prod\n", 1,
     {"t.ini:2: [portwatch] labels: 'prod' is not name=value; write name=value pairs"}},
    {"[biztalk]\nanalysis_services_port = 0\nconfiguring = maybe\n", 2,
     {"t.ini:2: [biztalk] analysis_services_port: ", "t.ini:3: [biztalk] configuring: "}},
    {"[biztalk]\nmanagment_database = sql01\n", 1,
     {"t.ini:2: [biztalk] managment_database: unknown key; did you mean 'management_database'?"}},
    {"[portwatch]\ninterval = 30\n", 1,
     {"t.ini:2: [portwatch] interval: '30' has a number without a unit; use a number with a unit: ms, s, m, h or d"}},
    {"[portwatch]\ninterval = 500ms\n", 1, {"t.ini:2: [portwatch] interval: 500ms is out of range; use 1s to 1d"}},
    {"[portwatch]\ntimeout = 30s\ninterval = 10s\n", 1,
     {"t.ini:2: [portwatch] timeout: 30s must be shorter than the interval (10s)"}},
    {"[portwatch]\nmax_in_flight = 0\n", 1, {"t.ini:2: [portwatch] max_in_flight: 0 is out of range; use 1 to 65536"}},
    {"[portwatch]\naddress_family = v6\n", 1,
     {"t.ini:2: [portwatch] address_family: 'v6' is not allowed; use one of: any, ipv4, ipv6, prefer-ipv4, prefer-ipv6"}},
    {"[portwatch]\nallow_anonymous = maybe\n", 1,
     {"t.ini:2: [portwatch] allow_anonymous: 'maybe' is not a yes/no value; use yes or no"}},
    {"[portwatch]\nlisten = 0.0.0.0:8470\n[check x]\nhosts=a\nports=1\n", 1,
     {"t.ini:2: [portwatch] listen: 0.0.0.0:8470 is not a loopback address, so the API would be open to the network: set api_token (recommended) or allow_anonymous = yes"}},
    {"[portwatch]\napi_token = short\n[check x]\nhosts=a\nports=1\n", 1,
     {"t.ini:2: [portwatch] api_token: too short; use at least 16 characters"}},
    {"[portwatch]\ninterval = 1m\ninterval = 2m\n", 1,
     {"t.ini:3: [portwatch] interval: set twice (first on line 2); keep one"}},
    {"[portwatch]\n[portwatch]\n", 1, {"t.ini:2: [portwatch]: section [portwatch] appears twice (first on line 1); merge them"}},
    {"[biztlk]\nx = 1\n", 1, {"t.ini:1: [biztlk]: unknown section [biztlk]; did you mean [biztalk]?"}},
    {"[servers]\n", 1, {"t.ini:1: [servers]: unknown section [servers]; sections are [portwatch], [biztalk], [check NAME] and [maintenance NAME]"}},
    {"[check]\n", 1, {"t.ini:1: [check]: a check needs a name: [check NAME], e.g. [check file-share]"}},
    {"[check a b]\n", 1, {"t.ini:1: [check a b]: check name 'a b' is not allowed; use 1-64 letters, digits, '-', '_' or '.'"}},
    {"[check iis_servers]\nhosts=a\nports=1\n", 1,
     {"t.ini:1: [check iis_servers]: check name 'iis_servers' is a catalog role's name; choose another name"}},
    {"[check web]\nhosts = a\nports = 80\n[check WEB]\n", 1,
     {"t.ini:4: [check WEB]: check 'WEB' is defined twice (first on line 1)"}},
    {"[check web]\nports = 80\n", 1, {"t.ini:1: [check web] hosts: missing; a check needs hosts = HOST, ..."}},
    {"[check web]\nhosts = a\n", 1, {"t.ini:1: [check web] ports: missing; a check needs ports = PORT, PORT-PORT, ..."}},
    {"[check web]\nhosts = a\nports = 80-79\n", 1,
     {"t.ini:3: [check web] ports: range 80-79 is reversed; write it low-high: 79-80"}},
    {"[check web]\nhosts = a\nports = 80\nexpect = open\n", 1,
     {"t.ini:4: [check web] expect: 'open' is not allowed; use one of: listening, reachable"}},
    {"[check web]\nhosts = a\nports = 80\ninterval = 5s\ntimeout = 5s\n", 1,
     {"t.ini:5: [check web] timeout: 5s must be shorter than the interval (5s)"}},
    {"[check web]\nhosts = a\nports = 80\nexpekt = reachable\n", 1,
     {"t.ini:4: [check web] expekt: unknown key; did you mean 'expect'? Allowed here: hosts, ports, expect, interval, timeout, reason, protocol"}},
    {"[check web]\nhosts = a\nports = 80\nprotocol = ldap\n", 1,
     {"t.ini:4: [check web] protocol: 'ldap' is not allowed; use one of: auto, none, tds, rpc, smb, http"}},
    /* every problem in one run, not just the first */
    {"[portwatch]\ninterval = x\ntimeout = y\n[biztalk]\niis_servers = a,a\n", 3,
     {"t.ini:2: [portwatch] interval:", "t.ini:3: [portwatch] timeout:", "t.ini:5: [biztalk] iis_servers: host 'a' is listed twice"}},
    {"key = 1\n", 1, {"t.ini:1: key: key outside any section: put it under a [section] header"}},
    {"[biztalk]\nrpc_sweep_rate = 0\n", 1,
     {"t.ini:2: [biztalk] rpc_sweep_rate: 0/s is out of range; use 1/s to 1000/s"}},
    {"[biztalk]\nrpc_sweep_rate = -10/s\n", 1,
     {"t.ini:2: [biztalk] rpc_sweep_rate: -10/s is out of range; use 1/s to 1000/s"}},
    {"[biztalk]\nrpc_sweep_rate = 5000\n", 1,
     {"t.ini:2: [biztalk] rpc_sweep_rate: 5000/s is out of range; use 1/s to 1000/s"}},
    {"[biztalk]\nrpc_sweep_rate = slow\n", 1,
     {"t.ini:2: [biztalk] rpc_sweep_rate: 'slow' is not a rate; use a whole number a second from 1 to 1000, e.g. 10 or 10/s"}},
    {"[biztalk]\nrpc_sweep_rate = 10/min\n", 1,
     {"t.ini:2: [biztalk] rpc_sweep_rate: '10/min' has an unknown unit '/min'; only /s is allowed"}},
    {"[portwatch]\nrpc_sweep_rate = 10\n", 1,
     {"t.ini:2: [portwatch] rpc_sweep_rate: unknown key"}},
    /* host names (#15): what each is, and what is allowed */
    {"[biztalk]\niis_servers = sql01..corp.example\n", 1,
     {"t.ini:2: [biztalk] iis_servers: host 'sql01..corp.example' has an empty label (a leading dot or two dots in a row); use a host name"}},
    {"[biztalk]\niis_servers = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.corp\n", 1,
     {"t.ini:2: [biztalk] iis_servers: host 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.corp' has a label of 64 characters", "may have at most 63"}},
    {"[biztalk]\niis_servers = web%01\n", 1,
     {"t.ini:2: [biztalk] iis_servers: host 'web%01' has '%', which a host name cannot have; use a host name (letters, digits, '-' and '_' in dot-separated labels), an IPv4 address or an IPv6 address (::1 or [::1])"}},
    {"[biztalk]\nmanagement_database = sql01:1433\n", 1,
     {"t.ini:2: [biztalk] management_database: 'sql01:1433' is not a host: ports do not go in host lists; write the host alone ('sql01') and its ports under ports"}},
    {"[check web]\nhosts = [::1]:8080\nports = 80\n", 1,
     {"t.ini:2: [check web] hosts: '[::1]:8080' is not a host: ports do not go in host lists; write the address alone ('[::1]')"}},
    {"[check web]\nhosts = web01 web02\nports = 80\n", 1,
     {"t.ini:2: [check web] hosts: 'web01 web02' has a space inside a host; separate hosts with commas"}},
    {"[check web]\nhosts = 10.1.2\nports = 80\n", 1,
     {"t.ini:2: [check web] hosts: '10.1.2' is not an IPv4 address: use four numbers 0-255 separated by dots"}},
    {"[check web]\nhosts = 10.1.2.300, 010.1.2.3\nports = 80\n", 1, {"'10.1.2.300' is not an IPv4 address"}},
    {"[check web]\nhosts = 010.1.2.3\nports = 80\n", 1, {"'010.1.2.3' is not an IPv4 address", "without leading zeros"}},
    {"[check web]\nhosts = fe80::1::2\nports = 80\n", 1,
     {"t.ini:2: [check web] hosts: 'fe80::1::2' is not an IPv6 address (only IPv6 addresses contain ':'); write one as ::1 or [::1]"}},
    {"[check web]\nhosts = [web01]\nports = 80\n", 1, {"'[web01]': brackets are for IPv6 addresses only, e.g. [::1]"}},
    {"[check web]\nhosts = -web01\nports = 80\n", 1, {"host '-web01' has a label that starts or ends with '-'"}},
    {"[check web]\nhosts = web01.-x\nports = 80\n", 1, {"host 'web01.-x' has a label that starts or ends with '-'"}},
    /* text must be UTF-8 without control characters (#15) */
    {"[check web]\nhosts = a\nports = 80\nreason = caf\xE9 is closed\n", 1,
     {"t.ini:4: [check web]: not UTF-8 at byte 13 of the line (0xE9); save the file as UTF-8"}},
    {"[check web]\nhosts = a\nports = 80\nreason = \x1B[2Jgone\n", 1,
     {"t.ini:4: [check web]: control character U+001B at byte 10 of the line; only printable text is allowed"}},
    {"[check web]\nhosts = a\nports = 80\nreason = a\xC2\x9B" "31m\n", 1, {"t.ini:4: [check web]: control character U+009B at byte 11"}},
    {"[check web]\nhosts = a\nports = 80\nreason = \xED\xA0\x80\n", 1, {"t.ini:4: [check web]: not UTF-8 at byte 10 of the line (0xED)"}},
    {"[check w\xE9" "b]\nhosts = a\nports = 80\n", 1, {"t.ini:1: not UTF-8 at byte 9 of the line (0xE9); save the file as UTF-8"}},
    /* a byte order mark in the middle: two files joined */
    {"[portwatch]\ninterval = 30s\n\xEF\xBB\xBF[biztalk]\n", 1,
     {"t.ini:3: byte order mark (U+FEFF) at byte 1 of the line: one belongs only at the start of a file (were two files joined?); remove it"}},
    /* lone CR line endings: named once, and the lines still read */
    {"[portwatch]\rinterval = 30s\rtimeout = 45s\r", 2,
     {"t.ini:1: line ends with a lone CR (carriage return without line feed, old Mac line endings); save the file with Windows (CRLF) or Unix (LF) line endings",
      "t.ini:3: [portwatch] timeout: 45s must be shorter than the interval (30s)"}},
    {"[check web]\nhosts = a\nports = 1 \xE2\x80\x94 2\n", 1,
     {"t.ini:3: [check web] ports: unexpected '\xE2\x80\x94' in port list '1 \xE2\x80\x94 2'; separate ports and ranges with commas"}},
    /* the history needs a database */
    {"[portwatch]\ndatabase =\n", 1,
     {"t.ini:2: [portwatch] database: empty; give a value, or remove the line for the default (portwatch.db)"}},
    {"[portwatch]\ndatabase = \"\"\n", 1, {"t.ini:2: [portwatch] database: empty;"}},
    /* a broken header is reported under its own line, once: the keys under
     * it are not blamed on the section before */
    {"[portwatch]\ninterval = 1m\n[check web\nhosts = a\nports = 80\n", 1,
     {"t.ini:3: section header '[check web' is missing its closing ']'"}},
    {"[biztalk]\n[check web] x\nhosts = a\n", 1,
     {"t.ini:2: section header '[check web] x' has text after its ']'; only a comment (';' or '#') may follow"}},
    /* one mistake, one error, at its own line, never line 0 */
    {"[portwatch]\ninterval = 1s\n", 1,
     {"t.ini:2: [portwatch] interval: 1s must be longer than the timeout (3s, the default); set a longer interval, or a shorter timeout"}},
    {"[portwatch]\ninterval = 1s\n[check a]\nhosts = a\nports = 1\n[check b]\nhosts = b\nports = 2\n", 1,
     {"t.ini:2: [portwatch] interval: 1s must be longer than the timeout (3s, the default)"}},
    {"[portwatch]\ntimeout = 10s\n[check a]\nhosts = a\nports = 1\ninterval = 5s\n[check b]\nhosts = b\nports = 2\ninterval = 5s\n"
     "[check c]\nhosts = c\nports = 3\ninterval = 8s\n[check d]\nhosts = d\nports = 4\n", 1,
     {"t.ini:2: [portwatch] timeout: 10s must be shorter than the interval of check 'a' (5s, line 6) and 2 more checks, which take this timeout; set timeout in those checks, or lower this one"}},
    {"[portwatch]\ntimeout = 10s\n[check a]\nhosts = a\nports = 1\ninterval = 5s\n", 1,
     {"t.ini:2: [portwatch] timeout: 10s must be shorter than the interval of check 'a' (5s, line 6), which take this timeout; set timeout in that check, or lower this one"}},
    {"[portwatch]\ntimeout = 30s\ninterval = 30s\n[check a]\nhosts = a\nports = 1\ninterval = 10s\n[check b]\nhosts = b\nports = 2\n", 1,
     {"t.ini:2: [portwatch] timeout: 30s must be shorter than the interval (30s)"}},
    {"[check a]\nhosts = a\nports = 1\ninterval = 2s\n", 1,
     {"t.ini:4: [check a] interval: 2s must be longer than the timeout (3s, the default); set a longer interval, or a shorter timeout in this check"}},
    {"[portwatch]\ninterval = 10s\n[check a]\nhosts = a\nports = 1\ntimeout = 10s\n", 1,
     {"t.ini:6: [check a] timeout: 10s must be shorter than the interval (10s, the global one)"}},
    /* text after a closing quote */
    {"[check a]\nhosts = a\nports = 1\nreason = \"quoted\" tail\n", 1,
     {"t.ini:4: [check a] reason: unexpected text after the closing '\"': quote the whole value, or start a comment with ';'"}},
};

START_TEST(config_error_corpus)
{
    size_t n;
    char *all = load_bad(corpus[_i].text, &n);
    for (size_t m = 0; m < 4 && corpus[_i].msgs[m]; m++)
        ck_assert_msg(strstr(all, corpus[_i].msgs[m]), "case %d: expected\n  %s\ngot\n%s", _i,
                      corpus[_i].msgs[m], all);
    ck_assert_msg(n == corpus[_i].count, "case %d: %zu problems, expected %zu:\n%s", _i, n,
                      corpus[_i].count, all);
    ck_assert_msg(!strstr(all, ":0:"), "case %d: a message at line 0:\n%s", _i, all);
    free(all);
}
END_TEST

/* A trailing comment is a space or tab, then ';' or '#', on any unquoted
 * value; quotes keep them; a ';' inside a word stays. UTF-8 text is kept
 * as written. */
START_TEST(config_trailing_comments_and_text)
{
    struct pw_config *c = load_ok("[portwatch]\ninterval = 1m ; a minute\ndatabase = /var/lib/pw.db\t# here\n"
                                  "[check a]\nhosts = a, b ; two\nports = 1 #one\n"
                                  "reason = Zahlungsverkehr f\xC3\xA4llt aus \xE2\x80\x94 SFTP ; comment\n"
                                  "[check b]\nhosts = c\nports = 2\nreason = \"x ; y # z\" ; comment\n"
                                  "[check c]\nhosts = d\nports = 3\nreason = a;b#c\n");
    ck_assert_int_eq(c->s.interval_ms, 60000);
    ck_assert_str_eq(c->s.database, "/var/lib/pw.db");
    ck_assert_uint_eq(c->checks[0].hosts.n, 2);
    ck_assert_str_eq(c->checks[0].reason, "Zahlungsverkehr f\xC3\xA4llt aus \xE2\x80\x94 SFTP");
    ck_assert_str_eq(c->checks[1].reason, "x ; y # z");
    ck_assert_str_eq(c->checks[2].reason, "a;b#c");
    ck_assert_int_eq(c->checks[0].hosts_line, 5);
    pw_config_free(c);
}
END_TEST

/* Garbage and huge files: every problem counted, the first PW_DIAG_KEEP
 * kept, then "and N more"; 20,000 checks load (names indexed, arrays
 * doubled). Sized to stay quick under ASan; the release-build timings
 * are in the README. */
START_TEST(config_scale_and_error_cap)
{
    size_t lines = 20000;
    char *buf = malloc(lines * 40 + 64), *p = buf;
    for (size_t i = 0; i < lines; i++)
        p += sprintf(p, "garbage line %zu\n", i);
    struct pw_diag d = {0};
    struct pw_config *c = NULL;
    ck_assert_int_eq(pw_config_load_buffer("g.ini", buf, (size_t)(p - buf), &c, &d), PW_EINVAL);
    ck_assert_uint_eq(d.n, PW_DIAG_KEEP);
    ck_assert_uint_eq(pw_diag_count(&d), lines);
    ck_assert_str_eq(d.msgs[99], "g.ini:100: expected 'key = value', a [section] header or a comment");
    char out[256] = "";
    FILE *f = tmpfile();
    pw_diag_print(&d, f);
    fseek(f, -120, SEEK_END);
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = '\0';
    fclose(f);
    ck_assert_msg(strstr(out, "\n... and 19900 more (20000 in all)\n"), "%s", out);
    pw_diag_free(&d);

    p = buf;
    for (size_t i = 0; i < lines; i++)
        p += sprintf(p, "[check c%zu]\nhosts=h\nports=1\n", i);
    p += sprintf(p, "[check C7]\n");
    ck_assert_int_eq(pw_config_load_buffer("g.ini", buf, (size_t)(p - buf), &c, &d), PW_EINVAL);
    ck_assert_uint_eq(pw_diag_count(&d), 1);
    ck_assert_str_eq(d.msgs[0], "g.ini:60001: [check C7]: check 'C7' is defined twice (first on line 22)");
    pw_diag_free(&d);
    p -= strlen("[check C7]\n");
    *p = '\0';
    c = load_ok(buf);
    ck_assert_uint_eq(c->nchecks, lines);
    ck_assert_str_eq(c->checks[lines - 1].name, "c19999");
    pw_config_free(c);
    free(buf);
}
END_TEST

/* config-check's warnings from the resolver: only names that resolve
 * locally (localhost, literals) and names under .invalid (RFC 6761: never
 * resolve). */
START_TEST(config_host_warnings)
{
    struct pw_config *c = load_ok("[biztalk]\niis_servers = localhost\n"
                                  "[check a]\nhosts = 127.0.0.1, sql01.invalid\nports = 80\n"
                                  "[check b]\nhosts = LOCALHOST\nports = 81\n");
    struct pw_diag w = {0};
    pw_config_host_warnings(c, &w);
    size_t len = 1;
    for (size_t i = 0; i < w.n; i++)
        len += strlen(w.msgs[i]) + 1;
    char *all = calloc(1, len);
    for (size_t i = 0; i < w.n; i++)
        strcat(strcat(all, w.msgs[i]), "\n");
    ck_assert_msg(strstr(all, "t.ini:4: warning: [check a] hosts: 'sql01.invalid' does not resolve now ("),
                  "%s", all);
    ck_assert_msg(strstr(all, "); until it does, its ports are reported as dns_error\n"), "%s", all);
    ck_assert_msg(strstr(all, "t.ini:4: warning: [check a] hosts: '127.0.0.1' is the same address as "
                              "'localhost' (line 2): 127.0.0.1; its ports are probed twice, under two "
                              "names: write one of them\n"), "%s", all);
    /* LOCALHOST is localhost: one name, merged by the plan, not a warning */
    ck_assert_msg(w.n == 2, "%s", all);
    free(all);
    pw_diag_free(&w);
    pw_config_free(c);

    c = load_ok("[check a]\nhosts = ::1\nports = 80\n[check b]\nhosts = 0:0:0:0:0:0:0:1\nports = 80\n");
    pw_config_host_warnings(c, &w);
    ck_assert_uint_eq(w.n, 1);
    ck_assert_str_eq(w.msgs[0], "t.ini:5: warning: [check b] hosts: '0:0:0:0:0:0:0:1' is the same address "
                                "as '::1' (line 2): ::1; its ports are probed twice, under two names: "
                                "write one of them");
    pw_diag_free(&w);
    pw_config_free(c);

    c = load_ok("[check a]\nhosts = 127.0.0.1, ::1\nports = 80\n");
    pw_config_host_warnings(c, &w);
    ck_assert_uint_eq(pw_diag_count(&w), 0);
    pw_config_free(c);
}
END_TEST

/* Messages quote values, cut to fit their buffers: a cut never splits a
 * UTF-8 character, so what reaches the terminal is still text. */
START_TEST(config_messages_stay_text)
{
    char text[1200];
    for (int shift = 0; shift < 3; shift++) {
        int n = snprintf(text, sizeof text, "[portwatch]\nlog_level = %.*s", shift, "xx");
        for (int i = 0; i < 300; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "\xE2\x82\xAC");
        size_t count;
        char *all = load_bad(text, &count);
        char err[PW_ERRBUF];
        ck_assert_uint_eq(count, 1);
        ck_assert_msg(pw_check_text(all, strlen(all) - 1, err) == 0, "%s: %s", err, all);
        ck_assert_msg(strstr(all, "t.ini:2: [portwatch] log_level: '"), "%s", all);
        free(all);
    }
}
END_TEST

START_TEST(config_example_file_loads)
{
    char path[1024];
    const char *root = getenv("PW_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/packaging/portwatch.ini", root ? root : PW_SOURCE_ROOT_FALLBACK);
    struct pw_diag d = {0};
    struct pw_config *c;
    int rc = pw_config_load(path, &c, &d);
    pw_diag_print(&d, stderr);
    ck_assert_int_eq(rc, 0);
    struct pw_plan *p;
    ck_assert_int_eq(pw_plan_build(c, &p, &d), 0);
    ck_assert_uint_eq(p->nhosts, 1);
    ck_assert_uint_eq(p->ntargets, 206);
    pw_plan_free(p);
    pw_config_free(c);

    rc = pw_config_load("/nonexistent/portwatch.ini", &c, &d);
    ck_assert_int_eq(rc, PW_EIO);
    ck_assert_msg(strstr(d.msgs[0], "/nonexistent/portwatch.ini: cannot open:"), "%s", d.msgs[0]);
    pw_diag_free(&d);
}
END_TEST

/* ---- expansion ----------------------------------------------------------- */

static const struct pw_target *find_target(const struct pw_plan *p, const char *host, uint16_t port)
{
    for (size_t i = 0; i < p->ntargets; i++)
        if (strcmp(p->hosts[p->targets[i].host].name, host) == 0 && p->targets[i].port == port)
            return &p->targets[i];
    return NULL;
}

static struct pw_plan *plan_of(const char *text)
{
    struct pw_config *c = load_ok(text);
    struct pw_diag d = {0};
    struct pw_plan *p;
    ck_assert_int_eq(pw_plan_build(c, &p, &d), 0);
    pw_config_free(c); /* the plan must not depend on the config */
    return p;
}

START_TEST(expansion_one_sql_host_holds_all_databases)
{
    struct pw_plan *p = plan_of("[biztalk]\n"
                                "management_database = sql01\nmessagebox_database = SQL01\n"
                                "tracking_database = sql01\nbam_primary_import_database = sql01\n"
                                "rule_engine_database = sql01\n");
    ck_assert_uint_eq(p->nhosts, 1);
    ck_assert_str_eq(p->hosts[0].name, "sql01");
    /* 1433 once, 135 once, and the 201-port range once each */
    ck_assert_uint_eq(p->ntargets, 1 + 1 + 201);
    const struct pw_target *sql = find_target(p, "sql01", 1433);
    ck_assert_ptr_nonnull(sql);
    const struct pw_profile *pr = pw_target_profile(p, sql);
    ck_assert_int_eq(pr->expect, PW_EXPECT_LISTENING);
    /* rows 1, 4, 5, 8, 14, 17, 18 name SQL Server 1433 for these roles */
    ck_assert_uint_eq(pr->nreasons, 7);
    static const int rows1433[] = {1, 4, 5, 8, 14, 17, 18};
    for (size_t i = 0; i < 7; i++)
        ck_assert_int_eq(pr->reasons[i].row, rows1433[i]);
    ck_assert_uint_eq(pr->nroles, 5);
    ck_assert_str_eq(pr->roles[0], "bam_primary_import_database");

    const struct pw_profile *epm = pw_target_profile(p, find_target(p, "sql01", 135));
    ck_assert_uint_eq(epm->nreasons, 4); /* rows 2, 6, 9, 15 */
    ck_assert_int_eq(epm->reasons[3].row, 15);
    ck_assert_str_eq(epm->reasons[3].text,
                     "Transacted connection to SQL Server to deploy business rules by using the "
                     "Business Rule Engine Deployment Wizard");

    const struct pw_target *rpc = find_target(p, "sql01", 50100);
    const struct pw_profile *rp = pw_target_profile(p, rpc);
    ck_assert_int_eq(rp->expect, PW_EXPECT_REACHABLE);
    ck_assert(rp->rpc_range);
    ck_assert_uint_eq(rp->nreasons, 4); /* rows 3, 7, 10, 16 */
    /* the whole range shares one profile */
    ck_assert_uint_eq(find_target(p, "sql01", 50000)->profile, rpc->profile);
    ck_assert_uint_eq(find_target(p, "sql01", 50200)->profile, rpc->profile);
    ck_assert_ptr_null(find_target(p, "sql01", 50201));
    ck_assert_ptr_null(find_target(p, "sql01", 445));
    ck_assert_uint_eq(p->nprofiles, 3);
    pw_plan_free(p);
}
END_TEST

START_TEST(expansion_roles_hosts_checks_merge)
{
    struct pw_plan *p = plan_of("[biztalk]\nmanagement_database = sql01\nprocessing_servers = bts01, bts02\n"
                                "iis_servers = web01, bts01\nsecondary_rpc_ports = 50000-50009\n"
                                "[check dtc-pinned]\nhosts = bts01\nports = 50005, 5985\nexpect = listening\n"
                                "interval = 10s\nreason = DTC pinned to 50005\n");
    ck_assert_uint_eq(p->nhosts, 4);
    /* hosts in order of first appearance: catalog row order, then checks */
    ck_assert_str_eq(p->hosts[0].name, "sql01");
    ck_assert_str_eq(p->hosts[1].name, "bts01");
    ck_assert_str_eq(p->hosts[2].name, "bts02");
    ck_assert_str_eq(p->hosts[3].name, "web01");
    /* bts01: 135, 445, 1164, 50000-50009, 5985 */
    ck_assert_uint_eq(p->hosts[1].n, 3 + 10 + 1);
    const struct pw_profile *pin = pw_target_profile(p, find_target(p, "bts01", 50005));
    ck_assert_int_eq(pin->expect, PW_EXPECT_LISTENING); /* stricter expectation wins */
    ck_assert_int_eq(pin->interval_ms, 10000);
    ck_assert_uint_eq(pin->nreasons, 2);
    ck_assert_str_eq(pin->reasons[1].role, "dtc-pinned");
    ck_assert_str_eq(pin->reasons[1].text, "DTC pinned to 50005");
    const struct pw_profile *other = pw_target_profile(p, find_target(p, "bts01", 50004));
    ck_assert_int_eq(other->expect, PW_EXPECT_REACHABLE);
    ck_assert_int_eq(other->interval_ms, 30000);
    /* the same role and row on two hosts share a profile */
    ck_assert_uint_eq(find_target(p, "bts01", 445)->profile, find_target(p, "bts02", 445)->profile);
    /* 1164 on bts01 serves IIS only; 135 on bts01 serves processing */
    const struct pw_profile *iis = pw_target_profile(p, find_target(p, "bts01", 1164));
    ck_assert_uint_eq(iis->nroles, 1);
    ck_assert_str_eq(iis->roles[0], "iis_servers");
    /* targets are sorted by port within a host */
    for (uint32_t i = 1; i < p->hosts[1].n; i++)
        ck_assert_uint_lt(p->targets[p->hosts[1].first + i - 1].port, p->targets[p->hosts[1].first + i].port);

    struct pw_plan *f;
    ck_assert_int_eq(pw_plan_filter(p, "BTS01", NULL, &f), 0);
    ck_assert_uint_eq(f->nhosts, 1);
    ck_assert_uint_eq(f->ntargets, 14);
    pw_plan_free(p); /* the filtered plan must survive its source */
    ck_assert_uint_eq(f->targets[3].port, 5985);
    ck_assert_str_eq(f->profiles[f->targets[3].profile].reasons[0].role, "dtc-pinned");
    struct pw_plan *g;
    ck_assert_int_eq(pw_plan_filter(f, NULL, "iis_servers", &g), 0);
    ck_assert_uint_eq(g->ntargets, 1);
    ck_assert_uint_eq(g->targets[0].port, 1164);
    pw_plan_free(g);
    ck_assert_int_eq(pw_plan_filter(f, "nohost", NULL, &g), PW_ENOT_FOUND);
    pw_plan_free(f);
}
END_TEST

/* Ports an endpoint mapper registered are an input of plan building: the
 * configuration is left as it was, the ports become listening targets
 * with the input's reason, and a port a catalog row names too merges. */
START_TEST(expansion_registered_ports_input)
{
    struct pw_config *c = load_ok("[biztalk]\nprocessing_servers = bts01\n"
                                  "secondary_rpc_ports = 50000-50009\n");
    size_t nchecks = c->nchecks;
    static const uint16_t ports[] = {50003, 61000};
    struct pw_plan_registered reg[] = {
        {"BTS01", ports, 2, "registered with the endpoint mapper: MSDTC"},
    };
    struct pw_plan *p = NULL;
    struct pw_diag d = {0};
    ck_assert_int_eq(pw_plan_build_with(c, reg, 1, &p, &d), 0);
    ck_assert_uint_eq(c->nchecks, nchecks);
    ck_assert_uint_eq(p->nhosts, 1); /* BTS01 is bts01 */
    const struct pw_profile *outside = pw_target_profile(p, find_target(p, "bts01", 61000));
    ck_assert_int_eq(outside->expect, PW_EXPECT_LISTENING);
    ck_assert_int_eq(outside->verify_proto, PW_PROTO_NONE);
    ck_assert_uint_eq(outside->nreasons, 1);
    ck_assert_str_eq(outside->reasons[0].role, PW_PLAN_REGISTERED_NAME);
    ck_assert_str_eq(outside->reasons[0].text, "registered with the endpoint mapper: MSDTC");
    const struct pw_profile *in = pw_target_profile(p, find_target(p, "bts01", 50003));
    ck_assert_uint_eq(in->nreasons, 2);
    ck_assert_int_eq(in->expect, PW_EXPECT_LISTENING);
    ck_assert_ptr_null(find_target(p, "bts01", 61001));
    pw_plan_free(p);
    ck_assert_int_eq(pw_plan_build_with(c, NULL, 0, &p, &d), 0);
    ck_assert_ptr_null(find_target(p, "bts01", 61000));
    pw_plan_free(p);
    pw_diag_free(&d);
    pw_config_free(c);
}
END_TEST

START_TEST(expansion_verify_protocols)
{
    /* catalog ports verify by port; an operator's check may replace it */
    struct pw_plan *p = plan_of("[biztalk]\nmanagement_database = sql01\n"
                                "[check web]\nhosts = sql01\nports = 8080\nprotocol = http\n"
                                "[check plain]\nhosts = sql01\nports = 9000\n"
                                "[check dtc-off]\nhosts = sql01\nports = 135\nprotocol = none\n");
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 1433))->verify_proto, PW_PROTO_AUTO);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 50000))->verify_proto, PW_PROTO_AUTO);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 8080))->verify_proto, PW_PROTO_HTTP);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 9000))->verify_proto, PW_PROTO_AUTO);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 135))->verify_proto, PW_PROTO_NONE);
    pw_plan_free(p);
    p = plan_of("[biztalk]\nverify = no\nmanagement_database = sql01\n"
                "[check tds]\nhosts = sql01\nports = 1433\nprotocol = TDS\n"
                "[check smb]\nhosts = sql01\nports = 4455\nprotocol = smb\n");
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 135))->verify_proto, PW_PROTO_NONE);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 1433))->verify_proto, PW_PROTO_TDS);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 4455))->verify_proto, PW_PROTO_SMB);
    pw_plan_free(p);
}
END_TEST

/* The protocol table's config side: names, "auto", services, the choices
 * messages list. */
START_TEST(protocol_names_and_services)
{
    int v = 99;
    ck_assert_int_eq(pw_proto_choice_parse("Auto", &v), 0);
    ck_assert_int_eq(v, PW_PROTO_AUTO);
    for (int p = 0; p < PW_PROTO_COUNT_; p++) {
        ck_assert_int_eq(pw_proto_choice_parse(pw_proto_name((enum pw_proto)p), &v), 0);
        ck_assert_int_eq(v, p);
        ck_assert_msg((pw_proto_service((enum pw_proto)p) == NULL) == (p == PW_PROTO_NONE), "%d", p);
    }
    v = 99;
    ck_assert_int_ne(pw_proto_choice_parse("ldap", &v), 0);
    ck_assert_int_ne(pw_proto_choice_parse("", &v), 0);
    ck_assert_int_ne(pw_proto_choice_parse(NULL, &v), 0);
    ck_assert_int_eq(v, 99);
    ck_assert_str_eq(pw_proto_service(PW_PROTO_TDS), "SQL Server");
    ck_assert_ptr_null(pw_proto_service(PW_PROTO_COUNT_));
    ck_assert_str_eq(pw_proto_name(PW_PROTO_COUNT_), "invalid");
    char buf[64];
    pw_proto_choices(buf, sizeof buf);
    ck_assert_str_eq(buf, "auto, none, tds, rpc, smb, http");
    pw_proto_choices(buf, 8); /* cut short, still terminated */
    ck_assert_str_eq(buf, "auto, n");
}
END_TEST

START_TEST(expansion_rolling_rpc_sweep)
{
    struct pw_plan *p = plan_of("[portwatch]\ninterval = 30s\n"
                                "[biztalk]\nmanagement_database = sql01\n"
                                "secondary_rpc_ports = 49152-65535\nrpc_sweep_period = 1h\n"
                                "[check pinned]\nhosts = sql01\nports = 50005\n");
    ck_assert_uint_eq(p->ntargets, 2 + 16384);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 49152))->interval_ms, 3600000);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 65535))->interval_ms, 3600000);
    /* a port also named elsewhere keeps the shorter interval */
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 50005))->interval_ms, 30000);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 1433))->interval_ms, 30000);
    pw_plan_free(p);
    p = plan_of("[biztalk]\nmanagement_database = sql01\nrpc_sweep_period = 10s\n");
    /* a period shorter than the interval changes nothing */
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "sql01", 50000))->interval_ms, 30000);
    pw_plan_free(p);
}
END_TEST

/* The plan's warnings joined, one a line ("" when none). */
static char *warnings_of(const struct pw_plan *p)
{
    const struct pw_diag *w = pw_plan_warnings(p);
    size_t len = 1;
    for (size_t i = 0; i < w->n; i++)
        len += strlen(w->msgs[i]) + 1;
    char *all = calloc(1, len);
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < w->n; i++) {
        strcat(all, w->msgs[i]);
        strcat(all, "\n");
    }
    return all;
}

static int64_t range_interval(const struct pw_plan *p, const char *host, uint16_t port)
{
    const struct pw_target *t = find_target(p, host, port);
    ck_assert_ptr_nonnull(t);
    return pw_target_profile(p, t)->interval_ms;
}

START_TEST(expansion_sweep_rate_caps_period)
{
    /* 1m asked over 16384 ports would be 273 SYNs a second: 10/s stretches
     * it to 1639s, and says so; a registered port keeps the interval. */
    struct pw_plan *p = plan_of("[portwatch]\ninterval = 30s\n"
                                "[biztalk]\nmanagement_database = sql01\nprocessing_servers = bts01\n"
                                "secondary_rpc_ports = 49152-65535\nrpc_sweep_period = 1m\n"
                                "[check pinned]\nhosts = sql01\nports = 50005\n");
    ck_assert_int_eq(range_interval(p, "sql01", 49152), 1639000);
    ck_assert_int_eq(range_interval(p, "sql01", 65535), 1639000);
    ck_assert_int_eq(range_interval(p, "bts01", 60000), 1639000);
    ck_assert_int_eq(range_interval(p, "sql01", 50005), 30000);
    ck_assert_int_eq(range_interval(p, "sql01", 1433), 30000);
    char *w = warnings_of(p);
    ck_assert_str_eq(w, "[biztalk] rpc_sweep_period: 1m asked, 27m19s used: rpc_sweep_rate = 10/s "
                        "holds the sweep of secondary_rpc_ports (16384 ports a host) to that; raise "
                        "rpc_sweep_rate to 274/s for 1m, or set rpc_sweep_period = 27m19s to accept it\n");
    free(w);
    pw_plan_free(p);

    /* The rate the warning names does give the period asked, silently. */
    p = plan_of("[biztalk]\nmanagement_database = sql01\nsecondary_rpc_ports = 49152-65535\n"
                "rpc_sweep_period = 1m\nrpc_sweep_rate = 274/s\n");
    ck_assert_int_eq(range_interval(p, "sql01", 49152), 60000);
    ck_assert_uint_eq(pw_plan_warnings(p)->n, 0);
    pw_plan_free(p);
    /* and one less does not */
    p = plan_of("[biztalk]\nmanagement_database = sql01\nsecondary_rpc_ports = 49152-65535\n"
                "rpc_sweep_period = 1m\nrpc_sweep_rate = 273/s\n");
    ck_assert_int_eq(range_interval(p, "sql01", 49152), 61000);
    ck_assert_uint_eq(pw_plan_warnings(p)->n, 1);
    pw_plan_free(p);
}
END_TEST

/* Plans whose range interval the cap leaves alone: (INI, host, port, the
 * interval expected, warnings expected). */
static const struct {
    const char *ini, *host;
    uint16_t port;
    int64_t interval_ms;
    size_t warnings;
} uncapped[] = {
    /* 16384 ports an hour is 4.6 a second: under the default cap */
    {"[biztalk]\nmanagement_database = sql01\nsecondary_rpc_ports = 49152-65535\n"
     "rpc_sweep_period = 1h\n", "sql01", 49152, 3600000, 0},
    /* the shipped range every default interval: 201 ports / 30s = 6.7/s */
    {"[biztalk]\nmanagement_database = sql01\n", "sql01", 50000, 30000, 0},
    /* exactly at the cap: 10 ports every 1s at 10/s */
    {"[portwatch]\ninterval = 1s\ntimeout = 500ms\n[biztalk]\nmanagement_database = sql01\n"
     "secondary_rpc_ports = 50000-50009\n", "sql01", 50009, 1000, 0},
    /* an operator's check over a wide range is not the sweep: not capped */
    {"[check wide]\nhosts = sql01\nports = 49152-65535\nexpect = reachable\n",
     "sql01", 49152, 30000, 0},
    /* a stretched range no host sweeps warns of nothing */
    {"[portwatch]\ninterval = 1s\ntimeout = 500ms\n[biztalk]\niis_servers = web01\n",
     "web01", 1164, 1000, 0},
};

START_TEST(expansion_sweep_rate_inactive)
{
    for (size_t i = 0; i < sizeof uncapped / sizeof uncapped[0]; i++) {
        struct pw_plan *p = plan_of(uncapped[i].ini);
        ck_assert_msg(range_interval(p, uncapped[i].host, uncapped[i].port) ==
                          uncapped[i].interval_ms, "case %zu", i);
        ck_assert_msg(pw_plan_warnings(p)->n == uncapped[i].warnings, "case %zu", i);
        pw_plan_free(p);
    }
}
END_TEST

START_TEST(expansion_sweep_rate_every_interval)
{
    /* rpc_sweep_period = 0s (the default) asks for the range every
     * interval; the cap applies there too. */
    struct pw_plan *p = plan_of("[portwatch]\ninterval = 1s\ntimeout = 500ms\n"
                                "[biztalk]\nmanagement_database = sql01\n");
    ck_assert_int_eq(range_interval(p, "sql01", 50000), 21000); /* 201 / 10, whole seconds */
    ck_assert_int_eq(range_interval(p, "sql01", 1433), 1000);
    char *w = warnings_of(p);
    ck_assert_str_eq(w, "[biztalk] rpc_sweep_period: every interval (1s) asked, 21s used: "
                        "rpc_sweep_rate = 10/s holds the sweep of secondary_rpc_ports (201 ports a "
                        "host) to that; raise rpc_sweep_rate to 201/s for 1s, or set "
                        "rpc_sweep_period = 21s to accept it\n");
    free(w);
    pw_plan_free(p);
    /* a period shorter than the interval asks for the interval */
    p = plan_of("[portwatch]\ninterval = 30s\n[biztalk]\nmanagement_database = sql01\n"
                "secondary_rpc_ports = 49152-65535\nrpc_sweep_period = 10s\nrpc_sweep_rate = 1000\n");
    ck_assert_int_eq(range_interval(p, "sql01", 49152), 30000);
    ck_assert_uint_eq(pw_plan_warnings(p)->n, 0);
    pw_plan_free(p);
    /* beyond what any rate allows: the warning says only the period helps */
    p = plan_of("[portwatch]\ninterval = 1s\ntimeout = 500ms\n[biztalk]\nmanagement_database = sql01\n"
                "secondary_rpc_ports = 49152-65535\nrpc_sweep_rate = 1000/s\n");
    ck_assert_int_eq(range_interval(p, "sql01", 49152), 17000);
    w = warnings_of(p);
    ck_assert_msg(strstr(w, "every interval (1s) asked, 17s used: rpc_sweep_rate = 1000/s holds") &&
                      strstr(w, "; rpc_sweep_rate goes up to 1000/s only, so set rpc_sweep_period = "
                                "17s to accept it\n"),
                  "%s", w);
    free(w);
    pw_plan_free(p);
}
END_TEST

START_TEST(expansion_sweep_rate_effective_period)
{
    /* the function the plan uses, on configs changed after loading (as
     * the command line's --interval does) */
    struct pw_config *c = load_ok("[biztalk]\nmanagement_database = sql01\n");
    int64_t asked = 0;
    ck_assert_int_eq(pw_plan_rpc_sweep_ms(c, &asked), 30000);
    ck_assert_int_eq(asked, 30000);
    c->s.interval_ms = 5000;
    ck_assert_int_eq(pw_plan_rpc_sweep_ms(c, &asked), 21000);
    ck_assert_int_eq(asked, 5000);
    c->rpc_sweep_ms = 60000;
    ck_assert_int_eq(pw_plan_rpc_sweep_ms(c, NULL), 60000);
    c->rpc_sweep_rate = 0; /* only by hand: no cap rather than a division by zero */
    c->rpc_sweep_ms = 0;
    ck_assert_int_eq(pw_plan_rpc_sweep_ms(c, NULL), 5000);
    pw_config_free(c);
}
END_TEST

/* A scratch file in the working directory: not tmpfile(), which Windows
 * (this suite runs under Wine) creates in the drive's root. Binary, so the
 * text reads back byte for byte. */
static FILE *scratch(const char *name)
{
    FILE *f = fopen(name, "w+b");
    ck_assert_msg(f != NULL, "cannot create %s", name);
    return f;
}

/* Reads back what a FILE-writing function wrote, and removes the file. */
static char *slurp(FILE *f, const char *name)
{
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    remove(name);
    return buf;
}

START_TEST(expansion_sweep_warning_printed_and_filtered)
{
    struct pw_plan *p = plan_of("[portwatch]\ninterval = 2s\ntimeout = 1s\n"
                                "[biztalk]\nmanagement_database = sql01\nprocessing_servers = bts01\n");
    FILE *f = scratch("test_config_plan.txt");
    pw_plan_print(p, f);
    char *out = slurp(f, "test_config_plan.txt");
    ck_assert_msg(strstr(out, "  50000-50200  reachable  every 21s  "), "%s", out);
    ck_assert_msg(strstr(out, "distinct port profiles\nwarning: [biztalk] rpc_sweep_period: every "
                              "interval (2s) asked, 21s used: "), "%s", out);
    free(out);
    /* the filtered plan (portwatch check --host) keeps them */
    struct pw_plan *q;
    ck_assert_int_eq(pw_plan_filter(p, "bts01", NULL, &q), 0);
    ck_assert_uint_eq(pw_plan_warnings(q)->n, 1);
    ck_assert_str_eq(pw_plan_warnings(q)->msgs[0], pw_plan_warnings(p)->msgs[0]);
    pw_plan_free(p);
    pw_plan_free(q);
    ck_assert_uint_eq(pw_plan_warnings(NULL)->n, 0);
}
END_TEST

START_TEST(reference_lists_sweep_rate)
{
    FILE *f = scratch("test_config_keys.md");
    pw_config_write_reference(f);
    char *out = slurp(f, "test_config_keys.md");
    ck_assert_msg(strstr(out, "\n| `rpc_sweep_rate` | rate | 10/s | 1/s to 1000/s | Most probes a second "),
                  "%s", out);
    /* a table cell must not hold the column separator */
    size_t n;
    const struct pw_key *k = pw_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(!strchr(k[i].help, '|'), "%s", k[i].name);
    free(out);
}
END_TEST

START_TEST(expansion_nothing_to_watch)
{
    struct pw_config *c = load_ok("[portwatch]\ninterval = 30s\n");
    struct pw_diag d = {0};
    struct pw_plan *p;
    ck_assert_int_eq(pw_plan_build(c, &p, &d), PW_EINVAL);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_msg(strstr(d.msgs[0], "nothing to watch"), "%s", d.msgs[0]);
    pw_diag_free(&d);
    pw_config_free(c);
}
END_TEST

START_TEST(adhoc_check)
{
    struct pw_config *c = pw_config_new();
    struct pw_diag d = {0};
    ck_assert_int_eq(pw_config_add_check(c, "command-line", "127.0.0.1,::1,", "135,445,50000-50200",
                                         PW_EXPECT_REACHABLE, &d), 0);
    struct pw_plan *p;
    ck_assert_int_eq(pw_plan_build(c, &p, &d), 0);
    ck_assert_uint_eq(p->ntargets, 2 * 203);
    ck_assert_int_eq(p->profiles[0].expect, PW_EXPECT_REACHABLE);
    pw_plan_free(p);
    ck_assert_int_eq(pw_config_set(c, "timeout", "2x", "--timeout", &d), PW_EINVAL);
    ck_assert_msg(strstr(d.msgs[0], "--timeout: '2x' has an unknown unit 'x'"), "%s", d.msgs[0]);
    pw_diag_free(&d);
    pw_config_free(c);
}
END_TEST

/* Hosts and profiles are found through hash sets: 1,800 checks over 600
 * hosts (named in two cases) must still merge by host ignoring case, share
 * one profile where the contributions are equal, and keep every reason. */
START_TEST(expansion_many_hosts_and_profiles)
{
    enum { HOSTS = 600, PER = 3 }; /* "hosts = h0,...,h599" fits a line */
    size_t cap = 64 * HOSTS * PER + 8 * HOSTS + 64, used = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < HOSTS * PER; i++)
        used += (size_t)snprintf(text + used, cap - used, "[check c%d]\nhosts = %s%d\nports = 1433\n",
                                 i, i < HOSTS ? "h" : "H", i % HOSTS);
    used += (size_t)snprintf(text + used, cap - used, "[check all]\nports = 80\nhosts = ");
    for (int h = 0; h < HOSTS; h++)
        used += (size_t)snprintf(text + used, cap - used, "%sh%d", h ? "," : "", h);
    snprintf(text + used, cap - used, "\n");
    struct pw_plan *p = plan_of(text);
    free(text);
    ck_assert_uint_eq(p->nhosts, HOSTS);
    ck_assert_uint_eq(p->ntargets, 2 * HOSTS);
    /* one set per host on 1433, one shared by every host on 80 */
    ck_assert_uint_eq(p->nprofiles, HOSTS + 1);
    for (int h = 0; h < HOSTS; h += 97) {
        char name[16];
        snprintf(name, sizeof name, "h%d", h);
        const struct pw_profile *pr = pw_target_profile(p, find_target(p, name, 1433));
        ck_assert_uint_eq(pr->nreasons, PER);
        for (int k = 0; k < PER; k++) {
            char want[16];
            snprintf(want, sizeof want, "c%d", h + k * HOSTS);
            ck_assert_str_eq(pr->reasons[k].role, want);
        }
        ck_assert_uint_eq(find_target(p, name, 80)->profile, find_target(p, "h0", 80)->profile);
    }
    pw_plan_free(p);
}
END_TEST

/* Two vantages on one server: their tables merge, each (host, port) once
 * with the reasons of both, each reason naming its table. */
START_TEST(vantages_merge)
{
    struct pw_plan *p = plan_of("[portwatch]\nvantage = administration, processing\n"
                                "[biztalk]\nmanagement_database = sql01\nsso_database = SQL01\n");
    ck_assert_uint_eq(p->nhosts, 1);
    const struct pw_profile *pr = pw_target_profile(p, find_target(p, "sql01", 1433));
    /* administration 1, 5, 17 (management); processing 1 (management), 7
     * (SSO), 25 (management), 26 (SSO) */
    static const struct {
        const char *vantage;
        int row;
        const char *role;
    } want[] = {
        {"administration", 1, "management_database"}, {"administration", 5, "management_database"},
        {"administration", 17, "management_database"}, {"processing", 1, "management_database"},
        {"processing", 7, "sso_database"},             {"processing", 25, "management_database"},
        {"processing", 26, "sso_database"},
    };
    ck_assert_uint_eq(pr->nreasons, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < pr->nreasons; i++) {
        ck_assert_str_eq(pr->reasons[i].vantage, want[i].vantage);
        ck_assert_int_eq(pr->reasons[i].row, want[i].row);
        ck_assert_str_eq(pr->reasons[i].role, want[i].role);
    }
    ck_assert_uint_eq(pr->nroles, 2);
    /* the range: administration 3, 7 and processing 3, 9 */
    const struct pw_profile *rp = pw_target_profile(p, find_target(p, "sql01", 50000));
    ck_assert_uint_eq(rp->nreasons, 4);
    ck_assert_int_eq(rp->expect, PW_EXPECT_REACHABLE);
    pw_plan_free(p);

    /* the default is administration alone: no SSO database rows */
    p = plan_of("[biztalk]\nmanagement_database = sql01\nsso_database = sql02\n");
    ck_assert_ptr_null(find_target(p, "sql02", 1433));
    ck_assert_str_eq(pw_target_profile(p, find_target(p, "sql01", 1433))->reasons[0].vantage,
                     "administration");
    pw_plan_free(p);
}
END_TEST

/* Rows only needed while BizTalk Configuration Manager runs wait for
 * configuring = yes; the OLAP rows follow analysis_services_port. */
START_TEST(vantage_configuring_rows_and_olap_port)
{
    struct pw_plan *p = plan_of("[portwatch]\nvantage = processing\n"
                                "[biztalk]\nbiztalk_analysis_database = olap01\n");
    ck_assert_uint_eq(p->ntargets, 1); /* row 21 (2725) only */
    ck_assert_ptr_nonnull(find_target(p, "olap01", 2725));
    pw_plan_free(p);
    p = plan_of("[portwatch]\nvantage = processing\n"
                "[biztalk]\nbiztalk_analysis_database = olap01\nconfiguring = yes\n");
    ck_assert_uint_eq(p->ntargets, 3);
    ck_assert_ptr_nonnull(find_target(p, "olap01", 2383)); /* the page's 2393, as a modern SSAS */
    ck_assert_ptr_nonnull(find_target(p, "olap01", 445));
    pw_plan_free(p);
    p = plan_of("[portwatch]\nvantage = processing, receive-send\n"
                "[biztalk]\nbam_analysis_database = olap01\nanalysis_services_port = 2393\n");
    const struct pw_profile *pr = pw_target_profile(p, find_target(p, "olap01", 2393));
    ck_assert_uint_eq(pr->nreasons, 2); /* processing 16 (2393), receive-send 25 (2383) */
    ck_assert_ptr_null(find_target(p, "olap01", 2383));
    pw_plan_free(p);
}
END_TEST

/* The BAM portal's "80 or 443" is bam_portal_port; FTP 20 is reachable. */
START_TEST(vantage_portal_port_and_ftp)
{
    struct pw_plan *p = plan_of("[portwatch]\nvantage = bam-portal, receive-send\n"
                                "[biztalk]\nbam_portal_site = portal01\nftp_servers = ftp01\n");
    ck_assert_ptr_nonnull(find_target(p, "portal01", 443));
    ck_assert_ptr_null(find_target(p, "portal01", 80));
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "ftp01", 20))->expect, PW_EXPECT_REACHABLE);
    ck_assert_int_eq(pw_target_profile(p, find_target(p, "ftp01", 21))->expect, PW_EXPECT_LISTENING);
    pw_plan_free(p);
    p = plan_of("[portwatch]\nvantage = bam-portal\n[biztalk]\nbam_portal_site = portal01\n"
                "bam_portal_port = 80\n");
    ck_assert_ptr_nonnull(find_target(p, "portal01", 80));
    ck_assert_uint_eq(p->ntargets, 1);
    pw_plan_free(p);
}
END_TEST

/* config-check's notes: each role the vantages need and the file leaves
 * unset, with the rows it leaves unwatched; none for roles set. */
/* Who watches reaches the plan: the configured name and labels in
 * canonical form, else the host name and none; a filtered plan keeps them. */
START_TEST(plan_identity)
{
    struct pw_plan *p = plan_of("[portwatch]\nvantage = processing, sso\ninstance_name = BTS01\n"
                                "labels =  group = prod-a , site=ams=1 \n[check x]\nhosts=a\nports=1\n");
    const struct pw_plan_identity *id = pw_plan_identity(p);
    ck_assert_str_eq(id->instance_name, "BTS01");
    ck_assert_str_eq(id->labels, "group=prod-a,site=ams=1");
    ck_assert_int_eq(id->vantage, PW_VANTAGE_BIT(PW_VANTAGE_PROCESSING) |
                                      PW_VANTAGE_BIT(PW_VANTAGE_SSO));
    struct pw_plan *f;
    ck_assert_int_eq(pw_plan_filter(p, "a", NULL, &f), 0);
    pw_plan_free(p);
    ck_assert_str_eq(pw_plan_identity(f)->instance_name, "BTS01");
    ck_assert_str_eq(pw_plan_identity(f)->labels, "group=prod-a,site=ams=1");
    pw_plan_free(f);
    p = plan_of("[check x]\nhosts=a\nports=1\n");
    char host[256];
    size_t len = sizeof host;
    ck_assert_int_eq(uv_os_gethostname(host, &len), 0);
    ck_assert_str_eq(pw_plan_identity(p)->instance_name, host);
    ck_assert_str_eq(pw_plan_identity(p)->labels, "");
    ck_assert_int_eq(pw_plan_identity(p)->vantage, PW_VANTAGE_BIT(PW_VANTAGE_ADMINISTRATION));
    pw_plan_free(p);
}
END_TEST

START_TEST(vantage_role_notes)
{
    struct pw_config *c = load_ok("[portwatch]\nvantage = sso, master-secret\n"
                                  "[biztalk]\nsso_database = sql01\n");
    struct pw_diag d = {0};
    pw_plan_role_notes(c, &d);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_str_eq(d.msgs[0], "[biztalk] processing_servers is not set, so the rows of "
                                "Processing server (processing_servers) are not watched: "
                                "master-secret rows 2-3; name its hosts, e.g. "
                                "processing_servers = HOST1, HOST2");
    ck_assert_str_eq(d.msgs[1], "[biztalk] master_secret_server is not set, so the rows of "
                                "Master secret server (master_secret_server) are not watched: "
                                "sso rows 2-3; name its hosts, e.g. master_secret_server = "
                                "HOST1, HOST2");
    pw_diag_free(&d);
    pw_config_free(c);
    /* configuring-only rows are not asked for unless configuring = yes */
    c = load_ok("[portwatch]\nvantage = tracking\n");
    pw_plan_role_notes(c, &d);
    for (size_t i = 0; i < d.n; i++)
        ck_assert_msg(!strstr(d.msgs[i], "bam_star_schema_database"), "%s", d.msgs[i]);
    ck_assert_msg(strstr(d.msgs[0], "management_database is not set") &&
                  strstr(d.msgs[0], "tracking rows 1-3;"), "%s", d.msgs[0]);
    pw_diag_free(&d);
    pw_config_free(c);
}
END_TEST

START_TEST(catalog_table)
{
    const struct pw_catalog *cat = pw_catalog_vantage(PW_VANTAGE_ADMINISTRATION);
    ck_assert_uint_eq(cat->nrows, 19);
    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    ck_assert_uint_eq(nroles, PW_NROLES);
    int ranges = 0;
    for (size_t i = 0; i < cat->nrows; i++) {
        const struct pw_catalog_row *r = &cat->rows[i];
        ck_assert_int_eq(r->number, (int)i + 1);
        ck_assert_str_eq(r->protocol, "TCP");
        if (r->port_key == PW_PORT_RPC_RANGE) {
            ranges++;
            ck_assert_int_eq(r->expect, PW_EXPECT_REACHABLE);
            ck_assert_uint_eq(r->port_lo, 50000);
            ck_assert_uint_eq(r->port_hi, 50200);
        } else {
            ck_assert_int_eq(r->expect, PW_EXPECT_LISTENING);
            ck_assert(r->port_lo == 1433 || r->port_lo == 135 || r->port_lo == 445 || r->port_lo == 1164);
        }
    }
    ck_assert_int_eq(ranges, 5); /* rows 3, 7, 10, 12, 16 */
    ck_assert_str_eq(roles[cat->rows[18].role].title, "IIS Server");
    ck_assert_int_eq(pw_catalog_role_find("processing_servers"), 3);
    ck_assert_int_eq(pw_catalog_role_find("nope"), -1);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *v = tcase_create("values");
    tcase_add_test(v, durations_valid);
    tcase_add_test(v, durations_invalid);
    tcase_add_test(v, duration_format_roundtrip);
    tcase_add_test(v, ports_valid);
    tcase_add_test(v, ports_invalid);
    tcase_add_test(v, hosts_lists);
    tcase_add_test(v, listen_addresses);
    tcase_add_test(v, rates);
    suite_add_tcase(s, v);
    TCase *ini = tcase_create("ini");
    tcase_add_test(ini, ini_bom_crlf_comments);
    tcase_add_test(ini, ini_errors);
    tcase_add_test(ini, ini_utf16_nul_and_long_lines);
    suite_add_tcase(s, ini);
    TCase *ld = tcase_create("loader");
    tcase_add_test(ld, config_defaults_and_values);
    tcase_add_test(ld, config_restart_keys_differ);
    tcase_add_loop_test(ld, config_error_corpus, 0, (int)(sizeof corpus / sizeof corpus[0]));
    tcase_add_test(ld, config_example_file_loads);
    tcase_add_test(ld, config_trailing_comments_and_text);
    tcase_add_test(ld, config_scale_and_error_cap);
    tcase_add_test(ld, config_host_warnings);
    tcase_add_test(ld, config_messages_stay_text);
    suite_add_tcase(s, ld);
    TCase *ex = tcase_create("expansion");
    tcase_add_test(ex, expansion_one_sql_host_holds_all_databases);
    tcase_add_test(ex, expansion_roles_hosts_checks_merge);
    tcase_add_test(ex, expansion_verify_protocols);
    tcase_add_test(ex, protocol_names_and_services);
    tcase_add_test(ex, expansion_rolling_rpc_sweep);
    tcase_add_test(ex, expansion_sweep_rate_caps_period);
    tcase_add_test(ex, expansion_sweep_rate_inactive);
    tcase_add_test(ex, expansion_sweep_rate_every_interval);
    tcase_add_test(ex, expansion_sweep_rate_effective_period);
    tcase_add_test(ex, expansion_sweep_warning_printed_and_filtered);
    tcase_add_test(ex, reference_lists_sweep_rate);
    tcase_add_test(ex, expansion_nothing_to_watch);
    tcase_add_test(ex, adhoc_check);
    tcase_add_test(ex, expansion_many_hosts_and_profiles);
    tcase_add_test(ex, catalog_table);
    tcase_add_test(ex, vantages_merge);
    tcase_add_test(ex, vantage_configuring_rows_and_olap_port);
    tcase_add_test(ex, vantage_portal_port_and_ftp);
    tcase_add_test(ex, vantage_role_notes);
    tcase_add_test(ex, plan_identity);
    tcase_add_test(ex, expansion_registered_ports_input);
    suite_add_tcase(s, ex);
    return s;
}

int main(void)
{
    return pw_check_run(config_suite());
}
