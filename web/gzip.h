/*
 * gzip for large shared responses (the status document), via zlib.
 */
#ifndef PW_WEB_GZIP_H
#define PW_WEB_GZIP_H

#include <stddef.h>

/* gzip-compresses len bytes; returns a malloc'd buffer and its size, or
 * NULL (out of memory, or input over 4 GB). */
char *pw_web_gzip(const char *in, size_t len, size_t *out_len);

#endif
