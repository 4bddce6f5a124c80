/*
 * The probe engine: a libuv loop that probes every target of a plan on
 * schedule and says why a port fails. Results leave the engine in two
 * ways only, so the store and the web layer never reach into its
 * internals:
 *   - a batch callback on the loop thread, once per loop tick that produced
 *     results (the store's writer queues them);
 *   - an immutable, reference-counted snapshot of every target's current
 *     state, which any thread may acquire and read (the web layer).
 */
#ifndef PW_PROBE_H
#define PW_PROBE_H

#include "base/log.h"
#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Why a probe ended as it did. Order is stable: stored as integers. */
enum pw_state {
    PW_STATE_OPEN = 0,        /* connected */
    PW_STATE_CLOSED = 1,      /* refused: the path is open, nothing listens */
    PW_STATE_FILTERED = 2,    /* no answer within the timeout: dropped */
    PW_STATE_UNREACHABLE = 3, /* host/network unreachable, admin prohibited */
    PW_STATE_DNS_ERROR = 4,   /* the host name did not resolve */
    PW_STATE_ERROR = 5,       /* anything else; detail names the error */
    PW_STATE_COUNT_
};
const char *pw_state_name(enum pw_state s);

/* Whether a state meets an expectation: listening needs open; reachable
 * takes open or closed. */
bool pw_state_passes(enum pw_state s, enum pw_expect e);

/* Flap-controlled status of a target. Stable integers. */
enum pw_status {
    PW_STATUS_UNKNOWN = 0, /* no result yet */
    PW_STATUS_UP = 1,
    PW_STATUS_DOWN = 2,
};
const char *pw_status_name(enum pw_status s);

#define PW_DETAIL_MAX 96

/* The exchange that proves which service answers after a connect (issue
 * 9): enum pw_proto and its names are config/protocol.h's; verify.c's
 * protocol table has the rest of each row (catalog port, request,
 * parser). Catalog rows get one by their port; operators' checks get
 * none unless their profile or the engine says otherwise
 * (pw_engine_set_protocol). */

/* Outcome of that exchange. Stable integers (stored). */
enum pw_verify {
    PW_VERIFY_NONE = 0,     /* not attempted: the connect did not succeed */
    PW_VERIFY_OFF = 1,      /* the target has no exchange (or it is off) */
    PW_VERIFY_VERIFIED = 2, /* the expected service answered */
    PW_VERIFY_MISMATCH = 3, /* something else answered: fails `listening` */
    PW_VERIFY_NO_REPLY = 4, /* connected, but no byte came back in time */
    PW_VERIFY_COUNT_
};
/* "" for NONE; "off", "verified", "mismatch", "no_reply". */
const char *pw_verify_name(enum pw_verify v);

#define PW_VERIFY_INFO_MAX 64

struct pw_result {
    uint32_t target;        /* index into the plan */
    enum pw_state state;
    bool ok;                /* state passes the target's expectation */
    enum pw_status status;  /* status after this result; the first result
                               sets up/down directly, later ones obey
                               fail_after / recover_after */
    bool status_changed;    /* this result moved the status */
    int64_t latency_us;     /* connect time; -1 when it never connected */
    int64_t at_ms;          /* wall clock, UTC, ms since the epoch */
    char detail[PW_DETAIL_MAX]; /* error name or resolver message; "" if none */
    enum pw_verify verify;  /* the protocol exchange after a connect */
    char verify_info[PW_VERIFY_INFO_MAX]; /* version, dialect, Server
                                             header, or what mismatched */
    int64_t late_since_ms;  /* wall clock of the first time this target was
                               due and not probed (its previous probe still
                               out, or the loop whole sweeps behind) before
                               the probe of this result began; 0: on time.
                               Until at_ms the target was not monitored. */
};

/* One target's current state inside a snapshot. */
struct pw_target_state {
    enum pw_status status;
    enum pw_state state;     /* of the last result */
    bool ok;
    bool has_result;
    int64_t latency_us;
    int64_t last_ms;         /* wall clock of the last result, 0 if none */
    int64_t since_ms;        /* wall clock when `status` began */
    uint32_t fails;          /* consecutive failing results */
    char detail[PW_DETAIL_MAX];
    enum pw_verify verify;   /* of the last result */
    char verify_info[PW_VERIFY_INFO_MAX];
};

