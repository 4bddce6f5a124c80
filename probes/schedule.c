/*
 * The engine's schedule (engine_int.h): targets are grouped by interval;
 * each group's targets start in an order that spreads every host's ports
 * over the interval and interleaves hosts, and every pass over a group is
 * a sweep (struct cycle) whose end is counted, timed and, when it overran
 * its interval, logged. pw_engine_start runs the groups periodically;
 * pw_engine_sweep_once releases every target at once for `portwatch check`.
 * A released target goes to name resolution (resolve.c).
 */
#include "probes/engine_int.h"

#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

static struct cycle *cycle_of(struct pw_engine *e, uint32_t t)
{
    if (e->mode == MODE_ONCE)
        return e->once.no == e->sl[t].cycle && e->once.open ? &e->once : NULL;
    if (e->mode != MODE_RUN)
        return NULL;
    struct group *g = &e->groups[e->sl[t].group];
    struct cycle *c = &g->ring[e->sl[t].cycle % CYCLE_RING];
    return c->open && c->no == e->sl[t].cycle ? c : NULL;
}

#define OVERRUN_LOG_EVERY_MS 300000

/* A sweep that overran is a condition that may last (a host dropping
 * SYNs, caps too tight): said when it starts, counted every
 * OVERRUN_LOG_EVERY_MS while it lasts, and said when no sweep has overrun
 * for three intervals, instead of a line per sweep (a line a second at a
 * 1 s interval; sweeps on time between overruns do not end it). */
static void overrun_log(struct pw_engine *e, const struct group *g, const struct cycle *c,
                        int64_t now)
{
    if (!c->overran) {
        /* Quiet for three intervals and the longest overrun seen: an
         * overrun every few sweeps (a timeout far above the interval) is
         * not "on time again". */
        if (e->overrunning && now - e->overrun_last >= 3 * g->interval + e->overrun_span) {
            eng_log(e, PW_LOG_INFO, "sweeps end within their interval again (%u more "
                    "overran since the last report)", e->overruns_since);
            e->overrunning = false;
        }
        return;
    }
    e->overrun_last = now;
    if (!e->overrunning || now - c->start_mono > e->overrun_span)
        e->overrun_span = now - c->start_mono;
    if (!e->overrunning) {
        eng_log(e, PW_LOG_WARN,
                "sweep %u (%u targets every %lld ms) overran its interval: "
                "%u probes were still outstanding when due again and were "
                "skipped (took %lld ms; timeouts, caps or slow name "
                "resolution; lower timeout or raise interval/max_in_flight)",
                c->no, g->n, (long long)g->interval, c->skipped,
                (long long)(now - c->start_mono));
    } else if (now - e->overrun_logged < OVERRUN_LOG_EVERY_MS) {
        e->overruns_since++;
        return;
    } else {
        eng_log(e, PW_LOG_WARN, "sweeps still overrun their interval: %u more in the "
                "last %lld s (the latest took %lld ms for an interval of %lld ms)",
                e->overruns_since + 1, (long long)(OVERRUN_LOG_EVERY_MS / 1000),
                (long long)(now - c->start_mono), (long long)g->interval);
    }
    e->overrunning = true;
    e->overruns_since = 0;
    e->overrun_logged = now;
}

static void cycle_finish(struct pw_engine *e, struct group *g, struct cycle *c)
{
    int64_t now = (int64_t)uv_now(e->loop);
    c->open = false;
    e->stats.sweeps++;
    e->stats.last_sweep_ms = pw_wall_ms();
    e->stats.last_sweep_duration_ms = now - c->start_mono;
    if (c->overran)
        e->stats.overruns++;
    if (g)
        overrun_log(e, g, c, now);
    if (e->mode == MODE_ONCE && c == &e->once) {
        e->once_complete = true;
        eng_want_flush(e);
    }
}

void eng_cycle_done(struct pw_engine *e, uint32_t t)
{
    struct cycle *c = cycle_of(e, t);
    if (!c)
        return;
    c->outstanding--;
    if (c->open && c->all_released && c->outstanding == 0)
        cycle_finish(e, e->mode == MODE_RUN ? &e->groups[e->sl[t].group] : NULL, c);
}

/* Target t is due in sweep c. One outstanding probe per target: if the
 * last one has not ended, this run is skipped and its sweep overran. */
static void release(struct pw_engine *e, uint32_t t, struct cycle *c)
{
    struct tslot *sl = &e->sl[t];
    if (sl->phase != T_IDLE) {
        struct cycle *old = cycle_of(e, t);
        if (old) {
            old->overran = true;
            old->skipped++;
        }
        e->stats.skipped++;
        if (!sl->late_ms)
            sl->late_ms = pw_wall_ms();
        return;
    }
    sl->probe_late_ms = sl->late_ms;
    sl->late_ms = 0;
    sl->cycle = c->no;
    c->outstanding++;
    eng_dispatch(e, t);
}

