/*
 * GET /metrics: the Prometheus text exposition format (version 0.0.4), for
 * one Prometheus scraping one or several portwatch instances (every name
 * starts with portwatch_; the instance label is Prometheus' own).
 *
 * Per target, series are labelled host, port and roles. A target serving
 * several roles carries them all in the one `roles` label, comma-joined
 * and sorted (e.g. "management_database,messagebox_database"), so each
 * target is exactly one series per metric; select a role with a regex:
 * {roles=~"(.*,)?messagebox_database(,.*)?"}. One series per (target,
 * role) instead would duplicate every target's samples and make sum()
 * over a farm count targets several times.
 *
 * portwatch_outages_total counts every change of a target's status to
 * down since the daemon started (the engine's counter).
 *
 * portwatch_target_verify says how the protocol check of the target's last
 * connected probe ended: one series per target, value 1, its outcome in
 * the `result` label (verified, mismatch, no_reply, off), absent while the
 * last probe did not connect. A label rather than a number because the
 * outcomes are not ordered and an alert names one:
 * portwatch_target_verify{result="mismatch"} == 1. Only the current
 * outcome is exported (not one 0/1 series per outcome), which keeps a
 * 4,000-target farm at one series per target; a change of outcome ends
 * the old series (Prometheus marks it stale at that scrape).
 *
 * portwatch_rpc_endpoint_outside_range has one series, value 1, per TCP
 * port registered with a watched endpoint mapper outside the configured
 * RPC range, and per interface there (the daemon's endpoint watch).
 *
 * Who watches: the series about the farm (target_*, role_up,
 * rpc_endpoint_outside_range) and build_info end with the instance's
 * identity labels, instance_name (the host name unless configured) and
 * vantage (its BizTalk server roles, comma-joined), then the static
 * [portwatch] labels, so that one Prometheus over a fleet tells the
 * servers apart and an alert names the server that cannot reach. The
 * others (engine, storage, HTTP, process_*) are about the instance itself
 * and are joined to it by Prometheus' instance label:
 *   ... * on(instance) group_left(instance_name, vantage) portwatch_build_info
 */
#include "web/api.h"

