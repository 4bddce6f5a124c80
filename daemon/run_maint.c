/*
 * The daemon's maintenance windows (issue 18): once a second, on the loop,
 * the windows open now and the next ones, from the configuration's
 * [maintenance] sections and the one-off windows `portwatch maintenance`
 * wrote to the database, matched against the current plan's targets into
 * the immutable struct pw_web_maint that every web view carries
 * (web/maintenance.h). A new one is published only when something changed,
 * so the cached status document stays valid between changes. Probing and
 * recording go on as always: a window changes how failures are reported,
 * never what is measured, so a target still down when its window closes is
 * failing at once with its real cause.
 */
#include "daemon/run_int.h"

#include "store/store_maint.h"
#include "web/maintenance.h"

#define MAINT_TICK_MS 1000

/* Windows being collected; src[k]: the section of window k, NULL for one
 * from the command line (for matching targets). */
struct windows {
    struct pw_web_window *v;
    const struct pw_maint **src;
    size_t n, cap;
};

static struct pw_web_window *add(struct windows *ws, const struct pw_maint *m)
{
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? 2 * ws->cap : 8;
        struct pw_web_window *nv = realloc(ws->v, cap * sizeof *nv);
        if (nv)
            ws->v = nv;
        const struct pw_maint **ns = nv ? realloc(ws->src, cap * sizeof *ns) : NULL;
        if (!ns)
            return NULL;
        ws->src = ns;
        ws->cap = cap;
    }
    ws->src[ws->n] = m;
    struct pw_web_window *w = &ws->v[ws->n++];
    memset(w, 0, sizeof *w);
    return w;
}

/* hosts and roles (with checks) of a configured window, as lists. */
static void config_lists(const struct pw_maint *m, char *hosts, size_t hlen, char *roles,
                         size_t rlen)
{
    size_t used = 0;
    hosts[0] = roles[0] = '\0';
    for (size_t k = 0; k < m->hosts.n && used < hlen; k++)
        used += (size_t)snprintf(hosts + used, hlen - used, "%s%s", k ? "," : "",
                                 m->hosts.names[k]);
    used = 0;
    for (size_t r = 0; pw_maint_role_names[r] && used < rlen; r++)
        if (m->roles & (1 << r))
            used += (size_t)snprintf(roles + used, rlen - used, "%s%s", used ? "," : "",
                                     pw_maint_role_names[r]);
    if (m->checks && *m->checks && used < rlen)
        snprintf(roles + used, rlen - used, "%s%s", used ? "," : "", m->checks);
}

static int fill(struct pw_web_window *w, const char *name, const char *reason, const char *hosts,
                const char *roles, int64_t start_ms, int64_t end_ms, bool cli)
{
    w->name = strdup(name);
    w->reason = strdup(reason ? reason : "");
    w->hosts = strdup(hosts);
    w->roles = strdup(roles);
    w->start_ms = start_ms;
    w->end_ms = end_ms;
    w->cli = cli;
    return w->name && w->reason && w->hosts && w->roles ? 0 : PW_ENOMEM;
}

/* The configuration's windows: open ones (with their section, for
 * matching) and the next occurrence of each. */
static int config_windows(const struct pw_config *c, int64_t now_ms, struct windows *act,
                          struct windows *up)
{
    for (size_t i = 0; i < c->nmaints; i++) {
        const struct pw_maint *m = &c->maints[i];
        char hosts[1024], roles[1024];
        config_lists(m, hosts, sizeof hosts, roles, sizeof roles);
        int64_t st, en, after = now_ms / 1000;
        if (pw_schedule_next(&m->sched, pw_maint_zone(m), after, &st, &en) != 0)
            continue;
        if (st * 1000 <= now_ms) {
            struct pw_web_window *w = add(act, m);
            if (!w || fill(w, m->name, m->reason, hosts, roles, st * 1000, en * 1000, false))
                return PW_ENOMEM;
            if (pw_schedule_next(&m->sched, pw_maint_zone(m), en, &st, &en) != 0)
                continue;
        }
        struct pw_web_window *w = add(up, m);
        if (!w || fill(w, m->name, m->reason, hosts, roles, st * 1000, en * 1000, false))
            return PW_ENOMEM;
    }
    return 0;
}

