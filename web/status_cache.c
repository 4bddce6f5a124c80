/*
 * The cached unfiltered /api/v1/status document (web/caches.h). The
 * document for 4,100 targets takes tens of milliseconds to build and is
 * about a megabyte of repetitive JSON (a tenth of that gzip-compressed,
 * which is what lets many pollers share it), and the engine publishes a
 * snapshot up to ten times a second; so it is built once and shared by
 * every request until a newer snapshot or storage state calls for another.
 */
#include "web/caches.h"

#include "web/api.h"
#include "web/gzip.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_REFRESH_MS 1000

static struct MHD_Response *doc_response(char *body, size_t len, bool gzipped, bool tls)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    pw_reply_common_headers(resp, tls);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gzipped)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return resp;
}

/* The document of v, plain and (when compression works) gzip'd; NULL when
 * out of memory. */
static struct pw_shared *build(struct pw_status_cache *c, const struct pw_web_view *v)
{
    json_t *doc = pw_api_status_doc(v, c->src->store);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s)
        return NULL;
    size_t len = strlen(s), zlen;
    char *z = pw_web_gzip(s, len, &zlen);
    struct MHD_Response *gz = z ? doc_response(z, zlen, true, c->tls) : NULL;
    return pw_shared_new(200, doc_response(s, len, false, c->tls), gz);
}

/* Makes doc (built from v) current; takes v's reference and returns true
 * when it did. Under c->lock. */
static bool install(struct pw_status_cache *c, const struct pw_web_view *v, int64_t now_ms,
                    int state, int64_t since, struct pw_shared *doc)
{
    if (!doc)
        return false;
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
 * want. */
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

/* One request at a time rebuilds the document, at most once per
 * STATUS_REFRESH_MS (sooner when storage changes state or the plan
 * changes), on the query pool, while every other request is served the
 * previous document (its snapshot_at says how old it is). Only the very
 * first document is built by the request that needs it. */
struct pw_shared *pw_status_cache_get(struct pw_status_cache *c, struct pw_web_view *view,
                                      bool *has_view, int64_t now_ms)
{
    int state;
    int64_t since;
    pw_web_store_state(c->src->store, &state, &since);
    const struct pw_snapshot *s = view->snap;
    uv_mutex_lock(&c->lock);
    bool have = c->doc != NULL;
    bool same = have && c->store_state == state && c->store_since == since;
    const struct pw_snapshot *cs = have ? c->view.snap : NULL;
    bool newer = !have || (cs != s && (cs->plan != s->plan || cs->taken_ms < s->taken_ms));
    bool rebuild = !have || !same || cs->plan != s->plan ||
                   (newer && now_ms - c->built_ms >= STATUS_REFRESH_MS);
    struct pw_shared *doc = NULL;
    if (rebuild && !have && !c->building) {
        c->building = true;
        uv_mutex_unlock(&c->lock);
        doc = build(c, view);
        uv_mutex_lock(&c->lock);
        c->building = false;
        if (doc && install(c, view, now_ms, state, since, pw_shared_ref(doc)))
            *has_view = false;
    } else if (rebuild && have) {
        want(c, view, has_view, now_ms);
    }
    if (!doc && c->doc)
        doc = pw_shared_ref(c->doc);
    uv_mutex_unlock(&c->lock);
    if (!doc) /* the first document is being built by another request */
        doc = build(c, view);
    return doc;
}
