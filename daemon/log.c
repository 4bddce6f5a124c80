/* See log.h. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

static int threshold = PW_LOG_INFO;
static int stamp = 1;
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

static const char *const names[] = {"error", "warn", "info", "debug"};

static void emit(int level, const char *msg)
{
    if (level > threshold)
        return;
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    if (stamp) {
        uv_timeval64_t tv;
        uv_gettimeofday(&tv);
        time_t secs = (time_t)tv.tv_sec;
        struct tm tm;
#ifdef _WIN32
        gmtime_s(&tm, &secs);
#else
        gmtime_r(&secs, &tm);
#endif
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03dZ %s: %s\n", when, (int)(tv.tv_usec / 1000), names[level], msg);
    } else {
        fprintf(stderr, "<%d>%s: %s\n", level == 0 ? 3 : level == 1 ? 4 : level == 2 ? 6 : 7,
                names[level], msg);
    }
    fflush(stderr);
    uv_mutex_unlock(&lock);
}

void pw_log(int level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, buf);
}

void pw_log_cb(void *ud, int level, const char *msg)
{
    (void)ud;
    emit(level, msg);
}
