/*
 * The Windows service: `portwatch service install|uninstall|start|stop|
 * reload|status` registers and controls the "portwatch" service, and
 * `portwatch service run` is what the service control manager (SCM)
 * starts. That hands the main thread to StartServiceCtrlDispatcher; the
 * SCM then calls service_main on a thread of its own, which runs the
 * daemon (`portwatch run` with the -c/--log-level given at install) in
 * %ProgramData%\portwatch, so a relative `database` lands there. The SCM's
 * control handler runs on yet another thread: it records stop, shutdown
 * and paramchange (reload) requests and wakes the daemon's loop with
 * uv_async_send (os_win.c owns that handle).
 *
 * Account: the virtual account NT SERVICE\portwatch, with one privilege
 * and one writable folder (service_rights_win.c). Event Log source: "portwatch"
 * under Application, its EventMessageFile portwatch.exe itself (the
 * message table from messages.mc).
 */
#include "daemon/cli.h"
#include "daemon/os.h"
#include "daemon/service_win.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <shlobj.h>

#define EVENTLOG_KEY "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" PW_SERVICE_NAME
#define STOP_WAIT_MS 15000

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static uv_mutex_t lock;
static uv_once_t once = UV_ONCE_INIT;
static uv_async_t *wake;
static int pending_stop, pending_reload;
static int run_argc;
static char **run_argv;

static void init_lock(void)
{
    uv_mutex_init(&lock);
}

int pw_service_active(void)
{
    return status_handle != NULL;
}

/* Caller holds the lock (or is the only thread). */
static void set_state(DWORD state, DWORD exit_code, DWORD wait_hint)
{
    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwControlsAccepted =
        state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE : 0;
    status.dwWin32ExitCode = exit_code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
    status.dwServiceSpecificExitCode = exit_code;
    status.dwWaitHint = wait_hint;
    if (state == SERVICE_RUNNING || state == SERVICE_STOPPED)
        status.dwCheckPoint = 0;
    else
        status.dwCheckPoint++;
    SetServiceStatus(status_handle, &status);
}

void pw_service_report(int ready)
{
    if (!status_handle)
        return;
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    if (ready)
        set_state(SERVICE_RUNNING, 0, 0);
    else if (status.dwCurrentState != SERVICE_STOP_PENDING)
        set_state(SERVICE_STOP_PENDING, 0, STOP_WAIT_MS);
    uv_mutex_unlock(&lock);
}

void pw_service_attach(uv_async_t *w)
{
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    wake = w;
    if (pending_stop || pending_reload)
        uv_async_send(wake);
    uv_mutex_unlock(&lock);
}

void pw_service_detach(void)
{
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    wake = NULL;
    uv_mutex_unlock(&lock);
}

void pw_service_take(int *stop, int *reload)
{
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
    *stop = pending_stop;
    *reload = pending_reload;
    pending_stop = pending_reload = 0;
    uv_mutex_unlock(&lock);
}

static char program_data[MAX_PATH];

static void find_program_data(void)
{
    if (SHGetFolderPathA(NULL, CSIDL_COMMON_APPDATA, NULL, SHGFP_TYPE_CURRENT, program_data) != S_OK) {
        const char *env = getenv("ProgramData");
        snprintf(program_data, sizeof program_data, "%s", env ? env : "C:\\ProgramData");
    }
}

const char *pw_win_program_data(void)
{
    static uv_once_t found = UV_ONCE_INIT;
    uv_once(&found, find_program_data);
    return program_data;
}

const char *pw_service_data_dir(void)
{
    static char dir[MAX_PATH + 32];
    snprintf(dir, sizeof dir, "%s\\portwatch", pw_win_program_data());
    if (!CreateDirectoryA(dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS)
        return NULL;
    return dir;
}

/* The SCM's control handler (its own thread): record, wake the loop. */
static DWORD WINAPI on_control(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    uv_mutex_lock(&lock);
    DWORD rc = NO_ERROR;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        pending_stop = 1;
        set_state(SERVICE_STOP_PENDING, 0, STOP_WAIT_MS);
        break;
    case SERVICE_CONTROL_PARAMCHANGE:
        pending_reload = 1;
        break;
    case SERVICE_CONTROL_INTERROGATE:
        break;
    default:
        rc = ERROR_CALL_NOT_IMPLEMENTED;
    }
    if (rc == NO_ERROR && control != SERVICE_CONTROL_INTERROGATE && wake)
        uv_async_send(wake);
    uv_mutex_unlock(&lock);
    return rc;
}

