/*
 * Text helpers of the web layer: UTF-8 validation (every string a client
 * sends, every string put in a JSON document) and the growable buffer the
 * non-JSON formats (Prometheus, text health) are written into. The bottom
 * of web/: includes nothing else of web/.
 */
#ifndef PW_WEB_TEXT_H
#define PW_WEB_TEXT_H

#include "config/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
bool pw_web_utf8_valid(const char *s, size_t n);

/* A client-supplied string made safe to quote in a message: printable
 * ASCII kept, anything else as \xNN, cut with "..." to fit len (>= 16)
 * bytes including the NUL. */
void pw_web_printable(const char *s, size_t n, char *buf, size_t len);
/* pw_web_printable of a whole string; returns buf (for a message). */
const char *pw_web_shown(const char *s, char *buf, size_t len);

/* Growable text buffer: appends never fail loudly, oom says one did. */
struct pw_buf {
    char *p;
    size_t len, cap;
    bool oom;
};
void pw_buf_add(struct pw_buf *b, const char *s, size_t n);
void pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    PW_PRINTF(2, 3)
#endif
    ;

#endif
