/*
 * Unit tests of the probe engine against real peers on loopback: states,
 * verdicts, flap control, caps, pacing, overruns, name resolution, running
 * out of descriptors, closing mid-sweep and snapshots read from another
 * thread. Needs no privileges. Every loop test ends with uv_loop_close()
 * returning 0, so a handle the engine forgets to close fails the test.
 */
#include "helpers.h"

#include "base/error.h"

#include "tests/check_run.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static char ini[4096];

static struct pw_plan *plan_for(const char *hosts, const char *ports, const char *expect)
{
    snprintf(ini, sizeof ini,
             "[check t]\nhosts = %s\nports = %s\nexpect = %s\nreason = test reason\n",
             hosts, ports, expect);
    return th_plan(ini);
}


/* open, closed and filtered from real peers, under both expectations. */
START_TEST(test_sweep_states)
{
    /* .2 gets peers of its own: a listener on 127.0.0.1 is not on .2 */
    uint16_t open_port = 0;
    int lfd = th_listen("127.0.0.1", &open_port, 16);
    uint16_t closed_port = th_free_port("127.0.0.1");
    int bh[2];
    uint16_t filt_port = th_blackhole("127.0.0.1", bh);
    char ports[64];
    uint16_t open2 = open_port, closed2 = closed_port;
    int lfd2 = th_listen("127.0.0.2", &open2, 16);
    int bh2[2];
    uint16_t filt2 = th_blackhole("127.0.0.2", bh2);
    char ports2[64];
    snprintf(ports, sizeof ports, "%u, %u, %u", open_port, closed_port, filt_port);
    snprintf(ports2, sizeof ports2, "%u, %u, %u", open2, closed2, filt2);
    snprintf(ini, sizeof ini,
             "[check l]\nhosts = 127.0.0.1\nports = %s\nexpect = listening\n"
             "[check r]\nhosts = 127.0.0.2\nports = %s\nexpect = reachable\n",
             ports, ports2);
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 0, 300);
    ck_assert_uint_eq(p->ntargets, 6);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 300};
    uint64_t t0 = uv_hrtime();
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_ge(ms, 280); /* the filtered ones waited their timeout */
    ck_assert_uint_lt(ms, 1500);
    ck_assert_uint_eq(tr.n, 6);

    struct {
        const char *host;
        uint16_t port;
        enum pw_state state;
        bool ok;
    } want[] = {
        {"127.0.0.1", open_port, PW_STATE_OPEN, true},
        {"127.0.0.1", closed_port, PW_STATE_CLOSED, false},
        {"127.0.0.1", filt_port, PW_STATE_FILTERED, false},
        {"127.0.0.2", open2, PW_STATE_OPEN, true},
        {"127.0.0.2", closed2, PW_STATE_CLOSED, true},
        {"127.0.0.2", filt2, PW_STATE_FILTERED, false},
    };
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_ptr_eq(s->plan, p);
    ck_assert_uint_eq(s->ntargets, 6);
    for (size_t i = 0; i < 6; i++) {
        uint32_t t = th_target(p, want[i].host, want[i].port);
        ck_assert_uint_eq(th_count(&tr, t), 1);
        const struct pw_result *r = th_last(&tr, t);
        ck_assert_msg(r->state == want[i].state, "%s:%u: %s", want[i].host,
                      want[i].port, pw_state_name(r->state));
        ck_assert_int_eq(r->ok, want[i].ok);
        ck_assert_int_eq(r->status, want[i].ok ? PW_STATUS_UP : PW_STATUS_DOWN);
        ck_assert(r->status_changed);
        if (r->state == PW_STATE_OPEN) {
            ck_assert_int_ge(r->latency_us, 0);
            ck_assert_int_lt(r->latency_us, 250000);
        } else {
            ck_assert_int_eq(r->latency_us, -1);
        }
        ck_assert_str_eq(r->detail, "");
        ck_assert_int_gt(r->at_ms, 1600000000000LL);
        const struct pw_target_state *st = &s->targets[t];
        ck_assert(st->has_result);
        ck_assert_int_eq(st->state, r->state);
        ck_assert_int_eq(st->ok, r->ok);
        ck_assert_int_eq(st->status, r->status);
        ck_assert_int_eq(st->last_ms, r->at_ms);
        ck_assert_int_eq(st->since_ms, r->at_ms);
        ck_assert_uint_eq(st->fails, r->ok ? 0 : 1);
    }
    ck_assert_uint_eq(s->stats.probes[PW_STATE_OPEN], 2);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_CLOSED], 2);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_FILTERED], 2);
    ck_assert_uint_eq(s->stats.sweeps, 1);
    ck_assert_uint_eq(s->stats.overruns, 0);
    ck_assert_uint_eq(s->stats.dns_lookups, 0); /* literals */
    ck_assert_uint_eq(s->stats.waiting_for_slot, 0);
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    close(lfd);
    close(lfd2);
    close(bh[0]);
    close(bh[1]);
    close(bh2[0]);
    close(bh2[1]);
}
END_TEST

