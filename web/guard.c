/*
 * The slow-client guard (web/guard.h). Connections are kept in a list in
 * order of their current deadline's start; a timer thread closes those
 * past it four times a second.
 */
#include "web/guard.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <uv.h>

#ifndef SHUT_RDWR
#define SHUT_RDWR SD_BOTH /* winsock (uv.h brings winsock2.h) */
#endif

#define TICK_MS 250
#define LOG_EVERY_MS 60000

struct conn {
    struct conn *prev, *next;
    MHD_socket fd;
    int64_t since_ms;  /* the deadline runs from here */
    bool busy;         /* a whole request is in: no deadline */
    bool shut;         /* shut down by the guard already */
};

struct pw_guard {
    uv_mutex_t lock;
    uv_cond_t cond;
    uv_thread_t thread;
    bool stopping;
    struct conn *head, *tail; /* by since_ms, oldest first */
    unsigned open, max_conns, reserve;
    int64_t deadline_ms;
    uint64_t deadline_closed, evicted;
    pw_log_sink log;
    void *log_ud;
    uint64_t logged;    /* closes already in the log */
    int64_t logged_ms;
};

static int64_t mono_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

static void unlink_conn(struct pw_guard *g, struct conn *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        g->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        g->tail = e->prev;
    e->prev = e->next = NULL;
}

static void append(struct pw_guard *g, struct conn *e)
{
    e->prev = g->tail;
    e->next = NULL;
    if (g->tail)
        g->tail->next = e;
    else
        g->head = e;
    g->tail = e;
}

/* Shuts e's socket down. Under g->lock, so e is still open: libmicrohttpd
 * notifies the close (which takes the lock) before it closes the fd. */
static void shut(struct conn *e)
{
    if (!e->shut)
        shutdown(e->fd, SHUT_RDWR);
    e->shut = true;
}

/* Closes every receiving connection past its deadline. Under g->lock. */
static void reap(struct pw_guard *g, int64_t now)
{
    for (struct conn *e = g->head; e && now - e->since_ms >= g->deadline_ms; e = e->next) {
        if (e->busy || e->shut)
            continue;
        shut(e);
        g->deadline_closed++;
    }
}

static void guard_log(struct pw_guard *g, const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(2, 3)
#endif
    ;
static void guard_log(struct pw_guard *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(g->log, g->log_ud, "web", 1, fmt, ap);
    va_end(ap);
}

/* Says what the guard closed since it last said so, at most once a
 * minute: a slow-client attack is one condition, not a line per socket. */
static void maybe_log(struct pw_guard *g, int64_t now)
{
    uint64_t total = g->deadline_closed + g->evicted;
    if (total == g->logged || (g->logged_ms && now - g->logged_ms < LOG_EVERY_MS))
        return;
    uint64_t dl = g->deadline_closed, ev = g->evicted;
    g->logged = total;
    g->logged_ms = now;
    uv_mutex_unlock(&g->lock);
    guard_log(g, "slow HTTP clients: %llu connections closed so far for not sending a whole "
              "request within %lld s, %llu to keep slots free for new clients",
              (unsigned long long)dl, (long long)(g->deadline_ms / 1000),
              (unsigned long long)ev);
    uv_mutex_lock(&g->lock);
}

static void on_guard_thread(void *arg)
{
    struct pw_guard *g = arg;
    uv_mutex_lock(&g->lock);
    while (!g->stopping) {
        int64_t now = mono_ms();
        reap(g, now);
        maybe_log(g, now);
        uv_cond_timedwait(&g->cond, &g->lock, (uint64_t)TICK_MS * 1000000);
    }
    uv_mutex_unlock(&g->lock);
}

int pw_guard_start(unsigned max_conns, int64_t deadline_ms, pw_log_sink log, void *log_ud,
                   struct pw_guard **out)
{
    struct pw_guard *g = calloc(1, sizeof *g);
    if (!g)
        return PW_ENOMEM;
    g->log = log;
    g->log_ud = log_ud;
    g->max_conns = max_conns;
    /* An eighth of the slots, at least one: room for new clients while
     * the oldest slow ones are being closed. */
    g->reserve = max_conns / 8 ? max_conns / 8 : 1;
    g->deadline_ms = deadline_ms;
    int rc = uv_mutex_init(&g->lock);
    if (rc == 0 && (rc = uv_cond_init(&g->cond)) != 0)
        uv_mutex_destroy(&g->lock);
    if (rc == 0 && (rc = uv_thread_create(&g->thread, on_guard_thread, g)) != 0) {
        uv_cond_destroy(&g->cond);
        uv_mutex_destroy(&g->lock);
    }
    if (rc != 0) {
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void pw_guard_stop(struct pw_guard *g)
{
    if (!g)
        return;
    uv_mutex_lock(&g->lock);
    g->stopping = true;
    uv_cond_signal(&g->cond);
    uv_mutex_unlock(&g->lock);
    uv_thread_join(&g->thread);
    while (g->head) { /* none after MHD_stop_daemon; defensive */
        struct conn *e = g->head;
        unlink_conn(g, e);
        free(e);
    }
    uv_cond_destroy(&g->cond);
    uv_mutex_destroy(&g->lock);
    free(g);
}

/* Keeps the reserve free: closes the oldest connections not busy with a
 * request until the open ones (the newcomer included) fit. Under lock. */
static void keep_reserve(struct pw_guard *g, const struct conn *newcomer)
{
    unsigned live = 0;
    for (struct conn *e = g->head; e; e = e->next)
        live += !e->shut;
    for (struct conn *e = g->head; e && live + g->reserve > g->max_conns; e = e->next) {
        if (e == newcomer || e->busy || e->shut)
            continue;
        shut(e);
        g->evicted++;
        live--;
    }
}

void pw_guard_notify(struct pw_guard *g, struct MHD_Connection *c, void **socket_context,
                     bool started)
{
    if (!started) {
        struct conn *e = *socket_context;
        if (!e)
            return;
        uv_mutex_lock(&g->lock);
        unlink_conn(g, e);
        g->open--;
        uv_mutex_unlock(&g->lock);
        free(e);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct conn *e = ci ? calloc(1, sizeof *e) : NULL;
    *socket_context = e;
    if (!e)
        return; /* untracked: the idle timeout still applies */
    e->fd = ci->connect_fd;
    e->since_ms = mono_ms();
    uv_mutex_lock(&g->lock);
    append(g, e);
    g->open++;
    keep_reserve(g, e);
    uv_mutex_unlock(&g->lock);
}

void pw_guard_busy(struct pw_guard *g, struct MHD_Connection *c, bool busy)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *e = ci ? ci->socket_context : NULL;
    if (!e)
        return;
    uv_mutex_lock(&g->lock);
    if (e->busy != busy) {
        e->busy = busy;
        if (!busy) { /* keep-alive: the next request's deadline, at the end */
            e->since_ms = mono_ms();
            unlink_conn(g, e);
            append(g, e);
        }
    }
    uv_mutex_unlock(&g->lock);
}

void pw_guard_stats(struct pw_guard *g, struct pw_guard_stats *out)
{
    uv_mutex_lock(&g->lock);
    out->deadline_closed = g->deadline_closed;
    out->evicted = g->evicted;
    out->open = g->open;
    uv_mutex_unlock(&g->lock);
}
