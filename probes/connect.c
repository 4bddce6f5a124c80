/*
 * The probe itself (engine_int.h): a pool of probe slots (socket handle,
 * connect request, exchange buffers) that grows only as far as the
 * in-flight cap lets it; the connect through libuv or the OS dialer
 * (probe.h: struct pw_dialer_ops); the classification of its outcome; and
 * the pump that starts queued probes while the global and per-host caps
 * allow, taking hosts in turn (hosts.c). Out of descriptors (EMFILE), a
 * target goes back to the head of its queue and the pump waits for one.
 */
#include "probes/engine_int.h"

#include <stdlib.h>
#include <string.h>

/* With no socket of ours left to free, how long to wait before trying
 * again after EMFILE/ENFILE. */
#define FD_RETRY_MS 100
#define FD_LOG_EVERY_MS 60000
/* Probes started per loop iteration at most: the loop gets to reap the
 * answers already in (on loopback or a LAN, most refusals) between
 * bursts, so a sweep with wide caps is not one burst of SYNs, and a dialer
 * can reuse the refused sockets. */
#define PUMP_BURST 256

/* libuv error -> state. Linux reports ICMP host-unreachable and
 * admin-prohibited (IPv4, and nftables' icmpx) as EHOSTUNREACH, net
 * unreachable/prohibited as ENETUNREACH, ICMPv6 admin-prohibited as EACCES;
 * a local firewall refusing the SYN shows as EPERM. ETIMEDOUT only appears
 * if the kernel gives up before our own timer: still "no answer". */
static const struct {
    int err;
    enum pw_state state;
} err_states[] = {
    {UV_ECONNREFUSED, PW_STATE_CLOSED},
    {UV_ETIMEDOUT, PW_STATE_FILTERED},
    {UV_EHOSTUNREACH, PW_STATE_UNREACHABLE},
    {UV_ENETUNREACH, PW_STATE_UNREACHABLE},
    {UV_EHOSTDOWN, PW_STATE_UNREACHABLE},
    {UV_EACCES, PW_STATE_UNREACHABLE},
    {UV_EPERM, PW_STATE_UNREACHABLE},
};

static enum pw_state classify(int err)
{
    for (size_t i = 0; i < sizeof err_states / sizeof err_states[0]; i++)
        if (err_states[i].err == err)
            return err_states[i].state;
    return PW_STATE_ERROR;
}

static void on_fd_timer(uv_timer_t *t)
{
    struct pw_engine *e = t->data;
    e->fd_blocked = false;
    eng_pump(e);
}

/* The probe's socket is gone: its slot, its descriptor and its place
 * under the caps come free. */
static void probe_release(struct probe *p)
{
    struct pw_engine *e = p->e;
    struct hslot *hs = &e->hosts[e->plan->targets[p->target].host];
    e->in_flight--;
    hs->in_flight--;
    if (p->has_fd) {
        e->fd_holders--;
        e->fd_blocked = false; /* a descriptor came free: try again */
    }
    p->next_free = e->free_probes;
    e->free_probes = p;
    if (e->closing) {
        eng_maybe_finish(e);
        return;
    }
    eng_maybe_ring(e, e->plan->targets[p->target].host);
    eng_pump(e);
}

void eng_on_probe_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->tcp_open = false;
    p->e->open_handles--;
    probe_release(p);
}

void eng_probe_end(struct probe *p)
{
    eng_lane_remove(p);
    if (p->tcp_open) {
        if (!uv_is_closing((uv_handle_t *)&p->tcp))
            uv_close((uv_handle_t *)&p->tcp, eng_on_probe_closed);
        return;
    }
    if (p->dialing) {
        p->e->opt.dialer->hangup(p->e->dialer, &p->dial);
        p->dialing = false;
    }
    probe_release(p);
}

static void connected(struct probe *p, int status)
{
    struct hslot *hs = &p->e->hosts[p->e->plan->targets[p->target].host];
    hs->answers++;
    hs->silent = 0;
    if (p->seq > p->e->answered)
        p->e->answered = p->seq;
    if (status == 0) {
        p->latency_us = (int64_t)((uv_hrtime() - p->started_ns) / 1000);
        eng_exchange_start(p);
        return;
    }
    p->finished = true;
    enum pw_state s = classify(status);
    eng_record(p->e, p->target, s, s == PW_STATE_ERROR ? uv_err_name(status) : "", -1);
    eng_probe_end(p);
}

