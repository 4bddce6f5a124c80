/*
 * Unit tests of the history store against real SQLite files in a temporary
 * directory: schema and migrations, batching, the outage lifecycle across
 * flaps, clean stops and crashes, retention, degraded mode while another
 * connection holds the database locked, and every query checked against
 * answers worked out by hand in the comments.
 */
#include "store_fixture.h"
#include "store/store_int.h"

#include "base/error.h"

#include "tests/check_run.h"

#include <check.h>
#include <uv.h>

static void store_quiet_log(void *ud, int lvl, const char *msg) {}

static void submit1(struct pw_store *st, struct pw_result r)
{
    ck_assert_uint_eq(pw_store_submit(st, &r, 1), 1);
}

/* ---- schema --------------------------------------------------------- */

START_TEST(schema_fresh)
{
    struct pw_store *st = open_store(NULL);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "PRAGMA user_version"), PW_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                " ('targets','target_roles','runs','state_runs','outages',"
                                "'bucket_fine','bucket_hour','bucket_day')"), 8);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM targets"), 3);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_roles"), 5);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
}
END_TEST

/* From every earlier version (0 = empty file) to the current one, with data
 * written at the old version surviving. */
START_TEST(schema_migrate_from_every_version)
{
    teardown(); /* each version gets its own directory */
    for (int v = 0; v < PW_STORE_SCHEMA_VERSION; v++) {
        setup();
        sqlite3 *db;
        char err[PW_STORE_MSG_MAX];
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_int_eq(pw_store_migrate(db, v, err), 0);
        /* an open run written by the old version: sql01:1433 up since T0 */
        if (v >= 1)
            ck_assert_int_eq(sqlite3_exec(db,
                "INSERT INTO targets(id,host,port,first_ms) VALUES(1,'sql01',1433,0);"
                "INSERT INTO runs(started_ms,last_alive_ms,ended_ms,end_reason)"
                " VALUES(0,60000,60000,1);"
                "INSERT INTO state_runs(id,target_id,state,status,ok,first_ms,last_ms,count,"
                " status_since_ms,fails_before,latency_us,detail)"
                " VALUES(7,1,0,1,1,0,60000,3,0,0,500,'');"
                "UPDATE targets SET cur_run=7 WHERE id=1;",
                NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        ck_assert_int_eq(qint(path, "PRAGMA user_version"), v);
        struct pw_store *st = open_store(NULL);
        if (v >= 1) {
            /* the old run answers "not recorded"; the first result of v3,
             * same state and status, starts a run that records verify */
            struct pw_store_state_run *runs;
            size_t n;
            bool cut;
            ck_assert_int_eq(pw_store_query_state_runs(st, 1, 0, 120000, 0, &runs, &n, &cut), 0);
            ck_assert_uint_eq(n, 1);
            ck_assert(!runs[0].has_verify);
            ck_assert_uint_eq(runs[0].count, 3);
            free(runs);
            struct pw_result r = mkres(0, PW_STATE_OPEN, PW_STATUS_UP, 90000, 400);
            r.verify = PW_VERIFY_VERIFIED;
            snprintf(r.verify_info, sizeof r.verify_info, "SQL Server 16.0.1000");
            submit1(st, r);
            ck_assert_int_eq(pw_store_flush(st, 5000), 0);
            ck_assert_int_eq(pw_store_query_state_runs(st, 1, 0, 120000, 0, &runs, &n, &cut), 0);
            ck_assert_uint_eq(n, 2);
            ck_assert(!runs[0].has_verify);
            ck_assert(runs[1].has_verify);
            ck_assert_int_eq(runs[1].verify, PW_VERIFY_VERIFIED);
            ck_assert_str_eq(runs[1].verify_info, "SQL Server 16.0.1000");
            ck_assert_int_eq(runs[1].first_ms, 90000);
            free(runs);
        }
        /* the endpoint-mapper tables work on a migrated file */
        ck_assert_int_eq(pw_store_epm_put(st, "bts01", NULL, 0, 90000), 0);
        ck_assert_int_eq(pw_store_flush(st, 5000), 0);
        struct pw_store_epm_host *hosts;
        size_t nh;
        ck_assert_int_eq(pw_store_epm_load(st, &hosts, &nh), 0);
        ck_assert_uint_eq(nh, 1);
        ck_assert_int_eq(hosts[0].looked_up_ms, 90000);
        pw_store_epm_free(hosts, nh);
        pw_store_close(st);
        ck_assert_int_eq(qint(path, "PRAGMA user_version"), PW_STORE_SCHEMA_VERSION);
        /* v7: ended outages by their end */
        ck_assert_int_eq(qint(path, "SELECT count(*) FROM sqlite_master"
                                    " WHERE type='index' AND name='outages_end'"), 1);
        ck_assert_int_eq(qint(path, "SELECT count(*) FROM targets"), 3);
        ck_assert_int_eq(qint(path, "SELECT count(*) FROM state_runs WHERE verify IS NULL"),
                         v >= 1 ? 1 : 0);
        ck_assert(integrity_ok(path));
        teardown();
    }
    setup(); /* for the fixture's teardown */
}
END_TEST

START_TEST(schema_newer_refused)
{
    struct pw_store *st = open_store(NULL);
    pw_store_close(st);
    ck_assert_int_eq(qexec(path, "PRAGMA user_version=99"), SQLITE_OK);
    char err[PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(path, NULL, &st, err), PW_ESTORAGE);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(open_bad_path)
{
    struct pw_store *st;
    char err[PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open("/nonexistent-dir/x/h.db", NULL, &st, err), PW_ESTORAGE);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x/h.db"));
}
END_TEST

/* ---- batching ------------------------------------------------------- */

START_TEST(batching)
{
    struct pw_store_options o = {.commit_interval_ms = 100};
    struct pw_store *st = open_store(&o);
    enum { N = 20000 };
    struct pw_result *r = calloc(N, sizeof *r);
    /* 3 targets round robin, 10 s apart; target 2 alternates open/closed
     * every result: 6667 runs for it, 1 for each other. */
    for (int i = 0; i < N; i++) {
        uint32_t t = (uint32_t)(i % 3);
        enum pw_state s = t == 2 && (i / 3) % 2 ? PW_STATE_CLOSED : PW_STATE_OPEN;
        r[i] = mkres(t, s, PW_STATUS_UP, T0 + (i / 3) * 10000LL, 500);
    }
    for (int i = 0; i < N; i += 1000)
        ck_assert_uint_eq(pw_store_submit(st, r + i, 1000), 1000);
    ck_assert_int_eq(pw_store_flush(st, 10000), 0);
    struct pw_store_stats s;
    pw_store_stats(st, &s);
    ck_assert_uint_eq(s.written, N);
    ck_assert_uint_eq(s.dropped, 0);
    ck_assert_uint_eq(s.queued, 0);
    ck_assert_uint_le(s.commits, 20); /* batched, not one per result */
    ck_assert_uint_ge(s.commits, 1);
    ck_assert_int_eq(s.health.state, PW_STORE_OK);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM state_runs"), 2 + N / 3);
    ck_assert_int_eq(qint(path, "SELECT sum(count) FROM state_runs"), N);
    ck_assert_int_eq(qint(path, "SELECT sum(n0+n1+n2+n3+n4+n5) FROM bucket_day"), N);
    /* targets 0 and 1 are quiet: no fine or hour buckets */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM bucket_fine WHERE target_id IN (1,2)"), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM bucket_hour WHERE target_id IN (1,2)"), 0);
    ck_assert_int_gt(qint(path, "SELECT count(*) FROM bucket_fine WHERE target_id=3"), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs WHERE end_reason=1"), 1);
    free(r);
}
END_TEST

/* A bucket is added to batch by batch (the writer keeps only what is not
 * written yet): its counts and latency come out exact across batches and
 * a restart (also a sparse bucket stored before it and quiet after), and
 * a row that vanished under the writer is written anew, not lost to an
 * UPDATE that found nothing. */
START_TEST(bucket_adds_exact)
{
    struct pw_store_options o = {.commit_interval_ms = -1};
    struct pw_store *st = open_store(&o);
    /* target 0 open (latency 100, 200, ... 900 us), target 1 closed then
     * open, one result each per batch, 30 s apart, all in one day */
    for (int i = 0; i < 9; i++) {
        if (i == 3) /* the day rows vanish after three batches */
            ck_assert_int_eq(qexec(path, "DELETE FROM bucket_day"), 0);
        if (i == 6) { /* a restart: the next writes merge with the rows */
            pw_store_close(st);
            st = open_store(&o);
        }
        submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + i * 30000LL, 100 * (i + 1)));
        submit1(st, mkres(1, i < 4 ? PW_STATE_CLOSED : PW_STATE_OPEN, PW_STATUS_UP,
                          T0 + i * 30000LL + 1, 50));
        ck_assert_int_eq(pw_store_flush(st, 10000), 0);
    }
    pw_store_close(st);
    /* target 0: results 4..9 (batches 3..8) after the delete */
    ck_assert_int_eq(qint(path, "SELECT n0 FROM bucket_day WHERE target_id=1"), 6);
    ck_assert_int_eq(qint(path, "SELECT lat_n FROM bucket_day WHERE target_id=1"), 6);
    ck_assert_int_eq(qint(path, "SELECT lat_sum FROM bucket_day WHERE target_id=1"),
                     400 + 500 + 600 + 700 + 800 + 900);
    ck_assert_int_eq(qint(path, "SELECT lat_max FROM bucket_day WHERE target_id=1"), 900);
    /* target 1: closed in batch 3, open in 4..8 */
    ck_assert_int_eq(qint(path, "SELECT n1 FROM bucket_day WHERE target_id=2"), 1);
    ck_assert_int_eq(qint(path, "SELECT n0 FROM bucket_day WHERE target_id=2"), 5);
    ck_assert_int_eq(qint(path, "SELECT lat_sum FROM bucket_day WHERE target_id=2"), 5 * 50);
    /* its 5-minute bucket: not quiet before the restart, so stored; the
     * quiet results after it belong in that row too */
    ck_assert_int_eq(qint(path, "SELECT sum(n0+n1) FROM bucket_fine WHERE target_id=2"), 9);
    ck_assert_int_eq(qint(path, "SELECT sum(n1) FROM bucket_fine WHERE target_id=2"), 4);
    ck_assert_int_eq(qint(path, "SELECT sum(lat_n) FROM bucket_fine WHERE target_id=2"), 5);
    /* target 0 was quiet throughout: no fine or hour row, before or after */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM bucket_fine WHERE target_id=1"), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM bucket_hour WHERE target_id=1"), 0);
    ck_assert_int_eq(qint(path, "SELECT sum(count) FROM state_runs"), 18);
}
END_TEST

