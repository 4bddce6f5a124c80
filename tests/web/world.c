/*
 * The web tests' world (world.h): real plan, peers, engine, store, server.
 */
#define _GNU_SOURCE
#include "world.h"

#include "config/config.h"
#include "base/error.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int64_t now_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int listen_on(const char *addr, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 256), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

static uint16_t free_port(const char *addr)
{
    uint16_t p;
    int fd = listen_on(addr, &p);
    close(fd);
    return p;
}

static int on_acquire(void *ud, struct pw_web_view *out)
{
    struct world *w = ud;
    out->snap = pw_engine_snapshot_acquire(w->engine);
    out->ids = w->ids;
    return 0;
}

static void on_release(void *ud, struct pw_web_view *v)
{
    pw_snapshot_release(v->snap);
}

struct pw_web_sources world_sources(struct world *w)
{
    return (struct pw_web_sources){on_acquire, on_release, w, w->store, NULL, NULL};
}

/* A snapshot as if the engine had published nothing for a while: a copy
 * of the current one, taken earlier, holding the original. */
struct stale {
    struct pw_snapshot copy; /* first: the view points here */
    struct pw_snapshot *orig;
};
static int64_t stale_age_ms;

static int on_acquire_stale(void *ud, struct pw_web_view *out)
{
    struct world *w = ud;
    struct stale *s = malloc(sizeof *s);
    if (!s)
        return -1;
    s->orig = pw_engine_snapshot_acquire(w->engine);
    s->copy = *s->orig;
    s->copy.taken_ms -= stale_age_ms;
    out->snap = &s->copy;
    out->ids = w->ids;
    return 0;
}

static void on_release_stale(void *ud, struct pw_web_view *v)
{
    struct stale *s = (struct stale *)(void *)v->snap;
    pw_snapshot_release(s->orig);
    free(s);
}

struct pw_web_sources world_stale_sources(struct world *w, int64_t age_ms)
{
    stale_age_ms = age_ms;
    return (struct pw_web_sources){on_acquire_stale, on_release_stale, w, w->store, NULL, NULL};
}

static void on_batch(void *ud, const struct pw_result *r, size_t n)
{
    struct world *w = ud;
    pw_store_submit(w->store, r, n);
}

static void on_closed(uv_handle_t *h) {}

static void on_engine_closed(struct pw_engine *e, void *ud)
{
    struct world *w = ud;
    uv_close((uv_handle_t *)&w->stop, on_closed);
}

static void on_stop(uv_async_t *a)
{
    struct world *w = a->data;
    pw_engine_close(w->engine, on_engine_closed, w);
}

