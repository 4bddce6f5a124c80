/*
 * The HTTP server behind web/web.h: libmicrohttpd set-up (listen address,
 * limits, TLS), authentication, routing, the pool of threads that run store
 * queries for suspended connections, and the cache of the serialized
 * /api/v1/status document. Endpoints themselves live in api.c and
 * metrics.c.
 *
 * Why this threading: MHD's internal thread pool with MHD_USE_AUTO (epoll
 * on Linux) multiplexes every connection on a few event-driven workers, so
 * slow or idle clients cost a socket and a timeout, not a thread (thread-
 * per-connection would let a few hundred slow clients exhaust threads). An
 * event-driven worker must never block, though: snapshot endpoints take
 * microseconds, but a store query can take a long time (and the store
 * serializes its queries on one read connection), so those requests are
 * suspended (MHD_suspend_connection) and handed to the query pool, which
 * resumes them with the answer ready.
 *
 * Every request owns a struct pw_req from the moment its request line is
 * parsed (the URI log callback) to the completion callback, which frees it.
 */
#include "web/web_int.h"
#include "web/dashboard/assets.h"

#include "config/error.h"
#include "config/values.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define DEF_MAX_CONNECTIONS 512
#define DEF_MAX_PER_IP 128
#define DEF_TIMEOUT_S 30
#define DEF_MAX_REQUEST 32768
#define MIN_MAX_REQUEST 4096
#define DEF_THREADS 2
#define DEF_QUERY_THREADS 2
#define MAX_PEM_BYTES (1024 * 1024)
#define STATUS_REFRESH_MS 1000

#define MEMO_SLOTS 8
#define MEMO_URI_MAX 160

struct memo_key {
    char uri[MEMO_URI_MAX];
    const void *snap;
    int64_t taken_ms, second, store_since;
    int store_state;
};

struct memo {
    struct memo_key key;
    struct MHD_Response *resp;
    unsigned status;
};

struct pw_web {
    struct MHD_Daemon *d;
    /* remembered /api/v1/health answers */
    uv_mutex_t memo_lock;
    struct memo memo[MEMO_SLOTS];
    unsigned memo_next;
    struct pw_web_sources src;
    char *token;
    size_t token_len;
    pw_web_log_cb log;
    void *log_ud;
    uint16_t port;
    char *pem_cert, *pem_key;

    /* the query pool */
    uv_mutex_t qlock;
    uv_cond_t qcond;
    struct pw_req *qhead, *qtail;
    bool stopping;
    uv_thread_t *qthreads;
    unsigned nqthreads;

    /* the cached unfiltered status answer */
    uv_mutex_t cache_lock;
    struct pw_web_view cache_view;
    bool cache_has;
    int cache_store_state;
    int64_t cache_store_since;
    struct MHD_Response *cache_resp;
    struct MHD_Response *cache_gz; /* the same, gzip-compressed, or NULL */
    /* a newer view for the query pool to build the next document from
     * (under qlock) */
    struct pw_web_view cache_want;
    bool cache_want_has;
    int64_t cache_want_ms;
    int64_t cache_built_ms;
    bool cache_building;

    /* down targets of the last view, for unscoped health polls */
    uv_mutex_t down_lock;
    const struct pw_plan *down_plan;
    int64_t down_taken;
    uint64_t down_probes;
    size_t down_total;
    uint32_t *down_idx;
    size_t down_n, down_unknown;

};

static void wlog(struct pw_web *w, int level, const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(3, 4)
#endif
    ;
static void wlog(struct pw_web *w, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(w->log, w->log_ud, "web", level, fmt, ap);
    va_end(ap);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* MHD's messages are about single clients (resets, timeouts, bad
     * requests): debug, except start-up problems which we report ourselves. */
    wlog(cls, 3, "%s", msg);
}

/* ---- replies ---------------------------------------------------------------- */

/* Copies s, replacing bytes that are not UTF-8 (a message may quote a
 * client string cut mid-character) so jansson accepts it. */
static json_t *json_text(const char *s)
{
    size_t n = strlen(s);
    if (pw_web_utf8_valid(s, n))
        return json_stringn(s, n);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 1;
        unsigned char b = (unsigned char)s[i];
        if (b >= 0xC0)
            len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        if (b >= 0x80 && (i + len > n || !pw_web_utf8_valid(s + i, len))) {
            c[o++] = '?';
            continue;
        }
        memcpy(c + o, s + i, len);
        o += len;
        i += len - 1;
    }
    json_t *j = json_stringn(c, o);
    free(c);
    return j;
}

