/*
 * What the standard process_* metrics of Prometheus' client libraries say
 * about the portwatch process (metrics.c writes them). CPU time and resident memory come from libuv,
 * which reads them on Linux and Windows alike; open descriptors and the
 * start time from /proc/self on Linux (absent where there is no /proc, as
 * on Windows).
 */
#include "web/process.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Linux reports process times in USER_HZ ticks, 100 per second on every
 * architecture Debian ships (Prometheus' procfs assumes the same). */
#define USER_HZ 100.0

/* Entries of /proc/self/fd (the directory's own descriptor included, as
 * the Go client counts it); -1 without /proc. */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Boot time (Unix seconds) from /proc/stat's btime; -1 without it. */
static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[256];
    double bt = -1;
    while (bt < 0 && fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "btime %llu", &v) == 1)
            bt = (double)v;
    }
    fclose(f);
    return bt;
}

/* Start time (Unix seconds): field 22 of /proc/self/stat, in ticks after
 * boot; the fields are counted after the command name's closing ')', as
 * the name may hold spaces and parentheses. -1 without /proc. */
static double start_time(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    double bt = boot_time();
    if (!p || bt < 0)
        return -1;
    p++;
    for (int field = 3; field <= 22; field++) {
        p += strspn(p, " ");
        if (field == 22)
            return bt + strtod(p, NULL) / USER_HZ;
        p += strcspn(p, " ");
        if (!*p)
            return -1;
    }
    return -1;
}

void pw_web_process_read(struct pw_process_stats *out)
{
    uv_rusage_t ru;
    out->cpu_s = -1;
    if (uv_getrusage(&ru) == 0)
        out->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    size_t rss;
    out->rss_bytes = uv_resident_set_memory(&rss) == 0 ? (double)rss : -1;
    out->open_fds = open_fds();
    out->start_s = start_time();
}