static struct cycle *group_open_cycle(struct pw_engine *e, struct group *g, int64_t now)
{
    uint32_t no = ++g->cycle_no;
    struct cycle *c = &g->ring[no % CYCLE_RING];
    if (c->open) {
        /* A sweep from CYCLE_RING intervals ago still has a probe out:
         * close its books now; its late results just update state. */
        c->overran = true;
        cycle_finish(e, g, c);
    }
    memset(c, 0, sizeof *c);
    c->no = no;
    c->open = true;
    c->start_mono = now;
    return c;
}

/* The loop was held up for whole intervals of g (a pause, a stall):
 * skips those sweeps rather than firing a backlog of them at once. Every
 * target of g missed its due from the first skipped sweep's start, which
 * its next probe carries as late_since_ms. */
static void skip_behind(struct pw_engine *e, struct group *g, int64_t now)
{
    int64_t behind = (now - g->cycle_start) / g->interval;
    int64_t since = pw_wall_ms() - (now - g->cycle_start);
    for (uint32_t i = 0; i < g->n; i++) {
        struct tslot *sl = &e->sl[g->order[i]];
        if (!sl->late_ms)
            sl->late_ms = since;
    }
    g->cycle_start += behind * g->interval;
    e->stats.overruns += (uint64_t)behind;
    eng_log(e, PW_LOG_WARN, "schedule fell %lld sweep(s) behind (every %lld ms); skipped them",
            (long long)behind, (long long)g->interval);
}

/* Spread starts leave in slices of at least SCHED_SLICE_MS: a loop turn
 * per start (3,300 a second at 100,000 targets every 30 s) cost the daemon
 * more in wakeups, epoll waits and per-turn flushes than the probes
 * themselves; a slice's starts go out as one burst and their refusals come
 * back in one turn, as in a one-shot sweep. A start is at most this late. */
#define SCHED_SLICE_MS 50

static uint64_t sched_wait(int64_t until_due)
{
    return until_due > SCHED_SLICE_MS ? (uint64_t)until_due : SCHED_SLICE_MS;
}

/* The schedule timer: releases every target whose start time has come.
 * Times come from the loop's monotonic clock, so wall-clock jumps do not
 * matter. Target i of a group of n starts at cycle_start + i*interval/n
 * when spreading, at cycle_start otherwise. */
static void on_schedule(uv_timer_t *timer)
{
    struct pw_engine *e = timer->data;
    int64_t now = (int64_t)uv_now(e->loop);
    int64_t next = INT64_MAX;

    for (uint32_t gi = 0; gi < e->ngroups; gi++) {
        struct group *g = &e->groups[gi];
        for (;;) {
            if (g->cursor == 0 && g->cycle_start + g->interval <= now)
                skip_behind(e, g, now);
            int64_t off = e->opt.spread ? (int64_t)g->cursor * g->interval / g->n : 0;
            int64_t due = g->cycle_start + off;
            if (due > now) {
                if (due < next)
                    next = due;
                break;
            }
            struct cycle *c = g->cursor == 0 ? group_open_cycle(e, g, now)
                                             : &g->ring[g->cycle_no % CYCLE_RING];
            release(e, g->order[g->cursor], c);
            if (++g->cursor < g->n)
                continue;
            g->cursor = 0;
            g->cycle_start += g->interval;
            c->all_released = true;
            if (c->open && c->outstanding == 0)
                cycle_finish(e, g, c);
        }
    }
    eng_pump(e);
    if (next != INT64_MAX)
        uv_timer_start(&e->sched, on_schedule, sched_wait(next - now), 0);
}

struct order_key {
    uint32_t t, host, rank, n;
};

/* Within a group, each host's targets are spread evenly over the interval
 * (rank/n), and hosts interleave: a 201-port range is paced per host,
 * and 20 hosts do not start together. */
