/*
 * The endpoint watch of `portwatch run` (see daemon/epm_watch.h), shaped
 * like the probe engine: it owns its handles (a timer, a name lookup, the
 * read in flight), publishes what it knows as immutable snapshots
 * (epm_watch_hosts.c) and reports through callbacks (a changed set of
 * registered ports; log lines through a sink). This file: its life, the
 * round that reads the endpoint mappers of the hosts probed on 135
 * strictly one host at a time, so a farm of mappers never sees a burst,
 * its configuration from a plan, and the registered ports as an input of
 * plan building. Everything but acquire/release runs on the loop thread.
 */
#include "daemon/epm_watch_int.h"

#include "base/text.h"
#include "config/values.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MIN_DUMP_TIMEOUT_MS 1000

void ew_log(struct pw_epm_watch *w, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(w->log, w->log_ud, NULL, level, fmt, ap); /* lines name the watch */
    va_end(ap);
}

/* ---- the round -------------------------------------------------------------------- */

static void maybe_free(struct pw_epm_watch *w);
static void advance(struct pw_epm_watch *w);

static void read_done(struct pw_epm_watch *w)
{
    free(w->reading);
    w->reading = NULL;
    if (w->closing) {
        maybe_free(w);
        return;
    }
    ew_publish(w);
    advance(w);
}

static void on_dump(void *ud, struct pw_epm_result *r)
{
    struct pw_epm_watch *w = ud;
    w->dump = NULL;
    if (!w->closing)
        ew_merge(w, w->reading, r);
    pw_epm_result_free(r);
    read_done(w);
}

static void read_failed(struct pw_epm_watch *w, int err)
{
    if (!w->closing)
        ew_read_failed(w, w->reading, err);
    read_done(w);
}

/* The address to read: the family setting's choice among the answers. */
static const struct addrinfo *pick(const struct addrinfo *res, int family)
{
    int want = family == PW_FAMILY_PREFER_IPV4 ? AF_INET
             : family == PW_FAMILY_PREFER_IPV6 ? AF_INET6 : 0;
    for (const struct addrinfo *a = res; want && a; a = a->ai_next)
        if (a->ai_family == want)
            return a;
    return res;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct pw_epm_watch *w = req->data;
    w->resolving = false;
    const struct addrinfo *a = status == 0 && res ? pick(res, w->family) : NULL;
    if (w->closing || !a) {
        uv_freeaddrinfo(res);
        read_failed(w, status ? status : UV_EAI_NONAME);
        return;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, a->ai_addr, a->ai_addrlen);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(EPM_PORT);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons(EPM_PORT);
    uv_freeaddrinfo(res);
    int err = pw_epm_dump_start(w->loop, (struct sockaddr *)&ss, w->timeout_ms, on_dump, w,
                                &w->dump);
    if (err)
        read_failed(w, err);
}

/* Starts the read of the round's next host, or ends the round (telling the
 * daemon when some host's registered ports changed). */
