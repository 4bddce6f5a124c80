/*
 * Internals shared by the store's files (the write side: store.c and the
 * files of writer_int.h; store_schema.c: schema and migrations;
 * store_query.c: the read side). Not for other modules.
 */
#ifndef PW_STORE_INT_H
#define PW_STORE_INT_H

#include "base/clock.h"
#include "store/store.h"

#include <sqlite3.h>

#define FINE_MS PW_STORE_FINE_MS

/* The bucket tiers, for the writer and the queries alike. */
enum { TIER_FINE, TIER_HOUR, TIER_DAY, NTIERS };
static const int64_t tier_ms[NTIERS] = {FINE_MS, PW_HOUR_MS, PW_DAY_MS};
static const char *const tier_table[NTIERS] = {"bucket_fine", "bucket_hour", "bucket_day"};

/* The oldest schema the queries read (they use state_runs.verify). */
#define PW_STORE_READ_MIN_VERSION 3

/* A migration step takes the database from version `to - 1` to `to`. */
struct pw_store_migration {
    int to;
    const char *sql;
};
const struct pw_store_migration *pw_store_migrations(size_t *n);
/* Brings the database to `target` (PW_STORE_SCHEMA_VERSION normally; tests
 * stop earlier to build old versions). Returns 0 or PW_ESTORAGE with err. */
int pw_store_migrate(sqlite3 *db, int target, char err[PW_STORE_MSG_MAX]);
/* WAL, synchronous=NORMAL, busy timeout, foreign keys; err names path. */
int pw_store_pragmas(sqlite3 *db, const char *path, int64_t busy_ms, char err[PW_STORE_MSG_MAX]);

/* ---- the file (store_file.c) ---- */
/* "permission denied (EACCES)" for an errno (POSIX) or GetLastError()
 * (Windows) value; "" for 0. */
void pw_store_os_error(int sys_errno, char *out, size_t len);
/* SQLite's message for db's last failure (rc when db has none) and the
 * operating system's error behind it, if any. */
void pw_store_why(sqlite3 *db, int rc, char *out, size_t len);
/* err = "DOING PATH: why: what to do" for a failure rc on db. */
void pw_store_failed(sqlite3 *db, int rc, const char *path, const char *doing,
                     char err[PW_STORE_MSG_MAX]);
/* sqlite3_open_v2 (with FULLMUTEX) whose failure message names the path,
 * the OS error and a missing directory; opened with READWRITE, a file
 * SQLite could only open read-only is refused too. 0 or PW_ESTORAGE. */
int pw_store_open_file(const char *path, int flags, sqlite3 **db, char err[PW_STORE_MSG_MAX]);
/* Takes the one-daemon lock of the database at path (PATH-lock), held
 * while *lock stays open. 0; PW_EBUSY when another process (or another
 * pw_store in this one) holds it, with "database PATH is in use by
 * portwatch (PID N)..." in err; PW_ESTORAGE or PW_EINVAL otherwise. */
int pw_store_lock(const char *path, sqlite3 **lock, char err[PW_STORE_MSG_MAX]);
/* Records this process as the holder in the database's daemon table. */
int pw_store_lock_record(sqlite3 *db, const char *path, char err[PW_STORE_MSG_MAX]);
/* PRAGMA quick_check, stopped after budget_ms (*unfinished then true,
 * returns 0). PW_ESTORAGE with err naming the path, the first problem and
 * what to do when the file is corrupt. */
int pw_store_check(sqlite3 *db, const char *path, int64_t budget_ms, bool *unfinished,
                   char err[PW_STORE_MSG_MAX]);
/* A quick_check or integrity_check row on one line, without the "***
 * in database main ***" heading. */
void pw_store_check_text(const char *row, char *out, size_t len);

/* The read connection, for store_query.c. Locked by the caller. */
sqlite3 *pw_store_reader_lock(struct pw_store *st);
void pw_store_reader_unlock(struct pw_store *st);
const struct pw_store_options *pw_store_opts(struct pw_store *st);

/* A UUID as the 16 bytes the store keeps: its text order (d1, d2, d3
 * big-endian, then d4), so stored values sort and compare like their text. */
void pw_store_uuid_pack(const struct pw_uuid *u, uint8_t b[16]);
void pw_store_uuid_unpack(const uint8_t b[16], struct pw_uuid *u);

#endif
