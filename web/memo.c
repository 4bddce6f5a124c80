/*
 * The health memo (web/caches.h). Alerting systems poll /api/v1/health,
 * often many of them, often with the same query. Its answer depends only
 * on the request target, the snapshot, the storage state and the current
 * second (durations are in seconds), so the last few answers are kept and
 * queued as they are while all four match, and let go once a newer
 * snapshot or second is asked for.
 */
#include "web/caches.h"

#include <stdio.h>
#include <string.h>

int pw_memo_init(struct pw_memo *m)
{
    memset(m, 0, sizeof *m);
    return uv_mutex_init(&m->lock);
}

void pw_memo_free(struct pw_memo *m)
{
    for (size_t i = 0; i < PW_MEMO_SLOTS; i++)
        pw_shared_unref(m->slot[i].answer);
    uv_mutex_destroy(&m->lock);
}

bool pw_memo_key(struct pw_memo_key *k, const char *uri, const struct pw_snapshot *snap,
                 int64_t now_ms, struct pw_store *st)
{
    memset(k, 0, sizeof *k);
    if (strlen(uri) >= sizeof k->uri)
        return false;
    snprintf(k->uri, sizeof k->uri, "%s", uri);
    k->snap = snap;
    k->taken_ms = snap->taken_ms;
    k->second = now_ms / 1000;
    pw_web_store_state(st, &k->store_state, &k->store_since);
    return true;
}

struct pw_shared *pw_memo_find(struct pw_memo *m, const struct pw_memo_key *k)
{
    struct pw_shared *hit = NULL;
    uv_mutex_lock(&m->lock);
    for (size_t i = 0; i < PW_MEMO_SLOTS && !hit; i++)
        if (m->slot[i].answer && memcmp(&m->slot[i].key, k, sizeof *k) == 0)
            hit = pw_shared_ref(m->slot[i].answer);
    uv_mutex_unlock(&m->lock);
    return hit;
}

/* Whether an answer kept for a is of an older moment than b: an older
 * snapshot (snapshots are taken in strictly increasing order) or an
 * earlier second, which later requests no longer ask for. */
static bool older(const struct pw_memo_key *a, const struct pw_memo_key *b)
{
    return a->taken_ms < b->taken_ms || a->second < b->second;
}

void pw_memo_keep(struct pw_memo *m, const struct pw_memo_key *k, struct pw_shared *answer)
{
    /* Answers of older moments go: the health document of 100,000
     * targets is a megabyte, and eight of them stayed until replaced. */
    struct pw_shared *old[PW_MEMO_SLOTS] = {NULL};
    uv_mutex_lock(&m->lock);
    for (size_t i = 0; i < PW_MEMO_SLOTS; i++)
        if (m->slot[i].answer && older(&m->slot[i].key, k)) {
            old[i] = m->slot[i].answer;
            m->slot[i].answer = NULL;
        }
    unsigned i = m->next++ % PW_MEMO_SLOTS;
    struct pw_shared *replaced = m->slot[i].answer;
    m->slot[i].key = *k;
    m->slot[i].answer = pw_shared_ref(answer);
    uv_mutex_unlock(&m->lock);
    pw_shared_unref(replaced);
    for (size_t j = 0; j < PW_MEMO_SLOTS; j++)
        pw_shared_unref(old[j]);
}
