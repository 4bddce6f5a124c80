/*
 * portwatch's error codes. Every module returns these negative numbers (0
 * means success) and prints them with pw_strerror(). Network and loop errors
 * stay libuv's own codes (UV_E*) and are named with uv_err_name(); the codes
 * here are for failures portwatch itself decides on.
 */
#ifndef PW_ERROR_H
#define PW_ERROR_H

#include <stdarg.h>
#include <stdio.h>

/* printf-style format checking. mingw's gcc reads plain `printf` as the old
 * msvcrt dialect (no %zu); portwatch builds against mingw's C99 printf,
 * which its headers name __MINGW_PRINTF_FORMAT. */
#if defined(__MINGW_PRINTF_FORMAT)
#define PW_PRINTF(fmt, first) __attribute__((format(__MINGW_PRINTF_FORMAT, fmt, first)))
#elif defined(__GNUC__)
#define PW_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PW_PRINTF(fmt, first)
#endif

#define PW_ERRNO_MAP(X)                                                  \
    X(NOMEM, "out of memory")                                            \
    X(IO, "input/output error")                                          \
    X(SYNTAX, "syntax error")                                            \
    X(RANGE, "value out of range")                                       \
    X(INVAL, "invalid value")                                          \
    X(UNKNOWN_KEY, "unknown key")                                        \
    X(DUPLICATE, "duplicate")                                            \
    X(NOT_FOUND, "not found")                                            \
    X(TOO_BIG, "too big")                                                \
    X(BUSY, "busy")                                                      \
    X(STORAGE, "storage error")                                          \
    X(CANCELED, "canceled")

enum pw_err {
    PW_OK = 0,
#define PW_ERR_ENUM(name, msg) PW_E##name,
    PW_ERR_FIRST_ = -1000,
    PW_ERRNO_MAP(PW_ERR_ENUM)
#undef PW_ERR_ENUM
    PW_ERR_LAST_
};

/* Static text for a pw_err code, or "unknown error". */
const char *pw_strerror(int err);

/* Where a library layer (the probe engine, the web server) sends its log
 * lines: levels 0 error, 1 warn, 2 info, 3 debug; msg valid only during
 * the call. */
typedef void (*pw_log_sink)(void *ud, int level, const char *msg);
/* Formats one line and hands it to sink, or, without one, prints errors
 * and warnings to stderr as "portwatch: WHO: LEVEL: msg" (no "WHO: " when
 * who is NULL). */
void pw_vlog_to(pw_log_sink sink, void *ud, const char *who, int level, const char *fmt,
                va_list ap);

#endif
