/*
 * Value parsers shared by the configuration file and the command line.
 * Every message says what was given and what is allowed, because an
 * operator reads it at 3 a.m. without the manual at hand.
 */
#include "config/values.h"

#include "config/error.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PW_PRINTF(3, 4)
static int fail(char err[PW_ERRBUF], int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, PW_ERRBUF, fmt, ap);
    va_end(ap);
    return code;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int pw_strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int d = (unsigned char)lower(*a) - (unsigned char)lower(*b);
        if (d != 0 || *a == '\0')
            return d;
    }
}

int pw_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- durations ---------------------------------------------------------- */

static const struct {
    const char *suffix;
    int64_t ms;
} units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

#define DURATION_HELP "use a number with a unit: ms, s, m, h or d (e.g. 500ms, 30s, 5m, 1h, 7d)"

int pw_parse_duration(const char *s, int64_t *ms, char err[PW_ERRBUF])
{
    const char *p = s;
    int64_t total = 0;
    int parts = 0;

    while (is_space(*p))
        p++;
    if (*p == '\0')
        return fail(err, PW_EINVAL, "empty duration; " DURATION_HELP);
    while (*p && !is_space(*p)) {
        if (!is_digit(*p))
            return fail(err, PW_EINVAL, "'%s' is not a duration; " DURATION_HELP, s);
        int64_t n = 0;
        while (is_digit(*p)) {
            if (n > (INT64_MAX - 9) / 10)
                return fail(err, PW_ERANGE, "duration '%s' is too large", s);
            n = n * 10 + (*p++ - '0');
        }
        size_t ulen = 0;
        while (p[ulen] && !is_digit(p[ulen]) && !is_space(p[ulen]))
            ulen++;
        if (ulen == 0)
            return fail(err, PW_EINVAL, "'%s' has a number without a unit; " DURATION_HELP, s);
        int64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].suffix) == ulen && strncmp(p, units[i].suffix, ulen) == 0)
                unit = units[i].ms;
        if (unit == 0)
            return fail(err, PW_EINVAL, "'%s' has an unknown unit '%.*s'; " DURATION_HELP,
                        s, (int)ulen, p);
        if (n > (INT64_MAX - total) / unit)
            return fail(err, PW_ERANGE, "duration '%s' is too large", s);
        total += n * unit;
        p += ulen;
        parts++;
    }
    while (is_space(*p))
        p++;
    if (*p != '\0')
        return fail(err, PW_EINVAL, "'%s' is not one duration; " DURATION_HELP, s);
    *ms = total;
    return 0;
}

void pw_format_duration(int64_t ms, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    if (ms <= 0 || ms % 1000 != 0) {
        snprintf(buf, len, "%lldms", (long long)ms);
        return;
    }
    buf[0] = '\0';
    for (int i = (int)(sizeof units / sizeof units[0]) - 1; i >= 1 && used < len; i--) {
        int64_t n = ms / units[i].ms;
        if (n == 0)
            continue;
        ms -= n * units[i].ms;
        int w = snprintf(buf + used, len - used, "%lld%s", (long long)n, units[i].suffix);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

/* ---- integers and booleans --------------------------------------------- */

int pw_parse_int(const char *s, long long min, long long max, long long *out,
                 char err[PW_ERRBUF])
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!is_digit(*p))
        return fail(err, PW_EINVAL, "'%s' is not a whole number; use %lld to %lld", s, min, max);
    long long v = 0;
    for (; is_digit(*p); p++) {
        if (v > (LLONG_MAX - 9) / 10)
            return fail(err, PW_ERANGE, "'%s' is out of range; use %lld to %lld", s, min, max);
        v = v * 10 + (*p - '0');
    }
    if (*p != '\0')
        return fail(err, PW_EINVAL, "'%s' is not a whole number; use %lld to %lld", s, min, max);
    if (neg)
        v = -v;
    if (v < min || v > max)
        return fail(err, PW_ERANGE, "%lld is out of range; use %lld to %lld", v, min, max);
    *out = v;
    return 0;
}

#define RATE_HELP "use a whole number a second from %lld to %lld, e.g. 10 or 10/s"

