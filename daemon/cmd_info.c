/*
 * The commands that only read: `catalog`, `version` and `config-check`, and
 * the configuration loading that `check` and `run` share with them.
 */
#include "daemon/cli.h"
#include "daemon/os.h"

#include "base/error.h"

#include <jansson.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <microhttpd.h>
#include <uv.h>

#ifndef PW_VERSION
#define PW_VERSION "unknown"
#endif

static int format_is_json(const struct pw_command *cmd, const struct pw_args *a, int *json)
{
    const char *f = pw_arg(cmd, a, "format");
    if (!f || strcmp(f, "table") == 0)
        *json = 0;
    else if (strcmp(f, "json") == 0)
        *json = 1;
    else {
        fprintf(stderr, "portwatch %s: --format '%s' is not allowed; use table or json\n", a->cmd, f);
        return -1;
    }
    return 0;
}

static int no_positionals(const struct pw_args *a)
{
    if (a->npos == 0)
        return 0;
    fprintf(stderr, "portwatch %s: unexpected argument '%s'\n", a->cmd, a->pos[0]);
    return -1;
}

/* A row's port as the page gives it: "1433", "49152-65535", "80 or 443". */
static void port_text(const struct pw_catalog_row *r, char *buf, size_t len)
{
    if (r->port_or)
        snprintf(buf, len, "%u or %u", r->port_lo, r->port_or);
    else if (r->port_lo == r->port_hi)
        snprintf(buf, len, "%u", r->port_lo);
    else
        snprintf(buf, len, "%u-%u", r->port_lo, r->port_hi);
}

static json_t *row_json(const struct pw_catalog_row *r, const struct pw_role *roles)
{
    char ports[24];
    port_text(r, ports, sizeof ports);
    const char *key = pw_port_key_name(r->port_key);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s?, s:s, s:s, s:i, s:i, s:s?, s:s, s:s, s:b, s:s}",
                          "row", r->number, "role", roles[r->role].key, "destination",
                          roles[r->role].title, "context", r->context, "service", r->service,
                          "port", ports, "port_lo", r->port_lo, "port_hi", r->port_hi, "port_key",
                          key, "protocol", r->protocol, "expect", pw_expect_name(r->expect),
                          "configuring", r->configuring, "reason", r->reason);
    if (o && r->port_or) /* "80 or 443": the alternative, not a range */
        json_object_set_new(o, "port_or", json_integer(r->port_or));
    return o;
}

static json_t *vantage_json(enum pw_vantage v, const struct pw_role *roles)
{
    const struct pw_catalog *cat = pw_catalog_vantage(v);
    json_t *rows = json_array(), *notes = json_array();
    for (size_t i = 0; i < cat->nrows; i++)
        json_array_append_new(rows, row_json(&cat->rows[i], roles));
    for (const char *const *n = cat->notes; n && *n; n++)
        json_array_append_new(notes, json_string(*n));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "vantage", pw_vantage_name(v), "title",
                     cat->title, "source", cat->source, "version", cat->version, "notes", notes,
                     "rows", rows);
}

static int catalog_json(int vantages)
{
    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    json_t *jroles = json_array(), *jv = json_array();
    for (size_t i = 0; i < nroles; i++)
        json_array_append_new(jroles, json_pack("{s:s, s:s}", "key", roles[i].key, "title", roles[i].title));
    for (int v = 0; v < PW_NVANTAGES; v++)
        if (vantages & PW_VANTAGE_BIT(v))
            json_array_append_new(jv, vantage_json((enum pw_vantage)v, roles));
    json_t *doc = json_pack("{s:o, s:o}", "vantages", jv, "roles", jroles);
    if (!doc)
        return PW_ENOMEM;
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!s)
        return PW_ENOMEM;
    puts(s);
    free(s);
    return 0;
}