/* A host name is resolved once for all its ports. */
START_TEST(test_dns_once_per_host)
{
    uint16_t open_port = 0;
    int lfd = th_listen("127.0.0.1", &open_port, 64);
    char ports[64];
    snprintf(ports, sizeof ports, "%u, 1-19", open_port);
    struct pw_plan *p = plan_for("localhost", ports, "reachable");
    ck_assert_uint_eq(p->ntargets, 20);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 1000, .family = PW_FAMILY_IPV4};
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    ck_assert_uint_eq(tr.n, 20);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_eq(s->stats.dns_lookups, 1);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_OPEN], 1);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_CLOSED], 19);
    ck_assert_int_eq(s->targets[th_target(p, "localhost", open_port)].state, PW_STATE_OPEN);
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    close(lfd);
}
END_TEST

/* A literal the family setting excludes: an error naming why, no lookup. */
START_TEST(test_family_mismatch)
{
    struct pw_plan *p = plan_for("::1, 127.0.0.1", "7", "reachable");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 500, .family = PW_FAMILY_IPV4};
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    ck_assert_uint_eq(tr.n, 2);
    const struct pw_result *r = th_last(&tr, th_target(p, "::1", 7));
    ck_assert_int_eq(r->state, PW_STATE_ERROR);
    ck_assert_ptr_nonnull(strstr(r->detail, "family = ipv4"));
    r = th_last(&tr, th_target(p, "127.0.0.1", 7));
    ck_assert_int_eq(r->state, PW_STATE_CLOSED);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

static void blackholes(const char *addr, int n, int (*fds)[2], char *ports, size_t len)
{
    size_t off = 0;
    ports[0] = '\0';
    for (int i = 0; i < n; i++) {
        uint16_t port = th_blackhole(addr, fds[i]);
        off += (size_t)snprintf(ports + off, len - off, "%s%u", i ? ", " : "", port);
    }
}

/* The global cap is never exceeded, and is reached: max_in_flight as
 * given, or lowered by the process's fd limit so that PW_ENGINE_FD_RESERVE
 * descriptors stay free for the rest of the process, which the log then
 * says once (not again on a second sweep), naming the limit to raise. */
static const struct {
    struct pw_engine_options o;
    uint32_t peak;
    const char *said;
} caps[] = {
    {{.timeout_ms = 200, .max_in_flight = 4}, 4, NULL},
    {{.timeout_ms = 200, .fd_limit = PW_ENGINE_FD_RESERVE + 3},
     3,
     "fd limit 51 allows 3 probes in flight (max_in_flight 256); raise "
     "LimitNOFILE / ulimit -n to at least 304"},
};

static const char *cap_want;
static int cap_said;

static void on_cap_log(void *ud, int level, const char *msg)
{
    (void)ud;
    if (cap_want && level == PW_LOG_WARN && strcmp(msg, cap_want) == 0)
        cap_said++;
}

START_TEST(test_cap_global)
{
    int fds[12][2];
    char ports[256];
    blackholes("127.0.0.1", 12, fds, ports, sizeof ports);
    struct pw_plan *p = plan_for("127.0.0.1", ports, "reachable");
    th_timing(p, 0, 200);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    cap_want = caps[_i].said;
    cap_said = 0;
    struct pw_engine *e = pw_engine_new(&loop, p, &caps[_i].o);
    pw_engine_set_batch_cb(e, th_collect, &tr);
    pw_engine_set_log(e, on_cap_log, NULL);
    int done = 0;
    uint64_t t0 = uv_hrtime();
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    uint32_t waves = (12 + caps[_i].peak - 1) / caps[_i].peak;
    ck_assert_int_eq(done, 1);
    ck_assert_uint_eq(tr.n, 12);
    ck_assert_uint_ge(ms, waves * 200 - 20);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_eq(s->stats.in_flight_peak, caps[_i].peak);
    ck_assert_uint_eq(s->stats.probes[PW_STATE_FILTERED], 12);
    ck_assert_uint_eq(s->stats.fd_waits, 0);
    pw_snapshot_release(s);
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 2);
    ck_assert_int_eq(cap_said, caps[_i].said ? 1 : 0);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    for (int i = 0; i < 12; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
}
END_TEST

