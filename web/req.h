/*
 * One HTTP request as the web layer sees it, from its request line to its
 * completion (server.c creates and frees it), and what an endpoint may ask
 * of the server about it: its sources, the store, the snapshot caches, and
 * handing the rest of its work to the query pool. Endpoints include this,
 * params.h and reply.h; never server_int.h.
 */
#ifndef PW_WEB_REQ_H
#define PW_WEB_REQ_H

#include "web/guard.h"
#include "web/pool.h"
#include "web/reply.h"
#include "web/web.h"

struct pw_web;
struct MHD_Connection;

/* One decoded query parameter. */
struct pw_param {
    char *name;
    char *value;
};

struct pw_req;
typedef void (*pw_endpoint_fn)(struct pw_req *r, struct pw_reply *out);

struct pw_req {
    struct pw_web *w;
    struct MHD_Connection *conn;
    char *raw;                  /* the request target as sent */
    char *path;                 /* percent-decoded path */
    struct pw_param *params;
    size_t nparams;
    uint32_t id;                /* /api/v1/targets/{id} */
    int64_t now_ms;
    struct pw_web_view view;
    bool has_view;
    pw_endpoint_fn job;         /* what the query pool runs (pw_req_defer) */
    struct pw_pool_job pj;
    bool suspended;
    struct pw_reply reply;
    bool replied;
    bool headers_seen;          /* the access handler's first call is done */
};

/* When this process's first server started (wall clock, ms): since when
 * portwatch has run without a database, when it has none. */
int64_t pw_web_started_ms(void);
/* The server's sources (for endpoints reading more than the view). */
const struct pw_web_sources *pw_req_sources(const struct pw_req *r);
/* The store, or NULL. */
struct pw_store *pw_req_store(const struct pw_req *r);
/* The store; NULL when there is none, with a 503 filled in out. */
struct pw_store *pw_req_need_store(const struct pw_req *r, struct pw_reply *out);
/* Hands the rest of the request to the query pool: job runs there. */
void pw_req_defer(struct pw_req *r, pw_endpoint_fn job);
/* What the slow-client guard has closed. */
void pw_req_guard_stats(const struct pw_req *r, struct pw_guard_stats *out);
/* Counts over targets: by status, and probed ones by their last state. */
struct pw_tally {
    size_t status[3];
    size_t state[PW_STATE_COUNT_];
};
/* Indices of r's view's targets in trouble (down, or the last probe
 * failed; a malloc'd copy) and the counts over every target, computed
 * once per snapshot (down_list.c). */
int pw_req_down_list(struct pw_req *r, uint32_t **idx, size_t *n, struct pw_tally *tally);

#endif