/* Engine-wide counters, monotonic over the engine's life. */
struct pw_engine_stats {
    uint64_t probes[PW_STATE_COUNT_]; /* results by state */
    uint64_t sweeps;          /* completed sweeps */
    uint64_t overruns;        /* sweeps that did not finish within their interval */
    int64_t last_sweep_ms;    /* wall clock when the last sweep ended */
    int64_t last_sweep_duration_ms;
    uint32_t in_flight;
    uint32_t waiting_for_slot; /* probes due but held back by a cap */
    /* Added by the engine (issue 4): */
    uint64_t skipped;          /* runs skipped: that target's previous probe
                                  was still outstanding when due again */
    uint64_t fd_waits;         /* probes put back in the queue because the
                                  process was out of file descriptors */
    uint64_t dns_lookups;      /* resolver calls made (literals need none) */
    uint32_t in_flight_peak;   /* high-water mark of in_flight */
    uint32_t host_in_flight_peak; /* high-water mark of one host's in-flight */
    uint64_t outages;          /* status changes to down */
};

/* Immutable once published; hold it with acquire/release from any thread. */
struct pw_snapshot {
    const struct pw_plan *plan;       /* borrowed: outlives every snapshot */
    size_t ntargets;
    struct pw_target_state *targets;  /* [ntargets], indexed like plan->targets */
    struct pw_engine_stats stats;
    int64_t taken_ms;                 /* wall clock; strictly increasing per engine */
};

struct pw_engine;

/* A way to start TCP connects cheaper than libuv's, supplied by the OS
 * layer where it has one (daemon/os.h: pw_os_dialer; on Linux the epoll
 * dialer of probes/dial_linux.c, pw_dialer_linux). libuv spends six
 * system calls on a refused connect (socket, connect, two epoll_ctl,
 * getsockopt, close); a dialer owning its own readiness set can drop the
 * registration changes and, for a connect that succeeds, the error query.
 * The engine uses it for every probe when given one; a connected socket
 * that needs a protocol exchange is detached and handed to libuv
 * (uv_tcp_open). Every call is made on the loop thread.
 *
 * A dial is identified by the struct pw_dial the caller provides, which
 * must stay put until the dial ends (callback, hangup or detach). */
struct pw_dialer;
struct pw_dial;
typedef void (*pw_dial_cb)(struct pw_dial *d, int status);
struct pw_dial {
    pw_dial_cb cb;          /* set by the caller before dial */
    void *data;             /* the caller's */
    uv_os_sock_t sock;      /* set by dial */
    uint32_t gen;           /* the dialer's */
    bool connected;         /* the dialer's */
    int family;             /* the dialer's */
};
struct pw_dialer_ops {
    /* A dialer on `loop`, or NULL (out of memory, or the OS refused: the
     * engine then uses libuv). Holds one handle on the loop until close,
     * unreferenced: an idle dialer does not keep uv_run going, so while
     * dials are in flight the caller keeps an active handle of its own
     * (the engine's timeout timer). */
    struct pw_dialer *(*open)(uv_loop_t *loop);
    /* Starts a non-blocking connect of a new socket to `to`. Returns 0,
     * after which d->cb(d, status) follows exactly once (0: connected; else
     * a negative UV_E* error, the socket already closed) unless the dial is
     * ended first; or a negative UV_E* error (UV_EMFILE included) with
     * nothing started and no callback. */
    int (*dial)(struct pw_dialer *dr, struct pw_dial *d, const struct sockaddr *to);
    /* Ends a dial: closes its socket (or keeps an unconnected one for a
     * later dial); no callback follows. */
    void (*hangup)(struct pw_dialer *dr, struct pw_dial *d);
    /* Ends a dial but leaves its (connected) socket open, now the
     * caller's; closing it later is the caller's business. */
    void (*detach)(struct pw_dialer *dr, struct pw_dial *d);
    /* Closes the dialer: every dial must have ended. done(ud) is called
     * from the loop once its handle is closed, and the dialer freed. */
    void (*close)(struct pw_dialer *dr, void (*done)(void *ud), void *ud);
};

/* The epoll dialer (dial_linux.c), built on Linux only; daemon/os_posix.c
 * hands it to the engine as pw_os_dialer(). */
const struct pw_dialer_ops *pw_dialer_linux(void);

/* Descriptors the engine leaves to the rest of the process when it knows
 * the open-file limit (pw_engine_options.fd_limit): about 22 held at rest
 * (stdio, the loop and its thread pool, signal pipes, the dialer, the HTTP
 * listener and its workers, SQLite's database, WAL and shared-memory files
 * for the writer and the reader), a few for name lookups on libuv's four
 * resolver threads and the endpoint-mapper read, SQLite's temporary files
 * and the log file, and the rest for HTTP clients at once. */
#define PW_ENGINE_FD_RESERVE 48

/* A number left 0 takes the configuration's default for its key
 * (interval, timeout, max_in_flight, ...: config/config.c's key table);
 * daemon/options.h builds these from a configuration. */
