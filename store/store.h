/*
 * portwatch's history store: one SQLite database that keeps what the probe
 * engine saw, sized for a year of a 4,000-target farm. The daemon opens it,
 * syncs the plan's targets, and hands every batch of results to
 * pw_store_submit() from the loop thread; a writer thread aggregates and
 * commits them in batched transactions. The web layer reads it through the
 * pw_store_query_* functions (any thread).
 *
 * What is kept (schema v5, see store_schema.c):
 *   targets      host + port identity (survives restarts and reloads), roles,
 *                retired_ms when a plan no longer has it (history stays);
 *   state_runs   one row per run of consecutive results with the same
 *                (state, status, verify); last_ms, count, latency and
 *                verify_info are updated in place (runs written before v3
 *                have verify NULL: not recorded);
 *   outages      one row per status-down period of a target;
 *   bucket_fine  5-minute aggregates, only where something other than "all
 *                results ok and in one state" happened (sparse);
 *   bucket_hour  1-hour aggregates, sparse in the same way;
 *   bucket_day   1-day aggregates for every target that had results (dense);
 *                the counts and latency of quiet periods live here;
 *   runs         coverage: when the daemon was monitoring. A row ends
 *                'clean' (close), 'crash' (found open at the next start; ends
 *                at its last heartbeat) or 'stall' (no result or heartbeat
 *                for gap_ms: an overrun or a frozen loop). Time outside every
 *                run is "not monitored" and is never shown as up or down;
 *   epm_hosts, epm_entries  what the RPC endpoint mappers registered: per
 *                host the time of its latest complete read, per
 *                registration first and last seen (pw_store_epm_put).
 *   daemon       the PID of the daemon holding the database (one at a time:
 *                see store_file.c), for the message refusing a second.
 *   maintenance  one-off maintenance windows from the command line
 *                (store_maint.h).
 *
 * Time: everything stored is taken from the results' at_ms (or the time
 * passed to pw_store_heartbeat), never the wall clock, so a simulation can
 * write a year in minutes. Only health's since_ms uses the wall clock.
 *
 * Outages across a stop or crash: an outage open when the daemon stops stays
 * open. The next result for the target decides: still DOWN continues the
 * same row (never counted twice); UP closes it at the end of the coverage
 * in which it was last seen down (we do not claim to know it was down while
 * nobody watched). A target retired by a later plan has its open outage
 * closed the same way at sync time.
 */
#ifndef PW_STORE_H
#define PW_STORE_H

#include "base/log.h"
#include "probes/epm.h"
#include "probes/probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PW_STORE_SCHEMA_VERSION 7
#define PW_STORE_MSG_MAX 512

/* The finest history bucket: 5 minutes. History steps are whole buckets. */
#define PW_STORE_FINE_MS 300000LL

struct pw_store;

/* The store logs errors, warnings and info lines (base/log.h levels) from
 * the writer thread (and from the caller's thread in pw_store_open /
 * pw_store_sync_targets): the sink must be thread-safe. */

struct pw_store_options {
    uint32_t queue_max;     /* results held in memory (0: 65536, ~9 MB) */
    uint32_t batch_max;     /* results per transaction (0: 16384) */
    int64_t commit_interval_ms; /* coalesce for this long (0: 1000; <0: none) */
    int64_t busy_timeout_ms;    /* SQLite busy timeout (0: 5000) */
    int64_t retry_max_ms;   /* backoff cap while degraded (0: 5000) */
    int64_t gap_ms;         /* no result/heartbeat this long ends a coverage
                               run as 'stall' (0: 180000) */
    int64_t keep_raw_ms;    /* bucket_fine retention (0: keep_detail's default) */
    int64_t keep_hourly_ms; /* bucket_hour and bucket_day (0: keep_hourly's) */
    int64_t keep_events_ms; /* state_runs, outages, runs (0: keep_events') */
    int64_t housekeep_every_ms; /* of result time between housekeeping steps
                                   done by the writer itself (0: 60000; <0:
                                   never, call pw_store_housekeep) */
    uint32_t housekeep_targets; /* targets per housekeeping step (0: 256) */
    int64_t check_ms;       /* PRAGMA quick_check at open may take this long,
                               then the store opens unchecked, saying so
                               (0: 1000) */
    pw_log_sink log;        /* NULL: errors and warnings to stderr */
    void *log_ud;
};