START_TEST(unsynced_results_dropped)
{
    struct pw_store *st = NULL;
    char err[PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(path, NULL, &st, err), 0);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0, 100));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    struct pw_store_stats s;
    pw_store_stats(st, &s);
    ck_assert_uint_eq(s.dropped, 1);
    ck_assert_uint_eq(s.written, 0);
    pw_store_close(st);
}
END_TEST

/* ---- outage lifecycle ------------------------------------------------- */

START_TEST(outage_flaps_and_restarts)
{
    struct pw_store *st = open_store(NULL);
    int64_t t = T0;
    /* up, then two fails (status goes down at the 2nd), up: one outage
     * [T0+60s, T0+90s), 2 failed probes counted from the 1st down one */
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, t, 100));
    submit1(st, mkres(0, PW_STATE_FILTERED, PW_STATUS_UP, t += 30000, -1));
    submit1(st, mkres(0, PW_STATE_FILTERED, PW_STATUS_DOWN, t += 30000, -1));
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, t += 30000, 100));
    /* flap again and stop while down */
    submit1(st, mkres(0, PW_STATE_CLOSED, PW_STATUS_DOWN, t += 30000, -1));
    submit1(st, mkres(0, PW_STATE_CLOSED, PW_STATUS_DOWN, t += 30000, -1)); /* T0+150s */
    pw_store_close(st);

    struct pw_store_outage_list ol;
    struct pw_store_outage *o;
    size_t n;
    st = open_store(NULL);
    ck_assert_int_eq(pw_store_query_outages(st, NULL, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(o[1].start_ms, T0 + 60000);
    ck_assert_int_eq(o[1].end_ms, T0 + 90000);
    ck_assert_int_eq(o[1].fails, 1);
    ck_assert_int_eq(o[1].state, PW_STATE_FILTERED);
    ck_assert_str_eq(o[1].detail, "ETIMEDOUT");
    ck_assert_int_eq(o[0].start_ms, T0 + 120000);
    ck_assert_int_eq(o[0].end_ms, -1);
    ck_assert_int_eq(o[0].fails, 2);
    pw_store_outage_list_free(&ol);
    /* restart: still down -> the same outage continues */
    submit1(st, mkres(0, PW_STATE_CLOSED, PW_STATUS_DOWN, T0 + 600000, -1));
    pw_store_close(st);
    /* a crash: the run left open; the next start closes it at its last
     * heartbeat */
    ck_assert_int_eq(qexec(path, "UPDATE runs SET ended_ms=NULL, end_reason=0"
                                 " WHERE id=(SELECT max(id) FROM runs)"), SQLITE_OK);
    st = open_store(NULL);
    ck_assert_int_eq(qint(path, "SELECT end_reason FROM runs ORDER BY id DESC LIMIT 1"),
                     PW_RUN_CRASH);
    ck_assert_int_eq(qint(path, "SELECT ended_ms FROM runs ORDER BY id DESC LIMIT 1"),
                     T0 + 600000);
    /* back up after the gap: the outage ends where coverage ended, not at
     * the recovering result */
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 900000, 100));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(pw_store_query_outages(st, NULL, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(o[0].start_ms, T0 + 120000);
    ck_assert_int_eq(o[0].end_ms, T0 + 600000);
    ck_assert_int_eq(o[0].fails, 3);
    pw_store_outage_list_free(&ol);

    /* coverage: [T0, T0+150s) clean, [T0+600s] crash (one instant),
     * [T0+900s] open */
    struct pw_store_run *runs;
    ck_assert_int_eq(pw_store_query_runs(st, 0, T0 + DAY, &runs, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(runs[0].started_ms, T0);
    ck_assert_int_eq(runs[0].ended_ms, T0 + 150000);
    ck_assert_int_eq(runs[0].end, PW_RUN_CLEAN);
    ck_assert_int_eq(runs[1].end, PW_RUN_CRASH);
    ck_assert_int_eq(runs[2].ended_ms, -1);
    free(runs);

    /* uptime of target 1 (sql01:1433) over [T0, T0+1000s): monitored
     * 150 s + 0 + 0 (runs of one instant); down within it: [60,90) and
     * [120,150) = 60 s; not monitored 850 s. */
    struct pw_store_uptime *u;
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0 + 1000000, PW_GROUP_TARGET, &u, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(u[0].key, "sql01:1433");
    ck_assert_int_eq(u[0].monitored_ms, 150000);
    ck_assert_int_eq(u[0].down_ms, 60000);
    ck_assert_int_eq(u[0].not_monitored_ms, 850000);
    ck_assert_double_eq_tol(u[0].uptime_pct, 60.0, 1e-9);
    free(u);
    pw_store_close(st);
}
END_TEST

/* A stall (no result for longer than gap_ms) splits coverage. */
START_TEST(stall_gap)
{
    struct pw_store_options o = {.gap_ms = 120000};
    struct pw_store *st = open_store(&o);
    for (int i = 0; i < 5; i++)
        submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + i * 30000LL, 100));
    for (int i = 0; i < 5; i++)
        submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 600000 + i * 30000LL, 100));
    pw_store_heartbeat(st, T0 + 800000);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs"), 2);
    ck_assert_int_eq(qint(path, "SELECT end_reason FROM runs WHERE id=1"), PW_RUN_STALL);
    ck_assert_int_eq(qint(path, "SELECT ended_ms FROM runs WHERE id=1"), T0 + 120000);
    ck_assert_int_eq(qint(path, "SELECT ended_ms FROM runs WHERE id=2"), T0 + 800000);
    /* still one state run: same state across the gap */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM state_runs"), 1);
    ck_assert_int_eq(qint(path, "SELECT count FROM state_runs"), 10);
}
END_TEST

