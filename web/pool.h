/*
 * The query pool: a few threads that run work an event-driven HTTP worker
 * must not (store queries, building the status document). Generic: a job
 * is a struct embedded in its owner; the pool knows nothing of requests or
 * libmicrohttpd. Used by routes.c (store-backed requests) and
 * status_cache.c (rebuilds).
 */
#ifndef PW_WEB_POOL_H
#define PW_WEB_POOL_H

#include <stdbool.h>

struct pw_pool_job {
    /* Called under the pool's lock just before the job is queued, so it
     * happens before run can (a request suspends its connection here). */
    void (*hold)(struct pw_pool_job *j);
    /* On a pool thread, without the lock; cancelled when the pool is
     * stopping (the job must still release what it holds). */
    void (*run)(struct pw_pool_job *j, bool cancelled);
    struct pw_pool_job *next;
};

struct pw_pool;

/* Starts nthreads threads; returns 0 or a UV_E* code. */
int pw_pool_start(unsigned nthreads, struct pw_pool **out);
/* Queues j (calling its hold first); false, with nothing called, once the
 * pool is stopping. */
bool pw_pool_submit(struct pw_pool *p, struct pw_pool_job *j);
/* Runs what is queued as cancelled and joins the threads; later submits
 * are refused. Idempotent; NULL is a no-op. */
void pw_pool_stop(struct pw_pool *p);
/* Stops p if needed and frees it. NULL is a no-op. */
void pw_pool_free(struct pw_pool *p);

#endif
