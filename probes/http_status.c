/*
 * The HTTP exchange that proves a web server (IIS on 1164) answers:
 * `HEAD / HTTP/1.1` with Connection: close, and a parser of the status
 * line and the Server header of the reply. Any valid status line verifies
 * (401 and 404 are web servers too). Used by verify.c and
 * tests/fuzz/fuzz_verify.c (as fuzz_http).
 */
#include "probes/verify.h"

#include <stdio.h>
#include <string.h>

size_t pw_http_head_request(char *buf, size_t cap, const char *host, uint16_t port)
{
    char hostport[300];
    bool v6 = host && strchr(host, ':') != NULL;
    if (!host || strlen(host) > 255)
        return 0;
    if (port == 80)
        snprintf(hostport, sizeof hostport, v6 ? "[%s]" : "%s", host);
    else
        snprintf(hostport, sizeof hostport, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
    int n = snprintf(buf, cap,
                     "HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: portwatch\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     hostport);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* The status line "HTTP/d.d ddd[ reason]" against what has arrived:
 * MISMATCH at the first byte that cannot belong, NEED_MORE while it may
 * still become one, OK with *line_end at its line feed. */
static enum pw_parse status_line(const uint8_t *b, size_t n, struct pw_http_info *out,
                                 size_t *line_end)
{
    static const char pattern[] = "HTTP/d.d ddd"; /* d: a digit */
    size_t plen = sizeof pattern - 1;
    for (size_t i = 0; i < n && i < plen; i++) {
        bool ok = pattern[i] == 'd' ? is_digit(b[i]) : b[i] == (uint8_t)pattern[i];
        if (!ok)
            return PW_PARSE_MISMATCH;
    }
    if (n <= plen)
        return PW_PARSE_NEED_MORE;
    if (b[plen] != ' ' && b[plen] != '\r' && b[plen] != '\n')
        return PW_PARSE_MISMATCH;
    const uint8_t *lf = memchr(b, '\n', n);
    if (!lf)
        return PW_PARSE_NEED_MORE;
    /* The reason phrase: printable text and tabs only. */
    for (const uint8_t *p = b + plen; p < lf; p++)
        if ((*p < 0x20 && *p != '\t' && !(*p == '\r' && p + 1 == lf)) || *p == 0x7f)
            return PW_PARSE_MISMATCH;
    out->major = b[5] - '0';
    out->minor = b[7] - '0';
    out->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    if (out->status < 100)
        return PW_PARSE_MISMATCH;
    *line_end = (size_t)(lf - b);
    return PW_PARSE_OK;
}

/* Copies the Server header's value (trimmed, printable) if the line
 * [a, e) is one. */
static void maybe_server(const uint8_t *a, const uint8_t *e, struct pw_http_info *out)
{
    static const char name[] = "server:";
    size_t k = sizeof name - 1;
    if ((size_t)(e - a) < k)
        return;
    for (size_t i = 0; i < k; i++)
        if (lower(a[i]) != (uint8_t)name[i])
            return;
    a += k;
    while (a < e && (*a == ' ' || *a == '\t'))
        a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    size_t o = 0;
    for (; a < e && o + 1 < sizeof out->server; a++)
        out->server[o++] = *a >= 0x20 && *a < 0x7f ? (char)*a : '?';
    out->server[o] = '\0';
}

enum pw_parse pw_http_status_parse(const uint8_t *b, size_t n, bool eof,
                                   struct pw_http_info *out)
{
    memset(out, 0, sizeof *out);
    size_t le = 0;
    enum pw_parse st = status_line(b, n, out, &le);
    if (st == PW_PARSE_NEED_MORE)
        return eof ? PW_PARSE_MISMATCH : st;
    if (st != PW_PARSE_OK)
        return st;
    /* Header lines until an empty one; at eof what we have is enough. */
    const uint8_t *p = b + le + 1, *end = b + n;
    while (p < end) {
        const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        if (lf == p || (lf == p + 1 && *p == '\r'))
            return PW_PARSE_OK;
        maybe_server(p, lf, out);
        p = lf + 1;
    }
    return eof ? PW_PARSE_OK : PW_PARSE_NEED_MORE;
}