void pw_reply_json(struct pw_reply *out, unsigned status, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s) {
        static const char oom[] = "{\"error\":\"unavailable\",\"detail\":\"out of memory\"}";
        free(out->body);
        out->body = NULL;
        out->status = 503;
        out->ctype = "application/json";
        out->shared = NULL;
        out->len = sizeof oom - 1;
        out->body = malloc(out->len);
        if (out->body)
            memcpy(out->body, oom, out->len);
        return;
    }
    pw_reply_text(out, status, "application/json", s, strlen(s));
}

void pw_reply_text(struct pw_reply *out, unsigned status, const char *ctype, char *body,
                   size_t len)
{
    free(out->body);
    out->status = status;
    out->ctype = ctype;
    out->body = body;
    out->len = len;
}

void pw_reply_error(struct pw_reply *out, unsigned status, const char *error, const char *fmt,
                    ...)
{
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *doc = json_object();
    if (doc) {
        json_object_set_new(doc, "error", json_string(error));
        json_object_set_new(doc, "detail", json_text(detail));
    }
    pw_reply_json(out, status, doc);
}

/* The MHD response for a filled reply (taking its body), or NULL. */
static struct MHD_Response *make_response(struct pw_reply *out)
{
    if (!out->body && out->status == 0)
        pw_reply_error(out, 503, "unavailable", "no answer (out of memory)");
    if (!out->body) {
        static const char fallback[] = "{\"error\":\"unavailable\"}";
        out->status = 503;
        return MHD_create_response_from_buffer(sizeof fallback - 1, (void *)fallback,
                                               MHD_RESPMEM_PERSISTENT);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(out->len, out->body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return NULL;
    out->body = NULL; /* the response owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out->ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (out->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
    if (out->challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"portwatch\"");
    return resp;
}

static MHD_Result_t send_reply(struct pw_req *r, struct pw_reply *out)
{
    struct MHD_Response *resp = make_response(out);
    if (!resp)
        return MHD_NO;
    MHD_Result_t ret = MHD_queue_response(r->conn, out->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the health memo -------------------------------------------------------- */

/* Alerting systems poll /api/v1/health, often many of them, often with the
 * same query. Its answer depends only on the request target, the snapshot,
 * the storage state and the current second (durations are in seconds), so
 * the last few answers are kept and queued as they are while all four
 * match. Responses are queued under the lock for the reason given at
 * pw_web_cached_status. */
static void store_state(struct pw_store *st, int *state, int64_t *since);

static void memo_key_of(struct pw_req *r, struct memo_key *k)
{
    memset(k, 0, sizeof *k);
    snprintf(k->uri, sizeof k->uri, "%s", r->raw);
    k->snap = r->view.snap;
    k->taken_ms = r->view.snap->taken_ms;
    k->second = r->now_ms / 1000;
    store_state(r->w->src.store, &k->store_state, &k->store_since);
}

/* Queues a remembered answer for r; returns false when there is none. */
static bool memo_serve(struct pw_req *r, const struct memo_key *k, struct pw_reply *out)
{
    struct pw_web *w = r->w;
    bool hit = false;
    uv_mutex_lock(&w->memo_lock);
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        struct memo *m = &w->memo[i];
        if (m->resp && memcmp(&m->key, k, sizeof *k) == 0) {
            hit = MHD_queue_response(r->conn, m->status, m->resp) == MHD_YES;
            break;
        }
    }
    uv_mutex_unlock(&w->memo_lock);
    if (hit)
        out->shared = w;
    return hit;
}

/* Turns r's filled reply into a remembered response and queues it. */
static void memo_keep(struct pw_req *r, const struct memo_key *k, struct pw_reply *out)
{
    struct pw_web *w = r->w;
    struct MHD_Response *resp = make_response(out);
    if (!resp)
        return; /* out keeps its status; send_reply answers 503 */
    uv_mutex_lock(&w->memo_lock);
    struct memo *m = &w->memo[w->memo_next++ % MEMO_SLOTS];
    if (m->resp)
        MHD_destroy_response(m->resp);
    m->key = *k;
    m->resp = resp;
    m->status = out->status;
    if (MHD_queue_response(r->conn, m->status, resp) == MHD_YES)
        out->shared = w;
    uv_mutex_unlock(&w->memo_lock);
}

/* ---- the cached status document -------------------------------------------- */

static void store_state(struct pw_store *st, int *state, int64_t *since)
{
    if (!st) {
        *state = -1;
        *since = 0;
        return;
    }
    struct pw_store_health h;
    pw_store_health(st, &h);
    *state = (int)h.state;
    *since = h.since_ms;
}

static struct MHD_Response *status_response(char *body, size_t len, bool gzipped)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gzipped)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return resp;
}

/* Builds the status document, plain and gzip-compressed. The document for
 * thousands of targets is about a megabyte of repetitive JSON; compressed
 * it is a tenth of that, which is what lets many pollers share it. *gz is
 * NULL when compression fails (the plain one still serves). */