int pw_parse_rate(const char *s, long long min, long long max, long long *out,
                  char err[PW_ERRBUF])
{
    const char *p = s;
    while (is_space(*p))
        p++;
    const char *num = p;
    if (*p == '-' || *p == '+')
        p++;
    if (!is_digit(*p))
        return fail(err, PW_EINVAL, "'%s' is not a rate; " RATE_HELP, s, min, max);
    while (is_digit(*p))
        p++;
    const char *end = p; /* the number is num..end */
    while (is_space(*p))
        p++;
    if (*p == '/') {
        p++;
        while (is_space(*p))
            p++;
        size_t ulen = 0;
        while (p[ulen] && !is_space(p[ulen]))
            ulen++;
        if (!(ulen == 1 && lower(*p) == 's'))
            return fail(err, PW_EINVAL, "'%s' has an unknown unit '/%.*s'; only /s is allowed: " RATE_HELP,
                        s, (int)ulen, p, min, max);
        p += ulen;
        while (is_space(*p))
            p++;
    }
    if (*p != '\0')
        return fail(err, PW_EINVAL, "'%s' is not a whole number a second; " RATE_HELP, s, min, max);
    char digits[32];
    if ((size_t)(end - num) >= sizeof digits)
        return fail(err, PW_ERANGE, "'%s' is out of range; use %lld/s to %lld/s", s, min, max);
    memcpy(digits, num, (size_t)(end - num));
    digits[end - num] = '\0';
    long long v;
    char ierr[PW_ERRBUF];
    if (pw_parse_int(digits, LLONG_MIN + 1, LLONG_MAX, &v, ierr) != 0 || v < min || v > max)
        return fail(err, PW_ERANGE, "%s/s is out of range; use %lld/s to %lld/s", digits, min, max);
    *out = v;
    return 0;
}

int pw_parse_bool(const char *s, int *out, char err[PW_ERRBUF])
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (pw_strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (pw_strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return fail(err, PW_EINVAL, "'%s' is not a yes/no value; use yes or no", s);
}

/* ---- port lists -------------------------------------------------------- */

static int parse_port(const char **pp, uint16_t *out, const char *whole, char err[PW_ERRBUF])
{
    const char *p = *pp;
    if (!is_digit(*p))
        return fail(err, PW_EINVAL,
                    "'%s' is not a port list; use ports 1-65535 and ranges, e.g. 135, 445, 50000-50200",
                    whole);
    long v = 0;
    while (is_digit(*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > 65535) {
            while (is_digit(*p))
                p++;
            return fail(err, PW_ERANGE, "port %.*s is out of range; ports are 1-65535",
                        (int)(p - *pp), *pp);
        }
    }
    if (v == 0)
        return fail(err, PW_ERANGE, "port 0 is not a usable port; ports are 1-65535");
    *out = (uint16_t)v;
    *pp = p;
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const struct pw_port_range *x = a, *y = b;
    return (int)x->lo - (int)y->lo;
}

static void format_range(const struct pw_port_range *r, char *buf, size_t len)
{
    if (r->lo == r->hi)
        snprintf(buf, len, "%u", r->lo);
    else
        snprintf(buf, len, "%u-%u", r->lo, r->hi);
}

int pw_parse_ports(const char *s, struct pw_portset *out, char err[PW_ERRBUF])
{
    struct pw_port_range *r = NULL;
    size_t n = 0, cap = 0;
    const char *p = s;
    int rc = 0;

    for (;;) {
        while (is_space(*p))
            p++;
        if (*p == '\0' && n == 0) {
            rc = fail(err, PW_EINVAL, "empty port list; give ports and ranges, e.g. 135, 445, 50000-50200");
            goto out;
        }
        struct pw_port_range cur;
        if ((rc = parse_port(&p, &cur.lo, s, err)) != 0)
            goto out;
        cur.hi = cur.lo;
        while (is_space(*p))
            p++;
        if (*p == '-') {
            p++;
            while (is_space(*p))
                p++;
            if ((rc = parse_port(&p, &cur.hi, s, err)) != 0)
                goto out;
            if (cur.hi < cur.lo) {
                rc = fail(err, PW_ERANGE, "range %u-%u is reversed; write it low-high: %u-%u",
                          cur.lo, cur.hi, cur.hi, cur.lo);
                goto out;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct pw_port_range *nr = realloc(r, cap * sizeof *r);
            if (!nr) {
                rc = fail(err, PW_ENOMEM, "out of memory");
                goto out;
            }
            r = nr;
        }
        r[n++] = cur;
        while (is_space(*p))
            p++;
        if (*p == '\0')
            break;
        if (*p != ',') {
            rc = fail(err, PW_EINVAL,
                      "unexpected '%c' in port list '%s'; separate ports and ranges with commas",
                      *p, s);
            goto out;
        }
        p++;
    }
    qsort(r, n, sizeof *r, cmp_range);
    for (size_t i = 1; i < n; i++) {
        if (r[i].lo <= r[i - 1].hi) {
            char a[16], b[16];
            format_range(&r[i - 1], a, sizeof a);
            format_range(&r[i], b, sizeof b);
            if (strcmp(a, b) == 0)
                rc = fail(err, PW_EDUPLICATE, "port %s is listed twice; list each port once", a);
            else
                rc = fail(err, PW_EDUPLICATE, "%s overlaps %s; list each port once", a, b);
            goto out;
        }
    }
    out->r = r;
    out->n = n;
    return 0;
out:
    free(r);
    return rc;
}

size_t pw_portset_count(const struct pw_portset *ps)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++)
        n += (size_t)ps->r[i].hi - ps->r[i].lo + 1;
    return n;
}