static void catalog_table(enum pw_vantage v, const struct pw_role *roles)
{
    const struct pw_catalog *cat = pw_catalog_vantage(v);
    printf("%s: %s\nsource:  %s\nversion: %s\n\n", pw_vantage_name(v), cat->title, cat->source,
           cat->version);
    printf("%3s  %-37s %-27s %-13s %-4s %-10s %s\n", "#", "destination", "service", "port", "prot",
           "expect", "reason");
    for (size_t i = 0; i < cat->nrows; i++) {
        const struct pw_catalog_row *r = &cat->rows[i];
        char ports[24];
        port_text(r, ports, sizeof ports);
        if (r->port_key != PW_PORT_AS_LISTED)
            strcat(ports, "*");
        printf("%3d  %-37s %-27s %-13s %-4s %-10s %s%s\n", r->number, roles[r->role].title,
               r->service, ports, *r->protocol ? r->protocol : "-", pw_expect_name(r->expect),
               r->configuring ? "[configuring] " : "", r->reason);
    }
    printf("\n* probed on a [biztalk] key's value, not the page's port (see the notes)\nnotes:\n");
    for (const char *const *n = cat->notes; n && *n; n++)
        printf("  - %s\n", *n);
    printf("\n");
}

/* The vantages `catalog` prints: --vantage (names separated by commas, or
 * all); else those of -c FILE, or of the system-wide file when it exists;
 * else administration. Returns their bits, or -1 after saying why. */
static int catalog_vantages(const struct pw_command *cmd, const struct pw_args *a)
{
    const char *want = pw_arg(cmd, a, "vantage");
    if (want && strcmp(want, "all") == 0)
        return PW_VANTAGE_BIT(PW_NVANTAGES) - 1;
    struct pw_config *c = NULL;
    if (want) {
        struct pw_diag d = {0};
        c = pw_config_new();
        if (c && pw_config_set(c, "vantage", want, "--vantage", &d) != 0) {
            fprintf(stderr, "portwatch catalog: %s, or all\n", d.msgs[0]);
            pw_diag_free(&d);
            pw_config_free(c);
            return -1;
        }
    } else {
        uv_fs_t req;
        int exists = uv_fs_stat(NULL, &req, pw_os_default_config_path(), NULL) == 0;
        uv_fs_req_cleanup(&req);
        c = pw_arg(cmd, a, "config") || exists ? pw_cli_config(cmd, a) : pw_config_new();
    }
    int bits = c ? c->s.vantage : -1;
    pw_config_free(c);
    return bits;
}

int pw_cmd_catalog(const struct pw_command *cmd, const struct pw_args *a)
{
    int json;
    if (format_is_json(cmd, a, &json) || no_positionals(a))
        return PW_EXIT_USAGE;
    int vantages = catalog_vantages(cmd, a);
    if (vantages < 0)
        return PW_EXIT_USAGE;
    if (json)
        return catalog_json(vantages) == 0 ? PW_EXIT_OK : PW_EXIT_FAILED;

    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    for (int v = 0; v < PW_NVANTAGES; v++)
        if (vantages & PW_VANTAGE_BIT(v))
            catalog_table((enum pw_vantage)v, roles);
    printf("roles (configuration keys in [biztalk]):\n");
    for (size_t i = 0; i < nroles; i++)
        printf("  %-35s %s\n", roles[i].key, roles[i].title);
    return PW_EXIT_OK;
}

int pw_cmd_version(const struct pw_command *cmd, const struct pw_args *a)
{
    (void)cmd;
    if (no_positionals(a))
        return PW_EXIT_USAGE;
    printf("portwatch %s\n", PW_VERSION);
    printf("libuv %s, libmicrohttpd %s, SQLite %s, jansson %s\n", uv_version_string(),
           MHD_get_version(), sqlite3_libversion(), JANSSON_VERSION);
    return PW_EXIT_OK;
}

