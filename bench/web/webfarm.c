/*
 * Benchmark driver for bench/web/run.sh: wires the probe engine, the store
 * and the web server in one process as `portwatch run` does, on a farm of
 * loopback targets, and prints one line per completed sweep
 *   sweep <unix_ms> <sweeps> <duration_ms> <overruns>
 * so the script can compare sweep timing with and without HTTP load. Runs
 * until stdin closes or `seconds` pass.
 *
 *   webfarm CONFIG DB LISTEN SECONDS
 */
#include "config/config.h"
#include "daemon/options.h"
#include "probes/probe.h"
#include "store/store.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct farm {
    uv_loop_t loop;
    struct pw_plan *plan;
    uint32_t *ids;
    struct pw_store *store;
    struct pw_engine *engine;
    uv_timer_t tick, stop;
    uint64_t sweeps;
};

static int on_acquire(void *ud, struct pw_web_view *out)
{
    struct farm *f = ud;
    out->snap = pw_engine_snapshot_acquire(f->engine);
    out->ids = f->ids;
    return 0;
}

static void on_release(void *ud, struct pw_web_view *v)
{
    pw_snapshot_release(v->snap);
}

static void on_batch(void *ud, const struct pw_result *r, size_t n)
{
    struct farm *f = ud;
    pw_store_submit(f->store, r, n);
}

static void on_tick(uv_timer_t *t)
{
    struct farm *f = t->data;
    struct pw_snapshot *s = pw_engine_snapshot_acquire(f->engine);
    if (s->stats.sweeps != f->sweeps) {
        f->sweeps = s->stats.sweeps;
        printf("sweep %lld %llu %lld %llu\n", (long long)s->stats.last_sweep_ms,
               (unsigned long long)s->stats.sweeps, (long long)s->stats.last_sweep_duration_ms,
               (unsigned long long)s->stats.overruns);
        fflush(stdout);
    }
    pw_snapshot_release(s);
}

static void on_closed(uv_handle_t *h) {}

static void on_engine_closed(struct pw_engine *e, void *ud)
{
    struct farm *f = ud;
    uv_close((uv_handle_t *)&f->tick, on_closed);
    uv_close((uv_handle_t *)&f->stop, on_closed);
}

static void on_stop(uv_timer_t *t)
{
    struct farm *f = t->data;
    uv_timer_stop(&f->tick);
    pw_engine_close(f->engine, on_engine_closed, f);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: webfarm CONFIG DB LISTEN SECONDS\n");
        return 2;
    }
    struct farm f = {0};
    struct pw_config *cfg;
    struct pw_diag d = {0};
    if (pw_config_load(argv[1], &cfg, &d) != 0 || pw_plan_build(cfg, &f.plan, &d) != 0) {
        pw_diag_print(&d, stderr);
        return 2;
    }
    char err[PW_STORE_MSG_MAX];
    struct pw_store_options so = pw_options_store(cfg);
    if (pw_store_open(argv[2], &so, &f.store, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    f.ids = calloc(f.plan->ntargets, sizeof *f.ids);
    if (pw_store_sync_targets(f.store, f.plan, f.ids) != 0) {
        fprintf(stderr, "sync failed\n");
        return 1;
    }
    uv_loop_init(&f.loop);
    struct pw_engine_options eo = pw_options_engine(cfg);
    eo.spread = true;
    f.engine = pw_engine_new(&f.loop, f.plan, &eo);
    pw_engine_set_batch_cb(f.engine, on_batch, &f);
    if (pw_engine_start(f.engine) != 0)
        return 1;
    struct pw_web_sources src = {on_acquire, on_release, &f, f.store, NULL, NULL};
    /* The farm's own address, and room for run.sh's load from one client. */
    struct pw_web_options wo = pw_options_web(cfg);
    wo.listen = argv[3];
    wo.max_connections = 1024;
    wo.max_per_ip = 512;
    if (getenv("WEBFARM_MAX_REQUEST"))
        wo.max_request_bytes = (size_t)atol(getenv("WEBFARM_MAX_REQUEST"));
    struct pw_web *web;
    char werr[PW_WEB_ERR_MAX];
    if (pw_web_start(&wo, &src, &web, werr) != 0) {
        fprintf(stderr, "%s\n", werr);
        return 1;
    }
    fprintf(stderr, "webfarm: %zu targets, serving %s\n", f.plan->ntargets, argv[3]);
    uv_timer_init(&f.loop, &f.tick);
    uv_timer_init(&f.loop, &f.stop);
    f.tick.data = f.stop.data = &f;
    uv_timer_start(&f.tick, on_tick, 50, 50);
    uv_timer_start(&f.stop, on_stop, (uint64_t)atoi(argv[4]) * 1000, 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    pw_web_stop(web);
    int rc = uv_loop_close(&f.loop);
    pw_store_close(f.store);
    free(f.ids);
    pw_plan_free(f.plan);
    pw_config_free(cfg);
    pw_diag_free(&d);
    return rc == 0 ? 0 : 1;
}
