/*
 * Tests of the web layer against a real running server with real probe
 * data (world.h): every endpoint and filter, every error path, the token,
 * hostile requests. `test_web slow` runs the heavier ones: a slow client,
 * connection limits, TLS with a self-signed certificate (openssl), and
 * `promtool check metrics`; it exits 77 when openssl or promtool is
 * missing.
 */
#define _GNU_SOURCE
#include "world.h"

#include "base/clock.h"
#include "base/error.h"
#include "web/caches.h"
#include "web/web.h"

#include <check.h>
#include <zlib.h>
#include <curl/curl.h>
#include <jansson.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static json_t *get_json(const char *path, long want_status)
{
    return world_get_json(W.port, path, want_status);
}

static void expect_error(const char *path, long status, const char *want)
{
    world_expect_error(W.port, path, status, want);
}

static json_t *find_target(json_t *targets, const char *host, long port)
{
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "host")), host) == 0 &&
            json_integer_value(json_object_get(t, "port")) == port)
            return t;
    }
    return NULL;
}

static long target_id(const char *host, long port)
{
    json_t *doc = get_json("/api/v1/status", 200);
    json_t *t = find_target(json_object_get(doc, "targets"), host, port);
    ck_assert_ptr_nonnull(t);
    long id = (long)json_integer_value(json_object_get(t, "id"));
    json_decref(doc);
    return id;
}

/* The body of a gzip'd answer, inflated (at most cap - 1 bytes). */
static char *gunzip(const struct http *h, size_t cap)
{
    return world_gunzip(h->body, h->len, cap, NULL);
}

/* ---- unit: time parsing ------------------------------------------------------- */

START_TEST(time_parse_and_format)
{
    char err[PW_WEB_ERR_MAX], buf[40];
    int64_t t, now = 1764102960000LL; /* 2025-11-25T20:36:00Z */
    ck_assert_int_eq(pw_web_parse_time("2025-11-25T20:36:00Z", now, &t, err), 0);
    ck_assert_int_eq(t, now);
    ck_assert_int_eq(pw_web_parse_time("2025-11-25T21:36:00.5+01:00", now, &t, err), 0);
    ck_assert_int_eq(t, now + 500);
    ck_assert_int_eq(pw_web_parse_time("-24h", now, &t, err), 0);
    ck_assert_int_eq(t, now - 86400000LL);
    ck_assert_int_eq(pw_web_parse_time("-1h30m", now, &t, err), 0);
    ck_assert_int_eq(t, now - 5400000LL);
    ck_assert_int_eq(pw_web_parse_time("now", now, &t, err), 0);
    ck_assert_int_eq(t, now);
    ck_assert_int_eq(pw_web_parse_time("2024-02-29T00:00:00Z", now, &t, err), 0);
    static const char *const bad[] = {"", "yesterday", "2025-13-01T00:00:00Z",
                                      "2023-02-29T00:00:00Z", "2025-11-25 20:36:00Z",
                                      "2025-11-25T20:36:00", "-5", "-x", "1764102960",
                                      "2025-11-25T24:00:00Z", "1969-12-31T23:59:59Z",
                                      "-99999999d", "2025-11-25T20:36:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(pw_web_parse_time(bad[i], now, &t, err) != 0, "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err, "RFC 3339") || strstr(err, "1970"), "message: %s", err);
    }
    pw_format_rfc3339(now + 7, buf, sizeof buf);
    ck_assert_str_eq(buf, "2025-11-25T20:36:00.007Z");
    pw_format_rfc3339(951782400000LL, buf, sizeof buf); /* leap day 2000 */
    ck_assert_str_eq(buf, "2000-02-29T00:00:00.000Z");
}
END_TEST

/* ---- start-up refusals ------------------------------------------------------------ */

static int dummy_acquire(void *ud, struct pw_web_view *v) { return -1; }
static void dummy_release(void *ud, struct pw_web_view *v) {}

START_TEST(start_refusals)
{
    struct pw_web_sources src = {dummy_acquire, dummy_release, NULL, NULL, NULL, NULL};
    struct pw_web *w = NULL;
    char err[PW_WEB_ERR_MAX];
    struct pw_web_options o = {.listen = "0.0.0.0:0"};
    ck_assert_int_lt(pw_web_start(&o, &src, &w, err), 0);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err, "api_token") && strstr(err, "allow_anonymous"), "%s", err);
    o.listen = "nonsense";
    ck_assert_int_lt(pw_web_start(&o, &src, &w, err), 0);
    ck_assert_msg(strstr(err, "listen"), "%s", err);
    o.listen = "sql01:8470";
    o.api_token = "t";
    ck_assert_int_lt(pw_web_start(&o, &src, &w, err), 0);
    ck_assert_msg(strstr(err, "IP address"), "%s", err);
    o = (struct pw_web_options){.listen = "127.0.0.1:0", .tls_cert_file = "/nonexistent.pem"};
    ck_assert_int_lt(pw_web_start(&o, &src, &w, err), 0);
    ck_assert_msg(strstr(err, "both"), "%s", err);
    o.tls_key_file = "/nonexistent-key.pem";
    ck_assert_int_lt(pw_web_start(&o, &src, &w, err), 0);
    ck_assert_msg(strstr(err, "/nonexistent.pem"), "%s", err);

    /* allow_anonymous serves a non-loopback bind; we only talk to it over
     * loopback. Without data, endpoints answer 503. */
    o = (struct pw_web_options){.listen = "0.0.0.0:0", .allow_anonymous = true};
    ck_assert_int_eq(pw_web_start(&o, &src, &w, err), 0);
    struct http h;
    ck_assert_int_eq(http_get(pw_web_port(w), "/api/v1/health", &h), 0);
    ck_assert_int_eq(h.status, 503);
    http_free(&h);
    pw_web_stop(w);
    pw_web_stop(NULL);
}
END_TEST

/* ---- endpoints ------------------------------------------------------------------- */

