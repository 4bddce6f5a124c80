/*
 * What the server remembers between requests, each cache in its own file:
 *   memo.c          the last few /api/v1/health answers, by request target;
 *   status_cache.c  the serialized unfiltered /api/v1/status document;
 *   down_list.c     the targets in trouble in the latest snapshot.
 * All are thread-safe (any HTTP worker or pool thread may call them) and
 * key on the snapshot they were computed from, plus the storage state
 * where the answer shows it.
 */
#ifndef PW_WEB_CACHES_H
#define PW_WEB_CACHES_H

#include "web/pool.h"
#include "web/reply.h"
#include "web/req.h"
#include "web/web.h"

#include <uv.h>

/* The storage state an answer shows: -1 without a store. */
static inline void pw_web_store_state(struct pw_store *st, int *state, int64_t *since)
{
    struct pw_store_health h = {.state = 0};
    if (!st) {
        *state = -1;
        *since = 0;
        return;
    }
    pw_store_health(st, &h);
    *state = (int)h.state;
    *since = h.since_ms;
}

/* ---- memo.c ---------------------------------------------------------------- */

#define PW_MEMO_SLOTS 8
#define PW_MEMO_URI_MAX 160

/* An answer depends only on these: compared bytewise (zero the padding
 * with pw_memo_key). */
struct pw_memo_key {
    char uri[PW_MEMO_URI_MAX];
    const void *snap;
    int64_t taken_ms, second, store_since;
    int store_state;
};

struct pw_memo {
    uv_mutex_t lock;
    struct {
        struct pw_memo_key key;
        struct pw_shared *answer;
    } slot[PW_MEMO_SLOTS];
    unsigned next;
};

int pw_memo_init(struct pw_memo *m);
void pw_memo_free(struct pw_memo *m);
/* Fills k; false when the request target is too long to remember. */
bool pw_memo_key(struct pw_memo_key *k, const char *uri, const struct pw_snapshot *snap,
                 int64_t now_ms, struct pw_store *st);
/* A reference to the remembered answer for k, or NULL. */
struct pw_shared *pw_memo_find(struct pw_memo *m, const struct pw_memo_key *k);
/* Remembers answer (taking a reference of its own) for k. */
void pw_memo_keep(struct pw_memo *m, const struct pw_memo_key *k, struct pw_shared *answer);

/* ---- status_cache.c -------------------------------------------------------- */

struct pw_status_cache {
    uv_mutex_t lock;
    const struct pw_web_sources *src; /* views are released through it */
    struct pw_pool *pool;             /* where later documents are built */
    bool tls;                         /* documents carry HSTS */
    struct pw_shared *doc;            /* the current document, or NULL */
    struct pw_web_view view;          /* what doc was built from */
    bool has_view;
    int store_state;
    int64_t store_since, built_ms;
    /* a newer view for the pool to build the next document from */
    struct pw_web_view want;
    bool want_has, queued;
    int64_t want_ms;
    struct pw_pool_job job;
};

int pw_status_cache_init(struct pw_status_cache *c, const struct pw_web_sources *src,
                         struct pw_pool *pool, bool tls);
/* Releases the views and the document; after the pool has stopped. */
void pw_status_cache_free(struct pw_status_cache *c);
/* A reference to the cached document when it may answer a request holding
 * *view at now_ms (see fits() in status_cache.c), else NULL: the request
 * then needs pw_status_cache_build, on the query pool. May take the
 * request's view reference (*has_view becomes false). */
struct pw_shared *pw_status_cache_get(struct pw_status_cache *c, struct pw_web_view *view,
                                      bool *has_view, int64_t now_ms);
/* A document fit for *view, built now unless another thread just built
 * one; NULL when out of memory. Blocks for the build: not on an HTTP
 * worker. */
struct pw_shared *pw_status_cache_build(struct pw_status_cache *c, struct pw_web_view *view,
                                        bool *has_view, int64_t now_ms);

/* ---- down_list.c ----------------------------------------------------------- */

struct pw_down_list {
    uv_mutex_t lock;
    const struct pw_plan *plan; /* the snapshot it was computed from: */
    int64_t taken;
    uint64_t probes;
    size_t total;
    uint32_t *idx;              /* plan indices of targets in trouble */
    size_t n;
    struct pw_tally tally;
};

int pw_down_list_init(struct pw_down_list *d);
void pw_down_list_free(struct pw_down_list *d);
/* A malloc'd copy of snap's troubled targets' indices, their number and
 * the counts over all targets. Returns 0 or PW_ENOMEM. */
int pw_down_list_get(struct pw_down_list *d, const struct pw_snapshot *snap, uint32_t **idx,
                     size_t *n, struct pw_tally *tally);

#endif
