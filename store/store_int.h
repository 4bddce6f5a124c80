/*
 * Internals shared by the store's files (store.c: queue, writer thread and
 * aggregation; store_schema.c: schema and migrations; store_query.c: the
 * read side). Not for other modules.
 */
#ifndef PW_STORE_INT_H
#define PW_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>

#define FINE_MS 300000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* A migration step takes the database from version `to - 1` to `to`. */
struct pw_store_migration {
    int to;
    const char *sql;
};
const struct pw_store_migration *pw_store_migrations(size_t *n);
/* Brings the database to `target` (PW_STORE_SCHEMA_VERSION normally; tests
 * stop earlier to build old versions). Returns 0 or PW_ESTORAGE with err. */
int pw_store_migrate(sqlite3 *db, int target, char err[PW_STORE_MSG_MAX]);
/* WAL, synchronous=NORMAL, busy timeout, foreign keys. */
int pw_store_pragmas(sqlite3 *db, int64_t busy_ms, char err[PW_STORE_MSG_MAX]);

/* The read connection, for store_query.c. Locked by the caller. */
sqlite3 *pw_store_reader_lock(struct pw_store *st);
void pw_store_reader_unlock(struct pw_store *st);
const struct pw_store_options *pw_store_opts(struct pw_store *st);

/* A UUID as the 16 bytes the store keeps: its text order (d1, d2, d3
 * big-endian, then d4), so stored values sort and compare like their text. */
void pw_store_uuid_pack(const struct pw_uuid *u, uint8_t b[16]);
void pw_store_uuid_unpack(const uint8_t b[16], struct pw_uuid *u);

#endif
