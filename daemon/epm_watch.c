/*
 * The endpoint watch of `portwatch run` (see daemon/epm_watch.h): reads
 * the endpoint mappers of the hosts probed on 135, strictly one host at a
 * time so a farm of mappers never sees a burst, keeps what each one said,
 * and publishes it to the web threads as an immutable snapshot swapped
 * under a mutex. Each complete read also goes to the store (its writer
 * thread), and a start seeds each host from the store's latest read, so
 * first-seen times survive restarts and the ports registered there are
 * probed from the first plan. Everything but acquire/release runs on the
 * loop thread.
 */
#include "daemon/epm_watch.h"

#include "base/clock.h"
#include "base/text.h"
#include "daemon/log.h"

#include "base/error.h"
#include "config/values.h"
#include "probes/epm.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define EPM_PORT 135
#define MIN_DUMP_TIMEOUT_MS 1000
#define REASON_NAMES_MAX 300 /* bytes of interface names in a reason */

struct whost {
    char *name;
    struct pw_epm_registration *v;
    size_t n;
    int64_t looked_ms;
    bool from_store;   /* v is the stored read; no live one completed yet */
    char *err;
    uint16_t *ports;   /* registered TCP ports but 135, sorted, unique */
    size_t nports;
    char *reason;      /* the plan's reason for them: the interfaces named */
};

/* A published snapshot: the public part first, so release can find the
 * whole from it. */
struct snap {
    struct pw_web_epm pub;
    atomic_uint refs;
    struct pw_web_epm_host *hosts;
};

struct pw_epm_watch {
    uv_loop_t *loop;
    struct pw_store *store;          /* NULL: in memory only */
    struct pw_store_epm_host *stored; /* the store's reads, until the first configure */
    size_t nstored;
    struct pw_epm_dump *dump;        /* the read in flight, for the cancel */
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_mutex_t lock;       /* cur */
    struct snap *cur;
    struct whost *hosts;
    size_t nhosts;
    struct pw_portset range;
    int64_t period_ms, timeout_ms;
    int family;
    pw_epm_watch_changed_cb changed_cb;
    void *ud;
    char *reading;         /* host of the read in flight, or NULL */
    size_t next;           /* next host of the round */
    bool busy, resolving, changed, started, closing, timer_closed, put_failed;
};

/* ---- snapshots ------------------------------------------------------------------ */

static void snap_free(struct snap *s)
{
    for (size_t i = 0; i < s->pub.nhosts; i++) {
        free((char *)s->hosts[i].host);
        free((char *)s->hosts[i].error);
        free((void *)s->hosts[i].v);
    }
    free(s->hosts);
    free(s);
}

void pw_epm_watch_release(const struct pw_web_epm *e)
{
    struct snap *s = (struct snap *)(void *)e;
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snap_free(s);
}

