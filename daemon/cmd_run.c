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
 * there join the plan as a check per host ("rpc-registered"), an input of
 * plan building next to the configuration (pw_plan_build_with).
 * When a host's registered ports change, the plan is rebuilt from the
 * current configuration (not re-read from disk) and swapped in exactly as
 * a reload does, so unchanged targets keep their state. The watch keeps its
 * reads in the store and starts from the stored ones, so the first plan
 * already probes the ports registered at the last read.
 */
#include "daemon/run_int.h"

#include "base/clock.h"

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

/* ---- generations ----------------------------------------------------------- */

struct gen *run_gen_new(struct daemon *d, struct pw_plan *plan)
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

void run_gen_free(struct gen *g)
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
struct gen *run_gen_unref_locked(struct daemon *d, struct gen *g)
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
    struct gen *dead = run_gen_unref_locked(d, g);
    uv_mutex_unlock(&d->lock);
    run_gen_free(dead);
}

/* ---- callbacks from the engine, the web layer and timers -------------------- */

/* Results of the current generation go to the store as they are; late
 * results of a replaced one (remap set: flushed when its engine closes,
 * after the store already maps the new plan, and before the new generation
 * becomes current) are renumbered into the new plan, and dropped for
 * targets the new plan no longer has. */
void run_on_batch(void *ud, const struct pw_result *r, size_t n)
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

void run_on_engine_closed(struct pw_engine *e, void *ud)
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
    run_maint_attach_locked(d, v);
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
            dead = run_gen_unref_locked(d, g);
            break;
        }
    uv_mutex_unlock(&d->lock);
    run_maint_detach(d, v);
    pw_snapshot_release(v->snap);
    v->snap = NULL;
    run_gen_free(dead);
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

/* The process's CPU time (user + system) in microseconds; -1 unknown. */
static int64_t cpu_us(void)
{
    uv_rusage_t ru;
    if (uv_getrusage(&ru) != 0)
        return -1;
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* Why the loop did not beat for wall_ms of wall-clock time, in which the
 * monotonic clock moved mono_ms (it stands still while the machine
 * sleeps, on Linux) and the process used cpu_ms of CPU (-1: unknown): a
 * loop that was busy used the CPU; one that was stopped, or got none, did
 * not. */
static enum pw_store_run_end gap_cause(int64_t wall_ms, int64_t mono_ms, int64_t cpu_ms)
{
    if (wall_ms - mono_ms > GAP_MS)
        return PW_RUN_SUSPENDED;
    if (cpu_ms >= 0 && cpu_ms * 2 >= mono_ms)
        return PW_RUN_OVERLOADED;
    return PW_RUN_PAUSED;
}

static void on_heartbeat(uv_timer_t *t)
{
    struct daemon *d = t->data;
    int64_t now = pw_wall_ms(), cpu = cpu_us();
    uint64_t mono = uv_hrtime();
    if (d->beat_ms && now - d->beat_ms > GAP_MS) {
        enum pw_store_run_end cause =
            gap_cause(now - d->beat_ms, (int64_t)((mono - d->beat_mono_ns) / 1000000),
                      cpu < 0 || d->beat_cpu_us < 0 ? -1 : (cpu - d->beat_cpu_us) / 1000);
        char why[200];
        pw_store_gap(d->store, d->beat_ms, now, cause);
        snprintf(why, sizeof why, "%s: %s", pw_store_run_end_name(cause),
                 pw_store_run_end_text(cause));
        pw_transitions_log_gap_line(d->beat_ms, now, why);
    }
    d->beat_ms = now;
    d->beat_mono_ns = mono;
    d->beat_cpu_us = cpu;
    pw_store_heartbeat(d->store, now);
}

/* The farm summary for the service manager (systemctl status). */
void run_summary(struct daemon *d, char *buf, size_t len)
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
    run_summary(d, line, sizeof line);
    pw_os_notify(PW_OS_STATUS, line);
    /* What the HTTP and store threads freed (health documents, a store
     * burst) goes back to the system rather than stay in their heaps:
     * 20 MB of 150 at 100,000 targets. */
    pw_os_memory_release();
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    pw_os_watchdog();
}

/* ---- stop ------------------------------------------------------------------- */

