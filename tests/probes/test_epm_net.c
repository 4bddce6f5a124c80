/*
 * `portwatch rpc-endpoints`' engine against Samba's endpoint mapper, run
 * by proto.sh in its namespace: pw_epm_dump must list exactly the TCP
 * endpoints Samba's own client (rpcclient epmlookup, run by proto.sh just
 * before) lists, across several ept_lookup calls and fragmented replies;
 * the mapper's ncacn_http registration on 593, where nothing listens, is
 * the "registered but unreachable" case; a port that is not a mapper and
 * one that refuses end with an error, never a hang; a dump cancelled
 * while its peer stays silent (or its connect hangs) ends at once with
 * UV_ECANCELED and leaves nothing on the loop. Exits 77 when not started
 * by proto.sh.
 */
#include "helpers.h"

#include "probes/epm.h"

#include "base/error.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct got {
    struct pw_epm_result r;
    int calls;
};

static void on_done(void *ud, struct pw_epm_result *r)
{
    struct got *g = ud;
    g->r = *r;
    g->calls++;
}

static void dump(uint16_t port, int64_t timeout_ms, struct got *g)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    memset(g, 0, sizeof *g);
    ck_assert_int_eq(pw_epm_dump(&loop, (struct sockaddr *)&sa, timeout_ms, on_done, g), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(g->calls, 1);
}

/* "uuid port major" for every ncacn_ip_tcp line of rpcclient's output:
 *   ... ncacn_ip_tcp:127.0.0.1[50000,abstract_syntax=UUID/0x0000000V]: name */