bool pw_self_connected(const struct sockaddr *local, const struct sockaddr *peer)
{
    if (local->sa_family != peer->sa_family)
        return false;
    if (local->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)local, *b = (const void *)peer;
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (local->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)local, *b = (const void *)peer;
        return a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
    }
    return false;
}

/* Whether the handle's connect met itself (see pw_self_connected). */
static bool tcp_self_connected(const uv_tcp_t *tcp)
{
    struct sockaddr_storage local, peer;
    int nl = sizeof local, np = sizeof peer;
    return uv_tcp_getsockname(tcp, (struct sockaddr *)&local, &nl) == 0 &&
           uv_tcp_getpeername(tcp, (struct sockaddr *)&peer, &np) == 0 &&
           pw_self_connected((struct sockaddr *)&local, (struct sockaddr *)&peer);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct probe *p = req->data;
    if (p->finished)
        return; /* timed out or cancelled: already settled */
    if (status == 0 && tcp_self_connected(&p->tcp))
        status = UV_ECONNREFUSED;
    connected(p, status);
}

/* The dialer's connect ended. A failed one took its socket along; a
 * connected one needing an exchange moves to a libuv handle. */
static void on_dialed(struct pw_dial *d, int status)
{
    struct probe *p = d->data;
    struct pw_engine *e = p->e;
    if (status != 0 || e->proto[p->target] == PW_PROTO_NONE) {
        p->dialing = status == 0; /* a connected socket is still to close */
        connected(p, status);
        return;
    }
    int err = uv_tcp_init(e->loop, &p->tcp);
    if (err == 0) {
        p->tcp.data = p;
        p->tcp_open = true;
        e->open_handles++;
        err = uv_tcp_open(&p->tcp, d->sock);
    }
    if (err == 0) {
        e->opt.dialer->detach(e->dialer, d);
        p->dialing = false;
        connected(p, 0);
        return;
    }
    /* The exchange cannot start (the handle never took the socket); the
     * port did answer. */
    e->opt.dialer->hangup(e->dialer, d);
    p->dialing = false;
    p->finished = true;
    eng_record_v(e, p->target, PW_STATE_OPEN, "", (int64_t)((uv_hrtime() - p->started_ns) / 1000),
                 PW_VERIFY_NO_REPLY, uv_err_name(err));
    eng_probe_end(p);
}

void eng_probe_timeout(struct probe *p)
{
    if (p->finished)
        return;
    if (p->exchanging) {
        eng_exchange_decide(p, true);
        return;
    }
    p->finished = true;
    struct hslot *hs = &p->e->hosts[p->e->plan->targets[p->target].host];
    if (hs->silent < UINT32_MAX)
        hs->silent++;
    eng_record(p->e, p->target, PW_STATE_FILTERED, "", -1);
    eng_probe_end(p);
}

