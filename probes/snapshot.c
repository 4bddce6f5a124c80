/*
 * The engine's snapshots (engine_int.h, probe.h): an immutable,
 * reference-counted copy of every target's state and the counters, which
 * any thread may acquire and read (the web layer) while the loop goes on.
 * Published at most every PUBLISH_MIN_MS.
 *
 * One copy of the targets' state, not two or three: a state is 208 bytes,
 * 20 MB at 100,000 targets. The engine writes into the current snapshot
 * itself while no reader holds it (a reader acquires it under snap_lock,
 * which the engine holds while it writes). While one does (a health
 * request, for a few milliseconds to a few hundred), results are set
 * aside, up to HELD_MAX, and written in once it is done; only a reader
 * that holds the snapshot longer (the status document's view) has the
 * engine go on in a copy of its own, which the next publish makes
 * current.
 */
#include "probes/engine_int.h"

#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

/* At most this often; a timer publishes the tail. */
#define PUBLISH_MIN_MS 100
/* States set aside while a reader holds the snapshot (at most 3.5 MB,
 * where 100,000 targets every 30 s bring 3,300 a second). */
#define HELD_MAX 16384
/* A publish due while a reader holds the snapshot waits for it, polling
 * every HOLD_POLL_MS, until a second after the last publish; then the
 * engine copies. The health document of 100,000 targets holds it for
 * 300 ms. */
#define HOLD_WAIT_MS (1000 - PUBLISH_MIN_MS)
#define HOLD_POLL_MS 5

_Static_assert(HELD_MAX < UINT16_MAX, "tslot.held numbers the entries");

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

/* Writes the states set aside into e->ts: with snap_lock held when that
 * is the current snapshot. */
static void apply_held(struct pw_engine *e)
{
    for (uint32_t k = 0; k < e->nheld; k++) {
        e->ts[e->held[k].t] = e->held[k].st;
        e->sl[e->held[k].t].held = 0;
    }
    e->nheld = 0;
}

/* A copy of the current snapshot, with the states set aside, for the
 * engine to go on in while a reader holds that one (no lock needed: only
 * the engine writes). False out of memory. */
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
    apply_held(e);
    return true;
}

/* A place aside for t's next state, starting from its current one; NULL
 * when there is no more room. */
static struct pw_target_state *set_aside(struct pw_engine *e, uint32_t t)
{
    if (!e->held && !(e->held = malloc(HELD_MAX * sizeof *e->held)))
        return NULL;
    if (e->nheld == HELD_MAX)
        return NULL;
    struct held *h = &e->held[e->nheld++];
    h->t = t;
    h->st = e->ts[t];
    e->sl[t].held = (uint16_t)e->nheld;
    return &h->st;
}

struct pw_target_state *eng_state_begin(struct pw_engine *e, uint32_t t)
{
    if (e->wbox != e->snap)
        return &e->ts[t]; /* the engine's own copy */
    if (e->sl[t].held)
        return &e->held[e->sl[t].held - 1].st;
    uv_mutex_lock(&e->snap_lock);
    if (atomic_load(&e->snap->refs) == 1) {
        apply_held(e);
        e->writing = true; /* until eng_state_end */
        return &e->ts[t];
    }
    uv_mutex_unlock(&e->snap_lock);
    struct pw_target_state *st = set_aside(e, t);
    if (st)
        return st;
    return copy_on_write(e) ? &e->ts[t] : NULL;
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

static void on_pub_timer(uv_timer_t *t);

static void published(struct pw_engine *e)
{
    e->dirty = false;
    e->last_pub = uv_now(e->loop);
}

/* Makes the engine's state and counters current for readers; unless
 * forced, a little later when a reader holds the current snapshot. */
static void publish(struct pw_engine *e, bool force)
{
    e->stats.in_flight = e->in_flight;
    if (e->wbox == e->snap) {
        uv_mutex_lock(&e->snap_lock);
        bool free_now = atomic_load(&e->snap->refs) == 1;
        if (free_now) { /* readers acquire under the lock: none sees it change */
            apply_held(e);
            stamp(e, e->snap);
        }
        uv_mutex_unlock(&e->snap_lock);
        if (free_now) {
            published(e);
            return;
        }
        /* A reader holds it: most let go within a millisecond. */
        if (!force && uv_now(e->loop) - e->last_pub < PUBLISH_MIN_MS + HOLD_WAIT_MS) {
            uv_timer_start(&e->pub_timer, on_pub_timer, HOLD_POLL_MS, 0);
            return;
        }
        if (!copy_on_write(e))
            return; /* dirty stays set: a later tick retries */
    }
    stamp(e, e->wbox);
    uv_mutex_lock(&e->snap_lock);
    struct snapbox *old = e->snap;
    e->snap = e->wbox;
    uv_mutex_unlock(&e->snap_lock);
    eng_snap_unref(old);
    published(e);
}

static void on_pub_timer(uv_timer_t *t)
{
    struct pw_engine *e = t->data;
    if (e->dirty)
        publish(e, false);
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
        publish(e, force);
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