const struct pw_web_epm *pw_epm_watch_acquire(struct pw_epm_watch *w)
{
    uv_mutex_lock(&w->lock);
    struct snap *s = w->cur;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    uv_mutex_unlock(&w->lock);
    return s ? &s->pub : NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Copies the hosts' state into a new snapshot and makes it current. Out of
 * memory, the previous one stays. */
static void publish(struct pw_epm_watch *w)
{
    struct snap *s = calloc(1, sizeof *s);
    if (!s)
        return;
    atomic_init(&s->refs, 1);
    s->hosts = calloc(w->nhosts ? w->nhosts : 1, sizeof *s->hosts);
    bool ok = s->hosts != NULL;
    for (size_t i = 0; ok && i < w->nhosts; i++) {
        const struct whost *h = &w->hosts[i];
        struct pw_web_epm_host *o = &s->hosts[i];
        s->pub.nhosts = i + 1;
        o->host = strdup(h->name);
        o->error = dup_or_null(h->err);
        o->looked_up_ms = h->looked_ms;
        o->from_store = h->from_store;
        struct pw_epm_registration *v = malloc((h->n ? h->n : 1) * sizeof *v);
        if (v && h->n)
            memcpy(v, h->v, h->n * sizeof *v);
        o->v = v;
        o->n = h->n;
        ok = o->host && v && (o->error || !h->err);
    }
    s->pub.hosts = s->hosts;
    if (!ok) {
        snap_free(s);
        return;
    }
    uv_mutex_lock(&w->lock);
    struct snap *old = w->cur;
    w->cur = s;
    uv_mutex_unlock(&w->lock);
    if (old)
        pw_epm_watch_release(&old->pub);
}

/* ---- merging a read ------------------------------------------------------------- */

static bool same_key(const struct pw_epm_entry *a, const struct pw_epm_entry *b)
{
    return a->has_iface == b->has_iface && memcmp(&a->iface, &b->iface, sizeof a->iface) == 0 &&
           a->vmajor == b->vmajor && a->vminor == b->vminor && a->protseq == b->protseq &&
           a->port == b->port && strcmp(a->endpoint, b->endpoint) == 0;
}

/* What people call an interface: its well-known name, else the
 * annotation its server registered, else its uuid. */
static const char *iface_label(const struct pw_epm_entry *e, char buf[37])
{
    const char *name = e->has_iface ? pw_epm_interface_name(&e->iface) : NULL;
    if (name)
        return name;
    if (e->annotation[0])
        return e->annotation;
    if (!e->has_iface)
        return "(no interface)";
    pw_uuid_format(&e->iface, buf);
    return buf;
}

static bool is_tcp(const struct pw_epm_entry *e)
{
    return e->protseq == PW_EPM_NCACN_IP_TCP && e->port != 0;
}

/* A registered TCP port a firewall opened for the RPC range would block:
 * the mapper's own 135 is opened on its own. */
static bool outside(const struct pw_portset *range, const struct pw_epm_entry *e)
{
    return is_tcp(e) && e->port != EPM_PORT && !pw_portset_contains(range, e->port);
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static struct whost *host_named(struct pw_epm_watch *w, const char *name)
{
    for (size_t i = 0; i < w->nhosts; i++)
        if (w->hosts[i].name && strcmp(w->hosts[i].name, name) == 0)
            return &w->hosts[i];
    return NULL;
}

static void set_error(struct whost *h, const char *msg)
{
    free(h->err);
    h->err = strdup(msg);
}

static const char *err_text(int err)
{
    return err > PW_ERR_FIRST_ && err < PW_ERR_LAST_ ? pw_strerror(err) : uv_strerror(err);
}

/* Said once per registration and run: when first read, or at start when
 * the stored read has it. */
static void warn_outside(const char *name, const struct pw_epm_entry *e, const char *when)
{
    char buf[37];
    pw_log(PW_LOG_WARN, "%s: %s is registered with the endpoint mapper on TCP %u, outside "
           "the firewall range (secondary_rpc_ports)%s; a firewall opened for that range "
           "blocks it", name, iface_label(e, buf), (unsigned)e->port, when);
}

/* h's registered TCP ports but 135, sorted and unique, from h->v. Returns
 * them (*np set), or NULL out of memory. */
static uint16_t *tcp_ports(const struct pw_epm_registration *v, size_t n, size_t *np)
{
    uint16_t *ports = malloc((n ? n : 1) * sizeof *ports);
    *np = 0;
    if (!ports)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct pw_epm_entry *e = &v[i].e;
        if (!is_tcp(e) || e->port == EPM_PORT)
            continue;
        bool seen = false;
        for (size_t k = 0; k < *np && !seen; k++)
            seen = ports[k] == e->port;
        if (!seen)
            ports[(*np)++] = e->port;
    }
    qsort(ports, *np, sizeof *ports, cmp_u16);
    return ports;
}

/* Hands a complete read (the list as merged: one row per key) to the
 * store's writer. A failing store (degraded, queue full) costs the history
 * of this read only: the watch goes on from memory, and says so once. */
static void store_read(struct pw_epm_watch *w, const char *name, const struct whost *h,
                       int64_t now)
{
    if (!w->store)
        return;
    struct pw_epm_entry *e = malloc((h->n ? h->n : 1) * sizeof *e);
    int rc = PW_ENOMEM;
    if (e) {
        for (size_t i = 0; i < h->n; i++)
            e[i] = h->v[i].e;
        rc = pw_store_epm_put(w->store, name, e, h->n, now);
        free(e);
    }
    if (rc != 0 && rc != PW_EBUSY && !w->put_failed) /* the writer logs PW_EBUSY */
        pw_log(PW_LOG_WARN, "endpoint mapper of %s: the read is not stored: %s", name,
               pw_strerror(rc));
    w->put_failed = rc != 0 && rc != PW_EBUSY;
}

/* "MSDTC (IXnRemote), Remote Registry, ..." for h's TCP endpoints. */
static void names_of(const struct whost *h, char *out, size_t len)
{
    size_t used = 0, left = 0;
    out[0] = '\0';
    for (size_t i = 0; i < h->n; i++) {
        const struct pw_epm_entry *e = &h->v[i].e;
        if (!is_tcp(e) || e->port == EPM_PORT)
            continue;
        char buf[37];
        const char *label = iface_label(e, buf);
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = is_tcp(&h->v[k].e) && h->v[k].e.port != EPM_PORT &&
                  strcmp(iface_label(&h->v[k].e, (char[37]){0}), label) == 0;
        if (dup)
            continue;
        if (used + strlen(label) + 2 >= REASON_NAMES_MAX || used + strlen(label) + 2 >= len) {
            left++;
            continue;
        }
        used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "", label);
    }
    if (left)
        snprintf(out + used, len - used, " and %zu more", left);
}

