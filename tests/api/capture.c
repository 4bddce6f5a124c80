/*
 * Records real answers of every endpoint and every error class for
 * validate.js to check against the OpenAPI description: the web server on
 * the web tests' world (tests/web/world.h: real listeners, a real engine
 * and store), plus a server with a token (401), one without a store (503)
 * and one with an endpoint-mapper read (the RPC endpoints document).
 *
 *   capture OUT.json
 *
 * OUT.json is an array of {server, method, path, status, content_type,
 * content_encoding, etag, body}; gzip'd bodies are inflated here.
 */
#define _GNU_SOURCE
#include "../web/world.h"

#include "web/web.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *out_path;
static json_t *answers;

#define TOKEN "capture-t0ken"

static void keep(const char *server, const char *method, const char *path, long status,
                 const char *ctype, const char *cenc, const char *etag, const char *body,
                 size_t len)
{
    json_t *a = json_object();
    json_object_set_new(a, "server", json_string(server));
    json_object_set_new(a, "method", json_string(method));
    json_object_set_new(a, "path", json_string(path));
    json_object_set_new(a, "status", json_integer(status));
    json_object_set_new(a, "content_type", json_string(ctype));
    json_object_set_new(a, "content_encoding", json_string(cenc));
    json_object_set_new(a, "etag", json_string(etag));
    json_t *b = json_stringn(body ? body : "", body ? len : 0);
    ck_assert_msg(b != NULL, "%s %s: the body is not UTF-8", method, path);
    json_object_set_new(a, "body", b);
    json_array_append_new(answers, a);
}

/* One request through libcurl; headers separated by '\n'. Returns the
 * status. */
static long ask(const char *server, uint16_t port, const char *method, const char *path,
                const char *headers)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    struct http h;
    ck_assert_int_eq(http_req(method, url, headers, NULL, &h), 0);
    size_t len = h.len;
    char *body = h.body;
    if (strcmp(h.cenc, "gzip") == 0)
        body = world_gunzip(h.body, h.len, 8 << 20, &len);
    keep(server, method ? method : "GET", path, h.status, h.ctype, h.cenc, h.etag, body, len);
    if (body != h.body)
        free(body);
    long st = h.status;
    http_free(&h);
    return st;
}

/* A raw request (one no well-behaved client sends): status, content type
 * and body parsed from the answer. */
static void ask_raw(const char *what, const char *req, size_t len)
{
    static char resp[65536];
    memset(resp, 0, sizeof resp);
    int st = raw_request(W.port, req, len, 3000, resp, sizeof resp - 1);
    ck_assert_int_gt(st, 0);
    char ctype[128] = "";
    const char *ct = strcasestr(resp, "\r\nContent-Type: ");
    if (ct)
        snprintf(ctype, sizeof ctype, "%.*s", (int)strcspn(ct + 16, "\r\n"), ct + 16);
    const char *body = strstr(resp, "\r\n\r\n");
    body = body ? body + 4 : "";
    keep("main", "GET", what, st, ctype, "", "", body, strlen(body));
}

static void too_large(void)
{
    static char req[40000];
    ask_raw("/api/v1/status?host=aaaa(9000 bytes)", req, world_long_uri_request(req, sizeof req));
    ask_raw("/api/v1/status", req, world_big_headers_request(req, sizeof req)); /* 36 kB */
}

static struct pw_web *start(const struct pw_web_sources *src, const char *token)
{
    struct pw_web_options o = {.listen = "127.0.0.1:0", .api_token = token};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX];
    ck_assert_msg(pw_web_start(&o, src, &w, err) == 0, "%s", err);
    return w;
}

/* An endpoint-mapper read of 127.0.0.2: one registration outside the RPC
 * range, one inside. */
static struct pw_epm_registration eps[2];
static struct pw_web_epm_host epm_host = {.host = "127.0.0.2", .v = eps, .n = 2};
static const struct pw_web_epm epm = {&epm_host, 1};
static const struct pw_web_epm *epm_acquire(void *ud) { (void)ud; return &epm; }
static void epm_release(void *ud, const struct pw_web_epm *e) { (void)ud; (void)e; }

