/*
 * What the endpoint watch knows of each host (epm_watch_int.h): a read
 * merged into the host's list (first-seen times kept, ports outside the
 * RPC range warned about once, a changed set of TCP ports noted for the
 * round), a host seeded from the store's latest read, the reason the plan
 * gives its ports, and the immutable snapshots the web threads hold.
 */
#include "daemon/epm_watch_int.h"

#include "base/clock.h"
#include "base/text.h"
#include "config/values.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_NAMES_MAX 300 /* bytes of interface names in a reason */

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

void ew_publish(struct pw_epm_watch *w)
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

void ew_snap_drop(struct pw_epm_watch *w)
{
    if (w->cur)
        pw_epm_watch_release(&w->cur->pub);
    w->cur = NULL;
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
bool ew_outside(const struct pw_portset *range, const struct pw_epm_entry *e)
{
    return is_tcp(e) && e->port != EPM_PORT && !pw_portset_contains(range, e->port);
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

struct whost *ew_host_named(struct pw_epm_watch *w, const char *name)
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
static void warn_outside(struct pw_epm_watch *w, const char *name, const struct pw_epm_entry *e,
                         const char *when)
{
    char buf[37];
    ew_log(w, PW_LOG_WARN, "%s: %s is registered with the endpoint mapper on TCP %u, outside "
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
        ew_log(w, PW_LOG_WARN, "endpoint mapper of %s: the read is not stored: %s", name,
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
void ew_merge(struct pw_epm_watch *w, const char *name, const struct pw_epm_result *r)
{
    struct whost *h = ew_host_named(w, name);
    if (!h)
        return; /* no longer in the plan */
    int64_t now = pw_wall_ms();
    h->looked_ms = now;
    if (r->err) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", r->message[0] ? r->message : err_text(r->err));
        if (!h->err || strcmp(h->err, msg) != 0)
            ew_log(w, PW_LOG_WARN, "endpoint mapper of %s: %s", name, msg);
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
        x->outside_range = ew_outside(&w->range, e);
        if (x->outside_range && !old)
            warn_outside(w, name, e, "");
    }
    size_t np = 0;
    uint16_t *ports = tcp_ports(v, n, &np);
    if (!ports) {
        free(v);
        set_error(h, "out of memory");
        return;
    }
    if (np != h->nports || (np && memcmp(ports, h->ports, np * sizeof *ports) != 0)) {
        ew_log(w, PW_LOG_INFO, "%s: %zu TCP port%s registered with the endpoint mapper (was %zu)",
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

void ew_read_failed(struct pw_epm_watch *w, const char *name, int err)
{
    struct whost *h = ew_host_named(w, name);
    if (!h)
        return;
    h->looked_ms = pw_wall_ms();
    char msg[200];
    snprintf(msg, sizeof msg, "cannot read the endpoint mapper: %s", err_text(err));
    if (!h->err || strcmp(h->err, msg) != 0)
        ew_log(w, PW_LOG_WARN, "%s: %s", h->name, msg);
    set_error(h, msg);
}

/* A host new to the watch starts from the store's latest read of it, as
 * that read left it: its time (so the API shows how old the list is until
 * a live read replaces it), first and last seen, and the TCP ports to
 * probe. Out of memory, it starts empty, as without a store. */
void ew_seed_host(struct pw_epm_watch *w, struct whost *h, const struct pw_portset *range)
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
        v[n].outside_range = ew_outside(range, &v[n].e);
        if (v[n].outside_range)
            warn_outside(w, h->name, &v[n].e, " at its stored read");
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
    ew_log(w, PW_LOG_INFO, "%s: %zu registration%s and %zu TCP port%s from the stored read of its "
           "endpoint mapper, until it is read again", h->name, n, n == 1 ? "" : "s", np,
           np == 1 ? "" : "s");
}

void ew_host_free(struct whost *h)
{
    free(h->name);
    free(h->v);
    free(h->err);
    free(h->ports);
    free(h->reason);
}
