/*
 * The fixture of the store's check suites that work on one database file:
 * a fresh temporary directory per test with the path h.db in it, and a
 * store opened on it with the test plan synced.
 */
#ifndef PW_TEST_STORE_FIXTURE_H
#define PW_TEST_STORE_FIXTURE_H

#include "store_util.h"

#include "base/error.h"

#include <check.h>

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

static struct pw_store *open_store(const struct pw_store_options *o)
{
    struct pw_store *st = NULL;
    char err[PW_STORE_MSG_MAX];
    int rc = pw_store_open(path, o, &st, err);
    ck_assert_msg(rc == 0, "open: %s", err);
    ck_assert_int_eq(pw_store_sync_targets(st, &test_plan, NULL), 0);
    return st;
}

#endif
