/*
 * The write side of the history store: the bounded queue the loop thread
 * fills through pw_store_submit(), and the writer thread that folds results
 * into state runs, outages, buckets and coverage and commits them in
 * batched transactions. The daemon owns one store; the web layer only
 * reads (store_query.c).
 *
 * Results stay in the queue until the transaction that wrote them commits,
 * so a failed commit (disk full, locked, read-only) loses nothing: the
 * writer rolls back, restores the per-target state it changed (an undo log
 * of touched slots) and retries with backoff while health says degraded.
 * Only the queue bound drops results, counted and logged.
 *
 * Complete reads of RPC endpoint mappers (pw_store_epm_put, from the
 * daemon's endpoint watch) wait in a second, smaller FIFO and are written
 * in the same transactions, with the same keep-until-committed rule.
 */
#include "store/store_int.h"

#include "config/config.h"
#include "config/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { TIER_FINE, TIER_HOUR, TIER_DAY, NTIERS };
static const int64_t tier_ms[NTIERS] = {FINE_MS, HOUR_MS, DAY_MS};
static const char *const tier_table[NTIERS] = {"bucket_fine", "bucket_hour", "bucket_day"};
/* Sparse tiers store a bucket only when it is not quiet. */
static const bool tier_sparse[NTIERS] = {true, true, false};

/* A bucket being filled, and how much of it is already in the database
 * (w_*): writes add the difference, so a bucket continued after a restart
 * merges with what the previous process wrote. */
struct acc {
    int64_t b; /* bucket number; -1: none */
    uint32_t n[PW_STATE_COUNT_], nfail, lat_n;
    int64_t lat_min, lat_max, lat_sum;
    int first_state;
    bool quiet; /* every result ok and in first_state */
    uint32_t w_n[PW_STATE_COUNT_], w_nfail, w_lat_n;
    int64_t w_lat_sum;
    bool written_all; /* nothing new since the last write */
};

/* The writer's view of one plan target. */
struct slot {
    uint32_t id;
    bool seen;      /* targets.first_ms known */
    bool touched;   /* saved in the undo log this batch */
    /* current state run */
    int64_t run_id; /* 0: none */
    int state, status;
    int verify;     /* enum pw_verify; -1: a run from before schema v3 */
    bool ok;
    int64_t run_first, run_last, since_ms, latency_us;
    char verify_info[PW_VERIFY_INFO_MAX]; /* latest, written with the run */
    uint32_t count, fails_before;
    bool run_dirty;
    /* open outage */
    int64_t out_id;
    int64_t out_last_ms;
    uint32_t out_fails;
    bool out_dirty;
    struct acc acc[NTIERS];
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
    bool dirty;
};

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_INS_RUN, S_UPD_RUN, S_TGT_CUR, S_TGT_FIRST,
    S_INS_OUT, S_UPD_OUT, S_INS_COV, S_UPD_COV, S_END_COV,
    S_BUCKET0, S_BUCKET1, S_BUCKET2, S_EPM_HOST, S_EPM_HOST_ID, S_EPM_ENTRY, NSTMT
};

static const char *const stmt_sql[NSTMT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_INS_RUN] = "INSERT INTO state_runs(target_id,state,status,ok,first_ms,last_ms,"
                  "count,status_since_ms,fails_before,latency_us,detail,verify,verify_info)"
                  " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_UPD_RUN] = "UPDATE state_runs SET last_ms=?2, count=?3, latency_us=?4, verify_info=?5"
                  " WHERE id=?1",
    [S_TGT_CUR] = "UPDATE targets SET cur_run=?2 WHERE id=?1",
    [S_TGT_FIRST] = "UPDATE targets SET first_ms=?2 WHERE id=?1 AND first_ms IS NULL",
    [S_INS_OUT] = "INSERT INTO outages(target_id,start_ms,end_ms,last_ms,state,fails,detail)"
                  " VALUES(?,?,NULL,?,?,?,?)",
    [S_UPD_OUT] = "UPDATE outages SET last_ms=?2, fails=?3, end_ms=?4 WHERE id=?1",
    [S_INS_COV] = "INSERT INTO runs(started_ms,last_alive_ms) VALUES(?,?)",
    [S_UPD_COV] = "UPDATE runs SET last_alive_ms=?2 WHERE id=?1",
    [S_END_COV] = "UPDATE runs SET last_alive_ms=?2, ended_ms=?2, end_reason=?3 WHERE id=?1",
#define UPSERT(t)                                                              \
    "INSERT INTO " t "(target_id,b,n0,n1,n2,n3,n4,n5,nfail,lat_n,lat_min,lat_sum,lat_max)" \
    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(target_id,b) DO UPDATE SET"  \
    " n0=n0+excluded.n0, n1=n1+excluded.n1, n2=n2+excluded.n2,"                  \
    " n3=n3+excluded.n3, n4=n4+excluded.n4, n5=n5+excluded.n5,"                  \
    " nfail=nfail+excluded.nfail, lat_n=lat_n+excluded.lat_n,"                   \
    " lat_min=min(coalesce(lat_min,excluded.lat_min),coalesce(excluded.lat_min,lat_min)),"\
    " lat_max=max(coalesce(lat_max,excluded.lat_max),coalesce(excluded.lat_max,lat_max)),"\
    " lat_sum=coalesce(lat_sum,0)+coalesce(excluded.lat_sum,0)"
    [S_BUCKET0] = UPSERT("bucket_fine"),
    [S_BUCKET1] = UPSERT("bucket_hour"),
    [S_BUCKET2] = UPSERT("bucket_day"),
#undef UPSERT
    /* Endpoint-mapper reads: times only move forward, so a late read
     * cannot make older registrations look current. */
    [S_EPM_HOST] = "INSERT INTO epm_hosts(host,looked_up_ms) VALUES(?1,?2)"
                   " ON CONFLICT(host) DO UPDATE SET"
                   " looked_up_ms=max(looked_up_ms,excluded.looked_up_ms)",
    [S_EPM_HOST_ID] = "SELECT id FROM epm_hosts WHERE host=?1",
    [S_EPM_ENTRY] = "INSERT INTO epm_entries(host_id,object,iface,vmajor,vminor,protseq,"
                    "address,endpoint,port,annotation,first_seen_ms,last_seen_ms)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?11)"
                    " ON CONFLICT(host_id,object,iface,vmajor,vminor,protseq,address,endpoint)"
                    " DO UPDATE SET first_seen_ms=min(first_seen_ms,excluded.first_seen_ms),"
                    " annotation=CASE WHEN excluded.last_seen_ms>=last_seen_ms"
                    "  THEN excluded.annotation ELSE annotation END,"
                    " port=CASE WHEN excluded.last_seen_ms>=last_seen_ms"
                    "  THEN excluded.port ELSE port END,"
                    " last_seen_ms=max(last_seen_ms,excluded.last_seen_ms)",
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
    int64_t last_hk_ms;
    int64_t hk_cursor;   /* last target id housekept */
    int64_t hk_epm_cursor; /* last epm_hosts id housekept */
    int sync_gen;
    char errbuf[PW_STORE_MSG_MAX]; /* "cannot write PATH: why: what to do" */
};

static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void log_to_stderr(void *ud, enum pw_store_log_level lvl, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info"};
    fprintf(stderr, "portwatch store %s: %s\n", names[lvl], msg);
}

#if defined(__GNUC__)
PW_PRINTF(3, 4)
#endif
static void slog(struct pw_store *st, enum pw_store_log_level lvl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st->opt.log(st->opt.log_ud, lvl, buf);
}

static void set_health(struct pw_store *st, enum pw_store_state state, const char *msg)
{
    uv_mutex_lock(&st->lock);
    bool changed = st->health.state != state;
    if (changed)
        st->health.since_ms = wall_ms();
    st->health.state = state;
    snprintf(st->health.message, sizeof st->health.message, "%s", msg);
    uv_mutex_unlock(&st->lock);
    if (changed && state == PW_STORE_DEGRADED)
        slog(st, PW_STORE_LOG_ERROR, "history store degraded: %s", msg);
    else if (changed)
        slog(st, PW_STORE_LOG_INFO, "history store recovered");
}

/* ---- per-result folding ------------------------------------------------ */