static void WINAPI service_main(DWORD argc, LPSTR *argv)
{
    (void)argc;
    (void)argv;
    uv_once(&once, init_lock);
    status_handle = RegisterServiceCtrlHandlerExA(PW_SERVICE_NAME, on_control, NULL);
    if (!status_handle)
        return;
    uv_mutex_lock(&lock);
    set_state(SERVICE_START_PENDING, 0, 30000);
    uv_mutex_unlock(&lock);
    const char *dir = pw_service_data_dir();
    if (dir)
        SetCurrentDirectoryA(dir);
    int rc = pw_cli_main(run_argc, run_argv);
    uv_mutex_lock(&lock);
    set_state(SERVICE_STOPPED, (DWORD)rc, 0);
    uv_mutex_unlock(&lock);
}

/* ---- the command ------------------------------------------------------------- */

static void print_error(const char *what)
{
    DWORD e = GetLastError();
    char msg[256] = "";
    FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0, msg,
                   sizeof msg, NULL);
    for (char *p = msg + strlen(msg); p > msg && (p[-1] == '\r' || p[-1] == '\n' || p[-1] == '.'); p--)
        p[-1] = '\0';
    fprintf(stderr, "portwatch service: %s: %s (error %lu)\n", what, msg, (unsigned long)e);
}

static SC_HANDLE open_service(DWORD access)
{
    SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
    if (!scm) {
        print_error("cannot reach the service control manager");
        return NULL;
    }
    SC_HANDLE svc = OpenServiceA(scm, PW_SERVICE_NAME, access);
    if (!svc)
        print_error("cannot open the portwatch service (is it installed? 'portwatch service install')");
    CloseServiceHandle(scm);
    return svc;
}

