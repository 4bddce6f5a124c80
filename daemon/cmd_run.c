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
 * were started with (listen, database, token, TLS, limits, retention)
 * need a restart; a reload that changes them says so.
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
#include "daemon/transitions.h"
#include "daemon/os.h"

#include "config/error.h"
#include "probes/probe.h"
#include "store/store.h"
#include "web/web.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_MS 15000
#define STATUS_MS 10000
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
    struct pw_transitions trans; /* status changes to the log */
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
    gen_unref(g->d, g);
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
    pw_store_heartbeat(d->store, 0);
}

/* The farm summary for the service manager (systemctl status). */
static void summary(struct daemon *d, char *buf, size_t len)
{
    struct pw_snapshot *s = pw_engine_snapshot_acquire(d->cur->engine);
    size_t n[3] = {0};
    for (size_t i = 0; i < s->ntargets; i++)
        if ((unsigned)s->targets[i].status < 3)
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

static void engine_options(const struct pw_config *c, struct pw_engine_options *o)
{
    memset(o, 0, sizeof *o);
    o->interval_ms = c->s.interval_ms;
    o->timeout_ms = c->s.timeout_ms;
    o->max_in_flight = (uint32_t)c->s.max_in_flight;
    o->max_per_host = (uint32_t)c->s.max_per_host;
    o->fail_after = (uint32_t)c->s.fail_after;
    o->recover_after = (uint32_t)c->s.recover_after;
    o->family = (enum pw_family)c->s.family;
    o->spread = true;
    o->dialer = pw_os_dialer();
}

/* A new engine for g's plan, with its batches tagged with g. */
static int gen_engine(struct daemon *d, struct gen *g, const struct pw_config *c)
{
    struct pw_engine_options opt;
    engine_options(c, &opt);
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
    struct pw_store_options so = {
        .keep_raw_ms = d->boot->s.keep_raw_ms,
        .keep_hourly_ms = d->boot->s.keep_hourly_ms,
        .keep_events_ms = d->boot->s.keep_events_ms,
        .log = store_log,
    };
    char err[PW_STORE_MSG_MAX];
    int rc = pw_store_open(d->boot->s.database, &so, &d->store, err);
    if (rc != 0)
        pw_log(PW_LOG_ERROR, "cannot open the database: %s", err);
    return rc;
}

static int start_web(struct daemon *d)
{
    const struct pw_settings *s = &d->boot->s;
    struct pw_web_options wo = {
        .listen = s->listen,
        .api_token = s->api_token,
        .allow_anonymous = s->allow_anonymous != 0,
        .tls_cert_file = s->tls_certificate,
        .tls_key_file = s->tls_key,
        .max_connections = (unsigned)s->http_max_connections,
        .max_per_ip = (unsigned)s->http_max_per_ip,
        .timeout_s = (unsigned)(s->http_timeout_ms / 1000),
        .log = pw_log_cb,
    };
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

/* Settings the running HTTP server and store hold: a reload that changes
 * them is applied otherwise, and says these wait for a restart. Values are
 * not printed (api_token is a secret). */
enum kind { K_STR, K_INT, K_LL, K_I64 };
static const struct {
    const char *key;
    size_t off;
    enum kind kind;
} restart_keys[] = {
    {"listen", offsetof(struct pw_settings, listen), K_STR},
    {"database", offsetof(struct pw_settings, database), K_STR},
    {"api_token", offsetof(struct pw_settings, api_token), K_STR},
    {"allow_anonymous", offsetof(struct pw_settings, allow_anonymous), K_INT},
    {"tls_certificate", offsetof(struct pw_settings, tls_certificate), K_STR},
    {"tls_key", offsetof(struct pw_settings, tls_key), K_STR},
    {"http_max_connections", offsetof(struct pw_settings, http_max_connections), K_LL},
    {"http_max_per_ip", offsetof(struct pw_settings, http_max_per_ip), K_LL},
    {"http_timeout", offsetof(struct pw_settings, http_timeout_ms), K_I64},
    {"keep_detail", offsetof(struct pw_settings, keep_raw_ms), K_I64},
    {"keep_hourly", offsetof(struct pw_settings, keep_hourly_ms), K_I64},
    {"keep_events", offsetof(struct pw_settings, keep_events_ms), K_I64},
};

static int setting_differs(const struct pw_settings *a, const struct pw_settings *b, size_t i)
{
    const char *pa = (const char *)a + restart_keys[i].off;
    const char *pb = (const char *)b + restart_keys[i].off;
    switch (restart_keys[i].kind) {
    case K_STR: {
        const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;
        return strcmp(sa ? sa : "", sb ? sb : "") != 0;
    }
    case K_INT:
        return *(const int *)(const void *)pa != *(const int *)(const void *)pb;
    case K_LL:
        return *(const long long *)(const void *)pa != *(const long long *)(const void *)pb;
    case K_I64:
        return *(const int64_t *)(const void *)pa != *(const int64_t *)(const void *)pb;
    }
    return 0;
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
    for (size_t i = 0; i < sizeof restart_keys / sizeof restart_keys[0]; i++)
        if (setting_differs(&d->boot->s, &cfg->s, i))
            pw_log(PW_LOG_WARN, "reload: %s changed; it takes effect only after a restart "
                                "(the running value stays)", restart_keys[i].key);
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
    pw_engine_close(prev->engine, on_engine_closed, prev);
    struct pw_snapshot *last = pw_engine_snapshot_acquire(prev->engine);
    uint64_t t_seed = uv_hrtime();
    seed(d, g, last, match);
    t_seed = uv_hrtime() - t_seed;
    pw_snapshot_release(last);
    free(match);

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

    rc = pw_engine_start(g->engine);
    if (rc != 0) {
        pw_log_event(PW_LOG_ERROR, "cannot start probing after the reload: %s", uv_strerror(rc));
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

static void on_control(void *ud, enum pw_os_control c, const char *why)
{
    struct daemon *d = ud;
    if (d->stopping)
        return;
    if (c == PW_OS_STOP)
        stop(d, why);
    else
        reload(d, why);
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
    unsigned long fds = pw_os_raise_fd_limit();
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