START_TEST(status_all)
{
    json_t *doc = get_json("/api/v1/status", 200);
    json_t *sum = json_object_get(doc, "summary"), *ts = json_object_get(doc, "targets");
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "targets")),
                     (json_int_t)W.plan->ntargets);
    ck_assert_int_eq(json_array_size(ts), W.plan->ntargets);
    long up = (long)json_integer_value(json_object_get(sum, "up"));
    long down = (long)json_integer_value(json_object_get(sum, "down"));
    ck_assert_int_eq(up + down, (long)W.plan->ntargets);
    ck_assert_int_gt(down, 0);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(sum, "storage"), "state")), "ok");
    /* the world probes every 1s */
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "interval_ms")), 1000);
    /* failing first */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ts, 0), "status")),
                     "down");
    bool seen_up = false;
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t)
    {
        bool isdown = strcmp(json_string_value(json_object_get(t, "status")), "down") == 0;
        ck_assert_msg(!(isdown && seen_up), "a down target after an up one at %zu", i);
        seen_up |= !isdown;
    }
    json_t *open = find_target(ts, "127.0.0.1", W.open_port[0]);
    ck_assert_str_eq(json_string_value(json_object_get(open, "status")), "up");
    ck_assert_str_eq(json_string_value(json_object_get(open, "state")), "open");
    ck_assert(json_is_real(json_object_get(open, "latency_ms")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(open, "roles"), 0)),
                     "web-open");
    ck_assert_ptr_null(json_object_get(open, "reasons")); /* only where failing */
    const char *since = json_string_value(json_object_get(open, "since"));
    ck_assert_msg(since && strlen(since) == 24 && since[10] == 'T' && since[23] == 'Z', "%s",
                  since);
    json_t *closed = find_target(ts, "127.0.0.1", W.closed_port[0]);
    ck_assert_str_eq(json_string_value(json_object_get(closed, "status")), "down");
    ck_assert_str_eq(json_string_value(json_object_get(closed, "state")), "closed");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(closed, "reasons"), 0), "text")),
                     "Nothing listens here");
    json_t *reach = find_target(ts, "127.0.0.2", W.closed_port[1]);
    ck_assert_str_eq(json_string_value(json_object_get(reach, "status")), "up");
    ck_assert_str_eq(json_string_value(json_object_get(reach, "expect")), "reachable");
    json_decref(doc);

    /* The cached document is the same bytes for HEAD's length. */
    struct http h;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/status", W.port);
    ck_assert_int_eq(http_req("HEAD", url, NULL, NULL, &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_int_eq(h.len, 0);
    ck_assert_int_gt(h.content_length, 1000);
    ck_assert_str_eq(h.cache, "no-store");
    long plain_len = h.content_length;
    http_free(&h);

    /* A client that takes gzip gets the same document compressed. */
    ck_assert_int_eq(http_req(NULL, url, "Accept-Encoding: deflate, gzip", NULL, &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_uint_gt(h.len, 18);
    ck_assert_msg((unsigned char)h.body[0] == 0x1f && (unsigned char)h.body[1] == 0x8b,
                  "not a gzip stream");
    ck_assert_int_lt((long)h.len, plain_len);
    char *text = gunzip(&h, (size_t)plain_len * 2 + 4096);
    json_error_t jerr;
    json_t *unz = json_loads(text, 0, &jerr);
    ck_assert_msg(unz != NULL, "gunzipped status is not JSON: %s", jerr.text);
    ck_assert_int_eq(json_array_size(json_object_get(unz, "targets")), W.plan->ntargets);
    json_decref(unz);
    free(text);
    http_free(&h);
    /* Keep-alive: a second request on the same handle reuses the connection. */
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    long fresh = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &fresh);
    ck_assert_msg(fresh == 0, "the second request opened %ld new connection(s)", fresh);
    curl_easy_cleanup(c);
    /* q=0 refuses gzip */
    ck_assert_int_eq(http_req(NULL, url, "Accept-Encoding: gzip;q=0", NULL, &h), 0);
    ck_assert_int_eq(h.body[0], '{');
    http_free(&h);
}
END_TEST

START_TEST(status_filters)
{
    json_t *doc = get_json("/api/v1/status?host=127.0.0.1", 200);
    size_t i;
    json_t *t, *ts = json_object_get(doc, "targets");
    ck_assert_int_eq(json_array_size(ts), 3);
    json_decref(doc);
    doc = get_json("/api/v1/status?host=127.0.0.1&status=down", 200);
    ts = json_object_get(doc, "targets");
    ck_assert_int_eq(json_array_size(ts), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ts, 0), "port")),
                     W.closed_port[0]);
    json_decref(doc);
    doc = get_json("/api/v1/status?role=management_database", 200);
    ts = json_object_get(doc, "targets");
    ck_assert_int_gt(json_array_size(ts), 10);
    json_array_foreach(ts, i, t)
        ck_assert_str_eq(json_string_value(json_object_get(t, "host")), "127.0.0.3");
    json_decref(doc);
    doc = get_json("/api/v1/status?status=up,unknown&role=web-open", 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "targets")), 2);
    json_decref(doc);
    expect_error("/api/v1/status?status=sideways", 400, "unknown, up, down");
    expect_error("/api/v1/status?status=", 400, "status");
    expect_error("/api/v1/status?host=nope.example", 404, "nope.example");
    expect_error("/api/v1/status?role=dba", 404, "management_database");
    expect_error("/api/v1/status?colour=red", 400, "'colour'");
    expect_error("/api/v1/status?host=127.0.0.1&host=127.0.0.2", 400, "more than once");
}
END_TEST

START_TEST(target_and_history)
{
    long id = target_id("127.0.0.1", W.closed_port[0]);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/targets/%ld", id);
    json_t *doc = get_json(path, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "id")), id);
    ck_assert(json_is_true(json_object_get(doc, "in_plan")));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "reasons")), 1);
    json_decref(doc);

    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-1h&step=5m", id);
    doc = get_json(path, 200);
    json_t *pts = json_object_get(doc, "points");
    ck_assert_int_ge(json_array_size(pts), 12);
    long closed = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pts, i, p)
        closed += (long)json_integer_value(json_object_get(json_object_get(p, "results"),
                                                           "closed"));
    ck_assert_int_ge(closed, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "step_ms")), 300000);
    json_decref(doc);
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history", id);
    doc = get_json(path, 200); /* defaults: last 24 h */
    json_decref(doc);
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z", id);
    doc = get_json(path, 200);
    json_decref(doc);

    /* state runs: the closed port's last run has no verification */
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-1h", id);
    doc = get_json(path, 200);
    json_t *runs = json_object_get(doc, "runs");
    ck_assert_int_ge(json_array_size(runs), 1);
    ck_assert(json_is_false(json_object_get(doc, "runs_truncated")));
    json_t *last = json_array_get(runs, json_array_size(runs) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "state")), "closed");
    ck_assert_str_eq(json_string_value(json_object_get(last, "status")), "down");
    ck_assert(json_is_false(json_object_get(last, "ok")));
    ck_assert_int_ge(json_integer_value(json_object_get(last, "results")), 1);
    ck_assert(json_is_null(json_object_get(last, "verify")));
    ck_assert_str_eq(json_string_value(json_object_get(last, "verify_info")), "");
    ck_assert(json_is_string(json_object_get(last, "start")));
    json_decref(doc);

    expect_error("/api/v1/targets/999999", 404, "999999");
    expect_error("/api/v1/targets/999999/history", 404, "999999");
    expect_error("/api/v1/targets/abc", 400, "id");
    expect_error("/api/v1/targets/0", 400, "1 to 4294967295");
    expect_error("/api/v1/targets/-1", 400, "id");
    expect_error("/api/v1/targets/4294967296", 400, "id");
    expect_error("/api/v1/targets/99999999999999999999999", 400, "id");
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=yesterday", id);
    expect_error(path, 400, "from: ");
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-1h&to=-2h", id);
    expect_error(path, 400, "earlier");
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?step=1s", id);
    expect_error(path, 400, "step");
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?step=-5m", id);
    expect_error(path, 400, "step");
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-300d&step=1m", id);
    expect_error(path, 400, "larger step");
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?limit=4", id);
    expect_error(path, 400, "from, to, step");
    snprintf(path, sizeof path, "/api/v1/targets/%ld?x=1", id);
    expect_error(path, 400, "no parameters");
}
END_TEST

START_TEST(outages_and_uptime)
{
    json_t *doc = get_json("/api/v1/outages?open=true", 200);
    json_t *arr = json_object_get(doc, "outages");
    ck_assert_int_gt(json_array_size(arr), 0);
    size_t i;
    json_t *o;
    bool found = false;
    json_array_foreach(arr, i, o)
    {
        ck_assert(json_is_true(json_object_get(o, "open")));
        ck_assert(json_is_null(json_object_get(o, "end")));
        found |= json_integer_value(json_object_get(o, "port")) == W.closed_port[0];
    }
    ck_assert(found);
    json_decref(doc);
    doc = get_json("/api/v1/outages?host=127.0.0.1&from=-1h&to=now", 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "outages")), 1);
    json_decref(doc);
    doc = get_json("/api/v1/outages?open=false", 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "outages")), 0);
    json_decref(doc);
    doc = get_json("/api/v1/outages?role=management_database&limit=1", 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "outages")), 1);
    ck_assert(json_is_true(json_object_get(doc, "truncated")));
    json_decref(doc);
    expect_error("/api/v1/outages?open=maybe", 400, "open");
    expect_error("/api/v1/outages?limit=-1", 400, "limit");
    expect_error("/api/v1/outages?limit=99999999999999999999999", 400, "limit");
    expect_error("/api/v1/outages?from=2025-02-30T00:00:00Z", 400, "from");

    doc = get_json("/api/v1/uptime?by=host&from=-1h", 200);
    arr = json_object_get(doc, "groups");
    ck_assert_int_eq(json_array_size(arr), W.plan->nhosts);
    json_decref(doc);
    doc = get_json("/api/v1/uptime?by=farm", 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "groups")), 1);
    json_decref(doc);
    doc = get_json("/api/v1/uptime", 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "groups")), W.plan->ntargets);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "by")), "target");
    json_decref(doc);
    expect_error("/api/v1/uptime?by=galaxy", 400, "target, host, role or farm");
}
END_TEST

