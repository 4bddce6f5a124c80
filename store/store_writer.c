/*
 * The store's writer thread: takes batches from the queue, writes them
 * (store_fold.c), backs off and reports health while writes fail, logs
 * drops, and runs retention (housekeeping) between batches.
 */
#include "store/writer_int.h"

#include "base/clock.h"
#include "base/error.h"
#include "config/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
        rc = sw_step_done(st->stmt[S_BEGIN]);
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
                rc = sw_step_done(del[t]);
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
        }
        if (rc == SQLITE_OK && got < (int)st->opt.housekeep_targets) {
            char sql[128];
            snprintf(sql, sizeof sql, "DELETE FROM target_gaps WHERE to_ms<%lld",
                     (long long)(now - st->opt.keep_events_ms));
            rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
            deleted += (uint64_t)sqlite3_changes(st->db);
            last = 0;
        }
        if (rc == SQLITE_OK)
            rc = sw_epm_housekeep(st, now - st->opt.keep_events_ms, &epm_cursor, &deleted);
        if (rc == SQLITE_OK)
            rc = sw_step_done(st->stmt[S_COMMIT]);
        if (rc != SQLITE_OK)
            sw_step_done(st->stmt[S_ROLLBACK]);
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
        ep->from_ms = hole ? hole : pw_wall_ms();
        ep->logged_ns = now;
        sw_log(st, PW_LOG_WARN, "results are dropped from now on: the queue of %u results is"
               " full while %s cannot be written; until it can, that time counts as not monitored",
               st->opt.queue_max, st->path);
    } else if (now - ep->logged_ns >= DROP_LOG_EVERY_NS) {
        char took[32];
        ep->logged_ns = now;
        pw_format_duration(pw_wall_ms() - ep->from_ms, took, sizeof took);
        sw_log(st, PW_LOG_WARN, "still dropping results: %llu in the last %s",
               (unsigned long long)ep->count, took);
    }
}