/* A problem for the user: printed, or collected into msgs when given. */
static void say(struct pw_diag *msgs, const char *fmt, ...) PW_PRINTF(2, 3);
static void say(struct pw_diag *msgs, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (msgs)
        pw_diag_add(msgs, "%s", buf);
    else
        fprintf(stderr, "%s\n", buf);
}

struct pw_config *pw_cli_config(const struct pw_command *cmd, const struct pw_args *a)
{
    return pw_cli_config_msgs(cmd, a, NULL);
}

/* The configuration the overrides and ad hoc targets apply to: -c FILE,
 * else the system-wide file, else (ad hoc targets without -c) defaults. */
static struct pw_config *base_config(const struct pw_command *cmd, const struct pw_args *a,
                                     const char *path, int adhoc, struct pw_diag *msgs)
{
    struct pw_config *c = NULL;
    if (!path && adhoc) {
        if (!(c = pw_config_new()))
            say(msgs, "portwatch: out of memory");
        return c;
    }
    if (!path) {
        path = pw_os_default_config_path();
        uv_fs_t req;
        int missing = uv_fs_stat(NULL, &req, path, NULL) == UV_ENOENT;
        uv_fs_req_cleanup(&req);
        if (missing) {
            int takes_p = 0;
            for (const struct pw_opt *o = cmd->opts; o->name; o++)
                takes_p |= strcmp(o->name, "ports") == 0;
            say(msgs, "portwatch %s: no configuration: -c was not given and %s does not exist; "
                "give one with -c FILE (start from the example, packaging/portwatch.ini in the "
                "source tree)%s", a->cmd, path,
                takes_p ? ", or probe ports without one: -p PORTS HOST..." : "");
            return NULL;
        }
    }
    struct pw_diag diag = {0};
    if (pw_config_load(path, &c, &diag) != 0) {
        for (size_t i = 0; i < diag.n; i++)
            say(msgs, "%s", diag.msgs[i]);
        if (diag.more)
            say(msgs, "... and %zu more, not shown", diag.more);
        say(msgs, "portwatch %s: %zu problem%s in %s", a->cmd, pw_diag_count(&diag),
            pw_diag_count(&diag) == 1 ? "" : "s", path);
        pw_diag_free(&diag);
    }
    return c;
}

/* --interval without --timeout: the timeout yields to the interval when
 * it is the default or does not fit, and becomes the smaller of the
 * default and half the interval, so `run --interval 1s` just works. */
static void fit_timeout(struct pw_config *c)
{
    const struct pw_key *k = pw_config_key("portwatch", "timeout");
    char err[PW_ERRBUF];
    int64_t def;
    if (!k || pw_parse_duration(k->def, &def, err) != 0)
        return;
    if (c->s.timeout_ms != def && c->s.timeout_ms < c->s.interval_ms)
        return;
    c->s.timeout_ms = def < c->s.interval_ms / 2 ? def : c->s.interval_ms / 2;
}

/* Command-line overrides of [portwatch] keys, by option name. Returns
 * nonzero when one was refused (the problem is in diag). */
static int apply_overrides(const struct pw_command *cmd, const struct pw_args *a,
                           struct pw_config *c, struct pw_diag *diag)
{
    static const struct {
        const char *opt, *key;
    } overrides[] = {
        {"timeout", "timeout"},     {"interval", "interval"}, {"listen", "listen"},
        {"database", "database"},   {"log-level", "log_level"},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const char *v = pw_arg(cmd, a, overrides[i].opt);
        char origin[64];
        snprintf(origin, sizeof origin, "--%s", overrides[i].opt);
        if (v && pw_config_set(c, overrides[i].key, v, origin, diag) != 0)
            failed = 1;
    }
    if (failed)
        return 1;
    if (pw_arg(cmd, a, "interval") && !pw_arg(cmd, a, "timeout"))
        fit_timeout(c);
    if (c->s.timeout_ms >= c->s.interval_ms) {
        char to[32], iv[32];
        pw_format_duration(c->s.timeout_ms, to, sizeof to);
        pw_format_duration(c->s.interval_ms, iv, sizeof iv);
        pw_diag_add(diag, "the timeout (%s) must be shorter than the interval (%s); give a "
                    "shorter --timeout or a longer --interval", to, iv);
        return 1;
    }
    return 0;
}

