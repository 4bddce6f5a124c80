/*
 * Every status change of a target is written to the daemon's log (the
 * journal, the log file, and on Windows the Event Log): what an operator
 * greps at 3 a.m.
 *
 * Changes that share a host, a new status, a cause and the tasks they
 * break make one line, their ports summarized as ranges, so a firewall
 * change that drops 201 RPC ports reads as one line, not 201:
 *
 *   down: bts01 ports 50000-50200 (201): filtered: no answer within the
 *         timeout (a firewall drops it); breaks: ... [processing_servers];
 *         first at 2026-12-02T14:02:03Z
 *   up: sql01 port 1433: open: SQL Server answered (TDS 16.0.1000, ...)
 *
 * Ports of one profile are probed at different moments of the interval
 * (starts are spread over it), so such a change reaches us over up to one
 * interval. A group is therefore written once every target of its host
 * that could join it has (a lone SQL Server port: at once), or one
 * interval and timeout after its first change, whichever comes first; the
 * line names the time of its first change. A group owns its texts, so a
 * reload does not disturb it; what is pending at stop is written then, and
 * the engine's last results after that at once.
 *
 * A target's first result after start (or after a reload added it) is a
 * change from unknown and is written too, so the log shows what the daemon
 * found. Down lines are warnings, up lines information.
 */
#include "daemon/transitions.h"

#include "base/clock.h"
#include "config/values.h"
#include "daemon/incident_log.h"
#include "daemon/log.h"
#include "probes/cause.h"
#include "store/store.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 1000

/* One line being gathered. Owns copies of its texts: it outlives the
 * plan that produced it when a reload comes between. */
struct pw_transition_group {
    struct pw_transition_group *next;
    char *host, *cause, *breaks;
    enum pw_status status;
    int64_t first_ms;    /* wall clock of its first change */
    uint64_t deadline;   /* loop time (uv_now) to write it by */
    size_t want; /* targets that could join: then it is complete */
    uint16_t *ports;
    struct pw_live_incident **inc; /* of each port (NULL: none) */
    size_t n, cap;
};

static void group_free(struct pw_transition_group *g)
{
    free(g->host);
    free(g->cause);
    free(g->breaks);
    free(g->ports);
    free(g->inc);
    free(g);
}

static int port_cmp(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* "port 1433" or "ports 135, 445, 50000-50200 (203)": the ports as ranges,
 * written by the configuration's own port-list formatter. */
void pw_transitions_ports_text(uint16_t *ports, size_t n, char *buf, size_t len)
{
    qsort(ports, n, sizeof *ports, port_cmp);
    struct pw_port_range r[64];
    struct pw_portset set = {r, 0};
    size_t count = 0; /* a port that went down, up and down again is there twice */
    for (size_t i = 0; i < n; i++) {
        if (i && ports[i] == ports[i - 1])
            continue;
        count++;
        if (set.n && ports[i] == set.r[set.n - 1].hi + 1)
            set.r[set.n - 1].hi = ports[i];
        else if (set.n < sizeof r / sizeof r[0])
            set.r[set.n++] = (struct pw_port_range){ports[i], ports[i]};
    }
    char list[448];
    pw_portset_format(&set, list, sizeof list);
    if (count == 1)
        snprintf(buf, len, "port %s", list);
    else
        snprintf(buf, len, "ports %s%s (%zu)", list,
                 set.n == sizeof r / sizeof r[0] ? ", ..." : "", count);
}

static void group_write(struct pw_transition_group *g, struct pw_incident_log *incidents)
{
    char ports[512], at[40] = "";
    uint16_t *sorted = malloc((g->n ? g->n : 1) * sizeof *sorted);
    if (sorted) /* sorted apart: g->inc[k] belongs to g->ports[k] */
        memcpy(sorted, g->ports, g->n * sizeof *sorted);
    pw_transitions_ports_text(sorted ? sorted : g->ports, sorted ? g->n : 0, ports,
                              sizeof ports);
    free(sorted);
    if (g->n > 1) /* a lone change is logged as it happens */
        pw_format_rfc3339(g->first_ms, at, sizeof at);
    bool down = g->status == PW_STATUS_DOWN;
    /* a line of an incident already announced names it, for grep */
    uint64_t inc = g->n ? pw_incident_number(g->inc[0]) : 0;
    for (size_t k = 1; k < g->n && inc; k++)
        inc = pw_incident_number(g->inc[k]) == inc ? inc : 0;
    char part[48] = "";
    if (inc)
        snprintf(part, sizeof part, "; incident %llu", (unsigned long long)inc);
    pw_log_event_id(down ? PW_EVENT_TARGET_DOWN : PW_EVENT_TARGET_UP, down ? PW_LOG_WARN : PW_LOG_INFO,
                    "%s: %s %s: %s%s%s%s%s", pw_status_name(g->status), g->host, ports, g->cause,
                    g->breaks, at[0] ? "; first at " : "", at, part);
    /* then the incidents it opens or closes */
    for (size_t k = 0; k < g->n; k++)
        pw_incident_written(incidents, g->inc[k]);
}

/* "; breaks: TEXT [role]; TEXT [role]" for a down line, from the
 * profile's reasons; "" for an up line. */
static void breaks_text(const struct pw_profile *pr, bool down, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; down && i < pr->nreasons && used < len; i++) {
        const struct pw_reason *why = &pr->reasons[i];
        used += (size_t)snprintf(buf + used, len - used, "%s%s [%s]",
                                 i ? "; " : "; breaks: ", why->text, why->role);
    }
}

