/*
 * Endpoint-mapper reads in the store: the queue entry point
 * (pw_store_epm_put), their write and retention on the writer side, and
 * the 16-byte UUID form they are kept in. The read back is
 * pw_store_epm_load (store_query.c).
 */
#include "store/writer_int.h"

#include "config/config.h"
#include "config/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
int sw_epm_write(struct pw_store *st, const struct epm_read *rd)
{
    sqlite3_stmt *s = st->stmt[S_EPM_HOST];
    sqlite3_bind_text(s, 1, rd->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, rd->at_ms);
    int rc = sw_step_done(s);
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
        if ((rc = sw_step_done(s)))
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
/* Registrations not seen since cut, of the next few mapper hosts after
 * *cursor (0 again after the last), and hosts whose latest read is older
 * (all their registrations are). Inside the caller's transaction. */
int sw_epm_housekeep(struct pw_store *st, int64_t cut, int64_t *cursor, uint64_t *deleted)
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
                rc = sw_step_done(s[i]);
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
