/*
 * The daemon's log: one line per event on stderr, with a level and, unless
 * a service manager already stamps lines (systemd's journal), a UTC
 * timestamp. Thread-safe: the store's writer thread and the HTTP threads
 * log too.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include "config/error.h"

enum pw_log_level { PW_LOG_ERROR = 0, PW_LOG_WARN = 1, PW_LOG_INFO = 2, PW_LOG_DEBUG = 3 };

void pw_log_init(int level);
void pw_log(int level, const char *fmt, ...)
PW_PRINTF(2, 3)
    ;
/* Adapters for the modules' log callbacks (ud unused). */
void pw_log_cb(void *ud, int level, const char *msg);

#endif