/* Opens (creating or migrating) the database and starts the writer thread.
 * A run row left open by a crash is closed at its last heartbeat. Returns 0
 * and *out, or a negative pw_err with a message in err (which names the
 * path and SQLite's reason). */
int pw_store_open(const char *path, const struct pw_store_options *opt,
                  struct pw_store **out, char err[PW_STORE_MSG_MAX]);
/* Opens the database for the queries below only (pw_store_query_*,
 * pw_store_load_states, pw_store_epm_load), read-only and without the
 * one-daemon lock: for a report or a tool while the daemon runs. Nothing
 * is written, nothing migrated: a schema older than the queries read or
 * newer than this portwatch is refused. Close with pw_store_close. */
int pw_store_open_reader(const char *path, const struct pw_store_options *opt,
                         struct pw_store **out, char err[PW_STORE_MSG_MAX]);
/* Writes everything queued (waiting at most 10 s for a degraded disk), ends
 * the coverage run as 'clean' at its last heartbeat, stops the writer and
 * closes the database. NULL is a no-op. */
void pw_store_close(struct pw_store *st);

/* Maps each plan target (index i) to its stable database id in ids_out[i]
 * (may be NULL): inserts new (host, port) pairs, records roles from the
 * target's profile, un-retires returning ones and marks targets absent from
 * the plan as retired (keeping their history). Until the first successful
 * sync, results are dropped (counted). Call from the loop thread at start
 * and on reload, before results of the new plan are submitted: it first
 * waits for queued results of the old plan to be written (so it blocks on
 * disk; up to 10 s). Returns 0, PW_ESTORAGE (db not writable; results are
 * dropped until a later sync succeeds) or PW_ENOMEM. */
int pw_store_sync_targets(struct pw_store *st, const struct pw_plan *plan,
                          uint32_t *ids_out);

/* Copies n results into the bounded queue and returns at once; never
 * touches the disk. Results beyond the bound are dropped and counted (and
 * logged by the writer). Returns the number accepted. Loop thread only
 * (any single thread). at_ms must not go backwards per target. */
size_t pw_store_submit(struct pw_store *st, const struct pw_result *r, size_t n);

/* How a coverage run ended, which is the cause of the gap after it. */
enum pw_store_run_end {
    PW_RUN_OPEN = 0,       /* still running */
    PW_RUN_CLEAN = 1,      /* the daemon stopped */
    PW_RUN_CRASH = 2,      /* the daemon ended without stopping (crash, kill -9, power) */
    PW_RUN_STALL = 3,      /* nothing heard for gap_ms, cause not known */
    PW_RUN_PAUSED = 4,     /* the daemon did not run: SIGSTOP, a VM snapshot, starved of CPU */
    PW_RUN_SUSPENDED = 5,  /* the machine slept (or its clock jumped forward) */
    PW_RUN_OVERLOADED = 6, /* the daemon ran, but its loop was busy and late */
    PW_RUN_STORAGE = 7,    /* results were dropped: the database could not be written */
    PW_RUN_END_COUNT_
};
/* "stopped", "crashed", "stalled", "paused", "suspended", "overloaded",
 * "storage", or "open"; "unknown" out of range. */
const char *pw_store_run_end_name(enum pw_store_run_end end);
/* What the gap after a run ending so means, for a person: "portwatch was
 * paused (SIGSTOP, a VM snapshot) or starved of CPU". */
const char *pw_store_run_end_text(enum pw_store_run_end end);

/* Says "the monitor is alive at now_ms" even without results (0: the wall
 * clock). Results imply it already (alive-at = their at_ms). */
void pw_store_heartbeat(struct pw_store *st, int64_t now_ms);

/* Says why nothing was heard from from_ms to to_ms (the daemon measured a
 * pause, a suspend or an overload): the coverage run the store ends for
 * that gap, or has ended, gets `cause` (a PW_RUN_* gap cause) instead of
 * PW_RUN_STALL. The latest call wins; one a minute past its gap is
 * dropped. */
void pw_store_gap(struct pw_store *st, int64_t from_ms, int64_t to_ms,
                  enum pw_store_run_end cause);