/* Adds the ports of ps whose expectation is `e` (the catalog's, or every
 * port when forced) as one ad hoc check; none is added when none has it. */
static int add_adhoc_group(struct pw_config *c, const char *hosts, const struct pw_portset *ps,
                           enum pw_expect e, int forced, int proto, struct pw_diag *diag)
{
    struct pw_portset mine = {calloc(65536, sizeof *mine.r), 0};
    if (!mine.r)
        return PW_ENOMEM;
    for (size_t i = 0; i < ps->n; i++)
        for (uint32_t p = ps->r[i].lo; p <= ps->r[i].hi; p++) {
            if (!forced && pw_catalog_port_expect((uint16_t)p, &c->rpc_range) != e)
                continue;
            if (mine.n && mine.r[mine.n - 1].hi + 1u == p)
                mine.r[mine.n - 1].hi = (uint16_t)p;
            else
                mine.r[mine.n++] = (struct pw_port_range){(uint16_t)p, (uint16_t)p};
        }
    int rc = 0;
    size_t len = mine.n * 13 + 1;
    char *text = mine.n ? malloc(len) : NULL;
    if (mine.n && !text)
        rc = PW_ENOMEM;
    if (text) {
        pw_portset_format(&mine, text, len);
        rc = pw_config_add_check(c, "command-line", hosts, text, e, diag);
        if (rc == 0)
            c->checks[c->nchecks - 1].protocol = proto;
    }
    free(text);
    free(mine.r);
    return rc;
}

/* The -p PORTS HOST... targets, as the catalog would probe them: each
 * port expected as the catalog expects it (the secondary RPC range
 * reachable, the rest listening; --expect overrides) and its service
 * proven by port as for catalog rows (--protocol overrides; [biztalk]
 * verify = no in -c FILE turns it off). Returns nonzero on a problem. */
static int add_adhoc(const struct pw_command *cmd, const struct pw_args *a, struct pw_config *c,
                     const char *ports, struct pw_diag *diag)
{
    const char *expect_s = pw_arg(cmd, a, "expect"), *proto_s = pw_arg(cmd, a, "protocol");
    enum pw_expect forced = PW_EXPECT_LISTENING;
    int proto = c->verify ? PW_PROTO_AUTO : PW_PROTO_NONE;
    int failed = 0;
    if (expect_s && pw_expect_parse(expect_s, &forced) != 0) {
        pw_diag_add(diag, "--expect '%s' is not allowed; use listening or reachable", expect_s);
        failed = 1;
    }
    if (proto_s && pw_proto_choice_parse(proto_s, &proto) != 0) {
        char allowed[128];
        pw_proto_choices(allowed, sizeof allowed);
        pw_diag_add(diag, "--protocol '%s' is not allowed; use one of %s", proto_s, allowed);
        failed = 1;
    }
    char err[PW_ERRBUF];
    struct pw_portset ps = {0};
    if (pw_parse_ports(ports, &ps, err) != 0) {
        pw_diag_add(diag, "-p %s: %s", ports, err);
        failed = 1;
    }
    size_t len = 1;
    for (int i = 0; i < a->npos; i++)
        len += strlen(a->pos[i]) + 1;
    char *hosts = calloc(1, len);
    for (int i = 0; hosts && i < a->npos; i++) {
        strcat(hosts, a->pos[i]);
        strcat(hosts, ",");
    }
    if (!failed && !hosts)
        failed = 1;
    if (!failed && expect_s)
        failed = add_adhoc_group(c, hosts, &ps, forced, 1, proto, diag) != 0;
    for (int e = 0; !failed && !expect_s && e < 2; e++)
        failed = add_adhoc_group(c, hosts, &ps, (enum pw_expect)e, 0, proto, diag) != 0;
    free(hosts);
    pw_portset_free(&ps);
    return failed;
}

