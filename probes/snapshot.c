/*
 * The engine's snapshots (engine_int.h, probe.h): an immutable,
 * reference-counted copy of every target's state and the counters, which
 * any thread may acquire and read (the web layer) while the loop goes on.
 * Published at most every PUBLISH_MIN_MS.
 *
 * One copy of the targets' state, not two: the engine writes into the
 * current snapshot itself while no reader holds it (a reader acquires it
 * under snap_lock, which the engine holds while it writes), and into a
 * copy of its own only once a reader does, until the next publish makes
 * that copy current. A state of 208 bytes is 20 MB at 100,000 targets; a
 * live array beside the snapshot was that again for good, where the copy
 * lives while a reader holds the snapshot (a /metrics scrape while it is
 * sent, the status document's view).
 */
#include "probes/engine_int.h"

#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

/* At most this often; a timer publishes the tail. */
#define PUBLISH_MIN_MS 100

static struct snapbox *box_new(size_t n)
{
    struct snapbox *b = malloc(sizeof *b + n * sizeof(struct pw_target_state));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->s.ntargets = n;
    b->s.targets = (struct pw_target_state *)(void *)(b + 1);
    return b;
}

/* Stamps b with the counters and the time it is published at. */
static void stamp(struct pw_engine *e, struct snapbox *b)
{
    b->s.stats = e->stats;
    /* Strictly increasing: readers tell snapshots apart by it, also when
     * one is published again within the same millisecond. */
    int64_t now = pw_wall_ms();
    b->s.taken_ms = now > e->last_taken_ms ? now : e->last_taken_ms + 1;
    e->last_taken_ms = b->s.taken_ms;
}

int eng_snap_init(struct pw_engine *e)
{
    size_t n = e->plan->ntargets;
    struct snapbox *b = box_new(n);
    if (!b)
        return -1;
    b->s.plan = e->plan;
    memset(b->s.targets, 0, n * sizeof *b->s.targets);
    for (size_t t = 0; t < n; t++)
        b->s.targets[t].latency_us = -1;
    stamp(e, b);
    e->snap = e->wbox = b;
    e->ts = b->s.targets;
    return 0;
}

/* A copy of the current snapshot for the engine to go on in, while a
 * reader holds that one (no lock needed: only the engine writes). False
 * out of memory. */
static bool copy_on_write(struct pw_engine *e)
{
    struct snapbox *b = box_new(e->snap->s.ntargets);
    if (!b)
        return false;
    struct pw_target_state *targets = b->s.targets;
    b->s = e->snap->s;
    b->s.targets = targets;
    memcpy(targets, e->ts, b->s.ntargets * sizeof *targets);
    e->wbox = b;
    e->ts = targets;
    return true;
}

struct pw_target_state *eng_state_begin(struct pw_engine *e, uint32_t t)
{
    if (e->wbox == e->snap) {
        uv_mutex_lock(&e->snap_lock);
        if (atomic_load(&e->snap->refs) == 1) {
            e->writing = true; /* until eng_state_end */
            return &e->ts[t];
        }
        uv_mutex_unlock(&e->snap_lock);
        if (!copy_on_write(e))
            return NULL;
    }
    return &e->ts[t];
}

void eng_state_end(struct pw_engine *e)
{
    if (e->writing) {
        e->writing = false;
        uv_mutex_unlock(&e->snap_lock);
    }
    e->dirty = true;
}

void eng_snap_unref(struct snapbox *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* Makes the engine's state and counters current for readers. */
static void publish(struct pw_engine *e)
{
    e->stats.in_flight = e->in_flight;
    uv_mutex_lock(&e->snap_lock);
    if (e->wbox == e->snap && atomic_load(&e->snap->refs) == 1) {
        stamp(e, e->snap); /* nobody holds it; readers acquire under the lock */
        uv_mutex_unlock(&e->snap_lock);
        e->dirty = false;
        e->last_pub = uv_now(e->loop);
        return;
    }
    uv_mutex_unlock(&e->snap_lock);
    /* A reader holds the current one (as it was when taken): a new one. */
    if (e->wbox == e->snap && !copy_on_write(e))
        return; /* dirty stays set: a later tick retries */
    stamp(e, e->wbox);
    uv_mutex_lock(&e->snap_lock);
    struct snapbox *old = e->snap;
    e->snap = e->wbox;
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