/* Waits until everything submitted before the call is committed. Returns 0,
 * or PW_EBUSY after timeout_ms (<0: forever) — e.g. while degraded. */
int pw_store_flush(struct pw_store *st, int64_t timeout_ms);

/* One housekeeping step: deletes rows past retention for the next
 * opt.housekeep_targets targets, in its own short transaction, on the
 * writer thread. Asynchronous: returns at once. */
void pw_store_housekeep(struct pw_store *st);

enum pw_store_state { PW_STORE_OK = 0, PW_STORE_DEGRADED = 1 };

struct pw_store_health {
    enum pw_store_state state;
    int64_t since_ms;               /* wall clock, when the state began */
    char message[PW_STORE_MSG_MAX]; /* "" when ok */
};
void pw_store_health(struct pw_store *st, struct pw_store_health *out);

struct pw_store_stats {
    uint64_t submitted;      /* results offered to pw_store_submit */
    uint64_t written;        /* results in committed transactions */
    uint64_t dropped;        /* queue full, or no synced plan */
    uint32_t queued;         /* waiting now */
    uint32_t queue_max;
    uint64_t commits;
    uint64_t failed_commits;
    int64_t commit_last_us, commit_max_us, commit_avg_us;
    uint64_t housekeep_deleted; /* rows removed by retention */
    struct pw_store_health health;
    uint64_t epm_written;    /* endpoint-mapper reads committed */
    uint64_t epm_dropped;    /* reads refused: their queue was full */
};
void pw_store_stats(struct pw_store *st, struct pw_store_stats *out);

/* ---- copies of the database (store_copy.c) ----------------------------- */

/* Receives each line a copy reports (for `portwatch db`). */
typedef void (*pw_store_say_cb)(void *ud, const char *line);

/* Copies the database at `from` into the new file `to` (refused when it
 * exists) with SQLite's online backup API: one consistent moment, safe
 * while a daemon writes `from`, which is only read. The copy must pass
 * integrity_check or it is removed. Returns 0, PW_EINVAL (`from` missing,
 * `to` exists) or PW_ESTORAGE, with err naming the file and what to do. */
int pw_store_backup(const char *from, const char *to, pw_store_say_cb cb, void *ud,
                    char err[PW_STORE_MSG_MAX]);

/* Copies every row of `from` that still reads into the new file `to`
 * built with the current schema: each table in key order up to its first
 * unreadable page and back from its end; rows pointing at lost rows are
 * dropped. Says one line per table; *damaged_tables counts the tables
 * with unreadable pages. Returns as pw_store_backup (`to` is removed on
 * error). */
int pw_store_recover(const char *from, const char *to, pw_store_say_cb cb, void *ud,
                     uint64_t *damaged_tables, char err[PW_STORE_MSG_MAX]);

/* ---- RPC endpoint mapper registrations (issue 9) ------------------------ */

struct pw_store_epm_host {
    char *host;                     /* as the plan names it */
    int64_t looked_up_ms;           /* time of its latest complete read */
    struct pw_epm_registration *v;  /* the registrations of that read */
    size_t n;
};

/* Most registrations waiting to be written (about 256 bytes each); one
 * read larger than this is still taken when nothing else waits. */
#define PW_STORE_EPM_QUEUE_MAX 16384

/* Queues (writer thread, like pw_store_submit) one complete read of
 * host's endpoint mapper taken at now_ms: each (object, interface, version,
 * protocol sequence, address, endpoint) present gets last_seen_ms = now_ms
 * and keeps its first_seen_ms (now_ms when new); registrations absent from
 * the read stay in the table with their old last_seen_ms, for history.
 * Times never go backwards: a read older than the host's latest changes
 * neither looked_up_ms nor a later last_seen_ms. Host names compare
 * ignoring case. Returns 0, or a negative error: PW_EINVAL (host NULL or
 * "", or v NULL with n > 0), PW_ENOMEM, or PW_EBUSY when the queue holds
 * PW_STORE_EPM_QUEUE_MAX registrations already (the read is dropped,
 * counted in stats.epm_dropped and logged by the writer, as
 * pw_store_submit does with results). v may be NULL when n == 0 (nothing
 * registered). Any single thread. pw_store_flush waits for these too. */
