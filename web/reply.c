/*
 * Replies (web/reply.h): error documents, JSON and text bodies, shared
 * responses, and their translation into libmicrohttpd responses.
 */
#include "web/reply.h"

#include "base/text.h"
#include "web/gzip.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* The ETag of a body: FNV-1a, 64 bits, as 16 hex digits, quoted; the
 * gzip'd copy of the same body is another representation, tagged "-gz". */
static void etag_of(const char *body, size_t len, bool gz, char tag[PW_ETAG_MAX])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)body[i]) * 0x100000001b3ULL;
    snprintf(tag, PW_ETAG_MAX, "\"%016llx%s\"", (unsigned long long)h, gz ? "-gz" : "");
}

/* The tag of a body's gzip'd copy: "-gz" inside the quotes. */
static void tag_gz(char tag[PW_ETAG_MAX])
{
    size_t n = strlen(tag);
    if (n >= 2 && n + 3 < PW_ETAG_MAX && tag[n - 1] == '"')
        memcpy(tag + n - 1, "-gz\"", 5);
}

/* Whether If-None-Match names tag (weak comparison: "W/" ignored, RFC
 * 9110 13.1.2) or is "*". */
static bool inm_matches(const char *inm, const char *tag)
{
    size_t tl = strlen(tag);
    for (const char *p = inm; p && *p;) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == tl && memcmp(p, tag, tl) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

struct pw_shared {
    uv_mutex_t lock; /* guards refs (uv has no portable atomics) */
    unsigned refs;
    unsigned status;
    struct MHD_Response *plain, *gz;
    char etag[PW_ETAG_MAX], etag_gz[PW_ETAG_MAX]; /* "" for none */
};

struct pw_shared *pw_shared_new(unsigned status, struct MHD_Response *plain,
                                struct MHD_Response *gz)
{
    struct pw_shared *s = plain ? calloc(1, sizeof *s) : NULL;
    if (!s || uv_mutex_init(&s->lock) != 0) {
        free(s);
        if (plain)
            MHD_destroy_response(plain);
        if (gz)
            MHD_destroy_response(gz);
        return NULL;
    }
    s->refs = 1;
    s->status = status;
    s->plain = plain;
    s->gz = gz;
    return s;
}

struct pw_shared *pw_shared_ref(struct pw_shared *s)
{
    uv_mutex_lock(&s->lock);
    s->refs++;
    uv_mutex_unlock(&s->lock);
    return s;
}

void pw_shared_unref(struct pw_shared *s)
{
    if (!s)
        return;
    uv_mutex_lock(&s->lock);
    unsigned left = --s->refs;
    uv_mutex_unlock(&s->lock);
    if (left)
        return;
    MHD_destroy_response(s->plain);
    if (s->gz)
        MHD_destroy_response(s->gz);
    uv_mutex_destroy(&s->lock);
    free(s);
}

/* Copies s for an error's detail, replacing control characters and bytes
 * that are not UTF-8 with '?': a message may quote a client string, cut
 * mid-character, and a client must not be able to put an escape sequence
 * or a line break into what operators read. */
static json_t *json_text(const char *s)
{
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 1;
        unsigned char b = (unsigned char)s[i];
        if (b >= 0xC0)
            len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        bool c1 = b == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] < 0xA0; /* U+0080-9F */
        if (b < 0x20 || b == 0x7F || c1 ||
            (b >= 0x80 && (i + len > n || !pw_utf8_valid(s + i, len)))) {
            c[o++] = '?';
            continue;
        }
        memcpy(c + o, s + i, len);
        o += len;
        i += len - 1;
    }
    json_t *j = json_stringn(c, o);
    free(c);
    return j;
}

void pw_reply_json(struct pw_reply *out, unsigned status, json_t *doc)
{
    char *s = doc ? json_dumps(doc, PW_JSON_DUMP) : NULL;
    json_decref(doc);
    if (!s) {
        static const char oom[] = "{\"error\":\"unavailable\",\"detail\":\"out of memory\"}";
        pw_reply_clear(out);
        out->status = 503;
        out->ctype = "application/json";
        out->len = sizeof oom - 1;
        out->body = malloc(out->len);
        if (out->body)
            memcpy(out->body, oom, out->len);
        return;
    }
    pw_reply_text(out, status, "application/json", s, strlen(s));
}

