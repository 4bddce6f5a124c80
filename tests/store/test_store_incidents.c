/*
 * Incidents from the outages table (store/store_incidents.c), against a real
 * database fed with results: outages that began together on one host or
 * with one cause across hosts make one incident, others stay apart; the
 * filters (range, host, role, open/ended) keep whole incidents; a verify
 * mismatch is a cause of its own; an unknown host or role is not found;
 * a limit keeps the newest incidents, the same ones as without it.
 */
#include "store_fixture.h"
#include "store/store_incidents.h"

#include "tests/check_run.h"

#include <check.h>

#define MINUTE 60000LL

static const char *roles_db[] = {"management_database"};
static const char *roles_proc[] = {"processing_servers"};
static struct pw_profile inc_profiles[] = {
    {.expect = PW_EXPECT_LISTENING, .roles = roles_db, .nroles = 1},
    {.expect = PW_EXPECT_LISTENING, .roles = roles_proc, .nroles = 1},
};
static struct pw_host inc_hosts[] = {
    {.name = "sql01", .first = 0, .n = 2},
    {.name = "web01", .first = 2, .n = 1},
    {.name = "bts01", .first = 3, .n = 2},
    {.name = "bts02", .first = 5, .n = 1},
};
static struct pw_target inc_targets[] = {
    {.host = 0, .port = 1433, .profile = 0}, {.host = 0, .port = 445, .profile = 0},
    {.host = 1, .port = 443, .profile = 1},  {.host = 2, .port = 50000, .profile = 1},
    {.host = 2, .port = 50001, .profile = 1}, {.host = 3, .port = 50000, .profile = 1},
};
static struct pw_plan inc_plan = {
    .hosts = inc_hosts, .nhosts = 4,
    .targets = inc_targets, .ntargets = 6,
    .profiles = inc_profiles, .nprofiles = 2,
};

/* What target t answers at time at (ms after T0), every 10 s for an hour:
 *   sql01:1433 refused during [10, 15) min                    incident A
 *   bts01:50000, bts01:50001, bts02:50000 filtered from 20 min
 *     (seen at 20:00, 20:10, 20:20), bts01 back at 30 min      incident B
 *   web01:443 answered by the wrong service from 20:10          incident C
 *     (another host, another cause: not part of B) */
static struct pw_result answer(uint32_t t, int64_t at)
{
    int64_t m = at - T0;
    struct pw_result r = mkres(t, PW_STATE_OPEN, PW_STATUS_UP, at, 100);
    if (t == 0 && m >= 10 * MINUTE && m < 15 * MINUTE)
        r = mkres(t, PW_STATE_CLOSED, PW_STATUS_DOWN, at, -1);
    int64_t from = t == 3 ? 20 * MINUTE : t == 4 ? 20 * MINUTE + 10000 : 20 * MINUTE + 20000;
    int64_t to = t == 5 ? 3600000 : 30 * MINUTE;
    if (t >= 3 && m >= from && m < to)
        r = mkres(t, PW_STATE_FILTERED, PW_STATUS_DOWN, at, -1);
    if (t == 2 && m >= 20 * MINUTE + 10000) {
        r.ok = false;
        r.status = PW_STATUS_DOWN;
        r.verify = PW_VERIFY_MISMATCH;
        snprintf(r.verify_info, sizeof r.verify_info, "an HTTP server answered");
    } else if (r.state == PW_STATE_OPEN) {
        r.verify = PW_VERIFY_VERIFIED;
    }
    return r;
}

static struct pw_store *fed(void)
{
    struct pw_store *st = open_store(NULL);
    ck_assert_int_eq(pw_store_sync_targets(st, &inc_plan, NULL), 0);
    for (int64_t at = T0; at < T0 + 3600000; at += 10000)
        for (uint32_t t = 0; t < inc_plan.ntargets; t++) {
            struct pw_result r = answer(t, at);
            ck_assert_uint_eq(pw_store_submit(st, &r, 1), 1);
        }
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    return st;
}

static const struct pw_store_incident_target *tgt(const struct pw_store_incident_list *l,
                                                  size_t inc, size_t k)
{
    return &l->t[l->v[inc].first + k];
}