static struct MHD_Response *build_status(struct pw_web *w, const struct pw_web_view *v,
                                         int64_t now_ms, struct MHD_Response **gz)
{
    *gz = NULL;
    json_t *doc = pw_api_status_doc(v, w->src.store, now_ms);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s)
        return NULL;
    size_t len = strlen(s);
    size_t zlen;
    char *z = pw_web_gzip(s, len, &zlen);
    if (z)
        *gz = status_response(z, zlen, true);
    return status_response(s, len, false);
}

/* Whether the request's Accept-Encoding takes gzip (and not with q=0). */
static bool accepts_gzip(struct pw_req *r)
{
    const char *ae = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const char *g = ae ? strstr(ae, "gzip") : NULL;
    if (!g)
        return false;
    const char *q = g + 4;
    while (*q == ' ')
        q++;
    if (*q == ';') {
        q++;
        while (*q == ' ')
            q++;
        if (strncmp(q, "q=0", 3) == 0 && strspn(q + 3, ".0") == strcspn(q + 3, ", "))
            return false;
    }
    return true;
}

/* Queues the shared status response for r. The document for 4,100 targets
 * takes tens of milliseconds to build and the engine publishes a snapshot
 * up to ten times a second, so: one request at a time rebuilds it, at most
 * once per STATUS_REFRESH_MS (sooner when storage changes state), outside
 * the lock, while every other request is served the previous document
 * (its snapshot_at says how old it is). The response is queued under the
 * lock: libmicrohttpd counts its own references to a response but offers
 * no way to take one outside MHD_queue_response, so the cache may only
 * drop its reference while no request is between lookup and queueing. */
/* Makes resp/gz (built from v) the cached document; takes v's reference
 * and returns true when it did. Under cache_lock. */
static bool cache_install(struct pw_web *w, const struct pw_web_view *v, int64_t now_ms,
                          int state, int64_t since, struct MHD_Response *resp,
                          struct MHD_Response *gz)
{
    if (!resp) {
        if (gz)
            MHD_destroy_response(gz);
        return false;
    }
    if (w->cache_resp)
        MHD_destroy_response(w->cache_resp);
    if (w->cache_gz)
        MHD_destroy_response(w->cache_gz);
    if (w->cache_has)
        w->src.release(w->src.ud, &w->cache_view);
    w->cache_resp = resp;
    w->cache_gz = gz;
    w->cache_view = *v;
    w->cache_has = true;
    w->cache_store_state = state;
    w->cache_store_since = since;
    w->cache_built_ms = now_ms;
    return true;
}

/* On a query thread: builds the document for the view a request left in
 * cache_want. Called with qlock held; returns with it held. */
static void cache_rebuild(struct pw_web *w)
{
    struct pw_web_view v = w->cache_want;
    int64_t now = w->cache_want_ms;
    w->cache_want_has = false;
    uv_mutex_unlock(&w->qlock);
    int state;
    int64_t since;
    store_state(w->src.store, &state, &since);
    struct MHD_Response *gz;
    struct MHD_Response *resp = build_status(w, &v, now, &gz);
    uv_mutex_lock(&w->cache_lock);
    if (!cache_install(w, &v, now, state, since, resp, gz))
        w->src.release(w->src.ud, &v);
    uv_mutex_unlock(&w->cache_lock);
    uv_mutex_lock(&w->qlock);
}

void *pw_web_cached_status(struct pw_req *r)
{
    struct pw_web *w = r->w;
    int state;
    int64_t since;
    store_state(w->src.store, &state, &since);
    uv_mutex_lock(&w->cache_lock);
    bool have = w->cache_has && w->cache_resp;
    bool same = have && w->cache_store_state == state && w->cache_store_since == since;
    bool newer = !have || (w->cache_view.snap != r->view.snap &&
                           (w->cache_view.snap->plan != r->view.snap->plan ||
                            w->cache_view.snap->taken_ms < r->view.snap->taken_ms));
    bool rebuild = !have || !same || w->cache_view.snap->plan != r->view.snap->plan ||
                   (newer && r->now_ms - w->cache_built_ms >= STATUS_REFRESH_MS);
    if (rebuild && !have && !w->cache_building) {
        /* The first document: this request builds it. */
        w->cache_building = true;
        uv_mutex_unlock(&w->cache_lock);
        struct MHD_Response *gz;
        struct MHD_Response *resp = build_status(w, &r->view, r->now_ms, &gz);
        uv_mutex_lock(&w->cache_lock);
        w->cache_building = false;
        if (cache_install(w, &r->view, r->now_ms, state, since, resp, gz))
            r->has_view = false; /* the cache took the request's reference */
    } else if (rebuild && have) {
        /* Later ones are built on the query pool while this and every
         * other request are served the previous document: a worker thread
         * never stalls its other connections for the build. */
        uv_mutex_lock(&w->qlock);
        if (!w->stopping) {
            if (w->cache_want_has)
                w->src.release(w->src.ud, &w->cache_want);
            w->cache_want = r->view;
            w->cache_want_has = true;
            w->cache_want_ms = r->now_ms;
            r->has_view = false;
            uv_cond_signal(&w->qcond);
        }
        uv_mutex_unlock(&w->qlock);
    }
    MHD_Result_t ret = MHD_NO;
    bool gzip = accepts_gzip(r);
    if (w->cache_resp) {
        ret = MHD_queue_response(r->conn, 200, gzip && w->cache_gz ? w->cache_gz : w->cache_resp);
        uv_mutex_unlock(&w->cache_lock);
    } else { /* the first document is being built by another request */
        uv_mutex_unlock(&w->cache_lock);
        struct MHD_Response *gz;
        struct MHD_Response *resp = build_status(w, &r->view, r->now_ms, &gz);
        if (resp)
            ret = MHD_queue_response(r->conn, 200, gzip && gz ? gz : resp);
        if (resp)
            MHD_destroy_response(resp);
        if (gz)
            MHD_destroy_response(gz);
    }
    return ret == MHD_YES ? (void *)w : NULL;
}

