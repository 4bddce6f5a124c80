/*
 * Endpoint-mapper reads in the store: the queue entry point
 * (pw_store_epm_put), their write and retention on the writer side, and
 * the 16-byte UUID form they are kept in. The read back is
 * pw_store_epm_load (store_query.c).
 */
#include "store/writer_int.h"
#include "store/query_int.h"

#include "config/config.h"
#include "base/error.h"

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

/* ---- RPC endpoint mapper registrations ------------------------------------ */

static void uuid_col(sqlite3_stmt *s, int col, struct pw_uuid *u, bool *has)
{
    const void *b = sqlite3_column_blob(s, col);
    bool ok = b && sqlite3_column_bytes(s, col) == 16;
    if (ok)
        pw_store_uuid_unpack(b, u);
    else
        memset(u, 0, sizeof *u);
    if (has)
        *has = ok;
}

int pw_store_epm_load(struct pw_store *st, struct pw_store_epm_host **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = pw_store_reader_lock(st);
    sqlite3_stmt *s = NULL;
    /* The latest read's registrations are those last seen at its time. */
    if (sqlite3_prepare_v2(db, "SELECT h.id, h.host, h.looked_up_ms, e.id, e.object, e.iface,"
                               " e.vmajor, e.vminor, e.protseq, e.address, e.endpoint,"
                               " e.port, e.annotation, e.first_seen_ms, e.last_seen_ms"
                               " FROM epm_hosts h LEFT JOIN epm_entries e"
                               " ON e.host_id=h.id AND e.last_seen_ms=h.looked_up_ms"
                               " ORDER BY h.host, h.id, e.id",
                           -1, &s, NULL) != SQLITE_OK) {
        pw_store_reader_unlock(st);
        return PW_ESTORAGE;
    }
    struct pw_store_epm_host *v = NULL;
    size_t cap = 0, capr = 0, nh = 0;
    int64_t cur = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t hid = sqlite3_column_int64(s, 0);
        if (!nh || hid != cur) {
            struct pw_store_epm_host *nv = sq_grow(v, &cap, nh, sizeof *nv, 8);
            if (!nv) {
                rc = PW_ENOMEM;
                break;
            }
            v = nv;
            struct pw_store_epm_host *h = &v[nh++];
            memset(h, 0, sizeof *h);
            const unsigned char *name = sqlite3_column_text(s, 1);
            h->host = strdup(name ? (const char *)name : "");
            if (!h->host) {
                rc = PW_ENOMEM;
                break;
            }
            h->looked_up_ms = sqlite3_column_int64(s, 2);
            cur = hid;
            capr = 0;
        }
        if (sqlite3_column_type(s, 3) == SQLITE_NULL)
            continue; /* a read that found nothing registered */
        struct pw_store_epm_host *h = &v[nh - 1];
        struct pw_epm_registration *nr = sq_grow(h->v, &capr, h->n, sizeof *nr, 32);
        if (!nr) {
            rc = PW_ENOMEM;
            break;
        }
        h->v = nr;
        struct pw_epm_registration *r = &h->v[h->n++];
        memset(r, 0, sizeof *r);
        uuid_col(s, 4, &r->e.object, NULL);
        uuid_col(s, 5, &r->e.iface, &r->e.has_iface);
        r->e.vmajor = (uint16_t)sqlite3_column_int(s, 6);
        r->e.vminor = (uint16_t)sqlite3_column_int(s, 7);
        int ps = sqlite3_column_int(s, 8);
        r->e.protseq = ps >= 0 && ps < PW_EPM_PROTSEQ_COUNT_ ? (enum pw_epm_protseq)ps
                                                             : PW_EPM_UNKNOWN;
        sq_text_col(s, 9, r->e.address, sizeof r->e.address);
        sq_text_col(s, 10, r->e.endpoint, sizeof r->e.endpoint);
        r->e.port = (uint16_t)sqlite3_column_int(s, 11);
        sq_text_col(s, 12, r->e.annotation, sizeof r->e.annotation);
        r->first_seen_ms = sqlite3_column_int64(s, 13);
        r->last_seen_ms = sqlite3_column_int64(s, 14);
    }
    if (!rc && step != SQLITE_DONE)
        rc = PW_ESTORAGE;
    sqlite3_finalize(s);
    pw_store_reader_unlock(st);
    if (rc) {
        pw_store_epm_free(v, nh);
        return rc;
    }
    *out = v;
    *n = nh;
    return 0;
}

void pw_store_epm_free(struct pw_store_epm_host *h, size_t n)
{
    if (!h)
        return;
    for (size_t i = 0; i < n; i++) {
        free(h[i].host);
        free(h[i].v);
    }
    free(h);
}
