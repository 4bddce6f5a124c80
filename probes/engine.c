/*
 * The probe engine behind probes/probe.h: schedules a TCP connect to every
 * target of a plan once per interval on a libuv loop, resolves each host
 * name once per interval, keeps global and per-host caps, classifies each
 * outcome, applies flap control, and hands results out as per-tick batches
 * and as reference-counted snapshots. The daemon runs it periodically
 * (pw_engine_start); `portwatch check` runs one sweep (pw_engine_sweep_once).
 *
 * After a connect succeeds, a target with a protocol (verify.h: TDS on
 * 1433, the RPC endpoint mapper on 135, SMB2 on 445, HTTP on 1164 for
 * catalog rows) gets one exchange before the result is recorded: the
 * request is written, the reply read into a bounded buffer and fed to the
 * protocol's parser until it decides, all under the probe's one timeout
 * (connect and exchange share it, so a probe never outlives its timeout
 * and sweeps keep their pace). Then the socket is closed.
 *
 * Memory is kept proportional to what is in flight, not to the plan: per
 * target there is one pw_target_state (the current state the snapshots
 * copy) and one 16-byte scheduling slot; sockets and timers come from a
 * pool that grows only as far as the in-flight cap lets it. Queues are
 * intrusive lists threaded through the scheduling slots, so queueing a
 * target never allocates.
 */
#include "probes/probe.h"

#include "config/error.h"
#include "probes/verify.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_INTERVAL_MS 60000
#define DEFAULT_TIMEOUT_MS 3000
#define DEFAULT_MAX_IN_FLIGHT 256
#define DEFAULT_MAX_PER_HOST 32
#define DEFAULT_FAIL_AFTER 2
#define DEFAULT_RECOVER_AFTER 1
/* Snapshots copy every target's state, so at most this often (a plan of
 * 100,000 targets is 13 MB to copy); a timer publishes the tail. */
#define PUBLISH_MIN_MS 100
/* With no socket of ours left to free, how long to wait before trying
 * again after EMFILE/ENFILE. */
#define FD_RETRY_MS 100
#define FD_LOG_EVERY_MS 60000
#define CYCLE_RING 4
/* Probes started per loop iteration at most: the loop gets to reap the
 * answers already in (on loopback or a LAN, most refusals) between
 * bursts, so a sweep with wide caps is not one burst of SYNs, and a dialer
 * can reuse the refused sockets. */
#define PUMP_BURST 256
#define NIL UINT32_MAX

enum phase { T_IDLE, T_DNS_WAIT, T_READY, T_RUNNING };
enum dns_state { H_UNRESOLVED, H_RESOLVING, H_OK, H_FAILED, H_LITERAL, H_BADFAMILY };
enum mode { MODE_IDLE, MODE_RUN, MODE_ONCE };

/* Per-target scheduling slot. */
struct tslot {
    uint32_t next;   /* link in its host's resolver-wait or ready list */
    uint32_t cycle;  /* sweep number of its outstanding probe */
    uint16_t passes; /* consecutive passing results, for recover_after */
    uint16_t group;  /* interval group */
    uint8_t phase;   /* enum phase */
};

struct resolve {
    uv_getaddrinfo_t req;
    struct pw_engine *e;
    uint32_t host;
};

union pw_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

struct hslot {
    const char *name;
    union pw_sockaddr addr;
    int dns;                /* enum dns_state */
    int64_t valid_until;    /* monotonic ms; resolver answer (or failure) */
    int64_t validity_ms;
    struct resolve *req;    /* while resolving */
    uint32_t wait_head, wait_tail;
    uint32_t ready_head, ready_tail;
    uint32_t in_flight;
    bool in_ring;
    uint32_t answers;       /* connects that got an answer (not a timeout) */
    uint64_t out_seq;       /* start number of its oldest probe out */
    char err[PW_DETAIL_MAX];
};

/* One sweep of an interval group (or the one-shot sweep). */
struct cycle {
    uint32_t no;
    bool open;
    bool all_released;
    bool overran;
    uint32_t outstanding;
    uint32_t skipped;
    int64_t start_mono;
};

struct group {
    int64_t interval;
    uint32_t *order; /* targets in start order */
    uint32_t n;
    uint32_t cursor;
    int64_t cycle_start;
    uint32_t cycle_no;
    struct cycle ring[CYCLE_RING];
};

/* Buffers of one protocol exchange; allocated the first time a probe
 * slot runs one, then reused by that slot. */
struct xchg {
    uv_write_t wreq;
    size_t rx_len;
    uint8_t tx[PW_VERIFY_TX_MAX];
    uint8_t rx[PW_VERIFY_RX_MAX];
};

struct lane;

struct probe {
    struct pw_engine *e;
    struct pw_dial dial; /* with a dialer: the connect, until it ends */
    uv_tcp_t tcp;
    uv_connect_t req;
    struct lane *lane;   /* waiting for its timeout there; NULL: not */
    struct probe *lprev, *lnext;
    uint64_t deadline;   /* loop time (ms) when it times out */
    uint64_t seq;        /* start number (pw_engine.started) */
    uint64_t started_ns;
    uint32_t target;
    int64_t latency_us;  /* connect time, kept while the exchange runs */
    struct xchg *x;
    bool exchanging;     /* connected; waiting for the protocol reply */
    bool finished;  /* result recorded; later callbacks are ignored */
    bool has_fd;    /* a socket exists: closing it frees a descriptor */
    bool tcp_open;  /* tcp handle initialised and not yet closed */
    bool dialing;   /* dial started and not yet hung up or detached */
    struct probe *next_free;
    struct probe *next_all;
};

/* Probes waiting for their timeout, one lane per distinct timeout value.
 * A lane's probes started in order, so their deadlines come in order too:
 * a list and one timer per lane do what a timer per probe did, without
 * libuv's timer heap, which at thousands of probes in flight cost more
 * than the engine's own bookkeeping. */
struct lane {
    struct pw_engine *e;
    int64_t timeout_ms;
    struct probe *head, *tail;
    uv_timer_t timer; /* due at the head's deadline, or earlier */
};

struct snapbox {
    atomic_uint refs;
    struct pw_snapshot s;
};

/* A FIFO of host numbers; a host is in at most one (hslot.in_ring). */
struct hring {
    uint32_t *v; /* [nhosts] */
    uint32_t head, count;
};

struct pw_engine {
    uv_loop_t *loop;
    const struct pw_plan *plan;
    struct pw_engine_options opt;

    struct pw_target_state *ts;
    struct tslot *sl;
    uint8_t *proto;   /* enum pw_proto per target */
    struct hslot *hosts;
    uint32_t nhosts;
    /* Hosts with ready targets and room under their cap, taken in turn;
     * those with probes out and no answer yet (quiet) go first. */
    struct hring ring, quiet;

    struct group *groups;
    uint32_t ngroups;
    int mode;
    struct cycle once;
    pw_engine_done_cb once_cb;
    void *once_ud;
    bool once_complete;

    uv_timer_t sched, fd_timer, pub_timer;
    uv_check_t check; /* flushes results once per loop iteration */
    uv_idle_t kick;   /* keeps the poll from blocking while results wait */