START_TEST(health)
{
    json_t *doc = get_json("/api/v1/health", 503);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "critical");
    json_t *f = json_object_get(doc, "failures");
    ck_assert_int_gt(json_array_size(f), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "down")), json_array_size(f));
    json_t *first = json_array_get(f, 0);
    ck_assert_ptr_nonnull(json_object_get(first, "since"));
    ck_assert_ptr_nonnull(json_object_get(first, "reasons"));
    json_decref(doc);

    doc = get_json("/api/v1/health?role=web-open", 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "checked")), 2);
    json_decref(doc);
    doc = get_json("/api/v1/health?host=127.0.0.1", 503);
    f = json_object_get(doc, "failures");
    ck_assert_int_eq(json_array_size(f), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(f, 0), "port")),
                     W.closed_port[0]);
    json_decref(doc);
    /* down, but not for min_duration yet: a warning, never "all pass" */
    doc = get_json("/api/v1/health?min_duration=1h", 424);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "warning");
    ck_assert_int_gt(json_integer_value(json_object_get(doc, "down_below_min_duration")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "down")), 0);
    json_decref(doc);
    expect_error("/api/v1/health?min_duration=soon", 400, "min_duration");
    expect_error("/api/v1/health?format=xml", 400, "json or text");
    expect_error("/api/v1/health?host=ghost", 404, "ghost");
    expect_error("/api/v1/health?status=up", 400, "host, role, min_duration, format");
}
END_TEST

/* The text health is a monitoring plugin's output: the word, a summary,
 * perfdata after '|', then one line per host and cause, worst first. */
static char *text_health(const char *path, long want_status)
{
    struct http h;
    ck_assert_int_eq(http_get(W.port, path, &h), 0);
    ck_assert_msg(h.status == want_status, "%s: %ld %s", path, h.status, h.body);
    ck_assert_msg(strstr(h.ctype, "text/plain") != NULL, "%s: %s", path, h.ctype);
    ck_assert_msg(h.len > 0 && h.body[h.len - 1] == '\n', "%s: %s", path, h.body);
    return h.body; /* the caller frees it */
}

START_TEST(health_text)
{
    char want[256];
    char *b = text_health("/api/v1/health?host=127.0.0.1&format=text", 503);
    ck_assert_msg(strncmp(b, "PORTWATCH CRITICAL - 1 of 3 targets down, 2/3 targets pass | "
                             "targets=3;;;0 down=1;;0;0;3 failing=0;0;;0;3 unknown=0;;;0;3 "
                             "open=2;;;0;3 closed=1;;;0;3 ", 115) == 0, "%s", b);
    ck_assert_msg(strstr(b, " sweep_duration=") && strstr(b, "s;;;0\n"), "%s", b);
    snprintf(want, sizeof want, "\n127.0.0.1:%u: refused: nothing listens (the path is open) "
             "(down for ", W.closed_port[0]);
    ck_assert_msg(strstr(b, want), "%s", b);
    free(b);

    b = text_health("/api/v1/health?format=text&role=web-open", 200);
    ck_assert_msg(strncmp(b, "PORTWATCH OK - 2/2 targets pass | targets=2;;;0 down=0;", 55) == 0,
                  "%s", b);
    ck_assert_msg(strchr(b, '\n')[1] == '\0', "no long output when all pass: %s", b);
    free(b);

    /* one line per host and cause, the most ports first: the twelve
     * refused ports of 127.0.0.4 are one line */
    json_t *doc = get_json("/api/v1/health", 503);
    long down = (long)json_integer_value(json_object_get(doc, "down"));
    json_decref(doc);
    b = text_health("/api/v1/health?format=text", 503);
    snprintf(want, sizeof want, "PORTWATCH CRITICAL - %ld of 28 targets down, %ld/28 targets "
             "pass | ", down, 28 - down);
    ck_assert_msg(strncmp(b, want, strlen(want)) == 0, "%s", b);
    const char *l2 = strchr(b, '\n') + 1;
    ck_assert_msg(strncmp(l2, "127.0.0.4: refused: nothing listens (the path is open) "
                              "(12 ports, down for ", 75) == 0, "%s", b);
    size_t lines = 0;
    for (const char *c = b; *c; c++)
        lines += *c == '\n';
    ck_assert_msg(lines == 4, "summary and three hosts: %s", b);
    free(b);

    /* down for less than min_duration: WARNING, and never "all pass" */
    b = text_health("/api/v1/health?format=text&min_duration=1h", 424);
    snprintf(want, sizeof want, "PORTWATCH WARNING - %ld down for less than min_duration, "
             "%ld/28 targets pass | targets=28;;;0 down=0;;0;0;28 failing=%ld;0;;0;28 ",
             down, 28 - down, down);
    ck_assert_msg(strncmp(b, want, strlen(want)) == 0, "%s", b);
    ck_assert_msg(strstr(b, "(12 ports, down for ") && strstr(b, ", less than min_duration)\n"),
                  "%s", b);
    free(b);

    /* errors in text mode are text, with the word UNKNOWN */
    b = text_health("/api/v1/health?format=text&host=ghost", 404);
    ck_assert_str_eq(b, "PORTWATCH UNKNOWN - not found: host: no target is on host 'ghost'\n");
    free(b);
    b = text_health("/api/v1/health?min_duration=soon&format=text", 400);
    ck_assert_msg(strncmp(b, "PORTWATCH UNKNOWN - bad parameter: min_duration: 'soon'", 55) == 0,
                  "%s", b);
    free(b);
}
END_TEST


/* The protocol check in the history: the real web server on open_port[1]
 * verified; a run written before the store kept verification answers
 * null. */
START_TEST(history_verify)
{
    long id = target_id("127.0.0.1", W.open_port[1]);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/targets/%ld", id);
    json_t *doc = get_json(path, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "verify")), "verified");
    json_decref(doc);
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-1h", id);
    doc = get_json(path, 200);
    json_t *runs = json_object_get(doc, "runs");
    ck_assert_int_eq(json_array_size(runs), 1); /* steady: one run */
    json_t *run = json_array_get(runs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(run, "state")), "open");
    ck_assert_str_eq(json_string_value(json_object_get(run, "verify")), "verified");
    const char *info = json_string_value(json_object_get(run, "verify_info"));
    ck_assert_msg(info && strstr(info, WORLD_HTTP_SERVER), "verify_info %s", info);
    ck_assert(json_is_real(json_object_get(run, "latency_ms")));
    json_decref(doc);
    id = target_id("127.0.0.1", W.open_port[0]);
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-1h", id);
    doc = get_json(path, 200);
    runs = json_object_get(doc, "runs");
    ck_assert_int_eq(json_array_size(runs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(runs, 0), "verify")),
                     "off");
    json_decref(doc);

    /* a run as schema v2 wrote it (no verify), two days ago */
    id = target_id("127.0.0.4", 1);
    char dbpath[300], sql[512];
    snprintf(dbpath, sizeof dbpath, "%s/web.db", W.dir);
    int64_t t = now_ms() - 2 * 86400000LL;
    snprintf(sql, sizeof sql,
             "INSERT INTO state_runs(target_id,state,status,ok,first_ms,last_ms,count,"
             "status_since_ms,fails_before,latency_us,detail)"
             " VALUES(%ld,1,2,0,%lld,%lld,4,%lld,0,NULL,'ECONNREFUSED')",
             id, (long long)t, (long long)t + 90000, (long long)t);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snprintf(path, sizeof path, "/api/v1/targets/%ld/history?from=-3d&to=-1d", id);
    doc = get_json(path, 200);
    runs = json_object_get(doc, "runs");
    ck_assert_int_eq(json_array_size(runs), 1);
    run = json_array_get(runs, 0);
    ck_assert(json_is_null(json_object_get(run, "verify")));
    ck_assert(json_is_null(json_object_get(run, "verify_info")));
    ck_assert_str_eq(json_string_value(json_object_get(run, "state")), "closed");
    ck_assert_str_eq(json_string_value(json_object_get(run, "detail")), "ECONNREFUSED");
    ck_assert_int_eq(json_integer_value(json_object_get(run, "results")), 4);
    ck_assert(json_is_null(json_object_get(run, "latency_ms")));
    json_decref(doc);
}
END_TEST