static uint64_t probes_total(const struct pw_snapshot *s)
{
    uint64_t n = 0;
    for (int k = 0; k < PW_STATE_COUNT_; k++)
        n += s->stats.probes[k];
    return n;
}

/* Health is polled often and would scan every target (600 kB of state for
 * 4,100 targets) each time; the scan of a snapshot is done once and its
 * result shared. No reference is kept: a snapshot is recognised by its
 * plan, time and probe count, which differ between any two the engine
 * publishes (they are at least 100 ms apart, or hold new results). */
int pw_web_down_list(struct pw_req *r, uint32_t **idx, size_t *n, size_t *unknown)
{
    struct pw_web *w = r->w;
    const struct pw_snapshot *s = r->view.snap;
    uint64_t probes = probes_total(s);
    uv_mutex_lock(&w->down_lock);
    if (!w->down_idx || w->down_plan != s->plan || w->down_taken != s->taken_ms ||
        w->down_probes != probes || w->down_total != s->ntargets) {
        size_t nd = 0, nu = 0;
        for (size_t i = 0; i < s->ntargets; i++) {
            nd += s->targets[i].status == PW_STATUS_DOWN;
            nu += s->targets[i].status == PW_STATUS_UNKNOWN;
        }
        uint32_t *v = malloc((nd ? nd : 1) * sizeof *v);
        if (!v) {
            uv_mutex_unlock(&w->down_lock);
            return PW_ENOMEM;
        }
        nd = 0;
        for (size_t i = 0; i < s->ntargets; i++)
            if (s->targets[i].status == PW_STATUS_DOWN)
                v[nd++] = (uint32_t)i;
        free(w->down_idx);
        w->down_idx = v;
        w->down_n = nd;
        w->down_unknown = nu;
        w->down_plan = s->plan;
        w->down_taken = s->taken_ms;
        w->down_probes = probes;
        w->down_total = s->ntargets;
    }
    uint32_t *c = malloc((w->down_n ? w->down_n : 1) * sizeof *c);
    if (!c) {
        uv_mutex_unlock(&w->down_lock);
        return PW_ENOMEM;
    }
    memcpy(c, w->down_idx, w->down_n * sizeof *c);
    *idx = c;
    *n = w->down_n;
    *unknown = w->down_unknown;
    uv_mutex_unlock(&w->down_lock);
    return 0;
}

/* ---- the query pool ----------------------------------------------------------- */

const struct pw_web_sources *pw_web_sources_of(struct pw_req *r)
{
    return &r->w->src;
}

struct pw_store *pw_web_store_of(struct pw_req *r)
{
    return r->w->src.store;
}

struct pw_store *pw_web_store(struct pw_req *r, struct pw_reply *out)
{
    if (!r->w->src.store) {
        pw_reply_error(out, 503, "unavailable",
                       "history is not available: this portwatch runs without a database");
        return NULL;
    }
    return r->w->src.store;
}

void pw_web_defer(struct pw_req *r, pw_endpoint_fn job)
{
    r->job = job;
}

