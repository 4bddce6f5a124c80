/*
 * `portwatch run`: the daemon. Wires the parts together on one libuv loop:
 *
 *   config -> plan -> probe engine --batch--> store (writer thread)
 *                          |                     |
 *                      snapshot              queries
 *                          \----> web (MHD threads) <----/
 *
 * The loop thread owns the engine; the HTTP threads only read snapshots
 * (with the plan's store ids beside them) and the store. Stop and reload
 * requests come through daemon/os.h (signals, or the Windows service
 * control manager); the service manager hears back through pw_os_notify.
 *
 * Stop: stop the web threads, close the engine (scheduling stops, in-flight
 * probes are cancelled, its last results reach the store), end the loop,
 * then the store writes what is queued and closes.
 *
 * Reload: the configuration is read again (with the same command-line
 * overrides) into a new plan; a configuration with errors is rejected with
 * every problem logged and the running one stays. Otherwise the store maps
 * the new plan to its stable ids (by host and port), a new engine is
 * seeded with each kept target's state from the old engine's last
 * snapshot (so status, since and history continue) and with what the store
 * remembers for targets coming back, and replaces the old engine, which is
 * closed. A plan, its ids and its engine form a "generation": web views
 * borrow a generation's plan and ids, so a generation is freed only when
 * the last view of it is released (the web layer caches one view until a
 * newer snapshot shows up). Settings the running HTTP server and store
 * were started with (listen, database, token, TLS, limits, retention:
 * the keys the key table flags `restart`) need a restart; a reload that
 * changes them says so.
 *
 * Endpoint watch (daemon/epm_watch.c): the hosts probed on 135 have their
 * endpoint mappers read every epm_every intervals; the TCP ports registered
 * there join the plan as an implicit check per host ("rpc-registered").
 * When a host's registered ports change, the plan is rebuilt from the
 * current configuration (not re-read from disk) and swapped in exactly as
 * a reload does, so unchanged targets keep their state. The watch keeps its
 * reads in the store and starts from the stored ones, so the first plan
 * already probes the ports registered at the last read.
 */
#include "daemon/cli.h"
#include "daemon/epm_watch.h"
#include "daemon/log.h"
#include "daemon/options.h"
#include "daemon/transitions.h"
#include "daemon/os.h"

#include "config/error.h"
#include "probes/probe.h"
#include "store/store.h"
#include "web/web.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* [portwatch] log_level's choices (config.c) are these levels in order. */
_Static_assert(PW_LOG_ERROR == 0 && PW_LOG_WARN == 1 && PW_LOG_INFO == 2 && PW_LOG_DEBUG == 3,
               "log_level's choices: error, warn, info, debug");

/* The daemon's own pulse: the store hears it every HEARTBEAT_MS, and a
 * stretch of more than GAP_MS in which it heard neither a result nor a
 * beat (SIGSTOP, a VM snapshot, a suspended machine, a loop starved of
 * CPU) is a monitoring gap: not monitored, whatever its length. */
#define HEARTBEAT_MS 1000
#define GAP_MS 5000
#define STATUS_MS 10000
/* Reloads come at most this often; requests in between are coalesced. */
#define RELOAD_GAP_MS 1000
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
    bool closing;               /* its engine closes; on_engine_closed ends it */
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
    uint32_t fd_limit;          /* open-file limit, raised once at start */
    struct pw_transitions trans; /* status changes to the log */
    uv_timer_t reload_timer;    /* runs while a reload is queued */
    uint64_t reload_at;         /* loop time of the last reload, 0 if none */
    unsigned reload_queued;     /* requests waiting for the gap to pass */
    char reload_why[64];        /* the first of them */
    int have_watchdog;
    int stopping;
    int exit_code;
};

/* ---- generations ----------------------------------------------------------- */

static struct gen *gen_new(struct daemon *d, struct pw_plan *plan)
{
    struct gen *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ids = calloc(plan->ntargets ? plan->ntargets : 1, sizeof *g->ids);
    if (!g->ids) {
        free(g);
        return NULL;
    }
    g->d = d;
    g->plan = plan;
    return g;
}

static void gen_free(struct gen *g)
{
    if (!g)
        return;
    pw_plan_free(g->plan);
    free(g->ids);
    free(g->remap);
    free(g);
}

/* Drops one reference; the caller holds d->lock. Returns the generation
 * to free (outside the lock) when that was the last one, else NULL. */
