/*
 * Incidents computed from the outages table at query time (see
 * store_incidents.h): load the outages near the range with the state run
 * each began in, group those that began together, then keep the groups the
 * filter asks for. Grouping runs over every outage near the range, not only
 * the filtered ones, so an incident is the same (same id, same outages)
 * whichever host or role it is asked for by.
 */
#include "store/store_incidents.h"

#include "store/query_int.h"
#include "store/store_maint.h"

#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW_MS 60000
/* With a limit, incidents are found a period at a time from the range's
 * end back: the first an hour, each next one 4 times longer. */
#define FIRST_PERIOD_MS 3600000

/* Outages that began in [from, to), or, the oldest period, every one that
 * began before `to` and ended after `floor` (the range's start less a
 * window): no incident has outages both in a period and outside. */
struct period {
    int64_t floor, from, to;
    bool oldest;
};

/* The outages of a period, oldest start first (?1 its floor, ?2 its end, ?3
 * its start, or the smallest integer for the oldest), an open port's (a
 * wrong service, no reply) with the verification of the state run it began
 * in: the newest run of its target that began at or before it. Only those
 * need it, and looking it up for every outage took three times as long. */
#define BEGAN_IN(col)                                                                      \
    "(SELECT " col " FROM state_runs WHERE target_id=o.target_id AND first_ms<=o.start_ms"  \
    " ORDER BY first_ms DESC LIMIT 1)"
_Static_assert(PW_STATE_OPEN == 0, "load_sql names the open state 0");
static const char load_sql[] =
    "SELECT o.id, o.target_id, t.host, t.port, t.roles, o.start_ms, coalesce(o.end_ms,-1),"
    " o.state, CASE WHEN o.state=0 THEN coalesce(" BEGAN_IN("verify") ",0) ELSE 0 END,"
    " CASE WHEN o.state=0 THEN coalesce(" BEGAN_IN("verify_info") ",'') ELSE '' END, o.detail"
    " FROM outages o JOIN targets t ON t.id=o.target_id"
    " WHERE o.start_ms<?2 AND o.start_ms>=?3 AND (o.end_ms IS NULL OR o.end_ms>?1)"
    " ORDER BY o.start_ms, o.id";

static void fill_target(sqlite3_stmt *s, struct pw_store_incident_target *x)
{
    memset(x, 0, sizeof *x);
    x->outage_id = sqlite3_column_int64(s, 0);
    x->target_id = (uint32_t)sqlite3_column_int64(s, 1);
    sq_text_col(s, 2, x->host, sizeof x->host);
    x->port = (uint16_t)sqlite3_column_int(s, 3);
    sq_text_col(s, 4, x->roles, sizeof x->roles);
    x->start_ms = sqlite3_column_int64(s, 5);
    x->end_ms = sqlite3_column_int64(s, 6);
    int state = sqlite3_column_int(s, 7), verify = sqlite3_column_int(s, 8);
    x->state = state >= 0 && state < PW_STATE_COUNT_ ? (enum pw_state)state : PW_STATE_ERROR;
    x->verify = verify >= 0 && verify < PW_VERIFY_COUNT_ ? (enum pw_verify)verify
                                                         : PW_VERIFY_NONE;
    sq_text_col(s, 9, x->verify_info, sizeof x->verify_info);
    sq_text_col(s, 10, x->detail, sizeof x->detail);
}

static int load_outages(sqlite3 *db, const struct period *p,
                        struct pw_store_incident_target **out, size_t *n)
{
    sqlite3_stmt *s;
    int rc = sq_prepare3(db, load_sql, &s, p->floor, p->to, p->oldest ? INT64_MIN : p->from);
    if (rc)
        return rc;
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct pw_store_incident_target *nv = sq_grow(*out, &cap, *n, sizeof *nv, 64);
        if (!nv) {
            rc = PW_ENOMEM;
            break;
        }
        *out = nv;
        fill_target(s, &nv[(*n)++]);
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    return rc;
}

static int check_scope(sqlite3 *db, const struct pw_store_incident_filter *f)
{
    bool host_ok, role_ok;
    int rc = sq_known(db, f->host, f->role, &host_ok, &role_ok);
    return rc ? rc : host_ok && role_ok ? 0 : PW_ENOT_FOUND;
}

/* Same cause: the same failing state, and for an accepted connection the
 * same verdict of the exchange (a mismatch is not a no-reply). */
static bool same_cause(const struct pw_store_incident_target *a,
                       const struct pw_store_incident_target *b)
{
    return a->state == b->state && (a->state != PW_STATE_OPEN || a->verify == b->verify);
}

/* The root of i's incident: its first outage (parents point to earlier
 * outages only). */
static size_t root_of(size_t *inc, size_t i)
{
    while (inc[i] != i) {
        inc[i] = inc[inc[i]]; /* halve the path */
        i = inc[i];
    }
    return i;
}