/* The daemon's cause of a gap reaches the run it ends, whether it comes
 * before the results after the gap are written or after; a cause for
 * another stretch touches nothing; the gaps query reports each. */
START_TEST(gap_causes)
{
    struct pw_store_options o = {.gap_ms = 5000};
    struct pw_store *st = open_store(&o);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0, 100));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    /* first gap: the cause is known before the writer sees the gap */
    pw_store_gap(st, T0 + 1000, T0 + 30000, PW_RUN_PAUSED);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 30000, 100));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    /* second gap: the writer closes it as stalled, the cause comes after */
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 60000, 100));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    pw_store_gap(st, T0 + 31000, T0 + 60000, PW_RUN_OVERLOADED);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 61000, 100));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    /* a cause for a stretch with no gap in the store changes nothing */
    pw_store_gap(st, T0 + 200000, T0 + 230000, PW_RUN_SUSPENDED);
    pw_store_heartbeat(st, T0 + 62000);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);

    struct pw_store_gap *g;
    size_t n;
    ck_assert_int_eq(pw_store_query_gaps(st, T0 + 10000, T0 + 100000, &g, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(g[0].from_ms, T0 + 10000); /* clipped to the range */
    ck_assert_int_eq(g[0].to_ms, T0 + 30000);
    ck_assert_int_eq(g[0].cause, PW_RUN_PAUSED);
    ck_assert_int_eq(g[1].from_ms, T0 + 30000);
    ck_assert_int_eq(g[1].to_ms, T0 + 60000);
    ck_assert_int_eq(g[1].cause, PW_RUN_OVERLOADED);
    ck_assert(!g[1].ongoing);
    free(g);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs"), 3);
    ck_assert_int_eq(qint(path, "SELECT end_reason FROM runs WHERE id=1"), PW_RUN_PAUSED);
    ck_assert_int_eq(qint(path, "SELECT end_reason FROM runs WHERE id=2"), PW_RUN_OVERLOADED);
    ck_assert_int_eq(qint(path, "SELECT end_reason FROM runs WHERE id=3"), PW_RUN_CLEAN);
    ck_assert_str_eq(pw_store_run_end_name(PW_RUN_STORAGE), "storage");
    ck_assert_str_eq(pw_store_run_end_name((enum pw_store_run_end)99), "unknown");
}
END_TEST

/* A target due and not probed (late_since_ms) was not monitored until
 * its probe, though the daemon ran: its uptime, its host's and its
 * history leave that time out; lateness back within seconds extends the
 * same row. */
START_TEST(target_late)
{
    struct pw_store *st = open_store(NULL);
    for (int64_t t = 0; t <= 100000; t += 10000) {
        submit1(st, mkres(1, PW_STATE_OPEN, PW_STATUS_UP, T0 + t, 100));
        if (t <= 10000)
            submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + t, 100));
        if (t == 60000 || t == 80000) {
            struct pw_result r = mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + t, 100);
            r.late_since_ms = T0 + (t == 60000 ? 20000 : 63000);
            submit1(st, r);
        }
    }
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_gaps"), 1);
    ck_assert_int_eq(qint(path, "SELECT from_ms FROM target_gaps WHERE target_id=1"), T0 + 20000);
    ck_assert_int_eq(qint(path, "SELECT to_ms FROM target_gaps WHERE target_id=1"), T0 + 80000);

    struct pw_store_uptime *u;
    size_t n;
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0 + 100000, PW_GROUP_TARGET, &u, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(u[0].key, "sql01:1433");
    ck_assert_int_eq(u[0].monitored_ms, 40000);
    ck_assert_int_eq(u[0].not_monitored_ms, 60000);
    ck_assert_str_eq(u[1].key, "sql01:445");
    ck_assert_int_eq(u[1].monitored_ms, 100000);
    free(u);
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0 + 100000, PW_GROUP_HOST, &u, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(u[0].monitored_ms, 40000); /* the host's state was not known */
    ck_assert_int_eq(u[0].not_monitored_ms, 60000);
    free(u);

    struct pw_store_history h;
    ck_assert_int_eq(pw_store_query_history(st, 1, T0, T0 + 100000, 10000, &h), 0);
    int64_t mon = 0;
    for (size_t i = 0; i < h.n; i++)
        mon += h.points[i].monitored_ms;
    ck_assert_int_eq(mon, 40000);
    pw_store_history_free(&h);
    pw_store_close(st);
}
END_TEST

/* A target dropped from the plan is retired; its open outage closes. */
START_TEST(retire_target)
{
    struct pw_store *st = open_store(NULL);
    submit1(st, mkres(2, PW_STATE_FILTERED, PW_STATUS_DOWN, T0, -1));
    submit1(st, mkres(2, PW_STATE_FILTERED, PW_STATUS_DOWN, T0 + 30000, -1));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    struct pw_plan small = test_plan;
    small.ntargets = 2;
    small.nhosts = 1;
    uint32_t ids[2];
    ck_assert_int_eq(pw_store_sync_targets(st, &small, ids), 0);
    ck_assert_uint_eq(ids[0], 1);
    ck_assert_uint_eq(ids[1], 2);
    struct pw_store_target *t;
    size_t n;
    ck_assert_int_eq(pw_store_query_status(st, false, &t, &n), 0);
    ck_assert_uint_eq(n, 2);
    free(t);
    ck_assert_int_eq(pw_store_query_status(st, true, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(t[2].retired_ms, T0 + 30000);
    ck_assert(t[2].st.has_result);
    free(t);
    ck_assert_int_eq(qint(path, "SELECT end_ms FROM outages"), T0 + 30000);
    /* back in the plan: same id, history kept */
    ck_assert_int_eq(pw_store_sync_targets(st, &test_plan, NULL), 0);
    ck_assert_int_eq(pw_store_query_status(st, false, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(t[2].retired_ms, 0);
    ck_assert_int_eq(t[2].st.fails, 2);
    free(t);
    pw_store_close(st);
}
END_TEST

/* A database file deleted under the daemon degrades storage, and stays so:
 * what is written after that is lost at the next start. */
START_TEST(file_removed_degrades)
{
    struct pw_store *st = open_store(NULL);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0, 900));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    struct pw_store_health h;
    pw_store_health(st, &h);
    ck_assert_int_eq(h.state, PW_STORE_OK);
    if (remove(path) != 0) {
        /* Windows refuses to delete a file that is open: the case cannot
         * arise there. */
        pw_store_close(st);
        return;
    }
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 30000, 900));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    pw_store_health(st, &h);
    ck_assert_int_eq(h.state, PW_STORE_DEGRADED);
    ck_assert_msg(strstr(h.message, "was removed"), "%s", h.message);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 60000, 900));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    pw_store_health(st, &h);
    ck_assert_int_eq(h.state, PW_STORE_DEGRADED);
    pw_store_close(st);
}
END_TEST

