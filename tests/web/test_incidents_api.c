/*
 * GET /api/v1/incidents and GET /api/v1/report against the real world
 * (world.h): real refused ports on 127.0.0.1, .3 and .4 found by a real
 * engine and kept in a real store. Every open outage is in exactly one
 * incident; a host's twelve ports refused in the first sweep are one
 * incident with the cause, summary and tasks the plan gives; the filters
 * and their errors; the report's JSON, CSV and Markdown say the same.
 */
#define _GNU_SOURCE
#include "world.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *get_json(const char *path, long want_status)
{
    return world_get_json(W.port, path, want_status);
}

static void expect_error(const char *path, long status, const char *want)
{
    json_t *doc = get_json(path, status);
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    ck_assert_msg(detail && strstr(detail, want), "%s: detail '%s' lacks '%s'", path,
                  detail ? detail : "(none)", want);
    json_decref(doc);
}

/* The incident of doc covering host (asserting there is exactly one). */
static json_t *incident_of(json_t *doc, const char *host)
{
    json_t *hit = NULL, *in, *h;
    size_t i, k;
    json_array_foreach(json_object_get(doc, "incidents"), i, in) {
        json_array_foreach(json_object_get(in, "hosts"), k, h) {
            if (strcmp(json_string_value(h), host) == 0) {
                ck_assert_msg(!hit, "%s is in two incidents", host);
                hit = in;
            }
        }
    }
    ck_assert_msg(hit, "no incident covers %s", host);
    return hit;
}

static bool has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

START_TEST(incidents)
{
    json_t *out = get_json("/api/v1/outages?open=true", 200);
    size_t open_outages = json_array_size(json_object_get(out, "outages"));
    json_decref(out);
    ck_assert_uint_ge(open_outages, 13);

    json_t *doc = get_json("/api/v1/incidents", 200);
    ck_assert(json_is_string(json_object_get(doc, "from")));
    size_t i, sum = 0;
    json_t *in;
    json_array_foreach(json_object_get(doc, "incidents"), i, in) {
        ck_assert_int_eq(json_integer_value(json_object_get(in, "target_count")),
                         json_array_size(json_object_get(in, "targets")));
        sum += json_array_size(json_object_get(in, "targets"));
        ck_assert(json_is_true(json_object_get(in, "open")));
        ck_assert(json_is_null(json_object_get(in, "ended_at")));
        ck_assert(json_is_false(json_object_get(in, "planned")));
        ck_assert_int_ge(json_integer_value(json_object_get(in, "duration_ms")), 0);
    }
    ck_assert_uint_eq(sum, open_outages);
    json_t *many = incident_of(doc, "127.0.0.4");
    size_t ports4 = 0;
    json_t *t;
    json_array_foreach(json_object_get(many, "targets"), i, t) {
        if (strcmp(json_string_value(json_object_get(t, "host")), "127.0.0.4") == 0) {
            ports4++;
            ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "closed");
            ck_assert_str_eq(json_string_value(json_object_get(t, "cause_key")), "refused");
        }
    }
    ck_assert_uint_eq(ports4, 12);
    ck_assert_str_eq(json_string_value(json_object_get(many, "cause")), "refused");
    const char *sum_text = json_string_value(json_object_get(many, "summary"));
    ck_assert_msg(strstr(sum_text, "127.0.0.4") && strstr(sum_text, "refused: nothing listens") &&
                      strstr(sum_text, " ports)"), "%s", sum_text);
    ck_assert(has_string(json_object_get(many, "tasks"), "Twelve ports nothing listens on"));
    ck_assert(has_string(json_object_get(many, "roles"), "web-many"));
    json_decref(doc);

    doc = get_json("/api/v1/incidents?host=127.0.0.4&state=open&from=-1h&to=now", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "incidents")), 1);
    json_decref(doc);
    doc = get_json("/api/v1/incidents?role=web-closed", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "incidents")), 1);
    json_decref(doc);
    doc = get_json("/api/v1/incidents?state=ended", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "incidents")), 0);
    json_decref(doc);
    /* a range before anything was watched */
    doc = get_json("/api/v1/incidents?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "incidents")), 0);
    json_decref(doc);
    expect_error("/api/v1/incidents?host=nosuch.example", 404, "host 'nosuch.example'");
    expect_error("/api/v1/incidents?role=nosuch_role", 404, "role 'nosuch_role'");
    expect_error("/api/v1/incidents?state=maybe", 400, "open or ended");
    expect_error("/api/v1/incidents?from=now&to=-1h", 400, "from");
    /* the first sweep's refusals are the one incident: a limit of 1 leaves
     * nothing out (test_store_incidents.c pages through many) */
    doc = get_json("/api/v1/incidents?limit=1", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "incidents")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "count")), 1);
    ck_assert(json_is_false(json_object_get(doc, "truncated")));
    json_decref(doc);
    expect_error("/api/v1/incidents?limit=0", 400, "limit: ");
    expect_error("/api/v1/incidents?limit=10001", 400, "(1 to 10000)");
    expect_error("/api/v1/incidents?limits=3", 400, "limits");
}
END_TEST