/* inc[i] = the index (in t) of the first outage of i's incident. t is
 * sorted by start. Outage i joins every earlier incident that began at
 * most window before it and has an outage sharing i's host or cause, and
 * those incidents become one: the HTTP server answering where SQL Server
 * should be on sql01 and a refusal on sql01 and on bts01 in the same
 * sweep are one event, whatever order the probes met them in. An incident
 * still spans at most one window of starts, so a port that flaps every
 * sweep does not chain a day into one incident. */
static void group(const struct pw_store_incident_target *t, size_t n, int64_t window,
                  size_t *inc)
{
    size_t lo = 0;
    for (size_t i = 0; i < n; i++) {
        inc[i] = i;
        int64_t since = t[i].start_ms - window;
        while (lo < i && t[lo].start_ms < since)
            lo++;
        for (size_t j = lo; j < i; j++) {
            size_t rj = root_of(inc, j), ri = root_of(inc, i);
            if (rj == ri || t[rj].start_ms < since || t[ri].start_ms < since)
                continue;
            if (sqlite3_stricmp(t[j].host, t[i].host) == 0 || same_cause(&t[j], &t[i])) {
                /* the earlier first outage stays the root */
                if (rj < ri)
                    inc[ri] = rj;
                else
                    inc[rj] = ri;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        inc[i] = root_of(inc, i);
}

bool pw_store_roles_have(const char *roles, const char *role)
{
    size_t rl = strlen(role);
    for (const char *p = roles; *p;) {
        size_t l = strcspn(p, ",");
        if (l == rl && strncmp(p, role, l) == 0)
            return true;
        p += l + (p[l] == ',');
    }
    return false;
}

/* Whether the incident made of t[0..n) passes f. */
static bool wanted(const struct pw_store_incident_filter *f,
                   const struct pw_store_incident *in,
                   const struct pw_store_incident_target *t)
{
    if (in->start_ms >= f->to_ms || (in->end_ms >= 0 && in->end_ms <= f->from_ms))
        return false;
    if (f->open >= 0 && (in->end_ms < 0) != (f->open == 1))
        return false;
    bool host = !f->host, role = !f->role;
    for (size_t k = 0; k < in->n; k++) {
        host |= f->host && sqlite3_stricmp(t[k].host, f->host) == 0;
        role |= f->role && pw_store_roles_have(t[k].roles, f->role);
    }
    return host && role;
}

struct member {
    size_t root, i;
};

static int member_cmp(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    if (a->root != b->root)
        return a->root < b->root ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Appends to out the incidents of the grouped outages t[0..n) (inc from
 * group()): each incident's outages contiguous in out->t, the incidents
 * passing f newest first after those out->v had. */
static int build(const struct pw_store_incident_filter *f,
                 const struct pw_store_incident_target *t, size_t n, const size_t *inc,
                 struct pw_store_incident_list *out)
{
    struct member *m = malloc((n ? n : 1) * sizeof *m);
    struct pw_store_incident_target *nt = realloc(out->t, (out->nt + n + 1) * sizeof *nt);
    if (nt)
        out->t = nt;
    struct pw_store_incident *nv = realloc(out->v, (out->n + n + 1) * sizeof *nv);
    if (nv)
        out->v = nv;
    if (!m || !nt || !nv) {
        free(m);
        return PW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        m[i] = (struct member){inc[i], i};
    qsort(m, n, sizeof *m, member_cmp);
    size_t had = out->n;
    for (size_t i = 0; i < n;) {
        struct pw_store_incident in = {.start_ms = t[m[i].root].start_ms, .first = out->nt};
        const struct pw_store_incident_target *first = &t[m[i].root];
        snprintf(in.id, sizeof in.id, "%lld-%lld", (long long)first->start_ms,
                 (long long)first->outage_id);
        size_t j = i;
        for (; j < n && m[j].root == m[i].root; j++) {
            const struct pw_store_incident_target *x = &t[m[j].i];
            out->t[out->nt++] = *x;
            if (in.end_ms >= 0)
                in.end_ms = x->end_ms < 0 ? -1 : max64(in.end_ms, x->end_ms);
        }
        in.n = j - i;
        if (wanted(f, &in, &out->t[in.first]))
            out->v[out->n++] = in;
        else
            out->nt = in.first;
        i = j;
    }
    free(m);
    /* oldest first so far: newest first, as the outages list */
    for (size_t a = had, b = out->n; a + 1 < b; a++, b--) {
        struct pw_store_incident x = out->v[a];
        out->v[a] = out->v[b - 1];
        out->v[b - 1] = x;
    }
    return 0;
}

/* Which outages began inside a maintenance window over their target. */
static int mark_planned(sqlite3 *db, int64_t from, int64_t to, struct pw_store_incident_target *t,
                        size_t n)
{
    struct pw_store_planned *p = NULL;
    size_t np = 0;
    int rc = n ? pw_store_query_planned(db, from, to, &p, &np) : 0;
    for (size_t i = 0; !rc && i < n; i++)
        t[i].planned = pw_store_planned_at(p, np, t[i].target_id, t[i].start_ms);
    free(p);
    return rc;
}

/* The latest c <= at with no outage beginning in [c - window, c), where an
 * incident can neither begin before and go on after (its outages begin
 * within one window of its first) nor take one that began before into
 * one that began after; `floor` when every c down to it has one. */
static int clean_cut(sqlite3 *db, int64_t at, int64_t floor, int64_t window, int64_t *cut)
{
    sqlite3_stmt *s;
    int rc = sq_prepare3(db, "SELECT start_ms FROM outages WHERE start_ms<?1 AND start_ms>=?2"
                             " ORDER BY start_ms DESC", &s, at, floor, 0);
    if (rc)
        return rc;
    int64_t c = at;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t start = sqlite3_column_int64(s, 0);
        if (start < c - window)
            break;
        c = start;
    }
    *cut = step == SQLITE_ROW ? c : floor;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    return rc;
}

/* Appends the incidents of period p passing f to out. */
static int period_incidents(sqlite3 *db, const struct pw_store_incident_filter *f,
                            int64_t window, const struct period *p,
                            struct pw_store_incident_list *out)
{
    struct pw_store_incident_target *t = NULL;
    size_t n = 0;
    int rc = load_outages(db, p, &t, &n);
    if (!rc)
        rc = mark_planned(db, p->from, p->to, t, n);
    size_t *inc = rc ? NULL : malloc((n ? n : 1) * sizeof *inc);
    if (!rc && !inc)
        rc = PW_ENOMEM;
    if (!rc) {
        group(t, n, window, inc);
        rc = build(f, t, n, inc, out);
    }
    free(inc);
    free(t);
    return rc;
}

/* Periods from f->to back, until f->limit incidents and one more are found
 * (only the newest are wanted: a year of a large farm is hundreds of MB)
 * or the range is done. Earlier outages count too: an incident that began
 * before `from` keeps every outage that began with it. */
static int find(sqlite3 *db, const struct pw_store_incident_filter *f, int64_t window,
                struct pw_store_incident_list *out)
{
    int64_t floor = f->from_ms - window, span = FIRST_PERIOD_MS;
    struct period p = {.floor = floor, .to = f->to_ms};
    int rc = 0;
    while (!rc && !p.oldest) {
        p.from = floor;
        if (f->limit && p.to - floor > span)
            rc = clean_cut(db, p.to - span, floor, window, &p.from);
        p.oldest = p.from <= floor;
        if (!rc)
            rc = period_incidents(db, f, window, &p, out);
        if (f->limit && out->n > f->limit)
            break;
        p.to = p.from;
        span = span > INT64_MAX / 4 ? INT64_MAX : 4 * span;
    }
    return rc;
}

/* ---- filtered by host or role: around the filter's own outages ---------- */

/* A filter target's newest outage not yet passed. */
struct cursor {
    int64_t start;
    uint32_t target;
};

/* The filter's targets' outages that began at or after `floor`, newest
 * first, read a target at a time through the outages_target index: a
 * max-heap of each target's newest one below the point reached. A host
 * down for an hour every day, asked for by a year, reads a few hundred
 * outages around each of its incidents instead of every outage of the
 * months those take. */
struct anchors {
    sqlite3_stmt *newest; /* start, end of ?1's newest outage that began before ?2 */
    struct cursor *heap;
    size_t n;
    int64_t floor;
    bool overlaps_floor;  /* one began before floor and ended after it (or is open) */
};

static void heap_push(struct anchors *a, struct cursor c)
{
    size_t i = a->n++;
    for (; i && a->heap[(i - 1) / 2].start < c.start; i = (i - 1) / 2)
        a->heap[i] = a->heap[(i - 1) / 2];
    a->heap[i] = c;
}

static struct cursor heap_pop(struct anchors *a)
{
    struct cursor top = a->heap[0], last = a->heap[--a->n];
    size_t i = 0;
    for (size_t k; (k = 2 * i + 1) < a->n; i = k) {
        if (k + 1 < a->n && a->heap[k + 1].start > a->heap[k].start)
            k++;
        if (a->heap[k].start <= last.start)
            break;
        a->heap[i] = a->heap[k];
    }
    if (a->n)
        a->heap[i] = last;
    return top;
}

/* Moves target's cursor to its newest outage that began before `below`. */
static int seek(struct anchors *a, uint32_t target, int64_t below)
{
    sqlite3_bind_int64(a->newest, 1, target);
    sqlite3_bind_int64(a->newest, 2, below);
    int step = sqlite3_step(a->newest);
    if (step == SQLITE_ROW) {
        int64_t start = sqlite3_column_int64(a->newest, 0);
        int64_t end = sqlite3_column_int64(a->newest, 1);
        if (start >= a->floor)
            heap_push(a, (struct cursor){start, target});
        else if (end < 0 || end > a->floor)
            a->overlaps_floor = true;
    }
    sqlite3_reset(a->newest);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : PW_ESTORAGE;
}

static int anchors_open(sqlite3 *db, const struct pw_store_incident_filter *f, int64_t floor,
                        struct anchors *a)
{
    *a = (struct anchors){.floor = floor};
    const char *sql = !f->host ? "SELECT target_id FROM target_roles WHERE role=?2"
                      : !f->role ? "SELECT id FROM targets WHERE host=?1"
                                 : "SELECT id FROM targets WHERE host=?1 AND id IN"
                                   " (SELECT target_id FROM target_roles WHERE role=?2)";
    sqlite3_stmt *ids;
    if (sqlite3_prepare_v2(db, sql, -1, &ids, NULL) != SQLITE_OK)
        return PW_ESTORAGE;
    sqlite3_bind_text(ids, 1, f->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(ids, 2, f->role, -1, SQLITE_STATIC);
    int rc = sq_prepare3(db, "SELECT start_ms, coalesce(end_ms,-1) FROM outages"
                             " WHERE target_id=?1 AND start_ms<?2 ORDER BY start_ms DESC LIMIT 1",
                         &a->newest, 0, 0, 0);
    size_t cap = 0;
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(ids)) == SQLITE_ROW) {
        struct cursor *nh = sq_grow(a->heap, &cap, a->n, sizeof *nh, 64);
        if (!nh) {
            rc = PW_ENOMEM;
            break;
        }
        a->heap = nh;
        rc = seek(a, (uint32_t)sqlite3_column_int64(ids, 0), f->to_ms);
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(ids);
    return rc;
}

/* The start of the newest outage of the filter's that began before
 * `below` (INT64_MIN: none at or after floor). */
static int anchor_below(struct anchors *a, int64_t below, int64_t *at)
{
    int rc = 0;
    while (!rc && a->n && a->heap[0].start >= below)
        rc = seek(a, heap_pop(a).target, below);
    *at = a->n ? a->heap[0].start : INT64_MIN;
    return rc;
}

/* Like find(), for a host or a role: only the periods around the filter's
 * own outages (an incident covering the filter has one). Each runs from a
 * clean cut below the newest one not yet read, at `at`, to a window after
 * it: the incidents that began by `at` have begun their outages by then,
 * and those that began later have none of the filter's. Then, if one of
 * the filter's began before the range and lasted into it, the oldest
 * period as find() reads it. */
static int find_around(sqlite3 *db, const struct pw_store_incident_filter *f, int64_t window,
                       struct pw_store_incident_list *out)
{
    int64_t floor = f->from_ms - window, at;
    struct anchors a;
    struct period p = {.floor = floor, .from = f->to_ms};
    int rc = anchors_open(db, f, floor, &a);
    while (!rc && !p.oldest && out->n <= f->limit) {
        int64_t hi = p.from;
        rc = anchor_below(&a, hi, &at);
        if (rc || (at == INT64_MIN && !a.overlaps_floor))
            break;
        p.from = floor;
        if (at != INT64_MIN)
            rc = clean_cut(db, at - window, floor, window, &p.from);
        p.oldest = p.from <= floor;
        p.to = p.oldest ? hi : min64(at + window + 1, hi);
        if (!rc)
            rc = period_incidents(db, f, window, &p, out);
    }
    sqlite3_finalize(a.newest);
    free(a.heap);
    return rc;
}

int pw_store_query_incidents(struct pw_store *st, const struct pw_store_incident_filter *f,
                             struct pw_store_incident_list *out)
{
    memset(out, 0, sizeof *out);
    if (!f || f->to_ms <= f->from_ms)
        return PW_EINVAL;
    int64_t window = f->window_ms > 0 ? f->window_ms : DEFAULT_WINDOW_MS;
    sqlite3 *db = pw_store_reader_lock(st);
    int rc = check_scope(db, f);
    if (!rc)
        rc = f->limit && (f->host || f->role) ? find_around(db, f, window, out)
                                              : find(db, f, window, out);
    if (!rc && f->limit && out->n > f->limit) {
        out->n = f->limit;
        out->truncated = true;
    }
    pw_store_reader_unlock(st);
    if (rc)
        pw_store_incident_list_free(out);
    return rc;
}

void pw_store_incident_list_free(struct pw_store_incident_list *l)
{
    free(l->v);
    free(l->t);
    memset(l, 0, sizeof *l);
}
