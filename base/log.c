/* The log-level names and the formatting step in front of every sink (log.h). */
#include "base/log.h"

#include <stdio.h>

static const char *const names[] = {"error", "warn", "info", "debug"};
_Static_assert(sizeof names / sizeof names[0] == PW_LOG_LEVELS, "a name per log level");

const char *pw_log_level_name(int level)
{
    if (level < 0)
        level = 0;
    if (level >= PW_LOG_LEVELS)
        level = PW_LOG_LEVELS - 1;
    return names[level];
}

void pw_vlog_to(pw_log_sink sink, void *ud, const char *who, int level, const char *fmt,
                va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (sink)
        sink(ud, level, msg);
    else if (level <= PW_LOG_WARN)
        fprintf(stderr, "portwatch: %s%s%s: %s\n", who ? who : "", who ? ": " : "",
                pw_log_level_name(level), msg);
}