static int cli_windows(struct pw_store *st, int64_t now_ms, struct windows *act,
                       struct windows *up)
{
    struct pw_store_maint *w;
    size_t n;
    if (!st || pw_store_maint_open_windows(st, now_ms, &w, &n) != 0)
        return 0; /* a database being written cannot stop the daemon */
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct pw_web_window *ww = add(w[i].start_ms <= now_ms ? act : up, NULL);
        rc = ww ? fill(ww, w[i].name, w[i].reason, w[i].hosts, w[i].roles, w[i].start_ms,
                       w[i].end_ms, true)
                : PW_ENOMEM;
    }
    pw_store_maint_free(w, n);
    return rc;
}

/* Whether open window w (from section m, or the command line when NULL)
 * covers target i of the plan. */
static bool covers(const struct pw_web_window *w, const struct pw_maint *m,
                   const struct pw_plan *p, size_t i)
{
    const struct pw_target *t = &p->targets[i];
    const struct pw_profile *pf = pw_target_profile(p, t);
    const char *host = p->hosts[t->host].name;
    if (m)
        return pw_maint_covers(m, host, t->port, pf->roles, pf->nroles);
    if (*w->hosts && !pw_name_in_list(w->hosts, host))
        return false;
    if (!*w->roles)
        return true;
    for (size_t k = 0; k < pf->nroles; k++)
        if (pw_name_in_list(w->roles, pf->roles[k]))
            return true;
    return false;
}

static bool same_windows(const struct pw_web_window *a, size_t na, const struct pw_web_window *b,
                         size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) != 0 || a[i].start_ms != b[i].start_ms ||
            a[i].end_ms != b[i].end_ms || strcmp(a[i].reason, b[i].reason) != 0 ||
            strcmp(a[i].hosts, b[i].hosts) != 0 || strcmp(a[i].roles, b[i].roles) != 0)
            return false;
    return true;
}

static bool same_map(const struct pw_web_maint *a, const struct pw_web_maint *b)
{
    return a && b && a->plan == b->plan && a->ntargets == b->ntargets &&
           same_windows(a->active, a->nactive, b->active, b->nactive) &&
           same_windows(a->upcoming, a->nupcoming, b->upcoming, b->nupcoming) &&
           (!a->ntargets ||
            memcmp(a->of_target, b->of_target, a->ntargets * sizeof *a->of_target) == 0);
}

/* The windows now, matched against plan. NULL when out of memory. */
static struct pw_web_maint *build(struct daemon *d, const struct pw_plan *plan, int64_t now_ms)
{
    struct pw_web_maint *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    struct windows act = {0}, up = {0};
    int rc = config_windows(d->cfg, now_ms, &act, &up);
    if (!rc)
        rc = cli_windows(d->store, now_ms, &act, &up);
    free(up.src);
    m->active = act.v, m->nactive = act.n; /* m owns them from here */
    m->upcoming = up.v, m->nupcoming = up.n;
    m->plan = plan;
    m->ntargets = plan->ntargets;
    m->of_target = malloc((plan->ntargets ? plan->ntargets : 1) * sizeof *m->of_target);
    if (rc || !m->of_target) {
        free(act.src);
        pw_web_maint_free(m);
        return NULL;
    }
    for (size_t i = 0; i < plan->ntargets; i++) {
        m->of_target[i] = -1;
        for (size_t k = 0; k < act.n && m->of_target[i] < 0; k++)
            if (covers(&act.v[k], act.src[k], plan, i))
                m->of_target[i] = (int32_t)k;
    }
    free(act.src);
    m->refs = 1; /* current */
    return m;
}

static bool has_window(const struct pw_web_maint *m, const struct pw_web_window *w)
{
    for (size_t i = 0; m && i < m->nactive; i++)
        if (strcmp(m->active[i].name, w->name) == 0 && m->active[i].start_ms == w->start_ms)
            return true;
    return false;
}

/* Planned time to record: a window's covered targets (store ids), written
 * on libuv's thread pool so the loop never waits for the disk. */
struct record {
    uv_work_t req;
    char *path, *window;
    int64_t start_ms, end_ms;
    uint32_t *ids;
    size_t n;
    int rc;
    char err[PW_STORE_MSG_MAX];
};

static void record_work(uv_work_t *req)
{
    struct record *r = req->data;
    r->rc = pw_store_maint_record(r->path, r->window, r->start_ms, r->end_ms, r->ids, r->n,
                                  r->err);
}