static size_t rpcclient_tcp(char lines[][64], size_t max)
{
    char path[600];
    snprintf(path, sizeof path, "%s/rpcclient-epm.txt", getenv("PW_PROTO_WORK"));
    FILE *f = fopen(path, "r");
    if (!f)
        return (size_t)-1;
    char buf[512];
    size_t n = 0;
    while (fgets(buf, sizeof buf, f) && n < max) {
        char *p = strstr(buf, "ncacn_ip_tcp:");
        if (!p)
            continue;
        unsigned port = 0, ver = 0;
        char uuid[37];
        char *br = strchr(p, '[');
        char *as = strstr(p, "abstract_syntax=");
        ck_assert_ptr_nonnull(br);
        ck_assert_ptr_nonnull(as);
        ck_assert_int_eq(sscanf(br + 1, "%u", &port), 1);
        ck_assert_int_eq(sscanf(as + 16, "%36[0-9a-f-]/0x%x", uuid, &ver), 2);
        snprintf(lines[n++], 64, "%s %u %u", uuid, port, ver);
    }
    fclose(f);
    return n;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(test_matches_rpcclient)
{
    struct got g;
    dump(135, 10000, &g);
    ck_assert_msg(g.r.err == 0, "dump failed: %s", g.r.message);
    ck_assert_uint_ge(g.r.n, 10);
    static char want[128][64], have[128][64];
    size_t nw = rpcclient_tcp(want, 128);
    ck_assert_msg(nw != (size_t)-1, "proto.sh did not leave rpcclient's output");
    ck_assert_uint_ge(nw, 3); /* the mapper and at least two dynamic ports */
    size_t nh = 0;
    for (size_t i = 0; i < g.r.n && nh < 128; i++) {
        const struct pw_epm_entry *e = &g.r.v[i];
        if (e->protseq != PW_EPM_NCACN_IP_TCP)
            continue;
        char uuid[37];
        pw_uuid_format(&e->iface, uuid);
        snprintf(have[nh++], 64, "%s %u %u", uuid, e->port, e->vmajor);
        ck_assert_str_eq(e->address, "127.0.0.1");
    }
    qsort(want, nw, sizeof want[0], cmp_line);
    qsort(have, nh, sizeof have[0], cmp_line);
    ck_assert_uint_eq(nh, nw);
    for (size_t i = 0; i < nw; i++)
        ck_assert_str_eq(have[i], want[i]);
    pw_epm_result_free(&g.r);
}
END_TEST

/* The mapper advertises itself on ncacn_http 593 where nothing listens:
 * the dump reports the registration, a probe finds the port closed. */
START_TEST(test_registered_but_unreachable)
{
    struct got g;
    dump(135, 10000, &g);
    ck_assert_int_eq(g.r.err, 0);
    ck_assert_uint_ge(g.r.calls, 2); /* 38 entries, 32 per call: the handle chains calls */
    uint16_t http_port = 0;
    for (size_t i = 0; i < g.r.n; i++)
        if (g.r.v[i].protseq == PW_EPM_NCACN_HTTP)
            http_port = g.r.v[i].port;
    ck_assert_uint_eq(http_port, 593);
    pw_epm_result_free(&g.r);
    /* Probe it as the daemon would: registered, yet nothing listens. */
    struct pw_plan *p = th_plan("[check epm-http]\nhosts = 127.0.0.1\nports = 593\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine *e = pw_engine_new(&loop, p, NULL);
    pw_engine_set_batch_cb(e, th_collect, &tr);
    int done = 0;
    pw_engine_sweep_once(e, th_done, &done);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_int_eq(tr.r[0].state, PW_STATE_CLOSED);
    ck_assert(!tr.r[0].ok);
    pw_engine_close(e, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* A silent peer (http.server waits for a line), a refused port, a
 * server that is not a mapper: each ends with an error and a message,
 * within the timeout. */
START_TEST(test_errors)
{
    static const struct {
        uint16_t port;
        const char *msg;
    } cases[] = {
        {1164, "timed out waiting for the bind_ack"},
        {2, "cannot connect"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct got g;
        uint64_t t0 = uv_hrtime();
        dump(cases[i].port, 800, &g);
        uint64_t ms = (uv_hrtime() - t0) / 1000000;
        ck_assert_int_ne(g.r.err, 0);
        ck_assert_msg(strstr(g.r.message, cases[i].msg), "port %u: '%s'", cases[i].port,
                      g.r.message);
        ck_assert_uint_lt(ms, 1500);
        ck_assert_uint_eq(g.r.n, 0);
        pw_epm_result_free(&g.r);
    }
    /* smbd on 445 gets a bind PDU: it never answers as a mapper (it
     * closes or waits), so the dump fails with no entries. */
    struct got g;
    dump(445, 1000, &g);
    ck_assert_int_ne(g.r.err, 0);
    ck_assert_uint_eq(g.r.n, 0);
    ck_assert_msg(strstr(g.r.message, "not an endpoint mapper") ||
                      strstr(g.r.message, "timed out"), "'%s'", g.r.message);
    pw_epm_result_free(&g.r);
}
END_TEST

/* ---- cancel -------------------------------------------------------------------- */

/* A peer that accepts and then says nothing: what a hung mapper looks
 * like to the client, waiting for its bind_ack until the timeout. */
struct silent {
    uv_tcp_t server, conn;
    int accepted;
    size_t got;              /* bytes the client sent (its bind) */
    char buf[4096];
    struct pw_epm_dump *dump;
    struct got g;
    uint64_t t0, done_ms;
};

static void silent_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct silent *s = h->data;
    (void)suggested;
    *b = uv_buf_init(s->buf, sizeof s->buf);
}

static void silent_read(uv_stream_t *c, ssize_t n, const uv_buf_t *b)
{
    struct silent *s = c->data;
    (void)b;
    if (n > 0)
        s->got += (size_t)n;
}

static void silent_conn(uv_stream_t *srv, int status)
{
    struct silent *s = srv->data;
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(s->accepted, 0);
    uv_tcp_init(srv->loop, &s->conn);
    s->conn.data = s;
    ck_assert_int_eq(uv_accept(srv, (uv_stream_t *)&s->conn), 0);
    s->accepted = 1;
    uv_read_start((uv_stream_t *)&s->conn, silent_alloc, silent_read);
}

static void silent_done(void *ud, struct pw_epm_result *r)
{
    struct silent *s = ud;
    s->g.r = *r;
    s->g.calls++;
    s->done_ms = (uv_hrtime() - s->t0) / 1000000;
    s->dump = NULL;
    uv_close((uv_handle_t *)&s->server, NULL);
    if (s->accepted)
        uv_close((uv_handle_t *)&s->conn, NULL);
}

/* Cancels once the client has sent its bind and waits for the answer
 * that never comes; the second cancel finds the dump already ended. */
static void on_cancel_tick(uv_timer_t *t)
{
    struct silent *s = t->data;
    uv_close((uv_handle_t *)t, NULL);
    ck_assert_int_eq(s->accepted, 1);
    ck_assert_uint_gt(s->got, 0);
    ck_assert_ptr_nonnull(s->dump);
    pw_epm_dump_cancel(s->dump);
    ck_assert_int_eq(s->g.calls, 0); /* done comes on a later turn */
    pw_epm_dump_cancel(s->dump);
}

START_TEST(test_cancel_silent_peer)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct silent s;
    memset(&s, 0, sizeof s);
    uv_tcp_init(&loop, &s.server);
    s.server.data = &s;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    ck_assert_int_eq(uv_tcp_bind(&s.server, (struct sockaddr *)&sa, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&s.server, 4, silent_conn), 0);
    int len = sizeof sa;
    uv_tcp_getsockname(&s.server, (struct sockaddr *)&sa, &len);

    s.t0 = uv_hrtime();
    ck_assert_int_eq(pw_epm_dump_start(&loop, (struct sockaddr *)&sa, 10000, silent_done, &s,
                                       &s.dump), 0);
    ck_assert_ptr_nonnull(s.dump);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    tick.data = &s;
    uv_timer_start(&tick, on_cancel_tick, 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s.g.calls, 1);
    ck_assert_int_eq(s.g.r.err, UV_ECANCELED);
    ck_assert_str_eq(s.g.r.message, "cancelled");
    ck_assert_uint_eq(s.g.r.n, 0);
    ck_assert_uint_eq(s.g.r.calls, 0); /* still waiting for the bind_ack */
    /* Right after the cancel at 300 ms (of loop time, which may run a
     * little behind t0), nowhere near the 10 s timeout. */
    ck_assert_uint_ge(s.done_ms, 250);
    ck_assert_msg(s.done_ms < 1000, "done after %llu ms", (unsigned long long)s.done_ms);
    pw_epm_result_free(&s.g.r);
}
END_TEST

/* A connect that hangs (a full accept queue drops the SYN), cancelled
 * before the loop even runs: the connect request is cancelled with the
 * handle and done still comes once, on the loop. */
START_TEST(test_cancel_while_connecting)
{
    int fds[2];
    uint16_t port = th_blackhole("127.0.0.1", fds);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    struct got g;
    memset(&g, 0, sizeof g);
    struct pw_epm_dump *d = NULL;
    ck_assert_int_eq(pw_epm_dump_start(&loop, (struct sockaddr *)&sa, 10000, on_done, &g, &d), 0);
    uint64_t t0 = uv_hrtime();
    pw_epm_dump_cancel(d);
    ck_assert_int_eq(g.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(g.calls, 1);
    ck_assert_int_eq(g.r.err, UV_ECANCELED);
    ck_assert_str_eq(g.r.message, "cancelled");
    ck_assert_uint_eq(g.r.calls, 0);
    ck_assert_msg(ms < 500, "done after %llu ms", (unsigned long long)ms);
    pw_epm_result_free(&g.r);
    close(fds[1]);
    close(fds[0]);

    /* Bad arguments fail synchronously: no handle, no callback. */
    uv_loop_init(&loop);
    d = (struct pw_epm_dump *)&g;
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(pw_epm_dump_start(&loop, (struct sockaddr *)&sa, 0, on_done, &g, &d),
                     PW_EINVAL);
    ck_assert_ptr_null(d);
    pw_epm_dump_cancel(NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(g.calls, 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void)
{
    if (!getenv("PW_NETNS") || !getenv("PW_PROTO_WORK")) {
        fprintf(stderr, "skip: run through tests/probes/proto.sh\n");
        return 77;
    }
    Suite *s = suite_create("probes-epm");
    TCase *tc = tcase_create("samba");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_matches_rpcclient);
    tcase_add_test(tc, test_registered_but_unreachable);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_cancel_silent_peer);
    tcase_add_test(tc, test_cancel_while_connecting);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