static void close_pairs(int (*fds)[2], int n)
{
    for (int i = 0; i < n; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
}

/* max_per_host holds per host: 6 ports that drop SYNs on each of two
 * hosts, a cap of 3: waves of 3 per host, 6 in all. */
START_TEST(test_cap_per_host)
{
    int fa[6][2], fb[6][2];
    char pa[128], pb[128];
    blackholes("127.0.0.1", 6, fa, pa, sizeof pa);
    blackholes("127.0.0.2", 6, fb, pb, sizeof pb);
    snprintf(ini, sizeof ini,
             "[check a]\nhosts = 127.0.0.1\nports = %s\nexpect = reachable\n"
             "[check b]\nhosts = 127.0.0.2\nports = %s\nexpect = reachable\n",
             pa, pb);
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 0, 200);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 200, .max_per_host = 3};
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    ck_assert_uint_eq(tr.n, 12);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_eq(s->stats.host_in_flight_peak, 3);
    ck_assert_uint_eq(s->stats.in_flight_peak, 6);
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    close_pairs(fa, 6);
    close_pairs(fb, 6);
}
END_TEST

/* One sweep of PLAN's ports on one host, cap 2, 200 ms timeout: the host's
 * peak in flight and the sweep's wall time. */
static uint32_t capped_sweep(const char *ports, uint64_t *ms)
{
    snprintf(ini, sizeof ini, "[check a]\nhosts = 127.0.0.3\nports = %s\nexpect = reachable\n",
             ports);
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 0, 200);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 200, .max_per_host = 2};
    uint64_t t0 = uv_hrtime();
    struct pw_engine *e = th_sweep(&loop, p, &o, &tr);
    *ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_eq(tr.n, p->ntargets);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    uint32_t peak = s->stats.host_in_flight_peak;
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    return peak;
}

/* A host whose last two caps' worth of connects all timed out is loaded
 * by none of them: after two waves of 2, its other 8 ports go at once
 * (three timeouts, not six). */
START_TEST(test_cap_lifted_for_silent_host)
{
    int fa[12][2];
    char pa[256];
    blackholes("127.0.0.3", 12, fa, pa, sizeof pa);
    uint64_t ms;
    uint32_t peak = capped_sweep(pa, &ms);
    ck_assert_uint_ge(peak, 8);
    ck_assert_msg(ms < 4 * 200, "the sweep took %llu ms (three timeouts: 600)",
                  (unsigned long long)ms);
    close_pairs(fa, 12);
}
END_TEST

/* A host that answers keeps its cap though some of its ports drop SYNs:
 * each dropping port is followed (the plan sorts ports) by a refusing
 * one, started when a wave of 2 timed out: an answer between waves. */
START_TEST(test_cap_kept_while_answering)
{
    int fa[6][2];
    char pa[128], both[256];
    blackholes("127.0.0.3", 6, fa, pa, sizeof pa);
    size_t off = 0;
    for (int i = 0; i < 6; i++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        ck_assert_int_eq(getsockname(fa[i][0], (struct sockaddr *)&sa, &len), 0);
        unsigned port = ntohs(sa.sin_port);
        int probe_fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_port = htons((uint16_t)(port + 1));
        /* Bindable: nothing listens there, so it refuses. */
        ck_assert_msg(bind(probe_fd, (struct sockaddr *)&sa, sizeof sa) == 0,
                      "port %u is taken; the test needs it free", port + 1);
        close(probe_fd);
        off += (size_t)snprintf(both + off, sizeof both - off, "%s%u, %u", i ? ", " : "", port,
                                port + 1);
    }
    uint64_t ms;
    ck_assert_uint_eq(capped_sweep(both, &ms), 2);
    close_pairs(fa, 6);
}
END_TEST

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* 40 targets on two hosts, 2 s interval: starts spread over the interval,
 * each host's ports paced over all of it, not in a burst. */
