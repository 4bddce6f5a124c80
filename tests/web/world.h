/*
 * The world the web tests (and nothing else) run against: a real plan from
 * INI text, real loopback peers (listeners that accept, ports that refuse),
 * a real probe engine on a libuv loop in its own thread, a real history
 * store in a temporary directory, and the web server started on them with
 * acquire/release as the daemon does it. Plus a libcurl client and raw
 * sockets for requests no well-behaved client sends. POSIX: Linux only.
 */
#ifndef PW_TEST_WEB_WORLD_H
#define PW_TEST_WEB_WORLD_H

#include "web/web.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct world {
    char dir[256];
    struct pw_config *cfg;
    struct pw_plan *plan;
    uint32_t *ids;
    struct pw_store *store;
    struct pw_engine *engine;
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    int listen_fds[4];
    uint16_t open_port[2], closed_port[2];
    struct pw_web *web;
    uint16_t port;
    /* open_port[1] is a real (tiny) web server and its target is checked
     * with the HTTP exchange: verify "verified", verify_info naming
     * WORLD_HTTP_SERVER. open_port[0] only accepts: verify "off". */
    uv_thread_t http_thread;
    volatile int http_stop;
};

#define WORLD_HTTP_SERVER "pwtest-httpd/1.0"

/* Builds and starts everything; waits until every target has a result and
 * the store has it. extra_ini is appended to the configuration. */
void world_start(struct world *w, const struct pw_web_options *wo);
void world_stop(struct world *w);
/* Start another server on the same data; returns 0 or the error. */
int world_web(struct world *w, const struct pw_web_options *wo, struct pw_web **out,
              char err[PW_WEB_ERR_MAX]);

struct pw_web_sources world_sources(struct world *w);
/* The same data, but every snapshot age_ms older than it is: a probe loop
 * that stopped publishing (for /api/v1/live). */
struct pw_web_sources world_stale_sources(struct world *w, int64_t age_ms);

/* An HTTP answer. */
struct http {
    long status;
    char *body;
    size_t len;
    char ctype[128];
    char allow[64];
    char cache[64];
    char www_auth[128];
    char hsts[128];
    char etag[64];
    char cenc[32];   /* Content-Encoding */
    char vary[64];
    long content_length;
    double seconds;
};
void http_free(struct http *h);
/* method NULL: GET. header: extra request headers, separated by '\n', or
 * NULL. Returns the
 * curl code (0 ok). url is complete ("http://127.0.0.1:PORT/..."). */
int http_req(const char *method, const char *url, const char *header, const char *cainfo,
             struct http *out);
/* GET http://127.0.0.1:port + path. */
int http_get(uint16_t port, const char *path, struct http *out);

/* Sends raw bytes over TCP to 127.0.0.1:port and reads the answer until
 * the peer closes or timeout_ms passes; returns the status code in the
 * answer's status line, 0 if none, -1 if the connection failed. */
int raw_request(uint16_t port, const char *req, size_t len, int timeout_ms, char *resp,
                size_t resp_len);
/* A TCP connection from src (NULL: any) to 127.0.0.1:port; fd or -1. */
int raw_connect(const char *src, uint16_t port);

int64_t now_ms(void);

/* Raw requests larger than the server takes, into buf (40 kB): a GET of
 * /api/v1/status whose request target is 9000 bytes of query (a 414), or
 * with 36 kB of headers (a 431). Return the length. */
size_t world_long_uri_request(char *buf, size_t cap);
size_t world_big_headers_request(char *buf, size_t cap);
/* A gzip stream inflated (at most cap - 1 bytes, NUL-terminated; its
 * length in *out_len unless NULL); asserts it is one. malloc'd. */
char *world_gunzip(const char *body, size_t len, size_t cap, size_t *out_len);

/* Whether an executable exists at path. */
bool world_have(const char *path);
/* Runs a shell line; returns its exit status, its output in out. */
int world_run(const char *cmd, char *out, size_t len);
/* A self-signed certificate for 127.0.0.1/localhost and its key (PEM), in
 * w->dir, made with openssl. */
void world_make_cert(const struct world *w, char cert[300], char key[300]);
/* The world every server test runs in, started and stopped around each
 * suite (world_setup, world_teardown as an unchecked fixture). */
extern struct world W;
void world_setup(void);
void world_teardown(void);
/* GET path from 127.0.0.1:port: asserts want_status, a JSON body with the
 * API's content type and no-store, and returns the parsed document. */
struct json_t;
struct json_t *world_get_json(uint16_t port, const char *path, long want_status);
/* An error answer: want_status, {"error", "detail"}, the detail containing
 * want. */
void world_expect_error(uint16_t port, const char *path, long want_status, const char *want);
/* A suite of one test case, the world its fixture. */
struct Suite;
struct TTest;
struct Suite *world_suite(const char *name, int timeout_s, const struct TTest *const *tests,
                          size_t n);
/* Runs suite in this process (the fixture's threads live here) with curl
 * set up; returns main's exit status. */
int world_run_suite(struct Suite *s);

#endif
