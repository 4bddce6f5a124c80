/*
 * Tests for maintenance windows in config/: the schedule's parser and its
 * messages, next occurrences across daylight-saving changes in explicit
 * zones (a named IANA zone, its footer rule past the file's transitions,
 * and the machine's zone through the C library under TZ=...), which targets
 * a window covers, and the loader's [maintenance NAME] errors at their
 * lines. Expected instants were computed independently with Python's
 * zoneinfo from the same tzdata.
 */
#include "config/config.h"
#include "config/maintenance.h"
#include "config/tz.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 2027-03-20 00:00 UTC, a week before Europe's spring change. */
#define MAR20_2027 1805500800LL
/* 2027-10-01 00:00 UTC. */
#define OCT01_2027 1822348800LL

static struct pw_schedule parse_ok(const char *text)
{
    struct pw_schedule s;
    char err[PW_ERRBUF];
    ck_assert_msg(pw_schedule_parse(text, &s, err) == 0, "%s: %s", text, err);
    return s;
}

static struct pw_tz *zone(const char *name)
{
    struct pw_tz *z = NULL;
    char err[PW_ERRBUF];
    ck_assert_msg(pw_tz_load(name, &z, err) == 0, "%s: %s", name, err);
    return z;
}

/* Asserts the occurrences after `after`, one pair of instants each. */
static void expect_next(const char *sched, const struct pw_tz *z, int64_t after,
                        const int64_t (*want)[2], size_t n)
{
    struct pw_schedule s = parse_ok(sched);
    int64_t t = after;
    for (size_t i = 0; i < n; i++) {
        int64_t st, en;
        ck_assert_msg(pw_schedule_next(&s, z, t, &st, &en) == 0, "%s: none after %lld", sched,
                      (long long)t);
        ck_assert_msg(st == want[i][0] && en == want[i][1],
                      "%s in %s, #%zu: got %lld-%lld, want %lld-%lld", sched, pw_tz_name(z), i,
                      (long long)st, (long long)en, (long long)want[i][0], (long long)want[i][1]);
        t = en;
    }
}

START_TEST(parse_forms)
{
    struct pw_schedule s = parse_ok("Sun 02:00-04:00");
    ck_assert_int_eq(s.kind, PW_SCHED_WEEKLY);
    ck_assert_int_eq(s.wday, 0);
    ck_assert_int_eq(s.start_min, 120);
    ck_assert_int_eq(s.end_min, 240);
    s = parse_ok("second Tuesday 22:00-02:00");
    ck_assert_int_eq(s.kind, PW_SCHED_MONTHLY);
    ck_assert_int_eq(s.nth, 2);
    ck_assert_int_eq(s.wday, 2);
    ck_assert_int_eq(s.end_min, 120);
    s = parse_ok("  LAST friday 23:00 - 24:00 ");
    ck_assert_int_eq(s.nth, 5);
    ck_assert_int_eq(s.end_min, 1440);
    s = parse_ok("daily 01:00-01:30");
    ck_assert_int_eq(s.kind, PW_SCHED_DAILY);
    s = parse_ok("2028-02-29 20:00-23:00");
    ck_assert_int_eq(s.kind, PW_SCHED_DATE);
    ck_assert_int_eq(s.day, pw_days_from_civil(2028, 2, 29));
}
END_TEST

