/*
 * The query pool (web/pool.h): a FIFO of jobs under one mutex and
 * condition, drained by a fixed number of threads.
 */
#include "web/pool.h"

#include <stdlib.h>
#include <uv.h>

struct pw_pool {
    uv_mutex_t lock;
    uv_cond_t cond;
    struct pw_pool_job *head, *tail;
    bool stopping, joined;
    uv_thread_t *threads;
    unsigned nthreads;
};

static void on_pool_thread(void *arg)
{
    struct pw_pool *p = arg;
    uv_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stopping)
            uv_cond_wait(&p->cond, &p->lock);
        struct pw_pool_job *j = p->head;
        if (!j)
            break; /* stopping and drained */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        bool cancelled = p->stopping;
        uv_mutex_unlock(&p->lock);
        j->run(j, cancelled); /* j may be freed from here on */
        uv_mutex_lock(&p->lock);
    }
    uv_mutex_unlock(&p->lock);
}

static void pool_join(struct pw_pool *p, unsigned started)
{
    uv_mutex_lock(&p->lock);
    p->stopping = true;
    uv_cond_broadcast(&p->cond);
    uv_mutex_unlock(&p->lock);
    if (!p->joined)
        for (unsigned i = 0; i < started; i++)
            uv_thread_join(&p->threads[i]);
    p->joined = true;
}

int pw_pool_start(unsigned nthreads, struct pw_pool **out)
{
    *out = NULL;
    struct pw_pool *p = calloc(1, sizeof *p);
    if (!p)
        return UV_ENOMEM;
    p->threads = calloc(nthreads ? nthreads : 1, sizeof *p->threads);
    if (!p->threads || uv_mutex_init(&p->lock) != 0) {
        free(p->threads);
        free(p);
        return UV_ENOMEM;
    }
    uv_cond_init(&p->cond);
    p->nthreads = nthreads;
    unsigned started = 0;
    int rc = 0;
    for (; started < nthreads; started++)
        if ((rc = uv_thread_create(&p->threads[started], on_pool_thread, p)) != 0)
            break;
    if (rc != 0) {
        pool_join(p, started);
        pw_pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

bool pw_pool_submit(struct pw_pool *p, struct pw_pool_job *j)
{
    uv_mutex_lock(&p->lock);
    if (p->stopping) {
        uv_mutex_unlock(&p->lock);
        return false;
    }
    if (j->hold)
        j->hold(j);
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    uv_cond_signal(&p->cond);
    uv_mutex_unlock(&p->lock);
    return true;
}

void pw_pool_stop(struct pw_pool *p)
{
    if (p)
        pool_join(p, p->nthreads);
}

void pw_pool_free(struct pw_pool *p)
{
    if (!p)
        return;
    pw_pool_stop(p);
    uv_mutex_destroy(&p->lock);
    uv_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}