void pw_buf_json(struct pw_buf *b, json_t *v)
{
    size_t room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0; /* the NUL stays */
    size_t n = v && !b->oom ? json_dumpb(v, b->p ? b->p + b->len : NULL, room, PW_JSON_DUMP) : 0;
    if (n && n <= room) {
        b->len += n;
        b->p[b->len] = '\0';
    } else if (n) { /* did not fit: the buffer grows as pw_buf_add grows it */
        char *tmp = malloc(n);
        if (tmp && json_dumpb(v, tmp, n, PW_JSON_DUMP) == n)
            pw_buf_add(b, tmp, n);
        else
            b->oom = true;
        free(tmp);
    } else {
        b->oom = true;
    }
    json_decref(v);
}

void pw_jlist_begin(struct pw_jlist *l, json_t *head, const char *name)
{
    *l = (struct pw_jlist){0};
    pw_buf_json(&l->b, head);
    if (l->b.oom)
        return;
    l->b.len--; /* the closing brace: the array goes in first */
    if (l->b.len > 1)
        pw_buf_add(&l->b, ",", 1);
    pw_buf_printf(&l->b, "\"%s\":[", name);
}

void pw_jlist_add(struct pw_jlist *l, json_t *element)
{
    if (l->n++)
        pw_buf_add(&l->b, ",", 1);
    pw_buf_json(&l->b, element);
}

char *pw_jlist_end(struct pw_jlist *l, size_t *len)
{
    pw_buf_add(&l->b, "]}", 2);
    if (l->b.oom) {
        free(l->b.p);
        return NULL;
    }
    *len = l->b.len;
    return l->b.p;
}

void pw_reply_jlist(struct pw_reply *out, struct pw_jlist *l)
{
    size_t len;
    char *s = pw_jlist_end(l, &len);
    if (s)
        pw_reply_text(out, 200, "application/json", s, len);
    else
        pw_reply_json(out, 200, NULL); /* out of memory: a 503 */
}

void pw_reply_text(struct pw_reply *out, unsigned status, const char *ctype, char *body,
                   size_t len)
{
    pw_reply_clear(out);
    out->status = status;
    out->ctype = ctype;
    out->body = body;
    out->len = len;
}

/* Ends a detail that did not fit at the last word that did, with "...":
 * never in the middle of a word or of a UTF-8 character. */
static void cut_at_word(char *d, size_t size)
{
    size_t n = size - 4; /* room for "..." and the NUL */
    size_t k = n;
    while (k > n / 2 && d[k] != ' ')
        k--;
    if (k == n / 2) /* one huge word (a quoted value): a character boundary */
        for (k = n; k && ((unsigned char)d[k] & 0xC0) == 0x80;)
            k--;
    while (k && (d[k - 1] == ' ' || d[k - 1] == ',' || d[k - 1] == ';'))
        k--;
    memcpy(d + k, "...", 4);
}

void pw_reply_error(struct pw_reply *out, unsigned status, const char *error, const char *fmt,
                    ...)
{
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof detail)
        cut_at_word(detail, sizeof detail);
    if (out->text_errors) {
        struct pw_buf b = {0};
        pw_buf_printf(&b, "PORTWATCH UNKNOWN - %s: %s\n", error, detail);
        if (!b.oom) {
            /* one line of ASCII, whatever the detail quoted */
            for (size_t i = 0; i + 1 < b.len; i++)
                if ((unsigned char)b.p[i] < 0x20 || (unsigned char)b.p[i] > 0x7E)
                    b.p[i] = '?';
            pw_reply_text(out, status, "text/plain; charset=utf-8", b.p, b.len);
            return;
        }
        free(b.p);
    }
    json_t *doc = json_object();
    if (doc) {
        json_object_set_new(doc, "error", json_string(error));
        json_object_set_new(doc, "detail", json_text(detail));
    }
    pw_reply_json(out, status, doc);
}

void pw_reply_share(struct pw_reply *out, struct pw_shared *s)
{
    pw_reply_clear(out);
    out->shared = pw_shared_ref(s);
    out->status = s->status;
}

void pw_reply_stream(struct pw_reply *out, const char *ctype, const struct pw_body_source *src,
                     const char *seed, size_t seed_len)
{
    pw_reply_clear(out);
    out->status = 200;
    out->ctype = ctype;
    out->stream = *src;
    etag_of(seed, seed_len, false, out->etag);
}

void pw_reply_clear(struct pw_reply *out)
{
    if (out->stream.next)
        out->stream.done(out->stream.ud);
    memset(&out->stream, 0, sizeof out->stream);
    free(out->body);
    out->body = NULL;
    out->len = 0;
    out->gzipped = false;
    pw_shared_unref(out->shared);
    out->shared = NULL;
}

void pw_reply_common_headers(struct MHD_Response *resp, bool tls)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (tls)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY,
                                "max-age=31536000");
}

static void add_headers(struct MHD_Response *resp, const struct pw_reply *out);

