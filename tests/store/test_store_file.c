/*
 * The database file as pw_store_open() finds it, against real files: one
 * store per database (a second open is refused, names the holder's PID and
 * writes nothing; readers still read; closing frees it), a corrupt interior
 * page refused at start, and the exact messages for a file that is not a
 * database and a missing directory.
 */
#include "store_fixture.h"
#include "store/store_int.h"

#include "base/error.h"

#include "tests/check_run.h"

#include <check.h>
#include <uv.h>

/* The whole file, to prove that nothing was written to it. */
static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n ? *n : 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

START_TEST(second_open_refused)
{
    struct pw_store *st = open_store(NULL);
    pw_store_heartbeat(st, T0);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(qint(path, "SELECT pid FROM daemon"), (long long)uv_os_getpid());

    struct pw_store *st2 = (struct pw_store *)&st2; /* must be reset to NULL */
    char err[PW_STORE_MSG_MAX], want[2 * PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(path, NULL, &st2, err), PW_EBUSY);
    ck_assert_ptr_null(st2);
    snprintf(want, sizeof want, "database %s is in use by portwatch (PID %lld): stop that one"
             " first, or give this one another `database`", path, (long long)uv_os_getpid());
    ck_assert_str_eq(err, want);
    /* nothing written: the first one's coverage run is still open (a
     * second writer would have ended it as a crash) */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs WHERE ended_ms IS NULL"), 1);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs"), 1);
    /* readers still read while it runs */
    struct pw_store_target *t;
    size_t n;
    ck_assert_int_eq(pw_store_query_status(st, false, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    free(t);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM targets"), 3);

    /* so does a reader store, the way a report opens it */
    struct pw_store *rd = NULL;
    ck_assert_msg(pw_store_open_reader(path, NULL, &rd, err) == 0, "%s", err);
    ck_assert_int_eq(pw_store_query_status(rd, false, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    free(t);
    pw_store_close(rd);

    pw_store_close(st);
    /* a clean stop leaves no holder and frees the lock */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM daemon"), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs WHERE end_reason=1"), 1);
    st = open_store(NULL);
    pw_store_close(st);
}
END_TEST

/* A database whose pages hold about 60,000 state runs, closed (so the WAL
 * is checkpointed into the file). */
static void build_big(void)
{
    struct pw_store *st = open_store(NULL);
    enum { N = 60000 };
    struct pw_result *r = calloc(N, sizeof *r);
    for (int i = 0; i < N; i++)
        r[i] = mkres(0, i % 2 ? PW_STATE_CLOSED : PW_STATE_OPEN, PW_STATUS_UP,
                     T0 + i * 1000LL, 100);
    for (int i = 0; i < N; i += 10000)
        ck_assert_uint_eq(pw_store_submit(st, r + i, 10000), 10000);
    ck_assert_int_eq(pw_store_flush(st, 30000), 0);
    pw_store_close(st);
    free(r);
}

/* Writes garbage over a page in the middle of the file that holds rows of
 * table (a full scan of it then fails); every page is in use, nothing was
 * ever deleted. Returns the page number. */
static long long corrupt_page_of(const char *table)
{
    long long pages = qint(path, "PRAGMA page_count");
    long long psize = qint(path, "PRAGMA page_size");
    ck_assert_int_gt(pages, 100);
    char scan[128];
    snprintf(scan, sizeof scan, "SELECT count(*) FROM %s NOT INDEXED WHERE rowid IS NOT NULL",
             table);
    char *old = malloc((size_t)psize);
    for (long long pg = pages / 2; pg < pages; pg++) {
        FILE *f = fopen(path, "r+b");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fseek(f, (long)((pg - 1) * psize), SEEK_SET), 0);
        ck_assert_uint_eq(fread(old, 1, (size_t)psize, f), (size_t)psize);
        ck_assert_int_eq(fseek(f, (long)((pg - 1) * psize), SEEK_SET), 0);
        for (long long i = 0; i < psize; i++)
            fputc((int)((i * 7919 + 13) & 0xff), f);
        fclose(f);
        if (qint(path, scan) == -999) {
            free(old);
            return pg;
        }
        f = fopen(path, "r+b"); /* another table's page: put it back */
        ck_assert_int_eq(fseek(f, (long)((pg - 1) * psize), SEEK_SET), 0);
        ck_assert_uint_eq(fwrite(old, 1, (size_t)psize, f), (size_t)psize);
        fclose(f);
    }
    ck_abort_msg("no page of %s found", table);
    return 0;
}