/* The body of GET path, asserting the status and content type. */
static char *get_text(const char *path, long status, const char *ctype)
{
    struct http h;
    ck_assert_int_eq(http_get(W.port, path, &h), 0);
    ck_assert_int_eq(h.status, status);
    ck_assert_msg(strncmp(h.ctype, ctype, strlen(ctype)) == 0, "%s: %s", path, h.ctype);
    char *body = strndup(h.body, h.len);
    http_free(&h);
    return body;
}

START_TEST(report)
{
    json_t *doc = get_json("/api/v1/report?from=-1h", 200);
    json_t *a = json_object_get(doc, "availability");
    json_t *hosts = json_object_get(a, "hosts"), *h;
    ck_assert_uint_eq(json_array_size(hosts), W.plan->nhosts);
    size_t i;
    json_array_foreach(hosts, i, h) {
        const char *name = json_string_value(json_object_get(h, "name"));
        json_int_t mon = json_integer_value(json_object_get(h, "monitored_ms"));
        json_int_t avail = json_integer_value(json_object_get(h, "available_ms"));
        ck_assert_int_gt(mon, 0);
        /* 127.0.0.4 refused from its first probe: never available */
        if (strcmp(name, "127.0.0.4") == 0)
            ck_assert_int_eq(avail, 0);
        if (strcmp(name, "127.0.0.2") == 0) /* refused is what it expects */
            ck_assert_int_eq(avail, mon);
    }
    ck_assert_int_gt(json_array_size(json_object_get(a, "roles")), 0);
    size_t nin = json_array_size(json_object_get(doc, "incidents"));
    size_t nout = json_array_size(json_object_get(doc, "outages"));
    ck_assert_uint_gt(nin, 0);
    ck_assert_uint_ge(nout, 13);
    json_decref(doc);

    doc = get_json("/api/v1/report?host=127.0.0.4", 200);
    a = json_object_get(doc, "availability");
    ck_assert_uint_eq(json_array_size(json_object_get(a, "hosts")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(a, "roles")), 1); /* web-many */
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "outages")), 12);
    json_decref(doc);

    char *csv = get_text("/api/v1/report?format=csv", 200, "text/csv");
    ck_assert_msg(strncmp(csv, "record,key,start,end,duration_ms,hosts,ports,cause,summary,"
                               "monitored_ms,available_ms,unmonitored_ms,availability_pct\r\n",
                          117) == 0, "%s", csv);
    size_t rows[4] = {0};
    static const char *const kinds[] = {"\r\nhost,", "\r\nrole,", "\r\nincident,", "\r\noutage,"};
    for (int k = 0; k < 4; k++)
        for (const char *p = csv; (p = strstr(p, kinds[k])); p++)
            rows[k]++;
    ck_assert_uint_eq(rows[0], W.plan->nhosts);
    ck_assert_uint_eq(rows[2], nin);
    ck_assert_uint_eq(rows[3], nout);
    ck_assert_msg(strstr(csv, "\r\noutage,") && strstr(csv, ",127.0.0.4,1,refused,refused: nothing listens"), "%s", csv);
    free(csv);

    char *md = get_text("/api/v1/report?format=markdown&host=127.0.0.4", 200, "text/markdown");
    ck_assert_msg(strstr(md, "# portwatch report, ") && strstr(md, "\n| 127.0.0.4 | 0.000 % |") &&
                      strstr(md, "## Incidents (1)\n") && strstr(md, "## Outages (12)\n") &&
                      strstr(md, "Twelve ports nothing listens on"), "%s", md);
    free(md);
    expect_error("/api/v1/report?format=pdf", 400, "json, csv or markdown");
    expect_error("/api/v1/report?role=nosuch_role", 404, "role 'nosuch_role'");
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {incidents, report};
    return world_run_suite(world_suite("web-incidents", 60, tests, 2));
}
