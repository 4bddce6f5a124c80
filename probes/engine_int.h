/*
 * Internals shared by the probe engine's files; not for other modules.
 * The engine (probe.h) is one struct pw_engine driven by one libuv loop;
 * each file below owns one subject of it:
 *   engine.c    life cycle: options, new, close, seeding, setters
 *   schedule.c  interval groups, sweeps (cycles) and the schedule timer
 *   resolve.c   host names: literals, one lookup per host and interval
 *   hosts.c     per-host ready queues and the rings that take hosts in turn
 *   connect.c   the probe pool, the connect (libuv or a dialer), the pump
 *   exchange.c  the protocol exchange after a connect (verify.h)
 *   lanes.c     timeouts: one timer per distinct timeout value
 *   results.c   flap control, counters, and the per-tick result batches
 *   snapshot.c  reference-counted snapshots for other threads
 * Cross-file functions carry the eng_ prefix; pw_ is the public API.
 */
#ifndef PW_ENGINE_INT_H
#define PW_ENGINE_INT_H

#include "probes/probe.h"
#include "probes/verify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CYCLE_RING 4
#define NIL UINT32_MAX

enum phase { T_IDLE, T_DNS_WAIT, T_READY, T_RUNNING };
enum dns_state { H_UNRESOLVED, H_RESOLVING, H_OK, H_FAILED, H_LITERAL, H_BADFAMILY };
enum mode { MODE_IDLE, MODE_RUN, MODE_ONCE };

/* Per-target scheduling slot. */
struct tslot {
    /* Lateness (struct pw_result.late_since_ms): the first due missed
     * since the last probe began, and what the probe out carries. */
    int64_t late_ms, probe_late_ms;
    uint32_t next;   /* link in its host's resolver-wait or ready list */
    uint32_t cycle;  /* sweep number of its outstanding probe */
    uint16_t passes; /* consecutive passing results, for recover_after */
    uint16_t group;  /* interval group */
    uint8_t phase;   /* enum phase */
    uint16_t held;   /* 1 + its entry in pw_engine.held; 0: none (snapshot.c) */
};

struct resolve {
    uv_getaddrinfo_t req;
    struct pw_engine *e;
    uint32_t host;
};

union eng_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

struct hslot {
    const char *name;
    union eng_sockaddr addr;
    int dns;                /* enum dns_state */
    int64_t valid_until;    /* monotonic ms; resolver answer (or failure) */
    int64_t validity_ms;
    struct resolve *req;    /* while resolving */
    uint32_t wait_head, wait_tail;
    uint32_t ready_head, ready_tail;
    uint32_t in_flight;
    bool in_ring;
    uint32_t answers;       /* connects that got an answer (not a timeout) */
    uint32_t silent;        /* connects timed out since its last answer */
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

    struct pw_target_state *ts; /* every target's state: wbox's (snapshot.c) */
    struct tslot *sl;
    uint8_t *proto;   /* enum pw_proto per target */
    struct hslot *hosts;
    uint32_t nhosts;
    /* Hosts with ready targets and room under their cap, taken in turn;
     * those with probes out and no answer yet (quiet) go first. */
    struct hring ring, quiet;

    struct group *groups;
    uint32_t ngroups;
    /* Where a replaced engine's groups were in their sweeps, taken by
     * pw_engine_follow and applied by pw_engine_start. */
    struct sched_phase {
        int64_t interval, cycle_start;
        double done; /* share of the group released this cycle */
    } *follow;
    uint32_t nfollow;
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
    uint32_t fd_capped_from; /* max_in_flight asked for, when fd_limit
                                lowered it (0: it did not) */
    bool fd_cap_said;
    bool fd_blocked;
    uint64_t last_fd_log;
    /* Overrunning sweeps are logged once when they begin, then as a count
     * every OVERRUN_LOG_EVERY_MS, and once when sweeps are on time again
     * (schedule.c). Loop times. */
    int64_t overrun_logged, overrun_last, overrun_span;
    uint32_t overruns_since; /* overruns not yet in a line */
    bool overrunning;

    struct pw_result *res, *res_spare;
    size_t nres, cap_res, cap_spare;
    int64_t last_taken_ms; /* taken_ms of the last snapshot filled */
    pw_engine_batch_cb batch_cb;
    void *batch_ud;
    pw_log_sink log_cb;
    void *log_ud;

    struct pw_engine_stats stats;

