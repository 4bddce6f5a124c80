/*
 * `portwatch report [--from T] [--to T] [--host H] [--role R]
 *  [--format markdown|csv|json] [-c FILE] [--database PATH]`: the outage
 * report of a period (availability per host and role, incidents, outages)
 * read from the history database on a reader connection, so it works
 * while the daemon runs (and writes nothing). The document and its three
 * formats are web/report.c's, the same as GET /api/v1/report; the
 * configuration's plan names services and tasks and says what "began
 * together" means. Exit codes: 0 written; 2 usage, configuration or
 * storage error, or a host or role the database never had.
 */
#include "daemon/cli.h"

#include "base/error.h"
#include "daemon/options.h"
#include "web/report.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define DAY_MS 86400000LL

/* --from and --to (default: the 24 hours before now). Returns 0, or -1
 * having said what is wrong. */
static int period(const struct pw_command *cmd, const struct pw_args *a, int64_t *from,
                  int64_t *to)
{
    int64_t now = pw_wall_ms();
    const char *fs = pw_arg(cmd, a, "from"), *ts = pw_arg(cmd, a, "to");
    char err[PW_WEB_ERR_MAX];
    *to = now;
    if (ts && pw_web_parse_time(ts, now, to, err) != 0) {
        fprintf(stderr, "portwatch report: --to: %s\n", err);
        return -1;
    }
    *from = *to - DAY_MS;
    if (fs && pw_web_parse_time(fs, now, from, err) != 0) {
        fprintf(stderr, "portwatch report: --from: %s\n", err);
        return -1;
    }
    if (*from >= *to) {
        fprintf(stderr, "portwatch report: --from must be earlier than --to (e.g. --from -7d "
                        "--to now, or two RFC 3339 times)\n");
        return -1;
    }
    return 0;
}

static int write_report(struct pw_store *st, const struct pw_report_query *q,
                        enum pw_report_format f, const char *db)
{
    json_t *doc;
    int rc = pw_report_build(st, q, &doc);
    if (rc == PW_ENOT_FOUND) {
        fprintf(stderr, "portwatch report: %s%s%s%s%s: %s never had such a target; see "
                        "`portwatch config-check` for the hosts and roles\n",
                q->host ? "host '" : "", q->host ? q->host : "",
                q->host && q->role ? "' or role '" : q->role ? "role '" : "",
                q->role ? q->role : "", "'", db);
        return PW_EXIT_USAGE;
    }
    if (rc) {
        fprintf(stderr, "portwatch report: reading %s failed: %s\n", db, pw_strerror(rc));
        return PW_EXIT_USAGE;
    }
    struct pw_buf b = {0};
    pw_report_render(doc, f, &b);
    json_decref(doc);
    bool written = !b.oom && fwrite(b.p, 1, b.len, stdout) == b.len && fflush(stdout) == 0;
    free(b.p);
    if (!written) {
        fprintf(stderr, "portwatch report: %s\n",
                b.oom ? "out of memory" : "cannot write the report to standard output");
        return PW_EXIT_USAGE;
    }
    return PW_EXIT_OK;
}

/* Whether the database exists: a reader never creates one, and SQLite's
 * own words for a missing file speak of writing it. */
static bool database_exists(const char *path)
{
    uv_fs_t req;
    int rc = uv_fs_stat(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
    if (rc != 0)
        fprintf(stderr, "portwatch report: no history database at %s (%s); name the daemon's "
                        "with -c FILE (its configuration) or --database PATH\n",
                path, uv_strerror(rc));
    return rc == 0;
}

int pw_cmd_report(const struct pw_command *cmd, const struct pw_args *a)
{
    enum pw_report_format f = PW_REPORT_MARKDOWN;
    const char *fs = pw_arg(cmd, a, "format");
    if (fs && pw_report_format_parse(fs, &f) != 0) {
        fprintf(stderr, "portwatch report: --format: '%s' is not a report format; use "
                        "markdown, csv or json\n", fs);
        return PW_EXIT_USAGE;
    }
    struct pw_report_query q = {.host = pw_arg(cmd, a, "host"), .role = pw_arg(cmd, a, "role"),
                                .now_ms = pw_wall_ms()};
    if (period(cmd, a, &q.from_ms, &q.to_ms) != 0)
        return PW_EXIT_USAGE;
    struct pw_config *c = pw_cli_config(cmd, a);
    if (!c)
        return PW_EXIT_USAGE;
    struct pw_plan *plan = NULL;
    struct pw_diag d = {0};
    if (pw_plan_build(c, &plan, &d) != 0) {
        pw_diag_print(&d, stderr);
        pw_diag_free(&d);
        pw_config_free(c);
        return PW_EXIT_USAGE;
    }
    pw_diag_free(&d);
    q.plan = plan;
    struct pw_store_options so = pw_options_store(c);
    struct pw_store *st = NULL;
    char err[PW_STORE_MSG_MAX];
    int rc = PW_EXIT_USAGE;
    if (database_exists(c->s.database)) {
        if (pw_store_open_reader(c->s.database, &so, &st, err) != 0)
            fprintf(stderr, "portwatch report: %s\n", err);
        else
            rc = write_report(st, &q, f, c->s.database);
    }
    pw_store_close(st);
    pw_plan_free(plan);
    pw_config_free(c);
    return rc;
}