static int order_cmp(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    uint64_t l = (uint64_t)x->rank * y->n, r = (uint64_t)y->rank * x->n;
    if (l != r)
        return l < r ? -1 : 1;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

void eng_groups_free(struct pw_engine *e)
{
    for (uint32_t i = 0; i < e->ngroups; i++)
        free(e->groups[i].order);
    free(e->groups);
    e->groups = NULL;
    e->ngroups = 0;
}

static int groups_build(struct pw_engine *e)
{
    const struct pw_plan *p = e->plan;
    size_t n = p->ntargets;
    uint32_t *count = NULL, *rank = NULL;
    struct order_key *keys = NULL;
    int err = PW_ENOMEM;

    for (size_t t = 0; t < n; t++) {
        int64_t iv = eng_interval(e, (uint32_t)t);
        uint32_t g;
        for (g = 0; g < e->ngroups && e->groups[g].interval != iv; g++)
            ;
        if (g == e->ngroups) {
            if (g == UINT16_MAX) {
                err = PW_ETOO_BIG;
                goto out;
            }
            struct group *ng = realloc(e->groups, (g + 1) * sizeof *ng);
            if (!ng)
                goto out;
            e->groups = ng;
            memset(&ng[g], 0, sizeof ng[g]);
            ng[g].interval = iv;
            e->ngroups++;
        }
        e->sl[t].group = (uint16_t)g;
        e->groups[g].n++;
    }
    count = calloc(e->ngroups, sizeof *count);
    rank = calloc(e->ngroups, sizeof *rank);
    keys = malloc((n ? n : 1) * sizeof *keys);
    if (!count || !rank || !keys)
        goto out;
    for (uint32_t g = 0; g < e->ngroups; g++) {
        e->groups[g].order = malloc(e->groups[g].n * sizeof(uint32_t));
        if (!e->groups[g].order)
            goto out;
    }
    /* Targets come sorted by host: count per (host, group), then rank. */
    size_t k = 0;
    for (size_t h = 0; h < p->nhosts; h++) {
        const struct pw_host *ph = &p->hosts[h];
        memset(count, 0, e->ngroups * sizeof *count);
        memset(rank, 0, e->ngroups * sizeof *rank);
        for (uint32_t t = ph->first; t < ph->first + ph->n; t++)
            count[e->sl[t].group]++;
        for (uint32_t t = ph->first; t < ph->first + ph->n; t++) {
            uint16_t g = e->sl[t].group;
            keys[k++] = (struct order_key){t, (uint32_t)h, rank[g]++, count[g]};
        }
    }
    if (k != n) { /* hosts must cover every target */
        err = PW_EINVAL;
        goto out;
    }
    qsort(keys, k, sizeof *keys, order_cmp);
    for (size_t i = 0; i < k; i++) {
        struct group *g = &e->groups[e->sl[keys[i].t].group];
        g->order[g->cursor++] = keys[i].t;
    }
    for (uint32_t g = 0; g < e->ngroups; g++)
        e->groups[g].cursor = 0;
    err = 0;
out:
    free(count);
    free(rank);
    free(keys);
    if (err)
        eng_groups_free(e);
    return err;
}

int pw_engine_follow(struct pw_engine *e, const struct pw_engine *prev)
{
    if (!e || !prev || prev->ngroups == 0)
        return 0;
    struct sched_phase *ph = calloc(prev->ngroups, sizeof *ph);
    if (!ph)
        return PW_ENOMEM;
    for (uint32_t g = 0; g < prev->ngroups; g++) {
        const struct group *pg = &prev->groups[g];
        ph[g] = (struct sched_phase){pg->interval, pg->cycle_start,
                               pg->n ? (double)pg->cursor / pg->n : 0};
    }
    free(e->follow);
    e->follow = ph;
    e->nfollow = prev->ngroups;
    return 0;
}

/* A group the replaced engine had too goes on where that one was: same
 * cycle start, the same share of its targets already released this
 * cycle. A phase that fell whole intervals behind starts afresh. */
static void group_follow(struct pw_engine *e, struct group *g, int64_t now)
{
    for (uint32_t i = 0; i < e->nfollow; i++) {
        const struct sched_phase *ph = &e->follow[i];
        if (ph->interval != g->interval || ph->cycle_start + g->interval <= now)
            continue;
        uint32_t cursor = (uint32_t)(ph->done * g->n);
        if (cursor == 0 || cursor >= g->n)
            return;
        g->cycle_start = ph->cycle_start;
        group_open_cycle(e, g, now);
        g->cursor = cursor;
        return;
    }
}

int pw_engine_start(struct pw_engine *e)
{
    if (e->closing || e->mode != MODE_IDLE)
        return PW_EBUSY;
    int err = groups_build(e);
    if (err)
        return err;
    int64_t now = (int64_t)uv_now(e->loop);
    for (uint32_t g = 0; g < e->ngroups; g++) {
        e->groups[g].cycle_start = now;
        group_follow(e, &e->groups[g], now);
    }
    free(e->follow);
    e->follow = NULL;
    e->nfollow = 0;
    e->mode = MODE_RUN;
    eng_say_fd_budget(e);
    eng_maybe_publish(e, true);
    if (e->ngroups)
        uv_timer_start(&e->sched, on_schedule, 0, 0);
    return 0;
}

int pw_engine_sweep_once(struct pw_engine *e, pw_engine_done_cb done, void *ud)
{
    if (e->closing || e->mode != MODE_IDLE)
        return PW_EBUSY;
    e->mode = MODE_ONCE;
    eng_say_fd_budget(e);
    e->once_cb = done;
    e->once_ud = ud;
    memset(&e->once, 0, sizeof e->once);
    e->once.no = 1;
    e->once.open = true;
    e->once.start_mono = (int64_t)uv_now(e->loop);
    eng_maybe_publish(e, true);
    for (uint32_t t = 0; t < e->plan->ntargets; t++)
        release(e, t, &e->once);
    e->once.all_released = true;
    if (e->once.open && e->once.outstanding == 0)
        cycle_finish(e, NULL, &e->once); /* done comes from the check handle */
    eng_pump(e);
    return 0;
}
