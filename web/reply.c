/*
 * Replies (web/reply.h): error documents, JSON and text bodies, shared
 * responses, and their translation into libmicrohttpd responses.
 */
#include "web/reply.h"

#include "base/text.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct pw_shared {
    uv_mutex_t lock; /* guards refs (uv has no portable atomics) */
    unsigned refs;
    unsigned status;
    struct MHD_Response *plain, *gz;
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
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
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

void pw_reply_text(struct pw_reply *out, unsigned status, const char *ctype, char *body,
                   size_t len)
{
    pw_reply_clear(out);
    out->status = status;
    out->ctype = ctype;
    out->body = body;
    out->len = len;
}

void pw_reply_error(struct pw_reply *out, unsigned status, const char *error, const char *fmt,
                    ...)
{
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
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

void pw_reply_clear(struct pw_reply *out)
{
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
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out->ctype);
    pw_reply_common_headers(resp, out->tls);
    if (out->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
    if (out->challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, out->challenge);
    if (out->vary_encoding)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (out->gzipped)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return resp;
}

int pw_reply_send(struct pw_reply *out, struct MHD_Connection *c)
{
    if (out->shared) {
        struct pw_shared *s = out->shared;
        struct MHD_Response *resp = out->gzip_ok && s->gz ? s->gz : s->plain;
        return MHD_queue_response(c, s->status, resp) == MHD_YES;
    }
    struct MHD_Response *resp = pw_reply_response(out);
    if (!resp)
        return 0;
    int ok = MHD_queue_response(c, out->status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok;
}
