/*
 * Internals of the store's write side, shared by store.c (lifecycle and the
 * queue API), store_fold.c (folding results and the batch write),
 * store_writer.c (the writer thread), store_epm.c (endpoint-mapper reads)
 * and store_sync.c (target sync). Not for other modules; the read side uses
 * store_int.h only.
 */
#ifndef PW_STORE_WRITER_INT_H
#define PW_STORE_WRITER_INT_H

#include "base/clock.h"
#include "store/store_int.h"

#include "base/error.h"

#include <uv.h>


/* A bucket being filled: what of it is not in the database yet (counts
 * and latency sum; writes add them, so a bucket continued after a restart
 * merges with what the previous process wrote), and what holds for the
 * whole bucket. Kept small: three of these per target. */
struct acc {
    int64_t b; /* bucket number; -1: none */
    int64_t lat_min, lat_max; /* of the whole bucket, when has_lat */
    int64_t lat_sum;          /* not written yet */
    uint32_t n[PW_STATE_COUNT_], nfail, lat_n; /* not written yet */
    int8_t first_state;
    bool quiet;   /* every result ok and in first_state */
    bool in_db;   /* this process wrote the row already */
    bool maybe_db; /* the first bucket after a (re)start: a previous
                      process may have written its row */
    bool has_lat; /* some result of the bucket had a latency */
};

/* The writer's view of one plan target (one per target: kept small, the
 * wide fields first). */
struct slot {
    /* current state run */
    int64_t run_id; /* 0: none */
    int64_t run_last, since_ms, latency_us;
    /* latest per-target gap row (lateness) */
    int64_t gap_id, gap_to_ms;
    /* open outage */
    int64_t out_id;
    int64_t out_last_ms;
    struct acc acc[NTIERS];
    uint32_t id;
    uint32_t count, fails_before;
    uint32_t out_fails;
    int8_t state, status;
    int8_t verify;  /* enum pw_verify; -1: a run from before schema v3 */
    bool ok;
    bool seen;      /* targets.first_ms known */
    bool touched;   /* saved in the undo log this batch */
    bool run_dirty;
    bool out_dirty;
    char verify_info[PW_VERIFY_INFO_MAX]; /* latest, written with the run */
};

struct undo {
    uint32_t idx;
    struct slot s;
};

/* Coverage: the open runs row and what is known about earlier ones. */
struct cover {
    int64_t id;          /* 0: no row yet this segment */
    int64_t start_ms, alive_ms;
    int64_t prev_end_ms; /* end of the segment before the current one */
    int64_t prev_id;     /* its runs row; 0: none this process */
    bool dirty;
};

/* The daemon's word on why a gap happened (pw_store_gap). */
struct gap_note {
    int64_t from_ms, to_ms; /* to_ms 0: none */
    enum pw_store_run_end cause;
};

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_INS_RUN, S_UPD_RUN, S_TGT_CUR, S_TGT_FIRST,
    S_INS_OUT, S_UPD_OUT, S_INS_COV, S_UPD_COV, S_END_COV, S_GAP_CAUSE, S_INS_TGAP, S_UPD_TGAP,
    S_BUCKET0, S_BUCKET1, S_BUCKET2, S_BUCKET_ADD0, S_BUCKET_ADD1, S_BUCKET_ADD2,
    S_EPM_HOST, S_EPM_HOST_ID, S_EPM_ENTRY, NSTMT
};

/* One complete endpoint-mapper read waiting for the writer; host and the
 * entries live in the same allocation. */
struct epm_read {
    struct epm_read *next;
    const char *host;
    int64_t at_ms;
    size_t n;
    struct pw_epm_entry v[];
};

struct pw_store {
    struct pw_store_options opt;
    char *path;
    bool removed;    /* the file was deleted under us (writer thread only) */
    sqlite3 *db;     /* writer connection; guarded by db_lock */
    sqlite3 *rdb;    /* read connection; guarded by read_lock */
    sqlite3 *owner;  /* holds the one-daemon lock (store_file.c) */
    sqlite3_stmt *stmt[NSTMT];
    uv_mutex_t db_lock, read_lock;