static void record_done(uv_work_t *req, int status)
{
    struct record *r = req->data;
    if (status == 0 && r->rc != 0)
        pw_log(PW_LOG_WARN, "maintenance window %s: its planned time is not recorded (outages "
               "in it will not read as planned): %s", r->window, r->err);
    free(r->path);
    free(r->window);
    free(r->ids);
    free(r);
}

/* Records window i of m over its targets: ids maps plan index to store id. */
static void record_planned(struct daemon *d, const struct pw_web_maint *m, size_t i,
                           const uint32_t *ids)
{
    struct record *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->req.data = r;
    r->path = strdup(d->boot->s.database);
    r->window = strdup(m->active[i].name);
    r->ids = malloc((m->ntargets ? m->ntargets : 1) * sizeof *r->ids);
    r->start_ms = m->active[i].start_ms;
    r->end_ms = m->active[i].end_ms;
    for (size_t k = 0; r->ids && k < m->ntargets; k++)
        if (m->of_target[k] == (int32_t)i)
            r->ids[r->n++] = ids[k];
    if (!r->path || !r->window || !r->ids || !r->n ||
        uv_queue_work(&d->loop, &r->req, record_work, record_done) != 0)
        record_done(&r->req, -1);
}

/* Says in the log which windows opened and closed between old and now,
 * and records the planned time of those that opened. */
static void log_changes(struct daemon *d, const struct pw_web_maint *old,
                        const struct pw_web_maint *now)
{
    for (size_t i = 0; i < now->nactive; i++) {
        const struct pw_web_window *w = &now->active[i];
        if (has_window(old, w))
            continue;
        record_planned(d, now, i, d->cur->ids);
        size_t n = 0;
        for (size_t k = 0; k < now->ntargets; k++)
            n += now->of_target[k] == (int32_t)i;
        char until[32];
        pw_format_rfc3339(w->end_ms, until, sizeof until);
        pw_log_event(PW_LOG_INFO, "maintenance window %s opened until %s over %zu target%s: %s",
                     w->name, until, n, n == 1 ? "" : "s", w->reason);
    }
    for (size_t i = 0; old && i < old->nactive; i++)
        if (!has_window(now, &old->active[i]))
            pw_log_event(PW_LOG_INFO, "maintenance window %s closed; its targets' failures count "
                         "again", old->active[i].name);
}

static void unref_locked(struct pw_web_maint *m, struct pw_web_maint **dead)
{
    if (m && --m->refs == 0)
        *dead = m;
}

static void on_maint_tick(uv_timer_t *t)
{
    struct daemon *d = t->data;
    if (d->stopping || !d->cur)
        return;
    struct pw_web_maint *m = build(d, d->cur->plan, pw_wall_ms());
    if (!m)
        return; /* out of memory: keep the windows we have */
    if (same_map(m, d->maint)) {
        pw_web_maint_free(m);
        return;
    }
    log_changes(d, d->maint, m);
    struct pw_web_maint *dead = NULL;
    uv_mutex_lock(&d->lock);
    unref_locked(d->maint, &dead);
    d->maint = m;
    uv_mutex_unlock(&d->lock);
    pw_web_maint_free(dead);
}

void run_maint_start(struct daemon *d)
{
    uv_timer_init(&d->loop, &d->maint_timer);
    d->maint_timer.data = d;
    on_maint_tick(&d->maint_timer); /* the windows open at start, before any request */
    uv_timer_start(&d->maint_timer, on_maint_tick, MAINT_TICK_MS, MAINT_TICK_MS);
}

void run_maint_close(struct daemon *d)
{
    uv_close((uv_handle_t *)&d->maint_timer, NULL);
}

void run_maint_attach_locked(struct daemon *d, struct pw_web_view *v)
{
    v->maint = d->maint;
    if (d->maint)
        d->maint->refs++;
}

void run_maint_detach(struct daemon *d, struct pw_web_view *v)
{
    struct pw_web_maint *dead = NULL;
    uv_mutex_lock(&d->lock);
    unref_locked((struct pw_web_maint *)v->maint, &dead);
    uv_mutex_unlock(&d->lock);
    v->maint = NULL;
    pw_web_maint_free(dead);
}

void run_maint_free(struct daemon *d)
{
    struct pw_web_maint *dead = NULL;
    unref_locked(d->maint, &dead);
    d->maint = NULL;
    pw_web_maint_free(dead);
}
