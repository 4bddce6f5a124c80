/*
 * os.h for Windows: paths under %ProgramData%\portwatch, the console, stop
 * and reload requests (Ctrl-C/Ctrl-Break in a console; the service control
 * manager through service_win.c), the service status, and the Event Log.
 * Used by cmd_run.c (the daemon) and main.c.
 */
#include "daemon/log.h"
#include "daemon/messages.h"
#include "daemon/os.h"
#include "daemon/service_win.h"

#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

const char *pw_os_default_config_path(void)
{
    static char path[MAX_PATH + 64];
    snprintf(path, sizeof path, "%s\\portwatch\\portwatch.ini", pw_win_program_data());
    return path;
}

unsigned long pw_os_raise_fd_limit(void)
{
    /* Sockets are not C runtime descriptors on Windows: no limit to raise. */
    return 0;
}

const struct pw_dialer_ops *pw_os_dialer(void)
{
    /* libuv's connect runs on IOCP here, with no per-socket registration
     * to save. */
    return NULL;
}

void pw_os_init_console(void)
{
    SetConsoleOutputCP(CP_UTF8);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
}

/* ---- stop and reload ------------------------------------------------------- */

static const struct {
    int signum;
    const char *name;
} signals[] = {
    {SIGINT, "Ctrl-C"},
    {SIGBREAK, "Ctrl-Break"},
};
#define NSIGNALS (sizeof signals / sizeof signals[0])

static struct {
    uv_async_t wake;
    uv_signal_t sig[NSIGNALS];
    int started;
    pw_os_control_cb cb;
    void *ud;
} ctl;

static void on_wake(uv_async_t *a)
{
    (void)a;
    int stop, reload;
    pw_service_take(&stop, &reload);
    if (stop)
        ctl.cb(ctl.ud, PW_OS_STOP, "service stop");
    else if (reload)
        ctl.cb(ctl.ud, PW_OS_RELOAD, "service paramchange");
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    ctl.cb(ctl.ud, PW_OS_STOP, signals[h - ctl.sig].name);
}

int pw_os_control_start(uv_loop_t *loop, pw_os_control_cb cb, void *ud)
{
    ctl.cb = cb;
    ctl.ud = ud;
    int rc = uv_async_init(loop, &ctl.wake, on_wake);
    if (rc != 0)
        return rc;
    /* A service has no console: the signal handles are harmless there. */
    for (size_t i = 0; i < NSIGNALS; i++) {
        uv_signal_init(loop, &ctl.sig[i]);
        uv_signal_start(&ctl.sig[i], on_signal, signals[i].signum);
    }
    ctl.started = 1;
    pw_service_attach(&ctl.wake);
    return 0;
}

void pw_os_control_stop(void)
{
    if (!ctl.started)
        return;
    ctl.started = 0;
    pw_service_detach();
    uv_close((uv_handle_t *)&ctl.wake, NULL);
    for (size_t i = 0; i < NSIGNALS; i++)
        uv_close((uv_handle_t *)&ctl.sig[i], NULL);
}

/* ---- the service manager ------------------------------------------------------ */

void pw_os_notify(enum pw_os_notify what, const char *status)
{
    (void)status;
    if (what == PW_OS_READY)
        pw_service_report(1);
    else if (what == PW_OS_STOPPING)
        pw_service_report(0);
}

uint64_t pw_os_watchdog_interval_ms(void)
{
    return 0;
}

void pw_os_watchdog(void)
{
}

/* Entries carry the log line as their only insertion string; the
 * message table compiled into portwatch.exe (messages.mc) gives each kind
 * of event its own ID, and `service install` or the MSI registers the exe
 * as the source's EventMessageFile, so the Event Viewer shows the line
 * itself. Only as a service: a console run's lines are on the console. */
static HANDLE event_source;
static uv_once_t event_once = UV_ONCE_INIT;

static const DWORD kind_ids[] = {
    [PW_EVENT_OTHER] = 0, /* by level */
    [PW_EVENT_START] = PW_MSG_START,
    [PW_EVENT_STOP] = PW_MSG_STOP,
    [PW_EVENT_RELOAD] = PW_MSG_RELOAD,
    [PW_EVENT_RELOAD_REJECTED] = PW_MSG_RELOAD_REJECTED,
    [PW_EVENT_TARGET_DOWN] = PW_MSG_TARGET_DOWN,
    [PW_EVENT_TARGET_UP] = PW_MSG_TARGET_UP,
    [PW_EVENT_INCIDENT] = PW_MSG_INCIDENT,
    [PW_EVENT_STORAGE_DEGRADED] = PW_MSG_STORAGE_DEGRADED,
};
_Static_assert(sizeof kind_ids / sizeof kind_ids[0] == PW_EVENT_KINDS, "an event ID for each kind");

static void open_event_source(void)
{
    event_source = RegisterEventSourceW(NULL, L"" PW_SERVICE_NAME);
}

static DWORD event_id(int level, int kind)
{
    static const DWORD level_ids[] = {PW_MSG_ERROR, PW_MSG_WARNING, PW_MSG_INFO, PW_MSG_INFO};
    if (kind > PW_EVENT_OTHER && kind < PW_EVENT_KINDS)
        return kind_ids[kind];
    return level_ids[level < 0 || level > 3 ? 0 : level];
}

void pw_os_event(int level, int kind, const char *msg)
{
    static const WORD types[] = {EVENTLOG_ERROR_TYPE, EVENTLOG_WARNING_TYPE,
                                 EVENTLOG_INFORMATION_TYPE, EVENTLOG_INFORMATION_TYPE};
    if (!pw_service_active())
        return;
    uv_once(&event_once, open_event_source);
    if (!event_source)
        return;
    if (level < 0 || level > 3)
        level = 0;
    /* The line is UTF-8 (host names, configured text): the ANSI entry
     * point would read it in the system's code page. */
    WCHAR text[1024];
    if (!MultiByteToWideChar(CP_UTF8, 0, msg, -1, text, sizeof text / sizeof text[0]))
        text[0] = L'\0';
    const WCHAR *strings[1] = {text};
    ReportEventW(event_source, types[level], 0, event_id(level, kind), NULL, 1, 0, strings, NULL);
}

const char *pw_os_service_log_path(void)
{
    static char path[MAX_PATH + 64];
    const char *dir = pw_service_active() ? pw_service_data_dir() : NULL;
    if (!dir)
        return NULL;
    snprintf(path, sizeof path, "%s\\portwatch.log", dir);
    return path;
}

/* The CRT heap on Windows returns large blocks to the system by itself. */
void pw_os_memory_init(void)
{
}

void pw_os_memory_release(void)
{
}
