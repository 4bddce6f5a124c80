/*
 * `portwatch run`: the daemon. Wires the parts together on one libuv loop:
 *
 *   config -> plan -> probe engine --batch--> store (writer thread)
 *                          |                     |
 *                      snapshot              queries
 *                          \----> web (MHD threads) <----/
 *
 * The loop thread owns the engine; the HTTP threads only read snapshots
 * (with the plan's store ids beside them) and the store. SIGINT/SIGTERM
 * stop gracefully: stop probing, write what is queued, close the store.
 */
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/os.h"

#include "config/error.h"
#include "probes/probe.h"
#include "store/store.h"
#include "web/web.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_MS 15000

struct daemon {
    uv_loop_t loop;
    struct pw_config *cfg;
    struct pw_plan *plan;
    uint32_t *ids;               /* store id of each plan target */
    struct pw_engine *engine;
    struct pw_store *store;
    struct pw_web *web;
    uv_signal_t sigint, sigterm;
    uv_timer_t heartbeat;
    int stopping;
    int exit_code;
};

static void on_batch(void *ud, const struct pw_result *r, size_t n)
{
    struct daemon *d = ud;
    pw_store_submit(d->store, r, n);
}

static void on_heartbeat(uv_timer_t *t)
{
    struct daemon *d = t->data;
    pw_store_heartbeat(d->store, 0);
}

/* The web layer's view of the live state: a snapshot plus the store ids of
 * its plan's targets. The plan and ids live as long as the daemon. */
static int view_acquire(void *ud, struct pw_web_view *v)
{
    struct daemon *d = ud;
    v->snap = pw_engine_snapshot_acquire(d->engine);
    v->ids = d->ids;
    return v->snap ? 0 : PW_ENOMEM;
}

static void view_release(void *ud, struct pw_web_view *v)
{
    (void)ud;
    pw_snapshot_release(v->snap);
    v->snap = NULL;
}

static void on_engine_closed(struct pw_engine *e, void *ud)
{
    (void)e;
    struct daemon *d = ud;
    d->engine = NULL;
}

