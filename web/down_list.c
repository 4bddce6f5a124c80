/*
 * The targets in trouble in the latest snapshot, and the counts by status
 * and state (web/caches.h). Health is polled often and would scan every
 * target (600 kB of state for 4,100 targets) each time; the scan of a
 * snapshot is done once and its result shared.
 * No reference is kept: a snapshot is recognised by its plan, time and
 * probe count, which differ between any two the engine publishes (they are
 * at least 100 ms apart, or hold new results).
 */
#include "web/caches.h"

#include "web/api_doc.h"

#include <stdlib.h>
#include <string.h>

int pw_down_list_init(struct pw_down_list *d)
{
    memset(d, 0, sizeof *d);
    return uv_mutex_init(&d->lock);
}

void pw_down_list_free(struct pw_down_list *d)
{
    free(d->idx);
    uv_mutex_destroy(&d->lock);
}

static uint64_t probes_total(const struct pw_snapshot *s)
{
    uint64_t n = 0;
    for (int k = 0; k < PW_STATE_COUNT_; k++)
        n += s->stats.probes[k];
    return n;
}

/* Rescans s into d. Under d->lock. */
static int rescan(struct pw_down_list *d, const struct pw_snapshot *s, uint64_t probes)
{
    size_t nd = 0;
    struct pw_tally ty;
    memset(&ty, 0, sizeof ty);
    for (size_t i = 0; i < s->ntargets; i++) {
        const struct pw_target_state *t = &s->targets[i];
        nd += pw_api_in_trouble(t);
        if ((unsigned)t->status < 3)
            ty.status[t->status]++;
        if (t->has_result && (unsigned)t->state < PW_STATE_COUNT_)
            ty.state[t->state]++;
    }
    uint32_t *v = malloc((nd ? nd : 1) * sizeof *v);
    if (!v)
        return PW_ENOMEM;
    nd = 0;
    for (size_t i = 0; i < s->ntargets; i++)
        if (pw_api_in_trouble(&s->targets[i]))
            v[nd++] = (uint32_t)i;
    free(d->idx);
    d->idx = v;
    d->n = nd;
    d->tally = ty;
    d->plan = s->plan;
    d->taken = s->taken_ms;
    d->probes = probes;
    d->total = s->ntargets;
    return 0;
}

int pw_down_list_get(struct pw_down_list *d, const struct pw_snapshot *s, uint32_t **idx,
                     size_t *n, struct pw_tally *tally)
{
    uint64_t probes = probes_total(s);
    uv_mutex_lock(&d->lock);
    int rc = 0;
    if (!d->idx || d->plan != s->plan || d->taken != s->taken_ms || d->probes != probes ||
        d->total != s->ntargets)
        rc = rescan(d, s, probes);
    uint32_t *c = rc == 0 ? malloc((d->n ? d->n : 1) * sizeof *c) : NULL;
    if (!c) {
        uv_mutex_unlock(&d->lock);
        return PW_ENOMEM;
    }
    memcpy(c, d->idx, d->n * sizeof *c);
    *idx = c;
    *n = d->n;
    *tally = d->tally;
    uv_mutex_unlock(&d->lock);
    return 0;
}
