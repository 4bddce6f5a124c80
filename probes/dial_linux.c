/*
 * The Linux dialer (probes/probe.h: struct pw_dialer_ops) the probe engine
 * uses in `portwatch run` and `portwatch check` on Linux (daemon/os_posix.c
 * hands it over as pw_os_dialer; built on Linux only). It keeps its own
 * epoll set, which libuv watches as one descriptor (a uv_poll_t), so that a
 * probe costs only what the kernel must do: socket, connect, one
 * EPOLL_CTL_ADD, the SO_ERROR query when the connect failed, close. libuv's
 * own path adds an EPOLL_CTL_DEL per socket and the error query on every
 * connect; at 4,000 probes a sweep, that is a third of the engine's
 * system time (see bench/probe/run.sh).
 *
 * Each dial is registered one-shot: its one event is the connect's end.
 * The event carries the socket and a generation number, so an event that
 * was already fetched when its dial was hung up (and its descriptor
 * perhaps reused by a new dial in the same batch) is recognised and
 * dropped.
 *
 * A socket whose connect failed or never finished (refused, unreachable,
 * timed out) has sent nothing that needs closing: Linux dissolves it with
 * connect(AF_UNSPEC) and it can connect again. Such sockets wait in a
 * small pool, still in the epoll set (disarmed), and the next dial of
 * their family re-arms one instead of creating a socket; most of a farm's
 * probes are refused, and creating and destroying a socket (file, inode,
 * epoll item) costs more than its connect. A socket that connected is
 * always closed, so the peer sees an orderly FIN.
 */
#include "probes/probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256
#define IDLE_MAX 256 /* pooled sockets per family */

struct pool {
    int fd[IDLE_MAX];
    unsigned n;
};

struct pw_dialer {
    uv_poll_t poll;
    int ep;
    struct pool idle4, idle6;
    struct pw_dial **byfd; /* the dial owning each descriptor, or NULL */
    size_t cap;
    uint32_t gen;
    void (*done)(void *ud);
    void *done_ud;
};

