/*
 * The commands that only read: `catalog`, `version` and `config-check`, and
 * the configuration loading that `check` and `run` share with them.
 */
#include "daemon/cli.h"
#include "daemon/os.h"

#include "config/error.h"

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

static void port_text(const struct pw_catalog_row *r, char *buf, size_t len)
{
    if (r->port_lo == r->port_hi)
        snprintf(buf, len, "%u", r->port_lo);
    else
        snprintf(buf, len, "%u-%u", r->port_lo, r->port_hi);
}

static int catalog_json(const struct pw_catalog *cat)
{
    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    json_t *jroles = json_array(), *rows = json_array();
    for (size_t i = 0; i < nroles; i++)
        json_array_append_new(jroles, json_pack("{s:s, s:s}", "key", roles[i].key, "title", roles[i].title));
    for (size_t i = 0; i < cat->nrows; i++) {
        const struct pw_catalog_row *r = &cat->rows[i];
        char ports[16];
        port_text(r, ports, sizeof ports);
        json_array_append_new(rows, json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:b, s:s}",
            "row", r->number, "role", roles[r->role].key, "destination", roles[r->role].title,
            "service", r->service, "port", ports, "port_lo", r->port_lo, "port_hi", r->port_hi,
            "protocol", r->protocol, "expect", pw_expect_name(r->expect),
            "rpc_range", r->rpc_range, "reason", r->reason));
    }
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o}", "name", cat->name, "title", cat->title,
                            "roles", jroles, "rows", rows);
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

int pw_cmd_catalog(const struct pw_command *cmd, const struct pw_args *a)
{
    int json;
    if (format_is_json(cmd, a, &json) || no_positionals(a))
        return PW_EXIT_USAGE;
    const struct pw_catalog *cat = pw_catalog_biztalk_admin();
    if (json)
        return catalog_json(cat) == 0 ? PW_EXIT_OK : PW_EXIT_FAILED;

    size_t nroles;
    const struct pw_role *roles = pw_catalog_roles(&nroles);
    printf("%s: %s\n\n", cat->name, cat->title);
    printf("%3s  %-30s %-27s %-12s %-4s %-10s %s\n", "#", "destination", "service", "port",
           "prot", "expect", "reason");
    for (size_t i = 0; i < cat->nrows; i++) {
        const struct pw_catalog_row *r = &cat->rows[i];
        char ports[16];
        port_text(r, ports, sizeof ports);
        printf("%3d  %-30s %-27s %-12s %-4s %-10s %s\n", r->number, roles[r->role].title,
               r->service, ports, r->protocol, pw_expect_name(r->expect), r->reason);
    }
    printf("\nroles (configuration keys in [biztalk]):\n");
    for (size_t i = 0; i < nroles; i++)
        printf("  %-29s %s\n", roles[i].key, roles[i].title);
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

struct pw_config *pw_cli_config_msgs(const struct pw_command *cmd, const struct pw_args *a,
                                     struct pw_diag *msgs)
{
    struct pw_diag diag = {0};
    struct pw_config *c = NULL;
    const char *path = pw_arg(cmd, a, "config");
    const char *ports = pw_arg(cmd, a, "ports");
    const char *expect_s = pw_arg(cmd, a, "expect");
    int failed = 0;

    if (!ports && a->npos > 0) {
        say(msgs, "portwatch %s: hosts given without -p PORTS: unexpected argument '%s'",
                a->cmd, a->pos[0]);
        return NULL;
    }
    if (ports && a->npos == 0) {
        say(msgs, "portwatch %s: -p needs at least one HOST argument, e.g. -p 1433,135 sql01", a->cmd);
        return NULL;
    }
    if (expect_s && !ports) {
        say(msgs, "portwatch %s: --expect goes with -p PORTS HOST...", a->cmd);
        return NULL;
    }
    if (path || !ports) {
        if (!path)
            path = pw_os_default_config_path();
        if (pw_config_load(path, &c, &diag) != 0) {
            for (size_t i = 0; i < diag.n; i++)
                say(msgs, "%s", diag.msgs[i]);
            if (diag.more)
                say(msgs, "... and %zu more, not shown", diag.more);
            say(msgs, "portwatch %s: %zu problem%s in %s", a->cmd, pw_diag_count(&diag),
                pw_diag_count(&diag) == 1 ? "" : "s", path);
            pw_diag_free(&diag);
            return NULL;
        }
    } else if (!(c = pw_config_new())) {
        say(msgs, "portwatch: out of memory");
        return NULL;
    }

    /* Command-line overrides of [portwatch] keys, by option name. */
    static const struct {
        const char *opt, *key;
    } overrides[] = {
        {"timeout", "timeout"},     {"interval", "interval"}, {"listen", "listen"},
        {"database", "database"},   {"log-level", "log_level"},
    };
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const char *v = pw_arg(cmd, a, overrides[i].opt);
        char origin[64];
        snprintf(origin, sizeof origin, "--%s", overrides[i].opt);
        if (v && pw_config_set(c, overrides[i].key, v, origin, &diag) != 0)
            failed = 1;
    }
    if (c->s.timeout_ms >= c->s.interval_ms) {
        pw_diag_add(&diag, "timeout (%lldms) must be shorter than the interval (%lldms)",
                    (long long)c->s.timeout_ms, (long long)c->s.interval_ms);
        failed = 1;
    }
    if (ports) {
        enum pw_expect e = PW_EXPECT_LISTENING;
        if (expect_s && pw_expect_parse(expect_s, &e) != 0) {
            pw_diag_add(&diag, "--expect '%s' is not allowed; use listening or reachable", expect_s);
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
        if (!failed && (!hosts || pw_config_add_check(c, "command-line", hosts, ports, e, &diag) != 0))
            failed = 1;
        free(hosts);
    }
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
    char iv[32], to[32];
    pw_format_duration(c->s.interval_ms, iv, sizeof iv);
    pw_format_duration(c->s.timeout_ms, to, sizeof to);
    printf("%s: OK\nlisten %s, database %s, interval %s, timeout %s\n\n", c->path, c->s.listen,
           c->s.database, iv, to);
    pw_plan_print(plan, stdout);
    struct pw_diag hosts = {0};
    pw_config_host_warnings(c, &hosts);
    pw_diag_print(&hosts, stdout);
    pw_diag_free(&hosts);
    pw_plan_free(plan);
    pw_config_free(c);
    return PW_EXIT_OK;
}