static struct gen *gen_unref_locked(struct daemon *d, struct gen *g)
{
    if (--g->refs > 0)
        return NULL;
    for (struct gen **pp = &d->gens; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    return g;
}

static void gen_unref(struct daemon *d, struct gen *g)
{
    uv_mutex_lock(&d->lock);
    struct gen *dead = gen_unref_locked(d, g);
    uv_mutex_unlock(&d->lock);
    gen_free(dead);
}

/* ---- callbacks from the engine, the web layer and timers -------------------- */

/* Results of the current generation go to the store as they are; late
 * results of a replaced one (remap set: flushed when its engine closes,
 * after the store already maps the new plan, and before the new generation
 * becomes current) are renumbered into the new plan, and dropped for
 * targets the new plan no longer has. */
static void on_batch(void *ud, const struct pw_result *r, size_t n)
{
    struct gen *g = ud;
    struct daemon *d = g->d;
    pw_transitions_add(&d->trans, g->plan, r, n);
    if (!g->remap) { /* not replaced: the store maps this generation's plan */
        pw_store_submit(d->store, r, n);
        return;
    }
    struct pw_result *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].target >= g->plan->ntargets || g->remap[r[i].target] == NONE)
            continue;
        tmp[m] = r[i];
        tmp[m++].target = g->remap[r[i].target];
    }
    pw_store_submit(d->store, tmp, m);
    free(tmp);
}

static void on_engine_closed(struct pw_engine *e, void *ud)
{
    (void)e;
    struct gen *g = ud;
    uv_mutex_lock(&g->d->lock);
    g->closing = false;
    uv_mutex_unlock(&g->d->lock);
    gen_unref(g->d, g);
    pw_os_memory_release(); /* a replaced engine (and usually its plan) */
}

/* The web layer's view of the live state: a snapshot of the current
 * engine plus the store ids of its plan's targets, both held until
 * view_release. */
static int view_acquire(void *ud, struct pw_web_view *v)
{
    struct daemon *d = ud;
    uv_mutex_lock(&d->lock);
    struct gen *g = d->cur;
    if (!g || !g->engine) {
        uv_mutex_unlock(&d->lock);
        return PW_EBUSY;
    }
    v->snap = pw_engine_snapshot_acquire(g->engine);
    v->ids = g->ids;
    g->refs++;
    uv_mutex_unlock(&d->lock);
    return v->snap ? 0 : PW_ENOMEM;
}

static void view_release(void *ud, struct pw_web_view *v)
{
    struct daemon *d = ud;
    struct gen *dead = NULL;
    uv_mutex_lock(&d->lock);
    for (struct gen *g = d->gens; g; g = g->next)
        if (g->ids == v->ids) {
            dead = gen_unref_locked(d, g);
            break;
        }
    uv_mutex_unlock(&d->lock);
    pw_snapshot_release(v->snap);
    v->snap = NULL;
    gen_free(dead);
}

static const struct pw_web_epm *epm_acquire(void *ud)
{
    struct daemon *d = ud;
    return d->watch ? pw_epm_watch_acquire(d->watch) : NULL;
}

static void epm_release(void *ud, const struct pw_web_epm *e)
{
    (void)ud;
    pw_epm_watch_release(e);
}

static void on_heartbeat(uv_timer_t *t)
{
    struct daemon *d = t->data;
    int64_t now = pw_web_now_ms();
    if (d->beat_ms && now - d->beat_ms > GAP_MS) {
        char from[40], to[40], took[32];
        pw_web_format_time(d->beat_ms, from, sizeof from);
        pw_web_format_time(now, to, sizeof to);
        pw_format_duration((now - d->beat_ms) / 1000 * 1000, took, sizeof took);
        pw_log_event(PW_LOG_WARN, "monitoring gap: from %s to %s (%s) the daemon did not run "
                     "(paused, suspended, or starved of CPU); that time counts as not monitored",
                     from, to, took);
    }
    d->beat_ms = now;
    pw_store_heartbeat(d->store, now);
}

/* The farm summary for the service manager (systemctl status). */
static void summary(struct daemon *d, char *buf, size_t len)
{
    struct pw_snapshot *s = pw_engine_snapshot_acquire(d->cur->engine);
    size_t n[PW_STATUS_DOWN + 1] = {0}; /* a count per enum pw_status */
    for (size_t i = 0; i < s->ntargets; i++)
        if ((unsigned)s->targets[i].status <= PW_STATUS_DOWN)
            n[s->targets[i].status]++;
    size_t nhosts = d->cur->plan->nhosts;
    snprintf(buf, len, "%zu target%s on %zu host%s: %zu up, %zu down, %zu not yet probed",
             s->ntargets, s->ntargets == 1 ? "" : "s", nhosts, nhosts == 1 ? "" : "s",
             n[PW_STATUS_UP], n[PW_STATUS_DOWN], n[PW_STATUS_UNKNOWN]);
    pw_snapshot_release(s);
}