    struct lane *lanes;
    uint32_t nlanes;
    struct pw_dialer *dialer; /* opt.dialer's, or NULL: libuv connects */
    bool pumping;
    uint64_t started;   /* probes started, numbering them */
    uint64_t answered;  /* highest start number that got an answer */
    uint32_t burst;     /* probes started since pump_idle last ran (it
                           runs once a loop iteration while needed) */
    uv_idle_t pump_idle; /* resumes a pump that used up its burst */

    struct probe *free_probes, *all_probes;
    uint32_t nprobes;
    uint32_t in_flight, fd_holders;
    bool fd_blocked;
    uint64_t last_fd_log;

    struct pw_result *res, *res_spare;
    size_t nres, cap_res, cap_spare;
    int64_t last_taken_ms; /* taken_ms of the last snapshot filled */
    pw_engine_batch_cb batch_cb;
    void *batch_ud;
    pw_engine_log_cb log_cb;
    void *log_ud;

    struct pw_engine_stats stats;

    uv_mutex_t snap_lock;
    struct snapbox *snap;
    bool dirty;
    uint64_t last_pub;

    bool closing;
    uint32_t open_handles, pending_dns;
    pw_engine_done_cb close_cb;
    void *close_ud;
};

static void pump(struct pw_engine *e);
static void maybe_finish(struct pw_engine *e);

/* ---- small helpers ------------------------------------------------------ */

static void elog(struct pw_engine *e, int level, const char *fmt, ...) PW_PRINTF(3, 4);
static void elog(struct pw_engine *e, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(e->log_cb, e->log_ud, NULL, level, fmt, ap);
    va_end(ap);
}

static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void set_detail(char *dst, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= PW_DETAIL_MAX)
        n = PW_DETAIL_MAX - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static const struct pw_profile *profile_of(const struct pw_engine *e, uint32_t t)
{
    return pw_target_profile(e->plan, &e->plan->targets[t]);
}

static int64_t interval_of(const struct pw_engine *e, uint32_t t)
{
    int64_t iv = profile_of(e, t)->interval_ms;
    return iv > 0 ? iv : e->opt.interval_ms;
}

static int64_t timeout_of(const struct pw_engine *e, uint32_t t)
{
    int64_t to = profile_of(e, t)->timeout_ms;
    return to > 0 ? to : e->opt.timeout_ms;
}

/* ---- classification ----------------------------------------------------- */

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

/* ---- snapshots ---------------------------------------------------------- */

static void snap_fill(struct pw_engine *e, struct snapbox *b)
{
    if (b->s.ntargets)
        memcpy(b->s.targets, e->ts, b->s.ntargets * sizeof *e->ts);
    b->s.stats = e->stats;
    /* Strictly increasing: readers tell snapshots apart by it, also when
     * one is refreshed in place within the same millisecond. */
    int64_t now = wall_ms();
    b->s.taken_ms = now > e->last_taken_ms ? now : e->last_taken_ms + 1;
    e->last_taken_ms = b->s.taken_ms;
}

static struct snapbox *snap_new(struct pw_engine *e)
{
    size_t n = e->plan->ntargets;
    struct snapbox *b = malloc(sizeof *b + n * sizeof(struct pw_target_state));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->s.plan = e->plan;
    b->s.ntargets = n;
    b->s.targets = (struct pw_target_state *)(void *)(b + 1);
    snap_fill(e, b);
    return b;
}

