/*
 * Protocol proof against real servers: run by proto.sh inside a network
 * namespace where Samba (endpoint mapper on 135, SMB on 445, dynamic RPC
 * ports from 50000), tdspool (TDS on 1433), python3's http.server (1164)
 * and, when installed, nginx (8081) listen on 127.0.0.1. Each exchange
 * must verify against the service it names and must not against another.
 * Exits 77 when not started that way.
 */
#include "helpers.h"

#include "probes/report.h"

#include "tests/check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pw_engine *sweep(uv_loop_t *loop, const struct pw_plan *p,
                               const struct pw_engine_options *o, struct th_results *tr,
                               const enum pw_proto *protos)
{
    struct pw_engine *e = pw_engine_new(loop, p, o);
    ck_assert_ptr_nonnull(e);
    pw_engine_set_batch_cb(e, th_collect, tr);
    for (uint32_t t = 0; protos && t < p->ntargets; t++)
        ck_assert_int_eq(pw_engine_set_protocol(e, t, protos[0]), 0);
    int done = 0;
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 1);
    return e;
}

static const char catalog_ini[] =
    "[portwatch]\ntimeout = 3s\n"
    "[biztalk]\nmanagement_database = 127.0.0.1\nprocessing_servers = 127.0.0.1\n"
    "iis_servers = 127.0.0.1\nsecondary_rpc_ports = 50000-50002\n";

/* Catalog rows get their exchange by port, and each real server proves
 * itself: the mapper binds, Samba negotiates SMB 3.x, tdspool answers
 * PRELOGIN, the web server a status line. The RPC range gets none. */
START_TEST(test_catalog_verified)
{
    struct pw_plan *p = th_plan(catalog_ini);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 3000};
    struct pw_engine *e = sweep(&loop, p, &o, &tr, NULL);
    static const struct {
        uint16_t port;
        const char *info;
    } want[] = {
        {135, "endpoint mapper v3 bound (port 135)"},
        {445, "SMB 3."},
        {1164, "SimpleHTTP/"},
        {1433, "TDS "},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct pw_result *r = th_last(&tr, th_target(p, "127.0.0.1", want[i].port));
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(r->state == PW_STATE_OPEN && r->verify == PW_VERIFY_VERIFIED && r->ok,
                      "port %u: %s %s '%s'", want[i].port, pw_state_name(r->state),
                      pw_verify_name(r->verify), r->verify_info);
        ck_assert_msg(strstr(r->verify_info, want[i].info), "port %u: '%s' lacks '%s'",
                      want[i].port, r->verify_info, want[i].info);
        ck_assert_int_ge(r->latency_us, 0);
    }
    for (uint16_t port = 50000; port <= 50002; port++) {
        const struct pw_result *r = th_last(&tr, th_target(p, "127.0.0.1", port));
        ck_assert_int_eq(r->state, PW_STATE_OPEN); /* Samba's dynamic ports */
        ck_assert_int_eq(r->verify, PW_VERIFY_OFF);
    }
    /* The snapshot and `check`'s JSON carry it too. */
    struct pw_snapshot *s = pw_engine_snapshot_acquire(e);
    uint32_t t1433 = th_target(p, "127.0.0.1", 1433);
    ck_assert_int_eq(s->targets[t1433].verify, PW_VERIFY_VERIFIED);
    ck_assert(strncmp(s->targets[t1433].verify_info, "TDS ", 4) == 0);
    json_t *j = th_report_json(p, s);
    ck_assert_ptr_nonnull(j);
    json_t *o1433 = json_array_get(j, t1433);
    ck_assert_str_eq(json_string_value(json_object_get(o1433, "verify")), "verified");
    ck_assert(strncmp(json_string_value(json_object_get(o1433, "verify_info")), "TDS ", 4) == 0);
    json_decref(j);
    pw_snapshot_release(s);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* `[biztalk] verify = no` (engine option no_verify): connect only. */
START_TEST(test_verify_off)
{
    struct pw_plan *p = th_plan(catalog_ini);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 3000, .no_verify = true};
    struct pw_engine *e = sweep(&loop, p, &o, &tr, NULL);
    for (size_t i = 0; i < tr.n; i++) {
        ck_assert_int_eq(tr.r[i].state, PW_STATE_OPEN);
        ck_assert_int_eq(tr.r[i].verify, PW_VERIFY_OFF);
        ck_assert_str_eq(tr.r[i].verify_info, "");
    }
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* Something else answers: an SMB2 NEGOTIATE sent to the endpoint mapper
 * gets a DCE/RPC bind_nak. The port is open, but `listening` fails; as
 * `reachable` it passes (the firewall lets it through). */