/* Every endpoint, its filters, and the errors each can give. */
static void main_server(void)
{
    static const char *const gets[] = {
        "/api/v1/openapi.json", "/api/v1/status", "/api/v1/status?host=127.0.0.1&status=up",
        "/api/v1/status?role=web-closed&state=closed", "/api/v1/targets",
        "/api/v1/targets?limit=2", "/api/v1/targets?state=closed&limit=3&cursor=1",
        "/api/v1/targets/1", "/api/v1/targets/1/history", "/api/v1/targets/1/history?step=1m",
        "/api/v1/outages", "/api/v1/outages?open=true&host=127.0.0.4&port=1-3",
        "/api/v1/uptime", "/api/v1/uptime?by=host", "/api/v1/uptime?by=role",
        "/api/v1/uptime?by=farm", "/api/v1/health", "/api/v1/health?role=web-open",
        "/api/v1/health?role=web-closed", "/api/v1/health?role=web-closed&min_duration=300d",
        "/api/v1/health?format=text", "/api/v1/health?format=text&role=web-open",
        "/api/v1/live", "/metrics", "/api/v1/hosts", "/api/v1/gaps", "/api/v1/gaps?from=-1h", "/api/v1/maintenance",
        "/api/v1/incidents", "/api/v1/incidents?state=open&host=127.0.0.4", "/api/v1/report",
        "/api/v1/report?format=csv", "/api/v1/report?format=markdown",
        /* 400 */
        "/api/v1/status?bogus=1", "/api/v1/targets?limit=0", "/api/v1/targets/abc",
        "/api/v1/targets/1/history?from=yesterday", "/api/v1/uptime?by=x",
        "/api/v1/health?format=xml", "/api/v1/health?format=text&min_duration=x",
        "/api/v1/gaps?from=now",
        "/api/v1/status?host=%zz",
        /* 404 */
        "/api/v1/nothing", "/api/v1/targets/4000000000", "/api/v1/targets/4000000000/history",
        "/api/v1/outages?host=nosuch", "/api/v1/incidents?role=nosuch", "/api/v1/targets?role=nosuch",
        "/api/v1/health?format=text&host=nosuch",
    };
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++)
        ask("main", W.port, NULL, gets[i], NULL);
    ask("main", W.port, "HEAD", "/api/v1/status", NULL);
    ask("main", W.port, "POST", "/api/v1/status", NULL);
    ask("main", W.port, "DELETE", "/api/v1/targets/1", NULL);
    ask("main", W.port, NULL, "/api/v1/targets?limit=3", "Accept-Encoding: gzip");
    ask("main", W.port, NULL, "/api/v1/nothing", "Accept-Encoding: gzip");
    /* 304: a target document's own tag */
    char inm[128];
    ck_assert_int_eq(ask("main", W.port, NULL, "/api/v1/targets/1", NULL), 200);
    json_t *last = json_array_get(answers, json_array_size(answers) - 1);
    snprintf(inm, sizeof inm, "If-None-Match: %s",
             json_string_value(json_object_get(last, "etag")));
    ck_assert_int_eq(ask("main", W.port, NULL, "/api/v1/targets/1", inm), 304);
    too_large();
}

START_TEST(capture)
{
    answers = json_array();
    main_server();
    struct pw_web_sources src = world_sources(&W);
    struct pw_web *w = start(&src, TOKEN);
    ask("token", pw_web_port(w), NULL, "/api/v1/status", NULL);
    ask("token", pw_web_port(w), NULL, "/api/v1/live", "Authorization: Bearer wrong");
    ask("token", pw_web_port(w), NULL, "/api/v1/live", "Authorization: Bearer " TOKEN);
    pw_web_stop(w);
    src.store = NULL;
    w = start(&src, NULL);
    ask("no-store", pw_web_port(w), NULL, "/api/v1/outages", NULL);
    ask("no-store", pw_web_port(w), NULL, "/api/v1/uptime", NULL);
    ask("no-store", pw_web_port(w), NULL, "/api/v1/targets/1/history", NULL);
    ask("no-store", pw_web_port(w), NULL, "/api/v1/status", NULL);
    ask("no-store", pw_web_port(w), NULL, "/api/v1/rpc/endpoints", NULL);
    pw_web_stop(w);
    src = world_stale_sources(&W, 600000); /* a stuck probe loop */
    w = start(&src, NULL);
    ask("stale", pw_web_port(w), NULL, "/api/v1/live", NULL);
    pw_web_stop(w);
    src = world_sources(&W);
    eps[0].e.protseq = PW_EPM_NCACN_IP_TCP;
    eps[0].e.port = 62001;
    eps[0].outside_range = true;
    eps[0].first_seen_ms = eps[0].last_seen_ms = epm_host.looked_up_ms = pw_wall_ms();
    eps[1].e.protseq = PW_EPM_NCACN_IP_TCP;
    eps[1].e.port = 50003;
    src.epm_acquire = epm_acquire;
    src.epm_release = epm_release;
    w = start(&src, NULL);
    ask("epm", pw_web_port(w), NULL, "/api/v1/rpc/endpoints", NULL);
    ask("epm", pw_web_port(w), NULL, "/api/v1/rpc/endpoints?host=127.0.0.2", NULL);
    ask("epm", pw_web_port(w), NULL, "/api/v1/rpc/endpoints?host=nosuch", NULL);
    pw_web_stop(w);
    ck_assert_int_eq(json_dump_file(answers, out_path, JSON_INDENT(1)), 0);
    printf("capture: %zu answers in %s\n", json_array_size(answers), out_path);
    json_decref(answers);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: capture OUT.json\n");
        return 2;
    }
    out_path = argv[1];
    const TTest *const tests[] = {capture};
    return world_run_suite(world_suite("api-capture", 120, tests, 1));
}