struct pw_config *pw_cli_config_msgs(const struct pw_command *cmd, const struct pw_args *a,
                                     struct pw_diag *msgs)
{
    const char *ports = pw_arg(cmd, a, "ports");
    if (!ports && a->npos > 0) {
        say(msgs, "portwatch %s: hosts given without -p PORTS: unexpected argument '%s'",
                a->cmd, a->pos[0]);
        return NULL;
    }
    if (ports && a->npos == 0) {
        say(msgs, "portwatch %s: -p needs at least one HOST argument, e.g. -p 1433,135 sql01", a->cmd);
        return NULL;
    }
    for (const char *const *o = (const char *const[]){"expect", "protocol", NULL}; *o; o++)
        if (!ports && pw_arg(cmd, a, *o)) {
            say(msgs, "portwatch %s: --%s goes with -p PORTS HOST...", a->cmd, *o);
            return NULL;
        }
    struct pw_config *c = base_config(cmd, a, pw_arg(cmd, a, "config"), ports != NULL, msgs);
    if (!c)
        return NULL;
    struct pw_diag diag = {0};
    int failed = apply_overrides(cmd, a, c, &diag);
    if (ports && add_adhoc(cmd, a, c, ports, &diag) != 0)
        failed = 1;
    if (failed) {
        for (size_t i = 0; i < diag.n; i++)
            say(msgs, "portwatch %s: %s", a->cmd, diag.msgs[i]);
        pw_diag_free(&diag);
        pw_config_free(c);
        return NULL;
    }
    pw_diag_free(&diag);
    return c;
}

int pw_cmd_config_check(const struct pw_command *cmd, const struct pw_args *a)
{
    if (no_positionals(a))
        return PW_EXIT_USAGE;
    if (pw_arg(cmd, a, "keys")) {
        pw_config_write_reference(stdout);
        return PW_EXIT_OK;
    }
    struct pw_config *c = pw_cli_config(cmd, a);
    if (!c)
        return PW_EXIT_USAGE;
    struct pw_diag diag = {0};
    struct pw_plan *plan;
    if (pw_plan_build(c, &plan, &diag) != 0) {
        pw_diag_print(&diag, stderr);
        pw_diag_free(&diag);
        pw_config_free(c);
        return PW_EXIT_USAGE;
    }
    struct pw_diag notes = {0};
    int rc = PW_EXIT_OK;
    if (pw_startup_check_database(c->s.database, 1, &diag, &notes) != 0) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "portwatch config-check: %s\n", diag.msgs[i]);
        rc = PW_EXIT_USAGE;
    } else {
        char iv[32], to[32];
        pw_format_duration(c->s.interval_ms, iv, sizeof iv);
        pw_format_duration(c->s.timeout_ms, to, sizeof to);
        printf("%s: OK\nlisten %s, database %s, interval %s, timeout %s\n", c->path,
               c->s.listen, c->s.database, iv, to);
        for (size_t i = 0; i < notes.n; i++)
            printf("note: %s\n", notes.msgs[i]);
        putchar('\n');
        pw_plan_print(plan, stdout);
        struct pw_diag roles = {0};
        pw_plan_role_notes(c, &roles);
        for (size_t i = 0; i < roles.n; i++)
            printf("note: %s\n", roles.msgs[i]);
        pw_diag_free(&roles);
        struct pw_diag hosts = {0};
        pw_config_host_warnings(c, &hosts);
        pw_diag_print(&hosts, stdout);
        pw_diag_free(&hosts);
    }
    pw_diag_free(&diag);
    pw_diag_free(&notes);
    pw_plan_free(plan);
    pw_config_free(c);
    return rc;
}
