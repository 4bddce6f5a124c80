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
#include "web/gzip.h"
#include "web/maintenance.h"
#include "web/process.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void escape_label_n(struct pw_buf *b, const char *s, size_t n)
{
    for (const char *end = s + n; s < end; s++) {
        switch (*s) {
        case '\\':
            pw_buf_add(b, "\\\\", 2);
            break;
        case '"':
            pw_buf_add(b, "\\\"", 2);
            break;
        case '\n':
            pw_buf_add(b, "\\n", 2);
            break;
        default:
            pw_buf_add(b, s, 1);
        }
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

/* Appends {host="...",port="...",roles="...",IDENTITY} for target i. */
static void target_labels(struct pw_buf *b, const struct pw_plan *p, size_t i,
                          const struct pw_buf *id)
{
    const struct pw_target *t = &p->targets[i];
    const struct pw_profile *pf = pw_target_profile(p, t);
    pw_buf_add(b, "{host=\"", 7);
    escape_label(b, p->hosts[t->host].name);
    pw_buf_printf(b, "\",port=\"%u\",roles=\"", t->port);
    for (size_t k = 0; k < pf->nroles; k++) {
        if (k)
            pw_buf_add(b, ",", 1);
        escape_label(b, pf->roles[k]);
    }
    pw_buf_add(b, "\"", 1);
    pw_buf_add(b, id->p, id->len);
    pw_buf_add(b, "}", 1);
}

/* A target's series with one more label: its labels without the closing
 * brace, then name="value"}. */
static void series_with(struct pw_buf *b, const char *metric, const struct pw_buf *lab,
                        const size_t *loff, size_t i, const char *name, const char *value)
{
    pw_buf_add(b, metric, strlen(metric));
    pw_buf_add(b, lab->p + loff[i], loff[i + 1] - loff[i] - 1);
    pw_buf_printf(b, ",%s=\"%s\"}", name, value);
}

/* Every planned target has up and state from the start: up is NaN until
 * the first probe (a comparison with NaN is false, so `== 0` alerts wait),
 * and no state is 1. */
static void up_and_state(struct pw_buf *b, const struct pw_snapshot *s, const struct pw_buf *lab,
                         const size_t *loff)
{
    head(b, "portwatch_target_up", "gauge",
         "Target meets its expectation: 1 up, 0 down (after fail_after failed probes); "
         "NaN until first probed.");
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *t = &s->targets[i];
        pw_buf_add(b, "portwatch_target_up", 19);
        pw_buf_add(b, lab->p + loff[i], loff[i + 1] - loff[i]);
        pw_buf_printf(b, t->status == PW_STATUS_UNKNOWN ? " NaN\n" : " %d\n",
                      t->status == PW_STATUS_UP);
    }
    head(b, "portwatch_target_state", "gauge",
         "State of the last probe as a state set: 1 for the current state, 0 for the "
         "others; all 0 until first probed.");
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *t = &s->targets[i];
        for (int k = 0; k < PW_STATE_COUNT_; k++) {
            series_with(b, "portwatch_target_state", lab, loff, i, "state",
                        pw_state_name((enum pw_state)k));
            pw_buf_printf(b, " %d\n", t->has_result && (int)t->state == k);
        }
    }
}

/* Every per-target series: the label sets are built once and shared. */
static void target_series(struct pw_buf *b, const struct pw_web_view *v, const struct pw_buf *id)
{
    const struct pw_snapshot *s = v->snap;
    const struct pw_plan *p = s->plan;
    struct pw_buf lab = {0};
    size_t *loff = malloc((s->ntargets + 1) * sizeof *loff);
    if (!loff) {
        b->oom = true;
        return;
    }
    for (size_t i = 0; i < s->ntargets; i++) {
        loff[i] = lab.len;
        target_labels(&lab, p, i, id);
    }
    loff[s->ntargets] = lab.len;
    if (lab.oom) {
        free(loff);
        free(lab.p);
        b->oom = true;
        return;
    }
    up_and_state(b, s, &lab, loff);
    head(b, "portwatch_target_latency_seconds", "gauge",
         "Connect time of the last probe; absent when it did not connect.");
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *t = &s->targets[i];
        if (!t->has_result || t->latency_us < 0)
            continue;
        pw_buf_add(b, "portwatch_target_latency_seconds", 32);
        pw_buf_add(b, lab.p + loff[i], loff[i + 1] - loff[i]);
        pw_buf_printf(b, " %.6f\n", (double)t->latency_us / 1e6);
    }
    head(b, "portwatch_target_verify", "gauge",
         "Protocol check of the last probe that connected: 1 with its result "
         "(verified, mismatch, no_reply, off); absent when the last probe did not connect.");
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *t = &s->targets[i];
        if (!t->has_result || t->verify == PW_VERIFY_NONE ||
            (unsigned)t->verify >= PW_VERIFY_COUNT_)
            continue;
        series_with(b, "portwatch_target_verify", &lab, loff, i, "result",
                    pw_verify_name(t->verify));
        pw_buf_add(b, " 1\n", 3);
    }
    head(b, "portwatch_target_maintenance", "gauge",
         "1 while an open maintenance window covers the target (its failures are planned), "
         "with the window's name; absent otherwise.");
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_web_window *w = pw_web_maint_of(v, i);
        if (w) { /* names are letters, digits, '-', '_' and '.': no escaping */
            series_with(b, "portwatch_target_maintenance", &lab, loff, i, "window", w->name);
            pw_buf_add(b, " 1\n", 3);
        }
    }
    free(loff);
    free(lab.p);
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

void pw_api_metrics(struct pw_req *r, struct pw_reply *out)
{
    const struct pw_snapshot *s = r->view.snap;
    struct pw_buf b = {0}, id = {0};
    identity_labels(&id, s->plan);
    target_series(&b, &r->view, &id);
    role_series(&b, s, &id);
    engine_series(&b, s);
    storage_series(&b, pw_req_store(r));
    epm_outside(&b, pw_req_sources(r), &id);
    http_series(&b, r);
    process_series(&b, &id);
    b.oom |= id.oom;
    free(id.p);
    head(&b, "portwatch_snapshot_timestamp_seconds", "gauge",
         "When the state served here was taken (Unix time).");
    pw_buf_printf(&b, "portwatch_snapshot_timestamp_seconds %.3f\n", (double)s->taken_ms / 1e3);
    if (b.oom) {
        free(b.p);
        pw_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    /* a scrape of 4,100 targets is megabytes of repeated labels */
    size_t zlen;
    char *z = out->gzip_ok ? pw_web_gzip(b.p, b.len, &zlen) : NULL;
    out->vary_encoding = true;
    if (z) {
        free(b.p);
        pw_reply_text(out, 200, "text/plain; version=0.0.4; charset=utf-8", z, zlen);
        out->gzipped = true;
        return;
    }
    pw_reply_text(out, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
}
