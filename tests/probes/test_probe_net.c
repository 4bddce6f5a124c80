/*
 * Probe engine tests that need a network of their own: run by netns.sh
 * inside a namespace it creates, where nftables drops or rejects SYNs to
 * chosen ports of 127.0.0.1 (see the rules there) and name resolution
 * fails without any packet leaving. Exits 77 when not started that way.
 */
#include "helpers.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char ini[1024];

/* Each firewall answer maps to its state. */
START_TEST(test_firewall_states)
{
    uint16_t open_port = 2000;
    int lfd = th_listen("127.0.0.1", &open_port, 16);
    snprintf(ini, sizeof ini,
             "[check fw]\nhosts = 127.0.0.1\nports = 2000-2007, 2010, 3002\n"
             "expect = reachable\n");
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 0, 500);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 500};
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    struct {
        uint16_t port;
        enum pw_state state;
    } want[] = {
        {2000, PW_STATE_OPEN},        {2001, PW_STATE_FILTERED},
        {2002, PW_STATE_UNREACHABLE}, {2003, PW_STATE_UNREACHABLE},
        {2004, PW_STATE_UNREACHABLE}, {2005, PW_STATE_UNREACHABLE},
        {2006, PW_STATE_UNREACHABLE}, {2007, PW_STATE_UNREACHABLE},
        {2010, PW_STATE_CLOSED},      {3002, PW_STATE_UNREACHABLE},
    };
    ck_assert_uint_eq(tr.n, 10);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct pw_result *r = th_last(&tr, th_target(p, "127.0.0.1", want[i].port));
        ck_assert_msg(r->state == want[i].state, "port %u: %s, want %s", want[i].port,
                      pw_state_name(r->state), pw_state_name(want[i].state));
        ck_assert_int_eq(r->ok, want[i].state <= PW_STATE_CLOSED);
    }
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    close(lfd);
}
END_TEST

/* A name that does not resolve: one lookup, 201 dns_error results with
 * the resolver's message; the literal host beside it is unaffected. */
START_TEST(test_dns_error_once)
{
    snprintf(ini, sizeof ini,
             "[check rpc]\nhosts = nothing.invalid, 127.0.0.1\nports = 50000-50200\n"
             "expect = reachable\n");
    struct pw_plan *p = th_plan(ini);
    ck_assert_uint_eq(p->ntargets, 402);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 1000};
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    ck_assert_uint_eq(tr.n, 402);
    size_t dns = 0, closed = 0;
    for (size_t i = 0; i < tr.n; i++) {
        const struct pw_result *r = &tr.r[i];
        const char *host = p->hosts[p->targets[r->target].host].name;
        if (strcmp(host, "nothing.invalid") == 0) {
            ck_assert_int_eq(r->state, PW_STATE_DNS_ERROR);
            ck_assert_int_gt(strlen(r->detail), 5);
            ck_assert(!r->ok);
            dns++;
        } else {
            ck_assert_int_eq(r->state, PW_STATE_CLOSED);
            closed++;
        }
    }
    ck_assert_uint_eq(dns, 201);
    ck_assert_uint_eq(closed, 201);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_eq(s->stats.dns_lookups, 1);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_DNS_ERROR], 201);
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* Writes v to a sysctl file of this namespace; returns 0 on success. */
static int sysctl_write(const char *path, const char *v)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(v, f) < 0;
    return fclose(f) != 0 || rc ? -1 : 0;
}

/* With the source ports narrowed to the two ports dialled, the kernel
 * often picks the dialled port as the source, and the socket connects to
 * itself: each must still read as refused, never as open. */
START_TEST(test_self_connect_is_refused)
{
    static const char range[] = "/proc/sys/net/ipv4/ip_local_port_range";
    char saved[64] = "";
    FILE *f = fopen(range, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(saved, sizeof saved, f));
    fclose(f);
    ck_assert_int_eq(sysctl_write(range, "40000 40001"), 0);
    snprintf(ini, sizeof ini, "[check self]\nhosts = 127.0.0.1\nports = 40000-40001\n");
    struct pw_plan *p = th_plan(ini);
    size_t open = 0, closed = 0;
    for (int round = 0; round < 200; round++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        struct th_results tr = {0};
        struct pw_engine_options o = {.timeout_ms = 500};
        struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
        for (size_t i = 0; i < tr.n; i++) {
            open += tr.r[i].state == PW_STATE_OPEN;
            closed += tr.r[i].state == PW_STATE_CLOSED;
        }
        th_close_engine(&loop, e);
        th_results_free(&tr);
    }
    ck_assert_int_eq(sysctl_write(range, saved), 0);
    pw_plan_free(p);
    ck_assert_uint_eq(open, 0);
    ck_assert_uint_eq(closed, 400);
}
END_TEST

