/*
 * Internals shared by the web layer's files: server.c (libmicrohttpd, auth,
 * routing, the query pool, the status cache), params.c (strict URI and
 * parameter parsing, times), api.c (the JSON endpoints) and metrics.c
 * (Prometheus exposition). Not for other modules.
 */
#ifndef PW_WEB_INT_H
#define PW_WEB_INT_H

#include "web/web.h"

#include <jansson.h>
#include <stdarg.h>

struct pw_web;

/* One decoded query parameter. */
struct pw_param {
    char *name;
    char *value;
};

/* A request's answer, filled by an endpoint. */
struct pw_reply {
    unsigned status;
    char *body;            /* malloc'd; NULL when shared is set */
    size_t len;
    const char *ctype;
    const char *allow;     /* Allow header (405) */
    bool challenge;        /* WWW-Authenticate (401) */
    void *shared;          /* a cached struct MHD_Response *, queued as is */
};

struct pw_req;
typedef void (*pw_endpoint_fn)(struct pw_req *r, struct pw_reply *out);

struct pw_req {
    struct pw_web *w;
    void *conn;                 /* struct MHD_Connection * */
    char *raw;                  /* the request target as sent */
    char *path;                 /* percent-decoded path */
    struct pw_param *params;
    size_t nparams;
    uint32_t id;                /* /api/v1/targets/{id} */
    int64_t now_ms;
    struct pw_web_view view;
    bool has_view;
    /* a store query handed to the query pool */
    pw_endpoint_fn job;
    struct pw_req *next_job;
    bool suspended;
    struct pw_reply reply;
    bool replied;
    bool headers_seen;        /* the access handler's first call is done */
};

/* ---- params.c -------------------------------------------------------------- */

/* Splits r->raw into path and parameters, percent-decoding strictly and
 * checking UTF-8. Returns 0, or fills out with a 400 and returns -1. */
int pw_web_parse_uri(struct pw_req *r, struct pw_reply *out);
/* Refuses parameters not in allowed (NULL-terminated) and repeated ones. */
int pw_web_check_params(struct pw_req *r, const char *const *allowed, struct pw_reply *out);
const char *pw_web_param(const struct pw_req *r, const char *name);
/* from/to with defaults (to: now, from: to - def_span_ms); 400 on error. */
int pw_web_param_range(struct pw_req *r, int64_t def_span_ms, int64_t *from, int64_t *to,
                       struct pw_reply *out);
/* A duration parameter; *ms untouched when absent. */
int pw_web_param_duration(struct pw_req *r, const char *name, int64_t min_ms, int64_t max_ms,
                          int64_t *ms, struct pw_reply *out);
int64_t pw_web_now_ms(void);
bool pw_web_utf8_valid(const char *s, size_t n);

/* ---- replies (server.c) ---------------------------------------------------- */

void pw_reply_json(struct pw_reply *out, unsigned status, json_t *doc); /* steals doc */
void pw_reply_text(struct pw_reply *out, unsigned status, const char *ctype, char *body,
                   size_t len); /* takes body (malloc'd) */
void pw_reply_error(struct pw_reply *out, unsigned status, const char *error,
                    const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(4, 5)
#endif
    ;
/* The store, or NULL. */
struct pw_store *pw_web_store_of(struct pw_req *r);
/* The store (NULL: already answered 503). */
struct pw_store *pw_web_store(struct pw_req *r, struct pw_reply *out);
/* Hands the rest of the request to the query pool. */
void pw_web_defer(struct pw_req *r, pw_endpoint_fn job);
/* The shared, pre-serialized unfiltered /api/v1/status answer for r's view
 * (building it on first use); NULL if out of memory. */
void *pw_web_cached_status(struct pw_req *r);

/* Indices of r's view's down targets (malloc'd copy) and the number not yet
 * probed, computed once per snapshot. */
int pw_web_down_list(struct pw_req *r, uint32_t **idx, size_t *n, size_t *unknown);

/* ---- api.c ----------------------------------------------------------------- */

void pw_api_status(struct pw_req *r, struct pw_reply *out);
void pw_api_target(struct pw_req *r, struct pw_reply *out);
void pw_api_history(struct pw_req *r, struct pw_reply *out);
void pw_api_outages(struct pw_req *r, struct pw_reply *out);
void pw_api_uptime(struct pw_req *r, struct pw_reply *out);
void pw_api_health(struct pw_req *r, struct pw_reply *out);
void pw_api_rpc_endpoints(struct pw_req *r, struct pw_reply *out);
/* The server's sources (for endpoints reading more than the view). */
const struct pw_web_sources *pw_web_sources_of(struct pw_req *r);
/* The unfiltered status document, for the cache. */
json_t *pw_api_status_doc(const struct pw_web_view *v, struct pw_store *st, int64_t now_ms);
/* Target id of plan index i. */
uint32_t pw_api_id(const struct pw_web_view *v, size_t i);

/* ---- metrics.c ------------------------------------------------------------- */

void pw_api_metrics(struct pw_req *r, struct pw_reply *out);

/* Growable text buffer for the non-JSON formats. */
struct pw_buf {
    char *p;
    size_t len, cap;
    bool oom;
};
void pw_buf_add(struct pw_buf *b, const char *s, size_t n);
void pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(2, 3)
#endif
    ;

/* ---- gzip.c ----------------------------------------------------------------- */

/* gzip-compresses len bytes; returns a malloc'd buffer and its size, or
 * NULL (out of memory, or input over 4 GB). */
char *pw_web_gzip(const char *in, size_t len, size_t *out_len);

#endif
