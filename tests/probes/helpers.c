/*
 * See helpers.h: real loopback peers and plan/result plumbing shared by
 * the probe engine tests.
 */
#define TH_ENGINE_NEW_ITSELF
#include "helpers.h"


#include "config/config.h"
#include "probes/report.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pw_plan *th_plan(const char *ini)
{
    struct pw_config *c = NULL;
    struct pw_diag d = {0};
    int err = pw_config_load_buffer("test.ini", ini, strlen(ini), &c, &d);
    if (err) {
        pw_diag_print(&d, stderr);
        pw_diag_free(&d);
        ck_abort_msg("config: %d", err);
    }
    struct pw_plan *p = NULL;
    err = pw_plan_build(c, &p, &d);
    if (err || d.n) {
        pw_diag_print(&d, stderr);
        ck_abort_msg("plan: %d", err);
    }
    pw_diag_free(&d);
    pw_config_free(c);
    return p;
}

void th_timing(struct pw_plan *p, int64_t interval_ms, int64_t timeout_ms)
{
    for (size_t i = 0; i < p->nprofiles; i++) {
        if (interval_ms)
            p->profiles[i].interval_ms = interval_ms;
        if (timeout_ms)
            p->profiles[i].timeout_ms = timeout_ms;
    }
}

uint32_t th_target(const struct pw_plan *p, const char *host, uint16_t port)
{
    for (size_t i = 0; i < p->ntargets; i++)
        if (strcmp(p->hosts[p->targets[i].host].name, host) == 0 &&
            p->targets[i].port == port)
            return (uint32_t)i;
    ck_abort_msg("no target %s:%u", host, (unsigned)port);
    return 0;
}

static int bound(const char *addr, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port)};
    ck_assert_int_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

int th_listen(const char *addr, uint16_t *port, int backlog)
{
    int fd = bound(addr, port);
    ck_assert_int_eq(listen(fd, backlog), 0);
    return fd;
}

uint16_t th_free_port(const char *addr)
{
    uint16_t port = 0;
    close(bound(addr, &port));
    return port;
}

uint16_t th_blackhole(const char *addr, int fds[2])
{
    uint16_t port = 0;
    fds[0] = th_listen(addr, &port, 0);
    fds[1] = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    ck_assert_int_eq(connect(fds[1], (struct sockaddr *)&sa, sizeof sa), 0);
    return port;
}

void th_collect(void *ud, const struct pw_result *r, size_t n)
{
    struct th_results *tr = ud;
    ck_assert_uint_gt(n, 0);
    tr->batches++;
    if (tr->n + n > tr->cap) {
        tr->cap = (tr->n + n) * 2;
        tr->r = realloc(tr->r, tr->cap * sizeof *tr->r);
        ck_assert_ptr_nonnull(tr->r);
    }
    memcpy(tr->r + tr->n, r, n * sizeof *r);
    tr->n += n;
    if (tr->stop_at && tr->n >= tr->stop_at && tr->engine && !tr->closed) {
        tr->closed = 1;
        pw_engine_close(tr->engine, NULL, NULL);
    }
}

void th_results_free(struct th_results *tr)
{
    free(tr->r);
    memset(tr, 0, sizeof *tr);
}

size_t th_count(const struct th_results *tr, uint32_t t)
{
    size_t n = 0;
    for (size_t i = 0; i < tr->n; i++)
        n += tr->r[i].target == t;
    return n;
}

const struct pw_result *th_last(const struct th_results *tr, uint32_t t)
{
    for (size_t i = tr->n; i-- > 0;)
        if (tr->r[i].target == t)
            return &tr->r[i];
    return NULL;
}

void th_done(struct pw_engine *e, void *ud)
{
    (void)e;
    (*(int *)ud)++;
}

struct pw_engine *th_sweep(uv_loop_t *loop, const struct pw_plan *p,
                           const struct pw_engine_options *o, struct th_results *tr)
{
    struct pw_engine *e = pw_engine_new(loop, p, o);
    ck_assert_ptr_nonnull(e);
    pw_engine_set_batch_cb(e, th_collect, tr);
    int done = 0;
    ck_assert_int_eq(pw_engine_sweep_once(e, th_done, &done), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done, 1);
    return e;
}

void th_close_engine(uv_loop_t *loop, struct pw_engine *e)
{
    int closed = 0;
    pw_engine_close(e, th_done, &closed);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

json_t *th_report_json(const struct pw_plan *p, const struct pw_snapshot *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pw_report_json_write(p, s, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    json_error_t err;
    json_t *j = json_loadb(text, len, 0, &err);
    ck_assert_msg(j, "check's JSON does not parse: %s (line %d)", err.text, err.line);
    free(text);
    return j;
}

struct pw_engine *th_engine_new(uv_loop_t *loop, const struct pw_plan *p,
                                const struct pw_engine_options *o)
{
    const char *which = getenv("PW_TEST_DIALER");
    if (!which || strcmp(which, "os") != 0)
        return pw_engine_new(loop, p, o);
    struct pw_engine_options with = {0};
    if (o)
        with = *o;
    with.dialer = pw_dialer_linux();
    ck_assert_ptr_nonnull(with.dialer);
    return pw_engine_new(loop, p, &with);
}