static void on_status(uv_timer_t *t)
{
    struct daemon *d = t->data;
    char line[256];
    summary(d, line, sizeof line);
    pw_os_notify(PW_OS_STATUS, line);
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    pw_os_watchdog();
}

/* ---- stop ------------------------------------------------------------------- */

static void stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    pw_log(PW_LOG_INFO, "stopping (%s)", why);
    pw_os_notify(PW_OS_STOPPING, "stopping");
    pw_os_control_stop();
    uv_close((uv_handle_t *)&d->heartbeat, NULL);
    uv_close((uv_handle_t *)&d->status, NULL);
    pw_transitions_close(&d->trans); /* the engine's last batch is written at once */
    uv_close((uv_handle_t *)&d->reload_timer, NULL);
    if (d->have_watchdog)
        uv_close((uv_handle_t *)&d->watchdog, NULL);
    /* The web threads read snapshots from the engine: stop them first. */
    pw_web_stop(d->web);
    d->web = NULL;
    pw_epm_watch_close(d->watch);
    d->watch = NULL;
    uv_mutex_lock(&d->lock);
    struct pw_engine *e = d->cur->engine;
    d->cur->engine = NULL;
    uv_mutex_unlock(&d->lock);
    pw_engine_close(e, on_engine_closed, d->cur);
}

/* ---- start-up pieces shared with reload -------------------------------------- */

/* The configuration's engine options, run the daemon's way. */
static struct pw_engine_options engine_options(const struct daemon *d,
                                               const struct pw_config *c)
{
    struct pw_engine_options o = pw_options_engine(c);
    o.spread = true;
    o.dialer = pw_os_dialer();
    o.fd_limit = d->fd_limit; /* probes leave the API and the database theirs */
    return o;
}

/* A new engine for g's plan, with its batches tagged with g. */
static int gen_engine(struct daemon *d, struct gen *g, const struct pw_config *c)
{
    struct pw_engine_options opt = engine_options(d, c);
    g->engine = pw_engine_new(&d->loop, g->plan, &opt);
    if (!g->engine)
        return PW_ENOMEM;
    pw_engine_set_log(g->engine, pw_log_cb, NULL);
    pw_engine_set_batch_cb(g->engine, on_batch, g);
    g->refs++; /* the engine's, dropped by on_engine_closed */
    return 0;
}

/* Seeds g's engine with what the store remembers of each target, then,
 * where `prev` (the replaced generation's last snapshot, with match[i] the
 * index of g's target i in it) knows the target, with that: it is newer.
 * The counters go on from prev's. */
static void seed(struct daemon *d, struct gen *g, const struct pw_snapshot *prev,
                 const uint32_t *match)
{
    size_t n = g->plan->ntargets;
    struct pw_target_state *st = calloc(n ? n : 1, sizeof *st);
    if (st && pw_store_load_states(d->store, g->plan, st) != 0)
        memset(st, 0, n * sizeof *st);
    for (size_t i = 0; i < n; i++) {
        const struct pw_target_state *s = st ? &st[i] : NULL;
        if (prev && match && match[i] != NONE)
            s = &prev->targets[match[i]];
        if (s && s->has_result)
            pw_engine_seed_state(g->engine, (uint32_t)i, s);
    }
    free(st);
    if (prev)
        pw_engine_seed_stats(g->engine, &prev->stats);
}

static void store_log(void *ud, enum pw_store_log_level lvl, const char *msg)
{
    (void)ud;
    /* The store's errors all mean history is not being written. */
    if (lvl == PW_STORE_LOG_ERROR)
        pw_log_event_id(PW_EVENT_STORAGE_DEGRADED, PW_LOG_ERROR, "store: %s", msg);
    else
        pw_log(lvl == PW_STORE_LOG_WARN ? PW_LOG_WARN : PW_LOG_INFO, "store: %s", msg);
}

static int open_store(struct daemon *d)
{
    struct pw_store_options so = pw_options_store(d->boot);
    so.gap_ms = GAP_MS; /* goes with the heartbeat, above */
    so.log = store_log;
    char err[PW_STORE_MSG_MAX];
    int rc = pw_store_open(d->boot->s.database, &so, &d->store, err);
    if (rc != 0) /* err names the file, the reason and what to do */
        pw_log(PW_LOG_ERROR, "not started: %s", err);
    return rc;
}