static void loop_thread(void *arg)
{
    struct world *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void store_log(void *ud, int lvl, const char *msg) {}

/* The web server on open_port[1]: reads a request head (or gives up after
 * a second) and answers 200 with a Server header, one connection at a
 * time, until http_stop. */
static void http_peer(void *arg)
{
    struct world *w = arg;
    static const char reply[] = "HTTP/1.1 200 OK\r\nServer: " WORLD_HTTP_SERVER
                                "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    while (!w->http_stop) {
        struct pollfd pf = {w->listen_fds[1], POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(w->listen_fds[1], NULL, NULL);
        if (fd < 0)
            continue;
        char buf[2048];
        size_t got = 0;
        int64_t deadline = now_ms() + 1000;
        while (got + 1 < sizeof buf && now_ms() < deadline) {
            struct pollfd cf = {fd, POLLIN, 0};
            if (poll(&cf, 1, 50) <= 0)
                continue;
            ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        (void)send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL);
        close(fd);
    }
}

void world_start(struct world *w, const struct pw_web_options *wo)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/pw-web-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(w->dir));
    for (int i = 0; i < 2; i++) {
        w->listen_fds[i] = listen_on("127.0.0.1", &w->open_port[i]);
        w->closed_port[i] = free_port(i ? "127.0.0.2" : "127.0.0.1");
    }
    char ini[2048];
    snprintf(ini, sizeof ini,
             "[portwatch]\ninterval = 1s\ntimeout = 500ms\nfail_after = 1\n"
             "[biztalk]\nmanagement_database = 127.0.0.3\nsecondary_rpc_ports = 50000-50009\n"
             "[check web-open]\nhosts = 127.0.0.1\nports = %u, %u\nexpect = listening\n"
             "reason = Two listeners the test opened\n"
             "[check web-closed]\nhosts = 127.0.0.1\nports = %u\nexpect = listening\n"
             "reason = Nothing listens here\n"
             "[check web-reach]\nhosts = 127.0.0.2\nports = %u\nexpect = reachable\n"
             "reason = Refused is fine\n"
             "[check web-many]\nhosts = 127.0.0.4\nports = 1-12\nexpect = listening\n"
             "reason = Twelve ports nothing listens on\n",
             w->open_port[0], w->open_port[1], w->closed_port[0], w->closed_port[1]);
    struct pw_diag d = {0};
    int rc = pw_config_load_buffer("web-test.ini", ini, strlen(ini), &w->cfg, &d);
    if (rc != 0)
        pw_diag_print(&d, stderr);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(pw_plan_build(w->cfg, &w->plan, &d), 0);
    pw_diag_free(&d);

    char path[300], err[PW_STORE_MSG_MAX];
    snprintf(path, sizeof path, "%s/web.db", w->dir);
    struct pw_store_options so = {.commit_interval_ms = 50, .log = store_log};
    ck_assert_int_eq(pw_store_open(path, &so, &w->store, err), 0);
    w->ids = calloc(w->plan->ntargets, sizeof *w->ids);
    ck_assert_int_eq(pw_store_sync_targets(w->store, w->plan, w->ids), 0);

    ck_assert_int_eq(uv_loop_init(&w->loop), 0);
    struct pw_engine_options eo = {
        .interval_ms = w->cfg->s.interval_ms,
        .timeout_ms = w->cfg->s.timeout_ms,
        .fail_after = (uint32_t)w->cfg->s.fail_after,
        .recover_after = (uint32_t)w->cfg->s.recover_after,
        .spread = true,
    };
    w->engine = pw_engine_new(&w->loop, w->plan, &eo);
    ck_assert_ptr_nonnull(w->engine);
    pw_engine_set_batch_cb(w->engine, on_batch, w);
    for (uint32_t i = 0; i < w->plan->ntargets; i++)
        if (w->plan->targets[i].port == w->open_port[1] &&
            strcmp(w->plan->hosts[w->plan->targets[i].host].name, "127.0.0.1") == 0)
            ck_assert_int_eq(pw_engine_set_protocol(w->engine, i, PW_PROTO_HTTP), 0);
    ck_assert_int_eq(uv_thread_create(&w->http_thread, http_peer, w), 0);
    ck_assert_int_eq(uv_async_init(&w->loop, &w->stop, on_stop), 0);
    w->stop.data = w;
    ck_assert_int_eq(pw_engine_start(w->engine), 0);
    ck_assert_int_eq(uv_thread_create(&w->thread, loop_thread, w), 0);

    /* Every target probed once, and written. */
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        struct pw_snapshot *s = pw_engine_snapshot_acquire(w->engine);
        size_t n = 0;
        for (size_t i = 0; i < s->ntargets; i++)
            n += s->targets[i].has_result;
        bool all = n == s->ntargets && s->stats.sweeps > 0;
        pw_snapshot_release(s);
        if (all)
            break;
        ck_assert_msg(now_ms() < deadline, "the engine did not probe every target in 10 s");
        usleep(20000);
    }
    ck_assert_int_eq(pw_store_flush(w->store, 5000), 0);

    struct pw_web_options def = {.listen = "127.0.0.1:0"};
    char werr[PW_WEB_ERR_MAX];
    rc = world_web(w, wo ? wo : &def, &w->web, werr);
    ck_assert_msg(rc == 0, "pw_web_start: %s", werr);
    w->port = pw_web_port(w->web);
    ck_assert_uint_ne(w->port, 0);
}

int world_web(struct world *w, const struct pw_web_options *wo, struct pw_web **out,
              char err[PW_WEB_ERR_MAX])
{
    struct pw_web_sources src = world_sources(w);
    return pw_web_start(wo, &src, out, err);
}

void world_stop(struct world *w)
{
    pw_web_stop(w->web);
    uv_async_send(&w->stop);
    uv_thread_join(&w->thread);
    ck_assert_int_eq(uv_loop_close(&w->loop), 0);
    pw_store_close(w->store);
    w->http_stop = 1;
    uv_thread_join(&w->http_thread);
    free(w->ids);
    pw_plan_free(w->plan);
    pw_config_free(w->cfg);
    for (int i = 0; i < 2; i++)
        close(w->listen_fds[i]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s/web.db", w->dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/web.db-wal", w->dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/web.db-shm", w->dir);
    unlink(cmd);
    rmdir(w->dir);
}

/* ---- HTTP ------------------------------------------------------------------ */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct http *h = ud;
    size_t add = sz * n;
    char *nb = realloc(h->body, h->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + h->len, p, add);
    h->body = nb;
    h->len += add;
    h->body[h->len] = '\0';
    return add;
}

static void header_value(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    while (*v == ' ')
        v++;
    size_t vl = n - (size_t)(v - line);
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    if (vl >= cap)
        vl = cap - 1;
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct http *h = ud;
    size_t len = sz * n;
    header_value(p, len, "content-type", h->ctype, sizeof h->ctype);
    header_value(p, len, "allow", h->allow, sizeof h->allow);
    header_value(p, len, "cache-control", h->cache, sizeof h->cache);
    header_value(p, len, "www-authenticate", h->www_auth, sizeof h->www_auth);
    header_value(p, len, "strict-transport-security", h->hsts, sizeof h->hsts);
    header_value(p, len, "etag", h->etag, sizeof h->etag);
    header_value(p, len, "content-encoding", h->cenc, sizeof h->cenc);
    header_value(p, len, "vary", h->vary, sizeof h->vary);
    char cl[32] = "";
    header_value(p, len, "content-length", cl, sizeof cl);
    if (*cl)
        h->content_length = atol(cl);
    return len;
}

