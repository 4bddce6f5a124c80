/*
 * The one log-level scale and the sink every module logs through. A
 * library layer (the probe engine, the store, the web server, the
 * endpoint-mapper watch) takes a pw_log_sink and its user data from whoever
 * starts it; the daemon passes pw_log_cb (daemon/log.h), which stamps the
 * line and writes it to stderr, a file and the system's event log. The
 * levels are the settings' log_level: a line is written when its level is
 * at most the configured one.
 */
#ifndef PW_BASE_LOG_H
#define PW_BASE_LOG_H

#include "base/error.h"

#include <stdarg.h>

enum pw_log_level { PW_LOG_ERROR = 0, PW_LOG_WARN = 1, PW_LOG_INFO = 2, PW_LOG_DEBUG = 3 };
#define PW_LOG_LEVELS 4

/* "error", "warn", "info", "debug"; a level out of range is clamped. */
const char *pw_log_level_name(int level);

/* Receives one formatted line; msg is valid only during the call. */
typedef void (*pw_log_sink)(void *ud, int level, const char *msg);

/* Formats one line and hands it to sink, or, without one, prints errors
 * and warnings to stderr as "portwatch: WHO: LEVEL: msg" (no "WHO: " when
 * who is NULL). */
void pw_vlog_to(pw_log_sink sink, void *ud, const char *who, int level, const char *fmt,
                va_list ap);

#endif
