/*
 * Probe timeouts (engine_int.h): one lane per distinct timeout value among
 * the plan's targets. A lane's probes started in order, so their
 * deadlines come in order too: a list and one timer per lane do what a
 * timer per probe did, without libuv's timer heap, which at thousands of
 * probes in flight cost more than the engine's own bookkeeping. A probe
 * whose deadline passes goes to eng_probe_timeout (connect.c).
 */
#include "probes/engine_int.h"

#include <stdlib.h>
#include <string.h>

void eng_lane_remove(struct probe *p)
{
    struct lane *l = p->lane;
    if (!l)
        return;
    if (p->lprev)
        p->lprev->lnext = p->lnext;
    else
        l->head = p->lnext;
    if (p->lnext)
        p->lnext->lprev = p->lprev;
    else
        l->tail = p->lprev;
    p->lane = NULL;
    if (!l->head)
        uv_timer_stop(&l->timer); /* an idle engine holds the loop with nothing */
}

static void on_lane_timer(uv_timer_t *t)
{
    struct lane *l = t->data;
    uint64_t now = uv_now(l->e->loop);
    struct probe *p;
    while ((p = l->head) != NULL && p->deadline <= now) {
        eng_lane_remove(p);
        eng_probe_timeout(p); /* may start probes: they join the tail, later */
    }
    if (l->head)
        uv_timer_start(&l->timer, on_lane_timer, l->head->deadline - now, 0);
}

/* Starts p's timeout: the timeout of its target's profile. */
void eng_lane_add(struct pw_engine *e, struct probe *p)
{
    int64_t to = eng_timeout(e, p->target);
    struct lane *l = e->lanes;
    while (l->timeout_ms != to)
        l++; /* every profile's timeout has a lane (lanes_build) */
    p->deadline = uv_now(e->loop) + (uint64_t)to;
    p->lane = l;
    p->lnext = NULL;
    p->lprev = l->tail;
    if (l->tail)
        l->tail->lnext = p;
    else
        l->head = p;
    l->tail = p;
    if (!uv_is_active((uv_handle_t *)&l->timer))
        uv_timer_start(&l->timer, on_lane_timer, (uint64_t)to, 0);
}

/* One lane per distinct timeout among the plan's targets; their timers
 * are engine handles. Returns 0 or PW_ENOMEM. */
int eng_lanes_build(struct pw_engine *e)
{
    size_t n = e->plan->ntargets;
    e->lanes = calloc(1, sizeof *e->lanes);
    if (!e->lanes)
        return PW_ENOMEM;
    e->lanes[0].timeout_ms = e->opt.timeout_ms;
    e->nlanes = 1;
    int64_t last = e->opt.timeout_ms;
    for (size_t t = 0; t < n; t++) {
        int64_t to = eng_timeout(e, (uint32_t)t);
        if (to == last)
            continue; /* the common case: a host's targets share one */
        last = to;
        uint32_t i = 0;
        while (i < e->nlanes && e->lanes[i].timeout_ms != to)
            i++;
        if (i < e->nlanes)
            continue;
        struct lane *v = realloc(e->lanes, (e->nlanes + 1) * sizeof *v);
        if (!v)
            return PW_ENOMEM;
        e->lanes = v;
        memset(&v[e->nlanes], 0, sizeof *v);
        v[e->nlanes++].timeout_ms = to;
    }
    for (uint32_t i = 0; i < e->nlanes; i++) {
        e->lanes[i].e = e;
        uv_timer_init(e->loop, &e->lanes[i].timer); /* cannot fail */
        e->lanes[i].timer.data = &e->lanes[i];
    }
    return 0;
}