START_TEST(test_pacing)
{
    snprintf(ini, sizeof ini,
             "[check a]\nhosts = 127.0.0.1, 127.0.0.2\nports = %u-%u\nexpect = reachable\n",
             (unsigned)1, (unsigned)20);
    struct pw_plan *p = th_plan(ini);
    th_timing(p, 2000, 500);
    ck_assert_uint_eq(p->ntargets, 40);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {.stop_at = 40};
    struct pw_engine_options o = {.spread = true};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    tr.engine = e;
    pw_engine_set_batch_cb(e, th_collect, &tr);
    ck_assert_int_eq(pw_engine_start(e), 0);
    ck_assert_int_eq(pw_engine_start(e), PW_EBUSY);
    ck_assert_int_eq(pw_engine_sweep_once(e, NULL, NULL), PW_EBUSY);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_eq(tr.n, 40);

    int64_t all[40], per[2][20];
    size_t np[2] = {0, 0};
    for (size_t i = 0; i < 40; i++) {
        ck_assert_uint_eq(th_count(&tr, tr.r[i].target), 1);
        all[i] = tr.r[i].at_ms;
        uint32_t h = p->targets[tr.r[i].target].host;
        per[h][np[h]++] = tr.r[i].at_ms;
    }
    qsort(all, 40, sizeof all[0], cmp_i64);
    int64_t span = all[39] - all[0], maxgap = 0;
    for (int i = 1; i < 40; i++)
        if (all[i] - all[i - 1] > maxgap)
            maxgap = all[i] - all[i - 1];
    ck_assert_msg(span >= 1800 && span <= 2200, "span %lld", (long long)span);
    ck_assert_msg(maxgap <= 200, "largest gap %lld ms (expected ~50)", (long long)maxgap);
    for (int h = 0; h < 2; h++) {
        ck_assert_uint_eq(np[h], 20);
        qsort(per[h], 20, sizeof per[h][0], cmp_i64);
        int64_t hs = per[h][19] - per[h][0], hg = 0;
        for (int i = 1; i < 20; i++)
            if (per[h][i] - per[h][i - 1] > hg)
                hg = per[h][i] - per[h][i - 1];
        ck_assert_msg(hs >= 1700, "host %d span %lld", h, (long long)hs);
        ck_assert_msg(hg <= 250, "host %d gap %lld", h, (long long)hg);
        /* never a burst: at most 3 starts of one host within 100 ms */
        for (int i = 3; i < 20; i++)
            ck_assert_int_gt(per[h][i] - per[h][i - 3], 100);
    }
    th_results_free(&tr);

    /* The same plan in one-shot mode goes as fast as the caps allow. */
    uv_loop_init(&loop);
    uint64_t t0 = uv_hrtime();
    e = th_sweep(&loop, p, &o, &tr);
    ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 500);
    ck_assert_uint_eq(tr.n, 40);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

struct logbuf {
    int overran, lines;
};

static void on_log(void *ud, int level, const char *msg)
{
    struct logbuf *lb = ud;
    lb->lines++;
    if (level == PW_LOG_WARN && strstr(msg, "overran"))
        lb->overran++;
}

static uint64_t overruns_at_stop;

static void on_stop(uv_timer_t *t)
{
    struct pw_snapshot *s = pw_engine_snapshot_acquire(t->data);
    overruns_at_stop = s ? s->stats.overruns : 0;
    pw_snapshot_release(s);
    pw_engine_close(t->data, NULL, NULL);
    uv_close((uv_handle_t *)t, NULL);
}

/* Interval shorter than the timeout against a filtered port: runs are
 * skipped, never stacked; overruns are counted, and logged once while
 * they go on (not a line per sweep). */
