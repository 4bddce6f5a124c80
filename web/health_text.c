/*
 * The text health (GET /api/v1/health?format=text): a monitoring plugin's
 * output after the Nagios plugin guidelines, for check_http, check_curl
 * and whatever shows their output:
 *
 *   PORTWATCH CRITICAL - 203 of 212 targets down, 9 pass | targets=212;;;0 down=203;;0;0;212 ...
 *   sql01: name does not resolve (203 ports, down for 5m)
 *   web01:443: refused: nothing listens (the path is open) (failing, not yet down)
 *
 * The first line is the word and a summary, then the performance data
 * after '|'. The long output has one line per host and cause, worst first
 * (down before failing, then the most ports), so a host whose name does
 * not resolve is one line and never hides another; a protocol mismatch
 * reads as its cause ("wrong service: ..."). At most HEALTH_TEXT_LINES
 * lines, then how many more.
 */
#include "web/health.h"

#include "base/text.h"
#include "config/values.h"
#include "probes/cause.h"
#include "web/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_TEXT_LINES 50

/* One host's targets with one cause and severity. */
struct group {
    uint32_t host;
    int sev;            /* 2 down, 1 failing (down for less than min_duration, or up) */
    bool young;         /* some are down for less than min_duration */
    size_t n;
    uint16_t port;      /* the first */
    int64_t age_ms;     /* the longest down */
    char cause[256];
};

static int sev_of(const struct pw_req *r, const struct pw_health *hv, size_t i)
{
    const struct pw_target_state *t = &r->view.snap->targets[i];
    if (t->status != PW_STATUS_DOWN)
        return 1;
    return r->now_ms - t->since_ms >= hv->min_ms ? 2 : 1;
}

/* The target's cause, naming the service a catalog row expects there. */
static void cause_of(const struct pw_snapshot *s, size_t i, char *buf, size_t len)
{
    const char *service = pw_target_service(s->plan, (uint32_t)i);
    const struct pw_target_state *t = &s->targets[i];
    if (!t->has_result) {
        snprintf(buf, len, "down, no probe result kept");
        return;
    }
    pw_cause_format(t->state, t->verify, t->verify_info, t->detail, service, buf, len);
}

static int by_rank(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->sev != y->sev)
        return y->sev - x->sev;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return strcmp(x->cause, y->cause);
}

struct by_host {
    uint32_t host, i;
};

