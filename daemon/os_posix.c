/*
 * os.h for Linux and other POSIX systems: signals for stop and reload, and
 * systemd's notify protocol. Used by cmd_run.c (the daemon) and main.c.
 *
 * sd_notify is implemented here rather than linked from libsystemd: the
 * protocol is a documented, stable datagram ("READY=1\nSTATUS=...") sent to
 * the unix socket named by $NOTIFY_SOCKET, a few lines of code, and doing it
 * ourselves keeps the build free of a dependency that would need its own
 * #ifdef and a Windows stub. Without $NOTIFY_SOCKET every call is a no-op.
 */
#include "daemon/cli.h"
#include "daemon/os.h"

#include "probes/probe.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *pw_os_default_config_path(void)
{
    return "/etc/portwatch/portwatch.ini";
}

unsigned long pw_os_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)rl.rlim_cur;
}

const struct pw_dialer_ops *pw_os_dialer(void)
{
#ifdef __linux__
    return pw_dialer_linux();
#else
    return NULL; /* no epoll: the engine keeps libuv's connect */
#endif
}

void pw_os_init_console(void)
{
}

/* ---- stop and reload: signals --------------------------------------------- */

static const struct {
    int signum;
    enum pw_os_control control;
    const char *name;
} signals[] = {
    {SIGTERM, PW_OS_STOP, "SIGTERM"},
    {SIGINT, PW_OS_STOP, "SIGINT"},
    {SIGHUP, PW_OS_RELOAD, "SIGHUP"},
};
#define NSIGNALS (sizeof signals / sizeof signals[0])

static struct {
    uv_signal_t h[NSIGNALS];
    int started;
    pw_os_control_cb cb;
    void *ud;
} ctl;

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    size_t i = (size_t)(h - ctl.h);
    ctl.cb(ctl.ud, signals[i].control, signals[i].name);
}

int pw_os_control_start(uv_loop_t *loop, pw_os_control_cb cb, void *ud)
{
    ctl.cb = cb;
    ctl.ud = ud;
    size_t inited = 0;
    int rc = 0;
    for (; inited < NSIGNALS && rc == 0; inited++)
        rc = uv_signal_init(loop, &ctl.h[inited]);
    if (rc != 0)
        inited--; /* the last init failed: nothing to close there */
    for (size_t i = 0; rc == 0 && i < NSIGNALS; i++)
        rc = uv_signal_start(&ctl.h[i], on_signal, signals[i].signum);
    if (rc != 0) {
        for (size_t i = 0; i < inited; i++)
            uv_close((uv_handle_t *)&ctl.h[i], NULL);
        return rc;
    }
    ctl.started = 1;
    return 0;
}

void pw_os_control_stop(void)
{
    if (!ctl.started)
        return;
    ctl.started = 0;
    for (size_t i = 0; i < NSIGNALS; i++)
        uv_close((uv_handle_t *)&ctl.h[i], NULL);
}

/* ---- systemd notify --------------------------------------------------------- */

/* Sends one notify datagram without ever blocking the loop (a manager
 * that does not read loses messages, the daemon never waits); errors are
 * ignored as sd_notify's callers do:
 * the daemon works the same whether or not systemd listens. */
static void notify_send(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un sa;
    size_t len = strlen(path);
    if (len >= sizeof sa.sun_path)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    (void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
    close(fd);
}

void pw_os_notify(enum pw_os_notify what, const char *status)
{
    static const char *const head[] = {
        [PW_OS_READY] = "READY=1\n",
        [PW_OS_RELOADING] = "RELOADING=1\n",
        [PW_OS_STOPPING] = "STOPPING=1\n",
        [PW_OS_STATUS] = "",
    };
    char line[400], msg[512];
    snprintf(line, sizeof line, "%s", status ? status : "");
    for (char *p = line; *p; p++) /* a status is one line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    snprintf(msg, sizeof msg, "%sSTATUS=%s", head[what], line);
    notify_send(msg);
}

uint64_t pw_os_watchdog_interval_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    if (!usec || !getenv("NOTIFY_SOCKET"))
        return 0;
    /* WATCHDOG_PID, when set, names the process systemd watches. */
    if (pid && strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    char *end;
    errno = 0;
    unsigned long long us = strtoull(usec, &end, 10);
    if (errno || *end || us == 0)
        return 0;
    uint64_t ms = us / 2000;
    return ms ? ms : 1;
}

void pw_os_watchdog(void)
{
    notify_send("WATCHDOG=1");
}

void pw_os_event(int level, int kind, const char *msg)
{
    (void)level;
    (void)kind;
    (void)msg;
}

const char *pw_os_service_log_path(void)
{
    return NULL;
}

/* ---- `portwatch service` ---------------------------------------------------- */

int pw_cmd_service(const struct pw_command *cmd, const struct pw_args *a)
{
    (void)cmd;
    (void)a;
    fprintf(stderr,
            "portwatch service: Windows only. On Linux, systemd runs the daemon: "
            "systemctl start|stop|reload|status portwatch (the Debian package installs "
            "portwatch.service), or run 'portwatch run' under any service manager "
            "(SIGTERM stops it, SIGHUP reloads the configuration).\n");
    return PW_EXIT_USAGE;
}

/* glibc raises its mmap threshold each time a large mmapped block is
 * freed, after which a plan's large arrays come from the heap and, freed
 * by a reload, fragment it and stay resident: a storm of reloads grew the
 * daemon from 14 MB to 650 MB for good. A fixed threshold keeps large
 * blocks mmapped (returned when freed); trimming returns what is left. */
void pw_os_memory_init(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

void pw_os_memory_release(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