static void on_query_thread(void *arg)
{
    struct pw_web *w = arg;
    uv_mutex_lock(&w->qlock);
    for (;;) {
        while (!w->qhead && !w->cache_want_has && !w->stopping)
            uv_cond_wait(&w->qcond, &w->qlock);
        if (w->cache_want_has && !w->stopping) {
            cache_rebuild(w);
            continue;
        }
        struct pw_req *r = w->qhead;
        if (!r)
            break; /* stopping and drained */
        w->qhead = r->next_job;
        if (!w->qhead)
            w->qtail = NULL;
        bool stopping = w->stopping;
        uv_mutex_unlock(&w->qlock);
        if (stopping)
            pw_reply_error(&r->reply, 503, "unavailable", "portwatch is shutting down");
        else
            r->job(r, &r->reply);
        /* After this call the connection's worker may run and free r. */
        MHD_resume_connection(r->conn);
        uv_mutex_lock(&w->qlock);
    }
    uv_mutex_unlock(&w->qlock);
}

/* Suspends r's connection and queues its job; false when stopping. */
static bool enqueue(struct pw_web *w, struct pw_req *r)
{
    uv_mutex_lock(&w->qlock);
    if (w->stopping) {
        uv_mutex_unlock(&w->qlock);
        return false;
    }
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    r->next_job = NULL;
    if (w->qtail)
        w->qtail->next_job = r;
    else
        w->qhead = r;
    w->qtail = r;
    uv_cond_signal(&w->qcond);
    uv_mutex_unlock(&w->qlock);
    return true;
}

/* ---- requests ---------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct pw_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->w = cls;
    r->conn = c;
    r->raw = strdup(uri ? uri : "");
    return r;
}

static void req_free(struct pw_req *r)
{
    if (r->has_view)
        r->w->src.release(r->w->src.ud, &r->view);
    for (size_t i = 0; i < r->nparams; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    free(r->path);
    free(r->raw);
    free(r->reply.body);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    if (*con_cls)
        req_free(*con_cls);
    *con_cls = NULL;
}

/* Bearer token check in time independent of where the strings differ. */
static bool token_ok(const struct pw_web *w, const char *header)
{
    if (!header || strlen(header) < 7)
        return false;
    char scheme[7];
    memcpy(scheme, header, 6);
    scheme[6] = '\0';
    if (pw_strcasecmp(scheme, "bearer") != 0 || header[6] != ' ')
        return false;
    const char *t = header + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    unsigned char diff = (unsigned char)(n != w->token_len);
    for (size_t i = 0; i < w->token_len; i++)
        diff |= (unsigned char)(w->token[i] ^ (i < n ? t[i] : 0));
    return diff == 0;
}

static int acquire_view(struct pw_req *r, struct pw_reply *out)
{
    if (r->has_view)
        return 0;
    if (r->w->src.acquire(r->w->src.ud, &r->view) != 0 || !r->view.snap) {
        pw_reply_error(out, 503, "unavailable", "no probe data yet");
        return -1;
    }
    r->has_view = true;
    return 0;
}

enum route_kind { R_SNAPSHOT, R_STORE };

struct route {
    const char *path;     /* exact, or the prefix before "{id}" */
    const char *suffix;   /* after "{id}"; NULL: exact path */
    pw_endpoint_fn fn;
    enum route_kind kind;
    const char *const *params;
};

static const char *const p_none[] = {NULL};
static const char *const p_status[] = {"host", "role", "status", NULL};
static const char *const p_host[] = {"host", NULL};
static const char *const p_health[] = {"host", "role", "min_duration", "format", NULL};
static const char *const p_history[] = {"from", "to", "step", NULL};
static const char *const p_outages[] = {"from", "to", "host", "role", "open", "limit", NULL};
static const char *const p_uptime[] = {"from", "to", "by", NULL};

static const struct route routes[] = {
    {"/api/v1/status", NULL, pw_api_status, R_SNAPSHOT, p_status},
    {"/api/v1/health", NULL, pw_api_health, R_SNAPSHOT, p_health},
    {"/metrics", NULL, pw_api_metrics, R_SNAPSHOT, p_none},
    {"/api/v1/outages", NULL, pw_api_outages, R_STORE, p_outages},
    {"/api/v1/uptime", NULL, pw_api_uptime, R_STORE, p_uptime},
    {"/api/v1/rpc/endpoints", NULL, pw_api_rpc_endpoints, R_SNAPSHOT, p_host},
    {"/api/v1/targets/", "", pw_api_target, R_SNAPSHOT, p_none},
    {"/api/v1/targets/", "/history", pw_api_history, R_STORE, p_history},
};

static const char endpoints[] =
    "/api/v1/status, /api/v1/health, /api/v1/targets/{id}, /api/v1/targets/{id}/history, "
    "/api/v1/outages, /api/v1/uptime, /api/v1/rpc/endpoints, /metrics";

/* "{id}" of a targets route: 1 to 2^32-1. Sets *id; returns 0, or -1 with
 * a 400 in out. */
