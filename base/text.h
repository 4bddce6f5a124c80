/*
 * Text helpers for every module: UTF-8 (RFC 3629) decoding and validation,
 * a client's or a file's string made safe to quote in a message, ASCII
 * case and hex digits (locale-independent), and the growable buffer the
 * non-JSON formats (Prometheus, text health) are written into.
 */
#ifndef PW_BASE_TEXT_H
#define PW_BASE_TEXT_H

#include "base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the UTF-8 sequence at s (at most n bytes, s[0] >= 0x80) and its
 * code point, or 0 when the bytes are not UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
size_t pw_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
/* Whether s[0..n) is well-formed UTF-8. */
bool pw_utf8_valid(const char *s, size_t n);
/* Drops an incomplete UTF-8 sequence from the end of s, as left where a
 * message was cut to fit its buffer, so that what is printed stays text. */
void pw_utf8_trim_cut(char *s);

/* A client-supplied string made safe to quote in a message: printable
 * ASCII kept, anything else as \xNN, cut with "..." to fit len (>= 16)
 * bytes including the NUL. */
void pw_printable(const char *s, size_t n, char *buf, size_t len);
/* pw_printable of a whole string; returns buf (for a message). */
const char *pw_shown(const char *s, char *buf, size_t len);

/* A-Z as a-z, anything else as is; locale-independent. */
char pw_ascii_lower(char c);
/* Case-insensitive ASCII comparison; locale-independent. */
int pw_strcasecmp(const char *a, const char *b);
/* The value of a hexadecimal digit (either case), or -1. */
int pw_hex_digit(char c);

/* Growable text buffer: appends never fail loudly, oom says one did. */
struct pw_buf {
    char *p;
    size_t len, cap;
    bool oom;
};
void pw_buf_add(struct pw_buf *b, const char *s, size_t n);
void pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
PW_PRINTF(2, 3)
    ;

#endif