/* Every portwatch_ metric the shipped alert and recording rules use is
 * one /metrics exposes (body: a scrape of this world). */
static void rules_name_metrics(const char *body)
{
    char path[512];
    const char *root = getenv("PW_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    snprintf(path, sizeof path, "%s/packaging/prometheus/portwatch.rules.yml", root);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s", path);
    char line[1024];
    size_t used = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[strspn(line, " ")] == '#')
            continue; /* every other line: expressions span several */
        for (const char *p = line; (p = strstr(p, "portwatch_")); p += 10) {
            if (p > line && (p[-1] == ':' || p[-1] == '_' || p[-1] == '.'))
                continue; /* a recording rule's own name */
            char want[128];
            size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
            snprintf(want, sizeof want, "\n# TYPE %.*s ", (int)n, p);
            ck_assert_msg(strstr(body, want), "the rules use %.*s, /metrics has none", (int)n,
                          p);
            used++;
        }
    }
    fclose(f);
    ck_assert_int_ge(used, 5);
}

/* The identity labels /metrics ends the world's farm series with: its
 * host name (no instance_name set) and the default vantage. */
static const char *world_identity(void)
{
    static char buf[320];
    snprintf(buf, sizeof buf, ",instance_name=\"%s\",vantage=\"administration\"",
             pw_plan_identity(W.plan)->instance_name);
    ck_assert_int_gt(strlen(pw_plan_identity(W.plan)->instance_name), 0);
    return buf;
}

/* A shared answer of one byte. */
static struct pw_shared *memo_answer(void)
{
    struct pw_reply r = {0};
    char *body = malloc(1);
    ck_assert_ptr_nonnull(body);
    *body = 'x';
    pw_reply_text(&r, 200, "text/plain", body, 1);
    struct pw_shared *sh = pw_reply_to_shared(&r);
    pw_reply_clear(&r);
    ck_assert_ptr_nonnull(sh);
    return sh;
}

/* The health memo answers a request of the same moment (snapshot and
 * second) and lets an answer go once a newer moment is asked for: at
 * 100,000 targets each is a megabyte. */
START_TEST(memo_lets_go)
{
    struct pw_memo m;
    ck_assert_int_eq(pw_memo_init(&m), 0);
    struct pw_snapshot s1 = {.taken_ms = 1000}, s2 = {.taken_ms = 1100};
    struct pw_memo_key k1, k1b, k2, k3;
    ck_assert(pw_memo_key(&k1, "/api/v1/health", &s1, 5000, NULL));
    ck_assert(pw_memo_key(&k1b, "/api/v1/health?role=x", &s1, 5000, NULL));
    ck_assert(pw_memo_key(&k2, "/api/v1/health", &s2, 5000, NULL));
    ck_assert(pw_memo_key(&k3, "/api/v1/health", &s2, 6000, NULL));
    struct pw_shared *a = memo_answer();
    pw_memo_keep(&m, &k1, a);
    pw_memo_keep(&m, &k1b, a);
    struct pw_shared *hit = pw_memo_find(&m, &k1);
    ck_assert_ptr_eq(hit, a); /* same moment, another query: both kept */
    pw_shared_unref(hit);
    hit = pw_memo_find(&m, &k1b);
    ck_assert_ptr_eq(hit, a);
    pw_shared_unref(hit);
    pw_memo_keep(&m, &k2, a); /* a newer snapshot */
    ck_assert_ptr_null(pw_memo_find(&m, &k1));
    ck_assert_ptr_null(pw_memo_find(&m, &k1b));
    hit = pw_memo_find(&m, &k2);
    ck_assert_ptr_eq(hit, a);
    pw_shared_unref(hit);
    pw_memo_keep(&m, &k3, a); /* the next second */
    ck_assert_ptr_null(pw_memo_find(&m, &k2));
    pw_memo_keep(&m, &k1, a); /* a request that held an older view: kept beside */
    hit = pw_memo_find(&m, &k3);
    ck_assert_ptr_eq(hit, a);
    pw_shared_unref(hit);
    pw_shared_unref(a);
    pw_memo_free(&m);
}
END_TEST

