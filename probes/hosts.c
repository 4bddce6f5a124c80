/*
 * The engine's host queues (engine_int.h): each host keeps its targets that
 * are due and resolved in a ready list threaded through the scheduling
 * slots (no allocation); hosts with ready targets and room under
 * max_per_host wait in a ring and are taken in turn by the pump
 * (connect.c), so one host's 201 ports never crowd out the others. Hosts
 * that seem to drop SYNs go first (quiet_host below).
 */
#include "probes/engine_int.h"

static void ring_push(struct pw_engine *e, struct hring *r, uint32_t h)
{
    r->v[(r->head + r->count) % e->nhosts] = h;
    r->count++;
    e->hosts[h].in_ring = true;
}

static uint32_t ring_pop(struct pw_engine *e, struct hring *r)
{
    uint32_t h = r->v[r->head];
    r->head = (r->head + 1) % e->nhosts;
    r->count--;
    e->hosts[h].in_ring = false;
    return h;
}

/* A host that has never answered although probes started after its
 * oldest one out have been answered elsewhere: likely one that drops
 * SYNs, whose probes each last the whole timeout. Starting its remaining
 * probes before those of hosts that answer at once lets those timeouts
 * run together, so a one-shot sweep ends about one timeout after it began
 * rather than one timeout after its last start. Comparing start numbers,
 * not times, keeps a burst's own hosts (none answered yet) in turn. */
static bool quiet_host(const struct pw_engine *e, const struct hslot *hs)
{
    return hs->in_flight > 0 && hs->answers == 0 && e->answered > hs->out_seq;
}

/* max_per_host spares hosts that answer. One whose last two caps' worth
 * of connects all timed out, with no answer between (a firewall that
 * drops, or a host that is gone), is loaded by none of them: its cap is
 * lifted (max_in_flight still holds) until it answers again, so 205
 * dropped ports take three timeouts rather than 205 / 32. A server whose
 * listen queue overflows also drops SYNs, but only on its listening ports:
 * its closed ones still refuse, an answer between the timeouts, and it
 * keeps its cap. Two caps, not one: a cap's worth of dropping ports
 * started together times out together though the host answers others. */
static uint32_t host_cap(const struct pw_engine *e, const struct hslot *hs)
{
    return hs->silent >= 2 * e->opt.max_per_host ? e->opt.max_in_flight : e->opt.max_per_host;
}

void eng_maybe_ring(struct pw_engine *e, uint32_t h)
{
    struct hslot *hs = &e->hosts[h];
    if (!hs->in_ring && hs->ready_head != NIL && hs->in_flight < host_cap(e, hs))
        ring_push(e, quiet_host(e, hs) ? &e->quiet : &e->ring, h);
}

/* The next host to start a probe for: a quiet one first. A host queued as
 * quiet that has been answered since moves to the ordinary ring. */
bool eng_next_host(struct pw_engine *e, uint32_t *out)
{
    while (e->quiet.count > 0) {
        uint32_t h = ring_pop(e, &e->quiet);
        if (quiet_host(e, &e->hosts[h])) {
            *out = h;
            return true;
        }
        ring_push(e, &e->ring, h);
    }
    if (e->ring.count == 0)
        return false;
    *out = ring_pop(e, &e->ring);
    return true;
}

void eng_ready_push(struct pw_engine *e, uint32_t t)
{
    uint32_t h = e->plan->targets[t].host;
    eng_list_push(e, &e->hosts[h].ready_head, &e->hosts[h].ready_tail, t);
    e->sl[t].phase = T_READY;
    e->stats.waiting_for_slot++;
    eng_maybe_ring(e, h);
}

/* Back to the head of its host's queue (out of descriptors). */
void eng_ready_unshift(struct pw_engine *e, uint32_t t)
{
    struct hslot *hs = &e->hosts[e->plan->targets[t].host];
    e->sl[t].next = hs->ready_head;
    hs->ready_head = t;
    if (hs->ready_tail == NIL)
        hs->ready_tail = t;
    e->sl[t].phase = T_READY;
    e->stats.waiting_for_slot++;
}
