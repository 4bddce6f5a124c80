/*
 * Incidents as log lines (see incident_log.h). Each incident keeps its
 * ports (down or back up) and a count of its lines not yet written, so it
 * is announced after its first down line and closed after its last up
 * line, never while a line that names it is still gathering in
 * transitions.c.
 *
 * A change that links two open incidents (sql01's HTTP server where SQL
 * Server should be, then a refusal on sql01 like bts01's a moment before)
 * merges the later into the earlier, as the history's incidents do; the
 * later one is said to join it. Lines still gathering hold the merged
 * incident, which forwards to the one it joined and is freed with the last
 * of them.
 */
#include "base/text.h"
#include "daemon/incident_log.h"

#include "config/values.h"
#include "daemon/log.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct member {
    char *host;
    uint16_t port;
    bool down;
};

struct pw_live_incident {
    struct pw_live_incident *next;
    uint64_t seq;
    int64_t first_ms, last_up_ms;
    char *cause, *breaks;   /* of its first change */
    struct member *m;
    size_t n, cap, down;    /* ports, and those still down */
    size_t pending;         /* lines not yet written that name it (or, for
                               one merged, that name it and forward) */
    bool announced;
    struct pw_live_incident *joined; /* merged into this one */
};

static void incident_free(struct pw_live_incident *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->m[i].host);
    free(x->m);
    free(x->cause);
    free(x->breaks);
    free(x);
}

static bool has_host(const struct pw_live_incident *x, const char *host)
{
    for (size_t i = 0; i < x->n; i++)
        if (pw_strcasecmp(x->m[i].host, host) == 0)
            return true;
    return false;
}

static struct pw_live_incident *incident_new(struct pw_incident_log *l, const char *cause,
                                             const char *breaks, int64_t at_ms)
{
    struct pw_live_incident *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->cause = strdup(cause);
    x->breaks = strdup(breaks);
    if (!x->cause || !x->breaks) {
        incident_free(x);
        return NULL;
    }
    x->first_ms = at_ms; /* its number comes when it is announced */
    x->next = l->head;
    l->head = x;
    return x;
}

static bool room(struct pw_live_incident *x, size_t more)
{
    if (x->n + more <= x->cap)
        return true;
    size_t cap = x->cap ? x->cap : 8;
    while (cap < x->n + more)
        cap *= 2;
    struct member *m = realloc(x->m, cap * sizeof *m);
    if (!m)
        return false;
    x->m = m;
    x->cap = cap;
    return true;
}

static void unlink_incident(struct pw_incident_log *l, struct pw_live_incident *x)
{
    for (struct pw_live_incident **pp = &l->head; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            return;
        }
}

/* Moves from's ports and pending lines into `into` (the earlier). */
static void merge(struct pw_incident_log *l, struct pw_live_incident *into,
                  struct pw_live_incident *from)
{
    if (!room(into, from->n))
        return; /* out of memory: they stay two */
    memcpy(into->m + into->n, from->m, from->n * sizeof *from->m);
    into->n += from->n;
    into->down += from->down;
    into->pending += from->pending;
    from->n = from->down = 0;
    from->joined = into;
    unlink_incident(l, from);
    if (from->announced && !into->announced) { /* the one already named goes on */
        into->seq = from->seq;
        into->announced = true;
    } else if (from->announced) {
        pw_log_event_id(PW_EVENT_INCIDENT, PW_LOG_WARN,
                        "incident %llu joins incident %llu: they began together on a shared "
                        "host or with a shared cause", (unsigned long long)from->seq,
                        (unsigned long long)into->seq);
    }
    if (!from->pending)
        incident_free(from);
}

/* The open incident a change on host with cause at at_ms belongs to: the
 * earliest that began within the window and shares the host or the cause,
 * with every other such incident merged into it; NULL when none. */
static struct pw_live_incident *match(struct pw_incident_log *l, const char *host,
                                      const char *cause, int64_t at_ms, int64_t window_ms)
{
    struct pw_live_incident *best = NULL;
    for (struct pw_live_incident *x = l->head; x; x = x->next)
        if (x->first_ms >= at_ms - window_ms &&
            (has_host(x, host) || strcmp(x->cause, cause) == 0) &&
            (!best || x->first_ms < best->first_ms))
            best = x;
    for (struct pw_live_incident *x = l->head, *next; best && x; x = next) {
        next = x->next;
        if (x != best && x->first_ms >= at_ms - window_ms &&
            (has_host(x, host) || strcmp(x->cause, cause) == 0))
            merge(l, best, x);
    }
    return best;
}