/* A reload that changes a target's roles rewrites them; one that does not
 * leaves them alone. */
START_TEST(sync_roles_change)
{
    struct pw_store *st = open_store(NULL);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_roles WHERE role='sso'"), 2);
    struct pw_target moved[3];
    memcpy(moved, test_targets, sizeof moved);
    moved[1].profile = 0; /* sql01:445 now serves management_database only */
    struct pw_plan p = test_plan;
    p.targets = moved;
    ck_assert_int_eq(pw_store_sync_targets(st, &p, NULL), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_roles WHERE role='sso'"), 1);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_roles WHERE target_id=2"), 1);
    ck_assert_int_eq(pw_store_sync_targets(st, &p, NULL), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_roles"), 4);
    ck_assert_int_eq(pw_store_sync_targets(st, &test_plan, NULL), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM target_roles WHERE target_id=2"), 2);
    pw_store_close(st);
}
END_TEST

/* ---- queries ---------------------------------------------------------- */

/* Target 0 (sql01:1433): a result every 30 s from T0 for 2 h (240 results),
 * latency 1000 us, except [T0+30m, T0+40m): 20 filtered results, status
 * down from the 2nd (T0+30m30s) until the first open one (T0+40m).
 * Target 1 (sql01:445): open all along, latency 2000 us. */
static struct pw_store *feed_two_hours(void)
{
    struct pw_store *st = open_store(NULL);
    for (int i = 0; i < 240; i++) {
        int64_t at = T0 + i * 30000LL;
        bool bad = at >= T0 + 1800000 && at < T0 + 2400000;
        enum pw_status s = !bad ? PW_STATUS_UP : at == T0 + 1800000 ? PW_STATUS_UP : PW_STATUS_DOWN;
        struct pw_result r[2] = {
            mkres(0, bad ? PW_STATE_FILTERED : PW_STATE_OPEN, s, at, 1000),
            mkres(1, PW_STATE_OPEN, PW_STATUS_UP, at, 2000),
        };
        ck_assert_uint_eq(pw_store_submit(st, r, 2), 2);
    }
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    return st;
}

START_TEST(query_status)
{
    struct pw_store *st = feed_two_hours();
    struct pw_store_target *t;
    size_t n;
    ck_assert_int_eq(pw_store_query_status(st, false, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(t[0].host, "sql01");
    ck_assert_uint_eq(t[0].port, 1433);
    ck_assert_str_eq(t[0].roles, "management_database");
    ck_assert_str_eq(t[1].roles, "management_database,sso");
    ck_assert_int_eq(t[0].st.status, PW_STATUS_UP);
    ck_assert_int_eq(t[0].st.since_ms, T0 + 2400000); /* up since recovery */
    ck_assert_int_eq(t[0].st.last_ms, T0 + 239 * 30000LL);
    ck_assert_int_eq(t[0].st.latency_us, 1000);
    ck_assert_int_eq(t[0].st.fails, 0);
    ck_assert_int_eq(t[1].st.since_ms, T0);
    ck_assert(!t[2].st.has_result);
    free(t);

    /* seeding: the plan's order */
    struct pw_target_state ts[3];
    ck_assert_int_eq(pw_store_load_states(st, &test_plan, ts, NULL), 0);
    ck_assert_int_eq(ts[0].since_ms, T0 + 2400000);
    ck_assert(ts[1].has_result);
    /* a reload's: the targets it knows are left as they are */
    struct pw_target_state ts2[3] = {{.since_ms = 77}};
    const bool known[3] = {true, false, false};
    ck_assert_int_eq(pw_store_load_states(st, &test_plan, ts2, known), 0);
    ck_assert_int_eq(ts2[0].since_ms, 77);
    ck_assert(!ts2[0].has_result);
    ck_assert(ts2[1].has_result);
    ck_assert(!ts[2].has_result);

    /* mid-outage status: down since T0+30m30s, 5 fails so far */
    submit1(st, mkres(0, PW_STATE_FILTERED, PW_STATUS_UP, T0 + 7200000, -1));
    submit1(st, mkres(0, PW_STATE_FILTERED, PW_STATUS_DOWN, T0 + 7230000, -1));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(pw_store_query_status(st, false, &t, &n), 0);
    ck_assert_int_eq(t[0].st.status, PW_STATUS_DOWN);
    ck_assert_int_eq(t[0].st.since_ms, T0 + 7230000);
    ck_assert_int_eq(t[0].st.fails, 2);
    ck_assert_str_eq(t[0].st.detail, "ETIMEDOUT");
    ck_assert_int_eq(t[0].st.latency_us, -1);
    free(t);
    pw_store_close(st);
}
END_TEST

START_TEST(query_history_fine)
{
    struct pw_store *st = feed_two_hours();
    struct pw_store_history h;
    ck_assert_int_eq(pw_store_query_history(st, 1, T0, T0 + 7200000, 300000, &h), 0);
    ck_assert_int_eq(h.since_ms, T0); /* its first result: monitoring began */
    ck_assert_int_eq(h.tier_ms, 300000);
    ck_assert_uint_eq(h.n, 24);
    for (size_t i = 0; i < 24; i++) {
        struct pw_store_point *p = &h.points[i];
        ck_assert_int_eq(p->t_ms, T0 + (int64_t)i * 300000);
        bool bad = i == 6 || i == 7;
        ck_assert_uint_eq(p->n[PW_STATE_OPEN], bad ? 0 : 10);
        ck_assert_uint_eq(p->n[PW_STATE_FILTERED], bad ? 10 : 0);
        ck_assert_uint_eq(p->n_fail, bad ? 10 : 0);
        ck_assert_int_eq(p->lat_avg_us, bad ? -1 : 1000);
        /* coverage ends at the last result, T0+2h-30s */
        ck_assert_int_eq(p->monitored_ms, i == 23 ? 270000 : 300000);
        ck_assert_int_eq(p->down_ms, i == 6 ? 270000 : i == 7 ? 300000 : 0);
    }
    pw_store_history_free(&h);

    /* hour step: hour 0 stored (not quiet): 100 open + 20 filtered; hour 1
     * quiet: 120 open counted from its state run */
    ck_assert_int_eq(pw_store_query_history(st, 1, T0, T0 + 7200000, 3600000, &h), 0);
    ck_assert_int_eq(h.tier_ms, 3600000);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_uint_eq(h.points[0].n[PW_STATE_OPEN], 100);
    ck_assert_uint_eq(h.points[0].n[PW_STATE_FILTERED], 20);
    ck_assert_uint_eq(h.points[1].n[PW_STATE_OPEN], 120);
    ck_assert_uint_eq(h.points[1].n[PW_STATE_FILTERED], 0);
    ck_assert_int_eq(h.points[0].down_ms, 570000);
    ck_assert_int_eq(h.points[1].lat_min_us, 1000);
    pw_store_history_free(&h);

    /* day step: the dense tier */
    ck_assert_int_eq(pw_store_query_history(st, 2, T0, T0 + DAY, DAY, &h), 0);
    ck_assert_int_eq(h.tier_ms, DAY);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_uint_eq(h.points[0].n[PW_STATE_OPEN], 240);
    ck_assert_int_eq(h.points[0].lat_avg_us, 2000);
    ck_assert_int_eq(h.points[0].monitored_ms, 7170000);
    pw_store_history_free(&h);

    ck_assert_int_eq(pw_store_query_history(st, 99, T0, T0 + DAY, DAY, &h), PW_ENOT_FOUND);
    ck_assert_int_eq(pw_store_query_history(st, 1, T0, T0 - 1, DAY, &h), PW_EINVAL);
    ck_assert_int_eq(pw_store_query_history(st, 1, 0, T0, 300000, &h), PW_ERANGE);
    pw_store_close(st);
}
END_TEST

START_TEST(query_outages_and_uptime)
{
    struct pw_store *st = feed_two_hours();
    /* an open outage on web01:1164 from T0+1h */
    submit1(st, mkres(2, PW_STATE_CLOSED, PW_STATUS_DOWN, T0 + 3600000, -1));
    submit1(st, mkres(2, PW_STATE_CLOSED, PW_STATUS_DOWN, T0 + 7170000, -1));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    struct pw_store_outage_list ol;
    struct pw_store_outage *o;
    size_t n;
    ck_assert_int_eq(pw_store_query_outages(st, NULL, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(o[0].host, "web01");
    ck_assert_int_eq(o[0].end_ms, -1);
    ck_assert_int_eq(o[1].start_ms, T0 + 1830000);
    ck_assert_int_eq(o[1].end_ms, T0 + 2400000);
    ck_assert_int_eq(o[1].fails, 19);
    pw_store_outage_list_free(&ol);
    struct pw_store_outage_filter f = {.open_only = true};
    ck_assert_int_eq(pw_store_query_outages(st, &f, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 1);
    pw_store_outage_list_free(&ol);
    f = (struct pw_store_outage_filter){.host = "SQL01"};
    ck_assert_int_eq(pw_store_query_outages(st, &f, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(o[0].port, 1433);
    pw_store_outage_list_free(&ol);
    f = (struct pw_store_outage_filter){.role = "sso"};
    ck_assert_int_eq(pw_store_query_outages(st, &f, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(o[0].host, "web01");
    pw_store_outage_list_free(&ol);
    f = (struct pw_store_outage_filter){.from_ms = T0, .to_ms = T0 + 1830000};
    ck_assert_int_eq(pw_store_query_outages(st, &f, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 0);
    pw_store_outage_list_free(&ol);
    f = (struct pw_store_outage_filter){.from_ms = T0 + 2400000, .to_ms = T0 + 3600001};
    ck_assert_int_eq(pw_store_query_outages(st, &f, &ol), 0);
    o = ol.v;
    n = ol.n;
    ck_assert_uint_eq(n, 1); /* the first ended at 2400000: not overlapping */
    ck_assert_str_eq(o[0].host, "web01");
    pw_store_outage_list_free(&ol);

    /* Availability over [T0, T0+2h): coverage [T0, T0+7170000] (last
     * result). sql01:1433 active from T0, down [1830000, 2400000): 570000.
     * sql01:445 active from T0, never down. web01:1164 active from its
     * first result T0+1h: span 3600000, monitored 3570000, all of it down.
     * A group is down when any member is: sql01 is unavailable for 570000
     * of its 7170000 monitored (92.05 %), not the 96.0 % an average over
     * its two ports would say. */
    struct pw_store_uptime *u;
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0 + 7200000, PW_GROUP_HOST, &u, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(u[0].key, "sql01");
    ck_assert_uint_eq(u[0].ntargets, 2);
    ck_assert_int_eq(u[0].monitored_ms, 7170000);
    ck_assert_int_eq(u[0].down_ms, 570000);
    ck_assert_int_eq(u[0].not_monitored_ms, 30000);
    ck_assert_double_eq_tol(u[0].uptime_pct, 100.0 * 6600000 / 7170000, 1e-9);
    ck_assert_str_eq(u[1].key, "web01");
    ck_assert_int_eq(u[1].monitored_ms, 3570000);
    ck_assert_int_eq(u[1].down_ms, 3570000);
    ck_assert_int_eq(u[1].not_monitored_ms, 30000); /* before T0+1h: not counted */
    ck_assert_double_eq_tol(u[1].uptime_pct, 0.0, 1e-9);
    free(u);
    /* management_database: all three; sso: sql01:445 and web01:1164 */
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0 + 7200000, PW_GROUP_ROLE, &u, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(u[0].key, "management_database");
    ck_assert_uint_eq(u[0].ntargets, 3);
    ck_assert_int_eq(u[0].monitored_ms, 7170000);
    ck_assert_int_eq(u[0].down_ms, 570000 + 3570000);
    ck_assert_str_eq(u[1].key, "sso");
    ck_assert_uint_eq(u[1].ntargets, 2);
    ck_assert_int_eq(u[1].monitored_ms, 7170000);
    ck_assert_int_eq(u[1].down_ms, 3570000);
    free(u);
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0 + 7200000, PW_GROUP_FARM, &u, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(u[0].monitored_ms, 7170000);
    ck_assert_int_eq(u[0].down_ms, 570000 + 3570000);
    ck_assert_double_eq_tol(u[0].uptime_pct, 100.0 * 3030000 / 7170000, 1e-9);
    free(u);
    ck_assert_int_eq(pw_store_query_uptime(st, T0, T0, PW_GROUP_FARM, &u, &n), PW_EINVAL);
    pw_store_close(st);
}
END_TEST

/* ---- retention -------------------------------------------------------- */

START_TEST(retention)
{
    struct pw_store_options o = {.keep_raw_ms = DAY, .keep_hourly_ms = 3 * DAY,
                                 .keep_events_ms = 5 * DAY, .housekeep_every_ms = -1,
                                 .housekeep_targets = 1};
    struct pw_store *st = open_store(&o);
    /* 10 days, a result per 10 minutes on target 0 alternating open and
     * closed (every bucket not quiet, a state run per result); target 1
     * stable (one run from day 0 that must survive) */
    for (int i = 0; i < 10 * 144; i++) {
        int64_t at = T0 + i * 600000LL;
        struct pw_result r[2] = {
            mkres(0, i % 2 ? PW_STATE_CLOSED : PW_STATE_OPEN, PW_STATUS_UP, at, 100),
            mkres(1, PW_STATE_OPEN, PW_STATUS_UP, at, 100),
        };
        ck_assert_uint_eq(pw_store_submit(st, r, 2), 2);
    }
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    int64_t now = T0 + (10 * 144 - 1) * 600000LL;
    ck_assert_int_gt(qint(path, "SELECT count(*) FROM bucket_day"), 10);
    for (int i = 0; i < 6; i++) { /* 3 targets, one per step, then the wrap */
        pw_store_housekeep(st);
        pw_store_heartbeat(st, now);
        ck_assert_int_eq(pw_store_flush(st, 5000), 0);
        uv_sleep(50);
    }
    pw_store_close(st);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM bucket_fine WHERE b < %lld",
             (long long)((now - DAY) / 300000));
    ck_assert_int_eq(qint(path, sql), 0);
    ck_assert_int_ge(qint(path, "SELECT count(*) FROM bucket_fine"), 72);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM bucket_hour WHERE b < %lld",
             (long long)((now - 3 * DAY) / 3600000));
    ck_assert_int_eq(qint(path, sql), 0);
    ck_assert_int_eq(qint(path, "SELECT min(b) FROM bucket_day"), (now - 3 * DAY) / DAY);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM state_runs WHERE last_ms < %lld",
             (long long)(now - 5 * DAY));
    ck_assert_int_eq(qint(path, sql), 0);
    /* target 2's single run began on day 0 but is current: kept */
    ck_assert_int_eq(qint(path, "SELECT count FROM state_runs WHERE target_id=2"), 1440);
}
END_TEST

/* ---- protocol verification on state runs (schema v3) ------------------ */

static struct pw_result vres(uint32_t t, enum pw_state s, enum pw_status status, int64_t at,
                             enum pw_verify v, const char *info)
{
    struct pw_result r = mkres(t, s, status, at, 300);
    r.verify = v;
    r.ok = s == PW_STATE_OPEN && v != PW_VERIFY_MISMATCH;
    snprintf(r.verify_info, sizeof r.verify_info, "%s", info);
    return r;
}

START_TEST(verify_splits_runs)
{
    struct pw_store *st = open_store(NULL);
    /* target 0 (sql01:1433): verified x3, mismatch x2 (fails listening:
     * down), verified x2 again: three runs. The version text changes
     * inside the first run without splitting it. */
    int64_t at = T0;
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at += 30000, PW_VERIFY_VERIFIED,
                     "SQL Server 16.0.1000"));
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at += 30000, PW_VERIFY_VERIFIED,
                     "SQL Server 16.0.1000"));
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at += 30000, PW_VERIFY_VERIFIED,
                     "SQL Server 16.0.1105"));
    int64_t mismatch_at = at + 30000;
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at += 30000, PW_VERIFY_MISMATCH,
                     "reply starts 48 54 54 50 (HTTP)"));
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_DOWN, at += 30000, PW_VERIFY_MISMATCH,
                     "reply starts 48 54 54 50 (HTTP)"));
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at += 30000, PW_VERIFY_VERIFIED,
                     "SQL Server 16.0.1105"));
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at += 30000, PW_VERIFY_VERIFIED,
                     "SQL Server 16.0.1105"));
    /* target 1: steady for 1000 results, text alternating: one run */
    for (int i = 0; i < 1000; i++)
        submit1(st, vres(1, PW_STATE_OPEN, PW_STATUS_UP, T0 + i * 30000LL, PW_VERIFY_VERIFIED,
                         i % 2 ? "SMB 3.1.1" : "SMB 3.0.2"));
    /* target 2: closed (no exchange) then open without one ("off") */
    submit1(st, vres(2, PW_STATE_CLOSED, PW_STATUS_DOWN, T0 + 30000, PW_VERIFY_NONE, ""));
    submit1(st, vres(2, PW_STATE_OPEN, PW_STATUS_UP, T0 + 60000, PW_VERIFY_OFF, ""));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);

    struct pw_store_state_run *runs;
    size_t n;
    bool cut;
    ck_assert_int_eq(pw_store_query_state_runs(st, 1, T0, T0 + DAY, 0, &runs, &n, &cut), 0);
    ck_assert_uint_eq(n, 4); /* the mismatch run splits at the status change too */
    ck_assert(!cut);
    ck_assert(runs[0].has_verify);
    ck_assert_int_eq(runs[0].verify, PW_VERIFY_VERIFIED);
    ck_assert_uint_eq(runs[0].count, 3);
    ck_assert_str_eq(runs[0].verify_info, "SQL Server 16.0.1105"); /* the latest */
    ck_assert_int_eq(runs[1].verify, PW_VERIFY_MISMATCH);
    ck_assert_int_eq(runs[1].first_ms, mismatch_at);
    ck_assert(!runs[1].ok);
    ck_assert_int_eq(runs[1].state, PW_STATE_OPEN);
    ck_assert_str_eq(runs[1].verify_info, "reply starts 48 54 54 50 (HTTP)");
    ck_assert_int_eq(runs[2].verify, PW_VERIFY_MISMATCH);
    ck_assert_int_eq(runs[2].status, PW_STATUS_DOWN);
    ck_assert_int_eq(runs[3].verify, PW_VERIFY_VERIFIED);
    ck_assert_uint_eq(runs[3].count, 2);
    ck_assert_int_eq(runs[3].last_ms, at);
    free(runs);
    /* the newest two when limited */
    ck_assert_int_eq(pw_store_query_state_runs(st, 1, T0, T0 + DAY, 2, &runs, &n, &cut), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(cut);
    ck_assert_int_eq(runs[0].status, PW_STATUS_DOWN);
    ck_assert_int_eq(runs[1].verify, PW_VERIFY_VERIFIED);
    free(runs);
    /* a range that only overlaps the mismatch */
    ck_assert_int_eq(pw_store_query_state_runs(st, 1, mismatch_at, mismatch_at + 1, 0, &runs,
                                               &n, &cut), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(runs[0].verify, PW_VERIFY_MISMATCH);
    free(runs);

    ck_assert_int_eq(pw_store_query_state_runs(st, 2, T0, T0 + DAY, 0, &runs, &n, &cut), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(runs[0].count, 1000);
    ck_assert_int_eq(runs[0].verify, PW_VERIFY_VERIFIED);
    ck_assert_str_eq(runs[0].verify_info, "SMB 3.1.1");
    free(runs);
    ck_assert_int_eq(pw_store_query_state_runs(st, 3, T0, T0 + DAY, 0, &runs, &n, &cut), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(runs[0].has_verify);
    ck_assert_int_eq(runs[0].verify, PW_VERIFY_NONE);
    ck_assert_int_eq(runs[1].verify, PW_VERIFY_OFF);
    free(runs);
    ck_assert_int_eq(pw_store_query_state_runs(st, 99, T0, T0 + DAY, 0, &runs, &n, &cut),
                     PW_ENOT_FOUND);
    ck_assert_int_eq(pw_store_query_state_runs(st, 1, T0, T0, 0, &runs, &n, &cut), PW_EINVAL);

    /* current state (status API of retired targets, engine seeding) */
    struct pw_target_state ts[3];
    ck_assert_int_eq(pw_store_load_states(st, &test_plan, ts, NULL), 0);
    ck_assert_int_eq(ts[0].verify, PW_VERIFY_VERIFIED);
    ck_assert_str_eq(ts[0].verify_info, "SQL Server 16.0.1105");
    ck_assert_int_eq(ts[2].verify, PW_VERIFY_OFF);

    /* after a restart the current run continues (no split) */
    pw_store_close(st);
    st = open_store(NULL);
    submit1(st, vres(0, PW_STATE_OPEN, PW_STATUS_UP, at + 30000, PW_VERIFY_VERIFIED,
                     "SQL Server 16.0.1105"));
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM state_runs WHERE target_id=1"), 4);
    ck_assert_int_eq(qint(path, "SELECT count FROM state_runs WHERE target_id=1"
                                " ORDER BY id DESC LIMIT 1"), 3);
}
END_TEST

/* ---- RPC endpoint mapper registrations (schema v3) --------------------- */

static struct pw_epm_entry epm_entry(uint32_t d1, enum pw_epm_protseq ps, const char *endpoint,
                                     uint16_t port, const char *annotation)
{
    struct pw_epm_entry e;
    memset(&e, 0, sizeof e);
    e.has_iface = true;
    e.iface.d1 = d1;
    e.iface.d2 = 0xc70b;
    e.iface.d3 = 0x1067;
    memcpy(e.iface.d4, "\xb3\x17\x00\xdd\x01\x06\x62\xda", 8);
    e.vmajor = 1;
    e.vminor = 2;
    e.protseq = ps;
    e.port = port;
    snprintf(e.address, sizeof e.address, "127.0.0.1");
    snprintf(e.endpoint, sizeof e.endpoint, "%s", endpoint);
    snprintf(e.annotation, sizeof e.annotation, "%s", annotation);
    return e;
}

static const struct pw_epm_registration *find_row(const struct pw_store_epm_host *h,
                                               const char *endpoint)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].e.endpoint, endpoint) == 0)
            return &h->v[i];
    return NULL;
}