static struct probe *probe_get(struct pw_engine *e)
{
    struct probe *p = e->free_probes;
    if (p) {
        e->free_probes = p->next_free;
        return p;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->e = e;
    p->next_all = e->all_probes;
    e->all_probes = p;
    e->nprobes++;
    return p;
}

/* Out of descriptors (err: UV_EMFILE or UV_ENFILE) starting target t: it
 * goes back to the head of its host's queue, the pump stops until one of
 * our descriptors comes free (or, holding none, a timer tries again), and
 * the condition is logged at most once a minute. */
static void fd_wait(struct pw_engine *e, uint32_t t, int err)
{
    e->stats.fd_waits++;
    eng_ready_unshift(e, t);
    if (!e->fd_blocked) {
        e->fd_blocked = true;
        uint64_t now = uv_now(e->loop);
        if (e->last_fd_log == 0 || now - e->last_fd_log >= FD_LOG_EVERY_MS) {
            e->last_fd_log = now ? now : 1;
            eng_log(e, PW_LOG_WARN,
                    "out of file descriptors (%s) with %u probes in flight; "
                    "probes wait for a free one (raise the open-file limit "
                    "or lower max_in_flight)",
                    uv_err_name(err), e->in_flight - 1);
        }
    }
    /* Nothing of ours will free a descriptor: poll for one. */
    if (e->fd_holders == 0)
        uv_timer_start(&e->fd_timer, on_fd_timer, FD_RETRY_MS, 0);
}

/* Starts target t's connect. On EMFILE/ENFILE the target goes back to the
 * head of its host's queue and the engine waits for a descriptor; no
 * result is recorded for it. */
static void probe_start(struct pw_engine *e, uint32_t t)
{
    const struct pw_target *tg = &e->plan->targets[t];
    struct hslot *hs = &e->hosts[tg->host];
    struct probe *p = probe_get(e);
    if (!p) {
        eng_record(e, t, PW_STATE_ERROR, uv_err_name(UV_ENOMEM), -1);
        return;
    }
    int err = e->dialer ? 0 : uv_tcp_init(e->loop, &p->tcp);
    if (err != 0) {
        p->next_free = e->free_probes;
        e->free_probes = p;
        eng_record(e, t, PW_STATE_ERROR, uv_err_name(err), -1);
        return;
    }
    p->tcp.data = p;
    p->req.data = p;
    p->target = t;
    p->finished = false;
    p->exchanging = false;
    p->latency_us = -1;
    p->tcp_open = !e->dialer;
    p->dialing = false;
    if (p->tcp_open)
        e->open_handles++;
    e->in_flight++;
    p->seq = ++e->started;
    if (hs->in_flight++ == 0)
        hs->out_seq = p->seq;
    if (e->in_flight > e->stats.in_flight_peak)
        e->stats.in_flight_peak = e->in_flight;
    if (hs->in_flight > e->stats.host_in_flight_peak)
        e->stats.host_in_flight_peak = hs->in_flight;
    e->sl[t].phase = T_RUNNING;

    union eng_sockaddr to = hs->addr;
    if (to.sa.sa_family == AF_INET6)
        to.in6.sin6_port = htons(tg->port);
    else
        to.in4.sin_port = htons(tg->port);
    p->started_ns = uv_hrtime();
    if (e->dialer) {
        p->dial.cb = on_dialed;
        p->dial.data = p;
        err = e->opt.dialer->dial(e->dialer, &p->dial, &to.sa);
        p->dialing = err == 0;
    } else {
        err = uv_tcp_connect(&p->req, &p->tcp, &to.sa, on_connect);
    }
    int fd_err = err == UV_EMFILE || err == UV_ENFILE;
    /* libuv keeps a socket that failed to connect until the handle closes;
     * a dialer closes it before returning the error. */
    p->has_fd = e->dialer ? err == 0 : !fd_err;
    if (p->has_fd)
        e->fd_holders++;
    if (err == 0) {
        eng_lane_add(e, p);
        return;
    }
    p->finished = true;
    if (fd_err) {
        fd_wait(e, t, err);
    } else {
        enum pw_state s = classify(err);
        eng_record(e, t, s, s == PW_STATE_ERROR ? uv_err_name(err) : "", -1);
    }
    eng_probe_end(p);
}

/* A pump that used up its burst resumes here, one loop iteration later. */
static void on_pump_idle(uv_idle_t *i)
{
    struct pw_engine *e = i->data;
    uv_idle_stop(i);
    e->burst = 0;
    eng_pump(e);
}

/* Starts queued probes while the caps allow, taking hosts in turn. */
void eng_pump(struct pw_engine *e)
{
    if (e->pumping)
        return; /* a probe that ended while starting: the loop below goes on */
    e->pumping = true;
    uint32_t h;
    while (!e->closing && !e->fd_blocked && e->ring.count + e->quiet.count > 0 &&
           e->in_flight < e->opt.max_in_flight) {
        if (e->burst >= PUMP_BURST) {
            uv_idle_start(&e->pump_idle, on_pump_idle); /* it resumes */
            break;
        }
        if (!eng_next_host(e, &h))
            break;
        e->burst++;
        struct hslot *hs = &e->hosts[h];
        uint32_t t = eng_list_pop(e, &hs->ready_head, &hs->ready_tail);
        e->stats.waiting_for_slot--;
        probe_start(e, t);
        eng_maybe_ring(e, h);
    }
    e->pumping = false;
}