START_TEST(parse_errors)
{
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"", "empty; write e.g. 'Sun 02:00-04:00'"},
        {"Sun 02:00-02:00", "'02:00-02:00' never ends (its end is its start)"},
        {"daily 00:00-24:00", "never ends"},
        {"Sun 02:00", "'02:00' has no end; write START-END"},
        {"Sun", "no times;"},
        {"2027-02-30 01:00-02:00", "'2027-02-30': February 2027 has 28 days"},
        {"2027-13-01 01:00-02:00", "there is no month 13"},
        {"Sonday 01:00-02:00", "'Sonday' is not a day, an ordinal"},
        {"fifth Monday 01:00-02:00", "'fifth' is not a day, an ordinal (first, second, third, fourth, last)"},
        {"second Tusday 01:00-02:00", "'Tusday' is not a day; after 'second' name one"},
        {"Sun 25:00-26:00", "'25:00-26:00' is not a time range"},
        {"Sun 2:00-4:00", "is not a time range; write START-END in 24-hour time"},
        {"02:00-04:00", "no day before the times"},
    };
    char err[PW_ERRBUF];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pw_schedule s;
        ck_assert_msg(pw_schedule_parse(bad[i].in, &s, err) != 0, "'%s' accepted", bad[i].in);
        ck_assert_msg(strstr(err, bad[i].msg), "'%s': got '%s'", bad[i].in, err);
    }
}
END_TEST

/* Sun 02:00-04:00 in Amsterdam over the spring change of 2027-03-28:
 * 02:00 does not exist that night, so the window opens at 03:00 CEST and
 * lasts one hour; a week later it is 02:00 CEST again. */
static const int64_t weekly_spring[][2] = {
    {1805590800, 1805598000}, /* 03-21 02:00-04:00 CET */
    {1806195600, 1806199200}, /* 03-28 03:00-04:00 CEST */
    {1806796800, 1806804000}, /* 04-04 02:00-04:00 CEST */
};
/* The autumn change of 2027-10-31: 02:00 happens twice; the first one
 * (CEST) opens the window, which ends at 04:00 CET: three hours. */
static const int64_t weekly_autumn[][2] = {
    {1824336000, 1824343200}, /* 10-24 02:00-04:00 CEST */
    {1824940800, 1824951600}, /* 10-31 02:00 CEST - 04:00 CET */
};
/* Patch Tuesday's night over the autumn change. */
static const int64_t monthly_autumn[][2] = {
    {1823371200, 1823385600}, /* 10-12 22:00 CEST - 10-13 02:00 CEST */
    {1825794000, 1825808400}, /* 11-09 22:00 CET - 11-10 02:00 CET */
};

START_TEST(next_across_dst_named_zone)
{
    struct pw_tz *z = zone("Europe/Amsterdam");
    expect_next("Sun 02:00-04:00", z, MAR20_2027, weekly_spring, 3);
    expect_next("Sun 02:00-04:00", z, OCT01_2027 + 20 * 86400, weekly_autumn, 2);
    expect_next("second Tuesday 22:00-02:00", z, OCT01_2027, monthly_autumn, 2);
    /* New York changes on 2027-03-14: 01:30 EST to 03:30 EDT is one hour. */
    struct pw_tz *ny = zone("America/New_York");
    static const int64_t ny_spring[][2] = {{1805005800, 1805009400}};
    expect_next("Sun 01:30-03:30", ny, 1805005800 - 86400, ny_spring, 1);
    pw_tz_free(ny);
    pw_tz_free(z);
}
END_TEST

/* The same through the C library: the machine's zone under TZ. */
START_TEST(next_across_dst_local_zone)
{
    setenv("TZ", "Europe/Amsterdam", 1);
    tzset();
    const struct pw_tz *z = pw_tz_local();
    ck_assert_str_eq(pw_tz_name(z), "local");
    expect_next("Sun 02:00-04:00", z, MAR20_2027, weekly_spring, 3);
    expect_next("Sun 02:00-04:00", z, OCT01_2027 + 20 * 86400, weekly_autumn, 2);
    expect_next("second Tuesday 22:00-02:00", z, OCT01_2027, monthly_autumn, 2);
    unsetenv("TZ");
    tzset();
}
END_TEST

/* Past 2037 a fat TZif file has no transitions left: the footer's rule
 * decides. 2045-03-26 is the last Sunday of March 2045. */