static void acc_reset(struct acc *a, int64_t b)
{
    memset(a, 0, sizeof *a);
    a->b = b;
    a->quiet = true;
    a->first_state = -1;
    a->written_all = true;
}

static void acc_add(struct acc *a, const struct pw_result *r)
{
    int s = (int)r->state;
    a->n[s]++;
    if (!r->ok)
        a->nfail++;
    if (a->first_state < 0)
        a->first_state = s;
    if (!r->ok || s != a->first_state)
        a->quiet = false;
    if (r->latency_us >= 0) {
        if (a->lat_n == 0 || r->latency_us < a->lat_min)
            a->lat_min = r->latency_us;
        if (a->lat_n == 0 || r->latency_us > a->lat_max)
            a->lat_max = r->latency_us;
        a->lat_sum += r->latency_us;
        a->lat_n++;
    }
    a->written_all = false;
}

static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Writes what of the bucket is not in the database yet, if the tier keeps
 * it. Returns 0 or an SQLite error code. */
static int acc_write(struct pw_store *st, int tier, uint32_t id, struct acc *a)
{
    if (a->b < 0 || a->written_all)
        return 0;
    if (tier_sparse[tier] && a->quiet)
        return 0;
    sqlite3_stmt *s = st->stmt[S_BUCKET0 + tier];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, a->b);
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        sqlite3_bind_int64(s, 3 + i, (int64_t)a->n[i] - a->w_n[i]);
    sqlite3_bind_int64(s, 9, (int64_t)a->nfail - a->w_nfail);
    sqlite3_bind_int64(s, 10, (int64_t)a->lat_n - a->w_lat_n);
    if (a->lat_n > 0) {
        sqlite3_bind_int64(s, 11, a->lat_min);
        sqlite3_bind_int64(s, 12, a->lat_sum - a->w_lat_sum);
        sqlite3_bind_int64(s, 13, a->lat_max);
    } else {
        sqlite3_bind_null(s, 11);
        sqlite3_bind_null(s, 12);
        sqlite3_bind_null(s, 13);
    }
    int rc = step_done(s);
    if (rc)
        return rc;
    memcpy(a->w_n, a->n, sizeof a->n);
    a->w_nfail = a->nfail;
    a->w_lat_n = a->lat_n;
    a->w_lat_sum = a->lat_sum;
    a->written_all = true;
    return 0;
}

static int run_flush(struct pw_store *st, struct slot *sl)
{
    if (!sl->run_dirty || !sl->run_id)
        return 0;
    sqlite3_stmt *s = st->stmt[S_UPD_RUN];
    sqlite3_bind_int64(s, 1, sl->run_id);
    sqlite3_bind_int64(s, 2, sl->run_last);
    sqlite3_bind_int64(s, 3, sl->count);
    if (sl->latency_us >= 0)
        sqlite3_bind_int64(s, 4, sl->latency_us);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_text(s, 5, sl->verify_info, (int)strnlen(sl->verify_info, PW_VERIFY_INFO_MAX),
                      SQLITE_TRANSIENT);
    int rc = step_done(s);
    if (!rc)
        sl->run_dirty = false;
    return rc;
}

static int outage_write(struct pw_store *st, struct slot *sl, int64_t end_ms)
{
    sqlite3_stmt *s = st->stmt[S_UPD_OUT];
    sqlite3_bind_int64(s, 1, sl->out_id);
    sqlite3_bind_int64(s, 2, sl->out_last_ms);
    sqlite3_bind_int64(s, 3, sl->out_fails);
    if (end_ms >= 0)
        sqlite3_bind_int64(s, 4, end_ms);
    else
        sqlite3_bind_null(s, 4);
    int rc = step_done(s);
    if (!rc)
        sl->out_dirty = false;
    return rc;
}

/* Where an outage ends when the recovery is seen: at the recovering result,
 * unless the outage was last seen down before the current coverage segment
 * began; then nobody watched the recovery and it ends with the coverage in
 * which it was last seen. */
static int64_t outage_end(const struct pw_store *st, const struct slot *sl, int64_t at)
{
    if (sl->out_last_ms < st->cov.start_ms) {
        int64_t e = st->cov.prev_end_ms;
        return e > sl->out_last_ms ? e : sl->out_last_ms;
    }
    return at;
}

static int cov_end(struct pw_store *st, enum pw_store_run_end how)
{
    if (!st->cov.id)
        return 0;
    sqlite3_stmt *s = st->stmt[S_END_COV];
    sqlite3_bind_int64(s, 1, st->cov.id);
    sqlite3_bind_int64(s, 2, st->cov.alive_ms);
    sqlite3_bind_int(s, 3, how);
    int rc = step_done(s);
    if (!rc) {
        st->cov.prev_end_ms = st->cov.alive_ms;
        st->cov.id = 0;
        st->cov.dirty = false;
    }
    return rc;
}

/* The monitor is alive at t: extends the coverage row, or ends it as a
 * stall and opens a new one when nothing was heard for gap_ms. */
static int note_alive(struct pw_store *st, int64_t t)
{
    int rc;
    if (st->cov.id && t - st->cov.alive_ms > st->opt.gap_ms) {
        if ((rc = cov_end(st, PW_RUN_STALL)))
            return rc;
    }
    if (!st->cov.id) {
        sqlite3_stmt *s = st->stmt[S_INS_COV];
        sqlite3_bind_int64(s, 1, t);
        sqlite3_bind_int64(s, 2, t);
        if ((rc = step_done(s)))
            return rc;
        st->cov.id = sqlite3_last_insert_rowid(st->db);
        st->cov.start_ms = st->cov.alive_ms = t;
        return 0;
    }
    if (t > st->cov.alive_ms) {
        st->cov.alive_ms = t;
        st->cov.dirty = true;
    }
    return 0;
}

static int fold(struct pw_store *st, struct slot *sl, const struct pw_result *r)
{
    int rc;
    int64_t at = r->at_ms;
    int state = (int)r->state, status = (int)r->status;
    int verify = (unsigned)r->verify < PW_VERIFY_COUNT_ ? (int)r->verify : PW_VERIFY_NONE;
    size_t vlen = strnlen(r->verify_info, PW_VERIFY_INFO_MAX - 1);

    if (!sl->seen) {
        sqlite3_stmt *s = st->stmt[S_TGT_FIRST];
        sqlite3_bind_int64(s, 1, sl->id);
        sqlite3_bind_int64(s, 2, at);
        if ((rc = step_done(s)))
            return rc;
        sl->seen = true;
    }

    /* state run: a change of the protocol exchange's outcome (verified to
     * mismatch on a port still open) is a change worth its own run; its
     * text (a version) is not, so a steady target keeps one run. */
    if (sl->run_id && sl->state == state && sl->status == status && sl->verify == verify) {
        sl->run_last = at;
        sl->count++;
        sl->latency_us = r->latency_us;
        memcpy(sl->verify_info, r->verify_info, vlen);
        sl->verify_info[vlen] = 0;
        sl->run_dirty = true;
    } else {
        if ((rc = run_flush(st, sl)))
            return rc;
        int64_t since = sl->run_id && sl->status == status ? sl->since_ms : at;
        uint32_t fails_before = sl->run_id && !sl->ok ? sl->fails_before + sl->count : 0;
        sqlite3_stmt *s = st->stmt[S_INS_RUN];
        sqlite3_bind_int64(s, 1, sl->id);
        sqlite3_bind_int(s, 2, state);
        sqlite3_bind_int(s, 3, status);
        sqlite3_bind_int(s, 4, r->ok);
        sqlite3_bind_int64(s, 5, at);
        sqlite3_bind_int64(s, 6, at);
        sqlite3_bind_int64(s, 7, 1);
        sqlite3_bind_int64(s, 8, since);
        sqlite3_bind_int64(s, 9, fails_before);
        if (r->latency_us >= 0)
            sqlite3_bind_int64(s, 10, r->latency_us);
        else
            sqlite3_bind_null(s, 10);
        sqlite3_bind_text(s, 11, r->detail, (int)strnlen(r->detail, PW_DETAIL_MAX),
                          SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 12, verify);
        sqlite3_bind_text(s, 13, r->verify_info, (int)vlen, SQLITE_TRANSIENT);
        if ((rc = step_done(s)))
            return rc;
        sl->run_id = sqlite3_last_insert_rowid(st->db);
        s = st->stmt[S_TGT_CUR];
        sqlite3_bind_int64(s, 1, sl->id);
        sqlite3_bind_int64(s, 2, sl->run_id);
        if ((rc = step_done(s)))
            return rc;
        sl->state = state;
        sl->status = status;
        sl->verify = verify;
        memcpy(sl->verify_info, r->verify_info, vlen);
        sl->verify_info[vlen] = 0;
        sl->ok = r->ok;
        sl->run_first = sl->run_last = at;
        sl->count = 1;
        sl->since_ms = since;
        sl->fails_before = fails_before;
        sl->latency_us = r->latency_us;
        sl->run_dirty = false;
    }

    /* outage: opened by the first DOWN result, closed by the first UP one;
     * UNKNOWN (an engine that was not seeded) neither opens nor closes. */
    if (r->status == PW_STATUS_DOWN) {
        if (!sl->out_id) {
            sqlite3_stmt *s = st->stmt[S_INS_OUT];
            sqlite3_bind_int64(s, 1, sl->id);
            sqlite3_bind_int64(s, 2, at);
            sqlite3_bind_int64(s, 3, at);
            sqlite3_bind_int(s, 4, state);
            sqlite3_bind_int64(s, 5, r->ok ? 0 : 1);
            sqlite3_bind_text(s, 6, r->detail, (int)strnlen(r->detail, PW_DETAIL_MAX),
                              SQLITE_TRANSIENT);
            if ((rc = step_done(s)))
                return rc;
            sl->out_id = sqlite3_last_insert_rowid(st->db);
            sl->out_fails = r->ok ? 0 : 1;
            sl->out_last_ms = at;
            sl->out_dirty = false;
        } else {
            if (!r->ok)
                sl->out_fails++;
            sl->out_last_ms = at;
            sl->out_dirty = true;
        }
    } else if (r->status == PW_STATUS_UP && sl->out_id) {
        if ((rc = outage_write(st, sl, outage_end(st, sl, at))))
            return rc;
        sl->out_id = 0;
    }

    /* buckets */
    for (int t = 0; t < NTIERS; t++) {
        struct acc *a = &sl->acc[t];
        int64_t b = at / tier_ms[t];
        if (a->b != b) {
            if (b < a->b)
                continue; /* a result older than the bucket: counted in runs only */
            if ((rc = acc_write(st, t, sl->id, a)))
                return rc;
            acc_reset(a, b);
        }
        acc_add(a, r);
    }
    return 0;
}