static void snap_unref(struct snapbox *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* Replaces the current snapshot; readers holding the old one keep it. */
static void publish(struct pw_engine *e)
{
    e->stats.in_flight = e->in_flight;
    /* Nobody but the engine holds the current one: refresh it in place
     * rather than keep two copies. Readers acquire under snap_lock, so none
     * can see it while it changes. */
    uv_mutex_lock(&e->snap_lock);
    if (atomic_load(&e->snap->refs) == 1) {
        snap_fill(e, e->snap);
        uv_mutex_unlock(&e->snap_lock);
        e->dirty = false;
        e->last_pub = uv_now(e->loop);
        return;
    }
    uv_mutex_unlock(&e->snap_lock);
    struct snapbox *b = snap_new(e);
    if (!b)
        return; /* keep the old one; dirty stays set, a later tick retries */
    uv_mutex_lock(&e->snap_lock);
    struct snapbox *old = e->snap;
    e->snap = b;
    uv_mutex_unlock(&e->snap_lock);
    snap_unref(old);
    e->dirty = false;
    e->last_pub = uv_now(e->loop);
}

static void on_pub_timer(uv_timer_t *t)
{
    struct pw_engine *e = t->data;
    if (e->dirty)
        publish(e);
}

/* Publishes now if the last one is old enough, else makes sure the
 * publish timer will. */
static void maybe_publish(struct pw_engine *e, bool force)
{
    if (!e->dirty)
        return;
    uint64_t now = uv_now(e->loop);
    if (force || now - e->last_pub >= PUBLISH_MIN_MS) {
        uv_timer_stop(&e->pub_timer);
        publish(e);
    } else if (!uv_is_active((uv_handle_t *)&e->pub_timer)) {
        uv_timer_start(&e->pub_timer, on_pub_timer, PUBLISH_MIN_MS - (now - e->last_pub), 0);
    }
}

struct pw_snapshot *pw_engine_snapshot_acquire(struct pw_engine *e)
{
    uv_mutex_lock(&e->snap_lock);
    struct snapbox *b = e->snap;
    atomic_fetch_add(&b->refs, 1);
    uv_mutex_unlock(&e->snap_lock);
    return &b->s;
}

void pw_snapshot_release(struct pw_snapshot *s)
{
    if (!s)
        return;
    struct snapbox *b = (struct snapbox *)(void *)((char *)s - offsetof(struct snapbox, s));
    snap_unref(b);
}

/* ---- results ------------------------------------------------------------ */

static void flush(struct pw_engine *e)
{
    if (e->nres == 0)
        return;
    /* Swap buffers first: the callback may start a sweep that records
     * results at once, and close() must not deliver these twice. */
    struct pw_result *r = e->res;
    size_t n = e->nres, cap = e->cap_res;
    e->res = e->res_spare;
    e->cap_res = e->cap_spare;
    e->nres = 0;
    e->res_spare = r;
    e->cap_spare = cap;
    if (e->batch_cb)
        e->batch_cb(e->batch_ud, r, n);
}

static void on_kick(uv_idle_t *i)
{
    (void)i;
}

static void on_check(uv_check_t *c)
{
    struct pw_engine *e = c->data;
    uv_check_stop(c);
    uv_idle_stop(&e->kick);
    flush(e);
    if (e->closing)
        return;
    bool done = e->once_complete;
    maybe_publish(e, done);
    if (done) {
        e->once_complete = false;
        e->mode = MODE_IDLE;
        pw_engine_done_cb cb = e->once_cb;
        e->once_cb = NULL;
        if (cb)
            cb(e, e->once_ud);
    }
}

/* Results recorded outside the loop's poll phase (synchronously in
 * sweep_once, or in a check callback) would otherwise wait for the next
 * I/O event; the idle handle makes the poll return at once. */
static void want_flush(struct pw_engine *e)
{
    if (!e->closing && !uv_is_active((uv_handle_t *)&e->check)) {
        uv_check_start(&e->check, on_check);
        uv_idle_start(&e->kick, on_kick);
    }
}

static struct cycle *cycle_of(struct pw_engine *e, uint32_t t)
{
    if (e->mode == MODE_ONCE)
        return e->once.no == e->sl[t].cycle && e->once.open ? &e->once : NULL;
    if (e->mode != MODE_RUN)
        return NULL;
    struct group *g = &e->groups[e->sl[t].group];
    struct cycle *c = &g->ring[e->sl[t].cycle % CYCLE_RING];
    return c->open && c->no == e->sl[t].cycle ? c : NULL;
}

static void cycle_finish(struct pw_engine *e, struct group *g, struct cycle *c)
{
    int64_t now = (int64_t)uv_now(e->loop);
    c->open = false;
    e->stats.sweeps++;
    e->stats.last_sweep_ms = wall_ms();
    e->stats.last_sweep_duration_ms = now - c->start_mono;
    if (c->overran) {
        e->stats.overruns++;
        if (g)
            elog(e, PW_ENGINE_LOG_WARN,
                 "sweep %u (%u targets every %lld ms) overran its interval: "
                 "%u probes were still outstanding when due again and were "
                 "skipped (took %lld ms; timeouts, caps or slow name "
                 "resolution; lower timeout or raise interval/max_in_flight)",
                 c->no, g->n, (long long)g->interval, c->skipped,
                 (long long)(now - c->start_mono));
    }
    if (e->mode == MODE_ONCE && c == &e->once) {
        e->once_complete = true;
        want_flush(e);
    }
}

static void cycle_maybe_finish(struct pw_engine *e, uint32_t t, struct cycle *c)
{
    if (c->open && c->all_released && c->outstanding == 0)
        cycle_finish(e, e->mode == MODE_RUN ? &e->groups[e->sl[t].group] : NULL, c);
}

/* Records one outcome: flap control, counters, the batch buffer, and the
 * bookkeeping of the sweep the probe belonged to. A mismatch (something
 * else answered) fails a `listening` expectation: the service it names
 * does not listen there. */
static void record_v(struct pw_engine *e, uint32_t t, enum pw_state state,
                     const char *detail, int64_t latency_us, enum pw_verify verify,
                     const char *vinfo)
{
    struct pw_target_state *st = &e->ts[t];
    struct tslot *sl = &e->sl[t];
    enum pw_expect expect = profile_of(e, t)->expect;
    bool ok = pw_state_passes(state, expect) &&
              !(verify == PW_VERIFY_MISMATCH && expect == PW_EXPECT_LISTENING);
    enum pw_status prev = st->status, next = prev;
    int64_t now = wall_ms();

    if (ok) {
        st->fails = 0;
        if (sl->passes < UINT16_MAX)
            sl->passes++;
        if (prev != PW_STATUS_UP &&
            (prev == PW_STATUS_UNKNOWN || sl->passes >= e->opt.recover_after))
            next = PW_STATUS_UP;
    } else {
        sl->passes = 0;
        if (st->fails < UINT32_MAX)
            st->fails++;
        if (prev != PW_STATUS_DOWN &&
            (prev == PW_STATUS_UNKNOWN || st->fails >= e->opt.fail_after))
            next = PW_STATUS_DOWN;
    }
    st->status = next;
    if (next != prev)
        st->since_ms = now;
    st->state = state;
    st->ok = ok;
    st->has_result = true;
    st->latency_us = latency_us;
    st->last_ms = now;
    set_detail(st->detail, detail);
    st->verify = verify;
    snprintf(st->verify_info, sizeof st->verify_info, "%s", vinfo ? vinfo : "");
    e->stats.probes[state]++;
    e->dirty = true;

    /* Without a batch callback (`portwatch check`) nobody takes the
     * results: the snapshot alone carries them. */
    if (e->batch_cb && e->nres == e->cap_res) {
        size_t cap = e->cap_res ? e->cap_res * 2 : 64;
        struct pw_result *r = realloc(e->res, cap * sizeof *r);
        if (r) {
            e->res = r;
            e->cap_res = cap;
        }
    }
    if (next != prev && next == PW_STATUS_DOWN)
        e->stats.outages++;
    if (e->batch_cb && e->nres < e->cap_res) { /* out of memory: the snapshot still has it */
        struct pw_result *r = &e->res[e->nres++];
        r->target = t;
        r->state = state;
        r->ok = ok;
        r->status = next;
        r->status_changed = next != prev;
        r->latency_us = latency_us;
        r->at_ms = now;
        memcpy(r->detail, st->detail, PW_DETAIL_MAX);
        r->verify = verify;
        memcpy(r->verify_info, st->verify_info, PW_VERIFY_INFO_MAX);
    }
    want_flush(e);

    struct cycle *c = cycle_of(e, t);
    sl->phase = T_IDLE;
    if (c) {
        c->outstanding--;
        cycle_maybe_finish(e, t, c);
    }
}

/* An outcome without a protocol exchange: none was attempted (no
 * connect) or the target has none (verify "off"). */
static void record(struct pw_engine *e, uint32_t t, enum pw_state state,
                   const char *detail, int64_t latency_us)
{
    record_v(e, t, state, detail, latency_us,
             state == PW_STATE_OPEN ? PW_VERIFY_OFF : PW_VERIFY_NONE, "");
}

/* ---- queues ------------------------------------------------------------- */

static void ring_push(struct pw_engine *e, struct hring *r, uint32_t h)
{
    r->v[(r->head + r->count) % e->nhosts] = h;
    r->count++;
    e->hosts[h].in_ring = true;
}

static uint32_t ring_pop(struct pw_engine *e, struct hring *r)
{
    uint32_t h = r->v[r->head];
    r->head = (r->head + 1) % e->nhosts;
    r->count--;
    e->hosts[h].in_ring = false;
    return h;
}

/* A host that has never answered although probes started after its
 * oldest one out have been answered elsewhere: likely one that drops
 * SYNs, whose probes each last the whole timeout. Starting its remaining
 * probes before those of hosts that answer at once lets those timeouts
 * run together, so a one-shot sweep ends about one timeout after it began
 * rather than one timeout after its last start. Comparing start numbers,
 * not times, keeps a burst's own hosts (none answered yet) in turn. */
static bool quiet_host(const struct pw_engine *e, const struct hslot *hs)
{
    return hs->in_flight > 0 && hs->answers == 0 && e->answered > hs->out_seq;
}

static void maybe_ring(struct pw_engine *e, uint32_t h)
{
    struct hslot *hs = &e->hosts[h];
    if (!hs->in_ring && hs->ready_head != NIL && hs->in_flight < e->opt.max_per_host)
        ring_push(e, quiet_host(e, hs) ? &e->quiet : &e->ring, h);
}

/* The next host to start a probe for: a quiet one first. A host queued as
 * quiet that has been answered since moves to the ordinary ring. */
static bool next_host(struct pw_engine *e, uint32_t *out)
{
    while (e->quiet.count > 0) {
        uint32_t h = ring_pop(e, &e->quiet);
        if (quiet_host(e, &e->hosts[h])) {
            *out = h;
            return true;
        }
        ring_push(e, &e->ring, h);
    }
    if (e->ring.count == 0)
        return false;
    *out = ring_pop(e, &e->ring);
    return true;
}

static void list_push(struct pw_engine *e, uint32_t *head, uint32_t *tail, uint32_t t)
{
    e->sl[t].next = NIL;
    if (*tail == NIL)
        *head = t;
    else
        e->sl[*tail].next = t;
    *tail = t;
}

static uint32_t list_pop(struct pw_engine *e, uint32_t *head, uint32_t *tail)
{
    uint32_t t = *head;
    *head = e->sl[t].next;
    if (*head == NIL)
        *tail = NIL;
    return t;
}

static void ready_push(struct pw_engine *e, uint32_t t)
{
    uint32_t h = e->plan->targets[t].host;
    list_push(e, &e->hosts[h].ready_head, &e->hosts[h].ready_tail, t);
    e->sl[t].phase = T_READY;
    e->stats.waiting_for_slot++;
    maybe_ring(e, h);
}

/* Back to the head of its host's queue (out of descriptors). */
static void ready_unshift(struct pw_engine *e, uint32_t t)
{
    struct hslot *hs = &e->hosts[e->plan->targets[t].host];
    e->sl[t].next = hs->ready_head;
    hs->ready_head = t;
    if (hs->ready_tail == NIL)
        hs->ready_tail = t;
    e->sl[t].phase = T_READY;
    e->stats.waiting_for_slot++;
}

/* ---- name resolution ---------------------------------------------------- */

static bool family_allows(int want, int af)
{
    if (want == PW_FAMILY_IPV4)
        return af == AF_INET;
    if (want == PW_FAMILY_IPV6)
        return af == AF_INET6;
    return af == AF_INET || af == AF_INET6;
}

/* The resolver's answer the `family` setting asks for. */
static const struct addrinfo *pick_addr(const struct addrinfo *res, int family)
{
    int prefer = family == PW_FAMILY_PREFER_IPV4 ? AF_INET
                 : family == PW_FAMILY_PREFER_IPV6 ? AF_INET6 : 0;
    const struct addrinfo *first = NULL;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        if (!family_allows(family, a->ai_family))
            continue;
        if (!first)
            first = a;
        if (!prefer || a->ai_family == prefer)
            return a;
    }
    return first;
}