struct pw_engine_options {
    int64_t interval_ms;        /* default for targets without their own */
    int64_t timeout_ms;
    uint32_t max_in_flight;     /* global cap */
    uint32_t max_per_host;      /* per-host cap */
    uint32_t fail_after;
    uint32_t recover_after;
    enum pw_family family;
    bool spread;                /* spread starts over the interval (run);
                                   false: as fast as caps allow (check) */
    bool no_verify;             /* no protocol exchange for any target
                                   (`[biztalk] verify = no`) */
    const struct pw_dialer_ops *dialer; /* NULL: libuv's uv_tcp_connect */
    uint32_t fd_limit;          /* the process's open-file limit (daemon/os.h:
                                   pw_os_raise_fd_limit): probes then hold at
                                   most fd_limit - PW_ENGINE_FD_RESERVE
                                   sockets (at least 1), lowering
                                   max_in_flight, and the engine says so once
                                   when it starts. 0: unknown, no such cap */
};

/* Called on the loop thread with the results produced during one tick. The
 * array is valid only during the call. */
typedef void (*pw_engine_batch_cb)(void *ud, const struct pw_result *r, size_t n);
/* Called once when a one-shot sweep (pw_engine_sweep_once) has a result for
 * every target, or when pw_engine_close() completes. */
typedef void (*pw_engine_done_cb)(struct pw_engine *e, void *ud);

/* A TCP connect to a port on this machine that nothing listens on can
 * meet itself: when the kernel picks the port being dialled as the source
 * port, the two ends open simultaneously and the socket connects to itself
 * (127.0.0.1:50100 -> 127.0.0.1:50100). That is a refusal, not an open
 * port; both connect paths ask this with the socket's two addresses. */
bool pw_self_connected(const struct sockaddr *local, const struct sockaddr *peer);

/* The plan must outlive the engine. Returns NULL on allocation failure. */
struct pw_engine *pw_engine_new(uv_loop_t *loop, const struct pw_plan *plan,
                                const struct pw_engine_options *opt);
void pw_engine_set_batch_cb(struct pw_engine *e, pw_engine_batch_cb cb, void *ud);
/* Start periodic probing. Returns 0 or a negative error (PW_EBUSY if
 * already running or sweeping); on error nothing was started. */
int pw_engine_start(struct pw_engine *e);
/* Before pw_engine_start: go on with prev's schedule rather than start
 * every sweep anew. Each interval group prev also had keeps its cycle
 * start and how far through the cycle it was, so a reload (or a storm of
 * them) neither restarts sweeps nor leaves the end of a sweep unprobed;
 * a target the reload added waits for its turn, at most one interval.
 * prev may be closing. Returns 0 or PW_ENOMEM (then: a fresh start). */
int pw_engine_follow(struct pw_engine *e, const struct pw_engine *prev);
/* Probe every target once, as fast as the caps allow, then call done
 * (never synchronously). The snapshot is current when done runs, and the
 * batch callback has seen every result. May be called again after done;
 * PW_EBUSY while running or sweeping. */
int pw_engine_sweep_once(struct pw_engine *e, pw_engine_done_cb done, void *ud);
/* Stop scheduling, cancel in-flight probes, close every handle; done is
 * called from the last close callback, after which the engine is freed. */
void pw_engine_close(struct pw_engine *e, pw_engine_done_cb done, void *ud);

/* Current-state snapshot; thread-safe. Never NULL after pw_engine_new. */
struct pw_snapshot *pw_engine_snapshot_acquire(struct pw_engine *e);
void pw_snapshot_release(struct pw_snapshot *s);

/* Log lines the engine writes: an overrun sweep, a schedule that fell
 * behind, running out of file descriptors, at the levels of base/log.h.
 * Without a callback, error and warn lines go to stderr. */
void pw_engine_set_log(struct pw_engine *e, pw_log_sink cb, void *ud);

/* Continues the counters of a replaced engine (a reload): its probes,
 * sweeps, overruns, skips, descriptor waits, lookups and outages become
 * this engine's starting counts, so the metrics' counters never step back.
 * Call before start. */
void pw_engine_seed_stats(struct pw_engine *e, const struct pw_engine_stats *st);

/* Sets target t's exchange, overriding the default by port (catalog rows)
 * or none (checks). Call before start or sweep_once. PW_EINVAL for an
 * unknown target or protocol. */
int pw_engine_set_protocol(struct pw_engine *e, uint32_t target, enum pw_proto proto);
/* The exchange a plan target gets by default: catalog rows by port, none
 * for operators' checks (a target served by both follows its catalog
 * rows). */
enum pw_proto pw_proto_default(const struct pw_plan *p, uint32_t target);

/* Seed the current state (e.g. from the store at start-up) before start. */
void pw_engine_seed_state(struct pw_engine *e, uint32_t target,
                          const struct pw_target_state *st);

#endif