static int slot_flush(struct pw_store *st, struct slot *sl)
{
    int rc;
    if ((rc = run_flush(st, sl)))
        return rc;
    if (sl->out_id && sl->out_dirty && (rc = outage_write(st, sl, -1)))
        return rc;
    for (int t = 0; t < NTIERS; t++)
        if ((rc = acc_write(st, t, sl->id, &sl->acc[t])))
            return rc;
    return 0;
}

static void undo_restore(struct pw_store *st)
{
    for (uint32_t i = st->nundo; i-- > 0;)
        st->slots[st->undo[i].idx] = st->undo[i].s;
    st->nundo = 0;
}

static void undo_clear(struct pw_store *st)
{
    for (uint32_t i = 0; i < st->nundo; i++)
        st->slots[st->undo[i].idx].touched = false;
    st->nundo = 0;
}

/* ---- endpoint-mapper reads --------------------------------------------- */

void pw_store_uuid_pack(const struct pw_uuid *u, uint8_t b[16])
{
    b[0] = (uint8_t)(u->d1 >> 24);
    b[1] = (uint8_t)(u->d1 >> 16);
    b[2] = (uint8_t)(u->d1 >> 8);
    b[3] = (uint8_t)u->d1;
    b[4] = (uint8_t)(u->d2 >> 8);
    b[5] = (uint8_t)u->d2;
    b[6] = (uint8_t)(u->d3 >> 8);
    b[7] = (uint8_t)u->d3;
    memcpy(b + 8, u->d4, 8);
}

void pw_store_uuid_unpack(const uint8_t b[16], struct pw_uuid *u)
{
    u->d1 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    u->d2 = (uint16_t)(b[4] << 8 | b[5]);
    u->d3 = (uint16_t)(b[6] << 8 | b[7]);
    memcpy(u->d4, b + 8, 8);
}

/* Text of a fixed-size field that may lack its terminator. */
static void bind_field(sqlite3_stmt *s, int i, const char *p, size_t cap)
{
    sqlite3_bind_text(s, i, p, (int)strnlen(p, cap), SQLITE_TRANSIENT);
}

/* Writes one read inside the caller's transaction. Returns 0 or an SQLite
 * error code. */
