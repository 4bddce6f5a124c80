/*
 * The command line: a table of commands, each with a table of options, so
 * that parsing, `--help` and error messages come from one place. Commands
 * live in cmd_*.c and return the process exit code.
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include "config/config.h"

#include <uv.h>

enum {
    PW_EXIT_OK = 0,
    PW_EXIT_FAILED = 1, /* a check failed */
    PW_EXIT_USAGE = 2,  /* usage or configuration error */
};

#define PW_CLI_MAX_OPTS 16

struct pw_opt {
    const char *name;  /* long name without "--" */
    char short_name;   /* 0 if none */
    const char *arg;   /* metavar, NULL for a flag */
    const char *help;
};

struct pw_args {
    const char *cmd;
    const char *val[PW_CLI_MAX_OPTS]; /* value, or "" for a set flag, or NULL */
    char **pos;                       /* positional arguments */
    int npos;
};

struct pw_command {
    const char *name;
    const char *usage;   /* after "portwatch NAME " */
    const char *summary;
    const struct pw_opt *opts;
    int (*run)(const struct pw_command *cmd, const struct pw_args *a);
};

/* The value of option `name`, or NULL. */
const char *pw_arg(const struct pw_command *cmd, const struct pw_args *a, const char *name);

/* Loads the configuration named by -c (or the default path, or none when
 * ad hoc targets are given and no -c), applies the common overrides
 * (--timeout, --interval, ...) and ad hoc -p/--expect HOST... targets.
 * Prints every problem; returns NULL on error. */
struct pw_config *pw_cli_config(const struct pw_command *cmd, const struct pw_args *a);
/* The same, collecting the problems into msgs (one line each) instead of
 * printing them: the daemon logs them when a reload is rejected. */
struct pw_config *pw_cli_config_msgs(const struct pw_command *cmd, const struct pw_args *a,
                                     struct pw_diag *msgs);

/* ---- start-up checks (startup.c) ----------------------------------------- */

/* Whether the history can be kept at `database`: its directory exists and
 * this user may create files there (SQLite writes its journal beside the
 * file), and the file, if it exists, is writable. Each problem, with the
 * directory, the OS error, the user and the fix, goes to problems; a
 * relative path is said in notes (when not NULL), and so is a directory
 * that does not exist when missing_dir_ok (config-check: a service
 * manager may create it at start). Returns 0 or -1. */
int pw_startup_check_database(const char *database, int missing_dir_ok,
                              struct pw_diag *problems, struct pw_diag *notes);
/* Whether the file a key names (tls_certificate, ...) can be read; nothing
 * to check for NULL or "". Returns 0 or -1 with the problem in problems. */
int pw_startup_check_readable(const char *key, const char *path, struct pw_diag *problems);
/* Whether the HTTP API can listen at `listen`: binds and listens once on
 * loop, then lets go, so the OS's own error is reported with its fix
 * before anything is created. Returns 0 or -1 with the problem in problems. */
int pw_startup_check_listen(uv_loop_t *loop, const char *listen, struct pw_diag *problems);

/* Finds the command argv[1], parses argv[2..] and runs it; main() is this.
 * The Windows service calls it again with "run" once the SCM has started
 * the service. Returns the exit code. */
int pw_cli_main(int argc, char **argv);

int pw_cmd_catalog(const struct pw_command *cmd, const struct pw_args *a);
int pw_cmd_version(const struct pw_command *cmd, const struct pw_args *a);
int pw_cmd_config_check(const struct pw_command *cmd, const struct pw_args *a);
int pw_cmd_check(const struct pw_command *cmd, const struct pw_args *a);
int pw_cmd_run(const struct pw_command *cmd, const struct pw_args *a);
int pw_cmd_rpc_endpoints(const struct pw_command *cmd, const struct pw_args *a);
/* `portwatch db backup|recover OUT` (cmd_db.c). */
int pw_cmd_db(const struct pw_command *cmd, const struct pw_args *a);
/* `portwatch maintenance start|end|list` (cmd_maintenance.c). */
int pw_cmd_maintenance(const struct pw_command *cmd, const struct pw_args *a);
/* `portwatch report` (cmd_report.c): the outage report of a period. */
int pw_cmd_report(const struct pw_command *cmd, const struct pw_args *a);
/* `portwatch service install|uninstall|start|stop|reload|run`: Windows
 * only (service_win.c); elsewhere it says so and exits 2 (os_posix.c). */
int pw_cmd_service(const struct pw_command *cmd, const struct pw_args *a);

#endif
