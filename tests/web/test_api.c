/*
 * The API's documents as a client sees them (issue 17), against the real
 * server on real probe data (world.h): the targets list with its filters
 * and cursor pages, the one filter parser's 400s and 404s on every
 * endpoint over targets, units and rounding, ETag / If-None-Match, gzip on
 * every JSON answer, the liveness endpoint, and JSON errors for requests
 * too large.
 */
#define _GNU_SOURCE
#include "world.h"

#include "probes/report.h"
#include "web/web.h"

#include <check.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static json_t *get_json(const char *path, long want_status)
{
    return world_get_json(W.port, path, want_status);
}

static void expect_error(const char *path, long status, const char *want)
{
    world_expect_error(W.port, path, status, want);
}

static size_t count(json_t *doc, const char *key)
{
    return json_array_size(json_object_get(doc, key));
}

/* Every target through pages of `limit`, following next_cursor: returns
 * how many, checking ids strictly ascend across pages. */
static size_t walk_pages(const char *filter, int limit)
{
    char path[256], cursor[32] = "";
    size_t seen = 0;
    long long last = 0;
    for (int pages = 0; pages < 100; pages++) {
        snprintf(path, sizeof path, "/api/v1/targets?limit=%d%s%s%s", limit, filter,
                 *cursor ? "&cursor=" : "", cursor);
        json_t *doc = get_json(path, 200);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(doc, "targets"), i, t) {
            long long id = json_integer_value(json_object_get(t, "id"));
            ck_assert_msg(id > last, "id %lld after %lld", id, last);
            last = id;
            seen++;
        }
        ck_assert_int_le(count(doc, "targets"), limit);
        ck_assert_int_eq(json_integer_value(json_object_get(doc, "count")),
                         count(doc, "targets"));
        json_t *next = json_object_get(doc, "next_cursor");
        if (json_is_null(next)) {
            ck_assert_int_eq(json_integer_value(json_object_get(doc, "total")), seen);
            json_decref(doc);
            return seen;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(doc);
    }
    ck_abort_msg("next_cursor never ended");
    return 0;
}

START_TEST(targets_list_and_pages)
{
    json_t *st = get_json("/api/v1/status", 200);
    size_t all = count(st, "targets");
    json_decref(st);
    ck_assert_int_gt(all, 16); /* world.c's checks and the BizTalk rows */
    ck_assert_int_eq(walk_pages("", 500), all);
    ck_assert_int_eq(walk_pages("", 1), all);
    ck_assert_int_eq(walk_pages("", 5), all);
    ck_assert_int_eq(walk_pages("&host=127.0.0.4", 5), 12);
    ck_assert_int_eq(walk_pages("&role=web-open&status=up", 1), 2);
    /* port= takes one port or one range */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/targets?port=%u", W.open_port[0]);
    json_t *doc = get_json(path, 200);
    ck_assert_int_eq(count(doc, "targets"), 1);
    json_decref(doc);
    doc = get_json("/api/v1/targets?host=127.0.0.4&port=3-5", 200);
    ck_assert_int_eq(count(doc, "targets"), 3);
    json_decref(doc);
    /* state= by the last result; the world's refused ports are closed */
    doc = get_json("/api/v1/targets?state=closed&role=web-closed", 200);
    ck_assert_int_eq(count(doc, "targets"), 1);
    json_decref(doc);
    doc = get_json("/api/v1/targets?state=open,filtered&role=web-closed", 200);
    ck_assert_int_eq(count(doc, "targets"), 0);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    /* a cursor past the end: an empty last page */
    doc = get_json("/api/v1/targets?cursor=4294967295", 200);
    ck_assert_int_eq(count(doc, "targets"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "total")), all);
    json_decref(doc);
    static const struct {
        const char *query;
        long status;
        const char *detail;
    } refused[] = {
        {"limit=0", 400, "limit"},          {"limit=10001", 400, "1 to 10000"},
        {"cursor=abc", 400, "next_cursor"}, {"port=0", 400, "one range"},
        {"port=1,2", 400, "one port"},      {"state=open,", 400, "closed, filtered"},
        {"state=sideways", 400, "'sideways'"}, {"host=nosuch", 404, "nosuch"},
        {"role=nosuch", 404, "nosuch"},     {"page=2", 400, "cursor"},
    };
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        snprintf(path, sizeof path, "/api/v1/targets?%s", refused[k].query);
        expect_error(path, refused[k].status, refused[k].detail);
    }
}
END_TEST