START_TEST(grouped_by_host_and_cause)
{
    struct pw_store *st = fed();
    struct pw_store_incident_filter f = {.from_ms = T0, .to_ms = T0 + 3600000, .open = -1,
                                         .window_ms = MINUTE};
    struct pw_store_incident_list l;
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 3);
    /* newest first: C (20:10), B (20:00), A (10:00) */
    ck_assert_uint_eq(l.v[0].n, 1);
    ck_assert_str_eq(tgt(&l, 0, 0)->host, "web01");
    ck_assert_int_eq(tgt(&l, 0, 0)->state, PW_STATE_OPEN);
    ck_assert_int_eq(tgt(&l, 0, 0)->verify, PW_VERIFY_MISMATCH);
    ck_assert_str_eq(tgt(&l, 0, 0)->verify_info, "an HTTP server answered");
    ck_assert_int_eq(l.v[0].end_ms, -1);

    ck_assert_uint_eq(l.v[1].n, 3);
    ck_assert_int_eq(l.v[1].start_ms, T0 + 20 * MINUTE);
    ck_assert_int_eq(l.v[1].end_ms, -1); /* bts02 is still down */
    ck_assert_str_eq(tgt(&l, 1, 0)->host, "bts01");
    ck_assert_uint_eq(tgt(&l, 1, 1)->port, 50001);
    ck_assert_str_eq(tgt(&l, 1, 2)->host, "bts02");
    ck_assert_int_eq(tgt(&l, 1, 0)->end_ms, T0 + 30 * MINUTE);
    char id[48];
    snprintf(id, sizeof id, "%lld-%lld", (long long)(T0 + 20 * MINUTE),
             (long long)tgt(&l, 1, 0)->outage_id);
    ck_assert_str_eq(l.v[1].id, id);

    ck_assert_uint_eq(l.v[2].n, 1);
    ck_assert_uint_eq(tgt(&l, 2, 0)->port, 1433);
    ck_assert_int_eq(tgt(&l, 2, 0)->state, PW_STATE_CLOSED);
    ck_assert_int_eq(l.v[2].start_ms, T0 + 10 * MINUTE);
    ck_assert_int_eq(l.v[2].end_ms, T0 + 15 * MINUTE);
    pw_store_incident_list_free(&l);

    /* a window shorter than the 10 s between the firewall's victims: each
     * outage is an incident of its own (bts01's two ports too) */
    f.window_ms = 5000;
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 5);
    pw_store_incident_list_free(&l);
    pw_store_close(st);
}
END_TEST

START_TEST(filters_keep_whole_incidents)
{
    struct pw_store *st = fed();
    struct pw_store_incident_list l;
    struct pw_store_incident_filter f = {.from_ms = T0, .to_ms = T0 + 3600000, .open = -1,
                                         .window_ms = MINUTE, .host = "BTS02"};
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.v[0].n, 3); /* bts01's outages too: one event */
    pw_store_incident_list_free(&l);

    f = (struct pw_store_incident_filter){.from_ms = T0, .to_ms = T0 + 3600000, .open = -1,
                                          .role = "management_database"};
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(tgt(&l, 0, 0)->port, 1433);
    pw_store_incident_list_free(&l);

    f = (struct pw_store_incident_filter){.from_ms = T0, .to_ms = T0 + 3600000, .open = 0};
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 1); /* only A has ended */
    pw_store_incident_list_free(&l);
    f.open = 1;
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 2);
    pw_store_incident_list_free(&l);

    /* a range after A ended and before B began: nothing */
    f = (struct pw_store_incident_filter){.from_ms = T0 + 15 * MINUTE, .to_ms = T0 + 20 * MINUTE,
                                          .open = -1};
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 0);
    pw_store_incident_list_free(&l);
    /* a range that begins inside B: B whole, with the outage that began
     * before the range */
    f.from_ms = T0 + 20 * MINUTE + 15000;
    f.to_ms = T0 + 21 * MINUTE;
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_uint_eq(l.v[1].n, 3);
    pw_store_incident_list_free(&l);

    f.host = "nosuch";
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), PW_ENOT_FOUND);
    pw_store_incident_list_free(&l);
    f.host = NULL;
    f.role = "nosuch_role";
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), PW_ENOT_FOUND);
    f.role = NULL;
    f.to_ms = f.from_ms;
    ck_assert_int_eq(pw_store_query_incidents(st, &f, &l), PW_EINVAL);
    pw_store_close(st);
}
END_TEST

/* Eight hours: sql01:1433 refused for 2 minutes every 40 minutes; sql01:445
 * refused and bts02 filtered from 10 to 60 minutes (before the range asked
 * for, into it); web01:443 refused for 30 s every 30 minutes, and 20 s
 * after sql01 at 80 minutes (in sql01's incident: same cause); and filtered
 * around S, the hour before the end (where a limited query starts reading):
 * bts01:50001 at S-70 s, bts02 at S-40 s and bts01:50000 at S-20 s, one
 * incident across S, and bts02 again at S+10 s, too late for it: one of its
 * own, though bts02's outage 50 s before it is in one (store_incidents.c
 * must read from where that one began). */
#define LONG_MS (8 * 3600000LL)
#define S (LONG_MS - 3600000)