struct pw_live_incident *pw_incident_down(struct pw_incident_log *l, const char *host,
                                          uint16_t port, const char *cause, const char *breaks,
                                          int64_t at_ms, int64_t window_ms)
{
    struct pw_live_incident *x = match(l, host, cause, at_ms, window_ms);
    if (!x && !(x = incident_new(l, cause, breaks, at_ms)))
        return NULL;
    if (!room(x, 1))
        return NULL;
    char *h = strdup(host);
    if (!h)
        return NULL;
    x->m[x->n++] = (struct member){h, port, true};
    x->down++;
    x->pending++;
    return x;
}

struct pw_live_incident *pw_incident_up(struct pw_incident_log *l, const char *host,
                                        uint16_t port, int64_t at_ms)
{
    for (struct pw_live_incident *x = l->head; x; x = x->next)
        for (size_t i = 0; i < x->n; i++)
            if (x->m[i].down && x->m[i].port == port &&
                pw_strcasecmp(x->m[i].host, host) == 0) {
                x->m[i].down = false;
                x->down--;
                x->pending++;
                x->last_up_ms = at_ms > x->last_up_ms ? at_ms : x->last_up_ms;
                return x;
            }
    return NULL;
}

/* "sql01 port 1433; bts01 ports 50000-50200 (201)": the ports by host, in
 * the order the hosts joined. */
static void where(const struct pw_live_incident *x, char *buf, size_t len)
{
    size_t used = 0;
    uint16_t *ports = malloc((x->n ? x->n : 1) * sizeof *ports);
    buf[0] = '\0';
    for (size_t i = 0; ports && i < x->n && used < len; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = pw_strcasecmp(x->m[k].host, x->m[i].host) == 0;
        if (seen)
            continue;
        size_t np = 0;
        for (size_t k = i; k < x->n; k++)
            if (pw_strcasecmp(x->m[k].host, x->m[i].host) == 0)
                ports[np++] = x->m[k].port;
        char text[512];
        pw_transitions_ports_text(ports, np, text, sizeof text);
        used += (size_t)snprintf(buf + used, len - used, "%s%s %s", used ? "; " : "",
                                 x->m[i].host, text);
    }
    free(ports);
}

void pw_incident_written(struct pw_incident_log *l, struct pw_live_incident *x)
{
    if (!x)
        return;
    while (x->joined) { /* merged: the line counts for the one it joined */
        struct pw_live_incident *into = x->joined;
        if (--x->pending == 0)
            incident_free(x);
        x = into;
    }
    char at[40], w[1024];
    if (!x->announced) {
        x->announced = true;
        x->seq = ++l->seq;
        where(x, w, sizeof w);
        pw_log_event_id(PW_EVENT_INCIDENT, PW_LOG_WARN, "incident %llu opened: %s: %s%s",
                        (unsigned long long)x->seq, w, x->cause, x->breaks);
    }
    if (--x->pending || x->down)
        return;
    char took[32];
    int64_t d = x->last_up_ms - x->first_ms;
    pw_format_duration(d >= 1000 ? d / 1000 * 1000 : (d > 0 ? d : 0), took, sizeof took);
    pw_format_rfc3339(x->first_ms, at, sizeof at);
    where(x, w, sizeof w);
    pw_log_event_id(PW_EVENT_INCIDENT, PW_LOG_INFO,
                    "incident %llu closed after %s: %s; was %s; began at %s",
                    (unsigned long long)x->seq, took, w, x->cause, at);
    unlink_incident(l, x);
    incident_free(x);
}

uint64_t pw_incident_number(const struct pw_live_incident *x)
{
    while (x && x->joined)
        x = x->joined;
    return x && x->announced ? x->seq : 0;
}

/* Merged incidents still named by pending lines are freed by their last
 * pw_incident_written (transitions.c writes every pending line first). */
void pw_incident_log_free(struct pw_incident_log *l)
{
    while (l->head) {
        struct pw_live_incident *x = l->head;
        l->head = x->next;
        incident_free(x);
    }
}