/* The same filters, the same errors, on status and outages. */
START_TEST(filters_everywhere)
{
    json_t *doc = get_json("/api/v1/status?host=127.0.0.4&state=closed", 200);
    ck_assert_int_eq(count(doc, "targets"), 12);
    json_t *sum = json_object_get(doc, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "targets")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "hosts")), 1);
    json_decref(doc);
    doc = get_json("/api/v1/status?role=web-open", 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "summary"),
                                                        "hosts")), 1);
    json_decref(doc);
    doc = get_json("/api/v1/status", 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "summary"),
                                                        "hosts")), 4);
    json_decref(doc);
    expect_error("/api/v1/status?port=x", 400, "port");
    /* outages: a typo is a 404, not an empty list (issue 17) */
    expect_error("/api/v1/outages?host=nosuch", 404, "host: no target is on host 'nosuch'");
    expect_error("/api/v1/outages?role=nosuch", 404, "role: no target serves role");
    expect_error("/api/v1/outages?port=70000", 400, "port");
    doc = get_json("/api/v1/outages?host=127.0.0.4", 200);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "count")), 12);
    json_decref(doc);
    doc = get_json("/api/v1/outages?host=127.0.0.4&port=1-2", 200);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "count")), 2);
    json_decref(doc);
    doc = get_json("/api/v1/outages?role=web-closed&limit=1", 200);
    ck_assert_int_eq(count(doc, "outages"), 1);
    json_decref(doc);
    /* the health endpoint shares host= and role= and their 404s */
    expect_error("/api/v1/health?host=nosuch", 404, "nosuch");
}
END_TEST

/* Every number after "key": in body has at most `decimals` decimals. */
static void decimals_at_most(const char *body, const char *key, int decimals)
{
    char pat[64];
    int n = snprintf(pat, sizeof pat, "\"%s\":", key), seen = 0;
    for (const char *p = strstr(body, pat); p; p = strstr(p + n, pat)) {
        const char *v = p + n;
        const char *dot = v + strspn(v, "-0123456789");
        if (*dot != '.')
            continue;
        size_t d = strspn(dot + 1, "0123456789");
        ck_assert_msg((int)d <= decimals, "%s: %.30s has %zu decimals", key, v, d);
        seen++;
    }
    ck_assert_msg(seen > 0 || decimals < 0, "no %s with decimals", key);
}

START_TEST(units_and_consistency)
{
    struct http h;
    ck_assert_int_eq(http_get(W.port, "/api/v1/status", &h), 0);
    decimals_at_most(h.body, "latency_ms", 3);
    json_t *doc = json_loads(h.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), PW_VERSION);
    json_t *storage = json_object_get(json_object_get(doc, "summary"), "storage");
    ck_assert_str_eq(json_string_value(json_object_get(storage, "state")), "ok");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(storage, "since")));
    json_decref(doc);
    http_free(&h);
    ck_assert_int_eq(http_get(W.port, "/api/v1/uptime?by=host", &h), 0);
    ck_assert_int_eq(h.status, 200);
    decimals_at_most(h.body, "uptime_pct", 3);
    http_free(&h);
    /* health: durations in ms like every other document */
    ck_assert_int_eq(http_get(W.port, "/api/v1/health?role=web-closed", &h), 0);
    ck_assert_ptr_nonnull(strstr(h.body, "\"down_for_ms\":"));
    ck_assert_ptr_null(strstr(h.body, "_for_s\""));
    http_free(&h);
    /* without a store, storage.since still says since when */
    struct pw_web_sources src = world_sources(&W);
    src.store = NULL;
    struct pw_web_options o = {.listen = "127.0.0.1:0"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX];
    ck_assert_int_eq(pw_web_start(&o, &src, &w, err), 0);
    doc = world_get_json(pw_web_port(w), "/api/v1/status", 200);
    storage = json_object_get(json_object_get(doc, "summary"), "storage");
    ck_assert_str_eq(json_string_value(json_object_get(storage, "state")), "unavailable");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(storage, "since")));
    json_decref(doc);
    pw_web_stop(w);
}
END_TEST

static char *gunzip(const struct http *h)
{
    return world_gunzip(h->body, h->len, 1 << 20, NULL);
}

/* path answered 200 with an ETag, then 304 (no body, same tag) when asked
 * with it, and 200 again with another tag. The world's engine probes on:
 * when a result lands between the two requests the document (its
 * last_checked) has really changed and the second answer is a 200 with a
 * new tag, so the round is tried again, a few times at most. */