/* Targets of t's host that share t's profile: how many may join its group. */
static size_t host_peers(const struct pw_plan *p, const struct pw_target *t)
{
    const struct pw_host *h = &p->hosts[t->host];
    size_t n = 0;
    for (uint32_t i = h->first; i < h->first + h->n; i++)
        n += p->targets[i].profile == t->profile;
    return n;
}

static struct pw_transition_group *group_find(struct pw_transitions *tr, const char *host,
                                              enum pw_status status, const char *cause,
                                              const char *breaks)
{
    for (struct pw_transition_group *g = tr->head; g; g = g->next)
        if (g->status == status && strcmp(g->host, host) == 0 &&
            strcmp(g->cause, cause) == 0 && strcmp(g->breaks, breaks) == 0)
            return g;
    return NULL;
}

static struct pw_transition_group *group_new(struct pw_transitions *tr, const struct pw_plan *p,
                                             const struct pw_result *r, const char *cause,
                                             const char *breaks)
{
    const struct pw_target *t = &p->targets[r->target];
    const struct pw_profile *pr = &p->profiles[t->profile];
    struct pw_transition_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->host = strdup(p->hosts[t->host].name);
    g->cause = strdup(cause);
    g->breaks = strdup(breaks);
    if (!g->host || !g->cause || !g->breaks) {
        group_free(g);
        return NULL;
    }
    g->status = r->status;
    g->first_ms = r->at_ms;
    g->deadline = uv_now(tr->timer.loop) + (uint64_t)(pr->interval_ms + pr->timeout_ms);
    g->want = host_peers(p, t);
    g->next = tr->head;
    tr->head = g;
    return g;
}

/* The incident a change opens, joins or (coming up) leaves; none after
 * close, when nothing is gathered any more. */
static struct pw_live_incident *incident_of(struct pw_transitions *tr, const char *host,
                                            uint16_t port, const struct pw_profile *pr,
                                            const struct pw_result *r, const char *cause,
                                            const char *breaks)
{
    if (tr->closing)
        return NULL;
    if (r->status == PW_STATUS_DOWN)
        return pw_incident_down(&tr->incidents, host, port, cause, breaks, r->at_ms,
                                pr->interval_ms + pr->timeout_ms);
    if (r->status == PW_STATUS_UP)
        return pw_incident_up(&tr->incidents, host, port, r->at_ms);
    return NULL;
}