/* h's reason for the plan, from the interfaces its TCP ports serve; out of
 * memory, NULL (its ports are then left out of the plan). */
static void set_reason(struct whost *h)
{
    char names[REASON_NAMES_MAX + 32];
    names_of(h, names, sizeof names);
    size_t len = strlen(names) + 64;
    free(h->reason);
    h->reason = malloc(len);
    if (h->reason)
        snprintf(h->reason, len, "registered with the endpoint mapper: %s", names);
}

/* A complete read replaces the host's list: kept keys keep first_seen,
 * new TCP ports outside the range are warned about once, and a changed set
 * of TCP ports marks the round as changed. A failed read only records the
 * error: the ports known stay watched. */
static void merge(struct pw_epm_watch *w, const char *name, const struct pw_epm_result *r)
{
    struct whost *h = host_named(w, name);
    if (!h)
        return; /* no longer in the plan */
    int64_t now = pw_wall_ms();
    h->looked_ms = now;
    if (r->err) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", r->message[0] ? r->message : err_text(r->err));
        if (!h->err || strcmp(h->err, msg) != 0)
            pw_log(PW_LOG_WARN, "endpoint mapper of %s: %s", name, msg);
        set_error(h, msg);
        return;
    }
    struct pw_epm_registration *v = malloc((r->n ? r->n : 1) * sizeof *v);
    if (!v) {
        set_error(h, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct pw_epm_entry *e = &r->v[i];
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = same_key(&v[k].e, e);
        if (dup)
            continue;
        const struct pw_epm_registration *old = NULL;
        for (size_t k = 0; k < h->n && !old; k++)
            if (same_key(&h->v[k].e, e))
                old = &h->v[k];
        struct pw_epm_registration *x = &v[n++];
        x->e = *e;
        x->first_seen_ms = old ? old->first_seen_ms : now;
        x->last_seen_ms = now;
        x->outside_range = outside(&w->range, e);
        if (x->outside_range && !old)
            warn_outside(name, e, "");
    }
    size_t np = 0;
    uint16_t *ports = tcp_ports(v, n, &np);
    if (!ports) {
        free(v);
        set_error(h, "out of memory");
        return;
    }
    if (np != h->nports || (np && memcmp(ports, h->ports, np * sizeof *ports) != 0)) {
        pw_log(PW_LOG_INFO, "%s: %zu TCP port%s registered with the endpoint mapper (was %zu)",
               name, np, np == 1 ? "" : "s", h->nports);
        w->changed = true;
        free(h->ports);
        h->ports = ports;
        h->nports = np;
    } else {
        free(ports);
    }
    free(h->v);
    h->v = v;
    h->n = n;
    set_reason(h);
    h->from_store = false;
    free(h->err);
    h->err = NULL;
    store_read(w, name, h, now);
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
    publish(w);
    advance(w);
}

static void on_dump(void *ud, struct pw_epm_result *r)
{
    struct pw_epm_watch *w = ud;
    w->dump = NULL;
    if (!w->closing)
        merge(w, w->reading, r);
    pw_epm_result_free(r);
    read_done(w);
}

static void read_failed(struct pw_epm_watch *w, int err)
{
    struct whost *h = host_named(w, w->reading);
    if (h && !w->closing) {
        h->looked_ms = pw_wall_ms();
        char msg[200];
        snprintf(msg, sizeof msg, "cannot read the endpoint mapper: %s", err_text(err));
        if (!h->err || strcmp(h->err, msg) != 0)
            pw_log(PW_LOG_WARN, "%s: %s", h->name, msg);
        set_error(h, msg);
    }
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
            pw_log(PW_LOG_DEBUG, "endpoint watch: the previous round is still reading");
        return;
    }
    w->busy = true;
    w->next = 0;
    advance(w);
}

/* ---- life ------------------------------------------------------------------------- */

struct pw_epm_watch *pw_epm_watch_new(uv_loop_t *loop, struct pw_store *store,
                                      pw_epm_watch_changed_cb changed, void *ud)
{
    struct pw_epm_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (uv_mutex_init(&w->lock) != 0) {
        free(w);
        return NULL;
    }
    w->store = store;
    if (store) {
        int rc = pw_store_epm_load(store, &w->stored, &w->nstored);
        if (rc != 0) {
            pw_log(PW_LOG_WARN, "endpoint watch: cannot load the stored endpoint mapper reads "
                   "(%s); each host is listed once it is read", pw_strerror(rc));
            w->stored = NULL;
            w->nstored = 0;
        }
    }
    w->loop = loop;
    w->changed_cb = changed;
    w->ud = ud;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    publish(w);
    return w;
}