static void etag_round(const char *path, bool gzip)
{
    char url[256], hdr[200], tag[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", W.port, path);
    struct http h;
    for (int attempt = 0;; attempt++) {
        ck_assert_int_eq(http_req(NULL, url, gzip ? "Accept-Encoding: gzip" : NULL, NULL, &h),
                         0);
        ck_assert_int_eq(h.status, 200);
        ck_assert_msg(h.etag[0] == '"', "%s: no ETag", path);
        ck_assert_msg((strstr(h.etag, "-gz") != NULL) == gzip, "%s: tag %s", path, h.etag);
        snprintf(tag, sizeof tag, "%s", h.etag);
        http_free(&h);
        snprintf(hdr, sizeof hdr, "If-None-Match: \"x\", W/%s%s", tag,
                 gzip ? "\nAccept-Encoding: gzip" : "");
        ck_assert_int_eq(http_req(NULL, url, hdr, NULL, &h), 0);
        if (h.status == 304 || attempt == 4)
            break;
        ck_assert_msg(h.status == 200 && strcmp(h.etag, tag) != 0,
                      "%s: %ld with the tag %s for its own tag %s", path, h.status, h.etag, tag);
        http_free(&h);
    }
    ck_assert_msg(h.status == 304, "%s: %ld for its own tag", path, h.status);
    ck_assert_int_eq(h.len, 0);
    ck_assert_str_eq(h.etag, tag);
    ck_assert_str_eq(h.cache, "no-store");
    http_free(&h);
    ck_assert_int_eq(http_req(NULL, url, "If-None-Match: \"0000000000000000\"", NULL, &h), 0);
    ck_assert_int_eq(h.status, 200);
    ck_assert_int_gt(h.len, 0);
    http_free(&h);
}

START_TEST(etags_and_gzip)
{
    /* cached (status), memo'd (health), built per request (the rest;
     * not /api/v1/live nor open outages, which say how long: each answer
     * differs) */
    static const char *const paths[] = {"/api/v1/status", "/api/v1/health?role=web-open",
                                        "/api/v1/targets?limit=2", "/api/v1/outages?open=false",
                                        "/api/v1/targets/1"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        etag_round(paths[i], false);
        etag_round(paths[i], true);
    }
    /* every JSON answer gzip'd when asked, errors too, with Vary */
    static const char *const any[] = {"/api/v1/targets?host=nosuch", "/api/v1/nothing",
                                      "/api/v1/outages?limit=1", "/api/v1/uptime",
                                      "/api/v1/targets/1/history"};
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        char url[256];
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", W.port, any[i]);
        struct http h;
        ck_assert_int_eq(http_req(NULL, url, "Accept-Encoding: gzip", NULL, &h), 0);
        ck_assert_msg(strcmp(h.cenc, "gzip") == 0, "%s: not gzip'd", any[i]);
        ck_assert_ptr_nonnull(strstr(h.vary, "Accept-Encoding"));
        char *text = gunzip(&h);
        json_t *doc = json_loads(text, 0, NULL);
        ck_assert_msg(doc != NULL, "%s: %s", any[i], text);
        ck_assert_msg(h.status != 200 || !json_object_get(doc, "error"), "%s", any[i]);
        ck_assert_msg(h.status == 200 || json_object_get(doc, "error"), "%s", any[i]);
        ck_assert_msg((h.status == 200) == (h.etag[0] != '\0'), "%s: ETag %s on %ld", any[i],
                      h.etag, h.status);
        json_decref(doc);
        free(text);
        http_free(&h);
        /* and plain without Accept-Encoding */
        ck_assert_int_eq(http_get(W.port, any[i], &h), 0);
        ck_assert_str_eq(h.cenc, "");
        http_free(&h);
    }
    /* a document that changed has another tag */
    struct http a, b;
    ck_assert_int_eq(http_get(W.port, "/api/v1/targets?limit=1", &a), 0);
    ck_assert_int_eq(http_get(W.port, "/api/v1/targets?limit=2", &b), 0);
    ck_assert_str_ne(a.etag, b.etag);
    http_free(&a);
    http_free(&b);
}
END_TEST

