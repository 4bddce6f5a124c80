/*
 * The server object, shared by the files that run requests: server.c
 * (libmicrohttpd set-up, start and stop, the access handler), routes.c
 * (the route table and dispatch), request.c (what an endpoint may ask of
 * the server) and assets.c (the dashboard's files). Endpoints never
 * include this: they see web/req.h.
 */
#ifndef PW_WEB_SERVER_INT_H
#define PW_WEB_SERVER_INT_H

#include "web/caches.h"
#include "web/guard.h"
#include "web/pool.h"
#include "web/req.h"

struct MHD_Daemon;

struct pw_web {
    struct MHD_Daemon *d;
    struct pw_web_sources src;
    char *token;
    size_t token_len;
    pw_log_sink log;
    void *log_ud;
    uint16_t port;
    size_t max_request;          /* request line and headers, bytes */
    char *pem_cert, *pem_key;
    char start_msg[256];         /* libmicrohttpd's last word while starting */
    bool starting;
    struct pw_pool *pool;        /* store queries, status documents */
    struct pw_guard *guard;      /* slow clients */
    struct pw_memo memo;         /* remembered /api/v1/health answers */
    struct pw_status_cache status;
    struct pw_down_list down;
};

/* ---- routes.c ------------------------------------------------------------- */

/* Runs a request up to its answer in r->reply, or to its hand-off to the
 * query pool (r->job set). */
void pw_route(struct pw_req *r, const char *method);

/* ---- assets.c -------------------------------------------------------------- */

/* Answers r when it asks for a dashboard file: returns true and sets *ok
 * (whether the answer was queued). */
bool pw_assets_serve(struct pw_req *r, const char *method, int *ok);

/* ---- request.c --------------------------------------------------------------- */

struct pw_req *pw_req_new(struct pw_web *w, const char *uri, struct MHD_Connection *c);
void pw_req_free(struct pw_req *r);
/* Takes the current view into r (once); 0, or -1 with a 503 in out. */
int pw_req_acquire_view(struct pw_req *r, struct pw_reply *out);
/* Suspends r's connection and queues its job on the pool; false when the
 * pool is stopping. */
bool pw_req_enqueue(struct pw_req *r);

#endif