int pw_store_epm_put(struct pw_store *st, const char *host,
                     const struct pw_epm_entry *v, size_t n, int64_t now_ms);
/* Reads synchronously, for the daemon's start: every host with a stored
 * read and, per host, the registrations seen in its latest read. Returns 0
 * (*out NULL and *n 0 when none), or a negative error. Hosts are sorted by
 * name (ignoring case), registrations in the order first stored. */
int pw_store_epm_load(struct pw_store *st, struct pw_store_epm_host **out, size_t *n);
void pw_store_epm_free(struct pw_store_epm_host *h, size_t n);

/* ---- Queries (any thread; one read connection, serialized) ------------ */

struct pw_store_target {
    uint32_t id;
    char host[256];
    uint16_t port;
    char roles[256];          /* role keys / check names, comma-separated */
    int64_t retired_ms;       /* 0 while in the plan */
    struct pw_target_state st;/* has_result false when never probed */
};

/* Whether the database ever had a target on host (ignoring case) and one
 * with role (NULL: true), retired ones included: the web layer's check of
 * a history query's scope, two index lookups. 0 or PW_ESTORAGE. */
int pw_store_known(struct pw_store *st, const char *host, const char *role, bool *host_ok,
                   bool *role_ok);

/* Every target (retired ones when include_retired) with its current state:
 * status and since when, last state, latency, consecutive fails. Sorted by
 * id. Free with free(). */
int pw_store_query_status(struct pw_store *st, bool include_retired,
                          struct pw_store_target **out, size_t *n);

/* Fills states[i] for each target of the synced plan (for
 * pw_engine_seed_state at start-up); has_result false where nothing is
 * known. states has plan->ntargets entries. With skip, targets whose
 * skip[i] is set are left as they are (a reload knows them already: a
 * lookup each is 7 ms per 1,000 targets). */
int pw_store_load_states(struct pw_store *st, const struct pw_plan *plan,
                         struct pw_target_state *states, const bool *skip);

struct pw_store_point {
    int64_t t_ms;                    /* step start */
    uint32_t n[PW_STATE_COUNT_];     /* results by state */
    uint32_t n_fail;                 /* results that failed the expectation */
    int64_t lat_min_us, lat_avg_us, lat_max_us; /* -1: no connect */
    int64_t monitored_ms;            /* covered by a run */
    int64_t down_ms;                 /* status down, within monitored */
};

struct pw_store_history {
    int64_t since_ms;                /* the target's first result ever (0: none
                                        yet): earlier time is neither monitored
                                        nor not monitored for it */
    int tier_ms;                     /* bucket size used: PW_STORE_FINE_MS, an hour or a day */
    int64_t step_ms;
    size_t n;
    struct pw_store_point *points;   /* [n], points[i].t_ms = from + i*step */
};

/* One target's history over [from, to) in steps of step_ms (rounded up to
 * a multiple of the tier used). The tier is the coarsest whose buckets
 * divide the step and whose retention still covers `from`. Counts of quiet
 * buckets (not stored) are estimated from the state run covering them and
 * the coverage; latency of quiet periods comes from the day tier. At most
 * 100000 points (PW_ERANGE beyond). Free with pw_store_history_free. */
int pw_store_query_history(struct pw_store *st, uint32_t target_id,
                           int64_t from_ms, int64_t to_ms, int64_t step_ms,
                           struct pw_store_history *out);
void pw_store_history_free(struct pw_store_history *h);

/* One stored state run: consecutive results of a target with the same
 * (state, status, verify). */
struct pw_store_state_run {
    int64_t id;
    enum pw_state state;
    enum pw_status status;
    bool ok;
    int64_t first_ms, last_ms;       /* first and latest result */
    uint32_t count;                  /* results in the run */
    int64_t latency_us;              /* of the latest result; -1: none */
    char detail[PW_DETAIL_MAX];      /* of the first result */
    bool has_verify;                 /* false: written before schema v3 */
    enum pw_verify verify;           /* NONE when no connect */
    char verify_info[PW_VERIFY_INFO_MAX]; /* of the latest result */
};

/* Target target_id's state runs overlapping [from, to), oldest first. When
 * more than limit (0: no limit) overlap, the newest limit ones and
 * *truncated true. PW_ENOT_FOUND for an unknown target. Free with free(). */