static void drops_ended(struct pw_store *st, struct drop_episode *ep, int64_t until_ms)
{
    if (!ep->from_ms)
        return;
    char took[32];
    pw_format_duration(until_ms > ep->from_ms ? until_ms - ep->from_ms : 0, took, sizeof took);
    sw_log(st, PW_LOG_INFO, "results are written again: %llu were dropped, and the %s of"
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

/* One batch as the writer takes it under st->lock: the first n queued
 * results, the endpoint-mapper reads waiting, and what to say of drops. */
struct batch {
    uint32_t n, head;
    int64_t hole, hb, last_at;
    bool hk;
    uint64_t dropped, epm_dropped;
    struct epm_read *epm;
    uint32_t nepm;
};

/* Waits (st->lock held) until there is work, coalescing small batches
 * unless someone waits for them, and takes the batch. */
static void take_batch(struct pw_store *st, struct batch *t)
{
    while (!st->stopping && st->qcount == 0 && st->hb_ms <= st->cov.alive_ms &&
           !st->gap.to_ms && !st->hk_requested && st->epm_nreads == 0 &&
           st->epm_dropped == st->epm_dropped_logged)
        uv_cond_wait(&st->wake, &st->lock);
    if (!st->stopping && !st->flush_waiting && st->qcount < st->opt.batch_max &&
        st->opt.commit_interval_ms > 0 && st->qcount > 0)
        cond_wait_ms(&st->wake, &st->lock, st->opt.commit_interval_ms);
    t->n = st->qcount < st->opt.batch_max ? st->qcount : st->opt.batch_max;
    t->head = st->qhead;
    t->hole = st->hole_ms;
    /* A heartbeat says "alive until now" only once every result before it
     * is written: applied to a batch that leaves a backlog (results that
     * waited out a full disk), it would jump coverage past them and turn
     * their whole stretch into a gap. */
    t->hb = t->n < st->qcount ? 0 : t->hole && st->hb_ms > t->hole ? t->hole : st->hb_ms;
    st->w_hole_ms = t->hole;
    if (st->gap.to_ms) {
        st->w_gap = st->gap;
        st->gap.to_ms = 0;
    }
    t->last_at = t->n ? st->q[(t->head + t->n - 1) % st->opt.queue_max].at_ms : 0;
    t->hk = st->hk_requested;
    t->dropped = st->dropped - st->dropped_logged;
    st->dropped_logged = st->dropped;
    t->epm = st->epm_head;
    t->nepm = st->epm_nreads;
    t->epm_dropped = st->epm_dropped - st->epm_dropped_logged;
    st->epm_dropped_logged = st->epm_dropped;
}

/* Pages in the WAL before it is copied back into the database, for a plan
 * of nslots targets. A second's batch dirties pages all over the state
 * runs and day buckets (a sweep spreads every host's ports over the
 * interval, and ids run host by host): at SQLite's 256 pages every commit
 * of a big plan was a checkpoint, each page copied back every second. A
 * WAL of a few commits copies it once per checkpoint; small plans keep
 * a WAL near 1 MiB (a small disk holds data, not an old log). */
static void wal_fit(struct pw_store *st)
{
    int64_t pages = (int64_t)st->nslots / 25, limit = pages * 4096 * 2;
    if (pages < 256)
        pages = 256; /* pw_store_pragmas' */
    if (limit < 4194304)
        limit = 4194304;
    if (pages == (st->wal_pages ? st->wal_pages : 256))
        return;
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%lld; PRAGMA journal_size_limit=%lld",
             (long long)pages, (long long)limit);
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        st->wal_pages = pages;
}

/* Writes the batch in one transaction (st->db_lock held), then a
 * housekeeping step when one is due. Submitters only append beyond
 * qhead+qcount, so the first n entries are stable without st->lock; at
 * most two segments. Returns an SQLite code, the message in msg on failure
 * (st->errbuf read under the lock); *us is the write's time. */
static int write_batch(struct pw_store *st, const struct batch *t, uint64_t *unknown,
                       int64_t *us, char msg[PW_STORE_MSG_MAX])
{
    uint64_t t0 = uv_hrtime();
    uint32_t n = t->n, head = t->head;
    uint32_t n1 = n < st->opt.queue_max - head ? n : st->opt.queue_max - head;
    int rc;
    wal_fit(st);
    if (n1 == n) {
        rc = sw_write_batch(st, st->q + head, n, t->hb, unknown, t->epm, t->nepm);
    } else {
        /* Wrapped: two transactions would let a crash split the batch
         * harmlessly, but one keeps the undo simple: copy. */
        struct pw_result *tmp = malloc(sizeof *tmp * n);
        if (!tmp) {
            rc = SQLITE_NOMEM;
        } else {
            memcpy(tmp, st->q + head, sizeof *tmp * n1);
            memcpy(tmp + n1, st->q, sizeof *tmp * (n - n1));
            rc = sw_write_batch(st, tmp, n, t->hb, unknown, t->epm, t->nepm);
            free(tmp);
        }
    }
    *us = (int64_t)((uv_hrtime() - t0) / 1000);
    if (rc == SQLITE_NOMEM)
        pw_store_failed(NULL, rc, st->path, "cannot write", st->errbuf);
    if (rc)
        snprintf(msg, PW_STORE_MSG_MAX, "%.400s (%u results waiting)", st->errbuf, t->n);
    if (!rc && (t->hk || (st->opt.housekeep_every_ms > 0 &&
                          st->cov.alive_ms - st->last_hk_ms >= st->opt.housekeep_every_ms))) {
        if (housekeep_step(st) == SQLITE_OK)
            st->last_hk_ms = st->cov.alive_ms;
    }
    return rc;
}

/* The health after a write (rc its SQLite code, msg its failure), and the
 * retry backoff. */
static void note_write(struct pw_store *st, int rc, char msg[PW_STORE_MSG_MAX], int64_t *backoff)
{
    if (rc == SQLITE_FULL) {
        /* The WAL only restarts after a checkpoint; on a full disk
         * that is what frees room for the retry. */
        uv_mutex_lock(&st->db_lock);
        (void)sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        uv_mutex_unlock(&st->db_lock);
    }
    if (!rc && !st->removed && file_removed(st->path)) {
        /* SQLite goes on writing to the deleted file, so nothing fails:
         * the history written from now on vanishes at the next start.
         * Say so until then, rather than look healthy. */
        st->removed = true;
        snprintf(msg, PW_STORE_MSG_MAX, "the database file %.120s was removed; what is written"
                 " now is lost when portwatch stops: restart it to start a new one",
                 st->path);
        sw_set_health(st, PW_STORE_DEGRADED, msg);
    }
    if (rc) {
        sw_set_health(st, PW_STORE_DEGRADED, msg);
        *backoff = *backoff ? *backoff * 2 : 50;
        if (*backoff > st->opt.retry_max_ms)
            *backoff = st->opt.retry_max_ms;
    } else if (!st->removed && (*backoff || st->health.state != PW_STORE_OK)) {
        *backoff = 0;
        sw_set_health(st, PW_STORE_OK, "");
    }
}

/* Pops the endpoint-mapper reads a written batch held (st->lock held);
 * returns them, for freeing outside the lock. */
static struct epm_read *pop_epm(struct pw_store *st, uint32_t nepm)
{
    if (!nepm)
        return NULL;
    struct epm_read *first = st->epm_head, *last = first;
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
    return first;
}

/* A written batch leaves the queue (st->lock held, released and taken
 * again around logging and freeing): counters, the hole behind us, the
 * commit times, and the waiters woken. */
static void pop_batch(struct pw_store *st, struct drop_episode *ep, const struct batch *t,
                      uint64_t unknown, int64_t us)
{
    /* Written past the hole, and nothing dropped since this batch was
     * taken (else a newer hole would be forgotten): it is behind us. */
    if (t->hole && t->last_at > t->hole && st->hole_ms == t->hole &&
        st->dropped == st->dropped_logged) {
        st->hole_ms = 0;
        uv_mutex_unlock(&st->lock);
        drops_ended(st, ep, t->last_at);
        uv_mutex_lock(&st->lock);
    }
    if (t->hk)
        st->hk_requested = false;
    st->qhead = (st->qhead + t->n) % st->opt.queue_max;
    st->qcount -= t->n;
    st->popped += t->n;
    st->written += t->n - unknown;
    st->dropped += unknown;
    st->dropped_logged += unknown; /* logged below, with their reason */
    struct epm_read *done_epm = pop_epm(st, t->nepm);
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
        sw_log(st, PW_LOG_WARN, "dropped %llu results for targets not in the synced plan",
               (unsigned long long)unknown);
        uv_mutex_lock(&st->lock);
    }
}

