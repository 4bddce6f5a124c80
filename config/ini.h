/*
 * portwatch's INI reader. Small on purpose: sections in brackets,
 * `key = value` lines, whole-line `;` and `#` comments, and a trailing
 * comment after a space or tab on unquoted values; leading UTF-8 byte order
 * mark and CRLF line endings tolerated. Every line that is read must be
 * UTF-8 without control characters; a byte order mark elsewhere and lone CR
 * line endings are named as such. Each item is handed to a callback with
 * its line number so callers can report file:line errors. Fuzzed by
 * tests/fuzz/fuzz_ini.c.
 */
#ifndef PW_INI_H
#define PW_INI_H

#include <stddef.h>

enum pw_ini_event {
    PW_INI_SECTION, /* key = section name, value = NULL */
    PW_INI_KEY,     /* section, key and value all set */
    PW_INI_ERROR,   /* value = static message naming the problem */
};

/* Return nonzero from the callback to stop parsing. Strings are valid only
 * during the call. Values have surrounding whitespace and a trailing
 * comment removed; a value may be wrapped in double quotes to keep leading
 * or trailing spaces or a comment character. An error about a section
 * header carries no section (it names the header itself), and the keys
 * under a header that could not be read are dropped: the header was the
 * one mistake. */
typedef int (*pw_ini_cb)(void *ud, enum pw_ini_event ev, int line,
                         const char *section, const char *key,
                         const char *value);

/* Parses len bytes (need not be NUL-terminated). Returns the number of
 * PW_INI_ERROR events delivered, or a negative pw_err (PW_ENOMEM). */
int pw_ini_parse(const char *buf, size_t len, pw_ini_cb cb, void *ud);

#endif