static uint64_t tag(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

/* Ends dial d's ownership of its descriptor (no callback follows). */
static void forget(struct pw_dialer *dr, struct pw_dial *d)
{
    int fd = (int)d->sock;
    if (fd >= 0 && (size_t)fd < dr->cap && dr->byfd[fd] == d)
        dr->byfd[fd] = NULL;
}

static struct pool *pool_of(struct pw_dialer *dr, int family)
{
    return family == AF_INET6 ? &dr->idle6 : &dr->idle4;
}

/* Keeps a socket whose connect failed or never finished for a later dial,
 * or closes it. */
static void recycle(struct pw_dialer *dr, const struct pw_dial *d)
{
    int fd = (int)d->sock;
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    struct pool *pl = pool_of(dr, d->family);
    if (pl->n < IDLE_MAX && connect(fd, &unspec, sizeof unspec) == 0)
        pl->fd[pl->n++] = fd;
    else
        close(fd);
}

static void drain(struct pool *pl)
{
    while (pl->n > 0)
        close(pl->fd[--pl->n]);
}

static bool met_itself(int fd)
{
    struct sockaddr_storage local, peer;
    socklen_t nl = sizeof local, np = sizeof peer;
    return getsockname(fd, (struct sockaddr *)&local, &nl) == 0 &&
           getpeername(fd, (struct sockaddr *)&peer, &np) == 0 &&
           pw_self_connected((struct sockaddr *)&local, (struct sockaddr *)&peer);
}

static void on_ready(uv_poll_t *h, int status, int events)
{
    struct pw_dialer *dr = h->data;
    struct epoll_event ev[EVENTS_PER_WAIT];
    int n;
    (void)status;
    (void)events;
    do {
        n = epoll_wait(dr->ep, ev, EVENTS_PER_WAIT, 0);
        for (int i = 0; i < n; i++) {
            int fd = (int)(uint32_t)ev[i].data.u64;
            uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
            struct pw_dial *d = (size_t)fd < dr->cap ? dr->byfd[fd] : NULL;
            if (!d || d->gen != gen)
                continue; /* hung up after this batch was fetched */
            int err = 0;
            socklen_t len = sizeof err;
            /* EPOLLOUT alone is a connect that succeeded: no query. */
            if ((ev[i].events & (EPOLLERR | EPOLLHUP)) &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            if (err != 0) {
                dr->byfd[fd] = NULL;
                recycle(dr, d);
                d->cb(d, uv_translate_sys_error(err));
            } else if (met_itself(fd)) { /* a refusal in disguise: never reuse it */
                dr->byfd[fd] = NULL;
                close(fd);
                d->cb(d, UV_ECONNREFUSED);
            } else {
                d->connected = true;
                d->cb(d, 0); /* the caller hangs up or detaches */
            }
        }
    } while (n == EVENTS_PER_WAIT);
}

static int grow(struct pw_dialer *dr, int fd)
{
    if ((size_t)fd < dr->cap)
        return 0;
    size_t cap = dr->cap ? dr->cap : 1024;
    while (cap <= (size_t)fd)
        cap *= 2;
    struct pw_dial **v = realloc(dr->byfd, cap * sizeof *v);
    if (!v)
        return UV_ENOMEM;
    for (size_t i = dr->cap; i < cap; i++)
        v[i] = NULL;
    dr->byfd = v;
    dr->cap = cap;
    return 0;
}

static int new_socket(struct pw_dialer *dr, int family)
{
    /* The other family's spare goes first: sockets live and spare then
     * never outnumber the most dials in flight at once, which the engine
     * keeps within the process's descriptor budget (fd_limit). */
    struct pool *other = family == AF_INET6 ? &dr->idle4 : &dr->idle6;
    if (other->n > 0)
        close(other->fd[--other->n]);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && dr->idle4.n + dr->idle6.n > 0) {
        /* The other family's spares hold the descriptors. */
        drain(&dr->idle4);
        drain(&dr->idle6);
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    }
    return fd < 0 ? uv_translate_sys_error(errno) : fd;
}

static int dial(struct pw_dialer *dr, struct pw_dial *d, const struct sockaddr *to)
{
    struct pool *pl = pool_of(dr, to->sa_family);
    bool reused = pl->n > 0;
    int fd = reused ? pl->fd[--pl->n] : new_socket(dr, to->sa_family);
    if (fd < 0)
        return fd;
    int err = grow(dr, fd);
    socklen_t len = to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    if (err == 0 && connect(fd, to, len) != 0 && errno != EINPROGRESS)
        err = uv_translate_sys_error(errno);
    if (err == 0) {
        if (++dr->gen == 0)
            dr->gen = 1;
        /* Modifying re-polls: a connect that already ended is reported. */
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLONESHOT, .data.u64 = tag(fd, dr->gen)};
        if (epoll_ctl(dr->ep, reused ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
            err = uv_translate_sys_error(errno);
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    d->sock = fd;
    d->gen = dr->gen;
    d->connected = false;
    d->family = to->sa_family;
    dr->byfd[fd] = d;
    return 0;
}

static void hangup(struct pw_dialer *dr, struct pw_dial *d)
{
    forget(dr, d);
    if (d->connected)
        close((int)d->sock); /* which also takes it out of the epoll set */
    else
        recycle(dr, d);
    d->sock = -1;
}

static void detach(struct pw_dialer *dr, struct pw_dial *d)
{
    forget(dr, d);
    /* Should the kernel refuse, the socket stays in the set disarmed (it
     * was registered one-shot and has fired); closing it removes it. */
    (void)epoll_ctl(dr->ep, EPOLL_CTL_DEL, (int)d->sock, NULL);
}

static void on_closed(uv_handle_t *h)
{
    struct pw_dialer *dr = h->data;
    drain(&dr->idle4);
    drain(&dr->idle6);
    close(dr->ep);
    free(dr->byfd);
    if (dr->done)
        dr->done(dr->done_ud);
    free(dr);
}

static void dialer_close(struct pw_dialer *dr, void (*done)(void *ud), void *ud)
{
    dr->done = done;
    dr->done_ud = ud;
    uv_close((uv_handle_t *)&dr->poll, on_closed);
}

static struct pw_dialer *dialer_open(uv_loop_t *loop)
{
    struct pw_dialer *dr = calloc(1, sizeof *dr);
    if (!dr)
        return NULL;
    dr->ep = epoll_create1(EPOLL_CLOEXEC);
    if (dr->ep < 0) {
        free(dr);
        return NULL;
    }
    dr->poll.data = dr;
    if (uv_poll_init(loop, &dr->poll, dr->ep) != 0) {
        close(dr->ep);
        free(dr);
        return NULL;
    }
    if (uv_poll_start(&dr->poll, UV_READABLE, on_ready) != 0) {
        /* The handle exists now: it goes through close like any other. */
        dialer_close(dr, NULL, NULL);
        return NULL;
    }
    uv_unref((uv_handle_t *)&dr->poll); /* see pw_dialer_ops.open */
    return dr;
}

static const struct pw_dialer_ops linux_dialer = {
    .open = dialer_open,
    .dial = dial,
    .hangup = hangup,
    .detach = detach,
    .close = dialer_close,
};

const struct pw_dialer_ops *pw_dialer_linux(void)
{
    return &linux_dialer;
}