START_TEST(footer_rule_and_southern_zone)
{
    struct pw_tz *z = zone("Europe/Amsterdam");
    int64_t mar26_2045 = pw_days_from_civil(2045, 3, 26) * 86400;
    ck_assert_int_eq(pw_tz_offset(z, mar26_2045 + 3600 - 1), 3600);
    ck_assert_int_eq(pw_tz_offset(z, mar26_2045 + 3600), 7200);
    ck_assert_int_eq(pw_tz_offset(z, pw_days_from_civil(2045, 12, 1) * 86400), 3600);
    pw_tz_free(z);
    struct pw_tz *syd = NULL;
    char err[PW_ERRBUF];
    ck_assert_msg(pw_tz_from_rule("AEST-10AEDT,M10.1.0,M4.1.0/3", &syd, err) == 0, "%s", err);
    ck_assert_int_eq(pw_tz_offset(syd, pw_days_from_civil(2030, 1, 15) * 86400), 11 * 3600);
    ck_assert_int_eq(pw_tz_offset(syd, pw_days_from_civil(2030, 7, 15) * 86400), 10 * 3600);
    pw_tz_free(syd);
    ck_assert_int_ne(pw_tz_from_rule("CET-1CEST,J60,M10.5.0", &syd, err), 0);
    ck_assert_ptr_nonnull(strstr(err, "Julian-day rules are not supported"));
}
END_TEST

START_TEST(zone_errors)
{
    struct pw_tz *z = NULL;
    char err[PW_ERRBUF];
    ck_assert_int_ne(pw_tz_load("Europe/Amsterdm", &z, err), 0);
    ck_assert_msg(strstr(err, "unknown time zone 'Europe/Amsterdm'") &&
                  strstr(err, "use an IANA name such as Europe/Amsterdam"), "%s", err);
    ck_assert_int_ne(pw_tz_load("../../etc/passwd", &z, err), 0);
    ck_assert_msg(strstr(err, "is not a time zone name"), "%s", err);
    /* Without a database only UTC is known, and the message says why. */
    setenv("TZDIR", "/nonexistent-zoneinfo", 1);
    ck_assert_int_ne(pw_tz_load("Europe/Amsterdam", &z, err), 0);
    ck_assert_msg(strstr(err, "this machine has no time zone database"), "%s", err);
    ck_assert_int_eq(pw_tz_load("UTC", &z, err), 0);
    ck_assert_int_eq(pw_tz_offset(z, 1805590800), 0);
    pw_tz_free(z);
    unsetenv("TZDIR");
}
END_TEST

START_TEST(date_in_the_past_has_none)
{
    struct pw_schedule s = parse_ok("2020-01-01 01:00-02:00");
    int64_t st, en;
    ck_assert_int_eq(pw_schedule_next(&s, pw_tz_local(), MAR20_2027, &st, &en), PW_ENOT_FOUND);
}
END_TEST

static struct pw_config *load(const char *text, struct pw_diag *d)
{
    struct pw_config *c = NULL;
    pw_config_load_buffer("m.ini", text, strlen(text), &c, d);
    return c;
}

START_TEST(covers_targets)
{
    struct pw_diag d = {0};
    struct pw_config *c = load("[biztalk]\nmanagement_database = sql01\n"
                               "[check web]\nhosts = web01, sql01\nports = 80\n"
                               "[maintenance a]\nschedule = Sun 02:00-04:00\nhosts = sql01\n"
                               "[maintenance b]\nschedule = Mon 02:00-04:00\nchecks = web\nports = 80\n",
                               &d);
    ck_assert_msg(c, "%s", d.n ? d.msgs[0] : "");
    ck_assert_uint_eq(c->nmaints, 2);
    const char *mgmt[] = {"management_database"}, *web[] = {"web"};
    ck_assert(pw_maint_covers(&c->maints[0], "SQL01", 1433, mgmt, 1));
    ck_assert(!pw_maint_covers(&c->maints[0], "web01", 80, web, 1));
    ck_assert(pw_maint_covers(&c->maints[1], "web01", 80, web, 1));
    ck_assert(!pw_maint_covers(&c->maints[1], "sql01", 1433, mgmt, 1));
    ck_assert(!pw_maint_covers(&c->maints[1], "web01", 81, web, 1));
    pw_config_free(c);
    pw_diag_free(&d);
}
END_TEST