/* The writer's end: the coverage run closed clean, and what is left said. */
static void writer_end(struct pw_store *st)
{
    uv_mutex_lock(&st->db_lock);
    if (sw_step_done(st->stmt[S_BEGIN]) == 0) {
        if (st->cov.id && sw_cov_end(st, PW_RUN_CLEAN) == 0)
            sw_step_done(st->stmt[S_COMMIT]);
        else
            sw_step_done(st->stmt[S_ROLLBACK]);
    }
    uv_mutex_unlock(&st->db_lock);
    uv_mutex_lock(&st->lock);
    if (st->qcount)
        sw_log(st, PW_LOG_ERROR, "closing with %u results not written", st->qcount);
    if (st->epm_nreads)
        sw_log(st, PW_LOG_ERROR, "closing with %u RPC endpoint-mapper reads not written",
               st->epm_nreads);
    uv_cond_broadcast(&st->done);
    uv_mutex_unlock(&st->lock);
}

void sw_writer_main(void *arg)
{
    struct pw_store *st = arg;
    int64_t backoff = 0;
    uint64_t stop_deadline = 0;
    struct drop_episode ep = {0};

    uv_mutex_lock(&st->lock);
    for (;;) {
        struct batch t;
        take_batch(st, &t);
        if (st->stopping && !stop_deadline)
            stop_deadline = uv_hrtime() + 10000000000ull;
        uv_mutex_unlock(&st->lock);

        if (t.dropped)
            drops_noted(st, &ep, t.dropped, t.hole);
        if (t.epm_dropped)
            sw_log(st, PW_LOG_WARN,
                   "dropped %llu RPC endpoint-mapper reads: %d registrations already wait"
                   " to be written", (unsigned long long)t.epm_dropped, PW_STORE_EPM_QUEUE_MAX);
        uint64_t unknown = 0;
        int64_t us = 0;
        char msg[PW_STORE_MSG_MAX];
        uv_mutex_lock(&st->db_lock);
        int rc = write_batch(st, &t, &unknown, &us, msg);
        uv_mutex_unlock(&st->db_lock);
        note_write(st, rc, msg, &backoff);

        uv_mutex_lock(&st->lock);
        if (rc) {
            st->failed_commits++;
            if (st->stopping && uv_hrtime() > stop_deadline)
                break;
            backoff_wait(st, backoff);
            continue;
        }
        pop_batch(st, &ep, &t, unknown, us);
        if (st->stopping && st->qcount == 0 && st->epm_nreads == 0)
            break;
    }
    uv_mutex_unlock(&st->lock);
    writer_end(st);
}