void run_stop(struct daemon *d, const char *why)
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
    run_maint_close(d);
    if (d->have_watchdog)
        uv_close((uv_handle_t *)&d->watchdog, NULL);
    /* The web threads read snapshots from the engine: stop them first. */
    pw_web_stop(d->web);
    d->web = NULL;
    pw_epm_watch_close(d->watch, NULL, NULL);
    d->watch = NULL;
    uv_mutex_lock(&d->lock);
    struct pw_engine *e = d->cur->engine;
    d->cur->engine = NULL;
    uv_mutex_unlock(&d->lock);
    pw_engine_close(e, run_on_engine_closed, d->cur);
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
int run_gen_engine(struct daemon *d, struct gen *g, const struct pw_config *c)
{
    struct pw_engine_options opt = engine_options(d, c);
    g->engine = pw_engine_new(&d->loop, g->plan, &opt);
    if (!g->engine)
        return PW_ENOMEM;
    pw_engine_set_log(g->engine, pw_log_cb, NULL);
    pw_engine_set_batch_cb(g->engine, run_on_batch, g);
    g->refs++; /* the engine's, dropped by on_engine_closed */
    return 0;
}

/* Seeds g's engine with what the store remembers of each target, then,
 * where `prev` (the replaced generation's last snapshot, with match[i] the
 * index of g's target i in it) knows the target, with that: it is newer.
 * The counters go on from prev's. */