static void host_resolved(struct pw_engine *e, uint32_t h, int status)
{
    struct hslot *hs = &e->hosts[h];
    hs->valid_until = (int64_t)uv_now(e->loop) + hs->validity_ms;
    if (status == 0) {
        hs->dns = H_OK;
        while (hs->wait_head != NIL)
            ready_push(e, list_pop(e, &hs->wait_head, &hs->wait_tail));
        return;
    }
    char msg[PW_DETAIL_MAX - 24];
    uv_strerror_r(status, msg, sizeof msg);
    snprintf(hs->err, sizeof hs->err, "%s (%s)", msg, uv_err_name(status));
    hs->dns = H_FAILED;
    while (hs->wait_head != NIL)
        record(e, list_pop(e, &hs->wait_head, &hs->wait_tail), PW_STATE_DNS_ERROR,
               hs->err, -1);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = req->data;
    struct pw_engine *e = r->e;
    struct hslot *hs = &e->hosts[r->host];
    e->pending_dns--;
    hs->req = NULL;
    if (!e->closing) {
        if (status == 0) {
            const struct addrinfo *a = pick_addr(res, e->opt.family);
            if (a && a->ai_addrlen <= sizeof hs->addr)
                memcpy(&hs->addr, a->ai_addr, a->ai_addrlen);
            else
                status = UV_EAI_ADDRFAMILY;
        }
        host_resolved(e, r->host, status);
        pump(e);
    }
    uv_freeaddrinfo(res);
    free(r);
    maybe_finish(e);
}

/* Asks the resolver once for host h; targets due meanwhile wait on it. */
static void resolve(struct pw_engine *e, uint32_t h)
{
    struct hslot *hs = &e->hosts[h];
    struct resolve *r = malloc(sizeof *r);
    int err = UV_ENOMEM;
    if (r) {
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = e->opt.family == PW_FAMILY_IPV4   ? AF_INET
                          : e->opt.family == PW_FAMILY_IPV6 ? AF_INET6
                                                            : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        r->e = e;
        r->host = h;
        r->req.data = r;
        err = uv_getaddrinfo(e->loop, &r->req, on_resolved, hs->name, NULL, &hints);
    }
    e->stats.dns_lookups++;
    if (err == 0) {
        hs->req = r;
        hs->dns = H_RESOLVING;
        e->pending_dns++;
        return;
    }
    free(r);
    host_resolved(e, h, err);
}

/* A target is due: queue it, park it on its host's lookup, or settle it
 * from the host's cached failure. */
static void dispatch(struct pw_engine *e, uint32_t t)
{
    uint32_t h = e->plan->targets[t].host;
    struct hslot *hs = &e->hosts[h];
    int64_t now = (int64_t)uv_now(e->loop);
    bool fresh = now < hs->valid_until;

    if (hs->dns == H_LITERAL || (hs->dns == H_OK && fresh)) {
        ready_push(e, t);
    } else if (hs->dns == H_BADFAMILY) {
        record(e, t, PW_STATE_ERROR, hs->err, -1);
    } else if (hs->dns == H_FAILED && fresh) {
        record(e, t, PW_STATE_DNS_ERROR, hs->err, -1);
    } else {
        e->sl[t].phase = T_DNS_WAIT;
        list_push(e, &hs->wait_head, &hs->wait_tail, t);
        if (hs->dns != H_RESOLVING)
            resolve(e, h);
    }
}

/* Target t is due in sweep c. One outstanding probe per target: if the
 * last one has not ended, this run is skipped and its sweep overran. */
static void release(struct pw_engine *e, uint32_t t, struct cycle *c)
{
    struct tslot *sl = &e->sl[t];
    if (sl->phase != T_IDLE) {
        struct cycle *old = cycle_of(e, t);
        if (old) {
            old->overran = true;
            old->skipped++;
        }
        e->stats.skipped++;
        return;
    }
    sl->cycle = c->no;
    c->outstanding++;
    dispatch(e, t);
}

/* ---- the probe ---------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct pw_engine *e = h->data;
    e->open_handles--;
    maybe_finish(e);
}

static void on_fd_timer(uv_timer_t *t)
{
    struct pw_engine *e = t->data;
    e->fd_blocked = false;
    pump(e);
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
        maybe_finish(e);
        return;
    }
    maybe_ring(e, e->plan->targets[p->target].host);
    pump(e);
}

static void on_probe_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->tcp_open = false;
    p->e->open_handles--;
    probe_release(p);
}

static void lane_remove(struct probe *p);

static void probe_end(struct probe *p)
{
    lane_remove(p);
    if (p->tcp_open) {
        if (!uv_is_closing((uv_handle_t *)&p->tcp))
            uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
        return;
    }
    if (p->dialing) {
        p->e->opt.dialer->hangup(p->e->dialer, &p->dial);
        p->dialing = false;
    }
    probe_release(p);
}

/* ---- the protocol exchange ---------------------------------------------- */

