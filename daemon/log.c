/* See log.h. */
#include "daemon/log.h"

#include "base/clock.h"
#include "daemon/os.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static int threshold = PW_LOG_INFO;
static int stamp = 1;
static FILE *file;            /* NULL: stderr */
static uv_mutex_t lock;
static uv_once_t once = UV_ONCE_INIT;

static void init_lock(void)
{
    uv_mutex_init(&lock);
}

void pw_log_init(int level)
{
    uv_once(&once, init_lock);
    threshold = level;
    /* The journal adds its own timestamps. */
    stamp = getenv("JOURNAL_STREAM") == NULL;
}

int pw_log_open_file(const char *path)
{
    uv_once(&once, init_lock);
    FILE *f = fopen(path, "a");
    if (!f)
        return uv_translate_sys_error(errno);
    uv_mutex_lock(&lock);
    if (file)
        fclose(file);
    file = f;
    uv_mutex_unlock(&lock);
    return 0;
}

void pw_log_close_file(void)
{
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    if (file)
        fclose(file);
    file = NULL;
    uv_mutex_unlock(&lock);
}

/* syslog priorities for the journal's <N> prefix: err, warning, info, debug. */
static const int priorities[] = {3, 4, 6, 7};
_Static_assert(sizeof priorities / sizeof priorities[0] == PW_LOG_LEVELS,
               "a syslog priority per log level");

/* event: 0 for the log only, else 1 + the pw_log_event_kind. */
static void emit(int level, const char *msg, int event)
{
    if (level < 0)
        level = 0;
    if (level >= PW_LOG_LEVELS)
        level = PW_LOG_LEVELS - 1;
    if (event || level == PW_LOG_ERROR)
        pw_os_event(level, event ? (enum pw_log_event_kind)(event - 1) : PW_EVENT_OTHER, msg);
    if (level > threshold)
        return;
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    FILE *out = file ? file : stderr;
    if (stamp || file) {
        char when[PW_RFC3339_MAX];
        pw_format_rfc3339(pw_wall_ms(), when, sizeof when);
        fprintf(out, "%s %s: %s\n", when, pw_log_level_name(level), msg);
    } else {
        fprintf(out, "<%d>%s: %s\n", priorities[level], pw_log_level_name(level), msg);
    }
    fflush(out);
    uv_mutex_unlock(&lock);
}

static void vlog(int level, int event, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    emit(level, buf, event);
}

void pw_log(int level, const char *fmt, ...)
{
    if (level > threshold && level != PW_LOG_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, 0, fmt, ap);
    va_end(ap);
}

void pw_log_event(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, 1 + PW_EVENT_OTHER, fmt, ap);
    va_end(ap);
}

void pw_log_event_id(enum pw_log_event_kind kind, int level, const char *fmt, ...)
{
    if ((unsigned)kind >= PW_EVENT_KINDS)
        kind = PW_EVENT_OTHER;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, 1 + (int)kind, fmt, ap);
    va_end(ap);
}

void pw_log_cb(void *ud, int level, const char *msg)
{
    (void)ud;
    emit(level, msg, 0);
}
