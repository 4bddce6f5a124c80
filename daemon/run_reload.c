/*
 * `portwatch run`'s reload path: the configuration read again (or, when
 * the endpoint watch saw registered ports change, the running one) into a
 * new plan, matched to the running targets and swapped in as a new
 * generation; reloads are coalesced, and stop and reload requests arrive
 * here from daemon/os.h. The design is in cmd_run.c's opening comment.
 */
#include "daemon/run_int.h"

/* Reloads come at most this often; requests in between are coalesced. */
#define RELOAD_GAP_MS 1000

/* ---- reload ------------------------------------------------------------------- */

/* base (cfg's plan) plus, for hosts it probes on 135, the TCP ports their
 * endpoint mappers registered: the watch's input to a second plan build.
 * Takes base; returns the plan to use: base itself when there is nothing
 * to add or adding fails. */
struct pw_plan *run_add_registered(struct daemon *d, const struct pw_config *cfg,
                                   struct pw_plan *base)
{
    if (!d->watch)
        return base;
    struct pw_plan_registered *reg = NULL;
    size_t n = 0;
    int rc = pw_epm_watch_registered(d->watch, base, &reg, &n);
    if (rc != 0 || n == 0) {
        if (rc != 0)
            pw_log(PW_LOG_WARN, "cannot add the ports registered with endpoint mappers: %s",
                   pw_strerror(rc));
        free(reg);
        return base;
    }
    struct pw_plan *full = NULL;
    struct pw_diag more = {0};
    rc = pw_plan_build_with(cfg, reg, n, &full, &more);
    free(reg);
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

/* The plan for cfg with the registered ports (run_add_registered). Returns
 * pw_plan_build's code; msgs holds the configuration's problems. */
static int build_plan(struct daemon *d, struct pw_config *cfg, struct pw_plan **out,
                      struct pw_diag *msgs)
{
    struct pw_plan *base = NULL;
    int rc = pw_plan_build(cfg, &base, msgs);
    *out = rc == 0 ? run_add_registered(d, cfg, base) : base;
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
    run_summary(d, line, sizeof line);
    pw_os_notify(PW_OS_READY, line);
}

static void swap_plan(struct daemon *d, struct pw_config *cfg, struct pw_plan *plan,
                      uint64_t t0, const char *what);

/* What config-check warns about (a sweep the rate cap stretches) goes to
 * the log at start and at each reload. */
void run_log_warnings(const struct pw_plan *plan, const char *prefix)
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
    run_log_warnings(plan, "reload: ");
    warn_restart_keys(d->boot, cfg);
    swap_plan(d, cfg, plan, t0, "configuration reloaded");
}

/* The endpoint watch saw a host's registered TCP ports change: the plan is
 * rebuilt from the running configuration and swapped in. */
void run_on_epm_changed(void *ud)
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

/* Hands the targets over from prev to g, whose engine is made and whose
 * targets are matched (match, taken): prev's engine closes, g's is seeded
 * from its last snapshot and started, and g becomes current. Returns
 * pw_engine_start's code; *t_seed is the seeding's time. */
static int hand_over(struct daemon *d, struct gen *prev, struct gen *g, uint32_t *match,
                     uint64_t *t_seed)
{
    /* Close the old engine first: its last results are flushed now (and
     * renumbered by run_on_batch), and its final snapshot is the state the new
     * engine continues from. The engine is freed only by its close
     * callbacks, on a later loop turn, so the snapshot can still be taken
     * and web threads may still be reading it until the swap below. */
    pw_engine_follow(g->engine, prev->engine); /* keep the sweeps' pace; or start afresh */
    uv_mutex_lock(&d->lock);
    prev->closing = true;
    uv_mutex_unlock(&d->lock);
    pw_engine_close(prev->engine, run_on_engine_closed, prev);
    struct pw_snapshot *last = pw_engine_snapshot_acquire(prev->engine);
    *t_seed = uv_hrtime();
    run_seed(d, g, last, match);
    *t_seed = uv_hrtime() - *t_seed;
    pw_snapshot_release(last);
    free(match);
    /* Started (which publishes its seeded snapshot) before the web layer
     * can see it: else a request in between reads the new plan with every
     * kept target unknown. Its first results come on a later loop turn,
     * when it is current. */
    int start_rc = pw_engine_start(g->engine);

    struct gen *dead;
    uv_mutex_lock(&d->lock);
    g->refs++; /* current */
    g->next = d->gens;
    d->gens = g;
    d->cur = g;
    prev->engine = NULL;
    dead = run_gen_unref_locked(d, prev); /* no longer current */
    uv_mutex_unlock(&d->lock);
    run_gen_free(dead);
    return start_rc;
}

/* Makes plan (built from cfg) current: maps it to store ids, starts its
 * engine seeded from the running one, retires the old generation. Takes
 * plan and, unless it is already d->cfg, cfg; on failure both are freed
 * and the running generation stays. */
static void swap_plan(struct daemon *d, struct pw_config *cfg, struct pw_plan *plan,
                      uint64_t t0, const char *what)
{
    struct gen *prev = d->cur, *g = run_gen_new(d, plan);
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
    if (rc == 0 && (rc = run_gen_engine(d, g, cfg)) != 0) {
        free(prev->remap);
        prev->remap = NULL;
        pw_store_sync_targets(d->store, prev->plan, prev->ids);
    }
    if (rc != 0) {
        pw_log_event_id(PW_EVENT_RELOAD_REJECTED, PW_LOG_ERROR,
                        "reload failed: %s; still running the previous configuration", pw_strerror(rc));
        if (g)
            run_gen_free(g); /* and its plan */
        else
            pw_plan_free(plan);
        free(match);
        if (cfg != d->cfg)
            pw_config_free(cfg);
        reload_done(d);
        return;
    }

    uint64_t t_seed;
    size_t prev_n = prev->plan->ntargets;
    int start_rc = hand_over(d, prev, g, match, &t_seed);

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
        run_stop(d, "reload failed");
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

void run_on_control(void *ud, enum pw_os_control c, const char *why)
{
    struct daemon *d = ud;
    if (d->stopping)
        return;
    if (c == PW_OS_STOP)
        run_stop(d, why);
    else
        request_reload(d, why);
}