static int epm_write(struct pw_store *st, const struct epm_read *rd)
{
    sqlite3_stmt *s = st->stmt[S_EPM_HOST];
    sqlite3_bind_text(s, 1, rd->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, rd->at_ms);
    int rc = step_done(s);
    if (rc)
        return rc;
    s = st->stmt[S_EPM_HOST_ID];
    sqlite3_bind_text(s, 1, rd->host, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int64_t host_id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
    s = st->stmt[S_EPM_ENTRY];
    for (size_t i = 0; i < rd->n; i++) {
        const struct pw_epm_entry *e = &rd->v[i];
        uint8_t obj[16], ifc[16];
        pw_store_uuid_pack(&e->object, obj);
        sqlite3_bind_int64(s, 1, host_id);
        sqlite3_bind_blob(s, 2, obj, 16, SQLITE_TRANSIENT);
        if (e->has_iface) {
            pw_store_uuid_pack(&e->iface, ifc);
            sqlite3_bind_blob(s, 3, ifc, 16, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_zeroblob(s, 3, 0);
        }
        sqlite3_bind_int(s, 4, e->vmajor);
        sqlite3_bind_int(s, 5, e->vminor);
        sqlite3_bind_int(s, 6, (unsigned)e->protseq < PW_EPM_PROTSEQ_COUNT_
                                   ? (int)e->protseq : PW_EPM_UNKNOWN);
        bind_field(s, 7, e->address, sizeof e->address);
        bind_field(s, 8, e->endpoint, sizeof e->endpoint);
        sqlite3_bind_int(s, 9, e->port);
        bind_field(s, 10, e->annotation, sizeof e->annotation);
        sqlite3_bind_int64(s, 11, rd->at_ms);
        if ((rc = step_done(s)))
            return rc;
    }
    return 0;
}

int pw_store_epm_put(struct pw_store *st, const char *host, const struct pw_epm_entry *v,
                     size_t n, int64_t now_ms)
{
    if (!host || !*host || (n && !v))
        return PW_EINVAL;
    size_t hlen = strlen(host) + 1;
    if (n > (SIZE_MAX - sizeof(struct epm_read) - hlen) / sizeof *v)
        return PW_ENOMEM;
    struct epm_read *rd = malloc(sizeof *rd + n * sizeof *v + hlen);
    if (!rd)
        return PW_ENOMEM;
    rd->next = NULL;
    rd->at_ms = now_ms;
    rd->n = n;
    if (n)
        memcpy(rd->v, v, n * sizeof *v);
    char *h = (char *)(rd->v + n);
    memcpy(h, host, hlen);
    rd->host = h;

    uv_mutex_lock(&st->lock);
    if (st->epm_nreads > 0 && st->epm_nentries + n > PW_STORE_EPM_QUEUE_MAX) {
        st->epm_dropped++;
        uv_cond_signal(&st->wake); /* the writer logs it */
        uv_mutex_unlock(&st->lock);
        free(rd);
        return PW_EBUSY;
    }
    if (st->epm_tail)
        st->epm_tail->next = rd;
    else
        st->epm_head = rd;
    st->epm_tail = rd;
    st->epm_nreads++;
    st->epm_nentries += n;
    uv_cond_signal(&st->wake);
    uv_mutex_unlock(&st->lock);
    return 0;
}

/* One transaction over r[0..n), the first nepm endpoint-mapper reads from
 * epm, plus an optional heartbeat. Returns 0 or an SQLite error code; on
 * error every in-memory change is undone. */
static int write_batch(struct pw_store *st, const struct pw_result *r, size_t n,
                       int64_t hb, uint64_t *unknown, const struct epm_read *epm,
                       uint32_t nepm)
{
    struct cover cov0 = st->cov;
    int rc = step_done(st->stmt[S_BEGIN]);
    if (rc) {
        pw_store_failed(st->db, rc, st->path, "cannot write", st->errbuf);
        return rc;
    }
    *unknown = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (r[i].target >= st->nslots || (unsigned)r[i].state >= PW_STATE_COUNT_) {
            (*unknown)++;
            continue;
        }
        struct slot *sl = &st->slots[r[i].target];
        if (!sl->touched) {
            st->undo[st->nundo].idx = r[i].target;
            st->undo[st->nundo].s = *sl;
            st->nundo++;
            sl->touched = true;
        }
        if (!(rc = note_alive(st, r[i].at_ms)))
            rc = fold(st, sl, &r[i]);
    }
    for (uint32_t i = 0; i < st->nundo && !rc; i++)
        rc = slot_flush(st, &st->slots[st->undo[i].idx]);
    /* The last read's `next` belongs to pw_store_epm_put (it may be
     * appending): never read it. */
    for (uint32_t i = 0; i < nepm && !rc; i++) {
        rc = epm_write(st, epm);
        if (i + 1 < nepm)
            epm = epm->next;
    }
    if (!rc && hb > 0)
        rc = note_alive(st, hb);
    if (!rc && st->cov.id && st->cov.dirty) {
        sqlite3_stmt *s = st->stmt[S_UPD_COV];
        sqlite3_bind_int64(s, 1, st->cov.id);
        sqlite3_bind_int64(s, 2, st->cov.alive_ms);
        if (!(rc = step_done(s)))
            st->cov.dirty = false;
    }
    if (!rc)
        rc = step_done(st->stmt[S_COMMIT]);
    if (rc) {
        pw_store_failed(st->db, rc, st->path, "cannot write", st->errbuf);
        step_done(st->stmt[S_ROLLBACK]);
        undo_restore(st);
        st->cov = cov0;
        return rc;
    }
    undo_clear(st);
    return 0;
}

/* ---- housekeeping ------------------------------------------------------ */

/* Registrations not seen since cut, of the next few mapper hosts after
 * *cursor (0 again after the last), and hosts whose latest read is older
 * (all their registrations are). Inside the caller's transaction. */
static int epm_housekeep(struct pw_store *st, int64_t cut, int64_t *cursor, uint64_t *deleted)
{
    static const char *const sql[3] = {
        "SELECT id FROM epm_hosts WHERE id>? ORDER BY id LIMIT ?",
        "DELETE FROM epm_entries WHERE host_id=?1 AND last_seen_ms<?2",
        "DELETE FROM epm_hosts WHERE id=?1 AND looked_up_ms<?2",
    };
    sqlite3_stmt *s[3] = {0};
    int rc = SQLITE_OK;
    for (int i = 0; i < 3 && rc == SQLITE_OK; i++)
        rc = sqlite3_prepare_v2(st->db, sql[i], -1, &s[i], NULL);
    int64_t last = *cursor;
    uint32_t got = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s[0], 1, *cursor);
        sqlite3_bind_int64(s[0], 2, st->opt.housekeep_targets);
        int step = SQLITE_DONE;
        while (rc == SQLITE_OK && (step = sqlite3_step(s[0])) == SQLITE_ROW) {
            last = sqlite3_column_int64(s[0], 0);
            got++;
            for (int i = 1; i < 3 && rc == SQLITE_OK; i++) {
                sqlite3_bind_int64(s[i], 1, last);
                sqlite3_bind_int64(s[i], 2, cut);
                rc = step_done(s[i]);
                *deleted += (uint64_t)sqlite3_changes(st->db);
            }
        }
        if (rc == SQLITE_OK && step != SQLITE_DONE)
            rc = step;
    }
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(s[i]);
    if (rc == SQLITE_OK)
        *cursor = got < st->opt.housekeep_targets ? 0 : last;
    return rc;
}

/* One step of retention: old rows of the next few targets, then old
 * coverage rows, then the next few mapper hosts' registrations not seen
 * within the events' retention, in one short transaction. */
static int housekeep_step(struct pw_store *st)
{
    int64_t now = st->cov.alive_ms;
    if (now <= 0)
        return 0;
    int64_t keep_tier[NTIERS] = {st->opt.keep_raw_ms, st->opt.keep_hourly_ms,
                                 st->opt.keep_hourly_ms};
    sqlite3_stmt *ids = NULL, *del[NTIERS + 2] = {0};
    int rc = sqlite3_prepare_v2(st->db, "SELECT id FROM targets WHERE id>? ORDER BY id LIMIT ?",
                                -1, &ids, NULL);
    for (int t = 0; t < NTIERS && rc == SQLITE_OK; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE target_id=?1 AND b<?2", tier_table[t]);
        rc = sqlite3_prepare_v2(st->db, sql, -1, &del[t], NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db,
                                "DELETE FROM state_runs WHERE target_id=?1 AND first_ms<?2"
                                " AND last_ms<?2 AND id IS NOT"
                                " (SELECT cur_run FROM targets WHERE id=?1)",
                                -1, &del[NTIERS], NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db,
                                "DELETE FROM outages WHERE target_id=?1 AND start_ms<?2"
                                " AND end_ms IS NOT NULL AND end_ms<?2",
                                -1, &del[NTIERS + 1], NULL);
    if (rc == SQLITE_OK)
        rc = step_done(st->stmt[S_BEGIN]);
    uint64_t deleted = 0;
    int64_t last = st->hk_cursor, epm_cursor = st->hk_epm_cursor;
    int got = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(ids, 1, st->hk_cursor);
        sqlite3_bind_int64(ids, 2, st->opt.housekeep_targets);
        while (rc == SQLITE_OK && sqlite3_step(ids) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(ids, 0);
            last = id;
            got++;
            for (int t = 0; t < NTIERS + 2 && rc == SQLITE_OK; t++) {
                int64_t cut = t < NTIERS ? (now - keep_tier[t]) / tier_ms[t]
                                         : now - st->opt.keep_events_ms;
                sqlite3_bind_int64(del[t], 1, id);
                sqlite3_bind_int64(del[t], 2, cut);
                rc = step_done(del[t]);
                deleted += (uint64_t)sqlite3_changes(st->db);
            }
        }
        sqlite3_reset(ids);
        if (rc == SQLITE_OK && got < (int)st->opt.housekeep_targets) {
            /* wrapped: also the coverage table */
            char sql[128];
            snprintf(sql, sizeof sql, "DELETE FROM runs WHERE ended_ms<%lld",
                     (long long)(now - st->opt.keep_events_ms));
            rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
            deleted += (uint64_t)sqlite3_changes(st->db);
            last = 0;
        }
        if (rc == SQLITE_OK)
            rc = epm_housekeep(st, now - st->opt.keep_events_ms, &epm_cursor, &deleted);
        if (rc == SQLITE_OK)
            rc = step_done(st->stmt[S_COMMIT]);
        if (rc != SQLITE_OK)
            step_done(st->stmt[S_ROLLBACK]);
    }
    sqlite3_finalize(ids);
    for (int t = 0; t < NTIERS + 2; t++)
        sqlite3_finalize(del[t]);
    if (rc == SQLITE_OK) {
        st->hk_cursor = last;
        st->hk_epm_cursor = epm_cursor;
        uv_mutex_lock(&st->lock);
        st->hk_deleted += deleted;
        uv_mutex_unlock(&st->lock);
    }
    return rc;
}

/* ---- writer thread ------------------------------------------------------ */

static void cond_wait_ms(uv_cond_t *c, uv_mutex_t *m, int64_t ms)
{
    if (ms <= 0)
        return;
    (void)uv_cond_timedwait(c, m, (uint64_t)ms * 1000000u);
}

/* After a failed commit: waits out the backoff (new results arriving do
 * not cut it short, or a full disk would be retried a thousand times a
 * second); a stop or a flush does. Caller holds st->lock. */
static void backoff_wait(struct pw_store *st, int64_t ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    for (uint64_t now = uv_hrtime(); now < end && !st->stopping && !st->flush_waiting;
         now = uv_hrtime())
        (void)uv_cond_timedwait(&st->wake, &st->lock, end - now);
}

