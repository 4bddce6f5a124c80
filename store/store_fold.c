/*
 * Folding results into the store's write-side state: state runs, outages,
 * the fine/hour/day buckets and coverage, and the batch write that commits
 * them in one transaction (with the undo log that restores the in-memory
 * state when a commit fails).
 */
#include "store/writer_int.h"

#include "config/config.h"
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sparse tiers store a bucket only when it is not quiet. */
static const bool tier_sparse[NTIERS] = {true, true, false};

/* ---- per-result folding ------------------------------------------------ */

void sw_acc_reset(struct acc *a, int64_t b)
{
    memset(a, 0, sizeof *a);
    a->b = b;
    a->quiet = true;
    a->first_state = -1;
}

static void acc_add(struct acc *a, const struct pw_result *r)
{
    int s = (int)r->state;
    a->n[s]++;
    if (!r->ok)
        a->nfail++;
    if (a->first_state < 0)
        a->first_state = (int8_t)s;
    if (!r->ok || s != a->first_state)
        a->quiet = false;
    if (r->latency_us >= 0) {
        if (!a->has_lat || r->latency_us < a->lat_min)
            a->lat_min = r->latency_us;
        if (!a->has_lat || r->latency_us > a->lat_max)
            a->lat_max = r->latency_us;
        a->has_lat = true;
        a->lat_sum += r->latency_us;
        a->lat_n++;
    }
}

/* Whether the bucket has results not in the database yet. */
static bool acc_pending(const struct acc *a)
{
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        if (a->n[i])
            return true;
    return false;
}

int sw_step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Binds what of a is not in the database yet to s's parameters 1..13
 * (target, bucket, six state counts, fails, latency n/min/sum/max). */
static void acc_bind(sqlite3_stmt *s, uint32_t id, const struct acc *a)
{
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, a->b);
    for (int i = 0; i < PW_STATE_COUNT_; i++)
        sqlite3_bind_int64(s, 3 + i, a->n[i]);
    sqlite3_bind_int64(s, 9, a->nfail);
    sqlite3_bind_int64(s, 10, a->lat_n);
    if (a->lat_n > 0) {
        sqlite3_bind_int64(s, 11, a->lat_min);
        sqlite3_bind_int64(s, 12, a->lat_sum);
        sqlite3_bind_int64(s, 13, a->lat_max);
    } else {
        sqlite3_bind_null(s, 11);
        sqlite3_bind_null(s, 12);
        sqlite3_bind_null(s, 13);
    }
}

/* Writes what of the bucket is not in the database yet, if the tier keeps
 * it. A bucket this process wrote before is added to with a plain UPDATE
 * (the upsert also tries the insert and checks the parent target); the
 * upsert still runs when the row was not there (first write, or
 * housekeeping removed it). Returns 0 or an SQLite error code. */
static int acc_write(struct pw_store *st, int tier, uint32_t id, struct acc *a)
{
    if (a->b < 0 || !acc_pending(a))
        return 0;
    if (tier_sparse[tier] && a->quiet && !a->maybe_db)
        return 0;
    int rc = 0, changed = 0;
    if (a->in_db || a->maybe_db) {
        sqlite3_stmt *s = st->stmt[S_BUCKET_ADD0 + tier];
        acc_bind(s, id, a);
        rc = sw_step_done(s);
        changed = rc ? 0 : sqlite3_changes(st->db);
    }
    if (!rc && a->maybe_db) {
        /* A quiet bucket whose row a previous process wrote: that row is
         * what the reader counts, so it takes these results too; one with
         * no row stays unstored (the reader counts it from the runs). */
        a->maybe_db = false;
        if (changed)
            a->quiet = false;
        else if (tier_sparse[tier] && a->quiet)
            return 0;
    }
    if (!rc && !changed) {
        sqlite3_stmt *s = st->stmt[S_BUCKET0 + tier];
        acc_bind(s, id, a);
        rc = sw_step_done(s);
    }
    if (rc)
        return rc;
    memset(a->n, 0, sizeof a->n);
    a->nfail = a->lat_n = 0;
    a->lat_sum = 0;
    a->in_db = true;
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
    int rc = sw_step_done(s);
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
    int rc = sw_step_done(s);
    if (!rc)
        sl->out_dirty = false;
    return rc;
}

