/*
 * The text health against the real Nagios plugins from Debian's
 * monitoring-plugins (check_http in -basic, check_curl in -standard), run
 * exactly as the README's command definitions run them: their exit code
 * is what Nagios and Icinga act on. Exits 77 when either is missing.
 *
 * check_http and check_curl judge the HTTP status alone: 2xx OK, 4xx
 * WARNING, 5xx CRITICAL; they exit 3 (UNKNOWN) only for their own
 * failures (a bad argument, a malformed redirect), never for an answer.
 * portwatch's UNKNOWN answers 500, so they report it CRITICAL with the
 * status line naming it; the test asserts that too, and that the word
 * itself is in the body (for check_by_ssh/curl-style wrappers, and the
 * operator reading the long output).
 */
#define _GNU_SOURCE
#include "world.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plugins[] = {"/usr/lib/nagios/plugins/check_http",
                                      "/usr/lib/nagios/plugins/check_curl"};

/* Runs each plugin on path as the README's command definition does;
 * asserts its exit code and that its output contains want. */
static void expect_plugins(uint16_t port, const char *path, const char *token, int code,
                           const char *want)
{
    for (size_t i = 0; i < 2; i++) {
        char cmd[1024], out[4096], auth[128] = "";
        if (token)
            snprintf(auth, sizeof auth, " -k 'Authorization: Bearer %s'", token);
        snprintf(cmd, sizeof cmd, "%s -I 127.0.0.1 -p %u -u '%s' -s 'PORTWATCH '%s -t 10 2>&1",
                 plugins[i], port, path, auth);
        int rc = world_run(cmd, out, sizeof out);
        ck_assert_msg(rc == code, "%s: exit %d, want %d: %s", cmd, rc, code, out);
        ck_assert_msg(strstr(out, want), "%s: output lacks '%s': %s", cmd, want, out);
    }
}

START_TEST(ok_warning_critical)
{
    expect_plugins(W.port, "/api/v1/health?format=text&role=web-open", NULL, 0, "200 OK");
    /* down for less than min_duration: WARNING (424) */
    expect_plugins(W.port, "/api/v1/health?format=text&min_duration=1h", NULL, 1, "424");
    expect_plugins(W.port, "/api/v1/health?format=text", NULL, 2, "503");
    /* an error (an unknown host) is a 4xx: WARNING, as a misconfigured
     * check should be looked at */
    expect_plugins(W.port, "/api/v1/health?format=text&host=ghost", NULL, 1, "404");
}
END_TEST

/* No database: portwatch cannot keep the history, UNKNOWN (500); with
 * the token required and sent, and refused without it. */
START_TEST(unknown_and_token)
{
    struct pw_web_sources src = world_sources(&W);
    src.store = NULL;
    struct pw_web_options o = {.listen = "127.0.0.1:0", .api_token = "n4gios-t0ken"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX];
    ck_assert_int_eq(pw_web_start(&o, &src, &w, err), 0);
    uint16_t port = pw_web_port(w);
    expect_plugins(port, "/api/v1/health?format=text&role=web-open", "n4gios-t0ken", 2, "500");
    struct http h;
    ck_assert_int_eq(http_get(port, "/api/v1/health?format=text&role=web-open", &h), 0);
    ck_assert_int_eq(h.status, 401);
    ck_assert_msg(strncmp(h.body, "PORTWATCH UNKNOWN - ", 20) == 0, "%s", h.body);
    http_free(&h);
    expect_plugins(port, "/api/v1/health?format=text&role=web-open", "wrong", 1, "401");
    pw_web_stop(w);
}
END_TEST

int main(void)
{
    for (size_t i = 0; i < 2; i++) {
        if (!world_have(plugins[i])) {
            printf("SKIP: %s is missing (apt-get install -y monitoring-plugins-basic "
                   "monitoring-plugins-standard)\n", plugins[i]);
            return 77;
        }
    }
    const TTest *const tests[] = {ok_warning_critical, unknown_and_token};
    return world_run_suite(world_suite("web-nagios", 60, tests, 2));
}
