/*
 * The engine's snapshots (engine_int.h, probe.h): an immutable,
 * reference-counted copy of every target's state and the counters, which
 * any thread may acquire and read (the web layer) while the loop goes on.
 * Published at most every PUBLISH_MIN_MS; refreshed in place when no
 * reader holds the current one.
 */
#include "probes/engine_int.h"

#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

/* At most this often; a timer publishes the tail. */
#define PUBLISH_MIN_MS 100

/* Target t's state changed: the next refresh copies it. */
void eng_snap_changed(struct pw_engine *e, uint32_t t)
{
    if (!e->sl[t].changed) {
        e->sl[t].changed = true;
        e->changed[e->nchanged++] = t;
    }
    e->dirty = true;
}

/* A new box gets every target's state; the current one, refreshed in
 * place, only the changed ones: a plan of 100,000 targets is 20 MB to
 * copy, ten times a second while a sweep is spread over the interval,
 * when 330 of them changed (100,000 every 30 s). */
static void snap_fill(struct pw_engine *e, struct snapbox *b, bool in_place)
{
    if (!in_place || e->all_changed) {
        if (b->s.ntargets)
            memcpy(b->s.targets, e->ts, b->s.ntargets * sizeof *e->ts);
    } else {
        for (size_t i = 0; i < e->nchanged; i++)
            b->s.targets[e->changed[i]] = e->ts[e->changed[i]];
    }
    for (size_t i = 0; i < e->nchanged; i++)
        e->sl[e->changed[i]].changed = false;
    e->nchanged = 0;
    e->all_changed = false;
    b->s.stats = e->stats;
    /* Strictly increasing: readers tell snapshots apart by it, also when
     * one is refreshed in place within the same millisecond. */
    int64_t now = pw_wall_ms();
    b->s.taken_ms = now > e->last_taken_ms ? now : e->last_taken_ms + 1;
    e->last_taken_ms = b->s.taken_ms;
}

struct snapbox *eng_snap_new(struct pw_engine *e)
{
    size_t n = e->plan->ntargets;
    struct snapbox *b = malloc(sizeof *b + n * sizeof(struct pw_target_state));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->s.plan = e->plan;
    b->s.ntargets = n;
    b->s.targets = (struct pw_target_state *)(void *)(b + 1);
    snap_fill(e, b, false);
    return b;
}

void eng_snap_unref(struct snapbox *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* Replaces the current snapshot; readers holding the old one keep it. */
static void publish(struct pw_engine *e)
{
    e->stats.in_flight = e->in_flight;
    /* Nobody but the engine holds the current one: refresh it in place
     * rather than keep two copies. Readers acquire under snap_lock, so none
     * can see it while it changes. */
    uv_mutex_lock(&e->snap_lock);
    if (atomic_load(&e->snap->refs) == 1) {
        snap_fill(e, e->snap, true);
        uv_mutex_unlock(&e->snap_lock);
        e->dirty = false;
        e->last_pub = uv_now(e->loop);
        return;
    }
    uv_mutex_unlock(&e->snap_lock);
    struct snapbox *b = eng_snap_new(e);
    if (!b)
        return; /* keep the old one; dirty stays set, a later tick retries */
    uv_mutex_lock(&e->snap_lock);
    struct snapbox *old = e->snap;
    e->snap = b;
    uv_mutex_unlock(&e->snap_lock);
    eng_snap_unref(old);
    e->dirty = false;
    e->last_pub = uv_now(e->loop);
}

static void on_pub_timer(uv_timer_t *t)
{
    struct pw_engine *e = t->data;
    if (e->dirty)
        publish(e);
}

/* Publishes now if the last one is old enough, else makes sure the
 * publish timer will. */
void eng_maybe_publish(struct pw_engine *e, bool force)
{
    if (!e->dirty)
        return;
    uint64_t now = uv_now(e->loop);
    if (force || now - e->last_pub >= PUBLISH_MIN_MS) {
        uv_timer_stop(&e->pub_timer);
        publish(e);
    } else if (!uv_is_active((uv_handle_t *)&e->pub_timer)) {
        uv_timer_start(&e->pub_timer, on_pub_timer, PUBLISH_MIN_MS - (now - e->last_pub), 0);
    }
}

struct pw_snapshot *pw_engine_snapshot_acquire(struct pw_engine *e)
{
    uv_mutex_lock(&e->snap_lock);
    struct snapbox *b = e->snap;
    atomic_fetch_add(&b->refs, 1);
    uv_mutex_unlock(&e->snap_lock);
    return &b->s;
}

void pw_snapshot_release(struct pw_snapshot *s)
{
    if (!s)
        return;
    struct snapbox *b = (struct snapbox *)(void *)((char *)s - offsetof(struct snapbox, s));
    eng_snap_unref(b);
}
