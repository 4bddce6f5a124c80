/*
 * The daemon's log: one line per event with a level, on stderr or in a log
 * file, and, unless a service manager already stamps lines (systemd's
 * journal), a UTC timestamp. Errors, and the events the daemon marks with
 * pw_log_event or pw_log_event_id (start, stop, reload, status changes),
 * also go to the system's event log (the Windows Event Log, where each
 * kind of event has its own ID; nothing more on POSIX). Thread-safe: the
 * store's writer thread and the HTTP threads log too.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include "base/log.h"

/* What an event-log entry is about, so that Windows admins can filter and
 * forward by event ID (daemon/messages.mc holds the IDs and os_win.c maps
 * kinds to them). PW_EVENT_OTHER: any other line, its ID by level. */
enum pw_log_event_kind {
    PW_EVENT_OTHER,
    PW_EVENT_START,
    PW_EVENT_STOP,
    PW_EVENT_RELOAD,
    PW_EVENT_RELOAD_REJECTED,
    PW_EVENT_TARGET_DOWN,
    PW_EVENT_TARGET_UP,
    PW_EVENT_INCIDENT,
    PW_EVENT_STORAGE_DEGRADED,
    PW_EVENT_KINDS
};

/* Sets the least severe level written; may be called again (reload). */
void pw_log_init(int level);
/* Appends to `path` instead of stderr from now on (lines always stamped).
 * Returns 0, or a negative error (UV_E*) and keeps stderr. */
int pw_log_open_file(const char *path);
/* Closes the log file, if any; later lines go to stderr. */
void pw_log_close_file(void);

void pw_log(int level, const char *fmt, ...)
PW_PRINTF(2, 3)
    ;
/* pw_log, and the system's event log whatever the level. */
void pw_log_event(int level, const char *fmt, ...)
PW_PRINTF(2, 3)
    ;
/* pw_log_event for an event of a known kind (its own event ID). */
void pw_log_event_id(enum pw_log_event_kind kind, int level, const char *fmt, ...)
PW_PRINTF(3, 4)
    ;
/* The sink the daemon hands every module (base/log.h; ud unused). */
void pw_log_cb(void *ud, int level, const char *msg);

#endif
