/*
 * Shared pieces of the probe engine tests: plans built through the real
 * configuration API, real loopback peers (listeners that accept, ports
 * that refuse, listeners whose full accept queue drops SYNs so a connect
 * times out), and a result collector. POSIX sockets: these tests run on
 * Linux.
 */
#ifndef PW_TEST_PROBE_HELPERS_H
#define PW_TEST_PROBE_HELPERS_H

#include "probes/probe.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* A plan from INI text; aborts the test on any diagnostic. */
struct pw_plan *th_plan(const char *ini);
/* Overrides every profile's interval and timeout (0 leaves one as is):
 * tests need intervals shorter than the configuration allows. */
void th_timing(struct pw_plan *p, int64_t interval_ms, int64_t timeout_ms);
/* Index of target (host name, port), or aborts. */
uint32_t th_target(const struct pw_plan *p, const char *host, uint16_t port);

/* A listener on addr:port (port 0: any) with the given backlog. Returns the
 * fd and sets *port. */
int th_listen(const char *addr, uint16_t *port, int backlog);
/* A port on addr that nothing listens on (bound then released). */
uint16_t th_free_port(const char *addr);
/* A listener whose accept queue is full, so further SYNs are dropped and a
 * connect times out: the "filtered" peer without root. fds[0] is the
 * listener, fds[1] the connection filling its queue. */
uint16_t th_blackhole(const char *addr, int fds[2]);

/* Collects every result of every batch. */
struct th_results {
    struct pw_result *r;
    size_t n, cap;
    size_t batches;
    size_t stop_at;          /* nonzero: close the engine at this many */
    struct pw_engine *engine;
    int closed;
};
void th_collect(void *ud, const struct pw_result *r, size_t n);
void th_results_free(struct th_results *tr);
/* Counts the results for target t. */
size_t th_count(const struct th_results *tr, uint32_t t);
/* The last result for target t, or NULL. */
const struct pw_result *th_last(const struct th_results *tr, uint32_t t);

/* done callbacks that bump an int counter passed as ud. */
void th_done(struct pw_engine *e, void *ud);

/* Runs one sweep of p to completion, results into tr; returns the engine,
 * still open. */
struct pw_engine *th_sweep(uv_loop_t *loop, const struct pw_plan *p,
                           const struct pw_engine_options *o, struct th_results *tr);
/* Closes e, asserting its done callback runs once and the loop then
 * closes with no handle left. */
void th_close_engine(uv_loop_t *loop, struct pw_engine *e);

/* `portwatch check --format json` for p and s, as written by
 * pw_report_json_write and read back with jansson; aborts the test if it
 * is not valid JSON. The caller owns the reference. */
json_t *th_report_json(const struct pw_plan *p, const struct pw_snapshot *s);

/* Every engine a test creates goes through here: with PW_TEST_DIALER=os
 * in the environment it gets the OS's dialer (probes/dial_linux.c, what
 * `portwatch run` and `check` use), so the same assertions hold for both
 * connect paths; meson runs the engine tests both ways. */
struct pw_engine *th_engine_new(uv_loop_t *loop, const struct pw_plan *p,
                                const struct pw_engine_options *o);
#ifndef TH_ENGINE_NEW_ITSELF
#define pw_engine_new th_engine_new
#endif

#endif