/* Where an outage ends when the recovery is seen: at the recovering result,
 * unless the outage was last seen down before the current coverage segment
 * began; then nobody watched the recovery and it ends with the coverage in
 * which it was last seen. */
int64_t sw_outage_end(const struct pw_store *st, const struct slot *sl, int64_t at)
{
    if (sl->out_last_ms < st->cov.start_ms) {
        int64_t e = st->cov.prev_end_ms;
        return e > sl->out_last_ms ? e : sl->out_last_ms;
    }
    return at;
}

int sw_cov_end(struct pw_store *st, enum pw_store_run_end how)
{
    if (!st->cov.id)
        return 0;
    sqlite3_stmt *s = st->stmt[S_END_COV];
    sqlite3_bind_int64(s, 1, st->cov.id);
    sqlite3_bind_int64(s, 2, st->cov.alive_ms);
    sqlite3_bind_int(s, 3, how);
    int rc = sw_step_done(s);
    if (!rc) {
        st->cov.prev_end_ms = st->cov.alive_ms;
        st->cov.prev_id = st->cov.id;
        st->cov.id = 0;
        st->cov.dirty = false;
    }
    return rc;
}

/* Whether the daemon's gap g is the one after a run that ended at end_ms:
 * its last beat (g->from_ms) came at most gap_ms after the run's last
 * sign of life. */
static bool gap_follows(const struct pw_store *st, const struct gap_note *g, int64_t end_ms)
{
    return g->to_ms && end_ms <= g->to_ms && end_ms >= g->from_ms - st->opt.gap_ms;
}

/* Why nothing was heard from the coverage row's last sign of life until t:
 * the daemon's word when it has measured that gap, dropped results when
 * the hole began before t, otherwise not known. */
static enum pw_store_run_end gap_cause(struct pw_store *st, int64_t t)
{
    if (gap_follows(st, &st->w_gap, st->cov.alive_ms)) {
        enum pw_store_run_end cause = st->w_gap.cause;
        st->w_gap.to_ms = 0;
        return cause;
    }
    return st->w_hole_ms && st->w_hole_ms <= t ? PW_RUN_STORAGE : PW_RUN_STALL;
}

/* The daemon's cause for a gap the writer already closed as "stalled"
 * (results after the gap were written before the daemon's word came). A
 * word for a gap never seen here is dropped once coverage is a minute
 * past it. */
static int gap_cause_late(struct pw_store *st)
{
    struct gap_note *g = &st->w_gap;
    if (!g->to_ms)
        return 0;
    if (st->cov.prev_id && gap_follows(st, g, st->cov.prev_end_ms)) {
        sqlite3_stmt *s = st->stmt[S_GAP_CAUSE];
        sqlite3_bind_int64(s, 1, st->cov.prev_id);
        sqlite3_bind_int(s, 2, g->cause);
        int rc = sw_step_done(s);
        if (!rc)
            g->to_ms = 0;
        return rc;
    }
    if (st->cov.alive_ms > g->to_ms + 60000)
        g->to_ms = 0;
    return 0;
}

/* The monitor is alive at t: extends the coverage row, or ends it (with
 * the gap's cause) and opens a new one when nothing was heard for gap_ms. */