static int start_web(struct daemon *d)
{
    const struct pw_settings *s = &d->boot->s;
    struct pw_web_options wo = pw_options_web(d->boot);
    wo.log = pw_log_cb;
    struct pw_web_sources src = {
        .acquire = view_acquire,
        .release = view_release,
        .ud = d,
        .store = d->store,
        .epm_acquire = epm_acquire,
        .epm_release = epm_release,
    };
    char err[256];
    int rc = pw_web_start(&wo, &src, &d->web, err);
    if (rc != 0)
        pw_log(PW_LOG_ERROR, "cannot serve the HTTP API on %s: %s", s->listen, err);
    return rc;
}

/* ---- reload ------------------------------------------------------------------- */

/* base (cfg's plan) plus, for hosts it probes on 135, the TCP ports their
 * endpoint mappers registered (the watch's implicit checks, added to cfg
 * only while the plan is built). Takes base; returns the plan to use:
 * base itself when there is nothing to add or adding fails. */
static struct pw_plan *add_registered(struct daemon *d, struct pw_config *cfg,
                                      struct pw_plan *base)
{
    if (!d->watch)
        return base;
    size_t keep = cfg->nchecks;
    int n = pw_epm_watch_add_checks(d->watch, cfg, base);
    if (n <= 0) {
        if (n < 0)
            pw_log(PW_LOG_WARN, "cannot add the ports registered with endpoint mappers: %s",
                   pw_strerror(n));
        return base;
    }
    struct pw_plan *full = NULL;
    struct pw_diag more = {0};
    int rc = pw_plan_build(cfg, &full, &more);
    pw_config_drop_checks(cfg, keep);
    if (rc != 0) {
        for (size_t i = 0; i < more.n; i++)
            pw_log(PW_LOG_WARN, "ports registered with endpoint mappers left out: %s", more.msgs[i]);
        pw_diag_free(&more);
        return base;
    }
    pw_diag_free(&more);
    pw_plan_free(base);
    return full;
}

/* The plan for cfg with the registered ports (add_registered). Returns
 * pw_plan_build's code; msgs holds the configuration's problems. */
static int build_plan(struct daemon *d, struct pw_config *cfg, struct pw_plan **out,
                      struct pw_diag *msgs)
{
    struct pw_plan *base = NULL;
    int rc = pw_plan_build(cfg, &base, msgs);
    *out = rc == 0 ? add_registered(d, cfg, base) : base;
    return rc;
}

struct id_index {
    uint32_t id, index;
};

static int cmp_id(const void *a, const void *b)
{
    uint32_t x = ((const struct id_index *)a)->id, y = ((const struct id_index *)b)->id;
    return x < y ? -1 : x > y;
}

/* Matches targets of `next` to those of `prev` by store id (stable by host
 * and port): prev->remap[j] = index in next or NONE; match[i] = index in
 * prev or NONE. Returns the number kept, or -1 out of memory. */
static long match_targets(struct gen *prev, const struct gen *next, uint32_t *match)
{
    size_t np = prev->plan->ntargets, nn = next->plan->ntargets;
    struct id_index *by_id = malloc((np ? np : 1) * sizeof *by_id);
    prev->remap = malloc((np ? np : 1) * sizeof *prev->remap);
    if (!by_id || !prev->remap) {
        free(by_id);
        free(prev->remap);
        prev->remap = NULL;
        return -1;
    }
    for (size_t j = 0; j < np; j++) {
        by_id[j] = (struct id_index){prev->ids[j], (uint32_t)j};
        prev->remap[j] = NONE;
    }
    qsort(by_id, np, sizeof *by_id, cmp_id);
    long kept = 0;
    for (size_t i = 0; i < nn; i++) {
        struct id_index key = {next->ids[i], 0};
        const struct id_index *hit = bsearch(&key, by_id, np, sizeof *by_id, cmp_id);
        match[i] = hit ? hit->index : NONE;
        if (hit) {
            prev->remap[hit->index] = (uint32_t)i;
            kept++;
        }
    }
    free(by_id);
    return kept;
}

static void reload_done(struct daemon *d)
{
    char line[256];
    summary(d, line, sizeof line);
    pw_os_notify(PW_OS_READY, line);
}

static void swap_plan(struct daemon *d, struct pw_config *cfg, struct pw_plan *plan,
                      uint64_t t0, const char *what);

/* What config-check warns about (a sweep the rate cap stretches) goes to
 * the log at start and at each reload. */
static void log_warnings(const struct pw_plan *plan, const char *prefix)
{
    const struct pw_diag *warn = pw_plan_warnings(plan);
    for (size_t i = 0; i < warn->n; i++)
        pw_log(PW_LOG_WARN, "%s%s", prefix, warn->msgs[i]);
}