static int parse_id(const char *s, size_t n, uint32_t *id, struct pw_reply *out)
{
    uint64_t v = 0;
    bool ok = n > 0 && n <= 10;
    for (size_t i = 0; i < n && ok; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (!ok || v == 0 || v > UINT32_MAX) {
        pw_reply_error(out, 400, "bad parameter",
                       "id: must be a target id, an integer 1 to 4294967295 "
                       "(see /api/v1/status)");
        return -1;
    }
    *id = (uint32_t)v;
    return 0;
}

static const struct route *route_find(struct pw_req *r, struct pw_reply *out, bool *bad)
{
    *bad = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        size_t pl = strlen(rt->path);
        if (!rt->suffix) {
            if (strcmp(r->path, rt->path) == 0)
                return rt;
            continue;
        }
        if (strncmp(r->path, rt->path, pl) != 0)
            continue;
        const char *idp = r->path + pl;
        size_t idn = strcspn(idp, "/");
        if (idn == 0 || strcmp(idp + idn, rt->suffix) != 0)
            continue;
        if (parse_id(idp, idn, &r->id, out) != 0) {
            *bad = true;
            return NULL;
        }
        return rt;
    }
    return NULL;
}

/* Runs a request up to its answer (or to its hand-off to the query pool). */
static void handle(struct pw_req *r, const char *method, struct pw_reply *out)
{
    struct pw_web *w = r->w;
    if (w->token_len) {
        const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        if (!token_ok(w, auth)) {
            pw_reply_error(out, 401, "unauthorized",
                           auth ? "the bearer token is not valid"
                                : "this server needs an API token: send the header "
                                  "'Authorization: Bearer TOKEN'");
            out->challenge = true;
            return;
        }
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        pw_reply_error(out, 405, "method not allowed",
                       "%.32s is not allowed; the API is read-only: use GET or HEAD", method);
        out->allow = "GET, HEAD";
        return;
    }
    if (pw_web_parse_uri(r, out) != 0)
        return;
    bool bad;
    const struct route *rt = route_find(r, out, &bad);
    if (bad)
        return;
    if (!rt) {
        pw_reply_error(out, 404, "not found", "no such endpoint; endpoints: %s", endpoints);
        return;
    }
    if (pw_web_check_params(r, rt->params, out) != 0)
        return;
    r->now_ms = pw_web_now_ms();
    if (rt->kind == R_STORE) {
        if (!pw_web_store(r, out))
            return;
        pw_web_defer(r, rt->fn);
        return;
    }
    if (acquire_view(r, out) != 0)
        return;
    if (rt->fn == pw_api_health && strlen(r->raw) < MEMO_URI_MAX) {
        struct memo_key k;
        memo_key_of(r, &k);
        if (memo_serve(r, &k, out))
            return;
        rt->fn(r, out);
        memo_keep(r, &k, out);
        return;
    }
    rt->fn(r, out);
}

/* ---- the dashboard -------------------------------------------------------------- */

/* The dashboard's files (web/dashboard/) are served without the API token:
 * they hold no data, and a browser cannot send a bearer header when it
 * navigates; the API calls the page makes carry the token. Revalidated by
 * ETag on every load (no-cache) so an upgrade shows at once, under a CSP
 * that allows nothing but this origin. */
static const char dashboard_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* Answers r when it asks for a dashboard file: returns true and sets *ret. */
static bool serve_asset(struct pw_req *r, const char *method, MHD_Result_t *ret)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return false;
    char path[64];
    size_t n = strcspn(r->raw, "?#");
    if (n >= sizeof path)
        return false;
    memcpy(path, r->raw, n);
    path[n] = '\0';
    const struct pw_asset *a = pw_dashboard_asset(path);
    if (!a)
        return false;
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = inm && (strstr(inm, a->etag) || strcmp(inm, "*") == 0);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        *ret = MHD_NO;
        return true;
    }
    if (!fresh)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", dashboard_csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    *ret = MHD_queue_response(r->conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return true;
}