static void host_free(struct whost *h)
{
    free(h->name);
    free(h->v);
    free(h->err);
    free(h->ports);
    free(h->reason);
}

/* A host new to the watch starts from the store's latest read of it, as
 * that read left it: its time (so the API shows how old the list is until
 * a live read replaces it), first and last seen, and the TCP ports to
 * probe. Out of memory, it starts empty, as without a store. */
static void seed_host(struct pw_epm_watch *w, struct whost *h, const struct pw_portset *range)
{
    const struct pw_store_epm_host *s = NULL;
    for (size_t i = 0; i < w->nstored && !s; i++)
        if (w->stored[i].host && pw_strcasecmp(w->stored[i].host, h->name) == 0)
            s = &w->stored[i];
    if (!s)
        return;
    struct pw_epm_registration *v = malloc((s->n ? s->n : 1) * sizeof *v);
    if (!v)
        return;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = same_key(&v[k].e, &s->v[i].e);
        if (dup)
            continue;
        v[n].e = s->v[i].e;
        v[n].first_seen_ms = s->v[i].first_seen_ms;
        v[n].last_seen_ms = s->v[i].last_seen_ms;
        v[n].outside_range = outside(range, &v[n].e);
        if (v[n].outside_range)
            warn_outside(h->name, &v[n].e, " at its stored read");
        n++;
    }
    size_t np = 0;
    uint16_t *ports = tcp_ports(v, n, &np);
    if (!ports) {
        free(v);
        return;
    }
    h->v = v;
    h->n = n;
    h->ports = ports;
    h->nports = np;
    set_reason(h);
    h->looked_ms = s->looked_up_ms;
    h->from_store = true;
    pw_log(PW_LOG_INFO, "%s: %zu registration%s and %zu TCP port%s from the stored read of its "
           "endpoint mapper, until it is read again", h->name, n, n == 1 ? "" : "s", np,
           np == 1 ? "" : "s");
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
        pw_log(PW_LOG_ERROR, "endpoint watch: out of memory; still watching the previous hosts");
        return;
    }
    size_t k = 0;
    for (size_t h = 0; h < plan->nhosts; h++) {
        if (!probes_epm(plan, h))
            continue;
        struct whost *old = host_named(w, plan->hosts[h].name);
        if (old) {
            hosts[k] = *old;
            memset(old, 0, sizeof *old); /* taken: matches no name now */
        } else {
            hosts[k].name = strdup(plan->hosts[h].name);
            if (hosts[k].name)
                seed_host(w, &hosts[k], &range);
        }
        if (hosts[k].name)
            k++;
    }
    /* Only a start seeds: later, the watch's own reads are newer. */
    pw_store_epm_free(w->stored, w->nstored);
    w->stored = NULL;
    w->nstored = 0;
    for (size_t i = 0; i < w->nhosts; i++)
        host_free(&w->hosts[i]);
    free(w->hosts);
    w->hosts = hosts;
    w->nhosts = k;
    if (w->dump && w->reading && !host_named(w, w->reading))
        pw_epm_dump_cancel(w->dump); /* its host left the plan: on to the next */
    if (w->next > k)
        w->next = k;
    pw_portset_free(&w->range);
    w->range = range;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < hosts[i].n; j++)
            hosts[i].v[j].outside_range = outside(&w->range, &hosts[i].v[j].e);
    w->family = c->s.family;
    w->timeout_ms = c->s.timeout_ms * 2 > MIN_DUMP_TIMEOUT_MS ? c->s.timeout_ms * 2 : MIN_DUMP_TIMEOUT_MS;
    int64_t period = c->s.interval_ms * (int64_t)c->s.epm_every;
    if (!w->started || period != w->period_ms) {
        uv_timer_start(&w->timer, on_tick, w->started ? (uint64_t)period : 0, (uint64_t)period);
        w->started = true;
        w->period_ms = period;
    }
    publish(w);
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
        host_free(&w->hosts[i]);
    free(w->hosts);
    pw_portset_free(&w->range);
    pw_store_epm_free(w->stored, w->nstored);
    if (w->cur)
        pw_epm_watch_release(&w->cur->pub);
    uv_mutex_destroy(&w->lock);
    free(w);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct pw_epm_watch *w = h->data;
    w->timer_closed = true;
    maybe_free(w);
}

void pw_epm_watch_close(struct pw_epm_watch *w)
{
    if (!w || w->closing)
        return;
    w->closing = true;
    if (w->resolving)
        uv_cancel((uv_req_t *)&w->gai);
    /* A silent mapper would hold the stop for up to the dump's timeout. */
    pw_epm_dump_cancel(w->dump);
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}