/* Results dropped for a full queue, said once when it starts, every
 * DROP_LOG_EVERY_NS while it lasts, and once when it ends, with the
 * stretch of history it left out (writer thread). */
#define DROP_LOG_EVERY_NS (300ull * 1000000000u)

struct drop_episode {
    int64_t from_ms;   /* the first dropped result's time; 0: none */
    uint64_t count;
    uint64_t logged_ns;
};

static void drops_noted(struct pw_store *st, struct drop_episode *ep, uint64_t n, int64_t hole)
{
    uint64_t now = uv_hrtime();
    ep->count += n;
    if (!ep->from_ms) {
        ep->from_ms = hole ? hole : wall_ms();
        ep->logged_ns = now;
        slog(st, PW_STORE_LOG_WARN, "results are dropped from now on: the queue of %u results is"
             " full while %s cannot be written; until it can, that time counts as not monitored",
             st->opt.queue_max, st->path);
    } else if (now - ep->logged_ns >= DROP_LOG_EVERY_NS) {
        char took[32];
        ep->logged_ns = now;
        pw_format_duration(wall_ms() - ep->from_ms, took, sizeof took);
        slog(st, PW_STORE_LOG_WARN, "still dropping results: %llu in the last %s",
             (unsigned long long)ep->count, took);
    }
}

static void drops_ended(struct pw_store *st, struct drop_episode *ep, int64_t until_ms)
{
    if (!ep->from_ms)
        return;
    char took[32];
    pw_format_duration(until_ms > ep->from_ms ? until_ms - ep->from_ms : 0, took, sizeof took);
    slog(st, PW_STORE_LOG_INFO, "results are written again: %llu were dropped, and the %s of"
         " history they covered counts as not monitored", (unsigned long long)ep->count, took);
    *ep = (struct drop_episode){0};
}

/* Whether path no longer names a file (deleted or renamed away). */
static bool file_removed(const char *path)
{
    uv_fs_t req;
    int rc = uv_fs_stat(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
    return rc == UV_ENOENT;
}

static void writer_main(void *arg)
{
    struct pw_store *st = arg;
    int64_t backoff = 0;
    uint64_t stop_deadline = 0;
    struct drop_episode ep = {0};

    uv_mutex_lock(&st->lock);
    for (;;) {
        while (!st->stopping && st->qcount == 0 && st->hb_ms <= st->cov.alive_ms &&
               !st->hk_requested && st->epm_nreads == 0 &&
               st->epm_dropped == st->epm_dropped_logged)
            uv_cond_wait(&st->wake, &st->lock);
        /* Coalesce small batches unless someone waits for them. */
        if (!st->stopping && !st->flush_waiting && st->qcount < st->opt.batch_max &&
            st->opt.commit_interval_ms > 0 && st->qcount > 0)
            cond_wait_ms(&st->wake, &st->lock, st->opt.commit_interval_ms);
        if (st->stopping && !stop_deadline)
            stop_deadline = uv_hrtime() + 10000000000ull;

        uint32_t n = st->qcount < st->opt.batch_max ? st->qcount : st->opt.batch_max;
        uint32_t head = st->qhead;
        int64_t hole = st->hole_ms;
        int64_t hb = hole && st->hb_ms > hole ? hole : st->hb_ms;
        int64_t last_at = n ? st->q[(head + n - 1) % st->opt.queue_max].at_ms : 0;
        bool hk = st->hk_requested;
        uint64_t dropped = st->dropped - st->dropped_logged;
        st->dropped_logged = st->dropped;
        struct epm_read *epm = st->epm_head;
        uint32_t nepm = st->epm_nreads;
        uint64_t epm_dropped = st->epm_dropped - st->epm_dropped_logged;
        st->epm_dropped_logged = st->epm_dropped;
        uv_mutex_unlock(&st->lock);

        if (dropped)
            drops_noted(st, &ep, dropped, hole);
        if (epm_dropped)
            slog(st, PW_STORE_LOG_WARN,
                 "dropped %llu RPC endpoint-mapper reads: %d registrations already wait"
                 " to be written", (unsigned long long)epm_dropped, PW_STORE_EPM_QUEUE_MAX);

        /* Submitters only append beyond qhead+qcount, so the first n
         * entries are stable without the lock; at most two segments. */
        uv_mutex_lock(&st->db_lock);
        uint64_t t0 = uv_hrtime(), unknown = 0;
        uint32_t n1 = n < st->opt.queue_max - head ? n : st->opt.queue_max - head;
        int rc = 0;
        if (n1 == n) {
            rc = write_batch(st, st->q + head, n, hb, &unknown, epm, nepm);
        } else {
            /* Wrapped: two transactions would let a crash split the batch
             * harmlessly, but one keeps the undo simple: copy. */
            struct pw_result *tmp = malloc(sizeof *tmp * n);
            if (!tmp) {
                rc = SQLITE_NOMEM;
            } else {
                memcpy(tmp, st->q + head, sizeof *tmp * n1);
                memcpy(tmp + n1, st->q, sizeof *tmp * (n - n1));
                rc = write_batch(st, tmp, n, hb, &unknown, epm, nepm);
                free(tmp);
            }
        }
        int64_t us = (int64_t)((uv_hrtime() - t0) / 1000);
        char msg[PW_STORE_MSG_MAX];
        if (rc == SQLITE_NOMEM)
            pw_store_failed(NULL, rc, st->path, "cannot write", st->errbuf);
        if (rc)
            snprintf(msg, sizeof msg, "%.400s (%u results waiting)", st->errbuf, n);
        if (!rc && (hk || (st->opt.housekeep_every_ms > 0 &&
                           st->cov.alive_ms - st->last_hk_ms >= st->opt.housekeep_every_ms))) {
            if (housekeep_step(st) == SQLITE_OK)
                st->last_hk_ms = st->cov.alive_ms;
        }
        uv_mutex_unlock(&st->db_lock);

        if (rc == SQLITE_FULL) {
            /* The WAL only restarts after a checkpoint; on a full disk
             * that is what frees room for the retry. */
            uv_mutex_lock(&st->db_lock);
            (void)sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                            NULL, NULL);
            uv_mutex_unlock(&st->db_lock);
        }
        if (!rc && !st->removed && file_removed(st->path)) {
            /* SQLite goes on writing to the deleted file, so nothing fails:
             * the history written from now on vanishes at the next start.
             * Say so until then, rather than look healthy. */
            st->removed = true;
            snprintf(msg, sizeof msg, "the database file %.120s was removed; what is written"
                     " now is lost when portwatch stops: restart it to start a new one",
                     st->path);
            set_health(st, PW_STORE_DEGRADED, msg);
        }
        if (rc) {
            set_health(st, PW_STORE_DEGRADED, msg);
            backoff = backoff ? backoff * 2 : 50;
            if (backoff > st->opt.retry_max_ms)
                backoff = st->opt.retry_max_ms;
        } else if (!st->removed && (backoff || st->health.state != PW_STORE_OK)) {
            backoff = 0;
            set_health(st, PW_STORE_OK, "");
        }

        uv_mutex_lock(&st->lock);
        if (rc) {
            st->failed_commits++;
            if (st->stopping && uv_hrtime() > stop_deadline)
                break;
            backoff_wait(st, backoff);
            continue;
        }
        /* Written past the hole, and nothing dropped since this batch was
         * taken (else a newer hole would be forgotten): it is behind us. */
        if (hole && last_at > hole && st->hole_ms == hole && st->dropped == st->dropped_logged) {
            st->hole_ms = 0;
            uv_mutex_unlock(&st->lock);
            drops_ended(st, &ep, last_at);
            uv_mutex_lock(&st->lock);
        }
        if (hk)
            st->hk_requested = false;
        st->qhead = (st->qhead + n) % st->opt.queue_max;
        st->qcount -= n;
        st->popped += n;
        st->written += n - unknown;
        st->dropped += unknown;
        st->dropped_logged += unknown; /* logged below, with their reason */
        struct epm_read *done_epm = NULL;
        if (nepm) {
            /* pop the reads written; free them outside the lock */
            done_epm = st->epm_head;
            struct epm_read *last = done_epm;
            size_t entries = last->n;
            for (uint32_t i = 1; i < nepm; i++) {
                last = last->next;
                entries += last->n;
            }
            st->epm_head = last->next;
            if (!st->epm_head)
                st->epm_tail = NULL;
            last->next = NULL;
            st->epm_nreads -= nepm;
            st->epm_nentries -= entries;
            st->epm_popped += nepm;
            st->epm_written += nepm;
        }
        st->commits++;
        st->commit_last_us = us;
        if (us > st->commit_max_us)
            st->commit_max_us = us;
        st->commit_avg_us = st->commits == 1 ? us : (st->commit_avg_us * 15 + us) / 16;
        uv_cond_broadcast(&st->done);
        if (done_epm) {
            uv_mutex_unlock(&st->lock);
            while (done_epm) {
                struct epm_read *nx = done_epm->next;
                free(done_epm);
                done_epm = nx;
            }
            uv_mutex_lock(&st->lock);
        }
        if (unknown) {
            uv_mutex_unlock(&st->lock);
            slog(st, PW_STORE_LOG_WARN, "dropped %llu results for targets not in the synced plan",
                 (unsigned long long)unknown);
            uv_mutex_lock(&st->lock);
        }
        if (st->stopping && st->qcount == 0 && st->epm_nreads == 0)
            break;
    }
    uv_mutex_unlock(&st->lock);

    uv_mutex_lock(&st->db_lock);
    if (step_done(st->stmt[S_BEGIN]) == 0) {
        if (st->cov.id && cov_end(st, PW_RUN_CLEAN) == 0)
            step_done(st->stmt[S_COMMIT]);
        else
            step_done(st->stmt[S_ROLLBACK]);
    }
    uv_mutex_unlock(&st->db_lock);
    uv_mutex_lock(&st->lock);
    if (st->qcount)
        slog(st, PW_STORE_LOG_ERROR, "closing with %u results not written", st->qcount);
    if (st->epm_nreads)
        slog(st, PW_STORE_LOG_ERROR, "closing with %u RPC endpoint-mapper reads not written",
             st->epm_nreads);
    uv_cond_broadcast(&st->done);
    uv_mutex_unlock(&st->lock);
}