struct MHD_Response *pw_reply_response(struct pw_reply *out)
{
    if (!out->body && out->status == 0)
        pw_reply_error(out, 503, "unavailable", "no answer (out of memory)");
    if (!out->body) {
        static const char fallback[] = "{\"error\":\"unavailable\"}";
        out->status = 503;
        return MHD_create_response_from_buffer(sizeof fallback - 1, (void *)fallback,
                                               MHD_RESPMEM_PERSISTENT);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(out->len, out->body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return NULL;
    out->body = NULL; /* the response owns it now */
    add_headers(resp, out);
    return resp;
}

static void add_headers(struct MHD_Response *resp, const struct pw_reply *out)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out->ctype);
    pw_reply_common_headers(resp, out->tls);
    if (out->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
    if (out->challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, out->challenge);
    /* every body may be gzip'd for a client that asks */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (out->gzipped)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (out->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, out->etag);
}

/* Compresses out's body in place when the client takes gzip (kept plain
 * when compression fails: still a correct answer). */
static void maybe_gzip(struct pw_reply *out)
{
    size_t zlen;
    char *z = out->gzip_ok && !out->gzipped && out->body
                  ? pw_web_gzip(out->body, out->len, &zlen) : NULL;
    if (!z)
        return;
    free(out->body);
    out->body = z;
    out->len = zlen;
    out->gzipped = true;
}

/* Queues 304 Not Modified for a representation tagged etag. */
static int send_not_modified(struct MHD_Connection *c, const char *etag, bool tls)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL,
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return 0;
    pw_reply_common_headers(resp, tls);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    int ok = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok;
}

struct pw_shared *pw_reply_to_shared(struct pw_reply *out)
{
    unsigned status = out->status;
    char tag[PW_ETAG_MAX] = "", gz_tag[PW_ETAG_MAX] = "";
    struct MHD_Response *gz = NULL;
    if (out->body && !out->gzipped) {
        if (status == 200)
            etag_of(out->body, out->len, false, tag);
        struct pw_reply z = *out;
        z.body = pw_web_gzip(out->body, out->len, &z.len);
        z.shared = NULL;
        if (z.body) {
            z.gzipped = true;
            memcpy(z.etag, tag, sizeof tag);
            tag_gz(z.etag);
            memcpy(gz_tag, z.etag, sizeof gz_tag);
            gz = pw_reply_response(&z);
            free(z.body); /* only when the response was not made */
        }
    }
    snprintf(out->etag, sizeof out->etag, "%s", tag);
    struct pw_shared *s = pw_shared_new(status, pw_reply_response(out), gz);
    if (s) {
        memcpy(s->etag, tag, sizeof tag);
        memcpy(s->etag_gz, gz_tag, sizeof gz_tag);
    }
    return s;
}

/* Queues out's streamed body, or 304 when If-None-Match names its tag. */
static int send_stream(struct pw_reply *out, struct MHD_Connection *c)
{
    if (out->gzip_ok)
        tag_gz(out->etag);
    if (out->if_none_match && inm_matches(out->if_none_match, out->etag)) {
        pw_reply_clear(out);
        return send_not_modified(c, out->etag, out->tls);
    }
    out->gzipped = out->gzip_ok;
    struct MHD_Response *resp = pw_stream_response(&out->stream, out->gzipped);
    if (!resp)
        return 0;
    add_headers(resp, out);
    int ok = MHD_queue_response(c, out->status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok;
}

int pw_reply_send(struct pw_reply *out, struct MHD_Connection *c)
{
    if (out->shared) {
        struct pw_shared *s = out->shared;
        bool gz = out->gzip_ok && s->gz;
        const char *tag = gz ? s->etag_gz : s->etag;
        if (*tag && out->if_none_match && inm_matches(out->if_none_match, tag))
            return send_not_modified(c, tag, out->tls);
        return MHD_queue_response(c, s->status, gz ? s->gz : s->plain) == MHD_YES;
    }
    if (out->stream.next)
        return send_stream(out, c);
    out->etag[0] = '\0';
    if (out->status == 200 && out->body) /* of the plain body, as to_shared */
        etag_of(out->body, out->len, out->gzipped, out->etag);
    bool was_gz = out->gzipped;
    maybe_gzip(out);
    if (out->gzipped && !was_gz && out->etag[0])
        tag_gz(out->etag);
    if (out->etag[0] && out->if_none_match && inm_matches(out->if_none_match, out->etag))
        return send_not_modified(c, out->etag, out->tls);
    struct MHD_Response *resp = pw_reply_response(out);
    if (!resp)
        return 0;
    int ok = MHD_queue_response(c, out->status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok;
}
