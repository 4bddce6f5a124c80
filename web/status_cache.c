/*
 * The cached unfiltered /api/v1/status document (web/caches.h). The
 * document for 4,100 targets takes tens of milliseconds to build and is
 * about a megabyte of repetitive JSON (a tenth of that gzip-compressed,
 * which is what lets many pollers share it), and the engine publishes a
 * snapshot up to ten times a second; so it is built once and shared by
 * every request until a newer snapshot or storage state calls for another.
 * Freshness (issue 16): an answer's snapshot is never more than
 * STATUS_REFRESH_MS older than the newest one when the request came, so a
 * poller sees the latest sweep however long it was idle.
 */
#include "web/caches.h"

#include "web/api.h"

#include <stdlib.h>
#include <string.h>

#define STATUS_REFRESH_MS 1000

/* The document of v as a shared answer (plain and gzip'd, with their
 * ETags); NULL when out of memory. */
static struct pw_shared *build(struct pw_status_cache *c, const struct pw_web_view *v)
{
    size_t len;
    char *s = pw_api_status_text(v, c->src->store, &len);
    if (!s)
        return NULL;
    struct pw_reply r = {.tls = c->tls};
    pw_reply_text(&r, 200, "application/json", s, len);
    struct pw_shared *sh = pw_reply_to_shared(&r);
    pw_reply_clear(&r);
    return sh;
}

/* Whether the cached document may answer a request holding view: same
 * plan and storage state, and built from a snapshot at most
 * STATUS_REFRESH_MS older than the request's (issue 16: a poller sees
 * the latest sweep, never the document an earlier request left). Under
 * c->lock. */
static bool fits(const struct pw_status_cache *c, const struct pw_web_view *view, int state,
                 int64_t since)
{
    if (!c->doc || c->store_state != state || c->store_since != since ||
        c->view.maint != view->maint) /* a maintenance window opened or closed */
        return false;
    const struct pw_snapshot *cs = c->view.snap, *s = view->snap;
    return cs == s || (cs->plan == s->plan && cs->taken_ms >= s->taken_ms - STATUS_REFRESH_MS);
}

/* Makes doc (built from v) current unless the current one is newer; takes
 * v's reference and returns true when it did. Under c->lock. */
static bool install(struct pw_status_cache *c, const struct pw_web_view *v, int64_t now_ms,
                    int state, int64_t since, struct pw_shared *doc)
{
    if (!doc)
        return false;
    if (c->doc && c->view.snap->plan == v->snap->plan &&
        c->view.snap->taken_ms > v->snap->taken_ms) {
        pw_shared_unref(doc);
        return false;
    }
    pw_shared_unref(c->doc);
    if (c->has_view)
        c->src->release(c->src->ud, &c->view);
    c->doc = doc;
    c->view = *v;
    c->has_view = true;
    c->store_state = state;
    c->store_since = since;
    c->built_ms = now_ms;
    return true;
}

/* On a pool thread: builds the document for the view a request left in
 * want, so that the cache keeps up with snapshots while polled. */
static void on_rebuild(struct pw_pool_job *j, bool cancelled)
{
    struct pw_status_cache *c = (struct pw_status_cache *)((char *)j -
                                                           offsetof(struct pw_status_cache, job));
    uv_mutex_lock(&c->lock);
    struct pw_web_view v = c->want;
    int64_t now = c->want_ms;
    bool have = c->want_has;
    c->want_has = false;
    c->queued = false;
    uv_mutex_unlock(&c->lock);
    if (!have)
        return;
    if (cancelled) {
        c->src->release(c->src->ud, &v);
        return;
    }
    int state;
    int64_t since;
    pw_web_store_state(c->src->store, &state, &since);
    struct pw_shared *doc = build(c, &v);
    uv_mutex_lock(&c->lock);
    bool kept = install(c, &v, now, state, since, doc);
    uv_mutex_unlock(&c->lock);
    if (!kept)
        c->src->release(c->src->ud, &v);
}

int pw_status_cache_init(struct pw_status_cache *c, const struct pw_web_sources *src,
                         struct pw_pool *pool, bool tls)
{
    memset(c, 0, sizeof *c);
    c->src = src;
    c->tls = tls;
    c->pool = pool;
    c->job.run = on_rebuild;
    return uv_mutex_init(&c->lock);
}

void pw_status_cache_free(struct pw_status_cache *c)
{
    if (c->want_has)
        c->src->release(c->src->ud, &c->want);
    if (c->has_view)
        c->src->release(c->src->ud, &c->view);
    pw_shared_unref(c->doc);
    uv_mutex_destroy(&c->lock);
}

/* Hands *view to the pool for the next document. Under c->lock. */
static void want(struct pw_status_cache *c, struct pw_web_view *view, bool *has_view,
                 int64_t now_ms)
{
    if (c->want_has)
        c->src->release(c->src->ud, &c->want);
    c->want = *view;
    c->want_has = true;
    c->want_ms = now_ms;
    *has_view = false;
    if (!c->queued)
        c->queued = pw_pool_submit(c->pool, &c->job);
}

/* A request's view is served the cached document while it fits; a newer
 * snapshot than the document's has it rebuilt on the query pool at most
 * twice per STATUS_REFRESH_MS meanwhile. A request the document does not
 * fit (idle longer than that, a new plan, storage changed state, no
 * document yet) waits for its own: pw_status_cache_build on the pool. */
struct pw_shared *pw_status_cache_get(struct pw_status_cache *c, struct pw_web_view *view,
                                      bool *has_view, int64_t now_ms)
{
    int state;
    int64_t since;
    pw_web_store_state(c->src->store, &state, &since);
    struct pw_shared *doc = NULL;
    uv_mutex_lock(&c->lock);
    if (fits(c, view, state, since)) {
        doc = pw_shared_ref(c->doc);
        const struct pw_snapshot *cs = c->view.snap, *s = view->snap;
        /* Rebuilt in the background at half the window, so that under
         * steady polling the document never falls out of it. */
        if (cs != s && cs->taken_ms < s->taken_ms &&
            now_ms - c->built_ms >= STATUS_REFRESH_MS / 2)
            want(c, view, has_view, now_ms);
    }
    uv_mutex_unlock(&c->lock);
    return doc;
}

struct pw_shared *pw_status_cache_build(struct pw_status_cache *c, struct pw_web_view *view,
                                        bool *has_view, int64_t now_ms)
{
    struct pw_shared *doc = pw_status_cache_get(c, view, has_view, now_ms);
    if (doc)
        return doc; /* another request built one meanwhile */
    int state;
    int64_t since;
    pw_web_store_state(c->src->store, &state, &since);
    doc = build(c, view);
    if (!doc)
        return NULL;
    uv_mutex_lock(&c->lock);
    if (install(c, view, now_ms, state, since, pw_shared_ref(doc)))
        *has_view = false;
    uv_mutex_unlock(&c->lock);
    return doc;
}