static int host_order(const void *a, const void *b)
{
    const struct by_host *x = a, *y = b;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The troubled targets as groups of (host, severity, cause), ranked. The
 * causes of one host are few, so with the targets sorted by host (ports
 * an endpoint mapper registered join the plan after the others) each is
 * matched against its host's groups only. */
static struct group *make_groups(struct pw_req *r, const struct pw_health *hv, size_t *ng)
{
    const struct pw_snapshot *s = r->view.snap;
    struct group *g = calloc(hv->ntrouble ? hv->ntrouble : 1, sizeof *g);
    struct by_host *order = malloc((hv->ntrouble ? hv->ntrouble : 1) * sizeof *order);
    if (!g || !order) {
        free(g);
        free(order);
        return NULL;
    }
    for (size_t k = 0; k < hv->ntrouble; k++)
        order[k] = (struct by_host){s->plan->targets[hv->trouble[k]].host, hv->trouble[k]};
    qsort(order, hv->ntrouble, sizeof *order, host_order);
    size_t n = 0, host_first = 0;
    for (size_t k = 0; k < hv->ntrouble; k++) {
        size_t i = order[k].i;
        const struct pw_target_state *t = &s->targets[i];
        struct group cur = {.host = s->plan->targets[i].host, .sev = sev_of(r, hv, i)};
        cause_of(s, i, cur.cause, sizeof cur.cause);
        if (n && g[n - 1].host != cur.host)
            host_first = n;
        size_t j = host_first;
        while (j < n && (g[j].host != cur.host || g[j].sev != cur.sev ||
                         strcmp(g[j].cause, cur.cause) != 0))
            j++;
        if (j == n) {
            cur.port = s->plan->targets[i].port;
            g[n++] = cur;
        }
        g[j].n++;
        if (t->status == PW_STATUS_DOWN) {
            int64_t age = r->now_ms - t->since_ms;
            g[j].young |= age < hv->min_ms;
            if (age > g[j].age_ms)
                g[j].age_ms = age;
        }
    }
    free(order);
    qsort(g, n, sizeof *g, by_rank);
    *ng = n;
    return g;
}

static void group_line(struct pw_buf *b, const struct pw_plan *p, const struct group *g)
{
    char d[32];
    pw_format_duration(g->age_ms >= 1000 ? g->age_ms / 1000 * 1000 : 1000, d, sizeof d);
    const char *host = p->hosts[g->host].name;
    if (g->n == 1)
        pw_buf_printf(b, "%s:%u: %s (", host, g->port, g->cause);
    else
        pw_buf_printf(b, "%s: %s (%zu ports, ", host, g->cause, g->n);
    if (g->sev == 2)
        pw_buf_printf(b, "down for %s)\n", d);
    else if (g->young)
        pw_buf_printf(b, "down for %s, less than min_duration)\n", d);
    else
        pw_buf_printf(b, "failing, not yet down)\n");
}

/* Endpoints registered outside the RPC range: one line per host. */
static void outside_lines(struct pw_req *r, const struct pw_scope *sc, struct pw_buf *b)
{
    const struct pw_web_sources *src = pw_req_sources(r);
    const struct pw_web_epm *ep = src->epm_acquire ? src->epm_acquire(src->ud) : NULL;
    if (!ep)
        return;
    for (size_t h = 0; h < ep->nhosts; h++) {
        const struct pw_web_epm_host *x = &ep->hosts[h];
        if (sc->host && pw_strcasecmp(sc->host, x->host) != 0)
            continue;
        size_t n = 0;
        for (size_t i = 0; i < x->n; i++) {
            bool seen = false; /* several interfaces on one port: named once */
            for (size_t k = 0; k < i && !seen; k++)
                seen = x->v[k].outside_range && x->v[k].e.port == x->v[i].e.port;
            if (!x->v[i].outside_range || seen)
                continue;
            if (n++ == 0)
                pw_buf_printf(b, "%s: endpoints registered outside the RPC range "
                                 "([biztalk] secondary_rpc_ports) on port %u",
                              x->host, (unsigned)x->v[i].e.port);
            else
                pw_buf_printf(b, ", %u", (unsigned)x->v[i].e.port);
        }
        if (n)
            pw_buf_add(b, "\n", 1);
    }
    src->epm_release(src->ud, ep);
}

static void storage_text(struct pw_req *r, const struct pw_health *hv, struct pw_buf *b)
{
    if (!hv->st) {
        pw_buf_printf(b, "storage unavailable: this portwatch runs without a database");
        return;
    }
    char d[32];
    int64_t age = r->now_ms - hv->h.since_ms;
    pw_format_duration(age >= 1000 ? age / 1000 * 1000 : 1000, d, sizeof d);
    pw_buf_printf(b, "storage degraded for %s: %s", d, hv->h.message);
}

/* The word and the one-line summary: what fails first, never a count of
 * passing targets that hides one down. */
static void summary(struct pw_req *r, const struct pw_health *hv, struct pw_buf *b)
{
    size_t unknown = hv->tally.status[PW_STATUS_UNKNOWN];
    size_t pass = hv->checked - unknown - hv->ntrouble - hv->maintenance;
    pw_buf_printf(b, "PORTWATCH %s - ", pw_word_name(hv->word));
    if (unknown == hv->checked) {
        pw_buf_printf(b, "no target probed yet (%zu planned)", hv->checked);
    } else {
        if (hv->down)
            pw_buf_printf(b, "%zu of %zu targets down, ", hv->down, hv->checked);
        if (hv->young)
            pw_buf_printf(b, "%zu down for less than min_duration, ", hv->young);
        if (hv->failing)
            pw_buf_printf(b, "%zu failing (not yet down), ", hv->failing);
        pw_buf_printf(b, "%zu/%zu targets pass", pass, hv->checked);
        if (hv->maintenance)
            pw_buf_printf(b, ", %zu failing in maintenance", hv->maintenance);
        if (unknown)
            pw_buf_printf(b, ", %zu not yet probed", unknown);
    }
    if (hv->outside)
        pw_buf_printf(b, "; %zu endpoints registered outside the RPC range", hv->outside);
    if (hv->storage_fails) {
        pw_buf_add(b, "; ", 2);
        storage_text(r, hv, b);
    }
}

/* Performance data: 'label'=value[UOM];[warn];[crit];[min];[max]. A
 * threshold of 0 alerts on any value above 0. */
static void perfdata(struct pw_req *r, const struct pw_health *hv, struct pw_buf *b)
{
    size_t n = hv->checked;
    pw_buf_printf(b, " | targets=%zu;;;0 down=%zu;;0;0;%zu failing=%zu;0;;0;%zu "
                     "unknown=%zu;;;0;%zu",
                  n, hv->down, n, hv->young + hv->failing, n,
                  hv->tally.status[PW_STATUS_UNKNOWN], n);
    for (int k = 0; k < PW_STATE_COUNT_; k++)
        pw_buf_printf(b, " %s=%zu;;;0;%zu", pw_state_name((enum pw_state)k),
                      hv->tally.state[k], n);
    pw_buf_printf(b, " endpoints_outside_range=%zu;0;;0", hv->outside);
    const struct pw_engine_stats *st = &r->view.snap->stats;
    if (st->sweeps)
        pw_buf_printf(b, " sweep_duration=%.3fs;;;0",
                      (double)st->last_sweep_duration_ms / 1e3);
    pw_buf_add(b, "\n", 1);
}

void pw_health_text(struct pw_req *r, const struct pw_scope *sc, const struct pw_health *hv,
                    struct pw_reply *out)
{
    struct pw_buf b = {0};
    size_t ng = 0;
    struct group *g = make_groups(r, hv, &ng);
    summary(r, hv, &b);
    perfdata(r, hv, &b);
    for (size_t k = 0; g && k < ng && k < HEALTH_TEXT_LINES; k++)
        group_line(&b, r->view.snap->plan, &g[k]);
    if (ng > HEALTH_TEXT_LINES)
        pw_buf_printf(&b, "and %zu more lines like these\n", ng - HEALTH_TEXT_LINES);
    if (!sc->role)
        outside_lines(r, sc, &b);
    pw_api_maint_text(&r->view, sc, &b);
    if (hv->storage_fails) {
        storage_text(r, hv, &b);
        pw_buf_add(&b, "\n", 1);
    }
    free(g);
    if (b.oom || !g) {
        free(b.p);
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    pw_reply_text(out, pw_word_http(hv->word), "text/plain; charset=utf-8", b.p, b.len);
}