static const char *state_name(DWORD s)
{
    static const char *const names[] = {"?", "stopped", "starting", "stopping", "running",
                                        "continuing", "pausing", "paused"};
    return s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* Waits until the service leaves `pending`; returns its state. */
static DWORD wait_state(SC_HANDLE svc, DWORD pending, DWORD timeout_ms)
{
    SERVICE_STATUS st;
    DWORD waited = 0;
    while (QueryServiceStatus(svc, &st) && st.dwCurrentState == pending && waited < timeout_ms) {
        Sleep(100);
        waited += 100;
    }
    return QueryServiceStatus(svc, &st) ? st.dwCurrentState : 0;
}

/* The Event Log source: portwatch.exe's own message table (messages.mc)
 * words its entries. The MSI writes the same two values. */
static void register_event_source(const char *exe)
{
    HKEY key;
    LONG rc = RegCreateKeyExA(HKEY_LOCAL_MACHINE, EVENTLOG_KEY, 0, NULL, 0, KEY_SET_VALUE, NULL, &key, NULL);
    if (rc == ERROR_SUCCESS) {
        DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
        rc = RegSetValueExA(key, "EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                            (DWORD)strlen(exe) + 1);
        if (rc == ERROR_SUCCESS)
            rc = RegSetValueExA(key, "TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof types);
        RegCloseKey(key);
    }
    if (rc != ERROR_SUCCESS) {
        SetLastError((DWORD)rc);
        print_error("cannot register the Event Log source (HKLM\\" EVENTLOG_KEY "); the service "
                    "runs, but the Event Viewer cannot word its entries");
    }
}

/* What `service install` and the MSI (`service configure`, run once its
 * ServiceInstall created the service) both set up on an existing service: restart after a crash, no privilege it does not
 * need, and its data folder writable by it alone (service_rights_win.c). */
static int configure(SC_HANDLE svc)
{
    /* Restart after a crash: 10 s, 10 s, then 60 s; the count resets daily. */
    SC_ACTION actions[3] = {{SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 10000},
                            {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSA fa = {86400, NULL, NULL, 3, actions};
    ChangeServiceConfig2A(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa);
    char err[MAX_PATH + 128], dir[MAX_PATH + 32], sid[96] = "";
    /* Not fatal: the account and the folder's access list are the fence;
     * this trims the token inside it (and Wine does not implement it). */
    if (pw_service_limit_privileges(svc, err, sizeof err) != 0) {
        print_error(err);
        fprintf(stderr, "portwatch service: warning: it keeps %s's default privileges\n", PW_SERVICE_ACCOUNT);
    } else {
        printf("portwatch service: privileges: %s only\n", SE_CHANGE_NOTIFY_NAME);
    }
    snprintf(dir, sizeof dir, "%s\\portwatch", pw_win_program_data());
    if (pw_service_secure_dir(dir, err, sizeof err) != 0) {
        print_error(err);
        return PW_EXIT_FAILED;
    }
    pw_service_sid(sid, sizeof sid);
    printf("portwatch service: %s: modify for %s (%s), full control for SYSTEM and Administrators, "
           "no access for anyone else\n", dir, PW_SERVICE_ACCOUNT, sid);
    return PW_EXIT_OK;
}

static int install(const struct pw_command *cmd, const struct pw_args *a)
{
    char exe[MAX_PATH], line[3 * MAX_PATH];
    if (!GetModuleFileNameA(NULL, exe, sizeof exe)) {
        print_error("cannot find portwatch.exe's own path");
        return PW_EXIT_FAILED;
    }
    const char *config = pw_arg(cmd, a, "config");
    const char *level = pw_arg(cmd, a, "log-level");
    int n = snprintf(line, sizeof line, "\"%s\" service run", exe);
    if (config)
        n += snprintf(line + n, sizeof line - (size_t)n, " -c \"%s\"", config);
    if (level)
        snprintf(line + n, sizeof line - (size_t)n, " --log-level %s", level);

    SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
    if (!scm) {
        print_error("cannot reach the service control manager (run as Administrator)");
        return PW_EXIT_FAILED;
    }
    SC_HANDLE svc = CreateServiceA(scm, PW_SERVICE_NAME, "portwatch (BizTalk port monitor)",
                                   SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                   SERVICE_ERROR_NORMAL, line, NULL, NULL, NULL, PW_SERVICE_ACCOUNT, NULL);
    if (!svc) {
        print_error("cannot create the service");
        CloseServiceHandle(scm);
        return PW_EXIT_FAILED;
    }
    SERVICE_DESCRIPTIONA desc = {
        "Watches whether this server can reach every server and port BizTalk administration "
        "depends on; HTTP API on the configured listen address."};
    ChangeServiceConfig2A(svc, SERVICE_CONFIG_DESCRIPTION, &desc);
    int rc = configure(svc);
    if (rc != PW_EXIT_OK && DeleteService(svc))
        fprintf(stderr, "portwatch service: not installed; run 'portwatch service install' again as "
                        "Administrator once that is fixed\n");
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    if (rc != PW_EXIT_OK)
        return rc;

    register_event_source(exe);
    const char *dir = pw_service_data_dir();
    printf("installed the portwatch service as %s: %s\n", PW_SERVICE_ACCOUNT, line);
    printf("configuration: %s; data and log: %s\n", config ? config : pw_os_default_config_path(),
           dir ? dir : "%ProgramData%\\portwatch");
    printf("start it with 'portwatch service start' (it also starts at boot)\n");
    return PW_EXIT_OK;
}

/* Stops the service and waits until its process is gone, so that its exe
 * can be replaced or deleted right after (an uninstall, an upgrade): one
 * still starting is first let finish (it accepts no stop before), one
 * already stopped is fine. Returns its state (SERVICE_STOPPED on success),
 * having said why otherwise. */
static DWORD stop_and_wait(SC_HANDLE svc)
{
    SERVICE_STATUS_PROCESS sp;
    DWORD n;
    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&sp, sizeof sp, &n)) {
        print_error("cannot query the service");
        return 0;
    }
    HANDLE proc = sp.dwProcessId ? OpenProcess(SYNCHRONIZE, FALSE, sp.dwProcessId) : NULL;
    DWORD state = sp.dwCurrentState;
    if (state == SERVICE_START_PENDING)
        state = wait_state(svc, SERVICE_START_PENDING, 30000);
    SERVICE_STATUS st;
    if (state != SERVICE_STOPPED && state != SERVICE_STOP_PENDING &&
        !ControlService(svc, SERVICE_CONTROL_STOP, &st) && GetLastError() != ERROR_SERVICE_NOT_ACTIVE)
        print_error("cannot stop the service");
    state = wait_state(svc, SERVICE_STOP_PENDING, STOP_WAIT_MS);
    if (state != SERVICE_STOPPED)
        fprintf(stderr, "portwatch service: still %s after %d s; see %%ProgramData%%\\portwatch\\portwatch.log\n",
                state_name(state), STOP_WAIT_MS / 1000);
    else if (proc && WaitForSingleObject(proc, 5000) != WAIT_OBJECT_0)
        fprintf(stderr, "portwatch service: stopped, but its process %lu has not exited after 5 s\n",
                (unsigned long)sp.dwProcessId);
    if (proc)
        CloseHandle(proc);
    return state;
}

/* The actions on the installed service below take it opened with the
 * access their row in `actions` names; pw_cmd_service closes it after. */
static int uninstall(SC_HANDLE svc)
{
    stop_and_wait(svc);
    int rc = PW_EXIT_OK;
    if (!DeleteService(svc)) {
        print_error("cannot delete the service");
        rc = PW_EXIT_FAILED;
    }
    RegDeleteKeyA(HKEY_LOCAL_MACHINE, EVENTLOG_KEY);
    if (rc == PW_EXIT_OK)
        printf("removed the portwatch service (configuration, history and log stay in %%ProgramData%%\\portwatch)\n");
    return rc;
}

static int start(SC_HANDLE svc)
{
    int rc = PW_EXIT_OK;
    if (!StartServiceA(svc, 0, NULL)) {
        print_error("cannot start the service");
        rc = PW_EXIT_FAILED;
    } else {
        DWORD s = wait_state(svc, SERVICE_START_PENDING, 30000);
        printf("portwatch service: %s\n", state_name(s));
        if (s != SERVICE_RUNNING) {
            fprintf(stderr, "portwatch service: it did not start; see %%ProgramData%%\\portwatch\\portwatch.log "
                            "and the Application event log\n");
            rc = PW_EXIT_FAILED;
        }
    }
    return rc;
}

/* `service stop`; also what the MSI runs before it removes the files
 * (its own stop does not wait under Wine). */
static int stop(SC_HANDLE svc)
{
    DWORD s = stop_and_wait(svc);
    printf("portwatch service: %s\n", state_name(s));
    return s == SERVICE_STOPPED ? PW_EXIT_OK : PW_EXIT_FAILED;
}

static int reload(SC_HANDLE svc)
{
    SERVICE_STATUS st;
    int rc = PW_EXIT_OK;
    if (!ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &st)) {
        print_error("cannot ask the service to reload");
        rc = PW_EXIT_FAILED;
    } else {
        printf("portwatch service: asked to reload its configuration (the log says how it went)\n");
    }
    return rc;
}

static int query(SC_HANDLE svc)
{
    SERVICE_STATUS st;
    int rc = PW_EXIT_FAILED;
    if (QueryServiceStatus(svc, &st)) {
        printf("portwatch service: %s\n", state_name(st.dwCurrentState));
        rc = st.dwCurrentState == SERVICE_RUNNING ? PW_EXIT_OK : PW_EXIT_FAILED;
    } else {
        print_error("cannot query the service");
    }
    return rc;
}

static const struct {
    const char *name;
    DWORD access;
    int (*fn)(SC_HANDLE svc);
} actions[] = {
    {"uninstall", SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, uninstall},
    {"start", SERVICE_START | SERVICE_QUERY_STATUS, start},
    {"stop", SERVICE_STOP | SERVICE_QUERY_STATUS, stop},
    {"reload", SERVICE_PAUSE_CONTINUE | SERVICE_QUERY_STATUS, reload},
    {"status", SERVICE_QUERY_STATUS, query},
    /* SERVICE_START: a restart failure action needs it (ChangeServiceConfig2). */
    {"configure", SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG | SERVICE_START, configure},
};

/* `service run`: what the SCM starts. Keeps -c and --log-level for the
 * daemon, which service_main runs. */
static int run(const struct pw_command *cmd, const struct pw_args *a)
{
    static char *argv[8];
    int n = 0;
    argv[n++] = "portwatch";
    argv[n++] = "run";
    const char *config = pw_arg(cmd, a, "config"), *level = pw_arg(cmd, a, "log-level");
    if (config) {
        argv[n++] = "-c";
        argv[n++] = (char *)config;
    }
    if (level) {
        argv[n++] = "--log-level";
        argv[n++] = (char *)level;
    }
    argv[n] = NULL;
    run_argc = n;
    run_argv = argv;
    SERVICE_TABLE_ENTRYA table[] = {{PW_SERVICE_NAME, service_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherA(table)) {
        if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
            fprintf(stderr, "portwatch service run: only the service control manager starts this; "
                            "use 'portwatch service start', or 'portwatch run' in a console\n");
        else
            print_error("cannot connect to the service control manager");
        return PW_EXIT_USAGE;
    }
    return PW_EXIT_OK;
}

int pw_cmd_service(const struct pw_command *cmd, const struct pw_args *a)
{
    if (a->npos != 1) {
        fprintf(stderr, "portwatch service: say what to do: install, uninstall, start, stop, reload, status "
                        "(or run, which the service control manager does, or configure, which the MSI "
                        "does)\n");
        return PW_EXIT_USAGE;
    }
    const char *what = a->pos[0];
    if (strcmp(what, "install") == 0)
        return install(cmd, a);
    if (strcmp(what, "run") == 0)
        return run(cmd, a);
    if (pw_arg(cmd, a, "config") || pw_arg(cmd, a, "log-level")) {
        fprintf(stderr, "portwatch service %s: -c and --log-level go with install\n", what);
        return PW_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        if (strcmp(what, actions[i].name) != 0)
            continue;
        SC_HANDLE svc = open_service(actions[i].access);
        if (!svc)
            return PW_EXIT_FAILED;
        int rc = actions[i].fn(svc);
        CloseServiceHandle(svc);
        return rc;
    }
    fprintf(stderr, "portwatch service: '%s' is not an action; use install, uninstall, start, stop, reload "
                    "or status\n", what);
    return PW_EXIT_USAGE;
}
