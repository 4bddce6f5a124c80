/*
 * Value parsers shared by the configuration file and the command line.
 * Every message says what was given and what is allowed, because an
 * operator reads it at 3 a.m. without the manual at hand.
 */
#include "config/values.h"

#include "base/clock.h"
#include "base/error.h"
#include "base/text.h"

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
    pw_utf8_trim_cut(err);
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

/* Bytes of the character at p, to quote it whole in a message. */
static int char_len(const char *p)
{
    uint32_t cp;
    size_t n = (unsigned char)*p < 0x80 ? 1 : pw_utf8_seq((const unsigned char *)p, strlen(p), &cp);
    return n ? (int)n : 1;
}

/* ---- durations ---------------------------------------------------------- */

static const struct {
    const char *suffix;
    int64_t ms;
} units[] = {
    {"ms", 1}, {"s", PW_SECOND_MS}, {"m", PW_MINUTE_MS}, {"h", PW_HOUR_MS}, {"d", PW_DAY_MS},
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
        if (!(ulen == 1 && pw_ascii_lower(*p) == 's'))
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
                      "unexpected '%.*s' in port list '%s'; separate ports and ranges with commas",
                      char_len(p), p, s);
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

/* ---- text ---------------------------------------------------------------- */

int pw_check_text(const char *s, size_t n, char err[PW_ERRBUF])
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp = u[i];
        size_t len = 1;
        if (cp >= 0x80 && (len = pw_utf8_seq(u + i, n - i, &cp)) == 0)
            return fail(err, PW_EINVAL, "not UTF-8 at byte %zu of the line (0x%02X); save the file as UTF-8",
                        i + 1, u[i]);
        if (cp == 0xFEFF)
            return fail(err, PW_EINVAL,
                        "byte order mark (U+FEFF) at byte %zu of the line: one belongs only at the "
                        "start of a file (were two files joined?); remove it",
                        i + 1);
        if ((cp < 0x20 && cp != '\t') || (cp >= 0x7F && cp <= 0x9F))
            return fail(err, PW_EINVAL,
                        "control character U+%04X at byte %zu of the line; only printable text is allowed",
                        (unsigned)cp, i + 1);
        i += len;
    }
    return 0;
}

/* ---- hosts ------------------------------------------------------------- */

#define HOST_HELP                                                                        \
    "use a host name (letters, digits, '-' and '_' in dot-separated labels), an IPv4 "   \
    "address or an IPv6 address (::1 or [::1])"

/* A dotted quad of len bytes: four numbers 0-255 without leading zeros
 * (which some resolvers read as octal). */
static int is_ipv4(const char *s, size_t len)
{
    int parts = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        unsigned v = 0;
        while (i < len && is_digit(s[i]) && i - start < 4)
            v = v * 10 + (unsigned)(s[i++] - '0');
        size_t digits = i - start;
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[start] == '0'))
            return 0;
        if (++parts == 4)
            return i == len;
        if (i == len || s[i++] != '.')
            return 0;
    }
    return 0;
}

/* An IPv6 address in its text form (RFC 4291 2.2: eight groups of 1-4 hex
 * digits, one "::" for a run of zero groups, an IPv4 tail) with an optional
 * zone ("%eth0", RFC 4007). */