int pw_portset_contains(const struct pw_portset *ps, uint16_t port)
{
    for (size_t i = 0; i < ps->n; i++)
        if (port >= ps->r[i].lo && port <= ps->r[i].hi)
            return 1;
    return 0;
}

void pw_portset_format(const struct pw_portset *ps, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < ps->n && used < len; i++) {
        char one[16];
        format_range(&ps->r[i], one, sizeof one);
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", one);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

void pw_portset_free(struct pw_portset *ps)
{
    free(ps->r);
    ps->r = NULL;
    ps->n = 0;
}

/* ---- hosts ------------------------------------------------------------- */

static int host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
           c == '-' || c == '_' || c == '.' || c == ':' || c == '%';
}

/* Checks one host token: a DNS name, an IPv4 literal, or an IPv6 literal
 * (colons only appear in IPv6). */
static int check_host(const char *h, char err[PW_ERRBUF])
{
    size_t n = strlen(h);
    if (n == 0)
        return fail(err, PW_EINVAL, "empty host name in list");
    if (n > 253)
        return fail(err, PW_EINVAL, "host name '%.40s...' is longer than 253 characters", h);
    for (const char *p = h; *p; p++)
        if (!host_char((unsigned char)*p))
            return fail(err, PW_EINVAL,
                        "host '%s' has a character not allowed in a host name ('%c'); "
                        "use a DNS name, an IPv4 address or an IPv6 address",
                        h, *p);
    if (strchr(h, ':') == NULL && (h[0] == '-' || h[0] == '.' || h[n - 1] == '-'))
        return fail(err, PW_EINVAL, "host '%s' cannot start or end with '-' or start with '.'", h);
    return 0;
}

void pw_host_list_free(struct pw_host_list *hl)
{
    for (size_t i = 0; i < hl->n; i++)
        free(hl->names[i]);
    free(hl->names);
    hl->names = NULL;
    hl->n = 0;
}

int pw_parse_hosts(const char *s, struct pw_host_list *out, char err[PW_ERRBUF])
{
    struct pw_host_list hl = {0};
    const char *p = s;
    int rc = 0;

    for (;;) {
        while (is_space(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p && !is_space(*p) && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        if (start[0] == '[') {
            if (len < 3 || start[len - 1] != ']') {
                rc = fail(err, PW_EINVAL, "'%.*s' opens '[' without a closing ']'", (int)len, start);
                goto out;
            }
            start++;
            len -= 2;
        }
        char *name = malloc(len + 1);
        char **nn = realloc(hl.names, (hl.n + 1) * sizeof *nn);
        if (!name || !nn) {
            free(name);
            if (nn)
                hl.names = nn;
            rc = fail(err, PW_ENOMEM, "out of memory");
            goto out;
        }
        hl.names = nn;
        memcpy(name, start, len);
        name[len] = '\0';
        hl.names[hl.n++] = name;
        if ((rc = check_host(name, err)) != 0)
            goto out;
        for (size_t i = 0; i + 1 < hl.n; i++)
            if (pw_strcasecmp(hl.names[i], name) == 0) {
                rc = fail(err, PW_EDUPLICATE, "host '%s' is listed twice", name);
                goto out;
            }
    }
    if (hl.n == 0) {
        rc = fail(err, PW_EINVAL, "empty host list; give host names or addresses separated by commas");
        goto out;
    }
    *out = hl;
    return 0;
out:
    pw_host_list_free(&hl);
    return rc;
}

int pw_parse_listen(const char *s, char **host, uint16_t *port, char err[PW_ERRBUF])
{
    const char *colon;
    const char *hs = s;
    size_t hlen;
    static const char help[] = "use ADDRESS:PORT, e.g. 127.0.0.1:8470 or [::1]:8470";

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return fail(err, PW_EINVAL, "'%s' is not a listen address; %s", s, help);
        hs = s + 1;
        hlen = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return fail(err, PW_EINVAL, "'%s' is not a listen address; %s", s, help);
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0)
        return fail(err, PW_EINVAL, "'%s' has no address; %s", s, help);
    long long v;
    char perr[PW_ERRBUF];
    if (pw_parse_int(colon + 1, 1, 65535, &v, perr) != 0)
        return fail(err, PW_EINVAL, "'%s' has a bad port (%s); %s", s, perr, help);
    char *h = malloc(hlen + 1);
    if (!h)
        return fail(err, PW_ENOMEM, "out of memory");
    memcpy(h, hs, hlen);
    h[hlen] = '\0';
    if (check_host(h, err) != 0) {
        free(h);
        return PW_EINVAL;
    }
    *host = h;
    *port = (uint16_t)v;
    return 0;
}

int pw_is_loopback(const char *host)
{
    if (pw_strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return 1;
    if (strncmp(host, "127.", 4) != 0)
        return 0;
    /* a dotted quad under 127/8 */
    int dots = 0;
    for (const char *p = host; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!is_digit(*p))
            return 0;
    }
    return dots == 3;
}