START_TEST(epm_put_load)
{
    struct pw_store *st = open_store(NULL);
    struct pw_store_epm_host *h;
    size_t nh;
    ck_assert_int_eq(pw_store_epm_load(st, &h, &nh), 0);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(nh, 0);

    struct pw_epm_entry a = epm_entry(0x906b0ce0, PW_EPM_NCACN_IP_TCP, "50012", 50012, "MSDTC");
    struct pw_epm_entry b = epm_entry(0x12345778, PW_EPM_NCACN_NP, "\\pipe\\lsass", 0, "");
    struct pw_epm_entry c = epm_entry(0x367abb81, PW_EPM_NCALRPC, "LRPC-1", 0, "");
    c.has_iface = false; /* a tower without an interface floor */
    memset(&c.iface, 0, sizeof c.iface);
    c.object.d1 = 0xdeadbeef;
    c.object.d4[7] = 0x42;
    struct pw_epm_entry first[] = {a, b, c};
    ck_assert_int_eq(pw_store_epm_put(st, "bts01", first, 3, T0), 0);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(pw_store_epm_load(st, &h, &nh), 0);
    ck_assert_uint_eq(nh, 1);
    ck_assert_str_eq(h[0].host, "bts01");
    ck_assert_int_eq(h[0].looked_up_ms, T0);
    ck_assert_uint_eq(h[0].n, 3);
    /* every field round-trips */
    ck_assert_mem_eq(&h[0].v[0].e.iface, &a.iface, sizeof a.iface);
    ck_assert(h[0].v[0].e.has_iface);
    ck_assert_uint_eq(h[0].v[0].e.vmajor, 1);
    ck_assert_uint_eq(h[0].v[0].e.vminor, 2);
    ck_assert_int_eq(h[0].v[0].e.protseq, PW_EPM_NCACN_IP_TCP);
    ck_assert_uint_eq(h[0].v[0].e.port, 50012);
    ck_assert_str_eq(h[0].v[0].e.address, "127.0.0.1");
    ck_assert_str_eq(h[0].v[0].e.endpoint, "50012");
    ck_assert_str_eq(h[0].v[0].e.annotation, "MSDTC");
    ck_assert_str_eq(h[0].v[1].e.endpoint, "\\pipe\\lsass");
    ck_assert_int_eq(h[0].v[1].e.protseq, PW_EPM_NCACN_NP);
    ck_assert(!h[0].v[2].e.has_iface);
    ck_assert_mem_eq(&h[0].v[2].e.object, &c.object, sizeof c.object);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h[0].v[i].first_seen_ms, T0);
        ck_assert_int_eq(h[0].v[i].last_seen_ms, T0);
    }
    pw_store_epm_free(h, nh);

    /* second read a minute later (host spelt in other case): a with a new
     * annotation, c; b gone. Another host with nothing registered. */
    a.annotation[0] = 'm';
    struct pw_epm_entry second[] = {c, a};
    ck_assert_int_eq(pw_store_epm_put(st, "BTS01", second, 2, T0 + 60000), 0);
    ck_assert_int_eq(pw_store_epm_put(st, "app02", NULL, 0, T0 + 60000), 0);
    /* a late, older read must not make b current again */
    ck_assert_int_eq(pw_store_epm_put(st, "bts01", &b, 1, T0 + 30000), 0);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(pw_store_epm_load(st, &h, &nh), 0);
        ck_assert_uint_eq(nh, 2);
        ck_assert_str_eq(h[0].host, "app02"); /* by name */
        ck_assert_uint_eq(h[0].n, 0);
        ck_assert_ptr_null(h[0].v);
        ck_assert_int_eq(h[0].looked_up_ms, T0 + 60000);
        ck_assert_str_eq(h[1].host, "bts01");
        ck_assert_int_eq(h[1].looked_up_ms, T0 + 60000);
        ck_assert_uint_eq(h[1].n, 2);
        const struct pw_epm_registration *ra = find_row(&h[1], "50012");
        const struct pw_epm_registration *rc = find_row(&h[1], "LRPC-1");
        ck_assert_ptr_nonnull(ra);
        ck_assert_ptr_nonnull(rc);
        ck_assert_ptr_null(find_row(&h[1], "\\pipe\\lsass"));
        ck_assert_int_eq(ra->first_seen_ms, T0);        /* kept */
        ck_assert_int_eq(ra->last_seen_ms, T0 + 60000); /* advanced */
        ck_assert_str_eq(ra->e.annotation, "mSDTC");
        ck_assert_int_eq(rc->first_seen_ms, T0);
        pw_store_epm_free(h, nh);
        if (round == 0) { /* and the same from the file after a restart */
            pw_store_close(st);
            st = open_store(NULL);
        }
    }
    struct pw_store_stats ss;
    pw_store_stats(st, &ss);
    ck_assert_uint_eq(ss.epm_written, 0); /* counters are per open */
    pw_store_close(st);
    /* b stays for history with the time it was last seen */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM epm_entries"), 3);
    ck_assert_int_eq(qint(path, "SELECT last_seen_ms FROM epm_entries WHERE endpoint LIKE '%lsass'"),
                     T0 + 30000);
    ck_assert_int_eq(qint(path, "SELECT first_seen_ms FROM epm_entries WHERE endpoint LIKE '%lsass'"),
                     T0);

    /* bad input */
    st = open_store(NULL);
    ck_assert_int_eq(pw_store_epm_put(st, NULL, NULL, 0, T0), PW_EINVAL);
    ck_assert_int_eq(pw_store_epm_put(st, "", NULL, 0, T0), PW_EINVAL);
    ck_assert_int_eq(pw_store_epm_put(st, "bts01", NULL, 1, T0), PW_EINVAL);
    pw_store_close(st);
}
END_TEST