static int is_ipv6(const char *s)
{
    const char *zone = strchr(s, '%');
    size_t len = zone ? (size_t)(zone - s) : strlen(s);
    if (zone && (zone[1] == '\0' || strspn(zone + 1, "abcdefghijklmnopqrstuvwxyz"
                                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                                          strlen(zone + 1)))
        return 0;
    int groups = 0, gap = 0;
    size_t i = 0;
    if (len >= 2 && s[0] == ':' && s[1] == ':')
        gap = 1, i = 2;
    while (i < len) {
        size_t j = i;
        while (j < len && j - i < 5 && pw_hex_digit(s[j]) >= 0)
            j++;
        if (j < len && s[j] == '.') {
            if (!is_ipv4(s + i, len - i))
                return 0;
            groups += 2;
            break;
        }
        if (j == i || j - i > 4)
            return 0;
        groups++;
        i = j;
        if (i == len)
            break;
        if (s[i++] != ':' || i == len)
            return 0;
        if (s[i] == ':') {
            if (gap)
                return 0;
            gap = 1;
            i++;
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

/* A host name: RFC 1123 labels of 1-63 letters, digits and '-' (not first
 * or last), and '_' as Windows names use it; at most 253 characters, one
 * trailing dot allowed. */
static int check_name(const char *h, char err[PW_ERRBUF])
{
    size_t n = strlen(h);
    if (n > 1 && h[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c >= 0x80)
            return fail(err, PW_EINVAL, "host '%s' is not ASCII: write an internationalized name in "
                        "its xn-- (punycode) form, or " HOST_HELP, h);
        if (!(is_digit((char)c) || (pw_ascii_lower((char)c) >= 'a' && pw_ascii_lower((char)c) <= 'z') || c == '-' ||
              c == '_' || c == '.'))
            return fail(err, PW_EINVAL, "host '%s' has '%c', which a host name cannot have; " HOST_HELP,
                        h, c);
    }
    if (n > 253)
        return fail(err, PW_EINVAL, "host name '%.40s...' has %zu characters; at most 253 are allowed", h, n);
    for (size_t i = 0; i < n;) {
        size_t l = i;
        while (l < n && h[l] != '.')
            l++;
        if (l == i)
            return fail(err, PW_EINVAL, "host '%s' has an empty label (a leading dot or two dots in a "
                        "row); " HOST_HELP, h);
        if (l - i > 63)
            return fail(err, PW_EINVAL, "host '%.80s' has a label of %zu characters ('%.20s...'); a "
                        "label (the part between dots) may have at most 63", h, l - i, h + i);
        if (h[i] == '-' || h[l - 1] == '-')
            return fail(err, PW_EINVAL, "host '%s' has a label that starts or ends with '-'; " HOST_HELP, h);
        i = l + 1;
    }
    return 0;
}

/* Checks one host token: an IPv6 literal when it has a colon, an IPv4
 * literal when it is all digits and dots, otherwise a host name. */
static int check_host(const char *h, char err[PW_ERRBUF])
{
    if (*h == '\0')
        return fail(err, PW_EINVAL, "empty host name in list; " HOST_HELP);
    const char *colon = strchr(h, ':');
    if (colon) {
        if (is_ipv6(h))
            return 0;
        if (strchr(colon + 1, ':') == NULL)
            return fail(err, PW_EINVAL, "'%s' is not a host: ports do not go in host lists; write the "
                        "host alone ('%.*s') and its ports under ports (the catalog's roles have theirs)",
                        h, (int)(colon - h), h);
        return fail(err, PW_EINVAL, "'%s' is not an IPv6 address (only IPv6 addresses contain ':'); "
                    "write one as ::1 or [::1], e.g. fe80::1 or 2001:db8::10", h);
    }
    if (strspn(h, "0123456789.") == strlen(h)) {
        if (is_ipv4(h, strlen(h)))
            return 0;
        return fail(err, PW_EINVAL, "'%s' is not an IPv4 address: use four numbers 0-255 separated "
                    "by dots, without leading zeros, e.g. 10.1.2.3", h);
    }
    return check_name(h, err);
}

void pw_host_list_free(struct pw_host_list *hl)
{
    for (size_t i = 0; i < hl->n; i++)
        free(hl->names[i]);
    free(hl->names);
    hl->names = NULL;
    hl->n = 0;
}

/* The next host of a list: the text up to the next comma, trimmed, without
 * the brackets of "[::1]". Sets *len to what was consumed from s. */
static int next_host(const char *s, size_t *used, char **name, char err[PW_ERRBUF])
{
    size_t len = strcspn(s, ",");
    *used = len;
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (strcspn(s, " \t") < len)
        return fail(err, PW_EINVAL, "'%.*s' has a space inside a host; separate hosts with commas, "
                    "e.g. sql01, sql02", (int)len, s);
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close && close + 1 < s + len && close[1] == ':')
            return fail(err, PW_EINVAL, "'%.*s' is not a host: ports do not go in host lists; write "
                        "the address alone ('%.*s') and its ports under ports", (int)len, s,
                        (int)(close - s + 1), s);
        if (!close || close != s + len - 1)
            return fail(err, PW_EINVAL, "'%.*s' opens '[' without a closing ']'", (int)len, s);
        s++;
        len -= 2;
        char inner[64];
        snprintf(inner, sizeof inner, "%.*s", (int)len, s);
        if (len >= sizeof inner || !is_ipv6(inner))
            return fail(err, PW_EINVAL, "'[%.*s]': brackets are for IPv6 addresses only, e.g. [::1]",
                        (int)len, s);
    }
    if (!(*name = malloc(len + 1)))
        return fail(err, PW_ENOMEM, "out of memory");
    memcpy(*name, s, len);
    (*name)[len] = '\0';
    return 0;
}

int pw_parse_hosts(const char *s, struct pw_host_list *out, char err[PW_ERRBUF])
{
    struct pw_host_list hl = {0};
    size_t cap = 0;
    const char *p = s;
    int rc = 0;

    for (;;) {
        while (is_space(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (hl.n == cap) {
            cap = cap ? cap * 2 : 4;
            char **nn = realloc(hl.names, cap * sizeof *nn);
            if (!nn) {
                rc = fail(err, PW_ENOMEM, "out of memory");
                goto out;
            }
            hl.names = nn;
        }
        size_t used;
        char *name;
        if ((rc = next_host(p, &used, &name, err)) != 0)
            goto out;
        p += used;
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

/* ---- static labels ------------------------------------------------------ */

#define LABELS_HELP "write name=value pairs separated by commas, e.g. group=prod-a, site=ams"

static int label_name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && is_digit(c)))
            return 0;
    }
    return n > 0;
}

/* Checks one "name=value" item (trimmed, len bytes) against the names
 * already accepted in canon[0..used). */
static int check_label(const char *item, size_t len, const char *canon, size_t used,
                       char err[PW_ERRBUF])
{
    static const char *const own[] = {PW_METRIC_OWN_LABELS};
    const char *eq = memchr(item, '=', len);
    if (!eq)
        return fail(err, PW_EINVAL, "'%.*s' is not name=value; " LABELS_HELP, (int)len, item);
    size_t nlen = (size_t)(eq - item), vlen = len - nlen - 1;
    while (nlen && (item[nlen - 1] == ' ' || item[nlen - 1] == '\t'))
        nlen--;
    if (!label_name_ok(item, nlen))
        return fail(err, PW_EINVAL, "'%.*s' is not a label name; use a letter or '_', then "
                    "letters, digits or '_' (Prometheus' label names), e.g. site", (int)nlen, item);
    if (nlen >= 2 && item[0] == '_' && item[1] == '_')
        return fail(err, PW_EINVAL, "'%.*s': names starting with __ are Prometheus' own; "
                    "choose another, e.g. site", (int)nlen, item);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strlen(own[i]) == nlen && memcmp(own[i], item, nlen) == 0)
            return fail(err, PW_EINVAL, "'%s' is a label portwatch or Prometheus sets itself; "
                        "choose another name, e.g. site or group", own[i]);
    const char *v = eq + 1;
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    if (vlen == 0)
        return fail(err, PW_EINVAL, "label '%.*s' has no value (Prometheus drops an empty "
                    "label); give one, or remove the pair", (int)nlen, item);
    for (const char *p = canon; p < canon + used; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t have = strcspn(p, "=");
        if (have == nlen && memcmp(p, item, nlen) == 0)
            return fail(err, PW_EINVAL, "label '%.*s' is named twice; name it once",
                        (int)nlen, item);
    }
    return 0;
}

int pw_parse_labels(const char *s, char **out, char err[PW_ERRBUF])
{
    size_t cap = strlen(s) + 1, used = 0, n = 0;
    char *canon = malloc(cap);
    if (!canon)
        return fail(err, PW_ENOMEM, "out of memory");
    canon[0] = '\0';
    for (const char *p = s; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        int rc = 0;
        if (len == 0)
            rc = fail(err, PW_EINVAL, "an empty pair in '%s'; " LABELS_HELP, s);
        else if (++n > PW_LABELS_MAX)
            rc = fail(err, PW_EINVAL, "more than %d labels; keep to %d", PW_LABELS_MAX,
                      PW_LABELS_MAX);
        else
            rc = check_label(p, len, canon, used, err);
        if (rc) {
            free(canon);
            return rc;
        }
        /* name and value without the spaces around '=' */
        const char *eq = memchr(p, '=', len), *v = eq + 1;
        size_t nlen = (size_t)(eq - p);
        while (nlen && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
            nlen--;
        while (*v == ' ' || *v == '\t')
            v++;
        used += (size_t)snprintf(canon + used, cap - used, "%s%.*s=%.*s", used ? "," : "",
                                 (int)nlen, p, (int)(p + len - v), v);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    *out = canon;
    return 0;
}
