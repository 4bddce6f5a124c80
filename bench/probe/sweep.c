/*
 * Benchmark driver: one sweep of a configuration's plan through the probe
 * engine, the way `portwatch check` runs it, printing counts per state as
 * JSON. Used by bench/probe/run.sh when the portwatch binary is not given;
 * built by that script straight from the sources.
 * Usage: pwsweep -c FILE
 */
#include "config/config.h"
#include "daemon/options.h"
#include "probes/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_done(struct pw_engine *e, void *ud)
{
    (void)e;
    *(int *)ud = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: %s -c FILE\n", argv[0]);
        return 2;
    }
    struct pw_config *c = NULL;
    struct pw_diag d = {0};
    if (pw_config_load(argv[2], &c, &d) != 0) {
        pw_diag_print(&d, stderr);
        return 2;
    }
    struct pw_plan *p = NULL;
    if (pw_plan_build(c, &p, &d) != 0) {
        pw_diag_print(&d, stderr);
        return 2;
    }
    pw_diag_free(&d);
    struct pw_engine_options o = pw_options_engine(c);
    o.spread = false;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    int done = 0;
    uint64_t t0 = uv_hrtime();
    if (!e || pw_engine_sweep_once(e, on_done, &done) != 0)
        return 1;
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    printf("{\"targets\": %zu, \"sweep_ms\": %llu", s->ntargets, (unsigned long long)ms);
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        printf(", \"%s\": %llu", pw_state_name((enum pw_state)i),
               (unsigned long long)s->stats.probes[i]);
    printf(", \"in_flight_peak\": %u, \"fd_waits\": %llu}\n", s->stats.in_flight_peak,
           (unsigned long long)s->stats.fd_waits);
    pw_snapshot_release(s);
    pw_engine_close(e, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop) == 0 && done ? 0 : 1;
    pw_plan_free(p);
    pw_config_free(c);
    return rc;
}