START_TEST(epm_retention)
{
    struct pw_store_options o = {.keep_events_ms = 5 * DAY, .housekeep_every_ms = -1,
                                 .housekeep_targets = 1};
    struct pw_store *st = open_store(&o);
    struct pw_epm_entry a = epm_entry(0x906b0ce0, PW_EPM_NCACN_IP_TCP, "50012", 50012, "");
    struct pw_epm_entry b = epm_entry(0x906b0ce1, PW_EPM_NCACN_IP_TCP, "50013", 50013, "");
    struct pw_epm_entry ab[] = {a, b};
    ck_assert_int_eq(pw_store_epm_put(st, "bts01", ab, 2, T0), 0);
    ck_assert_int_eq(pw_store_epm_put(st, "old01", &a, 1, T0), 0);   /* never read again */
    ck_assert_int_eq(pw_store_epm_put(st, "bts01", &a, 1, T0 + 4 * DAY), 0);
    ck_assert_int_eq(pw_store_epm_put(st, "bts01", &a, 1, T0 + 10 * DAY), 0);
    submit1(st, mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + 10 * DAY, 100)); /* "now" */
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM epm_entries"), 3);
    /* one host per step: bts01, old01, then the wrap */
    for (int i = 0; i < 6; i++) {
        pw_store_housekeep(st);
        pw_store_heartbeat(st, T0 + 10 * DAY);
        ck_assert_int_eq(pw_store_flush(st, 5000), 0);
        uv_sleep(30);
    }
    struct pw_store_epm_host *h;
    size_t nh;
    ck_assert_int_eq(pw_store_epm_load(st, &h, &nh), 0);
    ck_assert_uint_eq(nh, 1);
    ck_assert_str_eq(h[0].host, "bts01");
    ck_assert_uint_eq(h[0].n, 1);
    ck_assert_int_eq(h[0].v[0].first_seen_ms, T0); /* seen within retention: kept */
    pw_store_epm_free(h, nh);
    struct pw_store_stats ss;
    pw_store_stats(st, &ss);
    ck_assert_uint_ge(ss.housekeep_deleted, 3); /* b, old01's a, old01 */
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM epm_entries"), 1);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM epm_hosts"), 1);
}
END_TEST