static MHD_Result_t on_request(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    struct pw_web *w = cls;
    struct pw_req *r = *con_cls;
    if (!r) {
        r = on_uri(w, url, c);
        if (!r)
            return MHD_NO;
        *con_cls = r;
    }
    if (r->suspended) { /* resumed by the query pool: the answer is ready */
        r->suspended = false;
        r->replied = true;
        return send_reply(r, &r->reply);
    }
    if (r->replied) { /* a body we do not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Answer once the whole request is in: libmicrohttpd closes the
     * connection after a response queued on the first (headers-only)
     * call, which would cost every keep-alive client a new connection. */
    if (!r->headers_seen) {
        r->headers_seen = true;
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a body we do not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    r->replied = true;
    MHD_Result_t aret;
    if (serve_asset(r, method, &aret))
        return aret;
    struct pw_reply *out = &r->reply;
    handle(r, method, out);
    if (r->job && !out->body) {
        if (enqueue(w, r))
            return MHD_YES;
        pw_reply_error(out, 503, "unavailable", "portwatch is shutting down");
    }
    if (out->shared)
        return MHD_YES; /* queued from the cache */
    return send_reply(r, out);
}

/* ---- start and stop ----------------------------------------------------------- */

static int read_pem(const char *path, const char *what, char **out, char err[PW_WEB_ERR_MAX])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, PW_WEB_ERR_MAX, "%s: cannot open '%s'", what, path);
        return PW_EIO;
    }
    char *buf = malloc(MAX_PEM_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(err, PW_WEB_ERR_MAX, "%s: out of memory", what);
        return PW_ENOMEM;
    }
    if (bad || n == 0 || n > MAX_PEM_BYTES || !strstr(buf, "-----BEGIN")) {
        free(buf);
        snprintf(err, PW_WEB_ERR_MAX, "%s: '%s' is %s", what, path,
                 bad ? "unreadable" : n > MAX_PEM_BYTES ? "larger than 1 MB" : "not a PEM file");
        return PW_EINVAL;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static void web_free(struct pw_web *w)
{
    free(w->token);
    free(w->pem_cert);
    free(w->pem_key);
    free(w->qthreads);
    free(w);
}

int pw_web_start(const struct pw_web_options *o, const struct pw_web_sources *src,
                 struct pw_web **out, char err[PW_WEB_ERR_MAX])
{
    *out = NULL;
    err[0] = '\0';
    if (!src || !src->acquire || !src->release) {
        snprintf(err, PW_WEB_ERR_MAX, "web: no data source (acquire/release)");
        return PW_EINVAL;
    }
    const char *listen = o->listen && *o->listen ? o->listen : "127.0.0.1:8470";
    char *host = NULL;
    uint16_t port;
    char perr[PW_ERRBUF];
    /* Port 0 (any free port, for tests and benchmarks) is ours to allow:
     * the configuration's parser rightly refuses it. */
    size_t ll = strlen(listen);
    bool any_port = ll > 2 && strcmp(listen + ll - 2, ":0") == 0;
    char tmp[300];
    if (any_port && ll < sizeof tmp) {
        snprintf(tmp, sizeof tmp, "%.*s:1", (int)(ll - 2), listen);
        listen = tmp;
    }
    if (pw_parse_listen(listen, &host, &port, perr) != 0) {
        snprintf(err, PW_WEB_ERR_MAX, "listen: %.200s", perr);
        return PW_EINVAL;
    }
    if (any_port) {
        port = 0;
        listen = o->listen;
    }
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof addr);
    const char *lit = pw_strcasecmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    bool v6 = false;
    if (uv_ip4_addr(lit, port, &addr.in4) != 0) {
        if (uv_ip6_addr(lit, port, &addr.in6) != 0) {
            snprintf(err, PW_WEB_ERR_MAX,
                     "listen: '%.64s' is not an IP address; use an IPv4 or IPv6 address "
                     "(127.0.0.1, [::1], 0.0.0.0) or localhost", host);
            free(host);
            return PW_EINVAL;
        }
        v6 = true;
    }
    bool loopback = pw_is_loopback(host);
    bool has_token = o->api_token && *o->api_token;
    if (!loopback && !has_token && !o->allow_anonymous) {
        snprintf(err, PW_WEB_ERR_MAX,
                 "listen: %.64s is not a loopback address, so the API needs api_token "
                 "(clients send Authorization: Bearer TOKEN), or allow_anonymous = yes "
                 "on a trusted network", listen);
        free(host);
        return PW_EINVAL;
    }
    free(host);
    bool tls_c = o->tls_cert_file && *o->tls_cert_file;
    bool tls_k = o->tls_key_file && *o->tls_key_file;
    if (tls_c != tls_k) {
        snprintf(err, PW_WEB_ERR_MAX,
                 "tls: give both a certificate and a key file (PEM), or neither; only the %s "
                 "is set", tls_c ? "certificate" : "key");
        return PW_EINVAL;
    }
    if (tls_c && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, PW_WEB_ERR_MAX,
                 "tls: this build of libmicrohttpd has no TLS support; remove the "
                 "certificate and key, or use a libmicrohttpd built with GnuTLS");
        return PW_EINVAL;
    }
    size_t max_req = o->max_request_bytes ? o->max_request_bytes : DEF_MAX_REQUEST;
    if (max_req < MIN_MAX_REQUEST)
        max_req = MIN_MAX_REQUEST;

    struct pw_web *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, PW_WEB_ERR_MAX, "web: out of memory");
        return PW_ENOMEM;
    }
    w->src = *src;
    w->log = o->log;
    w->log_ud = o->log_ud;
    if (has_token) {
        w->token = strdup(o->api_token);
        w->token_len = w->token ? strlen(w->token) : 0;
    }
    if ((has_token && !w->token)) {
        web_free(w);
        snprintf(err, PW_WEB_ERR_MAX, "web: out of memory");
        return PW_ENOMEM;
    }
    if (tls_c) {
        int rc = read_pem(o->tls_cert_file, "tls certificate", &w->pem_cert, err);
        if (rc == 0)
            rc = read_pem(o->tls_key_file, "tls key", &w->pem_key, err);
        if (rc != 0) {
            web_free(w);
            return rc;
        }
    }
    json_object_seed(0); /* before any thread builds an object */

    unsigned threads = o->threads ? o->threads : DEF_THREADS;
    struct MHD_OptionItem opts[16];
    size_t no = 0;