static bool long_down(uint32_t t, int64_t m)
{
    switch (t) {
    case 0:
        return m >= 40 * MINUTE && m % (40 * MINUTE) < 2 * MINUTE;
    case 1:
        return m >= 10 * MINUTE && m < 60 * MINUTE;
    case 2:
        return (m % (30 * MINUTE) >= 15 * MINUTE && m % (30 * MINUTE) < 15 * MINUTE + 30000) ||
               (m >= 80 * MINUTE + 20000 && m < 80 * MINUTE + 30000);
    case 3:
        return m >= S - 20000 && m < S + 5 * MINUTE;
    case 4:
        return m >= S - 70000 && m < S - 60000;
    default:
        return (m >= 10 * MINUTE && m < 60 * MINUTE) || (m >= S - 40000 && m < S - 30000) ||
               (m >= S + 10000 && m < S + 5 * MINUTE);
    }
}

static struct pw_result long_answer(uint32_t t, int64_t at)
{
    bool down = long_down(t, at - T0);
    enum pw_state s = t >= 3 ? PW_STATE_FILTERED : PW_STATE_CLOSED;
    struct pw_result r = down ? mkres(t, s, PW_STATUS_DOWN, at, -1)
                              : mkres(t, PW_STATE_OPEN, PW_STATUS_UP, at, 100);
    r.verify = down ? PW_VERIFY_NONE : PW_VERIFY_VERIFIED;
    return r;
}

static void same_incident(const struct pw_store_incident_list *a, size_t i,
                          const struct pw_store_incident_list *b, size_t j)
{
    ck_assert_str_eq(a->v[i].id, b->v[j].id);
    ck_assert_int_eq(a->v[i].start_ms, b->v[j].start_ms);
    ck_assert_int_eq(a->v[i].end_ms, b->v[j].end_ms);
    ck_assert_uint_eq(a->v[i].n, b->v[j].n);
    for (size_t k = 0; k < a->v[i].n; k++)
        ck_assert_int_eq(tgt(a, i, k)->outage_id, tgt(b, j, k)->outage_id);
}

START_TEST(limit_keeps_the_newest)
{
    struct pw_store *st = open_store(NULL);
    ck_assert_int_eq(pw_store_sync_targets(st, &inc_plan, NULL), 0);
    for (int64_t at = T0; at < T0 + LONG_MS; at += 10000)
        for (uint32_t t = 0; t < inc_plan.ntargets; t++) {
            struct pw_result r = long_answer(t, at);
            ck_assert_uint_eq(pw_store_submit(st, &r, 1), 1);
        }
    ck_assert_int_eq(pw_store_flush(st, 5000), 0);
    /* whole farm, hosts, roles: how many incidents each has in the range
     * (sql01's 11 and 1, web01's 15 from 30 min on and sql01's at 80 min,
     * bts02's long one, the one across S and bts02's after it) */
    static const struct {
        const char *host, *role;
        size_t n;
    } asks[] = {
        {NULL, NULL, 11 + 1 + 15 + 1 + 1 + 1},
        {"bts01", NULL, 1},
        {"bts02", NULL, 3},
        {"web01", NULL, 16},
        {"sql01", NULL, 12},
        {NULL, "management_database", 12},
        {NULL, "processing_servers", 16 + 3},
        {"web01", "processing_servers", 16},
    };
    for (size_t h = 0; h < sizeof asks / sizeof asks[0]; h++) {
        struct pw_store_incident_filter f = {.from_ms = T0 + 30 * MINUTE, .to_ms = T0 + LONG_MS,
                                             .open = -1, .window_ms = MINUTE,
                                             .host = asks[h].host, .role = asks[h].role};
        struct pw_store_incident_list all, some;
        ck_assert_int_eq(pw_store_query_incidents(st, &f, &all), 0);
        ck_assert(!all.truncated);
        ck_assert_uint_eq(all.n, asks[h].n);
        for (size_t limit = 1; limit <= all.n + 1; limit++) {
            f.limit = limit;
            ck_assert_int_eq(pw_store_query_incidents(st, &f, &some), 0);
            ck_assert_uint_eq(some.n, limit < all.n ? limit : all.n);
            ck_assert(some.truncated == (limit < all.n));
            for (size_t i = 0; i < some.n; i++)
                same_incident(&all, i, &some, i);
            pw_store_incident_list_free(&some);
        }
        if (h == 0) { /* the one across S whole, bts02's after it alone */
            size_t i = 0;
            while (i < all.n && all.v[i].start_ms != T0 + S - 70000)
                i++;
            ck_assert(i > 0 && i < all.n); /* newest first: bts02's is before it */
            ck_assert_uint_eq(all.v[i].n, 3);
            ck_assert_int_eq(all.v[i - 1].start_ms, T0 + S + 10000);
            ck_assert_uint_eq(all.v[i - 1].n, 1);
        }
        pw_store_incident_list_free(&all);
    }
    pw_store_close(st);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_incidents");
    TCase *tc = tcase_create("store_incidents");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, grouped_by_host_and_cause);
    tcase_add_test(tc, filters_keep_whole_incidents);
    tcase_add_test(tc, limit_keeps_the_newest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_check_run(suite());
}
