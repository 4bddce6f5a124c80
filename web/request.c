/*
 * A request's life on the server side (web/req.h, web/server_int.h): its
 * creation when the request line is parsed, what endpoints may ask of the
 * server about it, its trip through the query pool, and its freeing when
 * libmicrohttpd completes it.
 */
#include "web/server_int.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct pw_req *pw_req_new(struct pw_web *w, const char *uri, struct MHD_Connection *c)
{
    struct pw_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->w = w;
    r->conn = c;
    r->reply.tls = w->pem_cert != NULL;
    r->raw = strdup(uri ? uri : "");
    if (!r->raw) {
        free(r);
        return NULL;
    }
    return r;
}

void pw_req_free(struct pw_req *r)
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
    pw_reply_clear(&r->reply);
    free(r);
}

const struct pw_web_sources *pw_req_sources(const struct pw_req *r)
{
    return &r->w->src;
}

struct pw_store *pw_req_store(const struct pw_req *r)
{
    return r->w->src.store;
}

struct pw_store *pw_req_need_store(const struct pw_req *r, struct pw_reply *out)
{
    if (!r->w->src.store) {
        pw_reply_error(out, 503, "unavailable",
                       "history is not available: this portwatch runs without a database");
        return NULL;
    }
    return r->w->src.store;
}

void pw_req_defer(struct pw_req *r, pw_endpoint_fn job)
{
    r->job = job;
}

void pw_req_guard_stats(const struct pw_req *r, struct pw_guard_stats *out)
{
    pw_guard_stats(r->w->guard, out);
}

int pw_req_down_list(struct pw_req *r, uint32_t **idx, size_t *n, struct pw_tally *tally)
{
    return pw_down_list_get(&r->w->down, r->view.snap, idx, n, tally);
}

int pw_req_acquire_view(struct pw_req *r, struct pw_reply *out)
{
    if (r->has_view)
        return 0;
    memset(&r->view, 0, sizeof r->view); /* fields a source does not fill are NULL */
    if (r->w->src.acquire(r->w->src.ud, &r->view) != 0 || !r->view.snap) {
        pw_reply_error(out, 503, "unavailable", "no probe data yet");
        return -1;
    }
    r->has_view = true;
    return 0;
}

static struct pw_req *req_of_job(struct pw_pool_job *j)
{
    return (struct pw_req *)((char *)j - offsetof(struct pw_req, pj));
}

static void on_job_hold(struct pw_pool_job *j)
{
    struct pw_req *r = req_of_job(j);
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

static void on_job_run(struct pw_pool_job *j, bool cancelled)
{
    struct pw_req *r = req_of_job(j);
    if (cancelled)
        pw_reply_error(&r->reply, 503, "unavailable", "portwatch is shutting down");
    else
        r->job(r, &r->reply);
    /* After this call the connection's worker may run and free r. */
    MHD_resume_connection(r->conn);
}

bool pw_req_enqueue(struct pw_req *r)
{
    r->pj.hold = on_job_hold;
    r->pj.run = on_job_run;
    return pw_pool_submit(r->w->pool, &r->pj);
}
