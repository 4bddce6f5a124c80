/*
 * Tests of `portwatch check`'s table and JSON reports, from a real sweep
 * over loopback: a catalog role whose SQL port is closed (listening
 * expected: fails, and the table names what breaks), an operator's range
 * where a refusal passes, and one port that accepts.
 */
#include "helpers.h"

#include "probes/report.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct pw_plan *plan;
static struct pw_snapshot *snap;
static int lfd = -1;
static uint16_t open_port;

/* One sweep shared by the tests (unchecked fixture: runs once). */
static void setup(void)
{
    open_port = 0;
    lfd = th_listen("127.0.0.3", &open_port, 16);
    char ini[1024];
    snprintf(ini, sizeof ini,
             "[biztalk]\nmanagement_database = 127.0.0.1\n"
             "[check rpc]\nhosts = 127.0.0.2\nports = 40000-40009, 40011\n"
             "expect = reachable\nreason = RPC to the app servers\n"
             "[check web]\nhosts = 127.0.0.3\nports = %u\nexpect = listening\n",
             open_port);
    plan = th_plan(ini);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine_options o = {.timeout_ms = 1000};
    struct pw_engine *e = pw_engine_new(&loop, plan, &o);
    int done = 0;
    pw_engine_sweep_once(e, th_done, &done);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 1);
    snap = pw_engine_snapshot_acquire(e);
    pw_engine_close(e, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void teardown(void)
{
    pw_snapshot_release(snap);
    pw_plan_free(plan);
    close(lfd);
}

static char *table(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pw_report_table(plan, snap, f);
    fclose(f);
    return buf;
}

START_TEST(test_table)
{
    char *t = table();
    if (getenv("PW_SHOW"))
        fputs(t, stderr);
    /* the closed SQL port fails, with its role and what breaks */
    ck_assert_ptr_nonnull(strstr(t, "1433         listening  FAIL  closed"));
    ck_assert_ptr_nonnull(strstr(t, "roles: management_database"));
    ck_assert_ptr_nonnull(strstr(t, "breaks: [SQL Server, row"));
    /* the refusing range passes as one line; the lone port stays alone */
    ck_assert_ptr_nonnull(strstr(t, "40000-40009  reachable  OK    10 closed\n"));
    ck_assert_ptr_nonnull(strstr(t, "40011        reachable  OK    closed\n"));
    ck_assert_ptr_null(strstr(t, "RPC to the app servers")); /* passing: not listed */
    char line[64];
    snprintf(line, sizeof line, "%-11u  listening  OK    open  ", open_port);
    ck_assert_ptr_nonnull(strstr(t, line));
    ck_assert_ptr_nonnull(strstr(t, "Total: 3 hosts"));
    free(t);
}
END_TEST

START_TEST(test_json)
{
    json_t *a = th_report_json(plan, snap);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(json_array_size(a), plan->ntargets);
    size_t idx;
    json_t *o;
    int seen_sql = 0, seen_open = 0;
    json_array_foreach(a, idx, o) {
        const char *host = json_string_value(json_object_get(o, "host"));
        json_int_t port = json_integer_value(json_object_get(o, "port"));
        ck_assert_ptr_nonnull(host);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "id")), (json_int_t)idx + 1);
        ck_assert(json_is_boolean(json_object_get(o, "ok")));
        ck_assert(json_is_string(json_object_get(o, "status")));
        ck_assert(json_is_string(json_object_get(o, "detail")));
        ck_assert(json_is_array(json_object_get(o, "roles")));
        ck_assert(json_is_array(json_object_get(o, "reasons")));
        if (strcmp(host, "127.0.0.1") == 0 && port == 1433) {
            seen_sql = 1;
            ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "closed");
            ck_assert_str_eq(json_string_value(json_object_get(o, "expect")), "listening");
            ck_assert(json_is_false(json_object_get(o, "ok")));
            ck_assert(json_is_null(json_object_get(o, "latency_ms")));
            ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "down");
            json_t *rs = json_object_get(o, "reasons");
            ck_assert_uint_ge(json_array_size(rs), 1);
            json_t *r0 = json_array_get(rs, 0);
            ck_assert_str_eq(json_string_value(json_object_get(r0, "role")),
                             "management_database");
            ck_assert_int_gt(json_integer_value(json_object_get(r0, "catalog_row")), 0);
            ck_assert(json_is_string(json_object_get(r0, "text")));
            ck_assert(json_is_string(json_object_get(r0, "service")));
        }
        if (port == open_port && strcmp(host, "127.0.0.3") == 0) {
            seen_open = 1;
            ck_assert(json_is_true(json_object_get(o, "ok")));
            /* the API's field: milliseconds, to the microsecond */
            json_t *lat = json_object_get(o, "latency_ms");
            ck_assert(json_is_real(lat));
            double us = json_real_value(lat) * 1000.0;
            ck_assert(us >= 0 && us - (double)(long long)(us + 0.5) < 1e-6);
            json_t *roles = json_object_get(o, "roles");
            ck_assert_str_eq(json_string_value(json_array_get(roles, 0)), "web");
        }
    }
    ck_assert(seen_sql && seen_open);

    /* The streamed form is the same document. */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pw_report_json_write(plan, snap, f), 0);
    rewind(f);
    json_error_t err;
    json_t *b = json_loadf(f, 0, &err);
    fclose(f);
    ck_assert_msg(b != NULL, "streamed JSON does not parse: %s (line %d)", err.text, err.line);
    ck_assert(json_equal(a, b));
    json_decref(b);
    json_decref(a);
}
END_TEST

START_TEST(test_all_ok)
{
    ck_assert(!pw_report_all_ok(snap));
    /* a copy where every failing target passes */
    size_t n = snap->ntargets;
    struct pw_target_state *ts = malloc(n * sizeof *ts);
    memcpy(ts, snap->targets, n * sizeof *ts);
    struct pw_snapshot s = *snap;
    s.targets = ts;
    for (size_t i = 0; i < n; i++)
        ts[i].ok = true;
    ck_assert(pw_report_all_ok(&s));
    ts[n - 1].has_result = false; /* no result is not ok */
    ck_assert(!pw_report_all_ok(&s));
    s.ntargets = 0;
    ck_assert(pw_report_all_ok(&s));
    free(ts);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probes-report");
    TCase *tc = tcase_create("report");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_all_ok);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
