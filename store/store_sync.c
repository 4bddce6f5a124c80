/*
 * Target sync: matches the plan's targets with the database's rows and
 * loads each target's writer state (open run, outage, buckets) into a slot.
 */
#include "store/writer_int.h"

#include "base/clock.h"
#include "base/error.h"
#include "config/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    for (int t = 0; t < NTIERS; t++) {
        sw_acc_reset(&sl->acc[t], -1);
        sl->acc[t].maybe_db = true;
    }
    sqlite3_bind_int64(cur, 1, id);
    int rc = sqlite3_step(cur);
    if (rc == SQLITE_ROW) {
        sl->seen = sqlite3_column_type(cur, 0) != SQLITE_NULL;
        if (sqlite3_column_type(cur, 1) != SQLITE_NULL) {
            sl->run_id = sqlite3_column_int64(cur, 1);
            sl->state = (int8_t)sqlite3_column_int(cur, 2);
            sl->status = (int8_t)sqlite3_column_int(cur, 3);
            sl->ok = sqlite3_column_int(cur, 4);
            sl->run_last = sqlite3_column_int64(cur, 6);
            sl->count = (uint32_t)sqlite3_column_int64(cur, 7);
            sl->since_ms = sqlite3_column_int64(cur, 8);
            sl->fails_before = (uint32_t)sqlite3_column_int64(cur, 9);
            sl->latency_us = sqlite3_column_type(cur, 10) == SQLITE_NULL
                                 ? -1 : sqlite3_column_int64(cur, 10);
            /* A run from before v3 did not record verify: the next result
             * starts a run that does. */
            sl->verify = (int8_t)(sqlite3_column_type(cur, 11) == SQLITE_NULL
                                      ? -1 : sqlite3_column_int(cur, 11));
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

/* The statements of one sync. */
struct sync_stmts {
    sqlite3_stmt *up, *sel, *delr, *insr, *cur, *out, *ret;
};

static int sync_prepare(sqlite3 *db, struct sync_stmts *q)
{
    int rc = SQLITE_OK;
#define PREP(v, sql) if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql, -1, &q->v, NULL)
    PREP(up, sync_upsert_sql);
    PREP(sel, "SELECT id, roles FROM targets WHERE host=? AND port=?");
    PREP(delr, "DELETE FROM target_roles WHERE target_id=?");
    PREP(insr, "INSERT OR IGNORE INTO target_roles(role,target_id) VALUES(?,?)");
    PREP(cur, "SELECT t.first_ms, r.id, r.state, r.status, r.ok, r.first_ms, r.last_ms,"
              " r.count, r.status_since_ms, r.fails_before, r.latency_us, r.verify,"
              " r.verify_info"
              " FROM targets t LEFT JOIN state_runs r ON r.id=t.cur_run WHERE t.id=?");
    /* The open outage through the index of open ones: by its choice SQLite
     * took (target_id, start_ms) for the ORDER BY and read every outage of
     * the target, 2 s of start-up with a year of 100,000 targets. */
    PREP(out, "SELECT id, last_ms, fails FROM outages INDEXED BY outages_open"
              " WHERE target_id=? AND end_ms IS NULL ORDER BY start_ms DESC LIMIT 1");
    PREP(ret, "SELECT o.id, o.last_ms FROM outages o JOIN targets t ON t.id=o.target_id"
              " WHERE o.end_ms IS NULL AND t.sync_gen<>?");
#undef PREP
    return rc;
}

static void sync_finalize(struct sync_stmts *q)
{
    sqlite3_finalize(q->up);
    sqlite3_finalize(q->sel);
    sqlite3_finalize(q->delr);
    sqlite3_finalize(q->insr);
    sqlite3_finalize(q->cur);
    sqlite3_finalize(q->out);
    sqlite3_finalize(q->ret);
}

/* Plan target i upserted as generation gen, its roles rewritten when they
 * changed, its writer state loaded into sl; *id its row. Returns an SQLite
 * code (SQLITE_OK). */
static int sync_one(struct pw_store *st, struct sync_stmts *q, const struct pw_plan *plan,
                    size_t i, int gen, struct slot *sl, uint32_t *id)
{
    const struct pw_target *t = &plan->targets[i];
    const struct pw_profile *pf = pw_target_profile(plan, t);
    const char *host = plan->hosts[t->host].name;
    char roles[256];
    roles_of(pf, roles, sizeof roles);
    /* Roles are rewritten only when they changed: a reload of an
     * unchanged plan then costs one upsert per target. */
    sqlite3_bind_text(q->sel, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_int(q->sel, 2, t->port);
    bool same_roles = strlen(roles) + 1 < sizeof roles && /* not cut short */
                      sqlite3_step(q->sel) == SQLITE_ROW && sqlite3_column_text(q->sel, 1) &&
                      strcmp((const char *)sqlite3_column_text(q->sel, 1), roles) == 0;
    sqlite3_reset(q->sel);
    sqlite3_bind_text(q->up, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_int(q->up, 2, t->port);
    sqlite3_bind_text(q->up, 3, roles, -1, SQLITE_STATIC);
    sqlite3_bind_int(q->up, 4, pf->expect);
    sqlite3_bind_int(q->up, 5, gen);
    int rc = sw_step_done(q->up);
    if (rc)
        return rc;
    sqlite3_bind_text(q->sel, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_int(q->sel, 2, t->port);
    rc = sqlite3_step(q->sel);
    *id = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(q->sel, 0) : 0;
    sqlite3_reset(q->sel);
    if (rc != SQLITE_ROW)
        return rc;
    rc = SQLITE_OK;
    if (!same_roles) {
        sqlite3_bind_int64(q->delr, 1, *id);
        rc = sw_step_done(q->delr);
        for (size_t k = 0; k < pf->nroles && !rc; k++) {
            sqlite3_bind_text(q->insr, 1, pf->roles[k], -1, SQLITE_STATIC);
            sqlite3_bind_int64(q->insr, 2, *id);
            rc = sw_step_done(q->insr);
        }
        if (rc)
            return rc;
    }
    return load_slot(st, q->cur, q->out, sl, *id);
}

/* Retires the targets not of generation gen; an outage they had open ends
 * with the coverage it was last seen in (or now, if that is the current
 * one). Returns an SQLite code (SQLITE_OK). */
static int retire_rest(struct pw_store *st, struct sync_stmts *q, int gen)
{
    int64_t now = st->cov.alive_ms > 0 ? st->cov.alive_ms : st->cov.prev_end_ms;
    if (now <= 0)
        now = pw_wall_ms();
    int rc;
    char sql[160];
    sqlite3_bind_int(q->ret, 1, gen);
    while ((rc = sqlite3_step(q->ret)) == SQLITE_ROW) {
        struct slot tmp = {0};
        tmp.out_id = sqlite3_column_int64(q->ret, 0);
        tmp.out_last_ms = sqlite3_column_int64(q->ret, 1);
        tmp.out_fails = 0;
        snprintf(sql, sizeof sql, "UPDATE outages SET end_ms=%lld WHERE id=%lld",
                 (long long)sw_outage_end(st, &tmp, now), (long long)tmp.out_id);
        if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = sqlite3_errcode(st->db);
            break;
        }
    }
    sqlite3_reset(q->ret);
    if (rc != SQLITE_DONE)
        return rc;
    snprintf(sql, sizeof sql,
             "UPDATE targets SET retired_ms=%lld WHERE sync_gen<>%d AND retired_ms IS NULL",
             (long long)now, gen);
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sqlite3_errcode(st->db);
    return SQLITE_OK;
}

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
    struct sync_stmts q = {0};
    int rc = sync_prepare(st->db, &q);
    if (rc == SQLITE_OK)
        rc = sw_step_done(st->stmt[S_BEGIN]);
    for (size_t i = 0; i < plan->ntargets && rc == SQLITE_OK; i++) {
        uint32_t id = 0;
        rc = sync_one(st, &q, plan, i, gen, &slots[i], &id);
        if (ids_out)
            ids_out[i] = id;
    }
    if (rc == SQLITE_OK)
        rc = retire_rest(st, &q, gen);
    if (rc == SQLITE_OK)
        rc = sw_step_done(st->stmt[S_COMMIT]);
    char emsg[PW_STORE_MSG_MAX];
    pw_store_why(st->db, rc, emsg, sizeof emsg);
    if (rc != SQLITE_OK)
        sw_step_done(st->stmt[S_ROLLBACK]);
    sync_finalize(&q);

    if (rc == SQLITE_OK) {
        free(st->slots);
        free(st->undo);
        st->slots = slots;
        st->undo = undo;
        st->nslots = (uint32_t)plan->ntargets;
        st->sync_gen = gen;
    } else {
        /* The caller decides what follows (stop, or keep the running plan). */
        sw_log(st, PW_LOG_ERROR, "cannot record the plan's %zu targets in %s: %s",
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
