/*
 * The few things portwatch does differently per operating system, behind
 * one small interface: os_posix.c and os_win.c (with service_win.c, the
 * Windows service) implement it. Nothing in config/, probes/, store/ or
 * web/ needs an #ifdef because of this file, and cmd_run.c, the daemon,
 * has none either: it asks for stop and reload requests through
 * pw_os_control_start() and tells the service manager how it is doing
 * through pw_os_notify(), whichever manager that is (systemd, the Windows
 * service control manager, or none in a terminal).
 */
#ifndef PW_OS_H
#define PW_OS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Where the configuration lives when -c is not given:
 * /etc/portwatch/portwatch.ini, or %ProgramData%\portwatch\portwatch.ini. */
const char *pw_os_default_config_path(void);

/* Raises the soft open-file limit towards the hard limit so that many
 * probes can be in flight; returns the limit now in force (0: unknown or
 * not applicable). Never fails the caller. */
unsigned long pw_os_raise_fd_limit(void);

/* The probe engine's dialer for this OS (probes/probe.h): the epoll one
 * on Linux (probes/dial_linux.c); NULL on Windows, where the engine keeps
 * libuv's connect. */
struct pw_dialer_ops;
const struct pw_dialer_ops *pw_os_dialer(void);

/* Makes stdout/stderr print UTF-8 and binary-safe newlines. */
void pw_os_init_console(void);

/* ---- The daemon's lifecycle ---------------------------------------------- */

enum pw_os_control {
    PW_OS_STOP,   /* SIGTERM, SIGINT; SCM stop or shutdown; Ctrl-C */
    PW_OS_RELOAD, /* SIGHUP; SCM paramchange (`portwatch service reload`) */
};

/* Called on the loop thread; `why` names the request ("SIGTERM",
 * "service stop", ...). */
typedef void (*pw_os_control_cb)(void *ud, enum pw_os_control c, const char *why);

/* Starts delivering stop and reload requests to cb on `loop`: POSIX
 * signals, or the Windows service control handler (whose thread wakes the
 * loop with uv_async_send) and the console's Ctrl-C. A request made before
 * this call (a service stopped while starting) is delivered right after it.
 * One daemon per process. Returns 0 or a UV_E* error. */
int pw_os_control_start(uv_loop_t *loop, pw_os_control_cb cb, void *ud);
/* Closes the handles pw_os_control_start opened (loop thread; their close
 * callbacks run on the loop like any other). Safe to call twice. */
void pw_os_control_stop(void);

enum pw_os_notify {
    PW_OS_READY,     /* start-up done (systemd READY=1; SCM RUNNING) */
    PW_OS_RELOADING, /* a reload began (RELOADING=1); READY ends it */
    PW_OS_STOPPING,  /* stopping (STOPPING=1; SCM STOP_PENDING) */
    PW_OS_STATUS,    /* only the status line changed */
};

/* Tells the service manager, if any, about the daemon's state, with a
 * one-line status (systemd's STATUS=, shown by `systemctl status`; NULL:
 * none). Without a service manager: nothing. Loop thread. */
void pw_os_notify(enum pw_os_notify what, const char *status);

/* How often the daemon must call pw_os_watchdog() to prove its loop is
 * alive (half of systemd's WATCHDOG_USEC), in ms; 0: no watchdog. */
uint64_t pw_os_watchdog_interval_ms(void);
void pw_os_watchdog(void);

/* Writes an entry to the system's event log (the Windows Event Log,
 * source "portwatch", the event ID from `kind`, an enum pw_log_event_kind,
 * or from the level for PW_EVENT_OTHER); levels as daemon/log.h. Nothing
 * on POSIX, where the log lines on stderr already reach the journal.
 * Thread-safe. */
void pw_os_event(int level, int kind, const char *msg);

/* The log file a service writes when none is named (--log-file):
 * %ProgramData%\portwatch\portwatch.log while running as a Windows service;
 * NULL otherwise (stderr: the terminal or the journal). */
const char *pw_os_service_log_path(void);

/* Memory a long-running daemon frees in bulk (a replaced plan and engine
 * after a reload) goes back to the system instead of staying in the C
 * library's heap. pw_os_memory_init() once at start; pw_os_memory_release()
 * after such a bulk free, and every status line (10 s) for what threads
 * freed meanwhile. */
void pw_os_memory_init(void);
void pw_os_memory_release(void);

#endif
