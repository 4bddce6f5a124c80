/*
 * gzip for large cached responses (the status document). zlib does the
 * work; this file only sizes the buffer and sets the gzip wrapper.
 */
#include "web/gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

char *pw_web_gzip(const char *in, size_t len, size_t *out_len)
{
    if (len > 0xffffffffu)
        return NULL;
    z_stream z = {0};
    /* 15 window bits + 16: a gzip header and trailer rather than zlib's. */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)len);
    char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}