void http_free(struct http *h)
{
    free(h->body);
    memset(h, 0, sizeof *h);
}

int http_req(const char *method, const char *url, const char *header, const char *cainfo,
             struct http *out)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    struct curl_slist *hl = NULL;
    for (const char *p = header; p && *p;) {
        size_t n = strcspn(p, "\n");
        char one[1024];
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        hl = curl_slist_append(hl, one);
        p += n + (p[n] == '\n');
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (cainfo)
        curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &out->seconds);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return (int)rc;
}

int http_get(uint16_t port, const char *path, struct http *out)
{
    char url[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    return http_req(NULL, url, NULL, NULL, out);
}

int raw_connect(const char *src, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (src) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &sa.sin_addr);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int raw_request(uint16_t port, const char *req, size_t len, int timeout_ms, char *resp,
                size_t resp_len)
{
    int fd = raw_connect(NULL, port);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            break; /* the server may close early on an oversized request */
        off += (size_t)k;
    }
    size_t got = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (got + 1 < resp_len) {
        struct pollfd pf = {fd, POLLIN, 0};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&pf, 1, left) <= 0)
            break;
        ssize_t k = recv(fd, resp + got, resp_len - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    resp[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

/* ---- tools ---------------------------------------------------------------------- */

bool world_have(const char *path)
{
    return access(path, X_OK) == 0;
}

int world_run(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void world_make_cert(const struct world *w, char cert[300], char key[300])
{
    char cmd[1024], out[4096];
    snprintf(cert, 300, "%s/cert.pem", w->dir);
    snprintf(key, 300, "%s/key.pem", w->dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
             "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s -out %s 2>&1",
             key, cert);
    ck_assert_msg(world_run(cmd, out, sizeof out) == 0, "openssl: %s", out);
}

int world_run_suite(struct Suite *s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? 1 : 0;
}

struct world W;

void world_setup(void)
{
    world_start(&W, NULL);
}

void world_teardown(void)
{
    world_stop(&W);
}

json_t *world_get_json(uint16_t port, const char *path, long want_status)
{
    struct http h;
    ck_assert_int_eq(http_get(port, path, &h), 0);
    ck_assert_msg(h.status == want_status, "%s: status %ld, want %ld: %s", path, h.status,
                  want_status, h.body ? h.body : "");
    ck_assert_msg(strncmp(h.ctype, "application/json", 16) == 0, "%s: content type %s", path,
                  h.ctype);
    ck_assert_str_eq(h.cache, "no-store");
    json_error_t je;
    json_t *doc = json_loadb(h.body, h.len, 0, &je);
    ck_assert_msg(doc != NULL, "%s: not JSON: %s", path, je.text);
    http_free(&h);
    return doc;
}

void world_expect_error(uint16_t port, const char *path, long want_status, const char *want)
{
    json_t *doc = world_get_json(port, path, want_status);
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(doc, "error")));
    ck_assert_ptr_nonnull(detail);
    ck_assert_msg(strstr(detail, want) != NULL, "%s: detail '%s' lacks '%s'", path, detail,
                  want);
    json_decref(doc);
}

char *world_gunzip(const char *body, size_t len, size_t cap, size_t *out_len)
{
    ck_assert_msg(len > 18 && (unsigned char)body[0] == 0x1f && (unsigned char)body[1] == 0x8b,
                  "not a gzip stream");
    char *text = calloc(1, cap);
    ck_assert_ptr_nonnull(text);
    z_stream z = {0};
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)text;
    z.avail_out = (uInt)cap - 1;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    if (out_len)
        *out_len = z.total_out;
    inflateEnd(&z);
    return text;
}

size_t world_long_uri_request(char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "GET /api/v1/status?host=");
    memset(buf + n, 'a', 9000);
    n += 9000;
    n += snprintf(buf + n, cap - (size_t)n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    return (size_t)n;
}

size_t world_big_headers_request(char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 36; i++) {
        n += snprintf(buf + n, cap - (size_t)n, "X-Pad-%d: ", i);
        memset(buf + n, 'b', 1000);
        n += 1000;
        n += snprintf(buf + n, cap - (size_t)n, "\r\n");
    }
    n += snprintf(buf + n, cap - (size_t)n, "\r\n");
    return (size_t)n;
}

Suite *world_suite(const char *name, int timeout_s, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *t = tcase_create("server");
    tcase_add_unchecked_fixture(t, world_setup, world_teardown);
    tcase_set_timeout(t, timeout_s);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(t, tests[i]);
    suite_add_tcase(s, t);
    return s;
}