START_TEST(test_mismatch_smb_on_epm)
{
    struct pw_plan *p = th_plan("[check smb-on-135]\nhosts = 127.0.0.1\nports = 135\n"
                                "[check smb-on-1164]\nhosts = 127.0.0.2\nports = 1164\n"
                                "expect = reachable\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 2000};
    enum pw_proto smb = PW_PROTO_SMB;
    struct pw_engine *e = sweep(&loop, p, &o, &tr, &smb);
    const struct pw_result *r = th_last(&tr, th_target(p, "127.0.0.1", 135));
    ck_assert_int_eq(r->state, PW_STATE_OPEN);
    ck_assert_msg(r->verify == PW_VERIFY_MISMATCH, "%s '%s'", pw_verify_name(r->verify),
                  r->verify_info);
    ck_assert_msg(strstr(r->verify_info, "bind_nak"), "'%s'", r->verify_info);
    ck_assert(!r->ok);
    /* 127.0.0.2:1164: nothing listens (http.server bound 127.0.0.1). */
    r = th_last(&tr, th_target(p, "127.0.0.2", 1164));
    ck_assert_int_eq(r->state, PW_STATE_CLOSED);
    ck_assert_int_eq(r->verify, PW_VERIFY_NONE);
    ck_assert(r->ok);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* An HTTP server on a port probed as SQL Server: nginx answers the
 * PRELOGIN bytes with an HTTP error, which is a mismatch naming HTTP. */
START_TEST(test_mismatch_http_for_tds)
{
    const char *port = getenv("PW_PROTO_NGINX");
    if (!port || !*port) {
        fprintf(stderr, "note: nginx not installed; HTTP-for-TDS case not run\n");
        return;
    }
    char ini[256];
    snprintf(ini, sizeof ini, "[check sql]\nhosts = 127.0.0.1\nports = %s\n", port);
    struct pw_plan *p = th_plan(ini);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 2000};
    enum pw_proto tds = PW_PROTO_TDS;
    struct pw_engine *e = sweep(&loop, p, &o, &tr, &tds);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_int_eq(tr.r[0].state, PW_STATE_OPEN);
    ck_assert_msg(tr.r[0].verify == PW_VERIFY_MISMATCH, "%s '%s'",
                  pw_verify_name(tr.r[0].verify), tr.r[0].verify_info);
    ck_assert_msg(strstr(tr.r[0].verify_info, "HTTP"), "'%s'", tr.r[0].verify_info);
    ck_assert(!tr.r[0].ok);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* A server that accepts and stays silent: python's http.server waits for
 * a line that a TDS PRELOGIN never ends. no_reply, within the one
 * timeout the connect and the exchange share; listening still holds. */
START_TEST(test_no_reply_within_timeout)
{
    struct pw_plan *p = th_plan("[check quiet]\nhosts = 127.0.0.1\nports = 1164\n");
    th_timing(p, 0, 700);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.timeout_ms = 700};
    enum pw_proto tds = PW_PROTO_TDS;
    uint64_t t0 = uv_hrtime();
    struct pw_engine *e = sweep(&loop, p, &o, &tr, &tds);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_int_eq(tr.r[0].state, PW_STATE_OPEN);
    ck_assert_msg(tr.r[0].verify == PW_VERIFY_NO_REPLY, "%s '%s'",
                  pw_verify_name(tr.r[0].verify), tr.r[0].verify_info);
    ck_assert(tr.r[0].ok);
    ck_assert_uint_ge(ms, 650);
    ck_assert_uint_lt(ms, 1200);
    th_close_engine(&loop, e);
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

/* Periodic probing keeps verifying: three rounds, every one verified, and
 * no socket left behind (the loop closes). */
static void on_stop(uv_timer_t *t)
{
    pw_engine_close(t->data, NULL, NULL);
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_run_mode_repeats)
{
    struct pw_plan *p = th_plan("[biztalk]\nmanagement_database = 127.0.0.1\n"
                                "processing_servers = 127.0.0.1\nsecondary_rpc_ports = 50000\n");
    th_timing(p, 400, 300);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct th_results tr = {0};
    struct pw_engine_options o = {.spread = true};
    struct pw_engine *e = pw_engine_new(&loop, p, &o);
    pw_engine_set_batch_cb(e, th_collect, &tr);
    ck_assert_int_eq(pw_engine_start(e), 0);
    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    stop.data = e;
    uv_timer_start(&stop, on_stop, 1150, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    size_t verified = 0;
    for (size_t i = 0; i < tr.n; i++) {
        uint16_t port = p->targets[tr.r[i].target].port;
        if (port == 50000)
            continue;
        ck_assert_msg(tr.r[i].verify == PW_VERIFY_VERIFIED, "port %u: %s '%s'", port,
                      pw_verify_name(tr.r[i].verify), tr.r[i].verify_info);
        verified++;
    }
    ck_assert_uint_ge(verified, 3 * 3); /* 135, 445, 1433 three times */
    th_results_free(&tr);
    pw_plan_free(p);
}
END_TEST

int main(void)
{
    if (!getenv("PW_NETNS") || !getenv("PW_PROTO_WORK")) {
        fprintf(stderr, "skip: run through tests/probes/proto.sh\n");
        return 77;
    }
    Suite *s = suite_create("probes-proto");
    TCase *tc = tcase_create("servers");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_catalog_verified);
    tcase_add_test(tc, test_verify_off);
    tcase_add_test(tc, test_mismatch_smb_on_epm);
    tcase_add_test(tc, test_mismatch_http_for_tds);
    tcase_add_test(tc, test_no_reply_within_timeout);
    tcase_add_test(tc, test_run_mode_repeats);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
