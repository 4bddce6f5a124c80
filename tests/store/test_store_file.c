/*
 * The database file as pw_store_open() finds it, against real files: one
 * store per database (a second open is refused, names the holder's PID and
 * writes nothing; readers still read; closing frees it), a corrupt interior
 * page refused at start, and the exact messages for a file that is not a
 * database and a missing directory.
 */
#include "store_util.h"
#include "store/store_int.h"

#include "config/error.h"

#include "tests/check_run.h"

#include <check.h>
#include <uv.h>

static char *dir;
static char path[512];

static void setup(void)
{
    dir = mktmpdir();
    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/h.db", dir);
}

static void teardown(void)
{
    rmtree(dir);
    free(dir);
}

static struct pw_store *open_ok(void)
{
    struct pw_store *st = NULL;
    char err[PW_STORE_MSG_MAX];
    int rc = pw_store_open(path, NULL, &st, err);
    ck_assert_msg(rc == 0, "open: %s", err);
    ck_assert_int_eq(pw_store_sync_targets(st, &test_plan, NULL), 0);
    return st;
}

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
    struct pw_store *st = open_ok();
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

    pw_store_close(st);
    /* a clean stop leaves no holder and frees the lock */
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM daemon"), 0);
    ck_assert_int_eq(qint(path, "SELECT count(*) FROM runs WHERE end_reason=1"), 1);
    st = open_ok();
    pw_store_close(st);
}
END_TEST

/* A database whose pages hold about 60,000 state runs, closed (so the WAL
 * is checkpointed into the file). */
static void build_big(void)
{
    struct pw_store *st = open_ok();
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

START_TEST(corrupt_page_refused)
{
    build_big();
    ck_assert(integrity_ok(path));
    long long pages = qint(path, "PRAGMA page_count");
    long long psize = qint(path, "PRAGMA page_size");
    ck_assert_int_gt(pages, 100);
    /* garbage over a page in the middle (every page is in use: nothing
     * was ever deleted) */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)(pages / 2 * psize), SEEK_SET), 0);
    for (long long i = 0; i < psize; i++)
        fputc((int)((i * 7919 + 13) & 0xff), f);
    fclose(f);
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

static Suite *suite(void)
{
    Suite *s = suite_create("store_file");
    TCase *tc = tcase_create("store_file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, second_open_refused);
    tcase_add_test(tc, corrupt_page_refused);
    tcase_add_test(tc, not_a_database);
    tcase_add_test(tc, missing_directory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_check_run(suite());
}
