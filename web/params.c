/*
 * Request parsing for the web layer: the raw request target as the client
 * sent it is split and percent-decoded here, strictly, instead of through
 * libmicrohttpd's lenient unescaping, so that broken escapes, NUL bytes and
 * invalid UTF-8 are refused with a 400 naming the parameter rather than
 * passed on. Also the time and duration parameters every history endpoint
 * shares (RFC 3339 itself is base/clock.c).
 */
#include "web/params.h"

#include "base/clock.h"
#include "base/error.h"
#include "base/text.h"
#include "config/values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_PARAMS 32

/* Decodes s[0..n) into a new string; '+' is a space in query parts.
 * Returns NULL and sets *why on a broken escape, a NUL or bad UTF-8. */
static char *decode(const char *s, size_t n, bool query, const char **why)
{
    char *d = malloc(n + 1), *o = d;
    if (!d) {
        *why = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < n ? pw_hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < n ? pw_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "broken percent-encoding (a '%' must be followed by two hex digits)";
                free(d);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            if (c == '\0') {
                *why = "contains a NUL byte (%00)";
                free(d);
                return NULL;
            }
            i += 2;
        } else if (c == '+' && query) {
            c = ' ';
        }
        *o++ = c;
    }
    *o = '\0';
    if (!pw_utf8_valid(d, (size_t)(o - d))) {
        *why = "is not valid UTF-8";
        free(d);
        return NULL;
    }
    return d;
}

int pw_web_parse_uri(struct pw_req *r, struct pw_reply *out)
{
    const char *raw = r->raw ? r->raw : "";
    const char *q = strchr(raw, '?');
    size_t plen = q ? (size_t)(q - raw) : strlen(raw);
    const char *why = NULL;
    const char *hash = memchr(raw, '#', plen);
    if (hash)
        plen = (size_t)(hash - raw);
    r->path = decode(raw, plen, false, &why);
    if (!r->path) {
        pw_reply_error(out, 400, "bad request", "the path %s", why);
        return -1;
    }
    if (!q)
        return 0;
    const char *p = q + 1;
    while (*p && *p != '#') {
        size_t n = strcspn(p, "&#");
        if (n > 0) {
            const char *eq = memchr(p, '=', n);
            size_t nl = eq ? (size_t)(eq - p) : n;
            char shown[64];
            pw_printable(p, nl, shown, sizeof shown);
            if (r->nparams == MAX_PARAMS) {
                pw_reply_error(out, 400, "bad request",
                               "too many query parameters; at most %d", MAX_PARAMS);
                return -1;
            }
            if (!r->params) {
                r->params = calloc(MAX_PARAMS, sizeof *r->params);
                if (!r->params) {
                    pw_reply_error(out, 503, "unavailable", "out of memory");
                    return -1;
                }
            }
            struct pw_param *pp = &r->params[r->nparams];
            pp->name = decode(p, nl, true, &why);
            if (!pp->name) {
                pw_reply_error(out, 400, "bad parameter", "parameter name '%s' %s", shown, why);
                return -1;
            }
            r->nparams++;
            pp->value = decode(eq ? eq + 1 : p + n, eq ? n - nl - 1 : 0, true, &why);
            if (!pp->value) {
                pw_reply_error(out, 400, "bad parameter", "%s: the value %s", shown, why);
                return -1;
            }
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

int pw_web_check_params(struct pw_req *r, const char *const *allowed, struct pw_reply *out)
{
    for (size_t i = 0; i < r->nparams; i++) {
        const char *name = r->params[i].name;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, name) == 0;
        if (!ok) {
            char list[256] = "";
            size_t o = 0;
            for (const char *const *a = allowed; *a; a++)
                o += (size_t)snprintf(list + o, o < sizeof list ? sizeof list - o : 0, "%s%s",
                                      a == allowed ? "" : ", ", *a);
            char shown[64];
            pw_printable(name, strlen(name), shown, sizeof shown);
            pw_reply_error(out, 400, "unknown parameter",
                           "unknown parameter '%s'; this endpoint takes %s", shown,
                           *allowed ? list : "no parameters");
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->params[j].name, name) == 0) {
                pw_reply_error(out, 400, "bad parameter", "%s: given more than once", name);
                return -1;
            }
        }
    }
    return 0;
}

