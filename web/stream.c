/*
 * Bodies written while they are sent (web/reply.h, struct
 * pw_body_source): a libmicrohttpd callback response asks for the next
 * block, the source appends its next piece, gzip'd on the way when the
 * client takes gzip. What one such body holds is one piece, plain and
 * compressed, whatever the body's size: a /metrics scrape of 100,000
 * targets is a hundred megabytes of text, which rendered whole was most
 * of the daemon's peak memory.
 */
#include "web/reply.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* libmicrohttpd's block: what one call of read_cb may fill. */
#define STREAM_BLOCK (32 * 1024)

struct stream {
    struct pw_body_source src;
    bool gz;         /* compress what the source writes */
    bool ended;      /* the source said its last piece */
    z_stream z;
    struct pw_buf piece; /* the source's last piece (gz: before compression) */
    char *zout;      /* gz: the piece compressed */
    size_t zcap;
    char *out;       /* what is being sent: piece.p or zout */
    size_t len, off;
};

/* Compresses s->piece into s->zout (the whole of it; the gzip trailer
 * too once the source ended). False: zlib failed or out of memory. */
static bool deflate_piece(struct stream *s)
{
    s->z.next_in = (Bytef *)s->piece.p;
    s->z.avail_in = (uInt)s->piece.len;
    size_t done = 0;
    for (;;) {
        if (done == s->zcap) {
            size_t cap = s->zcap ? s->zcap * 2 : STREAM_BLOCK;
            char *p = realloc(s->zout, cap);
            if (!p)
                return false;
            s->zout = p;
            s->zcap = cap;
        }
        s->z.next_out = (Bytef *)s->zout + done;
        s->z.avail_out = (uInt)(s->zcap - done);
        int rc = deflate(&s->z, s->ended ? Z_FINISH : Z_NO_FLUSH);
        done = s->zcap - s->z.avail_out;
        if (rc == Z_STREAM_END)
            break; /* the end: all written out, the trailer too */
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return false;
        if (s->z.avail_out) { /* room left: all taken in */
            if (s->ended)
                return false; /* Z_FINISH stops only at the end or a full buffer */
            break;
        }
    }
    s->out = s->zout;
    s->len = done;
    return true;
}

/* Readies the next bytes to send in s->out; false when the source or
 * zlib failed. At the end, s->len stays 0. */
static bool refill(struct stream *s)
{
    s->len = s->off = 0;
    while (s->len == 0 && !s->ended) {
        s->piece.len = 0;
        s->ended = !s->src.next(s->src.ud, &s->piece);
        if (s->piece.oom)
            return false;
        if (s->gz) {
            if (!deflate_piece(s))
                return false;
        } else {
            s->out = s->piece.p;
            s->len = s->piece.len;
        }
    }
    return true;
}

static ssize_t read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    if (s->off == s->len && !refill(s))
        return MHD_CONTENT_READER_END_WITH_ERROR; /* the client sees a cut body */
    if (s->len == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->out + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void free_cb(void *cls)
{
    struct stream *s = cls;
    s->src.done(s->src.ud);
    if (s->gz)
        deflateEnd(&s->z);
    free(s->piece.p);
    free(s->zout);
    free(s);
}

struct MHD_Response *pw_stream_response(struct pw_body_source *src, bool gz)
{
    struct stream *s = calloc(1, sizeof *s);
    /* as web/gzip.c: level 6, a gzip header and trailer (15 + 16) */
    if (s && gz && deflateInit2(&s->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(s);
        s = NULL;
    }
    if (!s) {
        src->done(src->ud);
        memset(src, 0, sizeof *src);
        return NULL;
    }
    s->src = *src;
    s->gz = gz;
    memset(src, 0, sizeof *src); /* the stream owns it now */
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  read_cb, s, free_cb);
    if (!resp)
        free_cb(s);
    return resp;
}
