/*
 * Internals of `portwatch run` shared by cmd_run.c (generations, the
 * engine's and web's callbacks, timers, run_stop, start-up and the command) and
 * run_reload.c (reload, the endpoint watch's plan swaps and the stop and
 * reload requests from daemon/os.h). Not for other files.
 */
#ifndef PW_DAEMON_RUN_INT_H
#define PW_DAEMON_RUN_INT_H

#include "daemon/cli.h"
#include "daemon/epm_watch.h"
#include "daemon/log.h"
#include "daemon/options.h"
#include "daemon/transitions.h"
#include "daemon/os.h"

#include "base/error.h"
#include "probes/probe.h"
#include "store/store.h"
#include "web/web.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define NONE UINT32_MAX

struct daemon;

/* A plan with its store ids and the engine probing it. refs: one while it
 * is the current generation, one while its engine is open, one per web
 * view holding it. Changed under daemon.lock. */
struct gen {
    struct gen *next;           /* daemon.gens */
    struct daemon *d;
    struct pw_plan *plan;
    uint32_t *ids;              /* store id of each plan target */
    struct pw_engine *engine;   /* NULL once replaced or closing */
    uint32_t *remap;            /* once replaced: each target's index in the
                                   next plan, or NONE (for late results) */
    bool closing;               /* its engine closes; run_on_engine_closed ends it */
    int refs;
};

struct daemon {
    uv_loop_t loop;
    const struct pw_command *cmd;
    const struct pw_args *args;
    struct pw_config *boot;     /* what the store and web were started with */
    struct pw_config *cfg;      /* the current configuration */
    uv_mutex_t lock;            /* cur, gens, gen refs */
    struct gen *cur;
    struct gen *gens;
    struct pw_store *store;
    struct pw_web *web;
    struct pw_epm_watch *watch; /* NULL before the web starts and once stopping */
    uv_timer_t heartbeat, status, watchdog;
    int64_t beat_ms;            /* wall clock of the last heartbeat */
    uint64_t beat_mono_ns;      /* its monotonic clock (uv_hrtime) */
    int64_t beat_cpu_us;        /* and the process's CPU time then */
    uint32_t fd_limit;          /* open-file limit, raised once at start */
    struct pw_transitions trans; /* status changes to the log */
    uv_timer_t reload_timer;    /* runs while a reload is queued */
    uint64_t reload_at;         /* loop time of the last reload, 0 if none */
    unsigned reload_queued;     /* requests waiting for the gap to pass */
    char reload_why[64];        /* the first of them */
    uv_timer_t maint_timer;     /* maintenance windows, each second (run_maint.c) */
    struct pw_web_maint *maint; /* the current ones; NULL before the first tick */
    int have_watchdog;
    int stopping;
    int exit_code;
};

/* ---- cmd_run.c ---- */
struct gen *run_gen_new(struct daemon *d, struct pw_plan *plan);
/* A new engine for g's plan, with its batches tagged with g. */
int run_gen_engine(struct daemon *d, struct gen *g, const struct pw_config *c);
void run_gen_free(struct gen *g);
/* Drops one reference; the caller holds d->lock. Returns the generation
 * to free (outside the lock) when that was the last one, else NULL. */
struct gen *run_gen_unref_locked(struct daemon *d, struct gen *g);
/* The engine's batch callback (ud: the generation). */
void run_on_batch(void *ud, const struct pw_result *r, size_t n);
/* The engine's close callback (ud: the generation). */
void run_on_engine_closed(struct pw_engine *e, void *ud);
/* Seeds g's engine from the store and from prev (see cmd_run.c). */
void run_seed(struct daemon *d, struct gen *g, const struct pw_snapshot *prev,
              const uint32_t *match);
/* The farm summary for the service manager (systemctl status). */
void run_summary(struct daemon *d, char *buf, size_t len);
void run_stop(struct daemon *d, const char *why);

/* ---- run_reload.c ---- */
/* base plus the TCP ports the endpoint mappers registered; takes base. */
struct pw_plan *run_add_registered(struct daemon *d, const struct pw_config *cfg,
                                   struct pw_plan *base);
/* Plan warnings (as config-check gives them) to the log. */
void run_log_warnings(const struct pw_plan *plan, const char *prefix);
/* The endpoint watch's change callback (ud: the daemon). */
void run_on_epm_changed(void *ud);
/* daemon/os.h's stop and reload requests (ud: the daemon). */
void run_on_control(void *ud, enum pw_os_control c, const char *why);

/* ---- run_maint.c ---- */
/* Starts the maintenance windows' tick (one at once, then each second). */
void run_maint_start(struct daemon *d);
void run_maint_close(struct daemon *d);
/* Gives a view the current windows (the caller holds d->lock) / drops them. */
void run_maint_attach_locked(struct daemon *d, struct pw_web_view *v);
void run_maint_detach(struct daemon *d, struct pw_web_view *v);
/* Drops the daemon's own reference, once the web layer is stopped. */
void run_maint_free(struct daemon *d);

#endif