void run_seed(struct daemon *d, struct gen *g, const struct pw_snapshot *prev,
              const uint32_t *match)
{
    size_t n = g->plan->ntargets;
    struct pw_target_state *st = calloc(n ? n : 1, sizeof *st);
    /* Kept targets come from prev: only the others are looked up. */
    bool *skip = prev && match ? calloc(n ? n : 1, sizeof *skip) : NULL;
    for (size_t i = 0; skip && i < n; i++)
        skip[i] = match[i] != NONE;
    if (st && pw_store_load_states(d->store, g->plan, st, skip) != 0)
        memset(st, 0, n * sizeof *st);
    free(skip);
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

static void store_log(void *ud, int lvl, const char *msg)
{
    (void)ud;
    /* The store's errors all mean history is not being written. */
    if (lvl == PW_LOG_ERROR)
        pw_log_event_id(PW_EVENT_STORAGE_DEGRADED, PW_LOG_ERROR, "store: %s", msg);
    else
        pw_log(lvl == PW_LOG_WARN ? PW_LOG_WARN : PW_LOG_INFO, "store: %s", msg);
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
    pw_epm_watch_close(d->watch, NULL, NULL);
    d->watch = NULL;
    if (d->cur && d->cur->engine) {
        pw_engine_close(d->cur->engine, run_on_engine_closed, d->cur);
        d->cur->engine = NULL;
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

/* The configuration's plan, or NULL with its problems said (to the log
 * when there is a log file, else to stderr). */
static struct pw_plan *first_plan(const struct pw_config *cfg, bool to_log)
{
    struct pw_diag diag = {0};
    struct pw_plan *plan = NULL;
    if (pw_plan_build(cfg, &plan, &diag) != 0) {
        if (to_log)
            for (size_t i = 0; i < diag.n; i++)
                pw_log(PW_LOG_ERROR, "%s", diag.msgs[i]);
        else
            pw_diag_print(&diag, stderr);
        pw_diag_free(&diag);
        return NULL;
    }
    run_log_warnings(plan, "");
    return plan;
}

/* The endpoint watch, the first generation (its targets recorded, its
 * engine made and seeded) and the web layer, on an initialized loop with
 * the store open. Takes plan. Returns 0, or -1 with everything started
 * closed again (abort_start) and said. */
static int start_first_generation(struct daemon *d, struct pw_plan *plan)
{
    /* The watch before the first plan: seeded from the store, it adds the
     * ports the mappers registered at their last read. */
    struct pw_epm_watch_options wo = {
        .store = d->store, .changed = run_on_epm_changed, .ud = d, .log = pw_log_cb,
    };
    d->watch = pw_epm_watch_new(&d->loop, &wo);
    if (d->watch) {
        pw_epm_watch_configure(d->watch, d->cfg, plan);
        plan = run_add_registered(d, d->cfg, plan);
    } else {
        pw_log(PW_LOG_WARN, "out of memory: the RPC endpoint mappers are not watched");
    }
    struct gen *g = run_gen_new(d, plan);
    if (!g) {
        pw_plan_free(plan);
        abort_start(d);
        return -1;
    }
    g->refs = 1; /* current */
    d->cur = d->gens = g;
    int rc = pw_store_sync_targets(d->store, plan, g->ids);
    if (rc != 0) {
        pw_log(PW_LOG_ERROR, "cannot record the targets in %s: %s", d->cfg->s.database,
               pw_strerror(rc));
        abort_start(d);
        return -1;
    }
    if (run_gen_engine(d, g, d->cfg) != 0) {
        abort_start(d);
        return -1;
    }
    run_seed(d, g, NULL, NULL);
    if (start_web(d) != 0) {
        abort_start(d);
        return -1;
    }
    return 0;
}

/* The heartbeat, status, reload and (under systemd) watchdog timers and
 * the transitions' timer. Returns the watchdog interval, 0 without one. */
static uint64_t start_timers(struct daemon *d)
{
    uv_timer_init(&d->loop, &d->heartbeat);
    uv_timer_init(&d->loop, &d->status);
    pw_transitions_init(&d->trans, &d->loop);
    uv_timer_init(&d->loop, &d->reload_timer);
    d->reload_timer.data = d;
    d->heartbeat.data = d->status.data = d->watchdog.data = d;
    uv_timer_start(&d->heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
    uv_timer_start(&d->status, on_status, STATUS_MS, STATUS_MS);
    run_maint_start(d);
    uint64_t wd = pw_os_watchdog_interval_ms();
    if (wd) {
        uv_timer_init(&d->loop, &d->watchdog);
        uv_timer_start(&d->watchdog, on_watchdog, wd, wd);
        d->have_watchdog = 1;
        pw_os_watchdog();
    }
    return wd;
}

/* The start event and the service manager's ready notice. */
static void say_started(struct daemon *d, const struct pw_plan *plan, unsigned long fds,
                        uint64_t wd)
{
    char iv[32], to[32], line[256];
    pw_format_duration(d->cfg->s.interval_ms, iv, sizeof iv);
    pw_format_duration(d->cfg->s.timeout_ms, to, sizeof to);
    pw_log_event_id(PW_EVENT_START, PW_LOG_INFO, "started: watching %zu target%s on %zu host%s every %s "
                    "(timeout %s); history in %s", plan->ntargets, plan->ntargets == 1 ? "" : "s",
                    plan->nhosts, plan->nhosts == 1 ? "" : "s", iv, to, d->cfg->s.database);
    pw_transitions_log_gap(d->store, pw_wall_ms());
    if (fds)
        pw_log(PW_LOG_DEBUG, "open-file limit %lu", fds);
    if (wd)
        pw_log(PW_LOG_DEBUG, "systemd watchdog: a ping every %llu ms", (unsigned long long)wd);
    run_summary(d, line, sizeof line);
    pw_os_notify(PW_OS_READY, line);
}

/* Runs the daemon on its initialized loop and lock with the plan of
 * d->cfg (taken) until it stops; the web layer and the store are closed on
 * return, the loop too. */
static void run_loop(struct daemon *d, struct pw_plan *plan, unsigned long fds)
{
    if (preflight(d) != 0 || open_store(d) != 0) {
        pw_plan_free(plan);
    } else if (start_first_generation(d, plan) == 0) {
        plan = d->cur->plan;
        uint64_t wd = start_timers(d);
        int rc = pw_os_control_start(&d->loop, run_on_control, d);
        if (rc == 0)
            rc = pw_engine_start(d->cur->engine);
        if (rc == 0 && d->watch)
            pw_epm_watch_configure(d->watch, d->cfg, plan);
        if (rc != 0) {
            pw_log_event(PW_LOG_ERROR, "cannot start: %s", uv_strerror(rc));
            run_stop(d, "start-up failed");
        } else {
            say_started(d, plan, fds, wd);
            d->exit_code = PW_EXIT_OK;
        }
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    pw_web_stop(d->web);
    run_maint_free(d);
    pw_store_close(d->store); /* writes everything queued */
    if (uv_loop_close(&d->loop) != 0)
        pw_log(PW_LOG_WARN, "event loop closed with handles still open");
    if (d->exit_code == PW_EXIT_OK)
        pw_log_event_id(PW_EVENT_STOP, PW_LOG_INFO, "stopped");
    /* Every engine is closed: what is left are generations no view holds. */
    while (d->gens) {
        struct gen *next = d->gens->next;
        run_gen_free(d->gens);
        d->gens = next;
    }
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
        pw_log_close_file();
        return d.exit_code;
    }
    pw_log_init(d.cfg->s.log_level);
    struct pw_plan *plan = first_plan(d.cfg, log_file != NULL);
    if (plan) {
        pw_os_memory_init();
        unsigned long fds = pw_os_raise_fd_limit();
        d.fd_limit = fds > UINT32_MAX ? UINT32_MAX : (uint32_t)fds;
        if (uv_mutex_init(&d.lock) != 0) {
            pw_plan_free(plan);
        } else {
            if (uv_loop_init(&d.loop) != 0)
                pw_plan_free(plan);
            else
                run_loop(&d, plan, fds);
            uv_mutex_destroy(&d.lock);
        }
    }
    if (d.cfg != d.boot)
        pw_config_free(d.cfg);
    pw_config_free(d.boot);
    pw_log_close_file();
    return d.exit_code;
}
