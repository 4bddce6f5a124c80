/*
 * The INI reader behind config.c. It works on a byte buffer, line by line,
 * and never allocates more than one line's copy, so a hostile file costs at
 * most its own size. Lines longer than PW_INI_LINE_MAX are refused with an
 * error instead of being cut, since a cut value would be silently wrong.
 */
#include "config/ini.h"

#include "config/error.h"

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

/* Removes a surrounding pair of double quotes; returns an error message for
 * a quote that is opened but not closed. */
static const char *unquote(char **v)
{
    char *s = *v;
    size_t n = strlen(s);
    if (n == 0 || s[0] != '"')
        return NULL;
    if (n < 2 || s[n - 1] != '"')
        return "unterminated quoted value: a value that starts with \" must end with \"";
    s[n - 1] = '\0';
    *v = s + 1;
    return NULL;
}

static int valid_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Handles one line (NUL-terminated, no newline). Returns what the callback
 * returned, and counts errors. */
static int line_event(char *line, int lineno, char *section, size_t section_cap,
                      pw_ini_cb cb, void *ud, int *errors)
{
    char *s = trim(line);
    if (*s == '\0' || *s == ';' || *s == '#')
        return 0;
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (!end) {
            (*errors)++;
            return cb(ud, PW_INI_ERROR, lineno, section, NULL,
                      "section header is missing its closing ']'");
        }
        char *rest = trim(end + 1);
        if (*rest != '\0' && *rest != ';' && *rest != '#') {
            (*errors)++;
            return cb(ud, PW_INI_ERROR, lineno, section, NULL,
                      "unexpected text after the section header's ']'");
        }
        *end = '\0';
        char *name = trim(s + 1);
        if (*name == '\0') {
            (*errors)++;
            return cb(ud, PW_INI_ERROR, lineno, section, NULL, "empty section name");
        }
        if (strlen(name) >= section_cap) {
            (*errors)++;
            return cb(ud, PW_INI_ERROR, lineno, section, NULL,
                      "section name is too long (at most 127 characters)");
        }
        strcpy(section, name);
        return cb(ud, PW_INI_SECTION, lineno, section, section, NULL);
    }
    char *eq = strchr(s, '=');
    if (!eq) {
        (*errors)++;
        return cb(ud, PW_INI_ERROR, lineno, section, NULL,
                  "expected 'key = value', a [section] header or a comment");
    }
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    if (*key == '\0') {
        (*errors)++;
        return cb(ud, PW_INI_ERROR, lineno, section, NULL, "missing key before '='");
    }
    for (const char *k = key; *k; k++)
        if (!valid_name_char((unsigned char)*k)) {
            (*errors)++;
            return cb(ud, PW_INI_ERROR, lineno, section, NULL,
                      "key names use letters, digits, '_', '-' and '.' only");
        }
    const char *qerr = unquote(&value);
    if (qerr) {
        (*errors)++;
        return cb(ud, PW_INI_ERROR, lineno, section, key, qerr);
    }
    if (section[0] == '\0') {
        (*errors)++;
        return cb(ud, PW_INI_ERROR, lineno, section, key,
                  "key outside any section: put it under a [section] header");
    }
    return cb(ud, PW_INI_KEY, lineno, section, key, value);
}

int pw_ini_parse(const char *buf, size_t len, pw_ini_cb cb, void *ud)
{
    char section[128] = "";
    char *line = malloc(PW_INI_LINE_MAX + 1);
    if (!line)
        return PW_ENOMEM;
    int errors = 0;
    size_t pos = 0;
    int lineno = 0;

    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    if (len >= 2 && (memcmp(buf, "\xFF\xFE", 2) == 0 || memcmp(buf, "\xFE\xFF", 2) == 0)) {
        free(line);
        cb(ud, PW_INI_ERROR, 1, section, NULL,
           "file is UTF-16; save it as UTF-8 (Notepad: Save As, Encoding: UTF-8)");
        return 1;
    }
    while (pos < len) {
        lineno++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - pos;
        pos = nl ? end + 1 : len;
        int stop;
        if (n > PW_INI_LINE_MAX) {
            errors++;
            stop = cb(ud, PW_INI_ERROR, lineno, section, NULL,
                      "line is too long (at most 4096 bytes)");
        } else if (memchr(buf + end - n, '\0', n)) {
            errors++;
            stop = cb(ud, PW_INI_ERROR, lineno, section, NULL,
                      "line contains a NUL byte: is this a text file? (UTF-16 is not supported; save as UTF-8)");
        } else {
            memcpy(line, buf + end - n, n);
            line[n] = '\0';
            stop = line_event(line, lineno, section, sizeof section, cb, ud, &errors);
        }
        if (stop)
            break;
    }
    free(line);
    return errors;
}