/* Each bad window is named at its line, with what to do. */
START_TEST(loader_errors_at_their_lines)
{
    struct pw_diag d = {0};
    struct pw_config *c = load("[biztalk]\n"                              /* 1 */
                               "management_database = sql01\n"            /* 2 */
                               "[maintenance patch]\n"                    /* 3 */
                               "schedule = second Tuesday 22:00-02:00\n"  /* 4 */
                               "timezone = Europe/Amsterdam\n"            /* 5 */
                               "[maintenance over]\n"                     /* 6 */
                               "roles = management_database\n"            /* 7 */
                               "schedule = Wed 00:30-03:00\n"             /* 8 */
                               "timezone = UTC\n"                         /* 9 */
                               "[maintenance feb]\n"                      /* 10 */
                               "schedule = 2027-02-30 01:00-02:00\n"      /* 11 */
                               "[maintenance tz]\n"                       /* 12 */
                               "schedule = Sun 01:00-02:00\n"             /* 13 */
                               "timezone = Mars/Olympus\n"                /* 14 */
                               "[maintenance never]\n"                    /* 15 */
                               "schedule = Sun 03:00-03:00\n"             /* 16 */
                               "[maintenance none]\n"                     /* 17 */
                               "hosts = sql01\n",                         /* 18 */
                               &d);
    ck_assert_ptr_null(c);
    static const char *const want[] = {
        "m.ini:8: [maintenance over] schedule: overlaps window 'patch' (line 3) for the same "
        "targets at ",
        "m.ini:11: [maintenance feb] schedule: '2027-02-30': February 2027 has 28 days",
        "m.ini:14: [maintenance tz] timezone: unknown time zone 'Mars/Olympus'",
        "m.ini:16: [maintenance never] schedule: '03:00-03:00' never ends",
        "m.ini:17: [maintenance none] schedule: missing; a window needs schedule = ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t k = 0;
        while (k < d.n && !strstr(d.msgs[k], want[i]))
            k++;
        ck_assert_msg(k < d.n, "no message like '%s'", want[i]);
    }
    ck_assert_uint_eq(d.n, 5);
    pw_diag_free(&d);
}
END_TEST

START_TEST(loader_section_errors)
{
    struct pw_diag d = {0};
    ck_assert_ptr_null(load("[maintenance]\n[maintenance a]\nschedule = daily 01:00-02:00\n"
                            "[maintenance A]\n[maintenance b]\nbogus = 1\n", &d));
    ck_assert_uint_eq(d.n, 4);
    ck_assert_ptr_nonnull(strstr(d.msgs[0], "m.ini:1: [maintenance]: a window needs a name"));
    ck_assert_ptr_nonnull(strstr(d.msgs[1], "m.ini:4: [maintenance A]: window 'A' is defined twice "
                                            "(first on line 2)"));
    ck_assert_ptr_nonnull(strstr(d.msgs[2], "m.ini:6: [maintenance b] bogus: unknown key; allowed "
                                            "here: schedule, timezone, hosts"));
    ck_assert_ptr_nonnull(strstr(d.msgs[3], "m.ini:5: [maintenance b] schedule: missing"));
    pw_diag_free(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("maint");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, parse_forms);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, next_across_dst_named_zone);
    tcase_add_test(tc, next_across_dst_local_zone);
    tcase_add_test(tc, footer_rule_and_southern_zone);
    tcase_add_test(tc, zone_errors);
    tcase_add_test(tc, date_in_the_past_has_none);
    tcase_add_test(tc, covers_targets);
    tcase_add_test(tc, loader_errors_at_their_lines);
    tcase_add_test(tc, loader_section_errors);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