/* The writer cannot commit (another connection holds the write lock):
 * reads wait in memory up to the bound, the rest are refused and counted,
 * and nothing waiting is lost once the lock goes. */
START_TEST(epm_queue_bound)
{
    struct pw_store_options o = {.busy_timeout_ms = 20, .retry_max_ms = 50,
                                 .log = store_quiet_log};
    struct pw_store *st = open_store(&o);
    sqlite3 *locker;
    ck_assert_int_eq(sqlite3_open(path, &locker), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    enum { PER = 1000 };
    struct pw_epm_entry *v = calloc(PER, sizeof *v);
    for (int i = 0; i < PER; i++)
        v[i] = epm_entry(0x1000 + (uint32_t)i, PW_EPM_NCACN_IP_TCP, "50000", 50000, "");
    int accepted = 0, refused = 0;
    for (int k = 0; k < 20; k++) {
        char host[32];
        snprintf(host, sizeof host, "bts%02d", k);
        int rc = pw_store_epm_put(st, host, v, PER, T0 + k);
        if (rc == 0)
            accepted++;
        else if (rc == PW_EBUSY)
            refused++;
        else
            ck_abort_msg("put: %d", rc);
    }
    ck_assert_int_eq(accepted, PW_STORE_EPM_QUEUE_MAX / PER);
    ck_assert_int_eq(refused, 20 - accepted);
    ck_assert_int_eq(pw_store_flush(st, 200), PW_EBUSY);
    ck_assert_int_eq(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(locker);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    struct pw_store_stats ss;
    pw_store_stats(st, &ss);
    ck_assert_uint_eq(ss.epm_written, (uint64_t)accepted);
    ck_assert_uint_eq(ss.epm_dropped, (uint64_t)refused);
    /* one read larger than the bound is taken when nothing waits */
    struct pw_epm_entry *big = calloc(PW_STORE_EPM_QUEUE_MAX + 1, sizeof *big);
    for (int i = 0; i <= PW_STORE_EPM_QUEUE_MAX; i++)
        big[i] = epm_entry((uint32_t)i, PW_EPM_NCACN_IP_TCP, "50001", 50001, "");
    ck_assert_int_eq(pw_store_epm_put(st, "huge", big, PW_STORE_EPM_QUEUE_MAX + 1, T0), 0);
    ck_assert_int_eq(pw_store_flush(st, 20000), 0);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM epm_entries"),
                     accepted * PER + PW_STORE_EPM_QUEUE_MAX + 1);
    free(v);
    free(big);
}
END_TEST

/* ---- degraded: another connection holds the write lock ---------------- */

struct logbuf {
    uv_mutex_t m;
    int warns, errors;
    char last[512];
};

static void on_log(void *ud, int lvl, const char *msg)
{
    struct logbuf *b = ud;
    uv_mutex_lock(&b->m);
    if (lvl == PW_LOG_WARN)
        b->warns++;
    if (lvl == PW_LOG_ERROR)
        b->errors++;
    snprintf(b->last, sizeof b->last, "%s", msg);
    uv_mutex_unlock(&b->m);
}

START_TEST(degraded_locked_then_recovers)
{
    struct logbuf lb = {0};
    uv_mutex_init(&lb.m);
    struct pw_store_options o = {.queue_max = 100, .batch_max = 50, .busy_timeout_ms = 20,
                                 .retry_max_ms = 100, .commit_interval_ms = -1,
                                 .log = on_log, .log_ud = &lb};
    struct pw_store *st = open_store(&o);
    sqlite3 *locker;
    ck_assert_int_eq(sqlite3_open(path, &locker), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    struct pw_result r[150];
    for (int i = 0; i < 150; i++)
        r[i] = mkres(0, PW_STATE_OPEN, PW_STATUS_UP, T0 + i * 1000LL, 10);
    ck_assert_uint_eq(pw_store_submit(st, r, 150), 100);
    ck_assert_int_eq(pw_store_flush(st, 300), PW_EBUSY);
    struct pw_store_stats s;
    pw_store_stats(st, &s);
    ck_assert_int_eq(s.health.state, PW_STORE_DEGRADED);
    ck_assert_ptr_nonnull(strstr(s.health.message, "locked"));
    ck_assert_int_gt(s.health.since_ms, 0);
    ck_assert_uint_eq(s.dropped, 50);
    ck_assert_uint_eq(s.queued, 100);
    ck_assert_uint_eq(s.written, 0);
    ck_assert_uint_gt(s.failed_commits, 0);

    ck_assert_int_eq(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(locker);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    pw_store_stats(st, &s);
    ck_assert_int_eq(s.health.state, PW_STORE_OK);
    ck_assert_uint_eq(s.written, 100);
    ck_assert_uint_eq(s.queued, 0);
    pw_store_close(st);
    ck_assert_int_eq(qint(path, "SELECT count FROM state_runs"), 100);
    uv_mutex_lock(&lb.m);
    ck_assert_int_ge(lb.warns, 1);  /* the drops */
    ck_assert_int_ge(lb.errors, 1); /* degraded */
    uv_mutex_unlock(&lb.m);
    uv_mutex_destroy(&lb.m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, schema_fresh);
    tcase_add_test(tc, schema_migrate_from_every_version);
    tcase_add_test(tc, schema_newer_refused);
    tcase_add_test(tc, open_bad_path);
    tcase_add_test(tc, batching);
    tcase_add_test(tc, bucket_adds_exact);
    tcase_add_test(tc, unsynced_results_dropped);
    tcase_add_test(tc, outage_flaps_and_restarts);
    tcase_add_test(tc, stall_gap);
    tcase_add_test(tc, gap_causes);
    tcase_add_test(tc, target_late);
    tcase_add_test(tc, retire_target);
    tcase_add_test(tc, sync_roles_change);
    tcase_add_test(tc, file_removed_degrades);
    tcase_add_test(tc, query_status);
    tcase_add_test(tc, query_history_fine);
    tcase_add_test(tc, query_outages_and_uptime);
    tcase_add_test(tc, retention);
    tcase_add_test(tc, degraded_locked_then_recovers);
    tcase_add_test(tc, verify_splits_runs);
    tcase_add_test(tc, epm_put_load);
    tcase_add_test(tc, epm_retention);
    tcase_add_test(tc, epm_queue_bound);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_check_run(suite());
}
