/*
 * A request's answer (struct pw_reply), as endpoints fill it, and how it
 * becomes a libmicrohttpd response: JSON and text bodies, the error
 * document every 4xx/5xx carries, the headers every answer carries, and
 * shared answers (the status cache, the health memo) that many requests
 * queue without copying. Endpoints see only this header's pw_reply_*
 * functions; libmicrohttpd stays inside reply.c and server.c.
 */
#ifndef PW_WEB_REPLY_H
#define PW_WEB_REPLY_H

#include "base/text.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;
struct MHD_Response;

/* How every JSON document is written: compact, and reals with 15
 * significant digits, so that a value rounded to what it means prints as
 * such (0.081, never 0.081000000000000003: 17 digits show the binary
 * approximation). */
#define PW_JSON_DUMP (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Appends v as PW_JSON_DUMP writes it to b and drops the reference (NULL:
 * b->oom). A large document written a value at a time reuses a few small
 * allocations where one jansson tree of 100,000 targets makes and frees
 * millions at once. */
void pw_buf_json(struct pw_buf *b, json_t *v);

/* A document whose last member is a long array (every target, every
 * outage), written an element at a time: {head's members, "name":[...]}.
 * begin and add take their references; end returns the text (NULL, all
 * freed: out of memory); pw_reply_jlist makes it out's 200 (or a 503). */
struct pw_jlist {
    struct pw_buf b;
    size_t n;
};
void pw_jlist_begin(struct pw_jlist *l, json_t *head, const char *name);
void pw_jlist_add(struct pw_jlist *l, json_t *element);
char *pw_jlist_end(struct pw_jlist *l, size_t *len);

/* A ready response shared by many requests: its status, the plain body
 * and optionally the same gzip-compressed. Reference-counted by us so that
 * a holder can queue it without a lock held: libmicrohttpd counts its own
 * references to a queued response, but offers no way to take one outside
 * MHD_queue_response. The last pw_shared_unref destroys the responses
 * (libmicrohttpd frees them when their last queued copy is sent). */
struct pw_shared;
/* Takes plain and gz (either may be NULL; NULL plain: returns NULL). */
struct pw_shared *pw_shared_new(unsigned status, struct MHD_Response *plain,
                                struct MHD_Response *gz);
struct pw_shared *pw_shared_ref(struct pw_shared *s);
void pw_shared_unref(struct pw_shared *s);

/* A body written while it is sent, piece by piece (web/stream.c), for an
 * answer too large to hold whole (GET /metrics of 100,000 targets). */
struct pw_body_source {
    /* Appends the next piece (some kilobytes) to b; false after the last
     * one. Failure: b->oom set (the client sees a cut body). */
    bool (*next)(void *ud, struct pw_buf *b);
    void (*done)(void *ud); /* frees ud: sent, abandoned or never queued */
    void *ud;
};

/* "\"0123456789abcdef-gz\"" and its NUL */
#define PW_ETAG_MAX 24

struct pw_reply {
    unsigned status;
    char *body;            /* malloc'd */
    size_t len;
    const char *ctype;
    const char *allow;     /* Allow header (405) */
    const char *challenge; /* WWW-Authenticate header (401) */
    struct pw_shared *shared; /* a reference: queued instead of body */
    struct pw_body_source stream; /* .next set: queued instead of body */
    bool gzip_ok;          /* the client takes gzip */
    bool gzipped;          /* body is gzip'd: Content-Encoding */
    bool vary_encoding;    /* unused: every answer carries Vary: Accept-Encoding now */
    bool tls;              /* served over TLS: HSTS */
    bool text_errors;      /* errors as one plugin line (the text health) */
    const char *if_none_match; /* the request's If-None-Match (the
                                  request's own storage), or NULL */
    char etag[PW_ETAG_MAX]; /* set by pw_reply_send for a 200 */
};

void pw_reply_json(struct pw_reply *out, unsigned status, json_t *doc); /* steals doc */
void pw_reply_jlist(struct pw_reply *out, struct pw_jlist *l); /* 200; 503 out of memory */
void pw_reply_text(struct pw_reply *out, unsigned status, const char *ctype, char *body,
                   size_t len); /* takes body (malloc'd) */
/* An error document {"error": error, "detail": printf(fmt, ...)}; the
 * detail is cut at 767 bytes and made valid UTF-8. With out->text_errors,
 * the line "PORTWATCH UNKNOWN - error: detail" as text/plain instead: a
 * monitoring plugin's answer when it cannot judge (same status). */
void pw_reply_error(struct pw_reply *out, unsigned status, const char *error,
                    const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(4, 5)
#endif
    ;
/* A 200 whose body src writes while it is sent (gzip'd on the way when
 * the client takes gzip), taking src. Its ETag is a hash of seed, which
 * must change whenever the body would (the body is not known before it
 * is sent). */
void pw_reply_stream(struct pw_reply *out, const char *ctype, const struct pw_body_source *src,
                     const char *seed, size_t seed_len);
/* Answers with a shared response (takes a reference of its own). */
void pw_reply_share(struct pw_reply *out, struct pw_shared *s);
/* A shared answer made of out's body (taken: out is left empty), with its
 * ETag and a gzip'd copy; NULL out of memory. */
struct pw_shared *pw_reply_to_shared(struct pw_reply *out);
/* Frees whatever out holds. */
void pw_reply_clear(struct pw_reply *out);

/* ---- for the server's files -------------------------------------------- */

/* The response for a filled reply (taking its body), with the common
 * headers; a 503 document when out is empty. NULL: out of memory. */
struct MHD_Response *pw_reply_response(struct pw_reply *out);
/* Adds the headers every API answer carries: no-store, nosniff, and over
 * TLS Strict-Transport-Security (browsers then refuse plain HTTP to this
 * host for a year, so a token is never sent in clear by a mistyped URL). */
void pw_reply_common_headers(struct MHD_Response *resp, bool tls);
/* Queues out on c (a shared answer or its body); 1 queued, 0 failed.
 * Every 200 carries an ETag (a hash of the plain body; "-gz" marks the
 * gzip'd copy) and is answered 304 Not Modified, without a body, when
 * If-None-Match names it. A body that is not compressed yet is gzip'd
 * when the client takes gzip (out->gzip_ok). */
int pw_reply_send(struct pw_reply *out, struct MHD_Connection *c);
/* stream.c: the response that sends src's body (taken: src is left
 * empty; done is called also on failure), gzip'd when gz; NULL out of
 * memory. */
struct MHD_Response *pw_stream_response(struct pw_body_source *src, bool gz);

#endif