/* Settles an exchange from the bytes received so far; `eof`: no more will
 * come (closed, reset, timed out, or the buffer is full). */
static bool exchange_decide(struct probe *p, bool eof)
{
    struct pw_engine *e = p->e;
    enum pw_proto proto = (enum pw_proto)e->proto[p->target];
    char info[PW_VERIFY_INFO_MAX];
    enum pw_verify v;
    if (p->x->rx_len == 0) {
        if (!eof)
            return false;
        v = PW_VERIFY_NO_REPLY;
        snprintf(info, sizeof info, "%s: connected, but no reply", pw_proto_name(proto));
    } else {
        enum pw_parse st = pw_verify_reply(proto, p->x->rx, p->x->rx_len,
                                           eof || p->x->rx_len == sizeof p->x->rx, info);
        if (st == PW_PARSE_NEED_MORE)
            return false;
        v = st == PW_PARSE_OK ? PW_VERIFY_VERIFIED : PW_VERIFY_MISMATCH;
    }
    p->finished = true;
    p->exchanging = false;
    record_v(e, p->target, PW_STATE_OPEN, "", p->latency_us, v, info);
    probe_end(p);
    return true;
}

static void on_xchg_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct probe *p = h->data;
    (void)suggested;
    buf->base = (char *)p->x->rx + p->x->rx_len;
    buf->len = sizeof p->x->rx - p->x->rx_len;
}

static void on_xchg_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct probe *p = s->data;
    (void)buf;
    if (p->finished || !p->exchanging)
        return;
    if (nread > 0) {
        p->x->rx_len += (size_t)nread;
        exchange_decide(p, false);
    } else if (nread < 0) {
        exchange_decide(p, true); /* EOF, reset or error: decide on what came */
    }
}

static void on_xchg_written(uv_write_t *w, int status)
{
    struct probe *p = w->data;
    if (status < 0 && !p->finished && p->exchanging)
        exchange_decide(p, true); /* the peer went away before taking it */
}

/* Connected: send the protocol's request and read its reply, or record
 * the open port at once when the target has no exchange. */
static void exchange_start(struct probe *p)
{
    struct pw_engine *e = p->e;
    uint32_t t = p->target;
    enum pw_proto proto = (enum pw_proto)e->proto[t];
    if (proto == PW_PROTO_NONE) {
        p->finished = true;
        record(e, t, PW_STATE_OPEN, "", p->latency_us);
        probe_end(p);
        return;
    }
    if (!p->x && !(p->x = malloc(sizeof *p->x))) {
        p->finished = true;
        record_v(e, t, PW_STATE_OPEN, "", p->latency_us, PW_VERIFY_NO_REPLY,
                 "out of memory for the exchange");
        probe_end(p);
        return;
    }
    p->x->rx_len = 0;
    p->x->wreq.data = p;
    uint8_t salt[32];
    if (proto == PW_PROTO_SMB && uv_random(NULL, NULL, salt, sizeof salt, 0, NULL) != 0) {
        uint64_t h = uv_hrtime() ^ (uint64_t)(uintptr_t)p;
        for (size_t i = 0; i < sizeof salt; i++, h = h * 6364136223846793005ULL + 1)
            salt[i] = (uint8_t)(h >> 56);
    }
    const struct pw_target *tg = &e->plan->targets[t];
    size_t len = pw_verify_request(proto, e->hosts[tg->host].name, tg->port, salt, p->x->tx);
    uv_buf_t b = uv_buf_init((char *)p->x->tx, (unsigned)len);
    p->exchanging = true;
    int err = len ? uv_write(&p->x->wreq, (uv_stream_t *)&p->tcp, &b, 1, on_xchg_written)
                  : UV_EINVAL;
    if (err == 0)
        err = uv_read_start((uv_stream_t *)&p->tcp, on_xchg_alloc, on_xchg_read);
    if (err != 0)
        exchange_decide(p, true);
    /* The timeout timer keeps running: connect and exchange share it. */
}

static void connected(struct probe *p, int status)
{
    p->e->hosts[p->e->plan->targets[p->target].host].answers++;
    if (p->seq > p->e->answered)
        p->e->answered = p->seq;
    if (status == 0) {
        p->latency_us = (int64_t)((uv_hrtime() - p->started_ns) / 1000);
        exchange_start(p);
        return;
    }
    p->finished = true;
    enum pw_state s = classify(status);
    record(p->e, p->target, s, s == PW_STATE_ERROR ? uv_err_name(status) : "", -1);
    probe_end(p);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct probe *p = req->data;
    if (p->finished)
        return; /* timed out or cancelled: already settled */
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
    record_v(e, p->target, PW_STATE_OPEN, "", (int64_t)((uv_hrtime() - p->started_ns) / 1000),
             PW_VERIFY_NO_REPLY, uv_err_name(err));
    probe_end(p);
}

static void on_timeout(struct probe *p)
{
    if (p->finished)
        return;
    if (p->exchanging) {
        exchange_decide(p, true);
        return;
    }
    p->finished = true;
    record(p->e, p->target, PW_STATE_FILTERED, "", -1);
    probe_end(p);
}

/* ---- timeouts ------------------------------------------------------------ */

static void lane_remove(struct probe *p)
{
    struct lane *l = p->lane;
    if (!l)
        return;
    if (p->lprev)
        p->lprev->lnext = p->lnext;
    else
        l->head = p->lnext;
    if (p->lnext)
        p->lnext->lprev = p->lprev;
    else
        l->tail = p->lprev;
    p->lane = NULL;
    if (!l->head)
        uv_timer_stop(&l->timer); /* an idle engine holds the loop with nothing */
}

static void on_lane_timer(uv_timer_t *t)
{
    struct lane *l = t->data;
    uint64_t now = uv_now(l->e->loop);
    struct probe *p;
    while ((p = l->head) != NULL && p->deadline <= now) {
        lane_remove(p);
        on_timeout(p); /* may start probes: they join the tail, later */
    }
    if (l->head)
        uv_timer_start(&l->timer, on_lane_timer, l->head->deadline - now, 0);
}

/* Starts p's timeout: the timeout of its target's profile. */
static void lane_add(struct pw_engine *e, struct probe *p)
{
    int64_t to = timeout_of(e, p->target);
    struct lane *l = e->lanes;
    while (l->timeout_ms != to)
        l++; /* every profile's timeout has a lane (lanes_build) */
    p->deadline = uv_now(e->loop) + (uint64_t)to;
    p->lane = l;
    p->lnext = NULL;
    p->lprev = l->tail;
    if (l->tail)
        l->tail->lnext = p;
    else
        l->head = p;
    l->tail = p;
    if (!uv_is_active((uv_handle_t *)&l->timer))
        uv_timer_start(&l->timer, on_lane_timer, (uint64_t)to, 0);
}

