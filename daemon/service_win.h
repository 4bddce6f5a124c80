/*
 * The Windows service, as seen by os_win.c: whether this process runs as
 * the portwatch service, its status for the service control manager, and
 * the stop/reload requests the SCM's handler thread leaves for the loop.
 * service_win.c implements it, with `portwatch service ...`.
 */
#ifndef PW_SERVICE_WIN_H
#define PW_SERVICE_WIN_H

#include <uv.h>
#include <windows.h>

#define PW_SERVICE_NAME "portwatch"
/* The service's virtual account (service_rights_win.c says why). */
#define PW_SERVICE_ACCOUNT "NT SERVICE\\" PW_SERVICE_NAME

/* Nonzero while running under the SCM (`portwatch service run`). */
int pw_service_active(void);
/* Reports RUNNING (ready != 0) or STOP_PENDING to the SCM; no-op when not a
 * service. */
void pw_service_report(int ready);
/* The loop's wake-up for control requests: the handler thread calls
 * uv_async_send on it; a request that came earlier is sent at once.
 * detach: no more wake-ups (before the handle is closed). */
void pw_service_attach(uv_async_t *wake);
void pw_service_detach(void);
/* Takes (and clears) the pending requests. */
void pw_service_take(int *stop, int *reload);
/* The machine's ProgramData folder (the known folder, not the
 * environment: a service's %ProgramData% may differ, e.g. under Wine). */
const char *pw_win_program_data(void);
/* ProgramData\portwatch, created if missing; NULL if it cannot be. */
const char *pw_service_data_dir(void);

/* service_rights_win.c. Each returns 0, or -1 with what failed in err and
 * the reason in GetLastError(). */
/* The service's own SID, S-1-5-80-..., as text (NT SERVICE\portwatch). */
int pw_service_sid(char *out, size_t len);
/* Creates `dir` if missing and gives it a protected access list: full
 * control for SYSTEM and Administrators, modify for the service's SID,
 * inherited by everything in it; nothing for anyone else. */
int pw_service_secure_dir(const char *dir, char *err, size_t errlen);
/* Leaves the service only SeChangeNotifyPrivilege, with its own SID. */
int pw_service_limit_privileges(SC_HANDLE svc, char *err, size_t errlen);

#endif