/* The keys the running HTTP server and store hold (pw_key.restart) keep
 * their running values; say which of them the new configuration changes.
 * Values are not printed (api_token is a secret). */
static void warn_restart_keys(const struct pw_config *running, const struct pw_config *next)
{
    size_t nkeys;
    const struct pw_key *keys = pw_config_keys(&nkeys);
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].restart && pw_config_key_differs(&keys[i], running, next))
            pw_log(PW_LOG_WARN, "reload: %s changed; it takes effect only after a restart "
                                "(the running value stays)", keys[i].name);
}

static void reload(struct daemon *d, const char *why)
{
    uint64_t t0 = uv_hrtime();
    pw_log(PW_LOG_INFO, "reloading the configuration (%s)", why);
    pw_os_notify(PW_OS_RELOADING, "reloading the configuration");

    struct pw_diag msgs = {0};
    struct pw_plan *plan = NULL;
    struct pw_config *cfg = pw_cli_config_msgs(d->cmd, d->args, &msgs);
    if (cfg && build_plan(d, cfg, &plan, &msgs) != 0)
        plan = NULL;
    if (!plan) {
        for (size_t i = 0; i < msgs.n; i++)
            pw_log(PW_LOG_ERROR, "reload: %s", msgs.msgs[i]);
        pw_log_event_id(PW_EVENT_RELOAD_REJECTED, PW_LOG_ERROR,
                        "reload rejected: the configuration has errors (logged above); "
                        "still running the previous one");
        pw_diag_free(&msgs);
        pw_config_free(cfg);
        reload_done(d);
        return;
    }
    pw_diag_free(&msgs);
    log_warnings(plan, "reload: ");
    warn_restart_keys(d->boot, cfg);
    swap_plan(d, cfg, plan, t0, "configuration reloaded");
}

/* The endpoint watch saw a host's registered TCP ports change: the plan is
 * rebuilt from the running configuration and swapped in. */
static void on_epm_changed(void *ud)
{
    struct daemon *d = ud;
    if (d->stopping)
        return;
    uint64_t t0 = uv_hrtime();
    struct pw_diag msgs = {0};
    struct pw_plan *plan = NULL;
    int rc = build_plan(d, d->cfg, &plan, &msgs);
    pw_diag_free(&msgs);
    if (rc != 0) { /* the running configuration built before: out of memory */
        pw_log(PW_LOG_ERROR, "cannot rebuild the plan for the registered RPC ports: %s",
               pw_strerror(rc));
        return;
    }
    swap_plan(d, d->cfg, plan, t0, "plan rebuilt for the ports registered with endpoint mappers");
}

/* Makes plan (built from cfg) current: maps it to store ids, starts its
 * engine seeded from the running one, retires the old generation. Takes
 * plan and, unless it is already d->cfg, cfg; on failure both are freed
 * and the running generation stays. */