/* One lane per distinct timeout among the plan's targets; their timers
 * are engine handles. Returns 0 or PW_ENOMEM. */
static int lanes_build(struct pw_engine *e)
{
    size_t n = e->plan->ntargets;
    e->lanes = calloc(1, sizeof *e->lanes);
    if (!e->lanes)
        return PW_ENOMEM;
    e->lanes[0].timeout_ms = e->opt.timeout_ms;
    e->nlanes = 1;
    int64_t last = e->opt.timeout_ms;
    for (size_t t = 0; t < n; t++) {
        int64_t to = timeout_of(e, (uint32_t)t);
        if (to == last)
            continue; /* the common case: a host's targets share one */
        last = to;
        uint32_t i = 0;
        while (i < e->nlanes && e->lanes[i].timeout_ms != to)
            i++;
        if (i < e->nlanes)
            continue;
        struct lane *v = realloc(e->lanes, (e->nlanes + 1) * sizeof *v);
        if (!v)
            return PW_ENOMEM;
        e->lanes = v;
        memset(&v[e->nlanes], 0, sizeof *v);
        v[e->nlanes++].timeout_ms = to;
    }
    for (uint32_t i = 0; i < e->nlanes; i++) {
        e->lanes[i].e = e;
        uv_timer_init(e->loop, &e->lanes[i].timer); /* cannot fail */
        e->lanes[i].timer.data = &e->lanes[i];
    }
    return 0;
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

/* Starts target t's connect. On EMFILE/ENFILE the target goes back to the
 * head of its host's queue and the engine waits for a descriptor; no
 * result is recorded for it. */
static void probe_start(struct pw_engine *e, uint32_t t)
{
    const struct pw_target *tg = &e->plan->targets[t];
    struct hslot *hs = &e->hosts[tg->host];
    struct probe *p = probe_get(e);
    if (!p) {
        record(e, t, PW_STATE_ERROR, uv_err_name(UV_ENOMEM), -1);
        return;
    }
    int err = e->dialer ? 0 : uv_tcp_init(e->loop, &p->tcp);
    if (err != 0) {
        p->next_free = e->free_probes;
        e->free_probes = p;
        record(e, t, PW_STATE_ERROR, uv_err_name(err), -1);
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

    union pw_sockaddr to = hs->addr;
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
        lane_add(e, p);
        return;
    }
    p->finished = true;
    if (fd_err) {
        e->stats.fd_waits++;
        ready_unshift(e, t);
        if (!e->fd_blocked) {
            e->fd_blocked = true;
            uint64_t now = uv_now(e->loop);
            if (e->last_fd_log == 0 || now - e->last_fd_log >= FD_LOG_EVERY_MS) {
                e->last_fd_log = now ? now : 1;
                elog(e, PW_ENGINE_LOG_WARN,
                     "out of file descriptors (%s) with %u probes in flight; "
                     "probes wait for a free one (raise the open-file limit "
                     "or lower max_in_flight)",
                     uv_err_name(err), e->in_flight - 1);
            }
        }
        /* Nothing of ours will free a descriptor: poll for one. */
        if (e->fd_holders == 0)
            uv_timer_start(&e->fd_timer, on_fd_timer, FD_RETRY_MS, 0);
    } else {
        enum pw_state s = classify(err);
        record(e, t, s, s == PW_STATE_ERROR ? uv_err_name(err) : "", -1);
    }
    probe_end(p);
}

/* Starts queued probes while the caps allow, taking hosts in turn. */
static void on_pump_idle(uv_idle_t *i)
{
    struct pw_engine *e = i->data;
    uv_idle_stop(i);
    e->burst = 0;
    pump(e);
}

static void pump(struct pw_engine *e)
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
        if (!next_host(e, &h))
            break;
        e->burst++;
        struct hslot *hs = &e->hosts[h];
        uint32_t t = list_pop(e, &hs->ready_head, &hs->ready_tail);
        e->stats.waiting_for_slot--;
        probe_start(e, t);
        maybe_ring(e, h);
    }
    e->pumping = false;
}

/* ---- scheduling --------------------------------------------------------- */

static struct cycle *group_open_cycle(struct pw_engine *e, struct group *g, int64_t now)
{
    uint32_t no = ++g->cycle_no;
    struct cycle *c = &g->ring[no % CYCLE_RING];
    if (c->open) {
        /* A sweep from CYCLE_RING intervals ago still has a probe out:
         * close its books now; its late results just update state. */
        c->overran = true;
        cycle_finish(e, g, c);
    }
    memset(c, 0, sizeof *c);
    c->no = no;
    c->open = true;
    c->start_mono = now;
    return c;
}

/* The schedule timer: releases every target whose start time has come.
 * Times come from the loop's monotonic clock, so wall-clock jumps do not
 * matter. Target i of a group of n starts at cycle_start + i*interval/n
 * when spreading, at cycle_start otherwise. */
static void on_schedule(uv_timer_t *timer)
{
    struct pw_engine *e = timer->data;
    int64_t now = (int64_t)uv_now(e->loop);
    int64_t next = INT64_MAX;

    for (uint32_t gi = 0; gi < e->ngroups; gi++) {
        struct group *g = &e->groups[gi];
        for (;;) {
            int64_t off = e->opt.spread ? (int64_t)g->cursor * g->interval / g->n : 0;
            int64_t due = g->cycle_start + off;
            if (due > now) {
                if (due < next)
                    next = due;
                break;
            }
            struct cycle *c = g->cursor == 0 ? group_open_cycle(e, g, now)
                                             : &g->ring[g->cycle_no % CYCLE_RING];
            release(e, g->order[g->cursor], c);
            if (++g->cursor < g->n)
                continue;
            g->cursor = 0;
            g->cycle_start += g->interval;
            c->all_released = true;
            if (c->open && c->outstanding == 0)
                cycle_finish(e, g, c);
            if (g->cycle_start + g->interval <= now) {
                /* The loop was held up for whole intervals: skip them
                 * rather than firing a backlog of sweeps at once. */
                int64_t behind = (now - g->cycle_start) / g->interval;
                g->cycle_start += behind * g->interval;
                e->stats.overruns += (uint64_t)behind;
                elog(e, PW_ENGINE_LOG_WARN,
                     "schedule fell %lld sweep(s) behind (every %lld ms); "
                     "skipped them",
                     (long long)behind, (long long)g->interval);
            }
        }
    }
    pump(e);
    if (next != INT64_MAX)
        uv_timer_start(&e->sched, on_schedule, (uint64_t)(next - now), 0);
}

struct order_key {
    uint32_t t, host, rank, n;
};

/* Within a group, each host's targets are spread evenly over the interval
 * (rank/n), and hosts interleave: a 201-port range is paced per host,
 * and 20 hosts do not start together. */
