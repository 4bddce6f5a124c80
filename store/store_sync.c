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
    for (int t = 0; t < NTIERS; t++)
        sw_acc_reset(&sl->acc[t], -1);
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
        rc = sw_step_done(st->stmt[S_BEGIN]);
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
        if ((rc = sw_step_done(up)))
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
            rc = sw_step_done(delr);
            for (size_t k = 0; k < pf->nroles && !rc; k++) {
                sqlite3_bind_text(insr, 1, pf->roles[k], -1, SQLITE_STATIC);
                sqlite3_bind_int64(insr, 2, id);
                rc = sw_step_done(insr);
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
        now = pw_wall_ms();
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(ret, 1, gen);
        while ((rc = sqlite3_step(ret)) == SQLITE_ROW) {
            struct slot tmp = {0};
            tmp.out_id = sqlite3_column_int64(ret, 0);
            tmp.out_last_ms = sqlite3_column_int64(ret, 1);
            tmp.out_fails = 0;
            char sql[160];
            snprintf(sql, sizeof sql, "UPDATE outages SET end_ms=%lld WHERE id=%lld",
                     (long long)sw_outage_end(st, &tmp, now), (long long)tmp.out_id);
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
        rc = sw_step_done(st->stmt[S_COMMIT]);
    char emsg[PW_STORE_MSG_MAX];
    pw_store_why(st->db, rc, emsg, sizeof emsg);
    if (rc != SQLITE_OK)
        sw_step_done(st->stmt[S_ROLLBACK]);
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
