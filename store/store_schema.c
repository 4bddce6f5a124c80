/*
 * The store's schema and its forward migrations. The database's version is
 * PRAGMA user_version; each row of `steps` takes it one version further, so
 * a later schema adds a row and never edits an earlier one (databases in
 * the field were built by those rows). pw_store_open() runs every step from
 * the file's version to PW_STORE_SCHEMA_VERSION in one transaction each;
 * tests run them from every earlier version.
 */
#include "store/store_int.h"

#include "base/error.h"

#include <stdio.h>

/* n0..n5 count results by enum pw_state (probes/probe.h): a seventh state
 * needs a column, a migration and the queries' sums. */
_Static_assert(PW_STATE_COUNT_ == 6, "bucket columns n0..n5 are one per enum pw_state");

/* v1. Times are ms since the epoch (UTC) except bucket numbers `b`, which
 * are floor(ms / bucket size) to keep the dense day tier small. */
static const char v1_sql[] =
    "CREATE TABLE targets("
    " id INTEGER PRIMARY KEY,"
    " host TEXT NOT NULL COLLATE NOCASE,"
    " port INTEGER NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " expect INTEGER NOT NULL DEFAULT 0,"
    " first_ms INTEGER,"
    " retired_ms INTEGER,"
    " cur_run INTEGER,"          /* latest state_runs.id */
    " sync_gen INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(host, port));"
    "CREATE TABLE target_roles("
    " role TEXT NOT NULL,"
    " target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,"
    " PRIMARY KEY(role, target_id)) WITHOUT ROWID;"
    "CREATE TABLE runs("
    " id INTEGER PRIMARY KEY,"
    " started_ms INTEGER NOT NULL,"
    " last_alive_ms INTEGER NOT NULL,"
    " ended_ms INTEGER,"
    " end_reason INTEGER NOT NULL DEFAULT 0);" /* enum pw_store_run_end */
    "CREATE TABLE state_runs("
    " id INTEGER PRIMARY KEY,"
    " target_id INTEGER NOT NULL REFERENCES targets(id),"
    " state INTEGER NOT NULL,"
    " status INTEGER NOT NULL,"
    " ok INTEGER NOT NULL,"
    " first_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL,"
    " count INTEGER NOT NULL,"
    " status_since_ms INTEGER NOT NULL,"
    " fails_before INTEGER NOT NULL,"
    " latency_us INTEGER,"
    " detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX state_runs_target ON state_runs(target_id, first_ms);"
    "CREATE TABLE outages("
    " id INTEGER PRIMARY KEY,"
    " target_id INTEGER NOT NULL REFERENCES targets(id),"
    " start_ms INTEGER NOT NULL,"
    " end_ms INTEGER,"
    " last_ms INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " fails INTEGER NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX outages_target ON outages(target_id, start_ms);"
    "CREATE INDEX outages_start ON outages(start_ms);"
    "CREATE INDEX outages_open ON outages(target_id) WHERE end_ms IS NULL;"
#define BUCKET_TABLE(name)                                                   \
    "CREATE TABLE " name "("                                                 \
    " target_id INTEGER NOT NULL REFERENCES targets(id),"                    \
    " b INTEGER NOT NULL,"                                                   \
    " n0 INTEGER NOT NULL DEFAULT 0, n1 INTEGER NOT NULL DEFAULT 0,"         \
    " n2 INTEGER NOT NULL DEFAULT 0, n3 INTEGER NOT NULL DEFAULT 0,"         \
    " n4 INTEGER NOT NULL DEFAULT 0, n5 INTEGER NOT NULL DEFAULT 0,"         \
    " nfail INTEGER NOT NULL DEFAULT 0,"                                     \
    " lat_n INTEGER NOT NULL DEFAULT 0,"                                     \
    " lat_min INTEGER, lat_sum INTEGER, lat_max INTEGER,"                    \
    " PRIMARY KEY(target_id, b)) WITHOUT ROWID;"
    BUCKET_TABLE("bucket_fine")
    BUCKET_TABLE("bucket_hour")
    BUCKET_TABLE("bucket_day")
