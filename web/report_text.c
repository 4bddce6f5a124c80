/*
 * The report's CSV and Markdown (see report.h), written from its JSON
 * document only, so every format says the same.
 *
 * CSV is one table (RFC 4180, CRLF) whose first column says what a row is:
 *   record,key,start,end,duration_ms,hosts,ports,cause,summary,
 *   monitored_ms,available_ms,unmonitored_ms,availability_pct
 * "host" and "role" rows carry availability; "incident" rows their id,
 * times, hosts (space-separated), target count (in ports), cause word and
 * summary; "outage" rows one port's outage with its cause word and text.
 */
#include "web/report.h"

#include "config/values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A scalar of the document as text: "" for null or missing. */
static const char *cell(const json_t *o, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.3f", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    return buf;
}

/* The strings of array key of o joined by sep. */
static void joined(const json_t *o, const char *key, const char *sep, char *buf, size_t len)
{
    size_t i, used = 0;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(json_object_get(o, key), i, v) {
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? sep : "",
                                     json_string_value(v));
    }
}

/* ---- CSV ------------------------------------------------------------------ */

static void csv_field(struct pw_buf *b, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) { /* quoted, quotes doubled */
        pw_buf_add(b, "\"", 1);
        for (const char *p = s; *p; p++)
            pw_buf_add(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
        pw_buf_add(b, "\"", 1);
    } else {
        pw_buf_add(b, s, strlen(s));
    }
    pw_buf_add(b, last ? "\r\n" : ",", last ? 2 : 1);
}

#define CSV_COLS 13

static const char *const csv_head[CSV_COLS] = {
    "record", "key", "start", "end", "duration_ms", "hosts", "ports", "cause", "summary",
    "monitored_ms", "available_ms", "unmonitored_ms", "availability_pct"};

static void csv_row(struct pw_buf *b, const char *const *f)
{
    for (int i = 0; i < CSV_COLS; i++)
        csv_field(b, f[i] ? f[i] : "", i == CSV_COLS - 1);
}

static void csv_avail(struct pw_buf *b, const char *record, const json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char m[32], a[32], u[32], p[32], n[8];
        const char *f[CSV_COLS] = {record, cell(r, "name", n, sizeof n)};
        f[9] = cell(r, "monitored_ms", m, sizeof m);
        f[10] = cell(r, "available_ms", a, sizeof a);
        f[11] = cell(r, "unmonitored_ms", u, sizeof u);
        f[12] = cell(r, "availability", p, sizeof p);
        csv_row(b, f);
    }
}

static void csv_incidents(struct pw_buf *b, const json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char d[32], c[32], hosts[1024], x[8];
        joined(r, "hosts", " ", hosts, sizeof hosts);
        const char *f[CSV_COLS] = {"incident", cell(r, "id", x, sizeof x),
                                   cell(r, "started_at", x, sizeof x),
                                   cell(r, "ended_at", x, sizeof x),
                                   cell(r, "duration_ms", d, sizeof d), hosts,
                                   cell(r, "target_count", c, sizeof c),
                                   cell(r, "cause", x, sizeof x), cell(r, "summary", x, sizeof x)};
        csv_row(b, f);
    }
}

static void csv_outages(struct pw_buf *b, const json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char id[32], d[32], port[16], x[8];
        const char *f[CSV_COLS] = {"outage", cell(r, "id", id, sizeof id),
                                   cell(r, "start", x, sizeof x), cell(r, "end", x, sizeof x),
                                   cell(r, "duration_ms", d, sizeof d),
                                   cell(r, "host", x, sizeof x), cell(r, "port", port, sizeof port),
                                   cell(r, "cause_key", x, sizeof x),
                                   cell(r, "cause", x, sizeof x)};
        csv_row(b, f);
    }
}

/* ---- Markdown -------------------------------------------------------------- */

/* A table cell: '|' escaped, line breaks as spaces. */
static void md_cell(struct pw_buf *b, const char *s)
{
    pw_buf_add(b, "| ", 2);
    for (const char *p = s; *p; p++) {
        if (*p == '|')
            pw_buf_add(b, "\\|", 2);
        else
            pw_buf_add(b, *p == '\n' || *p == '\r' ? " " : p, 1);
    }
    pw_buf_add(b, " ", 1);
}