static void swap_plan(struct daemon *d, struct pw_config *cfg, struct pw_plan *plan,
                      uint64_t t0, const char *what)
{
    struct gen *prev = d->cur, *g = gen_new(d, plan);
    uint32_t *match = calloc(plan->ntargets ? plan->ntargets : 1, sizeof *match);
    int rc = g && match ? 0 : PW_ENOMEM;
    uint64_t t_sync = uv_hrtime();
    if (rc == 0 && (rc = pw_store_sync_targets(d->store, plan, g->ids)) != 0)
        /* Put the store back on the running plan's targets. */
        pw_store_sync_targets(d->store, prev->plan, prev->ids);
    t_sync = uv_hrtime() - t_sync;
    long kept = rc == 0 ? match_targets(prev, g, match) : 0;
    if (rc == 0 && kept < 0) {
        rc = PW_ENOMEM;
        pw_store_sync_targets(d->store, prev->plan, prev->ids);
    }
    if (rc == 0 && (rc = gen_engine(d, g, cfg)) != 0) {
        free(prev->remap);
        prev->remap = NULL;
        pw_store_sync_targets(d->store, prev->plan, prev->ids);
    }
    if (rc != 0) {
        pw_log_event_id(PW_EVENT_RELOAD_REJECTED, PW_LOG_ERROR,
                        "reload failed: %s; still running the previous configuration", pw_strerror(rc));
        if (g)
            gen_free(g); /* and its plan */
        else
            pw_plan_free(plan);
        free(match);
        if (cfg != d->cfg)
            pw_config_free(cfg);
        reload_done(d);
        return;
    }

    /* Close the old engine first: its last results are flushed now (and
     * renumbered by on_batch), and its final snapshot is the state the new
     * engine continues from. The engine is freed only by its close
     * callbacks, on a later loop turn, so the snapshot can still be taken
     * and web threads may still be reading it until the swap below. */
    pw_engine_follow(g->engine, prev->engine); /* keep the sweeps' pace; or start afresh */
    uv_mutex_lock(&d->lock);
    prev->closing = true;
    uv_mutex_unlock(&d->lock);
    pw_engine_close(prev->engine, on_engine_closed, prev);
    struct pw_snapshot *last = pw_engine_snapshot_acquire(prev->engine);
    uint64_t t_seed = uv_hrtime();
    seed(d, g, last, match);
    t_seed = uv_hrtime() - t_seed;
    pw_snapshot_release(last);
    free(match);
    /* Started (which publishes its seeded snapshot) before the web layer
     * can see it: else a request in between reads the new plan with every
     * kept target unknown. Its first results come on a later loop turn,
     * when it is current. */
    int start_rc = pw_engine_start(g->engine);

    size_t prev_n = prev->plan->ntargets;
    struct gen *dead;
    uv_mutex_lock(&d->lock);
    g->refs++; /* current */
    g->next = d->gens;
    d->gens = g;
    d->cur = g;
    prev->engine = NULL;
    dead = gen_unref_locked(d, prev); /* no longer current */
    uv_mutex_unlock(&d->lock);
    gen_free(dead);

    if (cfg != d->cfg) {
        if (d->cfg != d->boot)
            pw_config_free(d->cfg);
        d->cfg = cfg;
        pw_log_init(cfg->s.log_level);
    }
    if (d->watch)
        pw_epm_watch_configure(d->watch, cfg, plan);

    if (start_rc != 0) {
        pw_log_event(PW_LOG_ERROR, "cannot start probing after the reload: %s",
                     uv_strerror(start_rc));
        d->exit_code = PW_EXIT_FAILED;
        stop(d, "reload failed");
        return;
    }
    pw_log_event_id(PW_EVENT_RELOAD, PW_LOG_INFO, "%s in %.0f ms: %zu target%s on %zu host%s "
                    "(%ld kept, %zu new, %zu removed)", what,
                    (double)(uv_hrtime() - t0) / 1e6, plan->ntargets, plan->ntargets == 1 ? "" : "s",
                    plan->nhosts, plan->nhosts == 1 ? "" : "s", kept,
                    plan->ntargets - (size_t)kept, prev_n - (size_t)kept);
    pw_log(PW_LOG_DEBUG, "reload: store sync %.0f ms, seeding %.0f ms", (double)t_sync / 1e6,
           (double)t_seed / 1e6);
    reload_done(d);
}

/* The previous generation's engine is still closing (its final results
 * are not in yet): a reload now would stack a third plan on two. */
static bool swap_in_flight(struct daemon *d)
{
    uv_mutex_lock(&d->lock);
    bool busy = false;
    for (struct gen *g = d->gens; g; g = g->next)
        busy |= g->closing;
    uv_mutex_unlock(&d->lock);
    return busy;
}

static void on_reload_timer(uv_timer_t *t);

/* A reload request (SIGHUP, the service manager). A storm of them (a
 * script sending SIGHUP in a loop) must not become a storm of reloads:
 * each builds a plan and an engine, restarts the sweep and churns memory.
 * So at most one reload runs at a time and they come at least
 * RELOAD_GAP_MS apart; requests in between wait as one queued reload,
 * which reads the configuration as it is when it runs. */
static void request_reload(struct daemon *d, const char *why)
{
    uint64_t now = uv_now(&d->loop);
    bool soon = d->reload_at && now - d->reload_at < RELOAD_GAP_MS;
    if (!d->reload_queued && !soon && !swap_in_flight(d)) {
        d->reload_at = now;
        reload(d, why);
        return;
    }
    if (d->reload_queued++ == 0) {
        snprintf(d->reload_why, sizeof d->reload_why, "%s", why);
        uint64_t wait = soon ? RELOAD_GAP_MS - (now - d->reload_at) : 100;
        uv_timer_start(&d->reload_timer, on_reload_timer, wait, 0);
    }
}

static void on_reload_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    if (d->stopping)
        return;
    if (swap_in_flight(d)) { /* the last engine is still closing */
        uv_timer_start(&d->reload_timer, on_reload_timer, 100, 0);
        return;
    }
    char why[128];
    if (d->reload_queued > 1)
        snprintf(why, sizeof why, "%s; %u requests coalesced into this one", d->reload_why,
                 d->reload_queued);
    else
        snprintf(why, sizeof why, "%s", d->reload_why);
    d->reload_queued = 0;
    d->reload_at = uv_now(&d->loop);
    reload(d, why);
}