static void advance(struct pw_epm_watch *w)
{
    if (w->next >= w->nhosts) {
        w->busy = false;
        if (w->changed) {
            w->changed = false;
            w->changed_cb(w->ud);
        }
        return;
    }
    const char *name = w->hosts[w->next++].name;
    w->reading = strdup(name);
    if (!w->reading) {
        advance(w);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = w->family == PW_FAMILY_IPV4 ? AF_INET : w->family == PW_FAMILY_IPV6 ? AF_INET6 : AF_UNSPEC;
    w->gai.data = w;
    w->resolving = true;
    int err = uv_getaddrinfo(w->loop, &w->gai, on_resolved, name, NULL, &hints);
    if (err) {
        w->resolving = false;
        read_failed(w, err);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct pw_epm_watch *w = t->data;
    if (w->busy || w->closing) {
        if (w->busy)
            ew_log(w, PW_LOG_DEBUG, "endpoint watch: the previous round is still reading");
        return;
    }
    w->busy = true;
    w->next = 0;
    advance(w);
}

/* ---- life ------------------------------------------------------------------------- */

struct pw_epm_watch *pw_epm_watch_new(uv_loop_t *loop, const struct pw_epm_watch_options *o)
{
    struct pw_epm_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (uv_mutex_init(&w->lock) != 0) {
        free(w);
        return NULL;
    }
    w->store = o->store;
    w->log = o->log;
    w->log_ud = o->log_ud;
    if (w->store) {
        int rc = pw_store_epm_load(w->store, &w->stored, &w->nstored);
        if (rc != 0) {
            ew_log(w, PW_LOG_WARN, "endpoint watch: cannot load the stored endpoint mapper reads "
                   "(%s); each host is listed once it is read", pw_strerror(rc));
            w->stored = NULL;
            w->nstored = 0;
        }
    }
    w->loop = loop;
    w->changed_cb = o->changed;
    w->ud = o->ud;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    ew_publish(w);
    return w;
}

static bool probes_epm(const struct pw_plan *p, size_t h)
{
    for (uint32_t i = p->hosts[h].first; i < p->hosts[h].first + p->hosts[h].n; i++)
        if (p->targets[i].port == EPM_PORT)
            return true;
    return false;
}

void pw_epm_watch_configure(struct pw_epm_watch *w, const struct pw_config *c,
                            const struct pw_plan *plan)
{
    size_t n = 0;
    for (size_t h = 0; h < plan->nhosts; h++)
        n += probes_epm(plan, h);
    struct whost *hosts = calloc(n ? n : 1, sizeof *hosts);
    struct pw_portset range = {0};
    if (c->rpc_range.n) {
        range.r = malloc(c->rpc_range.n * sizeof *range.r);
        if (range.r) {
            memcpy(range.r, c->rpc_range.r, c->rpc_range.n * sizeof *range.r);
            range.n = c->rpc_range.n;
        }
    }
    if (!hosts || (c->rpc_range.n && !range.r)) {
        free(hosts);
        free(range.r);
        ew_log(w, PW_LOG_ERROR, "endpoint watch: out of memory; still watching the previous hosts");
        return;
    }
    size_t k = 0;
    for (size_t h = 0; h < plan->nhosts; h++) {
        if (!probes_epm(plan, h))
            continue;
        struct whost *old = ew_host_named(w, plan->hosts[h].name);
        if (old) {
            hosts[k] = *old;
            memset(old, 0, sizeof *old); /* taken: matches no name now */
        } else {
            hosts[k].name = strdup(plan->hosts[h].name);
            if (hosts[k].name)
                ew_seed_host(w, &hosts[k], &range);
        }
        if (hosts[k].name)
            k++;
    }
    /* Only a start seeds: later, the watch's own reads are newer. */
    pw_store_epm_free(w->stored, w->nstored);
    w->stored = NULL;
    w->nstored = 0;
    for (size_t i = 0; i < w->nhosts; i++)
        ew_host_free(&w->hosts[i]);
    free(w->hosts);
    w->hosts = hosts;
    w->nhosts = k;
    if (w->dump && w->reading && !ew_host_named(w, w->reading))
        pw_epm_dump_cancel(w->dump); /* its host left the plan: on to the next */
    if (w->next > k)
        w->next = k;
    pw_portset_free(&w->range);
    w->range = range;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < hosts[i].n; j++)
            hosts[i].v[j].outside_range = ew_outside(&w->range, &hosts[i].v[j].e);
    w->family = c->s.family;
    w->timeout_ms = c->s.timeout_ms * 2 > MIN_DUMP_TIMEOUT_MS ? c->s.timeout_ms * 2 : MIN_DUMP_TIMEOUT_MS;
    int64_t period = c->s.interval_ms * (int64_t)c->s.epm_every;
    if (!w->started || period != w->period_ms) {
        uv_timer_start(&w->timer, on_tick, w->started ? (uint64_t)period : 0, (uint64_t)period);
        w->started = true;
        w->period_ms = period;
    }
    ew_publish(w);
}

int pw_epm_watch_registered(const struct pw_epm_watch *w, const struct pw_plan *base,
                            struct pw_plan_registered **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct pw_plan_registered *reg = calloc(w->nhosts ? w->nhosts : 1, sizeof *reg);
    if (!reg)
        return PW_ENOMEM;
    for (size_t i = 0; i < w->nhosts; i++) {
        const struct whost *h = &w->hosts[i];
        bool in_base = false;
        for (size_t b = 0; b < base->nhosts && !in_base; b++)
            in_base = strcmp(base->hosts[b].name, h->name) == 0 && probes_epm(base, b);
        if (h->nports && in_base && h->reason)
            reg[(*n)++] = (struct pw_plan_registered){h->name, h->ports, h->nports, h->reason};
    }
    *out = reg;
    return 0;
}

static void maybe_free(struct pw_epm_watch *w)
{
    if (!w->timer_closed || w->reading)
        return;
    for (size_t i = 0; i < w->nhosts; i++)
        ew_host_free(&w->hosts[i]);
    free(w->hosts);
    pw_portset_free(&w->range);
    pw_store_epm_free(w->stored, w->nstored);
    ew_snap_drop(w);
    uv_mutex_destroy(&w->lock);
    pw_epm_watch_done_cb done = w->done;
    void *ud = w->done_ud;
    free(w);
    if (done)
        done(ud);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct pw_epm_watch *w = h->data;
    w->timer_closed = true;
    maybe_free(w);
}

void pw_epm_watch_close(struct pw_epm_watch *w, pw_epm_watch_done_cb done, void *ud)
{
    if (!w || w->closing)
        return;
    w->closing = true;
    w->done = done;
    w->done_ud = ud;
    if (w->resolving)
        uv_cancel((uv_req_t *)&w->gai);
    /* A silent mapper would hold the stop for up to the dump's timeout. */
    pw_epm_dump_cancel(w->dump);
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}
