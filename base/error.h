/*
 * portwatch's error codes. Every module returns these negative numbers (0
 * means success) and prints them with pw_strerror(). Network and loop errors
 * stay libuv's own codes (UV_E*) and are named with uv_err_name(); the codes
 * here are for failures portwatch itself decides on. Part of base/, the
 * bottom of the tree: every module includes it, it includes no module.
 */
#ifndef PW_ERROR_H
#define PW_ERROR_H

/* mingw's <stdio.h> defines __MINGW_PRINTF_FORMAT, read below. */
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

#endif