static void stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    pw_log(PW_LOG_INFO, "stopping (%s)", why);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->heartbeat, NULL);
    /* The web threads read snapshots from the engine: stop them first. */
    pw_web_stop(d->web);
    d->web = NULL;
    pw_engine_close(d->engine, on_engine_closed, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    stop(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void store_log(void *ud, enum pw_store_log_level lvl, const char *msg)
{
    (void)ud;
    pw_log(lvl == PW_STORE_LOG_ERROR ? PW_LOG_ERROR : lvl == PW_STORE_LOG_WARN ? PW_LOG_WARN : PW_LOG_INFO,
           "store: %s", msg);
}

/* Opens the store, syncs the plan's targets and seeds the engine with what
 * the store remembers, so a restart keeps each target's status and since. */
static int open_store(struct daemon *d)
{
    struct pw_store_options so = {
        .keep_raw_ms = d->cfg->s.keep_raw_ms,
        .keep_hourly_ms = d->cfg->s.keep_hourly_ms,
        .keep_events_ms = d->cfg->s.keep_events_ms,
        .log = store_log,
    };
    char err[PW_STORE_MSG_MAX];
    int rc = pw_store_open(d->cfg->s.database, &so, &d->store, err);
    if (rc != 0) {
        pw_log(PW_LOG_ERROR, "cannot open the database: %s", err);
        return rc;
    }
    d->ids = calloc(d->plan->ntargets, sizeof *d->ids);
    if (!d->ids)
        return PW_ENOMEM;
    rc = pw_store_sync_targets(d->store, d->plan, d->ids);
    if (rc != 0) {
        pw_log(PW_LOG_ERROR, "cannot record the targets in %s: %s", d->cfg->s.database, pw_strerror(rc));
        return rc;
    }
    return 0;
}

static void seed_engine(struct daemon *d)
{
    struct pw_target_state *st = calloc(d->plan->ntargets, sizeof *st);
    if (!st)
        return;
    if (pw_store_load_states(d->store, d->plan, st) == 0)
        for (size_t i = 0; i < d->plan->ntargets; i++)
            if (st[i].has_result)
                pw_engine_seed_state(d->engine, (uint32_t)i, &st[i]);
    free(st);
}

static int start_web(struct daemon *d)
{
    struct pw_web_options wo = {
        .listen = d->cfg->s.listen,
        .api_token = d->cfg->s.api_token,
        .allow_anonymous = d->cfg->s.allow_anonymous != 0,
        .tls_cert_file = d->cfg->s.tls_certificate,
        .tls_key_file = d->cfg->s.tls_key,
        .max_connections = (unsigned)d->cfg->s.http_max_connections,
        .max_per_ip = (unsigned)d->cfg->s.http_max_per_ip,
        .timeout_s = (unsigned)(d->cfg->s.http_timeout_ms / 1000),
        .log = pw_log_cb,
    };
    struct pw_web_sources src = {
        .acquire = view_acquire,
        .release = view_release,
        .ud = d,
        .store = d->store,
    };
    char err[256];
    int rc = pw_web_start(&wo, &src, &d->web, err);
    if (rc != 0)
        pw_log(PW_LOG_ERROR, "cannot serve the HTTP API on %s: %s", d->cfg->s.listen, err);
    else
        pw_log(PW_LOG_INFO, "HTTP API on %s://%s/", wo.tls_cert_file ? "https" : "http",
               d->cfg->s.listen);
    return rc;
}

int pw_cmd_run(const struct pw_command *cmd, const struct pw_args *a)
{
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.cfg = pw_cli_config(cmd, a);
    if (!d.cfg)
        return PW_EXIT_USAGE;
    pw_log_init(d.cfg->s.log_level);

    struct pw_diag diag = {0};
    if (pw_plan_build(d.cfg, &d.plan, &diag) != 0) {
        pw_diag_print(&diag, stderr);
        pw_diag_free(&diag);
        pw_config_free(d.cfg);
        return PW_EXIT_USAGE;
    }
    unsigned long fds = pw_os_raise_fd_limit();
    d.exit_code = PW_EXIT_USAGE;
    if (uv_loop_init(&d.loop) != 0)
        goto out;
    if (open_store(&d) != 0)
        goto out_loop;

    struct pw_engine_options opt = {
        .interval_ms = d.cfg->s.interval_ms,
        .timeout_ms = d.cfg->s.timeout_ms,
        .max_in_flight = (uint32_t)d.cfg->s.max_in_flight,
        .max_per_host = (uint32_t)d.cfg->s.max_per_host,
        .fail_after = (uint32_t)d.cfg->s.fail_after,
        .recover_after = (uint32_t)d.cfg->s.recover_after,
        .family = (enum pw_family)d.cfg->s.family,
        .spread = true,
    };
    d.engine = pw_engine_new(&d.loop, d.plan, &opt);
    if (!d.engine)
        goto out_loop;
    pw_engine_set_log(d.engine, pw_log_cb, NULL);
    pw_engine_set_batch_cb(d.engine, on_batch, &d);
    seed_engine(&d);

    if (start_web(&d) != 0) {
        pw_engine_close(d.engine, on_engine_closed, &d);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        goto out_loop;
    }

    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_timer_init(&d.loop, &d.heartbeat);
    d.heartbeat.data = &d;
    uv_timer_start(&d.heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);

    int rc = pw_engine_start(d.engine);
    if (rc != 0) {
        pw_log(PW_LOG_ERROR, "cannot start probing: %s", uv_strerror(rc));
        stop(&d, "start-up failed");
    } else {
        char iv[32];
        pw_format_duration(d.cfg->s.interval_ms, iv, sizeof iv);
        pw_log(PW_LOG_INFO, "watching %zu targets on %zu hosts every %s; history in %s",
               d.plan->ntargets, d.plan->nhosts, iv, d.cfg->s.database);
        if (fds)
            pw_log(PW_LOG_DEBUG, "open-file limit %lu", fds);
        d.exit_code = PW_EXIT_OK;
    }
    uv_run(&d.loop, UV_RUN_DEFAULT);

out_loop:
    pw_web_stop(d.web);
    pw_store_close(d.store); /* writes everything queued */
    if (uv_loop_close(&d.loop) != 0)
        pw_log(PW_LOG_WARN, "event loop closed with handles still open");
    if (d.exit_code == PW_EXIT_OK)
        pw_log(PW_LOG_INFO, "stopped");
out:
    free(d.ids);
    pw_plan_free(d.plan);
    pw_config_free(d.cfg);
    return d.exit_code;
}