/* Adds one change to its group; false when out of memory. */
static bool add_change(struct pw_transitions *tr, const struct pw_plan *p,
                       const struct pw_result *r)
{
    const struct pw_target *t = &p->targets[r->target];
    const struct pw_profile *pr = &p->profiles[t->profile];
    const char *service = pw_target_service(p, r->target);
    char cause[256], breaks[1024];
    pw_cause_format(r->state, r->verify, r->verify_info, r->detail, service, cause, sizeof cause);
    breaks_text(pr, r->status == PW_STATUS_DOWN, breaks, sizeof breaks);
    const char *host = p->hosts[t->host].name;
    struct pw_transition_group *g = group_find(tr, host, r->status, cause, breaks);
    if (!g && !(g = group_new(tr, p, r, cause, breaks)))
        return false;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        uint16_t *ports = realloc(g->ports, cap * sizeof *ports);
        if (ports)
            g->ports = ports;
        struct pw_live_incident **inc = ports ? realloc(g->inc, cap * sizeof *inc) : NULL;
        if (!inc)
            return false;
        g->inc = inc;
        g->cap = cap;
    }
    g->inc[g->n] = incident_of(tr, host, t->port, pr, r, cause, breaks);
    g->ports[g->n++] = t->port;
    return true;
}

/* Writes and drops the groups that are complete, past their deadline, or
 * all of them (force). */
static void flush(struct pw_transitions *tr, bool force)
{
    uint64_t now = uv_now(tr->timer.loop);
    for (struct pw_transition_group **pp = &tr->head; *pp;) {
        struct pw_transition_group *g = *pp;
        if (force || g->n >= g->want || now >= g->deadline) {
            group_write(g, &tr->incidents);
            *pp = g->next;
            group_free(g);
        } else {
            pp = &g->next;
        }
    }
    if (!tr->head && !tr->closing)
        uv_timer_stop(&tr->timer);
}

static void on_tick(uv_timer_t *t)
{
    struct pw_transitions *tr = t->data;
    flush(tr, false);
}

void pw_transitions_init(struct pw_transitions *tr, uv_loop_t *loop)
{
    memset(tr, 0, sizeof *tr);
    uv_timer_init(loop, &tr->timer);
    tr->timer.data = tr;
}

void pw_transitions_add(struct pw_transitions *tr, const struct pw_plan *p,
                        const struct pw_result *r, size_t n)
{
    size_t lost = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].status_changed && r[i].target < p->ntargets && !add_change(tr, p, &r[i]))
            lost++;
    if (lost)
        pw_log(PW_LOG_WARN, "out of memory: %zu status changes are not logged", lost);
    flush(tr, tr->closing);
    if (tr->head && !uv_is_active((uv_handle_t *)&tr->timer))
        uv_timer_start(&tr->timer, on_tick, TICK_MS, TICK_MS);
}

void pw_transitions_close(struct pw_transitions *tr)
{
    flush(tr, true); /* every pending group */
    pw_incident_log_free(&tr->incidents); /* still open: the history keeps them */
    tr->closing = true;
    uv_close((uv_handle_t *)&tr->timer, NULL);
}

void pw_transitions_log_gap(struct pw_store *st, int64_t now_ms)
{
    struct pw_store_run *v;
    size_t n;
    if (!st || pw_store_query_runs(st, 0, now_ms, &v, &n) != 0)
        return;
    const struct pw_store_run *last = NULL; /* the latest ended run */
    for (size_t i = 0; i < n; i++)
        if (v[i].ended_ms > 0 && (!last || v[i].ended_ms > last->ended_ms))
            last = &v[i];
    if (last && now_ms - last->ended_ms >= 1000)
        pw_transitions_log_gap_line(last->ended_ms, now_ms, pw_store_run_end_text(last->end));
    free(v);
}

void pw_transitions_log_gap_line(int64_t from_ms, int64_t to_ms, const char *why)
{
    char from[40], to[40], took[32];
    pw_format_rfc3339(from_ms, from, sizeof from);
    pw_format_rfc3339(to_ms, to, sizeof to);
    pw_format_duration((to_ms - from_ms) / 1000 * 1000, took, sizeof took);
    pw_log_event(PW_LOG_WARN, "monitoring gap: from %s to %s (%s) %s; that time counts as not "
                 "monitored", from, to, took, why);
}
