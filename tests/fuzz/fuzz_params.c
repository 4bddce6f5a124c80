/*
 * libFuzzer target for every query-string parser of the web layer
 * (web/params.c): the request target's strict split and percent-decoding,
 * the parameter list check, from/to ranges, durations and times. The
 * input is the query part of a request target.
 *
 * Besides crashes and leaks, it checks every error text a client would
 * read: NUL-terminated within its buffer, valid UTF-8, no control
 * characters, bounded. MemorySanitizer cannot run beside ASan, so
 * uninitialised bytes are caught another way: each parser runs twice, the
 * stack below it filled first with 0xFF and then with 'A'; a text that
 * read an uninitialised byte differs between the runs (and 0xFF is not
 * UTF-8).
 */
#include "web/params.h"

#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1764547200000LL /* 2025-12-01T00:00:00Z */
#define DETAIL_MAX 768          /* pw_reply_error's bound */

__attribute__((noinline)) static void poison_stack(unsigned char byte)
{
    volatile unsigned char junk[32768];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = byte;
}

/* The text a client reads: bounded, UTF-8, no C0/C1 controls or DEL. */
static void check_text(const char *s, size_t cap, const char *what)
{
    size_t n = strnlen(s, cap);
    if (n == cap) {
        fprintf(stderr, "%s: not NUL-terminated within %zu bytes\n", what, cap);
        abort();
    }
    if (!pw_utf8_valid(s, n)) {
        fprintf(stderr, "%s: not UTF-8: %s\n", what, s);
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool c1 = c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] < 0xA0;
        if (c < 0x20 || c == 0x7F || c1) {
            fprintf(stderr, "%s: control character 0x%02x at %zu: %s\n", what, c, i, s);
            abort();
        }
    }
}

/* A reply's error detail, from its JSON body; returns a malloc'd copy
 * ("" for no error). */
static char *detail_of(struct pw_reply *out)
{
    if (!out->body)
        return strdup("");
    json_error_t je;
    json_t *doc = json_loadb(out->body, out->len, 0, &je);
    if (!doc) {
        fprintf(stderr, "error body is not JSON: %.*s\n", (int)out->len, out->body);
        abort();
    }
    const char *d = json_string_value(json_object_get(doc, "detail"));
    char *copy = strdup(d ? d : "");
    json_decref(doc);
    check_text(copy, DETAIL_MAX, "detail");
    return copy;
}

static void req_clear(struct pw_req *r)
{
    for (size_t i = 0; i < r->nparams; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    free(r->path);
    pw_reply_clear(&r->reply);
    memset(r, 0, sizeof *r);
}

/* Runs every parser over raw once, on a stack poisoned with byte; returns
 * what a client would read (malloc'd). */
static char *run_once(const char *raw, unsigned char byte)
{
    static const char *const allowed[] = {"from", "to", "step", "min_duration", "host", NULL};
    struct pw_req r = {0};
    r.raw = (char *)raw;
    r.now_ms = NOW_MS;
    struct pw_buf seen = {0};
    poison_stack(byte);
    if (pw_web_parse_uri(&r, &r.reply) == 0) {
        poison_stack(byte);
        pw_web_check_params(&r, allowed, &r.reply);
        char *c = detail_of(&r.reply);
        pw_buf_printf(&seen, "params:%s\n", c);
        free(c);
        pw_reply_clear(&r.reply);
        int64_t from, to, step = 0, min = 0;
        poison_stack(byte);
        pw_web_param_range(&r, 86400000LL, &from, &to, &r.reply);
        char *d = detail_of(&r.reply);
        pw_buf_printf(&seen, "range:%s\n", d);
        free(d);
        pw_reply_clear(&r.reply);
        poison_stack(byte);
        pw_web_param_duration(&r, "step", 60000, 366 * 86400000LL, &step, &r.reply);
        pw_web_param_duration(&r, "min_duration", 0, 366 * 86400000LL, &min, &r.reply);
        for (size_t i = 0; i < r.nparams; i++) {
            char err[PW_WEB_ERR_MAX];
            int64_t t;
            poison_stack(byte);
            if (pw_web_parse_time(r.params[i].value, NOW_MS, &t, err) != 0) {
                check_text(err, sizeof err, "pw_web_parse_time");
                pw_buf_printf(&seen, "time:%s\n", err);
            }
        }
    }
    char *d = detail_of(&r.reply);
    pw_buf_printf(&seen, "last:%s\n", d);
    free(d);
    r.raw = NULL;
    req_clear(&r);
    return seen.p ? seen.p : strdup("");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* A request target as libmicrohttpd hands it over: a C string. */
    char *raw = malloc(size + 12);
    if (!raw)
        return 0;
    memcpy(raw, "/api/v1/x?", 10);
    memcpy(raw + 10, data, size);
    raw[10 + size] = '\0';
    char *a = run_once(raw, 0xFF), *b = run_once(raw, 'A');
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "error texts depend on uninitialised memory:\n%s---\n%s", a, b);
        abort();
    }
    free(a);
    free(b);
    free(raw);
    return 0;
}