START_TEST(corrupt_page_refused)
{
    build_big();
    ck_assert(integrity_ok(path));
    corrupt_page_of("state_runs");
    size_t n0, n1;
    char *before = slurp(path, &n0);

    struct pw_store *st = (struct pw_store *)&st;
    char err[PW_STORE_MSG_MAX], want[2 * PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(path, NULL, &st, err), PW_ESTORAGE);
    ck_assert_ptr_null(st);
    snprintf(want, sizeof want, "database %s is corrupt (quick_check: ", path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
    ck_assert_ptr_nonnull(strstr(err, "): move it aside (portwatch then starts a new one) or"
                                      " recover what is readable with `portwatch db recover"
                                      " NEW.db`"));
    char *after = slurp(path, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert(memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}
END_TEST

/* A reader neither migrates nor reads what its queries do not know. */
START_TEST(reader_schema)
{
    struct pw_store *st = open_store(NULL);
    pw_store_close(st);
    ck_assert_int_eq(qexec(path, "PRAGMA user_version=2"), SQLITE_OK);
    char err[PW_STORE_MSG_MAX], want[2 * PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open_reader(path, NULL, &st, err), PW_ESTORAGE);
    ck_assert_ptr_null(st);
    snprintf(want, sizeof want, "database %s has schema version 2; this portwatch reads 3 to %d:"
             " start the daemon of this version once, it upgrades the file", path,
             PW_STORE_SCHEMA_VERSION);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(qint(path, "PRAGMA user_version"), 2);
}
END_TEST

START_TEST(not_a_database)
{
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 8192; i++)
        fputc("not sqlite\n"[i % 11], f);
    fclose(f);
    struct pw_store *st;
    char err[PW_STORE_MSG_MAX], want[2 * PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(path, NULL, &st, err), PW_ESTORAGE);
    snprintf(want, sizeof want, "cannot open the database %s: file is not a database: it is"
             " not a SQLite database; move it aside or set `database` to another file", path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(missing_directory)
{
    char p[600], want[2 * PW_STORE_MSG_MAX];
    snprintf(p, sizeof p, "%s/no-such-dir/h.db", dir);
    struct pw_store *st;
    char err[PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(p, NULL, &st, err), PW_ESTORAGE);
    snprintf(want, sizeof want, "cannot open the database %s: the directory %s/no-such-dir"
             " does not exist: create it, or set `database` to a file in an existing directory",
             p, dir);
    ck_assert_str_eq(err, want);
}
END_TEST

/* The store's log, as the test reads it: the last line of one level. */
struct logged {
    uv_mutex_t m;
    int level;
    char last[PW_STORE_MSG_MAX];
};

static void log_keep(void *ud, int lvl, const char *msg)
{
    struct logged *l = ud;
    uv_mutex_lock(&l->m);
    if (lvl == l->level)
        snprintf(l->last, sizeof l->last, "%s", msg);
    uv_mutex_unlock(&l->m);
}

/* The check at open is bounded: past its budget the store opens anyway
 * and says that the file was not checked. */
START_TEST(check_bounded)
{
    build_big();
    struct logged w = {.level = PW_LOG_WARN};
    uv_mutex_init(&w.m);
    struct pw_store_options o = {.check_ms = 1, .log = log_keep, .log_ud = &w};
    uint64_t t0 = uv_hrtime();
    struct pw_store *st = open_store(&o);
    ck_assert_uint_lt(uv_hrtime() - t0, 2000000000u);
    char want[2 * PW_STORE_MSG_MAX];
    snprintf(want, sizeof want, "the check of %s did not finish within 1 ms; opened without it"
             " (`portwatch db backup` checks every page of its copy)", path);
    uv_mutex_lock(&w.m);
    ck_assert_str_eq(w.last, want);
    uv_mutex_unlock(&w.m);
    pw_store_close(st);
    uv_mutex_destroy(&w.m);
}
END_TEST

struct lines {
    int n;
    char last[PW_STORE_MSG_MAX], all[4096];
};

static void keep_line(void *ud, const char *line)
{
    struct lines *l = ud;
    l->n++;
    snprintf(l->last, sizeof l->last, "%s", line);
    size_t n = strlen(l->all);
    snprintf(l->all + n, sizeof l->all - n, "%s\n", line);
}

/* A backup taken while the store is open and has results waiting is one
 * consistent copy of what was committed; an existing file is never
 * overwritten. */
START_TEST(backup_while_open)
{
    struct pw_store *st = open_store(NULL);
    for (int i = 0; i < 100; i++) {
        struct pw_result r = mkres(0, i % 2 ? PW_STATE_CLOSED : PW_STATE_OPEN, PW_STATUS_UP,
                                   T0 + i * 1000LL, 100);
        ck_assert_uint_eq(pw_store_submit(st, &r, 1), 1);
    }
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    char copy[600], err[PW_STORE_MSG_MAX], want[2 * PW_STORE_MSG_MAX];
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    struct lines l = {0};
    ck_assert_msg(pw_store_backup(path, copy, keep_line, &l, err) == 0, "%s", err);
    ck_assert_int_eq(l.n, 2);
    snprintf(want, sizeof want, "%s passes integrity_check", copy);
    ck_assert_str_eq(l.last, want);
    ck_assert(integrity_ok(copy));
    ck_assert_int_eq(qint(copy, "SELECT count(*) FROM state_runs"), 100);
    ck_assert_int_eq(qint(copy, "SELECT count(*) FROM targets"), 3);
    /* the store goes on writing after the copy */
    struct pw_result r = mkres(0, PW_STATE_FILTERED, PW_STATUS_DOWN, T0 + 200000, -1);
    ck_assert_uint_eq(pw_store_submit(st, &r, 1), 1);
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM state_runs"), 101);
    ck_assert_int_eq(qint(copy, "SELECT count(*) FROM state_runs"), 100);

    ck_assert_int_eq(pw_store_backup(path, copy, keep_line, &l, err), PW_EINVAL);
    snprintf(want, sizeof want, "%s already exists: name a new file (portwatch never"
             " overwrites one)", copy);
    ck_assert_str_eq(err, want);
    pw_store_close(st);
}
END_TEST

/* A database with an unreadable page in state_runs: the copy holds every
 * other row, passes integrity_check, says what was lost, and a store opens
 * it. */
START_TEST(recover_damaged)
{
    build_big();
    long long all = qint(path, "SELECT count(*) FROM state_runs");
    ck_assert_int_eq(all, 60000);
    corrupt_page_of("state_runs");
    char copy[sizeof path], err[PW_STORE_MSG_MAX];
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    struct lines l = {0};
    uint64_t damaged = 0;
    ck_assert_msg(pw_store_recover(path, copy, keep_line, &l, &damaged, err) == 0, "%s", err);
    ck_assert_uint_eq(damaged, 1);
    ck_assert(integrity_ok(copy));
    long long got = qint(copy, "SELECT count(*) FROM state_runs");
    /* one page of about 100 rows lost, and nothing else */
    ck_assert_int_lt(got, all);
    ck_assert_int_gt(got, all - 300);
    ck_assert_int_eq(qint(copy, "SELECT count(*) FROM targets"), 3);
    ck_assert_int_eq(qint(copy, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(qint(copy, "PRAGMA user_version"), PW_STORE_SCHEMA_VERSION);
    ck_assert_msg(strstr(l.all, "state_runs    ") && strstr(l.all, " are lost\n") &&
                  strstr(l.all, "targets       3 rows, all read\n"), "%s", l.all);
    /* the rows on both sides of the damage, the first and the last */
    ck_assert_int_eq(qint(copy, "SELECT min(first_ms) FROM state_runs"), T0);
    ck_assert_int_eq(qint(copy, "SELECT max(first_ms) FROM state_runs"), T0 + 59999000LL);
    /* the recovered file is a database portwatch opens and writes */
    snprintf(path, sizeof path, "%s", copy);
    struct pw_store *st = open_store(NULL);
    pw_store_close(st);
    snprintf(path, sizeof path, "%s/h.db", dir);
}
END_TEST

/* A plan that cannot be recorded says why and nothing about what follows:
 * the daemon decides that (it stops at start; on a reload it keeps the
 * running plan). */
START_TEST(sync_failure_message)
{
    struct logged l = {.level = PW_LOG_ERROR};
    uv_mutex_init(&l.m);
    struct pw_store_options o = {.busy_timeout_ms = 100, .log = log_keep, .log_ud = &l};
    struct pw_store *st = NULL;
    char err[PW_STORE_MSG_MAX], want[2 * PW_STORE_MSG_MAX];
    ck_assert_int_eq(pw_store_open(path, &o, &st, err), 0);
    sqlite3 *locker;
    ck_assert_int_eq(sqlite3_open(path, &locker), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(pw_store_sync_targets(st, &test_plan, NULL), PW_ESTORAGE);
    snprintf(want, sizeof want, "cannot record the plan's 3 targets in %s: database is locked",
             path);
    uv_mutex_lock(&l.m);
    ck_assert_str_eq(l.last, want);
    uv_mutex_unlock(&l.m);
    sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(locker);
    ck_assert_int_eq(pw_store_sync_targets(st, &test_plan, NULL), 0);
    pw_store_close(st);
    uv_mutex_destroy(&l.m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_file");
    TCase *tc = tcase_create("store_file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, second_open_refused);
    tcase_add_test(tc, corrupt_page_refused);
    tcase_add_test(tc, check_bounded);
    tcase_add_test(tc, reader_schema);
    tcase_add_test(tc, not_a_database);
    tcase_add_test(tc, missing_directory);
    tcase_add_test(tc, sync_failure_message);
    tcase_add_test(tc, backup_while_open);
    tcase_add_test(tc, recover_damaged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_check_run(suite());
}