START_TEST(test_overrun)
{
    int bh[2];
    char ports[16];
    snprintf(ports, sizeof ports, "%u", th_blackhole("127.0.0.1", bh));
    struct pw_plan *p = plan_for("127.0.0.1", ports, "reachable");
    th_timing(p, 300, 1000);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct logbuf lb = {0};
    struct pw_engine_options o = {.spread = true};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    pw_engine_set_batch_cb(e, th_collect, &tr);
    pw_engine_set_log(e, on_log, &lb);
    ck_assert_int_eq(pw_engine_start(e), 0);
    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    stop.data = e;
    uv_timer_start(&stop, on_stop, 2300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    /* probes at 0 and 1200 ms finish at 1000 and 2200 */
    ck_assert_uint_eq(tr.n, 2);
    ck_assert_int_eq(tr.r[0].state, PW_STATE_FILTERED);
    ck_assert_int_ge(tr.r[1].at_ms - tr.r[0].at_ms, 1000);
    ck_assert_uint_ge(overruns_at_stop, 2);
    ck_assert_int_eq(lb.overran, 1);
    th_results_free(&tr);
    pw_plan_free(p);
    close(bh[0]);
    close(bh[1]);
}
END_TEST

static struct pw_engine_stats last_stats;

static void on_stop_stats(uv_timer_t *t)
{
    struct pw_snapshot *s = pw_engine_snapshot_acquire(t->data);
    last_stats = s->stats;
    pw_snapshot_release(s);
    on_stop(t);
}

START_TEST(test_overrun_stats)
{
    int bh[2];
    char ports[16];
    snprintf(ports, sizeof ports, "%u", th_blackhole("127.0.0.1", bh));
    struct pw_plan *p = plan_for("127.0.0.1", ports, "reachable");
    th_timing(p, 300, 1000);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct logbuf lb = {0};
    struct pw_engine_options o = {.spread = true};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    pw_engine_set_log(e, on_log, &lb);
    ck_assert_int_eq(pw_engine_start(e), 0);
    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    stop.data = e;
    uv_timer_start(&stop, on_stop_stats, 2300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_ge(last_stats.overruns, 1);
    ck_assert_uint_ge(last_stats.skipped, 5);
    ck_assert_uint_eq(last_stats.in_flight_peak, 1);
    ck_assert_uint_eq(last_stats.probes[PW_STATE_FILTERED], 2);
    pw_plan_free(p);
    close(bh[0]);
    close(bh[1]);
}
END_TEST

/* fail_after = 2, recover_after = 2 through a listener that goes away and
 * comes back. */
START_TEST(test_flap_control)
{
    uint16_t port = 0;
    int lfd = th_listen("127.0.0.1", &port, 16);
    char ports[16];
    snprintf(ports, sizeof ports, "%u", port);
    struct pw_plan *p = plan_for("127.0.0.1", ports, "listening");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine_options o = {.timeout_ms = 500, .fail_after = 2, .recover_after = 2};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    struct th_results tr = {0};
    pw_engine_set_batch_cb(e, th_collect, &tr);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_int_eq(s->targets[0].status, PW_STATUS_UNKNOWN);
    ck_assert(!s->targets[0].has_result);
    pw_snapshot_release(s);

    struct {
        bool listening;
        enum pw_state state;
        enum pw_status status;
        bool changed;
        uint32_t fails;
    } steps[] = {
        {true, PW_STATE_OPEN, PW_STATUS_UP, true, 0},
        {false, PW_STATE_CLOSED, PW_STATUS_UP, false, 1},
        {false, PW_STATE_CLOSED, PW_STATUS_DOWN, true, 2},
        {false, PW_STATE_CLOSED, PW_STATUS_DOWN, false, 3},
        {true, PW_STATE_OPEN, PW_STATUS_DOWN, false, 0},
        {false, PW_STATE_CLOSED, PW_STATUS_DOWN, false, 1},
        {true, PW_STATE_OPEN, PW_STATUS_DOWN, false, 0},
        {true, PW_STATE_OPEN, PW_STATUS_UP, true, 0},
    };
    int64_t since = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].listening && lfd < 0)
            lfd = th_listen("127.0.0.1", &port, 16);
        if (!steps[i].listening && lfd >= 0) {
            close(lfd);
            lfd = -1;
        }
        int done = 0;
        ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        ck_assert_int_eq(done, 1);
        ck_assert_uint_eq(tr.n, i + 1);
        const struct pw_result *r = &tr.r[i];
        ck_assert_msg(r->state == steps[i].state, "step %zu: %s", i, pw_state_name(r->state));
        ck_assert_msg(r->status == steps[i].status, "step %zu: %s", i,
                      pw_status_name(r->status));
        ck_assert_int_eq(r->status_changed, steps[i].changed);
        s = pw_engine_snapshot_acquire(e);
        ck_assert_int_eq(s->targets[0].status, steps[i].status);
        ck_assert_uint_eq(s->targets[0].fails, steps[i].fails);
        if (steps[i].changed)
            since = r->at_ms;
        ck_assert_int_eq(s->targets[0].since_ms, since);
        ck_assert_uint_eq(s->stats.sweeps, i + 1);
        pw_snapshot_release(s);
    }
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    if (lfd >= 0)
        close(lfd);
}
END_TEST