/* ---- public API --------------------------------------------------------- */

/* Fills what the caller left 0; false when out of memory. */
static bool defaults(struct pw_store_options *o)
{
    if (!o->queue_max) o->queue_max = 65536;
    if (!o->batch_max) o->batch_max = 16384;
    if (o->batch_max > o->queue_max) o->batch_max = o->queue_max;
    if (!o->commit_interval_ms) o->commit_interval_ms = 1000;
    if (!o->busy_timeout_ms) o->busy_timeout_ms = 5000;
    if (!o->retry_max_ms) o->retry_max_ms = 5000;
    if (!o->gap_ms) o->gap_ms = 180000;
    if (!o->check_ms) o->check_ms = 10000;
    /* Retention: the configuration's defaults (its key table is their one
     * home; keep_detail, keep_hourly, keep_events). */
    if (!o->keep_raw_ms || !o->keep_hourly_ms || !o->keep_events_ms) {
        struct pw_config *def = pw_config_new();
        if (!def)
            return false;
        if (!o->keep_raw_ms) o->keep_raw_ms = def->s.keep_raw_ms;
        if (!o->keep_hourly_ms) o->keep_hourly_ms = def->s.keep_hourly_ms;
        if (!o->keep_events_ms) o->keep_events_ms = def->s.keep_events_ms;
        pw_config_free(def);
    }
    if (!o->housekeep_every_ms) o->housekeep_every_ms = 60000;
    if (!o->housekeep_targets) o->housekeep_targets = 256;
    if (!o->log) o->log = log_to_stderr;
    return true;
}

static int open_conn(const char *path, int flags, int64_t busy, sqlite3 **db,
                     char err[PW_STORE_MSG_MAX])
{
    int rc = pw_store_open_file(path, flags, db, err);
    return rc ? rc : pw_store_pragmas(*db, path, busy, err);
}

/* The writer connection of a database this process may write: the
 * one-daemon lock first (so a second daemon writes nothing), then the
 * file, its check, its schema and the holder's PID. */
static int open_writer(struct pw_store *st, const char *path, char err[PW_STORE_MSG_MAX])
{
    int rc = pw_store_lock(path, &st->owner, err);
    if (!rc)
        rc = pw_store_open_file(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st->db, err);
    /* checked before the pragmas, which may write (journal mode): a file
     * refused stays as it was */
    bool unfinished = false;
    if (!rc) {
        sqlite3_busy_timeout(st->db, (int)st->opt.busy_timeout_ms);
        rc = pw_store_check(st->db, path, st->opt.check_ms, &unfinished, err);
    }
    if (!rc)
        rc = pw_store_pragmas(st->db, path, st->opt.busy_timeout_ms, err);
    if (!rc && unfinished)
        slog(st, PW_STORE_LOG_WARN, "the check of %s did not finish within %lld ms; opened"
             " without it (`portwatch db backup` checks every page of its copy)", path,
             (long long)st->opt.check_ms);
    if (!rc) {
        char why[PW_STORE_MSG_MAX];
        if ((rc = pw_store_migrate(st->db, PW_STORE_SCHEMA_VERSION, why)) != 0)
            snprintf(err, PW_STORE_MSG_MAX, "%.200s: %.300s", path, why);
    }
    if (!rc)
        rc = pw_store_lock_record(st->db, path, err);
    return rc;
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

/* A store with its options and locks, no connection yet (*out and err
 * cleared); NULL, with err, when out of memory. */
static struct pw_store *store_new(const char *path, const struct pw_store_options *opt,
                                  struct pw_store **out, char err[PW_STORE_MSG_MAX])
{
    *out = NULL;
    err[0] = 0;
    struct pw_store *st = calloc(1, sizeof *st);
    if (st && opt)
        st->opt = *opt;
    if (!st || !(st->path = strdup(path)) || !defaults(&st->opt)) {
        if (st)
            free(st->path);
        free(st);
        snprintf(err, PW_STORE_MSG_MAX, "out of memory");
        return NULL;
    }
    uv_mutex_init(&st->lock);
    uv_mutex_init(&st->db_lock);
    uv_mutex_init(&st->read_lock);
    uv_cond_init(&st->wake);
    uv_cond_init(&st->done);
    return st;
}

/* The end of an open: st in *out, or closed after a failure. */
static int store_done(struct pw_store *st, int rc, struct pw_store **out)
{
    if (rc)
        pw_store_close(st);
    else
        *out = st;
    return rc;
}

/* The read connection. Queries scan a year of outages and buckets: a
 * larger page cache and memory-mapped reads keep them within the web
 * layer's budget. */
static int open_reader(struct pw_store *st, const char *path, char err[PW_STORE_MSG_MAX])
{
    int rc = open_conn(path, SQLITE_OPEN_READONLY, st->opt.busy_timeout_ms, &st->rdb, err);
    if (!rc)
        (void)sqlite3_exec(st->rdb, "PRAGMA cache_size=-32768; PRAGMA mmap_size=268435456;",
                           NULL, NULL, NULL);
    return rc;
}

int pw_store_open_reader(const char *path, const struct pw_store_options *opt,
                         struct pw_store **out, char err[PW_STORE_MSG_MAX])
{
    struct pw_store *st = store_new(path, opt, out, err);
    if (!st)
        return PW_ENOMEM;
    int rc = open_reader(st, path, err);
    int64_t v = rc ? 0 : scalar(st->rdb, "PRAGMA user_version");
    if (!rc && (v < PW_STORE_READ_MIN_VERSION || v > PW_STORE_SCHEMA_VERSION)) {
        snprintf(err, PW_STORE_MSG_MAX, "database %.200s has schema version %lld; this"
                 " portwatch reads %d to %d: %s", path, (long long)v, PW_STORE_READ_MIN_VERSION,
                 PW_STORE_SCHEMA_VERSION, v > PW_STORE_SCHEMA_VERSION ? "use a newer portwatch"
                 : "start the daemon of this version once, it upgrades the file");
        rc = PW_ESTORAGE;
    }
    return store_done(st, rc, out);
}

int pw_store_open(const char *path, const struct pw_store_options *opt,
                  struct pw_store **out, char err[PW_STORE_MSG_MAX])
{
    struct pw_store *st = store_new(path, opt, out, err);
    if (!st)
        return PW_ENOMEM;
    st->q = malloc(sizeof *st->q * st->opt.queue_max);
    int rc = st->q ? 0 : PW_ENOMEM;
    if (!st->q)
        snprintf(err, PW_STORE_MSG_MAX, "out of memory for a %u-result queue",
                 st->opt.queue_max);
    if (!rc)
        rc = open_writer(st, path, err);
    for (int i = 0; i < NSTMT && !rc; i++) {
        if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &st->stmt[i], NULL) != SQLITE_OK) {
            pw_store_failed(st->db, SQLITE_ERROR, path, "cannot prepare statements on", err);
            rc = PW_ESTORAGE;
        }
    }
    if (!rc) {
        /* A run still open was ended by a crash: it lasted until its last
         * heartbeat. */
        int src = sqlite3_exec(st->db, "UPDATE runs SET ended_ms=last_alive_ms, end_reason=2"
                               " WHERE ended_ms IS NULL", NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            pw_store_failed(st->db, src, path, "cannot write", err);
            rc = PW_ESTORAGE;
        } else if (sqlite3_changes(st->db) > 0) {
            slog(st, PW_STORE_LOG_WARN,
                 "the previous run did not stop cleanly; its coverage ends at its last heartbeat");
        }
        st->cov.prev_end_ms = scalar(st->db, "SELECT max(ended_ms) FROM runs");
        st->last_hk_ms = st->cov.prev_end_ms;
        st->sync_gen = (int)scalar(st->db, "SELECT max(sync_gen) FROM targets");
    }
    if (!rc)
        rc = open_reader(st, path, err);
    if (!rc) /* the writer keeps every target's hot pages */
        (void)sqlite3_exec(st->db, "PRAGMA cache_size=-16384;", NULL, NULL, NULL);
    if (!rc) {
        if (uv_thread_create(&st->thread, writer_main, st) != 0) {
            snprintf(err, PW_STORE_MSG_MAX, "cannot start the writer thread");
            rc = PW_ENOMEM;
        } else {
            st->thread_started = true;
        }
    }
    return store_done(st, rc, out);
}