START_TEST(liveness)
{
    json_t *doc = get_json("/api/v1/live", 200);
    ck_assert(json_is_true(json_object_get(doc, "alive")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), PW_VERSION);
    ck_assert_int_ge(json_integer_value(json_object_get(doc, "stale_after_ms")), 60000);
    ck_assert_int_lt(json_integer_value(json_object_get(doc, "snapshot_age_ms")), 60000);
    json_decref(doc);
    expect_error("/api/v1/live?x=1", 400, "no parameters");
    /* a loop that published nothing for 10 minutes: 503, health unmoved */
    struct pw_web_sources src = world_stale_sources(&W, 600000);
    struct pw_web_options o = {.listen = "127.0.0.1:0"};
    struct pw_web *w;
    char err[PW_WEB_ERR_MAX];
    ck_assert_int_eq(pw_web_start(&o, &src, &w, err), 0);
    world_expect_error(pw_web_port(w), "/api/v1/live", 503, "published its last snapshot");
    world_expect_error(pw_web_port(w), "/api/v1/live", 503, "more than 60000 ms");
    doc = world_get_json(pw_web_port(w), "/api/v1/health?role=web-open", 200);
    json_decref(doc);
    pw_web_stop(w);
}
END_TEST

/* Requests larger than the server takes: JSON errors, like every other. */
START_TEST(too_large_is_json)
{
    static char req[40000], resp[8192];
    size_t n = world_long_uri_request(req, sizeof req);
    int st = raw_request(W.port, req, n, 3000, resp, sizeof resp);
    ck_assert_int_eq(st, 414);
    ck_assert_ptr_nonnull(strstr(resp, "application/json"));
    ck_assert_ptr_nonnull(strstr(resp, "\"error\":\"uri too long\""));
    ck_assert_ptr_nonnull(strstr(resp, "at most 8192"));
    /* 36 kB of headers: over the default 32 kB */
    n = world_big_headers_request(req, sizeof req);
    st = raw_request(W.port, req, n, 3000, resp, sizeof resp);
    ck_assert_int_eq(st, 431);
    ck_assert_ptr_nonnull(strstr(resp, "\"error\":\"headers too large\""));
    ck_assert_ptr_nonnull(strstr(resp, "at most 32768"));
    json_t *doc = get_json("/api/v1/live", 200); /* nothing hurt */
    json_decref(doc);
}
END_TEST

/* `portwatch check --format json` and the API render a target the same
 * way (issue 14): same fields, same values, for every target. */
START_TEST(one_rendering)
{
    struct pw_web_sources src = world_sources(&W);
    struct pw_web_view v;
    ck_assert_int_eq(src.acquire(src.ud, &v), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(pw_report_json_write(v.snap->plan, v.snap, f), 0);
    fclose(f);
    int64_t taken = v.snap->taken_ms;
    src.release(src.ud, &v);
    json_t *check = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(check);
    json_t *api = get_json("/api/v1/status", 200);
    size_t i;
    json_t *c;
    json_array_foreach(check, i, c) {
        long long port = json_integer_value(json_object_get(c, "port"));
        const char *host = json_string_value(json_object_get(c, "host"));
        json_t *a = NULL, *t;
        size_t k;
        json_array_foreach(json_object_get(api, "targets"), k, t)
            if (json_integer_value(json_object_get(t, "port")) == port &&
                strcmp(json_string_value(json_object_get(t, "host")), host) == 0)
                a = t;
        ck_assert_msg(a != NULL, "%s:%lld not in the API", host, port);
        char path[64];
        snprintf(path, sizeof path, "/api/v1/targets/%lld",
                 json_integer_value(json_object_get(a, "id")));
        json_t *one = get_json(path, 200); /* with reasons, like check */
        json_object_del(one, "in_plan");
        json_object_set(c, "id", json_object_get(one, "id"));
        const char *key;
        json_t *val;
        json_object_foreach(one, key, val)
            ck_assert_msg(json_object_get(c, key), "%s: check lacks %s", path, key);
        json_object_foreach(c, key, val) {
            ck_assert_msg(json_object_get(one, key), "%s: the API lacks %s", path, key);
            /* results taken at different times may differ; the rest not */
            if (strcmp(key, "latency_ms") && strcmp(key, "last_checked") && strcmp(key, "since"))
                ck_assert_msg(json_equal(val, json_object_get(one, key)) ||
                                  json_integer_value(json_object_get(one, "consecutive_failures")) !=
                                      json_integer_value(json_object_get(c, "consecutive_failures")),
                              "%s: %s differs", path, key);
        }
        json_decref(one);
    }
    ck_assert_int_gt(taken, 0);
    json_decref(api);
    json_decref(check);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {targets_list_and_pages, filters_everywhere,
                                  units_and_consistency, etags_and_gzip, liveness,
                                  too_large_is_json, one_rendering};
    return world_run_suite(world_suite("web-api", 90, tests, sizeof tests / sizeof tests[0]));
}