/* State seeded from the store carries flap control across a restart. */
START_TEST(test_seed_state)
{
    uint16_t port = 0;
    int lfd = th_listen("127.0.0.1", &port, 16);
    char ports[16];
    snprintf(ports, sizeof ports, "%u", port);
    struct pw_plan *p = plan_for("127.0.0.1", ports, "listening");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine_options o = {.timeout_ms = 500, .recover_after = 2};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    struct pw_target_state seed = {.status = PW_STATUS_DOWN, .state = PW_STATE_FILTERED,
                                   .has_result = true, .latency_us = -1,
                                   .last_ms = 1000, .since_ms = 500, .fails = 7};
    strcpy(seed.detail, "seeded");
    pw_engine_seed_state(e, 0, &seed);
    pw_engine_seed_state(e, 5, &seed); /* out of range: ignored */
    struct th_results tr = {0};
    pw_engine_set_batch_cb(e, th_collect, &tr);
    int done = 0;
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_int_eq(s->targets[0].status, PW_STATUS_DOWN); /* seed published */
    ck_assert_str_eq(s->targets[0].detail, "seeded");
    ck_assert_int_eq(s->targets[0].since_ms, 500);
    pw_snapshot_release(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_int_eq(tr.r[0].state, PW_STATE_OPEN);
    ck_assert_int_eq(tr.r[0].status, PW_STATUS_DOWN);
    ck_assert(!tr.r[0].status_changed);
    s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_eq(s->targets[0].fails, 0);
    ck_assert_int_eq(s->targets[0].since_ms, 500);
    ck_assert_str_eq(s->targets[0].detail, "");
    pw_snapshot_release(s);
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(tr.r[1].status, PW_STATUS_UP);
    ck_assert(tr.r[1].status_changed);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
    close(lfd);
}
END_TEST

/* Options left 0 take the configuration's defaults (its key table): a
 * target that is up goes down after fail_after refusals, as many as a
 * configuration holding only defaults says. */
START_TEST(test_defaults_from_config)
{
    struct pw_config *def = pw_config_new();
    ck_assert_ptr_nonnull(def);
    long long fail_after = def->s.fail_after;
    pw_config_free(def);
    ck_assert_int_gt(fail_after, 1); /* else the test proves nothing */
    uint16_t port = 0;
    int lfd = th_listen("127.0.0.1", &port, 16);
    char ports[16];
    snprintf(ports, sizeof ports, "%u", port);
    close(lfd); /* refused from now on */
    struct pw_plan *p = plan_for("127.0.0.1", ports, "listening");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine_options o = {.timeout_ms = 500};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    struct pw_target_state up = {.status = PW_STATUS_UP, .state = PW_STATE_OPEN,
                                 .ok = true, .has_result = true, .latency_us = 100,
                                 .last_ms = 1000, .since_ms = 500};
    pw_engine_seed_state(e, 0, &up);
    struct th_results tr = {0};
    pw_engine_set_batch_cb(e, th_collect, &tr);
    for (long long i = 1; i <= fail_after; i++) {
        int done = 0;
        ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        ck_assert_uint_eq(tr.n, (size_t)i);
        ck_assert_int_eq(tr.r[i - 1].state, PW_STATE_CLOSED);
        ck_assert_msg(tr.r[i - 1].status == (i < fail_after ? PW_STATUS_UP : PW_STATUS_DOWN),
                      "refusal %lld of %lld: %s", i, fail_after,
                      pw_status_name(tr.r[i - 1].status));
    }
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

static void on_close_early(uv_timer_t *t)
{
    void **a = t->data;
    pw_engine_close(a[0], th_done, a[1]);
    uv_close((uv_handle_t *)t, NULL);
}

/* Closing mid-sweep cancels the probes at once; no result for them, no
 * sweep callback, every handle closed. */
START_TEST(test_close_in_flight)
{
    int fds[3][2];
    char ports[64];
    blackholes("127.0.0.1", 3, fds, ports, sizeof ports);
    uint16_t open_port = 0;
    int lfd = th_listen("127.0.0.1", &open_port, 16);
    char all[96];
    snprintf(all, sizeof all, "%s, %u", ports, open_port);
    struct pw_plan *p = plan_for("127.0.0.1, localhost", all, "reachable");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine_options o = {.timeout_ms = 5000};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    struct th_results tr = {0};
    pw_engine_set_batch_cb(e, th_collect, &tr);
    int swept = 0, closed = 0;
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &swept), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    void *args[2] = {e, &closed};
    t.data = args;
    uv_timer_start(&t, on_close_early, 150, 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 1500);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(swept, 0);
    /* only the ones that ended before the close: open, and localhost's */
    for (size_t i = 0; i < tr.n; i++)
        ck_assert_int_ne(tr.r[i].state, PW_STATE_FILTERED);
    ck_assert_uint_ge(tr.n, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    th_results_free(&tr);
    pw_plan_free(p);
    close(lfd);
    for (int i = 0; i < 3; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
}
END_TEST

struct reader {
    struct pw_engine *e;
    atomic_int stop;
    long reads;
    int bad;
};

static void reader_main(void *arg)
{
    struct reader *rd = arg;
    while (!atomic_load(&rd->stop)) {
        struct pw_snapshot *s = pw_engine_snapshot_acquire(rd->e);
        uint64_t sum = 0;
        for (size_t i = 0; i < s->ntargets; i++) {
            if (s->targets[i].has_result && (unsigned)s->targets[i].state >= PW_STATE_COUNT_)
                rd->bad++;
            sum += s->targets[i].fails;
        }
        (void)sum;
        pw_snapshot_release(s);
        rd->reads++;
    }
}

static void on_stop_reader(uv_timer_t *t)
{
    struct reader *rd = t->data;
    atomic_store(&rd->stop, 1);
    pw_engine_close(rd->e, NULL, NULL);
    uv_close((uv_handle_t *)t, NULL);
}

/* Snapshots read from another thread while the engine publishes, and one
 * held past the engine's end. */
START_TEST(test_snapshot_threads)
{
    struct pw_plan *p = plan_for("127.0.0.1, 127.0.0.3", "1-50", "reachable");
    th_timing(p, 100, 50);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_engine_options o = {.spread = true};
    struct reader rd = {0};
    rd.e = pw_engine_new(&loop, p, &o);
    struct pw_snapshot *first = pw_engine_snapshot_acquire(rd.e);
    ck_assert_int_eq(pw_engine_start(rd.e), 0);
    uv_thread_t th;
    ck_assert_int_eq(uv_thread_create(&th, reader_main, &rd), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &rd;
    uv_timer_start(&t, on_stop_reader, 700, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_thread_join(&th);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(rd.bad, 0);
    ck_assert_int_gt(rd.reads, 10);
    /* taken before start, still readable after the engine is gone */
    ck_assert_uint_eq(first->ntargets, 100);
    ck_assert(!first->targets[99].has_result);
    ck_assert_int_eq(first->targets[99].latency_us, -1);
    pw_snapshot_release(first);
    pw_snapshot_release(NULL);
    pw_plan_free(p);
}
END_TEST

/* A reader holding the current snapshot while results come in, let go
 * on the first batch, or kept to the end. */
struct holder {
    struct pw_snapshot *held;
    const struct pw_snapshot *first; /* what held was */
    bool keep;
};

static void on_batch_let_go(void *ud, const struct pw_result *r, size_t n)
{
    (void)r;
    (void)n;
    struct holder *h = ud;
    if (!h->held || h->keep)
        return;
    for (size_t i = 0; i < h->held->ntargets; i++) /* as it was when taken */
        ck_assert(!h->held->targets[i].has_result);
    pw_snapshot_release(h->held);
    h->held = NULL;
}

/* One sweep of 50 ports with the first snapshot held, briefly or
 * throughout; returns the snapshot current at the end, which has every
 * result. */
static struct pw_snapshot *sweep_holding(struct holder *h, uv_loop_t *loop,
                                         struct pw_engine **e)
{
    struct pw_plan *p = plan_for("127.0.0.1", "1-50", "reachable");
    struct pw_engine_options o = {.timeout_ms = 1000};
    *e = pw_engine_new(loop, p, &o);
    pw_engine_set_batch_cb(*e, on_batch_let_go, h);
    h->first = h->held = pw_engine_snapshot_acquire(*e);
    int done = 0;
    ck_assert_int_eq(pw_engine_sweep_once(*e, th_done, &done), 0);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    struct pw_snapshot *s = pw_engine_snapshot_acquire(*e);
    for (size_t i = 0; i < s->ntargets; i++) /* none lost */
        ck_assert_msg(s->targets[i].has_result, "target %zu has no result", i);
    return s;
}

static void sweep_holding_end(struct pw_engine *e, uv_loop_t *loop, struct pw_snapshot *s)
{
    struct pw_plan *p = (struct pw_plan *)s->plan;
    pw_snapshot_release(s);
    pw_engine_close(e, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
    pw_plan_free(p);
}

/* A reader done within a publish costs no copy of every target's state:
 * the results that came meanwhile are set aside and written into the
 * same snapshot once it lets go. */
START_TEST(test_snapshot_held_briefly)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct holder h = {0};
    struct pw_engine *e;
    struct pw_snapshot *s = sweep_holding(&h, &loop, &e);
    ck_assert_ptr_null(h.held);
    ck_assert_ptr_eq(s, h.first); /* one snapshot all along */
    sweep_holding_end(e, &loop, s);
}
END_TEST

/* A reader that keeps its snapshot keeps it as it was, and the engine
 * publishes the results in a new one all the same. */
START_TEST(test_snapshot_held_throughout)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct holder h = {.keep = true};
    struct pw_engine *e;
    struct pw_snapshot *s = sweep_holding(&h, &loop, &e);
    ck_assert_ptr_ne(s, h.held);
    for (size_t i = 0; i < h.held->ntargets; i++)
        ck_assert(!h.held->targets[i].has_result);
    pw_snapshot_release(h.held);
    sweep_holding_end(e, &loop, s);
}
END_TEST

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* Out of descriptors: probes wait for one and all still end correctly. */
START_TEST(test_emfile)
{
    struct pw_plan *p = plan_for("127.0.0.1", "1-30", "reachable");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)open_fds() + 3;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    struct th_results tr = {0};
    struct logbuf lb = {0};
    struct pw_engine_options o = {.timeout_ms = 1000};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    pw_engine_set_batch_cb(e, th_collect, &tr);
    pw_engine_set_log(e, on_log, &lb);
    int done = 0;
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    setrlimit(RLIMIT_NOFILE, &old);
    ck_assert_int_eq(done, 1);
    ck_assert_uint_eq(tr.n, 30);
    for (uint32_t t = 0; t < 30; t++) {
        ck_assert_uint_eq(th_count(&tr, t), 1);
        ck_assert_int_eq(th_last(&tr, t)->state, PW_STATE_CLOSED);
    }
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    ck_assert_uint_gt(s->stats.fd_waits, 0);
    ck_assert_uint_le(s->stats.in_flight_peak, 30);
    pw_snapshot_release(s);
    ck_assert_int_ge(lb.lines, 1);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* Bad arguments never crash. */
START_TEST(test_bad_input)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ck_assert_ptr_null(pw_engine_new(&loop, NULL, NULL));
    ck_assert_ptr_null(pw_engine_new(NULL, NULL, NULL));
    pw_engine_close(NULL, NULL, NULL);
    /* an empty plan: the sweep completes at once (asynchronously) */
    struct pw_plan empty = {0};
    struct pw_engine *e = pw_engine_new(&loop, &empty, NULL);
    ck_assert_ptr_nonnull(e);
    int done = 0;
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    ck_assert_int_eq(done, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 1);
    th_close_engine(&loop, e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("probes");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sweep_states);
    tcase_add_test(tc, test_dns_once_per_host);
    tcase_add_test(tc, test_family_mismatch);
    tcase_add_loop_test(tc, test_cap_global, 0, (int)(sizeof caps / sizeof caps[0]));
    tcase_add_test(tc, test_cap_per_host);
    tcase_add_test(tc, test_cap_lifted_for_silent_host);
    tcase_add_test(tc, test_cap_kept_while_answering);
    tcase_add_test(tc, test_pacing);
    tcase_add_test(tc, test_overrun);
    tcase_add_test(tc, test_overrun_stats);
    tcase_add_test(tc, test_flap_control);
    tcase_add_test(tc, test_seed_state);
    tcase_add_test(tc, test_defaults_from_config);
    tcase_add_test(tc, test_close_in_flight);
    tcase_add_test(tc, test_snapshot_threads);
    tcase_add_test(tc, test_snapshot_held_briefly);
    tcase_add_test(tc, test_snapshot_held_throughout);
    tcase_add_test(tc, test_emfile);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_check_run(suite());
}