static void on_control(void *ud, enum pw_os_control c, const char *why)
{
    struct daemon *d = ud;
    if (d->stopping)
        return;
    if (c == PW_OS_STOP)
        stop(d, why);
    else
        request_reload(d, why);
}

/* ---- the command ---------------------------------------------------------------- */

/* Loads the configuration for start-up. With a log file (a service has no
 * terminal), problems go to the log; otherwise to stderr as for every
 * command. */
static struct pw_config *load(const struct pw_command *cmd, const struct pw_args *a, int to_log)
{
    if (!to_log)
        return pw_cli_config(cmd, a);
    struct pw_diag msgs = {0};
    struct pw_config *c = pw_cli_config_msgs(cmd, a, &msgs);
    for (size_t i = 0; i < msgs.n; i++)
        pw_log(PW_LOG_ERROR, "%s", msgs.msgs[i]);
    pw_diag_free(&msgs);
    return c;
}

/* What can be known to fail before anything is created (the database
 * file, the listener): the database's directory and file, the TLS files
 * and the listen address, each with the OS's own error and the fix. A
 * relative database path is said, with the file it resolves to. Returns 0
 * when the start may go on. */
static int preflight(struct daemon *d)
{
    const struct pw_settings *s = &d->boot->s;
    struct pw_diag problems = {0}, notes = {0};
    pw_startup_check_database(s->database, 0, &problems, &notes);
    pw_startup_check_readable("tls_certificate", s->tls_certificate, &problems);
    pw_startup_check_readable("tls_key", s->tls_key, &problems);
    pw_startup_check_listen(&d->loop, s->listen, &problems);
    for (size_t i = 0; i < notes.n; i++)
        pw_log(PW_LOG_WARN, "%s", notes.msgs[i]);
    for (size_t i = 0; i < problems.n; i++)
        pw_log(PW_LOG_ERROR, "%s", problems.msgs[i]);
    int rc = problems.n ? -1 : 0;
    if (rc)
        pw_log_event(PW_LOG_ERROR, "not started: %zu problem%s (above); nothing was created",
                     problems.n, problems.n == 1 ? "" : "s");
    pw_diag_free(&problems);
    pw_diag_free(&notes);
    return rc;
}

/* A start that failed after the watch or the engine came up: closes them
 * and lets their handles close, so the loop can be closed. */