static int note_alive(struct pw_store *st, int64_t t)
{
    int rc;
    if (st->cov.id && t - st->cov.alive_ms > st->opt.gap_ms) {
        if ((rc = sw_cov_end(st, gap_cause(st, t))))
            return rc;
    }
    if (!st->cov.id) {
        sqlite3_stmt *s = st->stmt[S_INS_COV];
        sqlite3_bind_int64(s, 1, t);
        sqlite3_bind_int64(s, 2, t);
        if ((rc = sw_step_done(s)))
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

/* r starts a new state run for sl: the open one is flushed, the new one
 * inserted and made the target's current run. */
static int fold_new_run(struct pw_store *st, struct slot *sl, const struct pw_result *r,
                        int verify, size_t vlen)
{
    int rc = run_flush(st, sl);
    if (rc)
        return rc;
    int64_t at = r->at_ms;
    int state = (int)r->state, status = (int)r->status;
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
    if ((rc = sw_step_done(s)))
        return rc;
    sl->run_id = sqlite3_last_insert_rowid(st->db);
    s = st->stmt[S_TGT_CUR];
    sqlite3_bind_int64(s, 1, sl->id);
    sqlite3_bind_int64(s, 2, sl->run_id);
    if ((rc = sw_step_done(s)))
        return rc;
    sl->state = (int8_t)state;
    sl->status = (int8_t)status;
    sl->verify = (int8_t)verify;
    memcpy(sl->verify_info, r->verify_info, vlen);
    sl->verify_info[vlen] = 0;
    sl->ok = r->ok;
    sl->run_last = at;
    sl->count = 1;
    sl->since_ms = since;
    sl->fails_before = fails_before;
    sl->latency_us = r->latency_us;
    sl->run_dirty = false;
    return 0;
}

/* Outages: opened by the first DOWN result, closed by the first UP one;
 * UNKNOWN (an engine that was not seeded) neither opens nor closes. */
static int fold_outage(struct pw_store *st, struct slot *sl, const struct pw_result *r)
{
    int64_t at = r->at_ms;
    int rc;
    if (r->status == PW_STATUS_DOWN) {
        if (!sl->out_id) {
            sqlite3_stmt *s = st->stmt[S_INS_OUT];
            sqlite3_bind_int64(s, 1, sl->id);
            sqlite3_bind_int64(s, 2, at);
            sqlite3_bind_int64(s, 3, at);
            sqlite3_bind_int(s, 4, (int)r->state);
            sqlite3_bind_int64(s, 5, r->ok ? 0 : 1);
            sqlite3_bind_text(s, 6, r->detail, (int)strnlen(r->detail, PW_DETAIL_MAX),
                              SQLITE_TRANSIENT);
            if ((rc = sw_step_done(s)))
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
        if ((rc = outage_write(st, sl, sw_outage_end(st, sl, r->at_ms))))
            return rc;
        sl->out_id = 0;
    }
    return 0;
}

/* r counted in each tier's bucket, a finished bucket written first. */
static int fold_buckets(struct pw_store *st, struct slot *sl, const struct pw_result *r)
{
    for (int t = 0; t < NTIERS; t++) {
        struct acc *a = &sl->acc[t];
        int64_t b = r->at_ms / tier_ms[t];
        if (a->b != b) {
            if (b < a->b)
                continue; /* a result older than the bucket: counted in runs only */
            int rc = acc_write(st, t, sl->id, a);
            if (rc)
                return rc;
            bool maybe_db = a->b < 0 && a->maybe_db; /* the first since load */
            sw_acc_reset(a, b);
            a->maybe_db = maybe_db;
        }
        acc_add(a, r);
    }
    return 0;
}

/* Lateness that returns within this long of the last gap's end extends
 * it: a target that misses most of its dues (a timeout far over its
 * interval) keeps one row, not one per probe. */
#define TARGET_GAP_MERGE_MS 5000

/* The target was not monitored over [from, to): due and not probed. */
static int target_gap(struct pw_store *st, struct slot *sl, int64_t from, int64_t to)
{
    sqlite3_stmt *s;
    if (sl->gap_id && from - sl->gap_to_ms <= TARGET_GAP_MERGE_MS) {
        s = st->stmt[S_UPD_TGAP];
        sqlite3_bind_int64(s, 1, sl->gap_id);
        sqlite3_bind_int64(s, 2, to);
    } else {
        s = st->stmt[S_INS_TGAP];
        sqlite3_bind_int64(s, 1, sl->id);
        sqlite3_bind_int64(s, 2, from);
        sqlite3_bind_int64(s, 3, to);
    }
    int rc = sw_step_done(s);
    if (rc)
        return rc;
    if (s == st->stmt[S_INS_TGAP])
        sl->gap_id = sqlite3_last_insert_rowid(st->db);
    sl->gap_to_ms = to;
    return 0;
}

static int fold(struct pw_store *st, struct slot *sl, const struct pw_result *r)
{
    int rc;
    int verify = (unsigned)r->verify < PW_VERIFY_COUNT_ ? (int)r->verify : PW_VERIFY_NONE;
    size_t vlen = strnlen(r->verify_info, PW_VERIFY_INFO_MAX - 1);

    if (!sl->seen) {
        sqlite3_stmt *s = st->stmt[S_TGT_FIRST];
        sqlite3_bind_int64(s, 1, sl->id);
        sqlite3_bind_int64(s, 2, r->at_ms);
        if ((rc = sw_step_done(s)))
            return rc;
        sl->seen = true;
    }
    if (r->late_since_ms > 0 && r->late_since_ms < r->at_ms &&
        (rc = target_gap(st, sl, r->late_since_ms, r->at_ms)))
        return rc;
    /* state run: a change of the protocol exchange's outcome (verified to
     * mismatch on a port still open) is a change worth its own run; its
     * text (a version) is not, so a steady target keeps one run. */
    if (sl->run_id && sl->state == (int)r->state && sl->status == (int)r->status &&
        sl->verify == verify) {
        sl->run_last = r->at_ms;
        sl->count++;
        sl->latency_us = r->latency_us;
        memcpy(sl->verify_info, r->verify_info, vlen);
        sl->verify_info[vlen] = 0;
        sl->run_dirty = true;
    } else if ((rc = fold_new_run(st, sl, r, verify, vlen))) {
        return rc;
    }
    if ((rc = fold_outage(st, sl, r)))
        return rc;
    return fold_buckets(st, sl, r);
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
/* One transaction over r[0..n), the first nepm endpoint-mapper reads from
 * epm, plus an optional heartbeat. Returns 0 or an SQLite error code; on
 * error every in-memory change is undone. */
int sw_write_batch(struct pw_store *st, const struct pw_result *r, size_t n,
                   int64_t hb, uint64_t *unknown, const struct epm_read *epm,
                   uint32_t nepm)
{
    struct cover cov0 = st->cov;
    struct gap_note gap0 = st->w_gap;
    int rc = sw_step_done(st->stmt[S_BEGIN]);
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
        rc = sw_epm_write(st, epm);
        if (i + 1 < nepm)
            epm = epm->next;
    }
    if (!rc && hb > 0)
        rc = note_alive(st, hb);
    if (!rc)
        rc = gap_cause_late(st);
    if (!rc && st->cov.id && st->cov.dirty) {
        sqlite3_stmt *s = st->stmt[S_UPD_COV];
        sqlite3_bind_int64(s, 1, st->cov.id);
        sqlite3_bind_int64(s, 2, st->cov.alive_ms);
        if (!(rc = sw_step_done(s)))
            st->cov.dirty = false;
    }
    if (!rc)
        rc = sw_step_done(st->stmt[S_COMMIT]);
    if (rc) {
        pw_store_failed(st->db, rc, st->path, "cannot write", st->errbuf);
        sw_step_done(st->stmt[S_ROLLBACK]);
        undo_restore(st);
        st->cov = cov0;
        st->w_gap = gap0;
        return rc;
    }
    undo_clear(st);
    return 0;
}