START_TEST(metrics)
{
    struct http h;
    const char *id = world_identity();
    ck_assert_int_eq(http_get(W.port, "/metrics", &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_ptr_nonnull(strstr(h.ctype, "version=0.0.4"));
    char want[512];
    /* One series per target: (metric, port, role, extra label, value). */
    const struct {
        const char *metric;
        unsigned port;
        const char *role, *extra;
        int value; /* -1: no such series */
    } series[] = {
        {"portwatch_target_up", W.open_port[0], "web-open", "", 1},
        {"portwatch_target_up", W.closed_port[0], "web-closed", "", 0},
        /* the state as a state set: one series per state */
        {"portwatch_target_state", W.closed_port[0], "web-closed", ",state=\"closed\"", 1},
        {"portwatch_target_state", W.closed_port[0], "web-closed", ",state=\"open\"", 0},
        {"portwatch_target_state", W.open_port[0], "web-open", ",state=\"open\"", 1},
        {"portwatch_target_state", W.open_port[0], "web-open", ",state=\"filtered\"", 0},
        /* verification: the real web server verified, the bare listener
         * has no exchange, a refused port has no series */
        {"portwatch_target_verify", W.open_port[1], "web-open", ",result=\"verified\"", 1},
        {"portwatch_target_verify", W.open_port[0], "web-open", ",result=\"off\"", 1},
        {"portwatch_target_verify", W.closed_port[0], "web-closed", "", -1},
    };
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
        int n = snprintf(want, sizeof want, "\n%s{host=\"127.0.0.1\",port=\"%u\",roles=\"%s\"%s%s}",
                         series[i].metric, series[i].port, series[i].role, id, series[i].extra);
        if (series[i].value < 0) {
            want[n - 1] = '\0'; /* any labels after the identity */
            ck_assert_msg(!strstr(h.body, want), "unexpected %s", want);
            continue;
        }
        snprintf(want + n, sizeof want - (size_t)n, " %d\n", series[i].value);
        ck_assert_msg(strstr(h.body, want), "missing %s", want);
    }
    /* a role is available while every target serving it is up */
    const struct {
        const char *role;
        int up;
    } roles[] = {{"web-open", 1}, {"web-closed", 0}, {"web-reach", 1}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        snprintf(want, sizeof want, "\nportwatch_role_up{role=\"%s\"%s} %d\n", roles[i].role, id,
                 roles[i].up);
        ck_assert_msg(strstr(h.body, want), "missing %s", want);
    }
    ck_assert_ptr_nonnull(strstr(h.body, "\n# TYPE portwatch_probes_total counter\n"));
    ck_assert_ptr_nonnull(strstr(h.body, "\n# TYPE portwatch_target_verify gauge\n"));
    ck_assert_ptr_nonnull(strstr(h.body, "\nportwatch_storage_up 1\n"));
    ck_assert_ptr_nonnull(strstr(h.body, "\nportwatch_targets{status=\"down\"} "));
    /* outages counted: every down target once, and not again */
    const char *o = strstr(h.body, "\nportwatch_outages_total ");
    ck_assert_ptr_nonnull(o);
    long n1 = atol(o + 25);
    ck_assert_int_gt(n1, 0);
    http_free(&h);
    usleep(1200000); /* another sweep: same outages, still open */
    ck_assert_int_eq(http_get(W.port, "/metrics", &h), 0);
    o = strstr(h.body, "\nportwatch_outages_total ");
    ck_assert_int_eq(atol(o + 25), n1);
    http_free(&h);
    expect_error("/metrics?format=json", 400, "no parameters");
}
END_TEST

/* Another server on src, on a free loopback port. */
static struct pw_web *start_web(const struct pw_web_sources *src)
{
    struct pw_web_options o = {.listen = "127.0.0.1:0"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX];
    ck_assert_msg(pw_web_start(&o, src, &w, err) == 0, "%s", err);
    return w;
}

/* An endpoint watch that read one TCP port outside the RPC range on
 * 127.0.0.2 (whose one target is up). */
static struct pw_epm_registration fake_ep[2];
static struct pw_web_epm_host fake_host = {.host = "127.0.0.2", .looked_up_ms = 1, .v = fake_ep,
                                           .n = 2};
static const struct pw_web_epm fake_epm = {&fake_host, 1};
static const struct pw_web_epm *fake_epm_acquire(void *ud) { return &fake_epm; }
static void fake_epm_release(void *ud, const struct pw_web_epm *e) {}

START_TEST(endpoint_outside_range)
{
    fake_ep[0].e.protseq = PW_EPM_NCACN_IP_TCP;
    fake_ep[0].e.port = 62001;
    fake_ep[0].outside_range = true;
    fake_ep[1].e.protseq = PW_EPM_NCACN_IP_TCP;
    fake_ep[1].e.port = 50003; /* inside */
    struct pw_web_sources src = world_sources(&W);
    src.epm_acquire = fake_epm_acquire;
    src.epm_release = fake_epm_release;
    struct pw_web *w = start_web(&src);
    struct http h;
    ck_assert_int_eq(http_get(pw_web_port(w), "/metrics", &h), 0);
    char want[512];
    snprintf(want, sizeof want, "\nportwatch_rpc_endpoint_outside_range{host=\"127.0.0.2\","
             "port=\"62001\",interface=\"\"%s} 1\n", world_identity());
    ck_assert_msg(strstr(h.body, want), "%s", h.body);
    ck_assert_msg(!strstr(h.body, "_outside_range{host=\"127.0.0.2\",port=\"50003\""),
                  "inside the range: no series");
    rules_name_metrics(h.body);
    http_free(&h);
    /* the one thing wrong on 127.0.0.2: WARNING, the port named */
    ck_assert_int_eq(http_get(pw_web_port(w), "/api/v1/health?host=127.0.0.2&format=text", &h),
                     0);
    ck_assert_int_eq(h.status, 424);
    ck_assert_msg(strncmp(h.body, "PORTWATCH WARNING - 1/1 targets pass; 1 endpoints registered "
                                  "outside the RPC range | ", 85) == 0, "%s", h.body);
    ck_assert_msg(strstr(h.body, " endpoints_outside_range=1;0;;0 ") &&
                      strstr(h.body, "\n127.0.0.2: endpoints registered outside the RPC range "
                                     "([biztalk] secondary_rpc_ports) on port 62001\n"),
                  "%s", h.body);
    http_free(&h);
    pw_web_stop(w);
}
END_TEST

/* The process_* metrics and build_info tell the truth about this process;
 * gzip when asked. */
START_TEST(metrics_process_and_gzip)
{
    struct http h;
    ck_assert_int_eq(http_get(W.port, "/metrics", &h), 0);
    char want[512];
    snprintf(want, sizeof want, "\nportwatch_build_info{version=\"%s\"%s} 1\n", PW_VERSION,
             world_identity());
    ck_assert_msg(strstr(h.body, want), "missing %s", want);
    const char *p = strstr(h.body, "\nprocess_start_time_seconds ");
    ck_assert_ptr_nonnull(p);
    double start = atof(p + 28), now = (double)now_ms() / 1e3;
    ck_assert_msg(start > now - 600 && start <= now + 1, "start %f, now %f", start, now);
    p = strstr(h.body, "\nprocess_open_fds ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_gt(atol(p + 18), 5); /* the world's listeners alone */
    p = strstr(h.body, "\nprocess_resident_memory_bytes ");
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(atof(p + 31) > 1e6, "%s", p);
    p = strstr(h.body, "\nprocess_cpu_seconds_total ");
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(atof(p + 27) > 0, "%s", p);
    size_t plain_len = h.len;
    http_free(&h);

    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", W.port);
    ck_assert_int_eq(http_req(NULL, url, "Accept-Encoding: gzip", NULL, &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_ptr_nonnull(strstr(h.ctype, "version=0.0.4"));
    ck_assert_uint_lt(h.len * 4, plain_len);
    char *text = gunzip(&h, plain_len * 2);
    ck_assert_msg(strncmp(text, "# HELP portwatch_target_up ", 27) == 0, "%.80s", text);
    ck_assert_ptr_nonnull(strstr(text, "\nportwatch_snapshot_timestamp_seconds "));
    free(text);
    http_free(&h);
}
END_TEST

START_TEST(methods_and_paths)
{
    char url[128];
    struct http h;
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/status", W.port);
        ck_assert_int_eq(http_req(methods[i], url, NULL, NULL, &h), 0);
        ck_assert_int_eq(h.status, 405);
        ck_assert_str_eq(h.allow, "GET, HEAD");
        ck_assert_ptr_nonnull(strstr(h.body, "\"error\""));
        http_free(&h);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/health", W.port);
    ck_assert_int_eq(http_req("HEAD", url, NULL, NULL, &h), 0);
    ck_assert_int_eq(h.status, 503);
    ck_assert_int_eq(h.len, 0);
    http_free(&h);
    expect_error("/nope.html", 404, "/api/v1/status");
    expect_error("/api/v1/status/", 404, "endpoints");
    expect_error("/api/v1/targets/", 404, "endpoints");
    expect_error("/api/v1/targets/1/history/x", 404, "endpoints");
    expect_error("/API/V1/STATUS", 404, "endpoints");
    /* No endpoint watch among the sources (only the daemon has one). */
    expect_error("/api/v1/rpc/endpoints", 404, "endpoint mapper");
    expect_error("/api/v1/rpc/endpoints?port=1", 400, "port");
}
END_TEST

START_TEST(hostile_requests)
{
    expect_error("/api/v1/status?host=%zz", 400, "percent-encoding");
    expect_error("/api/v1/status?host=%4", 400, "percent-encoding");
    expect_error("/api/v1/status?host=a%00b", 400, "NUL");
    expect_error("/api/v1/status?host=%ff%fe", 400, "UTF-8");
    expect_error("/api/v1/status?host=%c0%af", 400, "UTF-8"); /* overlong '/' */
    expect_error("/api/v1/status?%ffname=1", 400, "UTF-8");
    expect_error("/api/v1/sta%zztus", 400, "path");
    expect_error("/api/v1/status?h%C3%A9llo=1", 400, "'h\\xc3\\xa9llo'");
    expect_error("/api/v1/status?host=h%C3%A9llo", 404, "h\xc3\xa9llo");
    expect_error("/api/v1/status?host=%22%5C%0A", 404, "host");
    /* percent-encoded path works */
    json_t *doc = get_json("/api/v1/%68ealth?role=web%2Dopen", 200);
    json_decref(doc);
    char many[2048] = "/api/v1/status?";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "p%d=1&", i);
    expect_error(many, 400, "too many");

    /* A 100 kB request line: refused by the size bound, nothing else hurt. */
    size_t big = 100000;
    char *req = malloc(big + 64), resp[4096];
    int n = snprintf(req, 64, "GET /api/v1/status?host=");
    memset(req + n, 'a', big);
    memcpy(req + n + big, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
    int st = raw_request(W.port, req, (size_t)n + big + 22, 3000, resp, sizeof resp);
    ck_assert_msg(st == 414 || st == 431 || st == 0, "status %d", st);
    free(req);
    /* Junk that is not HTTP, a header without a colon, a bare LF request. */
    static const char *const junk[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        "GET /api/v1/health HTTP/1.1\r\nHost x\r\n\r\n",
        "GET /api/v1/health HTTP/9.9\r\n\r\n",
        "GET /api/v1/health\n\n",
        "GET http://127.0.0.1/api/v1/health?role=web-open HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        st = raw_request(W.port, junk[i], strlen(junk[i]), 2000, resp, sizeof resp);
        ck_assert_msg(st != 200 || i == 4, "junk %zu answered %d", i, st);
        ck_assert_msg(st == 0 || (st >= 400 && st < 600) || (i == 4 && st == 404),
                      "junk %zu: %d", i, st);
    }
    doc = get_json("/api/v1/health?role=web-open", 200);
    json_decref(doc);
}
END_TEST

START_TEST(token)
{
    struct pw_web_options o = {.listen = "127.0.0.1:0", .api_token = "s3cret-token"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX], url[128];
    ck_assert_int_eq(world_web(&W, &o, &w, err), 0);
    static const char *const paths[] = {"/api/v1/health", "/api/v1/status", "/metrics",
                                        "/api/v1/outages", "/nope"};
    for (size_t i = 0; i < 5; i++) {
        struct http h;
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", pw_web_port(w), paths[i]);
        ck_assert_int_eq(http_req(NULL, url, NULL, NULL, &h), 0);
        ck_assert_int_eq(h.status, 401);
        ck_assert_str_eq(h.www_auth, "Bearer realm=\"portwatch\"");
        ck_assert_ptr_nonnull(strstr(h.body, "Authorization: Bearer"));
        http_free(&h);
        ck_assert_int_eq(http_req(NULL, url, "Authorization: Bearer s3cret-toke", NULL, &h), 0);
        ck_assert_int_eq(h.status, 401);
        http_free(&h);
        ck_assert_int_eq(http_req(NULL, url, "Authorization: Bearer s3cret-token-", NULL, &h),
                         0);
        ck_assert_int_eq(h.status, 401);
        http_free(&h);
        ck_assert_int_eq(http_req(NULL, url, "Authorization: Basic czNjcmV0LXRva2Vu", NULL,
                                  &h), 0);
        ck_assert_int_eq(h.status, 401);
        http_free(&h);
        ck_assert_int_eq(http_req(NULL, url, "Authorization: bearer s3cret-token", NULL, &h),
                         0);
        ck_assert_int_ne(h.status, 401);
        ck_assert_int_ne(h.status, 0);
        http_free(&h);
    }
    pw_web_stop(w);
}
END_TEST

static int fake_acquire(void *ud, struct pw_web_view *v);

START_TEST(no_store)
{
    struct pw_web_sources src = world_sources(&W);
    src.store = NULL;
    struct pw_web_options o = {.listen = "[::1]:0"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX], url[160];
    int rc = pw_web_start(&o, &src, &w, err);
    bool v6 = rc == 0;
    if (!v6) { /* no IPv6 loopback here: the same over IPv4 */
        o.listen = "127.0.0.1:0";
        ck_assert_int_eq(pw_web_start(&o, &src, &w, err), 0);
    }
    static const struct {
        const char *path;
        long status;
    } cases[] = {
        {"/api/v1/outages", 503}, {"/api/v1/uptime", 503}, {"/api/v1/targets/1/history", 503},
        {"/api/v1/health?role=web-open", 500}, {"/api/v1/status", 200}, {"/metrics", 200},
        {"/api/v1/targets/999999", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http h;
        snprintf(url, sizeof url, v6 ? "http://[::1]:%u%s" : "http://127.0.0.1:%u%s",
                 pw_web_port(w), cases[i].path);
        ck_assert_int_eq(http_req(NULL, url, NULL, NULL, &h), 0);
        ck_assert_msg(h.status == cases[i].status, "%s: %ld", cases[i].path, h.status);
        http_free(&h);
    }
    struct http h;
    snprintf(url, sizeof url, v6 ? "http://[::1]:%u%s" : "http://127.0.0.1:%u%s",
             pw_web_port(w), "/api/v1/health?role=web-open&format=text");
    ck_assert_int_eq(http_req(NULL, url, NULL, NULL, &h), 0);
    /* no database: portwatch cannot keep the history, UNKNOWN */
    ck_assert_int_eq(h.status, 500);
    ck_assert_msg(strncmp(h.body, "PORTWATCH UNKNOWN - 2/2 targets pass; storage unavailable: "
                                  "this portwatch runs without a database | targets=2;", 87) == 0,
                  "%s", h.body);
    http_free(&h);
    pw_web_stop(w);
}
END_TEST

/* Many store queries at once, with health polls between: everything is
 * answered, the polls quickly. */
struct hammer {
    uint16_t port;
    char path[128];
    int n, ok;
};

static void hammer_thread(void *arg)
{
    struct hammer *hm = arg;
    for (int i = 0; i < hm->n; i++) {
        struct http h;
        if (http_get(hm->port, hm->path, &h) == 0 && h.status == 200)
            hm->ok++;
        http_free(&h);
    }
}

START_TEST(concurrent)
{
    struct hammer hm[6];
    uv_thread_t th[6];
    for (int i = 0; i < 6; i++) {
        hm[i] = (struct hammer){W.port, "", 20, 0};
        snprintf(hm[i].path, sizeof hm[i].path, "%s",
                 i % 3 == 0 ? "/api/v1/uptime?by=target&from=-2h"
                 : i % 3 == 1 ? "/api/v1/status"
                              : "/api/v1/health?role=web-open");
        ck_assert_int_eq(uv_thread_create(&th[i], hammer_thread, &hm[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        uv_thread_join(&th[i]);
        ck_assert_int_eq(hm[i].ok, hm[i].n);
    }
}
END_TEST

/* ---- slow suite -------------------------------------------------------------------- */

/* A hand-built view whose names the configuration would refuse, to check
 * label escaping through promtool. */
static struct pw_target_state fake_states[2];
static struct pw_snapshot fake_snap;

static int fake_acquire(void *ud, struct pw_web_view *v)
{
    v->snap = &fake_snap;
    v->ids = NULL;
    return 0;
}

static void promtool_check(uint16_t port)
{
    char cmd[256], out[8192];
    snprintf(cmd, sizeof cmd,
             "curl -sf --noproxy '*' http://127.0.0.1:%u/metrics | promtool check metrics 2>&1",
             port);
    int st = world_run(cmd, out, sizeof out);
    ck_assert_msg(st == 0, "promtool check metrics failed (%d): %s", st, out);
}

START_TEST(promtool_metrics)
{
    promtool_check(W.port);
    /* Escaping: a host with a quote, a backslash and a newline. */
    struct pw_profile prof = {0};
    const char *roles[] = {"r\"1", "r\\2"};
    prof.roles = roles;
    prof.nroles = 2;
    struct pw_host hosts[] = {{"we\"ird\\host\nname", 0, 2}};
    struct pw_target targets[] = {{0, 1, 0}, {0, 2, 0}};
    struct pw_plan plan = {hosts, 1, targets, 2, &prof, 1, NULL};
    fake_states[0] = (struct pw_target_state){.status = PW_STATUS_UP, .state = PW_STATE_OPEN,
                                              .ok = true, .has_result = true, .latency_us = 250,
                                              .verify = PW_VERIFY_MISMATCH};
    fake_states[1] = (struct pw_target_state){.status = PW_STATUS_DOWN,
                                              .state = PW_STATE_FILTERED, .has_result = true,
                                              .latency_us = -1};
    fake_snap = (struct pw_snapshot){.plan = &plan, .ntargets = 2, .targets = fake_states};
    struct pw_web_sources src = {fake_acquire, dummy_release, NULL, NULL, NULL, NULL};
    struct pw_web *w = start_web(&src);
    struct http h;
    ck_assert_int_eq(http_get(pw_web_port(w), "/metrics", &h), 0);
    ck_assert_msg(strstr(h.body, "portwatch_target_up{host=\"we\\\"ird\\\\host\\nname\","
                                 "port=\"1\",roles=\"r\\\"1,r\\\\2\"} 1\n"), "%s", h.body);
    ck_assert_msg(strstr(h.body, "portwatch_target_verify{host=\"we\\\"ird\\\\host\\nname\","
                                 "port=\"1\",roles=\"r\\\"1,r\\\\2\",result=\"mismatch\"} 1\n"),
                  "%s", h.body);
    http_free(&h);
    promtool_check(pw_web_port(w));
    /* and the JSON side escapes the same names */
    ck_assert_int_eq(http_get(pw_web_port(w), "/api/v1/status", &h), 0);
    json_t *doc = json_loads(h.body, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc,
                         "targets"), 0), "host")), "we\"ird\\host\nname");
    json_decref(doc);
    http_free(&h);
    pw_web_stop(w);
}
END_TEST

/* Who watches, configured: instance_name, two vantages and static labels
 * end every farm series and build_info, escaped as label values. */
START_TEST(metrics_identity_labels)
{
    const char *ini = "[portwatch]\nvantage = receive-send, processing\n"
                      "instance_name = bts \"01\" \\x\nlabels = group=prod-a, note=a\"b\\c\n"
                      "[check web]\nhosts = 127.0.0.1\nports = 1433\n";
    struct pw_config *c;
    struct pw_plan *plan;
    struct pw_diag d = {0};
    ck_assert_int_eq(pw_config_load_buffer("id.ini", ini, strlen(ini), &c, &d), 0);
    ck_assert_int_eq(pw_plan_build(c, &plan, &d), 0);
    pw_config_free(c);
    fake_states[0] = (struct pw_target_state){.status = PW_STATUS_UNKNOWN, .latency_us = -1};
    fake_snap = (struct pw_snapshot){.plan = plan, .ntargets = 1, .targets = fake_states,
                                     .taken_ms = now_ms()};
    struct pw_web_sources src = {fake_acquire, dummy_release, NULL, W.store, NULL, NULL};
    struct pw_web *w = start_web(&src);
    struct http h;
    ck_assert_int_eq(http_get(pw_web_port(w), "/metrics", &h), 0);
    const char *id = ",instance_name=\"bts \\\"01\\\" \\\\x\",vantage=\"processing,receive-send\","
                     "group=\"prod-a\",note=\"a\\\"b\\\\c\"";
    char want[512];
    snprintf(want, sizeof want, "\nportwatch_target_up{host=\"127.0.0.1\",port=\"1433\","
             "roles=\"web\"%s} NaN\n", id);
    ck_assert_msg(strstr(h.body, want), "missing %s in\n%s", want, h.body);
    snprintf(want, sizeof want, "\nportwatch_role_up{role=\"web\"%s} NaN\n", id);
    ck_assert_msg(strstr(h.body, want), "missing %s", want);
    snprintf(want, sizeof want, "\nportwatch_build_info{version=\"%s\"%s} 1\n", PW_VERSION, id);
    ck_assert_msg(strstr(h.body, want), "missing %s", want);
    /* the instance's own series stay unlabelled: joined by `instance` */
    ck_assert_ptr_nonnull(strstr(h.body, "\nportwatch_storage_up 1\n"));
    http_free(&h);
    /* the status document names them the same */
    ck_assert_int_eq(http_get(pw_web_port(w), "/api/v1/status", &h), 0);
    json_t *doc = json_loads(h.body, 0, NULL), *in = json_object_get(doc, "instance");
    ck_assert_str_eq(json_string_value(json_object_get(in, "instance_name")), "bts \"01\" \\x");
    json_t *vs = json_object_get(in, "vantages");
    ck_assert_uint_eq(json_array_size(vs), 2);
    ck_assert_str_eq(json_string_value(json_array_get(vs, 0)), "processing");
    ck_assert_str_eq(json_string_value(json_array_get(vs, 1)), "receive-send");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(in, "labels"), "note")),
                     "a\"b\\c");
    json_decref(doc);
    http_free(&h);
    pw_web_stop(w);
    pw_plan_free(plan);
}
END_TEST

/* A hand-built view: a target not yet probed and one where an HTTP server
 * answers on SQL Server's port. */
START_TEST(unprobed_and_mismatch)
{
    const char *roles[] = {"messagebox_database"};
    struct pw_reason reason = {"messagebox_database", "SQL Server", "The MessageBox", 1,
                               "processing"};
    struct pw_profile prof = {.roles = roles, .nroles = 1, .reasons = &reason, .nreasons = 1};
    struct pw_host hosts[] = {{"sql01", 0, 2}};
    struct pw_target targets[] = {{0, 1433, 0}, {0, 1434, 0}};
    struct pw_plan plan = {hosts, 1, targets, 2, &prof, 1, NULL};
    fake_states[0] = (struct pw_target_state){.status = PW_STATUS_UNKNOWN, .latency_us = -1};
    fake_states[1] = fake_states[0];
    fake_snap = (struct pw_snapshot){.plan = &plan, .ntargets = 2, .targets = fake_states,
                                     .taken_ms = now_ms()};
    struct pw_web_sources src = {fake_acquire, dummy_release, NULL, W.store, NULL, NULL};
    struct pw_web *w = start_web(&src);
    struct http h;
    /* before the first probe: UNKNOWN, and every series already there */
    ck_assert_int_eq(http_get(pw_web_port(w), "/api/v1/health?format=text", &h), 0);
    ck_assert_int_eq(h.status, 500);
    ck_assert_msg(strncmp(h.body, "PORTWATCH UNKNOWN - no target probed yet (2 planned) | ", 55)
                      == 0, "%s", h.body);
    http_free(&h);
    ck_assert_int_eq(http_get(pw_web_port(w), "/metrics", &h), 0);
    ck_assert_msg(strstr(h.body, "\nportwatch_target_up{host=\"sql01\",port=\"1433\","
                                 "roles=\"messagebox_database\"} NaN\n") &&
                      strstr(h.body, "\nportwatch_target_state{host=\"sql01\",port=\"1433\","
                                     "roles=\"messagebox_database\",state=\"open\"} 0\n") &&
                      strstr(h.body, "\nportwatch_role_up{role=\"messagebox_database\"} NaN\n"),
                  "%s", h.body);
    ck_assert_msg(!strstr(h.body, "\",state=\"closed\"} 1"), "%s", h.body);
    http_free(&h);

    /* a protocol mismatch is shown as its cause */
    fake_states[0] = (struct pw_target_state){.status = PW_STATUS_DOWN, .state = PW_STATE_OPEN,
                                              .has_result = true, .latency_us = 300,
                                              .since_ms = now_ms() - 120000,
                                              .verify = PW_VERIFY_MISMATCH};
    snprintf(fake_states[0].verify_info, sizeof fake_states[0].verify_info,
             "an HTTP server answered (48 54 54 50)");
    fake_snap.taken_ms = now_ms();
    ck_assert_int_eq(http_get(pw_web_port(w), "/api/v1/health?format=text", &h), 0);
    ck_assert_int_eq(h.status, 503);
    ck_assert_msg(strstr(h.body, "\nsql01:1433: wrong service: an HTTP server answered "
                                 "(48 54 54 50), not SQL Server (down for 2m"), "%s", h.body);
    ck_assert_msg(strstr(h.body, "1 not yet probed | "), "%s", h.body);
    http_free(&h);
    ck_assert_int_eq(http_get(pw_web_port(w), "/metrics", &h), 0);
    ck_assert_msg(strstr(h.body, "\nportwatch_role_up{role=\"messagebox_database\"} 0\n"),
                  "%s", h.body);
    http_free(&h);
    pw_web_stop(w);
}
END_TEST

START_TEST(tls)
{
    char cert[300], key[300];
    world_make_cert(&W, cert, key);
    struct pw_web_options o = {.listen = "127.0.0.1:0", .tls_cert_file = cert,
                               .tls_key_file = key, .api_token = "tok"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX], url[128];
    ck_assert_msg(world_web(&W, &o, &w, err) == 0, "%s", err);
    struct http h;
    snprintf(url, sizeof url, "https://127.0.0.1:%u/api/v1/health?role=web-open",
             pw_web_port(w));
    ck_assert_int_eq(http_req(NULL, url, "Authorization: Bearer tok", cert, &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_ptr_nonnull(strstr(h.body, "\"ok\""));
    http_free(&h);
    /* an untrusted certificate is refused by the client; plain HTTP gets nothing */
    ck_assert_int_ne(http_req(NULL, url, "Authorization: Bearer tok", "/dev/null", &h), 0);
    http_free(&h);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/health", pw_web_port(w));
    http_req(NULL, url, NULL, NULL, &h);
    ck_assert_int_ne(h.status, 200);
    http_free(&h);
    pw_web_stop(w);
    /* a key that is not PEM is refused at start */
    FILE *f = fopen(key, "w");
    fputs("not a key\n", f);
    fclose(f);
    ck_assert_int_lt(world_web(&W, &o, &w, err), 0);
    ck_assert_msg(strstr(err, "PEM"), "%s", err);
    unlink(cert);
    unlink(key);
}
END_TEST

START_TEST(slow_client)
{
    /* One byte of request per second; the other requests stay fast. */
    int fd = raw_connect(NULL, W.port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    double worst = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(send(fd, req + i, 1, MSG_NOSIGNAL), 1);
        int64_t until = now_ms() + 1000;
        while (now_ms() < until) {
            struct http h;
            ck_assert_int_eq(http_get(W.port, "/api/v1/health?role=web-open", &h), 0);
            ck_assert_int_eq(h.status, 200);
            if (h.seconds > worst)
                worst = h.seconds;
            http_free(&h);
            usleep(50000);
        }
    }
    close(fd);
    ck_assert_msg(worst < 0.5, "a request took %.3f s beside a slow client", worst);
}
END_TEST

START_TEST(connection_limits)
{
    struct pw_web_options o = {.listen = "127.0.0.1:0", .max_per_ip = 4, .max_connections = 64,
                               .timeout_s = 2, .threads = 1};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX];
    ck_assert_int_eq(world_web(&W, &o, &w, err), 0);
    uint16_t port = pw_web_port(w);
    /* 20 idle connections from 127.0.0.5: beyond 4 they are closed at once */
    int fds[20], closed = 0;
    for (int i = 0; i < 20; i++) {
        fds[i] = raw_connect("127.0.0.5", port);
        ck_assert_int_ge(fds[i], 0);
    }
    usleep(300000);
    for (int i = 0; i < 20; i++) {
        struct pollfd pf = {fds[i], POLLIN, 0};
        char c;
        if (poll(&pf, 1, 200) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
            closed++;
    }
    ck_assert_msg(closed >= 16, "only %d of 20 connections over the per-IP limit closed",
                  closed);
    /* another address is still served meanwhile */
    struct http h;
    ck_assert_int_eq(http_get(port, "/api/v1/health?role=web-open", &h), 0);
    ck_assert_int_eq(h.status, 200);
    http_free(&h);
    /* the idle ones time out (timeout_s = 2) */
    int timed_out = 0;
    int64_t until = now_ms() + 5000;
    for (int i = 0; i < 20; i++) {
        struct pollfd pf = {fds[i], POLLIN, 0};
        char c;
        int left = (int)(until - now_ms());
        if (poll(&pf, 1, left > 0 ? left : 0) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
            timed_out++;
        close(fds[i]);
    }
    ck_assert_int_eq(timed_out, 20);
    pw_web_stop(w);

    /* global limit: 8 (one worker), an eighth of it kept free for new
     * clients (web/guard.h): with 8 idle holders, a 9th client is served
     * at once, and the oldest holders are closed to make room. */
    o = (struct pw_web_options){.listen = "127.0.0.1:0", .max_connections = 8, .threads = 1,
                                .timeout_s = 2};
    ck_assert_int_eq(world_web(&W, &o, &w, err), 0);
    port = pw_web_port(w);
    int holders[8];
    for (int i = 0; i < 8; i++) {
        holders[i] = raw_connect(i % 2 ? "127.0.0.6" : "127.0.0.7", port);
        ck_assert_int_ge(holders[i], 0);
        usleep(10000); /* in order: the first is the oldest */
    }
    usleep(200000);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/health?role=web-open", port);
    int64_t t0 = now_ms();
    ck_assert_int_eq(http_req(NULL, url, NULL, NULL, &h), 0);
    int64_t waited = now_ms() - t0;
    ck_assert_int_eq(h.status, 200);
    http_free(&h);
    ck_assert_msg(waited < 500, "served after %lld ms", (long long)waited);
    int evicted = 0;
    for (int i = 0; i < 8; i++) {
        struct pollfd pf = {holders[i], POLLIN, 0};
        char c;
        if (poll(&pf, 1, 0) == 1 && recv(holders[i], &c, 1, MSG_DONTWAIT) <= 0) {
            ck_assert_msg(i < 2, "holder %d closed before older ones", i);
            evicted++;
        }
    }
    ck_assert_int_eq(evicted, 2);
    for (int i = 0; i < 8; i++)
        close(holders[i]);
    ck_assert_int_eq(http_get(port, "/api/v1/health?role=web-open", &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_msg(h.seconds < 0.5, "%.3f s", h.seconds);
    http_free(&h);
    pw_web_stop(w);
}
END_TEST

static Suite *fast_suite(void)
{
    Suite *s = suite_create("web");
    TCase *u = tcase_create("unit");
    tcase_add_test(u, time_parse_and_format);
    tcase_add_test(u, start_refusals);
    suite_add_tcase(s, u);
    TCase *t = tcase_create("server");
    tcase_add_unchecked_fixture(t, world_setup, world_teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, status_all);
    tcase_add_test(t, status_filters);
    tcase_add_test(t, target_and_history);
    tcase_add_test(t, outages_and_uptime);
    tcase_add_test(t, health);
    tcase_add_test(t, health_text);
    tcase_add_test(t, history_verify);
    tcase_add_test(t, memo_lets_go);
    tcase_add_test(t, metrics);
    tcase_add_test(t, metrics_process_and_gzip);
    tcase_add_test(t, endpoint_outside_range);
    tcase_add_test(t, unprobed_and_mismatch);
    tcase_add_test(t, metrics_identity_labels);
    tcase_add_test(t, methods_and_paths);
    tcase_add_test(t, hostile_requests);
    tcase_add_test(t, token);
    tcase_add_test(t, no_store);
    tcase_add_test(t, concurrent);
    suite_add_tcase(s, t);
    return s;
}

static Suite *slow_suite(void)
{
    Suite *s = suite_create("web-slow");
    TCase *t = tcase_create("server");
    tcase_add_unchecked_fixture(t, world_setup, world_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, promtool_metrics);
    tcase_add_test(t, tls);
    tcase_add_test(t, slow_client);
    tcase_add_test(t, connection_limits);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv)
{
    bool slow = argc > 1 && strcmp(argv[1], "slow") == 0;
    if (slow) {
        static const char *const tools[] = {"/usr/bin/promtool", "/usr/bin/openssl",
                                            "/usr/bin/curl"};
        for (size_t i = 0; i < 3; i++) {
            if (!world_have(tools[i])) {
                printf("SKIP: %s is missing (apt-get install -y prometheus openssl curl)\n",
                       tools[i]);
                return 77;
            }
        }
    }
    return world_run_suite(slow ? slow_suite() : fast_suite());
}