static void abort_start(struct daemon *d)
{
    pw_epm_watch_close(d->watch);
    d->watch = NULL;
    if (d->cur && d->cur->engine) {
        pw_engine_close(d->cur->engine, on_engine_closed, d->cur);
        d->cur->engine = NULL;
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

int pw_cmd_run(const struct pw_command *cmd, const struct pw_args *a)
{
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.cmd = cmd;
    d.args = a;
    d.exit_code = PW_EXIT_USAGE;

    const char *log_file = pw_arg(cmd, a, "log-file");
    if (!log_file)
        log_file = pw_os_service_log_path();
    if (log_file) {
        int rc = pw_log_open_file(log_file);
        if (rc != 0) {
            pw_log_event(PW_LOG_ERROR, "cannot open the log file %s: %s", log_file, uv_strerror(rc));
            return PW_EXIT_USAGE;
        }
    }
    d.boot = d.cfg = load(cmd, a, log_file != NULL);
    if (!d.cfg) {
        if (log_file)
            pw_log_event(PW_LOG_ERROR, "not started: the configuration has errors (see above)");
        goto out_log;
    }
    pw_log_init(d.cfg->s.log_level);

    struct pw_diag diag = {0};
    struct pw_plan *plan = NULL;
    if (pw_plan_build(d.cfg, &plan, &diag) != 0) {
        if (log_file)
            for (size_t i = 0; i < diag.n; i++)
                pw_log(PW_LOG_ERROR, "%s", diag.msgs[i]);
        else
            pw_diag_print(&diag, stderr);
        pw_diag_free(&diag);
        goto out_cfg;
    }
    log_warnings(plan, "");
    pw_os_memory_init();
    unsigned long fds = pw_os_raise_fd_limit();
    d.fd_limit = fds > UINT32_MAX ? UINT32_MAX : (uint32_t)fds;
    if (uv_mutex_init(&d.lock) != 0) {
        pw_plan_free(plan);
        goto out_cfg;
    }
    if (uv_loop_init(&d.loop) != 0) {
        pw_plan_free(plan);
        goto out_lock;
    }
    if (preflight(&d) != 0 || open_store(&d) != 0) {
        pw_plan_free(plan);
        goto out_loop;
    }
    /* The watch before the first plan: seeded from the store, it adds the
     * ports the mappers registered at their last read. */
    d.watch = pw_epm_watch_new(&d.loop, d.store, on_epm_changed, &d);
    if (d.watch) {
        pw_epm_watch_configure(d.watch, d.cfg, plan);
        plan = add_registered(&d, d.cfg, plan);
    } else {
        pw_log(PW_LOG_WARN, "out of memory: the RPC endpoint mappers are not watched");
    }
    struct gen *g = gen_new(&d, plan);
    if (!g) {
        pw_plan_free(plan);
        abort_start(&d);
        goto out_loop;
    }
    g->refs = 1; /* current */
    d.cur = d.gens = g;
    int rc = pw_store_sync_targets(d.store, plan, g->ids);
    if (rc != 0) {
        pw_log(PW_LOG_ERROR, "cannot record the targets in %s: %s", d.cfg->s.database, pw_strerror(rc));
        abort_start(&d);
        goto out_loop;
    }
    if (gen_engine(&d, g, d.cfg) != 0) {
        abort_start(&d);
        goto out_loop;
    }
    seed(&d, g, NULL, NULL);

    if (start_web(&d) != 0) {
        abort_start(&d);
        goto out_loop;
    }

    uv_timer_init(&d.loop, &d.heartbeat);
    uv_timer_init(&d.loop, &d.status);
    pw_transitions_init(&d.trans, &d.loop);
    uv_timer_init(&d.loop, &d.reload_timer);
    d.reload_timer.data = &d;
    d.heartbeat.data = d.status.data = d.watchdog.data = &d;
    uv_timer_start(&d.heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
    uv_timer_start(&d.status, on_status, STATUS_MS, STATUS_MS);
    uint64_t wd = pw_os_watchdog_interval_ms();
    if (wd) {
        uv_timer_init(&d.loop, &d.watchdog);
        uv_timer_start(&d.watchdog, on_watchdog, wd, wd);
        d.have_watchdog = 1;
        pw_os_watchdog();
    }
    rc = pw_os_control_start(&d.loop, on_control, &d);
    if (rc == 0)
        rc = pw_engine_start(g->engine);
    if (rc == 0 && d.watch)
        pw_epm_watch_configure(d.watch, d.cfg, plan);
    if (rc != 0) {
        pw_log_event(PW_LOG_ERROR, "cannot start: %s", uv_strerror(rc));
        stop(&d, "start-up failed");
    } else {
        char iv[32], to[32], line[256];
        pw_format_duration(d.cfg->s.interval_ms, iv, sizeof iv);
        pw_format_duration(d.cfg->s.timeout_ms, to, sizeof to);
        pw_log_event_id(PW_EVENT_START, PW_LOG_INFO, "started: watching %zu target%s on %zu host%s every %s "
                        "(timeout %s); history in %s", plan->ntargets, plan->ntargets == 1 ? "" : "s",
                        plan->nhosts, plan->nhosts == 1 ? "" : "s", iv, to, d.cfg->s.database);
        if (fds)
            pw_log(PW_LOG_DEBUG, "open-file limit %lu", fds);
        if (wd)
            pw_log(PW_LOG_DEBUG, "systemd watchdog: a ping every %llu ms", (unsigned long long)wd);
        summary(&d, line, sizeof line);
        pw_os_notify(PW_OS_READY, line);
        d.exit_code = PW_EXIT_OK;
    }
    uv_run(&d.loop, UV_RUN_DEFAULT);

out_loop:
    pw_web_stop(d.web);
    pw_store_close(d.store); /* writes everything queued */
    if (uv_loop_close(&d.loop) != 0)
        pw_log(PW_LOG_WARN, "event loop closed with handles still open");
    if (d.exit_code == PW_EXIT_OK)
        pw_log_event_id(PW_EVENT_STOP, PW_LOG_INFO, "stopped");
    /* Every engine is closed: what is left are generations no view holds. */
    while (d.gens) {
        struct gen *next = d.gens->next;
        gen_free(d.gens);
        d.gens = next;
    }
out_lock:
    uv_mutex_destroy(&d.lock);
out_cfg:
    if (d.cfg != d.boot)
        pw_config_free(d.cfg);
    pw_config_free(d.boot);
out_log:
    pw_log_close_file();
    return d.exit_code;
}