#include "base/text.h"
#include "web/maintenance.h"
#include "web/process.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void escape_label_n(struct pw_buf *b, const char *s, size_t n)
{
    for (const char *end = s + n; s < end; s++) {
        const char *run = s; /* what needs no escaping, added at once */
        while (s < end && *s != '\\' && *s != '"' && *s != '\n')
            s++;
        pw_buf_add(b, run, (size_t)(s - run));
        if (s == end)
            break;
        pw_buf_add(b, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n", 2);
    }
}

static void escape_label(struct pw_buf *b, const char *s)
{
    escape_label_n(b, s, strlen(s));
}

/* Appends the identity labels, each after a comma: instance_name, vantage
 * and the static labels (canonical "name=value,..."; config/values.h
 * PW_METRIC_OWN_LABELS lists the names this file sets, which those may not
 * take). An empty one is left out: Prometheus reads it as absent. */
static void identity_labels(struct pw_buf *b, const struct pw_plan *p)
{
    const struct pw_plan_identity *id = pw_plan_identity(p);
    pw_buf_add(b, "", 0); /* allocated even when empty: its p is copied */
    if (*id->instance_name) {
        pw_buf_add(b, ",instance_name=\"", 16);
        escape_label(b, id->instance_name);
        pw_buf_add(b, "\"", 1);
    }
    if (id->vantage) {
        const char *sep = ",vantage=\"";
        for (int v = 0; v < PW_NVANTAGES; v++)
            if (id->vantage & PW_VANTAGE_BIT(v)) {
                pw_buf_add(b, sep, strlen(sep));
                pw_buf_add(b, pw_vantage_name((enum pw_vantage)v),
                           strlen(pw_vantage_name((enum pw_vantage)v)));
                sep = ",";
            }
        pw_buf_add(b, "\"", 1);
    }
    for (const char *l = id->labels; *l;) {
        size_t len = strcspn(l, ","), name = strcspn(l, "=");
        pw_buf_printf(b, ",%.*s=\"", (int)name, l);
        escape_label_n(b, l + name + 1, len - name - 1);
        pw_buf_add(b, "\"", 1);
        l += len + (l[len] == ',');
    }
}

static void head(struct pw_buf *b, const char *name, const char *type, const char *help)
{
    pw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* An interface as a label: its well-known name, else its uuid. */
static const char *iface_label(const struct pw_epm_entry *e, char buf[37])
{
    const char *name = e->has_iface ? pw_epm_interface_name(&e->iface) : NULL;
    if (name)
        return name;
    if (!e->has_iface)
        return "";
    pw_uuid_format(&e->iface, buf);
    return buf;
}

static void epm_outside(struct pw_buf *b, const struct pw_web_sources *src,
                        const struct pw_buf *id)
{
    const struct pw_web_epm *ep = src->epm_acquire ? src->epm_acquire(src->ud) : NULL;
    if (!ep)
        return;
    head(b, "portwatch_rpc_endpoint_outside_range", "gauge",
         "1 for a TCP port registered with the host's RPC endpoint mapper outside "
         "[biztalk] secondary_rpc_ports, per interface.");
    for (size_t h = 0; h < ep->nhosts; h++) {
        const struct pw_web_epm_host *x = &ep->hosts[h];
        for (size_t i = 0; i < x->n; i++) {
            if (!x->v[i].outside_range)
                continue;
            char buf[37], prev[37];
            const char *label = iface_label(&x->v[i].e, buf);
            bool dup = false; /* several versions of one interface: one series */
            for (size_t k = 0; k < i && !dup; k++)
                dup = x->v[k].outside_range && x->v[k].e.port == x->v[i].e.port &&
                      strcmp(iface_label(&x->v[k].e, prev), label) == 0;
            if (dup)
                continue;
            pw_buf_printf(b, "portwatch_rpc_endpoint_outside_range{host=\"");
            escape_label(b, x->host);
            pw_buf_printf(b, "\",port=\"%u\",interface=\"", (unsigned)x->v[i].e.port);
            escape_label(b, label);
            pw_buf_add(b, "\"", 1);
            pw_buf_add(b, id->p, id->len);
            pw_buf_add(b, "} 1\n", 4);
        }
    }
    src->epm_release(src->ud, ep);
}

/* The per-target series, one metric after the other: a scrape of
 * 100,000 targets is a hundred megabytes, so it is written while it is
 * sent (web/stream.c), a few kilobytes at a time. What it shows of each
 * target (24 bytes) is copied at the request and the view released at
 * once: a view held while a client reads would have the engine copy
 * every target's state (20 MB at that size) to go on writing. */
enum section { S_UP, S_STATE, S_LATENCY, S_VERIFY, S_MAINTENANCE, S_TAIL, S_END };

/* What one piece of the body is at least, but for the last. */
#define PIECE_BYTES (16 * 1024)

struct row {
    int64_t latency_us;
    uint32_t host;
    uint16_t port, profile;
    uint32_t window; /* 1 + its index in scrape.win; 0: none */
    uint8_t status, state, verify;
    bool has_result;
};

struct scrape {
    struct row *rows;
    size_t n;
    /* Label values, escaped, in text: each host's name, each profile's
     * roles, each maintenance window's name, from these offsets to the
     * next (one more than there are). */
    struct pw_buf text;
    size_t *host, *prof, *win;
    size_t nwin;
    struct pw_buf id;   /* the identity labels */
    struct pw_buf lab;  /* one target's labels */
    struct pw_buf tail; /* every series after the targets', rendered at the request */
    enum section section;
    size_t i;           /* the next target of the section */
    bool headed;        /* the section's HELP and TYPE are written */
};

static void scrape_free(struct scrape *g)
{
    free(g->rows);
    free(g->text.p);
    free(g->host);
    free(g->prof);
    free(g->win);
    free(g->id.p);
    free(g->lab.p);
    free(g->tail.p);
    free(g);
}

/* The escaped names of the plan's hosts and the roles of its profiles. */
static bool copy_names(struct scrape *g, const struct pw_plan *p)
{
    g->host = malloc((p->nhosts + 1) * sizeof *g->host);
    g->prof = malloc((p->nprofiles + 1) * sizeof *g->prof);
    if (!g->host || !g->prof)
        return false;
    for (size_t h = 0; h < p->nhosts; h++) {
        g->host[h] = g->text.len;
        escape_label(&g->text, p->hosts[h].name);
    }
    g->host[p->nhosts] = g->text.len;
    for (size_t f = 0; f < p->nprofiles; f++) {
        g->prof[f] = g->text.len;
        for (size_t k = 0; k < p->profiles[f].nroles; k++) {
            if (k)
                pw_buf_add(&g->text, ",", 1);
            escape_label(&g->text, p->profiles[f].roles[k]);
        }
    }
    g->prof[p->nprofiles] = g->text.len;
    return !g->text.oom;
}

/* 1 + the index of the window named name among those copied (copying it
 * if new); 0 out of memory. Windows are few. */
static uint32_t window_of(struct scrape *g, const char *name)
{
    size_t n = strlen(name);
    for (size_t w = 0; w < g->nwin; w++)
        if (g->win[w + 1] - g->win[w] == n && memcmp(g->text.p + g->win[w], name, n) == 0)
            return (uint32_t)w + 1;
    size_t *more = realloc(g->win, (g->nwin + 2) * sizeof *more);
    if (!more)
        return 0;
    g->win = more;
    if (g->nwin == 0)
        g->win[0] = g->text.len;
    pw_buf_add(&g->text, name, n); /* letters, digits, '-', '_' and '.': no escaping */
    g->win[++g->nwin] = g->text.len;
    return g->text.oom ? 0 : (uint32_t)g->nwin;
}

/* What the series show of every target of v. */
static bool copy_rows(struct scrape *g, const struct pw_web_view *v)
{
    const struct pw_snapshot *s = v->snap;
    g->n = s->ntargets;
    g->rows = malloc((g->n ? g->n : 1) * sizeof *g->rows);
    if (!g->rows || !copy_names(g, s->plan))
        return false;
    for (size_t i = 0; i < g->n; i++) {
        const struct pw_target *t = &s->plan->targets[i];
        const struct pw_target_state *st = &s->targets[i];
        const struct pw_web_window *w = pw_web_maint_of(v, i);
        g->rows[i] = (struct row){
            .latency_us = st->latency_us, .host = t->host, .port = t->port,
            .profile = t->profile, .window = w ? window_of(g, w->name) : 0,
            .status = (uint8_t)st->status, .state = (uint8_t)st->state,
            .verify = (uint8_t)st->verify, .has_result = st->has_result};
        if (w && !g->rows[i].window)
            return false;
    }
    return true;
}

/* {host="...",port="...",roles="...",IDENTITY} of row r, into g->lab. */
static void target_labels(struct scrape *g, const struct row *r)
{
    struct pw_buf *b = &g->lab;
    b->len = 0;
    pw_buf_add(b, "{host=\"", 7);
    pw_buf_add(b, g->text.p + g->host[r->host], g->host[r->host + 1] - g->host[r->host]);
    pw_buf_printf(b, "\",port=\"%u\",roles=\"", r->port);
    pw_buf_add(b, g->text.p + g->prof[r->profile],
               g->prof[r->profile + 1] - g->prof[r->profile]);
    pw_buf_add(b, "\"", 1);
    pw_buf_add(b, g->id.p, g->id.len);
    pw_buf_add(b, "}", 1);
}

/* The per-target metrics, in the order of their sections (all gauges). */
static const struct {
    const char *name, *help;
} target_metric[S_TAIL] = {
    [S_UP] = {"portwatch_target_up",
              "Target meets its expectation: 1 up, 0 down (after fail_after failed probes); "
              "NaN until first probed."},
    [S_STATE] = {"portwatch_target_state",
                 "State of the last probe as a state set: 1 for the current state, 0 for the "
                 "others; all 0 until first probed."},
    [S_LATENCY] = {"portwatch_target_latency_seconds",
                   "Connect time of the last probe; absent when it did not connect."},
    [S_VERIFY] = {"portwatch_target_verify",
                  "Protocol check of the last probe that connected: 1 with its result "
                  "(verified, mismatch, no_reply, off); absent when the last probe did not "
                  "connect."},
    [S_MAINTENANCE] = {"portwatch_target_maintenance",
                       "1 while an open maintenance window covers the target (its failures are "
                       "planned), with the window's name; absent otherwise."},
};

/* metric{LABELS} with the labels in lab; with one more label,
 * name="value" (n bytes), inside the braces. */
static void series(struct pw_buf *b, const char *metric, const struct pw_buf *lab,
                   const char *name, const char *value, size_t n)
{
    pw_buf_add(b, metric, strlen(metric));
    if (!name) {
        pw_buf_add(b, lab->p, lab->len);
        return;
    }
    pw_buf_add(b, lab->p, lab->len - 1);
    pw_buf_printf(b, ",%s=\"%.*s\"}", name, (int)n, value);
}

/* Whether row r has a series in section sec. Every planned target has up
 * and state from the start: up is NaN until the first probe (a
 * comparison with NaN is false, so `== 0` alerts wait), and no state is
 * 1. */
static bool has_series(const struct row *r, enum section sec)
{
    switch (sec) {
    case S_LATENCY:
        return r->has_result && r->latency_us >= 0;
    case S_VERIFY:
        return r->has_result && r->verify != PW_VERIFY_NONE && r->verify < PW_VERIFY_COUNT_;
    case S_MAINTENANCE:
        return r->window != 0;
    default:
        return true;
    }
}

/* Target i's lines of the current section. */
static void target_lines(struct scrape *g, struct pw_buf *b, size_t i)
{
    const struct row *r = &g->rows[i];
    if (!has_series(r, g->section))
        return;
    target_labels(g, r);
    const char *metric = target_metric[g->section].name, *name;
    switch (g->section) {
    case S_UP:
        series(b, metric, &g->lab, NULL, NULL, 0);
        pw_buf_printf(b, r->status == PW_STATUS_UNKNOWN ? " NaN\n" : " %d\n",
                      r->status == PW_STATUS_UP);
        break;
    case S_STATE:
        for (int k = 0; k < PW_STATE_COUNT_; k++) {
            name = pw_state_name((enum pw_state)k);
            series(b, metric, &g->lab, "state", name, strlen(name));
            pw_buf_printf(b, " %d\n", r->has_result && r->state == k);
        }
        break;
    case S_LATENCY:
        series(b, metric, &g->lab, NULL, NULL, 0);
        pw_buf_printf(b, " %.6f\n", (double)r->latency_us / 1e6);
        break;
    case S_VERIFY:
        name = pw_verify_name((enum pw_verify)r->verify);
        series(b, metric, &g->lab, "result", name, strlen(name));
        pw_buf_add(b, " 1\n", 3);
        break;
    case S_MAINTENANCE:
        series(b, metric, &g->lab, "window",
               g->text.p + g->win[r->window - 1], g->win[r->window] - g->win[r->window - 1]);
        pw_buf_add(b, " 1\n", 3);
        break;
    default:
        break;
    }
}

/* struct pw_body_source.next: the next PIECE_BYTES or so. */
static bool scrape_next(void *ud, struct pw_buf *b)
{
    struct scrape *g = ud;
    while (g->section != S_END && b->len < PIECE_BYTES && !b->oom && !g->lab.oom) {
        if (g->section == S_TAIL) {
            pw_buf_add(b, g->tail.p, g->tail.len);
            g->section = S_END;
        } else if (!g->headed) {
            head(b, target_metric[g->section].name, "gauge", target_metric[g->section].help);
            g->headed = true;
        } else if (g->i < g->n) {
            target_lines(g, b, g->i++);
        } else {
            g->section++;
            g->i = 0;
            g->headed = false;
        }
    }
    b->oom |= g->lab.oom;
    return g->section != S_END;
}

static void scrape_done(void *ud)
{
    scrape_free(ud);
}

/* A role's availability: 1 when every target serving it is up, 0 when
 * one is down, NaN while none is down but one is not yet probed. Roles are
 * collected per profile (few), then each target counts for its profile's. */
enum { ROLE_UP, ROLE_UNKNOWN, ROLE_DOWN };

static size_t role_index(const char **names, size_t *n, const char *role)
{
    for (size_t k = 0; k < *n; k++)
        if (strcmp(names[k], role) == 0)
            return k;
    names[*n] = role;
    return (*n)++;
}

static void role_series(struct pw_buf *b, const struct pw_snapshot *s, const struct pw_buf *id)
{
    const struct pw_plan *p = s->plan;
    size_t nslots = 0;
    for (size_t f = 0; f < p->nprofiles; f++)
        nslots += p->profiles[f].nroles;
    const char **names = malloc((nslots ? nslots : 1) * sizeof *names);
    size_t *idx = malloc((nslots ? nslots : 1) * sizeof *idx), *first = malloc(
        (p->nprofiles + 1) * sizeof *first);
    unsigned char *worst = calloc(nslots ? nslots : 1, 1);
    size_t nroles = 0;
    if (!names || !idx || !first || !worst) {
        b->oom = true;
        goto out;
    }
    for (size_t f = 0, o = 0; f < p->nprofiles; f++) {
        first[f] = o;
        for (size_t k = 0; k < p->profiles[f].nroles; k++)
            idx[o++] = role_index(names, &nroles, p->profiles[f].roles[k]);
    }
    first[p->nprofiles] = nslots;
    for (size_t i = 0; i < s->ntargets; i++) {
        size_t f = p->targets[i].profile;
        enum pw_status st = s->targets[i].status;
        unsigned char v = st == PW_STATUS_DOWN ? ROLE_DOWN
                          : st == PW_STATUS_UP ? ROLE_UP : ROLE_UNKNOWN;
        for (size_t o = first[f]; o < first[f + 1]; o++)
            if (v > worst[idx[o]])
                worst[idx[o]] = v;
    }
    head(b, "portwatch_role_up", "gauge",
         "Role available: 1 when every target serving it is up, 0 when one is down; "
         "NaN while none is down but one is not yet probed.");
    for (size_t k = 0; k < nroles; k++) {
        pw_buf_add(b, "portwatch_role_up{role=\"", 24);
        escape_label(b, names[k]);
        pw_buf_add(b, "\"", 1);
        pw_buf_add(b, id->p, id->len);
        pw_buf_printf(b, worst[k] == ROLE_UNKNOWN ? "} NaN\n" : "} %d\n", worst[k] == ROLE_UP);
    }
out:
    free(names);
    free(idx);
    free(first);
    free(worst);
}

/* Target counts and the engine's counters. */
static void engine_series(struct pw_buf *b, const struct pw_snapshot *s)
{
    size_t counts[3] = {0};
    for (size_t i = 0; i < s->ntargets; i++)
        if ((unsigned)s->targets[i].status < 3)
            counts[s->targets[i].status]++;
    head(b, "portwatch_targets", "gauge", "Targets by status.");
    for (int k = 0; k < 3; k++)
        pw_buf_printf(b, "portwatch_targets{status=\"%s\"} %zu\n",
                      pw_status_name((enum pw_status)k), counts[k]);

    const struct pw_engine_stats *st = &s->stats;
    head(b, "portwatch_probes_total", "counter", "Probe results by state since start.");
    for (int k = 0; k < PW_STATE_COUNT_; k++)
        pw_buf_printf(b, "portwatch_probes_total{state=\"%s\"} %llu\n",
                      pw_state_name((enum pw_state)k), (unsigned long long)st->probes[k]);
    head(b, "portwatch_probes_in_flight", "gauge", "Connection attempts under way.");
    pw_buf_printf(b, "portwatch_probes_in_flight %u\n", st->in_flight);
    head(b, "portwatch_probes_skipped_total", "counter",
         "Probes skipped because the target's previous probe was still outstanding.");
    pw_buf_printf(b, "portwatch_probes_skipped_total %llu\n", (unsigned long long)st->skipped);
    head(b, "portwatch_sweeps_total", "counter", "Completed sweeps over every target.");
    pw_buf_printf(b, "portwatch_sweeps_total %llu\n", (unsigned long long)st->sweeps);
    head(b, "portwatch_sweep_overruns_total", "counter",
         "Sweeps that did not finish within their interval.");
    pw_buf_printf(b, "portwatch_sweep_overruns_total %llu\n", (unsigned long long)st->overruns);
    if (st->sweeps) {
        head(b, "portwatch_sweep_duration_seconds", "gauge", "Duration of the last sweep.");
        pw_buf_printf(b, "portwatch_sweep_duration_seconds %.3f\n",
                      (double)st->last_sweep_duration_ms / 1e3);
        head(b, "portwatch_last_sweep_timestamp_seconds", "gauge",
             "When the last sweep ended (Unix time).");
        pw_buf_printf(b, "portwatch_last_sweep_timestamp_seconds %.3f\n",
                      (double)st->last_sweep_ms / 1e3);
    }
    head(b, "portwatch_outages_total", "counter",
         "Targets that went down, as observed between scrapes, since start.");
    pw_buf_printf(b, "portwatch_outages_total %llu\n", (unsigned long long)st->outages);
}

static void storage_series(struct pw_buf *b, struct pw_store *store)
{
    head(b, "portwatch_storage_up", "gauge",
         "History storage: 1 writing normally, 0 degraded or unavailable.");
    if (!store) {
        pw_buf_printf(b, "portwatch_storage_up 0\n");
        return;
    }
    struct pw_store_stats ss;
    pw_store_stats(store, &ss);
    pw_buf_printf(b, "portwatch_storage_up %d\n", ss.health.state == PW_STORE_OK);
    head(b, "portwatch_storage_results_written_total", "counter",
         "Probe results committed to the database.");
    pw_buf_printf(b, "portwatch_storage_results_written_total %llu\n",
                  (unsigned long long)ss.written);
    head(b, "portwatch_storage_results_dropped_total", "counter",
         "Probe results dropped (queue full or no synced plan).");
    pw_buf_printf(b, "portwatch_storage_results_dropped_total %llu\n",
                  (unsigned long long)ss.dropped);
    head(b, "portwatch_storage_queue_length", "gauge", "Results waiting to be written.");
    pw_buf_printf(b, "portwatch_storage_queue_length %u\n", ss.queued);
    head(b, "portwatch_storage_commit_seconds", "gauge", "Duration of the last commit.");
    pw_buf_printf(b, "portwatch_storage_commit_seconds %.6f\n",
                  (double)ss.commit_last_us / 1e6);
}

/* The HTTP server's own: connections the slow-client guard closed. */
static void http_series(struct pw_buf *b, const struct pw_req *r)
{
    struct pw_guard_stats gs;
    pw_req_guard_stats(r, &gs);
    head(b, "portwatch_http_connections", "gauge", "HTTP connections open.");
    pw_buf_printf(b, "portwatch_http_connections %u\n", gs.open);
    head(b, "portwatch_http_closed_total", "counter",
         "HTTP connections closed by portwatch: deadline, no whole request in time; "
         "reserve, the oldest still receiving, to keep slots for new clients.");
    pw_buf_printf(b, "portwatch_http_closed_total{reason=\"deadline\"} %llu\n",
                  (unsigned long long)gs.deadline_closed);
    pw_buf_printf(b, "portwatch_http_closed_total{reason=\"reserve\"} %llu\n",
                  (unsigned long long)gs.evicted);
}

/* The standard process_* series, and the build's version. */
static void process_series(struct pw_buf *b, const struct pw_buf *id)
{
    struct pw_process_stats ps;
    pw_web_process_read(&ps);
    head(b, "portwatch_build_info", "gauge",
         "1, labelled with the portwatch version and who watches (instance_name, vantage).");
    pw_buf_printf(b, "portwatch_build_info{version=\"%s\"", PW_VERSION);
    pw_buf_add(b, id->p, id->len);
    pw_buf_add(b, "} 1\n", 4);
    if (ps.cpu_s >= 0) {
        head(b, "process_cpu_seconds_total", "counter",
             "Total user and system CPU time spent in seconds.");
        pw_buf_printf(b, "process_cpu_seconds_total %.3f\n", ps.cpu_s);
    }
    if (ps.rss_bytes >= 0) {
        head(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        pw_buf_printf(b, "process_resident_memory_bytes %.0f\n", ps.rss_bytes);
    }
    if (ps.open_fds >= 0) {
        head(b, "process_open_fds", "gauge", "Number of open file descriptors.");
        pw_buf_printf(b, "process_open_fds %ld\n", ps.open_fds);
    }
    if (ps.start_s >= 0) {
        head(b, "process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
        pw_buf_printf(b, "process_start_time_seconds %.2f\n", ps.start_s);
    }
}

/* Every series after the targets': few, rendered at the request. */
static void tail_series(struct pw_buf *b, struct pw_req *r, const struct pw_buf *id)
{
    const struct pw_snapshot *s = r->view.snap;
    role_series(b, s, id);
    engine_series(b, s);
    storage_series(b, pw_req_store(r));
    epm_outside(b, pw_req_sources(r), id);
    http_series(b, r);
    process_series(b, id);
    head(b, "portwatch_snapshot_timestamp_seconds", "gauge",
         "When the state served here was taken (Unix time).");
    pw_buf_printf(b, "portwatch_snapshot_timestamp_seconds %.3f\n", (double)s->taken_ms / 1e3);
}

void pw_api_metrics(struct pw_req *r, struct pw_reply *out)
{
    struct scrape *g = calloc(1, sizeof *g);
    struct pw_buf seed = {0};
    if (g) {
        identity_labels(&g->id, r->view.snap->plan);
        tail_series(&g->tail, r, &g->id);
        /* The ETag's seed: the tail holds the snapshot's time and the
         * process's CPU time and memory; the maintenance windows are the
         * rest of what the body shows. */
        pw_buf_add(&seed, g->tail.p, g->tail.len);
        pw_buf_add(&seed, (const char *)&r->view.maint, sizeof r->view.maint);
    }
    if (!g || !copy_rows(g, &r->view) || g->id.oom || g->tail.oom || seed.oom) {
        if (g)
            scrape_free(g);
        free(seed.p);
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    /* done with the view: released now, not when the body has been sent */
    const struct pw_web_sources *src = pw_req_sources(r);
    src->release(src->ud, &r->view);
    r->has_view = false;
    out->vary_encoding = true;
    pw_reply_stream(out, "text/plain; version=0.0.4; charset=utf-8",
                    &(struct pw_body_source){scrape_next, scrape_done, g}, seed.p, seed.len);
    free(seed.p);
}
