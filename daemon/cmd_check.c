/*
 * `portwatch check`: one sweep of the targets as fast as the caps allow,
 * then a report, and exit 0 when every expectation passes, 1 when any
 * fails, 2 on usage or configuration errors.
 */
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/options.h"
#include "daemon/os.h"

#include "probes/probe.h"
#include "probes/report.h"

#include <stdlib.h>
#include <string.h>

struct sweep {
    const struct pw_plan *plan;
    int json;
    int all_ok;
    int printed;
};

static void on_closed(struct pw_engine *e, void *ud)
{
    (void)e;
    (void)ud;
}

static void on_swept(struct pw_engine *e, void *ud)
{
    struct sweep *s = ud;
    struct pw_snapshot *snap = pw_engine_snapshot_acquire(e);
    s->all_ok = pw_report_all_ok(snap);
    if (s->json) {
        if (pw_report_json_write(s->plan, snap, stdout) == 0)
            s->printed = 1;
    } else {
        pw_report_table(s->plan, snap, stdout);
        s->printed = 1;
    }
    pw_snapshot_release(snap);
    pw_engine_close(e, on_closed, NULL);
}

int pw_cmd_check(const struct pw_command *cmd, const struct pw_args *a)
{
    const char *fmt = pw_arg(cmd, a, "format");
    if (fmt && strcmp(fmt, "table") != 0 && strcmp(fmt, "json") != 0) {
        fprintf(stderr, "portwatch check: --format '%s' is not allowed; use table or json\n", fmt);
        return PW_EXIT_USAGE;
    }
    struct pw_config *c = pw_cli_config(cmd, a);
    if (!c)
        return PW_EXIT_USAGE;
    pw_log_init(c->s.log_level < PW_LOG_WARN ? c->s.log_level : PW_LOG_WARN);

    struct pw_diag diag = {0};
    struct pw_plan *full = NULL, *plan = NULL;
    int rc = PW_EXIT_USAGE;
    if (pw_plan_build(c, &full, &diag) != 0) {
        pw_diag_print(&diag, stderr);
        goto out;
    }
    const char *host = pw_arg(cmd, a, "host"), *role = pw_arg(cmd, a, "role");
    if (host || role) {
        if (pw_plan_filter(full, host, role, &plan) != 0) {
            fprintf(stderr, "portwatch check: no target matches%s%s%s%s; 'portwatch config-check' lists them\n",
                    host ? " --host " : "", host ? host : "", role ? " --role " : "", role ? role : "");
            goto out;
        }
    }
    const struct pw_plan *p = plan ? plan : full;

    pw_os_raise_fd_limit();
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "portwatch check: cannot start the event loop\n");
        goto out;
    }
    struct pw_engine_options opt = pw_options_engine(c);
    /* One sweep as fast as the caps allow; each result is the verdict. */
    opt.fail_after = 1;
    opt.recover_after = 1;
    opt.spread = false;
    opt.dialer = pw_os_dialer();
    struct sweep s = {.plan = p, .json = fmt && strcmp(fmt, "json") == 0};
    struct pw_engine *e = pw_engine_new(&loop, p, &opt);
    if (!e) {
        fprintf(stderr, "portwatch check: out of memory\n");
        uv_loop_close(&loop);
        goto out;
    }
    pw_engine_set_log(e, pw_log_cb, NULL);
    int err = pw_engine_sweep_once(e, on_swept, &s);
    if (err != 0) {
        fprintf(stderr, "portwatch check: cannot start probing: %s\n", uv_strerror(err));
        pw_engine_close(e, on_closed, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        pw_log(PW_LOG_WARN, "event loop closed with handles still open");
    if (s.printed)
        rc = s.all_ok ? PW_EXIT_OK : PW_EXIT_FAILED;
    else if (err == 0)
        rc = PW_EXIT_FAILED;
out:
    pw_diag_free(&diag);
    pw_plan_free(plan);
    pw_plan_free(full);
    pw_config_free(c);
    return rc;
}