#define OPT(k, v, p) opts[no++] = (struct MHD_OptionItem){(k), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_SOCK_ADDR, 0, &addr.sa);
    if (threads > 1) /* one: the internal polling thread alone */
        OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections
                                                        : DEF_MAX_CONNECTIONS, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip ? o->max_per_ip : DEF_MAX_PER_IP,
        NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : DEF_TIMEOUT_S, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, max_req, NULL);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, w);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, w);
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, w);
    if (tls_c) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, w->pem_cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, w->pem_key);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (tls_c)
        flags |= MHD_USE_TLS;

    uv_mutex_init(&w->qlock);
    uv_cond_init(&w->qcond);
    uv_mutex_init(&w->cache_lock);
    uv_mutex_init(&w->memo_lock);
    uv_mutex_init(&w->down_lock);
    w->nqthreads = o->query_threads ? o->query_threads : DEF_QUERY_THREADS;
    w->qthreads = calloc(w->nqthreads, sizeof *w->qthreads);
    unsigned started = 0;
    int rc = w->qthreads ? 0 : UV_ENOMEM;
    for (; rc == 0 && started < w->nqthreads; started++)
        if ((rc = uv_thread_create(&w->qthreads[started], on_query_thread, w)) != 0)
            break;
    if (rc == 0) {
        w->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_ARRAY, opts,
                                MHD_OPTION_END);
        if (!w->d) {
            snprintf(err, PW_WEB_ERR_MAX,
                     "listen: cannot serve on %.64s (address in use, not an address of this "
                     "machine, or a bad TLS certificate/key)", listen);
            rc = PW_EIO;
        }
    } else {
        snprintf(err, PW_WEB_ERR_MAX, "web: cannot start threads: %s", uv_strerror(rc));
    }
    if (rc != 0) {
        uv_mutex_lock(&w->qlock);
        w->stopping = true;
        uv_cond_broadcast(&w->qcond);
        uv_mutex_unlock(&w->qlock);
        for (unsigned i = 0; i < started; i++)
            uv_thread_join(&w->qthreads[i]);
        uv_mutex_destroy(&w->qlock);
        uv_cond_destroy(&w->qcond);
        uv_mutex_destroy(&w->cache_lock);
        uv_mutex_destroy(&w->memo_lock);
        uv_mutex_destroy(&w->down_lock);
        web_free(w);
        return rc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
    w->port = info ? info->port : port;
    wlog(w, 2, "serving http%s://%s (%u worker threads, %u query threads)", tls_c ? "s" : "",
         listen, threads, w->nqthreads);
    *out = w;
    return 0;
}

uint16_t pw_web_port(const struct pw_web *w)
{
    return w ? w->port : 0;
}

void pw_web_stop(struct pw_web *w)
{
    if (!w)
        return;
    /* Drain the query pool first: MHD must not be stopped while a
     * connection is suspended. Requests arriving meanwhile get a 503. */
    uv_mutex_lock(&w->qlock);
    w->stopping = true;
    uv_cond_broadcast(&w->qcond);
    uv_mutex_unlock(&w->qlock);
    for (unsigned i = 0; i < w->nqthreads; i++)
        uv_thread_join(&w->qthreads[i]);
    MHD_stop_daemon(w->d);
    if (w->cache_want_has)
        w->src.release(w->src.ud, &w->cache_want);
    if (w->cache_resp)
        MHD_destroy_response(w->cache_resp);
    if (w->cache_gz)
        MHD_destroy_response(w->cache_gz);
    for (size_t i = 0; i < MEMO_SLOTS; i++)
        if (w->memo[i].resp)
            MHD_destroy_response(w->memo[i].resp);
    if (w->cache_has)
        w->src.release(w->src.ud, &w->cache_view);
    uv_mutex_destroy(&w->qlock);
    uv_cond_destroy(&w->qcond);
    uv_mutex_destroy(&w->cache_lock);
    uv_mutex_destroy(&w->memo_lock);
    uv_mutex_destroy(&w->down_lock);
    free(w->down_idx);
    web_free(w);
}