int pw_store_query_state_runs(struct pw_store *st, uint32_t target_id, int64_t from_ms,
                              int64_t to_ms, size_t limit, struct pw_store_state_run **out,
                              size_t *n, bool *truncated);

struct pw_store_outage {
    int64_t id;
    uint32_t target_id;
    const char *host;         /* owned by the list */
    uint16_t port;
    int64_t start_ms;
    int64_t end_ms;           /* -1 while open */
    int64_t last_ms;          /* last failing result seen */
    enum pw_state state;      /* the failing state that opened it */
    uint32_t fails;           /* failed probes during it */
    char detail[PW_DETAIL_MAX];
    bool planned;             /* it began inside a maintenance window over
                                 its target (store_maint.h) */
};

struct pw_store_outage_list {
    struct pw_store_outage *v;
    size_t n;
    char **names_;            /* host strings, by target */
    size_t nnames_;
};

struct pw_store_outage_filter {
    int64_t from_ms, to_ms;   /* overlapping [from, to); 0,0: any time */
    const char *host;         /* NULL: any (case-insensitive) */
    const char *role;         /* NULL: any */
    uint32_t target_id;       /* 0: any */
    bool open_only;
    size_t limit;             /* 0: no limit */
};

/* Outages matching the filter (NULL: all), newest start first. A year of a
 * 4,100-target farm (~35,000 rows) takes about 30 ms. Free with
 * pw_store_outage_list_free (also after an error). */
int pw_store_query_outages(struct pw_store *st, const struct pw_store_outage_filter *f,
                           struct pw_store_outage_list *out);
void pw_store_outage_list_free(struct pw_store_outage_list *l);

enum pw_store_group { PW_GROUP_TARGET, PW_GROUP_HOST, PW_GROUP_ROLE, PW_GROUP_FARM };

struct pw_store_uptime {
    char key[256];            /* "host:port", host, role, or "farm" */
    uint32_t target_id;       /* PW_GROUP_TARGET only */
    uint32_t ntargets;
    int64_t monitored_ms;     /* time some member was in the plan and
                                 portwatch was watching */
    int64_t down_ms;          /* of it, time at least one member was down:
                                 the group was not available */
    int64_t not_monitored_ms; /* time some member was in the plan and
                                 portwatch was not watching */
    int64_t planned_ms;       /* monitored time inside maintenance windows
                                 over a member: left out of monitored_ms,
                                 and down time in it out of down_ms */
    double uptime_pct;        /* availability: 100 * (monitored - down) /
                                 monitored; -1 when nothing was monitored
                                 (outside planned time) */
};

/* Availability over [from, to) per target, host, role or the whole farm,
 * for targets that were in the plan at some point of the range. A group
 * is available at an instant when every member in the plan then is not
 * down, so one dead SQL Server port makes its host unavailable however
 * many RPC ports pass (no average over ports). Times are wall time, not
 * summed over members; time before a member joined the plan is neither
 * monitored nor not monitored; not-monitored time is excluded from the
 * percentage and reported apart. Free with free(). */
int pw_store_query_uptime(struct pw_store *st, int64_t from_ms, int64_t to_ms,
                          enum pw_store_group group,
                          struct pw_store_uptime **out, size_t *n);

/* Coverage runs overlapping [from, to), for the "not monitored" shading. */
struct pw_store_run {
    int64_t id, started_ms, last_alive_ms, ended_ms; /* ended -1 while open */
    enum pw_store_run_end end;
};
int pw_store_query_runs(struct pw_store *st, int64_t from_ms, int64_t to_ms,
                        struct pw_store_run **out, size_t *n);

/* A stretch portwatch did not monitor: from the end of one coverage run
 * (its last sign of life) to the start of the next, or to to_ms while
 * none has started (the daemon is not running). */
struct pw_store_gap {
    int64_t from_ms, to_ms;
    bool ongoing;              /* no run since: still not monitoring */
    enum pw_store_run_end cause; /* how the run before it ended */
};
/* The gaps overlapping [from, to), oldest first, clipped to it. Time
 * before the first run is not a gap (nothing was watched yet). Free with
 * free(). */
int pw_store_query_gaps(struct pw_store *st, int64_t from_ms, int64_t to_ms,
                        struct pw_store_gap **out, size_t *n);

#endif