static void md_duration(struct pw_buf *b, const json_t *o, const char *key)
{
    char d[32] = "";
    const json_t *v = json_object_get(o, key);
    json_int_t ms = json_is_integer(v) ? json_integer_value(v) : -1;
    if (ms >= 0) /* whole seconds from one second on: "1h2m3s", not "...s450ms" */
        pw_format_duration(ms >= 1000 ? ms / 1000 * 1000 : ms, d, sizeof d);
    md_cell(b, d);
}

static void md_avail(struct pw_buf *b, const char *what, const json_t *rows)
{
    pw_buf_printf(b, "| %s | Availability | Available | Monitored | Not monitored |\n"
                     "|---|---:|---:|---:|---:|\n", what);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char x[32];
        const json_t *a = json_object_get(r, "availability");
        md_cell(b, cell(r, "name", x, sizeof x));
        if (json_is_real(a))
            snprintf(x, sizeof x, "%.3f %%", json_real_value(a));
        else
            snprintf(x, sizeof x, "not monitored");
        md_cell(b, x);
        md_duration(b, r, "available_ms");
        md_duration(b, r, "monitored_ms");
        md_duration(b, r, "unmonitored_ms");
        pw_buf_add(b, "|\n", 2);
    }
    pw_buf_add(b, "\n", 1);
}

static void md_incidents(struct pw_buf *b, const json_t *rows)
{
    pw_buf_printf(b, "## Incidents (%zu)\n\n", json_array_size(rows));
    if (!json_array_size(rows)) {
        pw_buf_printf(b, "No incident in this period.\n\n");
        return;
    }
    pw_buf_printf(b, "| Started | Ended | Duration | What | Breaks |\n|---|---|---:|---|---|\n");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char x[8], tasks[2048];
        md_cell(b, cell(r, "started_at", x, sizeof x));
        md_cell(b, json_is_true(json_object_get(r, "open")) ? "ongoing"
                                                           : cell(r, "ended_at", x, sizeof x));
        md_duration(b, r, "duration_ms");
        md_cell(b, cell(r, "summary", x, sizeof x));
        joined(r, "tasks", "; ", tasks, sizeof tasks);
        md_cell(b, tasks);
        pw_buf_add(b, "|\n", 2);
    }
    pw_buf_add(b, "\n", 1);
}

static void md_outages(struct pw_buf *b, const json_t *rows)
{
    pw_buf_printf(b, "## Outages (%zu)\n\n", json_array_size(rows));
    if (!json_array_size(rows)) {
        pw_buf_printf(b, "No outage in this period.\n");
        return;
    }
    pw_buf_printf(b, "| Host | Port | Started | Ended | Duration | Cause |\n"
                     "|---|---:|---|---|---:|---|\n");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char x[8], port[16];
        md_cell(b, cell(r, "host", x, sizeof x));
        md_cell(b, cell(r, "port", port, sizeof port));
        md_cell(b, cell(r, "start", x, sizeof x));
        md_cell(b, json_is_true(json_object_get(r, "open")) ? "ongoing"
                                                           : cell(r, "end", x, sizeof x));
        md_duration(b, r, "duration_ms");
        md_cell(b, cell(r, "cause", x, sizeof x));
        pw_buf_add(b, "|\n", 2);
    }
}

/* ---- the report ------------------------------------------------------------ */

void pw_report_render(const json_t *doc, enum pw_report_format f, struct pw_buf *b)
{
    const json_t *a = json_object_get(doc, "availability");
    if (f == PW_REPORT_JSON) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        if (!s) {
            b->oom = true;
            return;
        }
        pw_buf_printf(b, "%s\n", s);
        free(s);
    } else if (f == PW_REPORT_CSV) {
        csv_row(b, csv_head);
        csv_avail(b, "host", json_object_get(a, "hosts"));
        csv_avail(b, "role", json_object_get(a, "roles"));
        csv_incidents(b, json_object_get(doc, "incidents"));
        csv_outages(b, json_object_get(doc, "outages"));
    } else {
        char from[8], to[8];
        pw_buf_printf(b, "# portwatch report, %s to %s\n\n",
                      cell(doc, "from", from, sizeof from), cell(doc, "to", to, sizeof to));
        pw_buf_printf(b, "Availability: the time every target a host or role needs passed, "
                         "out of the time portwatch watched it.\n\n## Availability\n\n");
        md_avail(b, "Host", json_object_get(a, "hosts"));
        md_avail(b, "Role", json_object_get(a, "roles"));
        md_incidents(b, json_object_get(doc, "incidents"));
        md_outages(b, json_object_get(doc, "outages"));
    }
}