const char *pw_web_param(const struct pw_req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

/* ---- times ------------------------------------------------------------------ */

int pw_web_parse_time(const char *s, int64_t now_ms, int64_t *out, char err[PW_WEB_ERR_MAX])
{
    static const char allowed[] =
        "an RFC 3339 time (2025-11-25T20:36:00Z), \"now\", or a relative time such as "
        "-24h, -30m, -7d, -1h30m";
    if (!s || !*s) {
        snprintf(err, PW_WEB_ERR_MAX, "empty; use %s", allowed);
        return PW_EINVAL;
    }
    if (strcmp(s, "now") == 0) {
        *out = now_ms;
        return 0;
    }
    char shown[48]; /* the client's text, quoted safely */
    pw_printable(s, strlen(s), shown, sizeof shown);
    if (s[0] == '-') {
        int64_t d = 0;
        char derr[PW_ERRBUF]; /* quotes s raw: not passed on */
        if (pw_parse_duration(s + 1, &d, derr) != 0) {
            snprintf(err, PW_WEB_ERR_MAX, "'%s' is not a relative time; use %s", shown,
                     allowed);
            return PW_EINVAL;
        }
        if (d <= 0) { /* "-0s": parsed, but no time before now */
            snprintf(err, PW_WEB_ERR_MAX, "'%s' is zero; a relative time reaches back, "
                     "use e.g. -1s, or \"now\"", shown);
            return PW_EINVAL;
        }
        if (d > now_ms) {
            snprintf(err, PW_WEB_ERR_MAX, "'%s' reaches before 1970", shown);
            return PW_ERANGE;
        }
        *out = now_ms - d;
        return 0;
    }
    if (strlen(s) > 40 || pw_parse_rfc3339(s, out) != 0) {
        snprintf(err, PW_WEB_ERR_MAX, "'%s' is not a time; use %s (years 1970-9999)", shown,
                 allowed);
        return PW_EINVAL;
    }
    return 0;
}

int pw_web_param_range(struct pw_req *r, int64_t def_span_ms, int64_t *from, int64_t *to,
                       struct pw_reply *out)
{
    char err[PW_WEB_ERR_MAX];
    const char *fs = pw_web_param(r, "from"), *ts = pw_web_param(r, "to");
    *to = r->now_ms;
    if (ts && pw_web_parse_time(ts, r->now_ms, to, err) != 0) {
        pw_reply_error(out, 400, "bad parameter", "to: %s", err);
        return -1;
    }
    *from = *to - def_span_ms;
    if (fs && pw_web_parse_time(fs, r->now_ms, from, err) != 0) {
        pw_reply_error(out, 400, "bad parameter", "from: %s", err);
        return -1;
    }
    if (*from >= *to) {
        pw_reply_error(out, 400, "bad parameter", "from: must be earlier than to");
        return -1;
    }
    return 0;
}

int pw_web_param_limit(struct pw_req *r, long long def, long long max, long long *limit,
                       struct pw_reply *out)
{
    const char *s = pw_web_param(r, "limit");
    char err[PW_ERRBUF];
    *limit = def;
    if (s && pw_parse_int(s, 1, max, limit, err) != 0) {
        pw_reply_error(out, 400, "bad parameter", "limit: %s (1 to %lld)", err, max);
        return -1;
    }
    return 0;
}

int pw_web_param_duration(struct pw_req *r, const char *name, int64_t min_ms, int64_t max_ms,
                          int64_t *ms, struct pw_reply *out)
{
    const char *s = pw_web_param(r, name);
    if (!s)
        return 0;
    char err[PW_ERRBUF], lo[32], hi[32];
    int64_t v;
    pw_format_duration(min_ms, lo, sizeof lo);
    pw_format_duration(max_ms, hi, sizeof hi);
    if (pw_parse_duration(s, &v, err) != 0) {
        pw_reply_error(out, 400, "bad parameter", "%s: %s (a duration %s to %s)", name, err,
                       lo, hi);
        return -1;
    }
    if (v < min_ms || v > max_ms) {
        pw_reply_error(out, 400, "bad parameter", "%s: must be %s to %s", name, lo, hi);
        return -1;
    }
    *ms = v;
    return 0;
}