#undef BUCKET_TABLE
    ;

/* v2: target_roles is looked up by target when a plan is synced; without
 * this index each lookup scanned the whole table. */
static const char v2_sql[] =
    "CREATE INDEX target_roles_target ON target_roles(target_id);";

/* v3 (issue 9): the protocol exchange of each state run, and the RPC
 * endpoint mappers' registrations.
 *   state_runs.verify       enum pw_verify of the run (a run breaks when it
 *                           changes); NULL for runs written before v3, which
 *                           did not record it;
 *   state_runs.verify_info  the latest result's text (version, dialect,
 *                           Server header); NULL before v3;
 *   epm_hosts               one row per host whose mapper was read
 *                           completely, with the time of the latest read;
 *   epm_entries             one row per registration (object, interface,
 *                           version, protocol sequence, address, endpoint)
 *                           ever seen; last_seen_ms equal to the host's
 *                           looked_up_ms means "in the latest read". UUIDs
 *                           are 16 bytes in their text order; iface is an
 *                           empty blob when the tower names none. */
static const char v3_sql[] =
    "ALTER TABLE state_runs ADD COLUMN verify INTEGER;"
    "ALTER TABLE state_runs ADD COLUMN verify_info TEXT;"
    "CREATE TABLE epm_hosts("
    " id INTEGER PRIMARY KEY,"
    " host TEXT NOT NULL COLLATE NOCASE UNIQUE,"
    " looked_up_ms INTEGER NOT NULL);"
    "CREATE TABLE epm_entries("
    " id INTEGER PRIMARY KEY,"
    " host_id INTEGER NOT NULL REFERENCES epm_hosts(id) ON DELETE CASCADE,"
    " object BLOB NOT NULL,"
    " iface BLOB NOT NULL,"
    " vmajor INTEGER NOT NULL,"
    " vminor INTEGER NOT NULL,"
    " protseq INTEGER NOT NULL,"      /* enum pw_epm_protseq */
    " address TEXT NOT NULL,"
    " endpoint TEXT NOT NULL,"
    " port INTEGER NOT NULL,"
    " annotation TEXT NOT NULL,"
    " first_seen_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL,"
    " UNIQUE(host_id, object, iface, vmajor, vminor, protseq, address, endpoint));"
    "CREATE INDEX epm_entries_seen ON epm_entries(host_id, last_seen_ms);";

/* v4 (issue 16): the process that holds the database's lock (see
 * store_file.c), so that a second daemon refused can name it. One row
 * while a daemon runs; removed at a clean stop. */
static const char v4_sql[] =
    "CREATE TABLE daemon("
    " pid INTEGER NOT NULL);";

/* v5 (issue 18): maintenance windows (store_maint.c).
 *   maintenance        one-off windows, written by `portwatch maintenance
 *                      start|end` while the daemon runs and read by it each
 *                      second. name NULL: called 'cli-ID'. hosts and roles
 *                      are lists separated by commas, '' for every one;
 *                      end_ms moves to the time of an early end, with
 *                      ended_early set;
 *   maintenance_spans  planned time per target: a row per target a window
 *                      covered while open (the daemon decides coverage and
 *                      writes them as a window opens; an early end moves
 *                      end_ms), for planned outages and availability. */
static const char v5_sql[] =
    "CREATE TABLE maintenance("
    " id INTEGER PRIMARY KEY,"
    " name TEXT COLLATE NOCASE,"
    " start_ms INTEGER NOT NULL,"
    " end_ms INTEGER NOT NULL,"
    " hosts TEXT NOT NULL DEFAULT '',"
    " roles TEXT NOT NULL DEFAULT '',"
    " reason TEXT NOT NULL,"
    " ended_early INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX maintenance_end ON maintenance(end_ms);"
    "CREATE TABLE maintenance_spans("
    " target_id INTEGER NOT NULL REFERENCES targets(id),"
    " window TEXT NOT NULL COLLATE NOCASE,"
    " start_ms INTEGER NOT NULL,"
    " end_ms INTEGER NOT NULL,"
    " UNIQUE(target_id, window, start_ms));"
    "CREATE INDEX maintenance_spans_time ON maintenance_spans(start_ms, end_ms);";