void pw_store_close(struct pw_store *st)
{
    if (!st)
        return;
    if (st->thread_started) {
        uv_mutex_lock(&st->lock);
        st->stopping = true;
        uv_cond_signal(&st->wake);
        uv_mutex_unlock(&st->lock);
        uv_thread_join(&st->thread);
    }
    for (int i = 0; i < NSTMT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->thread_started) /* a clean stop: no holder any more */
        (void)sqlite3_exec(st->db, "DELETE FROM daemon", NULL, NULL, NULL);
    sqlite3_close(st->rdb);
    sqlite3_close(st->db);
    sqlite3_close(st->owner); /* last: the database is closed when the next one takes it */
    uv_cond_destroy(&st->wake);
    uv_cond_destroy(&st->done);
    uv_mutex_destroy(&st->lock);
    uv_mutex_destroy(&st->db_lock);
    uv_mutex_destroy(&st->read_lock);
    while (st->epm_head) {
        struct epm_read *nx = st->epm_head->next;
        free(st->epm_head);
        st->epm_head = nx;
    }
    free(st->slots);
    free(st->undo);
    free(st->q);
    free(st->path);
    free(st);
}

size_t pw_store_submit(struct pw_store *st, const struct pw_result *r, size_t n)
{
    uv_mutex_lock(&st->lock);
    uint32_t room = st->opt.queue_max - st->qcount;
    size_t take = n < room ? n : room;
    uint32_t tail = (st->qhead + st->qcount) % st->opt.queue_max;
    size_t first = take < st->opt.queue_max - tail ? take : st->opt.queue_max - tail;
    memcpy(st->q + tail, r, sizeof *r * first);
    memcpy(st->q, r + first, sizeof *r * (take - first));
    bool was_empty = st->qcount == 0;
    st->qcount += (uint32_t)take;
    st->submitted += n;
    st->dropped += n - take;
    if (take < n && !st->hole_ms)
        st->hole_ms = r[take].at_ms;
    if (was_empty || st->qcount >= st->opt.batch_max || take < n)
        uv_cond_signal(&st->wake);
    uv_mutex_unlock(&st->lock);
    return take;
}

void pw_store_heartbeat(struct pw_store *st, int64_t now_ms)
{
    if (now_ms <= 0)
        now_ms = wall_ms();
    uv_mutex_lock(&st->lock);
    if (now_ms > st->hb_ms) {
        st->hb_ms = now_ms;
        uv_cond_signal(&st->wake);
    }
    uv_mutex_unlock(&st->lock);
}

int pw_store_flush(struct pw_store *st, int64_t timeout_ms)
{
    uv_mutex_lock(&st->lock);
    uint64_t goal = st->popped + st->qcount, epm_goal = st->epm_popped + st->epm_nreads;
    uint64_t deadline = timeout_ms >= 0 ? uv_hrtime() + (uint64_t)timeout_ms * 1000000u : 0;
    int rc = 0;
    while ((st->popped < goal || st->epm_popped < epm_goal) &&
           !(st->stopping && !st->thread_started)) {
        st->flush_waiting = true;
        uv_cond_signal(&st->wake);
        if (timeout_ms < 0) {
            uv_cond_wait(&st->done, &st->lock);
            continue;
        }
        uint64_t now = uv_hrtime();
        if (now >= deadline) {
            rc = PW_EBUSY;
            break;
        }
        (void)uv_cond_timedwait(&st->done, &st->lock, deadline - now);
    }
    st->flush_waiting = false;
    uv_mutex_unlock(&st->lock);
    return rc;
}

void pw_store_housekeep(struct pw_store *st)
{
    uv_mutex_lock(&st->lock);
    st->hk_requested = true;
    uv_cond_signal(&st->wake);
    uv_mutex_unlock(&st->lock);
}

void pw_store_health(struct pw_store *st, struct pw_store_health *out)
{
    uv_mutex_lock(&st->lock);
    *out = st->health;
    uv_mutex_unlock(&st->lock);
}

void pw_store_stats(struct pw_store *st, struct pw_store_stats *o)
{
    uv_mutex_lock(&st->lock);
    o->submitted = st->submitted;
    o->written = st->written;
    o->dropped = st->dropped;
    o->queued = st->qcount;
    o->queue_max = st->opt.queue_max;
    o->commits = st->commits;
    o->failed_commits = st->failed_commits;
    o->commit_last_us = st->commit_last_us;
    o->commit_max_us = st->commit_max_us;
    o->commit_avg_us = st->commit_avg_us;
    o->housekeep_deleted = st->hk_deleted;
    o->health = st->health;
    o->epm_written = st->epm_written;
    o->epm_dropped = st->epm_dropped;
    uv_mutex_unlock(&st->lock);
}

/* ---- target sync -------------------------------------------------------- */

static void roles_of(const struct pw_profile *pf, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < pf->nroles && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", pf->roles[i]);
}