static int order_cmp(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    uint64_t l = (uint64_t)x->rank * y->n, r = (uint64_t)y->rank * x->n;
    if (l != r)
        return l < r ? -1 : 1;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

static void groups_free(struct pw_engine *e)
{
    for (uint32_t i = 0; i < e->ngroups; i++)
        free(e->groups[i].order);
    free(e->groups);
    e->groups = NULL;
    e->ngroups = 0;
}

static int groups_build(struct pw_engine *e)
{
    const struct pw_plan *p = e->plan;
    size_t n = p->ntargets;
    uint32_t *count = NULL, *rank = NULL;
    struct order_key *keys = NULL;
    int err = PW_ENOMEM;

    for (size_t t = 0; t < n; t++) {
        int64_t iv = interval_of(e, (uint32_t)t);
        uint32_t g;
        for (g = 0; g < e->ngroups && e->groups[g].interval != iv; g++)
            ;
        if (g == e->ngroups) {
            if (g == UINT16_MAX) {
                err = PW_ETOO_BIG;
                goto out;
            }
            struct group *ng = realloc(e->groups, (g + 1) * sizeof *ng);
            if (!ng)
                goto out;
            e->groups = ng;
            memset(&ng[g], 0, sizeof ng[g]);
            ng[g].interval = iv;
            e->ngroups++;
        }
        e->sl[t].group = (uint16_t)g;
        e->groups[g].n++;
    }
    count = calloc(e->ngroups, sizeof *count);
    rank = calloc(e->ngroups, sizeof *rank);
    keys = malloc((n ? n : 1) * sizeof *keys);
    if (!count || !rank || !keys)
        goto out;
    for (uint32_t g = 0; g < e->ngroups; g++) {
        e->groups[g].order = malloc(e->groups[g].n * sizeof(uint32_t));
        if (!e->groups[g].order)
            goto out;
    }
    /* Targets come sorted by host: count per (host, group), then rank. */
    size_t k = 0;
    for (size_t h = 0; h < p->nhosts; h++) {
        const struct pw_host *ph = &p->hosts[h];
        memset(count, 0, e->ngroups * sizeof *count);
        memset(rank, 0, e->ngroups * sizeof *rank);
        for (uint32_t t = ph->first; t < ph->first + ph->n; t++)
            count[e->sl[t].group]++;
        for (uint32_t t = ph->first; t < ph->first + ph->n; t++) {
            uint16_t g = e->sl[t].group;
            keys[k++] = (struct order_key){t, (uint32_t)h, rank[g]++, count[g]};
        }
    }
    if (k != n) { /* hosts must cover every target */
        err = PW_EINVAL;
        goto out;
    }
    qsort(keys, k, sizeof *keys, order_cmp);
    for (size_t i = 0; i < k; i++) {
        struct group *g = &e->groups[e->sl[keys[i].t].group];
        g->order[g->cursor++] = keys[i].t;
    }
    for (uint32_t g = 0; g < e->ngroups; g++)
        e->groups[g].cursor = 0;
    err = 0;
out:
    free(count);
    free(rank);
    free(keys);
    if (err)
        groups_free(e);
    return err;
}

int pw_engine_start(struct pw_engine *e)
{
    if (e->closing || e->mode != MODE_IDLE)
        return PW_EBUSY;
    int err = groups_build(e);
    if (err)
        return err;
    int64_t now = (int64_t)uv_now(e->loop);
    for (uint32_t g = 0; g < e->ngroups; g++)
        e->groups[g].cycle_start = now;
    e->mode = MODE_RUN;
    maybe_publish(e, true);
    if (e->ngroups)
        uv_timer_start(&e->sched, on_schedule, 0, 0);
    return 0;
}

int pw_engine_sweep_once(struct pw_engine *e, pw_engine_done_cb done, void *ud)
{
    if (e->closing || e->mode != MODE_IDLE)
        return PW_EBUSY;
    e->mode = MODE_ONCE;
    e->once_cb = done;
    e->once_ud = ud;
    memset(&e->once, 0, sizeof e->once);
    e->once.no = 1;
    e->once.open = true;
    e->once.start_mono = (int64_t)uv_now(e->loop);
    maybe_publish(e, true);
    for (uint32_t t = 0; t < e->plan->ntargets; t++)
        release(e, t, &e->once);
    e->once.all_released = true;
    if (e->once.open && e->once.outstanding == 0)
        cycle_finish(e, NULL, &e->once); /* done comes from the check handle */
    pump(e);
    return 0;
}

/* ---- life cycle --------------------------------------------------------- */

static void engine_free(struct pw_engine *e)
{
    struct probe *p = e->all_probes;
    while (p) {
        struct probe *n = p->next_all;
        free(p->x);
        free(p);
        p = n;
    }
    groups_free(e);
    free(e->lanes);
    snap_unref(e->snap);
    uv_mutex_destroy(&e->snap_lock);
    free(e->res);
    free(e->res_spare);
    free(e->ring.v);
    free(e->quiet.v);
    free(e->hosts);
    free(e->sl);
    free(e->proto);
    free(e->ts);
    free(e);
}

static void maybe_finish(struct pw_engine *e)
{
    if (!e->closing || e->open_handles != 0 || e->pending_dns != 0)
        return;
    pw_engine_done_cb cb = e->close_cb;
    void *ud = e->close_ud;
    if (cb)
        cb(e, ud);
    engine_free(e);
}

static void on_dialer_closed(void *ud)
{
    struct pw_engine *e = ud;
    e->dialer = NULL;
    e->open_handles--;
    maybe_finish(e);
}

static void close_handle(struct pw_engine *e, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

void pw_engine_close(struct pw_engine *e, pw_engine_done_cb done, void *ud)
{
    if (!e || e->closing)
        return;
    /* Closing first: a batch callback that calls close again is a no-op. */
    e->closing = true;
    e->close_cb = done;
    e->close_ud = ud;
    flush(e);
    maybe_publish(e, true);
    close_handle(e, (uv_handle_t *)&e->sched);
    close_handle(e, (uv_handle_t *)&e->fd_timer);
    close_handle(e, (uv_handle_t *)&e->pub_timer);
    close_handle(e, (uv_handle_t *)&e->check);
    close_handle(e, (uv_handle_t *)&e->kick);
    close_handle(e, (uv_handle_t *)&e->pump_idle);
    for (uint32_t h = 0; h < e->nhosts; h++)
        if (e->hosts[h].req)
            uv_cancel((uv_req_t *)&e->hosts[h].req->req);
    for (struct probe *p = e->all_probes; p; p = p->next_all) {
        p->finished = true; /* the connect callback sees ECANCELED: no result */
        p->exchanging = false;
        if (p->tcp_open && !uv_is_closing((uv_handle_t *)&p->tcp))
            uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
        if (p->dialing) {
            e->opt.dialer->hangup(e->dialer, &p->dial);
            p->dialing = false;
        }
        p->lane = NULL;
    }
    for (uint32_t i = 0; i < e->nlanes; i++) {
        e->lanes[i].timer.data = e; /* closed through the generic callback */
        close_handle(e, (uv_handle_t *)&e->lanes[i].timer);
    }
    if (e->dialer)
        e->opt.dialer->close(e->dialer, on_dialer_closed, e);
}

static void engine_options(struct pw_engine_options *o)
{
    if (o->interval_ms <= 0)
        o->interval_ms = DEFAULT_INTERVAL_MS;
    if (o->timeout_ms <= 0)
        o->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (o->max_in_flight == 0)
        o->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
    if (o->max_per_host == 0)
        o->max_per_host = DEFAULT_MAX_PER_HOST;
    if (o->fail_after == 0)
        o->fail_after = DEFAULT_FAIL_AFTER;
    if (o->recover_after == 0)
        o->recover_after = DEFAULT_RECOVER_AFTER;
    if ((unsigned)o->family > PW_FAMILY_PREFER_IPV6)
        o->family = PW_FAMILY_ANY;
}

/* Literals never go to the resolver; one the `family` setting excludes is
 * an error on every probe of that host. */
static void host_init(struct pw_engine *e, uint32_t h)
{
    struct hslot *hs = &e->hosts[h];
    const struct pw_host *ph = &e->plan->hosts[h];
    hs->name = ph->name;
    hs->wait_head = hs->wait_tail = hs->ready_head = hs->ready_tail = NIL;
    int64_t min_iv = INT64_MAX;
    for (uint32_t t = ph->first; t < ph->first + ph->n; t++) {
        int64_t iv = interval_of(e, t);
        if (iv < min_iv)
            min_iv = iv;
    }
    /* A little under the interval, so timer jitter never makes the next
     * interval's first probe reuse this interval's answer. */
    hs->validity_ms = min_iv == INT64_MAX ? e->opt.interval_ms : min_iv - min_iv / 10;
    int af = 0;
    if (hs->name && uv_ip4_addr(hs->name, 0, &hs->addr.in4) == 0)
        af = AF_INET;
    else if (hs->name && uv_ip6_addr(hs->name, 0, &hs->addr.in6) == 0)
        af = AF_INET6;
    if (af == 0) {
        hs->dns = H_UNRESOLVED;
    } else if (family_allows(e->opt.family, af)) {
        hs->dns = H_LITERAL;
    } else {
        hs->dns = H_BADFAMILY;
        snprintf(hs->err, sizeof hs->err, "%s address, but family = %s",
                 af == AF_INET ? "IPv4" : "IPv6",
                 e->opt.family == PW_FAMILY_IPV4 ? "ipv4" : "ipv6");
    }
}

struct pw_engine *pw_engine_new(uv_loop_t *loop, const struct pw_plan *plan,
                                const struct pw_engine_options *opt)
{
    if (!loop || !plan || plan->ntargets >= NIL || plan->nhosts >= NIL)
        return NULL;
    struct pw_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (uv_mutex_init(&e->snap_lock) != 0) {
        free(e);
        return NULL;
    }
    e->loop = loop;
    e->plan = plan;
    if (opt)
        e->opt = *opt;
    engine_options(&e->opt);
    size_t n = plan->ntargets;
    e->nhosts = (uint32_t)plan->nhosts;
    e->ts = calloc(n ? n : 1, sizeof *e->ts);
    e->sl = calloc(n ? n : 1, sizeof *e->sl);
    e->hosts = calloc(e->nhosts ? e->nhosts : 1, sizeof *e->hosts);
    e->ring.v = calloc(e->nhosts ? e->nhosts : 1, sizeof *e->ring.v);
    e->quiet.v = calloc(e->nhosts ? e->nhosts : 1, sizeof *e->quiet.v);
    e->proto = calloc(n ? n : 1, 1);
    if (!e->ts || !e->sl || !e->hosts || !e->ring.v || !e->quiet.v || !e->proto) {
        engine_free(e); /* no handle exists yet */
        return NULL;
    }
    for (size_t t = 0; t < n; t++) {
        e->ts[t].latency_us = -1;
        e->sl[t].next = NIL;
        e->proto[t] = e->opt.no_verify ? PW_PROTO_NONE
                                       : (uint8_t)pw_proto_default(plan, (uint32_t)t);
    }
    for (uint32_t h = 0; h < e->nhosts; h++)
        host_init(e, h);
    e->snap = snap_new(e);
    if (!e->snap || lanes_build(e) != 0) {
        engine_free(e);
        return NULL;
    }
    /* These cannot fail for a valid loop. */
    uv_timer_init(loop, &e->sched);
    uv_timer_init(loop, &e->fd_timer);
    uv_timer_init(loop, &e->pub_timer);
    uv_check_init(loop, &e->check);
    uv_idle_init(loop, &e->kick);
    uv_idle_init(loop, &e->pump_idle);
    e->sched.data = e->fd_timer.data = e->pub_timer.data = e->check.data = e;
    e->kick.data = e->pump_idle.data = e;
    e->open_handles = 6 + e->nlanes;
    if (e->opt.dialer && (e->dialer = e->opt.dialer->open(loop)) != NULL)
        e->open_handles++;
    return e;
}

void pw_engine_set_batch_cb(struct pw_engine *e, pw_engine_batch_cb cb, void *ud)
{
    e->batch_cb = cb;
    e->batch_ud = ud;
}

void pw_engine_set_log(struct pw_engine *e, pw_engine_log_cb cb, void *ud)
{
    e->log_cb = cb;
    e->log_ud = ud;
}

void pw_engine_seed_state(struct pw_engine *e, uint32_t target,
                          const struct pw_target_state *st)
{
    if (!e || !st || target >= e->plan->ntargets)
        return;
    e->ts[target] = *st;
    e->ts[target].detail[PW_DETAIL_MAX - 1] = '\0';
    if ((unsigned)e->ts[target].status > PW_STATUS_DOWN)
        e->ts[target].status = PW_STATUS_UNKNOWN;
    if ((unsigned)e->ts[target].state >= PW_STATE_COUNT_)
        e->ts[target].state = PW_STATE_ERROR;
    if ((unsigned)e->ts[target].verify >= PW_VERIFY_COUNT_)
        e->ts[target].verify = PW_VERIFY_NONE;
    e->ts[target].verify_info[PW_VERIFY_INFO_MAX - 1] = '\0';
    e->sl[target].passes = st->has_result && st->ok ? 1 : 0;
    e->dirty = true;
}

void pw_engine_seed_stats(struct pw_engine *e, const struct pw_engine_stats *st)
{
    if (!e || !st)
        return;
    struct pw_engine_stats *o = &e->stats;
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        o->probes[i] += st->probes[i];
    o->sweeps += st->sweeps;
    o->overruns += st->overruns;
    o->skipped += st->skipped;
    o->fd_waits += st->fd_waits;
    o->dns_lookups += st->dns_lookups;
    o->outages += st->outages;
    if (o->last_sweep_ms == 0) {
        o->last_sweep_ms = st->last_sweep_ms;
        o->last_sweep_duration_ms = st->last_sweep_duration_ms;
    }
    e->dirty = true;
}

int pw_engine_set_protocol(struct pw_engine *e, uint32_t target, enum pw_proto proto)
{
    if (!e || target >= e->plan->ntargets || (unsigned)proto >= PW_PROTO_COUNT_)
        return PW_EINVAL;
    e->proto[target] = (uint8_t)proto;
    return 0;
}