static void on_stop(uv_timer_t *t)
{
    pw_engine_close(t->data, NULL, NULL);
    uv_close((uv_handle_t *)t, NULL);
}

static uint64_t lookups;
static void on_sample(uv_timer_t *t)
{
    struct pw_snapshot *s = pw_engine_snapshot_acquire(t->data);
    lookups = s->stats.dns_lookups;
    pw_snapshot_release(s);
    uv_close((uv_handle_t *)t, NULL);
}

/* In run mode the name is looked up again once per interval, not once
 * per port. */
START_TEST(test_dns_per_interval)
{
    snprintf(ini, sizeof ini,
             "[check x]\nhosts = nothing.invalid\nports = 1-5\nexpect = reachable\n");
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 1000, 200);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.spread = true};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    pw_engine_set_batch_cb(e, th_collect, &tr);
    ck_assert_int_eq(pw_engine_start(e), 0);
    uv_timer_t stop, sample;
    uv_timer_init(&loop, &stop);
    uv_timer_init(&loop, &sample);
    stop.data = sample.data = e;
    uv_timer_start(&sample, on_sample, 2850, 0);
    uv_timer_start(&stop, on_stop, 2900, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_eq(tr.n, 15);
    for (size_t i = 0; i < tr.n; i++)
        ck_assert_int_eq(tr.r[i].state, PW_STATE_DNS_ERROR);
    ck_assert_uint_eq(lookups, 3);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* The global cap holds against 40 ports whose SYNs are dropped. */
START_TEST(test_cap_filtered)
{
    snprintf(ini, sizeof ini,
             "[check d]\nhosts = 127.0.0.1\nports = 2100-2139\nexpect = reachable\n");
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 0, 200);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.max_in_flight = 8};
    uint64_t t0 = uv_hrtime();
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_eq(tr.n, 40);
    ck_assert_uint_ge(ms, 5 * 200 - 20);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_eq(s->stats.in_flight_peak, 8);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_FILTERED], 40);
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* A host that drops every SYN among twenty that refuse at once, caps wide
 * open: once the first burst shows it silent, its probes start before the
 * rest, so their timeouts run together early instead of trailing the
 * whole start phase (a one-shot sweep then ends about one timeout after it
 * began). Its results, stamped a timeout after each start, come within a
 * fraction of the time over which the refusals (stamped at start) spread;
 * taken in turn with the others, they would spread as wide. */
START_TEST(test_quiet_host_first)
{
    static char big[4096];
    int n = snprintf(big, sizeof big, "[check many]\nhosts = ");
    for (int h = 21; h <= 40; h++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s127.0.0.%d", h > 21 ? ", " : "", h);
    snprintf(big + n, sizeof big - (size_t)n,
             "\nports = 4000-4199\nexpect = reachable\n"
             "[check silent]\nhosts = 127.0.0.50\nports = 4000-4199\nexpect = reachable\n");
    struct pw_plan *p = th_plan(big);
    th_timing(p, 0, 1000);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.max_in_flight = 8192, .max_per_host = 4096};
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    ck_assert_uint_eq(tr.n, 21 * 200);
    int64_t q_min = INT64_MAX, q_max = 0, r_min = INT64_MAX, r_max = 0;
    for (size_t i = 0; i < tr.n; i++) {
        const struct pw_result *r = &tr.r[i];
        bool silent = strcmp(p->hosts[p->targets[r->target].host].name, "127.0.0.50") == 0;
        ck_assert_int_eq(r->state, silent ? PW_STATE_FILTERED : PW_STATE_CLOSED);
        int64_t *lo = silent ? &q_min : &r_min, *hi = silent ? &q_max : &r_max;
        if (r->at_ms < *lo)
            *lo = r->at_ms;
        if (r->at_ms > *hi)
            *hi = r->at_ms;
    }
    ck_assert_msg(r_max - r_min >= 20, "the refusals spread over %lld ms only",
                  (long long)(r_max - r_min));
    ck_assert_msg((q_max - q_min) * 2 < r_max - r_min,
                  "the silent host's probes spread over %lld ms, the refusals over %lld ms",
                  (long long)(q_max - q_min), (long long)(r_max - r_min));
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

int main(void)
{
    if (!getenv("PW_NETNS")) {
        fprintf(stderr, "skip: run through tests/probes/netns.sh\n");
        return 77;
    }
    Suite *s = suite_create("probes-net");
    TCase *tc = tcase_create("netns");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_firewall_states);
    tcase_add_test(tc, test_dns_error_once);
    tcase_add_test(tc, test_dns_per_interval);
    tcase_add_test(tc, test_cap_filtered);
    tcase_add_test(tc, test_quiet_host_first);
    tcase_add_test(tc, test_self_connect_is_refused);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