/* Loads what the database knows of one target into a fresh slot. */
static int load_slot(struct pw_store *st, sqlite3_stmt *cur, sqlite3_stmt *out,
                     struct slot *sl, uint32_t id)
{
    memset(sl, 0, sizeof *sl);
    sl->id = id;
    for (int t = 0; t < NTIERS; t++)
        acc_reset(&sl->acc[t], -1);
    sqlite3_bind_int64(cur, 1, id);
    int rc = sqlite3_step(cur);
    if (rc == SQLITE_ROW) {
        sl->seen = sqlite3_column_type(cur, 0) != SQLITE_NULL;
        if (sqlite3_column_type(cur, 1) != SQLITE_NULL) {
            sl->run_id = sqlite3_column_int64(cur, 1);
            sl->state = sqlite3_column_int(cur, 2);
            sl->status = sqlite3_column_int(cur, 3);
            sl->ok = sqlite3_column_int(cur, 4);
            sl->run_first = sqlite3_column_int64(cur, 5);
            sl->run_last = sqlite3_column_int64(cur, 6);
            sl->count = (uint32_t)sqlite3_column_int64(cur, 7);
            sl->since_ms = sqlite3_column_int64(cur, 8);
            sl->fails_before = (uint32_t)sqlite3_column_int64(cur, 9);
            sl->latency_us = sqlite3_column_type(cur, 10) == SQLITE_NULL
                                 ? -1 : sqlite3_column_int64(cur, 10);
            /* A run from before v3 did not record verify: the next result
             * starts a run that does. */
            sl->verify = sqlite3_column_type(cur, 11) == SQLITE_NULL
                             ? -1 : sqlite3_column_int(cur, 11);
            const unsigned char *vi = sqlite3_column_text(cur, 12);
            snprintf(sl->verify_info, sizeof sl->verify_info, "%s",
                     vi ? (const char *)vi : "");
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(cur);
    if (rc != SQLITE_DONE)
        return rc;
    sqlite3_bind_int64(out, 1, id);
    rc = sqlite3_step(out);
    if (rc == SQLITE_ROW) {
        sl->out_id = sqlite3_column_int64(out, 0);
        sl->out_last_ms = sqlite3_column_int64(out, 1);
        sl->out_fails = (uint32_t)sqlite3_column_int64(out, 2);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(out);
    return rc == SQLITE_DONE ? 0 : rc;
}

static const char sync_upsert_sql[] =
    "INSERT INTO targets(host,port,roles,expect,sync_gen) VALUES(?1,?2,?3,?4,?5)"
    " ON CONFLICT(host,port) DO UPDATE SET roles=?3, expect=?4, sync_gen=?5,"
    " retired_ms=NULL";

int pw_store_sync_targets(struct pw_store *st, const struct pw_plan *plan,
                          uint32_t *ids_out)
{
    (void)pw_store_flush(st, 10000);
    struct slot *slots = calloc(plan->ntargets ? plan->ntargets : 1, sizeof *slots);
    struct undo *undo = calloc(plan->ntargets ? plan->ntargets : 1, sizeof *undo);
    if (!slots || !undo) {
        free(slots);
        free(undo);
        return PW_ENOMEM;
    }
    uv_mutex_lock(&st->db_lock);
    int gen = st->sync_gen + 1;
    sqlite3_stmt *up = NULL, *sel = NULL, *delr = NULL, *insr = NULL, *cur = NULL,
                 *out = NULL, *ret = NULL;
    int rc = SQLITE_OK;
#define PREP(v, sql) if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(st->db, sql, -1, &v, NULL)
    PREP(up, sync_upsert_sql);
    PREP(sel, "SELECT id, roles FROM targets WHERE host=? AND port=?");
    PREP(delr, "DELETE FROM target_roles WHERE target_id=?");
    PREP(insr, "INSERT OR IGNORE INTO target_roles(role,target_id) VALUES(?,?)");
    PREP(cur, "SELECT t.first_ms, r.id, r.state, r.status, r.ok, r.first_ms, r.last_ms,"
              " r.count, r.status_since_ms, r.fails_before, r.latency_us, r.verify,"
              " r.verify_info"
              " FROM targets t LEFT JOIN state_runs r ON r.id=t.cur_run WHERE t.id=?");
    PREP(out, "SELECT id, last_ms, fails FROM outages WHERE target_id=? AND end_ms IS NULL"
              " ORDER BY start_ms DESC LIMIT 1");
    PREP(ret, "SELECT o.id, o.last_ms FROM outages o JOIN targets t ON t.id=o.target_id"
              " WHERE o.end_ms IS NULL AND t.sync_gen<>?");
#undef PREP
    if (rc == SQLITE_OK)
        rc = step_done(st->stmt[S_BEGIN]);
    char roles[256];
    for (size_t i = 0; i < plan->ntargets && rc == SQLITE_OK; i++) {
        const struct pw_target *t = &plan->targets[i];
        const struct pw_profile *pf = pw_target_profile(plan, t);
        const char *host = plan->hosts[t->host].name;
        roles_of(pf, roles, sizeof roles);
        /* Roles are rewritten only when they changed: a reload of an
         * unchanged plan then costs one upsert per target. */
        sqlite3_bind_text(sel, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_int(sel, 2, t->port);
        bool same_roles = strlen(roles) + 1 < sizeof roles && /* not cut short */
                          sqlite3_step(sel) == SQLITE_ROW && sqlite3_column_text(sel, 1) &&
                          strcmp((const char *)sqlite3_column_text(sel, 1), roles) == 0;
        sqlite3_reset(sel);
        sqlite3_bind_text(up, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_int(up, 2, t->port);
        sqlite3_bind_text(up, 3, roles, -1, SQLITE_STATIC);
        sqlite3_bind_int(up, 4, pf->expect);
        sqlite3_bind_int(up, 5, gen);
        if ((rc = step_done(up)))
            break;
        sqlite3_bind_text(sel, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_int(sel, 2, t->port);
        rc = sqlite3_step(sel);
        uint32_t id = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(sel, 0) : 0;
        sqlite3_reset(sel);
        if (rc != SQLITE_ROW)
            break;
        rc = SQLITE_OK;
        if (!same_roles) {
            sqlite3_bind_int64(delr, 1, id);
            rc = step_done(delr);
            for (size_t k = 0; k < pf->nroles && !rc; k++) {
                sqlite3_bind_text(insr, 1, pf->roles[k], -1, SQLITE_STATIC);
                sqlite3_bind_int64(insr, 2, id);
                rc = step_done(insr);
            }
            if (rc)
                break;
        }
        if (!rc)
            rc = load_slot(st, cur, out, &slots[i], id);
        if (ids_out)
            ids_out[i] = id;
    }
    /* Retire the rest; an outage they had open ends with the coverage it
     * was last seen in (or now, if that is the current one). */
    int64_t now = st->cov.alive_ms > 0 ? st->cov.alive_ms : st->cov.prev_end_ms;
    if (now <= 0)
        now = wall_ms();
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(ret, 1, gen);
        while ((rc = sqlite3_step(ret)) == SQLITE_ROW) {
            struct slot tmp = {0};
            tmp.out_id = sqlite3_column_int64(ret, 0);
            tmp.out_last_ms = sqlite3_column_int64(ret, 1);
            tmp.out_fails = 0;
            char sql[160];
            snprintf(sql, sizeof sql, "UPDATE outages SET end_ms=%lld WHERE id=%lld",
                     (long long)outage_end(st, &tmp, now), (long long)tmp.out_id);
            if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
                rc = sqlite3_errcode(st->db);
                break;
            }
        }
        sqlite3_reset(ret);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc == SQLITE_OK) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "UPDATE targets SET retired_ms=%lld WHERE sync_gen<>%d AND retired_ms IS NULL",
                 (long long)now, gen);
        if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = sqlite3_errcode(st->db);
    }
    if (rc == SQLITE_OK)
        rc = step_done(st->stmt[S_COMMIT]);
    char emsg[PW_STORE_MSG_MAX];
    pw_store_why(st->db, rc, emsg, sizeof emsg);
    if (rc != SQLITE_OK)
        step_done(st->stmt[S_ROLLBACK]);
    sqlite3_finalize(up);
    sqlite3_finalize(sel);
    sqlite3_finalize(delr);
    sqlite3_finalize(insr);
    sqlite3_finalize(cur);
    sqlite3_finalize(out);
    sqlite3_finalize(ret);

    if (rc == SQLITE_OK) {
        free(st->slots);
        free(st->undo);
        st->slots = slots;
        st->undo = undo;
        st->nslots = (uint32_t)plan->ntargets;
        st->sync_gen = gen;
    } else {
        /* The caller decides what follows (stop, or keep the running plan). */
        slog(st, PW_STORE_LOG_ERROR, "cannot record the plan's %zu targets in %s: %s",
             plan->ntargets, st->path, emsg);
        free(slots);
        free(undo);
        free(st->slots);
        free(st->undo);
        st->slots = NULL;
        st->undo = NULL;
        st->nslots = 0;
    }
    uv_mutex_unlock(&st->db_lock);
    return rc == SQLITE_OK ? 0 : PW_ESTORAGE;
}

sqlite3 *pw_store_reader_lock(struct pw_store *st)
{
    uv_mutex_lock(&st->read_lock);
    return st->rdb;
}

void pw_store_reader_unlock(struct pw_store *st)
{
    uv_mutex_unlock(&st->read_lock);
}

const struct pw_store_options *pw_store_opts(struct pw_store *st)
{
    return &st->opt;
}