    /* queue and shared counters; guarded by lock */
    uv_mutex_t lock;
    uv_cond_t wake;   /* writer: work or stop */
    uv_cond_t done;   /* flushers: progress */
    struct pw_result *q;
    uint32_t qhead, qcount;
    uint64_t submitted, written, dropped, dropped_logged, popped;
    uint64_t commits, failed_commits;
    int64_t commit_last_us, commit_max_us, commit_avg_us;
    uint64_t hk_deleted;
    /* endpoint-mapper reads, FIFO: appended at tail, popped by the writer
     * after the transaction that wrote them commits */
    struct epm_read *epm_head, *epm_tail;
    uint32_t epm_nreads;
    size_t epm_nentries;
    uint64_t epm_popped, epm_written, epm_dropped, epm_dropped_logged;
    int64_t hb_ms;       /* latest heartbeat asked for */
    /* Results dropped because the queue was full leave a hole in the
     * history: hole_ms is the time of the first one dropped (0: none), and
     * no heartbeat may carry coverage past it, so the hole is not
     * monitored time. Cleared once results after it are written. */
    int64_t hole_ms;
    struct gap_note gap;   /* pw_store_gap's latest, until the writer takes it */
    bool hk_requested, flush_waiting, stopping;
    struct pw_store_health health;
    uv_thread_t thread;
    bool thread_started;

    /* writer-side state (writer thread, or a caller holding db_lock) */
    struct slot *slots;
    uint32_t nslots;
    struct undo *undo;
    uint32_t nundo;
    struct cover cov;
    int64_t w_hole_ms;     /* hole_ms as this batch was taken */
    struct gap_note w_gap; /* a cause waiting for its gap's run to end */
    int64_t last_hk_ms;
    int64_t hk_cursor;   /* last target id housekept */
    int64_t hk_epm_cursor; /* last epm_hosts id housekept */
    int sync_gen;
    int64_t wal_pages;   /* wal_autocheckpoint as set for the plan's size */
    char errbuf[PW_STORE_MSG_MAX]; /* "cannot write PATH: why: what to do" */
};

/* ---- store.c ---- */
/* Logs through the caller's sink (stderr by default). */
#if defined(__GNUC__)
PW_PRINTF(3, 4)
#endif
void sw_log(struct pw_store *st, int level, const char *fmt, ...);
/* Sets health (under st->lock) and logs a change of state. */
void sw_set_health(struct pw_store *st, enum pw_store_state state, const char *msg);

/* ---- store_fold.c ---- */
/* sqlite3_step then reset; returns SQLITE_OK or the step's error. */
int sw_step_done(sqlite3_stmt *s);
void sw_acc_reset(struct acc *a, int64_t b);
/* When sl's open outage ends if the target is next seen at `at`. */
int64_t sw_outage_end(const struct pw_store *st, const struct slot *sl, int64_t at);
/* Closes the coverage row with reason how. */
int sw_cov_end(struct pw_store *st, enum pw_store_run_end how);
/* One transaction over r[0..n), the first nepm endpoint-mapper reads from
 * epm, plus an optional heartbeat. 0 or an SQLite error code; on error
 * every in-memory change is undone. */
int sw_write_batch(struct pw_store *st, const struct pw_result *r, size_t n, int64_t hb,
                   uint64_t *unknown, const struct epm_read *epm, uint32_t nepm);

/* ---- store_epm.c ---- */
/* Writes one complete endpoint-mapper read (inside the transaction). */
int sw_epm_write(struct pw_store *st, const struct epm_read *rd);
/* Retention of endpoint-mapper registrations (inside the transaction). */
int sw_epm_housekeep(struct pw_store *st, int64_t cut, int64_t *cursor, uint64_t *deleted);

/* ---- store_writer.c ---- */
/* The writer thread's body; arg is the struct pw_store. */
void sw_writer_main(void *arg);

#endif