/* v6 (issue 15): per-target gaps. A target that was due and not probed
 * (its previous probe still out, or the loop whole sweeps behind) was not
 * monitored from that due until its next probe, though the daemon ran:
 *   target_gaps  [from_ms, to_ms) of one target; lateness that comes back
 *                within seconds extends the latest row. */
static const char v6_sql[] =
    "CREATE TABLE target_gaps("
    " id INTEGER PRIMARY KEY,"
    " target_id INTEGER NOT NULL REFERENCES targets(id),"
    " from_ms INTEGER NOT NULL,"
    " to_ms INTEGER NOT NULL);"
    "CREATE INDEX target_gaps_target ON target_gaps(target_id, from_ms);"
    "CREATE INDEX target_gaps_to ON target_gaps(to_ms);";

/* v7 (issue 21): ended outages by their end. "Overlapping [from, to)" is
 * end > from (or open) and start < to; with an index on start alone a
 * day's query read every outage before its end, a year's worth (700,000
 * rows of a 100,000-target farm). Open ones have outages_open. Covering
 * (start, target) so that availability reads no table row. */
static const char v7_sql[] =
    "CREATE INDEX outages_end ON outages(end_ms, start_ms, target_id)"
    " WHERE end_ms IS NOT NULL;";

static const struct pw_store_migration steps[] = {
    {1, v1_sql},
    {2, v2_sql},
    {3, v3_sql},
    {4, v4_sql},
    {5, v5_sql},
    {6, v6_sql},
    {7, v7_sql},
};

const struct pw_store_migration *pw_store_migrations(size_t *n)
{
    *n = sizeof steps / sizeof steps[0];
    return steps;
}

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(s);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

int pw_store_migrate(sqlite3 *db, int target, char err[PW_STORE_MSG_MAX])
{
    int v;
    if (user_version(db, &v) < 0) {
        snprintf(err, PW_STORE_MSG_MAX, "cannot read schema version: %s",
                 sqlite3_errmsg(db));
        return PW_ESTORAGE;
    }
    if (v > PW_STORE_SCHEMA_VERSION) {
        snprintf(err, PW_STORE_MSG_MAX,
                 "database schema version %d is newer than this portwatch "
                 "understands (%d); use a newer portwatch", v,
                 PW_STORE_SCHEMA_VERSION);
        return PW_ESTORAGE;
    }
    size_t n;
    const struct pw_store_migration *m = pw_store_migrations(&n);
    for (size_t i = 0; i < n; i++) {
        if (m[i].to <= v || m[i].to > target)
            continue;
        char *emsg = NULL;
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version=%d;", m[i].to);
        /* Each step and its version bump commit together, so a crash in a
         * migration leaves the previous version intact. */
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &emsg) != SQLITE_OK ||
            sqlite3_exec(db, m[i].sql, NULL, NULL, &emsg) != SQLITE_OK ||
            sqlite3_exec(db, set, NULL, NULL, &emsg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK) {
            snprintf(err, PW_STORE_MSG_MAX, "migration to schema v%d failed: %s",
                     m[i].to, emsg ? emsg : sqlite3_errmsg(db));
            sqlite3_free(emsg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return PW_ESTORAGE;
        }
        v = m[i].to;
    }
    return 0;
}

int pw_store_pragmas(sqlite3 *db, const char *path, int64_t busy_ms,
                     char err[PW_STORE_MSG_MAX])
{
    sqlite3_busy_timeout(db, (int)busy_ms);
    int rc = sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "PRAGMA synchronous=NORMAL;"
                     "PRAGMA foreign_keys=ON;"
                     /* keep the WAL near 1 MiB so a small disk holds data,
                      * not an old log; then shrink it back */
                     "PRAGMA wal_autocheckpoint=256;"
                     "PRAGMA journal_size_limit=4194304;",
                     NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        /* the first read of the file: a foreign or damaged header fails here */
        pw_store_failed(db, rc, path, "cannot open the database", err);
        return PW_ESTORAGE;
    }
    return 0;
}