    /* Readers acquire snap under snap_lock. The engine writes states
     * into wbox: snap itself while no reader holds it (under snap_lock,
     * writing), else aside in held until the reader is done, or into a
     * copy of its own that the next publish makes snap: one copy of every
     * target's state rather than two (snapshot.c). */
    uv_mutex_t snap_lock;
    struct snapbox *snap, *wbox;
    bool writing;
    struct held {
        uint32_t t;
        struct pw_target_state st;
    } *held;
    uint32_t nheld;
    bool dirty;
    uint64_t last_pub;

    bool closing;
    uint32_t open_handles, pending_dns;
    pw_engine_done_cb close_cb;
    void *close_ud;
};

static inline void eng_list_push(struct pw_engine *e, uint32_t *head, uint32_t *tail, uint32_t t)
{
    e->sl[t].next = NIL;
    if (*tail == NIL)
        *head = t;
    else
        e->sl[*tail].next = t;
    *tail = t;
}

static inline uint32_t eng_list_pop(struct pw_engine *e, uint32_t *head, uint32_t *tail)
{
    uint32_t t = *head;
    *head = e->sl[t].next;
    if (*head == NIL)
        *tail = NIL;
    return t;
}

static inline const struct pw_profile *eng_profile(const struct pw_engine *e, uint32_t t)
{
    return pw_target_profile(e->plan, &e->plan->targets[t]);
}

static inline int64_t eng_interval(const struct pw_engine *e, uint32_t t)
{
    int64_t iv = eng_profile(e, t)->interval_ms;
    return iv > 0 ? iv : e->opt.interval_ms;
}

static inline int64_t eng_timeout(const struct pw_engine *e, uint32_t t)
{
    int64_t to = eng_profile(e, t)->timeout_ms;
    return to > 0 ? to : e->opt.timeout_ms;
}

/* ---- cross-file functions, by the file that defines them ----------------- */

/* engine.c */
void eng_log(struct pw_engine *e, int level, const char *fmt, ...) PW_PRINTF(3, 4);
/* Logs, once per engine, that the fd limit lowered max_in_flight. */
void eng_say_fd_budget(struct pw_engine *e);
/* Frees the engine once closing and nothing of it is still open. */
void eng_maybe_finish(struct pw_engine *e);

/* schedule.c */
/* Target t's probe ended: its sweep has one fewer outstanding. */
void eng_cycle_done(struct pw_engine *e, uint32_t t);
void eng_groups_free(struct pw_engine *e);

/* resolve.c */
void eng_host_init(struct pw_engine *e, uint32_t h);
void eng_dispatch(struct pw_engine *e, uint32_t t);

/* hosts.c */
void eng_maybe_ring(struct pw_engine *e, uint32_t h);
bool eng_next_host(struct pw_engine *e, uint32_t *out);
void eng_ready_push(struct pw_engine *e, uint32_t t);
void eng_ready_unshift(struct pw_engine *e, uint32_t t);

/* connect.c */
void eng_pump(struct pw_engine *e);
void eng_probe_end(struct probe *p);
void eng_probe_timeout(struct probe *p);
void eng_on_probe_closed(uv_handle_t *h);

/* exchange.c */
void eng_exchange_start(struct probe *p);
bool eng_exchange_decide(struct probe *p, bool eof);

/* lanes.c */
int eng_lanes_build(struct pw_engine *e);
void eng_lane_add(struct pw_engine *e, struct probe *p);
void eng_lane_remove(struct probe *p);

/* results.c */
void eng_record_v(struct pw_engine *e, uint32_t t, enum pw_state state, const char *detail,
                  int64_t latency_us, enum pw_verify verify, const char *vinfo);
void eng_record(struct pw_engine *e, uint32_t t, enum pw_state state, const char *detail,
                int64_t latency_us);
void eng_flush(struct pw_engine *e);
void eng_want_flush(struct pw_engine *e);

/* snapshot.c */
/* The engine's first snapshot, every target unknown (e->ts set); 0, or
 * -1 out of memory. */
int eng_snap_init(struct pw_engine *e);
/* Target t's state, to read and change (seeding, a result): until
 * eng_state_end, no reader can acquire what is being written. NULL out of
 * memory (no room for a copy while readers hold the current snapshot). */
struct pw_target_state *eng_state_begin(struct pw_engine *e, uint32_t t);
void eng_state_end(struct pw_engine *e);
void eng_snap_unref(struct snapbox *b);
void eng_maybe_publish(struct pw_engine *e, bool force);

#endif
