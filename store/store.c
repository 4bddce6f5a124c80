/*
 * The write side of the history store, its lifecycle and queue API: open
 * and close, the bounded queue the loop thread fills through
 * pw_store_submit(), heartbeats, flush, health and stats. The writer thread
 * (store_writer.c) folds queued results into state runs, outages, buckets
 * and coverage (store_fold.c) and commits them in batched transactions.
 * The daemon owns one store; the web layer only reads (store_query.c).
 *
 * Results stay in the queue until the transaction that wrote them commits,
 * so a failed commit (disk full, locked, read-only) loses nothing: the
 * writer rolls back, restores the per-target state it changed (an undo log
 * of touched slots) and retries with backoff while health says degraded.
 * Only the queue bound drops results, counted and logged.
 *
 * Complete reads of RPC endpoint mappers (pw_store_epm_put, store_epm.c)
 * wait in a second, smaller FIFO and are written in the same transactions,
 * with the same keep-until-committed rule.
 */
#include "store/writer_int.h"

#include "base/clock.h"
#include "base/error.h"
#include "config/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* The daemon's cause of a gap overrides "stalled" and "storage" (a
     * pause is why the writes stopped, too), never a stop or a crash. */
    [S_GAP_CAUSE] = "UPDATE runs SET end_reason=?2 WHERE id=?1 AND end_reason IN (3,7)",
    [S_INS_TGAP] = "INSERT INTO target_gaps(target_id,from_ms,to_ms) VALUES(?,?,?)",
    [S_UPD_TGAP] = "UPDATE target_gaps SET to_ms=?2 WHERE id=?1",
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
    /* The same addition to a row this process has written already: no
     * conflict to detect, no parent target to check. */
#define ADD(t)                                                                 \
    "UPDATE " t " SET n0=n0+?3, n1=n1+?4, n2=n2+?5, n3=n3+?6, n4=n4+?7, n5=n5+?8," \
    " nfail=nfail+?9, lat_n=lat_n+?10,"                                          \
    " lat_min=min(coalesce(lat_min,?11),coalesce(?11,lat_min)),"                 \
    " lat_max=max(coalesce(lat_max,?13),coalesce(?13,lat_max)),"                 \
    " lat_sum=coalesce(lat_sum,0)+coalesce(?12,0) WHERE target_id=?1 AND b=?2"
    [S_BUCKET_ADD0] = ADD("bucket_fine"),
    [S_BUCKET_ADD1] = ADD("bucket_hour"),
    [S_BUCKET_ADD2] = ADD("bucket_day"),
#undef ADD
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

#if defined(__GNUC__)
PW_PRINTF(3, 4)
#endif
void sw_log(struct pw_store *st, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_vlog_to(st->opt.log, st->opt.log_ud, "store", level, fmt, ap);
    va_end(ap);
}

void sw_set_health(struct pw_store *st, enum pw_store_state state, const char *msg)
{
    uv_mutex_lock(&st->lock);
    bool changed = st->health.state != state;
    if (changed)
        st->health.since_ms = pw_wall_ms();
    st->health.state = state;
    snprintf(st->health.message, sizeof st->health.message, "%s", msg);
    uv_mutex_unlock(&st->lock);
    if (changed && state == PW_STORE_DEGRADED)
        sw_log(st, PW_LOG_ERROR, "history store degraded: %s", msg);
    else if (changed)
        sw_log(st, PW_LOG_INFO, "history store recovered");
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
    /* The start-up check's budget is a part of start-up to serving (at
     * most 3 s for a year of 100,000 targets, issue 21): about 120 MB is
     * checked in it with a warm cache; a larger file opens unchecked. */
    if (!o->check_ms) o->check_ms = 1000;
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
        /* NOMUTEX: only the writer thread, or a caller holding db_lock,
         * uses this connection, so SQLite's own lock around every call (a
         * dozen binds per statement, 200,000 statements a sweep at
         * 100,000 targets) buys nothing. */
        rc = pw_store_open_file(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                SQLITE_OPEN_NOMUTEX, &st->db, err);
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
        sw_log(st, PW_LOG_WARN, "the check of %s did not finish within %lld ms; opened"
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
            sw_log(st, PW_LOG_WARN,
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
        if (uv_thread_create(&st->thread, sw_writer_main, st) != 0) {
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
        now_ms = pw_wall_ms();
    uv_mutex_lock(&st->lock);
    if (now_ms > st->hb_ms) {
        st->hb_ms = now_ms;
        uv_cond_signal(&st->wake);
    }
    uv_mutex_unlock(&st->lock);
}

void pw_store_gap(struct pw_store *st, int64_t from_ms, int64_t to_ms,
                  enum pw_store_run_end cause)
{
    if (to_ms <= from_ms || cause < PW_RUN_STALL || cause >= PW_RUN_END_COUNT_)
        return;
    uv_mutex_lock(&st->lock);
    st->gap = (struct gap_note){from_ms, to_ms, cause};
    uv_cond_signal(&st->wake);
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
