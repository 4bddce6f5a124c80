/*
 * The INI reader behind config.c. It works on a byte buffer, line by line,
 * and never allocates more than one line's copy, so a hostile file costs at
 * most its own size. Lines longer than PW_INI_LINE_MAX are refused with an
 * error instead of being cut, since a cut value would be silently wrong.
 */
#include "config/ini.h"

#include "base/error.h"
#include "base/text.h"
#include "config/values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW_INI_LINE_MAX 4096

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && is_space(e[-1]))
        *--e = '\0';
    return s;
}

/* The parser's state across lines. */
struct reader {
    pw_ini_cb cb;
    void *ud;
    int errors;
    char section[128];
    int broken;      /* after a bad header: keys up to the next good one are
                        not reported again (they belong to no known section) */
    int cr_reported; /* lone CR line endings are named once per file */
};

static int error_at(struct reader *r, int line, const char *section, const char *key,
                    const char *msg)
{
    r->errors++;
    return r->cb(r->ud, PW_INI_ERROR, line, section, key, msg);
}

/* Finds where an unquoted value ends: at a ';' or '#' that follows a space
 * or tab (a trailing comment), else at its end. "a;b" keeps its ';'. */
static void cut_comment(char *v)
{
    for (char *p = v; *p; p++)
        if ((*p == ';' || *p == '#') && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
}

/* Takes a value as written after '=': a double-quoted value keeps its
 * spaces and comment characters, and may be followed by a comment only;
 * an unquoted one ends at a trailing comment. Returns an error message or
 * NULL. */
static const char *value_of(char **v)
{
    char *s = *v;
    if (s[0] != '"') {
        cut_comment(s);
        *v = trim(s);
        return NULL;
    }
    char *close = strchr(s + 1, '"');
    if (!close)
        return "unterminated quoted value: a value that starts with \" must end with \"";
    char *rest = trim(close + 1);
    if (*rest != '\0' && *rest != ';' && *rest != '#')
        return "unexpected text after the closing '\"': quote the whole value, or start a comment with ';'";
    *close = '\0';
    *v = s + 1;
    return NULL;
}

static int valid_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* A [section] line. A broken header is reported under its own text (not
 * the previous section's name), and the keys that follow it are dropped
 * silently: the one mistake is the header. */
static int header_event(struct reader *r, char *s, int lineno)
{
    char msg[192], shown[72];
    size_t len = strlen(s), cut = len > 64 ? 64 : len;
    memcpy(shown, s, cut);
    shown[cut] = '\0';
    pw_utf8_trim_cut(shown);
    if (cut < len)
        strcat(shown, "...");
    const char *why = NULL;
    char *end = strchr(s, ']');
    char *rest = end ? trim(end + 1) : NULL;
    if (!end)
        why = "is missing its closing ']'";
    else if (*rest != '\0' && *rest != ';' && *rest != '#')
        why = "has text after its ']'; only a comment (';' or '#') may follow";
    else {
        *end = '\0';
        char *name = trim(s + 1);
        if (*name == '\0')
            why = "has an empty name; sections are [portwatch], [biztalk] and [check NAME]";
        else if (strlen(name) >= sizeof r->section)
            why = "has a name longer than 127 characters";
        else {
            strcpy(r->section, name);
            r->broken = 0;
            return r->cb(r->ud, PW_INI_SECTION, lineno, r->section, r->section, NULL);
        }
    }
    r->section[0] = '\0';
    r->broken = 1;
    snprintf(msg, sizeof msg, "section header '%s' %s", shown, why);
    return error_at(r, lineno, NULL, NULL, msg);
}

/* Handles one line (NUL-terminated, n bytes, no line ending). Returns what
 * the callback returned. */
static int line_event(struct reader *r, char *line, size_t n, int lineno)
{
    const char *first = line;
    while (is_space(*first))
        first++;
    if (*first == '\0' || *first == ';' || *first == '#')
        return 0; /* comments are not read, so their encoding does not matter */
    char err[PW_ERRBUF];
    if (pw_check_text(line, n, err) != 0) {
        if (strncmp(first, "\xEF\xBB\xBF", 3) == 0)
            first += 3;
        if (*first != '[')
            return error_at(r, lineno, r->section, NULL, err);
        r->section[0] = '\0'; /* a header we cannot read: as broken as any */
        r->broken = 1;
        return error_at(r, lineno, NULL, NULL, err);
    }
    char *s = trim(line);
    if (*s == '[')
        return header_event(r, s, lineno);
    char *eq = strchr(s, '=');
    if (!eq)
        return error_at(r, lineno, r->section, NULL,
                        "expected 'key = value', a [section] header or a comment");
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    if (*key == '\0')
        return error_at(r, lineno, r->section, NULL, "missing key before '='");
    for (const char *k = key; *k; k++)
        if (!valid_name_char((unsigned char)*k))
            return error_at(r, lineno, r->section, NULL,
                            "key names use letters, digits, '_', '-' and '.' only");
    const char *qerr = value_of(&value);
    if (qerr)
        return error_at(r, lineno, r->section, key, qerr);
    if (r->broken)
        return 0;
    if (r->section[0] == '\0')
        return error_at(r, lineno, r->section, key,
                        "key outside any section: put it under a [section] header");
    return r->cb(r->ud, PW_INI_KEY, lineno, r->section, key, value);
}

/* Where the line starting at pos ends: at '\n', at "\r\n", or at a CR
 * that no LF follows (old Mac files), which is reported once. *nl caches
 * the next '\n' so that a file of lone CRs is still read in linear time. */
static size_t line_end(struct reader *r, const char *buf, size_t len, size_t pos,
                       const char **nl, int lineno, size_t *next)
{
    if (*nl && (size_t)(*nl - buf) < pos)
        *nl = NULL;
    if (!*nl)
        *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = *nl ? (size_t)(*nl - buf) : len;
    const char *cr = memchr(buf + pos, '\r', end - pos);
    if (cr && (size_t)(cr - buf) + 1 < end) {
        if (!r->cr_reported) {
            r->cr_reported = 1;
            error_at(r, lineno, r->section, NULL,
                     "line ends with a lone CR (carriage return without line feed, old Mac "
                     "line endings); save the file with Windows (CRLF) or Unix (LF) line endings");
        }
        *next = (size_t)(cr - buf) + 1;
        return (size_t)(cr - buf);
    }
    *next = *nl ? end + 1 : len;
    return end;
}

int pw_ini_parse(const char *buf, size_t len, pw_ini_cb cb, void *ud)
{
    struct reader r = {.cb = cb, .ud = ud};
    size_t pos = 0;
    int lineno = 0;

    if (len >= 2 && (memcmp(buf, "\xFF\xFE", 2) == 0 || memcmp(buf, "\xFE\xFF", 2) == 0)) {
        cb(ud, PW_INI_ERROR, 1, "", NULL,
           "file is UTF-16; save it as UTF-8 (Notepad: Save As, Encoding: UTF-8)");
        return 1;
    }
    char *line = malloc(PW_INI_LINE_MAX + 1);
    if (!line)
        return PW_ENOMEM;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    const char *nl = NULL;
    while (pos < len) {
        lineno++;
        size_t next, end = line_end(&r, buf, len, pos, &nl, lineno, &next);
        size_t n = end - pos;
        const char *at = buf + pos;
        if (n > 0 && at[n - 1] == '\r')
            n--; /* CRLF */
        pos = next;
        int stop;
        if (n > PW_INI_LINE_MAX)
            stop = error_at(&r, lineno, r.section, NULL, "line is too long (at most 4096 bytes)");
        else if (memchr(at, '\0', n))
            stop = error_at(&r, lineno, r.section, NULL,
                            "line contains a NUL byte: is this a text file? (UTF-16 is not "
                            "supported; save as UTF-8)");
        else {
            memcpy(line, at, n);
            line[n] = '\0';
            stop = line_event(&r, line, n, lineno);
        }
        if (stop)
            break;
    }
    free(line);
    return r.errors;
}
